//! Is the memory a slow consumer's catch-up leaves behind a leak, or the allocator keeping
//! pages it was given back? One `mentorhub` process on PostgreSQL and Redis (as the cluster
//! tests start it) and one pair. Each cycle the mentor sends `--messages` while the
//! mentee's connection does not read (its queue fills and the server closes it with 4008),
//! then the mentee resumes from its cursor and reads the whole backlog. After each cycle:
//! the server's RSS, and glibc's own account of its heap — `malloc_stats()` called in the
//! server with gdb: bytes the allocator holds from the system and bytes in use. At the
//! end, `malloc_trim(0)` and the RSS after it. A leak grows "in use" cycle after cycle;
//! retention shows as "system" well above "in use", given back by the trim.
//!
//! ```sh
//! cargo build --release -p mentorhub --bin mentorhub
//! cargo run --release -p mentorhub-tests --bin catchup-memory -- --cycles 10
//! ```
//! Needs gdb, and the services of `scripts/ensure-services.sh`. Not part of the tests.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use clap::Parser;
use mentorhub_tests::WsClient;
use mentorhub_tests::cluster::{Cluster, RedisLink, RedisServer};
use mentorhub_tests::process::ServerProcess;
use mentorhub_tests::scenario::Pair;

#[derive(Parser, Debug)]
struct Args {
    /// Catch-ups to run.
    #[arg(long, default_value_t = 10)]
    cycles: usize,
    /// Messages sent while the consumer stalls, per cycle.
    #[arg(long, default_value_t = 3000)]
    messages: usize,
    /// Characters per message body.
    #[arg(long, default_value_t = 200)]
    body: usize,
    /// The sender reconnects every cycle (instead of one connection for the whole run).
    #[arg(long)]
    fresh_sender: bool,
    /// Scrape `/metrics` before each measurement, as Prometheus would (by default
    /// nothing scrapes: the node's own upkeep must keep its histograms bounded).
    #[arg(long)]
    scrape: bool,
}

/// glibc's totals over all arenas (`malloc_stats`), in bytes.
#[derive(Clone, Copy, Debug, Default)]
struct Heap {
    system: u64,
    in_use: u64,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args = Args::parse();
    let redis = RedisServer::start().await;
    let cluster = Cluster::start_with(1, RedisLink::Single(redis.url()), |o| {
        o.set("rate_burst", "1000000")
            .set("rate_per_sec", "1000000")
            .set("log", "info")
    })
    .await;
    cluster.wait_ready().await;
    let node = cluster.node(0);
    let pid = node.pid().expect("the server runs");
    let pair = Pair::create(&node.rest, "Mentee Memory", "Mentor Memory").await;
    let conversation = pair.conversation.clone();
    let mut mentor = WsClient::connect(&node.ws_url, &pair.mentor.token).await;
    let mut cursor = welcome_head(&mentor, &conversation);
    let body = "x".repeat(args.body);

    let start = (rss_kib(pid), heap(node, pid));
    println!(
        "{:>5} {:>10} {:>10} {:>10} {:>12} {:>12} {:>6} {:>6}",
        "cycle", "stalled", "after", "anon", "heap system", "heap in use", "conns", "tasks"
    );
    println!(
        "{:>5} {:>10} {:>10} {:>10} {:>12} {:>12}",
        "start",
        "",
        start.0,
        status_kib(pid, "RssAnon:"),
        start.1.system / 1024,
        start.1.in_use / 1024
    );
    let mut sent = 0usize;
    for cycle in 1..=args.cycles {
        // A consumer that never reads: a small receive buffer, so the server's writes
        // back up at once and its bounded queue fills.
        let mut stalled = WsClient::open_with_receive_buffer(&node.ws_url, 4096).await;
        let cursors = BTreeMap::from([(conversation.clone(), cursor)]);
        let reply = stalled.hello(&pair.mentee.token, &cursors).await;
        assert_eq!(reply["type"], "welcome", "{reply}");
        if args.fresh_sender {
            mentor.close().await;
            mentor = WsClient::connect(&node.ws_url, &pair.mentor.token).await;
        }
        let mut head = cursor;
        for _ in 0..args.messages {
            sent += 1;
            head = mentor.say(&conversation, &format!("m{sent}"), &body).await;
        }
        mentor.drain_backlog();
        let stalled_rss = rss_kib(pid);
        drop(stalled);
        // The catch-up: resume from the cursor and read the whole backlog.
        let mut reader =
            WsClient::connect_with_cursors(&node.ws_url, &pair.mentee.token, &cursors).await;
        while reader.cursors().get(&conversation).copied().unwrap_or(0) < head {
            reader.wait_for_seq(&conversation, head).await;
        }
        cursor = head;
        reader.close().await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let (connections, tasks) = liveness(node, args.scrape).await;
        let after = heap(node, pid);
        println!(
            "{cycle:>5} {stalled_rss:>10} {:>10} {:>10} {:>12} {:>12} {connections:>6} {tasks:>6}",
            rss_kib(pid),
            status_kib(pid, "RssAnon:"),
            after.system / 1024,
            after.in_use / 1024
        );
    }
    gdb(pid, "call (int) malloc_trim(0)");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let trimmed = heap(node, pid);
    println!(
        "{:>5} {:>10} {:>10} {:>10} {:>12} {:>12}",
        "trim",
        "",
        rss_kib(pid),
        status_kib(pid, "RssAnon:"),
        trimmed.system / 1024,
        trimmed.in_use / 1024
    );
    println!(
        "(KiB; RSS and its anonymous part from /proc, heap from glibc's malloc_stats; \
         file-backed pages were {} KiB)",
        status_kib(pid, "RssFile:")
    );
}

/// Open WebSockets (`/readyz`) and, when scraping, live async tasks (`/metrics`).
async fn liveness(node: &ServerProcess, scrape: bool) -> (u64, u64) {
    let (_, ready) = node.rest.get_text("/readyz").await;
    let ready: serde_json::Value = serde_json::from_str(&ready).unwrap_or_default();
    if !scrape {
        return (ready["connections"].as_u64().unwrap_or(0), 0);
    }
    let (_, metrics) = node.rest.get_text("/metrics").await;
    let tasks = metrics
        .lines()
        .find_map(|l| l.strip_prefix("mentorhub_runtime_tasks "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .unwrap_or(0.0);
    (ready["connections"].as_u64().unwrap_or(0), tasks as u64)
}

fn welcome_head(client: &WsClient, conversation: &str) -> u64 {
    client
        .welcome
        .as_ref()
        .and_then(|w| w["conversations"].as_array().cloned())
        .and_then(|all| {
            all.iter()
                .find(|c| c["id"] == conversation)
                .and_then(|c| c["last_seq"].as_u64())
        })
        .unwrap_or(0)
}

fn rss_kib(pid: u32) -> u64 {
    status_kib(pid, "VmRSS:")
}

/// One `kB` line of `/proc/PID/status`.
fn status_kib(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn gdb(pid: u32, command: &str) {
    // gdb may exit non-zero on detach in a VM ("Couldn't write extended state status")
    // after the call itself ran; the caller checks the call's effect instead.
    Command::new("gdb")
        .args(["-p", &pid.to_string(), "-batch", "-nx", "-ex", command])
        .output()
        .expect("run gdb (apt install gdb)");
}

/// Has the server print `malloc_stats()` to its stderr (its log) and reads the totals.
fn heap(node: &ServerProcess, pid: u32) -> Heap {
    gdb(pid, "call (void) malloc_stats()");
    std::thread::sleep(Duration::from_millis(200));
    let logs = node.logs();
    let total = logs
        .rfind("Total (incl. mmap):")
        .expect("malloc_stats() printed its totals in the server's log");
    let number = |key: &str| {
        logs[total..]
            .lines()
            .find_map(|l| l.trim().strip_prefix(key))
            .and_then(|v| v.trim_start_matches([' ', '=']).trim().parse().ok())
            .unwrap_or(0)
    };
    Heap {
        system: number("system bytes"),
        in_use: number("in use bytes"),
    }
}
