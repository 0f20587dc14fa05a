//! Coordinator oversight is content-blind: activity counts, states and dates, and no
//! route — every GET route the server has, and the WebSocket — gives a coordinator who
//! is not a member a message body, a thread, a member id or a chosen display name.

use std::collections::BTreeSet;

use mentorhub_tests::rest::text;
use mentorhub_tests::{WsClient, spawn_app};
use serde_json::{Value, json};

use super::{answer, assert_absent, create_room, enter_room, request};

const SECRETS: [&str; 4] = [
    "oversight-body-1: I failed my exam",
    "oversight-body-2: thread root about burnout",
    "oversight-body-3: a reply in the thread",
    "oversight-body-4: said in the room",
];

/// Every GET route the HTTP routers declare, read from the server's source, so a route
/// added later without being covered here fails this test.
fn declared_get_routes() -> BTreeSet<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../server/src/http");
    let mut routes = BTreeSet::new();
    for path in rust_sources(std::path::Path::new(dir)) {
        let source: String = std::fs::read_to_string(&path)
            .expect("readable source")
            .split_whitespace()
            .collect();
        let top_level = path == std::path::Path::new(dir).join("mod.rs");
        for piece in source.split(".route(\"").skip(1) {
            let Some((route, rest)) = piece.split_once('"') else {
                continue;
            };
            let handlers = rest.split(".route(").next().unwrap_or("");
            if !handlers.contains("get(") {
                continue;
            }
            let outside_api = ["/healthz", "/readyz", "/metrics", "/ws"].contains(&route);
            let full = if top_level && outside_api {
                route.to_owned()
            } else {
                format!("/api{route}")
            };
            routes.insert(full);
        }
    }
    routes
}

/// Every `.rs` file under `dir`, submodules included.
fn rust_sources(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("readable source directory") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            files.extend(rust_sources(&path));
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
    files
}

/// Notes that `template` is tried, and returns the concrete `path` to try.
fn cover(covered: &mut BTreeSet<String>, template: &str, path: String) -> String {
    covered.insert(template.to_owned());
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mentoring_oversight_coordinator_reaches_no_message_body() {
    let app = spawn_app().await;
    let rest = &app.rest;
    let coordinator = rest.login("Cora Ordinator", "coordinator").await;
    let mentee = rest.login("Ada Student", "mentee").await;
    let mentor = rest.login("Amara Diallo", "mentor").await;
    let other_mentee = rest.login("Bo Student", "mentee").await;

    // One relationship the coordinator assigned, one a mentee requested, one room.
    let assigned = rest
        .post(
            "/api/relationships/assignments",
            Some(&coordinator.token),
            &json!({"mentee": mentee.account, "mentors": [mentor.account]}),
        )
        .await
        .ok();
    let assigned_id = text(&assigned["relationship"]["id"]);
    let assigned_conversation = text(&assigned["relationship"]["conversation"]);
    answer(
        rest,
        &mentee,
        &assigned_id,
        "accept",
        json!({"pseudonym": "Night Owl"}),
    )
    .await
    .ok();
    answer(rest, &mentor, &assigned_id, "accept", json!({}))
        .await
        .ok();
    let requested = request(
        rest,
        &other_mentee,
        json!({"mentor": mentor.account, "pseudonym": "Quiet Fox"}),
    )
    .await
    .ok();
    let requested_id = text(&requested["relationship"]["id"]);
    let requested_conversation = text(&requested["relationship"]["conversation"]);
    answer(rest, &mentor, &requested_id, "accept", json!({}))
        .await
        .ok();
    let room = create_room(rest, &mentor, json!({"title": "Circle"})).await;
    enter_room(rest, &mentor, &room, &other_mentee, Some("Room Fox")).await;

    let mut mentee_ws = WsClient::connect(&app.ws_url, &mentee.token).await;
    let root = mentee_ws
        .say(&assigned_conversation, "o-1", SECRETS[0])
        .await;
    let thread = mentee_ws
        .say(&assigned_conversation, "o-2", SECRETS[1])
        .await;
    let reply = mentee_ws
        .request(
            json!({"type": "send", "conversation": assigned_conversation,
                        "client_id": "o-3", "body": SECRETS[2], "thread": thread}),
        )
        .await;
    assert_eq!(reply["type"], "ack");
    let mut other_ws = WsClient::connect(&app.ws_url, &other_mentee.token).await;
    other_ws
        .say(&requested_conversation, "o-4", SECRETS[0])
        .await;
    other_ws.say(&room, "o-5", SECRETS[3]).await;

    // Oversight: activity, states, dates; parties only where the coordinator assigned.
    let overview = rest
        .get("/api/oversight", Some(&coordinator.token))
        .await
        .ok();
    let relationships = overview["oversight"]["relationships"]
        .as_array()
        .expect("relationships");
    let entry = |id: &str| -> Value {
        relationships
            .iter()
            .find(|r| r["id"] == id)
            .unwrap_or_else(|| panic!("relationship missing from oversight"))
            .clone()
    };
    let mine = entry(&assigned_id);
    assert_eq!(mine["state"], "active");
    assert_eq!(mine["activity"]["messages"], 3, "{mine}");
    assert_eq!(mine["activity"]["messages_per_week"][0], 3);
    assert_eq!(mine["parties"].as_array().map(Vec::len), Some(2));
    let theirs = entry(&requested_id);
    assert_eq!(theirs["activity"]["messages"], 1);
    assert!(
        theirs.get("parties").is_none(),
        "parties of a relationship not assigned"
    );
    let rooms = overview["oversight"]["rooms"].as_array().expect("rooms");
    let circle = rooms
        .iter()
        .find(|r| r["id"] == room.as_str())
        .expect("the room");
    assert_eq!(circle["members"], 2);
    assert_eq!(circle["agreed"], 2);
    assert_eq!(circle["history_visible"], false);
    assert_eq!(circle["activity"]["messages"], 1);
    assert!(root > 0);

    // Every GET route, with every id the coordinator could hold.
    let declared = declared_get_routes();
    let conversations = [&assigned_conversation, &requested_conversation, &room];
    let mut covered = BTreeSet::new();
    let mut seen: Vec<Value> = vec![overview.clone()];
    let mut texts: Vec<String> = Vec::new();
    let mut paths = Vec::new();
    for template in [
        "/api/info",
        "/api/me",
        "/api/conversations",
        "/api/relationships",
        "/api/invitations",
        "/api/mentors",
        "/api/me/mentor-profile",
        "/api/blocks",
        "/api/reports",
        "/api/me/reports",
        "/api/me/notifications",
        "/api/me/email-digest",
        "/api/oversight",
        "/api/ice-servers",
    ] {
        paths.push(cover(&mut covered, template, template.to_owned()));
    }
    for role in ["mentee", "mentor"] {
        paths.push(cover(
            &mut covered,
            "/api/people",
            format!("/api/people?role={role}"),
        ));
    }
    for conversation in conversations {
        for (template, path) in [
            (
                "/api/conversations/{id}",
                format!("/api/conversations/{conversation}"),
            ),
            (
                "/api/conversations/{id}/messages",
                format!("/api/conversations/{conversation}/messages?limit=200"),
            ),
            (
                "/api/conversations/{id}/threads",
                format!("/api/conversations/{conversation}/threads"),
            ),
            (
                "/api/ice-servers",
                format!("/api/ice-servers?conversation={conversation}"),
            ),
        ] {
            paths.push(cover(&mut covered, template, path));
        }
        paths.push(format!(
            "/api/conversations/{conversation}/messages?thread={thread}"
        ));
    }
    for account in [&mentee.account, &mentor.account, &other_mentee.account] {
        paths.push(cover(
            &mut covered,
            "/api/mentors/{account}",
            format!("/api/mentors/{account}"),
        ));
    }
    for id in [&assigned_id, &requested_id, &room] {
        paths.push(cover(
            &mut covered,
            "/api/reports/{id}",
            format!("/api/reports/{id}"),
        ));
    }
    // The digest's unsubscribe page takes a token from an e-mail, not a sign-in: an
    // unknown one reaches nothing.
    covered.insert("/api/email/unsubscribe".to_owned());
    let (_, page) = rest
        .get_text("/api/email/unsubscribe?token=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
        .await;
    texts.push(page);
    // The API documents are generated from the code: the same for everyone, and read too.
    for template in [
        "/healthz",
        "/readyz",
        "/metrics",
        "/ws",
        "/api/openapi.json",
        "/api/asyncapi.json",
    ] {
        covered.insert(template.to_owned());
        let (_, body) = rest.get_text(template).await;
        texts.push(body);
    }
    for path in &paths {
        let reply = rest.get(path, Some(&coordinator.token)).await;
        if path.contains("/messages")
            || path.contains("/threads")
            || path.starts_with("/api/conversations/")
        {
            assert_eq!(
                reply.status, 404,
                "{path} answered a non-member coordinator"
            );
        }
        seen.push(reply.body);
    }
    let missing: Vec<&String> = declared.difference(&covered).collect();
    assert!(
        missing.is_empty(),
        "GET routes this test does not try: {missing:?}"
    );

    // And the WebSocket: the coordinator's welcome, history and threads.
    let mut coordinator_ws = WsClient::connect_recording(&app.ws_url, &coordinator.token).await;
    for conversation in conversations {
        for frame in [
            json!({"type": "history", "conversation": conversation, "limit": 200}),
            json!({"type": "history", "conversation": conversation, "thread": thread}),
            json!({"type": "threads", "conversation": conversation}),
        ] {
            let refused = coordinator_ws.request(frame).await;
            assert_eq!(refused["code"], "not_found", "{refused}");
        }
    }
    seen.extend(coordinator_ws.transcript().iter().cloned());
    seen.extend(texts.into_iter().map(Value::String));

    let mut forbidden: Vec<&str> = SECRETS.to_vec();
    forbidden.extend([
        "oversight-body",
        "Night Owl",
        "Quiet Fox",
        "Room Fox",
        "\"body\"",
    ]);
    assert_absent(&seen, &forbidden, "the coordinator");
    // No member id either: those belong to the conversations' members.
    for value in &seen {
        assert!(
            !value.to_string().contains("\"m_"),
            "the coordinator received a member id"
        );
    }
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mentoring_oversight_people_to_pair_are_listed_for_coordinators_only() {
    let app = spawn_app().await;
    let rest = &app.rest;
    let coordinator = rest.login("Cora Ordinator", "coordinator").await;
    let zed = rest.login("Zed Student", "mentee").await;
    let ada = rest.login("ada Student", "mentee").await;
    let mentor = rest.login("Amara Diallo", "mentor").await;
    // A pseudonym chosen in a room is not a name the list shows.
    let room = create_room(rest, &mentor, json!({"title": "Circle"})).await;
    enter_room(rest, &mentor, &room, &zed, Some("Night Owl")).await;

    let listed = rest
        .get("/api/people?role=mentee", Some(&coordinator.token))
        .await
        .ok();
    assert_eq!(
        listed,
        json!({"people": [
            {"account": ada.account, "name": "ada Student"},
            {"account": zed.account, "name": "Zed Student"},
        ]}),
        "mentees by name, nothing else"
    );
    let mentors = rest
        .get("/api/people?role=mentor", Some(&coordinator.token))
        .await
        .ok();
    assert_eq!(mentors["people"][0]["account"], mentor.account.as_str());
    for bad in ["/api/people", "/api/people?role=coordinator"] {
        let refused = rest.get(bad, Some(&coordinator.token)).await;
        assert_eq!(
            (refused.status, refused.code()),
            (400, "invalid_frame"),
            "{bad}"
        );
    }
    for person in [&zed, &mentor] {
        let refused = rest
            .get("/api/people?role=mentee", Some(&person.token))
            .await;
        assert_eq!((refused.status, refused.code()), (403, "forbidden"));
    }
    app.shutdown().await;
}
