//! What creates notifications.
//!
//! - The domain's events, as they commit: a relationship request, offer or assignment
//!   waiting for an answer, a room invitation, a ringing call, a missed call. Each is
//!   one outbox row per recipient and cause (`source`), written only for accounts that
//!   subscribed a device, so the rest pay nothing.
//! - Messages, derived: sending a message writes nothing extra. A periodic pass reads
//!   which subscribed accounts have messages unread and not yet notified, older than
//!   the idle time, and enqueues one notification per conversation while moving that
//!   account's cursor there in the same transaction (conditional, so two nodes' passes
//!   never both enqueue). An account with a device connected right now is passed over
//!   and its cursor left alone: it sees the unread count in the app, and is told later
//!   only if it leaves without reading.

use std::collections::HashSet;
use std::sync::Arc;

use crate::bus::{PresenceStatus, SharedState};
use crate::ids::{AccountId, CallId, ConversationId, Millis, NotificationId, RelationshipId};
use crate::protocol::notify::NotificationKind;
use crate::store::{NewNotification, Store, StoreResult};

/// Enqueues notifications for the domain's events. Cheap to clone; failures are
/// logged, never returned: a notification must not undo what already committed.
#[derive(Clone)]
pub struct Notifier {
    store: Arc<dyn Store>,
}

impl Notifier {
    pub fn new(store: Arc<dyn Store>) -> Notifier {
        Notifier { store }
    }

    /// A relationship waits for these accounts' answer.
    pub async fn relationship_waiting(&self, relationship: &RelationshipId, to: &[AccountId]) {
        let source = format!("relationship:{relationship}");
        for account in to {
            self.enqueue(account, NotificationKind::Relationship, None, &source)
                .await;
        }
    }

    /// An account was invited to a room (`invitation`: the invitation's own id; the
    /// room's id is not in the notification: the invitee is no member yet).
    pub async fn invited(&self, invitation: &str, to: &AccountId) {
        let source = format!("invitation:{invitation}");
        self.enqueue(to, NotificationKind::Invitation, None, &source)
            .await;
    }

    /// A call rings for these accounts.
    pub async fn ringing(&self, call: &CallId, conversation: &ConversationId, to: &[AccountId]) {
        let source = format!("ringing:{call}");
        for account in to {
            self.enqueue(
                account,
                NotificationKind::RingingCall,
                Some(conversation),
                &source,
            )
            .await;
        }
    }

    /// A call stopped ringing for these accounts without their answer.
    pub async fn missed(&self, call: &CallId, conversation: &ConversationId, to: &[AccountId]) {
        let source = format!("missed:{call}");
        for account in to {
            self.enqueue(
                account,
                NotificationKind::MissedCall,
                Some(conversation),
                &source,
            )
            .await;
        }
    }

    async fn enqueue(
        &self,
        account: &AccountId,
        kind: NotificationKind,
        conversation: Option<&ConversationId>,
        source: &str,
    ) {
        let new = NewNotification {
            id: NotificationId::random(),
            account: account.clone(),
            kind,
            conversation: conversation.cloned(),
            count: 1,
            source: source.to_owned(),
            now: crate::ids::now_millis(),
        };
        match self.store.enqueue_notification(&new).await {
            Ok(true) => {
                metrics::counter!("mentorhub_notifications_enqueued_total", "kind" => kind.as_str())
                    .increment(1)
            }
            Ok(false) => {}
            Err(error) => tracing::warn!(%error, kind = kind.as_str(), "notification not enqueued"),
        }
    }
}

/// Most conversations one message pass handles.
const PASS_LIMIT: u32 = 200;

/// One pass over unread messages: enqueues what has waited at least `idle_ms`.
/// Returns how many notifications it enqueued.
pub async fn message_pass(
    store: &dyn Store,
    state: &dyn SharedState,
    idle_ms: Millis,
    now: Millis,
) -> StoreResult<usize> {
    let found = store
        .unnotified_messages(now - idle_ms, now - super::rules::MAX_AGE_MS, PASS_LIMIT)
        .await?;
    if found.is_empty() {
        return Ok(0);
    }
    let accounts: Vec<AccountId> = found
        .iter()
        .map(|f| f.account.clone())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    // Unknown presence (the shared state is down): nobody counts as connected, the
    // worker checks again before it sends.
    let presence = state.presence(&accounts).await.unwrap_or_default();
    let mut enqueued = 0;
    for f in found {
        let connected = presence
            .get(&f.account)
            .is_some_and(|s| *s != PresenceStatus::Offline);
        if connected {
            continue;
        }
        let kind = if f.messages > 0 {
            NotificationKind::Message
        } else {
            NotificationKind::Reply
        };
        let new = NewNotification {
            id: NotificationId::random(),
            account: f.account.clone(),
            kind,
            conversation: Some(f.conversation.clone()),
            count: f.messages + f.replies,
            source: format!("messages:{}:{}", f.conversation, f.last_seq),
            now,
        };
        if store.enqueue_messages_notification(&f, &new).await? {
            metrics::counter!("mentorhub_notifications_enqueued_total", "kind" => kind.as_str())
                .increment(1);
            enqueued += 1;
        }
    }
    Ok(enqueued)
}
