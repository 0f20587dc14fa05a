//! One traffic run (connect → warm-up → window → drain → verdict → JSON line) and the
//! saturation knee built from several of them.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::watch;
use tokio::time::{Instant, sleep, sleep_until};

use crate::fleet::{self, FleetOptions};
use crate::net::{self, Node, Sources};
use crate::proto::Proto;
use crate::provision::{GroupKind, Layout, Provisioner, Seat};
use crate::report::{Snapshot, Watched, cpu_between, utc_now};
use crate::stats::{round2, summarize};
use crate::traffic::{self, Member, Progress, Schedule};
use crate::{Common, Window, emit};

/// What every run needs: the nodes, who to watch, and the seats once set up.
pub struct Setup {
    pub nodes: Vec<Node>,
    pub watched: Watched,
    pub fleet: Arc<FleetOptions>,
    pub run_name: String,
}

impl Setup {
    pub async fn new(common: &Common) -> anyhow::Result<Setup> {
        let default_path = match common.proto {
            Proto::Mentorhub => "/ws",
            Proto::WsJson => "/",
        };
        let mut nodes = Vec::new();
        for url in common.urls.split(',').filter(|u| !u.is_empty()) {
            nodes.push(net::parse_node(url, default_path).await?);
        }
        anyhow::ensure!(!nodes.is_empty(), "no --urls");
        let run_name = common.run.clone().unwrap_or_else(|| {
            use rand::Rng;
            format!("{:06x}", rand::rng().random::<u32>() & 0xff_ffff)
        });
        Ok(Setup {
            fleet: Arc::new(FleetOptions {
                proto: common.proto,
                nodes: nodes.clone(),
                sources: Sources {
                    count: common.sources,
                },
                concurrency: common.connect_concurrency,
                read_buffer: common.read_buffer,
                wait: Duration::from_secs(30),
            }),
            watched: Watched::parse(&common.server_pids, &common.aux_pids)?,
            nodes,
            run_name,
        })
    }

    pub async fn seats(
        &self,
        common: &Common,
        layout: &Layout,
        kind: GroupKind,
    ) -> anyhow::Result<Vec<Seat>> {
        Provisioner {
            node: self.nodes[0].clone(),
            run: self.run_name.clone(),
            concurrency: common.provision_concurrency,
            kind,
        }
        .seats(common.proto, layout)
        .await
    }
}

/// Sets up, runs once, prints the line. Returns whether delivery was exactly once.
pub async fn traffic_once(
    common: &Common,
    window: &Window,
    layout: Layout,
    rate: f64,
    in_flight: u32,
    mode: &str,
) -> anyhow::Result<bool> {
    let setup = Setup::new(common).await?;
    let kind = if mode == "pairs" {
        GroupKind::Pair
    } else {
        GroupKind::Room
    };
    let seats = Arc::new(setup.seats(common, &layout, kind).await?);
    let line = traffic(
        &setup, common, window, &layout, seats, rate, in_flight, mode,
    )
    .await?;
    let ok = line["exactlyOnce"]["exactlyOnce"] == true;
    emit(common, &line)?;
    Ok(ok)
}

/// The saturation probe: the same layout at each rate, fresh connections per step.
pub async fn knee(
    common: &Common,
    window: &Window,
    layout: Layout,
    rates: &[f64],
    p99_ms: f64,
    keep_going: bool,
) -> anyhow::Result<bool> {
    let setup = Setup::new(common).await?;
    let seats = Arc::new(setup.seats(common, &layout, GroupKind::Room).await?);
    let mut best: Option<Value> = None;
    let mut stable = true;
    let mut steps = Vec::new();
    for &rate in rates {
        let line = traffic(
            &setup,
            common,
            window,
            &layout,
            seats.clone(),
            rate,
            0,
            "knee",
        )
        .await?;
        let p99 = line["latencyMs"]["p99"].as_f64().unwrap_or(f64::MAX);
        let ratio = line["deliveryRatio"].as_f64().unwrap_or(0.0);
        let pass = line["exactlyOnce"]["exactlyOnce"] == true && ratio >= 1.0 && p99 <= p99_ms;
        let mut line = line;
        // The shared summarize.js reads `<config>/sat-rate<r>` labels as knee steps.
        line["label"] = json!(format!("{}/sat-rate{rate}", label(common, "knee")));
        line["knee"] = json!({ "pass": pass, "p99LimitMs": p99_ms });
        emit(common, &line)?;
        steps.push(json!({
            "rate": rate, "pass": pass, "deliveredPerSec": line["deliveredPerSec"], "p99": p99,
            "serverCores": line["server"]["cpuCoresBusy"], "loadgenCores": line["loadgen"]["cpuCoresBusy"],
        }));
        if pass && stable {
            best = Some(line.clone());
        }
        if !pass {
            stable = false;
            if !keep_going {
                break;
            }
        }
        // Let the server settle between steps.
        sleep(Duration::from_secs(1)).await;
    }
    let summary = json!({
        "label": format!("{}/knee", label(common, "knee")),
        "when": utc_now(),
        "kneeDeliveredPerSec": best.as_ref().map(|b| b["deliveredPerSec"].clone()),
        "kneeRatePerClient": best.as_ref().map(|b| b["config"]["ratePerClient"].clone()),
        "kneeP99Ms": best.as_ref().map(|b| b["latencyMs"]["p99"].clone()),
        "steps": steps,
    });
    emit(common, &summary)?;
    Ok(best.is_some())
}

fn label(common: &Common, mode: &str) -> String {
    if common.label.is_empty() {
        format!(
            "{}-{mode}",
            serde_json::to_value(common.proto)
                .unwrap_or_default()
                .as_str()
                .unwrap_or("")
        )
    } else {
        common.label.clone()
    }
}

#[allow(clippy::too_many_arguments)]
async fn traffic(
    setup: &Setup,
    common: &Common,
    window: &Window,
    layout: &Layout,
    seats: Arc<Vec<Seat>>,
    rate: f64,
    in_flight: u32,
    mode: &str,
) -> anyhow::Result<Value> {
    let watched = &setup.watched;
    let s0 = Snapshot::take(watched);
    let connected = fleet::connect_all(setup.fleet.clone(), seats.clone()).await?;
    let s1 = Snapshot::take(watched);
    let connect_secs = s1.at.duration_since(s0.at).as_secs_f64();

    let members: Vec<Member> = layout
        .membership()
        .into_iter()
        .zip(seats.iter())
        .enumerate()
        .map(|(i, ((first, size), seat))| Member {
            index: i as u32,
            group_first: first,
            group_size: size,
            target: seat.target.clone(),
        })
        .collect();
    let schedule = Arc::new(Schedule::new(
        common.proto,
        rate,
        in_flight,
        window.pad,
        Duration::from_millis(200),
        Duration::from_secs_f64(window.warmup),
        Duration::from_secs_f64(window.duration),
    ));
    let progress = Arc::new(Progress::default());
    let (stop, stopped) = watch::channel(false);
    let tasks: Vec<_> = connected
        .into_iter()
        .zip(members.iter().cloned())
        .map(|(ws, me)| {
            tokio::spawn(traffic::client(
                ws,
                me,
                schedule.clone(),
                progress.clone(),
                stopped.clone(),
            ))
        })
        .collect();

    sleep_until(schedule.window_start).await;
    let a = Snapshot::take(watched);
    sleep_until(schedule.window_end).await;
    let b = Snapshot::take(watched);
    // Drain: until every send so far is delivered everywhere, or the drain limit.
    let drain_until = Instant::now() + Duration::from_secs_f64(window.drain);
    let mut drained = false;
    while Instant::now() < drain_until {
        let expected = progress.expected.load(std::sync::atomic::Ordering::Relaxed);
        let delivered = progress
            .delivered
            .load(std::sync::atomic::Ordering::Relaxed);
        if delivered >= expected {
            drained = true;
            break;
        }
        sleep(Duration::from_millis(20)).await;
    }
    let drain_secs = window.drain
        - drain_until
            .saturating_duration_since(Instant::now())
            .as_secs_f64();
    // Acks of the last sends may trail their deliveries by a moment.
    sleep(Duration::from_millis(100)).await;
    let _ = stop.send(true);
    let mut tallies = Vec::with_capacity(tasks.len());
    for task in tasks {
        tallies.push(task.await?);
    }
    let end = Snapshot::take(watched);

    let verdict = traffic::verdict(common.proto, &members, &tallies);
    let window_deliveries: u64 = tallies.iter().map(|t| t.window_deliveries).sum();
    let sent_in_window: u64 = tallies.iter().map(|t| t.sent_in_window).sum();
    let expected_in_window: u64 = tallies
        .iter()
        .zip(&members)
        .map(|(t, m)| t.sent_in_window * m.group_size as u64)
        .sum();
    let latencies: Vec<u32> = tallies
        .iter_mut()
        .flat_map(|t| std::mem::take(&mut t.latencies))
        .collect();
    let lags: Vec<u32> = tallies
        .iter_mut()
        .flat_map(|t| std::mem::take(&mut t.send_lag))
        .collect();
    let win_secs = b.at.duration_since(a.at).as_secs_f64();
    let cpu = cpu_between(watched, &a, &b, window_deliveries);
    let max_group = layout.groups.iter().map(|g| g.1).max().unwrap_or(0);
    let acked_in_window_per_sec = if in_flight > 0 {
        // Closed loop: every send in the window is acked before the drain ends.
        json!(round2(sent_in_window as f64 / win_secs))
    } else {
        Value::Null
    };
    let mut line = json!({
        "label": label(common, mode),
        "when": utc_now(),
        "config": {
            "proto": common.proto,
            "mode": mode,
            "urls": common.urls.split(',').collect::<Vec<_>>(),
            "clients": layout.clients(),
            "groups": layout.groups.len(),
            "groupSizeMax": max_group,
            "ratePerClient": rate,
            "inFlightPerClient": in_flight,
            "bodyPad": window.pad,
            "warmupSec": window.warmup,
            "durationSec": window.duration,
            "serverPids": watched.servers,
            "loadgenThreads": common.threads,
            "sources": common.sources,
            "cpus": std::thread::available_parallelism().map_or(0, |n| n.get()),
        },
        "connect": {
            "seconds": round2(connect_secs),
            "serverCpuSec": round2(s1.server_cpu() - s0.server_cpu()),
            "serverCpuUsPerConnect": if layout.clients() > 0 {
                json!(round2((s1.server_cpu() - s0.server_cpu()) * 1e6 / layout.clients() as f64))
            } else { Value::Null },
        },
        "window": { "seconds": round2(win_secs) },
        "sentInWindow": sent_in_window,
        "sentPerSec": round2(sent_in_window as f64 / win_secs),
        "ackedPerSec": acked_in_window_per_sec,
        "expectedDeliveries": expected_in_window,
        "delivered": window_deliveries,
        "deliveryRatio": if expected_in_window > 0 {
            json!((window_deliveries as f64 / expected_in_window as f64 * 1e5).round() / 1e5)
        } else { Value::Null },
        "deliveredPerSec": round2(window_deliveries as f64 / win_secs),
        "latencyMs": summarize(latencies),
        "sendLagMs": summarize(lags),
        "drain": { "complete": drained, "seconds": round2(drain_secs) },
        "exactlyOnce": verdict,
        "server": {
            "rssKiB": { "beforeConnect": s0.server_rss(), "connected": s1.server_rss(),
                        "endOfWindow": b.server_rss(), "afterDrain": end.server_rss() },
        },
    });
    // Merge the window's CPU figures (server, aux, loadgen, machine) into the line.
    if let (Some(target), Value::Object(extra)) = (line.as_object_mut(), cpu) {
        for (key, value) in extra {
            match (target.get_mut(&key), value) {
                (Some(Value::Object(existing)), Value::Object(more)) => existing.extend(more),
                (_, value) => {
                    target.insert(key, value);
                }
            }
        }
    }
    line["server"]["cpuUsPerSent"] = match line["server"]["cpuSec"].as_f64() {
        Some(cpu) if sent_in_window > 0 => json!(round2(cpu * 1e6 / sent_in_window as f64)),
        _ => Value::Null,
    };
    Ok(line)
}
