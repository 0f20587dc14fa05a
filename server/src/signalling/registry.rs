//! Where live calls are kept: the [`CallRegistry`] trait and its in-process
//! implementation.
//!
//! Calls are short-lived and never the source of truth for anything durable, so they
//! live outside the store. The trait is shaped for a shared backend (Redis with a TTL,
//! so several nodes see the same calls): whole-state reads and compare-and-set writes
//! on the call's `version`, which a Redis implementation maps onto one key per call
//! (JSON) plus a conversation → call key, updated by a small Lua script. The service
//! retries a lost compare-and-set from a fresh read.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::call::CallState;
use crate::ids::{AccountId, CallId, ConversationId};

#[derive(Debug, thiserror::Error)]
#[error("call registry unavailable: {0}")]
pub struct RegistryError(pub String);

#[async_trait]
pub trait CallRegistry: Send + Sync + 'static {
    /// Stores a new call unless its conversation already has one (`false`).
    async fn create(&self, call: &CallState) -> Result<bool, RegistryError>;
    async fn get(&self, id: &CallId) -> Result<Option<CallState>, RegistryError>;
    async fn in_conversation(
        &self,
        conversation: &ConversationId,
    ) -> Result<Option<CallState>, RegistryError>;
    /// Replaces the call if its stored version is still `expected`.
    async fn replace(&self, call: &CallState, expected: u64) -> Result<bool, RegistryError>;
    /// Removes the call if its stored version is still `expected`.
    async fn remove(&self, id: &CallId, expected: u64) -> Result<bool, RegistryError>;
    /// The call `account` is a participant of, if any (an account is in one call at a time).
    async fn participating(&self, account: &AccountId) -> Result<Option<CallId>, RegistryError>;
    /// Every live call (ids; a call may end before it is read).
    async fn live(&self) -> Result<Vec<CallId>, RegistryError>;
}

#[derive(Default)]
struct Calls {
    by_id: HashMap<CallId, CallState>,
    by_conversation: HashMap<ConversationId, CallId>,
}

/// One node's calls, in memory. A `std` mutex: held for map operations only, never
/// across an `.await`.
#[derive(Default)]
pub struct MemoryRegistry {
    calls: Mutex<Calls>,
}

impl MemoryRegistry {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Calls>, RegistryError> {
        self.calls
            .lock()
            .map_err(|_| RegistryError("registry lock poisoned".into()))
    }
}

#[async_trait]
impl CallRegistry for MemoryRegistry {
    async fn create(&self, call: &CallState) -> Result<bool, RegistryError> {
        let mut calls = self.lock()?;
        if calls.by_conversation.contains_key(&call.conversation) {
            return Ok(false);
        }
        calls
            .by_conversation
            .insert(call.conversation.clone(), call.id.clone());
        calls.by_id.insert(call.id.clone(), call.clone());
        Ok(true)
    }

    async fn get(&self, id: &CallId) -> Result<Option<CallState>, RegistryError> {
        Ok(self.lock()?.by_id.get(id).cloned())
    }

    async fn in_conversation(
        &self,
        conversation: &ConversationId,
    ) -> Result<Option<CallState>, RegistryError> {
        let calls = self.lock()?;
        Ok(calls
            .by_conversation
            .get(conversation)
            .and_then(|id| calls.by_id.get(id))
            .cloned())
    }

    async fn replace(&self, call: &CallState, expected: u64) -> Result<bool, RegistryError> {
        let mut calls = self.lock()?;
        match calls.by_id.get_mut(&call.id) {
            Some(stored) if stored.version == expected => {
                *stored = call.clone();
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn remove(&self, id: &CallId, expected: u64) -> Result<bool, RegistryError> {
        let mut calls = self.lock()?;
        let matches = calls.by_id.get(id).is_some_and(|c| c.version == expected);
        if !matches {
            return Ok(false);
        }
        if let Some(call) = calls.by_id.remove(id) {
            calls.by_conversation.remove(&call.conversation);
        }
        Ok(true)
    }

    async fn participating(&self, account: &AccountId) -> Result<Option<CallId>, RegistryError> {
        // Linear in live calls on this node: a handful, each with at most a few
        // participants. A shared backend keeps an account → call key instead.
        let calls = self.lock()?;
        Ok(calls
            .by_id
            .values()
            .find(|c| c.participant_by_account(account).is_some())
            .map(|c| c.id.clone()))
    }

    async fn live(&self) -> Result<Vec<CallId>, RegistryError> {
        Ok(self.lock()?.by_id.keys().cloned().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::MemberId;
    use crate::protocol::call::Media;
    use crate::signalling::call::{Device, Participant};

    fn call(id: &str, conversation: &str, account: &str) -> CallState {
        CallState::start(
            CallId::from_stored(id.into()),
            ConversationId::from_stored(conversation.into()),
            Media::Audio,
            Participant {
                member: MemberId::from_stored("m_a".into()),
                account: AccountId::parse(account).unwrap(),
                device: Device {
                    node: "n".into(),
                    conn: 1,
                },
                relay_only: false,
                avoid: vec![],
                joined_at: 0,
                lost_at: None,
                media: Media::Audio,
                receive_limit: None,
            },
            vec![],
            1,
        )
        .0
    }

    #[tokio::test]
    async fn one_call_per_conversation_and_compare_and_set() {
        let registry = MemoryRegistry::new();
        let first = call("k_1", "c_1", "alice");
        assert!(registry.create(&first).await.unwrap());
        assert!(!registry.create(&call("k_2", "c_1", "bob")).await.unwrap());
        assert!(registry.create(&call("k_3", "c_2", "bob")).await.unwrap());
        let mut live = registry.live().await.unwrap();
        live.sort();
        assert_eq!(
            live,
            vec![first.id.clone(), CallId::from_stored("k_3".into())]
        );

        let mut changed = first.clone();
        changed.version = 1;
        assert!(registry.replace(&changed, 0).await.unwrap());
        assert!(
            !registry.replace(&changed, 0).await.unwrap(),
            "stale version"
        );
        assert!(!registry.remove(&first.id, 0).await.unwrap());

        let alice = AccountId::parse("alice").unwrap();
        assert_eq!(
            registry.participating(&alice).await.unwrap(),
            Some(first.id.clone())
        );
        assert!(registry.remove(&first.id, 1).await.unwrap());
        assert!(registry.get(&first.id).await.unwrap().is_none());
        assert!(registry.participating(&alice).await.unwrap().is_none());
        assert!(
            registry
                .in_conversation(&ConversationId::from_stored("c_1".into()))
                .await
                .unwrap()
                .is_none()
        );
    }
}
