//! What every node must agree on about the SFU instances: how loaded each one is
//! (participants per instance, summed over nodes) and which ones stopped answering.
//! In-process here; across nodes in Redis (`adapters::RedisSfuBoard`).
//!
//! Each node reports only its own participants per instance, with the time of the
//! report; readers ignore reports older than [`STALE_AFTER`], so a node that dies
//! stops counting without anyone cleaning up after it.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;

use crate::ids::{Millis, now_millis};

/// A node re-reports at least this often.
pub const REPORT_EVERY: Duration = Duration::from_secs(10);
/// Reports older than this are from a node that is gone.
pub const STALE_AFTER: Duration = Duration::from_secs(35);

#[derive(Debug, thiserror::Error)]
#[error("SFU board unavailable: {0}")]
pub struct BoardError(pub String);

#[async_trait]
pub trait SfuBoard: Send + Sync + 'static {
    /// This node has `participants` on `instance` now.
    async fn report(&self, instance: &str, node: &str, participants: u32)
    -> Result<(), BoardError>;
    /// Participants per instance (same order as `instances`), over every live node.
    async fn loads(&self, instances: &[String]) -> Result<Vec<u32>, BoardError>;
    /// Takes `instance` out of the choice for `period` (it stopped answering).
    async fn mark_down(&self, instance: &str, period: Duration) -> Result<(), BoardError>;
    /// Whether some node marked `instance` down recently.
    async fn is_down(&self, instance: &str) -> Result<bool, BoardError>;
}

/// A report as stored: participants and when (Unix ms), `"count:millis"`.
pub fn encode_report(participants: u32, at: Millis) -> String {
    format!("{participants}:{at}")
}

/// The participants of a report that is still fresh at `now`.
pub fn fresh_count(report: &str, now: Millis) -> u32 {
    let Some((count, at)) = report.split_once(':') else {
        return 0;
    };
    let (Ok(count), Ok(at)) = (count.parse::<u32>(), at.parse::<Millis>()) else {
        return 0;
    };
    if now - at > STALE_AFTER.as_millis() as Millis {
        return 0;
    }
    count
}

/// One node's board.
#[derive(Default)]
pub struct MemoryBoard {
    /// `std` mutex: map operations only, never held across an `.await`.
    state: Mutex<MemoryState>,
}

#[derive(Default)]
struct MemoryState {
    reports: HashMap<(String, String), String>,
    down_until: HashMap<String, Millis>,
}

impl MemoryBoard {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl SfuBoard for MemoryBoard {
    async fn report(
        &self,
        instance: &str,
        node: &str,
        participants: u32,
    ) -> Result<(), BoardError> {
        self.lock().reports.insert(
            (instance.to_owned(), node.to_owned()),
            encode_report(participants, now_millis()),
        );
        Ok(())
    }

    async fn loads(&self, instances: &[String]) -> Result<Vec<u32>, BoardError> {
        let now = now_millis();
        let state = self.lock();
        Ok(instances
            .iter()
            .map(|instance| {
                state
                    .reports
                    .iter()
                    .filter(|((i, _), _)| i == instance)
                    .map(|(_, report)| fresh_count(report, now))
                    .sum()
            })
            .collect())
    }

    async fn mark_down(&self, instance: &str, period: Duration) -> Result<(), BoardError> {
        let until = now_millis() + period.as_millis() as Millis;
        self.lock().down_until.insert(instance.to_owned(), until);
        Ok(())
    }

    async fn is_down(&self, instance: &str) -> Result<bool, BoardError> {
        let now = now_millis();
        Ok(self
            .lock()
            .down_until
            .get(instance)
            .is_some_and(|until| *until > now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_or_garbled_reports_count_nothing() {
        let now = 1_000_000;
        assert_eq!(fresh_count(&encode_report(4, now - 1000), now), 4);
        assert_eq!(fresh_count(&encode_report(4, now - 60_000), now), 0);
        assert_eq!(fresh_count("x:1", now), 0);
        assert_eq!(fresh_count("7", now), 0);
    }

    #[tokio::test]
    async fn loads_sum_nodes_and_down_marks_expire() {
        let board = MemoryBoard::new();
        board.report("a", "n1", 3).await.unwrap();
        board.report("a", "n2", 2).await.unwrap();
        board.report("b", "n1", 1).await.unwrap();
        board.report("a", "n1", 4).await.unwrap();
        let instances = vec!["a".to_owned(), "b".to_owned(), "c".to_owned()];
        assert_eq!(board.loads(&instances).await.unwrap(), vec![6, 1, 0]);
        board.mark_down("b", Duration::from_secs(30)).await.unwrap();
        board.mark_down("c", Duration::ZERO).await.unwrap();
        assert!(board.is_down("b").await.unwrap());
        assert!(!board.is_down("c").await.unwrap());
        assert!(!board.is_down("a").await.unwrap());
    }
}
