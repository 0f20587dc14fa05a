//! A property of the timeline: for random interleavings of sends, retried sends with the
//! same client id, edits, deletes, dropped connections and resumes by two members on
//! their own connections, both members end with the same gap-free sequence of events,
//! every client id stands for exactly one message, and a retry gets the original seq.

use std::collections::{BTreeMap, HashMap};

use mentorhub_tests::{Pair, WsClient, spawn_app};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};

#[derive(Clone, Copy, Debug)]
enum Op {
    Send { who: usize, key: u8 },
    Edit { who: usize, key: u8 },
    Delete { who: usize, key: u8 },
    Drop { who: usize },
    Resume { who: usize },
}

fn op() -> impl Strategy<Value = Op> {
    let who = 0..2usize;
    let key = 0..4u8;
    prop_oneof![
        4 => (who.clone(), key.clone()).prop_map(|(who, key)| Op::Send { who, key }),
        1 => (who.clone(), key.clone()).prop_map(|(who, key)| Op::Edit { who, key }),
        1 => (who.clone(), key).prop_map(|(who, key)| Op::Delete { who, key }),
        1 => who.clone().prop_map(|who| Op::Drop { who }),
        1 => who.prop_map(|who| Op::Resume { who }),
    ]
}

/// One member: a token, the live connection (if any) and every event seq seen so far,
/// over all its connections, in arrival order.
struct Member {
    token: String,
    ws: Option<WsClient>,
    cursors: BTreeMap<String, u64>,
    seen: Vec<u64>,
}

impl Member {
    async fn connection(&mut self, url: &str) -> &mut WsClient {
        if self.ws.is_none() {
            self.ws = Some(WsClient::connect_with_cursors(url, &self.token, &self.cursors).await);
        }
        self.ws.as_mut().expect("connected")
    }

    /// Keeps what the connection saw, then drops it without a close handshake.
    fn drop_connection(&mut self) {
        if let Some(ws) = self.ws.take() {
            self.keep(&ws);
            ws.drop_connection();
        }
    }

    fn keep(&mut self, ws: &WsClient) {
        self.seen
            .extend(ws.events().iter().filter_map(|e| e["seq"].as_u64()));
        self.cursors = ws.cursors().clone();
    }
}

async fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let app = spawn_app().await;
    let pair = Pair::create(&app.rest, "Prop Mentee", "Dr Prop").await;
    let conversation = pair.conversation.clone();
    // Both start from the beginning of the conversation (cursor 0), so every event of it
    // must reach both.
    let start = BTreeMap::from([(conversation.clone(), 0)]);
    let mut members = [&pair.mentee, &pair.mentor].map(|person| Member {
        token: person.token.clone(),
        ws: None,
        cursors: start.clone(),
        seen: Vec::new(),
    });
    // (who, key) → the seq its first ack gave, and whether it was deleted.
    let mut sent: HashMap<(usize, u8), (u64, bool)> = HashMap::new();
    for op in ops {
        match op {
            Op::Send { who, key } => {
                let ws = members[who].connection(&app.ws_url).await;
                let reply = ws
                    .request(json!({"type": "send", "conversation": conversation,
                                    "client_id": format!("c{who}-{key}"), "body": format!("message {who}/{key}")}))
                    .await;
                prop_assert_eq!(&reply["type"], "ack", "{}", reply);
                let seq = reply["seq"].as_u64().unwrap();
                match sent.get(&(who, key)) {
                    Some((first, _)) => {
                        prop_assert_eq!(seq, *first, "a retry gets the original seq");
                        prop_assert_eq!(&reply["duplicate"], &json!(true));
                    }
                    None => {
                        sent.insert((who, key), (seq, false));
                    }
                }
            }
            Op::Edit { who, key } | Op::Delete { who, key } => {
                let Some(&(seq, deleted)) = sent.get(&(who, key)) else {
                    continue;
                };
                let ws = members[who].connection(&app.ws_url).await;
                let frame = if matches!(op, Op::Edit { .. }) {
                    json!({"type": "edit", "conversation": conversation, "seq": seq, "body": format!("edited {who}/{key}")})
                } else {
                    json!({"type": "delete", "conversation": conversation, "seq": seq})
                };
                let reply = ws.request(frame).await;
                if deleted {
                    prop_assert_eq!(&reply["code"], "not_found", "{}", reply);
                } else {
                    prop_assert_eq!(&reply["type"], "ack", "{}", reply);
                    if matches!(op, Op::Delete { .. }) {
                        sent.insert((who, key), (seq, true));
                    }
                }
            }
            Op::Drop { who } => members[who].drop_connection(),
            Op::Resume { who } => {
                members[who].connection(&app.ws_url).await;
            }
        }
    }
    // Where the conversation stands: its newest event.
    let newest: Value = members[0]
        .connection(&app.ws_url)
        .await
        .request(json!({"type": "history", "conversation": conversation, "limit": 1}))
        .await;
    let last = newest["events"][0]["seq"].as_u64().expect("an event");
    let mut finals = Vec::new();
    for member in &mut members {
        let ws = member.connection(&app.ws_url).await;
        ws.wait_for_seq(&conversation, last).await;
        ws.sync().await;
        member.drop_connection();
        finals.push(member.seen.clone());
    }
    let expected: Vec<u64> = (1..=last).collect();
    prop_assert_eq!(
        &finals[0],
        &expected,
        "the mentee's events, gap-free and each once"
    );
    prop_assert_eq!(&finals[1], &expected, "the mentor's events, the same");
    // Each client id is one message: count the messages in the full history.
    let mut ws = WsClient::connect(&app.ws_url, &pair.mentor.token).await;
    let page = ws
        .request(json!({"type": "history", "conversation": conversation, "limit": 200}))
        .await;
    let messages = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "message")
        .count();
    prop_assert_eq!(messages, sent.len(), "one message per client id");
    Ok(())
}

#[test]
fn foundation_timeline_property_every_member_ends_with_the_same_gap_free_sequence() {
    let mut runner = TestRunner::new(Config {
        cases: 12,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&proptest::collection::vec(op(), 1..40), |ops| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(run(ops))
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
}
