//! SQLite's WAL checkpoints, off the commit path.
//!
//! By default SQLite checkpoints inside the commit that pushes the log past 1,000 pages:
//! that commit copies the log into the database file before it answers, while every
//! message queued behind it waits (at the saturation knee, checkpoints were 5.6 % of
//! the server's samples, all on the single write connection). The write connection
//! therefore never checkpoints (`wal_autocheckpoint=0`); this task does, on a connection
//! of its own (so on another thread), in `PASSIVE` mode, which never blocks a writer or a
//! reader: a short while after commits happened, whatever the log holds is copied back.
//! Closing the store still truncates the log (`SqlStore::checkpoint`).

use std::sync::Weak;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sqlx::ConnectOptions;
use sqlx::sqlite::SqliteConnectOptions;

/// How often the task looks for new commits. The log grows by at most this interval's
/// writes between checkpoints (about what the default 1,000-page threshold allows at
/// the knee).
const EVERY: Duration = Duration::from_millis(200);

/// Runs until the store is gone (`commits` can no longer be upgraded).
pub(crate) async fn run(options: SqliteConnectOptions, commits: Weak<AtomicU64>) {
    let mut conn = match options.connect().await {
        Ok(conn) => conn,
        Err(error) => {
            // Without it the log still stays bounded: closing truncates it, and an
            // operator sees the warning. Commits are not affected.
            tracing::warn!(%error, "WAL checkpointer could not connect; the log is checkpointed only on close");
            return;
        }
    };
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut checkpointed_at = 0;
    loop {
        tick.tick().await;
        let Some(commits) = commits.upgrade() else {
            break;
        };
        let now = commits.load(Ordering::Relaxed);
        drop(commits);
        if now == checkpointed_at {
            continue;
        }
        checkpointed_at = now;
        if let Err(error) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&mut conn)
            .await
        {
            tracing::warn!(%error, "WAL checkpoint failed; retried after the next commit");
        }
    }
}
