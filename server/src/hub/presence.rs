//! Presence upkeep on this node: one worker writes each account's local status to the
//! shared state and announces the combined status; one loop keeps the node's heartbeat
//! and cleans up after dead nodes.
//!
//! Changes are queued as a set of accounts (a burst of reconnects collapses into one
//! write per account) and handled one at a time, each reading the account's local
//! status when it is handled, so the last write always reflects the latest local state.
//! Two nodes announcing the same account at once may be heard in either order, so each
//! announcement is checked again a moment later and repeated if the status moved.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use tokio::sync::{Notify, broadcast};

use super::Hub;
use crate::bus::PresenceStatus;
use crate::bus::state::Reaped;
use crate::ids::AccountId;

/// Delay before an announcement is checked against the shared state again.
const RECHECK_AFTER: Duration = Duration::from_millis(1500);

#[derive(Default)]
pub(super) struct PresenceQueue {
    /// A `std` mutex: never held across an `.await`.
    pending: Mutex<HashSet<AccountId>>,
    wake: Notify,
}

impl PresenceQueue {
    fn push(&self, account: &AccountId) {
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(account.clone());
        self.wake.notify_one();
    }

    fn take(&self) -> Vec<AccountId> {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        pending.drain().collect()
    }
}

impl Hub {
    /// The account's connections on this node changed (opened, closed, away): write
    /// and announce its presence soon.
    pub(crate) fn presence_changed(&self, account: &AccountId) {
        self.presence.push(account);
    }

    /// Best status over this node's connections of the account.
    fn local_status(&self, account: &AccountId) -> PresenceStatus {
        self.accounts
            .get(account)
            .map(|conns| {
                conns
                    .iter()
                    .map(|c| {
                        if c.is_away() {
                            PresenceStatus::Away
                        } else {
                            PresenceStatus::Online
                        }
                    })
                    .fold(PresenceStatus::Offline, PresenceStatus::combine)
            })
            .unwrap_or(PresenceStatus::Offline)
    }

    /// What dead nodes left behind (call legs among it), for whoever must tell the
    /// other parties.
    pub fn reaped(&self) -> broadcast::Receiver<Arc<Reaped>> {
        self.reaped.subscribe()
    }
}

pub(super) fn start(hub: &Arc<Hub>) {
    tokio::spawn(worker(Arc::downgrade(hub)));
    tokio::spawn(maintenance(Arc::downgrade(hub)));
}

async fn worker(hub: Weak<Hub>) {
    loop {
        let wake = match hub.upgrade() {
            Some(hub) => {
                for account in hub.presence.take() {
                    update(&hub, &account).await;
                }
                hub.presence.clone()
            }
            None => return,
        };
        wake.wake.notified().await;
    }
}

async fn update(hub: &Arc<Hub>, account: &AccountId) {
    let local = hub.local_status(account);
    let state = hub.bus.state();
    if let Err(error) = state.set_presence(account, local).await {
        tracing::warn!(%error, "presence not written");
        return;
    }
    let announced = match hub.mentoring.announce_presence(account).await {
        Ok(status) => status,
        Err(refusal) => {
            tracing::warn!(error = %refusal, "presence not announced");
            return;
        }
    };
    let hub = Arc::downgrade(hub);
    let account = account.clone();
    tokio::spawn(async move {
        tokio::time::sleep(RECHECK_AFTER).await;
        let Some(hub) = hub.upgrade() else { return };
        if hub.mentoring.presence_of(&account).await != announced {
            hub.presence_changed(&account);
        }
    });
}

async fn maintenance(hub: Weak<Hub>) {
    let interval = match hub.upgrade() {
        Some(hub) => hub.bus.state().maintain_interval(),
        None => return,
    };
    // The first pass runs at once: the heartbeat should exist before members connect.
    let mut first = true;
    loop {
        if !std::mem::take(&mut first) {
            tokio::time::sleep(interval).await;
        }
        let Some(hub) = hub.upgrade() else { return };
        match hub.bus.state().maintain().await {
            Ok(reaped) => {
                for account in &reaped.accounts {
                    hub.presence_changed(account);
                }
                if !reaped.departed.is_empty() {
                    // What a dead node committed but never published is in the store.
                    tracing::info!(nodes = ?reaped.departed, "nodes departed; resyncing local connections");
                    crate::bus::BusSink::resync(&*hub);
                }
                // Call participants connected through a node that is gone lost their
                // connection: their calls here start the grace period for them.
                let gone: Vec<String> = reaped
                    .departed
                    .iter()
                    .chain(&reaped.nodes)
                    .filter(|n| n.as_str() != &**hub.mentoring.node())
                    .cloned()
                    .collect();
                if !gone.is_empty() {
                    let signalling = hub.signalling.clone();
                    tokio::spawn(async move { signalling.nodes_lost(&gone).await });
                }
                if !reaped.nodes.is_empty() {
                    tracing::info!(
                        nodes = ?reaped.nodes,
                        accounts = reaped.accounts.len(),
                        call_legs = reaped.legs.len(),
                        "cleaned up after dead nodes"
                    );
                    let _ = hub.reaped.send(Arc::new(reaped));
                }
            }
            Err(error) => tracing::warn!(%error, "shared-state maintenance failed"),
        }
    }
}
