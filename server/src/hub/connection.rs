//! One connection from upgrade to close: `hello`, registration, `welcome`, then the
//! reader loop in this task and the writer loop in its own.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::SplitStream;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio::time::timeout;
use tracing::Instrument;

use super::handle::ConnHandle;
use super::transport::{Gone, Incoming, Outgoing, Transport};
use super::writer::{Cursor, Writer};
use super::{Hub, reader::Reader};
use crate::auth::Principal;
use crate::error::Refusal;
use crate::ids::{ConversationId, Seq};
use crate::observability;
use crate::protocol::server::{AccountView, Heartbeat, Limits, PROTOCOL_VERSION};
use crate::protocol::{ClientFrame, ErrorCode, ServerFrame, close};

/// Serves one upgraded socket until it closes.
pub async fn serve_socket<T: Transport>(hub: Arc<Hub>, socket: Box<T>) {
    // What a log line may say about a connection: which one on which node, never whose
    // (no account, name, token or address).
    let id = hub.next_id();
    let span = tracing::info_span!("connection", conn = id, node = %hub.mentoring.node());
    serve(hub, socket, id).instrument(span).await
}

async fn serve<T: Transport>(hub: Arc<Hub>, mut socket: Box<T>, id: u64) {
    if !hub.admit() {
        let _ = send_close(&mut socket, close::SERVER_FULL, "server full, retry later").await;
        return;
    }
    metrics::counter!("mentorhub_connections_total").increment(1);
    // Boxed, as every step that runs once: a task is as large as its largest state,
    // and idle connections should pay only for the reader's.
    if let Some((principal, cursors)) = Box::pin(await_hello(&hub, &mut socket)).await {
        run_session(hub.clone(), socket, id, principal, cursors).await;
    }
    hub.release();
}

async fn send_frame<T: Transport>(socket: &mut T, frame: &ServerFrame) -> Result<(), Gone> {
    socket.send(Outgoing::text(frame.to_json())).await
}

async fn send_close<T: Transport>(
    socket: &mut T,
    code: u16,
    reason: &'static str,
) -> Result<(), Gone> {
    socket.send(Outgoing::Close { code, reason }).await
}

/// Refuses the handshake with an error frame and a close code.
async fn refuse<T: Transport>(
    socket: &mut T,
    code: ErrorCode,
    message: String,
    close_code: u16,
    reason: &'static str,
) {
    metrics::counter!("mentorhub_errors_total", "code" => code.as_str()).increment(1);
    let _ = send_frame(socket, &ServerFrame::error(code, message)).await;
    let _ = send_close(socket, close_code, reason).await;
}

/// Refuses a session the server cannot start just now; the client reconnects.
async fn refuse_for_now<T: Transport>(socket: &mut T, refusal: Refusal) {
    let message = refusal.message.into_owned();
    refuse(
        socket,
        refusal.code,
        message,
        close::GOING_AWAY,
        "try again",
    )
    .await;
}

/// Waits for `hello` (within the hello timeout) and verifies its token.
async fn await_hello<T: Transport>(
    hub: &Hub,
    socket: &mut T,
) -> Option<(Principal, HashMap<String, Seq>)> {
    let first = match timeout(hub.settings.hello_timeout, socket.next()).await {
        Err(_) => {
            let _ = send_close(socket, close::HELLO_TIMEOUT, "no hello in time").await;
            return None;
        }
        Ok(Some(Err(error))) => {
            // A broken first frame is closed like any other broken frame.
            if let Some((code, reason)) = error.close() {
                let _ = send_close(socket, code, reason).await;
            }
            return None;
        }
        Ok(None) => return None,
        Ok(Some(Ok(message))) => message,
    };
    let payload = match first {
        Incoming::Text(payload) => payload,
        Incoming::Close => return None,
        _ => {
            refuse(
                socket,
                ErrorCode::ProtocolViolation,
                "the first frame must be a `hello` text frame".into(),
                close::PROTOCOL_VIOLATION,
                "expected hello",
            )
            .await;
            return None;
        }
    };
    let text = match super::transport::text(&payload) {
        Ok(text) => text,
        Err(error) => {
            if let Some((code, reason)) = error.close() {
                let _ = send_close(socket, code, reason).await;
            }
            return None;
        }
    };
    let hello = match ClientFrame::decode(text) {
        Ok(ClientFrame::Hello(hello)) => hello,
        Ok(_) => {
            refuse(
                socket,
                ErrorCode::ProtocolViolation,
                "the first frame must be `hello`".into(),
                close::PROTOCOL_VIOLATION,
                "expected hello",
            )
            .await;
            return None;
        }
        Err(error) => {
            refuse(
                socket,
                error.code,
                error.detail,
                close::PROTOCOL_VIOLATION,
                "expected hello",
            )
            .await;
            return None;
        }
    };
    match hub.verifier.verify(&hello.token).await {
        Ok(principal) => Some((principal, hello.cursors)),
        Err(error) => {
            tracing::info!(reason = error.code(), "hello refused");
            refuse(
                socket,
                ErrorCode::Unauthorized,
                format!("token refused: {}", error.code()),
                close::UNAUTHORIZED,
                "unauthorized",
            )
            .await;
            None
        }
    }
}

/// A session past `welcome`: what the reader loop and the close need.
struct Open<T> {
    conn: Arc<ConnHandle>,
    stream: SplitStream<T>,
    writer_task: tokio::task::JoinHandle<()>,
}

async fn run_session<T: Transport>(
    hub: Arc<Hub>,
    socket: Box<T>,
    id: u64,
    principal: Principal,
    cursors: HashMap<String, Seq>,
) {
    let Some(open) = Box::pin(open_session(&hub, socket, id, &principal, cursors)).await else {
        return;
    };
    let Open {
        conn,
        stream,
        writer_task,
    } = open;
    let unfinished = Reader::new(hub.clone(), conn.clone(), principal)
        .run(stream)
        .await;
    Box::pin(close_session(hub, conn, writer_task, unfinished)).await;
}

async fn close_session<T: Transport>(
    hub: Arc<Hub>,
    conn: Arc<ConnHandle>,
    writer_task: tokio::task::JoinHandle<()>,
    unfinished: Option<SplitStream<T>>,
) {
    conn.closing.cancel();
    let _ = writer_task.await;
    hub.unregister(&conn);
    // A participant whose socket dropped keeps its place in a call for a grace period.
    hub.signalling.disconnected(conn.id).await;
    if let Some(stream) = unfinished {
        await_peer_close(stream).await;
    }
}

/// Registers the connection, sends `welcome` and starts the writer.
async fn open_session<T: Transport>(
    hub: &Arc<Hub>,
    socket: Box<T>,
    id: u64,
    principal: &Principal,
    cursors: HashMap<String, Seq>,
) -> Option<Open<T>> {
    // Unboxed here, in a future that lives only until `welcome`; `split` moves it on.
    let mut socket = *socket;
    let hello_verified = std::time::Instant::now();
    let start = match hub.mentoring.start_session(principal).await {
        Ok(start) => start,
        Err(refusal) => {
            refuse_for_now(&mut socket, refusal).await;
            return None;
        }
    };
    let (queue, outbound) = mpsc::channel(hub.settings.outbound_queue);
    let conn = Arc::new(ConnHandle::new(
        id,
        principal.account.clone(),
        queue,
        start.account.settings.read_receipts,
    ));
    // Register and subscribe *before* reading where each conversation stands, so
    // nothing committed after that read can slip between it and live delivery.
    if !hub.register(&conn) {
        refuse(
            &mut socket,
            ErrorCode::LimitReached,
            format!(
                "this account already has {} connections open; close one first",
                hub.settings.max_devices_per_account
            ),
            close::TOO_MANY_DEVICES,
            "too many devices",
        )
        .await;
        return None;
    }
    let contexts = start.contexts();
    for ctx in &contexts {
        conn.set_context(ctx.clone());
        if ctx.can_read() {
            hub.subscribe(&conn, &ctx.conversation, &ctx.member);
        }
    }
    let summaries = match hub.mentoring.summaries(&start.memberships).await {
        Ok(summaries) => summaries,
        Err(refusal) => {
            hub.unregister(&conn);
            refuse_for_now(&mut socket, refusal).await;
            return None;
        }
    };
    // Each readable conversation resumes from the client's cursor (clamped to what
    // exists and what this member may see) or, without one, from now.
    let mut start_cursors: HashMap<ConversationId, Cursor> = HashMap::new();
    let mut behind = Vec::new();
    for (ctx, summary) in contexts.iter().zip(&summaries) {
        if !ctx.can_read() {
            continue;
        }
        let floor = ctx.visible_from.saturating_sub(1);
        let seq = match cursors.get(ctx.conversation.as_str()) {
            Some(&seen) => seen.min(summary.last_seq).max(floor),
            None => summary.last_seq,
        };
        if seq < summary.last_seq {
            behind.push(ctx.conversation.clone());
        }
        start_cursors.insert(
            ctx.conversation.clone(),
            Cursor {
                seq,
                visible_from: ctx.visible_from,
            },
        );
    }
    let settings = &hub.settings;
    let welcome = ServerFrame::Welcome {
        protocol: PROTOCOL_VERSION,
        session: format!("s{}", conn.id),
        node: hub.mentoring.node().to_string(),
        account: AccountView::from(principal),
        settings: start.account.settings.clone(),
        expires_at: principal.expires_at,
        heartbeat: Heartbeat {
            ping_interval_ms: settings.ping_interval.as_millis() as u64,
            idle_timeout_ms: settings.idle_timeout.as_millis() as u64,
        },
        limits: Limits {
            max_frame_bytes: settings.max_frame_bytes,
            max_body_chars: hub.mentoring.limits().max_body_bytes,
            max_body_bytes: hub.mentoring.limits().max_body_bytes,
            rate_per_sec: settings.rate_per_sec,
            rate_burst: settings.rate_burst,
            history_page_max: hub.mentoring.limits().history_page_max,
        },
        conversations: summaries,
    };
    drop(start);
    if send_frame(&mut socket, &welcome).await.is_err() {
        hub.unregister(&conn);
        return None;
    }
    observability::record_latency(observability::HELLO_TO_WELCOME, hello_verified.elapsed());
    drop(welcome);
    // A device that comes online while a call rings this account rings too.
    let device: Arc<dyn crate::signalling::DeviceLink> = conn.clone();
    hub.signalling.session_started(&device, &contexts).await;
    let (sink, stream) = socket.split();
    let writer = Writer::new(hub.clone(), conn.clone(), sink, start_cursors, behind);
    let writer_task = tokio::spawn(writer.run(outbound).in_current_span());
    Some(Open {
        conn,
        stream,
        writer_task,
    })
}

/// How long a server-initiated close waits for the client's close frame.
const CLOSE_HANDSHAKE: Duration = Duration::from_secs(3);

/// After the server sent its close frame, keep the TCP connection open until the client
/// answers (or a short timeout). Dropping it at once would reset the connection if the
/// client still sends (a pong, a frame), and a reset discards the close frame, and so
/// the close code the client needs (4003 sign in again, 4010, 1001), from its buffer.
async fn await_peer_close<T: Transport>(mut stream: SplitStream<T>) {
    let _ = timeout(CLOSE_HANDSHAKE, async {
        while let Some(Ok(message)) = stream.next().await {
            if matches!(message, Incoming::Close) {
                break;
            }
        }
    })
    .await;
}
