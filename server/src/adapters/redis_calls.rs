//! Live calls in Redis, so every node sees the same calls: a caller on node A and a
//! callee on node B act on one state. Implements [`CallRegistry`].
//!
//! | key | type | holds |
//! |---|---|---|
//! | `{p}:callstate:{call}` | hash `v` → version, `s` → state JSON | the call |
//! | `{p}:conv-call:{conversation}` | string | the conversation's live call |
//! | `{p}:acct-call:{account}` | string | the call the account takes part in |
//! | `{p}:calls` | set | every live call's id (what a survivor sweeps when nodes die) |
//!
//! Every command touches one key (so a cluster needs no hash tags); compare-and-set
//! on the version is a one-key Lua script. The two index keys may briefly point at a
//! call that has ended: reads check them against the call itself. Every key expires
//! after a day without a change, so a crash can leave nothing behind for long.

use crate::bus::redis::RedisSettings;
use crate::bus::redis::lazy::LazyRedis;
use crate::ids::{AccountId, CallId, ConversationId};
use crate::signalling::call::CallState;
use crate::signalling::registry::{CallRegistry, RegistryError};
use async_trait::async_trait;

const TTL_SECS: u64 = 24 * 3600;

/// `SET` the state if the stored version is `ARGV[1]`.
const REPLACE: &str = r"
if redis.call('HGET', KEYS[1], 'v') == ARGV[1] then
  redis.call('HSET', KEYS[1], 'v', ARGV[2], 's', ARGV[3])
  redis.call('EXPIRE', KEYS[1], ARGV[4])
  return 1
end
return 0";

/// `DEL` the key if it holds `ARGV[1]` (a hash's version, or a string's value).
const REMOVE_STATE: &str = r"
if redis.call('HGET', KEYS[1], 'v') == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0";
const REMOVE_IF_EQUAL: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0";

pub struct RedisCallRegistry {
    redis: LazyRedis,
}

fn unavailable(error: impl std::fmt::Display) -> RegistryError {
    RegistryError(error.to_string())
}

impl RedisCallRegistry {
    pub fn new(settings: RedisSettings) -> Self {
        RedisCallRegistry {
            redis: LazyRedis::new(settings),
        }
    }

    fn key(&self, rest: &str) -> String {
        format!("{}:{rest}", self.redis.prefix())
    }

    fn state_key(&self, id: &str) -> String {
        self.key(&format!("callstate:{id}"))
    }

    fn conversation_key(&self, conversation: &str) -> String {
        self.key(&format!("conv-call:{conversation}"))
    }

    fn account_key(&self, account: &str) -> String {
        self.key(&format!("acct-call:{account}"))
    }

    fn live_key(&self) -> String {
        self.key("calls")
    }

    async fn run<T: redis::FromRedisValue>(&self, cmd: redis::Cmd) -> Result<T, RegistryError> {
        self.redis.run(&cmd).await.map_err(unavailable)
    }

    async fn script(
        &self,
        source: &str,
        key: String,
        args: &[String],
    ) -> Result<bool, RegistryError> {
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(source).arg(1).arg(key);
        for arg in args {
            cmd.arg(arg);
        }
        let changed: i64 = self.run(cmd).await?;
        Ok(changed == 1)
    }

    /// Points every participant's account at this call.
    async fn index_participants(&self, call: &CallState) -> Result<(), RegistryError> {
        for participant in &call.participants {
            self.run::<()>(
                redis::cmd("SET")
                    .arg(self.account_key(participant.account.as_str()))
                    .arg(call.id.as_str())
                    .arg("EX")
                    .arg(TTL_SECS)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }

    /// The call an index key points at, if it still exists (callers check that it
    /// still matches the index).
    async fn indexed_call(&self, key: String) -> Result<Option<CallState>, RegistryError> {
        let id: Option<String> = self.run(redis::cmd("GET").arg(key).to_owned()).await?;
        match id.and_then(|id| CallId::parse(&id)) {
            Some(id) => self.get(&id).await,
            None => Ok(None),
        }
    }

    async fn write_state(&self, call: &CallState) -> Result<(), RegistryError> {
        let json = serde_json::to_string(call).map_err(unavailable)?;
        let key = self.state_key(call.id.as_str());
        self.run::<()>(
            redis::cmd("HSET")
                .arg(&key)
                .arg("v")
                .arg(call.version)
                .arg("s")
                .arg(json)
                .to_owned(),
        )
        .await?;
        self.run::<()>(redis::cmd("EXPIRE").arg(key).arg(TTL_SECS).to_owned())
            .await
    }
}

#[async_trait]
impl CallRegistry for RedisCallRegistry {
    async fn create(&self, call: &CallState) -> Result<bool, RegistryError> {
        let key = self.conversation_key(call.conversation.as_str());
        for _ in 0..2 {
            let claimed: Option<String> = self
                .run(
                    redis::cmd("SET")
                        .arg(&key)
                        .arg(call.id.as_str())
                        .arg("NX")
                        .arg("EX")
                        .arg(TTL_SECS)
                        .to_owned(),
                )
                .await?;
            if claimed.is_some() {
                self.write_state(call).await?;
                self.index_participants(call).await?;
                self.run::<()>(
                    redis::cmd("SADD")
                        .arg(self.live_key())
                        .arg(call.id.as_str())
                        .to_owned(),
                )
                .await?;
                return Ok(true);
            }
            // Taken: by a live call, or left behind by one that ended on a dead node.
            let holder: Option<String> = self.run(redis::cmd("GET").arg(&key).to_owned()).await?;
            let Some(holder) = holder else { continue };
            let live: bool = self
                .run(redis::cmd("EXISTS").arg(self.state_key(&holder)).to_owned())
                .await?;
            if live {
                return Ok(false);
            }
            self.script(REMOVE_IF_EQUAL, key.clone(), &[holder]).await?;
        }
        Ok(false)
    }

    async fn get(&self, id: &CallId) -> Result<Option<CallState>, RegistryError> {
        let json: Option<String> = self
            .run(
                redis::cmd("HGET")
                    .arg(self.state_key(id.as_str()))
                    .arg("s")
                    .to_owned(),
            )
            .await?;
        json.map(|j| serde_json::from_str(&j).map_err(unavailable))
            .transpose()
    }

    async fn in_conversation(
        &self,
        conversation: &ConversationId,
    ) -> Result<Option<CallState>, RegistryError> {
        Ok(self
            .indexed_call(self.conversation_key(conversation.as_str()))
            .await?
            .filter(|call| &call.conversation == conversation))
    }

    async fn replace(&self, call: &CallState, expected: u64) -> Result<bool, RegistryError> {
        let json = serde_json::to_string(call).map_err(unavailable)?;
        let args = [
            expected.to_string(),
            call.version.to_string(),
            json,
            TTL_SECS.to_string(),
        ];
        let replaced = self
            .script(REPLACE, self.state_key(call.id.as_str()), &args)
            .await?;
        if replaced {
            self.index_participants(call).await?;
        }
        Ok(replaced)
    }

    async fn remove(&self, id: &CallId, expected: u64) -> Result<bool, RegistryError> {
        let Some(call) = self.get(id).await? else {
            return Ok(false);
        };
        let removed = self
            .script(
                REMOVE_STATE,
                self.state_key(id.as_str()),
                &[expected.to_string()],
            )
            .await?;
        if removed {
            let id = id.as_str().to_owned();
            self.run::<()>(redis::cmd("SREM").arg(self.live_key()).arg(&id).to_owned())
                .await?;
            self.script(
                REMOVE_IF_EQUAL,
                self.conversation_key(call.conversation.as_str()),
                std::slice::from_ref(&id),
            )
            .await?;
            for participant in &call.participants {
                self.script(
                    REMOVE_IF_EQUAL,
                    self.account_key(participant.account.as_str()),
                    std::slice::from_ref(&id),
                )
                .await?;
            }
        }
        Ok(removed)
    }

    async fn participating(&self, account: &AccountId) -> Result<Option<CallId>, RegistryError> {
        // The index may lag behind the call (a participant who left): check.
        Ok(self
            .indexed_call(self.account_key(account.as_str()))
            .await?
            .filter(|call| call.participant_by_account(account).is_some())
            .map(|call| call.id))
    }

    async fn live(&self) -> Result<Vec<CallId>, RegistryError> {
        let ids: Vec<String> = self
            .run(redis::cmd("SMEMBERS").arg(self.live_key()).to_owned())
            .await?;
        let mut live = Vec::new();
        for raw in ids {
            let exists: bool = self
                .run(redis::cmd("EXISTS").arg(self.state_key(&raw)).to_owned())
                .await?;
            match CallId::parse(&raw) {
                Some(id) if exists => live.push(id),
                // Expired (the day-long backstop) or never valid: forget it.
                _ => {
                    self.run::<()>(redis::cmd("SREM").arg(self.live_key()).arg(&raw).to_owned())
                        .await?
                }
            }
        }
        Ok(live)
    }
}
