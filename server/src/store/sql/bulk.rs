//! The bulk append path: a run of top-level messages from members (the hot path of a
//! group-commit batch) in three or four statements however long the run, instead of
//! four per message. Every statement is a round trip (a hop to sqlx's SQLite worker
//! thread, or the network to PostgreSQL), and those round trips, not SQL work, were
//! what capped persisted sends/s. Verdicts are computed by `bulk_plan.rs`, identical
//! to what `append_in_tx` would reach one message at a time.
//!
//! Statements, all inside the batch's transaction:
//! 1. committed client ids and every sender's standing (one statement: the run as
//!    `VALUES`, left-joined to `members` and `events`);
//! 2. PostgreSQL only: lock the conversation rows in byte order (the batch's order), so
//!    two nodes' batches cannot deadlock on them;
//! 3. one `UPDATE … FROM` taking each active conversation's seqs at once;
//! 4. one multi-row `INSERT`.

use sqlx::{Database, Encode, QueryBuilder, Type};

use super::bulk_plan::message_body;
use crate::protocol::vocabulary::ConversationState;
use crate::store::{AppendRequest, EventKind};

/// Runs up to this long keep their (size-specific) statements in sqlx's cache; longer
/// ones are prepared once and dropped, so they do not evict the hot statements.
pub(crate) const CACHED_RUN: usize = 16;
/// Rows per `INSERT` (9 binds each: far under SQLite's 32,766 and PostgreSQL's 65,535).
pub(crate) const INSERT_CHUNK: usize = 1024;

/// The lookup's joins; the run is a `VALUES` list named `v(i, c, s, k)`: index,
/// conversation, sender, client id (`lookup_query`).
pub(crate) const LOOKUP_JOINS: &str = " LEFT JOIN members m \
    ON m.conversation_id = v.c AND m.member_id = v.s \
    LEFT JOIN events e ON e.conversation_id = v.c AND e.sender = v.s AND e.client_id = v.k";

/// Starts the lookup statement (`bulk_plan::Lookup`'s columns) for the run, after
/// `prefix` (SQLite's fast path puts `BEGIN IMMEDIATE;` there). The caller adds
/// columns of its own, then `FROM v` and [`LOOKUP_JOINS`].
pub(crate) fn lookup_query<DB>(prefix: &str, run: &[&AppendRequest]) -> QueryBuilder<DB>
where
    DB: Database,
    for<'t> i64: Encode<'t, DB> + Type<DB>,
    for<'t> &'t str: Encode<'t, DB> + Type<DB>,
    for<'t> Option<&'t str>: Encode<'t, DB> + Type<DB>,
{
    let mut q = QueryBuilder::<DB>::new(prefix);
    q.push("WITH v(i, c, s, k) AS (");
    q.push_values(run.iter().enumerate(), |mut b, (i, r)| {
        b.push_bind(i as i64)
            .push_bind(r.conversation.as_str())
            .push_bind(sender(r))
            .push_bind(r.client_id.as_deref());
    });
    q.push(") SELECT v.i, m.left_at, m.agreed_at, m.muted, e.seq, e.created_at");
    q
}

/// Pushes the `UPDATE` that takes `n` seqs in each active conversation of `demand`.
/// The caller ends it (`RETURNING …` or `;`).
pub(crate) fn push_take_seqs<'a, DB>(
    q: &mut QueryBuilder<DB>,
    demand: impl IntoIterator<Item = (&'a str, i64)>,
) where
    DB: Database,
    for<'t> i64: Encode<'t, DB> + Type<DB>,
    for<'t> &'t str: Encode<'t, DB> + Type<DB>,
{
    q.push("WITH v(cid, n) AS (");
    q.push_values(demand, |mut b, (id, n)| {
        b.push_bind(id).push_bind(n);
    });
    q.push(
        ") UPDATE conversations SET last_seq = last_seq + v.n FROM v \
         WHERE conversations.id = v.cid AND conversations.state = ",
    );
    q.push_bind(ConversationState::Active.as_str());
}

/// Pushes one multi-row `INSERT` of `rows` (`(run index, seq)`). Every request of the
/// run is `bulk_eligible` (a message), checked before anything is written.
pub(crate) fn push_insert_events<DB>(
    q: &mut QueryBuilder<DB>,
    run: &[&AppendRequest],
    rows: &[(usize, i64)],
) where
    DB: Database,
    for<'t> i64: Encode<'t, DB> + Type<DB>,
    for<'t> &'t str: Encode<'t, DB> + Type<DB>,
    for<'t> Option<&'t str>: Encode<'t, DB> + Type<DB>,
    for<'t> &'t [u8]: Encode<'t, DB> + Type<DB>,
{
    q.push(
        "INSERT INTO events (conversation_id, seq, kind, sender, client_id, \
         key_id, nonce, body, created_at) ",
    );
    q.push_values(rows, |mut b, &(i, seq)| {
        let r = run[i];
        let sealed = message_body(r).expect("bulk runs hold only messages");
        b.push_bind(r.conversation.as_str())
            .push_bind(seq)
            .push_bind(EventKind::Message.as_str())
            .push_bind(sender(r))
            .push_bind(r.client_id.as_deref())
            .push_bind(i64::from(sealed.key_id))
            .push_bind(sealed.nonce.as_slice())
            .push_bind(sealed.ciphertext.as_slice())
            .push_bind(r.now);
    });
}

fn sender(r: &AppendRequest) -> &str {
    r.sender.as_ref().map_or("", |m| m.as_str())
}

macro_rules! impl_bulk_append {
    ($db:ty) => {
        /// Appends a run of `bulk_eligible` requests, in order, inside `tx`. `Err` only
        /// for a transport or database failure (the batch is then retried singly).
        async fn append_messages_in_tx(
            tx: &mut sqlx::Transaction<'static, $db>,
            run: &[&AppendRequest],
            may_post: $crate::store::MayPost,
        ) -> Result<Vec<Result<Appended, WriteError>>, StoreError> {
            use std::collections::HashMap;

            use $crate::store::sql::bulk::{
                CACHED_RUN, INSERT_CHUNK, LOOKUP_JOINS, lookup_query, push_insert_events,
                push_take_seqs,
            };
            use $crate::store::sql::bulk_plan::{Lookup, Plan, bulk_eligible};

            if !run.iter().all(|r| bulk_eligible(r)) {
                return Err(StoreError::Corrupt("bulk append of a non-message".into()));
            }
            let cached = run.len() <= CACHED_RUN;

            // Committed client ids and every sender's standing, in one statement.
            let mut q = lookup_query::<$db>("", run);
            q.push(" FROM v");
            q.push(LOOKUP_JOINS);
            let rows: Vec<Lookup> = q
                .build_query_as()
                .persistent(cached)
                .fetch_all(&mut **tx)
                .await
                .map_err(db_error)?;
            let plan = Plan::from_lookup(run, rows, may_post);
            let mut last_seq: HashMap<String, i64> = HashMap::new();
            let demand = plan.seq_demand();
            if !demand.is_empty() {
                let few = demand.len() <= CACHED_RUN;
                lock_conversations(tx, demand, few).await?;
                let mut q = sqlx::QueryBuilder::<$db>::new("");
                push_take_seqs(&mut q, demand.iter().map(|(id, n)| (id.as_str(), *n)));
                q.push(" RETURNING id, last_seq");
                let rows: Vec<(String, i64)> = q
                    .build_query_as()
                    .persistent(few)
                    .fetch_all(&mut **tx)
                    .await
                    .map_err(db_error)?;
                last_seq.extend(rows);
            }

            let (outcomes, rows) = plan.assign(run, &last_seq);
            for chunk in rows.chunks(INSERT_CHUNK) {
                let mut q = sqlx::QueryBuilder::<$db>::new("");
                push_insert_events(&mut q, run, chunk);
                q.build()
                    .persistent(chunk.len() <= CACHED_RUN)
                    .execute(&mut **tx)
                    .await
                    .map_err(db_error)?;
            }
            Ok(outcomes)
        }
    };
}

pub(crate) use impl_bulk_append;
