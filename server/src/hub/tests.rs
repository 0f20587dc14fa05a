//! The hub driven through channels: no socket, no server. Real parts otherwise (SQLite
//! store, in-process bus, the dev token minter), built from the test configuration.
//!
//! Time is paused once the session is open: the store answers from its own threads,
//! and paused time would jump from deadline to deadline while waiting for it. From then
//! on a deadline fires exactly when due; the fake client answers pings as a browser
//! does, so the idle timeout only fires where a test says nothing.

use std::path::PathBuf;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::{Sink, Stream};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::PollSender;

use super::transport::{Gone, Incoming, Outgoing, ReadError};
use crate::app::Core;
use crate::auth::{Minter, Role};
use crate::config::Config;
use crate::ids::AccountId;
use crate::protocol::close;

/// The server's end of a channel pair.
struct ChannelTransport {
    from_client: mpsc::Receiver<Result<Incoming, ReadError>>,
    to_client: PollSender<Outgoing>,
}

impl Stream for ChannelTransport {
    type Item = Result<Incoming, ReadError>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Self::Item>> {
        self.from_client.poll_recv(cx)
    }
}

impl Sink<Outgoing> for ChannelTransport {
    type Error = Gone;

    fn poll_ready(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), Gone>> {
        self.to_client.poll_reserve(cx).map_err(|_| Gone)
    }

    fn start_send(mut self: std::pin::Pin<&mut Self>, item: Outgoing) -> Result<(), Gone> {
        self.to_client.send_item(item).map_err(|_| Gone)
    }

    fn poll_flush(self: std::pin::Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Gone>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Result<(), Gone>> {
        self.to_client.close();
        Poll::Ready(Ok(()))
    }
}

/// The client's end.
struct Client {
    to_server: mpsc::Sender<Result<Incoming, ReadError>>,
    from_server: mpsc::Receiver<Outgoing>,
}

/// What the client saw next, pings answered and skipped.
#[derive(Debug)]
enum Seen {
    Frame(Value),
    Closed(Option<u16>),
}

impl Client {
    async fn send(&self, frame: Value) {
        let text = frame.to_string().into_bytes();
        self.to_server
            .send(Ok(Incoming::Text(text.into())))
            .await
            .expect("the server reads");
    }

    /// The next frame, answering pings on the way like a browser does.
    async fn next(&mut self) -> Seen {
        loop {
            match self.from_server.recv().await {
                Some(Outgoing::Ping) => {
                    let _ = self.to_server.send(Ok(Incoming::Pong)).await;
                }
                Some(Outgoing::Text(json)) => {
                    return Seen::Frame(serde_json::from_slice(&json).expect("JSON"));
                }
                Some(Outgoing::Close { code, .. }) => return Seen::Closed(Some(code)),
                None => return Seen::Closed(None),
            }
        }
    }

    async fn frame(&mut self) -> Value {
        match self.next().await {
            Seen::Frame(frame) => frame,
            closed => panic!("expected a frame, the connection ended: {closed:?}"),
        }
    }

    /// The close code, skipping any frame before it.
    async fn close_code(&mut self) -> Option<u16> {
        loop {
            if let Seen::Closed(code) = self.next().await {
                return code;
            }
        }
    }
}

struct Harness {
    core: Core,
    minter: Arc<Minter>,
    data_dir: PathBuf,
}

impl Drop for Harness {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

impl Harness {
    async fn start(tune: impl FnOnce(&mut Config)) -> Harness {
        let data_dir =
            std::env::temp_dir().join(format!("mentorhub-hub-{}", crate::ids::opaque_token()));
        let mut config = Config::for_tests(data_dir.clone());
        config.calls.turn_enabled = false;
        tune(&mut config);
        let core = Core::build(&config).await.expect("the parts start");
        let minter = core.dev_minter.clone().expect("dev mode mints tokens");
        Harness {
            core,
            minter,
            data_dir,
        }
    }

    fn token(&self, account: &AccountId, roles: &[Role], ttl: Duration) -> String {
        self.minter.mint(account, "Dr Test", roles, ttl)
    }

    /// A connection served by the hub, not yet past `hello`.
    fn connect(&self) -> Client {
        let (to_server, from_client) = mpsc::channel(64);
        // Room for one frame: a client that stops reading is felt at once.
        let (to_client, from_server) = mpsc::channel(1);
        let transport = ChannelTransport {
            from_client,
            to_client: PollSender::new(to_client),
        };
        tokio::spawn(super::serve_socket(
            self.core.hub.clone(),
            Box::new(transport),
        ));
        Client {
            to_server,
            from_server,
        }
    }

    /// A connection past `welcome`.
    async fn open(&self, token: &str) -> (Client, Value) {
        let mut client = self.connect();
        client.send(json!({"type": "hello", "token": token})).await;
        let welcome = client.frame().await;
        assert_eq!(welcome["type"], "welcome", "{welcome}");
        (client, welcome)
    }
}

/// A fresh account for each connection.
fn someone() -> AccountId {
    AccountId::from_stored(format!("dev:{}", crate::ids::opaque_token()))
}

fn ttl_hours(hours: u64) -> Duration {
    Duration::from_secs(hours * 3600)
}

#[tokio::test]
async fn a_silent_client_is_closed_at_the_idle_timeout_and_not_before() {
    let harness = Harness::start(|_| {}).await;
    let idle = harness.core.hub.settings().idle_timeout;
    let token = harness.token(&someone(), &[Role::Mentee], ttl_hours(2));
    let (mut client, _) = harness.open(&token).await;
    tokio::time::pause();
    let start = Instant::now();
    // Pings are not answered here: the client says nothing at all.
    let code = loop {
        match client.from_server.recv().await {
            Some(Outgoing::Ping) => continue,
            Some(Outgoing::Close { code, .. }) => break code,
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(code, close::IDLE_TIMEOUT);
    assert_eq!(start.elapsed().as_secs(), idle.as_secs());
}

#[tokio::test]
async fn a_client_that_answers_pings_outlives_many_idle_timeouts() {
    let harness = Harness::start(|_| {}).await;
    let idle = harness.core.hub.settings().idle_timeout;
    let token = harness.token(&someone(), &[Role::Mentee], ttl_hours(2));
    let (mut client, _) = harness.open(&token).await;
    tokio::time::pause();
    let quiet = tokio::time::timeout(idle * 5, client.next()).await;
    assert!(quiet.is_err(), "nothing but pings expected: {quiet:?}");
    client.send(json!({"type": "ping", "ref": "p"})).await;
    let pong = client.frame().await;
    assert_eq!(pong, json!({"type": "pong", "ref": "p"}));
}

#[tokio::test]
async fn an_expiring_token_is_announced_then_the_session_closes_past_the_leeway() {
    let harness = Harness::start(|_| {}).await;
    let leeway = harness.core.hub.settings().token_leeway;
    let ttl = Duration::from_secs(600);
    let token = harness.token(&someone(), &[Role::Mentee], ttl);
    let (mut client, _) = harness.open(&token).await;
    tokio::time::pause();
    let start = Instant::now();
    let warning = client.frame().await;
    assert_eq!(warning["type"], "token_expiring", "{warning}");
    // `exp` is whole seconds: the warning comes a minute before it, give or take one.
    let warned_after = start.elapsed().as_secs();
    assert!((538..=540).contains(&warned_after), "{warned_after}");
    assert_eq!(client.close_code().await, Some(close::SESSION_EXPIRED));
    let closed_after = start.elapsed();
    assert!(
        closed_after >= ttl + leeway - Duration::from_secs(2),
        "{closed_after:?}"
    );
    assert!(closed_after <= ttl + leeway, "{closed_after:?}");
}

#[tokio::test]
async fn a_refreshed_token_keeps_the_session_open_past_the_old_expiry() {
    let harness = Harness::start(|_| {}).await;
    let leeway = harness.core.hub.settings().token_leeway;
    let account = someone();
    let ttl = Duration::from_secs(600);
    let token = harness.token(&account, &[Role::Mentee], ttl);
    let (mut client, _) = harness.open(&token).await;
    // Minted before time is paused: the verifier reads the wall clock.
    let fresh = harness.token(&account, &[Role::Mentee], ttl_hours(2));
    tokio::time::pause();
    let warning = client.frame().await;
    assert_eq!(warning["type"], "token_expiring", "{warning}");
    client
        .send(json!({"type": "refresh", "ref": "r", "token": fresh}))
        .await;
    let refreshed = client.frame().await;
    assert_eq!(refreshed["type"], "refreshed", "{refreshed}");
    let quiet = tokio::time::timeout(leeway * 3, client.next()).await;
    assert!(quiet.is_err(), "the session should stay open: {quiet:?}");
}

#[tokio::test]
async fn a_refresh_for_another_account_is_refused_and_changes_nothing() {
    let harness = Harness::start(|_| {}).await;
    let token = harness.token(&someone(), &[Role::Mentee], ttl_hours(2));
    let other = harness.token(&someone(), &[Role::Mentee], ttl_hours(2));
    let (mut client, _) = harness.open(&token).await;
    tokio::time::pause();
    client
        .send(json!({"type": "refresh", "ref": "r", "token": other}))
        .await;
    let refused = client.frame().await;
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(refused["code"], "unauthorized", "{refused}");
    assert_eq!(refused["ref"], "r", "{refused}");
}

#[tokio::test]
async fn a_client_that_stops_reading_is_closed_as_a_slow_consumer() {
    let harness = Harness::start(|config| config.ws.outbound_queue = 8).await;
    let token = harness.token(&someone(), &[Role::Mentee], ttl_hours(2));
    let (mut client, _) = harness.open(&token).await;
    tokio::time::pause();
    // Each ping is answered; none is read until the queue has overflowed.
    for n in 0..24 {
        client
            .send(json!({"type": "ping", "ref": n.to_string()}))
            .await;
    }
    tokio::time::sleep(Duration::from_millis(10)).await;
    let mut pongs = 0;
    let code = loop {
        match client.next().await {
            Seen::Frame(frame) => {
                assert_eq!(frame["type"], "pong", "{frame}");
                assert_eq!(frame["ref"], pongs.to_string(), "in order");
                pongs += 1;
            }
            Seen::Closed(code) => break code,
        }
    };
    assert_eq!(code, Some(close::SLOW_CONSUMER));
    assert!(pongs < 24, "the queue is bounded: {pongs} pongs");
}

#[tokio::test]
async fn pipelined_sends_are_acknowledged_in_order_and_a_later_frame_waits_for_them() {
    let harness = Harness::start(|_| {}).await;
    let account = someone();
    let token = harness.token(&account, &[Role::Mentor], ttl_hours(2));
    // A room whose facilitator is its only member: the mentor can post at once.
    let principal = harness
        .core
        .verifier
        .verify_now(&token)
        .expect("a valid token");
    let request = serde_json::from_value(json!({"title": "Case review"})).expect("a request");
    let room = harness
        .core
        .mentoring
        .create_room(&principal, &request)
        .await
        .expect("the room is created");
    let conversation = room.id.to_string();
    let (mut client, welcome) = harness.open(&token).await;
    assert_eq!(welcome["conversations"][0]["id"], conversation, "{welcome}");
    // Real time: every send waits for the store's threads, and paused time would jump
    // from deadline to deadline meanwhile. Order, not time, is what is checked here.
    const SENDS: usize = 12;
    for n in 0..SENDS {
        client
            .send(json!({
                "type": "send", "ref": format!("s{n}"), "conversation": conversation,
                "client_id": format!("c{n}"), "body": format!("message {n}"),
            }))
            .await;
    }
    client.send(json!({"type": "ping", "ref": "after"})).await;
    let mut acks = Vec::new();
    let mut bodies = Vec::new();
    loop {
        let frame = client.frame().await;
        match frame["type"].as_str() {
            Some("ack") => acks.push(frame),
            Some("message") => bodies.push(frame["body"].as_str().map(str::to_owned)),
            Some("pong") => {
                assert_eq!(frame["ref"], "after");
                break;
            }
            _ => {}
        }
    }
    assert_eq!(acks.len(), SENDS, "every send acknowledged before the pong");
    let mut last_seq = 0;
    for (n, ack) in acks.iter().enumerate() {
        assert_eq!(ack["ref"], format!("s{n}"), "{ack}");
        assert_eq!(ack["client_id"], format!("c{n}"), "{ack}");
        let seq = ack["seq"].as_u64().expect("a seq");
        assert!(seq > last_seq, "seqs rise in frame order: {ack}");
        last_seq = seq;
    }
    let expected: Vec<Option<String>> = (0..SENDS).map(|n| Some(format!("message {n}"))).collect();
    assert_eq!(bodies, expected, "the sender sees its messages in order");
    // A retried send is answered with the original ack, not a second message.
    client
        .send(json!({
            "type": "send", "ref": "again", "conversation": conversation,
            "client_id": "c0", "body": "message 0",
        }))
        .await;
    let duplicate = client.frame().await;
    assert_eq!(duplicate["type"], "ack", "{duplicate}");
    assert_eq!(duplicate["duplicate"], true, "{duplicate}");
    assert_eq!(duplicate["seq"], acks[0]["seq"], "{duplicate}");
}

#[tokio::test]
async fn a_first_frame_that_is_not_hello_is_refused_with_a_close_code() {
    let harness = Harness::start(|_| {}).await;
    let mut client = harness.connect();
    client.send(json!({"type": "ping"})).await;
    let refused = client.frame().await;
    assert_eq!(refused["code"], "protocol_violation", "{refused}");
    assert_eq!(client.close_code().await, Some(close::PROTOCOL_VIOLATION));
}

#[tokio::test]
async fn no_hello_in_time_closes_the_connection() {
    let harness = Harness::start(|_| {}).await;
    let hello_timeout = harness.core.hub.settings().hello_timeout;
    tokio::time::pause();
    let mut client = harness.connect();
    let start = Instant::now();
    assert_eq!(client.close_code().await, Some(close::HELLO_TIMEOUT));
    // Timers have millisecond resolution and round up.
    let waited = start.elapsed();
    assert!(waited >= hello_timeout, "{waited:?}");
    assert!(
        waited <= hello_timeout + Duration::from_millis(1),
        "{waited:?}"
    );
}

#[tokio::test]
async fn a_frame_over_the_limit_closes_with_1009() {
    let harness = Harness::start(|_| {}).await;
    let token = harness.token(&someone(), &[Role::Mentee], ttl_hours(2));
    let (mut client, _) = harness.open(&token).await;
    client
        .to_server
        .send(Err(ReadError::TooBig))
        .await
        .expect("the server reads");
    assert_eq!(client.close_code().await, Some(close::MESSAGE_TOO_BIG));
}
