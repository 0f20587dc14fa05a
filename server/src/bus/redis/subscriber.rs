//! The node's one subscriber connection.
//!
//! A loop of sessions: connect, subscribe to every channel local readers need (plus the
//! node's own probe channel), ask the hub to resync (anything published while we were
//! not subscribed is in the store, not in Redis), then feed the hub until the session
//! ends — the socket dropped, a command failed or timed out, or our own probes stopped
//! coming back (pub/sub silent while TCP looks fine). Then reconnect with jittered
//! backoff. Interest changes arrive as channel names whose reference count crossed zero;
//! the session reconciles them against what it has subscribed.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use redis::{PushInfo, PushKind, Value};
use tokio::sync::mpsc;
use tokio::time::{Instant, interval, sleep};

use super::Shared;
use super::conn::Conn;
use crate::bus::codec::{self, Wire};
use crate::observability::{BUS_RECEIVE_LAG, record_latency};

/// Channels per `SUBSCRIBE` when resubscribing many at once.
const SUBSCRIBE_CHUNK: usize = 500;
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(2);

pub(super) async fn run(shared: Arc<Shared>, mut changes: mpsc::UnboundedReceiver<String>) {
    let mut backoff = BACKOFF_MIN;
    let mut outages: u64 = 0;
    loop {
        if shared.stop.is_cancelled() {
            return;
        }
        let (pushes, mut incoming) = mpsc::unbounded_channel();
        let connected = shared
            .settings
            .target
            .connect(shared.settings.timeouts, Some(pushes))
            .await;
        let mut conn = match connected {
            Ok(conn) => conn,
            Err(error) => {
                shared.set_subscriber_down(Some(format!("connecting: {error}")));
                pause(&shared, &mut backoff).await;
                continue;
            }
        };
        // The snapshot below already reflects every change queued so far.
        while changes.try_recv().is_ok() {}
        let mut subscribed: HashSet<String> = match shared.topics.lock() {
            Ok(topics) => topics.keys().cloned().collect(),
            Err(_) => return,
        };
        subscribed.insert(shared.settings.probe_channel());
        let all: Vec<String> = subscribed.iter().cloned().collect();
        let mut failed = None;
        for chunk in all.chunks(SUBSCRIBE_CHUNK) {
            if let Err(error) = conn.subscribe(chunk).await {
                failed = Some(error);
                break;
            }
        }
        if let Some(error) = failed {
            shared.set_subscriber_down(Some(format!("subscribing: {error}")));
            pause(&shared, &mut backoff).await;
            continue;
        }
        backoff = BACKOFF_MIN;
        shared.set_subscriber_down(None);
        if outages > 0 {
            shared.confirm_recovery();
        }
        metrics::gauge!("mentorhub_bus_subscriptions").set(subscribed.len() as f64);
        // Whatever was published while we were not subscribed is only in the store.
        if let Some(sink) = shared.sink.get() {
            sink.resync();
        }
        if outages > 0 {
            tracing::info!(
                channels = subscribed.len(),
                "bus reconnected and resubscribed; local connections resynced"
            );
        }
        let why = session(&shared, conn, &mut incoming, &mut changes, subscribed).await;
        if shared.stop.is_cancelled() {
            return;
        }
        outages += 1;
        metrics::counter!("mentorhub_bus_reconnects_total").increment(1);
        tracing::warn!(reason = %why, "bus subscriber lost; reconnecting");
        shared.set_subscriber_down(Some(why));
    }
}

async fn pause(shared: &Shared, backoff: &mut Duration) {
    let jitter = rand::rng().random_range(0..=backoff.as_millis() as u64 / 2);
    tokio::select! {
        _ = sleep(*backoff + Duration::from_millis(jitter)) => {}
        _ = shared.stop.cancelled() => {}
    }
    *backoff = (*backoff * 2).min(BACKOFF_MAX);
}

/// Feeds the hub until the connection must be replaced; returns why.
async fn session(
    shared: &Arc<Shared>,
    mut conn: Conn,
    incoming: &mut mpsc::UnboundedReceiver<PushInfo>,
    changes: &mut mpsc::UnboundedReceiver<String>,
    mut subscribed: HashSet<String>,
) -> String {
    let settings = &shared.settings;
    let mut probes = interval(settings.probe_interval);
    let mut nonce: u64 = 0;
    let mut last_echo = Instant::now();
    loop {
        tokio::select! {
            _ = shared.stop.cancelled() => return "stopping".into(),
            push = incoming.recv() => {
                let Some(push) = push else { return "connection closed".into() };
                match push.kind {
                    PushKind::Message | PushKind::SMessage if on_message(shared, &push.data) => {
                        last_echo = Instant::now();
                    }
                    PushKind::Disconnection => return "connection dropped".into(),
                    _ => {}
                }
            }
            change = changes.recv() => {
                let Some(first) = change else { return "stopping".into() };
                let mut changed = vec![first];
                while let Ok(more) = changes.try_recv() {
                    changed.push(more);
                }
                if let Err(error) = reconcile(shared, &mut conn, &mut subscribed, changed).await {
                    return format!("updating subscriptions: {error}");
                }
            }
            _ = probes.tick() => {
                let silent = last_echo.elapsed();
                if silent > settings.probe_timeout {
                    metrics::counter!("mentorhub_bus_silence_detected_total").increment(1);
                    return format!("pub/sub silent: no probe echo for {} ms", silent.as_millis());
                }
                nonce += 1;
                send_probe(shared, conn.clone(), nonce);
            }
        }
    }
}

/// Delivers one pub/sub message. Returns whether it was our own probe coming back.
fn on_message(shared: &Shared, data: &[Value]) -> bool {
    // [channel, payload] for both `message` and `smessage`.
    let Some(Value::BulkString(payload)) = data.get(1) else {
        return false;
    };
    let (wire, sent_at) = match codec::decode_sent_at(payload) {
        Ok(decoded) => decoded,
        Err(error) => {
            metrics::counter!("mentorhub_bus_undecodable_total").increment(1);
            tracing::warn!(%error, "undecodable bus message ignored");
            return false;
        }
    };
    match wire {
        Wire::Probe { origin, .. } => {
            if *origin == *shared.settings.node {
                shared.echo_received();
                return true;
            }
            false
        }
        Wire::Envelope(envelope) => {
            if *envelope.origin == *shared.settings.node {
                return false; // delivered locally when published
            }
            if let Some((conversation, seq)) = super::timeline_event(&envelope) {
                shared.heads.delivered(conversation, seq);
            }
            if let Some(sink) = shared.sink.get() {
                sink.deliver(&envelope);
            }
            metrics::counter!("mentorhub_bus_received_total").increment(1);
            if let Some(sent_at) = sent_at {
                // Wall clocks of two nodes: skew shows here, so nodes run NTP.
                let lag = (crate::ids::now_millis() - sent_at).max(0) as u64;
                record_latency(BUS_RECEIVE_LAG, Duration::from_millis(lag));
            }
            false
        }
    }
}

/// Brings the connection's subscriptions in line with what local readers need now.
async fn reconcile(
    shared: &Shared,
    conn: &mut Conn,
    subscribed: &mut HashSet<String>,
    changed: Vec<String>,
) -> redis::RedisResult<()> {
    let (mut add, mut remove) = (Vec::new(), Vec::new());
    {
        let Ok(topics) = shared.topics.lock() else {
            return Ok(());
        };
        for channel in changed {
            let wanted = topics.contains_key(&channel);
            let have = subscribed.contains(&channel);
            if wanted && !have && !add.contains(&channel) {
                add.push(channel);
            } else if !wanted && have && !remove.contains(&channel) {
                remove.push(channel);
            }
        }
    }
    for chunk in add.chunks(SUBSCRIBE_CHUNK) {
        conn.subscribe(chunk).await?;
        subscribed.extend(chunk.iter().cloned());
    }
    for chunk in remove.chunks(SUBSCRIBE_CHUNK) {
        conn.unsubscribe(chunk).await?;
        for channel in chunk {
            subscribed.remove(channel);
        }
    }
    metrics::gauge!("mentorhub_bus_subscriptions").set(subscribed.len() as f64);
    Ok(())
}

/// Publishes a probe on the subscriber's own connection, so the round trip tests
/// exactly the path deliveries take. Spawned: a paused server must not stall the loop.
fn send_probe(shared: &Shared, mut conn: Conn, nonce: u64) {
    let channel = shared.settings.probe_channel();
    let payload = codec::encode(&Wire::Probe {
        origin: shared.settings.node.clone(),
        nonce,
    });
    tokio::spawn(async move {
        let _ = conn.publish(&[(channel, payload)]).await;
    });
}
