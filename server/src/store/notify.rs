//! Storage for notifications: push subscriptions, preferences, and the durable outbox
//! that every node claims from with a lease.
//!
//! [`NotifyStore`] is a supertrait of [`super::Store`]. The rules (who is told what,
//! when) are the `notify` module's; here are only the conditional writes that make a
//! notification go out once: a claim takes a lease, and every later change holds only
//! while the lease is the caller's.

use async_trait::async_trait;

use super::{StoreResult, WriteError};
use crate::ids::{AccountId, ConversationId, Millis, NotificationId, PushSubscriptionId, Seq};
use crate::protocol::notify::{NotificationKind, NotificationPreferences};

/// A device's subscription as stored. Its endpoint and keys are secrets: never logged.
#[derive(Clone)]
pub struct PushSubscriptionRecord {
    pub id: PushSubscriptionId,
    pub account: AccountId,
    pub endpoint: String,
    pub p256dh: String,
    pub auth: String,
    pub created_at: Millis,
}

impl std::fmt::Debug for PushSubscriptionRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushSubscriptionRecord")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// The outcome of saving a subscription: its id, and whether it is new.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SavedSubscription {
    pub id: PushSubscriptionId,
    pub created: bool,
}

/// One notification to enqueue. `source` names its cause; one per account and source.
#[derive(Clone, Debug)]
pub struct NewNotification {
    pub id: NotificationId,
    pub account: AccountId,
    pub kind: NotificationKind,
    pub conversation: Option<ConversationId>,
    pub count: u64,
    pub source: String,
    pub now: Millis,
}

/// A conversation with messages the account has not read, nor been told about, older
/// than the idle time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnnotifiedMessages {
    pub account: AccountId,
    pub conversation: ConversationId,
    /// Top-level messages.
    pub messages: u64,
    /// Thread replies.
    pub replies: u64,
    /// The newest of them: the cursor moves here.
    pub last_seq: Seq,
    /// Where the cursor was when this was read (0: never moved).
    pub cursor: Seq,
}

/// A notification claimed by one node, until `lease_until`.
#[derive(Clone, Debug)]
pub struct ClaimedNotification {
    pub id: NotificationId,
    pub account: AccountId,
    pub kind: NotificationKind,
    pub conversation: Option<ConversationId>,
    pub count: u64,
    /// Claims so far, this one included.
    pub attempts: u32,
    pub created_at: Millis,
}

/// How a claimed notification ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutboxEnd {
    Sent,
    Skipped,
    Failed,
}

impl OutboxEnd {
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxEnd::Sent => "sent",
            OutboxEnd::Skipped => "skipped",
            OutboxEnd::Failed => "failed",
        }
    }
}

#[async_trait]
pub trait NotifyStore: Send + Sync {
    // ---- subscriptions ---------------------------------------------------------

    /// Saves a device's subscription: the same endpoint again keeps its id and takes
    /// the new keys. At most `max_per_account` per account (`LimitReached`).
    async fn save_push_subscription(
        &self,
        record: &PushSubscriptionRecord,
        max_per_account: u32,
    ) -> Result<SavedSubscription, WriteError>;
    /// Deletes one of the account's subscriptions; `false` if it has none by that id.
    async fn delete_push_subscription(
        &self,
        account: &AccountId,
        id: &PushSubscriptionId,
    ) -> StoreResult<bool>;
    /// Removes a subscription its push service called gone.
    async fn remove_push_subscription(&self, id: &PushSubscriptionId) -> StoreResult<()>;
    async fn push_subscriptions(
        &self,
        account: &AccountId,
    ) -> StoreResult<Vec<PushSubscriptionRecord>>;

    // ---- preferences -------------------------------------------------------------

    /// The account's choices; `None` until it saved some.
    async fn notification_preferences(
        &self,
        account: &AccountId,
    ) -> StoreResult<Option<NotificationPreferences>>;
    /// Replaces the account's choices (validated by the caller).
    async fn save_notification_preferences(
        &self,
        account: &AccountId,
        preferences: &NotificationPreferences,
        now: Millis,
    ) -> StoreResult<()>;

    // ---- the outbox ----------------------------------------------------------------

    /// Enqueues one notification, due now; `false` if its source was enqueued before.
    async fn enqueue_notification(&self, new: &NewNotification) -> StoreResult<bool>;
    /// Conversations of subscribed accounts with messages unread and not yet notified,
    /// sent no later than `sent_before` and no earlier than `sent_after`.
    async fn unnotified_messages(
        &self,
        sent_before: Millis,
        sent_after: Millis,
        limit: u32,
    ) -> StoreResult<Vec<UnnotifiedMessages>>;
    /// Moves the account's cursor in the conversation from `found.cursor` to
    /// `found.last_seq` and enqueues `new` in the same transaction — only if the cursor
    /// was still where it was read, so two nodes never enqueue the same messages.
    async fn enqueue_messages_notification(
        &self,
        found: &UnnotifiedMessages,
        new: &NewNotification,
    ) -> StoreResult<bool>;
    /// Moves the cursor without notifying (the account was connected, or muted the
    /// kind): those messages are not news any more.
    async fn skip_messages(&self, found: &UnnotifiedMessages) -> StoreResult<bool>;
    /// Claims up to `limit` due notifications for `owner` until `lease_until`: pending,
    /// due by `now`, and unleased or with a lease that ran out. No two callers get the
    /// same row while its lease runs.
    async fn claim_notifications(
        &self,
        owner: &str,
        now: Millis,
        lease_until: Millis,
        limit: u32,
    ) -> StoreResult<Vec<ClaimedNotification>>;
    /// Extends `owner`'s lease; `false` if it is no longer `owner`'s (it ran out and
    /// another node claimed the row, or the row is done).
    async fn renew_notification_lease(
        &self,
        id: &NotificationId,
        owner: &str,
        lease_until: Millis,
    ) -> StoreResult<bool>;
    /// Subscriptions this notification already reached.
    async fn delivered_subscriptions(
        &self,
        id: &NotificationId,
    ) -> StoreResult<Vec<PushSubscriptionId>>;
    async fn record_push_delivery(
        &self,
        id: &NotificationId,
        subscription: &PushSubscriptionId,
    ) -> StoreResult<()>;
    /// Ends a claimed notification, only while `owner` holds its lease.
    async fn finish_notification(
        &self,
        id: &NotificationId,
        owner: &str,
        end: OutboxEnd,
        now: Millis,
    ) -> StoreResult<bool>;
    /// Gives a claimed notification back, due again at `due_at` (a retry's backoff, or
    /// the end of quiet hours); `undo_attempt` when this claim was no attempt to send.
    async fn release_notification(
        &self,
        id: &NotificationId,
        owner: &str,
        due_at: Millis,
        undo_attempt: bool,
    ) -> StoreResult<bool>;
    /// Notifications sent to the account since `since` (for the daily cap).
    async fn notifications_sent_since(
        &self,
        account: &AccountId,
        since: Millis,
    ) -> StoreResult<u32>;
    /// Deletes finished notifications that ended before `before`.
    async fn prune_notifications(&self, before: Millis) -> StoreResult<u64>;
}
