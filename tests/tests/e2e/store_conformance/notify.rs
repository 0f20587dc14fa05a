//! The notification outbox and subscriptions on every engine: a lease keeps a claimed
//! row one node's, every change after the claim holds only under that lease, a cause
//! enqueues once, an account without a device gets no rows.

use std::collections::BTreeSet;
use std::sync::Arc;

use mentorhub::ids::{AccountId, NotificationId, PushSubscriptionId};
use mentorhub::protocol::notify::{NotificationKind, NotificationPreferences, QuietHours};
use mentorhub::store::{NewNotification, OutboxEnd, PushSubscriptionRecord, Store, WriteError};

use super::account;

fn device(account: &AccountId, endpoint: &str) -> PushSubscriptionRecord {
    PushSubscriptionRecord {
        id: PushSubscriptionId::random(),
        account: account.clone(),
        endpoint: endpoint.to_owned(),
        p256dh: "BP".into(),
        auth: "au".into(),
        created_at: 1_000,
    }
}

fn notification(account: &AccountId, source: &str, now: i64) -> NewNotification {
    NewNotification {
        id: NotificationId::random(),
        account: account.clone(),
        kind: NotificationKind::Relationship,
        conversation: None,
        count: 1,
        source: source.to_owned(),
        now,
    }
}

pub(super) async fn notify_outbox_leases(store: Arc<dyn Store>) {
    let alice = account(&format!("alice-{}", PushSubscriptionId::random()));
    let nobody = account(&format!("nobody-{}", PushSubscriptionId::random()));
    // One row per endpoint; the same endpoint again keeps its id.
    let first = store
        .save_push_subscription(&device(&alice, "https://push.example/1"), 2)
        .await
        .expect("saved");
    assert!(first.created);
    let again = store
        .save_push_subscription(&device(&alice, "https://push.example/1"), 2)
        .await
        .expect("saved");
    assert_eq!((again.id, again.created), (first.id.clone(), false));
    store
        .save_push_subscription(&device(&alice, "https://push.example/2"), 2)
        .await
        .expect("a second device");
    let third = store
        .save_push_subscription(&device(&alice, "https://push.example/3"), 2)
        .await;
    assert!(matches!(third, Err(WriteError::LimitReached)));
    assert_eq!(store.push_subscriptions(&alice).await.unwrap().len(), 2);

    // No device, no row; one row per cause.
    assert!(
        !store
            .enqueue_notification(&notification(&nobody, "r:1", 10_000))
            .await
            .unwrap()
    );
    assert!(
        store
            .enqueue_notification(&notification(&alice, "r:1", 10_000))
            .await
            .unwrap()
    );
    assert!(
        !store
            .enqueue_notification(&notification(&alice, "r:1", 10_000))
            .await
            .unwrap()
    );

    // A claim is one node's until its lease runs out.
    let claimed = store
        .claim_notifications("a", 10_000, 40_000, 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].attempts, 1);
    let id = claimed[0].id.clone();
    assert!(
        store
            .claim_notifications("b", 20_000, 50_000, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        !store
            .renew_notification_lease(&id, "b", 60_000)
            .await
            .unwrap()
    );
    assert!(
        !store
            .finish_notification(&id, "b", OutboxEnd::Sent, 20_000)
            .await
            .unwrap()
    );
    // … then another node takes it over, and the first can no longer finish it.
    let taken = store
        .claim_notifications("b", 40_001, 70_000, 10)
        .await
        .unwrap();
    assert_eq!((taken.len(), taken[0].attempts), (1, 2));
    store.record_push_delivery(&id, &first.id).await.unwrap();
    store.record_push_delivery(&id, &first.id).await.unwrap();
    assert_eq!(
        store.delivered_subscriptions(&id).await.unwrap(),
        vec![first.id.clone()]
    );
    assert!(
        !store
            .finish_notification(&id, "a", OutboxEnd::Sent, 41_000)
            .await
            .unwrap()
    );
    assert!(
        store
            .finish_notification(&id, "b", OutboxEnd::Sent, 41_000)
            .await
            .unwrap()
    );
    assert!(
        !store
            .finish_notification(&id, "b", OutboxEnd::Sent, 41_000)
            .await
            .unwrap()
    );
    assert!(
        store
            .claim_notifications("a", 100_000, 130_000, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .notifications_sent_since(&alice, 41_000)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .notifications_sent_since(&alice, 41_001)
            .await
            .unwrap(),
        0
    );

    // Released until later (quiet hours): not due before, and the claim did not count.
    assert!(
        store
            .enqueue_notification(&notification(&alice, "r:2", 50_000))
            .await
            .unwrap()
    );
    let deferred = store
        .claim_notifications("a", 50_000, 80_000, 10)
        .await
        .unwrap();
    let id = deferred[0].id.clone();
    assert!(
        store
            .release_notification(&id, "a", 90_000, true)
            .await
            .unwrap()
    );
    assert!(
        store
            .claim_notifications("a", 89_999, 120_000, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let due = store
        .claim_notifications("a", 90_000, 120_000, 10)
        .await
        .unwrap();
    assert_eq!((due.len(), due[0].attempts), (1, 1));

    // A gone subscription is removed; a foreign id is not deleted.
    assert!(
        !store
            .delete_push_subscription(&nobody, &first.id)
            .await
            .unwrap()
    );
    store.remove_push_subscription(&first.id).await.unwrap();
    assert_eq!(store.push_subscriptions(&alice).await.unwrap().len(), 1);

    // Preferences read back as saved; none saved: none.
    assert_eq!(store.notification_preferences(&nobody).await.unwrap(), None);
    let prefs = NotificationPreferences {
        quiet_hours: Some(QuietHours {
            start: "22:30".into(),
            end: "07:05".into(),
            time_zone: "Europe/London".into(),
        }),
        daily_cap: 3,
        ..Default::default()
    };
    store
        .save_notification_preferences(&alice, &prefs, 1)
        .await
        .unwrap();
    store
        .save_notification_preferences(&alice, &prefs, 2)
        .await
        .unwrap();
    assert_eq!(
        store.notification_preferences(&alice).await.unwrap(),
        Some(prefs)
    );
}

/// Two nodes (two stores on one PostgreSQL database) claiming at once: `FOR UPDATE
/// SKIP LOCKED` hands every row to exactly one of them.
pub(super) async fn notify_concurrent_claims_never_share_a_row(
    a: Arc<dyn Store>,
    b: Arc<dyn Store>,
) {
    const ROWS: usize = 60;
    let alice = account(&format!("alice-{}", PushSubscriptionId::random()));
    a.save_push_subscription(&device(&alice, "https://push.example/c"), 5)
        .await
        .unwrap();
    for i in 0..ROWS {
        assert!(
            a.enqueue_notification(&notification(&alice, &format!("c:{i}"), 1_000))
                .await
                .unwrap()
        );
    }
    let mut tasks = Vec::new();
    for (n, store) in [a.clone(), b.clone(), a, b].into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let claimed = store
                    .claim_notifications(&format!("node-{n}"), 2_000, 100_000, 3)
                    .await
                    .unwrap();
                if claimed.is_empty() {
                    return mine;
                }
                mine.extend(claimed.into_iter().map(|c| c.id));
            }
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    let distinct: BTreeSet<_> = all.iter().cloned().collect();
    assert_eq!(all.len(), ROWS, "a row was claimed twice or not at all");
    assert_eq!(distinct.len(), ROWS);
}
