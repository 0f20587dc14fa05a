//! Real network partitions, one link at a time. Node A runs in the test's namespace; node
//! B in a network namespace of its own (`mentorhub_tests::netns`), joined by veth pairs to
//! Redis, to PostgreSQL, to its clients and to an operations link that `/readyz` is probed
//! over. A link is cut, or made lossy or slow, while mentors on A and mentees on B keep
//! sending (client ids, retries, resume, as a real client). Each test ends with every
//! acknowledged message held by every member exactly once, in order, each delivered within
//! its bound (PROTOCOL §6.7) — from its acknowledgement, or from the healing when the
//! partition stood between — and checks what `/readyz` said during the partition.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::future::join_all;
use mentorhub_tests::cluster::{Cluster, RedisLink, RedisServer};
use mentorhub_tests::netns::{self, Firewall, Link, Loss, Namespace, Relay};
use mentorhub_tests::{WsClient, eventually};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::agent::{Agent, AgentLog, check_conversation};
use super::readiness::{Readiness, assert_all_ready, field, ready};

const PAIRS: usize = 8;
const MESSAGES: usize = 24;
/// Between two sends of one client: sending lasts ~10 s, across the partition.
const PACE: Duration = Duration::from_millis(400);
/// How long a partition stands.
const OUTAGE: Duration = Duration::from_secs(10);
/// A client gives up a connection on which nothing arrived for this long (it pings after
/// a third of it).
const LIVENESS: Duration = Duration::from_secs(6);
/// PROTOCOL §6.7: committed → every connected member whose node reads the database.
const BOUND: Duration = Duration::from_secs(3);

/// Node A (index 0) in the test's namespace, node B (index 1) in its own.
struct Partitioned {
    cluster: Cluster,
    _redis: RedisServer,
    firewall: Firewall,
    redis: Link,
    store: Link,
    clients: Link,
    /// A second client-side link, for the one slow client of the round-trip test.
    rural: Link,
    _relays: Vec<Relay>,
    /// `http://<ops address>:<port>`: B's `/readyz` over the operations link.
    ops_url: String,
    _namespace: Namespace,
}

impl Partitioned {
    /// Both nodes ready; panics (unless told to skip) where namespaces cannot be made.
    async fn start() -> Option<Partitioned> {
        if let Some(why) = netns::unavailable() {
            if std::env::var_os("MENTORHUB_TEST_SKIP_NETNS").is_some() {
                eprintln!("SKIPPED (MENTORHUB_TEST_SKIP_NETNS): partition test: {why}");
                return None;
            }
            panic!("partition tests need network namespaces: {why}");
        }
        let redis_server = RedisServer::start().await;
        let mut cluster = Cluster::start(1, RedisLink::Single(redis_server.url())).await;
        let mut namespace = Namespace::create().expect("a network namespace");
        let [redis, store, clients, ops, rural] = ["redis", "store", "clients", "ops", "rural"]
            .map(|name| {
                namespace
                    .link(name)
                    .unwrap_or_else(|e| panic!("the {name} link: {e}"))
            });
        // B reaches Redis and PostgreSQL through its own links.
        let redis_relay = Relay::start(redis.outer_ip.into(), redis_server.addr()).await;
        let (db_head, db_server, db_tail) = split_url(&cluster.db.url);
        let pg_relay = Relay::start(
            store.outer_ip.into(),
            db_server.parse().expect("PostgreSQL at an IP address"),
        )
        .await;
        let database_url = format!("{db_head}{}{db_tail}", pg_relay.addr);
        let redis_url = format!("redis://{}", redis_relay.addr);
        let namespace_name = namespace.name.clone();
        cluster
            .add_node_with(1, |options| {
                let mut options = options
                    .set("listen", "0.0.0.0:0")
                    .set("redis_url", redis_url)
                    .set("database_url", database_url);
                options.namespace = Some((namespace_name, clients.inner_ip.into()));
                options
            })
            .await;
        cluster.wait_ready().await;
        let port = cluster.node(1).base_url.rsplit(':').next().unwrap_or("");
        let ops_url = format!("http://{}:{port}", ops.inner_ip);
        Some(Partitioned {
            cluster,
            _redis: redis_server,
            firewall: Firewall::new(&namespace),
            redis,
            store,
            clients,
            rural,
            _relays: vec![redis_relay, pg_relay],
            ops_url,
            _namespace: namespace,
        })
    }

    fn a_url(&self) -> String {
        self.cluster.node(0).ws_url.clone()
    }

    fn b_url(&self) -> String {
        self.cluster.node(1).ws_url.clone()
    }
}

/// `postgres://user@host:port/db` → (`postgres://user@`, `host:port`, `/db`).
fn split_url(url: &str) -> (&str, &str, &str) {
    let at = url.find('@').expect("a user in the database URL") + 1;
    let slash = at + url[at..].find('/').expect("a database name");
    (&url[..at], &url[at..slash], &url[slash..])
}

/// Mentors on A, mentees on B (or through `mentee_url`), all sending paced messages.
struct Traffic {
    agents: Vec<JoinHandle<AgentLog>>,
    acked: Arc<AtomicUsize>,
    /// Conversation → is its mentee the one behind the slow path?
    slow: BTreeMap<String, bool>,
}

impl Traffic {
    async fn start(net: &Partitioned, mentee_url: impl Fn(usize) -> String) -> Traffic {
        let pairs = super::pairs(&net.cluster.node(0).rest, PAIRS, "p").await;
        let acked = Arc::new(AtomicUsize::new(0));
        let mut agents = Vec::new();
        let mut slow = BTreeMap::new();
        for (i, pair) in pairs.iter().enumerate() {
            let mentee_home = mentee_url(i);
            slow.insert(pair.conversation.clone(), mentee_home != net.b_url());
            for (person, home) in [(&pair.mentee, mentee_home), (&pair.mentor, net.a_url())] {
                let agent = Agent {
                    name: person.name.clone(),
                    token: person.token.clone(),
                    conversation: pair.conversation.clone(),
                    // A client keeps coming back to its own node (its load balancer).
                    urls: vec![home],
                    messages: MESSAGES,
                    expect_last_seq: (2 * MESSAGES + 1) as u64,
                    acked: acked.clone(),
                    liveness: LIVENESS,
                }
                .paced(PACE);
                agents.push(tokio::spawn(agent.run()));
            }
        }
        Traffic {
            agents,
            acked,
            slow,
        }
    }

    /// Waits until a fifth of all messages are acknowledged.
    async fn under_way(&self) {
        let total = PAIRS * 2 * MESSAGES;
        let acked = self.acked.clone();
        eventually(Duration::from_secs(30), "traffic under way", || {
            let acked = acked.clone();
            async move { (acked.load(Ordering::Relaxed) >= total / 5).then_some(()) }
        })
        .await;
    }

    fn acked(&self) -> usize {
        self.acked.load(Ordering::Relaxed)
    }

    /// Every client done (all sent, all received); the logs.
    async fn finish(self, within: Duration) -> Vec<AgentLog> {
        tokio::time::timeout(within, join_all(self.agents))
            .await
            .expect("every client finished")
            .into_iter()
            .map(|r| r.expect("client task"))
            .collect()
    }
}

/// Where a member was, for its delivery bound.
struct Verdict<'a> {
    /// Names a member whose deliveries may wait for the healing.
    behind_partition: &'a dyn Fn(&AgentLog) -> bool,
    healed: Instant,
    /// From the acknowledgement (or the healing, behind the partition).
    bound: Duration,
}

/// Exactly once, in order, and every acknowledged message at every member in time.
fn check_deliveries(logs: &[AgentLog], verdict: &Verdict) -> Duration {
    let mut by_conversation: BTreeMap<&str, Vec<&AgentLog>> = BTreeMap::new();
    for log in logs {
        by_conversation
            .entry(&log.conversation)
            .or_default()
            .push(log);
    }
    let mut slowest = Duration::ZERO;
    for (conversation, members) in by_conversation {
        check_conversation(conversation, &members, (2 * MESSAGES + 1) as u64);
        // seq → when its sender had the ack.
        let acked_at: BTreeMap<u64, Instant> = members
            .iter()
            .flat_map(|m| m.acks.iter().map(|(id, seq)| (*seq, m.acked_at[id])))
            .collect();
        for member in &members {
            let behind = (verdict.behind_partition)(member);
            for ((seq, _), arrived) in member.events.iter().zip(&member.arrived) {
                let Some(acked) = acked_at.get(seq) else {
                    continue; // the relationship's system event
                };
                let from = if behind {
                    (*acked).max(verdict.healed)
                } else {
                    *acked
                };
                let took = arrived.saturating_duration_since(from);
                slowest = slowest.max(took);
                assert!(
                    took <= verdict.bound,
                    "{conversation}: {} got seq {seq} {took:?} after {} (bound {:?})",
                    member.name,
                    if behind && verdict.healed > *acked {
                        "the healing"
                    } else {
                        "its ack"
                    },
                    verdict.bound
                );
            }
        }
    }
    slowest
}

fn is_mentee(log: &AgentLog) -> bool {
    log.name.starts_with("Mentee")
}

/// B loses Redis only: it keeps its clients and its database. Deliveries keep flowing
/// both ways through the store within the bound, during the cut too; B's `/readyz` turns
/// red naming the bus (the store up) and green again after the healing; A stays green.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partition_node_from_redis_only_keeps_delivering_through_the_store() {
    let Some(mut net) = Partitioned::start().await else {
        return;
    };
    let traffic = Traffic::start(&net, |_| net.b_url()).await;
    let (ready_a, ready_b) = (
        Readiness::watch(&net.cluster.node(0).base_url),
        Readiness::watch(&net.ops_url),
    );
    traffic.under_way().await;
    net.firewall.cut(&net.redis.clone());
    let cut = Instant::now();
    let red = ready_b
        .until(OUTAGE, "B red while cut from Redis", |b| !ready(b))
        .await;
    assert!(field(&red, "bus").starts_with("down"), "{red}");
    assert_eq!(field(&red, "store"), "up", "{red}");
    let during = traffic.acked();
    tokio::time::sleep(OUTAGE.saturating_sub(cut.elapsed())).await;
    assert!(
        traffic.acked() > during,
        "sends are acknowledged on both nodes while B is cut from Redis"
    );
    net.firewall.heal_all();
    let healed = Instant::now();
    ready_b
        .until(Duration::from_secs(15), "B green after the healing", ready)
        .await;
    let logs = traffic.finish(Duration::from_secs(40)).await;
    assert_all_ready(&ready_a.between(cut, healed), "A");
    let slowest = check_deliveries(
        &logs,
        &Verdict {
            behind_partition: &|_| false,
            healed,
            bound: BOUND,
        },
    );
    eprintln!("redis cut: slowest delivery {slowest:?} after its ack");
}

/// B loses PostgreSQL only: its `/readyz` turns red naming the store (the bus up), its
/// members' sends wait, and everything committed reaches everyone within the bound of the
/// healing; A stays green and keeps serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partition_node_from_postgres_only_recovers_after_healing() {
    let Some(mut net) = Partitioned::start().await else {
        return;
    };
    let traffic = Traffic::start(&net, |_| net.b_url()).await;
    let (ready_a, ready_b) = (
        Readiness::watch(&net.cluster.node(0).base_url),
        Readiness::watch(&net.ops_url),
    );
    traffic.under_way().await;
    net.firewall.cut(&net.store.clone());
    let cut = Instant::now();
    let red = ready_b
        .until(OUTAGE, "B red while cut from PostgreSQL", |b| !ready(b))
        .await;
    assert!(field(&red, "store").starts_with("down"), "{red}");
    assert_eq!(field(&red, "bus"), "up", "{red}");
    tokio::time::sleep(OUTAGE.saturating_sub(cut.elapsed())).await;
    net.firewall.heal_all();
    let healed = Instant::now();
    ready_b
        .until(Duration::from_secs(15), "B green after the healing", ready)
        .await;
    let green_after = healed.elapsed();
    let logs = traffic.finish(Duration::from_secs(40)).await;
    assert_all_ready(&ready_a.between(cut, healed), "A");
    let first_ack_after = logs
        .iter()
        .filter(|l| is_mentee(l))
        .flat_map(|l| l.acked_at.values())
        .filter(|at| **at >= healed)
        .min()
        .map(|at| *at - healed);
    let slowest = check_deliveries(
        &logs,
        &Verdict {
            behind_partition: &is_mentee,
            healed,
            bound: HEALED_STORE,
        },
    );
    eprintln!(
        "postgres cut: B green {green_after:?} after the healing, its first ack after \
         {first_ack_after:?}; slowest delivery {slowest:?} after its ack or the healing"
    );
}

/// After a cut from the database heals: B's pooled connections come back and it catches
/// up (PROTOCOL §6.7).
const HEALED_STORE: Duration = Duration::from_secs(10);
/// After a cut from the clients heals: they notice the dead path ([`LIVENESS`]),
/// reconnect and resume.
const HEALED_CLIENTS: Duration = Duration::from_secs(12);

/// B loses its clients only: it is healthy and says so over the operations link while
/// its clients' path is dead; they reconnect after the healing, resume and retry, and
/// everyone holds everything once within the bound of the healing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partition_node_from_its_clients_only_resumes_after_healing() {
    let Some(mut net) = Partitioned::start().await else {
        return;
    };
    let traffic = Traffic::start(&net, |_| net.b_url()).await;
    let (ready_a, ready_b, ready_b_client_side) = (
        Readiness::watch(&net.cluster.node(0).base_url),
        Readiness::watch(&net.ops_url),
        Readiness::watch(&net.cluster.node(1).base_url),
    );
    traffic.under_way().await;
    net.firewall.cut(&net.clients.clone());
    let cut = Instant::now();
    tokio::time::sleep(OUTAGE).await;
    net.firewall.heal_all();
    let healed = Instant::now();
    // From the clients' side B is unreachable (what their load balancer sees); from the
    // operations side it is ready, truthfully: its store and bus are fine.
    let settle = cut + Duration::from_secs(4);
    let client_side = ready_b_client_side.between(settle, healed);
    assert!(
        !client_side.is_empty() && client_side.iter().all(Option::is_none),
        "B's /readyz over the cut clients' link did not answer: {client_side:?}"
    );
    assert_all_ready(&ready_b.between(cut, healed), "B over the operations link");
    assert_all_ready(&ready_a.between(cut, healed), "A");
    let logs = traffic.finish(Duration::from_secs(40)).await;
    assert!(
        logs.iter()
            .filter(|l| is_mentee(l))
            .all(|l| l.reconnects > 0),
        "B's clients noticed the dead path and reconnected"
    );
    let slowest = check_deliveries(
        &logs,
        &Verdict {
            behind_partition: &is_mentee,
            healed,
            bound: HEALED_CLIENTS,
        },
    );
    eprintln!("clients cut: slowest delivery {slowest:?} after its ack or the healing");
}

/// Asymmetric loss: a third of what B sends is lost — to Redis, to PostgreSQL and to its
/// clients — while everything sent to it arrives. TCP carries on; nothing is lost or
/// repeated, everyone's sends keep being acknowledged, `/readyz` keeps answering, and
/// after the healing B is green and every member holds everything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partition_asymmetric_loss_loses_and_repeats_nothing() {
    let Some(mut net) = Partitioned::start().await else {
        return;
    };
    let traffic = Traffic::start(&net, |_| net.b_url()).await;
    let ready_b = Readiness::watch(&net.ops_url);
    traffic.under_way().await;
    let lossy = Loss {
        inbound: 0,
        outbound: 33,
    };
    for link in [net.redis.clone(), net.store.clone(), net.clients.clone()] {
        net.firewall.set(&link, lossy);
    }
    let start = Instant::now();
    let before = traffic.acked();
    tokio::time::sleep(OUTAGE).await;
    let during = traffic.acked() - before;
    let dropped = net.firewall.dropped();
    net.firewall.heal_all();
    let healed = Instant::now();
    assert!(dropped > 0, "the loss was real: no packet dropped");
    assert!(during > 0, "sends were acknowledged during the loss");
    let samples = ready_b.between(start, healed);
    let answered = samples.iter().filter(|s| s.is_some()).count();
    let green = samples.iter().flatten().filter(|b| ready(b)).count();
    eprintln!(
        "asymmetric loss: {dropped} packets dropped, {during} acks in {OUTAGE:?}; /readyz \
         answered {answered} of {} probes, ready in {green}",
        samples.len()
    );
    assert!(answered > 0, "B's /readyz answered during the loss");
    ready_b
        .until(Duration::from_secs(15), "B green after the healing", ready)
        .await;
    let logs = traffic.finish(Duration::from_secs(40)).await;
    // Nobody is cut off: every delivery is bounded from its acknowledgement.
    let slowest = check_deliveries(
        &logs,
        &Verdict {
            behind_partition: &|_| false,
            healed,
            bound: LOSSY_BOUND,
        },
    );
    eprintln!("asymmetric loss: slowest delivery {slowest:?} after its ack");
}

/// A rural mentee: 800 ms round trip and 5 % loss each way on its own link to B. Every
/// member holds everything once; the rural mentee gets each message within the stated
/// bound of its ack; B stays green; the others are unaffected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partition_slow_lossy_client_link_delivers_exactly_once() {
    let Some(mut net) = Partitioned::start().await else {
        return;
    };
    let port: u16 = net
        .cluster
        .node(1)
        .base_url
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("B's port");
    // 400 ms each way on the path, then the lossy link.
    let relay = Relay::delayed(
        "127.0.0.1".parse().unwrap(),
        (net.rural.inner_ip, port).into(),
        RURAL_ONE_WAY,
    )
    .await;
    net.firewall.set(
        &net.rural.clone(),
        Loss {
            inbound: 5,
            outbound: 5,
        },
    );
    let rural_url = format!("ws://{}/ws", relay.addr);
    // The path is what it claims: a ping takes at least the round trip.
    let probe = net
        .cluster
        .node(0)
        .rest
        .login("Probe Mentee", "mentee")
        .await;
    let mut client = WsClient::connect(&rural_url, &probe.token).await;
    let sent = Instant::now();
    client.sync().await;
    let round_trip = sent.elapsed();
    assert!(
        round_trip >= 2 * RURAL_ONE_WAY,
        "a ping over the rural path took {round_trip:?}"
    );
    client.close().await;
    let b_url = net.b_url();
    let ready_b = Readiness::watch(&net.ops_url);
    let start = Instant::now();
    // The first pair's mentee is the rural one.
    let traffic = Traffic::start(&net, |i| {
        if i == 0 {
            rural_url.clone()
        } else {
            b_url.clone()
        }
    })
    .await;
    let slow = traffic.slow.clone();
    let logs = traffic.finish(Duration::from_secs(50)).await;
    let dropped = net.firewall.dropped();
    assert!(dropped > 0, "the loss was real: no packet dropped");
    assert_all_ready(&ready_b.between(start, Instant::now()), "B");
    let rural = |log: &AgentLog| is_mentee(log) && slow[&log.conversation];
    let slowest = check_deliveries(
        &logs,
        &Verdict {
            behind_partition: &|_| false,
            healed: start,
            bound: RURAL_BOUND,
        },
    );
    let rural_log = logs.iter().find(|l| rural(l)).expect("the rural mentee");
    eprintln!(
        "rural link: ping {round_trip:?}, {dropped} packets dropped, slowest delivery \
         {slowest:?}; the rural mentee reconnected {} times",
        rural_log.reconnects
    );
    drop(relay);
}

/// One-way loss of a third: TCP's retransmissions (back-off from 200 ms) stretch the
/// path, and the delivery check covers a lost publish.
const LOSSY_BOUND: Duration = Duration::from_secs(10);

const RURAL_ONE_WAY: Duration = Duration::from_millis(400);
/// PROTOCOL §6.7's bound plus the path: a few round trips of 800 ms with retransmissions.
const RURAL_BOUND: Duration = Duration::from_secs(6);
