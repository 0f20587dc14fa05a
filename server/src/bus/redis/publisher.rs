//! The publish path: callers enqueue with `try_send` and return at once; this task
//! sends what queued up in pipelined batches (one write and one round trip per batch).
//!
//! While Redis is unreachable the task keeps a bounded backlog and retries, so other
//! nodes get the envelopes late rather than never (seq dedup makes late and repeated
//! events harmless). Ephemeral conversation frames (typing, receipts, presence) older
//! than [`EPHEMERAL_MAX_AGE`] are dropped rather than replayed out of date. If the
//! backlog overflows, the oldest envelopes go: timeline events are still in the store
//! and every receiving connection fills the gap at the conversation's next event or at
//! the receiving node's next resync.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep};

use super::Shared;
use super::conn::Conn;
use crate::observability::{BUS_PUBLISH_LAG, record_latency};

/// Envelopes per pipeline.
const BATCH: usize = 256;
const EPHEMERAL_MAX_AGE: Duration = Duration::from_secs(10);
const RETRY_MIN: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(2);

pub(super) struct Outgoing {
    pub channel: String,
    pub payload: Bytes,
    pub queued_at: Instant,
    pub ephemeral: bool,
}

pub(super) async fn run(shared: Arc<Shared>, mut queue: mpsc::Receiver<Outgoing>) {
    let capacity = shared.settings.backlog;
    let mut backlog: VecDeque<Outgoing> = VecDeque::new();
    let mut conn: Option<Conn> = None;
    let mut retry = RETRY_MIN;
    loop {
        if backlog.is_empty() {
            tokio::select! {
                item = queue.recv() => match item {
                    Some(item) => backlog.push_back(item),
                    None => return,
                },
                _ = shared.stop.cancelled() => return,
            }
        }
        while let Ok(item) = queue.try_recv() {
            backlog.push_back(item);
        }
        let overflow = backlog.len().saturating_sub(capacity);
        if overflow > 0 {
            backlog.drain(..overflow);
            metrics::counter!("mentorhub_bus_publish_dropped_total").increment(overflow as u64);
            tracing::warn!(
                dropped = overflow,
                "bus backlog full; oldest envelopes dropped"
            );
        }
        backlog.retain(|o| !o.ephemeral || o.queued_at.elapsed() < EPHEMERAL_MAX_AGE);
        if conn.is_none() {
            match shared
                .settings
                .target
                .connect(shared.settings.timeouts, None)
                .await
            {
                Ok(fresh) => {
                    conn = Some(fresh);
                    shared.set_publisher_down(None);
                }
                Err(error) => {
                    shared.set_publisher_down(Some(format!("connecting: {error}")));
                    wait(&shared, &mut retry).await;
                    continue;
                }
            }
        }
        let Some(link) = conn.as_mut() else { continue };
        if backlog.is_empty() {
            continue;
        }
        let n = backlog.len().min(BATCH);
        let batch: Vec<(String, Bytes)> = backlog
            .iter()
            .take(n)
            .map(|o| (o.channel.clone(), o.payload.clone()))
            .collect();
        match link.publish(&batch).await {
            Ok(()) => {
                for published in backlog.drain(..n) {
                    record_latency(BUS_PUBLISH_LAG, published.queued_at.elapsed());
                }
                retry = RETRY_MIN;
                shared.set_publisher_down(None);
                metrics::counter!("mentorhub_bus_published_total").increment(n as u64);
                metrics::histogram!("mentorhub_bus_publish_batch").record(n as f64);
            }
            Err(error) => {
                // Unknown whether Redis got the batch: it is sent again (receivers
                // drop duplicate events by seq).
                conn = None;
                shared.set_publisher_down(Some(format!("publishing: {error}")));
                wait(&shared, &mut retry).await;
            }
        }
    }
}

async fn wait(shared: &Shared, retry: &mut Duration) {
    tokio::select! {
        _ = sleep(*retry) => {}
        _ = shared.stop.cancelled() => {}
    }
    *retry = (*retry * 2).min(RETRY_MAX);
}
