//! One store conformance suite, run against every engine on a real server: SQLite (a
//! fresh file) and PostgreSQL (a uniquely named database per test, dropped after).
//! Each case is a plain async function over `Arc<dyn Store>` (relationships in
//! `relationships.rs`, the timeline in `timeline.rs`, reports and blocks in `safety.rs`, the
//! e-mail digest in `digest.rs`; shared
//! fixtures here); the macro at the bottom turns it into one test per engine
//! (`store_conformance::sqlite::<case>`, `store_conformance::postgres::<case>`).

use std::collections::BTreeSet;
use std::sync::Arc;

use mentorhub::auth::Role;
use mentorhub::crypto::Sealed;
use mentorhub::ids::{AccountId, ConversationId, MemberId, RelationshipId};
use mentorhub::mentoring::rules::relationship::{Command, Request};
use mentorhub::protocol::ErrorCode;
use mentorhub::protocol::server::Settings;
use mentorhub::protocol::vocabulary::{
    ConversationState, Origin, PartyRole, RelationshipState, Response,
};
use mentorhub::store::{
    AppendKind, AppendRequest, EventKind, EventQuery, MemberRecord, NewRelationship, ReadMarker,
    RelationshipParty, RelationshipRecord, Store, WriteError,
};
use mentorhub_tests::cluster::{PgDatabase, open_postgres_store, open_sqlite_store};

mod digest;
mod notify;
mod relationships;
mod safety;
mod timeline;

use digest::*;
use notify::*;
use relationships::*;
use safety::*;
use timeline::*;

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
        (&mentee_account, "Mentee", Role::Mentee),
        (&mentor_account, "Mentor", Role::Mentor),
    ] {
        store
            .upsert_account(id, name, &[role], now)
            .await
            .expect("upsert account");
    }
    let party = |account: &AccountId, name: &str, role, response| RelationshipParty {
        account: account.clone(),
        member: MemberId::random(),
        display_name: name.into(),
        role,
        pseudonymous: false,
        response,
        account_name: name.into(),
        note: None,
    };
    let mentee = party(
        &mentee_account,
        "Mentee",
        PartyRole::Mentee,
        Response::Accepted,
    );
    let mentor = party(
        &mentor_account,
        "Mentor",
        PartyRole::Mentor,
        Response::Pending,
    );
    let new = NewRelationship {
        id: RelationshipId::random(),
        conversation: ConversationId::random(),
        origin: Origin::Requested,
        created_by: mentee_account.clone(),
        coordinator: None,
        introduction: Some(sealed("hello")),
        parties: vec![mentee.clone(), mentor.clone()],
        first_conversation: false,
        now,
    };
    let (relationship, conversation) = (new.id.clone(), new.conversation.clone());
    store
        .create_relationship(new, None)
        .await
        .expect("create relationship");
    if accept {
        let record = respond(store, &relationship, &mentor_account, true, now + 1)
            .await
            .expect("accept");
        assert_eq!(record.state, RelationshipState::Active);
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

/// A party's answer, decided by the domain's rules inside the store's transaction.
async fn respond(
    store: &dyn Store,
    id: &RelationshipId,
    account: &AccountId,
    accept: bool,
    now: i64,
) -> Result<RelationshipRecord, WriteError> {
    let command = Command::Respond {
        account: account.clone(),
        accept,
        pseudonym: false,
    };
    let request = Request::new(command, now);
    store
        .change_relationship(id, &|current, active| request.decide(current, active))
        .await
        .map(|changed| changed.record)
}

/// Whether a write was refused by the domain's rule with this code.
fn refused_with(result: &Result<RelationshipRecord, WriteError>, code: ErrorCode) -> bool {
    matches!(result, Err(WriteError::Refused(refusal)) if refusal.code == code)
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

/// An accepted pair where the mentor sent three messages and the mentee one: three
/// unread for the mentee, whose member record comes back with the pair.
async fn pair_with_three_unread(store: &dyn Store) -> (Pair, MemberRecord) {
    let p = pair(store, true).await;
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
    (p, mentee)
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
    relationship_changes_compare_and_set,
    timeline_and_idempotency,
    read_markers_and_unread,
    concurrent_appends_are_gap_free,
    queued_appends_share_batches,
    reports_once_per_reporter,
    block_edges_point_both_ways,
    digest_lease_is_held_by_one_node,
    digest_counts_unread_since,
    notify_outbox_leases,
);

/// Two nodes claiming notifications from one PostgreSQL database at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_postgres_notify_concurrent_claims_never_share_a_row() {
    let db = PgDatabase::create().await;
    let a = open_postgres_store(&db.url).await;
    let b = open_postgres_store(&db.url).await;
    notify_concurrent_claims_never_share_a_row(a.clone(), b.clone()).await;
    a.close().await.expect("close");
    b.close().await.expect("close");
    db.drop_now().await;
}

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
