//! The CLI/env surface: every setting declared once, as a clap flag with its
//! `MENTORHUB_*` variable.

use std::fmt;
use std::path::PathBuf;

use super::defaults::DEFAULTS;
use super::errors::shown_value;

/// Adds each setting's default (from [`DEFAULTS`]) to its `--help` text, in the
/// `[default: …]` form clap uses, to a command that takes [`ServeArgs`].
pub fn with_defaults(command: clap::Command) -> clap::Command {
    DEFAULTS.iter().fold(command, |command, (name, value)| {
        command.mut_arg(*name, |arg| {
            let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
            arg.help(format!("{help} [default: {value}]"))
        })
    })
}

/// Declares every setting once. The clap flag, the env var and the file key all come from
/// this one list, so they cannot drift apart (a unit test checks the env names).
macro_rules! settings {
    ($( $(#[$meta:meta])* $field:ident = $env:literal; )*) => {
        /// Options shared by `mentorhub serve`, `token` and `migrate`.
        ///
        /// Every value is a raw string here: [`Config::load`](super::Config::load) parses and validates it, so
        /// errors name the setting the same way whichever source it came from.
        #[derive(clap::Args, Default, Clone)]
        pub struct ServeArgs {
            /// TOML configuration file with flat snake_case keys (e.g. `listen = "0.0.0.0:8080"`)
            #[arg(long, env = "MENTORHUB_CONFIG", value_name = "FILE")]
            pub config: Option<PathBuf>,
            $(
                $(#[$meta])*
                #[arg(long, env = $env, hide_env_values = true)]
                pub $field: Option<String>,
            )*
        }

        /// Every setting as (file key, environment variable).
        pub const SETTINGS: &[(&str, &str)] = &[$((stringify!($field), $env)),*];

        impl ServeArgs {
            pub(super) fn values(&self) -> Vec<(&'static str, Option<&str>)> {
                vec![$((stringify!($field), self.$field.as_deref())),*]
            }
        }

        #[cfg(test)]
        impl ServeArgs {
            /// Sets a raw value by setting name.
            pub(super) fn set(&mut self, name: &str, value: &str) {
                match name {
                    $(stringify!($field) => self.$field = Some(value.to_owned()),)*
                    other => panic!("no setting named {other}"),
                }
            }
        }

        impl fmt::Debug for ServeArgs {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let mut d = f.debug_struct("ServeArgs");
                d.field("config", &self.config);
                $(
                    d.field(
                        stringify!($field),
                        &self.$field.as_deref().map(|v| shown_value(stringify!($field), v)),
                    );
                )*
                d.finish()
            }
        }
    };
}

settings! {
    /// Socket address to listen on
    listen = "MENTORHUB_LISTEN";
    /// Development mode: enables POST /api/dev/login with a per-start random secret. Never in production
    #[arg(num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    dev = "MENTORHUB_DEV";
    /// Data directory: SQLite database, message key file
    data_dir = "MENTORHUB_DATA_DIR";
    /// This node's id in a cluster, [a-z0-9_-]{1,64} [default: random n_xxxxxxxx per start]
    node_id = "MENTORHUB_NODE_ID";
    /// Database: sqlite:PATH or postgres://… [default: SQLite file mentorhub.sqlite3 in the data dir]
    database_url = "MENTORHUB_DATABASE_URL";
    /// Redis for multi-node pub/sub: redis://… or rediss://… [default: in-process bus]
    redis_url = "MENTORHUB_REDIS_URL";
    /// Redis Cluster node URLs, comma-separated (instead of --redis-url)
    redis_cluster_urls = "MENTORHUB_REDIS_CLUSTER_URLS";
    /// Prefix of every Redis channel and key, [a-z0-9_-]{1,64}; deployments sharing a Redis need different ones
    redis_prefix = "MENTORHUB_REDIS_PREFIX";
    /// Seconds within which a dead node's presence and call legs disappear, 3–600
    node_ttl_secs = "MENTORHUB_NODE_TTL_SECS";
    /// Longest wait, in microseconds, for a small batch of frequent writes to gather more before it commits, 0–10000 (0: never wait)
    commit_delay_micros = "MENTORHUB_COMMIT_DELAY_MICROS";
    /// Directory of the browser client's static files [default: the repository's web-client/]
    web_client_dir = "MENTORHUB_WEB_CLIENT_DIR";
    /// Log format: text or json
    log_format = "MENTORHUB_LOG_FORMAT";
    /// Seconds to drain connections on SIGTERM
    shutdown_grace_secs = "MENTORHUB_SHUTDOWN_GRACE_SECS";

    /// HS256 secret for JWT verification, at least 32 bytes (prefer the _FILE variant)
    jwt_hs256_secret = "MENTORHUB_JWT_HS256_SECRET";
    /// File holding the HS256 secret (surrounding whitespace ignored)
    jwt_hs256_secret_file = "MENTORHUB_JWT_HS256_SECRET_FILE";
    /// PEM public key of the identity provider (needs --jwt-algorithm)
    jwt_public_key_file = "MENTORHUB_JWT_PUBLIC_KEY_FILE";
    /// Algorithm bound to the public key: RS256, ES256 or EdDSA
    jwt_algorithm = "MENTORHUB_JWT_ALGORITHM";
    /// Required exact `iss` claim; alone, also where the keys are discovered (OpenID Connect discovery)
    jwt_issuer = "MENTORHUB_JWT_ISSUER";
    /// URL of the identity provider's JSON Web Key Set (instead of discovery)
    jwt_jwks_url = "MENTORHUB_JWT_JWKS_URL";
    /// File holding the identity provider's JSON Web Key Set (air-gapped sites)
    jwt_jwks_file = "MENTORHUB_JWT_JWKS_FILE";
    /// Shortest time a fetched key set is trusted before it is fetched again, in seconds
    jwt_jwks_cache_min_secs = "MENTORHUB_JWT_JWKS_CACHE_MIN_SECS";
    /// Longest time a fetched key set is trusted, whatever the provider's max-age, in seconds
    jwt_jwks_cache_max_secs = "MENTORHUB_JWT_JWKS_CACHE_MAX_SECS";
    /// Least time between two fetches of the key set for a token with an unknown key id, in seconds
    jwt_jwks_refetch_secs = "MENTORHUB_JWT_JWKS_REFETCH_SECS";
    /// Required `aud` claim
    jwt_audience = "MENTORHUB_JWT_AUDIENCE";
    /// Clock-skew leeway for exp/nbf/iat in seconds
    jwt_leeway_secs = "MENTORHUB_JWT_LEEWAY_SECS";
    /// Longest token lifetime accepted (exp − iat, and exp − now), in seconds
    jwt_max_lifetime_secs = "MENTORHUB_JWT_MAX_LIFETIME_SECS";
    /// Client id of the web client registered at the identity provider (a public client); enables "Sign in with your institution" (needs --jwt-issuer)
    oidc_client_id = "MENTORHUB_OIDC_CLIENT_ID";
    /// Scopes the web client asks for at sign-in, space-separated; must include openid
    oidc_scopes = "MENTORHUB_OIDC_SCOPES";
    /// Resource indicator (RFC 8707) the web client names so the access token is for this server
    oidc_resource = "MENTORHUB_OIDC_RESOURCE";

    /// Message-body keys ID:BASE64 (32 bytes), comma-separated; the highest id encrypts [default: key file in the data dir]
    encryption_keys = "MENTORHUB_ENCRYPTION_KEYS";

    /// Largest inbound WebSocket message in bytes; must fit a largest message body fully escaped
    max_frame_bytes = "MENTORHUB_MAX_FRAME_BYTES";
    /// Seconds between server pings
    ping_interval_secs = "MENTORHUB_PING_INTERVAL_SECS";
    /// Close a peer silent this many seconds; must exceed the ping interval
    idle_timeout_secs = "MENTORHUB_IDLE_TIMEOUT_SECS";
    /// Seconds to wait for the hello frame
    hello_timeout_secs = "MENTORHUB_HELLO_TIMEOUT_SECS";
    /// Outbound frames queued per connection, ≥ 8
    outbound_queue = "MENTORHUB_OUTBOUND_QUEUE";
    /// Inbound frames per second per connection (token bucket refill)
    rate_per_sec = "MENTORHUB_RATE_PER_SEC";
    /// Token bucket size
    rate_burst = "MENTORHUB_RATE_BURST";
    /// Allowed browser origins, comma-separated, exact (e.g. https://mentor.example,http://localhost:5173)
    allowed_origins = "MENTORHUB_ALLOWED_ORIGINS";
    /// Accept WebSocket upgrades without an Origin header (non-browser clients)
    #[arg(num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    allow_missing_origin = "MENTORHUB_ALLOW_MISSING_ORIGIN";
    /// WebSocket read buffer in bytes
    ws_read_buffer_bytes = "MENTORHUB_WS_READ_BUFFER_BYTES";
    /// WebSocket write buffer in bytes
    ws_write_buffer_bytes = "MENTORHUB_WS_WRITE_BUFFER_BYTES";
    /// Hard cap of the WebSocket write buffer in bytes
    ws_max_write_buffer_bytes = "MENTORHUB_WS_MAX_WRITE_BUFFER_BYTES";
    /// Most simultaneous WebSocket connections on this node
    max_connections = "MENTORHUB_MAX_CONNECTIONS";

    /// Seconds a connection has to send a request's headers; idle connections are closed after it
    http_header_timeout_secs = "MENTORHUB_HTTP_HEADER_TIMEOUT_SECS";
    /// Seconds a REST request (its body included) may take
    http_request_timeout_secs = "MENTORHUB_HTTP_REQUEST_TIMEOUT_SECS";
    /// Most open TCP connections, WebSockets included [default: the open-file limit less a reserve]
    max_http_connections = "MENTORHUB_MAX_HTTP_CONNECTIONS";
    /// Most open connections from one client address
    max_connections_per_address = "MENTORHUB_MAX_CONNECTIONS_PER_ADDRESS";
    /// Reverse proxies (IP addresses or CIDR networks, comma-separated) whose X-Forwarded-For names the client
    trusted_proxies = "MENTORHUB_TRUSTED_PROXIES";
    /// Clients reach the server over HTTPS (a TLS proxy in front): send Strict-Transport-Security
    #[arg(num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    behind_tls = "MENTORHUB_BEHIND_TLS";

    /// Most members in a group room
    room_member_limit = "MENTORHUB_ROOM_MEMBER_LIMIT";
    /// Largest history page a client may ask for
    history_page_max = "MENTORHUB_HISTORY_PAGE_MAX";
    /// Actions per second one account may take over all its connections, REST and nodes [default: rate_per_sec]
    account_rate_per_sec = "MENTORHUB_ACCOUNT_RATE_PER_SEC";
    /// Burst of actions one account may take at once [default: rate_burst]
    account_rate_burst = "MENTORHUB_ACCOUNT_RATE_BURST";
    /// Most WebSockets one account may have open on a node
    max_devices_per_account = "MENTORHUB_MAX_DEVICES_PER_ACCOUNT";
    /// Most open rooms one account may have created
    max_rooms_per_account = "MENTORHUB_MAX_ROOMS_PER_ACCOUNT";
    /// Most unused, unexpired invite codes per room
    max_invite_codes_per_room = "MENTORHUB_MAX_INVITE_CODES_PER_ROOM";
    /// Most requests waiting for one mentor's answer
    max_pending_requests_per_mentor = "MENTORHUB_MAX_PENDING_REQUESTS_PER_MENTOR";
    /// Longest random delay (seconds, 0–3600) before a pseudonymous member's presence change is shown, drawn anew per conversation and change
    pseudonymous_presence_delay_secs = "MENTORHUB_PSEUDONYMOUS_PRESENCE_DELAY_SECS";

    /// Run the embedded TURN server
    #[arg(num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    turn_enabled = "MENTORHUB_TURN_ENABLED";
    /// UDP address of the embedded TURN server
    turn_listen = "MENTORHUB_TURN_LISTEN";
    /// Public IP the embedded TURN server advertises in relay candidates
    turn_public_ip = "MENTORHUB_TURN_PUBLIC_IP";
    /// TURN REST shared secret, at least 16 bytes [default: generated and stored in the data dir]
    turn_secret = "MENTORHUB_TURN_SECRET";
    /// External TURN URLs (turn:/turns:), comma-separated
    turn_urls = "MENTORHUB_TURN_URLS";
    /// STUN URLs (stun:/stuns:), comma-separated
    stun_urls = "MENTORHUB_STUN_URLS";
    /// Lifetime of TURN credentials in seconds
    turn_ttl_secs = "MENTORHUB_TURN_TTL_SECS";
    /// Let TURN relay to private/loopback peer addresses (tests only)
    #[arg(num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    turn_allow_private_peers = "MENTORHUB_TURN_ALLOW_PRIVATE_PEERS";
    /// TURN allocations per user
    turn_max_allocations_per_user = "MENTORHUB_TURN_MAX_ALLOCATIONS_PER_USER";
    /// Longest TURN allocation lifetime granted, in seconds
    turn_allocation_lifetime_secs = "MENTORHUB_TURN_ALLOCATION_LIFETIME_SECS";
    /// Seconds a call rings before it is missed
    call_ring_timeout_secs = "MENTORHUB_CALL_RING_TIMEOUT_SECS";
    /// Most participants in one call
    call_max_participants = "MENTORHUB_CALL_MAX_PARTICIPANTS";
    /// Seconds a dropped participant may rejoin a call
    call_reconnect_grace_secs = "MENTORHUB_CALL_RECONNECT_GRACE_SECS";
    /// With an SFU: a call with more participants than this moves from the mesh to the SFU
    call_mesh_max_participants = "MENTORHUB_CALL_MESH_MAX_PARTICIPANTS";
    /// Most participants of a call on the SFU
    call_sfu_max_participants = "MENTORHUB_CALL_SFU_MAX_PARTICIPANTS";
    /// Janus instances (WebSocket API, ws:// or wss://), comma-separated; none: no SFU
    janus_urls = "MENTORHUB_JANUS_URLS";
    /// Janus API secret (also its VideoRoom admin_key), at least 16 bytes
    janus_secret = "MENTORHUB_JANUS_SECRET";
    /// File holding the Janus API secret
    janus_secret_file = "MENTORHUB_JANUS_SECRET_FILE";
    /// Largest SDP in bytes; must be below max_frame_bytes
    max_sdp_bytes = "MENTORHUB_MAX_SDP_BYTES";

    /// Send Web Push notifications to devices that subscribed
    #[arg(num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    push_enabled = "MENTORHUB_PUSH_ENABLED";
    /// P-256 private key (PEM, or one base64url line) signing push requests (VAPID); every node needs the same one [default: generated in the data dir]
    vapid_private_key_file = "MENTORHUB_VAPID_PRIVATE_KEY_FILE";
    /// Contact for push services' operators in the VAPID token: a mailto: or https: URL
    vapid_subject = "MENTORHUB_VAPID_SUBJECT";
    /// Seconds a message stays unread, with no device of the recipient connected, before it is pushed
    push_idle_secs = "MENTORHUB_PUSH_IDLE_SECS";
    /// Accept http:// push endpoints on loopback addresses (tests only)
    #[arg(num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    push_allow_http_loopback = "MENTORHUB_PUSH_ALLOW_HTTP_LOOPBACK";
    /// The app's public address (https://mentor.example), linked from e-mails; required with smtp_url
    public_url = "MENTORHUB_PUBLIC_URL";
    /// Mail server for e-mail digests: smtp://host[:port] (587 by default) or smtps://host[:port] (TLS from the start, 465) [default: no e-mail is sent]
    smtp_url = "MENTORHUB_SMTP_URL";
    /// With smtp://: starttls (required before anything is sent) or none (only for a relay on the same host)
    smtp_tls = "MENTORHUB_SMTP_TLS";
    /// Sender of e-mail digests, e.g. "Mentorhub <noreply@mentor.example>"; required with smtp_url
    smtp_from = "MENTORHUB_SMTP_FROM";
    /// User name at the mail server (with smtp_password or smtp_password_file)
    smtp_username = "MENTORHUB_SMTP_USERNAME";
    /// Password at the mail server (prefer the _FILE variant)
    smtp_password = "MENTORHUB_SMTP_PASSWORD";
    /// File holding the password at the mail server (surrounding whitespace ignored)
    smtp_password_file = "MENTORHUB_SMTP_PASSWORD_FILE";
    /// Length in seconds of the hour e-mail digest windows are counted in (tests only)
    email_digest_hour_secs = "MENTORHUB_EMAIL_DIGEST_HOUR_SECS";
    /// Seconds a node holds an account while it sends its e-mail digest (tests only)
    email_digest_lease_secs = "MENTORHUB_EMAIL_DIGEST_LEASE_SECS";
}
