//! `loadgen`: Mentorhub's load generator, for what the shared Node generator cannot
//! reach (see tests/bench/README.md). Modes:
//!
//! * `idle`  — N authenticated idle connections; RSS per connection of the server.
//! * `pairs` — thousands of 1:1 mentoring conversations (request → accept), both sides
//!   sending; open loop (`--rate`) or closed loop (`--in-flight`: persisted sends/s).
//! * `rooms` — R rooms × C clients × rate, like the Node generator's scenarios.
//! * `knee`  — the rooms shape with the rate stepped up: the highest deliveries/s with
//!   p99 ≤ 50 ms and zero loss.
//! * `soak`  — an hour of pairs and rooms with churn and calls against several nodes;
//!   memory, files, tasks and p99 every minute (`scripts/soak.sh`).
//!
//! Every traffic run checks that each message reached each member of its group exactly
//! once and prints one JSON line. `--proto ws-json` drives the peers' floors instead.

mod fleet;
mod http;
mod idle;
mod net;
mod procfs;
mod proto;
mod provision;
mod report;
mod run;
mod soak;
mod stats;
mod traffic;

use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::proto::Proto;

#[derive(Parser, Debug)]
#[command(
    name = "loadgen",
    about = "Load generator for Mentorhub and the ws-json peers"
)]
struct Cli {
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Subcommand, Debug)]
enum Mode {
    /// N authenticated idle connections: server RSS per connection.
    Idle(IdleArgs),
    /// 1:1 conversations, both sides sending.
    Pairs(PairsArgs),
    /// R rooms × C clients, every client sending at a rate.
    Rooms(RoomsArgs),
    /// The rooms shape with the per-client rate stepped up until p99 or loss fails.
    Knee(KneeArgs),
    /// A long run with churn, rooms, pairs and calls; sampled every minute.
    Soak(soak::SoakArgs),
}

#[derive(Args, Debug, Clone)]
pub struct Common {
    /// Protocol of the server under test.
    #[arg(long, value_enum, default_value = "mentorhub")]
    proto: Proto,
    /// Server base URL(s), comma-separated (client i uses URL i mod n).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    urls: String,
    /// Server PIDs to measure (comma-separated).
    #[arg(long, default_value = "")]
    server_pids: String,
    /// Helper processes to measure, NAME=PID comma-separated (e.g. redis=123).
    #[arg(long, default_value = "")]
    aux_pids: String,
    /// A label for the JSON line.
    #[arg(long, default_value = "")]
    label: String,
    /// Append the JSON line(s) to this file too.
    #[arg(long)]
    out: Option<std::path::PathBuf>,
    /// Loopback source addresses 127.0.0.1..N (each has ~28k ephemeral ports).
    #[arg(long, default_value_t = 8)]
    sources: u8,
    /// Connections opened at once.
    #[arg(long, default_value_t = 200)]
    connect_concurrency: usize,
    /// REST calls in flight while setting up accounts and conversations.
    #[arg(long, default_value_t = 8)]
    provision_concurrency: usize,
    /// Client-side WebSocket read buffer (bytes).
    #[arg(long, default_value_t = 4096)]
    read_buffer: usize,
    /// Tokio worker threads of the generator (1: one core, like the Node generator).
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Name prefix for this run's accounts (default: random).
    #[arg(long)]
    run: Option<String>,
    /// Give up after this many seconds in total.
    #[arg(long, default_value_t = 600)]
    hard_limit: u64,
}

#[derive(Args, Debug, Clone)]
pub struct Window {
    #[arg(long, default_value_t = 3.0)]
    warmup: f64,
    #[arg(long, default_value_t = 20.0)]
    duration: f64,
    /// Longest wait after sending stops for the last deliveries.
    #[arg(long, default_value_t = 5.0)]
    drain: f64,
    /// Padding characters in each message body (the Node generator sends 100).
    #[arg(long, default_value_t = 100)]
    pad: usize,
}

#[derive(Args, Debug)]
struct IdleArgs {
    #[command(flatten)]
    common: Common,
    #[arg(long, default_value_t = 5000)]
    clients: u32,
    /// 1: accounts only; 2: each client in a 1:1 conversation; more: rooms of that size.
    #[arg(long, default_value_t = 1)]
    group_size: u32,
    /// Seconds between the last connect and the memory reading.
    #[arg(long, default_value_t = 5.0)]
    settle: f64,
    /// Keep the connections this many seconds more (e.g. past the idle timeout).
    #[arg(long, default_value_t = 0.0)]
    hold: f64,
}

#[derive(Args, Debug)]
struct PairsArgs {
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    window: Window,
    #[arg(long, default_value_t = 1000)]
    pairs: u32,
    /// Messages per second per client (open loop).
    #[arg(long, default_value_t = 1.0)]
    rate: f64,
    /// Closed loop instead: keep this many sends in flight per client.
    #[arg(long)]
    in_flight: Option<u32>,
}

#[derive(Args, Debug)]
struct RoomsArgs {
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    window: Window,
    #[arg(long, default_value_t = 1)]
    rooms: u32,
    #[arg(long, default_value_t = 50)]
    clients: u32,
    #[arg(long, default_value_t = 2.0)]
    rate: f64,
}

#[derive(Args, Debug)]
struct KneeArgs {
    #[command(flatten)]
    common: Common,
    #[command(flatten)]
    window: Window,
    #[arg(long, default_value_t = 200)]
    rooms: u32,
    #[arg(long, default_value_t = 1000)]
    clients: u32,
    /// Per-client rates to step through.
    #[arg(long, default_value = "1,2,4,8,12,16,20,24,32", value_delimiter = ',')]
    rates: Vec<f64>,
    /// Pass: p99 at or below this (ms) and zero loss.
    #[arg(long, default_value_t = 50.0)]
    p99_ms: f64,
    /// Run every rate even after a failing step.
    #[arg(long)]
    keep_going: bool,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let common = match &cli.mode {
        Mode::Idle(a) => &a.common,
        Mode::Pairs(a) => &a.common,
        Mode::Rooms(a) => &a.common,
        Mode::Knee(a) => &a.common,
        Mode::Soak(a) => &a.common,
    };
    let fd_limit = procfs::raise_fd_limit(1 << 20);
    let runtime = if common.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(common.threads)
            .enable_all()
            .build()
    };
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("loadgen: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let limit = Duration::from_secs(common.hard_limit);
    let outcome = runtime.block_on(async move {
        let work = async move {
            match cli.mode {
                Mode::Idle(a) => {
                    idle::run(
                        &a.common,
                        a.clients,
                        a.group_size,
                        a.settle,
                        a.hold,
                        fd_limit,
                    )
                    .await
                }
                Mode::Pairs(a) => {
                    let layout = provision::Layout::rooms(a.pairs * 2, a.pairs);
                    let (rate, in_flight) = match a.in_flight {
                        Some(w) => (0.0, w.max(1)),
                        None => (a.rate, 0),
                    };
                    run::traffic_once(&a.common, &a.window, layout, rate, in_flight, "pairs").await
                }
                Mode::Rooms(a) => {
                    let layout = provision::Layout::rooms(a.clients, a.rooms);
                    run::traffic_once(&a.common, &a.window, layout, a.rate, 0, "rooms").await
                }
                Mode::Soak(a) => soak::run(&a).await,
                Mode::Knee(a) => {
                    let layout = provision::Layout::rooms(a.clients, a.rooms);
                    run::knee(
                        &a.common,
                        &a.window,
                        layout,
                        &a.rates,
                        a.p99_ms,
                        a.keep_going,
                    )
                    .await
                }
            }
        };
        match tokio::time::timeout(limit, work).await {
            Ok(result) => result,
            Err(_) => Err(anyhow::anyhow!(
                "hard limit of {}s reached",
                limit.as_secs()
            )),
        }
    });
    match outcome {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => std::process::ExitCode::from(3),
        Err(error) => {
            eprintln!("loadgen: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Prints one JSON line and appends it to `--out`.
pub fn emit(common: &Common, line: &serde_json::Value) -> anyhow::Result<()> {
    let text = line.to_string();
    println!("{text}");
    if let Some(path) = &common.out {
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        writeln!(file, "{text}")?;
    }
    Ok(())
}
