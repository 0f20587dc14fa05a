//! The end-to-end harness: real servers (in-process on port 0, or `mentorhub` processes),
//! real WebSocket and HTTP clients, and the engines the cluster tests need.
//!
//! | module | what |
//! |---|---|
//! | [`app`] | an in-process server on 127.0.0.1:0 in dev mode, on a temporary data dir |
//! | [`process`] | the `mentorhub` binary as a child process (SIGKILL, SIGTERM, restart, logs) |
//! | [`contract`] | every frame and REST body received, checked against the served AsyncAPI/OpenAPI schemas |
//! | [`cluster`] | several processes on one PostgreSQL database and one Redis |
//! | [`rest`] | the HTTP API client, signing in by dev login or by minting tokens |
//! | [`ws`] | a WebSocket client that keeps a backlog, timeline events and cursors |
//! | [`scenario`] | people and accepted mentoring pairs |
//! | [`tokens`] | good and deliberately bad JWTs |
//! | [`disk`] | the raw bytes of the SQLite files, for confidentiality checks |
//! | [`netns`] | a node in a network namespace of its own, links cut or lossy one at a time |
//! | [`oidc`] | a real OpenID provider (npm `oidc-provider`) and the code + PKCE sign-in through it |
//! | [`janus`] | a Janus SFU instance per test, from the repository's `deploy/janus/` templates |
//! | [`smtp`] | a real SMTP server (Python `aiosmtpd`) that keeps every message it accepts |

use std::future::Future;
use std::time::{Duration, Instant};

pub mod app;
pub mod cluster;
pub mod contract;
pub mod disk;
pub mod janus;
pub mod netns;
pub mod oidc;
pub mod process;
pub mod rest;
pub mod scenario;
pub mod smtp;
pub mod tokens;
pub mod ws;

pub use app::{TestApp, spawn_app, spawn_app_with};
pub use rest::{Reply, Rest};
pub use scenario::{Pair, Person};
pub use ws::WsClient;

/// How long a test waits for something that should happen promptly.
pub const WAIT: Duration = Duration::from_secs(10);

/// Polls `check` until it yields `Some`, or panics naming `what` after `within`.
pub async fn eventually<T, F, Fut>(within: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {within:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
