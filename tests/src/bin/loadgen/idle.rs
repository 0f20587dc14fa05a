//! Idle connections: how much server memory one authenticated, idle connection costs.
//! Baseline RSS of the server (median of 5 samples) → connect N → settle → RSS again →
//! per connection; then close all and see what the server gives back.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::json;
use tokio::sync::watch;
use tokio::time::sleep;

use crate::fleet;
use crate::procfs;
use crate::provision::{GroupKind, Layout};
use crate::report::{Snapshot, utc_now};
use crate::run::Setup;
use crate::stats::round2;
use crate::{Common, emit};

async fn median_rss(pids: &[u32]) -> u64 {
    let mut samples = Vec::new();
    for _ in 0..5 {
        samples.push(procfs::total_rss(&procfs::sample_all(pids)));
        sleep(Duration::from_millis(200)).await;
    }
    samples.sort_unstable();
    samples[2]
}

pub async fn run(
    common: &Common,
    clients: u32,
    group_size: u32,
    settle: f64,
    hold: f64,
    fd_limit: u64,
) -> anyhow::Result<bool> {
    let setup = Setup::new(common).await?;
    let pids = setup.watched.servers.clone();
    let layout = Layout::rooms(clients, clients.div_ceil(group_size.max(1)));
    let seats = Arc::new(
        setup
            .seats(common, &layout, GroupKind::for_size(group_size))
            .await?,
    );
    let baseline = median_rss(&pids).await;
    let before = Snapshot::take(&setup.watched);
    let connections = fleet::connect_all(setup.fleet.clone(), seats).await?;
    let after = Snapshot::take(&setup.watched);
    let connect_secs = after.at.duration_since(before.at).as_secs_f64();

    // Keep reading so heartbeats are answered; count connections the server drops.
    let (stop, stopped) = watch::channel(false);
    let readers: Vec<_> = connections
        .into_iter()
        .map(|mut ws| {
            let mut stopped = stopped.clone();
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        message = ws.next() => match message {
                            Some(Ok(tokio_tungstenite::tungstenite::Message::Close(_))) | None | Some(Err(_)) => return true,
                            Some(Ok(_)) => {}
                        },
                        _ = stopped.changed() => return false,
                    }
                }
            })
        })
        .collect();
    sleep(Duration::from_secs_f64(settle)).await;
    let connected = median_rss(&pids).await;
    let hwm: u64 = procfs::sample_all(&pids).iter().map(|s| s.hwm_kib).sum();
    sleep(Duration::from_secs_f64(hold)).await;
    let held = median_rss(&pids).await;
    let _ = stop.send(true);
    let mut dropped = 0u64;
    for reader in readers {
        dropped += reader.await? as u64;
    }
    // The readers own the sockets: they are closed now.
    sleep(Duration::from_secs(3)).await;
    let after_close = median_rss(&pids).await;

    let n = clients as f64;
    let cpu = after.server_cpu() - before.server_cpu();
    let line = json!({
        "label": if common.label.is_empty() { format!("idle-{clients}") } else { common.label.clone() },
        "when": utc_now(),
        "config": {
            "proto": common.proto, "urls": common.urls.split(',').collect::<Vec<_>>(),
            "clients": clients, "groupSize": group_size, "settleSec": settle, "holdSec": hold,
            "serverPids": pids, "sources": common.sources, "loadgenFdLimit": fd_limit,
            "serverFdLimit": pids.first().and_then(|&p| procfs::fd_limit_of(p)),
        },
        "connected": clients,
        "droppedWhileIdle": dropped,
        "connectSec": round2(connect_secs),
        "connectsPerSec": round2(n / connect_secs.max(1e-9)),
        "serverCpuUsPerConnect": round2(cpu * 1e6 / n),
        "rssKiB": { "baseline": baseline, "connected": connected, "afterHold": held,
                    "afterClose": after_close, "hwm": hwm },
        "rssKiBPerIdleClient": round2((connected as f64 - baseline as f64) / n),
        "rssKiBPerIdleClientAfterHold": round2((held as f64 - baseline as f64) / n),
        "rssKiBRetainedPerClientAfterClose": round2((after_close as f64 - baseline as f64) / n),
        "machine": { "loadavg": procfs::loadavg() },
    });
    emit(common, &line)?;
    Ok(dropped == 0)
}
