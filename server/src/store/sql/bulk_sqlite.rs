//! SQLite's fast path for a batch made only of plain messages (the hot path): the whole
//! transaction in **two** hops to sqlx's SQLite worker thread instead of six.
//!
//! Every statement sqlx runs on SQLite is a round trip to its worker thread: a send
//! over a channel, a wake-up of that thread, another to wake the task again. At light
//! load, when each message is a batch of its own, those wake-ups — not SQL, not the
//! fsync — were the largest share of the server's CPU (`perf`, README Performance).
//! sqlx runs every statement of a multi-statement query in one command, binding the
//! arguments in order, so the transaction is split only where Rust must decide:
//!
//! 1. `BEGIN IMMEDIATE`, then one `SELECT` of what the verdicts need: committed client
//!    ids, each sender's standing and each conversation's `last_seq` and state;
//! 2. the seq allocation, the multi-row `INSERT`s and `COMMIT`.
//!
//! Same verdicts as `bulk.rs` (both go through `bulk_plan::Plan`); `BEGIN IMMEDIATE`
//! takes the write lock before reading, so nothing changes between the two hops. Any
//! error rolls the transaction back before the connection returns to the pool.

use std::collections::HashMap;

use sqlx::pool::PoolConnection;
use sqlx::{Pool, QueryBuilder, Sqlite};

use super::bulk::{
    CACHED_RUN, INSERT_CHUNK, LOOKUP_JOINS, lookup_query, push_insert_events, push_take_seqs,
};
use super::bulk_plan::{AppendOutcome, Lookup, Plan, bulk_eligible};
use super::db_error;
use super::writer::{Outcome, WriteOp};
use crate::protocol::vocabulary::ConversationState;
use crate::store::{AppendRequest, MayPost, StoreError};

/// What the first hop reads for append `i` of the run: the shared lookup, and its
/// conversation's `last_seq` and whether it is active.
#[derive(sqlx::FromRow)]
struct LookupRow {
    #[sqlx(flatten)]
    lookup: Lookup,
    last_seq: Option<i64>,
    active: Option<bool>,
}

/// Commits `ops` through the fast path if every op is a plain message; `None` leaves
/// the batch to the general path.
pub(crate) async fn commit_messages(
    pool: &Pool<Sqlite>,
    ops: &[WriteOp],
    may_post: MayPost,
) -> Option<Result<Vec<Outcome>, StoreError>> {
    let run: Vec<&AppendRequest> = ops
        .iter()
        .map(|op| match op {
            WriteOp::Append(request) if bulk_eligible(request) => Some(request),
            _ => None,
        })
        .collect::<Option<_>>()?;
    let mut conn = match pool.acquire().await {
        Ok(conn) => conn,
        Err(e) => return Some(Err(db_error(e))),
    };
    let result = in_transaction(&mut conn, &run, may_post).await;
    if result.is_err() {
        // The transaction may be open (an error after `BEGIN`, or a failed `COMMIT`).
        // If even `ROLLBACK` fails (none was open, or the connection is broken), the
        // connection is replaced rather than trusted: errors here are rare.
        if sqlx::query("ROLLBACK").execute(&mut *conn).await.is_err() {
            conn.close_on_drop();
        }
    }
    Some(result.map(|outcomes| outcomes.into_iter().map(Outcome::Appended).collect()))
}

async fn in_transaction(
    conn: &mut PoolConnection<Sqlite>,
    run: &[&AppendRequest],
    may_post: MayPost,
) -> Result<Vec<AppendOutcome>, StoreError> {
    let cached = run.len() <= CACHED_RUN;
    let mut q = lookup_query::<Sqlite>("BEGIN IMMEDIATE; ", run);
    q.push(", c.last_seq, c.state = ");
    q.push_bind(ConversationState::Active.as_str());
    q.push(" AS active FROM v");
    q.push(LOOKUP_JOINS);
    q.push(" LEFT JOIN conversations c ON c.id = v.c");
    let rows: Vec<LookupRow> = q
        .build_query_as()
        .persistent(cached)
        .fetch_all(&mut **conn)
        .await
        .map_err(db_error)?;

    let mut seq_before: HashMap<&str, i64> = HashMap::new();
    let mut lookups = Vec::with_capacity(rows.len());
    for row in rows {
        if let (Some(last_seq), Some(true)) = (row.last_seq, row.active) {
            seq_before.insert(run[row.lookup.i as usize].conversation.as_str(), last_seq);
        }
        lookups.push(row.lookup);
    }

    let plan = Plan::from_lookup(run, lookups, may_post);
    // Seqs to take: only active conversations, as the `UPDATE … WHERE state` below.
    let demand: Vec<(&str, i64)> = plan
        .seq_demand()
        .iter()
        .filter_map(|(id, n)| {
            seq_before
                .get_key_value(id.as_str())
                .map(|(id, _)| (*id, *n))
        })
        .collect();
    let last_seq: HashMap<String, i64> = demand
        .iter()
        .map(|(id, n)| ((*id).to_owned(), seq_before[id] + n))
        .collect();
    let (outcomes, rows) = plan.assign(run, &last_seq);

    let mut q = QueryBuilder::<Sqlite>::new("");
    if !demand.is_empty() {
        push_take_seqs(&mut q, demand.iter().copied());
        q.push("; ");
    }
    for chunk in rows.chunks(INSERT_CHUNK) {
        push_insert_events(&mut q, run, chunk);
        q.push("; ");
    }
    q.push("COMMIT");
    q.build()
        .persistent(cached && demand.len() <= CACHED_RUN)
        .execute(&mut **conn)
        .await
        .map_err(db_error)?;
    Ok(outcomes)
}
