//! Abuse resistance: what a cheap flood or a determined insider can try, and what the
//! server answers. Every test's name contains `abuse`
//! (`cargo nextest run -p mentorhub-tests -E 'test(/abuse/)'`).
//!
//! | module | what |
//! |---|---|
//! | `connections` | idle and slowloris sockets closed by the header timeout, connection caps answering 503 while `/healthz` keeps answering, oversized headers, forwarded clients behind a trusted proxy |
//! | `descriptors` | a process with a 1,024 open-file limit under 1,100 idle connections: `/healthz` answers throughout, the rest gets 503 |
//! | `browser` | hardening headers on `/`, HSTS behind TLS, DNS rebinding refused by `Host` and by `Origin` |
//! | `tokens` | `iat` in the future, lifetimes beyond the maximum, expiry to the millisecond |
//! | `accounts` | one action budget per account over its connections, REST and two nodes; caps on devices, open rooms, live invite codes, requests waiting for a mentor |
//! | `races` | one invite code tried by many at once admits one; simultaneous requests to one mentor leave one open request (SQLite and PostgreSQL) |
//! | `frames` | 1007 for invalid UTF-8, a largest body fully escaped is `body_invalid` not 1009, history pages bounded in bytes |

mod accounts;
mod browser;
mod connections;
mod descriptors;
mod frames;
mod races;
mod tokens;

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One raw HTTP/1.1 request on a fresh connection; returns the status and the response
/// head (status line and headers, lower-cased names kept as sent).
pub async fn raw_request(addr: std::net::SocketAddr, request: &str) -> (u16, String) {
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    tcp.write_all(request.as_bytes()).await.expect("write");
    read_head(&mut tcp, Duration::from_secs(10)).await
}

/// Reads until the end of a response head (or EOF) within `within`.
pub async fn read_head(tcp: &mut TcpStream, within: Duration) -> (u16, String) {
    let mut buf = Vec::new();
    let read = async {
        let mut chunk = [0u8; 4096];
        loop {
            match tcp.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
            if buf.windows(4).any(|w| w == b"\r\n\r\n") {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(within, read).await;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

/// `GET path` with a `Host` header and optional extra header lines.
pub fn get(path: &str, host: &str, extra: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}Connection: close\r\n\r\n")
}
