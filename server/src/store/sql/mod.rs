//! SQL storage on SQLite (embedded default) or PostgreSQL (several nodes).
//!
//! [`SqlStore`] is generic over the sqlx driver; the statements live in one macro per
//! concern (`engine.rs` the core store, `append.rs` timeline writes and group commit,
//! `bulk.rs` the many-messages-at-once append of a batch,
//! `calls.rs`, `digest.rs` the e-mail digest, `mentoring.rs` with its transaction steps in `mentoring_tx.rs`,
//! `safety.rs`), each compiled once per engine below.
//!
//! SQLite runs in WAL mode with `synchronous=FULL` and `secure_delete=ON` (a deleted
//! message's ciphertext is overwritten, not just unlinked); all its writes go through
//! one connection so writers never contend.

mod append;
mod bulk;
pub(crate) mod bulk_plan;
mod bulk_sqlite;
mod calls;
mod checkpoint;
mod digest;
mod engine;
mod member_changes;
mod mentoring;
mod mentoring_tx;
pub(crate) mod notify;
mod notify_rows;
mod pacing;
mod rows;
mod safety;
pub(crate) mod writer;

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Pool, Postgres, Sqlite};
use tokio::sync::mpsc;

use self::rows::*;
use crate::store::{RelationshipRecord, StoreError, StoreRules, WriteError};

/// A store on one SQL engine.
pub struct SqlStore<DB: sqlx::Database> {
    read: Pool<DB>,
    write: Pool<DB>,
    /// PostgreSQL reads and writes share one pool; SQLite has two.
    one_pool: bool,
    jobs: mpsc::Sender<writer::WriteJob>,
    rules: StoreRules,
    writer: writer::WriterShared,
}

/// The write side handed to the group-commit task.
pub(crate) struct Committer<DB: sqlx::Database> {
    pool: Pool<DB>,
    rules: StoreRules,
}

impl Committer<Sqlite> {
    /// A batch of plain messages in two hops to sqlx's worker thread (`bulk_sqlite.rs`).
    async fn commit_fast(
        &self,
        ops: &[writer::WriteOp],
    ) -> Option<Result<Vec<writer::Outcome>, StoreError>> {
        bulk_sqlite::commit_messages(&self.pool, ops, self.rules.may_post).await
    }
}

impl Committer<Postgres> {
    /// No fast path: every batch takes the general one.
    async fn commit_fast(
        &self,
        _ops: &[writer::WriteOp],
    ) -> Option<Result<Vec<writer::Outcome>, StoreError>> {
        None
    }
}

impl SqlStore<Sqlite> {
    /// Opens (creating if needed) `path` and runs migrations; `rules` are the domain's
    /// rules it applies inside its transactions.
    pub async fn open_sqlite(path: &Path, rules: StoreRules) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            .pragma("secure_delete", "ON")
            // Statement journals (multi-row statements inside a transaction) and other
            // temporary data in memory, not in temp files created and unlinked per batch.
            .pragma("temp_store", "MEMORY")
            // Checkpoints run on a connection of their own (`checkpoint.rs`), never
            // inside a commit.
            .pragma("wal_autocheckpoint", "0");
        // No ping before each acquire (sqlx's default): an in-process database cannot
        // have hung up, and the ping is a hop to sqlx's worker thread per transaction.
        let write = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .test_before_acquire(false)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options.clone())
            .await
            .map_err(db_error)?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&write)
            .await
            .map_err(|e| StoreError::Migration(e.to_string()))?;
        let read = SqlitePoolOptions::new()
            .max_connections(4)
            .test_before_acquire(false)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options.clone().read_only(true))
            .await
            .map_err(db_error)?;
        let store = Self::start(read, write, false, rules);
        tokio::spawn(checkpoint::run(
            options,
            Arc::downgrade(&store.writer.commits),
        ));
        Ok(store)
    }

    /// Moves everything in the write-ahead log into the database file and truncates the
    /// log, so deleted ciphertext no longer lingers in old WAL frames.
    pub(crate) async fn on_close(&self) -> Result<(), StoreError> {
        self.checkpoint().await
    }

    /// After plaintext was overwritten in place (`secure_delete` zeroes the old cells):
    /// the log's copies go too.
    async fn scrub_rewritten_rows(&self) -> Result<(), StoreError> {
        self.checkpoint().await
    }

    pub async fn checkpoint(&self) -> Result<(), StoreError> {
        // Only one checkpoint runs at a time and SQLite does not wait for another one
        // (the background `PASSIVE` of `checkpoint.rs`): it answers "busy" in the first
        // column instead. Retried until the log is really truncated.
        for _ in 0..CHECKPOINT_ATTEMPTS {
            let (busy, _, _): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
                .fetch_one(&self.write)
                .await
                .map_err(db_error)?;
            if busy == 0 {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Err(StoreError::Unavailable(
            "the write-ahead log could not be truncated: another checkpoint or a reader held it"
                .into(),
        ))
    }
}

/// Tries of a truncating checkpoint, 10 ms apart, before giving up.
const CHECKPOINT_ATTEMPTS: usize = 300;

/// A pooled PostgreSQL connection idle this long is pinged before it is handed out.
const PG_PING_AFTER_IDLE: Duration = Duration::from_secs(30);

impl SqlStore<Postgres> {
    /// Connects to `url` and runs migrations; `rules` as for SQLite.
    pub async fn open_postgres(url: &str, rules: StoreRules) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(url).map_err(db_error)?;
        let pool = PgPoolOptions::new()
            .max_connections(16)
            // sqlx pings before every acquire by default: a network round trip per
            // transaction. Only a connection idle long enough to have been cut (a
            // restart, a proxy's idle timeout) is checked before use.
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for >= PG_PING_AFTER_IDLE {
                        sqlx::Connection::ping(conn).await?;
                    }
                    Ok(true)
                })
            })
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(db_error)?;
        sqlx::migrate!("./migrations/postgres")
            .run(&pool)
            .await
            .map_err(|e| StoreError::Migration(e.to_string()))?;
        Ok(Self::start(pool.clone(), pool, true, rules))
    }

    /// After plaintext was overwritten: an update leaves the old row version in the
    /// table's pages until the table is rewritten. Rare (an upgrade's one-off pass), so
    /// the short exclusive lock of a full rewrite is acceptable.
    async fn scrub_rewritten_rows(&self) -> Result<(), StoreError> {
        sqlx::query("VACUUM FULL conversations")
            .execute(&self.write)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    pub(crate) async fn on_close(&self) -> Result<(), StoreError> {
        self.read.close().await;
        Ok(())
    }
}

impl<DB: sqlx::Database> SqlStore<DB> {
    fn start(read: Pool<DB>, write: Pool<DB>, one_pool: bool, rules: StoreRules) -> Self
    where
        Committer<DB>: writer::BatchCommit,
    {
        let (jobs, queue) = mpsc::channel(writer::QUEUE);
        let shared = writer::WriterShared::default();
        tokio::spawn(writer::run(
            Committer {
                pool: write.clone(),
                rules,
            },
            queue,
            shared.clone(),
        ));
        SqlStore {
            read,
            write,
            one_pool,
            jobs,
            rules,
            writer: shared,
        }
    }

    /// How long a small batch of frequent arrivals may wait for more before it commits
    /// (`pacing.rs`); zero (the default) never waits.
    pub fn set_commit_delay(&self, delay: Duration) {
        self.writer.delay.set(delay);
    }

    /// Connections in use per pool, and writes waiting for the group-commit writer
    /// (sqlx does not count tasks waiting for a pooled connection; hot writes queue
    /// here instead, and a read pool at its size is saturated).
    fn usage_now(&self) -> crate::store::StoreUsage {
        let usage = |pool: &'static str, of: &Pool<DB>| crate::store::PoolUsage {
            pool,
            in_use: of.size().saturating_sub(of.num_idle() as u32),
            size: of.options().get_max_connections(),
        };
        let pools = if self.one_pool {
            vec![usage("shared", &self.read)]
        } else {
            vec![usage("read", &self.read), usage("write", &self.write)]
        };
        crate::store::StoreUsage {
            pools,
            writes_waiting: self.jobs.max_capacity() - self.jobs.capacity(),
        }
    }
}

fn db_error(error: sqlx::Error) -> StoreError {
    StoreError::Unavailable(error.to_string())
}

fn unique_as_name_taken(error: sqlx::Error) -> WriteError {
    let unique = error
        .as_database_error()
        .is_some_and(|e| e.is_unique_violation());
    if unique {
        WriteError::NameTaken
    } else {
        WriteError::Store(db_error(error))
    }
}

fn unique_as_conflict(error: sqlx::Error) -> WriteError {
    let unique = error
        .as_database_error()
        .is_some_and(|e| e.is_unique_violation());
    if unique {
        WriteError::Conflict
    } else {
        WriteError::Store(db_error(error))
    }
}

fn into_store_error(error: WriteError) -> StoreError {
    match error {
        WriteError::Store(e) => e,
        other => StoreError::Corrupt(other.to_string()),
    }
}

macro_rules! parties_select {
    () => {
        "SELECT p.relationship_id, p.account_id, p.member_id, p.role, \
    p.response, m.display_name, m.pseudonymous, a.name AS account_name, p.note_key_id, \
    p.note_nonce, p.note FROM relationship_parties p \
    JOIN relationships r ON r.id = p.relationship_id \
    JOIN members m ON m.conversation_id = r.conversation_id AND m.member_id = p.member_id \
    LEFT JOIN accounts a ON a.id = p.account_id"
    };
}

const PARTIES_SELECT: &str = parties_select!();

const PARTIES_SELECT_ONE: &str = concat!(
    parties_select!(),
    " WHERE p.relationship_id = $1 ORDER BY p.role DESC, p.member_id"
);

fn assemble_relationship(
    row: RelationshipRow,
    parties: Vec<PartyRow>,
) -> Result<RelationshipRecord, StoreError> {
    use crate::protocol::vocabulary::{Origin, RelationshipState};
    Ok(RelationshipRecord {
        id: relationship_id(&row.id),
        conversation: crate::ids::ConversationId::from_stored(row.conversation_id),
        origin: word(&row.origin, Origin::parse, "relationship origin")?,
        state: word(&row.state, RelationshipState::parse, "relationship state")?,
        version: row.version.max(0) as u64,
        created_by: crate::ids::AccountId::from_stored(row.created_by),
        coordinator: row.coordinator.map(crate::ids::AccountId::from_stored),
        introduction: sealed(row.intro_key_id, row.intro_nonce, row.intro),
        parties: parties
            .into_iter()
            .map(TryInto::try_into)
            .collect::<Result<_, _>>()?,
        first_conversation: row.first_conversation != 0,
        created_at: row.created_at,
        updated_at: row.updated_at,
        ended_at: row.ended_at,
    })
}

/// Relationships with their parties, each party row given to its relationship.
fn assemble_relationships(
    rows: Vec<RelationshipRow>,
    parties: Vec<PartyRow>,
) -> Result<Vec<RelationshipRecord>, StoreError> {
    let mut by_relationship: std::collections::HashMap<String, Vec<PartyRow>> =
        std::collections::HashMap::new();
    for party in parties {
        by_relationship
            .entry(party.relationship_id.clone())
            .or_default()
            .push(party);
    }
    rows.into_iter()
        .map(|row| {
            let parties = by_relationship.remove(&row.id).unwrap_or_default();
            assemble_relationship(row, parties)
        })
        .collect()
}

/// Imports shared by both engine instantiations.
mod prelude {
    pub(super) use super::rows::*;
    pub(super) use super::{
        PARTIES_SELECT, PARTIES_SELECT_ONE, SqlStore, assemble_relationship,
        assemble_relationships, db_error, into_store_error, unique_as_conflict,
        unique_as_name_taken, writer,
    };
    pub(super) use crate::auth::Role;
    pub(super) use crate::crypto::Sealed;
    pub(super) use crate::ids::{AccountId, CallId, ConversationId, Millis, RelationshipId, Seq};
    pub(super) use crate::protocol::server::Settings;
    pub(super) use crate::protocol::vocabulary::EmailDigest;
    pub(super) use crate::protocol::vocabulary::{
        ConversationKind, ConversationState, MemberRole, Origin, PartyRole, RelationshipState,
        ReportState,
    };
    pub(super) use crate::store::{
        AccountRecord, AppendKind, AppendRequest, Appended, CallRecord, CommitHook, EventKind,
        EventQuery, HiddenSender, MemberRecord, Membership, NewRelationship, PendingAppend,
        ReadMarker, RelationshipRecord, Store, StoreError, StoreResult, StoredEvent, ThreadRecord,
        UnreadCounts, WriteError,
    };
    pub(super) use crate::store::{
        DigestChoice, DigestLease, DigestRelease, DigestStore, DigestUpdate, UnreadSince,
    };
}

mod on_sqlite {
    use super::prelude::*;

    /// Nothing to lock before a bulk append moves several conversations' seqs: SQLite
    /// has one writer, and `BEGIN IMMEDIATE` already holds it.
    async fn lock_conversations(
        _tx: &mut sqlx::Transaction<'static, sqlx::Sqlite>,
        _demand: &[(String, i64)],
        _cached: bool,
    ) -> Result<(), StoreError> {
        Ok(())
    }

    super::engine::impl_sql_store!(sqlx::Sqlite);
    super::append::impl_append_sql!(sqlx::Sqlite);
    super::bulk::impl_bulk_append!(sqlx::Sqlite);
    super::calls::impl_call_sql!(sqlx::Sqlite);
    super::mentoring_tx::impl_mentoring_tx!(sqlx::Sqlite);
    super::mentoring::impl_mentoring_store!(sqlx::Sqlite);
    super::safety::impl_safety_store!(sqlx::Sqlite);
    // One writer: the claim's select and update cannot interleave with another's.
    super::notify::impl_notify_store!(sqlx::Sqlite, super::notify::claim_sql!(""));
    super::digest::impl_digest_store!(sqlx::Sqlite);
}

mod on_postgres {
    use super::prelude::*;

    /// Locks the conversations a bulk append takes seqs in, in one byte order
    /// (`COLLATE "C"`), so two nodes' batches never wait on each other in a cycle.
    async fn lock_conversations(
        tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
        demand: &[(String, i64)],
        cached: bool,
    ) -> Result<(), StoreError> {
        let mut q =
            sqlx::QueryBuilder::<sqlx::Postgres>::new("SELECT id FROM conversations WHERE id IN (");
        let mut ids = q.separated(", ");
        for (id, _) in demand {
            ids.push_bind(id.as_str());
        }
        q.push(") ORDER BY id COLLATE \"C\" FOR UPDATE");
        q.build()
            .persistent(cached)
            .execute(&mut **tx)
            .await
            .map_err(db_error)?;
        Ok(())
    }

    super::engine::impl_sql_store!(sqlx::Postgres);
    super::append::impl_append_sql!(sqlx::Postgres);
    super::bulk::impl_bulk_append!(sqlx::Postgres);
    super::calls::impl_call_sql!(sqlx::Postgres);
    super::mentoring_tx::impl_mentoring_tx!(sqlx::Postgres);
    super::mentoring::impl_mentoring_store!(sqlx::Postgres);
    super::safety::impl_safety_store!(sqlx::Postgres);
    // Rows another node is claiming are passed over, not waited for.
    super::notify::impl_notify_store!(
        sqlx::Postgres,
        super::notify::claim_sql!(" FOR UPDATE SKIP LOCKED")
    );
    super::digest::impl_digest_store!(sqlx::Postgres);
}
