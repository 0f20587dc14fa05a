//! A chat client that keeps going through failures, as a real one would: it sends its
//! messages one after another with client ids, and when its connection dies it
//! reconnects (to the next URL in its list), resumes with its cursor and sends the
//! unacknowledged message again. It logs every timeline event it receives so the test
//! can check "exactly once, in order" per member.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::time::{Instant, sleep, timeout};
use tokio_tungstenite::tungstenite::Message;

pub struct Agent {
    pub name: String,
    pub token: String,
    pub conversation: String,
    /// Where to connect: the first URL, then (after a failure) the next ones in turn.
    pub urls: Vec<String>,
    pub messages: usize,
    /// The conversation's last seq once everyone has sent everything.
    pub expect_last_seq: u64,
    /// Shared count of acknowledged messages (the test watches it).
    pub acked: Arc<AtomicUsize>,
    /// A connection on which nothing arrives for this long is given up (the client
    /// pings after a third of it, so only a dead path is silent that long).
    pub liveness: Duration,
}

/// What one client saw.
#[derive(Debug)]
pub struct AgentLog {
    pub name: String,
    pub conversation: String,
    /// Every timeline event received, in arrival order: (seq, body = the sender's client id).
    pub events: Vec<(u64, Option<String>)>,
    /// When each of `events` arrived.
    pub arrived: Vec<Instant>,
    /// Own acknowledged messages: client id → seq.
    pub acks: BTreeMap<String, u64>,
    /// When each acknowledgement arrived (the first, for a retried send).
    pub acked_at: BTreeMap<String, Instant>,
    pub reconnects: usize,
    pub resyncs: usize,
}

pub struct Paced(Agent, Duration);

impl Agent {
    /// Sends no faster than one message per `gap` (keeps traffic flowing for a while).
    pub fn paced(self, gap: Duration) -> Paced {
        Paced(self, gap)
    }

    pub async fn run(self) -> AgentLog {
        Paced(self, Duration::ZERO).run().await
    }
}

enum Ended {
    Done,
    Dropped,
}

impl Paced {
    pub async fn run(self) -> AgentLog {
        let Paced(agent, gap) = self;
        let mut log = AgentLog {
            name: agent.name.clone(),
            conversation: agent.conversation.clone(),
            events: Vec::new(),
            arrived: Vec::new(),
            acks: BTreeMap::new(),
            acked_at: BTreeMap::new(),
            reconnects: 0,
            resyncs: 0,
        };
        let mut cursor = 0u64;
        let mut attempt = 0usize;
        let deadline = Instant::now() + Duration::from_secs(230);
        loop {
            assert!(Instant::now() < deadline, "{}: gave up", agent.name);
            let url = &agent.urls[attempt.min(agent.urls.len() - 1)];
            match session(&agent, url, gap, &mut cursor, &mut log).await {
                Ended::Done => return log,
                Ended::Dropped => {
                    attempt += 1;
                    log.reconnects += 1;
                    // A real client backs off a little before reconnecting.
                    sleep(Duration::from_millis(50 + (attempt as u64 % 5) * 20)).await;
                }
            }
        }
    }
}

/// One connection: hello with the cursor, then send and read until done or dropped.
async fn session(
    agent: &Agent,
    url: &str,
    gap: Duration,
    cursor: &mut u64,
    log: &mut AgentLog,
) -> Ended {
    let Ok(Ok((mut socket, _))) = timeout(
        Duration::from_secs(5),
        tokio_tungstenite::connect_async(url),
    )
    .await
    else {
        return Ended::Dropped;
    };
    let hello = json!({
        "type": "hello",
        "token": agent.token,
        "cursors": { agent.conversation.clone(): *cursor },
    });
    if socket
        .send(Message::Text(hello.to_string().into()))
        .await
        .is_err()
    {
        return Ended::Dropped;
    }
    let mut welcomed = false;
    let mut in_flight: Option<String> = None;
    let mut next_send = Instant::now();
    let mut heard = Instant::now();
    let mut pinged = Instant::now();
    loop {
        let all_sent = log.acks.len() == agent.messages;
        if all_sent && *cursor >= agent.expect_last_seq {
            let _ = socket.close(None).await;
            return Ended::Done;
        }
        if welcomed && in_flight.is_none() && !all_sent && Instant::now() >= next_send {
            // Client ids are printable ASCII without spaces.
            let client_id = format!("{}-{}", agent.name.replace(' ', "_"), log.acks.len());
            let frame = json!({
                "type": "send",
                "conversation": agent.conversation,
                "client_id": client_id,
                // Others never see client ids (they are private to the sender's
                // devices), so the body carries it to tie each event to its ack.
                "body": client_id,
            });
            if socket
                .send(Message::Text(frame.to_string().into()))
                .await
                .is_err()
            {
                return Ended::Dropped;
            }
            in_flight = Some(client_id);
            next_send = Instant::now() + gap;
        }
        if heard.elapsed() >= agent.liveness {
            return Ended::Dropped; // silent too long: the path is dead
        }
        let ping_due = heard.max(pinged) + agent.liveness / 3;
        if welcomed && Instant::now() >= ping_due {
            let ping = json!({"type": "ping"}).to_string();
            if socket.send(Message::Text(ping.into())).await.is_err() {
                return Ended::Dropped;
            }
            pinged = Instant::now();
        }
        let mut wake = heard + agent.liveness;
        if welcomed {
            wake = wake.min(heard.max(pinged) + agent.liveness / 3);
        }
        if in_flight.is_none() && !all_sent && welcomed {
            wake = wake.min(next_send);
        }
        let message = match timeout(
            wake.saturating_duration_since(Instant::now()),
            socket.next(),
        )
        .await
        {
            Err(_) => continue, // time to send, ping or give up
            Ok(None) | Ok(Some(Err(_))) => return Ended::Dropped,
            Ok(Some(Ok(Message::Close(_)))) => return Ended::Dropped,
            Ok(Some(Ok(Message::Text(text)))) => {
                heard = Instant::now();
                text
            }
            Ok(Some(Ok(_))) => {
                heard = Instant::now();
                continue;
            }
        };
        let frame: Value = serde_json::from_str(message.as_str()).expect("JSON frame");
        match frame["type"].as_str().unwrap_or_default() {
            "welcome" => welcomed = true,
            "message" | "message_edited" | "message_deleted" | "system" => {
                if frame["conversation"] != agent.conversation.as_str() {
                    continue;
                }
                let seq = frame["seq"].as_u64().expect("seq");
                let body = frame["body"].as_str().map(str::to_owned);
                log.events.push((seq, body));
                log.arrived.push(Instant::now());
                *cursor = (*cursor).max(seq);
            }
            "ack" => {
                let client_id = frame["client_id"].as_str().expect("client id").to_owned();
                if in_flight.as_deref() == Some(client_id.as_str()) {
                    in_flight = None;
                    let seq = frame["seq"].as_u64().expect("ack seq");
                    log.acked_at
                        .entry(client_id.clone())
                        .or_insert_with(Instant::now);
                    if log.acks.insert(client_id, seq).is_none() {
                        agent.acked.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            "resync" => log.resyncs += 1,
            "error" => {
                let code = frame["code"].as_str().unwrap_or_default();
                // A store hiccup is retried; anything else is a failure of the test.
                assert!(
                    code == "unavailable" || code == "rate_limited",
                    "{}: unexpected error {frame}",
                    agent.name
                );
                if in_flight.is_some() && frame["client_id"].is_string() {
                    in_flight = None; // sent again with the same client id
                    next_send = Instant::now() + Duration::from_millis(200);
                }
            }
            _ => {}
        }
    }
}

/// Every member of a conversation received every event exactly once and in order
/// (1..=last), and every acknowledged message sits at its acknowledged seq in every
/// member's log.
pub fn check_conversation(conversation: &str, members: &[&AgentLog], last: u64) {
    let mut acked: BTreeMap<u64, String> = BTreeMap::new();
    for member in members {
        for (client_id, seq) in &member.acks {
            if let Some(other) = acked.insert(*seq, client_id.clone()) {
                panic!("{conversation}: seq {seq} acknowledged for {other} and {client_id}");
            }
        }
    }
    for member in members {
        let seqs: Vec<u64> = member.events.iter().map(|(seq, _)| *seq).collect();
        let expected: Vec<u64> = (1..=last).collect();
        if seqs != expected {
            let duplicates = seqs.len() as i64 - {
                let mut unique = seqs.clone();
                unique.dedup();
                unique.len() as i64
            };
            panic!(
                "{conversation}: {} received {} events ({} repeated), expected 1..={last} \
                 exactly once in order; first differences: {:?}",
                member.name,
                seqs.len(),
                duplicates,
                seqs.iter()
                    .zip(&expected)
                    .filter(|(a, b)| a != b)
                    .take(5)
                    .collect::<Vec<_>>()
            );
        }
        for (seq, client_id) in &member.events {
            if let Some(acked_id) = acked.get(seq) {
                assert_eq!(
                    client_id.as_deref(),
                    Some(acked_id.as_str()),
                    "{conversation}: {} holds another message at seq {seq}",
                    member.name
                );
            }
        }
    }
}
