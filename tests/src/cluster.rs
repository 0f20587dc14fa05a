//! Several nodes and the real engines between them: a fresh PostgreSQL database per
//! test, test-owned `redis-server`s (single or a 3-master cluster) that a test may
//! kill and restart, a TCP proxy that can freeze its connections (pub/sub silent while
//! TCP stays up), and [`Cluster`]: N `mentorhub` processes on one database and one Redis.
//!
//! PostgreSQL is the shared server on 127.0.0.1:5432 (`scripts/ensure-services.sh`);
//! each test creates `mh_test_<random>` and drops it afterwards. Redis servers started
//! here listen on free loopback ports and die with the test.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use base64::Engine;
use mentorhub::mentoring::rules::store_rules;
use mentorhub::store::Store;
use mentorhub::store::sql::SqlStore;
use rand::Rng;
use sqlx::Connection;
use tempfile::TempDir;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};

use crate::process::{ProcessOptions, ServerProcess, spawn_process_with};
use crate::{WAIT, eventually};

/// Where the shared PostgreSQL server is (override with `MENTORHUB_TEST_PG`).
pub fn postgres_admin_url() -> String {
    std::env::var("MENTORHUB_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

fn random_suffix() -> String {
    let mut rng = rand::rng();
    (0..10)
        .map(|_| (b'a' + rng.random_range(0..26)) as char)
        .collect()
}

/// A database of its own on the shared PostgreSQL server.
pub struct PgDatabase {
    pub name: String,
    pub url: String,
    dropped: bool,
}

impl PgDatabase {
    pub async fn create() -> PgDatabase {
        let name = format!("mh_test_{}", random_suffix());
        let admin = postgres_admin_url();
        let mut conn = sqlx::PgConnection::connect(&admin)
            .await
            .expect("connect to PostgreSQL (run scripts/ensure-services.sh)");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .expect("create the test database");
        let _ = conn.close().await;
        let base = admin
            .rsplit_once('/')
            .map_or(admin.as_str(), |(base, _)| base);
        PgDatabase {
            url: format!("{base}/{name}"),
            name,
            dropped: false,
        }
    }

    /// Drops the database (closing whatever still uses it).
    pub async fn drop_now(mut self) {
        drop_database(&self.name).await;
        self.dropped = true;
    }
}

async fn drop_database(name: &str) {
    if let Ok(mut conn) = sqlx::PgConnection::connect(&postgres_admin_url()).await {
        let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .execute(&mut conn)
        .await;
        let _ = conn.close().await;
    }
}

impl Drop for PgDatabase {
    /// A failed test still drops its database (on a thread of its own: we may be
    /// inside a runtime that is shutting down).
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        let name = self.name.clone();
        let _ = std::thread::spawn(move || {
            if let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                runtime.block_on(drop_database(&name));
            }
        })
        .join();
    }
}

pub async fn open_sqlite_store() -> (Arc<dyn Store>, TempDir) {
    let dir = tempfile::Builder::new()
        .prefix("mentorhub-store-")
        .tempdir()
        .expect("temporary dir");
    let store = SqlStore::open_sqlite(&dir.path().join("store.sqlite3"), store_rules())
        .await
        .expect("open SQLite store");
    (Arc::new(store), dir)
}

pub async fn open_postgres_store(url: &str) -> Arc<dyn Store> {
    Arc::new(
        SqlStore::open_postgres(url, store_rules())
            .await
            .expect("open PostgreSQL store"),
    )
}

/// A loopback port that is free now (and, for cluster nodes, whose bus port +10000 is).
pub fn free_port(with_bus_port: bool) -> u16 {
    loop {
        let port = rand::rng().random_range(20_000..50_000u16);
        let free = |p: u16| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok();
        if free(port) && (!with_bus_port || free(port + 10_000)) {
            return port;
        }
    }
}

/// A `redis-server` owned by one test: killed, restarted and paused at will.
pub struct RedisServer {
    pub port: u16,
    child: Option<Child>,
    dir: TempDir,
    cluster: bool,
}

impl RedisServer {
    pub async fn start() -> RedisServer {
        Self::start_on(free_port(false), false).await
    }

    async fn start_on(port: u16, cluster: bool) -> RedisServer {
        let dir = tempfile::Builder::new()
            .prefix("mentorhub-redis-")
            .tempdir()
            .expect("temporary dir");
        let mut server = RedisServer {
            port,
            child: None,
            dir,
            cluster,
        };
        server.launch().await;
        server
    }

    async fn launch(&mut self) {
        let mut command = Command::new("redis-server");
        command
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--save", "", "--appendonly", "no", "--protected-mode", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        if self.cluster {
            command.args(["--cluster-enabled", "yes", "--cluster-node-timeout", "2000"]);
        }
        self.child = Some(
            command
                .spawn()
                .expect("start redis-server (apt install redis-server)"),
        );
        let url = self.url();
        eventually(WAIT, "redis-server to answer", || {
            let url = url.clone();
            async move { ping(&url).await.then_some(()) }
        })
        .await;
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// SIGKILL: every connection drops at once, nothing is saved.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }

    /// Starts again on the same port, empty.
    pub async fn restart(&mut self) {
        self.kill().await;
        self.launch().await;
    }

    /// Runs one command with `redis-cli` and returns its output.
    pub async fn cli(&self, args: &[&str]) -> String {
        let output = Command::new("redis-cli")
            .args(["-p", &self.port.to_string()])
            .args(args)
            .output()
            .await
            .expect("run redis-cli");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }
}

async fn ping(url: &str) -> bool {
    let Ok(client) = redis::Client::open(url) else {
        return false;
    };
    let Ok(Ok(mut conn)) = tokio::time::timeout(
        Duration::from_secs(1),
        client.get_multiplexed_async_connection(),
    )
    .await
    else {
        return false;
    };
    redis::cmd("PING")
        .query_async::<String>(&mut conn)
        .await
        .is_ok()
}

/// Three masters, no replicas, slots spread by `redis-cli --cluster create`.
pub struct RedisCluster {
    pub servers: Vec<RedisServer>,
}

impl RedisCluster {
    pub async fn start() -> RedisCluster {
        let mut servers = Vec::new();
        for _ in 0..3 {
            servers.push(RedisServer::start_on(free_port(true), true).await);
        }
        let addrs: Vec<String> = servers
            .iter()
            .map(|s| format!("127.0.0.1:{}", s.port))
            .collect();
        let status = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(&addrs)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await
            .expect("run redis-cli --cluster create");
        assert!(status.success(), "creating the Redis cluster failed");
        let cluster = RedisCluster { servers };
        for server in &cluster.servers {
            eventually(WAIT, "the cluster to report ok", || async {
                server
                    .cli(&["cluster", "info"])
                    .await
                    .contains("cluster_state:ok")
                    .then_some(())
            })
            .await;
        }
        cluster
    }

    pub fn urls(&self) -> Vec<String> {
        self.servers.iter().map(RedisServer::url).collect()
    }
}

/// A TCP proxy in front of a server. [`Proxy::freeze`] stops moving bytes on every
/// connection open at that moment while keeping the sockets open — the peer sees a
/// healthy TCP connection on which nothing arrives. New connections flow normally.
pub struct Proxy {
    pub addr: SocketAddr,
    epoch: Arc<std::sync::atomic::AtomicU64>,
    frozen_before: Arc<std::sync::atomic::AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl Proxy {
    pub async fn start(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy address");
        let epoch = Arc::new(std::sync::atomic::AtomicU64::new(1));
        let frozen_before = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (e, f, s) = (epoch.clone(), frozen_before.clone(), stop.clone());
        tokio::spawn(async move {
            while !s.load(Ordering::Relaxed) {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                let Ok(server) = TcpStream::connect(target).await else {
                    continue;
                };
                let id = e.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(pipe(client, server, id, f.clone(), s.clone()));
            }
        });
        Proxy {
            addr,
            epoch,
            frozen_before,
            stop,
        }
    }

    pub fn url(&self) -> String {
        format!("redis://{}", self.addr)
    }

    /// Freezes every connection open now.
    pub fn freeze(&self) {
        let now = self.epoch.load(Ordering::SeqCst);
        self.frozen_before.store(now, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.frozen_before.store(u64::MAX, Ordering::SeqCst);
    }
}

async fn pipe(
    client: TcpStream,
    server: TcpStream,
    id: u64,
    frozen_before: Arc<std::sync::atomic::AtomicU64>,
    stop: Arc<AtomicBool>,
) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let frozen = move || frozen_before.load(Ordering::SeqCst) > id;
    let frozen_too = frozen.clone();
    let up = async move {
        copy_unless(&mut client_read, &mut server_write, &frozen).await;
    };
    let down = async move {
        copy_unless(&mut server_read, &mut client_write, &frozen_too).await;
    };
    tokio::join!(up, down);
    // Frozen connections stay open (silent) until the test ends.
    while !stop.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn copy_unless(
    from: &mut tokio::net::tcp::OwnedReadHalf,
    to: &mut tokio::net::tcp::OwnedWriteHalf,
    frozen: &(impl Fn() -> bool + Send + Sync),
) {
    use tokio::io::AsyncReadExt;
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        if frozen() {
            // Hold the bytes: never read again, never close.
            std::future::pending::<()>().await;
        }
        let n = match tokio::time::timeout(Duration::from_millis(100), from.read(&mut buffer)).await
        {
            Err(_) => continue,
            Ok(Ok(0)) | Ok(Err(_)) => return,
            Ok(Ok(n)) => n,
        };
        if frozen() {
            std::future::pending::<()>().await;
        }
        if to.write_all(&buffer[..n]).await.is_err() {
            return;
        }
    }
}

/// How the nodes of a [`Cluster`] reach Redis.
#[derive(Clone, Debug)]
pub enum RedisLink {
    Single(String),
    Cluster(Vec<String>),
}

/// N `mentorhub` processes sharing one PostgreSQL database and one Redis, each with
/// its own node id; message keys and the token secret are shared, as in a deployment.
pub struct Cluster {
    pub nodes: Vec<ServerProcess>,
    pub db: PgDatabase,
    pub prefix: String,
    options: ProcessOptions,
}

impl Cluster {
    pub async fn start(count: usize, redis: RedisLink) -> Cluster {
        Self::start_with(count, redis, |options| options).await
    }

    /// `adjust` may change the options every node starts with.
    pub async fn start_with(
        count: usize,
        redis: RedisLink,
        adjust: impl FnOnce(ProcessOptions) -> ProcessOptions,
    ) -> Cluster {
        let db = PgDatabase::create().await;
        let prefix = format!("t{}", random_suffix());
        let key = base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 32]>());
        let mut options = ProcessOptions::default()
            .set("database_url", db.url.clone())
            .set("redis_prefix", prefix.clone())
            .set("encryption_keys", format!("1:{key}"))
            .set("shutdown_grace_secs", "5")
            // Several nodes on one host cannot all bind the embedded TURN port.
            .set("turn_enabled", "false");
        options = match &redis {
            RedisLink::Single(url) => options.set("redis_url", url.clone()),
            RedisLink::Cluster(urls) => options.set("redis_cluster_urls", urls.join(",")),
        };
        options = adjust(options);
        let mut cluster = Cluster {
            nodes: Vec::new(),
            db,
            prefix,
            options,
        };
        for i in 0..count {
            cluster.add_node(i).await;
        }
        cluster
    }

    async fn add_node(&mut self, i: usize) {
        self.add_node_with(i, |o| o).await;
    }

    /// Starts node `i` (`node-a`, `node-b`, …) with options adjusted for it alone.
    pub async fn add_node_with(
        &mut self,
        i: usize,
        adjust: impl FnOnce(ProcessOptions) -> ProcessOptions,
    ) {
        let name = format!("node-{}", (b'a' + i as u8) as char);
        let options = adjust(self.options.clone().set("node_id", name));
        self.nodes.push(spawn_process_with(options).await);
    }

    pub fn node(&self, i: usize) -> &ServerProcess {
        &self.nodes[i]
    }

    /// Waits until every node's `/readyz` says ready (store and bus up).
    pub async fn wait_ready(&self) {
        for node in &self.nodes {
            wait_readiness(node, true).await;
        }
    }

    pub fn data_dirs(&self) -> Vec<PathBuf> {
        self.nodes.iter().map(|n| n.data_dir.clone()).collect()
    }
}

/// `/readyz` of a node: (HTTP 200?, body).
pub async fn readyz(node: &ServerProcess) -> (bool, serde_json::Value) {
    let (status, text) = node.rest.get_text("/readyz").await;
    (
        status == 200,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
    )
}

/// Waits until the node's readiness is `ready` (or fails after [`WAIT`]).
pub async fn wait_readiness(node: &ServerProcess, ready: bool) -> serde_json::Value {
    eventually(WAIT, &format!("/readyz ready={ready}"), || async {
        let (ok, body) = readyz(node).await;
        (ok == ready).then_some(body)
    })
    .await
}
