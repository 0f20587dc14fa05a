//! A WebSocket client for tests. Every frame read is kept: frames a test has not asked
//! for yet wait in a backlog, timeline events (those with a `seq`) are also recorded in
//! arrival order, and per-conversation cursors follow them, as a real client's would.
//! Every frame read is checked against the AsyncAPI document ([`crate::contract`]).

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

use crate::WAIT;

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The frame types that make up a conversation's timeline (they carry `seq`).
pub const TIMELINE: [&str; 4] = ["message", "message_edited", "message_deleted", "system"];

/// How a connection ended, as the client saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closed {
    /// The close code, or `None` when the TCP stream ended without a close frame.
    pub code: Option<u16>,
    pub reason: String,
}

pub struct WsClient {
    socket: Socket,
    backlog: VecDeque<Value>,
    events: Vec<Value>,
    cursors: BTreeMap<String, u64>,
    next_ref: u64,
    closed: Option<Closed>,
    /// Every frame read, in order, when [`connect_recording`](Self::connect_recording)
    /// opened the connection (confidentiality tests scan it); `None` otherwise.
    transcript: Option<Vec<Value>>,
    /// The `welcome` frame, once the handshake succeeded.
    pub welcome: Option<Value>,
}

impl WsClient {
    /// Opens `/ws`, says `hello` and waits for `welcome` (panics if refused).
    pub async fn connect(url: &str, token: &str) -> WsClient {
        Self::connect_with_cursors(url, token, &BTreeMap::new()).await
    }

    /// As [`connect`](Self::connect), and keeps every frame ever read (the `welcome`
    /// included) in [`transcript`](Self::transcript), whoever took it.
    pub async fn connect_recording(url: &str, token: &str) -> WsClient {
        let mut client = Self::open(url).await;
        client.transcript = Some(Vec::new());
        let reply = client.hello(token, &BTreeMap::new()).await;
        assert_eq!(reply["type"], "welcome", "hello refused: {reply}");
        client
    }

    /// Every frame read so far (empty unless opened with
    /// [`connect_recording`](Self::connect_recording)).
    pub fn transcript(&self) -> &[Value] {
        self.transcript.as_deref().unwrap_or(&[])
    }

    /// As [`connect`](Self::connect), resuming from `cursors`.
    pub async fn connect_with_cursors(
        url: &str,
        token: &str,
        cursors: &BTreeMap<String, u64>,
    ) -> WsClient {
        let mut client = Self::open(url).await;
        client.cursors = cursors.clone();
        let reply = client.hello(token, cursors).await;
        assert_eq!(reply["type"], "welcome", "hello refused: {reply}");
        client
    }

    /// Opens `/ws` without saying anything yet.
    pub async fn open(url: &str) -> WsClient {
        let request = url.into_client_request().expect("a ws:// URL");
        Self::open_request(request).await
    }

    /// Opens `/ws` with an `Origin` header.
    pub async fn open_with_origin(url: &str, origin: &str) -> Result<WsClient, String> {
        let mut request = url.into_client_request().expect("a ws:// URL");
        request
            .headers_mut()
            .insert("origin", origin.parse().expect("a header value"));
        match connect_async(request).await {
            Ok((socket, _)) => Ok(Self::from_socket(socket)),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Opens `/ws` over a TCP socket with a small receive buffer, for a client that
    /// stops reading: the server's writes back up after a few KiB, not megabytes.
    pub async fn open_with_receive_buffer(url: &str, bytes: u32) -> WsClient {
        let request = url.into_client_request().expect("a ws:// URL");
        let host = request.uri().host().expect("a host").to_owned();
        let port = request.uri().port_u16().expect("a port");
        let addr = tokio::net::lookup_host((host.as_str(), port))
            .await
            .expect("the host resolves")
            .next()
            .expect("an address");
        let socket = tokio::net::TcpSocket::new_v4().expect("a TCP socket");
        socket.set_recv_buffer_size(bytes).expect("SO_RCVBUF");
        let stream = socket.connect(addr).await.expect("the server accepts TCP");
        let (socket, _) = tokio_tungstenite::client_async(request, MaybeTlsStream::Plain(stream))
            .await
            .expect("the WebSocket upgrade succeeds");
        Self::from_socket(socket)
    }

    async fn open_request(
        request: tokio_tungstenite::tungstenite::handshake::client::Request,
    ) -> WsClient {
        let (socket, _) = connect_async(request)
            .await
            .expect("the WebSocket upgrade succeeds");
        Self::from_socket(socket)
    }

    fn from_socket(socket: Socket) -> WsClient {
        WsClient {
            socket,
            backlog: VecDeque::new(),
            events: Vec::new(),
            cursors: BTreeMap::new(),
            next_ref: 0,
            closed: None,
            transcript: None,
            welcome: None,
        }
    }

    /// Sends `hello` and returns the first reply (`welcome` or `error`).
    pub async fn hello(&mut self, token: &str, cursors: &BTreeMap<String, u64>) -> Value {
        let mut hello = json!({"type": "hello", "token": token});
        if !cursors.is_empty() {
            hello["cursors"] = json!(cursors);
        }
        self.send(&hello).await;
        let reply = self
            .next_matching("welcome or error", |f| {
                f["type"] == "welcome" || f["type"] == "error"
            })
            .await;
        if reply["type"] == "welcome" {
            self.welcome = Some(reply.clone());
        }
        reply
    }

    /// Sends one JSON frame.
    pub async fn send(&mut self, frame: &Value) {
        self.send_message(Message::Text(frame.to_string().into()))
            .await;
    }

    /// Sends raw text (malformed frames).
    pub async fn send_text(&mut self, text: &str) {
        self.send_message(Message::Text(text.to_owned().into()))
            .await;
    }

    /// Sends any WebSocket message; a send on a closed socket is ignored (the test then
    /// looks at how it was closed).
    pub async fn send_message(&mut self, message: Message) {
        let _ = self.socket.send(message).await;
    }

    /// Sends `frame` with a fresh `ref` (unless it has one) and returns the reply
    /// carrying that `ref`; everything else read meanwhile stays in the backlog.
    pub async fn request(&mut self, mut frame: Value) -> Value {
        if frame.get("ref").is_none() {
            self.next_ref += 1;
            frame["ref"] = json!(format!("t{}", self.next_ref));
        }
        let reference = frame["ref"].clone();
        self.send(&frame).await;
        let what = format!("the reply to {}", frame["type"]);
        self.next_matching(&what, |f| f["ref"] == reference).await
    }

    /// Sends a message and returns its `seq` from the `ack`.
    pub async fn say(&mut self, conversation: &str, client_id: &str, body: &str) -> u64 {
        let reply = self
            .request(json!({"type": "send", "conversation": conversation,
                            "client_id": client_id, "body": body}))
            .await;
        assert_eq!(reply["type"], "ack", "send refused: {reply}");
        reply["seq"].as_u64().expect("an ack carries seq")
    }

    /// A round trip (`ping` → `pong`): afterwards everything the server sent before
    /// answering is in the backlog.
    pub async fn sync(&mut self) {
        let pong = self.request(json!({"type": "ping"})).await;
        assert_eq!(pong["type"], "pong", "{pong}");
    }

    /// Takes the first frame (from the backlog, else from the socket) that matches,
    /// waiting up to [`WAIT`]; panics naming `what` otherwise.
    pub async fn next_matching(&mut self, what: &str, matches: impl Fn(&Value) -> bool) -> Value {
        self.next_matching_within(WAIT, what, matches)
            .await
            .unwrap_or_else(|| {
                let seen: Vec<String> = self.backlog.iter().map(Value::to_string).collect();
                panic!(
                    "no {what} within {WAIT:?} (closed: {:?}); backlog: {seen:#?}",
                    self.closed
                )
            })
    }

    /// As [`next_matching`](Self::next_matching) but `None` after `within`.
    pub async fn next_matching_within(
        &mut self,
        within: Duration,
        _what: &str,
        matches: impl Fn(&Value) -> bool,
    ) -> Option<Value> {
        if let Some(i) = self.backlog.iter().position(&matches) {
            return self.backlog.remove(i);
        }
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let frame = self.read(left).await?;
            if matches(&frame) {
                return Some(frame);
            }
            self.backlog.push_back(frame);
        }
    }

    /// The next frame of this `type`.
    pub async fn next_of_type(&mut self, kind: &str) -> Value {
        self.next_matching(&format!("a `{kind}` frame"), |f| f["type"] == kind)
            .await
    }

    /// The next frame at all: the backlog's oldest, else one read within `within`.
    pub async fn try_next(&mut self, within: Duration) -> Option<Value> {
        if let Some(frame) = self.backlog.pop_front() {
            return Some(frame);
        }
        self.read(within).await
    }

    /// Reads until this conversation's cursor reaches `seq`.
    pub async fn wait_for_seq(&mut self, conversation: &str, seq: u64) {
        let deadline = Instant::now() + WAIT;
        while self.cursors.get(conversation).copied().unwrap_or(0) < seq {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.read(left).await {
                Some(frame) => self.backlog.push_back(frame),
                None => panic!(
                    "seq {seq} of {conversation} did not arrive within {WAIT:?} (cursor {:?}, closed {:?})",
                    self.cursors.get(conversation),
                    self.closed
                ),
            }
        }
    }

    /// Frames read but not taken yet.
    pub fn backlog(&self) -> impl Iterator<Item = &Value> {
        self.backlog.iter()
    }

    /// Empties the backlog and returns what was in it.
    pub fn drain_backlog(&mut self) -> Vec<Value> {
        self.backlog.drain(..).collect()
    }

    /// Every timeline event received so far, in arrival order (duplicates included).
    pub fn events(&self) -> &[Value] {
        &self.events
    }

    /// The highest `seq` received per conversation (what a resume would send).
    pub fn cursors(&self) -> &BTreeMap<String, u64> {
        &self.cursors
    }

    /// How the connection ended, if it has.
    pub fn closed(&self) -> Option<&Closed> {
        self.closed.as_ref()
    }

    /// Reads until the server closes, and asserts the close code.
    pub async fn expect_close(&mut self, code: u16) -> Closed {
        let closed = self.wait_closed(WAIT).await;
        assert_eq!(closed.code, Some(code), "closed with {closed:?}");
        closed
    }

    /// Reads (keeping frames in the backlog) until the connection ends.
    pub async fn wait_closed(&mut self, within: Duration) -> Closed {
        let deadline = Instant::now() + within;
        while self.closed.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "the server did not close within {within:?}"
            );
            if let Some(frame) = self.read(left).await {
                self.backlog.push_back(frame);
            }
        }
        self.closed.clone().expect("closed")
    }

    /// Closes from the client side (a clean 1000).
    pub async fn close(mut self) {
        let _ = self.socket.close(None).await;
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            while let Some(Ok(_)) = self.socket.next().await {}
        })
        .await;
    }

    /// Drops the TCP connection without a close handshake (a phone losing signal).
    pub fn drop_connection(self) {
        drop(self);
    }

    /// One JSON frame from the socket within `within`, recording timeline events.
    async fn read(&mut self, within: Duration) -> Option<Value> {
        if self.closed.is_some() {
            return None;
        }
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let message = match tokio::time::timeout(left, self.socket.next()).await {
                Err(_) => return None,
                Ok(None) | Ok(Some(Err(_))) => {
                    self.closed.get_or_insert(Closed {
                        code: None,
                        reason: String::new(),
                    });
                    return None;
                }
                Ok(Some(Ok(message))) => message,
            };
            match message {
                Message::Text(text) => {
                    let frame: Value = serde_json::from_str(text.as_str())
                        .unwrap_or_else(|e| panic!("the server sent invalid JSON ({e}): {text}"));
                    crate::contract::check_frame(&frame);
                    self.record(&frame);
                    return Some(frame);
                }
                Message::Close(close) => {
                    self.closed = Some(Closed {
                        code: close.as_ref().map(|c| u16::from(c.code)),
                        reason: close.map(|c| c.reason.to_string()).unwrap_or_default(),
                    });
                    return None;
                }
                Message::Binary(_) => panic!("the server sent a binary frame"),
                _ => {}
            }
        }
    }

    fn record(&mut self, frame: &Value) {
        if let Some(transcript) = &mut self.transcript {
            transcript.push(frame.clone());
        }
        let kind = frame["type"].as_str().unwrap_or("");
        if !TIMELINE.contains(&kind) {
            return;
        }
        let (Some(conversation), Some(seq)) =
            (frame["conversation"].as_str(), frame["seq"].as_u64())
        else {
            return;
        };
        self.events.push(frame.clone());
        let cursor = self.cursors.entry(conversation.to_owned()).or_default();
        *cursor = (*cursor).max(seq);
    }
}
