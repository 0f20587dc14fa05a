//! Repeated warnings and errors are rate-limited in the log.
//!
//! When a dependency fails, every request that touches it fails the same way: with
//! PostgreSQL refusing connections a node wrote ~2,400 identical ERROR lines in 10 s,
//! burying the first (useful) one and filling disks. [`Throttle`] is a per-layer filter
//! for the log output: the first WARN or ERROR from a given log statement (its callsite:
//! the cause) is written at once, further ones from the same statement are counted, not
//! written, until the interval has passed, and then one line says how many were left out:
//!
//! ```text
//! WARN mentorhub::log: repeated log lines left out suppressed=2399 level=ERROR of=mentorhub::error server/src/error.rs:57 interval_secs=10
//! ```
//!
//! So a cause costs at most two lines per interval however hard it repeats. INFO and
//! below pass untouched. The summary names the statement (module, file, line), never a
//! field value, so it cannot carry anything the original line kept out of the log.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tracing::callsite::Identifier;
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Filter};

/// One line per cause per this interval (plus the count of the rest).
pub const INTERVAL: Duration = Duration::from_secs(10);

/// The target of the summary lines. They all come from one statement, so they are
/// never throttled themselves: several causes closing together each get their line.
const SUMMARY_TARGET: &str = "mentorhub::log";

#[derive(Clone)]
pub struct Throttle {
    interval: Duration,
    /// Open windows by callsite. A `std` mutex: held for a map lookup, never across I/O.
    windows: Arc<Mutex<HashMap<Identifier, Window>>>,
}

struct Window {
    opened: Instant,
    suppressed: u64,
    meta: &'static Metadata<'static>,
}

/// What a closed window left out.
#[derive(Debug, PartialEq, Eq)]
pub struct LeftOut {
    pub suppressed: u64,
    pub level: Level,
    /// `target file:line` of the statement.
    pub of: String,
}

impl Throttle {
    pub fn new(interval: Duration) -> Throttle {
        Throttle {
            interval,
            windows: Arc::default(),
        }
    }

    /// Whether this event is written: the first of its callsite in a window is.
    fn admit(&self, meta: &'static Metadata<'static>, now: Instant) -> bool {
        if *meta.level() > Level::WARN || meta.target() == SUMMARY_TARGET {
            return true;
        }
        let Ok(mut windows) = self.windows.lock() else {
            return true;
        };
        match windows.get_mut(&meta.callsite()) {
            Some(window) if now.duration_since(window.opened) < self.interval => {
                window.suppressed += 1;
                false
            }
            // An expired window is reported by `close_expired`; its count carries over
            // into the report rather than being lost to a new window.
            Some(window) => {
                window.opened = now;
                true
            }
            None => {
                windows.insert(
                    meta.callsite(),
                    Window {
                        opened: now,
                        suppressed: 0,
                        meta,
                    },
                );
                true
            }
        }
    }

    /// Closes the windows older than the interval and returns what they left out.
    pub fn close_expired(&self, now: Instant) -> Vec<LeftOut> {
        let Ok(mut windows) = self.windows.lock() else {
            return Vec::new();
        };
        let mut left_out = Vec::new();
        windows.retain(|_, window| {
            if now.duration_since(window.opened) < self.interval {
                return true;
            }
            if window.suppressed > 0 {
                left_out.push(LeftOut {
                    suppressed: window.suppressed,
                    level: *window.meta.level(),
                    of: describe(window.meta),
                });
            }
            false
        });
        left_out
    }

    /// Writes a summary line for every closed window, every half interval, on a thread
    /// of its own (logging must not depend on the async runtime being healthy).
    pub fn spawn_reporter(&self) {
        let throttle = self.clone();
        let _ = std::thread::Builder::new()
            .name("log-throttle".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(throttle.interval / 2);
                    for left in throttle.close_expired(Instant::now()) {
                        report(&left, throttle.interval);
                    }
                }
            });
    }
}

fn report(left: &LeftOut, interval: Duration) {
    tracing::warn!(
        target: SUMMARY_TARGET,
        suppressed = left.suppressed,
        level = %left.level,
        of = %left.of,
        interval_secs = interval.as_secs(),
        "repeated log lines left out"
    );
}

fn describe(meta: &Metadata<'_>) -> String {
    format!(
        "{} {}:{}",
        meta.target(),
        meta.file().unwrap_or("?"),
        meta.line().unwrap_or(0)
    )
}

impl<S: Subscriber> Filter<S> for Throttle {
    fn enabled(&self, _meta: &Metadata<'_>, _cx: &Context<'_, S>) -> bool {
        true
    }

    fn event_enabled(&self, event: &Event<'_>, _cx: &Context<'_, S>) -> bool {
        self.admit(event.metadata(), Instant::now())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    /// Counts what reaches the output.
    #[derive(Clone, Default)]
    struct Written(Arc<Mutex<Vec<String>>>);

    impl<S: Subscriber> Layer<S> for Written {
        fn on_event(&self, event: &Event<'_>, _cx: tracing_subscriber::layer::Context<'_, S>) {
            self.0.lock().unwrap().push(format!(
                "{} {}",
                event.metadata().level(),
                event.metadata().name()
            ));
        }
    }

    fn failing_query(attempt: usize) {
        tracing::error!(attempt, "store: query failed");
    }

    #[test]
    fn a_flood_from_one_statement_is_one_line_and_a_count() {
        let throttle = Throttle::new(Duration::from_secs(3600));
        let written = Written::default();
        let subscriber =
            tracing_subscriber::registry().with(written.clone().with_filter(throttle.clone()));
        let infos = AtomicUsize::new(0);
        tracing::subscriber::with_default(subscriber, || {
            for attempt in 0..2400 {
                failing_query(attempt);
            }
            tracing::warn!("another cause");
            for _ in 0..5 {
                tracing::info!("info is never limited");
                infos.fetch_add(1, Ordering::Relaxed);
            }
        });
        let lines = written.0.lock().unwrap().clone();
        assert_eq!(lines.iter().filter(|l| l.starts_with("ERROR")).count(), 1);
        assert_eq!(lines.iter().filter(|l| l.starts_with("WARN")).count(), 1);
        assert_eq!(lines.iter().filter(|l| l.starts_with("INFO")).count(), 5);
        // Still inside the interval: nothing to report yet.
        assert!(throttle.close_expired(Instant::now()).is_empty());
        // After it: one report with the count, naming the statement.
        let later = Instant::now() + Duration::from_secs(3601);
        let left = throttle.close_expired(later);
        assert_eq!(left.len(), 1, "{left:?}");
        assert_eq!(left[0].suppressed, 2399);
        assert_eq!(left[0].level, Level::ERROR);
        assert!(left[0].of.contains("log_throttle.rs"), "{}", left[0].of);
        assert!(throttle.close_expired(later).is_empty(), "reported once");
    }

    #[test]
    fn every_summary_is_written_even_when_many_causes_close_together() {
        let throttle = Throttle::new(Duration::from_secs(3600));
        let written = Written::default();
        let subscriber =
            tracing_subscriber::registry().with(written.clone().with_filter(throttle.clone()));
        tracing::subscriber::with_default(subscriber, || {
            for suppressed in 1..=3 {
                let left = LeftOut {
                    suppressed,
                    level: Level::ERROR,
                    of: format!("cause {suppressed}"),
                };
                report(&left, Duration::from_secs(10));
            }
        });
        let summaries = written
            .0
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.starts_with("WARN"))
            .count();
        assert_eq!(summaries, 3, "one line per closed window");
    }

    #[test]
    fn the_next_interval_writes_the_cause_again() {
        let throttle = Throttle::new(Duration::from_millis(50));
        let written = Written::default();
        let subscriber =
            tracing_subscriber::registry().with(written.clone().with_filter(throttle.clone()));
        tracing::subscriber::with_default(subscriber, || {
            for attempt in 0..10 {
                failing_query(attempt);
            }
            std::thread::sleep(Duration::from_millis(80));
            let left = throttle.close_expired(Instant::now());
            assert_eq!(left[0].suppressed, 9);
            failing_query(10);
        });
        let errors = written
            .0
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.starts_with("ERROR"))
            .count();
        assert_eq!(errors, 2);
    }
}
