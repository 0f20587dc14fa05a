//! Safeguarding reports, on every engine: one report per reporter and message, held by
//! the database even when the same report arrives twice at once. Blocks, read from
//! both sides.

use mentorhub::ids::ReportId;
use mentorhub::store::{BlockSide, NewBlock, NewReport, ReportFiling};

use super::*;

fn report(pair: &Pair, reporter: (&AccountId, &MemberId), seq: u64) -> NewReport {
    NewReport {
        filing: ReportFiling {
            id: ReportId::random(),
            conversation: pair.conversation.clone(),
            target: seq,
            reporter: reporter.0.clone(),
            reporter_member: reporter.1.clone(),
            reported: pair.mentor_account.clone(),
            reported_member: pair.mentor.clone(),
            snapshot: sealed("snapshot"),
        },
        state: mentorhub::mentoring::rules::report::FILED,
        now: 3_000,
    }
}

pub(super) async fn reports_once_per_reporter(store: Arc<dyn Store>) {
    let p = pair(&*store, true).await;
    let first = store
        .append(message(&p, &p.mentor, "m-1", "one"), None)
        .await
        .unwrap()
        .seq;
    let second = store
        .append(message(&p, &p.mentor, "m-2", "two"), None)
        .await
        .unwrap()
        .seq;
    let mentee = (&p.mentee_account, &p.mentee);
    assert!(
        store
            .create_report(report(&p, mentee, first))
            .await
            .unwrap()
    );
    assert!(
        !store
            .create_report(report(&p, mentee, first))
            .await
            .unwrap(),
        "a second report of the same message by the same reporter"
    );
    // Another message, or another reporter, is another report.
    assert!(
        store
            .create_report(report(&p, mentee, second))
            .await
            .unwrap()
    );
    let other = account("witness");
    let witness = MemberId::random();
    assert!(
        store
            .create_report(report(&p, (&other, &witness), first))
            .await
            .unwrap()
    );
    // The same report twice at once: exactly one lands.
    let third = store
        .append(message(&p, &p.mentor, "m-3", "three"), None)
        .await
        .unwrap()
        .seq;
    let (a, b) = tokio::join!(
        store.create_report(report(&p, mentee, third)),
        store.create_report(report(&p, mentee, third)),
    );
    assert_eq!([a.unwrap(), b.unwrap()].iter().filter(|x| **x).count(), 1);

    assert_eq!(store.reports().await.unwrap().len(), 4);
    let mut mine: Vec<u64> = store
        .reports_filed_by(&p.mentee_account)
        .await
        .unwrap()
        .iter()
        .map(|r| r.filing.target)
        .collect();
    mine.sort();
    assert_eq!(mine, [first, second, third]);
    assert_eq!(store.reports_filed_by(&other).await.unwrap().len(), 1);
}

pub(super) async fn block_edges_point_both_ways(store: Arc<dyn Store>) {
    let p = pair(&*store, true).await;
    let block = NewBlock {
        blocker: p.mentee_account.clone(),
        blocked: p.mentor_account.clone(),
        conversation: p.conversation.clone(),
        member: p.mentor.clone(),
        display_name: "Mentor".into(),
        now: 2_000,
    };
    assert!(store.add_block(block).await.unwrap());
    let blocker = store.block_edges(&p.mentee_account, None).await.unwrap();
    assert_eq!(blocker.len(), 1);
    assert_eq!(blocker[0].side, BlockSide::Hidden);
    assert_eq!(blocker[0].member, p.mentor);
    let blocked = store
        .block_edges(&p.mentor_account, Some(&p.conversation))
        .await
        .unwrap();
    assert_eq!(blocked.len(), 1);
    assert_eq!(blocked[0].side, BlockSide::BlockedBy);
    assert_eq!(blocked[0].member, p.mentee);
    let elsewhere = ConversationId::random();
    let none = store
        .block_edges(&p.mentor_account, Some(&elsewhere))
        .await
        .unwrap();
    assert!(none.is_empty());
}
