//! The reader task: decodes frames, applies the rate limit, calls the domain and
//! queues the reply. It also watches the heartbeat and the token's expiry.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::FuturesUnordered;
use futures_util::{Stream, StreamExt};
use tokio::time::{Instant, sleep_until};
use tracing::Instrument;

use super::Hub;
use super::handle::{ConnHandle, Outbound};
use super::ratelimit::FrameLimiter;
use super::transport::{self, Incoming, ReadError};
use crate::auth::Principal;
use crate::error::Refusal;
use crate::ids::now_millis;
use crate::mentoring::{AckHook, MemberCtx};
use crate::observability::{SEND_TO_ACK, record_latency};
use crate::protocol::client::SendFrame;
use crate::protocol::{ClientFrame, ErrorCode, ServerFrame, close};

/// How long before `exp` the client is asked to refresh its token.
const EXPIRY_WARNING: Duration = Duration::from_secs(60);
/// Sends one connection may have queued for commit before the reader stops reading
/// (backpressure). More than one, so a client's pipelined sends share commits.
const SENDS_IN_FLIGHT: usize = 32;

/// A queued send's completion: replies for a duplicate or a refusal.
type SendDone = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Correlation data for an error reply.
#[derive(Default)]
struct ReplyTo {
    reference: Option<String>,
    conversation: Option<String>,
    client_id: Option<String>,
}

pub(super) struct Reader {
    hub: Arc<Hub>,
    conn: Arc<ConnHandle>,
    principal: Principal,
    limiter: FrameLimiter,
    last_heard: Instant,
    /// When the token's `exp` passes (may already be in the past, within leeway).
    expires: Instant,
    warned_expiry: bool,
}

impl Reader {
    pub fn new(hub: Arc<Hub>, conn: Arc<ConnHandle>, principal: Principal) -> Self {
        let limiter = FrameLimiter::new(hub.settings.rate_per_sec, hub.settings.rate_burst);
        let expires = instant_at(principal.expires_at);
        Reader {
            hub,
            conn,
            principal,
            limiter,
            last_heard: Instant::now(),
            expires,
            warned_expiry: false,
        }
    }

    fn next_deadline(&self) -> Instant {
        let idle = self.last_heard + self.hub.settings.idle_timeout;
        let expiry = self.expires + self.hub.settings.token_leeway;
        let warning = self
            .expires
            .checked_sub(EXPIRY_WARNING)
            .unwrap_or(self.expires);
        let mut deadline = idle.min(expiry);
        if !self.warned_expiry {
            deadline = deadline.min(warning);
        }
        deadline
    }

    /// Reads until the peer closes (`None`) or the server decides to close; then the
    /// stream is handed back so the closing handshake can finish.
    pub async fn run<S>(mut self, mut stream: S) -> Option<S>
    where
        S: Stream<Item = Result<Incoming, ReadError>> + Unpin,
    {
        let closing = self.conn.closing.clone();
        // Created at the first send: an idle connection does not pay for it.
        let mut sends: Option<FuturesUnordered<SendDone>> = None;
        loop {
            let deadline = self.next_deadline();
            let may_read = sends.as_ref().is_none_or(|s| s.len() < SENDS_IN_FLIGHT);
            tokio::select! {
                _ = closing.cancelled() => return Some(stream),
                Some(()) = next_done(&mut sends) => {}
                message = stream.next(), if may_read => match message {
                    None | Some(Ok(Incoming::Close)) => return None,
                    Some(Err(error)) => {
                        if let Some((code, reason)) = error.close() {
                            self.conn.close(code, reason);
                        }
                        return None;
                    }
                    Some(Ok(Incoming::Text(payload))) => {
                        self.last_heard = Instant::now();
                        // Boxed: its state (the domain call) would otherwise size every
                        // idle connection's task.
                        let Ok(text) = transport::text(&payload) else {
                            // The transport should have refused it; close as it would.
                            if let Some((code, reason)) = ReadError::NotUtf8.close() {
                                self.conn.close(code, reason);
                            }
                            return Some(stream);
                        };
                        // The frame's type, once decoded, and nothing it says.
                        let span = tracing::info_span!("frame", kind = tracing::field::Empty);
                        let handled = self.on_text(text, &mut sends).instrument(span);
                        if let Some(done) = Box::pin(handled).await {
                            sends.get_or_insert_with(FuturesUnordered::new).push(done);
                        }
                    }
                    Some(Ok(Incoming::Binary)) => {
                        self.last_heard = Instant::now();
                        self.reply_error(ReplyTo::default(), ErrorCode::InvalidJson, "binary frames are not supported".into());
                    }
                    Some(Ok(Incoming::Ping | Incoming::Pong)) => self.last_heard = Instant::now(),
                },
                _ = sleep_until(deadline) => self.on_deadline(),
            }
        }
    }

    fn on_deadline(&mut self) {
        let now = Instant::now();
        if now >= self.last_heard + self.hub.settings.idle_timeout {
            self.conn
                .close(close::IDLE_TIMEOUT, "nothing heard within the idle timeout");
            return;
        }
        let expires = self.expires;
        if now >= expires + self.hub.settings.token_leeway {
            self.conn.close(
                close::SESSION_EXPIRED,
                "token expired: sign in again and resume",
            );
            return;
        }
        if !self.warned_expiry && now + EXPIRY_WARNING >= expires {
            self.warned_expiry = true;
            let expires_in_ms = expires.saturating_duration_since(now).as_millis() as u64;
            self.reply(ServerFrame::TokenExpiring { expires_in_ms });
        }
    }

    fn reply(&self, frame: ServerFrame) {
        self.conn.push(Outbound::frame(frame.to_json()));
    }

    fn reply_error(&self, to: ReplyTo, code: ErrorCode, message: String) {
        self.reply_error_with_retry(to, code, message, None);
    }

    fn reply_error_with_retry(
        &self,
        to: ReplyTo,
        code: ErrorCode,
        message: String,
        retry_after_ms: Option<u64>,
    ) {
        push_error(&self.conn, to, code, message, retry_after_ms);
    }

    /// Handles one frame; a send comes back queued, with its completion to poll.
    /// `sends` are this connection's sends still in flight.
    async fn on_text(
        &mut self,
        text: &str,
        sends: &mut Option<FuturesUnordered<SendDone>>,
    ) -> Option<SendDone> {
        // Every frame counts toward the rate limit, valid or not.
        let limited = self.limiter.check().err();
        let frame = match ClientFrame::decode(text) {
            Ok(frame) => frame,
            Err(error) => {
                let to = ReplyTo {
                    reference: error.reference,
                    ..Default::default()
                };
                match limited {
                    Some(wait) => self.refuse_rate(to, wait),
                    None => self.reply_error(to, error.code, error.detail),
                }
                return None;
            }
        };
        tracing::Span::current().record("kind", frame.kind());
        metrics::counter!("mentorhub_frames_in_total", "type" => frame.kind()).increment(1);
        if let Some(wait) = limited {
            self.refuse_rate(reply_to(&frame), wait);
            return None;
        }
        let to = reply_to(&frame);
        let outcome = match frame {
            ClientFrame::Send(send) => self.queue_send(send).await.map(Some),
            other => {
                // Every other frame takes effect after the connection's earlier sends,
                // as if each send had been awaited: a pong, a history page, an edit or
                // a call never overtakes a message sent before it.
                finish_sends(sends).await;
                self.dispatch(other).await.map(|()| None)
            }
        };
        outcome.unwrap_or_else(|refusal| {
            let retry = refusal.retry_after.map(|w| w.as_millis().max(1) as u64);
            self.reply_error_with_retry(to, refusal.code, refusal.message.into_owned(), retry);
            None
        })
    }

    /// Queues a send for commit (in frame order) and returns its completion. The ack
    /// of a fresh send is queued by the store's commit hook, ahead of the message
    /// event; a duplicate is acknowledged, and a refusal answered, on completion.
    async fn queue_send(&self, send: SendFrame) -> Result<SendDone, Refusal> {
        let received = Instant::now();
        let ctx = self.ctx(&send.conversation).await?;
        let conn = self.conn.clone();
        let reference = send.reference.clone();
        let on_ack: AckHook = Box::new(move |acked| {
            conn.push(Outbound::frame(acked.frame(reference).to_json()));
            record_latency(SEND_TO_ACK, received.elapsed());
        });
        let pending = self.hub.mentoring.send(&ctx, &send, Some(on_ack)).await?;
        let conn = self.conn.clone();
        let to = reply_to_send(&send);
        let done = async move {
            match pending.await {
                Ok(acked) => {
                    metrics::counter!("mentorhub_acks_total").increment(1);
                    if acked.duplicate {
                        conn.push(Outbound::frame(acked.frame(to.reference).to_json()));
                        record_latency(SEND_TO_ACK, received.elapsed());
                    }
                }
                Err(refusal) => {
                    push_error(&conn, to, refusal.code, refusal.message.into_owned(), None)
                }
            }
        };
        // The completion is polled by the read loop, outside the frame's span.
        Ok(Box::pin(done.in_current_span()))
    }

    fn refuse_rate(&self, to: ReplyTo, wait: Duration) {
        let retry = wait.as_millis().max(1) as u64;
        self.reply_error_with_retry(
            to,
            ErrorCode::RateLimited,
            "too many frames; retry later".into(),
            Some(retry),
        );
    }

    /// The connection's view of a conversation: its cache, else the store.
    async fn ctx(&self, conversation: &str) -> Result<MemberCtx, Refusal> {
        if let Some(ctx) = self.conn.context(conversation) {
            return Ok(ctx);
        }
        self.hub
            .mentoring
            .member_ctx(&self.principal.account, conversation)
            .await
    }

    async fn dispatch(&mut self, frame: ClientFrame) -> Result<(), Refusal> {
        let mentoring = self.hub.mentoring.clone();
        match frame {
            ClientFrame::Hello(_) => Err(Refusal::new(
                ErrorCode::ProtocolViolation,
                "already said hello",
            )),
            ClientFrame::Refresh { reference, token } => self.refresh(reference, &token).await,
            // `on_text` queues sends; one arriving here is completed in line.
            ClientFrame::Send(send) => {
                self.queue_send(send).await?.await;
                Ok(())
            }
            ClientFrame::Edit {
                reference,
                conversation,
                seq,
                body,
            } => {
                let ctx = self.ctx(&conversation).await?;
                let acked = mentoring.edit(&ctx, seq, &body).await?;
                self.reply(acked.frame(reference));
                Ok(())
            }
            ClientFrame::Delete {
                reference,
                conversation,
                seq,
            } => {
                let ctx = self.ctx(&conversation).await?;
                let acked = mentoring.delete(&ctx, seq).await?;
                self.reply(acked.frame(reference));
                Ok(())
            }
            ClientFrame::Read {
                reference,
                conversation,
                seq,
                thread,
            } => {
                let ctx = self.ctx(&conversation).await?;
                mentoring
                    .mark_read(&ctx, seq, thread, self.conn.share_receipts())
                    .await?;
                self.reply(ServerFrame::Ok { reference });
                Ok(())
            }
            ClientFrame::Typing {
                conversation,
                thread,
                active,
                ..
            } => {
                let ctx = self.ctx(&conversation).await?;
                mentoring.typing(&ctx, thread, active)
            }
            ClientFrame::History(query) => {
                let ctx = self.ctx(&query.conversation).await?;
                let page = mentoring.history(&ctx, &query).await?;
                self.reply(ServerFrame::History {
                    reference: query.reference,
                    conversation: ctx.conversation,
                    events: page.events,
                    has_more: page.has_more,
                    truncated: page.truncated,
                });
                Ok(())
            }
            ClientFrame::Threads {
                reference,
                conversation,
            } => {
                let ctx = self.ctx(&conversation).await?;
                let threads = mentoring.threads(&ctx).await?;
                self.reply(ServerFrame::Threads {
                    reference,
                    conversation: ctx.conversation,
                    threads,
                });
                Ok(())
            }
            ClientFrame::Ping { reference } => {
                self.reply(ServerFrame::Pong { reference });
                Ok(())
            }
            ClientFrame::Presence { reference, status } => {
                let status = crate::mentoring::client_status(&status)?;
                self.conn
                    .set_away(status == crate::bus::PresenceStatus::Away);
                self.hub.presence_changed(&self.principal.account);
                self.reply(ServerFrame::Ok { reference });
                Ok(())
            }
            ClientFrame::Call(request) => {
                let device = self.conn.clone();
                self.hub.signalling.handle(device, request).await
            }
        }
    }

    /// Extends the session with a new token for the same account.
    async fn refresh(&mut self, reference: Option<String>, token: &str) -> Result<(), Refusal> {
        let principal = self.hub.verifier.verify(token).await.map_err(|error| {
            Refusal::new(
                ErrorCode::Unauthorized,
                format!("token refused: {}", error.code()),
            )
        })?;
        if principal.account != self.principal.account {
            return Err(Refusal::new(
                ErrorCode::Unauthorized,
                "the new token is for another account",
            ));
        }
        let expires_at = principal.expires_at;
        self.expires = instant_at(expires_at);
        self.principal = principal;
        self.warned_expiry = false;
        self.reply(ServerFrame::Refreshed {
            reference,
            expires_at,
        });
        Ok(())
    }
}

/// A Unix time (seconds) as a tokio instant; times in the past map to instants in the
/// past, so deadlines computed from them are already due.
fn instant_at(unix_secs: i64) -> Instant {
    let delta_ms = unix_secs.saturating_mul(1000) - now_millis();
    let now = Instant::now();
    if delta_ms >= 0 {
        now + Duration::from_millis(delta_ms as u64)
    } else {
        now.checked_sub(Duration::from_millis(delta_ms.unsigned_abs()))
            .unwrap_or(now)
    }
}

fn push_error(
    conn: &ConnHandle,
    to: ReplyTo,
    code: ErrorCode,
    message: String,
    retry_after_ms: Option<u64>,
) {
    metrics::counter!("mentorhub_errors_total", "code" => code.as_str()).increment(1);
    let frame = ServerFrame::Error {
        reference: to.reference,
        code,
        message,
        retry_after_ms,
        conversation: to.conversation,
        client_id: to.client_id,
    };
    conn.push(Outbound::frame(frame.to_json()));
}

/// Waits until every queued send has finished (and answered).
async fn finish_sends(sends: &mut Option<FuturesUnordered<SendDone>>) {
    if let Some(sends) = sends {
        while sends.next().await.is_some() {}
    }
}

/// The next finished send, if any are queued (`None` disables the select branch).
async fn next_done(sends: &mut Option<FuturesUnordered<SendDone>>) -> Option<()> {
    match sends {
        Some(sends) if !sends.is_empty() => sends.next().await,
        _ => None,
    }
}

fn reply_to_send(send: &SendFrame) -> ReplyTo {
    ReplyTo {
        reference: send.reference.clone(),
        conversation: Some(send.conversation.clone()),
        client_id: Some(send.client_id.clone()),
    }
}

fn reply_to(frame: &ClientFrame) -> ReplyTo {
    match frame {
        ClientFrame::Send(send) => reply_to_send(send),
        ClientFrame::Edit {
            reference,
            conversation,
            ..
        }
        | ClientFrame::Delete {
            reference,
            conversation,
            ..
        }
        | ClientFrame::Read {
            reference,
            conversation,
            ..
        }
        | ClientFrame::Threads {
            reference,
            conversation,
        }
        | ClientFrame::Typing {
            reference,
            conversation,
            ..
        } => ReplyTo {
            reference: reference.clone(),
            conversation: Some(conversation.clone()),
            client_id: None,
        },
        ClientFrame::History(query) => ReplyTo {
            reference: query.reference.clone(),
            conversation: Some(query.conversation.clone()),
            client_id: None,
        },
        ClientFrame::Ping { reference }
        | ClientFrame::Presence { reference, .. }
        | ClientFrame::Refresh { reference, .. } => ReplyTo {
            reference: reference.clone(),
            ..Default::default()
        },
        ClientFrame::Hello(hello) => ReplyTo {
            reference: hello.reference.clone(),
            ..Default::default()
        },
        ClientFrame::Call(request) => ReplyTo {
            reference: request.reference().map(str::to_owned),
            ..Default::default()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_echo_the_ref_of_every_frame_that_has_one() {
        for text in [
            r#"{"type": "refresh", "ref": "r1", "token": "x"}"#,
            r#"{"type": "hello", "ref": "r1", "token": "x"}"#,
            r#"{"type": "ping", "ref": "r1"}"#,
            r#"{"type": "send", "ref": "r1", "conversation": "c", "client_id": "a", "body": "b"}"#,
            r#"{"type": "read", "ref": "r1", "conversation": "c", "seq": 1}"#,
            r#"{"type": "history", "ref": "r1", "conversation": "c"}"#,
        ] {
            let frame = ClientFrame::decode(text).expect("a valid frame");
            assert_eq!(reply_to(&frame).reference.as_deref(), Some("r1"), "{text}");
        }
    }
}
