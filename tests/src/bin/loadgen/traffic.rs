//! Room traffic: every client sends on an absolute schedule (open loop, like the Node
//! generator) or keeps a fixed number of sends in flight (closed loop, for the persisted
//! sends/s figure); every client checks what it receives from each member of its group:
//! each message exactly once, in each sender's order, and nothing from outside the group.

use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use rand::Rng;
use tokio::sync::watch;
use tokio::time::{Instant, sleep_until};
use tokio_tungstenite::tungstenite::Message;

use crate::net::Ws;
use crate::proto::{Body, Incoming, Proto, Target};

/// Closed loop: how long a client waits after an error frame that names no wait.
const ERROR_BACKOFF_MS: u64 = 50;

static EPOCH: OnceLock<std::time::Instant> = OnceLock::new();

/// Microseconds on the generator's own monotonic clock (send and receive times are
/// both taken here, so no cross-process clock is involved).
pub fn now_us() -> u64 {
    EPOCH
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_micros() as u64
}

#[derive(Clone, Debug)]
pub struct Schedule {
    pub proto: Proto,
    /// Messages per second per client; 0 means closed loop.
    pub rate: f64,
    /// Closed loop: sends in flight per client.
    pub in_flight: u32,
    pub pad: usize,
    /// Sending starts here; the measurement window is [window_start, window_end).
    pub start: Instant,
    pub window_start: Instant,
    pub window_end: Instant,
    /// The same window on the [`now_us`] clock, for the send times in the bodies.
    pub window_us: (u64, u64),
}

impl Schedule {
    /// Sending starts after `lead`; a warm-up, then the measurement window.
    pub fn new(
        proto: Proto,
        rate: f64,
        in_flight: u32,
        pad: usize,
        lead: Duration,
        warmup: Duration,
        duration: Duration,
    ) -> Schedule {
        let (now, now_micros) = (Instant::now(), now_us());
        let start = now + lead;
        let window_start = start + warmup;
        let window_end = window_start + duration;
        let t0 = now_micros + (lead + warmup).as_micros() as u64;
        Schedule {
            proto,
            rate,
            in_flight,
            pad,
            start,
            window_start,
            window_end,
            window_us: (t0, t0 + duration.as_micros() as u64),
        }
    }
}

/// Counters every client updates, read by the run to know when the drain is complete.
#[derive(Default)]
pub struct Progress {
    /// Deliveries the sends so far call for (sent × group size).
    pub expected: AtomicU64,
    pub delivered: AtomicU64,
}

/// One client's place: its index, its group's first client and size, its target.
#[derive(Clone, Debug)]
pub struct Member {
    pub index: u32,
    pub group_first: u32,
    pub group_size: u32,
    pub target: Target,
}

/// What one client saw.
#[derive(Debug, Default)]
pub struct Tally {
    pub sent: u32,
    pub acked: u32,
    pub errors: u32,
    pub first_error: Option<String>,
    pub sent_in_window: u64,
    /// Deliveries of window messages to this client, and their latencies (µs).
    pub window_deliveries: u64,
    pub latencies: Vec<u32>,
    pub send_lag: Vec<u32>,
    /// Per group member: the next message number expected from them.
    pub next_expected: Vec<u32>,
    /// Deliveries accepted (from the group, not duplicates).
    pub received: u64,
    pub duplicates: u64,
    pub gaps: u64,
    pub stray: u64,
    pub disconnected: bool,
}

pub async fn client(
    mut ws: Ws,
    me: Member,
    schedule: Arc<Schedule>,
    progress: Arc<Progress>,
    mut stop: watch::Receiver<bool>,
) -> Tally {
    let mut tally = Tally {
        next_expected: vec![0; me.group_size as usize],
        ..Tally::default()
    };
    let pad = "x".repeat(schedule.pad);
    let (t0, t1) = schedule.window_us;
    let closed_loop = schedule.rate <= 0.0;
    let period = if closed_loop {
        Duration::ZERO
    } else {
        Duration::from_secs_f64(1.0 / schedule.rate)
    };
    let phase = period.mul_f64(rand::rng().random::<f64>());
    let mut next_send = schedule.start + phase;
    let mut sending = true;
    // Closed loop: after an error the freed slot is not refilled before this instant,
    // or a refused send (e.g. `rate_limited`) would be retried in a tight loop.
    let mut paused_until: Option<Instant> = None;
    let size = me.group_size as u64;

    loop {
        if closed_loop && sending {
            // Top up the window: every ack (or error) frees one slot.
            let mut wrote = false;
            while tally.sent - tally.acked - tally.errors < schedule.in_flight {
                let now = Instant::now();
                if now < schedule.start || paused_until.is_some_and(|t| now < t) {
                    break;
                }
                if now >= schedule.window_end {
                    sending = false;
                    break;
                }
                let frame = frame_for(&schedule, &me, &mut tally, &pad, t0, t1, 0);
                if ws.feed(Message::text(frame)).await.is_err() {
                    tally.disconnected = true;
                    return tally;
                }
                progress.expected.fetch_add(size, Ordering::Relaxed);
                wrote = true;
            }
            if wrote && ws.flush().await.is_err() {
                tally.disconnected = true;
                return tally;
            }
        }
        let wake = if closed_loop {
            let now = Instant::now();
            if now < schedule.start {
                schedule.start
            } else if let Some(t) = paused_until.filter(|t| now < *t) {
                t
            } else {
                schedule.window_end
            }
        } else {
            next_send
        };
        tokio::select! {
            incoming = ws.next() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    let received = now_us();
                    match schedule.proto.parse(&me.target, text.as_str()) {
                        Incoming::Delivery { ts, c, n } => {
                            progress.delivered.fetch_add(1, Ordering::Relaxed);
                            tally.check(&me, c, n);
                            if (t0..t1).contains(&ts) {
                                tally.window_deliveries += 1;
                                tally.latencies.push(received.saturating_sub(ts).min(u32::MAX as u64) as u32);
                            }
                        }
                        Incoming::Ack => tally.acked += 1,
                        Incoming::Error { code, retry_after_ms } => {
                            tally.errors += 1;
                            tally.first_error.get_or_insert(code);
                            let wait = Duration::from_millis(retry_after_ms.unwrap_or(ERROR_BACKOFF_MS));
                            paused_until = Some(Instant::now() + wait);
                        }
                        Incoming::Other => {}
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => {
                    tally.disconnected = true;
                    return tally;
                }
                Some(Ok(_)) => {}
            },
            _ = sleep_until(wake), if sending => {
                if closed_loop {
                    if Instant::now() >= schedule.window_end {
                        sending = false;
                    }
                    continue;
                }
                let now = Instant::now();
                if now >= schedule.window_end {
                    sending = false;
                    continue;
                }
                let lag = now.saturating_duration_since(next_send).as_micros() as u32;
                let frame = frame_for(&schedule, &me, &mut tally, &pad, t0, t1, lag);
                if ws.send(Message::text(frame)).await.is_err() {
                    tally.disconnected = true;
                    return tally;
                }
                progress.expected.fetch_add(size, Ordering::Relaxed);
                next_send = schedule.start + phase + period * tally.sent;
            },
            _ = stop.changed() => return tally,
        }
    }
}

/// The next send's frame; counts it.
fn frame_for(
    schedule: &Schedule,
    me: &Member,
    tally: &mut Tally,
    pad: &str,
    t0: u64,
    t1: u64,
    lag_us: u32,
) -> String {
    let ts = now_us();
    let body = Body {
        ts,
        c: me.index,
        n: tally.sent,
        p: pad.into(),
    };
    tally.sent += 1;
    if (t0..t1).contains(&ts) {
        tally.sent_in_window += 1;
        if schedule.rate > 0.0 {
            tally.send_lag.push(lag_us);
        }
    }
    schedule.proto.send_frame(&me.target, &body)
}

impl Tally {
    /// Exactly once, in order, from a member of the group.
    fn check(&mut self, me: &Member, sender: u32, n: u32) {
        let Some(pos) = sender
            .checked_sub(me.group_first)
            .filter(|p| *p < me.group_size)
        else {
            self.stray += 1;
            return;
        };
        let next = &mut self.next_expected[pos as usize];
        if n == *next {
            *next += 1;
            self.received += 1;
        } else if n < *next {
            self.duplicates += 1;
        } else {
            self.gaps += (n - *next) as u64;
            *next = n + 1;
            self.received += 1;
        }
    }
}

/// Over all clients: every message of every sender reached every member of its group
/// exactly once. `members[i]` and `tallies[i]` are client i's (its index is i).
#[derive(Debug, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Verdict {
    pub sent: u64,
    pub acked: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    pub expected_deliveries: u64,
    pub deliveries: u64,
    pub missing: u64,
    pub duplicates: u64,
    pub stray: u64,
    pub disconnects: u64,
    pub exactly_once: bool,
}

pub fn verdict(proto: Proto, members: &[Member], tallies: &[Tally]) -> Verdict {
    let mut v = Verdict::default();
    for (me, t) in members.iter().zip(tallies) {
        v.sent += t.sent as u64;
        v.acked += t.acked as u64;
        v.errors += t.errors as u64;
        if v.first_error.is_none() {
            v.first_error = t.first_error.clone();
        }
        v.duplicates += t.duplicates;
        v.stray += t.stray;
        v.disconnects += t.disconnected as u64;
        v.missing += t.gaps;
        v.deliveries += t.received;
        for (pos, &next) in t.next_expected.iter().enumerate() {
            let sender = (me.group_first + pos as u32) as usize;
            let sent = tallies.get(sender).map_or(0, |s| s.sent);
            v.expected_deliveries += sent as u64;
            v.missing += sent.saturating_sub(next) as u64;
        }
    }
    let acks_ok = proto != Proto::Mentorhub || v.acked == v.sent;
    v.exactly_once = v.missing == 0
        && v.duplicates == 0
        && v.stray == 0
        && v.errors == 0
        && v.disconnects == 0
        && acks_ok;
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(index: u32) -> Member {
        Member {
            index,
            group_first: 0,
            group_size: 2,
            target: Target("c".into()),
        }
    }

    #[test]
    fn finds_losses_duplicates_and_strays() {
        let members = [member(0), member(1)];
        let mut a = Tally {
            next_expected: vec![0, 0],
            sent: 3,
            acked: 3,
            ..Tally::default()
        };
        let mut b = Tally {
            next_expected: vec![0, 0],
            sent: 2,
            acked: 2,
            ..Tally::default()
        };
        for n in 0..3 {
            a.check(&members[0], 0, n);
            b.check(&members[1], 0, n);
        }
        for n in 0..2 {
            a.check(&members[0], 1, n);
            b.check(&members[1], 1, n);
        }
        let ok = verdict(Proto::Mentorhub, &members, &[a, b]);
        assert!(ok.exactly_once, "{ok:?}");
        assert_eq!(ok.expected_deliveries, 10);

        let mut a = Tally {
            next_expected: vec![0, 0],
            sent: 3,
            acked: 3,
            ..Tally::default()
        };
        let b = Tally {
            next_expected: vec![0, 0],
            sent: 0,
            ..Tally::default()
        };
        a.check(&members[0], 0, 0);
        a.check(&members[0], 0, 0); // duplicate
        a.check(&members[0], 0, 2); // 1 lost
        a.check(&members[0], 99, 0); // not in the group
        let bad = verdict(Proto::Mentorhub, &members, &[a, b]);
        assert!(!bad.exactly_once);
        assert_eq!(bad.duplicates, 1);
        assert_eq!(bad.stray, 1);
        assert_eq!(bad.missing, 1 + 3); // the gap, and b never got anything from a
    }
}
