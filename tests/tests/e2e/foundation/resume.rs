//! Resume under churn: two devices send 1,000 messages between them while a third only
//! reads; 20 disconnects at random moments (some right after a `send` left, so its ack
//! is lost and the send is retried with the same client id on the next connection).
//! Every device reconnects with its cursors and must end up holding every acknowledged
//! message exactly once, in order, with the conversation's sequence still gap-free.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use mentorhub_tests::{Pair, WsClient, spawn_app_with};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use tokio::sync::watch;

const MESSAGES: usize = 1000;
const DISCONNECTS: usize = 20;

/// One device of one account: its current connection and everything it held before.
struct Device {
    name: &'static str,
    url: String,
    token: String,
    ws: Option<WsClient>,
    /// Timeline events received on earlier connections, in arrival order.
    held: Vec<Value>,
    reconnects: usize,
}

impl Device {
    async fn new(name: &'static str, url: &str, token: &str, conversation: &str) -> Device {
        // Cursor 0: replay the conversation from its first event.
        let cursors = BTreeMap::from([(conversation.to_owned(), 0)]);
        let ws = WsClient::connect_with_cursors(url, token, &cursors).await;
        Device {
            name,
            url: url.to_owned(),
            token: token.to_owned(),
            ws: Some(ws),
            held: Vec::new(),
            reconnects: 0,
        }
    }

    fn ws(&mut self) -> &mut WsClient {
        self.ws.as_mut().expect("connected")
    }

    /// Drops the connection without a close handshake, waits a moment (others keep
    /// talking meanwhile) and resumes with the highest seq held per conversation.
    async fn reconnect(&mut self, pause: Duration) {
        let old = self.ws.take().expect("connected");
        let cursors = old.cursors().clone();
        self.held.extend(old.events().iter().cloned());
        old.drop_connection();
        tokio::time::sleep(pause).await;
        self.ws = Some(WsClient::connect_with_cursors(&self.url, &self.token, &cursors).await);
        self.reconnects += 1;
    }

    /// How many timeline events it holds, over all connections.
    fn held_count(&self) -> usize {
        self.held.len() + self.ws.as_ref().map_or(0, |ws| ws.events().len())
    }

    /// Everything held, over all connections.
    fn timeline(&self) -> Vec<Value> {
        let mut all = self.held.clone();
        if let Some(ws) = &self.ws {
            all.extend(ws.events().iter().cloned());
        }
        all
    }
}

#[derive(Clone, Copy, Debug)]
enum Disconnect {
    /// Drop before sending the next message.
    Idle,
    /// Send the next message, drop before its ack arrives, retry after resuming.
    AckLost,
}

struct Acked {
    client_id: String,
    body: String,
    seq: u64,
    duplicate: bool,
}

async fn run_sender(
    mut device: Device,
    conversation: String,
    messages: Vec<(String, String)>,
    plan: HashMap<usize, (Disconnect, Duration)>,
) -> (Device, Vec<Acked>) {
    let mut acked = Vec::new();
    for (i, (client_id, body)) in messages.into_iter().enumerate() {
        let frame = json!({"type": "send", "ref": format!("s{i}"), "conversation": conversation,
                           "client_id": client_id, "body": body});
        match plan.get(&i) {
            Some((Disconnect::Idle, pause)) => device.reconnect(*pause).await,
            Some((Disconnect::AckLost, pause)) => {
                device.ws().send(&frame).await;
                device.reconnect(*pause).await;
            }
            None => {}
        }
        let reply = device.ws().request(frame).await;
        assert_eq!(
            reply["type"], "ack",
            "{}: send refused: {reply}",
            device.name
        );
        assert_eq!(reply["client_id"], client_id.as_str());
        acked.push(Acked {
            client_id,
            body,
            seq: reply["seq"].as_u64().expect("seq"),
            duplicate: reply["duplicate"] == true,
        });
        // Events are recorded as they are read; the frames themselves are not needed.
        device.ws().drain_backlog();
    }
    (device, acked)
}

/// Reads until the conversation reaches the final seq (once known), dropping its
/// connection whenever it has received the next planned number of events.
async fn run_reader(
    mut device: Device,
    conversation: String,
    mut plan: Vec<(usize, Duration)>,
    mut last: watch::Receiver<Option<u64>>,
) -> Device {
    plan.sort();
    let mut plan = plan.into_iter().peekable();
    loop {
        let cursor = device
            .ws()
            .cursors()
            .get(&conversation)
            .copied()
            .unwrap_or(0);
        if let Some(last) = *last.borrow_and_update()
            && cursor >= last
        {
            return device;
        }
        if let Some((_, pause)) = plan.next_if(|(at, _)| device.held_count() >= *at) {
            device.reconnect(pause).await;
            continue;
        }
        let ws = device.ws();
        assert!(ws.closed().is_none(), "reader closed: {:?}", ws.closed());
        let _ = ws.try_next(Duration::from_millis(20)).await;
        ws.drain_backlog();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foundation_resume_1000_messages_20_disconnects_exactly_once_in_order() {
    // The rate limit is not under test here: let the senders go as fast as they can.
    let app = spawn_app_with(|c| {
        c.ws.rate_per_sec = 10_000.0;
        c.ws.rate_burst = 10_000;
    })
    .await;
    let pair = Pair::create(&app.rest, "Yara Haddad", "Dr Ines Costa").await;
    let conversation = pair.conversation.clone();
    let seed: u64 = std::env::var("FOUNDATION_RESUME_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::rng().random());
    println!("resume seed {seed} (FOUNDATION_RESUME_SEED to replay)");
    let mut rng = StdRng::seed_from_u64(seed);

    // 20 disconnects spread at random over the three devices and over time.
    let per_sender = MESSAGES / 2;
    let mut sender_plans = [HashMap::new(), HashMap::new()];
    let mut reader_plan = Vec::new();
    for _ in 0..DISCONNECTS {
        let pause = Duration::from_millis(rng.random_range(0..40));
        match rng.random_range(0..3) {
            2 => reader_plan.push((rng.random_range(1..MESSAGES), pause)),
            sender => loop {
                let at = rng.random_range(0..per_sender);
                let kind = if rng.random_bool(0.5) {
                    Disconnect::AckLost
                } else {
                    Disconnect::Idle
                };
                if sender_plans[sender].insert(at, (kind, pause)).is_none() {
                    break;
                }
            },
        }
    }
    let messages = |who: &str| -> Vec<(String, String)> {
        (0..per_sender)
            .map(|i| (format!("{who}-{i:04}"), format!("{who} says {i}")))
            .collect()
    };

    let url = app.ws_url.as_str();
    let mentee = Device::new("mentee", url, &pair.mentee.token, &conversation).await;
    let laptop = Device::new("mentor laptop", url, &pair.mentor.token, &conversation).await;
    let phone = Device::new("mentor phone", url, &pair.mentor.token, &conversation).await;
    let (last_tx, last_rx) = watch::channel(None);
    let reader = tokio::spawn(run_reader(
        phone,
        conversation.clone(),
        reader_plan,
        last_rx,
    ));
    let [mentee_plan, laptop_plan] = sender_plans;
    let first = tokio::spawn(run_sender(
        mentee,
        conversation.clone(),
        messages("yara"),
        mentee_plan,
    ));
    let second = tokio::spawn(run_sender(
        laptop,
        conversation.clone(),
        messages("ines"),
        laptop_plan,
    ));
    let (mentee, mut acked) = first.await.expect("the mentee's sender");
    let (laptop, more) = second.await.expect("the laptop's sender");
    acked.extend(more);

    // Every send was acknowledged exactly once: 1,000 distinct seqs after the system
    // event, so no retry created a second message.
    assert_eq!(acked.len(), MESSAGES);
    let acked_seqs: BTreeSet<u64> = acked.iter().map(|a| a.seq).collect();
    assert_eq!(acked_seqs.len(), MESSAGES, "two sends share a seq");
    let last = MESSAGES as u64 + 1;
    assert_eq!(
        acked_seqs,
        (2..=last).collect::<BTreeSet<u64>>(),
        "acked seqs are not gap-free"
    );
    last_tx.send(Some(last)).expect("the reader listens");
    let phone = reader.await.expect("the reader");

    let disconnects = mentee.reconnects + laptop.reconnects + phone.reconnects;
    assert_eq!(
        disconnects, DISCONNECTS,
        "every planned disconnect happened"
    );
    let by_seq: HashMap<u64, &Acked> = acked.iter().map(|a| (a.seq, a)).collect();
    for mut device in [mentee, laptop, phone] {
        device.ws().wait_for_seq(&conversation, last).await;
        let timeline = device.timeline();
        let held: Vec<u64> = timeline
            .iter()
            .filter(|e| e["conversation"] == conversation.as_str())
            .map(|e| e["seq"].as_u64().unwrap())
            .collect();
        assert_eq!(
            held,
            (1..=last).collect::<Vec<u64>>(),
            "{} (seed {seed}) does not hold 1..={last} exactly once in order",
            device.name
        );
        for event in &timeline[1..] {
            let sent = by_seq[&event["seq"].as_u64().unwrap()];
            assert_eq!(event["type"], "message");
            assert_eq!(event["body"], sent.body.as_str(), "{}", sent.client_id);
        }
        println!(
            "{}: {} reconnects, holds {} events",
            device.name,
            device.reconnects,
            timeline.len()
        );
    }
    let retried = acked.iter().filter(|a| a.duplicate).count();
    println!("{retried} retried sends were answered as duplicates");

    // The store agrees: the newest page ends at the last acked seq.
    let page = app
        .rest
        .get(
            &format!("/api/conversations/{conversation}/messages?limit=1"),
            Some(&pair.mentee.token),
        )
        .await
        .ok();
    assert_eq!(page["events"][0]["seq"], last);
}
