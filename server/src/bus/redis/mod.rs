//! The bus between nodes over Redis pub/sub (or sharded pub/sub on a Redis Cluster).
//!
//! - **One subscriber connection per node** ([`subscriber`]) feeds the local hub; the
//!   hub's per-topic interest is reference-counted here, so a channel is subscribed
//!   once however many local connections read it, and released with the last one.
//! - **Publishing never blocks the caller** ([`publisher`]): the envelope is delivered
//!   to local connections at once, then queued; a background task sends the queue in
//!   pipelined batches and keeps it (bounded) while Redis is unreachable.
//! - **Every message carries its origin node id** ([`super::codec`]); a node ignores its
//!   own envelopes coming back.
//! - **Redis pub/sub is at-most-once**, so after any outage the subscriber reconnects,
//!   resubscribes and asks every local connection to re-read from the store
//!   ([`BusSink::resync`]); the hub writer's per-conversation cursor makes that exact.
//! - **Silence is detected**: the node publishes a probe to its own channel every
//!   `probe_interval` and expects it back; no echo within `probe_timeout` turns
//!   `/readyz` red and forces a reconnect, even when the TCP connection looks fine.
//! - **What the bus never carried is found in the store** ([`heads`]): every
//!   `head_check_interval` the node compares the committed head of each conversation it
//!   follows with what the bus delivered, and has overdue ones caught up — a node that
//!   died between commit and publish cannot leave an event undelivered.
//! - **Every process is a new incarnation** of its node id ([`state`]): a node restarted
//!   under the same id is seen as a departure of the old one, so survivors resync and
//!   the new process clears what the old one owned.
//!
//! Channel names: `{prefix}:c:{conversation}`, `{prefix}:a:{account}`,
//! `{prefix}:n:{node}` (probes). Keys of the shared state: see [`state`].

pub(crate) mod conn;
mod heads;
pub(crate) mod lazy;
mod publisher;
mod state;
mod subscriber;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

pub use conn::{Target, Timeouts};
pub use state::RedisState;

use super::codec::{self, Wire};
use super::{Bus, BusHealth, BusSink, Envelope, Payload, SharedState, Topic};
use crate::ids::{ConversationId, Seq};
use crate::store::Store;

/// How the Redis bus behaves; built from configuration in `app.rs`.
#[derive(Clone, Debug)]
pub struct RedisSettings {
    pub target: Target,
    /// Prefix of every channel and key, so several deployments (or test runs) can
    /// share one Redis without hearing each other.
    pub prefix: String,
    pub node: Arc<str>,
    /// Random per process: tells a restart under the same node id from the same process.
    pub incarnation: Arc<str>,
    pub probe_interval: Duration,
    /// No probe echo for this long: the bus is down and the subscriber reconnects.
    pub probe_timeout: Duration,
    pub timeouts: Timeouts,
    /// A dead node's presence and call legs are gone within this time.
    pub node_ttl: Duration,
    /// Envelopes kept for other nodes while Redis is unreachable.
    pub backlog: usize,
    /// How often committed heads are compared with what the bus delivered ([`heads`]).
    pub head_check_interval: Duration,
}

impl RedisSettings {
    pub fn new(target: Target, prefix: impl Into<String>, node: Arc<str>) -> Self {
        RedisSettings {
            target,
            prefix: prefix.into(),
            node,
            incarnation: Arc::from(crate::ids::opaque_token().as_str()),
            probe_interval: Duration::from_secs(1),
            probe_timeout: Duration::from_secs(5),
            timeouts: Timeouts {
                connect: Duration::from_secs(3),
                response: Duration::from_secs(3),
            },
            node_ttl: Duration::from_secs(30),
            backlog: 100_000,
            head_check_interval: Duration::from_secs(1),
        }
    }

    fn channel(&self, topic: &Topic) -> String {
        match topic {
            Topic::Conversation(id) => format!("{}:c:{}", self.prefix, id),
            Topic::Account(id) => format!("{}:a:{}", self.prefix, id),
        }
    }

    fn probe_channel(&self) -> String {
        format!("{}:n:{}", self.prefix, self.node)
    }
}

/// What `/readyz` reports, kept by the two tasks.
#[derive(Debug)]
struct Health {
    /// Why the subscriber is not connected (None: connected).
    subscriber_down: Option<String>,
    /// When our own probe last came back on the current connection (None: not yet).
    last_echo: Option<Instant>,
    /// After an outage, echoes before this instant do not count: the new connection
    /// must carry probes for a full interval before the node reports ready again, so
    /// an outage is red long enough for a load balancer (or a test) polling `/readyz`
    /// to see it, and a flapping connection does not flap readiness.
    echoes_count_from: Option<Instant>,
    /// Since when publishing has been failing, and why.
    publisher_down: Option<(Instant, String)>,
}

/// What the bus's tasks share.
struct Shared {
    settings: RedisSettings,
    sink: OnceLock<Arc<dyn BusSink>>,
    /// Channel → number of local readers. A `std` mutex: never held across `.await`.
    topics: Mutex<HashMap<String, usize>>,
    /// Channels whose interest crossed zero; the subscriber reconciles them.
    changed: mpsc::UnboundedSender<String>,
    outbox: mpsc::Sender<publisher::Outgoing>,
    health: Mutex<Health>,
    heads: heads::Heads,
    stop: CancellationToken,
}

impl Shared {
    fn set_subscriber_down(&self, why: Option<String>) {
        if let Ok(mut health) = self.health.lock() {
            // Ready again only once a probe has made the round trip on the new connection.
            health.last_echo = None;
            health.subscriber_down = why;
        }
    }

    fn echo_received(&self) {
        if let Ok(mut health) = self.health.lock() {
            let now = Instant::now();
            if health.echoes_count_from.is_none_or(|from| now >= from) {
                health.last_echo = Some(now);
            }
        }
    }

    /// Resubscribed after an outage: ready again only on an echo one probe interval on.
    fn confirm_recovery(&self) {
        if let Ok(mut health) = self.health.lock() {
            health.echoes_count_from = Some(Instant::now() + self.settings.probe_interval);
        }
    }

    fn set_publisher_down(&self, why: Option<String>) {
        if let Ok(mut health) = self.health.lock() {
            match why {
                None => health.publisher_down = None,
                Some(why) => {
                    let since = health
                        .publisher_down
                        .take()
                        .map_or_else(Instant::now, |(since, _)| since);
                    health.publisher_down = Some((since, why));
                }
            }
        }
    }

    fn health(&self) -> BusHealth {
        let Ok(health) = self.health.lock() else {
            return BusHealth::Down("health lock poisoned".into());
        };
        if let Some(why) = &health.subscriber_down {
            return BusHealth::Down(format!("subscriber: {why}"));
        }
        let Some(last_echo) = health.last_echo else {
            return BusHealth::Down("subscriber: no probe echo yet on this connection".into());
        };
        let silent = last_echo.elapsed();
        if silent > self.settings.probe_timeout {
            return BusHealth::Down(format!(
                "subscriber: no probe echo for {} ms",
                silent.as_millis()
            ));
        }
        if let Some((since, why)) = &health.publisher_down {
            return BusHealth::Down(format!(
                "publisher: {why} (for {} ms)",
                since.elapsed().as_millis()
            ));
        }
        BusHealth::Up
    }
}

pub struct RedisBus {
    shared: Arc<Shared>,
    state: Arc<RedisState>,
}

impl RedisBus {
    /// Starts the subscriber, publisher and delivery-check tasks. Never fails on an
    /// unreachable Redis: the node starts, reports "not ready" and keeps trying.
    pub fn start(settings: RedisSettings, store: Arc<dyn Store>) -> Arc<RedisBus> {
        let (changed, changes) = mpsc::unbounded_channel();
        let (outbox, queue) = mpsc::channel(settings.backlog.max(1024));
        let shared = Arc::new(Shared {
            settings: settings.clone(),
            sink: OnceLock::new(),
            topics: Mutex::new(HashMap::new()),
            changed,
            outbox,
            health: Mutex::new(Health {
                subscriber_down: Some("connecting".into()),
                last_echo: None,
                echoes_count_from: None,
                publisher_down: None,
            }),
            heads: heads::Heads::default(),
            stop: CancellationToken::new(),
        });
        tokio::spawn(subscriber::run(shared.clone(), changes));
        tokio::spawn(publisher::run(shared.clone(), queue));
        let every = settings.head_check_interval;
        tokio::spawn(heads::run(shared.clone(), store, every));
        let state = Arc::new(RedisState::new(settings));
        Arc::new(RedisBus { shared, state })
    }

    pub fn settings(&self) -> &RedisSettings {
        &self.shared.settings
    }
}

impl Drop for RedisBus {
    fn drop(&mut self) {
        self.shared.stop.cancel();
    }
}

#[async_trait]
impl Bus for RedisBus {
    fn attach(&self, sink: Arc<dyn BusSink>) {
        let _ = self.shared.sink.set(sink);
    }

    fn publish(&self, envelope: Envelope) {
        if let Some((conversation, seq)) = timeline_event(&envelope) {
            self.shared.heads.delivered(conversation, seq);
        }
        if let Some(sink) = self.shared.sink.get() {
            sink.deliver(&envelope);
        }
        let ephemeral = matches!(
            (&envelope.topic, &envelope.payload),
            (Topic::Conversation(_), Payload::Frame { .. })
        );
        let outgoing = publisher::Outgoing {
            channel: self.shared.settings.channel(&envelope.topic),
            payload: codec::encode(&Wire::Envelope(envelope)),
            queued_at: Instant::now(),
            ephemeral,
        };
        if self.shared.outbox.try_send(outgoing).is_err() {
            // Other nodes recover from the store at the next event or resync.
            metrics::counter!("mentorhub_bus_publish_dropped_total").increment(1);
        }
    }

    fn subscribe(&self, topic: &Topic) {
        let channel = self.shared.settings.channel(topic);
        let first = match self.shared.topics.lock() {
            Ok(mut topics) => {
                let count = topics.entry(channel.clone()).or_insert(0);
                *count += 1;
                *count == 1
            }
            Err(_) => false,
        };
        if first {
            if let Topic::Conversation(conversation) = topic {
                self.shared.heads.follow(conversation.clone());
            }
            let _ = self.shared.changed.send(channel);
        }
    }

    fn unsubscribe(&self, topic: &Topic) {
        let channel = self.shared.settings.channel(topic);
        let last = match self.shared.topics.lock() {
            Ok(mut topics) => match topics.get_mut(&channel) {
                Some(count) if *count > 1 => {
                    *count -= 1;
                    false
                }
                Some(_) => {
                    topics.remove(&channel);
                    true
                }
                None => false,
            },
            Err(_) => false,
        };
        if last {
            if let Topic::Conversation(conversation) = topic {
                self.shared.heads.unfollow(conversation);
            }
            let _ = self.shared.changed.send(channel);
        }
    }

    async fn health(&self) -> BusHealth {
        self.shared.health()
    }

    fn kind(&self) -> &'static str {
        self.shared.settings.target.kind()
    }

    fn state(&self) -> Arc<dyn SharedState> {
        self.state.clone()
    }
}

/// The conversation and seq of a timeline event (what the delivery check counts).
fn timeline_event(envelope: &Envelope) -> Option<(&ConversationId, Seq)> {
    match (&envelope.topic, &envelope.payload) {
        (Topic::Conversation(conversation), Payload::Event { seq, .. }) => {
            Some((conversation, *seq))
        }
        _ => None,
    }
}
