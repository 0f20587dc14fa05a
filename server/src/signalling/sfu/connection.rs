//! One WebSocket connection to one Janus instance, speaking `janus-protocol`.
//!
//! Requests carry a random transaction id; a reader task matches each answer to the
//! request waiting for it and routes every other message to the handle it concerns
//! (`sender`). Every request has a deadline ([`Connection::timeout`]): Janus not
//! answering is a failure like any other, never a hang. When the socket closes — Janus
//! died, was restarted, or the keep-alive went unanswered — every waiting request fails
//! and every handle's event channel closes, which is how the rest of the module learns
//! that the instance is gone (Janus destroys a session when its transport goes).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use rand::Rng;
use rand::distr::Alphanumeric;
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_util::sync::CancellationToken;

use super::wire::{self, Incoming, Jsep, Kind, Request, Verb};
use crate::config::Secret;

/// Queued requests per connection; a full queue means Janus is not keeping up.
const OUTGOING_QUEUE: usize = 256;
/// Events queued per handle before the handle is considered stuck.
pub const HANDLE_EVENTS: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum JanusError {
    #[error("could not connect to the SFU: {0}")]
    Connect(String),
    #[error("the SFU connection is closed")]
    Closed,
    #[error("the SFU did not answer within {0:?}")]
    Timeout(Duration),
    #[error("the SFU refused the request ({code}: {reason})")]
    Refused { code: i64, reason: String },
    #[error("the SFU sent an unexpected answer: {0}")]
    Unexpected(&'static str),
}

struct Pending {
    answer: oneshot::Sender<Incoming>,
    ack_is_final: bool,
}

#[derive(Default)]
struct Routes {
    pending: HashMap<String, Pending>,
    handles: HashMap<u64, mpsc::Sender<Incoming>>,
}

/// A live connection. Cheap to share; closes when dropped by everyone or on error.
pub struct Connection {
    outgoing: mpsc::Sender<Message>,
    /// A `std` mutex: held only to insert or take a route, never across an `.await`.
    routes: Arc<Mutex<Routes>>,
    closed: CancellationToken,
    secret: Secret,
    timeout: Duration,
}

impl Connection {
    /// Connects to `url` (`ws://host:port`). Nothing is sent yet.
    pub async fn open(
        url: &str,
        secret: Secret,
        timeout: Duration,
    ) -> Result<Arc<Connection>, JanusError> {
        let mut request = url
            .into_client_request()
            .map_err(|e| JanusError::Connect(e.to_string()))?;
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_static(wire::SUBPROTOCOL),
        );
        let config = WebSocketConfig::default()
            .max_message_size(Some(wire::MAX_MESSAGE_BYTES))
            .max_frame_size(Some(wire::MAX_MESSAGE_BYTES));
        let connect = tokio_tungstenite::connect_async_with_config(request, Some(config), true);
        let (socket, _) = tokio::time::timeout(timeout, connect)
            .await
            .map_err(|_| JanusError::Timeout(timeout))?
            .map_err(|e| JanusError::Connect(e.to_string()))?;
        let (mut sink, mut stream) = socket.split();
        let (outgoing, mut queued) = mpsc::channel::<Message>(OUTGOING_QUEUE);
        let routes = Arc::new(Mutex::new(Routes::default()));
        let closed = CancellationToken::new();

        let writer_closed = closed.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = writer_closed.cancelled() => break,
                    message = queued.recv() => {
                        let Some(message) = message else { break };
                        if sink.send(message).await.is_err() {
                            break;
                        }
                    }
                }
            }
            let _ = sink.close().await;
            writer_closed.cancel();
        });

        let (reader_routes, reader_closed) = (routes.clone(), closed.clone());
        tokio::spawn(async move {
            loop {
                let message = tokio::select! {
                    _ = reader_closed.cancelled() => break,
                    message = stream.next() => message,
                };
                match message {
                    Some(Ok(Message::Text(text))) => route(&reader_routes, text.as_str()),
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                    Some(Ok(_)) => {} // pings are answered by tungstenite; binary is not Janus
                }
            }
            reader_closed.cancel();
            // Dropping the senders fails every waiting request and closes every handle's
            // event channel.
            let mut routes = reader_routes.lock().unwrap_or_else(|p| p.into_inner());
            routes.pending.clear();
            routes.handles.clear();
        });

        Ok(Arc::new(Connection {
            outgoing,
            routes,
            closed,
            secret,
            timeout,
        }))
    }

    pub fn is_closed(&self) -> bool {
        self.closed.is_cancelled()
    }

    /// Resolves when the connection has closed.
    pub async fn closed(&self) {
        self.closed.cancelled().await;
    }

    pub fn close(&self) {
        self.closed.cancel();
    }

    /// Events for `handle` go to the returned channel until it is dropped or the
    /// connection closes.
    pub fn route_handle(&self, handle: u64) -> mpsc::Receiver<Incoming> {
        let (sender, receiver) = mpsc::channel(HANDLE_EVENTS);
        if !self.is_closed() {
            self.lock().handles.insert(handle, sender);
        }
        receiver
    }

    pub fn forget_handle(&self, handle: u64) {
        self.lock().handles.remove(&handle);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Routes> {
        self.routes.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sends one request and waits for its final answer: `success`, an `event` for a
    /// plugin message, or an `ack` for trickle and keep-alive. `error` is
    /// [`JanusError::Refused`].
    pub async fn call(&self, call: Call<'_>) -> Result<Incoming, JanusError> {
        if self.is_closed() {
            return Err(JanusError::Closed);
        }
        let transaction = random_token();
        let opaque_id = (call.verb == Verb::Attach).then(random_token);
        let request = Request {
            janus: call.verb.as_str(),
            transaction: &transaction,
            apisecret: std::str::from_utf8(self.secret.expose()).unwrap_or_default(),
            session_id: call.session,
            handle_id: call.handle,
            plugin: (call.verb == Verb::Attach).then_some(wire::VIDEOROOM),
            opaque_id: opaque_id.as_deref(),
            body: call.body,
            jsep: call.jsep,
            candidate: call.candidate,
        };
        let text = serde_json::to_string(&request).map_err(|_| JanusError::Unexpected("json"))?;
        let (answer, answered) = oneshot::channel();
        self.lock().pending.insert(
            transaction.clone(),
            Pending {
                answer,
                ack_is_final: call.verb.ack_is_final(),
            },
        );
        if self.outgoing.try_send(Message::text(text)).is_err() {
            self.lock().pending.remove(&transaction);
            return Err(JanusError::Closed);
        }
        let outcome = tokio::time::timeout(self.timeout, answered).await;
        self.lock().pending.remove(&transaction);
        let message = match outcome {
            Err(_) => {
                metrics::counter!("mentorhub_sfu_request_timeouts_total").increment(1);
                return Err(JanusError::Timeout(self.timeout));
            }
            Ok(Err(_)) => return Err(JanusError::Closed),
            Ok(Ok(message)) => message,
        };
        if message.janus == Kind::Error {
            let error = message.error.unwrap_or(wire::ApiError {
                code: 0,
                reason: String::new(),
            });
            return Err(JanusError::Refused {
                code: error.code,
                reason: wire::bounded(Some(&Value::from(error.reason))).unwrap_or_default(),
            });
        }
        Ok(message)
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.closed.cancel();
    }
}

/// The parts of one request.
#[derive(Clone, Copy)]
pub struct Call<'a> {
    pub verb: Verb,
    pub session: Option<u64>,
    pub handle: Option<u64>,
    pub body: Option<&'a Value>,
    pub jsep: Option<&'a Jsep>,
    pub candidate: Option<&'a Value>,
}

impl<'a> Call<'a> {
    pub fn new(verb: Verb) -> Self {
        Call {
            verb,
            session: None,
            handle: None,
            body: None,
            jsep: None,
            candidate: None,
        }
    }
}

fn random_token() -> String {
    rand::rng()
        .sample_iter(Alphanumeric)
        .take(16)
        .map(char::from)
        .collect()
}

/// Hands one incoming message to whoever waits for it.
fn route(routes: &Mutex<Routes>, text: &str) {
    let Some(message) = Incoming::decode(text) else {
        metrics::counter!("mentorhub_sfu_bad_messages_total").increment(1);
        return;
    };
    let mut routes = routes.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(transaction) = &message.transaction
        && let Some(pending) = routes.pending.get(transaction)
    {
        // An `ack` only says "working on it" for plugin messages: keep waiting.
        if message.janus == Kind::Ack && !pending.ack_is_final {
            return;
        }
        if let Some(pending) = routes.pending.remove(transaction) {
            let _ = pending.answer.send(message);
        }
        return;
    }
    let Some(handle) = message.sender else {
        return; // session-level news (e.g. `timeout`) closes the session's requests anyway
    };
    if let Some(events) = routes.handles.get(&handle)
        && events.try_send(message).is_err()
    {
        // A handle that stopped reading its events is being torn down.
        metrics::counter!("mentorhub_sfu_dropped_events_total").increment(1);
    }
}
