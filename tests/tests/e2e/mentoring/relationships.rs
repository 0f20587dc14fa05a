//! How relationships start (request incl. first conversation, offer, assignment), decline,
//! capacity and triads.

use mentorhub_tests::rest::text;
use mentorhub_tests::{Pair, WsClient, spawn_app};
use serde_json::{Value, json};

use super::{answer, assert_error, publish_profile, request, settle};

/// The next `relationship` frame about `relationship`.
async fn relationship_frame(ws: &mut WsClient, relationship: &str) -> Value {
    let frame = ws
        .next_matching("a relationship frame", |f| {
            f["type"] == "relationship" && f["relationship"]["id"] == relationship
        })
        .await;
    frame["relationship"].clone()
}

/// The next `relationship` frame about `relationship` in `state`.
async fn relationship_in(ws: &mut WsClient, relationship: &str, state: &str) -> Value {
    let frame = ws
        .next_matching(&format!("the relationship {state}"), |f| {
            f["type"] == "relationship"
                && f["relationship"]["id"] == relationship
                && f["relationship"]["state"] == state
        })
        .await;
    frame["relationship"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mentoring_mentee_requests_a_first_conversation() {
    let app = spawn_app().await;
    let rest = &app.rest;
    let mentee = rest.login("Ada Student", "mentee").await;
    let mentor = rest.login("Amara Diallo", "mentor").await;
    let mut mentor_ws = WsClient::connect(&app.ws_url, &mentor.token).await;
    let mut mentee_ws = WsClient::connect(&app.ws_url, &mentee.token).await;

    let created = request(
        rest,
        &mentee,
        json!({"mentor": mentor.account, "first_conversation": true,
               "introduction": "Could we talk about choosing a specialty?"}),
    )
    .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let view = &created.body["relationship"];
    let id = text(&view["id"]);
    assert_eq!(view["origin"], "requested");
    assert_eq!(view["state"], "pending");
    assert_eq!(view["first_conversation"], true);
    assert_eq!(view["awaiting_me"], false);

    let seen = relationship_frame(&mut mentor_ws, &id).await;
    assert_eq!(seen["awaiting_me"], true, "{seen}");
    assert_eq!(seen["my_role"], "mentor");
    assert_eq!(seen["first_conversation"], true);
    assert_eq!(
        seen["introduction"],
        "Could we talk about choosing a specialty?"
    );
    let conversation = text(&seen["conversation"]);

    // Pending: nobody reads or posts yet.
    let early = mentee_ws
        .request(json!({"type": "send", "conversation": conversation,
                        "client_id": "early-1", "body": "hello?"}))
        .await;
    assert_error(&early, "conversation_closed");

    let accepted = answer(rest, &mentor, &id, "accept", json!({})).await.ok();
    assert_eq!(accepted["relationship"]["state"], "active");
    for ws in [&mut mentee_ws, &mut mentor_ws] {
        relationship_in(ws, &id, "active").await;
        let first = ws
            .next_matching("relationship_active", |f| {
                f["type"] == "system" && f["conversation"] == conversation.as_str()
            })
            .await;
        assert_eq!(first["event"]["kind"], "relationship_active");
        assert_eq!(first["seq"], 1);
        let summary = ws.next_of_type("conversation").await;
        assert_eq!(summary["conversation"]["state"], "active");
    }
    let seq = mentee_ws
        .say(&conversation, "first-1", "Thank you for your time.")
        .await;
    let heard = mentor_ws
        .next_matching("the mentee's message", |f| {
            f["type"] == "message" && f["seq"] == seq
        })
        .await;
    assert_eq!(heard["body"], "Thank you for your time.");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mentoring_mentor_offers_and_mentee_accepts_under_a_pseudonym() {
    let app = spawn_app().await;
    let rest = &app.rest;
    let mentee = rest.login("Ada Student", "mentee").await;
    let mentor = rest.login("Amara Diallo", "mentor").await;
    let mut mentee_ws = WsClient::connect(&app.ws_url, &mentee.token).await;

    let offered = rest
        .post(
            "/api/relationships/offers",
            Some(&mentor.token),
            &json!({"mentee": mentee.account, "introduction": "Happy to help."}),
        )
        .await;
    assert_eq!(offered.status, 201, "{:?}", offered.body);
    let id = text(&offered.body["relationship"]["id"]);
    assert_eq!(offered.body["relationship"]["origin"], "offered");

    let seen = relationship_frame(&mut mentee_ws, &id).await;
    assert_eq!(seen["awaiting_me"], true);
    assert_eq!(seen["my_role"], "mentee");
    let accepted = answer(
        rest,
        &mentee,
        &id,
        "accept",
        json!({"pseudonym": "Night Owl"}),
    )
    .await
    .ok();
    let view = &accepted["relationship"];
    assert_eq!(view["state"], "active");

    let mentors_view = rest
        .get("/api/relationships", Some(&mentor.token))
        .await
        .ok();
    let mentors_view = &mentors_view["relationships"][0];
    let shown = mentors_view["parties"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["role"] == "mentee")
        .expect("the mentee party")
        .clone();
    assert_eq!(shown["display_name"], "Night Owl");
    assert_eq!(shown["pseudonymous"], true);
    assert!(shown.get("account").is_none(), "{shown}");

    // The mentor cannot choose a pseudonym, and answering twice is a conflict.
    let again = answer(rest, &mentee, &id, "accept", json!({})).await;
    assert_eq!(again.code(), "conflict");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mentoring_coordinator_assigns_and_follows_state_changes() {
    let app = spawn_app().await;
    let rest = &app.rest;
    let mentee = rest.login("Ada Student", "mentee").await;
    let mentor = rest.login("Amara Diallo", "mentor").await;
    let coordinator = rest.login("Cora Ordinator", "coordinator").await;
    let mut coordinator_ws = WsClient::connect(&app.ws_url, &coordinator.token).await;
    let mut mentee_ws = WsClient::connect(&app.ws_url, &mentee.token).await;
    let mut mentor_ws = WsClient::connect(&app.ws_url, &mentor.token).await;

    // Only coordinators assign.
    let refused = rest
        .post(
            "/api/relationships/assignments",
            Some(&mentor.token),
            &json!({"mentee": mentee.account, "mentors": [mentor.account]}),
        )
        .await;
    assert_eq!(refused.status, 403, "{:?}", refused.body);

    let assigned = rest
        .post(
            "/api/relationships/assignments",
            Some(&coordinator.token),
            &json!({"mentee": mentee.account, "mentors": [mentor.account]}),
        )
        .await;
    assert_eq!(assigned.status, 201, "{:?}", assigned.body);
    let view = &assigned.body["relationship"];
    let id = text(&view["id"]);
    assert_eq!(view["origin"], "assigned");
    assert_eq!(view["my_role"], "coordinator");
    // The assigning coordinator knows both parties: the programme's choice.
    let accounts: Vec<&str> = view["parties"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["account"].as_str())
        .collect();
    assert!(accounts.contains(&mentee.account.as_str()), "{view}");
    assert!(accounts.contains(&mentor.account.as_str()), "{view}");

    for ws in [&mut mentee_ws, &mut mentor_ws] {
        let seen = relationship_frame(ws, &id).await;
        assert_eq!(seen["awaiting_me"], true, "{seen}");
        assert_eq!(seen["origin"], "assigned");
    }
    let conversation = text(&relationship_frame(&mut coordinator_ws, &id).await["conversation"]);

    answer(rest, &mentee, &id, "accept", json!({})).await.ok();
    let half = relationship_frame(&mut coordinator_ws, &id).await;
    assert_eq!(half["state"], "pending");
    answer(rest, &mentor, &id, "accept", json!({})).await.ok();
    relationship_in(&mut coordinator_ws, &id, "active").await;
    for ws in [&mut mentee_ws, &mut mentor_ws] {
        relationship_in(ws, &id, "active").await;
    }

    // Assigning is not membership: the coordinator reads nothing of the conversation.
    let seq = mentee_ws.say(&conversation, "a-1", "Between us.").await;
    mentor_ws
        .next_matching("the message", |f| f["type"] == "message" && f["seq"] == seq)
        .await;
    let read = rest
        .get(
            &format!("/api/conversations/{conversation}/messages"),
            Some(&coordinator.token),
        )
        .await;
    assert_eq!(read.status, 404);
    let frames = settle(&mut coordinator_ws).await;
    assert!(
        frames.iter().all(|f| f["type"] == "relationship"),
        "the coordinator got more than relationship frames"
    );

    // The end is pushed to the coordinator too.
    answer(rest, &mentee, &id, "end", json!({})).await.ok();
    relationship_in(&mut coordinator_ws, &id, "ended").await;
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mentoring_decline_tells_the_requester_only_declined() {
    let app = spawn_app().await;
    let rest = &app.rest;
    let mentee = rest.login("Ada Student", "mentee").await;
    let mentor = rest.login("Amara Diallo", "mentor").await;
    let other = rest.login("Ben Osei", "mentor").await;
    let mut mentee_ws = WsClient::connect(&app.ws_url, &mentee.token).await;

    // A dyad: the mentor declines without a reason (no body at all).
    let created = request(
        rest,
        &mentee,
        json!({"mentor": mentor.account, "pseudonym": "Night Owl"}),
    )
    .await
    .ok();
    let id = text(&created["relationship"]["id"]);
    let conversation = text(&created["relationship"]["conversation"]);
    relationship_frame(&mut mentee_ws, &id).await;
    let declined = rest
        .post_raw(
            &format!("/api/relationships/{id}/decline"),
            Some(&mentor.token),
            "application/json",
            Vec::new(),
        )
        .await;
    assert_eq!(declined.status, 200, "{:?}", declined.body);
    let seen = relationship_in(&mut mentee_ws, &id, "declined").await;
    let removed = mentee_ws.next_of_type("conversation_removed").await;
    assert_eq!(removed["conversation"], conversation.as_str());
    assert_only_declined(&seen);
    let listed = rest
        .get("/api/relationships", Some(&mentee.token))
        .await
        .ok();
    assert_only_declined(&listed["relationships"][0]);
    let gone = rest
        .get(
            &format!("/api/conversations/{conversation}"),
            Some(&mentee.token),
        )
        .await;
    assert_eq!(gone.status, 404);

    // A triad: one mentor declines; the mentee cannot tell which.
    let created = request(
        rest,
        &mentee,
        json!({"mentors": [mentor.account, other.account]}),
    )
    .await
    .ok();
    let id = text(&created["relationship"]["id"]);
    answer(rest, &other, &id, "accept", json!({})).await.ok();
    answer(rest, &mentor, &id, "decline", json!({})).await.ok();
    let seen = relationship_in(&mut mentee_ws, &id, "declined").await;
    assert_only_declined(&seen);
    app.shutdown().await;
}

/// A declined relationship as the requester sees it: the state, and no reason nor
/// which party said no.
#[track_caller]
fn assert_only_declined(view: &Value) {
    assert_eq!(view["state"], "declined", "{view}");
    assert!(view.get("reason").is_none(), "{view}");
    for party in view["parties"].as_array().expect("parties") {
        if party["member"] != view["me"] {
            assert!(party.get("response").is_none(), "{party}");
        }
        assert_ne!(party["response"], "declined", "{party}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mentoring_capacity_refuses_without_pestering_the_mentor() {
    let app = spawn_app().await;
    let rest = &app.rest;
    let mentor = rest.login("Amara Diallo", "mentor").await;
    let busy = rest.login("Ben Osei", "mentor").await;
    publish_profile(
        rest,
        &mentor,
        json!({"specialty": "Surgery", "bio": "b", "accepting": true, "capacity": 1}),
    )
    .await;
    publish_profile(
        rest,
        &busy,
        json!({"specialty": "Surgery", "bio": "b", "accepting": false}),
    )
    .await;
    let first = rest.login("First Mentee", "mentee").await;
    let second = rest.login("Second Mentee", "mentee").await;
    Pair::between(rest, first.clone(), mentor.clone()).await;

    let mut mentor_ws = WsClient::connect(&app.ws_url, &mentor.token).await;
    let mut busy_ws = WsClient::connect(&app.ws_url, &busy.token).await;
    let before = rest
        .get("/api/relationships", Some(&mentor.token))
        .await
        .ok();

    let full = request(rest, &second, json!({"mentor": mentor.account})).await;
    assert_eq!(
        (full.status, full.code()),
        (409, "capacity_reached"),
        "{:?}",
        full.body
    );
    let closed = request(rest, &second, json!({"mentor": busy.account})).await;
    assert_eq!((closed.status, closed.code()), (409, "capacity_reached"));
    let offer = rest
        .post(
            "/api/relationships/offers",
            Some(&mentor.token),
            &json!({"mentee": second.account}),
        )
        .await;
    assert_eq!(offer.code(), "capacity_reached");

    // The mentors were not told; nothing was created.
    for ws in [&mut mentor_ws, &mut busy_ws] {
        let frames = settle(ws).await;
        assert!(
            frames.is_empty(),
            "a refused request reached the mentor: {} frame(s)",
            frames.len()
        );
    }
    assert_eq!(
        before,
        rest.get("/api/relationships", Some(&mentor.token))
            .await
            .ok()
    );
    let mine = rest
        .get("/api/relationships", Some(&second.token))
        .await
        .ok();
    assert_eq!(mine["relationships"], json!([]));

    // An acceptance that would exceed the capacity is refused too: two offers made
    // while a place was free, the second acceptance finds it taken.
    let roomy = rest.login("Carla Ruiz", "mentor").await;
    publish_profile(
        rest,
        &roomy,
        json!({"specialty": "Surgery", "bio": "b", "accepting": true, "capacity": 1}),
    )
    .await;
    let mut offers = Vec::new();
    for mentee in [&first, &second] {
        let offered = rest
            .post(
                "/api/relationships/offers",
                Some(&roomy.token),
                &json!({"mentee": mentee.account}),
            )
            .await
            .ok();
        offers.push(text(&offered["relationship"]["id"]));
    }
    answer(rest, &first, &offers[0], "accept", json!({}))
        .await
        .ok();
    let over = answer(rest, &second, &offers[1], "accept", json!({})).await;
    assert_eq!((over.status, over.code()), (409, "capacity_reached"));
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mentoring_triad_one_mentee_two_mentors() {
    let app = spawn_app().await;
    let rest = &app.rest;
    let mentee = rest.login("Ada Student", "mentee").await;
    let senior = rest.login("Amara Diallo", "mentor").await;
    let junior = rest.login("Ben Osei", "mentor").await;
    let created = request(
        rest,
        &mentee,
        json!({"mentors": [senior.account, junior.account], "pseudonym": "Night Owl"}),
    )
    .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let id = text(&created.body["relationship"]["id"]);
    let conversation = text(&created.body["relationship"]["conversation"]);
    assert_eq!(
        created.body["relationship"]["parties"]
            .as_array()
            .unwrap()
            .len(),
        3
    );

    // Three mentors is not a triad.
    let third = rest.login("Carla Ruiz", "mentor").await;
    let too_many = request(
        rest,
        &mentee,
        json!({"mentors": [senior.account, junior.account, third.account]}),
    )
    .await;
    assert_eq!(too_many.code(), "invalid_frame");

    let half = answer(rest, &senior, &id, "accept", json!({})).await.ok();
    assert_eq!(
        half["relationship"]["state"], "pending",
        "active after one of two mentors"
    );
    let full = answer(rest, &junior, &id, "accept", json!({})).await.ok();
    assert_eq!(full["relationship"]["state"], "active");

    let mut sockets = Vec::new();
    for person in [&mentee, &senior, &junior] {
        sockets.push(WsClient::connect(&app.ws_url, &person.token).await);
    }
    let summary = &sockets[0].welcome.as_ref().unwrap()["conversations"][0];
    assert_eq!(summary["members"].as_array().unwrap().len(), 3, "{summary}");
    let seq = sockets[0].say(&conversation, "t-1", "Hello both!").await;
    for ws in &mut sockets[1..] {
        let heard = ws
            .next_matching("the mentee's message", |f| {
                f["type"] == "message" && f["seq"] == seq
            })
            .await;
        assert_eq!(heard["body"], "Hello both!");
    }
    let reply = sockets[2].say(&conversation, "t-2", "Welcome.").await;
    let heard = sockets[1]
        .next_matching("the junior's reply", |f| {
            f["type"] == "message" && f["seq"] == reply
        })
        .await;
    assert_eq!(heard["body"], "Welcome.");
    sockets[0]
        .next_matching("the junior's reply", |f| {
            f["type"] == "message" && f["seq"] == reply
        })
        .await;
    app.shutdown().await;
}
