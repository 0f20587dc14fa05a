//! Opening every client's connection with bounded concurrency, spread over the server
//! nodes (client i → node i mod n, like the Node generator) and loopback source addresses.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};

use crate::net::{Node, Sources, Ws, open_ws};
use crate::proto::{self, Proto};
use crate::provision::Seat;

pub struct FleetOptions {
    pub proto: Proto,
    pub nodes: Vec<Node>,
    pub sources: Sources,
    pub concurrency: usize,
    pub read_buffer: usize,
    pub wait: Duration,
}

/// Connects, authenticates (`hello` → `welcome`, the seat's conversation active) or
/// joins (ws-json), for every seat, in seat order.
pub async fn connect_all(
    options: Arc<FleetOptions>,
    seats: Arc<Vec<Seat>>,
) -> anyhow::Result<Vec<Ws>> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..options.concurrency.clamp(1, seats.len().max(1)) {
        let (options, seats, next) = (options.clone(), seats.clone(), next.clone());
        workers.push(tokio::spawn(async move {
            let mut opened = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(seat) = seats.get(i) else { break };
                let ws = connect_one(&options, i, seat)
                    .await
                    .with_context(|| format!("client {i}"))?;
                opened.push((i, ws));
            }
            anyhow::Ok(opened)
        }));
    }
    let mut all = Vec::with_capacity(seats.len());
    let mut first_error = None;
    for worker in workers {
        match worker.await? {
            Ok(opened) => all.extend(opened),
            Err(error) => {
                first_error.get_or_insert(error);
            }
        }
    }
    if let Some(error) = first_error {
        return Err(error);
    }
    all.sort_by_key(|(i, _)| *i);
    Ok(all.into_iter().map(|(_, ws)| ws).collect())
}

async fn connect_one(options: &FleetOptions, i: usize, seat: &Seat) -> anyhow::Result<Ws> {
    let node = &options.nodes[i % options.nodes.len()];
    let source = options.sources.for_connection(i, &node.addr);
    let mut ws = open_ws(node, source, options.read_buffer).await?;
    match options.proto {
        Proto::Mentorhub => {
            let token = seat.token.as_deref().context("no token for this seat")?;
            let active = proto::hello(&mut ws, token, options.wait).await?;
            if !seat.target.0.is_empty() && !active.contains(&seat.target.0) {
                bail!(
                    "conversation {} is not active for this client",
                    seat.target.0
                );
            }
        }
        Proto::WsJson => proto::join(&mut ws, &seat.target.0, options.wait).await?,
    }
    Ok(ws)
}
