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

/// Runs up to this long keep their (size-specific) statements in sqlx's cache; longer
/// ones are prepared once and dropped, so they do not evict the hot statements.
pub(crate) const CACHED_RUN: usize = 16;
/// Rows per `INSERT` (8 binds each: far under SQLite's 32,766 and PostgreSQL's 65,535).
pub(crate) const INSERT_CHUNK: usize = 1024;

macro_rules! impl_bulk_append {
    ($db:ty) => {
        /// Appends a run of `bulk_eligible` requests, in order, inside `tx`. `Err` only
        /// for a transport or database failure (the batch is then retried singly).
        async fn append_messages_in_tx(
            tx: &mut sqlx::Transaction<'static, $db>,
            run: &[&AppendRequest],
        ) -> Result<Vec<Result<Appended, WriteError>>, StoreError> {
            use std::collections::HashMap;

            use $crate::store::sql::bulk::{CACHED_RUN, INSERT_CHUNK};
            use $crate::store::sql::bulk_plan::{LOOKUP_JOINS, Lookup, Plan, lookup_query};

            fn sender(r: &AppendRequest) -> &str {
                r.sender.as_ref().map_or("", |m| m.as_str())
            }
            let cached = run.len() <= CACHED_RUN;
            let mut bodies = Vec::with_capacity(run.len());
            for r in run {
                match &r.kind {
                    AppendKind::Message { body, thread: None } if r.sender.is_some() => {
                        bodies.push(body)
                    }
                    _ => return Err(StoreError::Corrupt("bulk append of a non-message".into())),
                }
            }

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
            let plan = Plan::from_lookup(run, rows);
            let mut last_seq: HashMap<String, i64> = HashMap::new();
            let demand = plan.seq_demand();
            if !demand.is_empty() {
                let few = demand.len() <= CACHED_RUN;
                if <$db as sqlx::Database>::NAME == "PostgreSQL" {
                    let mut q = sqlx::QueryBuilder::<$db>::new(
                        "SELECT id FROM conversations WHERE id IN (",
                    );
                    let mut ids = q.separated(", ");
                    for (id, _) in demand {
                        ids.push_bind(id.as_str());
                    }
                    q.push(") ORDER BY id COLLATE \"C\" FOR UPDATE");
                    q.build()
                        .persistent(few)
                        .execute(&mut **tx)
                        .await
                        .map_err(db_error)?;
                }
                let mut q = sqlx::QueryBuilder::<$db>::new("WITH v(cid, n) AS (");
                q.push_values(demand, |mut b, (id, n)| {
                    b.push_bind(id.as_str()).push_bind(*n);
                });
                q.push(
                    ") UPDATE conversations SET last_seq = last_seq + v.n FROM v \
                     WHERE conversations.id = v.cid AND conversations.state = 'active' \
                     RETURNING id, last_seq",
                );
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
                let mut q = sqlx::QueryBuilder::<$db>::new(
                    "INSERT INTO events (conversation_id, seq, kind, sender, client_id, \
                     key_id, nonce, body, created_at) ",
                );
                q.push_values(chunk, |mut b, &(i, seq)| {
                    let (r, sealed) = (run[i], bodies[i]);
                    b.push_bind(r.conversation.as_str())
                        .push_bind(seq)
                        .push("'message'")
                        .push_bind(sender(r))
                        .push_bind(r.client_id.as_deref())
                        .push_bind(i64::from(sealed.key_id))
                        .push_bind(sealed.nonce.as_slice())
                        .push_bind(sealed.ciphertext.as_slice())
                        .push_bind(r.now);
                });
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
