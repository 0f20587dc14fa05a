//! Calls: life cycle, refused signals, real WebRTC peers signalled through the
//! server, the embedded TURN server and relay-only privacy.
//!
//! | module | what |
//! |---|---|
//! | `agent` | a call participant as a real client: WebSocket device + `webrtc` peers |
//! | `ice` | the peers' ICE configuration, host candidates, what a careless client leaks |
//! | `lifecycle` | ring, accept on one device, decline, busy, cancel, timeout, leave, grace |
//! | `refused` | non-participants, other calls, oversized and malformed signals |
//! | `media` | 1:1 and 3-party mesh calls that connect and move data |
//! | `receive` | audio-only participants, receive limits, call quality figures |
//! | `relay` | forced relay through the embedded TURN, relay-only pseudonyms, TURN policy |
//! | `relay_netns` | relay-only against a careless client on a network of its own (namespace) |
//! | `failover` | a node killed mid-call: the survivor is told, the rejoin goes through another node |
//! | `turn` | TURN credential life cycle, `401`s, self-relay and special ranges, no addresses in logs |
//!
//! TURN and relay test names contain `relay` (`cargo nextest run -E 'test(/relay/)'`).

pub(crate) mod agent;
mod failover;
pub(crate) mod ice;
mod lifecycle;
mod media;
mod receive;
mod refused;
mod relay;
mod relay_netns;
mod turn;

use self::agent::{Agent, Options};
use mentorhub::config::Config;
use mentorhub_tests::rest::Rest;
use mentorhub_tests::{Person, TestApp, WsClient, spawn_app_with};
use serde_json::{Value, json};

/// `{"type":"call","event":…}`.
pub fn is_event(frame: &Value, event: &str) -> bool {
    frame["type"] == "call" && frame["event"] == event
}

/// The next call event of this kind (others stay in the backlog).
pub async fn event(ws: &mut WsClient, event: &str) -> Value {
    ws.next_matching(&format!("call event `{event}`"), |f| is_event(f, event))
        .await
}

/// Sends a call action with a fresh `ref` and returns the reply carrying it.
pub async fn action(ws: &mut WsClient, action: &str, fields: Value) -> Value {
    let mut frame = fields;
    frame["type"] = json!("call");
    frame["action"] = json!(action);
    ws.request(frame).await
}

/// Starts a call and asserts the `started` reply.
pub async fn start(ws: &mut WsClient, conversation: &str, media: &str) -> Value {
    let started = action(
        ws,
        "start",
        json!({"conversation": conversation, "media": media}),
    )
    .await;
    assert!(is_event(&started, "started"), "start refused: {started}");
    started
}

/// Accepts a ringing call and asserts the `joined` reply.
pub async fn accept(ws: &mut WsClient, call: &str) -> Value {
    let joined = action(ws, "accept", json!({"call": call})).await;
    assert!(is_event(&joined, "joined"), "accept refused: {joined}");
    joined
}

pub async fn join(ws: &mut WsClient, call: &str) -> Value {
    let joined = action(ws, "join", json!({"call": call})).await;
    assert!(is_event(&joined, "joined"), "join refused: {joined}");
    joined
}

/// Asserts an `error` reply with this code.
pub fn assert_refused(reply: &Value, code: &str) {
    assert_eq!(reply["type"], "error", "expected an error, got {reply}");
    assert_eq!(reply["code"], code, "{reply}");
}

/// After a round trip, asserts that no call event of these kinds arrived.
pub async fn assert_no_event(ws: &mut WsClient, events: &[&str]) {
    ws.sync().await;
    let arrived: Vec<&Value> = ws
        .backlog()
        .filter(|f| events.iter().any(|e| is_event(f, e)))
        .collect();
    assert!(arrived.is_empty(), "unexpected call events: {arrived:?}");
}

pub fn text(value: &Value) -> String {
    value.as_str().expect("a string").to_owned()
}

/// A server for call tests: the embedded TURN server may relay between the loopback
/// and test-network addresses every peer here has.
pub async fn call_app(adjust: impl FnOnce(&mut Config)) -> TestApp {
    spawn_app_with(|config| {
        config.calls.turn_allow_private_peers = true;
        adjust(config);
    })
    .await
}

/// A 1:1 call the mentee starts and the mentor accepts, run by real `webrtc` peers until
/// both are connected, have exchanged data and saw no errors.
pub async fn connected_one_to_one(
    (mentee_label, mut mentee): (&str, WsClient),
    (mentor_label, mut mentor): (&str, WsClient),
    conversation: &str,
    media: &str,
) -> OneToOne {
    let started = start(&mut mentee, conversation, media).await;
    let call = text(&started["call"]);
    event(&mut mentor, "ringing").await;
    let joined = accept(&mut mentor, &call).await;
    event(&mut mentee, "participant_joined").await;
    // The one who joined offers; the caller answers.
    let caller = Agent::run(mentee_label, mentee, &started, Options::default()).await;
    let callee = Agent::run(mentor_label, mentor, &joined, Options::default()).await;
    caller.wait_connected(&[&callee.me]).await;
    callee.wait_connected(&[&caller.me]).await;
    caller.wait_hello_from(&[&callee.me]).await;
    callee.wait_hello_from(&[&caller.me]).await;
    assert!(caller.errors().is_empty(), "{:?}", caller.errors());
    assert!(callee.errors().is_empty(), "{:?}", callee.errors());
    OneToOne {
        call,
        started,
        caller,
        callee,
    }
}

/// A connected 1:1 call: its id, the caller's `started` view and both peers.
pub struct OneToOne {
    pub call: String,
    pub started: Value,
    pub caller: Agent,
    pub callee: Agent,
}

/// A peer room created by `facilitator` with `members` joined (invite codes) and every
/// agreement accepted. Returns the room's conversation id.
pub async fn room_with(rest: &Rest, facilitator: &Person, members: &[&Person]) -> String {
    let created = rest
        .post(
            "/api/rooms",
            Some(&facilitator.token),
            &json!({"title": "Call practice", "kind": "peer"}),
        )
        .await
        .ok();
    let room = text(&created["conversation"]["id"]);
    // The creator accepts too, if the room asks it to (idempotent by `conflict`).
    let _ = rest
        .post(
            &format!("/api/rooms/{room}/agreement"),
            Some(&facilitator.token),
            &json!({}),
        )
        .await;
    for member in members {
        let code = rest
            .post(
                &format!("/api/rooms/{room}/invite-codes"),
                Some(&facilitator.token),
                &json!({}),
            )
            .await
            .ok();
        let code = text(&code["invite_code"]["code"]);
        rest.post(
            "/api/rooms/join",
            Some(&member.token),
            &json!({"code": code}),
        )
        .await
        .ok();
        rest.post(
            &format!("/api/rooms/{room}/agreement"),
            Some(&member.token),
            &json!({}),
        )
        .await
        .ok();
    }
    room
}

/// A call's stored metadata row, read straight from the SQLite file.
pub async fn stored_call(app: &TestApp, call: &str) -> Option<StoredCall> {
    let path = app.data_dir.join(mentorhub::config::DEFAULT_SQLITE_FILE);
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&path)
        .read_only(true);
    let pool = sqlx::SqlitePool::connect_with(options)
        .await
        .expect("open the SQLite file");
    type Row = (Option<i64>, Option<i64>, i64, Option<String>, String);
    let row: Option<Row> = sqlx::query_as(
        "SELECT answered_at, ended_at, participants, end_reason, media FROM calls WHERE id = $1",
    )
    .bind(call)
    .fetch_optional(&pool)
    .await
    .expect("query calls");
    pool.close().await;
    row.map(|r| StoredCall {
        answered: r.0.is_some(),
        ended: r.1.is_some(),
        participants: r.2,
        end_reason: r.3,
        media: r.4,
    })
}

#[derive(Debug, PartialEq, Eq)]
pub struct StoredCall {
    pub answered: bool,
    pub ended: bool,
    pub participants: i64,
    pub end_reason: Option<String>,
    pub media: String,
}

/// Waits until the call's end is recorded (it is written right after `ended` is sent).
pub async fn ended_record(app: &TestApp, call: &str) -> StoredCall {
    mentorhub_tests::eventually(
        mentorhub_tests::WAIT,
        "the call's end in the store",
        || async { stored_call(app, call).await.filter(|c| c.ended) },
    )
    .await
}
