//! The configured Janus instances: one session per instance on this node (opened on
//! first use, re-opened after a loss), which instances are up, and which one a new
//! call goes to — the least loaded by participants, over every node's reports on the
//! [`SfuBoard`].
//!
//! An instance is taken out when its session's connection closes or a request to it
//! times out (the keep-alive does that within seconds for an instance that is alive but
//! silent). It stays out for [`DOWN_FOR`] on this node and, through the board, on the
//! others; the next use after that tries it again. Every loss is announced on the
//! channel given to [`Pool::new`], so calls pinned to the instance can move.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::seq::IndexedRandom;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::board::{REPORT_EVERY, SfuBoard};
use super::connection::JanusError;
use super::session::Session;
use super::videoroom::RoomEvent;
use crate::config::Secret;

/// How long an instance that failed stays out of the choice.
pub const DOWN_FOR: Duration = Duration::from_secs(20);

struct Instance {
    url: String,
    /// Held across the connect: two requests needing the instance share one session.
    session: tokio::sync::Mutex<Option<Arc<Session>>>,
    /// `std` mutex: read and written, never held across an `.await`.
    down_until: Mutex<Option<Instant>>,
}

impl Instance {
    fn locally_down(&self) -> bool {
        let until = *self.down_until.lock().unwrap_or_else(|p| p.into_inner());
        until.is_some_and(|until| until > Instant::now())
    }
}

pub struct Pool {
    instances: Vec<Instance>,
    secret: Secret,
    timeout: Duration,
    board: Arc<dyn SfuBoard>,
    node: Arc<str>,
    lost: mpsc::UnboundedSender<String>,
    /// This node's legs per instance (what it reports to the board).
    legs: Mutex<HashMap<String, u32>>,
}

impl Pool {
    pub fn new(
        urls: &[String],
        secret: Secret,
        timeout: Duration,
        board: Arc<dyn SfuBoard>,
        node: Arc<str>,
        lost: mpsc::UnboundedSender<String>,
    ) -> Arc<Pool> {
        let pool = Arc::new(Pool {
            instances: urls
                .iter()
                .map(|url| Instance {
                    url: url.clone(),
                    session: tokio::sync::Mutex::new(None),
                    down_until: Mutex::new(None),
                })
                .collect(),
            secret,
            timeout,
            board,
            node,
            lost,
            legs: Mutex::new(HashMap::new()),
        });
        let weak = Arc::downgrade(&pool);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(REPORT_EVERY);
            loop {
                every.tick().await;
                let Some(pool) = weak.upgrade() else { break };
                pool.report_all().await;
            }
        });
        pool
    }

    pub fn urls(&self) -> impl Iterator<Item = &str> {
        self.instances.iter().map(|i| i.url.as_str())
    }

    fn instance(&self, url: &str) -> Option<&Instance> {
        self.instances.iter().find(|i| i.url == url)
    }

    /// This node's session on `url`, opened if needed.
    pub async fn session(&self, url: &str) -> Result<Arc<Session>, JanusError> {
        let instance = self.instance(url).ok_or(JanusError::Closed)?;
        if instance.locally_down() {
            return Err(JanusError::Closed); // fail fast: it just stopped answering
        }
        let mut slot = instance.session.lock().await;
        if let Some(session) = slot.as_ref()
            && !session.is_closed()
        {
            return Ok(session.clone());
        }
        *slot = None;
        match Session::open(url, self.secret.clone(), self.timeout).await {
            Ok(session) => {
                *instance
                    .down_until
                    .lock()
                    .unwrap_or_else(|p| p.into_inner()) = None;
                self.watch(url.to_owned(), &session);
                *slot = Some(session.clone());
                Ok(session)
            }
            Err(error) => {
                drop(slot);
                self.mark_down(url).await;
                Err(error)
            }
        }
    }

    /// When the session's connection closes, the instance is out and its loss is
    /// announced.
    fn watch(&self, url: String, session: &Arc<Session>) {
        let session = Arc::downgrade(session);
        let lost = self.lost.clone();
        let board = self.board.clone();
        tokio::spawn(async move {
            let Some(alive) = session.upgrade() else {
                return;
            };
            alive.closed().await;
            drop(alive);
            metrics::counter!("mentorhub_sfu_instances_lost_total").increment(1);
            tracing::warn!(instance = %url, "lost the connection to an SFU instance");
            if let Err(error) = board.mark_down(&url, DOWN_FOR).await {
                tracing::debug!(%error, "could not share that an SFU instance is down");
            }
            let _ = lost.send(url);
        });
    }

    /// Takes `url` out of the choice here and, through the board, on every node.
    pub async fn mark_down(&self, url: &str) {
        if let Some(instance) = self.instance(url) {
            *instance
                .down_until
                .lock()
                .unwrap_or_else(|p| p.into_inner()) = Some(Instant::now() + DOWN_FOR);
            if let Some(session) = instance.session.lock().await.take() {
                session.close();
            }
        }
        if let Err(error) = self.board.mark_down(url, DOWN_FOR).await {
            tracing::debug!(%error, "could not share that an SFU instance is down");
        }
    }

    /// Whether `url` is out (here, or by another node's word).
    pub async fn is_down(&self, url: &str) -> bool {
        match self.instance(url) {
            None => true,
            Some(instance) if instance.locally_down() => true,
            Some(_) => self.board.is_down(url).await.unwrap_or(false),
        }
    }

    /// The instance for a new room: up, reachable, least loaded; ties broken at random
    /// so simultaneous choices on several nodes spread out. `avoid`: an instance just lost.
    pub async fn choose(&self, avoid: Option<&str>) -> Option<String> {
        let urls: Vec<String> = self.urls().map(str::to_owned).collect();
        let loads = self
            .board
            .loads(&urls)
            .await
            .unwrap_or_else(|_| vec![0; urls.len()]);
        let mut candidates: Vec<(u32, &str)> = Vec::new();
        for (url, load) in urls.iter().zip(loads) {
            if Some(url.as_str()) != avoid && !self.is_down(url).await {
                candidates.push((load, url));
            }
        }
        candidates.sort_by_key(|(load, _)| *load);
        while let Some(&(least, _)) = candidates.first() {
            let tied: Vec<&str> = candidates
                .iter()
                .filter(|(load, _)| *load == least)
                .map(|(_, url)| *url)
                .collect();
            let url = (*tied.choose(&mut rand::rng())?).to_owned();
            if self.session(&url).await.is_ok() {
                return Some(url);
            }
            candidates.retain(|(_, u)| *u != url);
        }
        None
    }

    /// A room-level request (create, destroy, kick, moderate) on a short-lived handle.
    pub async fn room_request(&self, url: &str, body: &Value) -> Result<RoomEvent, JanusError> {
        let session = self.session(url).await?;
        let handle = session.attach().await?;
        let answer = handle.message(body, None).await?;
        Ok(RoomEvent::parse(&answer.data))
    }

    /// A leg opened (`+1`) or closed (`-1`) on `url`.
    pub fn count_leg(self: &Arc<Self>, url: &str, opened: bool) {
        {
            let mut legs = self.legs.lock().unwrap_or_else(|p| p.into_inner());
            let count = legs.entry(url.to_owned()).or_default();
            *count = if opened {
                *count + 1
            } else {
                count.saturating_sub(1)
            };
            metrics::gauge!("mentorhub_sfu_legs", "instance" => url.to_owned()).set(*count as f64);
        }
        let (pool, url) = (self.clone(), url.to_owned());
        tokio::spawn(async move { pool.report(&url).await });
    }

    async fn report(&self, url: &str) {
        let count = self
            .legs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(url)
            .copied()
            .unwrap_or(0);
        if let Err(error) = self.board.report(url, &self.node, count).await {
            tracing::debug!(%error, "could not report SFU load");
        }
    }

    async fn report_all(&self) {
        let urls: Vec<String> = self.urls().map(str::to_owned).collect();
        for url in urls {
            self.report(&url).await;
        }
    }
}
