//! One command connection to Redis, shared by a component's commands (the shared
//! state, the call registry, the SFU board): made on first use, dropped when it breaks
//! so the next command connects again.

use tokio::sync::Mutex as AsyncMutex;

use super::RedisSettings;
use super::conn::Conn;

pub(crate) struct LazyRedis {
    settings: RedisSettings,
    /// Held only to take or replace the handle, never across a command: the
    /// connection itself multiplexes concurrent commands.
    conn: AsyncMutex<Option<Conn>>,
}

impl LazyRedis {
    pub(crate) fn new(settings: RedisSettings) -> Self {
        LazyRedis {
            settings,
            conn: AsyncMutex::new(None),
        }
    }

    pub(crate) fn settings(&self) -> &RedisSettings {
        &self.settings
    }

    /// The key prefix every key of this deployment starts with.
    pub(crate) fn prefix(&self) -> &str {
        &self.settings.prefix
    }

    /// Runs one command, connecting first if there is no connection.
    pub(crate) async fn run<T: redis::FromRedisValue>(
        &self,
        cmd: &redis::Cmd,
    ) -> redis::RedisResult<T> {
        let mut conn = {
            let mut slot = self.conn.lock().await;
            match slot.as_ref() {
                Some(conn) => conn.clone(),
                None => {
                    let conn = self
                        .settings
                        .target
                        .connect(self.settings.timeouts, None)
                        .await?;
                    *slot = Some(conn.clone());
                    conn
                }
            }
        };
        let result = conn.query(cmd).await;
        if let Err(error) = &result
            && (error.is_io_error() || error.is_timeout() || error.is_connection_dropped())
        {
            *self.conn.lock().await = None;
        }
        result
    }
}
