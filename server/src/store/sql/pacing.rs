//! Adaptive commit delay (PostgreSQL's `commit_delay` idea) for the group-commit writer.
//!
//! At light but steady load every message arrives alone and becomes a transaction of its
//! own: one fsync and one chain of thread wake-ups per message, which is most of what a
//! delivery costs (docs/PERFORMANCE.md). When batches start often and stay small, the
//! writer may wait a short, bounded time for company, so one commit carries the messages
//! of that interval. A system that is idle or whose batches are already large never
//! waits: the first message after a quiet spell is committed at once, and so is a small
//! batch right after a large one (under heavy load the queue refills during each
//! commit, and waiting would only idle the writer).
//!
//! The store starts with the delay off (zero); the server sets `commit_delay_micros`
//! (1 ms by default, measured in docs/PERFORMANCE.md). tokio's timer has a 1 ms
//! resolution, so a delay below 1 ms still waits up to the next tick.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// Batches at least this large are not held back: the load already groups them.
const SMALL_BATCH: usize = 8;
/// Arrivals count as frequent when the previous batch started less than this many
/// delays before the current one.
const FREQUENT: u32 = 4;

/// The configured upper bound, shared with the store so it can be set after the writer
/// has started.
#[derive(Clone, Debug, Default)]
pub(crate) struct CommitDelay(Arc<AtomicU64>);

impl CommitDelay {
    pub(crate) fn set(&self, delay: Duration) {
        let micros = u64::try_from(delay.as_micros()).unwrap_or(u64::MAX);
        self.0.store(micros, Ordering::Relaxed);
    }

    fn get(&self) -> Duration {
        Duration::from_micros(self.0.load(Ordering::Relaxed))
    }
}

/// The writer's view of recent arrivals.
pub(crate) struct Pacing {
    delay: CommitDelay,
    previous_start: Option<Instant>,
    /// Jobs the previous batch committed. After a large batch the load is heavy and
    /// the queue refills during each commit: waiting would only idle the writer.
    previous_size: usize,
}

impl Pacing {
    pub(crate) fn new(delay: CommitDelay) -> Self {
        Self {
            delay,
            previous_start: None,
            previous_size: 0,
        }
    }

    /// A batch of `size` jobs started gathering at `started`: until when it may wait for
    /// more, or `None` to commit now.
    pub(crate) fn hold_until(&mut self, started: Instant, size: usize) -> Option<Instant> {
        let previous = self.previous_start.replace(started);
        let delay = self.delay.get();
        if delay.is_zero() || size >= SMALL_BATCH || self.previous_size >= SMALL_BATCH {
            return None;
        }
        let frequent = previous.is_some_and(|p| started.duration_since(p) < delay * FREQUENT);
        frequent.then(|| started + delay)
    }

    /// The batch that gathered is committed with `size` jobs.
    pub(crate) fn committing(&mut self, size: usize) {
        self.previous_size = size;
    }

    /// Whether a batch of `size` jobs has gathered enough to stop waiting.
    pub(crate) fn full(size: usize) -> bool {
        size >= SMALL_BATCH
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pacing(micros: u64) -> Pacing {
        let delay = CommitDelay::default();
        delay.set(Duration::from_micros(micros));
        Pacing::new(delay)
    }

    #[test]
    fn off_by_default_never_holds() {
        let mut p = Pacing::new(CommitDelay::default());
        let t = Instant::now();
        assert_eq!(p.hold_until(t, 1), None);
        assert_eq!(p.hold_until(t + Duration::from_micros(10), 1), None);
    }

    #[test]
    fn the_first_message_after_a_quiet_spell_is_not_held() {
        let mut p = pacing(1000);
        let t = Instant::now();
        assert_eq!(p.hold_until(t, 1), None, "no previous batch");
        let later = t + Duration::from_secs(1);
        assert_eq!(
            p.hold_until(later, 1),
            None,
            "a second of silence before it"
        );
    }

    #[test]
    fn frequent_small_batches_wait_at_most_the_delay() {
        let mut p = pacing(1000);
        let t = Instant::now();
        p.hold_until(t, 1);
        let next = t + Duration::from_micros(1500);
        assert_eq!(p.hold_until(next, 1), Some(next + Duration::from_millis(1)));
    }

    #[test]
    fn large_batches_are_never_held() {
        let mut p = pacing(1000);
        let t = Instant::now();
        p.hold_until(t, 1);
        assert_eq!(
            p.hold_until(t + Duration::from_micros(100), SMALL_BATCH),
            None
        );
        assert!(Pacing::full(SMALL_BATCH));
        assert!(!Pacing::full(SMALL_BATCH - 1));
    }

    #[test]
    fn after_a_large_batch_the_next_small_one_is_not_held() {
        // Heavy load: the queue refills while each commit runs, so a small batch after
        // a large one is the front of the next wave, not a lull worth waiting in.
        let mut p = pacing(1000);
        let t = Instant::now();
        p.hold_until(t, SMALL_BATCH);
        p.committing(40);
        let next = t + Duration::from_micros(200);
        assert_eq!(p.hold_until(next, 2), None);
        p.committing(2);
        let then = next + Duration::from_micros(200);
        assert_eq!(p.hold_until(then, 2), Some(then + Duration::from_millis(1)));
    }

    #[test]
    fn a_delay_changed_at_run_time_applies_to_the_next_batch() {
        let delay = CommitDelay::default();
        let mut p = Pacing::new(delay.clone());
        let t = Instant::now();
        p.hold_until(t, 1);
        assert_eq!(p.hold_until(t + Duration::from_micros(100), 1), None);
        delay.set(Duration::from_millis(2));
        let next = t + Duration::from_micros(200);
        assert_eq!(p.hold_until(next, 1), Some(next + Duration::from_millis(2)));
    }
}
