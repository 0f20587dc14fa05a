//! Shared state in Redis, owned per node and guarded by a heartbeat with a TTL.
//!
//! Keys (every key has one slot, so this works unchanged on a cluster):
//!
//! | key | type | holds |
//! |---|---|---|
//! | `{p}:nodes` | set | ids of nodes that have written state |
//! | `{p}:alive:{node}` | string, TTL ⅔ `node_ttl` | the node's heartbeat: `incarnation millis` |
//! | `{p}:presence:{account}` | hash node → `online`/`away` | per-node presence |
//! | `{p}:node:{node}:accounts` | set | accounts with presence on the node |
//! | `{p}:call:{call}` | hash leg → `node` NUL `data` | live call legs |
//! | `{p}:node:{node}:legs` | set of `call` NUL `leg` | legs held by the node |
//! | `{p}:reap:{node}` | string, TTL | lock: one survivor cleans a dead node |
//! | `{p}:budget:{key}` | string, TTL | a budget's arrival time in ms (see [`Budget`]), by Redis's clock |
//!
//! The node keeps a mirror of what it owns. Its heartbeat is `SET … GET`: when the
//! previous value is gone (first start, a Redis restart without persistence, or we were
//! presumed dead after a long pause) the node writes its whole mirror again.
//!
//! **Incarnations.** A node id outlives its process: `restart: unless-stopped` or a pod
//! restart brings the same id back within a second, long before its heartbeat expires.
//! The heartbeat therefore names the process (a random incarnation). Survivors that see
//! another incarnation behind a node id treat it as a departure (the old process may
//! have committed events it never published), and the new process, on its first pass,
//! removes whatever its node id still owns that it did not write itself (presence and
//! call legs of the dead process) and reports it like a reaped node's.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::RedisSettings;
use super::lazy::LazyRedis;
use crate::bus::state::{
    Budget, CallLeg, PresenceStatus, Reaped, SharedState, StateError, mirror_presence,
};
use crate::ids::AccountId;
use async_trait::async_trait;
use futures_util::future::join_all;

pub struct RedisState {
    /// The command connection, opened on first use and replaced after an error.
    redis: LazyRedis,
    /// What this node owns. `std` mutexes: never held across an `.await`.
    presence: Mutex<HashMap<AccountId, PresenceStatus>>,
    legs: Mutex<HashMap<(String, String), CallLeg>>,
    /// Other nodes alive at the previous maintenance pass, with their incarnations.
    seen_alive: Mutex<HashMap<String, Option<String>>>,
    /// Whether this process has cleaned up after an earlier one of the same node id.
    cleaned_previous: AtomicBool,
    /// Whether a heartbeat has been written: until then every ownership write first
    /// registers the node, so a node that dies before its first maintenance pass is
    /// still found and reaped by the survivors.
    registered: AtomicBool,
}

fn unavailable(error: redis::RedisError) -> StateError {
    StateError::Unavailable(error.to_string())
}

const SEP: char = '\u{0}';

/// [`Budget::spend`] in one atomic step on Redis's clock (nodes' clocks may differ):
/// returns 0 when spent, else the milliseconds to wait.
const SPEND_SCRIPT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local next = tat + interval
local allowed_at = next - interval * burst
if allowed_at > now then
  return math.max(1, math.ceil(allowed_at - now))
end
redis.call('SET', KEYS[1], tostring(next), 'PX', math.ceil(next - now) + 1)
return 0
";

impl RedisState {
    pub fn new(settings: RedisSettings) -> Self {
        RedisState {
            redis: LazyRedis::new(settings),
            presence: Mutex::new(HashMap::new()),
            legs: Mutex::new(HashMap::new()),
            seen_alive: Mutex::new(HashMap::new()),
            cleaned_previous: AtomicBool::new(false),
            registered: AtomicBool::new(false),
        }
    }

    /// Before the first heartbeat: `alive` (only if absent) and membership of `nodes`.
    async fn ensure_registered(&self) -> Result<(), StateError> {
        if self.registered.load(Ordering::Relaxed) {
            return Ok(());
        }
        self.run::<()>(self.set_heartbeat("NX")).await?;
        self.join_nodes().await
    }

    /// `SET` of this node's heartbeat, living ⅔ of the node TTL; `mode` is `NX` (only
    /// if absent) or `GET` (answering the previous value).
    fn set_heartbeat(&self, mode: &str) -> redis::Cmd {
        let ttl = self.redis.settings().node_ttl * 2 / 3;
        redis::cmd("SET")
            .arg(self.key(&format!("alive:{}", self.me())))
            .arg(self.heartbeat())
            .arg("PX")
            .arg(ttl.as_millis() as u64)
            .arg(mode)
            .to_owned()
    }

    /// Adds this node to `nodes`, where the survivors look for the dead.
    async fn join_nodes(&self) -> Result<(), StateError> {
        self.run::<()>(
            redis::cmd("SADD")
                .arg(self.key("nodes"))
                .arg(self.me())
                .to_owned(),
        )
        .await
    }

    fn key(&self, rest: &str) -> String {
        format!("{}:{}", self.redis.settings().prefix, rest)
    }

    fn me(&self) -> &str {
        &self.redis.settings().node
    }

    fn heartbeat(&self) -> String {
        format!(
            "{} {}",
            self.redis.settings().incarnation,
            crate::ids::now_millis()
        )
    }

    async fn run<T: redis::FromRedisValue>(&self, cmd: redis::Cmd) -> Result<T, StateError> {
        self.redis.run(&cmd).await.map_err(unavailable)
    }

    async fn write_presence(
        &self,
        account: &AccountId,
        status: PresenceStatus,
    ) -> Result<(), StateError> {
        let hash = self.key(&format!("presence:{account}"));
        let owned = self.key(&format!("node:{}:accounts", self.me()));
        if status == PresenceStatus::Offline {
            self.run::<()>(redis::cmd("HDEL").arg(&hash).arg(self.me()).to_owned())
                .await?;
            self.run::<()>(
                redis::cmd("SREM")
                    .arg(&owned)
                    .arg(account.as_str())
                    .to_owned(),
            )
            .await
        } else {
            self.ensure_registered().await?;
            self.run::<()>(
                redis::cmd("HSET")
                    .arg(&hash)
                    .arg(self.me())
                    .arg(status.as_str())
                    .to_owned(),
            )
            .await?;
            self.run::<()>(
                redis::cmd("SADD")
                    .arg(&owned)
                    .arg(account.as_str())
                    .to_owned(),
            )
            .await
        }
    }

    async fn write_leg(&self, leg: &CallLeg) -> Result<(), StateError> {
        self.ensure_registered().await?;
        let mut value = format!("{}{SEP}", self.me()).into_bytes();
        value.extend_from_slice(&leg.data);
        self.run::<()>(
            redis::cmd("HSET")
                .arg(self.key(&format!("call:{}", leg.call)))
                .arg(&leg.leg)
                .arg(value)
                .to_owned(),
        )
        .await?;
        self.run::<()>(
            redis::cmd("SADD")
                .arg(self.key(&format!("node:{}:legs", self.me())))
                .arg(format!("{}{SEP}{}", leg.call, leg.leg))
                .to_owned(),
        )
        .await
    }

    /// Writes everything this node owns again (after Redis forgot it).
    async fn rewrite_all(&self) -> Result<(), StateError> {
        let presence: Vec<(AccountId, PresenceStatus)> = self
            .presence
            .lock()
            .map(|p| p.iter().map(|(a, s)| (a.clone(), *s)).collect())
            .unwrap_or_default();
        for (account, status) in presence {
            self.write_presence(&account, status).await?;
        }
        let legs: Vec<CallLeg> = self
            .legs
            .lock()
            .map(|l| l.values().cloned().collect())
            .unwrap_or_default();
        for leg in legs {
            self.write_leg(&leg).await?;
        }
        Ok(())
    }

    /// Removes what a dead node owned and reports it.
    async fn reap(&self, node: &str, reaped: &mut Reaped) -> Result<(), StateError> {
        self.reap_owned(node, reaped, &|_| false).await?;
        let accounts_key = self.key(&format!("node:{node}:accounts"));
        let legs_key = self.key(&format!("node:{node}:legs"));
        // One key per DEL: two keys may sit on different cluster slots.
        self.run::<()>(redis::cmd("DEL").arg(&accounts_key).to_owned())
            .await?;
        self.run::<()>(redis::cmd("DEL").arg(&legs_key).to_owned())
            .await?;
        self.run::<()>(
            redis::cmd("SREM")
                .arg(self.key("nodes"))
                .arg(node)
                .to_owned(),
        )
        .await?;
        reaped.nodes.push(node.to_owned());
        Ok(())
    }

    /// This process's first pass: whatever its node id owns that this process did not
    /// write belongs to an earlier process of the same id, which is gone.
    async fn clean_previous_incarnation(&self, reaped: &mut Reaped) -> Result<(), StateError> {
        let me = self.me().to_owned();
        let (accounts_key, legs_key) = (
            self.key(&format!("node:{me}:accounts")),
            self.key(&format!("node:{me}:legs")),
        );
        let before = (reaped.accounts.len(), reaped.legs.len());
        let mine = |entry: Owned<'_>| -> bool {
            match entry {
                Owned::Account(account) => self
                    .presence
                    .lock()
                    .is_ok_and(|p| p.contains_key(&AccountId::from_stored(account.to_owned()))),
                Owned::Leg(call, leg) => self
                    .legs
                    .lock()
                    .is_ok_and(|l| l.contains_key(&(call.to_owned(), leg.to_owned()))),
            }
        };
        self.reap_owned(&me, reaped, &mine).await?;
        for account in &reaped.accounts[before.0..] {
            self.run::<()>(
                redis::cmd("SREM")
                    .arg(&accounts_key)
                    .arg(account.as_str())
                    .to_owned(),
            )
            .await?;
        }
        for leg in &reaped.legs[before.1..] {
            self.run::<()>(
                redis::cmd("SREM")
                    .arg(&legs_key)
                    .arg(format!("{}{SEP}{}", leg.call, leg.leg))
                    .to_owned(),
            )
            .await?;
        }
        let (accounts, legs) = (
            reaped.accounts.len() - before.0,
            reaped.legs.len() - before.1,
        );
        if accounts + legs > 0 {
            tracing::info!(
                accounts,
                call_legs = legs,
                "removed presence and call legs left by this node id's previous process"
            );
        }
        Ok(())
    }

    /// Removes the presence and call legs `node` owns, except what `keep` says to keep,
    /// and reports them.
    async fn reap_owned(
        &self,
        node: &str,
        reaped: &mut Reaped,
        keep: &(dyn Fn(Owned<'_>) -> bool + Sync),
    ) -> Result<(), StateError> {
        let accounts_key = self.key(&format!("node:{node}:accounts"));
        let legs_key = self.key(&format!("node:{node}:legs"));
        let accounts: Vec<String> = self
            .run(redis::cmd("SMEMBERS").arg(&accounts_key).to_owned())
            .await?;
        for account in accounts {
            if keep(Owned::Account(&account)) {
                continue;
            }
            self.run::<()>(
                redis::cmd("HDEL")
                    .arg(self.key(&format!("presence:{account}")))
                    .arg(node)
                    .to_owned(),
            )
            .await?;
            reaped.accounts.push(AccountId::from_stored(account));
        }
        let legs: Vec<String> = self
            .run(redis::cmd("SMEMBERS").arg(&legs_key).to_owned())
            .await?;
        for entry in legs {
            let Some((call, leg)) = entry.split_once(SEP) else {
                continue;
            };
            if keep(Owned::Leg(call, leg)) {
                continue;
            }
            let hash = self.key(&format!("call:{call}"));
            let value: Option<Vec<u8>> = self
                .run(redis::cmd("HGET").arg(&hash).arg(leg).to_owned())
                .await?;
            let Some(value) = value else { continue };
            let (owner, data) = split_owner(&value);
            if owner != node.as_bytes() {
                continue; // the leg moved to another node meanwhile
            }
            self.run::<()>(redis::cmd("HDEL").arg(&hash).arg(leg).to_owned())
                .await?;
            reaped.legs.push(CallLeg {
                call: call.to_owned(),
                leg: leg.to_owned(),
                data: data.to_vec(),
            });
        }
        Ok(())
    }
}

/// One thing a node owns in the shared state.
enum Owned<'a> {
    Account(&'a str),
    /// A call and one of its legs.
    Leg(&'a str, &'a str),
}

/// The incarnation named by a heartbeat (`None` for a heartbeat without one).
fn incarnation(heartbeat: &str) -> Option<&str> {
    heartbeat
        .split_once(' ')
        .map(|(incarnation, _)| incarnation)
}

fn split_owner(value: &[u8]) -> (&[u8], &[u8]) {
    match value.iter().position(|b| *b == 0) {
        Some(i) => (&value[..i], &value[i + 1..]),
        None => (value, &[]),
    }
}

#[async_trait]
impl SharedState for RedisState {
    async fn spend(&self, key: &str, budget: Budget) -> Result<Option<Duration>, StateError> {
        let wait: u64 = self
            .run(
                redis::cmd("EVAL")
                    .arg(SPEND_SCRIPT)
                    .arg(1)
                    .arg(self.key(&format!("budget:{key}")))
                    .arg(budget.interval_ms())
                    .arg(budget.burst.max(1))
                    .to_owned(),
            )
            .await?;
        Ok((wait > 0).then(|| Duration::from_millis(wait)))
    }

    async fn set_presence(
        &self,
        account: &AccountId,
        status: PresenceStatus,
    ) -> Result<(), StateError> {
        mirror_presence(&self.presence, account, status);
        self.write_presence(account, status).await
    }

    async fn presence(
        &self,
        accounts: &[AccountId],
    ) -> Result<HashMap<AccountId, PresenceStatus>, StateError> {
        let reads = join_all(accounts.iter().map(|account| async move {
            let entries: HashMap<String, String> = self
                .run(
                    redis::cmd("HGETALL")
                        .arg(self.key(&format!("presence:{account}")))
                        .to_owned(),
                )
                .await?;
            let status = entries
                .values()
                .filter_map(|s| PresenceStatus::parse(s))
                .fold(PresenceStatus::Offline, PresenceStatus::combine);
            Ok::<_, StateError>((account.clone(), status))
        }))
        .await;
        let mut out = HashMap::new();
        for read in reads {
            let (account, status) = read?;
            if status != PresenceStatus::Offline {
                out.insert(account, status);
            }
        }
        Ok(out)
    }

    async fn put_call_leg(&self, leg: &CallLeg) -> Result<(), StateError> {
        if let Ok(mut legs) = self.legs.lock() {
            legs.insert((leg.call.clone(), leg.leg.clone()), leg.clone());
        }
        self.write_leg(leg).await
    }

    async fn remove_call_leg(&self, call: &str, leg: &str) -> Result<(), StateError> {
        if let Ok(mut legs) = self.legs.lock() {
            legs.remove(&(call.to_owned(), leg.to_owned()));
        }
        self.run::<()>(
            redis::cmd("HDEL")
                .arg(self.key(&format!("call:{call}")))
                .arg(leg)
                .to_owned(),
        )
        .await?;
        self.run::<()>(
            redis::cmd("SREM")
                .arg(self.key(&format!("node:{}:legs", self.me())))
                .arg(format!("{call}{SEP}{leg}"))
                .to_owned(),
        )
        .await
    }

    async fn call_legs(&self, call: &str) -> Result<Vec<CallLeg>, StateError> {
        let entries: HashMap<String, Vec<u8>> = self
            .run(
                redis::cmd("HGETALL")
                    .arg(self.key(&format!("call:{call}")))
                    .to_owned(),
            )
            .await?;
        let mut legs: Vec<CallLeg> = entries
            .into_iter()
            .map(|(leg, value)| CallLeg {
                call: call.to_owned(),
                leg,
                data: split_owner(&value).1.to_vec(),
            })
            .collect();
        legs.sort_by(|a, b| a.leg.cmp(&b.leg));
        Ok(legs)
    }

    async fn maintain(&self) -> Result<Reaped, StateError> {
        let previous: Option<String> = self.run(self.set_heartbeat("GET")).await?;
        self.join_nodes().await?;
        self.registered.store(true, Ordering::Relaxed);
        if previous.is_none() {
            self.rewrite_all().await?;
        }
        let mut reaped = Reaped::default();
        if !self.cleaned_previous.load(Ordering::Relaxed) {
            self.clean_previous_incarnation(&mut reaped).await?;
            self.cleaned_previous.store(true, Ordering::Relaxed);
        }
        let nodes: Vec<String> = self
            .run(redis::cmd("SMEMBERS").arg(self.key("nodes")).to_owned())
            .await?;
        let mut alive_now = HashMap::new();
        for node in nodes.iter().filter(|n| n.as_str() != self.me()) {
            let heartbeat: Option<String> = self
                .run(
                    redis::cmd("GET")
                        .arg(self.key(&format!("alive:{node}")))
                        .to_owned(),
                )
                .await?;
            if let Some(heartbeat) = heartbeat {
                alive_now.insert(node.clone(), incarnation(&heartbeat).map(str::to_owned));
                continue;
            }
            let lock: Option<String> = self
                .run(
                    redis::cmd("SET")
                        .arg(self.key(&format!("reap:{node}")))
                        .arg(self.me())
                        .arg("NX")
                        .arg("PX")
                        .arg(self.redis.settings().node_ttl.as_millis() as u64)
                        .to_owned(),
                )
                .await?;
            if lock.is_some() {
                tracing::info!(%node, "node heartbeat expired; removing its presence and call legs");
                self.reap(node, &mut reaped).await?;
            }
        }
        if let Ok(mut seen) = self.seen_alive.lock() {
            reaped.departed = departed(&seen, &alive_now);
            *seen = alive_now;
        }
        Ok(reaped)
    }

    fn maintain_interval(&self) -> Duration {
        (self.redis.settings().node_ttl / 6).max(Duration::from_millis(200))
    }
}

/// Nodes alive at the previous pass that are gone now, or that came back as another
/// process (a restart under the same id, however quick).
fn departed(
    before: &HashMap<String, Option<String>>,
    now: &HashMap<String, Option<String>>,
) -> Vec<String> {
    let mut departed: Vec<String> = before
        .iter()
        .filter(|(node, was)| match now.get(*node) {
            None => true,
            Some(is) => was.is_some() && is.is_some() && is != *was,
        })
        .map(|(node, _)| node.clone())
        .collect();
    departed.sort();
    departed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alive(entries: &[(&str, Option<&str>)]) -> HashMap<String, Option<String>> {
        entries
            .iter()
            .map(|(node, inc)| (node.to_string(), inc.map(str::to_owned)))
            .collect()
    }

    #[test]
    fn a_node_that_stopped_or_restarted_has_departed() {
        let before = alive(&[("a", Some("i1")), ("b", Some("i2")), ("c", Some("i3"))]);
        let now = alive(&[("a", Some("i1")), ("b", Some("i9")), ("d", Some("i4"))]);
        assert_eq!(departed(&before, &now), vec!["b", "c"]);
    }

    #[test]
    fn a_heartbeat_without_an_incarnation_is_not_a_restart() {
        // A node of an older version writes bare milliseconds: no incarnation to compare.
        let before = alive(&[("a", None)]);
        let now = alive(&[("a", None)]);
        assert!(departed(&before, &now).is_empty());
        assert_eq!(incarnation("1700000000000"), None);
        assert_eq!(incarnation("abc 1700000000000"), Some("abc"));
    }
}
