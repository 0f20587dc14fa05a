//! The accept loop: every TCP connection from accept to close.
//!
//! `axum::serve` has no header timeout, no header size limit and no connection cap, so
//! the loop is ours, on hyper's HTTP/1 connection builder:
//! - a connection must deliver each request's headers within `header_timeout` — the
//!   first request of a new connection (an idle socket before any request or upgrade is
//!   closed then) and each later one on a kept-alive connection; slowly trickled headers
//!   ("slowloris") do not reset it;
//! - request headers larger than [`MAX_HEADER_BYTES`] are refused (431);
//! - admission by [`ConnectionCaps`]: a connection over the global or per-address cap is
//!   answered, not queued: `/healthz` still gets `200 ok` and everything else `503` with
//!   `Retry-After`, by a small separate pool ([`OVERFLOW_SLOTS`]). When the pool is full
//!   its oldest connection is dropped for the newest, so sockets that connect and say
//!   nothing cannot keep a health check from being answered. The caps sit below the
//!   open-file limit, so the process never runs out of descriptors and always has some
//!   to answer with.
//!
//! On shutdown the loop stops accepting, asks every connection to finish its request in
//! flight and close, and waits for them (upgraded WebSockets are drained by the hub).

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, Request, header};
use axum::response::{IntoResponse, Response};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use super::ApiError;
use super::limits::{Admitted, ConnectionCaps, Refused};
use crate::protocol::ErrorCode;

/// Largest request head (request line and headers) accepted. A token in
/// `Authorization` is at most 16 KiB; nothing legitimate comes near this.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;
/// Connections over a cap answered at the same time; a newer one evicts the oldest.
pub const OVERFLOW_SLOTS: usize = 64;
/// How long an over-cap connection has to send its request.
const OVERFLOW_HEADER_TIMEOUT: Duration = Duration::from_secs(2);
/// What a refused client is told to wait before retrying.
const RETRY_AFTER_SECS: &str = "5";

pub struct ListenSettings {
    pub header_timeout: Duration,
}

/// Serves `router` on `listener` until `shutdown` is cancelled, then drains.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    caps: ConnectionCaps,
    settings: ListenSettings,
    shutdown: CancellationToken,
) {
    let connections = TaskTracker::new();
    let overflow = Overflow::default();
    let mut accept_errors = AcceptErrors::default();
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    accept_errors.back_off(&error).await;
                    continue;
                }
            },
            _ = shutdown.cancelled() => break,
        };
        // Frames are small and must leave at once: with Nagle's algorithm a frame written
        // while an earlier one is unacknowledged waits for the client's delayed ACK
        // (40 ms on Linux).
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%error, "TCP_NODELAY not set");
        }
        match caps.admit(peer.ip()) {
            Ok(admitted) => {
                let io = Counted {
                    tcp,
                    _admitted: admitted,
                };
                connections.spawn(serve_connection(
                    io,
                    peer,
                    router.clone(),
                    settings.header_timeout,
                    shutdown.clone(),
                ));
            }
            Err(why) => {
                metrics::counter!("mentorhub_connections_refused_total", "why" => why.as_str())
                    .increment(1);
                let (id, evicted) = overflow.enter();
                let overflow = overflow.clone();
                connections.spawn(async move {
                    tokio::select! {
                        _ = answer_over_cap(tcp) => {}
                        _ = evicted.cancelled() => {}
                    }
                    overflow.leave(id);
                });
            }
        }
    }
    drop(listener);
    connections.close();
    connections.wait().await;
}

async fn serve_connection(
    io: Counted,
    peer: SocketAddr,
    router: Router,
    header_timeout: Duration,
    shutdown: CancellationToken,
) {
    let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        router.clone().oneshot(request)
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .max_buf_size(MAX_HEADER_BYTES);
    let connection = builder
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => log_connection_end(result),
        _ = shutdown.cancelled() => {
            connection.as_mut().graceful_shutdown();
            log_connection_end(connection.await);
        }
    }
}

fn log_connection_end(result: Result<(), hyper::Error>) {
    if let Err(error) = result {
        // Timeouts, resets and malformed requests are the client's business; the
        // error text never contains request content.
        tracing::debug!(%error, "connection closed with an error");
    }
}

/// Over a cap: read one request (briefly), answer `/healthz` and refuse the rest.
async fn answer_over_cap(tcp: TcpStream) {
    let service = hyper::service::service_fn(|request: Request<Incoming>| async move {
        let response = if request.uri().path() == "/healthz" {
            "ok".into_response()
        } else {
            busy()
        };
        Ok::<_, std::convert::Infallible>(response)
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(OVERFLOW_HEADER_TIMEOUT)
        .max_buf_size(MAX_HEADER_BYTES)
        .keep_alive(false);
    log_connection_end(builder.serve_connection(TokioIo::new(tcp), service).await);
}

/// The connections being answered over a cap, oldest first.
#[derive(Clone, Default)]
struct Overflow {
    /// `std` mutex: held for a queue update only, never across an `.await`.
    inner: Arc<Mutex<OverflowQueue>>,
}

#[derive(Default)]
struct OverflowQueue {
    next_id: u64,
    /// (id, told to go) of each connection being answered.
    entries: VecDeque<(u64, CancellationToken)>,
}

impl Overflow {
    /// Registers a connection; when the pool is full the oldest is told to go.
    fn enter(&self) -> (u64, CancellationToken) {
        let mut queue = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if queue.entries.len() >= OVERFLOW_SLOTS
            && let Some((_, oldest)) = queue.entries.pop_front()
        {
            oldest.cancel();
        }
        queue.next_id += 1;
        let id = queue.next_id;
        let token = CancellationToken::new();
        queue.entries.push_back((id, token.clone()));
        (id, token)
    }

    fn leave(&self, id: u64) {
        let mut queue = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        queue.entries.retain(|(entry, _)| *entry != id);
    }
}

/// `503` with `Retry-After`, in the API's error shape.
pub fn busy() -> Response {
    let mut response = ApiError::new(
        ErrorCode::Unavailable,
        "the server is at its connection limit; retry later",
    )
    .into_response();
    response.headers_mut().insert(
        header::RETRY_AFTER,
        HeaderValue::from_static(RETRY_AFTER_SECS),
    );
    response
}

impl Refused {
    fn as_str(self) -> &'static str {
        match self {
            Refused::ServerFull => "server_full",
            Refused::AddressFull => "address_full",
        }
    }
}

/// Accept errors: out of descriptors (per process or system-wide) means wait for some
/// to close; anything else (a connection reset before accept) is the peer's and retried.
#[derive(Default)]
struct AcceptErrors {
    last_warned: Option<Instant>,
}

impl AcceptErrors {
    async fn back_off(&mut self, error: &io::Error) {
        let out_of_descriptors =
            matches!(error.raw_os_error(), Some(code) if code == EMFILE || code == ENFILE);
        if !out_of_descriptors {
            return;
        }
        if self
            .last_warned
            .is_none_or(|at| at.elapsed() > Duration::from_secs(10))
        {
            self.last_warned = Some(Instant::now());
            tracing::warn!(%error, "out of file descriptors: not accepting for a moment");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

const EMFILE: i32 = nix::errno::Errno::EMFILE as i32;
const ENFILE: i32 = nix::errno::Errno::ENFILE as i32;

/// A connection's socket with its admission: the slots are released when the socket is
/// dropped, which for a WebSocket is when the upgraded connection closes.
struct Counted {
    tcp: TcpStream,
    _admitted: Admitted,
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.tcp).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }
}
