//! The outbox worker: every node runs one. Each tick it runs the message pass
//! ([`super::sources::message_pass`]), claims due notifications with a lease, decides
//! each by [`super::rules`], sends, and finishes it — all conditional on still holding
//! the lease.
//!
//! Exactly once, as far as it can be: a claimed row belongs to one node until its lease
//! runs out; before each request the node renews the lease (so it still holds it for
//! the whole request, which times out well inside it), and a subscription already
//! reached is recorded and skipped by any later claim. A node killed mid-batch leaves
//! its rows to another node when their leases run out. The one window left — killed
//! after the push service accepted a request and before the delivery was recorded —
//! resends under the same `Topic`, which the push service uses to replace the first
//! copy if the device has not fetched it yet.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::push::{PushMessage, PushOutcome, PushSender};
use super::rules::{self, Decision, Situation};
use crate::bus::SharedState;
use crate::ids::{Millis, now_millis};
use crate::protocol::notify::NotificationKind;
use crate::store::{ClaimedNotification, OutboxEnd, Store, StoreResult};

/// How long a claim holds a notification.
pub const LEASE: Duration = Duration::from_secs(30);
/// Notifications claimed at once.
const BATCH: u32 = 32;
/// Attempts before a notification is given up.
const MAX_ATTEMPTS: u32 = 8;
/// Finished notifications kept this long (the daily cap reads the last day).
const KEEP_DONE_MS: Millis = 2 * 24 * 3600 * 1000;

#[derive(Clone, Debug)]
pub struct WorkerSettings {
    /// This node's id: the lease owner.
    pub node: Arc<str>,
    /// A message is notified after it stayed unread this long.
    pub idle: Duration,
    /// How long a call rings (a ringing notification's lifetime).
    pub ring: Duration,
    /// Time between ticks.
    pub tick: Duration,
}

pub struct Worker {
    store: Arc<dyn Store>,
    state: Arc<dyn SharedState>,
    sender: PushSender,
    settings: WorkerSettings,
}

impl Worker {
    pub fn new(
        store: Arc<dyn Store>,
        state: Arc<dyn SharedState>,
        sender: PushSender,
        settings: WorkerSettings,
    ) -> Worker {
        Worker {
            store,
            state,
            sender,
            settings,
        }
    }

    /// Runs until `stop` is cancelled.
    pub async fn run(self, stop: CancellationToken) {
        let mut ticks = tokio::time::interval(self.settings.tick);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_prune: Millis = 0;
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = ticks.tick() => {}
            }
            let now = now_millis();
            let idle = self.settings.idle.as_millis() as Millis;
            if let Err(error) =
                super::sources::message_pass(&*self.store, &*self.state, idle, now).await
            {
                tracing::warn!(%error, "message notification pass failed");
            }
            if let Err(error) = self.drain(&stop).await {
                tracing::warn!(%error, "notification outbox failed");
            }
            if now - last_prune > 3600 * 1000 {
                last_prune = now;
                let _ = self.store.prune_notifications(now - KEEP_DONE_MS).await;
            }
        }
    }

    /// Claims and handles batches until none is due.
    async fn drain(&self, stop: &CancellationToken) -> StoreResult<()> {
        loop {
            let now = now_millis();
            let claimed = self
                .store
                .claim_notifications(&self.settings.node, now, now + lease_ms(), BATCH)
                .await?;
            let full = claimed.len() as u32 == BATCH;
            for notification in claimed {
                if stop.is_cancelled() {
                    // Unfinished claims run out and are claimed again elsewhere.
                    return Ok(());
                }
                self.handle(&notification).await?;
            }
            if !full {
                return Ok(());
            }
        }
    }

    async fn handle(&self, n: &ClaimedNotification) -> StoreResult<()> {
        let owner = &*self.settings.node;
        let now = now_millis();
        let preferences = self
            .store
            .notification_preferences(&n.account)
            .await?
            .unwrap_or_default();
        let connected = match super::connected(&*self.state, &n.account).await {
            Ok(connected) => connected,
            // Unknown: try again soon rather than push to someone who may be here.
            Err(_) => {
                self.store
                    .release_notification(&n.id, owner, now + 5_000, true)
                    .await?;
                return Ok(());
            }
        };
        let sent_recently = self
            .store
            .notifications_sent_since(&n.account, now - rules::CAP_WINDOW_MS)
            .await?;
        let situation = Situation {
            preferences: &preferences,
            connected,
            sent_recently,
            now,
            ring_ms: self.settings.ring.as_millis() as Millis,
        };
        match rules::decide(n.kind, n.created_at, &situation) {
            Decision::Skip(reason) => {
                metrics::counter!("mentorhub_notifications_total", "outcome" => reason.as_str())
                    .increment(1);
                self.store
                    .finish_notification(&n.id, owner, OutboxEnd::Skipped, now)
                    .await?;
            }
            Decision::Defer { until } => {
                self.store
                    .release_notification(&n.id, owner, until, true)
                    .await?;
            }
            Decision::Send => self.send(n).await?,
        }
        Ok(())
    }

    async fn send(&self, n: &ClaimedNotification) -> StoreResult<()> {
        let owner = &*self.settings.node;
        let subscriptions = self.store.push_subscriptions(&n.account).await?;
        let reached = self.store.delivered_subscriptions(&n.id).await?;
        let payload = serde_json::to_vec(&super::payload(n.kind, n.count, n.conversation.as_ref()))
            .unwrap_or_default();
        let ringing = n.kind == NotificationKind::RingingCall;
        let ttl = if ringing {
            self.settings.ring
        } else {
            Duration::from_millis(rules::MAX_AGE_MS as u64)
        };
        let mut retry = false;
        let mut delivered = reached.len();
        for subscription in subscriptions.iter().filter(|s| !reached.contains(&s.id)) {
            // Still ours for longer than one request takes; else another node has it.
            if !self
                .store
                .renew_notification_lease(&n.id, owner, now_millis() + lease_ms())
                .await?
            {
                return Ok(());
            }
            let message = PushMessage {
                payload: &payload,
                ttl,
                topic: super::topic(subscription.id.as_str(), n.kind, n.conversation.as_ref()),
                urgent: ringing,
            };
            let outcome = self.sender.send(subscription, &message).await;
            let result = match outcome {
                PushOutcome::Delivered => "delivered",
                PushOutcome::Gone => "gone",
                PushOutcome::Retry => "retry",
                PushOutcome::Rejected => "rejected",
            };
            metrics::counter!("mentorhub_push_requests_total", "result" => result).increment(1);
            match outcome {
                PushOutcome::Delivered => {
                    self.store
                        .record_push_delivery(&n.id, &subscription.id)
                        .await?;
                    delivered += 1;
                }
                PushOutcome::Gone => {
                    self.store
                        .remove_push_subscription(&subscription.id)
                        .await?;
                }
                PushOutcome::Retry => retry = true,
                PushOutcome::Rejected => {}
            }
        }
        let now = now_millis();
        if retry && n.attempts < MAX_ATTEMPTS {
            self.store
                .release_notification(&n.id, owner, now + backoff_ms(n.attempts), false)
                .await?;
            return Ok(());
        }
        let end = if delivered > 0 {
            OutboxEnd::Sent
        } else if retry {
            OutboxEnd::Failed
        } else {
            OutboxEnd::Skipped
        };
        metrics::counter!("mentorhub_notifications_total", "outcome" => end.as_str()).increment(1);
        self.store
            .finish_notification(&n.id, owner, end, now)
            .await?;
        Ok(())
    }
}

fn lease_ms() -> Millis {
    LEASE.as_millis() as Millis
}

/// 2 s, 4 s, 8 s … up to 10 minutes, after the `attempts`th failed attempt.
pub fn backoff_ms(attempts: u32) -> Millis {
    let exponent = attempts.clamp(1, 16);
    (1000_i64 << exponent).min(600_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_ten_minutes() {
        assert_eq!(backoff_ms(1), 2_000);
        assert_eq!(backoff_ms(2), 4_000);
        assert_eq!(backoff_ms(9), 512_000);
        assert_eq!(backoff_ms(10), 600_000);
        assert_eq!(backoff_ms(40), 600_000);
    }

    #[test]
    fn a_request_ends_inside_its_lease() {
        assert!(super::super::push::SEND_TIMEOUT * 2 < LEASE);
    }
}
