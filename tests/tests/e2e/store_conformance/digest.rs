//! The e-mail digest's store: the lease one node holds at a time, and unread counting.

use std::sync::Arc;

use mentorhub::protocol::vocabulary::EmailDigest;
use mentorhub::store::{DigestChoice, DigestRelease, DigestUpdate, Store};

use super::{pair, pair_with_three_unread, sealed};

/// One account, many nodes: a second lease is refused while the first runs, only the
/// holder writes the outcome back, and an expired lease is taken over (nothing lost).
pub(super) async fn digest_lease_is_held_by_one_node(store: Arc<dyn Store>) {
    let p = pair(&*store, true).await;
    let account = &p.mentee_account;
    let choice = DigestChoice {
        choice: EmailDigest::AfterHours,
        after_hours: 2,
    };
    let update = |choice: DigestChoice, address: Option<&str>, hash: u8| DigestUpdate {
        account: account.clone(),
        choice,
        address: address.map(sealed),
        unsubscribe_hash: [hash; 32],
        unsubscribe: sealed("token"),
        now: 5_000,
    };
    assert_eq!(
        store.digest_choice(account).await.unwrap(),
        None,
        "off until chosen"
    );
    store
        .put_digest_choice(update(choice, Some("address"), 1))
        .await
        .unwrap();
    assert_eq!(store.digest_choice(account).await.unwrap(), Some(choice));
    assert_eq!(
        store.due_digests(10_000, 10).await.unwrap(),
        std::slice::from_ref(account)
    );

    let first = store
        .lease_digest(account, 10_000, 20_000)
        .await
        .unwrap()
        .expect("due");
    assert_eq!(first.choice, choice);
    assert_eq!(first.address, Some(sealed("address")));
    assert!(
        store
            .lease_digest(account, 10_001, 20_001)
            .await
            .unwrap()
            .is_none(),
        "held"
    );
    assert!(store.due_digests(10_001, 10).await.unwrap().is_empty());
    // Expired: another node takes the account over; the first may no longer write.
    let second = store
        .lease_digest(account, 20_000, 30_000)
        .await
        .unwrap()
        .expect("expired");
    let sent = DigestRelease {
        next_due_at: 40_000,
        last_sent_at: 25_000,
    };
    assert!(
        !store.release_digest(&first, sent).await.unwrap(),
        "not the holder"
    );
    assert!(store.release_digest(&second, sent).await.unwrap());
    assert!(
        store
            .lease_digest(account, 30_000, 40_000)
            .await
            .unwrap()
            .is_none(),
        "not due"
    );
    let third = store
        .lease_digest(account, 40_000, 50_000)
        .await
        .unwrap()
        .expect("due again");
    assert_eq!(third.last_sent_at, 25_000);

    // A new choice keeps the unsubscribe token of the first (every e-mail's link
    // keeps working); turning off forgets the address and stops the schedule.
    store
        .put_digest_choice(update(choice, Some("address"), 9))
        .await
        .unwrap();
    assert_eq!(store.digest_by_unsubscribe(&[9; 32]).await.unwrap(), None);
    let (found, hash) = store
        .digest_by_unsubscribe(&[1; 32])
        .await
        .unwrap()
        .expect("token");
    assert_eq!((&found, hash), (account, vec![1; 32]));
    store.turn_digest_off(account, 60_000).await.unwrap();
    assert_eq!(store.digest_address(account).await.unwrap(), None);
    assert!(store.due_digests(i64::MAX, 10).await.unwrap().is_empty());
    assert!(
        store
            .lease_digest(account, i64::MAX - 1, i64::MAX)
            .await
            .unwrap()
            .is_none()
    );
}

/// Unread for the digest: the others' messages after the read marker, with the first
/// that arrived after a given time.
pub(super) async fn digest_counts_unread_since(store: Arc<dyn Store>) {
    let (_, mentee) = pair_with_three_unread(&*store).await;
    let unread = store.unread_since(&mentee, &[], 0).await.unwrap();
    assert_eq!(unread.messages, 3, "own messages never count");
    assert_eq!(unread.first_after, Some(2_000));
    let later = store.unread_since(&mentee, &[], 2_000).await.unwrap();
    assert_eq!(
        (later.messages, later.first_after),
        (3, None),
        "nothing after"
    );
}
