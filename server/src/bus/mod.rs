//! Delivery between nodes: the [`Bus`] trait.
//!
//! The bus is a fast path and never the source of truth: Redis pub/sub is
//! at-most-once, so after any bus outage a node re-reads from the store what its
//! local members may have missed (see [`BusSink::resync`]). Timeline events carry
//! their seq so every connection can drop duplicates and fill gaps.

pub mod codec;
pub mod memory;
pub mod redis;
pub mod state;

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;

use crate::ids::{AccountId, ConversationId, MemberId, Seq};

pub use state::{MemoryState, PresenceStatus, SharedState, StateError};

/// Where an envelope goes: everyone subscribed to a conversation, or all of one
/// account's connections.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Topic {
    Conversation(ConversationId),
    Account(AccountId),
}

/// Which subscribers of a conversation topic receive an envelope.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Audience {
    /// Every member allowed to see content.
    Members,
    /// Every such member except these (e.g. blockers of the sender, the typist).
    Except(Vec<MemberId>),
    /// Only these members.
    Only(Vec<MemberId>),
    /// One connection of one node (a call signal meant for one device).
    Device { node: String, conn: u64 },
}

impl Audience {
    pub fn includes(&self, member: &MemberId) -> bool {
        match self {
            Audience::Members => true,
            Audience::Except(excluded) => !excluded.contains(member),
            Audience::Only(included) => included.contains(member),
            Audience::Device { .. } => false,
        }
    }

    /// Whether connection `conn` of node `node`, held by `member`, gets the envelope.
    pub fn reaches(&self, member: &MemberId, node: &str, conn: u64) -> bool {
        match self {
            Audience::Device { node: n, conn: c } => n == node && *c == conn,
            _ => self.includes(member),
        }
    }
}

/// Changes to what a node's connections subscribe to, sent on an account topic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Control {
    /// The account's membership of this conversation changed (joined, relationship
    /// accepted, agreement accepted, muted, …): its connections re-read it from the
    /// store, subscribe if they may now read (catching up from `from_seq`) or
    /// unsubscribe if they no longer may.
    Subscribe {
        conversation: ConversationId,
        from_seq: Seq,
    },
    /// The account no longer sees this conversation (left, removed).
    Unsubscribe { conversation: ConversationId },
    /// The account changed its settings.
    Settings { read_receipts: bool },
    /// Close the account's connections with this code (e.g. signed out everywhere).
    Disconnect { code: u16 },
}

#[derive(Clone, Debug)]
pub enum Payload {
    /// A serialized timeline event: delivered in seq order, deduplicated by seq.
    Event {
        seq: Seq,
        /// The earlier message an edit or deletion changes: a reader who may not see
        /// that message must not get the event either.
        target: Option<Seq>,
        json: Bytes,
    },
    /// Any other serialized server frame (acks excluded: those go to one connection).
    Frame {
        json: Bytes,
    },
    Control(Control),
}

#[derive(Clone, Debug)]
pub struct Envelope {
    /// The node that published it (a node ignores its own envelopes coming back).
    pub origin: Arc<str>,
    pub topic: Topic,
    pub audience: Audience,
    pub payload: Payload,
}

/// What receives envelopes: the local hub.
pub trait BusSink: Send + Sync + 'static {
    fn deliver(&self, envelope: &Envelope);
    /// Deliveries may have been lost (reconnect after an outage): every local
    /// connection must re-read its conversations from the store.
    fn resync(&self);
    /// The store holds events of this conversation that the bus did not deliver: its
    /// local readers must catch up from the store.
    fn catch_up(&self, conversation: &ConversationId);
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BusHealth {
    Up,
    Down(String),
}

#[async_trait]
pub trait Bus: Send + Sync + 'static {
    /// Hands the bus its sink; called once before any publish.
    fn attach(&self, sink: Arc<dyn BusSink>);
    /// Delivers locally at once and to other nodes as soon as possible. Never blocks
    /// on the network: a failed remote publish is counted, and peers recover from the
    /// store.
    fn publish(&self, envelope: Envelope);
    /// Reference-counted interest in a topic: the first `subscribe` subscribes the
    /// node, the last `unsubscribe` releases it.
    fn subscribe(&self, topic: &Topic);
    fn unsubscribe(&self, topic: &Topic);
    /// For `/readyz`.
    async fn health(&self) -> BusHealth;
    /// Short name for logs and `/readyz` (`memory`, `redis`, `redis-cluster`).
    fn kind(&self) -> &'static str;
    /// State every node shares (presence, node heartbeats) and that must outlive any
    /// one node.
    fn state(&self) -> Arc<dyn SharedState>;
}
