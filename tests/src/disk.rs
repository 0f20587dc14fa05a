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
