//! Live connections on this node and fan-out to them.
//!
//! A connection is any [`transport::Transport`] (a stream and a sink of frames): the
//! HTTP layer adapts an upgraded WebSocket, unit tests use channels.
//! Each connection is a reader task (decode, authorise, call the domain) and a writer
//! task (the only one writing to the socket) joined by a bounded queue filled with
//! `try_send` ([`ConnHandle::push`]). The hub keeps two indexes: account → its
//! connections (several devices) and conversation → the local connections allowed to
//! read it. A bus envelope is serialised once by its publisher and handed to every
//! matching connection as shared bytes; nothing in fan-out ever waits on a socket.

mod connection;
mod handle;
mod presence;
mod ratelimit;
mod reader;
#[cfg(test)]
mod tests;
pub mod transport;
mod writer;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use dashmap::DashMap;
use tokio_util::sync::CancellationToken;

pub use connection::serve_socket;
pub use handle::{ConnHandle, Outbound, SharedEvent};

use crate::auth::Verifier;
use crate::bus::{Bus, BusSink, Control, Envelope, Payload, Topic};
use crate::ids::{AccountId, ConversationId, MemberId};
use crate::mentoring::Mentoring;
use crate::signalling::Signalling;

/// WebSocket behaviour, from configuration (its defaults are the configuration's).
#[derive(Clone, Debug)]
pub struct HubSettings {
    pub max_frame_bytes: usize,
    pub ping_interval: Duration,
    pub idle_timeout: Duration,
    pub hello_timeout: Duration,
    pub outbound_queue: usize,
    pub rate_per_sec: f64,
    pub rate_burst: u32,
    pub max_connections: usize,
    /// Most sockets one account may have open on this node.
    pub max_devices_per_account: usize,
    /// Leeway granted past a token's `exp` before the session is closed.
    pub token_leeway: Duration,
    /// Upper bound of the random delay told to clients when the node drains.
    pub drain_jitter: Duration,
}

struct Subscriber {
    member: MemberId,
    conn: Arc<ConnHandle>,
}

pub struct Hub {
    pub(crate) mentoring: Arc<Mentoring>,
    pub(crate) signalling: Arc<Signalling>,
    pub(crate) verifier: Verifier,
    pub(crate) settings: HubSettings,
    pub(crate) bus: Arc<dyn Bus>,
    /// Cancelled when the node drains: every connection is told to reconnect.
    pub(crate) draining: CancellationToken,
    next_id: AtomicU64,
    live: AtomicUsize,
    accounts: DashMap<AccountId, Vec<Arc<ConnHandle>>>,
    conversations: DashMap<ConversationId, Vec<Subscriber>>,
    presence: Arc<presence::PresenceQueue>,
    reaped: tokio::sync::broadcast::Sender<Arc<crate::bus::state::Reaped>>,
}

impl Hub {
    pub fn new(
        mentoring: Arc<Mentoring>,
        signalling: Arc<Signalling>,
        verifier: Verifier,
        settings: HubSettings,
        bus: Arc<dyn Bus>,
    ) -> Arc<Hub> {
        let hub = Arc::new(Hub {
            mentoring,
            signalling,
            verifier,
            settings,
            bus: bus.clone(),
            draining: CancellationToken::new(),
            next_id: AtomicU64::new(1),
            live: AtomicUsize::new(0),
            accounts: DashMap::new(),
            conversations: DashMap::new(),
            presence: Arc::default(),
            reaped: tokio::sync::broadcast::channel(16).0,
        });
        bus.attach(hub.clone());
        presence::start(&hub);
        hub
    }

    pub fn connections(&self) -> usize {
        self.live.load(Ordering::Relaxed)
    }

    pub fn settings(&self) -> &HubSettings {
        &self.settings
    }

    /// Starts draining: every connection gets a `reconnect` frame with a random delay
    /// and is closed with 1001.
    pub fn drain(&self) {
        self.draining.cancel();
    }

    fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Admits a connection if under the connection limit.
    fn admit(&self) -> bool {
        let previous = self.live.fetch_add(1, Ordering::AcqRel);
        if previous >= self.settings.max_connections {
            self.live.fetch_sub(1, Ordering::AcqRel);
            return false;
        }
        metrics::gauge!("mentorhub_connections").set((previous + 1) as f64);
        true
    }

    fn release(&self) {
        let previous = self.live.fetch_sub(1, Ordering::AcqRel);
        metrics::gauge!("mentorhub_connections").set(previous.saturating_sub(1) as f64);
    }

    /// Adds the connection to its account's, unless the account already has its most
    /// devices here (counted under the entry's lock, so simultaneous sign-ins cannot
    /// pass together).
    fn register(&self, conn: &Arc<ConnHandle>) -> bool {
        let mut entry = self.accounts.entry(conn.account.clone()).or_default();
        if entry.len() >= self.settings.max_devices_per_account {
            return false;
        }
        if entry.is_empty() {
            self.bus.subscribe(&Topic::Account(conn.account.clone()));
        }
        entry.push(conn.clone());
        drop(entry);
        self.presence_changed(&conn.account);
        true
    }

    /// Adds a connection to a conversation's readers (idempotent).
    fn subscribe(&self, conn: &Arc<ConnHandle>, conversation: &ConversationId, member: &MemberId) {
        let mut subscribed = conn
            .subscribed
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if subscribed.contains(conversation) {
            return;
        }
        subscribed.push(conversation.clone());
        let mut readers = self.conversations.entry(conversation.clone()).or_default();
        if readers.is_empty() {
            self.bus
                .subscribe(&Topic::Conversation(conversation.clone()));
        }
        readers.push(Subscriber {
            member: member.clone(),
            conn: conn.clone(),
        });
    }

    fn unsubscribe(&self, conn: &ConnHandle, conversation: &ConversationId) {
        conn.subscribed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|c| c != conversation);
        self.remove_reader(conn.id, conversation);
    }

    fn remove_reader(&self, conn_id: u64, conversation: &ConversationId) {
        let now_empty = match self.conversations.get_mut(conversation) {
            Some(mut readers) => {
                readers.retain(|s| s.conn.id != conn_id);
                readers.is_empty()
            }
            None => false,
        };
        if now_empty
            && self
                .conversations
                .remove_if(conversation, |_, readers| readers.is_empty())
                .is_some()
        {
            self.bus
                .unsubscribe(&Topic::Conversation(conversation.clone()));
        }
    }

    fn unregister(&self, conn: &ConnHandle) {
        let conversations = std::mem::take(
            &mut *conn
                .subscribed
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        for conversation in &conversations {
            self.remove_reader(conn.id, conversation);
        }
        let now_empty = match self.accounts.get_mut(&conn.account) {
            Some(mut conns) => {
                conns.retain(|c| c.id != conn.id);
                conns.is_empty()
            }
            None => false,
        };
        if now_empty
            && self
                .accounts
                .remove_if(&conn.account, |_, conns| conns.is_empty())
                .is_some()
        {
            self.bus.unsubscribe(&Topic::Account(conn.account.clone()));
        }
        self.presence_changed(&conn.account);
    }

    fn deliver_to_conversation(&self, conversation: &ConversationId, envelope: &Envelope) {
        let Some(readers) = self.conversations.get(conversation) else {
            return;
        };
        let item = match &envelope.payload {
            Payload::Event { seq, target, json } => Some(Arc::new(SharedEvent {
                conversation: conversation.clone(),
                seq: *seq,
                target: *target,
                json: json.clone(),
            })),
            _ => None,
        };
        let node = self.mentoring.node();
        for reader in readers.iter() {
            if !envelope
                .audience
                .reaches(&reader.member, node, reader.conn.id)
            {
                continue;
            }
            match (&item, &envelope.payload) {
                (Some(event), _) => reader.conn.push(Outbound::Event(event.clone())),
                (None, Payload::Frame { json }) => reader.conn.push(Outbound::frame(json.clone())),
                _ => {}
            }
        }
        metrics::counter!("mentorhub_fanout_envelopes_total").increment(1);
    }

    fn deliver_to_account(&self, account: &AccountId, envelope: &Envelope) {
        let Some(conns) = self.accounts.get(account) else {
            return;
        };
        for conn in conns.iter() {
            match &envelope.payload {
                Payload::Frame { json } => conn.push(Outbound::frame(json.clone())),
                Payload::Event { .. } => {}
                Payload::Control(Control::Subscribe {
                    conversation,
                    from_seq,
                }) => {
                    // The cached standing is stale from now on (a mute, a block, an
                    // agreement): the reader re-reads it from the store until the
                    // writer has refreshed it.
                    conn.remove_context(conversation);
                    conn.push(Outbound::Refresh(Box::new((
                        conversation.clone(),
                        *from_seq,
                    ))))
                }
                Payload::Control(Control::Unsubscribe { conversation }) => {
                    conn.remove_context(conversation);
                    conn.push(Outbound::Drop(Box::new(conversation.clone())))
                }
                Payload::Control(Control::Settings { read_receipts }) => conn
                    .read_receipts
                    .store(*read_receipts, std::sync::atomic::Ordering::Relaxed),
                Payload::Control(Control::Disconnect { code }) => {
                    conn.close(*code, "closed by the server");
                }
            }
        }
    }
}

impl BusSink for Hub {
    fn deliver(&self, envelope: &Envelope) {
        match &envelope.topic {
            Topic::Conversation(conversation) => {
                self.deliver_to_conversation(conversation, envelope)
            }
            Topic::Account(account) => self.deliver_to_account(account, envelope),
        }
    }

    fn resync(&self) {
        for conns in self.accounts.iter() {
            for conn in conns.iter() {
                conn.push(Outbound::Resync);
            }
        }
    }

    fn catch_up(&self, conversation: &ConversationId) {
        if let Some(readers) = self.conversations.get(conversation) {
            for reader in readers.iter() {
                reader
                    .conn
                    .push(Outbound::CatchUp(Box::new(conversation.clone())));
            }
        }
    }
}
