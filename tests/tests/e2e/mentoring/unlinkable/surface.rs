//! The whole surface, in both worlds. Every REST route of the served OpenAPI document
//! and every client frame type of the served AsyncAPI document (call actions one by one)
//! is classified (`surface_table.rs`): either it names a person — an account id, a member id, a display
//! name, or a message and so its sender — and is driven below by an adversary (the
//! mentor who facilitates the room, a coordinator, a mentee and a mentor who are room
//! members) in the two worlds, or it names nobody, with the reason. A route or frame
//! added later and not classified fails `unlinkable_every_route_and_frame_is_classified`;
//! one classified as naming a person and not driven fails the drive.
//!
//! What is compared, step by step: the answer (status and body, or the reply frame) and
//! every frame each adversary's socket received meanwhile, with fresh ids and timestamps
//! replaced by their order of appearance. `presence` frames are left out: they carry
//! independent random delays by design and have a test of their own.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use mentorhub_tests::rest::text;
use mentorhub_tests::{Reply, WsClient, spawn_app};
use serde_json::{Value, json};

use super::super::{enter_room, invite_code, settle};
use super::surface_table::{
    FRAMES, Nobody, ROUTES, classified, naming_someone, served_frames, served_routes,
};
use super::{World, normalise, observed, world};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unlinkable_every_route_and_frame_is_classified() {
    let app = spawn_app().await;
    let openapi = app.rest.get("/api/openapi.json", None).await.ok();
    let asyncapi = app.rest.get("/api/asyncapi.json", None).await.ok();
    for (what, served, table) in [
        ("REST route", served_routes(&openapi), ROUTES),
        ("frame type", served_frames(&asyncapi), FRAMES),
    ] {
        assert!(served.len() > 10, "the {what}s were read: {served:?}");
        let known = classified(table);
        let unclassified: Vec<&String> = served.difference(&known).collect();
        assert!(
            unclassified.is_empty(),
            "{what}s not classified (do they take an account id, a member id or a display name?): {unclassified:?}"
        );
        let stale: Vec<&String> = known.difference(&served).collect();
        assert!(
            stale.is_empty(),
            "classified {what}s the server no longer has: {stale:?}"
        );
        for (key, names) in table {
            if let Nobody(reason) = names {
                assert!(!reason.is_empty(), "{key}: a reason");
            }
        }
    }
    app.shutdown().await;
}

/// The adversaries of one world, each with a socket open throughout.
struct Adversaries {
    /// The mentor: facilitates the room; mentors "Rural Resident" 1:1.
    mentor: WsClient,
    coordinator: WsClient,
    /// A mentee and a mentor who are members of the room.
    finch: WsClient,
    cy: WsClient,
}

impl Adversaries {
    /// Everything each adversary received since the last call, presence left out.
    async fn received(&mut self) -> Value {
        let mut all = serde_json::Map::new();
        for (who, ws) in [
            ("mentor", &mut self.mentor),
            ("coordinator", &mut self.coordinator),
            ("finch", &mut self.finch),
            ("cy", &mut self.cy),
        ] {
            let frames: Vec<Value> = settle(ws)
                .await
                .into_iter()
                .filter(|f| f["type"] != "presence")
                .collect();
            all.insert(who.to_owned(), Value::Array(frames));
        }
        Value::Object(all)
    }
}

/// One world's answers, per route or frame, in the order they were driven.
#[derive(Default)]
struct Log(BTreeMap<String, Vec<Value>>);

impl Log {
    async fn rest(&mut self, key: &str, reply: Reply, adversaries: &mut Adversaries) {
        let frames = adversaries.received().await;
        let seen = observed(&reply, &[frames]);
        self.0.entry(key.to_owned()).or_default().push(seen);
    }

    async fn frame(&mut self, key: &str, reply: Value, adversaries: &mut Adversaries) {
        let frames = adversaries.received().await;
        let mut ids = HashMap::new();
        let seen = json!({
            "reply": normalise(&reply, &mut ids),
            "frames": normalise(&frames, &mut ids),
        });
        self.0.entry(key.to_owned()).or_default().push(seen);
    }
}

/// A small valid offer (the shape `webrtc` peers produce).
fn offer_sdp() -> String {
    "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
     a=group:BUNDLE 0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n\
     c=IN IP4 0.0.0.0\r\na=setup:actpass\r\na=mid:0\r\na=sendrecv\r\n\
     a=sctp-port:5000\r\na=ice-ufrag:unlk\r\na=ice-pwd:CAJnBUsRcXEDunyyRfnJmpQpFRNhgJJT\r\n\
     a=fingerprint:sha-256 49:66:12:17:0D:1C:91:AE:57:4C:C6:98:5F:AA:FA:8D:0F:C7:42:3E:AE:7A:6F:F9:18:E1:0F:6E:0E:2D:3B:F8\r\n"
        .to_owned()
}

fn call_frame(action: &str, fields: Value) -> Value {
    let mut frame = fields;
    frame["type"] = json!("call");
    frame["action"] = json!(action);
    frame
}

/// Drives every route and frame that names a person, with the room member "Night Owl"
/// (the target) named every way it can be: her account id, her member id in the room,
/// a message of hers, the names she uses.
async fn drive(w: &World) -> Log {
    let rest = &w.app.rest;
    let coordinator = rest.login("Cora Ordinator", "coordinator").await;
    let finch_person = rest.login("Finch Student", "mentee").await;
    let cy_person = rest.login("Dr Cy", "mentor").await;
    enter_room(rest, &w.mentor, &w.room, &finch_person, Some("Finch")).await;
    enter_room(rest, &w.mentor, &w.room, &cy_person, None).await;
    // A second room where the target is (linked world) or is not (unlinked) a member
    // under another name: "Wren" is whoever is the mentor's mentee.
    let second = super::super::create_room(rest, &w.mentor, json!({"title": "Second"})).await;
    let wren = if w.linked { &w.night_owl } else { &w.other };
    enter_room(rest, &w.mentor, &second, wren, Some("Wren")).await;
    // Something the target said in the room, for a report.
    let mut owl_ws = WsClient::connect(&w.app.ws_url, &w.night_owl.token).await;
    let said = owl_ws.say(&w.room, "o-1", "a worry of mine").await;

    let mut adversaries = Adversaries {
        mentor: WsClient::connect(&w.app.ws_url, &w.mentor.token).await,
        coordinator: WsClient::connect(&w.app.ws_url, &coordinator.token).await,
        finch: WsClient::connect(&w.app.ws_url, &finch_person.token).await,
        cy: WsClient::connect(&w.app.ws_url, &cy_person.token).await,
    };
    adversaries.received().await;
    settle(&mut owl_ws).await;
    let mut log = Log::default();
    let (owl_account, owl_member, room) = (&w.night_owl.account, &w.owl_member, &w.room);
    let member_path = |action: &str| format!("/api/rooms/{room}/members/{owl_member}/{action}");

    // Directory and settings: names she uses, as names of one's own.
    for name in ["Night Owl", "Rural Resident"] {
        let reply = rest
            .put(
                "/api/me/settings",
                Some(&finch_person.token),
                &json!({"read_receipts": false, "default_pseudonym": name}),
            )
            .await;
        log.rest("PUT /api/me/settings", reply, &mut adversaries)
            .await;
        let reply = rest
            .put(
                "/api/me/mentor-profile",
                Some(&cy_person.token),
                &json!({"display_name": name, "specialty": "Surgery"}),
            )
            .await;
        log.rest("PUT /api/me/mentor-profile", reply, &mut adversaries)
            .await;
    }
    for account in [owl_account, &w.mentor.account] {
        let reply = rest
            .get(
                &format!("/api/mentors/{account}"),
                Some(&finch_person.token),
            )
            .await;
        log.rest("GET /api/mentors/{account}", reply, &mut adversaries)
            .await;
    }

    // Relationships naming her: requests, offers, an assignment.
    for body in [
        json!({"mentor": owl_account}),
        json!({"mentor": w.mentor.account, "pseudonym": "Night Owl"}),
    ] {
        let reply = rest
            .post("/api/relationships", Some(&finch_person.token), &body)
            .await;
        log.rest("POST /api/relationships", reply, &mut adversaries)
            .await;
    }
    for (who, body) in [
        (
            &w.mentor,
            json!({"conversation": room, "member": owl_member}),
        ),
        (&w.mentor, json!({"mentee": owl_account})),
        (
            &cy_person,
            json!({"conversation": room, "member": owl_member}),
        ),
    ] {
        let reply = rest
            .post("/api/relationships/offers", Some(&who.token), &body)
            .await;
        log.rest("POST /api/relationships/offers", reply, &mut adversaries)
            .await;
    }
    let reply = rest
        .post(
            "/api/relationships/assignments",
            Some(&coordinator.token),
            &json!({"mentee": owl_account, "mentors": [w.mentor.account]}),
        )
        .await;
    log.rest(
        "POST /api/relationships/assignments",
        reply,
        &mut adversaries,
    )
    .await;

    // Rooms: names she uses as one's own, invitations by her account and member id.
    for name in ["Night Owl", "Rural Resident"] {
        let reply = rest
            .post(
                "/api/rooms",
                Some(&cy_person.token),
                &json!({"title": format!("As {name}"), "display_name": name}),
            )
            .await;
        log.rest("POST /api/rooms", reply, &mut adversaries).await;
    }
    for name in ["Rural Resident", "Wren"] {
        let code = invite_code(rest, &w.mentor, &second).await;
        let reply = rest
            .post(
                "/api/rooms/join",
                Some(&finch_person.token),
                &json!({"code": code, "pseudonym": name}),
            )
            .await;
        log.rest("POST /api/rooms/join", reply, &mut adversaries)
            .await;
    }
    for body in [
        json!({"account": owl_account}),
        json!({"conversation": room, "member": owl_member}),
    ] {
        let reply = rest
            .post(
                &format!("/api/rooms/{second}/invitations"),
                Some(&w.mentor.token),
                &body,
            )
            .await;
        log.rest("POST /api/rooms/{id}/invitations", reply, &mut adversaries)
            .await;
    }

    // A report of her message, by another room member.
    let reply = rest
        .post(
            "/api/reports",
            Some(&finch_person.token),
            &json!({"conversation": room, "seq": said}),
        )
        .await;
    log.rest("POST /api/reports", reply, &mut adversaries).await;

    // A call in the room she answers; frames addressed to her.
    let started = adversaries
        .mentor
        .request(call_frame(
            "start",
            json!({"conversation": room, "media": "audio"}),
        ))
        .await;
    let call = text(&started["call"]);
    assert!(!call.is_empty(), "the call started: {started}");
    let joined = owl_ws
        .request(call_frame("accept", json!({"call": call})))
        .await;
    assert_eq!(joined["event"], "joined", "{joined}");
    adversaries.received().await;
    for (key, frame) in [
        (
            "call.description",
            call_frame(
                "description",
                json!({"call": call, "to": owl_member,
                       "description": {"type": "offer", "sdp": offer_sdp()}}),
            ),
        ),
        (
            "call.candidate",
            call_frame(
                "candidate",
                json!({"call": call, "to": owl_member,
                       "candidate": {"candidate": "", "sdpMid": "0", "sdpMLineIndex": 0}}),
            ),
        ),
        (
            "call.receive",
            call_frame(
                "receive",
                json!({"call": call, "member": owl_member, "quality": "low"}),
            ),
        ),
    ] {
        let mut frame = frame;
        frame["ref"] = json!(format!("unlinkable-{key}"));
        adversaries.mentor.send(&frame).await;
        let reply = adversaries
            .mentor
            .next_matching_within(super::super::QUIET, key, |f| f["ref"] == frame["ref"])
            .await
            .unwrap_or(Value::Null);
        log.frame(key, reply, &mut adversaries).await;
    }
    adversaries
        .mentor
        .request(call_frame("leave", json!({"call": call})))
        .await;
    settle(&mut owl_ws).await;
    adversaries.received().await;

    // Blocks, and moderation of her membership, last (removal ends it).
    let reply = rest
        .post(
            "/api/blocks",
            Some(&w.mentor.token),
            &json!({"conversation": room, "member": owl_member}),
        )
        .await;
    log.rest("POST /api/blocks", reply, &mut adversaries).await;
    let reply = rest
        .delete(
            &format!("/api/blocks/{room}/{owl_member}"),
            Some(&w.mentor.token),
        )
        .await;
    log.rest(
        "DELETE /api/blocks/{conversation}/{member}",
        reply,
        &mut adversaries,
    )
    .await;
    for (action, key, body) in [
        (
            "mute",
            "POST /api/rooms/{id}/members/{member}/mute",
            json!({}),
        ),
        (
            "unmute",
            "POST /api/rooms/{id}/members/{member}/unmute",
            json!({}),
        ),
        (
            "role",
            "POST /api/rooms/{id}/members/{member}/role",
            json!({"role": "facilitator"}),
        ),
        (
            "role",
            "POST /api/rooms/{id}/members/{member}/role",
            json!({"role": "member"}),
        ),
        (
            "remove",
            "POST /api/rooms/{id}/members/{member}/remove",
            json!({}),
        ),
    ] {
        let reply = rest
            .post(&member_path(action), Some(&w.mentor.token), &body)
            .await;
        log.rest(key, reply, &mut adversaries).await;
    }
    owl_ws.close().await;
    log
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unlinkable_every_route_and_frame_naming_a_person_answers_alike_in_both_worlds() {
    let mut logs = Vec::new();
    for linked in [true, false] {
        let w = world(linked).await;
        let log = drive(&w).await;
        w.app.shutdown().await;
        logs.push(log);
    }
    let expected: BTreeSet<String> = naming_someone(ROUTES)
        .into_iter()
        .chain(naming_someone(FRAMES))
        .collect();
    let driven: BTreeSet<String> = logs[0].0.keys().cloned().collect();
    let not_driven: Vec<&String> = expected.difference(&driven).collect();
    assert!(
        not_driven.is_empty(),
        "classified as naming a person but not driven: {not_driven:?}"
    );
    for key in &expected {
        assert_eq!(
            logs[0].0[key], logs[1].0[key],
            "{key}: the answer or a frame depends on whether Night Owl is the mentor's mentee"
        );
    }
}
