//! Snapshots of the server(s), auxiliary processes, the generator and the machine, and
//! the figures derived from two of them (CPU per delivery, background load).

use serde_json::{Value, json};
use tokio::time::Instant;

use crate::procfs::{self, MachineSample, ProcSample};
use crate::stats::round2;

/// Processes to watch: the server nodes, and named helpers (e.g. `redis=PID`).
#[derive(Clone, Debug, Default)]
pub struct Watched {
    pub servers: Vec<u32>,
    pub aux: Vec<(String, u32)>,
}

impl Watched {
    pub fn parse(servers: &str, aux: &str) -> anyhow::Result<Watched> {
        let servers = servers
            .split(',')
            .filter(|s| !s.is_empty())
            .map(|s| s.trim().parse::<u32>())
            .collect::<Result<Vec<_>, _>>()?;
        let aux = aux
            .split(',')
            .filter(|s| !s.is_empty())
            .map(|s| {
                let (name, pid) = s.split_once('=').unwrap_or(("aux", s));
                Ok((name.to_owned(), pid.trim().parse::<u32>()?))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Watched { servers, aux })
    }
}

#[derive(Clone, Debug)]
pub struct Snapshot {
    pub at: Instant,
    pub servers: Vec<ProcSample>,
    pub aux: Vec<ProcSample>,
    pub own_cpu: f64,
    pub machine: MachineSample,
}

impl Snapshot {
    pub fn take(watched: &Watched) -> Snapshot {
        Snapshot {
            at: Instant::now(),
            servers: procfs::sample_all(&watched.servers),
            aux: watched
                .aux
                .iter()
                .map(|(_, pid)| procfs::sample(*pid))
                .collect(),
            own_cpu: procfs::self_cpu(),
            machine: procfs::machine(),
        }
    }

    pub fn server_cpu(&self) -> f64 {
        procfs::total_cpu(&self.servers)
    }

    pub fn server_rss(&self) -> u64 {
        procfs::total_rss(&self.servers)
    }
}

/// CPU of everything over the interval `a → b`, per delivery where it makes sense.
pub fn cpu_between(watched: &Watched, a: &Snapshot, b: &Snapshot, deliveries: u64) -> Value {
    let secs = b.at.duration_since(a.at).as_secs_f64().max(1e-9);
    let server = b.server_cpu() - a.server_cpu();
    let user: f64 = b
        .servers
        .iter()
        .zip(&a.servers)
        .map(|(y, x)| y.user_sec - x.user_sec)
        .sum();
    let aux: Vec<Value> = watched
        .aux
        .iter()
        .zip(b.aux.iter().zip(&a.aux))
        .map(|((name, _), (y, x))| {
            let cpu = y.cpu_sec() - x.cpu_sec();
            json!({
                "name": name,
                "cpuSec": round3(cpu),
                "rssKiB": y.rss_kib,
                "cpuUsPerDelivered": per(cpu, deliveries),
            })
        })
        .collect();
    let aux_cpu: f64 = b
        .aux
        .iter()
        .zip(&a.aux)
        .map(|(y, x)| y.cpu_sec() - x.cpu_sec())
        .sum();
    let own = b.own_cpu - a.own_cpu;
    let busy = b.machine.busy_sec - a.machine.busy_sec;
    let total = (b.machine.total_sec - a.machine.total_sec).max(1e-9);
    json!({
        "server": {
            "cpuSec": round3(server),
            "userSec": round3(user),
            "sysSec": round3(server - user),
            "cpuCoresBusy": round2(server / secs),
            "cpuUsPerDelivered": per(server, deliveries),
        },
        "aux": aux,
        "serverPlusAuxCpuUsPerDelivered": per(server + aux_cpu, deliveries),
        "loadgen": {
            "cpuSec": round3(own),
            "cpuCoresBusy": round2(own / secs),
            "cpuUsPerDelivered": per(own, deliveries),
        },
        "machine": {
            "busyCoresAvg": round2(busy / secs),
            "otherProcsCoresAvg": round2((busy - server - aux_cpu - own) / secs),
            "idleFrac": round2(1.0 - busy / total),
            "loadavg": procfs::loadavg(),
        },
    })
}

fn per(cpu_sec: f64, n: u64) -> Value {
    if n == 0 {
        Value::Null
    } else {
        json!(round2(cpu_sec * 1e6 / n as f64))
    }
}

fn round3(x: f64) -> f64 {
    crate::stats::round3(x)
}

/// Seconds since the Unix epoch as `YYYY-MM-DDTHH:MM:SSZ` (UTC).
pub fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}
