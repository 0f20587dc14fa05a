//! Blocks act where they were made and on new contact only. Each test builds two worlds
//! that differ only in whether a block was made, does the same things in both, and
//! compares what the other side sees once fresh ids and timestamps are replaced by
//! their order of appearance: the blocker's other conversations do not change, and the
//! blocked account sees exactly what a person who simply does not answer shows.

use std::collections::HashMap;
use std::time::Duration;

use mentorhub_tests::rest::text;
use mentorhub_tests::{Person, Rest, WsClient, spawn_app_with};
use serde_json::{Value, json};

use super::{answer, create_room, enter_room, request, settle, summary};

/// Replaces ids, account ids and timestamps by placeholders numbered in order of first
/// appearance, so two worlds' answers and frames compare.
fn normalise(value: &Value, seen: &mut HashMap<String, usize>) -> Value {
    match value {
        Value::String(s) if looks_like_id(s) => {
            let next = seen.len();
            json!(format!("<id {}>", seen.entry(s.clone()).or_insert(next)))
        }
        Value::Number(n) if n.as_u64().is_some_and(|n| n > 1_000_000_000_000) => json!("<ts>"),
        Value::Array(items) => Value::Array(items.iter().map(|v| normalise(v, seen)).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let v = match (k.as_str(), v) {
                        // Fresh TURN credentials, issued per call whoever is called.
                        ("ice", _) => json!("<ice>"),
                        // Lists whose order among equals follows random ids.
                        (
                            "members" | "conversations" | "relationships" | "parties",
                            Value::Array(items),
                        ) => {
                            let mut items = items.clone();
                            items.sort_by_key(id_blind);
                            normalise(&Value::Array(items), seen)
                        }
                        _ => normalise(v, seen),
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// A value with every id and timestamp blanked, as text: what orders list entries the
/// same way in both worlds.
fn id_blind(value: &Value) -> String {
    fn blank(value: &Value) -> Value {
        match value {
            Value::String(s) if looks_like_id(s) => json!("<id>"),
            Value::Number(n) if n.as_u64().is_some_and(|n| n > 1_000_000_000_000) => json!("<ts>"),
            Value::Array(items) => Value::Array(items.iter().map(blank).collect()),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| {
                        let v = match (k.as_str(), blank(v)) {
                            // Nested lists in their canonical order too: a conversation's
                            // members come in the order of their random ids.
                            (
                                "members" | "conversations" | "relationships" | "parties",
                                Value::Array(mut items),
                            ) => {
                                items.sort_by_key(|item| item.to_string());
                                Value::Array(items)
                            }
                            (_, v) => v,
                        };
                        (k.clone(), v)
                    })
                    .collect(),
            ),
            other => other.clone(),
        }
    }
    blank(value).to_string()
}

fn looks_like_id(s: &str) -> bool {
    let prefixed = s.len() > 10
        && s.as_bytes().get(1) == Some(&b'_')
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    prefixed || s.starts_with("acct-") || s.starts_with("dev-") || s.starts_with("idp:")
}

/// Everything observed in one world, normalised together (one numbering).
fn normalised(observed: &[Value]) -> Vec<Value> {
    let mut seen = HashMap::new();
    observed.iter().map(|v| normalise(v, &mut seen)).collect()
}

/// Asserts two worlds' observations equal, naming the first that differs.
#[track_caller]
fn assert_same(one: &[Value], other: &[Value], what: &str) {
    for (i, (a, b)) in one.iter().zip(other).enumerate() {
        assert_eq!(a, b, "{what} (observation {i})");
    }
    assert_eq!(one.len(), other.len(), "{what}: {one:?} / {other:?}");
}

/// A `peer` room "Circle" that `host` created and left, so no facilitator is present:
/// the kind of conversation where a block acts. Each of `people` entered it under the
/// given name (or their own). Returns the room and each one's member id.
async fn circle_without_facilitator(
    rest: &Rest,
    host: &Person,
    people: &[(&Person, Option<&str>)],
) -> (String, Vec<String>) {
    let room = create_room(rest, host, json!({"title": "Circle", "kind": "peer"})).await;
    let mut members = Vec::new();
    for (person, name) in people {
        let view = enter_room(rest, host, &room, person, *name).await;
        members.push(text(&view["me"]));
    }
    let left = rest
        .post(
            &format!("/api/rooms/{room}/leave"),
            Some(&host.token),
            &json!({}),
        )
        .await;
    assert!(left.status < 300, "the host leaves: {:?}", left.body);
    (room, members)
}

/// `blocker` blocks `member` of `conversation`.
async fn block(rest: &Rest, blocker: &Person, conversation: &str, member: &str) {
    let made = rest
        .post(
            "/api/blocks",
            Some(&blocker.token),
            &json!({"conversation": conversation, "member": member}),
        )
        .await;
    assert_eq!(made.status, 201, "{:?}", made.body);
}

/// Whether a frame belongs to `conversation`.
fn about(frame: &Value, conversation: &str) -> bool {
    frame["conversation"] == conversation || frame["conversation"]["id"] == conversation
}

/// One world of the first test: mentor Dr Bob and mentee Nora share a room without a
/// facilitator (she is "Wren" there) and a 1:1 (she is "Lark" there). With `blocked`,
/// Bob blocks Wren. Then Lark (who shows her presence in the 1:1) comes online, talks,
/// types, replies in a thread, calls him and goes offline. Returns everything Bob observed but what is about the room.
async fn blockers_other_conversation(blocked: bool) -> Vec<Value> {
    // No presence delay, so every frame's place in the order is the same in both worlds.
    let app = spawn_app_with(|c| c.mentoring.pseudonymous_presence_delay = Duration::ZERO).await;
    let rest = &app.rest;
    let host = rest.login("Hana Host", "mentor").await;
    let bob = rest.login("Dr Bob", "mentor").await;
    let nora = rest.login("Nora Student", "mentee").await;
    let (room, members) =
        circle_without_facilitator(rest, &host, &[(&bob, None), (&nora, Some("Wren"))]).await;
    let requested = request(
        rest,
        &nora,
        json!({"mentor": bob.account, "pseudonym": "Lark"}),
    )
    .await
    .ok();
    let dyad = text(&requested["relationship"]["conversation"]);
    answer(
        rest,
        &bob,
        &text(&requested["relationship"]["id"]),
        "accept",
        json!({}),
    )
    .await
    .ok();
    let lark = text(&summary(rest, &nora, &dyad).await["me"]);
    rest.put(
        &format!("/api/conversations/{dyad}/presence"),
        Some(&nora.token),
        &json!({"shown": true}),
    )
    .await
    .ok();
    let mut bob_ws = WsClient::connect_recording(&app.ws_url, &bob.token).await;
    settle(&mut bob_ws).await;
    let mark = bob_ws.transcript().len();
    if blocked {
        block(rest, &bob, &room, &members[1]).await;
    }
    let mut observed = Vec::new();
    let presence_of_lark = |status: &'static str| {
        let lark = lark.clone();
        move |f: &Value| {
            f["type"] == "presence" && f["member"] == lark.as_str() && f["status"] == status
        }
    };

    // Lark comes online: he sees it.
    let mut nora_ws = WsClient::connect(&app.ws_url, &nora.token).await;
    bob_ws
        .next_matching("Lark online", presence_of_lark("online"))
        .await;

    // Lark's words, typing, a thread reply and her presence reach Bob as before.
    let root = nora_ws.say(&dyad, "l-1", "are you there?").await;
    bob_ws.wait_for_seq(&dyad, root).await;
    nora_ws
        .send(&json!({"type": "typing", "conversation": dyad, "active": true}))
        .await;
    bob_ws
        .next_matching("Lark typing", |f| f["type"] == "typing")
        .await;
    let reply = nora_ws
        .request(
            json!({"type": "send", "conversation": dyad, "client_id": "l-2",
                        "body": "in a thread", "thread": root}),
        )
        .await;
    assert_eq!(reply["type"], "ack", "{reply}");
    bob_ws
        .wait_for_seq(&dyad, reply["seq"].as_u64().expect("seq"))
        .await;
    // Her call rings him; he declines.
    let started = nora_ws
        .request(
            json!({"type": "call", "action": "start", "conversation": dyad,
                        "media": "audio"}),
        )
        .await;
    assert_eq!(started["event"], "started", "{started}");
    let call = text(&started["call"]);
    bob_ws
        .next_matching("the ringing", |f| {
            f["type"] == "call" && f["event"] == "ringing"
        })
        .await;
    let declined = bob_ws
        .request(json!({"type": "call", "action": "decline", "call": call}))
        .await;
    assert_eq!(declined["type"], "ok", "{declined}");
    nora_ws
        .next_matching("the call's end", |f| {
            f["type"] == "call" && f["event"] == "ended"
        })
        .await;
    // She leaves: he sees her go.
    nora_ws.close().await;
    bob_ws
        .next_matching("Lark offline", presence_of_lark("offline"))
        .await;

    settle(&mut bob_ws).await;
    // Every frame he received since the (possible) block, but those about the room.
    observed.extend(
        bob_ws.transcript()[mark..]
            .iter()
            .filter(|f| !about(f, &room))
            .cloned(),
    );
    // His view of the 1:1: members, presence, unread and thread counts.
    observed.push(summary(rest, &bob, &dyad).await);
    observed.push(
        rest.get(
            &format!("/api/conversations/{dyad}/threads"),
            Some(&bob.token),
        )
        .await
        .ok(),
    );
    observed.push(
        rest.get(
            &format!("/api/conversations/{dyad}/messages"),
            Some(&bob.token),
        )
        .await
        .ok(),
    );
    app.shutdown().await;
    observed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mentoring_block_leaves_the_blockers_other_conversations_unchanged() {
    let with_block = normalised(&blockers_other_conversation(true).await);
    let without = normalised(&blockers_other_conversation(false).await);
    assert!(with_block.len() > 5, "the 1:1 was observed: {with_block:?}");
    assert_same(
        &with_block,
        &without,
        "blocking Wren changed what the blocker sees of his 1:1 with Lark",
    );
}

/// What the blocked side observed, and what the blocker received.
struct Contacted {
    blocked_side: Vec<Value>,
    blocker_frames: Vec<Value>,
    blocker_lists: Vec<Value>,
}

/// One world of the second test: Amy and Sam (each both mentor and mentee) share a room
/// without a facilitator. With `blocked`, Amy blocks Sam there; without, she simply
/// never answers. Then Sam asks her for mentoring, offers her mentoring, invites her to
/// a room of his own and calls her.
async fn new_contact(blocked: bool) -> Contacted {
    let app = spawn_app_with(|c| c.calls.ring_timeout = Duration::from_secs(1)).await;
    let rest = &app.rest;
    let host = rest.login("Hana Host", "mentor").await;
    let amy = both_roles(rest, "Amy Blocker").await;
    let sam = both_roles(rest, "Sam Pushy").await;
    super::publish_profile(
        rest,
        &amy,
        json!({"display_name": "Amy Blocker", "specialty": "Surgery", "capacity": 3}),
    )
    .await;
    let (room, members) =
        circle_without_facilitator(rest, &host, &[(&amy, Some("Quiet One")), (&sam, None)]).await;
    let amy_member = members[0].clone();
    let sam_member = members[1].clone();
    let mut amy_ws = WsClient::connect_recording(&app.ws_url, &amy.token).await;
    let mut sam_ws = WsClient::connect_recording(&app.ws_url, &sam.token).await;
    settle(&mut amy_ws).await;
    settle(&mut sam_ws).await;
    let (amy_mark, sam_mark) = (amy_ws.transcript().len(), sam_ws.transcript().len());
    if blocked {
        block(rest, &amy, &room, &sam_member).await;
    }
    let mut seen = Vec::new();

    // A request (Sam as mentee) and an offer (Sam as mentor): both pending.
    let requested = request(rest, &sam, json!({"mentor": amy.account})).await;
    seen.push(json!({"status": requested.status, "body": requested.body}));
    let offered = rest
        .post(
            "/api/relationships/offers",
            Some(&sam.token),
            &json!({"conversation": room, "member": amy_member}),
        )
        .await;
    seen.push(json!({"status": offered.status, "body": offered.body}));
    // A room of his own, with an invitation to her.
    let own = create_room(rest, &sam, json!({"title": "Amy, you cannot block me"})).await;
    let invited = rest
        .post(
            &format!("/api/rooms/{own}/invitations"),
            Some(&sam.token),
            &json!({"conversation": room, "member": amy_member}),
        )
        .await;
    seen.push(json!({"status": invited.status, "body": invited.body}));
    // A call in the room: it rings out.
    let started = sam_ws
        .request(
            json!({"type": "call", "action": "start", "conversation": room,
                        "media": "audio"}),
        )
        .await;
    seen.push(started);
    let ended = sam_ws
        .next_matching("the call's end", |f| {
            f["type"] == "call" && f["event"] == "ended"
        })
        .await;
    seen.push(ended);
    // The directory shows her to him as to anyone.
    seen.push(
        rest.get(&format!("/api/mentors/{}", amy.account), Some(&sam.token))
            .await
            .body,
    );
    seen.push(rest.get("/api/mentors", Some(&sam.token)).await.body);
    seen.push(rest.get("/api/relationships", Some(&sam.token)).await.ok());
    seen.push(rest.get("/api/conversations", Some(&sam.token)).await.ok());
    settle(&mut sam_ws).await;
    seen.extend(sam_ws.transcript()[sam_mark..].iter().cloned());

    settle(&mut amy_ws).await;
    let blocker_frames = amy_ws.transcript()[amy_mark..].to_vec();
    let blocker_lists = vec![
        rest.get("/api/relationships", Some(&amy.token)).await.ok(),
        rest.get("/api/invitations", Some(&amy.token)).await.ok(),
    ];
    app.shutdown().await;
    Contacted {
        blocked_side: seen,
        blocker_frames,
        blocker_lists,
    }
}

/// An account that is both mentor and mentee.
async fn both_roles(rest: &Rest, name: &str) -> Person {
    let body = rest
        .post(
            "/api/dev/login",
            None,
            &json!({"name": name, "roles": ["mentor", "mentee"]}),
        )
        .await
        .ok();
    let person = Person {
        account: text(&body["account"]),
        name: name.to_owned(),
        token: text(&body["token"]),
    };
    rest.get("/api/me", Some(&person.token)).await.ok();
    person
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mentoring_block_silences_new_contact_like_a_person_who_does_not_answer() {
    let blocked = new_contact(true).await;
    let unanswered = new_contact(false).await;
    assert!(
        blocked.blocked_side.len() > 8,
        "observed: {:?}",
        blocked.blocked_side
    );
    assert_same(
        &normalised(&blocked.blocked_side),
        &normalised(&unanswered.blocked_side),
        "the blocked side can tell a block from a person who does not answer",
    );
    // The call rang out for him in both worlds.
    let ended = blocked
        .blocked_side
        .iter()
        .find(|f| f["event"] == "ended")
        .expect("the call ended");
    assert_eq!(ended["reason"], "invite_timeout", "{ended}");

    // Without the block she was asked, offered, invited and rung; with it, none of it
    // reached her.
    let kinds = |frames: &[Value]| -> Vec<String> {
        frames
            .iter()
            .filter(|f| {
                ["relationship", "invitation", "call", "conversation"]
                    .contains(&f["type"].as_str().unwrap_or(""))
            })
            .map(|f| format!("{} {}", f["type"], f["event"]))
            .collect()
    };
    let reached = kinds(&unanswered.blocker_frames);
    for expected in ["\"relationship\"", "\"invitation\"", "\"ringing\""] {
        assert!(
            reached.iter().any(|k| k.contains(expected)),
            "without a block she gets {expected}: {reached:?}"
        );
    }
    assert_eq!(
        kinds(&blocked.blocker_frames),
        Vec::<String>::new(),
        "the blocker was reached"
    );
    assert_eq!(blocked.blocker_lists[0]["relationships"], json!([]));
    assert_eq!(blocked.blocker_lists[1]["invitations"], json!([]));
}
