//! The tail of a conversation when its node dies: mentors on node B each send a burst,
//! B is SIGKILLed a few milliseconds after the last send — after committing some
//! messages and before publishing them — and, as `restart: unless-stopped` or a pod
//! restart would, B comes back under the same node id at once (or later). Mentees on
//! node A, connected throughout, must receive every committed message within the bound
//! of PROTOCOL §6.7, exactly once; mentors fail over to A, retry what was not
//! acknowledged and resume.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use mentorhub_tests::cluster::{Cluster, RedisLink, RedisServer};
use mentorhub_tests::scenario::Pair;
use rand::Rng;
use serde_json::{Value, json};
use sqlx::Connection;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// PROTOCOL §6.7: a committed event reaches every connected member within this.
const BOUND: Duration = Duration::from_secs(3);
const PAIRS: usize = 50;
const TAIL: usize = 20;

/// One timeline event as a mentee received it.
#[derive(Clone, Debug)]
struct Arrival {
    seq: u64,
    at: Instant,
}

type Arrivals = Arc<Mutex<BTreeMap<String, Vec<Arrival>>>>;

/// When B comes back after being killed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Restart {
    /// At once (under a second, as a process manager would).
    AtOnce,
    /// Only after the bound has passed: survivors get no sign of life from B.
    AfterTheBound,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_kill_after_the_tail_and_restart_under_the_same_id_delivers_every_committed_message() {
    tail_cycles(20, Restart::AtOnce).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_kill_after_the_tail_without_restart_delivers_every_committed_message() {
    tail_cycles(4, Restart::AfterTheBound).await;
}

async fn tail_cycles(cycles: usize, restart: Restart) {
    let redis = RedisServer::start().await;
    // The default node TTL (30 s): a dead node's heartbeat cannot expire within the bound,
    // so only the delivery check (and a restart's new incarnation) can deliver in time.
    // Retries after a failover are part of the scenario: the per-account budget is
    // raised so that it is delivery, not a rate limit, that this test measures.
    let mut cluster = Cluster::start_with(2, RedisLink::Single(redis.url()), |options| {
        options
            .set("account_rate_per_sec", "10000")
            .set("account_rate_burst", "100000")
    })
    .await;
    cluster.wait_ready().await;
    let pairs = super::pairs(&cluster.node(0).rest, PAIRS, "t").await;
    let mut db = sqlx::PgConnection::connect(&cluster.db.url)
        .await
        .expect("the test database");

    // Mentees stay on A for the whole test.
    let arrivals: Arrivals = Arc::default();
    let mut mentees = Vec::new();
    for pair in &pairs {
        let socket = open(
            &cluster.node(0).ws_url,
            &pair.mentee.token,
            &pair.conversation,
            0,
        )
        .await;
        mentees.push(tokio::spawn(record_mentee(
            socket,
            pair.conversation.clone(),
            arrivals.clone(),
        )));
    }
    let mut cursors: Vec<u64> = vec![0; pairs.len()];
    let mut mentor_logs: Vec<Vec<u64>> = vec![Vec::new(); pairs.len()];
    // What each mentor's sessions saw, for the failure message.
    let mut notes: Vec<String> = vec![String::new(); pairs.len()];
    let mut late_tails = 0usize;
    for cycle in 0..cycles {
        // Mentors on B each send a burst, 3 ms apart, without waiting for acks.
        let b_url = cluster.node(1).ws_url.clone();
        let bursts = join_all(pairs.iter().enumerate().map(|(i, pair)| {
            let url = b_url.clone();
            let cursor = cursors[i];
            async move { burst(&url, pair, cursor, cycle, i).await }
        }))
        .await;
        let pause = rand::rng().random_range(0..=30);
        tokio::time::sleep(Duration::from_millis(pause)).await;
        cluster.nodes[1].sigkill().await;
        let killed_at = Instant::now();
        if restart == Restart::AtOnce {
            cluster.nodes[1].restart().await;
            let took = killed_at.elapsed();
            assert!(took < Duration::from_secs(5), "B restarted in {took:?}");
        }

        // Mentors fail over to A: resume, retry what was not acknowledged.
        let mut acked_after: Vec<Option<Instant>> = Vec::new();
        let mut failovers = Vec::new();
        for (i, burst) in bursts.into_iter().enumerate() {
            let (events, acks) = burst.finish().await;
            mentor_logs[i].extend(&events);
            cursors[i] = cursors[i].max(events.iter().copied().max().unwrap_or(0));
            notes[i] = format!("cycle {cycle}: on B events {events:?} acks {acks:?}; ");
            let unacked: Vec<String> = (0..TAIL)
                .map(|n| client_id(cycle, i, n))
                .filter(|id| !acks.contains_key(id))
                .collect();
            let url = cluster.node(0).ws_url.clone();
            let pair = &pairs[i];
            failovers.push(failover(url, pair.clone(), cursors[i], unacked));
        }
        for (i, (events, last_fresh_ack, note)) in join_all(failovers).await.into_iter().enumerate()
        {
            notes[i].push_str(&note);
            mentor_logs[i].extend(&events);
            cursors[i] = cursors[i].max(events.iter().copied().max().unwrap_or(0));
            acked_after.push(last_fresh_ack);
        }

        // Every committed message reaches every mentee within the bound, exactly once.
        let heads = committed_heads(&mut db, &pairs).await;
        let deadline = killed_at.max(
            acked_after
                .iter()
                .flatten()
                .copied()
                .max()
                .unwrap_or(killed_at),
        ) + BOUND;
        wait_until_delivered(&arrivals, &heads, deadline + Duration::from_secs(10)).await;
        let arrivals = arrivals.lock().unwrap().clone();
        for (i, pair) in pairs.iter().enumerate() {
            let got = arrivals
                .get(&pair.conversation)
                .cloned()
                .unwrap_or_default();
            let head = heads[&pair.conversation];
            let seqs: Vec<u64> = got.iter().map(|a| a.seq).collect();
            assert_eq!(
                seqs,
                (1..=head).collect::<Vec<_>>(),
                "cycle {cycle}: mentee {i} holds every committed event once, in order"
            );
            // Committed before the kill: bound from the kill; committed by a retry on A:
            // bound from its ack (which follows the commit).
            let due = killed_at.max(acked_after[i].unwrap_or(killed_at)) + BOUND;
            for arrival in &got {
                assert!(
                    arrival.at <= due,
                    "cycle {cycle}: mentee {i} got seq {} {:?} after the bound",
                    arrival.seq,
                    arrival.at - due
                );
            }
            if let Some(late) = got.iter().filter(|a| a.at > killed_at).max_by_key(|a| a.at) {
                late_tails += usize::from(late.at > killed_at + Duration::from_millis(500));
            }
        }
        for (i, log) in mentor_logs.iter().enumerate() {
            let head = heads[&pairs[i].conversation];
            assert_eq!(
                log,
                &(1..=head).collect::<Vec<_>>(),
                "cycle {cycle}: mentor {i} holds every event once, in order ({})",
                notes[i]
            );
        }
        if restart == Restart::AfterTheBound {
            cluster.nodes[1].restart().await;
        }
    }
    // Not asserted (it depends on where each kill lands): how often a conversation's
    // last event reached its mentee well after the kill — from the store, or from a retry
    // on A — rather than live from B.
    eprintln!("conversations whose last event arrived > 500 ms after the kill: {late_tails}");
    for mentee in mentees {
        mentee.abort();
    }
}

fn client_id(cycle: usize, pair: usize, n: usize) -> String {
    format!("c{cycle}-p{pair}-m{n}")
}

async fn open(url: &str, token: &str, conversation: &str, cursor: u64) -> Socket {
    open_welcomed(url, token, conversation, cursor).await.0
}

/// Opens a session and returns it with the conversation's `last_seq` at `welcome`.
async fn open_welcomed(url: &str, token: &str, conversation: &str, cursor: u64) -> (Socket, u64) {
    let (mut socket, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("WebSocket connect");
    let hello = json!({"type": "hello", "token": token, "cursors": {conversation: cursor}});
    socket
        .send(Message::Text(hello.to_string().into()))
        .await
        .expect("send hello");
    loop {
        let frame = next_frame(&mut socket).await.expect("welcome");
        if frame["type"] == "welcome" {
            let last_seq = frame["conversations"]
                .as_array()
                .and_then(|all| all.iter().find(|c| c["id"] == conversation))
                .and_then(|c| c["last_seq"].as_u64())
                .expect("the conversation in welcome");
            return (socket, last_seq);
        }
        assert_ne!(frame["type"], "error", "hello refused: {frame}");
    }
}

async fn next_frame<S>(stream: &mut S) -> Option<Value>
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        match stream.next().await? {
            Ok(Message::Text(text)) => return serde_json::from_str(text.as_str()).ok(),
            Ok(Message::Close(_)) | Err(_) => return None,
            Ok(_) => continue,
        }
    }
}

async fn record_mentee(socket: Socket, conversation: String, arrivals: Arrivals) {
    let (_sink, mut stream) = socket.split();
    while let Some(frame) = next_frame(&mut stream).await {
        if frame["type"] == "message" || frame["type"] == "system" {
            let seq = frame["seq"].as_u64().expect("seq");
            arrivals
                .lock()
                .unwrap()
                .entry(conversation.clone())
                .or_default()
                .push(Arrival {
                    seq,
                    at: Instant::now(),
                });
        }
    }
    panic!("a mentee's connection to node A closed");
}

/// A mentor's burst on B; the reader keeps collecting until B dies.
struct Burst {
    _sink: SplitSink<Socket, Message>,
    reader: JoinHandle<(Vec<u64>, BTreeMap<String, u64>)>,
}

impl Burst {
    async fn finish(self) -> (Vec<u64>, BTreeMap<String, u64>) {
        tokio::time::timeout(Duration::from_secs(30), self.reader)
            .await
            .expect("the mentor's connection to the killed node ended")
            .expect("reader task")
    }
}

async fn burst(url: &str, pair: &Pair, cursor: u64, cycle: usize, i: usize) -> Burst {
    let socket = open(url, &pair.mentor.token, &pair.conversation, cursor).await;
    let (mut sink, stream) = socket.split();
    let reader = tokio::spawn(read_mentor(stream));
    for n in 0..TAIL {
        let id = client_id(cycle, i, n);
        let frame =
            json!({"type": "send", "conversation": pair.conversation, "client_id": id, "body": id});
        if sink
            .send(Message::Text(frame.to_string().into()))
            .await
            .is_err()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    Burst {
        _sink: sink,
        reader,
    }
}

/// Timeline seqs and acks (client id → seq) until the connection ends.
async fn read_mentor(mut stream: SplitStream<Socket>) -> (Vec<u64>, BTreeMap<String, u64>) {
    let (mut events, mut acks) = (Vec::new(), BTreeMap::new());
    while let Some(frame) = next_frame(&mut stream).await {
        match frame["type"].as_str() {
            Some("message" | "system") => events.push(frame["seq"].as_u64().expect("seq")),
            Some("ack") => {
                acks.insert(
                    frame["client_id"].as_str().unwrap_or_default().to_owned(),
                    frame["seq"].as_u64().expect("ack seq"),
                );
            }
            _ => {}
        }
    }
    (events, acks)
}

/// Resumes on A and retries every unacknowledged send; returns the events received and
/// when the last send that was new (not a duplicate) was acknowledged.
async fn failover(
    url: String,
    pair: Pair,
    cursor: u64,
    unacked: Vec<String>,
) -> (Vec<u64>, Option<Instant>, String) {
    let (mut socket, last_seq) =
        open_welcomed(&url, &pair.mentor.token, &pair.conversation, cursor).await;
    for id in &unacked {
        let frame =
            json!({"type": "send", "conversation": pair.conversation, "client_id": id, "body": id});
        socket
            .send(Message::Text(frame.to_string().into()))
            .await
            .expect("retry");
    }
    let (mut events, mut pending, mut fresh) = (Vec::new(), unacked.len(), None);
    // Until every retry is answered and the events reached both the head at `welcome`
    // and every acknowledged seq (an event may follow its ack).
    let mut wanted = last_seq;
    while pending > 0 || cursor.max(events.last().copied().unwrap_or(0)) < wanted {
        let frame = tokio::time::timeout(Duration::from_secs(20), next_frame(&mut socket))
            .await
            .expect("A answers and resumes within 20 s")
            .expect("A keeps the mentor's connection");
        match frame["type"].as_str() {
            Some("message" | "system") => events.push(frame["seq"].as_u64().expect("seq")),
            Some("ack") => {
                pending -= 1;
                wanted = wanted.max(frame["seq"].as_u64().expect("ack seq"));
                if frame["duplicate"] != true {
                    fresh = Some(Instant::now());
                }
            }
            Some("error") => panic!("retry refused: {frame}"),
            _ => {}
        }
    }
    let _ = socket.close(None).await;
    let note =
        format!("on A from {cursor} (head {last_seq}) retried {unacked:?}: events {events:?}");
    (events, fresh, note)
}

async fn committed_heads(db: &mut sqlx::PgConnection, pairs: &[Pair]) -> BTreeMap<String, u64> {
    let mut heads = BTreeMap::new();
    for pair in pairs {
        let (last,): (i64,) = sqlx::query_as("SELECT last_seq FROM conversations WHERE id = $1")
            .bind(&pair.conversation)
            .fetch_one(&mut *db)
            .await
            .expect("read the committed head");
        heads.insert(pair.conversation.clone(), last as u64);
    }
    heads
}

async fn wait_until_delivered(arrivals: &Arrivals, heads: &BTreeMap<String, u64>, until: Instant) {
    while Instant::now() < until {
        let done = {
            let arrivals = arrivals.lock().unwrap();
            heads.iter().all(|(conversation, head)| {
                arrivals
                    .get(conversation)
                    .and_then(|a| a.iter().map(|a| a.seq).max())
                    .is_some_and(|seq| seq >= *head)
            })
        };
        if done {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
