//! The mentor directory: mentors publish profiles, mentees list and filter them, and
//! browsing leaves nothing a mentor could see.

use mentorhub_tests::rest::Rest;
use mentorhub_tests::{Person, WsClient, spawn_app};
use serde_json::{Value, json};

use super::{assert_error, publish_profile, settle};

/// The account ids of a directory listing, sorted.
async fn listed(rest: &Rest, viewer: &Person, query: &str) -> Vec<String> {
    let reply = rest
        .get(&format!("/api/mentors{query}"), Some(&viewer.token))
        .await
        .ok();
    let mut ids: Vec<String> = reply["mentors"]
        .as_array()
        .expect("mentors")
        .iter()
        .map(|p| p["mentor"].as_str().expect("mentor id").to_owned())
        .collect();
    ids.sort();
    ids
}

fn sorted(ids: &[&Person]) -> Vec<String> {
    let mut ids: Vec<String> = ids.iter().map(|p| p.account.clone()).collect();
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mentoring_directory_lists_and_filters_mentors() {
    let app = spawn_app().await;
    let rest = &app.rest;
    let amara = rest.login("Amara Diallo", "mentor").await;
    let ben = rest.login("Ben Osei", "mentor").await;
    let carla = rest.login("Carla Ruiz", "mentor").await;
    let unlisted = rest.login("Dan Unlisted", "mentor").await;
    let mentee = rest.login("Eli Student", "mentee").await;

    let published = publish_profile(
        rest,
        &amara,
        json!({"display_name": "Dr. Amara Diallo", "specialty": "Anaesthesia",
               "interests": ["regional blocks", "wellbeing"], "languages": ["en", "fr"],
               "bio": "Consultant, 12 years.", "accepting": true, "capacity": 2}),
    )
    .await;
    assert_eq!(published["profile"]["places_left"], 2, "{published}");
    assert_eq!(published["profile"]["mentor"], amara.account.as_str());
    publish_profile(
        rest,
        &ben,
        json!({"specialty": "Paediatrics", "languages": ["en"], "bio": "GP trainer.",
               "accepting": true}),
    )
    .await;
    publish_profile(
        rest,
        &carla,
        json!({"specialty": "Paediatric anaesthesia", "languages": ["es"],
               "bio": "Full this year.", "accepting": false, "capacity": 4}),
    )
    .await;

    // A mentor without a profile is not listed: being listed is the mentor's choice.
    assert_eq!(
        listed(rest, &mentee, "").await,
        sorted(&[&amara, &ben, &carla])
    );
    assert!(!listed(rest, &mentee, "").await.contains(&unlisted.account));
    // specialty: a case-insensitive part of it.
    assert_eq!(
        listed(rest, &mentee, "?specialty=ANAES").await,
        sorted(&[&amara, &carla])
    );
    assert_eq!(
        listed(rest, &mentee, "?specialty=paediatric").await,
        sorted(&[&ben, &carla])
    );
    // language: one tag, case-insensitive.
    assert_eq!(
        listed(rest, &mentee, "?language=FR").await,
        sorted(&[&amara])
    );
    assert_eq!(
        listed(rest, &mentee, "?language=en").await,
        sorted(&[&amara, &ben])
    );
    // Searched as people say it: the word's other forms and spellings, the
    // language's name (English or its own).
    for query in ["anaesthetics", "Anesthesiology", "paediatric%20anesthesia"] {
        let expected = if query.starts_with("paed") {
            sorted(&[&carla])
        } else {
            sorted(&[&amara, &carla])
        };
        assert_eq!(
            listed(rest, &mentee, &format!("?specialty={query}")).await,
            expected,
            "{query}"
        );
    }
    assert_eq!(
        listed(rest, &mentee, "?specialty=pediatrician").await,
        sorted(&[&ben, &carla])
    );
    assert_eq!(
        listed(rest, &mentee, "?specialty=surgery").await,
        Vec::<String>::new()
    );
    for query in ["French", "fran%C3%A7ais", "fren"] {
        assert_eq!(
            listed(rest, &mentee, &format!("?language={query}")).await,
            sorted(&[&amara]),
            "{query}"
        );
    }
    assert_eq!(
        listed(rest, &mentee, "?language=Spanish").await,
        sorted(&[&carla])
    );
    // accepting: a free place, or not.
    assert_eq!(
        listed(rest, &mentee, "?accepting=true").await,
        sorted(&[&amara, &ben])
    );
    assert_eq!(
        listed(rest, &mentee, "?accepting=false").await,
        sorted(&[&carla])
    );
    // Filters combine with AND.
    assert_eq!(
        listed(rest, &mentee, "?specialty=anaes&language=es&accepting=true").await,
        Vec::<String>::new()
    );
    assert_eq!(
        listed(rest, &mentee, "?specialty=anaes&accepting=true").await,
        sorted(&[&amara])
    );
    let bad = rest
        .get("/api/mentors?accepting=maybe", Some(&mentee.token))
        .await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.code(), "invalid_frame");

    // One profile, as published; a place taken shows in `places_left`.
    let one = rest
        .get(
            &format!("/api/mentors/{}", amara.account),
            Some(&mentee.token),
        )
        .await
        .ok();
    let profile = &one["mentor"];
    assert_eq!(profile["display_name"], "Dr. Amara Diallo");
    assert_eq!(profile["specialty"], "Anaesthesia");
    assert_eq!(
        profile["interests"],
        json!(["regional blocks", "wellbeing"])
    );
    assert_eq!(profile["bio"], "Consultant, 12 years.");
    assert_eq!(profile["places_left"], 2);
    mentorhub_tests::Pair::between(rest, mentee.clone(), amara.clone()).await;
    let one = rest
        .get(
            &format!("/api/mentors/{}", amara.account),
            Some(&mentee.token),
        )
        .await
        .ok();
    assert_eq!(one["mentor"]["places_left"], 1, "{one}");
    let missing = rest
        .get(
            &format!("/api/mentors/{}", unlisted.account),
            Some(&mentee.token),
        )
        .await;
    assert_error(&missing.body, "not_found");

    // Only mentors publish.
    let refused = rest
        .put(
            "/api/me/mentor-profile",
            Some(&mentee.token),
            &json!({"specialty": "x", "bio": "x", "accepting": true}),
        )
        .await;
    assert_eq!(refused.status, 403, "{:?}", refused.body);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mentoring_directory_browsing_leaves_no_trace() {
    let app = spawn_app().await;
    let rest = &app.rest;
    let mentor = rest.login("Amara Diallo", "mentor").await;
    publish_profile(
        rest,
        &mentor,
        json!({"specialty": "Surgery", "languages": ["en"], "bio": "Trauma surgeon.",
               "accepting": true, "capacity": 3}),
    )
    .await;
    let mentee = rest.login("Quiet Browser", "mentee").await;
    rest.put(
        "/api/me/settings",
        Some(&mentee.token),
        &json!({"read_receipts": false, "default_pseudonym": "Night Owl"}),
    )
    .await
    .ok();
    let mut mentor_ws = WsClient::connect(&app.ws_url, &mentor.token).await;
    let mentor_view = |rest: &Rest, mentor: &Person| {
        let (rest, token) = (rest.clone(), mentor.token.clone());
        async move {
            let mut views: Vec<Value> = Vec::new();
            for path in [
                "/api/me/mentor-profile",
                "/api/relationships",
                "/api/conversations",
                "/api/invitations",
                "/api/blocks",
            ] {
                views.push(rest.get(path, Some(&token)).await.ok());
            }
            views.push(
                rest.get("/api/mentors?specialty=surgery", Some(&token))
                    .await
                    .ok(),
            );
            views
        }
    };
    let before = mentor_view(rest, &mentor).await;

    for query in ["", "?specialty=surg", "?language=en&accepting=true"] {
        rest.get(&format!("/api/mentors{query}"), Some(&mentee.token))
            .await
            .ok();
    }
    rest.get(
        &format!("/api/mentors/{}", mentor.account),
        Some(&mentee.token),
    )
    .await
    .ok();

    let pushed = settle(&mut mentor_ws).await;
    assert!(
        pushed.is_empty(),
        "browsing pushed {} frame(s) to the mentor",
        pushed.len()
    );
    assert_eq!(
        before,
        mentor_view(rest, &mentor).await,
        "browsing changed what the mentor sees"
    );
    app.shutdown().await;
}
