//! Messages in a conversation: send, edit, delete, read markers, typing, history.

use crate::bus::{Audience, Payload, Topic};
use crate::error::{DomainResult, Refusal};
use crate::ids::{ConversationId, MemberId, Millis, Seq, now_millis};
use crate::protocol::client::{HistoryQuery, SendFrame};
use crate::protocol::server::{DeleteEvent, EditEvent, MessageEvent, ThreadSummary};
use crate::protocol::{ErrorCode, EventFrame, ServerFrame};
use crate::store::{AppendKind, AppendRequest, CommitHook, EventQuery, HiddenSender, ReadMarker};

use super::{MemberCtx, Mentoring};

/// Delivers the acknowledgement of a fresh send to the sending connection.
pub type AckHook = Box<dyn FnOnce(&Acked) + Send + 'static>;

/// A queued send: resolves once the store has committed it (or refused it).
pub type PendingAck =
    std::pin::Pin<Box<dyn std::future::Future<Output = DomainResult<Acked>> + Send>>;

/// What the sender is told once the store has committed.
#[derive(Clone, Debug)]
pub struct Acked {
    pub conversation: ConversationId,
    pub client_id: Option<String>,
    pub seq: Seq,
    pub ts: Millis,
    pub duplicate: bool,
}

impl Acked {
    pub fn frame(&self, reference: Option<String>) -> ServerFrame {
        ServerFrame::Ack {
            reference,
            conversation: self.conversation.clone(),
            client_id: self.client_id.clone(),
            seq: self.seq,
            ts: self.ts,
            duplicate: self.duplicate,
        }
    }
}

/// A history page.
#[derive(Debug)]
pub struct HistoryPage {
    pub events: Vec<EventFrame>,
    /// More events exist beyond the page in the direction asked.
    pub has_more: bool,
    /// The page was cut short of `limit` by its byte budget.
    pub truncated: bool,
}

/// Keeps as many events as fit in `budget` serialised bytes (always at least one),
/// starting from the cursor's side: the newest when paging back, the oldest when
/// catching up. Returns whether any were cut.
fn fit_in_bytes(
    events: Vec<EventFrame>,
    budget: usize,
    newest_first: bool,
) -> (Vec<EventFrame>, bool) {
    let sizes: Vec<usize> = events
        .iter()
        .map(|e| serde_json::to_vec(e).map_or(0, |json| json.len() + 1))
        .collect();
    let mut kept = 0;
    let mut used = 0;
    let order: Box<dyn Iterator<Item = &usize>> = if newest_first {
        Box::new(sizes.iter().rev())
    } else {
        Box::new(sizes.iter())
    };
    for size in order {
        if kept > 0 && used + size > budget {
            break;
        }
        used += size;
        kept += 1;
    }
    let cut = events.len() - kept;
    if cut == 0 {
        return (events, false);
    }
    let events = if newest_first {
        events.into_iter().skip(cut).collect()
    } else {
        events.into_iter().take(kept).collect()
    };
    (events, true)
}

fn valid_client_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_graphic())
}

impl Mentoring {
    fn check_body(&self, body: &str) -> DomainResult<()> {
        if body.trim().is_empty() {
            return Err(Refusal::new(ErrorCode::BodyInvalid, "the message is empty"));
        }
        if body.len() > self.limits.max_body_bytes {
            return Err(Refusal::new(
                ErrorCode::BodyInvalid,
                format!(
                    "messages are limited to {} bytes of UTF-8 text",
                    self.limits.max_body_bytes
                ),
            ));
        }
        Ok(())
    }

    /// Queues a message for commit and delivery; returns once it is queued (a
    /// connection's sends commit in the order queued), with a future for its
    /// acknowledgement. A repeated client id returns the original acknowledgement and
    /// creates nothing. The event is published by a commit hook,
    /// in seq order; members who blocked the sender are left out.
    ///
    /// `on_ack` (the sending connection's reply path) runs in the commit hook *before*
    /// the event is published, so the sending connection always receives its `ack`
    /// before its own message comes back and can match the two by `client_id`. It is not
    /// called for a duplicate: the caller acknowledges those itself.
    pub async fn send(
        &self,
        ctx: &MemberCtx,
        frame: &SendFrame,
        on_ack: Option<AckHook>,
    ) -> DomainResult<PendingAck> {
        ctx.check_send()?;
        if !valid_client_id(&frame.client_id) {
            return Err(Refusal::invalid(
                "client_id must be 1–64 printable ASCII characters",
            ));
        }
        self.check_body(&frame.body)?;
        if let Some(root) = frame.thread {
            ctx.check_target(root)?;
        }
        self.spend(&ctx.account).await?;
        let sealed = self.seal_body(&ctx.conversation, &frame.body);
        let publisher = self.publisher();
        let (conversation, sender, except) = (
            ctx.conversation.clone(),
            ctx.member.clone(),
            ctx.blocked_by.clone(),
        );
        let (thread, body) = (frame.thread, frame.body.clone());
        let client_id = frame.client_id.clone();
        let on_commit: CommitHook = Box::new(move |appended| {
            if let Some(on_ack) = on_ack {
                on_ack(&Acked {
                    conversation: conversation.clone(),
                    client_id: Some(client_id),
                    seq: appended.seq,
                    ts: appended.created_at,
                    duplicate: false,
                });
            }
            let event = EventFrame::Message(MessageEvent {
                conversation: conversation.clone(),
                seq: appended.seq,
                sender,
                thread,
                body: Some(body),
                ts: appended.created_at,
                edited_at: None,
                deleted: false,
            });
            publisher.publish_event(&conversation, appended.seq, &event, except);
        });
        let request = AppendRequest {
            conversation: ctx.conversation.clone(),
            sender: Some(ctx.member.clone()),
            client_id: Some(frame.client_id.clone()),
            kind: AppendKind::Message {
                body: sealed,
                thread: frame.thread,
            },
            now: now_millis(),
        };
        let pending = self.store.queue_append(request, Some(on_commit)).await?;
        let (conversation, client_id) = (ctx.conversation.clone(), frame.client_id.clone());
        Ok(Box::pin(async move {
            let appended = pending.await?;
            if !appended.duplicate {
                metrics::counter!("mentorhub_messages_total").increment(1);
            }
            Ok(Acked {
                conversation,
                client_id: Some(client_id),
                seq: appended.seq,
                ts: appended.created_at,
                duplicate: appended.duplicate,
            })
        }))
    }

    pub async fn edit(&self, ctx: &MemberCtx, target: Seq, body: &str) -> DomainResult<Acked> {
        ctx.check_post()?;
        self.check_body(body)?;
        ctx.check_target(target)?;
        self.spend(&ctx.account).await?;
        let sealed = self.seal_body(&ctx.conversation, body);
        let publisher = self.publisher();
        let (conversation, sender, except) = (
            ctx.conversation.clone(),
            ctx.member.clone(),
            ctx.blocked_by.clone(),
        );
        let body = body.to_owned();
        let on_commit: CommitHook = Box::new(move |appended| {
            let event = EventFrame::MessageEdited(EditEvent {
                conversation: conversation.clone(),
                seq: appended.seq,
                sender,
                target,
                body: Some(body),
                ts: appended.created_at,
            });
            publisher.publish_event(&conversation, appended.seq, &event, except);
        });
        let kind = AppendKind::Edit {
            target,
            body: sealed,
        };
        self.append_change(ctx, kind, on_commit).await
    }

    /// Deletes one's own message: the ciphertext is removed from the store; a
    /// tombstone (seq, sender, time) stays so the timeline keeps its shape.
    pub async fn delete(&self, ctx: &MemberCtx, target: Seq) -> DomainResult<Acked> {
        ctx.check_post()?;
        ctx.check_target(target)?;
        self.spend(&ctx.account).await?;
        let publisher = self.publisher();
        let (conversation, sender, except) = (
            ctx.conversation.clone(),
            ctx.member.clone(),
            ctx.blocked_by.clone(),
        );
        let on_commit: CommitHook = Box::new(move |appended| {
            let event = EventFrame::MessageDeleted(DeleteEvent {
                conversation: conversation.clone(),
                seq: appended.seq,
                sender,
                target,
                ts: appended.created_at,
            });
            publisher.publish_event(&conversation, appended.seq, &event, except);
        });
        self.append_change(ctx, AppendKind::Delete { target }, on_commit)
            .await
    }

    /// Appends the member's edit or deletion, acknowledged once committed.
    async fn append_change(
        &self,
        ctx: &MemberCtx,
        kind: AppendKind,
        on_commit: CommitHook,
    ) -> DomainResult<Acked> {
        let request = AppendRequest {
            conversation: ctx.conversation.clone(),
            sender: Some(ctx.member.clone()),
            client_id: None,
            kind,
            now: now_millis(),
        };
        let appended = self.store.append(request, Some(on_commit)).await?;
        Ok(Acked {
            conversation: ctx.conversation.clone(),
            client_id: None,
            seq: appended.seq,
            ts: appended.created_at,
            duplicate: false,
        })
    }

    /// Moves the member's read marker. Others see a receipt only if the reader opted
    /// in; the reader's own other devices always learn it (to clear their badges).
    pub async fn mark_read(
        &self,
        ctx: &MemberCtx,
        seq: Seq,
        thread: Option<Seq>,
        share_receipts: bool,
    ) -> DomainResult<bool> {
        ctx.check_read()?;
        let moved = self
            .store
            .mark_read(ReadMarker {
                conversation: ctx.conversation.clone(),
                member: ctx.member.clone(),
                thread,
                seq,
            })
            .await?;
        if moved {
            let frame = ServerFrame::Receipt {
                conversation: ctx.conversation.clone(),
                member: ctx.member.clone(),
                seq,
                thread,
            };
            let json = frame.to_json().into();
            if share_receipts {
                self.publish(
                    Topic::Conversation(ctx.conversation.clone()),
                    ctx.audience(),
                    Payload::Frame { json },
                );
            } else {
                self.publish(
                    Topic::Account(ctx.account.clone()),
                    Audience::Members,
                    Payload::Frame { json },
                );
            }
        }
        Ok(moved)
    }

    /// Typing is ephemeral: published to the other members, never stored.
    pub fn typing(&self, ctx: &MemberCtx, thread: Option<Seq>, active: bool) -> DomainResult<()> {
        ctx.check_post()?;
        let frame = ServerFrame::Typing {
            conversation: ctx.conversation.clone(),
            member: ctx.member.clone(),
            thread,
            active,
        };
        let mut except = ctx.blocked_by.clone();
        except.push(ctx.member.clone());
        self.publish(
            Topic::Conversation(ctx.conversation.clone()),
            Audience::Except(except),
            Payload::Frame {
                json: frame.to_json().into(),
            },
        );
        Ok(())
    }

    /// A page of the timeline: at most `limit` events (oldest first) and at most
    /// `history_page_bytes` of them, keeping those nearest the cursor.
    pub async fn history(
        &self,
        ctx: &MemberCtx,
        query: &HistoryQuery,
    ) -> DomainResult<HistoryPage> {
        ctx.check_read()?;
        if query.after.is_some() && query.before.is_some() && query.after >= query.before {
            return Err(Refusal::invalid("`after` must be below `before`"));
        }
        let limit = query
            .limit
            .unwrap_or(self.limits.history_page_default)
            .clamp(1, self.limits.history_page_max);
        let events = self
            .store
            .events(&EventQuery {
                conversation: ctx.conversation.clone(),
                after: query.after,
                before: query.before,
                visible_from: ctx.visible_from,
                thread: query.thread,
                limit: limit + 1,
                hidden_senders: ctx.hidden.clone(),
            })
            .await?;
        let has_more = events.len() > limit as usize;
        let page: Vec<_> = if query.after.is_some() {
            events.iter().take(limit as usize).collect()
        } else {
            events
                .iter()
                .skip(events.len().saturating_sub(limit as usize))
                .collect()
        };
        let rendered = page.into_iter().map(|e| self.render(e)).collect();
        let newest_first = query.after.is_none();
        let (events, truncated) =
            fit_in_bytes(rendered, self.limits.history_page_bytes, newest_first);
        Ok(HistoryPage {
            events,
            has_more: has_more || truncated,
            truncated,
        })
    }

    /// Events after `after` for catching a connection up (oldest first), leaving out
    /// what `hidden` members (blocked by the reader) sent.
    pub async fn catch_up_page(
        &self,
        conversation: &ConversationId,
        visible_from: Seq,
        after: Seq,
        limit: u32,
        hidden: &[HiddenSender],
    ) -> DomainResult<Vec<EventFrame>> {
        let events = self
            .store
            .events(&EventQuery {
                conversation: conversation.clone(),
                after: Some(after),
                before: None,
                visible_from,
                thread: None,
                limit,
                hidden_senders: hidden.to_vec(),
            })
            .await?;
        Ok(events.iter().map(|e| self.render(e)).collect())
    }

    pub async fn threads(&self, ctx: &MemberCtx) -> DomainResult<Vec<ThreadSummary>> {
        ctx.check_read()?;
        let threads = self
            .store
            .threads(&ctx.conversation, ctx.visible_from, &ctx.hidden)
            .await?;
        Ok(threads
            .into_iter()
            .map(|t| ThreadSummary {
                root: t.root,
                replies: t.replies,
                last_seq: t.last_seq,
                last_ts: t.last_ts,
            })
            .collect())
    }

    /// Serialises a timeline event once and publishes it to the conversation.
    pub(crate) fn publish_event(
        &self,
        conversation: &ConversationId,
        seq: Seq,
        event: &EventFrame,
    ) {
        self.publish_event_except(conversation, seq, event, Vec::new());
    }

    pub(crate) fn publish_event_except(
        &self,
        conversation: &ConversationId,
        seq: Seq,
        event: &EventFrame,
        except: Vec<MemberId>,
    ) {
        self.publisher()
            .publish_event(conversation, seq, event, except);
    }
}
