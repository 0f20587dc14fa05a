//! The raw bytes a server left on disk, for "is this secret anywhere in the files?".

use std::path::Path;

/// The SQLite database with its WAL and shared-memory files, concatenated.
pub fn sqlite_bytes(data_dir: &Path) -> Vec<u8> {
    let main = data_dir.join(mentorhub::config::DEFAULT_SQLITE_FILE);
    let mut bytes = std::fs::read(&main).expect("the SQLite file exists");
    for suffix in ["-wal", "-shm"] {
        let mut name = main.clone().into_os_string();
        name.push(suffix);
        if let Ok(more) = std::fs::read(&name) {
            bytes.extend(more);
        }
    }
    bytes
}

/// Every file under `dir`, concatenated (logs, keys, databases).
pub fn all_bytes(dir: &Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                bytes.extend(all_bytes(&path));
            } else if let Ok(more) = std::fs::read(&path) {
                bytes.extend(more);
            }
        }
    }
    bytes
}

/// Whether `needle` occurs in `haystack`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// The stored ciphertext of one timeline event (`events.body`), read straight from the
/// SQLite file of a running or stopped server; `None` once the body was removed (a
/// deleted message, an edit event). Lets a test check that bytes it saw stored are gone
/// from the files later, e.g. after a delete.
pub async fn stored_ciphertext(data_dir: &Path, conversation: &str, seq: u64) -> Option<Vec<u8>> {
    use sqlx::ConnectOptions;
    let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(data_dir.join(mentorhub::config::DEFAULT_SQLITE_FILE))
        .read_only(true)
        .connect()
        .await
        .expect("open the SQLite file read-only");
    let body: Option<Option<Vec<u8>>> =
        sqlx::query_scalar("SELECT body FROM events WHERE conversation_id = ?1 AND seq = ?2")
            .bind(conversation)
            .bind(seq as i64)
            .fetch_optional(&mut conn)
            .await
            .expect("read the events table");
    body.flatten()
}

/// Every file of one PostgreSQL database (its tables, indexes, TOAST and free-space
/// maps under `base/<oid>`), concatenated, read through the server as the superuser of
/// `admin_url` after a checkpoint has written every changed page to them.
pub async fn postgres_database_bytes(admin_url: &str, database: &str) -> Vec<u8> {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(admin_url)
        .await
        .expect("connect to PostgreSQL as its superuser");
    sqlx::query("CHECKPOINT")
        .execute(&mut conn)
        .await
        .expect("checkpoint");
    let files: Vec<String> = sqlx::query_scalar(
        "SELECT 'base/' || d.oid || '/' || f FROM pg_database d, \
         LATERAL pg_ls_dir('base/' || d.oid) f WHERE d.datname = $1",
    )
    .bind(database)
    .fetch_all(&mut conn)
    .await
    .expect("list the database's files");
    assert!(!files.is_empty(), "database {database} has files");
    let mut bytes = Vec::new();
    for file in files {
        // A file dropped meanwhile (a rewritten table's old file) reads as nothing.
        let content: Option<Vec<u8>> = sqlx::query_scalar(
            "SELECT pg_read_binary_file($1, 0, (pg_stat_file($1, true)).size, true)",
        )
        .bind(&file)
        .fetch_one(&mut conn)
        .await
        .expect("read a database file");
        bytes.extend(content.unwrap_or_default());
    }
    let _ = conn.close().await;
    bytes
}
