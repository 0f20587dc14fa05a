//! The delivery check: what the store committed reaches this node's readers even when
//! the bus never carried it.
//!
//! Redis pub/sub is at-most-once, and a node can die between committing an event and
//! publishing it (or with events still in its publish queue, or drop them when that
//! queue overflows). Nothing on the bus then tells anyone that something was missed —
//! the next event in the conversation would reveal the gap, but there may be none for
//! days. So every `head_check_interval` the node reads the committed head (`last_seq`)
//! of every conversation it follows, by primary key in chunks, and compares it with the
//! highest seq the bus has delivered here. A head the bus still has not delivered
//! [`GRACE`] later (in flight, it would have arrived in milliseconds) is overdue: the
//! conversation's local readers catch it up from the store
//! ([`BusSink::catch_up`](crate::bus::BusSink::catch_up)); their writers drop whatever
//! they already hold, so a late bus delivery and a catch-up never duplicate.
//!
//! **Bound:** an event committed at `t` is read by the first check after `t` and, if the
//! bus has not delivered it [`GRACE`] later, caught up then: it reaches every connected
//! reader on this node by `t + interval + GRACE` plus the check's store reads and one
//! catch-up read — whichever node died, restarted or lost Redis, and when.

use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use tokio::time::{MissedTickBehavior, interval};

use super::Shared;
use crate::ids::{ConversationId, Seq};
use crate::store::Store;

/// Conversations per head query (one `IN (…)` of primary keys).
const CHUNK: usize = 500;
/// How long a committed head may stay undelivered before the store sends it: the bus
/// takes milliseconds, a publish retried after a Redis hiccup a few hundred.
pub(super) const GRACE: Duration = Duration::from_millis(500);

/// The conversations this node follows and the highest seq the bus delivered of each:
/// published by this node or received. A conversation starts at 0 when the node starts
/// following it, so whatever was committed while its subscription was on its way to
/// Redis is checked too.
#[derive(Default)]
pub(super) struct Heads {
    followed: DashMap<ConversationId, Seq>,
}

impl Heads {
    /// The first local reader subscribed.
    pub fn follow(&self, conversation: ConversationId) {
        self.followed.entry(conversation).or_default();
    }

    /// The last local reader left.
    pub fn unfollow(&self, conversation: &ConversationId) {
        self.followed.remove(conversation);
    }

    /// The bus delivered `seq` of `conversation` here.
    pub fn delivered(&self, conversation: &ConversationId, seq: Seq) {
        if let Some(mut delivered) = self.followed.get_mut(conversation)
            && seq > *delivered
        {
            *delivered = seq;
        }
    }

    fn followed(&self) -> Vec<ConversationId> {
        self.followed.iter().map(|e| e.key().clone()).collect()
    }

    /// The committed heads the bus has not delivered (yet).
    fn behind(&self, heads: Vec<(ConversationId, Seq)>) -> Vec<(ConversationId, Seq)> {
        heads
            .into_iter()
            .filter(|(conversation, head)| {
                self.followed
                    .get(conversation)
                    .is_some_and(|delivered| *delivered < *head)
            })
            .collect()
    }

    /// Of heads found behind a grace period ago, those still undelivered: they are
    /// counted as delivered from now on (the caller has them caught up).
    fn overdue(&self, behind: Vec<(ConversationId, Seq)>) -> Vec<ConversationId> {
        let mut lost = Vec::new();
        for (conversation, head) in behind {
            if let Some(mut delivered) = self.followed.get_mut(&conversation)
                && *delivered < head
            {
                *delivered = head;
                lost.push(conversation);
            }
        }
        lost
    }
}

pub(super) async fn run(shared: Arc<Shared>, store: Arc<dyn Store>, every: Duration) {
    let mut ticks = interval(every);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = shared.stop.cancelled() => return,
        }
        let mut behind = Vec::new();
        for chunk in shared.heads.followed().chunks(CHUNK) {
            match store.heads(chunk).await {
                Ok(heads) => behind.extend(shared.heads.behind(heads)),
                Err(error) => {
                    // Readers cannot catch up either; the next check after the store
                    // is back finds whatever is overdue.
                    tracing::warn!(%error, "delivery check: committed heads not read");
                    break;
                }
            }
        }
        if behind.is_empty() {
            continue;
        }
        tokio::select! {
            _ = tokio::time::sleep(GRACE) => {}
            _ = shared.stop.cancelled() => return,
        }
        let lost = shared.heads.overdue(behind);
        if lost.is_empty() {
            continue;
        }
        metrics::counter!("mentorhub_bus_heads_caught_up_total").increment(lost.len() as u64);
        tracing::info!(
            conversations = lost.len(),
            "committed events the bus did not deliver; catching up from the store"
        );
        if let Some(sink) = shared.sink.get() {
            for conversation in &lost {
                sink.catch_up(conversation);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(raw: &str) -> ConversationId {
        ConversationId::from_stored(raw.into())
    }

    #[test]
    fn a_head_the_bus_delivers_within_the_grace_is_never_caught_up() {
        let heads = Heads::default();
        heads.follow(id("c1"));
        heads.delivered(&id("c1"), 4);
        let behind = heads.behind(vec![(id("c1"), 5)]);
        assert_eq!(behind, vec![(id("c1"), 5)]);
        heads.delivered(&id("c1"), 5);
        assert!(heads.overdue(behind).is_empty());
        assert!(heads.behind(vec![(id("c1"), 5)]).is_empty());
    }

    #[test]
    fn a_head_still_undelivered_after_the_grace_is_caught_up_once() {
        let heads = Heads::default();
        heads.follow(id("c1"));
        heads.delivered(&id("c1"), 7);
        let behind = heads.behind(vec![(id("c1"), 9)]);
        // 8 arrived, 9 never did.
        heads.delivered(&id("c1"), 8);
        assert_eq!(heads.overdue(behind), vec![id("c1")]);
        // The catch-up reads up to the head: no second catch-up for the same events.
        assert!(heads.behind(vec![(id("c1"), 9)]).is_empty());
    }

    #[test]
    fn a_newly_followed_conversation_is_checked_from_the_start() {
        // Events committed while the SUBSCRIBE was on its way to Redis never arrive on
        // the bus; the check must not take the first head it reads as delivered.
        let heads = Heads::default();
        heads.follow(id("c1"));
        let behind = heads.behind(vec![(id("c1"), 12)]);
        assert_eq!(heads.overdue(behind), vec![id("c1")]);
    }

    #[test]
    fn conversations_no_longer_followed_are_ignored() {
        let heads = Heads::default();
        heads.follow(id("c1"));
        let behind = heads.behind(vec![(id("c1"), 3)]);
        heads.unfollow(&id("c1"));
        heads.delivered(&id("c1"), 3);
        assert!(heads.overdue(behind).is_empty());
        assert!(heads.behind(vec![(id("c1"), 3)]).is_empty());
        assert!(heads.followed().is_empty());
    }
}
