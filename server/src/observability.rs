//! What operators scrape at `/metrics`: the Prometheus recorder, the catalogue of
//! every series (described, and present at 0 from start-up so dashboards and alerts
//! never see a gap that only means "nothing happened yet"), and the gauges read at
//! scrape time (process, runtime, store pools).
//!
//! Labels are bounded vocabularies (a frame type, an error code, a pool name). An
//! account, member, conversation, relationship, call or client id is never a label:
//! it would identify people in a monitoring system that keeps no confidentiality
//! promise, and every id would be a new series.

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{describe_counter, describe_gauge, describe_histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Latency buckets in seconds: sub-millisecond commits on a local disk up to the
/// seconds a rural link or a stalled database takes.
const LATENCY_BUCKETS: &[f64] = &[
    0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Batch sizes: powers of two up to the group-commit and publish batch limits.
const SIZE_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];

/// Store: how long one group commit (a transaction of up to 512 writes) takes.
pub const STORE_COMMIT: &str = "mentorhub_store_commit_seconds";
/// From a commit to its events being queued for every local reader.
pub const COMMIT_TO_FANOUT: &str = "mentorhub_commit_to_fanout_seconds";
/// From a `send` frame read to its `ack` queued for the sender.
pub const SEND_TO_ACK: &str = "mentorhub_send_to_ack_seconds";
/// From a verified `hello` to `welcome` written to the socket.
pub const HELLO_TO_WELCOME: &str = "mentorhub_hello_to_welcome_seconds";
/// From an envelope queued for Redis to Redis accepting it.
pub const BUS_PUBLISH_LAG: &str = "mentorhub_bus_publish_lag_seconds";
/// From another node queueing an envelope to this node receiving it (wall clocks).
pub const BUS_RECEIVE_LAG: &str = "mentorhub_bus_receive_lag_seconds";
/// Store pools: connections in use and the pool's maximum, per pool.
pub const STORE_POOL_IN_USE: &str = "mentorhub_store_pool_in_use";
pub const STORE_POOL_SIZE: &str = "mentorhub_store_pool_size";
/// Calls: content-free quality figures clients report, per media path (`relay`,
/// `direct`) and never per call or person.
pub const CALL_RTT: &str = "mentorhub_call_rtt_seconds";
pub const CALL_LOSS: &str = "mentorhub_call_packet_loss_ratio";
pub const CALL_INBOUND_KBPS: &str = "mentorhub_call_inbound_kbps";
/// Loss ratios: a clean link up to an unusable one.
const LOSS_BUCKETS: &[f64] = &[0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0];
/// Inbound kbit/s: an audio-only link up to HD video.
const KBPS_BUCKETS: &[f64] = &[
    16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 2048.0, 4096.0, 8192.0,
];
const PATHS: &[Labels] = &[&[("path", "relay")], &[("path", "direct")]];
/// Writes queued in front of the group-commit writer.
pub const STORE_WRITES_WAITING: &str = "mentorhub_store_writes_waiting";

enum Kind {
    Counter,
    Gauge,
    Histogram,
}

type Labels = &'static [(&'static str, &'static str)];

/// How a series comes to exist before anything happened.
enum Start {
    /// Unlabelled, registered at 0 (a histogram empty).
    AtZero,
    /// These label sets registered at 0; other values appear when first used.
    Labelled(&'static [Labels]),
    /// Set elsewhere: at every scrape before rendering (readiness, pools), or with
    /// its labels at start-up (build info).
    AtScrape,
}

struct Series {
    name: &'static str,
    kind: Kind,
    help: &'static str,
    start: Start,
}

const fn series(name: &'static str, kind: Kind, help: &'static str) -> Series {
    Series {
        name,
        kind,
        help,
        start: Start::AtZero,
    }
}

const fn scraped(name: &'static str, help: &'static str) -> Series {
    Series {
        name,
        kind: Kind::Gauge,
        help,
        start: Start::AtScrape,
    }
}

use Kind::{Counter, Gauge, Histogram};

/// Every series the server exports (the process collector adds `process_*`).
#[rustfmt::skip]
const CATALOGUE: &[Series] = &[
    // Readiness, as `/readyz` reports it, refreshed at every scrape.
    scraped("mentorhub_ready", "1 when the node can serve (store and bus up, not draining)"),
    scraped("mentorhub_store_up", "1 when the store answered a ping within 2 s at the last scrape"),
    scraped("mentorhub_bus_up", "1 when the bus is connected (publisher and subscriber)"),
    scraped("mentorhub_draining", "1 while the node drains connections before stopping"),
    scraped("mentorhub_runtime_tasks", "Tokio tasks alive (a count that only grows is a leak)"),
    // Connections and frames.
    series("mentorhub_connections", Gauge, "WebSocket connections open"),
    series("mentorhub_connections_total", Counter, "WebSocket connections admitted"),
    Series {
        name: "mentorhub_connections_refused_total",
        kind: Counter,
        help: "Connections refused at accept, by reason",
        start: Start::Labelled(&[&[("why", "server_full")], &[("why", "address_full")]]),
    },
    Series {
        name: "mentorhub_frames_in_total",
        kind: Counter,
        help: "Client frames decoded, by frame type",
        start: Start::Labelled(&[&[("type", "send")], &[("type", "hello")]]),
    },
    series("mentorhub_frames_out_total", Counter, "Server frames written to sockets"),
    series("mentorhub_acks_total", Counter, "Sends acknowledged (fresh and retried)"),
    series("mentorhub_messages_total", Counter, "Messages committed"),
    series("mentorhub_slow_consumer_closes_total", Counter, "Connections closed because their outbound queue was full"),
    Series {
        name: "mentorhub_errors_total",
        kind: Counter,
        help: "Refusals sent (error frames and REST errors), by stable error code",
        start: Start::Labelled(&[
            &[("code", "internal")],
            &[("code", "unavailable")],
            &[("code", "rate_limited")],
            &[("code", "unauthorized")],
        ]),
    },
    series("mentorhub_presence_announcements_total", Counter, "Presence changes announced"),
    series("mentorhub_fanout_envelopes_total", Counter, "Conversation envelopes fanned out to local readers"),
    // Latencies.
    series(HELLO_TO_WELCOME, Histogram, "Seconds from a verified hello to welcome written"),
    series(SEND_TO_ACK, Histogram, "Seconds from a send frame read to its ack queued"),
    series(STORE_COMMIT, Histogram, "Seconds one group commit (one transaction) takes"),
    series(COMMIT_TO_FANOUT, Histogram, "Seconds from a commit to its events queued for every local reader"),
    series("mentorhub_store_batch_size", Histogram, "Writes per group commit"),
    // Store pools.
    scraped(STORE_POOL_IN_USE, "Store connections in use, per pool"),
    scraped(STORE_POOL_SIZE, "Store connections a pool may open, per pool"),
    scraped(STORE_WRITES_WAITING, "Writes queued in front of the group-commit writer"),
    // Bus.
    series(BUS_PUBLISH_LAG, Histogram, "Seconds from an envelope queued for Redis to Redis accepting it"),
    series(BUS_RECEIVE_LAG, Histogram, "Seconds from another node queueing an envelope to its arrival here (wall clocks)"),
    series("mentorhub_bus_publish_batch", Histogram, "Envelopes per Redis pipeline"),
    series("mentorhub_bus_published_total", Counter, "Envelopes Redis accepted"),
    series("mentorhub_bus_received_total", Counter, "Envelopes received from other nodes"),
    series("mentorhub_bus_publish_dropped_total", Counter, "Envelopes dropped before Redis took them (peers recover from the store)"),
    series("mentorhub_bus_reconnects_total", Counter, "Bus subscriber sessions lost and reconnected"),
    series("mentorhub_bus_silence_detected_total", Counter, "Subscriber sessions ended because the node's own probes stopped coming back"),
    series("mentorhub_bus_undecodable_total", Counter, "Bus messages that could not be decoded"),
    series("mentorhub_bus_heads_caught_up_total", Counter, "Conversations read from the store because the bus missed an event"),
    series("mentorhub_bus_subscriptions", Gauge, "Bus channels this node subscribes to"),
    // Calls.
    series("mentorhub_calls_started_total", Counter, "Calls started"),
    series("mentorhub_call_receive_limits_total", Counter, "Receive limits asked for (less or no video to a participant)"),
    Series { name: CALL_RTT, kind: Histogram, help: "Call round-trip times clients report, by media path", start: Start::Labelled(PATHS) },
    Series { name: CALL_LOSS, kind: Histogram, help: "Inbound packet loss ratios clients report, by media path", start: Start::Labelled(PATHS) },
    Series { name: CALL_INBOUND_KBPS, kind: Histogram, help: "Inbound call bitrates (kbit/s) clients report, by media path", start: Start::Labelled(PATHS) },
    series("mentorhub_call_candidates_dropped_total", Counter, "ICE candidates dropped by the relay-only policy or validation"),
    series("mentorhub_turn_auth_refusals_total", Counter, "TURN requests refused for bad or expired credentials (401)"),
    series("mentorhub_turn_allocation_refreshes_total", Counter, "TURN allocations refreshed (kept alive, possibly past their credential's expiry)"),
    series("mentorhub_turn_refused_peers_total", Counter, "TURN relays refused towards forbidden peer addresses"),
    series("mentorhub_turn_quota_refusals_total", Counter, "TURN allocations refused over quota"),
    series("mentorhub_sfu_rooms_created_total", Counter, "Janus rooms created"),
    series("mentorhub_sfu_instances_lost_total", Counter, "Janus instances lost"),
    series("mentorhub_sfu_request_timeouts_total", Counter, "Janus requests that timed out"),
    series("mentorhub_sfu_bad_messages_total", Counter, "Janus messages that could not be understood"),
    series("mentorhub_sfu_dropped_events_total", Counter, "Janus events dropped (queue full)"),
    // Notifications.
    Series {
        name: "mentorhub_notifications_enqueued_total",
        kind: Counter,
        help: "Notifications put in the outbox, by kind",
        start: Start::Labelled(&[&[("kind", "message")]]),
    },
    Series {
        name: "mentorhub_notifications_total",
        kind: Counter,
        help: "Outbox notifications finished, by outcome (sent, or why not)",
        start: Start::Labelled(&[&[("outcome", "sent")], &[("outcome", "connected")]]),
    },
    Series {
        name: "mentorhub_push_requests_total",
        kind: Counter,
        help: "Web Push requests, by result (delivered, gone, retry, rejected)",
        start: Start::Labelled(&[&[("result", "delivered")], &[("result", "retry")]]),
    },
    scraped("mentorhub_build_info", "Always 1; the labels say which build runs"),
];

/// How often histogram samples are folded into their buckets.
const METRICS_UPKEEP: Duration = Duration::from_secs(5);

/// The process-wide recorder (a recorder can be installed only once per process;
/// every [`crate::app::App`] in it shares the series).
///
/// A histogram keeps every raw sample until something folds them into its buckets: a
/// scrape does, and so does the recorder's upkeep, which the caller of
/// `install_recorder` must run. Without it a node nobody scrapes grows by every sample
/// (≈ 50 bytes per message sent), so a thread of its own runs it.
pub fn recorder() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let handle = builder()
                .install_recorder()
                .unwrap_or_else(|_| builder().build_recorder().handle());
            register_catalogue();
            let upkeep = handle.clone();
            let _ = std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(METRICS_UPKEEP);
                        upkeep.run_upkeep();
                    }
                });
            handle
        })
        .clone()
}

fn builder() -> PrometheusBuilder {
    let latencies = Matcher::Suffix("_seconds".into());
    PrometheusBuilder::new()
        .set_buckets_for_metric(latencies, LATENCY_BUCKETS)
        .and_then(|b| {
            b.set_buckets_for_metric(
                Matcher::Full("mentorhub_store_batch_size".into()),
                SIZE_BUCKETS,
            )
        })
        .and_then(|b| {
            b.set_buckets_for_metric(
                Matcher::Full("mentorhub_bus_publish_batch".into()),
                SIZE_BUCKETS,
            )
        })
        .and_then(|b| b.set_buckets_for_metric(Matcher::Full(CALL_LOSS.into()), LOSS_BUCKETS))
        .and_then(|b| {
            b.set_buckets_for_metric(Matcher::Full(CALL_INBOUND_KBPS.into()), KBPS_BUCKETS)
        })
        .expect("bucket lists are non-empty")
}

/// Describes every series and registers it at 0 (gauges at 0, histograms empty).
fn register_catalogue() {
    for series in CATALOGUE {
        match series.kind {
            Counter => describe_counter!(series.name, series.help),
            Gauge => describe_gauge!(series.name, series.help),
            Histogram => describe_histogram!(series.name, series.help),
        }
        match series.start {
            Start::AtZero => register(series, &[]),
            Start::Labelled(sets) => sets.iter().for_each(|labels| register(series, labels)),
            Start::AtScrape => {}
        }
    }
    metrics::gauge!(
        "mentorhub_build_info",
        "version" => env!("CARGO_PKG_VERSION"),
        "protocol" => crate::protocol::server::PROTOCOL_VERSION.to_string(),
    )
    .set(1.0);
    let process = process_collector();
    process.describe();
    process.collect();
}

fn register(series: &Series, labels: Labels) {
    let labels: Vec<metrics::Label> = labels
        .iter()
        .map(|(key, value)| metrics::Label::new(*key, *value))
        .collect();
    match series.kind {
        Counter => metrics::counter!(series.name, labels).increment(0),
        Gauge => metrics::gauge!(series.name, labels).set(0.0),
        Histogram => {
            let _ = metrics::histogram!(series.name, labels);
        }
    }
}

fn process_collector() -> &'static metrics_process::Collector {
    static COLLECTOR: OnceLock<metrics_process::Collector> = OnceLock::new();
    COLLECTOR.get_or_init(metrics_process::Collector::default)
}

/// What is read at scrape time rather than pushed: process figures from `/proc`
/// (RSS, open files, CPU seconds) and the runtime's live task count.
pub fn sample_process() {
    process_collector().collect();
    // A task count that only grows is a leak (the soak watches it).
    let tasks = tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks();
    metrics::gauge!("mentorhub_runtime_tasks").set(tasks as f64);
}

/// Readiness as gauges (what `/readyz` answers), so an alert needs no prober.
pub fn record_readiness(store_up: bool, bus_up: bool, draining: bool) {
    let flag = |on: bool| if on { 1.0 } else { 0.0 };
    metrics::gauge!("mentorhub_store_up").set(flag(store_up));
    metrics::gauge!("mentorhub_bus_up").set(flag(bus_up));
    metrics::gauge!("mentorhub_draining").set(flag(draining));
    metrics::gauge!("mentorhub_ready").set(flag(store_up && bus_up && !draining));
}

/// Store saturation at scrape time.
pub fn record_store_usage(usage: &crate::store::StoreUsage) {
    for pool in &usage.pools {
        metrics::gauge!(STORE_POOL_IN_USE, "pool" => pool.pool).set(f64::from(pool.in_use));
        metrics::gauge!(STORE_POOL_SIZE, "pool" => pool.pool).set(f64::from(pool.size));
    }
    metrics::gauge!(STORE_WRITES_WAITING).set(usage.writes_waiting as f64);
}

/// Records `elapsed` into a latency histogram.
pub fn record_latency(histogram: &'static str, elapsed: Duration) {
    metrics::histogram!(histogram).record(elapsed.as_secs_f64());
}
