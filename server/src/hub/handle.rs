//! One live connection as the rest of the hub sees it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use bytes::Bytes;
use tokio::sync::mpsc::{self, error::TrySendError};
use tokio_util::sync::CancellationToken;

use crate::ids::{AccountId, ConversationId, Seq};
use crate::mentoring::MemberCtx;
use crate::protocol::close;

/// A timeline event shared by every recipient: serialised once per fan-out.
#[derive(Debug)]
pub struct SharedEvent {
    pub conversation: ConversationId,
    pub seq: Seq,
    /// The earlier message an edit or deletion changes.
    pub target: Option<Seq>,
    pub json: Bytes,
}

/// What a connection's writer task receives. Kept to one pointer (16 bytes with the
/// tag): every connection's queue allocates a block of 32 of these up front, idle or
/// not, so a `Bytes` (32) inline would double it.
#[derive(Debug)]
pub enum Outbound {
    Event(Arc<SharedEvent>),
    Frame(Box<Bytes>),
    /// Re-read this membership; subscribe and catch up from the seq if readable.
    Refresh(Box<(ConversationId, Seq)>),
    /// Stop receiving this conversation.
    Drop(Box<ConversationId>),
    /// The bus may have lost deliveries: catch up every conversation from the store.
    Resync,
    /// This conversation's committed head passed what the bus delivered: catch it up
    /// from the store.
    CatchUp(Box<ConversationId>),
}

const _: () = assert!(std::mem::size_of::<Outbound>() <= 16);

impl Outbound {
    pub fn frame(json: impl Into<Bytes>) -> Self {
        Outbound::Frame(Box::new(json.into()))
    }
}

pub struct ConnHandle {
    pub id: u64,
    pub account: AccountId,
    queue: mpsc::Sender<Outbound>,
    /// Cancelled when the connection must end; `reason` says how to close it.
    pub closing: CancellationToken,
    reason: OnceLock<(u16, &'static str)>,
    /// The connection's membership cache, read by the reader on every request and
    /// updated by the writer when memberships change. A `std` mutex: never held
    /// across an `.await`. A `Vec`, not a map: a connection is in a handful of
    /// conversations, and a map's spare buckets cost every idle connection ~0.6 KB.
    contexts: Mutex<Vec<MemberCtx>>,
    /// Conversations this connection is subscribed to in the hub's index.
    pub(super) subscribed: Mutex<Vec<ConversationId>>,
    pub read_receipts: AtomicBool,
    /// The client said it is away (presence).
    away: AtomicBool,
}

impl ConnHandle {
    pub fn new(
        id: u64,
        account: AccountId,
        queue: mpsc::Sender<Outbound>,
        read_receipts: bool,
    ) -> Self {
        ConnHandle {
            id,
            account,
            queue,
            closing: CancellationToken::new(),
            reason: OnceLock::new(),
            contexts: Mutex::new(Vec::new()),
            subscribed: Mutex::new(Vec::new()),
            read_receipts: AtomicBool::new(read_receipts),
            away: AtomicBool::new(false),
        }
    }

    /// Queues without waiting. A full queue means the client is not reading fast
    /// enough: rather than buffer without bound (or stall the sender's fan-out), the
    /// connection is closed with `SLOW_CONSUMER` and the client resumes from its
    /// last seq — nothing is lost, because the store has everything.
    pub fn push(&self, item: Outbound) {
        match self.queue.try_send(item) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                if self.close(close::SLOW_CONSUMER, "slow consumer: reconnect and resume") {
                    metrics::counter!("mentorhub_slow_consumer_closes_total").increment(1);
                }
            }
            Err(TrySendError::Closed(_)) => {}
        }
    }

    /// Asks the connection to close with `code`. The first reason wins. Returns
    /// whether this call set it.
    pub fn close(&self, code: u16, reason: &'static str) -> bool {
        let set = self.reason.set((code, reason)).is_ok();
        self.closing.cancel();
        set
    }

    pub fn close_reason(&self) -> Option<(u16, &'static str)> {
        self.reason.get().copied()
    }

    pub fn context(&self, conversation: &str) -> Option<MemberCtx> {
        let contexts = self.contexts.lock().unwrap_or_else(PoisonError::into_inner);
        contexts
            .iter()
            .find(|ctx| ctx.conversation.as_str() == conversation)
            .cloned()
    }

    pub fn set_context(&self, ctx: MemberCtx) {
        let mut contexts = self.contexts.lock().unwrap_or_else(PoisonError::into_inner);
        match contexts
            .iter_mut()
            .find(|known| known.conversation == ctx.conversation)
        {
            Some(known) => *known = ctx,
            None => contexts.push(ctx),
        }
    }

    pub fn remove_context(&self, conversation: &ConversationId) {
        let mut contexts = self.contexts.lock().unwrap_or_else(PoisonError::into_inner);
        contexts.retain(|ctx| &ctx.conversation != conversation);
    }

    pub fn set_away(&self, away: bool) {
        self.away.store(away, Ordering::Relaxed);
    }

    pub fn is_away(&self) -> bool {
        self.away.load(Ordering::Relaxed)
    }

    pub fn share_receipts(&self) -> bool {
        self.read_receipts.load(Ordering::Relaxed)
    }
}

impl crate::signalling::DeviceLink for ConnHandle {
    fn id(&self) -> u64 {
        self.id
    }

    fn account(&self) -> &AccountId {
        &self.account
    }

    fn send(&self, frame: &crate::protocol::ServerFrame) {
        self.push(Outbound::frame(frame.to_json()));
    }
}
