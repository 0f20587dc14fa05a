//! PostgreSQL refusing connections makes every request fail the same way; the log gets
//! one line for the cause and, once the interval is over, one line with the count of the
//! rest — not one line per request.

use std::time::Duration;

use futures_util::future::join_all;
use mentorhub_tests::cluster::{PgDatabase, postgres_admin_url};
use mentorhub_tests::process::{ProcessOptions, spawn_process_with};
use mentorhub_tests::{WsClient, eventually};
use sqlx::Connection;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_refusing_connections_logs_one_line_per_cause_with_a_count() {
    let db = PgDatabase::create().await;
    let server = spawn_process_with(
        ProcessOptions::default()
            .set("database_url", db.url.clone())
            .set("log", "info"),
    )
    .await;
    let person = server.rest.login("Dr Flood", "mentor").await;
    // Refuse new connections and end the server's current ones.
    let mut admin = sqlx::PgConnection::connect(&postgres_admin_url())
        .await
        .expect("admin connection");
    for statement in [
        format!("ALTER DATABASE {} ALLOW_CONNECTIONS false", db.name),
        format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{}'",
            db.name
        ),
    ] {
        sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
            .execute(&mut admin)
            .await
            .expect("make PostgreSQL refuse the test database");
    }
    // Hundreds of sessions that each need the store.
    let mut refused = 0;
    for _ in 0..10 {
        let attempts = join_all((0..30).map(|_| async {
            let mut ws = WsClient::open(&server.ws_url).await;
            ws.hello(&person.token, &Default::default()).await
        }))
        .await;
        refused += attempts.iter().filter(|r| r["type"] == "error").count();
    }
    assert!(
        refused >= 250,
        "sessions failed while the store refused: {refused}"
    );
    let failures = |logs: &str| logs.lines().filter(|l| l.contains("store error")).count();
    let logs = server.logs();
    assert!(
        failures(&logs) <= 2,
        "{} `store error` lines for {refused} failures",
        failures(&logs)
    );
    // After the interval, one line counts what was left out, naming the statement by
    // its target (as the original line shows it) and file.
    let target = logs
        .lines()
        .find(|l| l.contains("store error"))
        // After the level and any span context (`connection{conn=3 node=n_x}:`).
        .and_then(|l| {
            l.split_whitespace()
                .skip(2)
                .find(|t| t.ends_with(':') && !t.contains(['{', '}']))
        })
        .map(|t| t.trim_end_matches(':').to_owned())
        .expect("the first store error is written");
    let summary = eventually(Duration::from_secs(20), "the summary line", || {
        let logs = server.logs();
        let of = format!("of={target} ");
        async move {
            logs.lines()
                .find(|l| {
                    l.contains("repeated log lines left out")
                        && l.contains("level=ERROR")
                        && l.contains(&of)
                })
                .map(str::to_owned)
        }
    })
    .await;
    let suppressed: u64 = summary
        .split("suppressed=")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("a count in the summary");
    assert!(suppressed >= 200, "{summary}");
    let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "ALTER DATABASE {} ALLOW_CONNECTIONS true",
        db.name
    )))
    .execute(&mut admin)
    .await;
}
