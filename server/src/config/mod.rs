//! Typed configuration, resolved once at start-up into a validated [`Config`].
//!
//! Every setting has one snake_case name used three ways:
//! - CLI flag: `--max-frame-bytes 65536` (booleans: `--dev`, `--dev=false`);
//! - environment: `MENTORHUB_MAX_FRAME_BYTES=65536`;
//! - TOML file (`--config FILE` / `MENTORHUB_CONFIG`): `max_frame_bytes = 65536`.
//!
//! Precedence: CLI > env > file > default. The file takes flat top-level keys only (no
//! `[sections]`); an unknown key is refused so a typo never silently falls back to a
//! default. Lists are comma-separated in CLI/env (`a,b`) and TOML arrays (or one
//! comma-separated string) in the file. Booleans accept true/false, 1/0, yes/no, on/off.
//! An empty value (`MENTORHUB_REDIS_URL=`) counts as unset, so compose files can pass
//! through optional variables. Values are trimmed. Relative paths are relative to the
//! working directory.
//!
//! Invalid values are refused with an error naming the setting and where it came from;
//! secrets are never echoed (not in errors, not in `Debug`), and passwords inside
//! database/Redis URLs are masked.

mod args;
pub mod defaults;
mod errors;
mod layers;
mod parse;
#[cfg(test)]
mod readme_table;
mod resolve;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_auth;
#[cfg(test)]
mod tests_email;
#[cfg(test)]
mod tests_sfu;

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::crypto::MessageKey;

pub use args::{SETTINGS, ServeArgs, with_defaults};
pub use errors::{ConfigError, Origin, env_name, mask_url_password};
use layers::{Layers, parse_config_text, read_config_file};

/// SQLite file name inside the data directory when no database URL is set.
pub const DEFAULT_SQLITE_FILE: &str = "mentorhub.sqlite3";
const MIB: usize = 1024 * 1024;

// ---------------------------------------------------------------------------------------
// Resolved configuration
// ---------------------------------------------------------------------------------------

/// Fully resolved and validated configuration.
#[derive(Clone, Debug)]
pub struct Config {
    pub listen: SocketAddr,
    pub dev: bool,
    pub data_dir: PathBuf,
    pub node_id: String,
    pub web_client_dir: PathBuf,
    pub log_format: LogFormat,
    pub shutdown_grace: Duration,
    pub auth: AuthConfig,
    pub encryption: EncryptionConfig,
    pub ws: WsConfig,
    pub http: HttpConfig,
    pub mentoring: MentoringConfig,
    pub calls: CallConfig,
    pub push: PushConfig,
    pub scale: ScaleConfig,
    pub email: EmailConfig,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// A secret byte string: shared, never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Arc<[u8]>);

impl Secret {
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Self(Arc::from(bytes.into()))
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

#[derive(Clone, Debug)]
pub struct AuthConfig {
    /// `None` only in dev mode (then the dev minter's verifier is the only one).
    pub key: Option<JwtKey>,
    pub issuer: Option<String>,
    pub audience: Option<String>,
    pub leeway: Duration,
    /// Longest accepted token lifetime (`exp` − `iat`, and `exp` − now).
    pub max_lifetime: Duration,
    /// How long a fetched key set is trusted and how often it may be fetched.
    pub key_set: KeySetTiming,
    /// What the web client needs to sign people in at the identity provider.
    pub sign_in: Option<SignIn>,
}

/// The web client's sign-in at the identity provider (authorization code flow with PKCE,
/// a public client): public values, served to every visitor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignIn {
    /// `jwt_issuer`: where the client discovers the provider's endpoints.
    pub issuer: String,
    pub client_id: String,
    /// Space-separated; always includes `openid`.
    pub scopes: String,
    /// The resource indicator that makes the access token one for this server.
    pub resource: Option<String>,
}

/// Caching of an identity provider's key set ([`JwtKey::KeySet`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeySetTiming {
    /// The provider's `Cache-Control: max-age` is raised to at least this.
    pub cache_min: Duration,
    /// …and lowered to at most this.
    pub cache_max: Duration,
    /// Least time between two fetches caused by a token naming an unknown `kid` (and
    /// between retries while the provider is unreachable).
    pub refetch: Duration,
}

impl Default for KeySetTiming {
    fn default() -> Self {
        KeySetTiming {
            cache_min: Duration::from_secs(300),
            cache_max: Duration::from_secs(86_400),
            refetch: Duration::from_secs(60),
        }
    }
}

/// Where an identity provider's JSON Web Key Set comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeySetSource {
    /// OpenID Connect discovery: `<issuer>/.well-known/openid-configuration` names the
    /// `jwks_uri`.
    Discovery { issuer: String },
    /// The key set's URL, fetched directly.
    Url(String),
    /// A key set read once at start-up (air-gapped sites); never refetched.
    File { path: PathBuf, json: Vec<u8> },
}

impl AuthConfig {
    /// The HS256 secret, if that is the configured key (what `mentorhub token` signs with).
    pub fn hs256_secret(&self) -> Option<&Secret> {
        match &self.key {
            Some(JwtKey::Hs256(secret)) => Some(secret),
            _ => None,
        }
    }
}

/// The one key tokens are verified with; each is bound to exactly one algorithm.
#[derive(Clone)]
pub enum JwtKey {
    /// From `jwt_hs256_secret` or `jwt_hs256_secret_file`; at least 32 bytes.
    Hs256(Secret),
    /// From `jwt_public_key_file` + `jwt_algorithm`; the PEM was read at load time.
    PublicKey {
        algorithm: JwtAlgorithm,
        path: PathBuf,
        pem: Vec<u8>,
    },
    /// The provider's key set: each key selected by `kid` and bound to its own algorithm.
    KeySet(KeySetSource),
}

impl fmt::Debug for JwtKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JwtKey::Hs256(_) => f.write_str("Hs256(<redacted>)"),
            JwtKey::PublicKey {
                algorithm, path, ..
            } => f
                .debug_struct("PublicKey")
                .field("algorithm", algorithm)
                .field("path", path)
                .finish_non_exhaustive(),
            JwtKey::KeySet(KeySetSource::File { path, .. }) => f
                .debug_struct("KeySetFile")
                .field("path", path)
                .finish_non_exhaustive(),
            JwtKey::KeySet(source) => f.debug_tuple("KeySet").field(source).finish(),
        }
    }
}

/// Asymmetric algorithms an identity provider's public key may be bound to.
#[allow(clippy::upper_case_acronyms)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JwtAlgorithm {
    RS256,
    ES256,
    EdDSA,
}

impl JwtAlgorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            JwtAlgorithm::RS256 => "RS256",
            JwtAlgorithm::ES256 => "ES256",
            JwtAlgorithm::EdDSA => "EdDSA",
        }
    }
}

impl std::str::FromStr for JwtAlgorithm {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "rs256" => Ok(JwtAlgorithm::RS256),
            "es256" => Ok(JwtAlgorithm::ES256),
            "eddsa" => Ok(JwtAlgorithm::EdDSA),
            _ => Err("is not one of RS256, ES256, EdDSA".into()),
        }
    }
}

/// Message-body encryption. Empty `keys` means: use (or create) the key file
/// `<data_dir>/`[`crate::crypto::KEY_FILE_NAME`]; see [`crate::crypto::BodyCipher::load`].
#[derive(Clone, Debug, Default)]
pub struct EncryptionConfig {
    pub keys: Vec<MessageKey>,
}

#[derive(Clone, Debug)]
pub struct WsConfig {
    pub max_frame_bytes: usize,
    pub ping_interval: Duration,
    pub idle_timeout: Duration,
    pub hello_timeout: Duration,
    pub outbound_queue: usize,
    pub rate_per_sec: f64,
    pub rate_burst: u32,
    /// Exact, lower-case `scheme://host[:port]` strings (default ports omitted, as
    /// browsers send them). Compare the Origin header byte for byte.
    pub allowed_origins: Vec<String>,
    pub allow_missing_origin: bool,
    pub read_buffer_bytes: usize,
    pub write_buffer_bytes: usize,
    pub max_write_buffer_bytes: usize,
    pub max_connections: usize,
}

/// Connections before (and beneath) the WebSocket: timeouts, caps, proxies, headers.
#[derive(Clone, Debug)]
pub struct HttpConfig {
    /// A new connection, and each request on it, must deliver its headers within this.
    pub header_timeout: Duration,
    /// A REST request, body included, must complete within this.
    pub request_timeout: Duration,
    /// Most open TCP connections; `None`: derived from the open-file limit at start.
    pub max_connections: Option<usize>,
    pub max_connections_per_address: usize,
    /// Peers whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    pub behind_tls: bool,
}

#[derive(Clone, Debug)]
pub struct MentoringConfig {
    pub room_member_limit: u32,
    pub history_page_max: u32,
    /// The account budget; `None`: the same as one connection's (`rate_per_sec`).
    pub account_rate_per_sec: Option<f64>,
    /// `None`: the same as one connection's (`rate_burst`).
    pub account_rate_burst: Option<u32>,
    /// Most WebSockets one account may have open on a node.
    pub max_devices_per_account: usize,
    pub max_rooms_per_account: u32,
    pub max_invite_codes_per_room: u32,
    pub max_pending_requests_per_mentor: u32,
    /// Longest random delay before a pseudonymous member's presence change is shown in
    /// one conversation (drawn independently per conversation and change).
    pub pseudonymous_presence_delay: Duration,
}

/// Web Push notifications.
#[derive(Clone, Debug)]
pub struct PushConfig {
    pub enabled: bool,
    /// `None`: generated into the data dir on first start.
    pub vapid_private_key_file: Option<PathBuf>,
    pub vapid_subject: String,
    pub idle: Duration,
    pub allow_http_loopback: bool,
}

#[derive(Clone, Debug)]
pub struct CallConfig {
    pub turn_enabled: bool,
    pub turn_listen: SocketAddr,
    pub turn_public_ip: Option<IpAddr>,
    /// `None`: the signalling module generates one and keeps it in the data dir.
    pub turn_secret: Option<Secret>,
    pub turn_urls: Vec<String>,
    pub stun_urls: Vec<String>,
    pub turn_ttl: Duration,
    pub turn_allow_private_peers: bool,
    pub turn_max_allocations_per_user: u32,
    /// Longest allocation lifetime the embedded TURN server grants: clients refresh
    /// within it.
    pub turn_allocation_lifetime: Duration,
    pub ring_timeout: Duration,
    pub max_participants: u32,
    pub reconnect_grace: Duration,
    pub max_sdp_bytes: usize,
    /// With an SFU, a call with more participants moves from the mesh to it.
    pub mesh_max_participants: u32,
    pub sfu_max_participants: u32,
    /// Janus WebSocket URLs; empty: no SFU.
    pub janus_urls: Vec<String>,
    /// The Janus API secret (and VideoRoom admin key); set whenever `janus_urls` is.
    pub janus_secret: Option<Secret>,
}

/// E-mail digests: the mail server they go out through and the link they carry.
#[derive(Clone, Debug)]
pub struct EmailConfig {
    /// `None`: no e-mail is sent (accounts' choices are still kept).
    pub smtp: Option<SmtpConfig>,
    /// The app's public address, ending in `/`; set whenever `smtp` is.
    pub public_url: Option<String>,
    /// The hour digest windows are counted in (shorter only in tests).
    pub digest_hour: Duration,
    /// How long a node holds an account while it sends its digest: longer than the SMTP
    /// timeout (shorter only in tests, to see another node take over).
    pub digest_lease: Duration,
}

/// Where a mail server is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmtpServer {
    pub host: String,
    pub port: u16,
    /// `smtps://`: TLS from the first byte.
    pub implicit_tls: bool,
}

/// How an `smtp://` connection is protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// STARTTLS, required before anything is sent.
    StartTls,
    /// In the clear: only for a relay on the same host.
    None,
}

#[derive(Clone, Debug)]
pub struct SmtpConfig {
    pub server: SmtpServer,
    /// For `smtp://` only (`smtps://` is always TLS).
    pub security: SmtpSecurity,
    /// The `From` mailbox, e.g. `Mentorhub <noreply@mentor.example>`.
    pub from: String,
    pub username: Option<String>,
    /// Never printed ([`Secret`]).
    pub password: Option<Secret>,
}

/// Storage and cross-node fan-out.
#[derive(Clone)]
pub struct ScaleConfig {
    pub database: DatabaseConfig,
    /// Single Redis (pub/sub bus). Exclusive with `redis_cluster_urls`.
    pub redis_url: Option<String>,
    pub redis_cluster_urls: Vec<String>,
    /// Prefix of every Redis channel and key.
    pub redis_prefix: String,
    /// A dead node's presence and call legs are gone within this time.
    pub node_ttl: Duration,
    /// How long a small batch of frequent writes may wait for more before it commits.
    pub commit_delay: Duration,
}

impl fmt::Debug for ScaleConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScaleConfig")
            .field("database", &self.database)
            .field(
                "redis_url",
                &self.redis_url.as_deref().map(mask_url_password),
            )
            .field(
                "redis_cluster_urls",
                &self
                    .redis_cluster_urls
                    .iter()
                    .map(|u| mask_url_password(u))
                    .collect::<Vec<_>>(),
            )
            .field("redis_prefix", &self.redis_prefix)
            .field("node_ttl", &self.node_ttl)
            .field("commit_delay", &self.commit_delay)
            .finish()
    }
}

#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseConfig {
    /// A SQLite file (the store sets WAL and `synchronous=FULL` itself).
    Sqlite { path: PathBuf },
    /// A `postgres://` / `postgresql://` URL, passed to the driver as is.
    Postgres { url: String },
}

impl fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatabaseConfig::Sqlite { path } => {
                f.debug_struct("Sqlite").field("path", path).finish()
            }
            DatabaseConfig::Postgres { url } => f
                .debug_struct("Postgres")
                .field("url", &mask_url_password(url))
                .finish(),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Resolution
// ---------------------------------------------------------------------------------------

impl Config {
    /// Resolves CLI/env (already merged by clap into `args`), the optional TOML file and
    /// defaults, and validates everything, including that a configured public key parses.
    /// Reads the config, secret and key files; writes nothing.
    pub fn load(args: ServeArgs) -> Result<Config, ConfigError> {
        Self::load_with_env(&args, &|name| std::env::var(name).ok())
    }

    /// Dev mode on 127.0.0.1:0 with every other setting at its default, rooted in
    /// `data_dir` (SQLite file and key file inside it). For tests.
    pub fn for_tests(data_dir: PathBuf) -> Config {
        let args = ServeArgs {
            dev: Some("true".into()),
            listen: Some("127.0.0.1:0".into()),
            ..ServeArgs::default()
        };
        let mut config = Self::load_with_env(&args, &|_| None)
            .expect("the defaults form a valid dev configuration");
        config.scale.database = DatabaseConfig::Sqlite {
            path: data_dir.join(DEFAULT_SQLITE_FILE),
        };
        config.data_dir = data_dir;
        // Tests run many servers at once: each embedded TURN server on its own port.
        config.calls.turn_listen = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0));
        config
    }

    /// Resolves the text of a config file alone (no CLI, no environment), as `load` would
    /// with `--config`. An entry for the fuzz targets; `path` only names the file in errors.
    /// Settings that name files (`*_file`) are read as usual.
    #[doc(hidden)]
    pub fn from_toml_text(path: &std::path::Path, text: &str) -> Result<Config, ConfigError> {
        let no_args = ServeArgs::default();
        let layers = Layers {
            args: no_args.values(),
            env: &|_| None,
            file: Some(parse_config_text(path, text)?),
        };
        resolve::resolve(&layers)
    }

    fn load_with_env(
        args: &ServeArgs,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let file = args.config.as_deref().map(read_config_file).transpose()?;
        let layers = Layers {
            args: args.values(),
            env,
            file,
        };
        resolve::resolve(&layers)
    }
}
