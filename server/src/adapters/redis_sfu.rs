//! SFU load and health shared by every node ([`SfuBoard`] over Redis).
//!
//! | key | type | holds |
//! |---|---|---|
//! | `{p}:sfu-load:{instance}` | hash node → `"participants:unix_ms"` | each node's legs on the instance |
//! | `{p}:sfu-down:{instance}` | string, expires | set while the instance is out of service |
//!
//! One key per command (a cluster needs no hash tags). Readers skip reports older than
//! `board::STALE_AFTER`, so a dead node's count fades without cleanup; the load hashes
//! expire a day after their last report.

use std::time::Duration;

use crate::bus::redis::RedisSettings;
use crate::bus::redis::lazy::LazyRedis;
use crate::ids::now_millis;
use crate::signalling::sfu::board::{BoardError, SfuBoard, encode_report, fresh_count};
use async_trait::async_trait;

const LOAD_TTL_SECS: u64 = 24 * 3600;

pub struct RedisSfuBoard {
    redis: LazyRedis,
}

impl RedisSfuBoard {
    pub fn new(settings: RedisSettings) -> Self {
        RedisSfuBoard {
            redis: LazyRedis::new(settings),
        }
    }

    fn key(&self, kind: &str, instance: &str) -> String {
        format!("{}:{kind}:{instance}", self.redis.prefix())
    }

    async fn run<T: redis::FromRedisValue>(&self, cmd: redis::Cmd) -> Result<T, BoardError> {
        self.redis
            .run(&cmd)
            .await
            .map_err(|e| BoardError(e.to_string()))
    }
}

#[async_trait]
impl SfuBoard for RedisSfuBoard {
    async fn report(
        &self,
        instance: &str,
        node: &str,
        participants: u32,
    ) -> Result<(), BoardError> {
        let key = self.key("sfu-load", instance);
        let value = encode_report(participants, now_millis());
        self.run::<()>(redis::cmd("HSET").arg(&key).arg(node).arg(value).to_owned())
            .await?;
        self.run::<()>(redis::cmd("EXPIRE").arg(&key).arg(LOAD_TTL_SECS).to_owned())
            .await
    }

    async fn loads(&self, instances: &[String]) -> Result<Vec<u32>, BoardError> {
        let now = now_millis();
        let mut loads = Vec::with_capacity(instances.len());
        for instance in instances {
            let reports: Vec<String> = self
                .run(
                    redis::cmd("HVALS")
                        .arg(self.key("sfu-load", instance))
                        .to_owned(),
                )
                .await?;
            loads.push(reports.iter().map(|r| fresh_count(r, now)).sum());
        }
        Ok(loads)
    }

    async fn mark_down(&self, instance: &str, period: Duration) -> Result<(), BoardError> {
        let millis = period.as_millis().max(1) as u64;
        self.run::<()>(
            redis::cmd("SET")
                .arg(self.key("sfu-down", instance))
                .arg(1)
                .arg("PX")
                .arg(millis)
                .to_owned(),
        )
        .await
    }

    async fn is_down(&self, instance: &str) -> Result<bool, BoardError> {
        let exists: i64 = self
            .run(
                redis::cmd("EXISTS")
                    .arg(self.key("sfu-down", instance))
                    .to_owned(),
            )
            .await?;
        Ok(exists == 1)
    }
}
