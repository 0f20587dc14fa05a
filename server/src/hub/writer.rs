//! The writer task: the only code that writes to a connection's socket.
//!
//! It keeps, per conversation, the highest seq this connection has been sent. Events
//! at or below it are duplicates (bus redelivery, resume overlap) and are dropped;
//! an event above the next expected seq reveals a gap (a lost bus message, a
//! filtered event) which is filled from the store before the event is sent. That is
//! what makes resume exact: no gap, no duplicate, in order.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{Sink, SinkExt};
use rand::Rng;
use tokio::sync::mpsc;
use tokio::time::{Instant, interval_at, timeout};

use super::Hub;
use super::handle::{ConnHandle, Outbound};
use super::transport::{Gone, Outgoing};
use crate::ids::{ConversationId, Seq};
use crate::protocol::{ErrorCode, ServerFrame, close};
use crate::store::HiddenSender;

/// Events read from the store per catch-up query.
const CATCH_UP_PAGE: u32 = 200;
/// Queued items written before one flush (one syscall for a burst).
const BURST: usize = 64;

#[derive(Clone, Copy, Debug)]
pub(super) struct Cursor {
    /// Highest seq sent to this connection.
    pub seq: Seq,
    /// The first seq this member may read (a room that hides what was said before
    /// they joined).
    pub visible_from: Seq,
}

impl Cursor {
    /// Whether a live event that changes the message `target` (if any) may be sent.
    /// An edit carries that message's text, so an edit or deletion of history the
    /// member may not see is skipped, as the store leaves it out of history and
    /// catch-up.
    pub fn shows(&self, target: Option<Seq>) -> bool {
        target.is_none_or(|target| target >= self.visible_from)
    }
}

/// Why writing stopped.
struct Stop;

pub(super) struct Writer<K> {
    hub: Arc<Hub>,
    conn: Arc<ConnHandle>,
    sink: K,
    cursors: HashMap<ConversationId, Cursor>,
    /// Conversations whose client cursor is behind: caught up before live traffic.
    behind: Vec<ConversationId>,
}

impl<K> Writer<K>
where
    K: Sink<Outgoing, Error = Gone> + Unpin,
{
    pub fn new(
        hub: Arc<Hub>,
        conn: Arc<ConnHandle>,
        sink: K,
        cursors: HashMap<ConversationId, Cursor>,
        behind: Vec<ConversationId>,
    ) -> Self {
        Writer {
            hub,
            conn,
            sink,
            cursors,
            behind,
        }
    }

    /// Everything but the live loop is boxed (catch-up, refresh, drain, close): a task
    /// is as large as its largest state, and idle connections should not pay for them.
    pub async fn run(mut self, mut outbound: mpsc::Receiver<Outbound>) {
        let closing = self.conn.closing.clone();
        let draining = self.hub.draining.clone();
        let period = self.hub.settings.ping_interval;
        let mut ping = interval_at(Instant::now() + period, period);
        // Resume: bring every conversation up to date before live traffic.
        let conversations = std::mem::take(&mut self.behind);
        let caught_up = tokio::select! {
            result = Box::pin(self.catch_up_all(conversations)) => result.is_ok(),
            _ = closing.cancelled() => false,
        };
        if caught_up {
            loop {
                tokio::select! {
                    biased;
                    _ = closing.cancelled() => break,
                    _ = draining.cancelled() => {
                        Box::pin(self.announce_drain()).await;
                        break;
                    }
                    item = outbound.recv() => {
                        let Some(item) = item else { break };
                        let written = tokio::select! {
                            result = self.write_burst(item, &mut outbound) => result.is_ok(),
                            _ = closing.cancelled() => false,
                        };
                        if !written {
                            break;
                        }
                    }
                    _ = ping.tick() => {
                        let sent = tokio::select! {
                            result = self.sink.send(Outgoing::Ping) => result.is_ok(),
                            _ = closing.cancelled() => false,
                        };
                        if !sent {
                            break;
                        }
                    }
                }
            }
        }
        Box::pin(self.finish()).await;
    }

    /// Tells the client to reconnect after a random delay (so a draining node's
    /// clients do not all reconnect at once), then closes with 1001.
    async fn announce_drain(&mut self) {
        let jitter = self.hub.settings.drain_jitter.as_millis() as u64;
        let after_ms = if jitter == 0 {
            0
        } else {
            rand::rng().random_range(0..=jitter)
        };
        let frame = ServerFrame::Reconnect {
            after_ms,
            reason: "server restarting".into(),
        };
        let _ = timeout(
            Duration::from_secs(1),
            self.send_json(frame.to_json().into()),
        )
        .await;
        self.conn.close(close::GOING_AWAY, "server draining");
    }

    async fn finish(&mut self) {
        self.conn.closing.cancel();
        if let Some((code, reason)) = self.conn.close_reason() {
            let frame = Outgoing::Close { code, reason };
            let _ = timeout(Duration::from_secs(2), self.sink.send(frame)).await;
        }
        let _ = timeout(Duration::from_secs(2), self.sink.close()).await;
    }

    async fn send_json(&mut self, json: Bytes) -> Result<(), Stop> {
        self.feed(json).await?;
        self.sink.flush().await.map_err(|_| Stop)
    }

    async fn feed(&mut self, json: Bytes) -> Result<(), Stop> {
        self.sink
            .feed(Outgoing::Text(json))
            .await
            .map_err(|_| Stop)?;
        metrics::counter!("mentorhub_frames_out_total").increment(1);
        Ok(())
    }

    async fn write_burst(
        &mut self,
        first: Outbound,
        outbound: &mut mpsc::Receiver<Outbound>,
    ) -> Result<(), Stop> {
        self.handle(first).await?;
        for _ in 1..BURST {
            match outbound.try_recv() {
                Ok(item) => self.handle(item).await?,
                Err(_) => break,
            }
        }
        self.sink.flush().await.map_err(|_| Stop)
    }

    async fn handle(&mut self, item: Outbound) -> Result<(), Stop> {
        match item {
            Outbound::Frame(json) => self.feed(*json).await,
            Outbound::Event(event) => {
                let Some(cursor) = self.cursors.get(&event.conversation).copied() else {
                    return Ok(()); // no longer subscribed
                };
                if event.seq <= cursor.seq {
                    return Ok(()); // duplicate
                }
                if event.seq > cursor.seq + 1 {
                    Box::pin(self.catch_up(&event.conversation, Some(event.seq - 1))).await?;
                }
                let current = self.cursors.get(&event.conversation).map_or(0, |c| c.seq);
                if event.seq > current {
                    if cursor.shows(event.target) {
                        self.feed(event.json.clone()).await?;
                    }
                    if let Some(cursor) = self.cursors.get_mut(&event.conversation) {
                        cursor.seq = event.seq;
                    }
                }
                Ok(())
            }
            Outbound::Refresh(refresh) => {
                let (conversation, from_seq) = *refresh;
                Box::pin(self.refresh(conversation, from_seq)).await
            }
            Outbound::Drop(conversation) => {
                self.conn.remove_context(&conversation);
                self.hub.unsubscribe(&self.conn, &conversation);
                self.cursors.remove(&*conversation);
                Box::pin(self.hub.signalling.standing_changed(
                    &self.conn.account,
                    &conversation,
                    false,
                    None,
                ))
                .await;
                Ok(())
            }
            Outbound::Resync => Box::pin(self.resync()).await,
            Outbound::CatchUp(conversation) => Box::pin(self.catch_up(&conversation, None)).await,
        }
    }

    async fn resync(&mut self) -> Result<(), Stop> {
        self.feed(ServerFrame::Resync {}.to_json().into()).await?;
        let conversations: Vec<ConversationId> = self.cursors.keys().cloned().collect();
        self.catch_up_all(conversations).await?;
        self.reconcile_memberships().await
    }

    /// Re-reads a membership after it changed and (un)subscribes accordingly.
    async fn refresh(&mut self, conversation: ConversationId, from_seq: Seq) -> Result<(), Stop> {
        let lookup = self
            .hub
            .mentoring
            .member_ctx(&self.conn.account, conversation.as_str())
            .await;
        // Whoever may no longer post here (relationship ended, left, removed) leaves
        // any call in the conversation; a muted member may stay in it (on the SFU, its
        // streams stop at once).
        let (may_call, muted) = match &lookup {
            Ok(ctx) => (
                ctx.can_read()
                    && ctx.state == crate::protocol::vocabulary::ConversationState::Active,
                Some(ctx.muted),
            ),
            Err(refusal) => (refusal.code != ErrorCode::NotFound, None),
        };
        self.hub
            .signalling
            .standing_changed(&self.conn.account, &conversation, may_call, muted)
            .await;
        match lookup {
            Ok(ctx) if ctx.can_read() => {
                self.conn.set_context(ctx.clone());
                self.hub.subscribe(&self.conn, &conversation, &ctx.member);
                let floor = ctx.visible_from.saturating_sub(1);
                self.cursors.entry(conversation.clone()).or_insert(Cursor {
                    seq: from_seq.max(floor),
                    visible_from: ctx.visible_from,
                });
                self.catch_up(&conversation, None).await
            }
            Ok(ctx) => {
                self.conn.set_context(ctx);
                self.hub.unsubscribe(&self.conn, &conversation);
                self.cursors.remove(&conversation);
                Ok(())
            }
            Err(refusal) if refusal.code == ErrorCode::NotFound => {
                self.conn.remove_context(&conversation);
                self.hub.unsubscribe(&self.conn, &conversation);
                self.cursors.remove(&conversation);
                Ok(())
            }
            Err(_) => {
                self.conn.close(
                    close::GOING_AWAY,
                    "storage unavailable: reconnect and resume",
                );
                Err(Stop)
            }
        }
    }

    /// Members this account blocked in a conversation: from the connection's view, or
    /// from the store while that view is being refreshed.
    async fn hidden_senders(
        &mut self,
        conversation: &ConversationId,
    ) -> Result<Vec<HiddenSender>, Stop> {
        if let Some(ctx) = self.conn.context(conversation.as_str()) {
            return Ok(ctx.hidden);
        }
        match self
            .hub
            .mentoring
            .member_ctx(&self.conn.account, conversation.as_str())
            .await
        {
            Ok(ctx) => Ok(ctx.hidden),
            Err(refusal) if refusal.code == ErrorCode::NotFound => Ok(Vec::new()),
            Err(_) => {
                self.conn.close(
                    close::GOING_AWAY,
                    "storage unavailable: reconnect and resume",
                );
                Err(Stop)
            }
        }
    }

    /// After a bus outage membership changes may have been missed too (their control
    /// messages travel on the bus): re-read the account's memberships and refresh every
    /// conversation this connection does not follow yet.
    async fn reconcile_memberships(&mut self) -> Result<(), Stop> {
        let conversations = match self
            .hub
            .mentoring
            .member_conversations(&self.conn.account)
            .await
        {
            Ok(conversations) => conversations,
            Err(_) => {
                self.conn.close(
                    close::GOING_AWAY,
                    "storage unavailable: reconnect and resume",
                );
                return Err(Stop);
            }
        };
        for conversation in conversations {
            if !self.cursors.contains_key(&conversation) {
                self.refresh(conversation, 0).await?;
            }
        }
        self.sink.flush().await.map_err(|_| Stop)
    }

    async fn catch_up_all(&mut self, conversations: Vec<ConversationId>) -> Result<(), Stop> {
        for conversation in conversations {
            self.catch_up(&conversation, None).await?;
        }
        self.sink.flush().await.map_err(|_| Stop)
    }

    /// Sends everything after the cursor from the store, then (when a live event
    /// revealed the gap) moves the cursor to at least `through`, so events this member
    /// may not see cannot stall delivery.
    async fn catch_up(
        &mut self,
        conversation: &ConversationId,
        through: Option<Seq>,
    ) -> Result<(), Stop> {
        loop {
            let Some(cursor) = self.cursors.get(conversation).copied() else {
                return Ok(());
            };
            let hidden = self.hidden_senders(conversation).await?;
            let page = self
                .hub
                .mentoring
                .catch_up_page(
                    conversation,
                    cursor.visible_from,
                    cursor.seq,
                    CATCH_UP_PAGE,
                    &hidden,
                )
                .await;
            let page = match page {
                Ok(page) => page,
                Err(_) => {
                    self.conn.close(
                        close::GOING_AWAY,
                        "storage unavailable: reconnect and resume",
                    );
                    return Err(Stop);
                }
            };
            let full = page.len() as u32 == CATCH_UP_PAGE;
            for event in page {
                let seq = event.seq();
                self.feed(event.to_json().into()).await?;
                if let Some(cursor) = self.cursors.get_mut(conversation) {
                    cursor.seq = cursor.seq.max(seq);
                }
            }
            if !full {
                break;
            }
        }
        if let (Some(through), Some(cursor)) = (through, self.cursors.get_mut(conversation)) {
            cursor.seq = cursor.seq.max(through);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Cursor;

    #[test]
    fn changes_to_history_before_the_member_joined_are_not_shown() {
        let joined_at_ten = Cursor {
            seq: 12,
            visible_from: 10,
        };
        assert!(joined_at_ten.shows(None), "new messages and system events");
        assert!(joined_at_ten.shows(Some(10)), "the first visible message");
        assert!(joined_at_ten.shows(Some(11)));
        assert!(!joined_at_ten.shows(Some(9)), "an edit of hidden history");
        assert!(!joined_at_ten.shows(Some(1)));
        let sees_everything = Cursor {
            seq: 12,
            visible_from: 1,
        };
        assert!(sees_everything.shows(Some(1)));
    }
}
