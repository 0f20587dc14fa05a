//! One store conformance suite, run against every engine on a real server: SQLite (a
//! fresh file) and PostgreSQL (a uniquely named database per test, dropped after).
//! Each case is a plain async function over `Arc<dyn Store>`; the macro at the bottom
//! turns it into one test per engine (`store_sqlite_<case>`, `store_postgres_<case>`).

use std::collections::BTreeSet;
use std::sync::Arc;

use mentorhub::crypto::Sealed;
use mentorhub::ids::{AccountId, ConversationId, MemberId, RelationshipId};
use mentorhub::protocol::server::Settings;
use mentorhub::store::{
    AppendKind, AppendRequest, ConversationState, EventKind, EventQuery, NewRelationship,
    ReadMarker, RelationshipParty, RelationshipResponse, Store, WriteError,
};
use mentorhub_tests::cluster::{PgDatabase, open_postgres_store, open_sqlite_store};

fn sealed(text: &str) -> Sealed {
    // The store never looks inside: any bytes stand in for ciphertext.
    Sealed {
        key_id: 1,
        nonce: vec![7; 24],
        ciphertext: text.as_bytes().to_vec(),
    }
}

fn account(name: &str) -> AccountId {
    AccountId::from_stored(format!("test:{name}"))
}

/// A mentee–mentor relationship; `accept` makes it active (system event at seq 1).
struct Pair {
    relationship: RelationshipId,
    conversation: ConversationId,
    mentee: MemberId,
    mentor: MemberId,
    mentee_account: AccountId,
    mentor_account: AccountId,
}

async fn pair(store: &dyn Store, accept: bool) -> Pair {
    let now = 1_000;
    let mentee_account = account(&format!("mentee-{}", MemberId::random()));
    let mentor_account = account(&format!("mentor-{}", MemberId::random()));
    for (id, name, role) in [
        (&mentee_account, "Mentee", "mentee"),
        (&mentor_account, "Mentor", "mentor"),
    ] {
        store
            .upsert_account(id, name, &[role.to_owned()], now)
            .await
            .expect("upsert account");
    }
    let party = |account: &AccountId, name: &str, role: &str, response: &str| RelationshipParty {
        account: account.clone(),
        member: MemberId::random(),
        display_name: name.into(),
        role: role.into(),
        pseudonymous: false,
        response: response.into(),
        account_name: name.into(),
        note: None,
    };
    let mentee = party(&mentee_account, "Mentee", "mentee", "accepted");
    let mentor = party(&mentor_account, "Mentor", "mentor", "pending");
    let new = NewRelationship {
        id: RelationshipId::random(),
        conversation: ConversationId::random(),
        origin: "requested".into(),
        created_by: mentee_account.clone(),
        coordinator: None,
        introduction: Some(sealed("hello")),
        parties: vec![mentee.clone(), mentor.clone()],
        first_conversation: false,
        now,
    };
    let (relationship, conversation) = (new.id.clone(), new.conversation.clone());
    store
        .create_relationship(new)
        .await
        .expect("create relationship");
    if accept {
        let record = store
            .respond_to_relationship(RelationshipResponse {
                id: relationship.clone(),
                account: mentor_account.clone(),
                accept: true,
                display_name: None,
                capacities: Vec::new(),
                now: now + 1,
            })
            .await
            .expect("accept");
        assert_eq!(record.state, "active");
    }
    Pair {
        relationship,
        conversation,
        mentee: mentee.member,
        mentor: mentor.member,
        mentee_account,
        mentor_account,
    }
}

fn message(pair: &Pair, sender: &MemberId, client_id: &str, body: &str) -> AppendRequest {
    AppendRequest {
        conversation: pair.conversation.clone(),
        sender: Some(sender.clone()),
        client_id: Some(client_id.into()),
        kind: AppendKind::Message {
            body: sealed(body),
            thread: None,
        },
        now: 2_000,
    }
}

fn all_events(conversation: &ConversationId) -> EventQuery {
    EventQuery {
        conversation: conversation.clone(),
        after: Some(0),
        before: None,
        visible_from: 0,
        thread: None,
        limit: 10_000,
        hidden_senders: Vec::new(),
    }
}

async fn accounts_and_settings(store: Arc<dyn Store>) {
    let id = account("ann");
    assert!(store.account(&id).await.unwrap().is_none());
    let created = store
        .upsert_account(&id, "Ann", &["mentee".into()], 5)
        .await
        .unwrap();
    assert_eq!(created.name, "Ann");
    assert_eq!(created.roles, vec!["mentee".to_owned()]);
    assert!(!created.settings.read_receipts, "receipts are opt-in");
    let renamed = store
        .upsert_account(&id, "Ann B", &["mentee".into(), "mentor".into()], 6)
        .await
        .unwrap();
    assert_eq!(renamed.name, "Ann B");
    assert_eq!(renamed.roles.len(), 2);
    let settings = Settings {
        read_receipts: true,
        default_pseudonym: Some("Owl".into()),
    };
    store.update_settings(&id, &settings).await.unwrap();
    assert_eq!(
        store.account(&id).await.unwrap().unwrap().settings,
        settings
    );
    store.ping().await.unwrap();
}

async fn relationship_life_cycle(store: Arc<dyn Store>) {
    let p = pair(&*store, false).await;
    let pending = store
        .membership(&p.conversation, &p.mentor_account)
        .await
        .unwrap()
        .expect("mentor is a member");
    assert_eq!(pending.conversation.state, ConversationState::Pending);
    let refused = store
        .append(message(&p, &p.mentee, "early", "too early"), None)
        .await;
    assert!(matches!(refused, Err(WriteError::ConversationClosed)));
    let stranger = store
        .respond_to_relationship(RelationshipResponse {
            id: p.relationship.clone(),
            account: account("stranger"),
            accept: true,
            display_name: None,
            capacities: Vec::new(),
            now: 3,
        })
        .await;
    assert!(matches!(stranger, Err(WriteError::Conflict)));
    let active = store
        .respond_to_relationship(RelationshipResponse {
            id: p.relationship.clone(),
            account: p.mentor_account.clone(),
            accept: true,
            display_name: None,
            capacities: Vec::new(),
            now: 4,
        })
        .await
        .unwrap();
    assert_eq!(active.state, "active");
    assert!(
        active
            .parties
            .iter()
            .all(|party| party.response == "accepted")
    );
    let again = store
        .respond_to_relationship(RelationshipResponse {
            id: p.relationship.clone(),
            account: p.mentor_account.clone(),
            accept: false,
            display_name: None,
            capacities: Vec::new(),
            now: 5,
        })
        .await;
    assert!(
        matches!(again, Err(WriteError::Conflict)),
        "no second answer"
    );
    let events = store.events(&all_events(&p.conversation)).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, EventKind::System);
    assert_eq!(events[0].seq, 1);
    assert_eq!(
        store
            .relationship_of_conversation(&p.conversation)
            .await
            .unwrap(),
        Some(p.relationship.clone())
    );
    assert_eq!(
        store.active_mentee_count(&p.mentor_account).await.unwrap(),
        1
    );
    for who in [&p.mentee_account, &p.mentor_account] {
        let listed = store.relationships_of(who).await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].id, p.relationship);
    }
    let record = store.relationship(&p.relationship).await.unwrap().unwrap();
    assert_eq!(record.introduction.unwrap().ciphertext, b"hello".to_vec());
    let members = store.members(&p.conversation).await.unwrap();
    assert_eq!(members.len(), 2);
}

async fn declined_requests_close(store: Arc<dyn Store>) {
    let p = pair(&*store, false).await;
    let declined = store
        .respond_to_relationship(RelationshipResponse {
            id: p.relationship.clone(),
            account: p.mentor_account.clone(),
            accept: false,
            display_name: None,
            capacities: Vec::new(),
            now: 9,
        })
        .await
        .unwrap();
    assert_eq!(declined.state, "declined");
    let membership = store
        .membership(&p.conversation, &p.mentee_account)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(membership.conversation.state, ConversationState::Closed);
    let refused = store.append(message(&p, &p.mentee, "x", "hi"), None).await;
    assert!(matches!(refused, Err(WriteError::ConversationClosed)));
    assert_eq!(
        store.active_mentee_count(&p.mentor_account).await.unwrap(),
        0
    );
}

async fn timeline_and_idempotency(store: Arc<dyn Store>) {
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
    let threads = store.threads(&p.conversation, 0).await.unwrap();
    assert_eq!(threads.len(), 1);
    assert_eq!((threads[0].root, threads[0].replies), (2, 1));
    assert!(store.event(&p.conversation, 99).await.unwrap().is_none());
}

async fn read_markers_and_unread(store: Arc<dyn Store>) {
    let p = pair(&*store, true).await;
    for i in 0..3 {
        store
            .append(message(&p, &p.mentor, &format!("m{i}"), "hi"), None)
            .await
            .unwrap();
    }
    store
        .append(message(&p, &p.mentee, "own", "mine"), None)
        .await
        .unwrap();
    let mentee = store
        .membership(&p.conversation, &p.mentee_account)
        .await
        .unwrap()
        .unwrap()
        .member;
    assert_eq!(
        store.unread(&mentee).await.unwrap().main,
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
    assert_eq!(store.unread(&mentee).await.unwrap().main, 1);
}

/// Many writers on one conversation: every seq taken exactly once, none skipped.
async fn concurrent_appends_are_gap_free(store: Arc<dyn Store>) {
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
async fn queued_appends_share_batches(store: Arc<dyn Store>) {
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

macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let (store, _dir) = super::open_sqlite_store().await;
                    super::$case(store.clone()).await;
                    store.close().await.expect("close");
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let db = super::PgDatabase::create().await;
                    let store = super::open_postgres_store(&db.url).await;
                    super::$case(store.clone()).await;
                    store.close().await.expect("close");
                    db.drop_now().await;
                }
            )*
        }
    };
}

conformance!(
    accounts_and_settings,
    relationship_life_cycle,
    declined_requests_close,
    timeline_and_idempotency,
    read_markers_and_unread,
    concurrent_appends_are_gap_free,
    queued_appends_share_batches,
);

/// Two nodes (two stores on one PostgreSQL database) appending to one conversation at
/// once, and retrying the same client id on both: the sequence stays gap-free and a
/// client id is committed once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_postgres_two_nodes_share_one_sequence() {
    let db = PgDatabase::create().await;
    let a = open_postgres_store(&db.url).await;
    let b = open_postgres_store(&db.url).await;
    let p = Arc::new(pair(&*a, true).await);
    let mut tasks = Vec::new();
    for (n, store) in [a.clone(), b.clone(), a.clone(), b.clone()]
        .into_iter()
        .enumerate()
    {
        let p = p.clone();
        tasks.push(tokio::spawn(async move {
            let mut acks = Vec::new();
            for i in 0..30 {
                // Every client id is sent by two writers on different nodes.
                let key = format!("k{}-{i}", n % 2);
                let acked = store
                    .append(message(&p, &p.mentee, &key, "x"), None)
                    .await
                    .expect("append");
                acks.push((key, acked.seq, acked.duplicate));
            }
            acks
        }));
    }
    let mut by_key: std::collections::HashMap<String, Vec<(u64, bool)>> = Default::default();
    for task in tasks {
        for (key, seq, duplicate) in task.await.unwrap() {
            by_key.entry(key).or_default().push((seq, duplicate));
        }
    }
    assert_eq!(by_key.len(), 60);
    let mut seqs = BTreeSet::new();
    for (key, acks) in &by_key {
        assert_eq!(acks.len(), 2, "{key}");
        assert_eq!(acks[0].0, acks[1].0, "{key}: both writers got the same seq");
        assert_eq!(
            acks.iter().filter(|(_, dup)| !dup).count(),
            1,
            "{key}: committed once"
        );
        seqs.insert(acks[0].0);
    }
    assert_eq!(seqs, (2..=61).collect::<BTreeSet<u64>>());
    let stored = b.events(&all_events(&p.conversation)).await.unwrap();
    assert_eq!(stored.len(), 61);
    a.close().await.unwrap();
    b.close().await.unwrap();
    db.drop_now().await;
}
