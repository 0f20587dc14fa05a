//! The leak test: a pseudonymous mentee (a real identity-provider token carrying an
//! e-mail) finds and requests a mentor, chats, joins two rooms, types, reads, is present
//! and calls. Every frame and REST response any *other* account receives is kept and
//! scanned: the mentee's account id, real name and e-mail never occur, nor anything
//! shaped like an e-mail; and the mentee's member ids in the two rooms differ.

use mentorhub::config::{JwtKey, Secret};
use mentorhub_tests::rest::{Rest, text};
use mentorhub_tests::tokens;
use mentorhub_tests::{Person, WsClient, spawn_app_with};
use serde_json::{Value, json};

use super::{agree, answer, create_room, invite_code, publish_profile, request, settle};

const SECRET: &[u8] = b"leak-test-secret-0123456789abcdef-0123456789";
const ACCOUNT: &str = "idp:rural-7c1d9e";
const REAL_NAME: &str = "Grace Mwangi-Ochieng";
const EMAIL: &str = "grace.mwangi@district-hospital.example";

/// Someone other than the mentee: everything they receive is kept for the scan.
struct Witness {
    person: Person,
    ws: WsClient,
    rest_seen: Vec<Value>,
}

impl Witness {
    async fn new(rest: &Rest, ws_url: &str, name: &str, role: &str) -> Witness {
        let person = rest.login(name, role).await;
        let ws = WsClient::connect_recording(ws_url, &person.token).await;
        Witness {
            person,
            ws,
            rest_seen: Vec::new(),
        }
    }

    /// GET through the witness's token; the reply is kept.
    async fn get(&mut self, rest: &Rest, path: &str) -> Value {
        let reply = rest.get(path, Some(&self.person.token)).await;
        self.rest_seen.push(reply.body.clone());
        reply.body
    }

    /// POST through the witness's token; the reply is kept.
    async fn post(&mut self, rest: &Rest, path: &str, body: Value) -> Value {
        let reply = rest.post(path, Some(&self.person.token), &body).await;
        self.rest_seen.push(reply.body.clone());
        reply.body
    }

    /// Everything this witness has received.
    async fn everything(&mut self, rest: &Rest, ws_url: &str) -> Vec<Value> {
        settle(&mut self.ws).await;
        let mut seen: Vec<Value> = self.ws.transcript().to_vec();
        let fresh = WsClient::connect(ws_url, &self.person.token).await;
        seen.push(fresh.welcome.clone().expect("welcome"));
        let conversations = self.get(rest, "/api/conversations").await;
        for summary in conversations["conversations"]
            .as_array()
            .cloned()
            .unwrap_or_default()
        {
            let id = text(&summary["id"]);
            for path in [
                format!("/api/conversations/{id}"),
                format!("/api/conversations/{id}/messages?limit=200"),
                format!("/api/conversations/{id}/threads"),
                format!("/api/ice-servers?conversation={id}"),
            ] {
                self.get(rest, &path).await;
            }
        }
        for path in [
            "/api/me",
            "/api/relationships",
            "/api/invitations",
            "/api/blocks",
            "/api/mentors",
            "/api/oversight",
            "/api/reports",
        ] {
            self.get(rest, path).await;
        }
        seen.extend(self.rest_seen.iter().cloned());
        seen
    }
}

/// Does `text` hold something shaped like an e-mail address (`x@y.z`)?
fn email_like(text: &str) -> bool {
    let chars: Vec<char> = text.chars().collect();
    chars.iter().enumerate().any(|(i, &c)| {
        c == '@'
            && i > 0
            && (chars[i - 1].is_alphanumeric() || "._-+".contains(chars[i - 1]))
            && chars[i + 1..]
                .iter()
                .take_while(|c| c.is_alphanumeric() || "-.".contains(**c))
                .any(|&c| c == '.')
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mentoring_leak_pseudonymous_mentee_identity_never_reaches_others() {
    let app = spawn_app_with(|config| {
        config.dev = false;
        config.auth.key = Some(JwtKey::Hs256(Secret::new(SECRET)));
        config.calls.turn_allow_private_peers = true;
    })
    .await;
    let rest = Rest::minting(&app.base_url, SECRET);
    let ws_url = app.ws_url.clone();

    // The mentee's token is what an identity provider sends: it carries an e-mail.
    let mut claims = tokens::claims(ACCOUNT, REAL_NAME, "mentee");
    claims["email"] = json!(EMAIL);
    claims["preferred_username"] = json!(EMAIL);
    let mentee = Person {
        account: ACCOUNT.to_owned(),
        name: REAL_NAME.to_owned(),
        token: tokens::hs256(SECRET, &claims),
    };
    rest.get("/api/me", Some(&mentee.token)).await.ok();
    rest.put(
        "/api/me/settings",
        Some(&mentee.token),
        &json!({"read_receipts": true, "default_pseudonym": "Night Owl"}),
    )
    .await
    .ok();

    let mut mentor = Witness::new(&rest, &ws_url, "Amara Diallo", "mentor").await;
    let mut host = Witness::new(&rest, &ws_url, "Hugo Host", "mentor").await;
    let mut coordinator = Witness::new(&rest, &ws_url, "Cora Ordinator", "coordinator").await;
    let mut peer_one = Witness::new(&rest, &ws_url, "Pia Peer", "mentee").await;
    let mut peer_two = Witness::new(&rest, &ws_url, "Pat Peer", "mentee").await;
    publish_profile(
        &rest,
        &mentor.person,
        json!({"specialty": "Surgery", "languages": ["en", "sw"], "bio": "Rural surgery.",
               "accepting": true}),
    )
    .await;

    // Finding and requesting a mentor, under a pseudonym.
    rest.get(
        "/api/mentors?specialty=surg&language=sw",
        Some(&mentee.token),
    )
    .await
    .ok();
    let requested = request(
        &rest,
        &mentee,
        json!({"mentor": mentor.person.account, "pseudonym": "Rural Resident",
               "first_conversation": true, "introduction": "A resident far from the city."}),
    )
    .await
    .ok();
    let relationship = text(&requested["relationship"]["id"]);
    let dyad = text(&requested["relationship"]["conversation"]);
    let accepted = answer(&rest, &mentor.person, &relationship, "accept", json!({})).await;
    mentor.rest_seen.push(accepted.body.clone());
    accepted.ok();

    // Two rooms: one a mentor facilitates (joined under a chosen name), one a
    // coordinator facilitates (joined under the default pseudonym).
    let room_one = create_room(&rest, &host.person, json!({"title": "Rural circle"})).await;
    let room_two = create_room(
        &rest,
        &coordinator.person,
        json!({"title": "Peer night", "kind": "peer"}),
    )
    .await;
    let mut member_ids = Vec::new();
    for (room, facilitator, peer, pseudonym) in [
        (&room_one, &host.person, &mut peer_one, Some("Quiet Fox")),
        (&room_two, &coordinator.person, &mut peer_two, None),
    ] {
        let code = invite_code(&rest, facilitator, room).await;
        peer.post(&rest, "/api/rooms/join", json!({"code": code}))
            .await;
        peer.post(&rest, &format!("/api/rooms/{room}/agreement"), json!({}))
            .await;
        let code = invite_code(&rest, facilitator, room).await;
        let mut body = json!({"code": code});
        if let Some(name) = pseudonym {
            body["pseudonym"] = json!(name);
        }
        rest.post("/api/rooms/join", Some(&mentee.token), &body)
            .await
            .ok();
        member_ids.push(text(&agree(&rest, &mentee, room).await["me"]));
    }

    // Chat, type, read, be present, in all three conversations.
    let mut mentee_ws = WsClient::connect(&ws_url, &mentee.token).await;
    let dyad_member = text(
        &mentee_ws.welcome.as_ref().unwrap()["conversations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == dyad.as_str())
            .expect("the relationship in welcome")["me"],
    );
    for (i, conversation) in [&dyad, &room_one, &room_two].into_iter().enumerate() {
        let seq = mentee_ws
            .say(
                conversation,
                &format!("leak-{i}"),
                "How do you cope with the night shifts?",
            )
            .await;
        mentee_ws
            .send(&json!({"type": "typing", "conversation": conversation, "active": true}))
            .await;
        mentee_ws
            .request(json!({"type": "read", "conversation": conversation, "seq": seq}))
            .await;
    }
    mentor.ws.say(&dyad, "m-1", "One night at a time.").await;
    peer_one.ws.say(&room_one, "p-1", "Same here.").await;
    peer_two.ws.say(&room_two, "p-2", "Welcome!").await;
    mentee_ws
        .request(json!({"type": "presence", "status": "away"}))
        .await;
    mentee_ws
        .request(json!({"type": "presence", "status": "online"}))
        .await;
    let mut second_device = WsClient::connect(&ws_url, &mentee.token).await;
    second_device.sync().await;

    // Calls: in the relationship and in a room.
    for (conversation, answerer) in [(&dyad, &mut mentor), (&room_one, &mut peer_one)] {
        let started = mentee_ws
            .request(json!({"type": "call", "action": "start",
                            "conversation": conversation, "media": "audio"}))
            .await;
        assert_eq!(started["event"], "started", "{started}");
        assert_eq!(started["ice"]["iceTransportPolicy"], "relay");
        let call = text(&started["call"]);
        answerer
            .ws
            .next_matching("ringing", |f| {
                f["type"] == "call" && f["event"] == "ringing"
            })
            .await;
        let joined = answerer
            .ws
            .request(json!({"type": "call", "action": "accept", "call": call}))
            .await;
        assert_eq!(joined["event"], "joined", "{joined}");
        let left = answerer
            .ws
            .request(json!({"type": "call", "action": "leave", "call": call}))
            .await;
        assert_eq!(left["type"], "ok", "{left}");
        let left = mentee_ws
            .request(json!({"type": "call", "action": "leave", "call": call}))
            .await;
        assert!(
            left["type"] == "ok" || left["code"] == "call_state",
            "{left}"
        );
    }

    // Others act on the mentee the ways they can: a block, a member list.
    peer_one
        .post(
            &rest,
            "/api/blocks",
            json!({"conversation": room_one, "member": member_ids[0]}),
        )
        .await;

    // The member ids: one per conversation, unrelated, and what the others see.
    assert_ne!(
        member_ids[0], member_ids[1],
        "one account, two rooms, one member id"
    );
    assert_ne!(member_ids[0], dyad_member);
    assert_ne!(member_ids[1], dyad_member);
    let seen_by_peer = peer_two
        .get(&rest, &format!("/api/conversations/{room_two}"))
        .await;
    let shown = seen_by_peer["conversation"]["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["member"] == member_ids[1].as_str())
        .expect("the mentee in room two")
        .clone();
    assert_eq!(shown["display_name"], "Night Owl");

    // The scan.
    let needles = [
        ACCOUNT,
        "rural-7c1d9e",
        REAL_NAME,
        "Mwangi",
        "Ochieng",
        EMAIL,
        "district-hospital",
    ];
    let mut scanned = 0;
    for (role, witness) in [
        ("the mentor", &mut mentor),
        ("a room facilitator", &mut host),
        ("the coordinator", &mut coordinator),
        ("a room peer", &mut peer_one),
        ("another room peer", &mut peer_two),
    ] {
        let seen = witness.everything(&rest, &ws_url).await;
        assert!(
            seen.len() > 10,
            "{role} saw too little for the scan to mean anything"
        );
        scanned += seen.len();
        super::assert_absent(&seen, &needles, role);
        for value in &seen {
            assert!(
                !email_like(&value.to_string()),
                "{role} received something shaped like an e-mail in a `{}`",
                value["type"].as_str().unwrap_or("REST body")
            );
        }
    }
    // The scan saw the mentee: their member ids and pseudonyms did reach the others.
    let everyone: String = [&mentor, &host, &peer_one, &peer_two]
        .iter()
        .flat_map(|w| w.ws.transcript().iter().chain(w.rest_seen.iter()))
        .map(Value::to_string)
        .collect();
    for visible in [
        "Rural Resident",
        "Quiet Fox",
        "Night Owl",
        &dyad_member,
        &member_ids[0],
        &member_ids[1],
    ] {
        assert!(
            everyone.contains(visible),
            "the scan never saw `{visible}` at all"
        );
    }
    assert!(scanned > 100, "only {scanned} frames and bodies scanned");
    app.shutdown().await;
}

#[test]
fn mentoring_leak_email_shape_detector() {
    assert!(email_like(r#"{"x":"a.b@c.example"}"#));
    assert!(!email_like(r#"{"x":"@handle and a.b"}"#));
    assert!(!email_like("user@localhost"));
}
