//! Content-free notifications: telling people outside an open tab that something
//! happened, never what.
//!
//! | file | owns |
//! |---|---|
//! | [`rules`] | when a notification goes out: preferences, quiet hours, the daily cap, connected devices |
//! | [`sources`] | what creates one: the domain's events (requests, invitations, calls) and the periodic pass over unread messages |
//! | [`vapid`] | the server's VAPID key: from a file, or generated into the data dir |
//! | [`push`] | Web Push delivery: RFC 8291 encryption and RFC 8292 VAPID (the `web-push` crate) over our HTTP client |
//! | [`service`] | what the REST API asks: subscriptions (endpoint checks), preferences, the public key |
//! | [`worker`] | the outbox worker every node runs: claim with a lease, decide, send, finish |
//!
//! A notification is a kind, a count and a link with an opaque conversation id
//! ([`PushPayload`]); nothing else is ever built into one, so no body, title, agreement
//! or display name can reach a push service. The outbox lives in the store, so a
//! notification survives the node that created it, and a claim's lease lets another
//! node finish what a dead one claimed.

pub mod push;
pub mod rules;
pub mod service;
pub mod sources;
pub mod vapid;
pub mod worker;

use sha2::{Digest, Sha256};

use crate::bus::{PresenceStatus, SharedState, StateError};
use crate::ids::{AccountId, ConversationId};
use crate::protocol::notify::{NotificationKind, PushPayload};

pub use sources::Notifier;

/// Whether any device of `account` is connected to any node: then nothing is pushed or
/// e-mailed to it (the app itself shows what happened).
pub async fn connected(state: &dyn SharedState, account: &AccountId) -> Result<bool, StateError> {
    let map = state.presence(std::slice::from_ref(account)).await?;
    Ok(map
        .get(account)
        .is_some_and(|s| *s != PresenceStatus::Offline))
}

/// The plaintext a service worker decrypts: kind, count and where a click leads.
pub fn payload(
    kind: NotificationKind,
    count: u64,
    conversation: Option<&ConversationId>,
) -> PushPayload {
    PushPayload {
        kind,
        count: count.max(1),
        link: match conversation {
            Some(conversation) => format!("/#/c/{}", conversation.as_str()),
            None => "/#/".to_owned(),
        },
    }
}

/// The `Topic` header (RFC 8030 §5.4): a push service keeps one undelivered message per
/// topic, so a newer notification about the same thing replaces an older one, and one
/// resent after a crash replaces its first copy. Derived per subscription, so topics of
/// two subscriptions cannot be linked; 22 base64url characters (the limit is 32).
pub fn topic(
    subscription: &str,
    kind: NotificationKind,
    conversation: Option<&ConversationId>,
) -> String {
    use base64::Engine;
    // A call that rang and then was missed is one thing to the recipient.
    let group = match kind {
        NotificationKind::Message | NotificationKind::Reply => "message",
        NotificationKind::MissedCall | NotificationKind::RingingCall => "call",
        NotificationKind::Relationship => "relationship",
        NotificationKind::Invitation => "invitation",
    };
    let mut hash = Sha256::new();
    hash.update(b"mentorhub push topic\0");
    hash.update(subscription.as_bytes());
    hash.update(b"\0");
    hash.update(group.as_bytes());
    hash.update(b"\0");
    hash.update(
        conversation
            .map(ConversationId::as_str)
            .unwrap_or("")
            .as_bytes(),
    );
    let digest = hash.finalize();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payload_is_kind_count_and_link_only() {
        let conversation = ConversationId::parse("c_abc234").unwrap();
        let json =
            serde_json::to_value(payload(NotificationKind::Reply, 2, Some(&conversation))).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"kind": "reply", "count": 2, "link": "/#/c/c_abc234"})
        );
        let json = serde_json::to_value(payload(NotificationKind::Relationship, 0, None)).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"kind": "relationship", "count": 1, "link": "/#/"})
        );
    }

    #[test]
    fn topics_are_short_per_subscription_and_shared_by_a_call() {
        let c = ConversationId::parse("c_abc234").unwrap();
        let ring = topic("w_a", NotificationKind::RingingCall, Some(&c));
        assert_eq!(ring.len(), 22);
        assert!(
            ring.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(ring, topic("w_a", NotificationKind::MissedCall, Some(&c)));
        assert_ne!(ring, topic("w_b", NotificationKind::RingingCall, Some(&c)));
        assert_ne!(ring, topic("w_a", NotificationKind::Message, Some(&c)));
    }
}
