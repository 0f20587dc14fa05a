//! Wiring: build every part from a [`Config`], bind, serve until told to stop.
//!
//! `App::build` binds the listener (port 0 in tests, read back with
//! [`App::local_addr`]); [`App::run_until_stopped`] serves until the shutdown future
//! resolves, then drains: stop accepting, tell every client to reconnect (with a
//! random delay) and close it with 1001, wait for sockets up to the grace period.
//! Connections are accepted by [`crate::http::listener`] (timeouts and caps).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::adapters::{RedisCallRegistry, RedisSfuBoard};
use crate::auth::{Minter, Verifier};
use crate::bus::Bus;
use crate::bus::memory::MemoryBus;
use crate::bus::redis::{RedisBus, RedisSettings, Target};
use crate::config::{Config, DatabaseConfig};
use crate::crypto::BodyCipher;
use crate::http::limits::{AddressSlots, ConnectionCaps};
use crate::http::listener::ListenSettings;
use crate::http::{
    ForwardedClients, HostGuard, HttpState, OriginPolicy, RouterSettings, SocketBuffers,
};
use crate::hub::{Hub, HubSettings};
use crate::mentoring::digest::{DigestJob, DigestSettings};
use crate::mentoring::{Mentoring, MentoringLimits};
use crate::signalling::Signalling;
use crate::signalling::registry::{CallRegistry, MemoryRegistry};
use crate::signalling::sfu::board::{MemoryBoard, SfuBoard};
use crate::store::Store;
use crate::store::sql::SqlStore;

pub struct App {
    listener: TcpListener,
    router: axum::Router,
    caps: ConnectionCaps,
    listen: ListenSettings,
    hub: Arc<Hub>,
    store: Arc<dyn Store>,
    signalling: Arc<Signalling>,
    sockets: TaskTracker,
    grace: Duration,
    /// The outbox worker, when Web Push is on; started with the server.
    push_worker: Option<crate::notify::worker::Worker>,
    /// Sends e-mail digests while the app runs; `None` without a mail server.
    digests: Option<DigestJob>,
}

/// Opens the configured store (running migrations).
pub async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    Ok(match &config.scale.database {
        DatabaseConfig::Sqlite { path } => {
            if let Some(dir) = path.parent() {
                private_dir(dir)?;
            }
            private_file(path)?;
            let store = SqlStore::open_sqlite(path, crate::mentoring::rules::store_rules())
                .await
                .context("opening SQLite store")?;
            store.set_commit_delay(config.scale.commit_delay);
            Arc::new(store)
        }
        DatabaseConfig::Postgres { url } => {
            let store = SqlStore::open_postgres(url, crate::mentoring::rules::store_rules())
                .await
                .with_context(|| {
                    format!(
                        "opening PostgreSQL store at {}",
                        crate::config::mask_url_password(url)
                    )
                })?;
            store.set_commit_delay(config.scale.commit_delay);
            Arc::new(store)
        }
    })
}

/// The configured bus: Redis (single or cluster) when a URL is set, else in-process.
/// A Redis bus starts even while Redis is unreachable (`/readyz` says so) and
/// connects as soon as it can.
/// The Redis bus reads committed heads from `store` to find what it failed to deliver.
pub fn open_bus(config: &Config, node: Arc<str>, store: Arc<dyn Store>) -> Arc<dyn Bus> {
    let Some(settings) = redis_settings(config, node) else {
        return Arc::new(MemoryBus::new());
    };
    tracing::info!(kind = settings.target.kind(), prefix = %settings.prefix, "starting the Redis bus");
    RedisBus::start(settings, store)
}

/// Where live calls are kept: in Redis when nodes share one (a caller and a callee
/// may be on different nodes), else in this process.
pub fn open_call_registry(config: &Config, node: Arc<str>) -> Arc<dyn CallRegistry> {
    match redis_settings(config, node) {
        Some(settings) => Arc::new(RedisCallRegistry::new(settings)),
        None => Arc::new(MemoryRegistry::new()),
    }
}

/// SFU load and health: in Redis when nodes share one, else in this process.
pub fn open_sfu_board(config: &Config, node: Arc<str>) -> Arc<dyn SfuBoard> {
    match redis_settings(config, node) {
        Some(settings) => Arc::new(RedisSfuBoard::new(settings)),
        None => Arc::new(MemoryBoard::new()),
    }
}

fn redis_settings(config: &Config, node: Arc<str>) -> Option<RedisSettings> {
    let scale = &config.scale;
    let target = match (&scale.redis_url, scale.redis_cluster_urls.is_empty()) {
        (Some(url), _) => Target::Single(url.clone()),
        (None, false) => Target::Cluster(scale.redis_cluster_urls.clone()),
        (None, true) => return None,
    };
    let mut settings = RedisSettings::new(target, scale.redis_prefix.clone(), node);
    settings.node_ttl = scale.node_ttl;
    Some(settings)
}

/// Creates the data directory readable by the server's user only: the database holds
/// metadata (who is paired with whom, who is behind a pseudonym) even though bodies
/// are encrypted.
fn private_dir(dir: &std::path::Path) -> anyhow::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating data directory {}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("restricting data directory {}", dir.display()))
}

/// Creates the SQLite file with mode 0600 before SQLite opens it; SQLite gives its
/// `-wal` and `-shm` files the database file's permissions.
fn private_file(path: &std::path::Path) -> anyhow::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("restricting {}", path.display()))
}

/// The token verifier and, with `--dev`, the minter behind `/api/dev/login`.
///
/// `--dev` signs tokens for anyone with a random per-start secret. Combining it with
/// a real key would either sign dev logins with the production secret or accept two
/// kinds of token, so that combination is refused.
fn authentication(config: &Config) -> anyhow::Result<(Verifier, Option<Arc<Minter>>)> {
    let configured = Verifier::from_config(&config.auth)?;
    match (configured, config.dev) {
        (Some(_), true) => anyhow::bail!(
            "--dev cannot be combined with a configured JWT key (MENTORHUB_JWT_*): \
             dev logins would be signed with or accepted beside the real key"
        ),
        (Some(verifier), false) => Ok((verifier, None)),
        (None, true) => {
            let minter = Minter::random_dev();
            let verifier = minter
                .verifier()
                .with_max_lifetime(config.auth.max_lifetime);
            Ok((verifier, Some(Arc::new(minter))))
        }
        (None, false) => anyhow::bail!("no authentication configured"),
    }
}

fn hub_settings(config: &Config) -> HubSettings {
    let ws = &config.ws;
    HubSettings {
        max_frame_bytes: ws.max_frame_bytes,
        ping_interval: ws.ping_interval,
        idle_timeout: ws.idle_timeout,
        hello_timeout: ws.hello_timeout,
        outbound_queue: ws.outbound_queue,
        rate_per_sec: ws.rate_per_sec,
        rate_burst: ws.rate_burst,
        max_connections: ws.max_connections,
        max_devices_per_account: config.mentoring.max_devices_per_account,
        token_leeway: config.auth.leeway,
        drain_jitter: Duration::from_secs(5).min(config.shutdown_grace / 2),
    }
}

/// Every part but the transport: what serves a connection, whatever carries it.
pub(crate) struct Core {
    pub store: Arc<dyn Store>,
    pub bus: Arc<dyn Bus>,
    pub mentoring: Arc<Mentoring>,
    pub signalling: Arc<Signalling>,
    pub hub: Arc<Hub>,
    pub verifier: Verifier,
    pub dev_minter: Option<Arc<Minter>>,
    pub notifications: Arc<crate::notify::service::Notifications>,
    pub push_sender: Option<crate::notify::push::PushSender>,
}

impl Core {
    pub(crate) async fn build(config: &Config) -> anyhow::Result<Core> {
        let store = open_store(config).await?;
        let cipher = BodyCipher::load(&config.encryption, &config.data_dir)
            .context("loading message keys")?;
        let (verifier, dev_minter) = authentication(config)?;
        let prefetching = verifier.clone();
        tokio::spawn(async move { prefetching.prefetch_keys().await });
        let node: Arc<str> = Arc::from(config.node_id.as_str());
        let bus = open_bus(config, node.clone(), store.clone());
        let limits = MentoringLimits {
            history_page_max: config.mentoring.history_page_max,
            room_member_limit: config.mentoring.room_member_limit,
            account_budget: crate::bus::state::Budget {
                per_sec: config
                    .mentoring
                    .account_rate_per_sec
                    .unwrap_or(config.ws.rate_per_sec),
                burst: config
                    .mentoring
                    .account_rate_burst
                    .unwrap_or(config.ws.rate_burst),
            },
            max_rooms_per_account: config.mentoring.max_rooms_per_account,
            max_invite_codes_per_room: config.mentoring.max_invite_codes_per_room,
            max_pending_requests_per_mentor: config.mentoring.max_pending_requests_per_mentor,
            pseudonymous_presence_delay: config.mentoring.pseudonymous_presence_delay,
            // A page is one frame: it must fit the socket's write buffer with room to spare.
            history_page_bytes: crate::mentoring::HISTORY_PAGE_BYTES
                .min(config.ws.max_write_buffer_bytes / 2),
            max_body_bytes: crate::mentoring::MAX_BODY_BYTES,
            history_page_default: crate::mentoring::HISTORY_PAGE_DEFAULT,
            max_intro_chars: crate::mentoring::MAX_INTRO_CHARS,
            max_display_name_chars: crate::mentoring::MAX_DISPLAY_NAME_CHARS,
        };
        let mentoring = Arc::new(Mentoring::new(
            store.clone(),
            bus.clone(),
            cipher,
            node.clone(),
            limits,
        ));
        // Rooms stored before titles and agreements were sealed are sealed before any
        // request is served; a store with none left does nothing.
        let sealed = mentoring
            .seal_plaintext_room_texts()
            .await
            .context("sealing stored room titles and agreements")?;
        if sealed > 0 {
            tracing::info!(
                rooms = sealed,
                "sealed room titles and agreements stored in plaintext"
            );
        }
        let signalling = Signalling::start(
            &config.calls,
            &config.data_dir,
            store.clone(),
            bus.clone(),
            open_call_registry(config, node.clone()),
            open_sfu_board(config, node.clone()),
            node,
        )
        .await
        .context("setting up calls")?;
        let push_sender = push_sender(config)?;
        let notifications = Arc::new(crate::notify::service::Notifications::new(
            store.clone(),
            push_sender.clone(),
            config.push.allow_http_loopback || config.dev,
        ));
        let hub = Hub::new(
            mentoring.clone(),
            signalling.clone(),
            verifier.clone(),
            hub_settings(config),
            bus.clone(),
        );
        Ok(Core {
            store,
            bus,
            mentoring,
            signalling,
            hub,
            verifier,
            dev_minter,
            notifications,
            push_sender,
        })
    }
}

/// The Web Push sender, when push is on: the VAPID key from its file or the data dir.
fn push_sender(config: &Config) -> anyhow::Result<Option<crate::notify::push::PushSender>> {
    if !config.push.enabled {
        return Ok(None);
    }
    let key = crate::notify::vapid::VapidKey::load(
        config.push.vapid_private_key_file.as_deref(),
        &config.data_dir,
    )
    .context("loading the VAPID key")?;
    let sender = crate::notify::push::PushSender::new(Arc::new(key), &config.push.vapid_subject)
        .map_err(|e| anyhow::anyhow!("setting up Web Push: {e}"))?;
    Ok(Some(sender))
}

impl App {
    pub async fn build(config: Config) -> anyhow::Result<App> {
        let core = Core::build(&config).await?;
        let push_worker = core.push_sender.map(|sender| {
            crate::notify::worker::Worker::new(
                core.store.clone(),
                core.bus.state(),
                sender,
                crate::notify::worker::WorkerSettings {
                    node: Arc::from(config.node_id.as_str()),
                    idle: config.push.idle,
                    ring: config.calls.ring_timeout,
                    tick: Duration::from_secs(1),
                },
            )
        });
        let sockets = TaskTracker::new();
        let digests = digest_job(&config, &core.mentoring, core.bus.state())?;
        let state = HttpState {
            hub: core.hub.clone(),
            mentoring: core.mentoring,
            signalling: core.signalling.clone(),
            bus: core.bus,
            verifier: core.verifier,
            dev_minter: core.dev_minter,
            sign_in: config.auth.sign_in.as_ref().map(Into::into),
            notifications: core.notifications,
            origins: OriginPolicy {
                allowed: config.ws.allowed_origins.clone(),
                allow_missing: config.ws.allow_missing_origin,
            },
            buffers: SocketBuffers {
                read: config.ws.read_buffer_bytes,
                write: config.ws.write_buffer_bytes,
                max_write: config.ws.max_write_buffer_bytes,
            },
            metrics: crate::observability::recorder(),
            sockets: sockets.clone(),
        };
        let trusted_proxies: Arc<[ipnet::IpNet]> = Arc::from(config.http.trusted_proxies.clone());
        let per_address = config.http.max_connections_per_address;
        let router_settings = RouterSettings {
            web_client_dir: config.web_client_dir.clone(),
            request_timeout: config.http.request_timeout,
            behind_tls: config.http.behind_tls,
            forwarded: ForwardedClients {
                trusted_proxies: trusted_proxies.clone(),
                slots: AddressSlots::new(per_address),
            },
            host_guard: config
                .listen
                .ip()
                .is_loopback()
                .then(|| HostGuard::from_origins(&config.ws.allowed_origins)),
        };
        let router = crate::http::router(state, router_settings);
        let max_total = config
            .http
            .max_connections
            .unwrap_or_else(crate::http::limits::connection_cap_from_open_file_limit);
        tracing::info!(max_total, per_address, "connection caps");
        let caps = ConnectionCaps::new(max_total, per_address, trusted_proxies);
        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("binding {}", config.listen))?;
        Ok(App {
            listener,
            router,
            caps,
            listen: ListenSettings {
                header_timeout: config.http.header_timeout,
            },
            hub: core.hub,
            store: core.store,
            signalling: core.signalling,
            sockets,
            grace: config.shutdown_grace,
            push_worker,
            digests,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    pub fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }

    /// Calls: the embedded TURN server's address ([`Signalling::turn_addr`]), for tests.
    pub fn signalling(&self) -> &Arc<Signalling> {
        &self.signalling
    }

    /// The store, for tests that check what was (and was not) recorded.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Serves until `shutdown` resolves, then drains within the grace period.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let App {
            listener,
            router,
            caps,
            listen,
            hub,
            store,
            signalling,
            sockets,
            grace,
            push_worker,
            digests,
        } = self;
        let draining = hub.clone();
        let stop = CancellationToken::new();
        let push_stop = CancellationToken::new();
        let push_task = push_worker.map(|worker| tokio::spawn(worker.run(push_stop.clone())));
        let digests = digests.map(|job| job.spawn(stop.clone()));
        let stopping = stop.clone();
        tokio::spawn(async move {
            shutdown.await;
            tracing::info!("shutting down: draining connections");
            draining.drain();
            stopping.cancel();
        });
        crate::http::listener::serve(listener, router, caps, listen, stop).await;
        sockets.close();
        if tokio::time::timeout(grace, sockets.wait()).await.is_err() {
            tracing::warn!(
                open = hub.connections(),
                "grace period over; closing remaining sockets"
            );
        }
        push_stop.cancel();
        if let Some(task) = push_task {
            let _ = task.await;
        }
        if let Some(digests) = digests {
            // Stopped with the listener; a digest being sent finishes first.
            let _ = digests.await;
        }
        signalling.shutdown().await;
        store.close().await.context("closing the store")?;
        tracing::info!("stopped");
        Ok(())
    }
}

/// The e-mail digest job, when a mail server is configured (configuration makes sure
/// the app's public address is set with it).
fn digest_job(
    config: &Config,
    mentoring: &Arc<Mentoring>,
    state: Arc<dyn crate::bus::SharedState>,
) -> anyhow::Result<Option<DigestJob>> {
    let (Some(smtp), Some(app_url)) = (&config.email.smtp, &config.email.public_url) else {
        return Ok(None);
    };
    let mailer = crate::adapters::smtp::SmtpMailer::new(smtp).context("setting up e-mail")?;
    tracing::info!(host = %smtp.server.host, port = smtp.server.port, "e-mail digests on");
    Ok(Some(DigestJob::new(
        mentoring.clone(),
        state,
        Arc::new(mailer),
        DigestSettings {
            app_url: app_url.clone(),
            hour: config.email.digest_hour,
            lease: config.email.digest_lease,
        },
    )))
}

/// `mentorhub serve`.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    let app = App::build(config).await?;
    let addr = app.local_addr();
    tracing::info!(%addr, "listening");
    // A stable line on stdout for scripts and tests that start on port 0.
    println!("mentorhub listening on http://{addr}");
    app.run_until_stopped(shutdown_signal()).await
}

/// `mentorhub migrate`: opening the store applies pending migrations.
pub async fn migrate(config: Config) -> anyhow::Result<()> {
    let store = open_store(&config).await?;
    store.close().await?;
    tracing::info!("migrations applied");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}
