//! A Janus session on one connection, kept alive, and the plugin handles attached to
//! it. Each Mentorhub node holds one session per Janus instance; every participant
//! leg on the node attaches its handles to it.
//!
//! Janus destroys a session that hears nothing for `session_timeout` (60 s by
//! default) and, with `reclaim_session_timeout = 0` (our configuration), at once when
//! its WebSocket closes — so a node that dies takes its handles, and their media, with
//! it, and the participants rejoin from another node.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::mpsc;

use super::connection::{Call, Connection, JanusError};
use super::wire::{Incoming, Jsep, Kind, Verb};
use crate::config::Secret;

/// Well inside Janus's default 60 s session timeout, and soon enough that a paused
/// instance is noticed within a few seconds of the next request timing out.
const KEEPALIVE_EVERY: Duration = Duration::from_secs(10);

/// A session and the connection it lives on.
pub struct Session {
    conn: Arc<Connection>,
    id: u64,
}

impl Session {
    /// Connects, creates a session and keeps it alive until the connection closes. A
    /// keep-alive that fails closes the connection: the instance stopped answering.
    pub async fn open(
        url: &str,
        secret: Secret,
        timeout: Duration,
    ) -> Result<Arc<Session>, JanusError> {
        let conn = Connection::open(url, secret, timeout).await?;
        let created = conn.call(Call::new(Verb::Create)).await?;
        let id = created
            .data
            .map(|d| d.id)
            .ok_or(JanusError::Unexpected("create without a session id"))?;
        let session = Arc::new(Session { conn, id });
        let alive = Arc::downgrade(&session);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(KEEPALIVE_EVERY).await;
                let Some(session) = alive.upgrade() else {
                    break;
                };
                if session.conn.is_closed() {
                    break;
                }
                let keepalive = Call {
                    session: Some(session.id),
                    ..Call::new(Verb::Keepalive)
                };
                if let Err(error) = session.conn.call(keepalive).await {
                    tracing::warn!(%error, "SFU keep-alive failed: dropping the connection");
                    session.conn.close();
                    break;
                }
            }
        });
        Ok(session)
    }

    pub fn is_closed(&self) -> bool {
        self.conn.is_closed()
    }

    /// Resolves when the session's connection has closed.
    pub async fn closed(&self) {
        self.conn.closed().await;
    }

    pub fn close(&self) {
        self.conn.close();
    }

    /// Attaches a VideoRoom handle; its events arrive on [`Handle::events`].
    pub async fn attach(self: &Arc<Self>) -> Result<Handle, JanusError> {
        let attached = self
            .conn
            .call(Call {
                session: Some(self.id),
                ..Call::new(Verb::Attach)
            })
            .await?;
        let id = attached
            .data
            .map(|d| d.id)
            .ok_or(JanusError::Unexpected("attach without a handle id"))?;
        let events = self.conn.route_handle(id);
        Ok(Handle {
            session: self.clone(),
            id,
            events: Some(events),
        })
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.conn.close();
    }
}

/// What a plugin message came back with.
#[derive(Debug)]
pub struct Answer {
    /// The plugin's `data` object.
    pub data: Value,
    pub jsep: Option<Jsep>,
}

/// One VideoRoom handle. Detached (best effort) when dropped.
pub struct Handle {
    session: Arc<Session>,
    id: u64,
    events: Option<mpsc::Receiver<Incoming>>,
}

impl Handle {
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The handle's asynchronous events (taken once, by whoever runs the handle).
    pub fn take_events(&mut self) -> mpsc::Receiver<Incoming> {
        self.events.take().unwrap_or_else(|| mpsc::channel(1).1)
    }

    /// A VideoRoom request; waits for the plugin's answer (synchronous requests answer
    /// with `success`, asynchronous ones with an `event` after an `ack`).
    pub async fn message(&self, body: &Value, jsep: Option<&Jsep>) -> Result<Answer, JanusError> {
        let answer = self
            .session
            .conn
            .call(Call {
                session: Some(self.session.id),
                handle: Some(self.id),
                body: Some(body),
                jsep,
                ..Call::new(Verb::Message)
            })
            .await?;
        if !matches!(answer.janus, Kind::Success | Kind::Event) {
            return Err(JanusError::Unexpected(
                "a plugin message without plugin data",
            ));
        }
        let data = answer
            .plugindata
            .map(|p| p.data)
            .ok_or(JanusError::Unexpected(
                "a plugin message without plugin data",
            ))?;
        Ok(Answer {
            data,
            jsep: answer.jsep,
        })
    }

    /// Trickles one candidate (`{candidate, sdpMid, sdpMLineIndex}`) or, with
    /// `{"completed": true}`, the end of candidates.
    pub async fn trickle(&self, candidate: &Value) -> Result<(), JanusError> {
        self.session
            .conn
            .call(Call {
                session: Some(self.session.id),
                handle: Some(self.id),
                candidate: Some(candidate),
                ..Call::new(Verb::Trickle)
            })
            .await
            .map(drop)
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        let (session, id) = (self.session.clone(), self.id);
        session.conn.forget_handle(id);
        if session.is_closed() {
            return;
        }
        // Detaching hangs up the handle's PeerConnection and, for a publisher, takes
        // its feed out of the room. Best effort: a closing session detaches everything.
        tokio::spawn(async move {
            let detach = Call {
                session: Some(session.id),
                handle: Some(id),
                ..Call::new(Verb::Detach)
            };
            if let Err(error) = session.conn.call(detach).await {
                tracing::debug!(%error, "detaching an SFU handle");
            }
        });
    }
}
