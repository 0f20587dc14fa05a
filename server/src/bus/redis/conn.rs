//! One connection to Redis or to a Redis Cluster, whichever is configured, behind the
//! few operations the bus needs. A single Redis uses classic pub/sub (`PUBLISH` /
//! `SUBSCRIBE`); a cluster uses sharded pub/sub (`SPUBLISH` / `SSUBSCRIBE`), so each
//! channel lives on the shard that owns its hash slot and traffic spreads over shards.
//!
//! Both speak RESP3: subscription messages arrive as push frames on the connection's
//! push sender, and the library also pushes a `Disconnection` when the socket drops.

use std::time::Duration;

use bytes::Bytes;
use futures_util::future::join_all;
use redis::aio::MultiplexedConnection;
use redis::cluster_async::ClusterConnection;
use redis::{AsyncConnectionConfig, FromRedisValue, IntoConnectionInfo, ProtocolVersion, PushInfo};
use tokio::sync::mpsc::UnboundedSender;

/// Where the bus connects.
#[derive(Clone, Debug)]
pub enum Target {
    Single(String),
    Cluster(Vec<String>),
}

/// Connection and per-command timeouts: a command that takes longer than this means
/// the link is unhealthy (a paused server, a black-holed route) and is torn down.
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    pub connect: Duration,
    pub response: Duration,
}

#[derive(Clone)]
pub enum Conn {
    Single(MultiplexedConnection),
    Cluster(ClusterConnection),
}

pub type Pushes = UnboundedSender<PushInfo>;

impl Target {
    pub fn kind(&self) -> &'static str {
        match self {
            Target::Single(_) => "redis",
            Target::Cluster(_) => "redis-cluster",
        }
    }

    /// Opens a connection; with `pushes`, subscription messages are sent there.
    pub async fn connect(
        &self,
        timeouts: Timeouts,
        pushes: Option<Pushes>,
    ) -> redis::RedisResult<Conn> {
        match self {
            Target::Single(url) => {
                let info = url.as_str().into_connection_info()?;
                let settings = info
                    .redis_settings()
                    .clone()
                    .set_protocol(ProtocolVersion::RESP3);
                let client = redis::Client::open(info.set_redis_settings(settings))?;
                let mut config = AsyncConnectionConfig::new()
                    .set_connection_timeout(Some(timeouts.connect))
                    .set_response_timeout(Some(timeouts.response));
                if let Some(pushes) = pushes {
                    config = config.set_push_sender(pushes);
                }
                let conn = client
                    .get_multiplexed_async_connection_with_config(&config)
                    .await?;
                Ok(Conn::Single(conn))
            }
            Target::Cluster(urls) => {
                let mut builder = redis::cluster::ClusterClientBuilder::new(urls.clone())
                    .use_protocol(ProtocolVersion::RESP3)
                    .connection_timeout(timeouts.connect)
                    .response_timeout(timeouts.response)
                    .retries(1);
                if let Some(pushes) = pushes {
                    builder = builder.push_sender(pushes);
                }
                let client = builder.build()?;
                let conn = tokio::time::timeout(
                    timeouts.connect + timeouts.response,
                    client.get_async_connection(),
                )
                .await
                .map_err(|_| timed_out("cluster connect"))??;
                Ok(Conn::Cluster(conn))
            }
        }
    }
}

fn timed_out(what: &'static str) -> redis::RedisError {
    redis::RedisError::from((redis::ErrorKind::Io, "timed out", what.to_owned()))
}

impl Conn {
    /// Subscribes to channels (sharded on a cluster, one command per channel since
    /// channels of different slots cannot share one `SSUBSCRIBE`).
    pub async fn subscribe(&mut self, channels: &[String]) -> redis::RedisResult<()> {
        if channels.is_empty() {
            return Ok(());
        }
        match self {
            Conn::Single(conn) => conn.subscribe(channels).await,
            Conn::Cluster(conn) => {
                let results = join_all(channels.iter().map(|channel| {
                    let mut conn = conn.clone();
                    async move { conn.ssubscribe(channel).await }
                }))
                .await;
                results.into_iter().collect()
            }
        }
    }

    pub async fn unsubscribe(&mut self, channels: &[String]) -> redis::RedisResult<()> {
        if channels.is_empty() {
            return Ok(());
        }
        match self {
            Conn::Single(conn) => conn.unsubscribe(channels).await,
            Conn::Cluster(conn) => {
                let results = join_all(channels.iter().map(|channel| {
                    let mut conn = conn.clone();
                    async move { conn.sunsubscribe(channel).await }
                }))
                .await;
                results.into_iter().collect()
            }
        }
    }

    /// Publishes a batch: one pipeline (one write, one round trip) on a single Redis;
    /// concurrent `SPUBLISH`es on a cluster, which the cluster connection pipelines
    /// per shard.
    pub async fn publish(&mut self, batch: &[(String, Bytes)]) -> redis::RedisResult<()> {
        match self {
            Conn::Single(conn) => {
                let mut pipe = redis::pipe();
                for (channel, payload) in batch {
                    pipe.cmd("PUBLISH")
                        .arg(channel)
                        .arg(payload.as_ref())
                        .ignore();
                }
                pipe.query_async::<()>(conn).await
            }
            Conn::Cluster(conn) => {
                let results = join_all(batch.iter().map(|(channel, payload)| {
                    let mut conn = conn.clone();
                    async move {
                        redis::cmd("SPUBLISH")
                            .arg(channel)
                            .arg(payload.as_ref())
                            .query_async::<i64>(&mut conn)
                            .await
                    }
                }))
                .await;
                results.into_iter().try_for_each(|r| r.map(|_| ()))
            }
        }
    }

    /// Runs one ordinary command.
    pub async fn query<T: FromRedisValue>(&mut self, cmd: &redis::Cmd) -> redis::RedisResult<T> {
        match self {
            Conn::Single(conn) => cmd.query_async(conn).await,
            Conn::Cluster(conn) => cmd.query_async(conn).await,
        }
    }
}
