//! Failures between nodes: a node SIGKILLed mid-traffic, Redis killed and restarted,
//! Redis pub/sub going silent while TCP stays up, and a Redis Cluster carrying a
//! conversation over sharded pub/sub. The store is the source of truth; these tests
//! check that no acknowledged message is lost or duplicated for any member.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use mentorhub_tests::cluster::{
    Cluster, Proxy, RedisCluster, RedisLink, RedisServer, readyz, wait_readiness,
};
use mentorhub_tests::scenario::Pair;
use mentorhub_tests::{Rest, WAIT, WsClient, eventually};

mod agent;
mod log_flood;
mod partition;
mod readiness;
mod tail;

use agent::{Agent, AgentLog, check_conversation};

/// `count` accepted pairs, created concurrently (a few at a time) over `rest`.
async fn pairs(rest: &Rest, count: usize, tag: &str) -> Vec<Pair> {
    let mut out = Vec::new();
    for chunk in (0..count).collect::<Vec<_>>().chunks(10) {
        let made = join_all(chunk.iter().map(|i| {
            Pair::create(
                rest,
                format!("Mentee {tag} {i}"),
                format!("Mentor {tag} {i}"),
            )
        }))
        .await;
        out.extend(made);
    }
    out
}

/// 200 clients over nodes A and B, each sending 50 messages with client ids; node B is
/// SIGKILLed mid-run; its clients reconnect to A and resume. Every acknowledged message
/// is then held by every member exactly once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_kill_mid_traffic_loses_and_duplicates_nothing() {
    const PAIRS: usize = 100;
    const MESSAGES: usize = 50;
    let redis = RedisServer::start().await;
    let mut cluster = Cluster::start_with(2, RedisLink::Single(redis.url()), |o| {
        // A short node TTL: survivors notice B's death (and re-read what B may have
        // committed without publishing) within seconds.
        o.set("rate_burst", "200")
            .set("rate_per_sec", "100")
            .set("node_ttl_secs", "6")
    })
    .await;
    cluster.wait_ready().await;
    let pairs = pairs(&cluster.node(0).rest, PAIRS, "k").await;
    let (a_url, b_url) = (
        cluster.node(0).ws_url.clone(),
        cluster.node(1).ws_url.clone(),
    );
    let acked = Arc::new(AtomicUsize::new(0));
    let mut agents = Vec::new();
    for pair in &pairs {
        // Every conversation spans both nodes.
        for (person, home) in [(&pair.mentee, &a_url), (&pair.mentor, &b_url)] {
            let agent = Agent {
                name: person.name.clone(),
                token: person.token.clone(),
                conversation: pair.conversation.clone(),
                urls: vec![home.clone(), a_url.clone()],
                messages: MESSAGES,
                expect_last_seq: (2 * MESSAGES + 1) as u64,
                acked: acked.clone(),
                liveness: Duration::from_secs(20),
            };
            agents.push(tokio::spawn(agent.run()));
        }
    }
    // Kill B once about a third of all messages are acknowledged.
    let total = PAIRS * 2 * MESSAGES;
    eventually(Duration::from_secs(120), "a third of the traffic", || {
        let acked = acked.clone();
        async move { (acked.load(Ordering::Relaxed) >= total / 3).then_some(()) }
    })
    .await;
    cluster.nodes[1].sigkill().await;
    let killed_at = acked.load(Ordering::Relaxed);

    let logs: Vec<AgentLog> = tokio::time::timeout(Duration::from_secs(240), join_all(agents))
        .await
        .expect("every client finished within 4 minutes")
        .into_iter()
        .map(|r| r.expect("client task"))
        .collect();
    assert!(killed_at < total, "node B was killed mid-run");
    let moved = logs.iter().filter(|l| l.reconnects > 0).count();
    assert!(moved >= PAIRS, "node B's clients reconnected ({moved})");
    let mut by_conversation: BTreeMap<&str, Vec<&AgentLog>> = BTreeMap::new();
    for log in &logs {
        by_conversation
            .entry(&log.conversation)
            .or_default()
            .push(log);
    }
    for (conversation, members) in by_conversation {
        check_conversation(conversation, &members, (2 * MESSAGES + 1) as u64);
    }
    assert_eq!(
        acked.load(Ordering::Relaxed),
        total,
        "every message was acknowledged"
    );
}

/// A test-owned Redis is killed during traffic and restarted: sends keep being
/// acknowledged while it is down, every subscription is back within 10 s of the
/// restart, and no member misses an acknowledged message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restart_during_traffic_keeps_every_message() {
    const PAIRS: usize = 10;
    const MESSAGES: usize = 40;
    let mut redis = RedisServer::start().await;
    let cluster = Cluster::start(2, RedisLink::Single(redis.url())).await;
    cluster.wait_ready().await;
    let pairs = pairs(&cluster.node(0).rest, PAIRS, "r").await;
    let (a_url, b_url) = (
        cluster.node(0).ws_url.clone(),
        cluster.node(1).ws_url.clone(),
    );
    let acked = Arc::new(AtomicUsize::new(0));
    let mut agents = Vec::new();
    for pair in &pairs {
        for (person, home) in [(&pair.mentee, &a_url), (&pair.mentor, &b_url)] {
            let agent = Agent {
                name: person.name.clone(),
                token: person.token.clone(),
                conversation: pair.conversation.clone(),
                urls: vec![home.clone()],
                messages: MESSAGES,
                expect_last_seq: (2 * MESSAGES + 1) as u64,
                acked: acked.clone(),
                liveness: Duration::from_secs(20),
            }
            .paced(Duration::from_millis(60));
            agents.push(tokio::spawn(agent.run()));
        }
    }
    let total = PAIRS * 2 * MESSAGES;
    eventually(Duration::from_secs(60), "traffic to start", || {
        let acked = acked.clone();
        async move { (acked.load(Ordering::Relaxed) >= total / 5).then_some(()) }
    })
    .await;
    redis.kill().await;
    let at_kill = acked.load(Ordering::Relaxed);
    // The nodes notice (readiness goes red) and keep acknowledging sends meanwhile.
    for node in &cluster.nodes {
        let body = wait_readiness(node, false).await;
        assert!(
            body["bus"].as_str().unwrap_or("").starts_with("down"),
            "{body}"
        );
    }
    eventually(WAIT, "sends acknowledged while Redis is down", || {
        let acked = acked.clone();
        async move { (acked.load(Ordering::Relaxed) >= at_kill + 20).then_some(()) }
    })
    .await;
    redis.restart().await;
    let restarted = Instant::now();
    // Every conversation channel is subscribed by both nodes again within 10 s.
    let channels: Vec<String> = pairs
        .iter()
        .map(|p| format!("{}:c:{}", cluster.prefix, p.conversation))
        .collect();
    loop {
        let mut args = vec!["PUBSUB", "NUMSUB"];
        args.extend(channels.iter().map(String::as_str));
        let reply = redis.cli(&args).await;
        let counts: Vec<&str> = reply.lines().skip(1).step_by(2).collect();
        if counts.len() == channels.len() && counts.iter().all(|c| *c == "2") {
            break;
        }
        assert!(
            restarted.elapsed() < Duration::from_secs(10),
            "subscriptions not back within 10 s: {reply}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for node in &cluster.nodes {
        wait_readiness(node, true).await;
    }
    let logs: Vec<AgentLog> = tokio::time::timeout(Duration::from_secs(120), join_all(agents))
        .await
        .expect("every client finished")
        .into_iter()
        .map(|r| r.expect("client task"))
        .collect();
    let mut by_conversation: BTreeMap<&str, Vec<&AgentLog>> = BTreeMap::new();
    for log in &logs {
        by_conversation
            .entry(&log.conversation)
            .or_default()
            .push(log);
    }
    for (conversation, members) in by_conversation {
        check_conversation(conversation, &members, (2 * MESSAGES + 1) as u64);
    }
    assert!(
        logs.iter().any(|l| l.resyncs > 0),
        "clients were told to resync after the outage"
    );
}

/// Node B reaches Redis through a proxy that freezes its connections: TCP stays up,
/// nothing arrives. B's probe notices, `/readyz` goes red, B reconnects (new
/// connections pass) and its member receives everything sent meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_pubsub_is_detected_and_delivery_recovers() {
    let redis = RedisServer::start().await;
    let proxy = Proxy::start(redis.addr()).await;
    let mut cluster = Cluster::start(1, RedisLink::Single(redis.url())).await;
    // Node B is the same deployment, but its Redis URL goes through the proxy.
    cluster
        .add_node_with(1, |o| o.set("redis_url", proxy.url()))
        .await;
    cluster.wait_ready().await;
    let pair = Pair::create(&cluster.node(0).rest, "Sara Mentee", "Dr Chen Mentor").await;
    let conversation = pair.conversation.clone();
    let mut mentee = WsClient::connect(&cluster.node(0).ws_url, &pair.mentee.token).await;
    let mut mentor = WsClient::connect(&cluster.node(1).ws_url, &pair.mentor.token).await;
    let first = mentee.say(&conversation, "s0", "before the silence").await;
    mentor.wait_for_seq(&conversation, first).await;

    proxy.freeze();
    let frozen = Instant::now();
    let mut sent = vec![first];
    for i in 1..=5 {
        sent.push(
            mentee
                .say(&conversation, &format!("s{i}"), "into the silence")
                .await,
        );
    }
    let red = wait_readiness(cluster.node(1), false).await;
    // Whichever notices first — the subscriber's missing probe echo or a publish that
    // times out on the frozen connection — the bus is reported down.
    let bus = red["bus"].as_str().unwrap_or("");
    assert!(
        bus.starts_with("down") && (bus.contains("subscriber") || bus.contains("publish")),
        "the bus is reported down: {red}"
    );
    let detected = frozen.elapsed();
    assert!(
        detected < Duration::from_secs(12),
        "detected after {detected:?}"
    );
    wait_readiness(cluster.node(1), true).await;
    mentor
        .wait_for_seq(&conversation, *sent.last().unwrap())
        .await;
    let seqs: Vec<u64> = mentor
        .events()
        .iter()
        .filter(|e| e["conversation"] == conversation.as_str() && e["type"] == "message")
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, sent, "every message once, in order");
    // Live delivery works again, not only catch-up.
    let live = mentee.say(&conversation, "s9", "after recovery").await;
    mentor.wait_for_seq(&conversation, live).await;
}

/// A test-owned 3-master Redis Cluster carries a cross-node conversation through
/// sharded pub/sub (SSUBSCRIBE / SPUBLISH).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_cluster_carries_a_cross_node_conversation_over_sharded_pubsub() {
    let redis = RedisCluster::start().await;
    let cluster = Cluster::start(2, RedisLink::Cluster(redis.urls())).await;
    cluster.wait_ready().await;
    let (ok, body) = readyz(cluster.node(0)).await;
    assert!(ok, "{body}");
    assert_eq!(body["bus_kind"], "redis-cluster");
    let pair = Pair::create(&cluster.node(0).rest, "Aiko Mentee", "Dr Tan Mentor").await;
    let conversation = pair.conversation.clone();
    let mut mentee = WsClient::connect(&cluster.node(0).ws_url, &pair.mentee.token).await;
    let mut mentor = WsClient::connect(&cluster.node(1).ws_url, &pair.mentor.token).await;
    let seq = mentee.say(&conversation, "x1", "over the shards").await;
    let got = mentor
        .next_matching("the message", |f| f["type"] == "message" && f["seq"] == seq)
        .await;
    assert_eq!(got["body"], "over the shards");
    let back = mentor.say(&conversation, "x2", "and back").await;
    mentee.wait_for_seq(&conversation, back).await;
    // The conversation's channel is a shard channel on the cluster, not a classic one.
    let channel = format!("{}:c:{}", cluster.prefix, conversation);
    let mut shard_subscribers = 0;
    for server in &redis.servers {
        let reply = server.cli(&["PUBSUB", "SHARDNUMSUB", &channel]).await;
        shard_subscribers += reply
            .lines()
            .nth(1)
            .and_then(|n| n.trim().parse::<u32>().ok())
            .unwrap_or(0);
        let classic = server.cli(&["PUBSUB", "NUMSUB", &channel]).await;
        assert_eq!(
            classic.lines().nth(1).map(str::trim),
            Some("0"),
            "{classic}"
        );
    }
    assert_eq!(
        shard_subscribers, 2,
        "both nodes hold a sharded subscription"
    );
}
