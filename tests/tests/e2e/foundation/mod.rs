//! Foundation: relationships, durable conversations, resume, auth and bad
//! input, end to end against real servers and real WebSocket clients.
//!
//! | module | what |
//! |---|---|
//! | `chat` | request → accept live, chat both ways with acks, two devices, typing |
//! | `history` | history paging (WebSocket and REST), threads with reply counts |
//! | `erasure` | edit and delete; deleted and edited-away ciphertext gone from the files |
//! | `reading` | unread counts (`welcome`, REST), read markers, receipts only when opted in |
//! | `resume` | 1,000 messages, 20 random disconnects, every client holds each once in order |
//! | `durability` | SIGKILL right after an ack, restart on the same data dir |
//! | `bad_input` | no hello, malformed / unknown / oversized frames, rate limit, not a member, retried client ids, bad REST bodies |
//! | `auth` | every refused token with its `token_*` reason and close 4001 |
//! | `timeline_property` | random sends, retries, edits, deletes, drops and resumes by two members: both end with the same gap-free sequence, one message per client id |
//! | `canary` | canary strings in bodies, room titles and agreements and tokens never reach logs or the database files (SQLite; PostgreSQL for rooms); rooms stored in plaintext are sealed at start-up |
//!
//! Every test name contains `foundation` (`-E 'test(/foundation/)'`).

mod auth;
mod bad_input;
mod canary;
mod chat;
mod durability;
mod erasure;
mod history;
mod reading;
mod resume;
mod session;
mod timeline_property;

use mentorhub_tests::WsClient;
use serde_json::{Value, json};

/// Asserts an `error` frame (or REST error reply body) with this code.
#[track_caller]
pub fn assert_error(reply: &Value, code: &str) {
    assert_eq!(reply["type"], "error", "expected an error, got {reply}");
    assert_eq!(reply["code"], code, "{reply}");
}

/// Asserts that `reply` is an `ack`, and returns its `seq`.
#[track_caller]
pub fn ack_seq(reply: &Value) -> u64 {
    assert_eq!(reply["type"], "ack", "expected an ack, got {reply}");
    reply["seq"].as_u64().expect("an ack carries seq")
}

/// `send` with a fresh `ref`; the reply (ack or error).
pub async fn send(ws: &mut WsClient, conversation: &str, client_id: &str, body: &str) -> Value {
    ws.request(json!({"type": "send", "conversation": conversation,
                      "client_id": client_id, "body": body}))
        .await
}

/// The next `message` event with this `seq` in `conversation`.
pub async fn message_event(ws: &mut WsClient, conversation: &str, seq: u64) -> Value {
    let conversation = conversation.to_owned();
    ws.next_matching(&format!("message {seq}"), move |f| {
        f["type"] == "message" && f["conversation"] == conversation && f["seq"] == seq
    })
    .await
}

/// After a round trip, the frames read but not taken that match `kind`.
pub async fn arrived(ws: &mut WsClient, kind: &str) -> Vec<Value> {
    ws.sync().await;
    ws.backlog()
        .filter(|f| f["type"] == kind)
        .cloned()
        .collect()
}

/// A `history` request's events.
pub async fn history(ws: &mut WsClient, query: Value) -> (Vec<Value>, bool) {
    let mut frame = query;
    frame["type"] = json!("history");
    let reply = ws.request(frame).await;
    assert_eq!(reply["type"], "history", "history refused: {reply}");
    let events = reply["events"].as_array().expect("events").clone();
    (events, reply["has_more"].as_bool().expect("has_more"))
}

/// The `seq`s of a list of events.
pub fn seqs(events: &[Value]) -> Vec<u64> {
    events
        .iter()
        .map(|e| e["seq"].as_u64().expect("seq"))
        .collect()
}

/// The summary of `conversation` in a `welcome` or `GET /api/conversations` list.
#[track_caller]
pub fn summary<'a>(conversations: &'a Value, conversation: &str) -> &'a Value {
    conversations
        .as_array()
        .expect("a list of conversations")
        .iter()
        .find(|c| c["id"] == conversation)
        .unwrap_or_else(|| panic!("{conversation} is not listed in {conversations}"))
}
