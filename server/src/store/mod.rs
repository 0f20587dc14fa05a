//! Durable state: the [`Store`] trait and its SQL implementations.
//!
//! The store is the source of truth. A message is acknowledged only after the store
//! commits it; the bus is a fast path that may drop things, so every reader can always
//! re-read what it missed from here. Message bodies reach the store already sealed
//! ([`crate::crypto::Sealed`]): the store never sees plaintext.
//!
//! Two engines, one SQL text: [`sql::SqlStore`] is generic over the sqlx driver and
//! implemented for SQLite (embedded default) and PostgreSQL (several nodes).

mod digest;
mod mentoring;
mod notify;
mod records;
mod safety;
pub mod sql;

use async_trait::async_trait;

pub use digest::*;
pub use mentoring::*;
pub use notify::*;
pub use records::*;
pub use safety::*;

use crate::auth::Role;
use crate::ids::{AccountId, CallId, ConversationId, MemberId, Millis, RelationshipId, Seq};
use crate::protocol::server::Settings;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage backend unavailable: {0}")]
    Unavailable(String),
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    #[error("migration failed: {0}")]
    Migration(String),
}

/// Why a write the domain layer asked for was refused by the store's own checks (done
/// inside the committing transaction, so they hold under concurrency).
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("conversation does not accept writes")]
    ConversationClosed,
    #[error("target event not found")]
    TargetNotFound,
    #[error("target is not the sender's own message")]
    NotOwnMessage,
    #[error("state changed concurrently")]
    Conflict,
    #[error("display name already used")]
    NameTaken,
    #[error("the mentor has no free place")]
    CapacityReached,
    #[error("the room is full")]
    RoomFull,
    #[error("a cap on a count is reached")]
    LimitReached,
    #[error("the sender is not a current member")]
    NotMember,
    #[error("the sender is muted")]
    Muted,
    #[error("the sender has not accepted the agreement")]
    AgreementRequired,
    /// The domain's rule, applied to what the transaction read, refused the change.
    #[error("{0}")]
    Refused(crate::error::Refusal),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Runs on the store's writer task right after an append's transaction commits, in
/// commit order — which is seq order within a conversation. Publishing from here keeps
/// live delivery in seq order, so receivers almost never see a gap they would have to
/// fill from the store. Must be quick and must not block. Not called for duplicates.
pub type CommitHook = Box<dyn FnOnce(&Appended) + Send + 'static>;

/// A queued append's committed outcome (see [`Store::queue_append`]).
pub type PendingAppend =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<Appended, WriteError>> + Send>>;

/// Store saturation: connections per pool and writes queued for the writer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoreUsage {
    pub pools: Vec<PoolUsage>,
    pub writes_waiting: usize,
}

/// One connection pool: `read` and `write` on SQLite, `shared` on PostgreSQL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolUsage {
    pub pool: &'static str,
    pub in_use: u32,
    pub size: u32,
}

#[async_trait]
pub trait Store:
    MentoringStore + SafetyStore + NotifyStore + DigestStore + Send + Sync + 'static
{
    /// Cheap round trip for `/readyz`.
    async fn ping(&self) -> StoreResult<()>;

    /// Flushes and releases resources at shutdown (SQLite: checkpoints the WAL).
    async fn close(&self) -> StoreResult<()> {
        Ok(())
    }

    /// How busy the store's connections are, read at each `/metrics` scrape.
    fn usage(&self) -> StoreUsage {
        StoreUsage::default()
    }

    // ---- accounts -------------------------------------------------------------

    /// Records (or refreshes) an account seen in a verified token.
    async fn upsert_account(
        &self,
        id: &AccountId,
        name: &str,
        roles: &[Role],
        now: Millis,
    ) -> StoreResult<AccountRecord>;
    async fn account(&self, id: &AccountId) -> StoreResult<Option<AccountRecord>>;
    async fn update_settings(&self, id: &AccountId, settings: &Settings) -> StoreResult<()>;

    // ---- conversations and members -------------------------------------------

    /// Conversations the account is a current member of (not left), with its membership.
    async fn memberships(&self, account: &AccountId) -> StoreResult<Vec<Membership>>;
    /// The account's current membership of one conversation.
    async fn membership(
        &self,
        conversation: &ConversationId,
        account: &AccountId,
    ) -> StoreResult<Option<Membership>>;
    /// Every member (including those who left) of a conversation.
    async fn members(&self, conversation: &ConversationId) -> StoreResult<Vec<MemberRecord>>;
    /// Unread counts for one member: top-level messages after its read marker and, per
    /// thread, replies after that thread's marker. Own messages never count, nor what
    /// `hidden` members (blocked by the reader) sent since the block.
    async fn unread(
        &self,
        membership: &MemberRecord,
        hidden: &[HiddenSender],
    ) -> StoreResult<UnreadCounts>;

    // ---- the timeline ----------------------------------------------------------

    /// Appends one event, idempotently on `(conversation, sender, client_id)`. Goes
    /// through the group-commit writer: many appends share one transaction and fsync.
    async fn append(
        &self,
        request: AppendRequest,
        on_commit: Option<CommitHook>,
    ) -> Result<Appended, WriteError>;
    /// Like [`Store::append`], but returns as soon as the append is queued for the
    /// group-commit writer (in call order, so one caller's appends commit in the order
    /// it queued them), with a future for the committed outcome. Lets one connection
    /// keep several sends in flight instead of one per commit.
    async fn queue_append(
        &self,
        request: AppendRequest,
        on_commit: Option<CommitHook>,
    ) -> Result<PendingAppend, WriteError> {
        let outcome = self.append(request, on_commit).await;
        Ok(Box::pin(std::future::ready(outcome)))
    }
    /// Moves a member's read marker forward (never back). Returns whether it moved.
    async fn mark_read(&self, marker: ReadMarker) -> Result<bool, WriteError>;
    /// A page of events, oldest first, within the query's bounds.
    async fn events(&self, query: &EventQuery) -> StoreResult<Vec<StoredEvent>>;
    /// One event by seq.
    async fn event(
        &self,
        conversation: &ConversationId,
        seq: Seq,
    ) -> StoreResult<Option<StoredEvent>>;
    /// Threads with roots from `visible_from` on, counting replies as the reader sees
    /// them (leaving out what `hidden` senders wrote since they were blocked).
    async fn threads(
        &self,
        conversation: &ConversationId,
        visible_from: Seq,
        hidden: &[HiddenSender],
    ) -> StoreResult<Vec<ThreadRecord>>;
    /// The committed head (`last_seq`) of each of these conversations that exists, in
    /// no particular order. Cheap (primary-key lookups): the bus's delivery check reads
    /// it every second for every conversation a node follows.
    async fn heads(
        &self,
        conversations: &[ConversationId],
    ) -> StoreResult<Vec<(ConversationId, Seq)>>;

    // ---- relationships ---------------------------------------------------------

    /// Creates a relationship with its (pending) conversation and members, atomically.
    /// With `may_wait`, each mentor party's requests already waiting are counted under
    /// the mentor's row lock and `may_wait` decides whether one more fits.
    async fn create_relationship(
        &self,
        new: NewRelationship,
        may_wait: Option<&DecideCount<'_>>,
    ) -> Result<(), WriteError>;
    async fn relationship(&self, id: &RelationshipId) -> StoreResult<Option<RelationshipRecord>>;
    /// Relationships the account is a party to (or coordinates), newest first.
    async fn relationships_of(&self, account: &AccountId) -> StoreResult<Vec<RelationshipRecord>>;
    /// The relationship that owns a conversation, if any.
    async fn relationship_of_conversation(
        &self,
        conversation: &ConversationId,
    ) -> StoreResult<Option<RelationshipId>>;
    /// Active mentees of a mentor (for capacity).
    async fn active_mentee_count(&self, mentor: &AccountId) -> StoreResult<u64>;

    // ---- calls (metadata only) ------------------------------------------------

    /// Records a call as it starts (`ended_at` and `end_reason` unset).
    async fn record_call_start(&self, call: &CallRecord) -> StoreResult<()>;
    /// Records how a call ended: answer and end times, participants, reason.
    async fn record_call_end(&self, call: &CallRecord) -> StoreResult<()>;
    async fn call_record(&self, id: &CallId) -> StoreResult<Option<CallRecord>>;

    /// Member ids of `account`'s own memberships, for building views.
    async fn member_id(
        &self,
        conversation: &ConversationId,
        account: &AccountId,
    ) -> StoreResult<Option<MemberId>> {
        Ok(self
            .membership(conversation, account)
            .await?
            .map(|m| m.member.member))
    }
}
