//! Process and machine figures from Linux `/proc`, the same way the shared Node
//! generator reads them: CPU as utime+stime of every thread (dead ones included),
//! memory as VmRSS, background load as whole-machine busy time minus what we account for.

use std::fs;

use serde::Serialize;

/// `sysconf(_SC_CLK_TCK)`: the unit of utime/stime in `/proc/PID/stat`.
fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 { ticks as f64 } else { 100.0 }
}

#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct ProcSample {
    pub user_sec: f64,
    pub sys_sec: f64,
    pub rss_kib: u64,
    /// The anonymous part of the RSS: the process's own memory, without the pages of its
    /// binary and libraries that the kernel drops and re-reads under memory pressure.
    pub anon_kib: u64,
    pub hwm_kib: u64,
}

impl ProcSample {
    pub fn cpu_sec(&self) -> f64 {
        self.user_sec + self.sys_sec
    }
}

/// One process's CPU and memory now; zeros if it is gone.
pub fn sample(pid: u32) -> ProcSample {
    let mut out = ProcSample::default();
    if let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) {
        // Fields after the command name (which may contain spaces): state is field 3.
        if let Some(rest) = stat.rfind(')').map(|i| &stat[i + 2..]) {
            let fields: Vec<&str> = rest.split(' ').collect();
            let tick = clock_ticks();
            let num = |i: usize| {
                fields
                    .get(i)
                    .and_then(|v| v.parse::<f64>().ok())
                    .unwrap_or(0.0)
            };
            out.user_sec = num(11) / tick;
            out.sys_sec = num(12) / tick;
        }
    }
    if let Ok(status) = fs::read_to_string(format!("/proc/{pid}/status")) {
        for line in status.lines() {
            let value = || {
                line.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0)
            };
            if line.starts_with("VmRSS:") {
                out.rss_kib = value();
            } else if line.starts_with("RssAnon:") {
                out.anon_kib = value();
            } else if line.starts_with("VmHWM:") {
                out.hwm_kib = value();
            }
        }
    }
    out
}

/// The sum over several processes (e.g. two server nodes).
pub fn sample_all(pids: &[u32]) -> Vec<ProcSample> {
    pids.iter().map(|&pid| sample(pid)).collect()
}

pub fn total_cpu(samples: &[ProcSample]) -> f64 {
    samples.iter().map(ProcSample::cpu_sec).sum()
}

pub fn total_rss(samples: &[ProcSample]) -> u64 {
    samples.iter().map(|s| s.rss_kib).sum()
}

/// Whole-machine busy and total CPU seconds (all cores) from `/proc/stat`.
#[derive(Clone, Copy, Debug, Default)]
pub struct MachineSample {
    pub busy_sec: f64,
    pub total_sec: f64,
}

pub fn machine() -> MachineSample {
    let Ok(stat) = fs::read_to_string("/proc/stat") else {
        return MachineSample::default();
    };
    let first = stat.lines().next().unwrap_or_default();
    let v: Vec<f64> = first
        .split_whitespace()
        .skip(1)
        .take(8)
        .filter_map(|x| x.parse().ok())
        .collect();
    if v.len() < 5 {
        return MachineSample::default();
    }
    let tick = clock_ticks();
    let total: f64 = v.iter().sum();
    let idle = v[3] + v[4];
    MachineSample {
        busy_sec: (total - idle) / tick,
        total_sec: total / tick,
    }
}

pub fn loadavg() -> Vec<f64> {
    fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .filter_map(|x| x.parse().ok())
        .collect()
}

/// This process's own CPU seconds (user + system).
pub fn self_cpu() -> f64 {
    // SAFETY: getrusage writes into the struct we pass; RUSAGE_SELF is always valid.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// Raises this process's open-file limit as far as allowed (the hard limit too when
/// privileged). Returns the soft limit now in force.
pub fn raise_fd_limit(wanted: u64) -> u64 {
    // SAFETY: getrlimit/setrlimit read and write the struct we pass.
    unsafe {
        let mut limit: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 0;
        }
        if limit.rlim_cur >= wanted {
            return limit.rlim_cur;
        }
        let raised = libc::rlimit {
            rlim_cur: wanted,
            rlim_max: limit.rlim_max.max(wanted),
        };
        if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
            return wanted;
        }
        // Not privileged: go as far as the hard limit.
        let soft = libc::rlimit {
            rlim_cur: limit.rlim_max,
            rlim_max: limit.rlim_max,
        };
        if libc::setrlimit(libc::RLIMIT_NOFILE, &soft) == 0 {
            limit.rlim_max
        } else {
            limit.rlim_cur
        }
    }
}

/// An open-file limit of another process (the server), for the report.
pub fn fd_limit_of(pid: u32) -> Option<u64> {
    let limits = fs::read_to_string(format!("/proc/{pid}/limits")).ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}
