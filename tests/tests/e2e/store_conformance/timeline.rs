//! The timeline: idempotent appends, read markers, gap-free seqs under concurrency and
//! appends that share group-commit batches, on every engine.

use super::*;

pub(super) async fn timeline_and_idempotency(store: Arc<dyn Store>) {
    let p = pair(&*store, true).await;
    let first = store
        .append(message(&p, &p.mentee, "k1", "one"), None)
        .await
        .unwrap();
    assert_eq!((first.seq, first.duplicate), (2, false));
    let retry = store
        .append(message(&p, &p.mentee, "k1", "one again"), None)
        .await
        .unwrap();
    assert_eq!(
        (retry.seq, retry.duplicate),
        (2, true),
        "same client id: same ack"
    );
    assert_eq!(retry.created_at, first.created_at);
    let other = store
        .append(message(&p, &p.mentor, "k1", "same key, other sender"), None)
        .await
        .unwrap();
    assert_eq!((other.seq, other.duplicate), (3, false));
    let mut reply = message(&p, &p.mentor, "r1", "a reply");
    reply.kind = AppendKind::Message {
        body: sealed("a reply"),
        thread: Some(2),
    };
    assert_eq!(store.append(reply, None).await.unwrap().seq, 4);
    let mut bad_reply = message(&p, &p.mentor, "r2", "reply to a reply");
    bad_reply.kind = AppendKind::Message {
        body: sealed("x"),
        thread: Some(4),
    };
    assert!(matches!(
        store.append(bad_reply, None).await,
        Err(WriteError::TargetNotFound)
    ));
    let edit = |sender: &MemberId, target| AppendRequest {
        conversation: p.conversation.clone(),
        sender: Some(sender.clone()),
        client_id: None,
        kind: AppendKind::Edit {
            target,
            body: sealed("edited"),
        },
        now: 3_000,
    };
    assert!(matches!(
        store.append(edit(&p.mentor, 2), None).await,
        Err(WriteError::NotOwnMessage)
    ));
    assert!(matches!(
        store.append(edit(&p.mentee, 99), None).await,
        Err(WriteError::TargetNotFound)
    ));
    assert_eq!(store.append(edit(&p.mentee, 2), None).await.unwrap().seq, 5);
    let delete = AppendRequest {
        conversation: p.conversation.clone(),
        sender: Some(p.mentor.clone()),
        client_id: None,
        kind: AppendKind::Delete { target: 3 },
        now: 4_000,
    };
    assert_eq!(store.append(delete, None).await.unwrap().seq, 6);
    // A refused write takes no seq: the sequence stays gap-free.
    let events = store.events(&all_events(&p.conversation)).await.unwrap();
    let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, vec![1, 2, 3, 4, 5, 6]);
    let edited = store.event(&p.conversation, 2).await.unwrap().unwrap();
    assert_eq!(edited.body.unwrap().ciphertext, b"edited".to_vec());
    assert!(edited.edited_at.is_some());
    let deleted = store.event(&p.conversation, 3).await.unwrap().unwrap();
    assert!(
        deleted.deleted && deleted.body.is_none(),
        "ciphertext removed"
    );
    assert_eq!(events[3].thread_root, Some(2));
    assert_eq!(events[4].target, Some(2));
    // Pages: newest `limit` below `before`, oldest first; `after` pages forward.
    let page = |after, before, limit, thread| EventQuery {
        conversation: p.conversation.clone(),
        after,
        before,
        visible_from: 0,
        thread,
        limit,
        hidden_senders: Vec::new(),
    };
    let newest: Vec<u64> = store
        .events(&page(None, Some(6), 2, None))
        .await
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(newest, vec![4, 5]);
    let forward: Vec<u64> = store
        .events(&page(Some(1), None, 2, None))
        .await
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(forward, vec![2, 3]);
    let mut hidden = page(Some(0), None, 100, None);
    hidden.visible_from = 4;
    assert!(
        store
            .events(&hidden)
            .await
            .unwrap()
            .iter()
            .all(|e| e.seq >= 4)
    );
    let thread: Vec<u64> = store
        .events(&page(Some(0), None, 100, Some(2)))
        .await
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    assert!(thread.contains(&2) && thread.contains(&4) && !thread.contains(&3));
    let threads = store.threads(&p.conversation, 0, &[]).await.unwrap();
    assert_eq!(threads.len(), 1);
    assert_eq!((threads[0].root, threads[0].replies), (2, 1));
    assert!(store.event(&p.conversation, 99).await.unwrap().is_none());
}

pub(super) async fn read_markers_and_unread(store: Arc<dyn Store>) {
    let (p, mentee) = pair_with_three_unread(&*store).await;
    assert_eq!(
        store.unread(&mentee, &[]).await.unwrap().main,
        3,
        "own messages never count"
    );
    let marker = |seq| ReadMarker {
        conversation: p.conversation.clone(),
        member: p.mentee.clone(),
        thread: None,
        seq,
    };
    assert!(store.mark_read(marker(3)).await.unwrap());
    assert!(
        !store.mark_read(marker(2)).await.unwrap(),
        "never moves back"
    );
    let mentee = store
        .membership(&p.conversation, &p.mentee_account)
        .await
        .unwrap()
        .unwrap()
        .member;
    assert_eq!(mentee.read_seq, 3);
    assert_eq!(store.unread(&mentee, &[]).await.unwrap().main, 1);
}

/// Many writers on one conversation: every seq taken exactly once, none skipped.
pub(super) async fn concurrent_appends_are_gap_free(store: Arc<dyn Store>) {
    let p = Arc::new(pair(&*store, true).await);
    let mut tasks = Vec::new();
    for writer in 0..4 {
        let (store, p) = (store.clone(), p.clone());
        tasks.push(tokio::spawn(async move {
            let mut seqs = Vec::new();
            for i in 0..40 {
                let sender = if writer % 2 == 0 {
                    &p.mentee
                } else {
                    &p.mentor
                };
                let acked = store
                    .append(message(&p, sender, &format!("w{writer}-{i}"), "x"), None)
                    .await
                    .expect("append");
                seqs.push(acked.seq);
            }
            seqs
        }));
    }
    let mut all = BTreeSet::new();
    for task in tasks {
        for seq in task.await.unwrap() {
            assert!(all.insert(seq), "seq {seq} handed out twice");
        }
    }
    let expected: BTreeSet<u64> = (2..=161).collect();
    assert_eq!(all, expected);
}

/// Appends queued together (so they share group-commit batches, the bulk path) reach
/// the verdicts one-at-a-time appends reach: a client id repeated inside the batch is
/// a duplicate of the first, a stranger is refused, a conversation that is not active
/// refuses with the same error as alone, and nothing refused takes a seq.
pub(super) async fn queued_appends_share_batches(store: Arc<dyn Store>) {
    let p = pair(&*store, true).await;
    let pending_alone = pair(&*store, false).await;
    let pending = pair(&*store, false).await;
    let alone = store
        .append(
            message(&pending_alone, &pending_alone.mentee, "x", "x"),
            None,
        )
        .await
        .expect_err("a pending conversation refuses messages");
    let stranger = MemberId::random();
    let requests = [
        message(&p, &p.mentee, "b1", "one"),
        message(&p, &p.mentor, "b2", "two"),
        message(&p, &p.mentee, "b1", "one, retried in the same batch"),
        message(&p, &stranger, "b3", "not a member"),
        message(&pending, &pending.mentee, "b4", "not active"),
        message(&p, &p.mentee, "b5", "three"),
    ];
    let mut pending_acks = Vec::new();
    for request in requests {
        pending_acks.push(store.queue_append(request, None).await.expect("queued"));
    }
    let mut outcomes = Vec::new();
    for ack in pending_acks {
        outcomes.push(ack.await);
    }
    let acked: Vec<Option<(u64, bool)>> = outcomes
        .iter()
        .map(|o| o.as_ref().ok().map(|a| (a.seq, a.duplicate)))
        .collect();
    assert_eq!(
        acked,
        vec![
            Some((2, false)),
            Some((3, false)),
            Some((2, true)),
            None,
            None,
            Some((4, false)),
        ]
    );
    assert!(
        matches!(outcomes[3], Err(WriteError::NotMember)),
        "{:?}",
        outcomes[3]
    );
    assert_eq!(
        format!("{:?}", outcomes[4].as_ref().unwrap_err()),
        format!("{alone:?}"),
        "same refusal as one at a time"
    );
    let events = store.events(&all_events(&p.conversation)).await.unwrap();
    let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, vec![1, 2, 3, 4]);
    assert_eq!(
        events[3].body.as_ref().unwrap().ciphertext,
        b"three".to_vec()
    );
    let untouched = store
        .events(&all_events(&pending.conversation))
        .await
        .unwrap();
    assert!(untouched.iter().all(|e| e.kind == EventKind::System));
}
