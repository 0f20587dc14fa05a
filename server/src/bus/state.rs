//! State every node shares and that must outlive any one node: presence, per-node
//! heartbeats and live call legs. Single node: [`MemoryState`]; several nodes: Redis
//! with TTL-guarded heartbeats ([`super::redis::RedisState`]).
//!
//! Every entry is owned by the node that wrote it. A node refreshes its heartbeat every
//! [`SharedState::maintain_interval`]; a node whose heartbeat expired is dead, and the
//! first survivor to notice removes what it owned and reports it ([`Reaped`]) so the
//! other parties can be told. The bound ("gone within `node_ttl`") is the heartbeat TTL
//! plus one maintenance interval.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;

use crate::ids::AccountId;

/// An account's availability as other members see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PresenceStatus {
    Offline,
    Away,
    Online,
}

impl PresenceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PresenceStatus::Online => "online",
            PresenceStatus::Away => "away",
            PresenceStatus::Offline => "offline",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "online" => Some(PresenceStatus::Online),
            "away" => Some(PresenceStatus::Away),
            "offline" => Some(PresenceStatus::Offline),
            _ => None,
        }
    }

    /// Several devices (or nodes): online beats away beats offline.
    pub fn combine(self, other: PresenceStatus) -> PresenceStatus {
        self.max(other)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("shared state unavailable: {0}")]
    Unavailable(String),
}

/// A call leg: one participant's presence in a ringing or running call, held by the
/// node that serves the participant's connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallLeg {
    pub call: String,
    pub leg: String,
    /// Opaque to the bus (the signalling module's own JSON).
    pub data: Vec<u8>,
}

/// What a maintenance pass removed because its owner died.
#[derive(Clone, Debug, Default)]
pub struct Reaped {
    /// Accounts whose presence changed (their status must be re-read and announced).
    pub accounts: Vec<AccountId>,
    /// Call legs that were held by dead nodes.
    pub legs: Vec<CallLeg>,
    /// Ids of the dead nodes this pass cleaned up after.
    pub nodes: Vec<String>,
    /// Nodes seen alive by the previous pass and gone now (dead or stopped). A dead
    /// node may have committed messages it never published, so every node that notices
    /// re-reads its connections' conversations from the store.
    pub departed: Vec<String>,
}

/// A budget of actions: `per_sec` on average, up to `burst` at once (a token bucket,
/// kept as a generic cell rate: one "theoretical arrival time" per key).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Budget {
    pub per_sec: f64,
    pub burst: u32,
}

impl Budget {
    /// Milliseconds one action costs.
    pub fn interval_ms(self) -> f64 {
        1000.0 / self.per_sec.max(f64::MIN_POSITIVE)
    }

    /// Spends one action at `now_ms` against the arrival time `tat_ms` (none: a full
    /// bucket). `Ok(new_tat)` to store, or `Err(wait_ms)` until one is available.
    pub fn spend(self, tat_ms: Option<f64>, now_ms: f64) -> Result<f64, u64> {
        let interval = self.interval_ms();
        let next = tat_ms.unwrap_or(now_ms).max(now_ms) + interval;
        let allowed_at = next - interval * f64::from(self.burst.max(1));
        if allowed_at > now_ms {
            Err(((allowed_at - now_ms).ceil() as u64).max(1))
        } else {
            Ok(next)
        }
    }
}

#[async_trait]
pub trait SharedState: Send + Sync + 'static {
    /// Spends one action of `key`'s budget, shared by every node: `None` if it was
    /// available, else how long until one is.
    async fn spend(&self, key: &str, budget: Budget) -> Result<Option<Duration>, StateError>;

    /// Records this node's status for an account (`Offline`: no connection here).
    async fn set_presence(
        &self,
        account: &AccountId,
        status: PresenceStatus,
    ) -> Result<(), StateError>;
    /// Each account's status combined over every live node; absent means offline.
    async fn presence(
        &self,
        accounts: &[AccountId],
    ) -> Result<HashMap<AccountId, PresenceStatus>, StateError>;

    /// Registers a call leg held by this node.
    async fn put_call_leg(&self, leg: &CallLeg) -> Result<(), StateError>;
    async fn remove_call_leg(&self, call: &str, leg: &str) -> Result<(), StateError>;
    /// Every live leg of a call, whichever node holds it.
    async fn call_legs(&self, call: &str) -> Result<Vec<CallLeg>, StateError>;

    /// Refreshes this node's heartbeat (re-writing everything it owns if the shared
    /// store forgot it, e.g. after a Redis restart) and removes what dead nodes left.
    async fn maintain(&self) -> Result<Reaped, StateError>;
    /// How often [`SharedState::maintain`] must run.
    fn maintain_interval(&self) -> Duration;
}

/// Keeps a node's own presence map in step: offline is absence. A poisoned map is
/// left as it is (the shared copy, where there is one, is still written).
pub(crate) fn mirror_presence(
    map: &Mutex<HashMap<AccountId, PresenceStatus>>,
    account: &AccountId,
    status: PresenceStatus,
) {
    if let Ok(mut presence) = map.lock() {
        if status == PresenceStatus::Offline {
            presence.remove(account);
        } else {
            presence.insert(account.clone(), status);
        }
    }
}

/// One node: nothing is shared, nothing can die without taking everything with it.
#[derive(Default)]
pub struct MemoryState {
    /// A `std` mutex: never held across an `.await`.
    presence: Mutex<HashMap<AccountId, PresenceStatus>>,
    legs: Mutex<HashMap<String, Vec<CallLeg>>>,
    /// Budget arrival times (milliseconds), pruned once they are in the past.
    budgets: Mutex<HashMap<String, f64>>,
}

fn now_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

#[async_trait]
impl SharedState for MemoryState {
    async fn spend(&self, key: &str, budget: Budget) -> Result<Option<Duration>, StateError> {
        let mut budgets = self
            .budgets
            .lock()
            .map_err(|_| StateError::Unavailable("poisoned".into()))?;
        let now = now_ms();
        match budget.spend(budgets.get(key).copied(), now) {
            Ok(next) => {
                budgets.insert(key.to_owned(), next);
                Ok(None)
            }
            Err(wait) => Ok(Some(Duration::from_millis(wait))),
        }
    }

    async fn set_presence(
        &self,
        account: &AccountId,
        status: PresenceStatus,
    ) -> Result<(), StateError> {
        mirror_presence(&self.presence, account, status);
        Ok(())
    }

    async fn presence(
        &self,
        accounts: &[AccountId],
    ) -> Result<HashMap<AccountId, PresenceStatus>, StateError> {
        let presence = self
            .presence
            .lock()
            .map_err(|_| StateError::Unavailable("poisoned".into()))?;
        Ok(accounts
            .iter()
            .filter_map(|a| presence.get(a).map(|s| (a.clone(), *s)))
            .collect())
    }

    async fn put_call_leg(&self, leg: &CallLeg) -> Result<(), StateError> {
        if let Ok(mut legs) = self.legs.lock() {
            let call = legs.entry(leg.call.clone()).or_default();
            call.retain(|l| l.leg != leg.leg);
            call.push(leg.clone());
        }
        Ok(())
    }

    async fn remove_call_leg(&self, call: &str, leg: &str) -> Result<(), StateError> {
        if let Ok(mut legs) = self.legs.lock()
            && let Some(entries) = legs.get_mut(call)
        {
            entries.retain(|l| l.leg != leg);
            if entries.is_empty() {
                legs.remove(call);
            }
        }
        Ok(())
    }

    async fn call_legs(&self, call: &str) -> Result<Vec<CallLeg>, StateError> {
        Ok(self
            .legs
            .lock()
            .ok()
            .and_then(|legs| legs.get(call).cloned())
            .unwrap_or_default())
    }

    async fn maintain(&self) -> Result<Reaped, StateError> {
        let now = now_ms();
        if let Ok(mut budgets) = self.budgets.lock() {
            budgets.retain(|_, tat| *tat > now);
        }
        Ok(Reaped::default())
    }

    fn maintain_interval(&self) -> Duration {
        Duration::from_secs(3600)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_allows_its_burst_then_its_rate() {
        let budget = Budget {
            per_sec: 10.0,
            burst: 3,
        };
        let mut tat = None;
        for _ in 0..3 {
            tat = Some(budget.spend(tat, 1_000.0).expect("within the burst"));
        }
        assert_eq!(
            budget.spend(tat, 1_000.0),
            Err(100),
            "one action per 100 ms"
        );
        assert!(budget.spend(tat, 1_100.0).is_ok(), "refilled after 100 ms");
        // Idle time refills up to the burst, never beyond.
        let mut later = Some(budget.spend(None, 0.0).unwrap());
        for _ in 0..3 {
            later = Some(budget.spend(later, 60_000.0).expect("full again"));
        }
        assert!(budget.spend(later, 60_000.0).is_err());
    }

    #[test]
    fn online_beats_away_beats_offline() {
        use PresenceStatus::*;
        assert_eq!(Away.combine(Online), Online);
        assert_eq!(Offline.combine(Away), Away);
        assert_eq!(Offline.combine(Offline), Offline);
        for s in [Online, Away, Offline] {
            assert_eq!(PresenceStatus::parse(s.as_str()), Some(s));
        }
    }

    #[tokio::test]
    async fn memory_state_tracks_presence_and_legs() {
        let state = MemoryState::default();
        let ann = AccountId::from_stored("dev:ann".into());
        state
            .set_presence(&ann, PresenceStatus::Away)
            .await
            .unwrap();
        let seen = state.presence(std::slice::from_ref(&ann)).await.unwrap();
        assert_eq!(seen.get(&ann), Some(&PresenceStatus::Away));
        state
            .set_presence(&ann, PresenceStatus::Offline)
            .await
            .unwrap();
        assert!(state.presence(&[ann]).await.unwrap().is_empty());
        let leg = CallLeg {
            call: "k1".into(),
            leg: "m1".into(),
            data: b"{}".to_vec(),
        };
        state.put_call_leg(&leg).await.unwrap();
        assert_eq!(state.call_legs("k1").await.unwrap(), vec![leg]);
        state.remove_call_leg("k1", "m1").await.unwrap();
        assert!(state.call_legs("k1").await.unwrap().is_empty());
    }
}
