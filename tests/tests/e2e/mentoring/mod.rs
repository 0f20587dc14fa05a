//! The mentoring model: directory, relationship life cycle, rooms and their
//! confidentiality agreement, pseudonyms, blocks, reports and content-blind oversight.
//!
//! | module | what |
//! |---|---|
//! | `directory` | profiles, listing and filtering, browsing leaves no trace |
//! | `relationships` | request (and first conversation), offer, assignment, decline, capacity, triad |
//! | `ending` | no-fault end: read-only afterwards, the private note reaches nobody else |
//! | `rooms` | creation, invite codes, join, history visibility, remove, mute, leave |
//! | `agreement` | the agreement gate: nothing of the room before accepting |
//! | `safety` | block and report |
//! | `blocks` | a block changes nothing elsewhere; new contact silenced like an unanswered one |
//! | `leak` | a pseudonymous mentee's identity never reaches anyone else |
//! | `oversight` | coordinators see activity, never a message body |
//! | `presence` | pseudonyms show no presence by default; where shown, changes are decorrelated |
//! | `unlinkable` | no answer or frame depends on who a pseudonym is (every route and frame type classified, those naming a person driven in two worlds); blocks tell nothing |
//!
//! Test names carry `mentoring`; the confidentiality ones also `leak` / `agreement`
//! (`cargo nextest run -E 'binary(e2e) & test(/leak|agreement/)'`).

mod agreement;
mod blocks;
mod directory;
mod ending;
mod leak;
mod oversight;
mod presence;
mod relationships;
mod rooms;
mod safety;
mod unlinkable;

use std::time::Duration;

use mentorhub_tests::rest::{Rest, text};
use mentorhub_tests::{Person, WsClient};
use serde_json::{Value, json};

/// How long a test listens to be sure something does *not* arrive (after a round trip,
/// so anything already sent is in the backlog; this only catches stragglers).
pub const QUIET: Duration = Duration::from_millis(300);

/// `POST /api/relationships` by `mentee` with `body` (it names the mentor(s)).
pub async fn request(rest: &Rest, mentee: &Person, body: Value) -> mentorhub_tests::Reply {
    rest.post("/api/relationships", Some(&mentee.token), &body)
        .await
}

/// `POST /api/relationships/{id}/{answer}` (`accept`, `decline`, `withdraw`, `end`).
pub async fn answer(
    rest: &Rest,
    who: &Person,
    relationship: &str,
    answer: &str,
    body: Value,
) -> mentorhub_tests::Reply {
    rest.post(
        &format!("/api/relationships/{relationship}/{answer}"),
        Some(&who.token),
        &body,
    )
    .await
}

/// Publishes a directory profile for `mentor`.
pub async fn publish_profile(rest: &Rest, mentor: &Person, profile: Value) -> Value {
    rest.put("/api/me/mentor-profile", Some(&mentor.token), &profile)
        .await
        .ok()
}

/// A room created by `facilitator` with `settings` (title, kind, …); its id.
pub async fn create_room(rest: &Rest, facilitator: &Person, settings: Value) -> String {
    let created = rest
        .post("/api/rooms", Some(&facilitator.token), &settings)
        .await
        .ok();
    text(&created["conversation"]["id"])
}

/// A fresh single-use invite code for `room`.
pub async fn invite_code(rest: &Rest, facilitator: &Person, room: &str) -> String {
    let code = rest
        .post(
            &format!("/api/rooms/{room}/invite-codes"),
            Some(&facilitator.token),
            &json!({}),
        )
        .await
        .ok();
    text(&code["invite_code"]["code"])
}

/// Joins with `code` (and an optional pseudonym) and returns the joiner's summary;
/// the agreement is not accepted yet.
pub async fn join_with_code(
    rest: &Rest,
    person: &Person,
    code: &str,
    pseudonym: Option<&str>,
) -> Value {
    let mut body = json!({"code": code});
    if let Some(name) = pseudonym {
        body["pseudonym"] = json!(name);
    }
    let joined = rest
        .post("/api/rooms/join", Some(&person.token), &body)
        .await
        .ok();
    joined["conversation"].clone()
}

/// Accepts the room's agreement; returns the (now full) summary.
pub async fn agree(rest: &Rest, person: &Person, room: &str) -> Value {
    let agreed = rest
        .post(
            &format!("/api/rooms/{room}/agreement"),
            Some(&person.token),
            &json!({}),
        )
        .await
        .ok();
    agreed["conversation"].clone()
}

/// Invite code, join, agreement: `person` becomes a full member; their summary.
pub async fn enter_room(
    rest: &Rest,
    facilitator: &Person,
    room: &str,
    person: &Person,
    pseudonym: Option<&str>,
) -> Value {
    let code = invite_code(rest, facilitator, room).await;
    join_with_code(rest, person, &code, pseudonym).await;
    agree(rest, person, room).await
}

/// `person`'s summary of a conversation, over REST.
pub async fn summary(rest: &Rest, person: &Person, conversation: &str) -> Value {
    let reply = rest
        .get(
            &format!("/api/conversations/{conversation}"),
            Some(&person.token),
        )
        .await
        .ok();
    reply["conversation"].clone()
}

/// The member entry of `member` in a summary.
pub fn member_entry<'a>(summary: &'a Value, member: &str) -> &'a Value {
    summary["members"]
        .as_array()
        .and_then(|members| members.iter().find(|m| m["member"] == member))
        .unwrap_or_else(|| panic!("member {member} not in {summary}"))
}

/// The bodies of every message in `person`'s REST history page of `conversation`.
pub async fn bodies(rest: &Rest, person: &Person, conversation: &str) -> Vec<String> {
    let page = rest
        .get(
            &format!("/api/conversations/{conversation}/messages?limit=200"),
            Some(&person.token),
        )
        .await
        .ok();
    page["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["type"] == "message")
        .filter_map(|e| e["body"].as_str().map(str::to_owned))
        .collect()
}

/// Asserts an `error` frame (or REST error body) with this code.
#[track_caller]
pub fn assert_error(reply: &Value, code: &str) {
    let found = reply["code"]
        .as_str()
        .or_else(|| reply["error"]["code"].as_str());
    assert_eq!(found, Some(code), "expected `{code}`, got {reply}");
}

/// A round trip plus [`QUIET`], then everything the connection has received and nobody
/// took yet. Tests that assert something did *not* arrive first wait for a witness who
/// must get the same fan-out, so this only sweeps up stragglers.
pub async fn settle(ws: &mut WsClient) -> Vec<Value> {
    ws.sync().await;
    let _ = ws.next_matching_within(QUIET, "nothing", |_| false).await;
    ws.drain_backlog()
}

/// Asserts that no value (frame or REST body) contains any of `needles`,
/// case-insensitively, naming only the frame type and which needle (never the content).
#[track_caller]
pub fn assert_absent(values: &[Value], needles: &[&str], whose: &str) {
    for value in values {
        let haystack = value.to_string().to_lowercase();
        for needle in needles {
            assert!(
                !haystack.contains(&needle.to_lowercase()),
                "{whose} received a `{}` carrying secret #{}",
                value["type"].as_str().unwrap_or("REST body"),
                needles.iter().position(|n| n == needle).unwrap_or(0)
            );
        }
    }
}
