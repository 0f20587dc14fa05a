//! `soak`: a long run of ordinary use with churn against several nodes — pairs and rooms
//! chatting slowly, people coming and going (clean closes and dropped connections, then a
//! resume with their cursor), now and then a call rung and hung up — while the server's
//! memory, open files, tasks and delivery latency are sampled every minute.
//!
//! Verdict (exit code 3 when it fails): every member ends holding every event of its
//! conversation exactly once and in order (so nothing acknowledged was lost or
//! duplicated); no server's RSS at the end has grown more than 10 % past its 5-minute value
//! (a fall is the binary's file-backed pages leaving a busy machine's page cache); and no
//! server's anonymous memory (`RssAnon`) grew more than 5 % over the second half of the run,
//! where a leak keeps growing with use while warm-up (allocator arenas reaching their
//! high-water marks, bounded caches filling) is over. `scripts/soak.sh` starts the nodes, runs this and checks their logs for errors.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use futures_util::{SinkExt, StreamExt};
use rand::Rng;
use serde_json::{Value, json};
use tokio::time::{Instant, sleep, sleep_until, timeout};
use tokio_tungstenite::tungstenite::Message;

use crate::procfs;
use crate::provision::{GroupKind, Layout, Seat, TOKEN_TTL_SECS};
use crate::run::Setup;
use crate::stats::summarize;
use crate::{Common, emit};

#[derive(clap::Args, Debug)]
pub struct SoakArgs {
    #[command(flatten)]
    pub common: Common,
    /// 1:1 mentoring pairs (two clients each).
    #[arg(long, default_value_t = 100)]
    pub pairs: u32,
    /// Group rooms.
    #[arg(long, default_value_t = 10)]
    pub rooms: u32,
    /// Members per room.
    #[arg(long, default_value_t = 8)]
    pub room_size: u32,
    /// Length of the run.
    #[arg(long, default_value_t = 60.0)]
    pub minutes: f64,
    /// Messages each client sends per minute while connected.
    #[arg(long, default_value_t = 2.0)]
    pub messages_per_minute: f64,
    /// Mean length of one connection (exponential), in seconds.
    #[arg(long, default_value_t = 90.0)]
    pub session_secs: f64,
    /// Calls started per minute across all pairs.
    #[arg(long, default_value_t = 2.0)]
    pub calls_per_minute: f64,
}

/// Counters every client adds to.
#[derive(Default)]
struct Tally {
    sent: AtomicU64,
    acked: AtomicU64,
    delivered: AtomicU64,
    duplicates: AtomicU64,
    gaps: AtomicU64,
    sessions: AtomicU64,
    dropped: AtomicU64,
    server_closes: AtomicU64,
    calls_started: AtomicU64,
    calls_answered: AtomicU64,
    errors: AtomicU64,
    /// Delivery latencies (µs) since the last minute's sample.
    latencies: Mutex<Vec<u32>>,
}

/// One client across all its connections.
struct Client {
    id: usize,
    token: String,
    conversation: String,
    in_pair: bool,
    urls: Vec<String>,
    /// Highest seq held, and how many events are held.
    cursor: u64,
    held: u64,
    /// Events up to this seq are not this member's to see (a room hides what was said
    /// before one joined).
    floor: u64,
    next: u64,
    unacked: VecDeque<String>,
}

enum Ended {
    Churned,
    Closed,
    Finished,
}

pub async fn run(args: &SoakArgs) -> anyhow::Result<bool> {
    let common = &args.common;
    let setup = Setup::new(common).await?;
    let ttl = (args.minutes * 60.0) as i64 + 1800;
    TOKEN_TTL_SECS.store(ttl.max(3600), Ordering::Relaxed);
    let mut seats: Vec<(Seat, bool)> = setup
        .seats(
            common,
            &Layout::rooms(args.pairs * 2, args.pairs),
            GroupKind::Pair,
        )
        .await
        .context("setting up pairs")?
        .into_iter()
        .map(|s| (s, true))
        .collect();
    if args.rooms > 0 {
        let rooms = Setup {
            run_name: format!("{}r", setup.run_name),
            ..Setup::new(common).await?
        };
        let layout = Layout::rooms(args.rooms * args.room_size, args.rooms);
        seats.extend(
            rooms
                .seats(common, &layout, GroupKind::Room)
                .await
                .context("setting up rooms")?
                .into_iter()
                .map(|s| (s, false)),
        );
    }
    let urls: Vec<String> = setup
        .nodes
        .iter()
        .map(|n| format!("ws://{}{}", n.addr, n.ws_path))
        .collect();
    let metrics: Vec<String> = setup
        .nodes
        .iter()
        .map(|n| format!("http://{}/metrics", n.addr))
        .collect();
    let tally = Arc::new(Tally::default());
    let start = Instant::now();
    let stop_sending = start + Duration::from_secs_f64(args.minutes * 60.0);
    let call_chance = args.calls_per_minute
        / (args.pairs.max(1) as f64 * 2.0 * args.messages_per_minute.max(0.01));
    let mut clients = Vec::new();
    for (id, (seat, in_pair)) in seats.into_iter().enumerate() {
        let client = Client {
            id,
            token: seat.token.clone().context("a token per seat")?,
            conversation: seat.target.0.clone(),
            in_pair,
            urls: urls.clone(),
            cursor: 0,
            held: 0,
            floor: 0,
            next: 0,
            unacked: VecDeque::new(),
        };
        let options = Pace {
            gap: Duration::from_secs_f64(60.0 / args.messages_per_minute.max(0.01)),
            session: args.session_secs,
            call_chance,
            stop_sending,
        };
        clients.push(tokio::spawn(live(client, options, tally.clone())));
        // Spread the first connections over a few seconds.
        sleep(Duration::from_millis(10)).await;
    }
    let sampler = tokio::spawn(sample_every_minute(
        common.clone(),
        setup.watched.servers.clone(),
        metrics,
        tally.clone(),
        start,
        stop_sending,
        // The half-way sample, from which anonymous memory must stay flat.
        ((args.minutes / 2.0).round() as u64).max(5),
    ));
    let mut finished = Vec::new();
    let mut complete = true;
    for client in clients {
        match client.await {
            Ok(Ok(client)) => finished.push(client),
            Ok(Err(error)) => {
                complete = false;
                eprintln!("soak: a client failed: {error:#}");
            }
            Err(error) => {
                complete = false;
                eprintln!("soak: a client task failed: {error}");
            }
        }
    }
    // Everyone has stopped sending: each member must hold exactly its conversation's
    // committed events (others' last retries may have landed after its final session).
    let http = reqwest::Client::new();
    let base = format!("http://{}", setup.nodes[0].addr);
    let mut short = 0u64;
    for client in &mut finished {
        let head = committed_head(&http, &base, client).await?;
        if client.cursor < head {
            let pace = Pace {
                gap: Duration::from_secs(3600),
                session: 1.0,
                call_chance: 0.0,
                stop_sending,
            };
            let url = urls[0].clone();
            if let Err(error) = session(client, &url, pace, true, &tally).await {
                eprintln!(
                    "soak: client {} final catch-up failed: {error:#}",
                    client.id
                );
            }
        }
        if client.cursor != head || client.held != head - client.floor {
            short += 1;
            eprintln!(
                "soak: client {} holds {} events up to seq {}, the conversation has {head}",
                client.id, client.held, client.cursor
            );
        }
    }
    complete &= short == 0;
    let (rss, anon) = sampler.await.context("sampler")?;
    let rss_bounded = rss
        .iter()
        .all(|(at5, end)| *at5 > 0 && *end as f64 <= 1.10 * *at5 as f64);
    let anon_flat = anon
        .iter()
        .all(|(_, half, end)| *half > 0 && *end as f64 <= 1.05 * *half as f64);
    let stable = rss_bounded && anon_flat;
    let t = &tally;
    let exact = t.duplicates.load(Ordering::Relaxed) == 0 && t.gaps.load(Ordering::Relaxed) == 0;
    let pass = complete && exact && stable;
    emit(
        common,
        &json!({
            "mode": "soak", "label": common.label, "minutes": args.minutes,
            "clients": args.pairs * 2 + args.rooms * args.room_size, "members_short": short,
            "sent": t.sent.load(Ordering::Relaxed), "acked": t.acked.load(Ordering::Relaxed),
            "delivered": t.delivered.load(Ordering::Relaxed),
            "duplicates": t.duplicates.load(Ordering::Relaxed), "gaps": t.gaps.load(Ordering::Relaxed),
            "sessions": t.sessions.load(Ordering::Relaxed), "dropped": t.dropped.load(Ordering::Relaxed),
            "server_closes": t.server_closes.load(Ordering::Relaxed),
            "calls_started": t.calls_started.load(Ordering::Relaxed),
            "calls_answered": t.calls_answered.load(Ordering::Relaxed),
            "errors": t.errors.load(Ordering::Relaxed),
            "rss_kib_at_5_min_and_end": rss, "anon_kib_at_5_min_half_and_end": anon,
            "rss_grew_at_most_10pct": rss_bounded, "anon_flat_over_second_half": anon_flat,
            "every_member_holds_every_event_once": complete && exact,
            "pass": pass,
        }),
    )?;
    Ok(pass)
}

#[derive(Clone, Copy)]
struct Pace {
    gap: Duration,
    session: f64,
    call_chance: f64,
    stop_sending: Instant,
}

/// Connects, chats, leaves and comes back until the run ends, then stays for a final
/// session that holds everything.
async fn live(mut client: Client, pace: Pace, tally: Arc<Tally>) -> anyhow::Result<Client> {
    let mut attempt = client.id;
    loop {
        let url = client.urls[attempt % client.urls.len()].clone();
        attempt += 1;
        let finishing = Instant::now() >= pace.stop_sending;
        match session(&mut client, &url, pace, finishing, &tally).await {
            Ok(Ended::Finished) => return Ok(client),
            Ok(Ended::Churned) => {}
            Ok(Ended::Closed) => {
                tally.server_closes.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => {
                tally.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
        // Away for a while, as people are, then resume where they left off.
        let away = rand::rng().random_range(500..5000);
        sleep(Duration::from_millis(away)).await;
    }
}

async fn session(
    client: &mut Client,
    url: &str,
    pace: Pace,
    finishing: bool,
    tally: &Tally,
) -> anyhow::Result<Ended> {
    let (mut ws, _) = timeout(
        Duration::from_secs(10),
        tokio_tungstenite::connect_async(url),
    )
    .await
    .context("connect timed out")??;
    tally.sessions.fetch_add(1, Ordering::Relaxed);
    let hello = json!({"type": "hello", "token": client.token,
                       "cursors": {client.conversation.clone(): client.cursor}});
    ws.send(Message::text(hello.to_string())).await?;
    let mut head = None;
    // Resend what was never acknowledged, with the same client ids.
    for client_id in client.unacked.clone() {
        ws.send(Message::text(send_frame(&client.conversation, &client_id)))
            .await?;
    }
    let lifetime = {
        let u: f64 = rand::rng().random_range(0.0001..1.0);
        Duration::from_secs_f64((-u.ln() * pace.session).clamp(5.0, 900.0))
    };
    let leave_at = Instant::now() + lifetime;
    let mut next_send = Instant::now() + pace.gap.mul_f64(rand::rng().random_range(0.1..1.0));
    let mut hang_up: Option<(String, Instant)> = None;
    loop {
        let now = Instant::now();
        if !finishing && now >= pace.stop_sending {
            let _ = ws.close(None).await;
            return Ok(Ended::Churned); // the final session follows
        }
        if finishing && client.unacked.is_empty() && head.is_some_and(|h| client.cursor >= h) {
            let _ = ws.close(None).await;
            return Ok(Ended::Finished);
        }
        if !finishing && now >= leave_at {
            // Half leave cleanly, half just drop off (a phone losing signal).
            if rand::rng().random_bool(0.5) {
                let _ = ws.close(None).await;
            }
            return Ok(Ended::Churned);
        }
        let mut wake = if finishing {
            now + Duration::from_secs(30)
        } else {
            leave_at.min(pace.stop_sending)
        };
        if head.is_some() && !finishing {
            wake = wake.min(next_send);
        }
        if let Some((_, at)) = &hang_up {
            wake = wake.min(*at);
        }
        tokio::select! {
            frame = ws.next() => {
                let text = match frame {
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(Message::Close(_))) | None => return Ok(Ended::Closed),
                    Some(Ok(_)) => continue,
                    Some(Err(error)) => return Err(error.into()),
                };
                let frame: Value = serde_json::from_str(text.as_str())?;
                if let Some(reply) = on_frame(client, &frame, tally, &mut head, &mut hang_up) {
                    ws.send(Message::text(reply)).await?;
                }
            }
            _ = sleep_until(wake) => {
                if finishing {
                    anyhow::bail!("client {}: final session did not catch up within 30 s", client.id);
                }
                if let Some((call, at)) = hang_up.clone() && Instant::now() >= at {
                    hang_up = None;
                    ws.send(Message::text(json!({"type": "call", "action": "leave", "call": call}).to_string())).await?;
                }
                if head.is_some() && Instant::now() >= next_send && Instant::now() < pace.stop_sending {
                    next_send = Instant::now() + pace.gap.mul_f64(rand::rng().random_range(0.5..1.5));
                    let client_id = format!("s{}-{}", client.id, client.next);
                    client.next += 1;
                    client.unacked.push_back(client_id.clone());
                    tally.sent.fetch_add(1, Ordering::Relaxed);
                    ws.send(Message::text(send_frame(&client.conversation, &client_id))).await?;
                    if client.in_pair && hang_up.is_none() && rand::rng().random_bool(pace.call_chance.min(1.0)) {
                        tally.calls_started.fetch_add(1, Ordering::Relaxed);
                        let start = json!({"type": "call", "action": "start", "ref": "call",
                                           "conversation": client.conversation, "media": "audio"});
                        ws.send(Message::text(start.to_string())).await?;
                    }
                }
            }
        }
    }
}

/// A `send` whose body carries the client id and the send time (for latency).
fn send_frame(conversation: &str, client_id: &str) -> String {
    let now = now_millis();
    json!({"type": "send", "conversation": conversation, "client_id": client_id,
           "body": format!("{client_id} {now}")})
    .to_string()
}

/// Books one frame; returns a frame to send back (answering a call).
fn on_frame(
    client: &mut Client,
    frame: &Value,
    tally: &Tally,
    head: &mut Option<u64>,
    hang_up: &mut Option<(String, Instant)>,
) -> Option<String> {
    match frame["type"].as_str().unwrap_or_default() {
        "welcome" => {
            let summary = frame["conversations"]
                .as_array()
                .and_then(|all| all.iter().find(|c| c["id"] == client.conversation.as_str()));
            *head = summary.and_then(|c| c["last_seq"].as_u64()).or(Some(0));
            let visible_from = summary
                .and_then(|c| c["visible_from"].as_u64())
                .unwrap_or(0);
            if client.cursor == 0 && visible_from > 1 {
                client.floor = visible_from - 1;
                client.cursor = client.floor;
            }
        }
        "message" | "system" | "message_edited" | "message_deleted"
            if frame["conversation"] == client.conversation.as_str() =>
        {
            let seq = frame["seq"].as_u64().unwrap_or(0);
            if seq <= client.cursor {
                tally.duplicates.fetch_add(1, Ordering::Relaxed);
                eprintln!("soak: client {} got seq {seq} again", client.id);
            } else {
                if seq > client.cursor + 1 {
                    tally.gaps.fetch_add(1, Ordering::Relaxed);
                    eprintln!(
                        "soak: client {} missed seqs {}..{seq}",
                        client.id,
                        client.cursor + 1
                    );
                }
                client.cursor = seq;
                client.held += 1;
                tally.delivered.fetch_add(1, Ordering::Relaxed);
                if let Some(sent) = frame["body"]
                    .as_str()
                    .and_then(|b| b.rsplit(' ').next())
                    .and_then(|ms| ms.parse::<i64>().ok())
                {
                    let micros = (now_millis() - sent).max(0) * 1000;
                    if let Ok(mut all) = tally.latencies.lock() {
                        all.push(micros.min(u32::MAX as i64) as u32);
                    }
                }
            }
        }
        "ack" => {
            let client_id = frame["client_id"].as_str().unwrap_or_default();
            if let Some(i) = client.unacked.iter().position(|c| c == client_id) {
                client.unacked.remove(i);
                tally.acked.fetch_add(1, Ordering::Relaxed);
            }
            if let Some(seq) = frame["seq"].as_u64() {
                *head = head.map(|h| h.max(seq));
            }
        }
        "call" => match frame["event"].as_str().unwrap_or_default() {
            "ringing" => {
                tally.calls_answered.fetch_add(1, Ordering::Relaxed);
                let call = frame["call"].as_str().unwrap_or_default();
                return Some(json!({"type": "call", "action": "accept", "call": call}).to_string());
            }
            "started" | "joined" => {
                let call = frame["call"].as_str().unwrap_or_default().to_owned();
                let after = Duration::from_millis(rand::rng().random_range(2000..8000));
                *hang_up = Some((call, Instant::now() + after));
            }
            _ => {}
        },
        "error" => {
            let code = frame["code"].as_str().unwrap_or_default();
            // A busy callee, a call already running, a send past the rate: expected.
            if !matches!(
                code,
                "rate_limited" | "call_state" | "not_found" | "conflict"
            ) {
                tally.errors.fetch_add(1, Ordering::Relaxed);
                eprintln!("soak: client {} error {frame}", client.id);
            }
        }
        _ => {}
    }
    None
}

/// One JSON line a minute; returns each server's RSS (KiB) at minute 5 and at the end.
async fn sample_every_minute(
    common: Common,
    servers: Vec<u32>,
    metrics: Vec<String>,
    tally: Arc<Tally>,
    start: Instant,
    stop_sending: Instant,
    half_minute: u64,
) -> (Vec<(u64, u64)>, Vec<(u64, u64, u64)>) {
    let http = reqwest::Client::new();
    let mut at5 = vec![0u64; servers.len()];
    let mut last = vec![0u64; servers.len()];
    let mut anon_at5 = vec![0u64; servers.len()];
    let mut anon_half = vec![0u64; servers.len()];
    let mut anon_last = vec![0u64; servers.len()];
    let mut minute = 0u64;
    loop {
        minute += 1;
        sleep_until(start + Duration::from_secs(60 * minute)).await;
        let samples: Vec<procfs::ProcSample> =
            servers.iter().map(|&pid| procfs::sample(pid)).collect();
        let rss: Vec<u64> = samples.iter().map(|s| s.rss_kib).collect();
        let anon: Vec<u64> = samples.iter().map(|s| s.anon_kib).collect();
        let fds: Vec<usize> = servers
            .iter()
            .map(|pid| std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count()))
            .collect();
        let mut tasks = Vec::new();
        for url in &metrics {
            tasks.push(gauge(&http, url, "mentorhub_runtime_tasks").await);
        }
        let latencies = tally
            .latencies
            .lock()
            .map(|mut l| std::mem::take(&mut *l))
            .unwrap_or_default();
        let summary = summarize(latencies);
        if minute == 5 {
            at5.clone_from(&rss);
            anon_at5.clone_from(&anon);
        }
        if minute == half_minute {
            anon_half.clone_from(&anon);
        }
        last.clone_from(&rss);
        anon_last.clone_from(&anon);
        let line = json!({
            "mode": "soak-minute", "minute": minute, "rss_kib": rss, "anon_kib": anon,
            "fds": fds, "tasks": tasks,
            "deliveries": summary.n, "p50_ms": summary.p50, "p99_ms": summary.p99, "max_ms": summary.max,
            "sent": tally.sent.load(Ordering::Relaxed), "acked": tally.acked.load(Ordering::Relaxed),
            "sessions": tally.sessions.load(Ordering::Relaxed),
            "calls_started": tally.calls_started.load(Ordering::Relaxed),
            "loadavg": procfs::loadavg(),
        });
        let _ = emit(&common, &line);
        if Instant::now() >= stop_sending {
            return (
                at5.into_iter().zip(last).collect(),
                anon_at5
                    .into_iter()
                    .zip(anon_half)
                    .zip(anon_last)
                    .map(|((at5, half), end)| (at5, half, end))
                    .collect(),
            );
        }
    }
}

/// One gauge from a Prometheus text page (None if absent or unreachable).
async fn gauge(http: &reqwest::Client, url: &str, name: &str) -> Option<f64> {
    let text = http.get(url).send().await.ok()?.text().await.ok()?;
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The conversation's committed head, as the client's own REST view shows it.
async fn committed_head(
    http: &reqwest::Client,
    base: &str,
    client: &Client,
) -> anyhow::Result<u64> {
    let url = format!("{base}/api/conversations/{}", client.conversation);
    let answer: Value = http
        .get(url)
        .bearer_auth(&client.token)
        .send()
        .await?
        .json()
        .await?;
    answer["conversation"]["last_seq"]
        .as_u64()
        .context("no last_seq in the conversation view")
}
