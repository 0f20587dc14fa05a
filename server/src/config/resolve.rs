//! From layered raw values to a validated [`Config`].

use std::path::PathBuf;

use super::errors::{ConfigError, named};
use super::layers::{Layers, invalid};
use super::parse::*;
use super::*;

pub(super) fn resolve(l: &Layers<'_>) -> Result<Config, ConfigError> {
    let dev = l.or_default("dev", boolean)?;
    let data_dir = l.or_default("data_dir", path)?;
    let default_sqlite = DatabaseConfig::Sqlite {
        path: data_dir.join(DEFAULT_SQLITE_FILE),
    };
    let web_client_default = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../web-client"));
    let config = Config {
        listen: l.or_default("listen", socket_addr)?,
        dev,
        node_id: match l.one("node_id", node_id)? {
            Some(id) => id,
            None => random_node_id(),
        },
        web_client_dir: l.or("web_client_dir", web_client_default, path)?,
        log_format: l.or_default("log_format", log_format)?,
        shutdown_grace: l.or_default("shutdown_grace_secs", secs(0, 3600))?,
        auth: resolve_auth(l, dev)?,
        encryption: resolve_encryption(l)?,
        ws: resolve_ws(l)?,
        http: HttpConfig {
            header_timeout: l.or_default("http_header_timeout_secs", secs(1, 300))?,
            request_timeout: l.or_default("http_request_timeout_secs", secs(1, 600))?,
            max_connections: l.one("max_http_connections", int(16, 10_000_000))?,
            max_connections_per_address: l
                .or_default("max_connections_per_address", int(1, 10_000_000))?,
            trusted_proxies: l.list("trusted_proxies", ip_net)?,
            behind_tls: l.or_default("behind_tls", boolean)?,
        },
        mentoring: MentoringConfig {
            room_member_limit: l.or_default("room_member_limit", int(2, 1000))?,
            history_page_max: l.or_default("history_page_max", int(1, 10_000))?,
            account_rate_per_sec: l.one("account_rate_per_sec", rate)?,
            account_rate_burst: l.one("account_rate_burst", int(1, 1_000_000))?,
            max_devices_per_account: l.or_default("max_devices_per_account", int(1, 10_000))?,
            max_rooms_per_account: l.or_default("max_rooms_per_account", int(1, 1_000_000))?,
            max_invite_codes_per_room: l
                .or_default("max_invite_codes_per_room", int(1, 100_000))?,
            max_pending_requests_per_mentor: l
                .or_default("max_pending_requests_per_mentor", int(1, 100_000))?,
            pseudonymous_presence_delay: l
                .or_default("pseudonymous_presence_delay_secs", secs(0, 3600))?,
        },
        calls: resolve_calls(l)?,
        push: PushConfig {
            enabled: l.or_default("push_enabled", boolean)?,
            vapid_private_key_file: l.one("vapid_private_key_file", path)?,
            vapid_subject: l.or_default("vapid_subject", vapid_subject)?,
            idle: l.or_default("push_idle_secs", secs(0, 7 * 86_400))?,
            allow_http_loopback: l.or_default("push_allow_http_loopback", boolean)?,
        },
        scale: ScaleConfig {
            database: l.or("database_url", default_sqlite, database)?,
            redis_url: l.one("redis_url", redis_url)?,
            redis_cluster_urls: l.list("redis_cluster_urls", redis_url)?,
            redis_prefix: l.or_default("redis_prefix", node_id)?,
            node_ttl: l.or_default("node_ttl_secs", secs(3, 600))?,
            commit_delay: l.or_default("commit_delay_micros", micros(0, 10_000))?,
        },
        email: resolve_email(l)?,
        data_dir,
    };
    check_combinations(&config)?;
    Ok(config)
}

pub(super) fn resolve_auth(l: &Layers<'_>, dev: bool) -> Result<AuthConfig, ConfigError> {
    const MIN_SECRET: usize = 32;
    let inline = l.one("jwt_hs256_secret", secret(MIN_SECRET))?;
    let secret_file = l.one_at("jwt_hs256_secret_file", path)?;
    let public_key = l.one_at("jwt_public_key_file", path)?;
    let algorithm = l.one("jwt_algorithm", |s| s.parse::<JwtAlgorithm>())?;
    let jwks_url = l.one("jwt_jwks_url", provider_url)?;
    let jwks_file = l.one_at("jwt_jwks_file", path)?;
    let issuer_at = l.one_at("jwt_issuer", non_empty_text)?;
    let issuer = issuer_at.as_ref().map(|(issuer, _)| issuer.clone());
    let sign_in = resolve_sign_in(l, issuer_at.as_ref())?;

    if inline.is_some() && secret_file.is_some() {
        return Err(ConfigError::Conflict(format!(
            "set only one of {} and {}",
            named("jwt_hs256_secret"),
            named("jwt_hs256_secret_file")
        )));
    }
    let hs_set = inline.is_some() || secret_file.is_some();
    if hs_set && public_key.is_some() {
        return Err(ConfigError::Conflict(format!(
            "an HS256 secret and {} are mutually exclusive: each deployment trusts exactly one key",
            named("jwt_public_key_file")
        )));
    }
    let sources = [
        (hs_set, "an HS256 secret"),
        (public_key.is_some(), "jwt_public_key_file"),
        (jwks_url.is_some(), "jwt_jwks_url"),
        (jwks_file.is_some(), "jwt_jwks_file"),
    ];
    let set: Vec<&str> = sources
        .iter()
        .filter(|(is_set, _)| *is_set)
        .map(|(_, name)| *name)
        .collect();
    if set.len() > 1 {
        return Err(ConfigError::Conflict(format!(
            "{} are mutually exclusive: each deployment trusts exactly one source of keys",
            set.join(" and ")
        )));
    }
    if public_key.is_some() != algorithm.is_some() {
        return Err(ConfigError::Conflict(format!(
            "{} and {} go together: the public key is bound to one of RS256, ES256, EdDSA",
            named("jwt_public_key_file"),
            named("jwt_algorithm")
        )));
    }

    let key = if let Some(secret) = inline {
        Some(JwtKey::Hs256(secret))
    } else if let Some((file, origin)) = secret_file {
        let secret = secret_file_text("jwt_hs256_secret_file", &file, origin, MIN_SECRET)?;
        Some(JwtKey::Hs256(secret))
    } else if let (Some((file, origin)), Some(algorithm)) = (public_key, algorithm) {
        let shown = file.display().to_string();
        let pem = std::fs::read(&file).map_err(|e| {
            invalid(
                "jwt_public_key_file",
                origin.clone(),
                &shown,
                format!("cannot be read: {e}"),
            )
        })?;
        // Refuse private keys outright: the server must never hold the IdP's signing key.
        if pem.windows(16).any(|w| w == b"PRIVATE KEY-----") {
            return Err(invalid(
                "jwt_public_key_file",
                origin,
                &shown,
                "holds a PRIVATE key; give the server only the identity provider's public key",
            ));
        }
        // Parse now so a bad PEM stops start-up, not the first login.
        if let Err(reason) = crate::auth::public_decoding_key(algorithm, &pem) {
            return Err(invalid("jwt_public_key_file", origin, &shown, reason));
        }
        Some(JwtKey::PublicKey {
            algorithm,
            path: file,
            pem,
        })
    } else if let Some(url) = jwks_url {
        Some(JwtKey::KeySet(KeySetSource::Url(url)))
    } else if let Some((file, origin)) = jwks_file {
        Some(JwtKey::KeySet(read_key_set_file(file, origin)?))
    } else if let Some((issuer, origin)) = issuer_at {
        // The issuer alone: its OpenID Connect discovery document names the keys.
        provider_url(&issuer).map_err(|reason| {
            invalid(
                "jwt_issuer",
                origin,
                &issuer,
                format!("{reason} (the issuer alone means OpenID Connect discovery)"),
            )
        })?;
        Some(JwtKey::KeySet(KeySetSource::Discovery { issuer }))
    } else {
        None
    };
    if key.is_none() && !dev {
        return Err(ConfigError::NoAuth);
    }
    Ok(AuthConfig {
        key,
        issuer,
        audience: l.one("jwt_audience", non_empty_text)?,
        leeway: l.or_default("jwt_leeway_secs", secs(0, 600))?,
        max_lifetime: l.or_default("jwt_max_lifetime_secs", secs(60, 365 * 86_400))?,
        key_set: resolve_key_set_timing(l)?,
        sign_in,
    })
}

/// The web client's sign-in: a client id turns it on; the issuer is `jwt_issuer`'s.
fn resolve_sign_in(
    l: &Layers<'_>,
    issuer_at: Option<&(String, Origin)>,
) -> Result<Option<SignIn>, ConfigError> {
    let client_id = l.one("oidc_client_id", oauth_text)?;
    let scopes = l.one("oidc_scopes", oidc_scopes)?;
    let resource = l.one("oidc_resource", oauth_text)?;
    let Some(client_id) = client_id else {
        if let Some(name) = [
            scopes.is_some().then_some("oidc_scopes"),
            resource.is_some().then_some("oidc_resource"),
        ]
        .into_iter()
        .flatten()
        .next()
        {
            return Err(ConfigError::Conflict(format!(
                "{} needs {}: without a client id there is no sign-in to configure",
                named(name),
                named("oidc_client_id")
            )));
        }
        return Ok(None);
    };
    let Some((issuer, origin)) = issuer_at else {
        return Err(ConfigError::Conflict(format!(
            "{} needs {}: the web client discovers the provider from its issuer",
            named("oidc_client_id"),
            named("jwt_issuer")
        )));
    };
    // The browser fetches the discovery document and the token endpoint from here.
    provider_url(issuer).map_err(|reason| {
        invalid(
            "jwt_issuer",
            origin.clone(),
            issuer,
            format!("{reason} (the web client signs in there)"),
        )
    })?;
    let scopes = match scopes {
        Some(scopes) => scopes,
        None => l.or_default("oidc_scopes", oidc_scopes)?,
    };
    Ok(Some(SignIn {
        issuer: issuer.clone(),
        client_id,
        scopes,
        resource,
    }))
}

fn resolve_key_set_timing(l: &Layers<'_>) -> Result<KeySetTiming, ConfigError> {
    let timing = KeySetTiming {
        cache_min: l.or_default("jwt_jwks_cache_min_secs", secs(1, 7 * 86_400))?,
        cache_max: l.or_default("jwt_jwks_cache_max_secs", secs(1, 7 * 86_400))?,
        refetch: l.or_default("jwt_jwks_refetch_secs", secs(1, 86_400))?,
    };
    if timing.cache_min > timing.cache_max {
        return Err(ConfigError::Conflict(format!(
            "{} must not exceed {}",
            named("jwt_jwks_cache_min_secs"),
            named("jwt_jwks_cache_max_secs")
        )));
    }
    Ok(timing)
}

/// Reads and checks a key set file now, so a bad file stops start-up, not the first login.
fn read_key_set_file(file: PathBuf, origin: Origin) -> Result<KeySetSource, ConfigError> {
    let shown = file.display().to_string();
    let json = std::fs::read(&file).map_err(|e| {
        invalid(
            "jwt_jwks_file",
            origin.clone(),
            &shown,
            format!("cannot be read: {e}"),
        )
    })?;
    match crate::auth::KeySet::parse(&json) {
        Ok(keys) if keys.is_empty() => Err(invalid(
            "jwt_jwks_file",
            origin,
            &shown,
            "holds no usable signing key (RSA, P-256 or Ed25519 public keys)",
        )),
        Ok(_) => Ok(KeySetSource::File { path: file, json }),
        Err(reason) => Err(invalid("jwt_jwks_file", origin, &shown, reason)),
    }
}

pub(super) fn resolve_encryption(l: &Layers<'_>) -> Result<EncryptionConfig, ConfigError> {
    let keys = l.list("encryption_keys", message_key)?;
    for (index, key) in keys.iter().enumerate() {
        if keys[..index].iter().any(|k| k.id() == key.id()) {
            return Err(ConfigError::Conflict(format!(
                "{}: key id {} appears twice",
                named("encryption_keys"),
                key.id()
            )));
        }
    }
    Ok(EncryptionConfig { keys })
}

pub(super) fn resolve_ws(l: &Layers<'_>) -> Result<WsConfig, ConfigError> {
    Ok(WsConfig {
        max_frame_bytes: l.or_default("max_frame_bytes", int(1024, 16 * MIB))?,
        ping_interval: l.or_default("ping_interval_secs", secs(1, 3600))?,
        idle_timeout: l.or_default("idle_timeout_secs", secs(2, 86_400))?,
        hello_timeout: l.or_default("hello_timeout_secs", secs(1, 600))?,
        outbound_queue: l.or_default("outbound_queue", int(8, 1_000_000))?,
        rate_per_sec: l.or_default("rate_per_sec", rate)?,
        rate_burst: l.or_default("rate_burst", int(1, 1_000_000))?,
        allowed_origins: l.list("allowed_origins", origin)?,
        allow_missing_origin: l.or_default("allow_missing_origin", boolean)?,
        read_buffer_bytes: l.or_default("ws_read_buffer_bytes", int(256, 64 * MIB))?,
        write_buffer_bytes: l.or_default("ws_write_buffer_bytes", int(0, 64 * MIB))?,
        max_write_buffer_bytes: l.or_default("ws_max_write_buffer_bytes", int(1, 1024 * MIB))?,
        max_connections: l.or_default("max_connections", int(1, 10_000_000))?,
    })
}

pub(super) fn resolve_calls(l: &Layers<'_>) -> Result<CallConfig, ConfigError> {
    Ok(CallConfig {
        turn_enabled: l.or_default("turn_enabled", boolean)?,
        turn_listen: l.or_default("turn_listen", socket_addr)?,
        turn_public_ip: l.one("turn_public_ip", ip_addr)?,
        turn_secret: l.one("turn_secret", secret(16))?,
        turn_urls: l.list("turn_urls", ice_url(&["turn", "turns"]))?,
        stun_urls: l.list("stun_urls", ice_url(&["stun", "stuns"]))?,
        turn_ttl: l.or_default("turn_ttl_secs", secs(60, 86_400))?,
        turn_allow_private_peers: l.or_default("turn_allow_private_peers", boolean)?,
        turn_max_allocations_per_user: l
            .or_default("turn_max_allocations_per_user", int(1, 100))?,
        turn_allocation_lifetime: l.or_default("turn_allocation_lifetime_secs", secs(30, 3600))?,
        ring_timeout: l.or_default("call_ring_timeout_secs", secs(1, 3600))?,
        max_participants: l.or_default("call_max_participants", int(2, 50))?,
        reconnect_grace: l.or_default("call_reconnect_grace_secs", secs(0, 600))?,
        max_sdp_bytes: l.or_default("max_sdp_bytes", int(1024, MIB))?,
        mesh_max_participants: l.or_default("call_mesh_max_participants", int(2, 50))?,
        sfu_max_participants: l.or_default("call_sfu_max_participants", int(3, 100))?,
        janus_urls: l.list("janus_urls", |s| url_with_scheme(s, &["ws", "wss"]))?,
        janus_secret: janus_secret(l)?,
    })
}

/// The smallest frame limit that carries a largest body fully `\u`-escaped, with room
/// for the rest of a `send` or `edit` frame.
const MIN_FRAME_BYTES: usize = 6 * crate::mentoring::MAX_BODY_BYTES + 2048;

/// The secret a `*_secret_file` setting names: the file's contents, surrounding
/// whitespace trimmed, at least `min` bytes.
fn secret_file_text(
    setting: &'static str,
    file: &std::path::Path,
    origin: Origin,
    min: usize,
) -> Result<Secret, ConfigError> {
    let shown = file.display().to_string();
    let text = std::fs::read(file).map_err(|e| {
        invalid(
            setting,
            origin.clone(),
            &shown,
            format!("cannot be read: {e}"),
        )
    })?;
    let trimmed = text.trim_ascii();
    if trimmed.len() < min {
        return Err(invalid(
            setting,
            origin,
            &shown,
            format!("holds fewer than {min} bytes (surrounding whitespace ignored)"),
        ));
    }
    Ok(Secret::new(trimmed))
}

/// `janus_secret` or the contents of `janus_secret_file` (whitespace trimmed).
fn janus_secret(l: &Layers<'_>) -> Result<Option<Secret>, ConfigError> {
    const MIN_SECRET: usize = 16;
    let inline = l.one("janus_secret", secret(MIN_SECRET))?;
    let file = l.one_at("janus_secret_file", path)?;
    match (inline, file) {
        (Some(_), Some(_)) => Err(ConfigError::Conflict(format!(
            "set only one of {} and {}",
            named("janus_secret"),
            named("janus_secret_file")
        ))),
        (Some(secret), None) => Ok(Some(secret)),
        (None, Some((file, origin))) => {
            secret_file_text("janus_secret_file", &file, origin, MIN_SECRET).map(Some)
        }
        (None, None) => Ok(None),
    }
}

pub(super) fn resolve_email(l: &Layers<'_>) -> Result<EmailConfig, ConfigError> {
    let server = l.one("smtp_url", smtp_url)?;
    let security = l.or_default("smtp_tls", smtp_security)?;
    let from = l.one("smtp_from", non_empty_text)?;
    let username = l.one("smtp_username", non_empty_text)?;
    let password = match (
        l.one("smtp_password", secret(1))?,
        l.one_at("smtp_password_file", path)?,
    ) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::Conflict(format!(
                "set only one of {} and {}",
                named("smtp_password"),
                named("smtp_password_file")
            )));
        }
        (Some(secret), None) => Some(secret),
        (None, Some((file, origin))) => {
            Some(secret_file_text("smtp_password_file", &file, origin, 1)?)
        }
        (None, None) => None,
    };
    let public_url = l.one("public_url", public_url)?;
    let digest_hour = l.or_default("email_digest_hour_secs", secs(1, 3600))?;
    let digest_lease = l.or_default("email_digest_lease_secs", secs(1, 3600))?;
    let Some(server) = server else {
        return Ok(EmailConfig {
            smtp: None,
            public_url,
            digest_hour,
            digest_lease,
        });
    };
    if server.implicit_tls && security == SmtpSecurity::None {
        return Err(ConfigError::Conflict(format!(
            "{} is smtps:// (TLS from the start), which {} = none contradicts",
            named("smtp_url"),
            named("smtp_tls")
        )));
    }
    let Some(from) = from else {
        return Err(ConfigError::Conflict(format!(
            "{} needs {}: the sender of the e-mails",
            named("smtp_url"),
            named("smtp_from")
        )));
    };
    if public_url.is_none() {
        return Err(ConfigError::Conflict(format!(
            "{} needs {}: every e-mail links to the app",
            named("smtp_url"),
            named("public_url")
        )));
    }
    if username.is_some() != password.is_some() {
        return Err(ConfigError::Conflict(format!(
            "{} and {} (or {}) go together",
            named("smtp_username"),
            named("smtp_password"),
            named("smtp_password_file")
        )));
    }
    Ok(EmailConfig {
        smtp: Some(SmtpConfig {
            server,
            security,
            from,
            username,
            password,
        }),
        public_url,
        digest_hour,
        digest_lease,
    })
}

pub(super) fn check_combinations(c: &Config) -> Result<(), ConfigError> {
    let conflict = |message: String| Err(ConfigError::Conflict(message));
    if c.ws.idle_timeout <= c.ws.ping_interval {
        return conflict(format!(
            "{} ({}s) must exceed {} ({}s), or healthy peers are dropped between pings",
            named("idle_timeout_secs"),
            c.ws.idle_timeout.as_secs(),
            named("ping_interval_secs"),
            c.ws.ping_interval.as_secs()
        ));
    }
    if c.ws.max_write_buffer_bytes <= c.ws.write_buffer_bytes {
        return conflict(format!(
            "{} must exceed {}",
            named("ws_max_write_buffer_bytes"),
            named("ws_write_buffer_bytes")
        ));
    }
    if c.ws.max_write_buffer_bytes <= c.ws.max_frame_bytes {
        return conflict(format!(
            "{} must exceed {}, or a full-size frame could never be written",
            named("ws_max_write_buffer_bytes"),
            named("max_frame_bytes")
        ));
    }
    if c.ws.max_frame_bytes < MIN_FRAME_BYTES {
        return conflict(format!(
            "{} ({}) must be at least {MIN_FRAME_BYTES}: a message body of the largest size \
             ({} bytes) may arrive with every character escaped as \\uXXXX (6 bytes each), \
             and must then be refused as too long rather than close the socket",
            named("max_frame_bytes"),
            c.ws.max_frame_bytes,
            crate::mentoring::MAX_BODY_BYTES
        ));
    }
    if c.calls.max_sdp_bytes >= c.ws.max_frame_bytes {
        return conflict(format!(
            "{} ({}) must be below {} ({}): an SDP travels inside one frame",
            named("max_sdp_bytes"),
            c.calls.max_sdp_bytes,
            named("max_frame_bytes"),
            c.ws.max_frame_bytes
        ));
    }
    if !c.calls.janus_urls.is_empty() && c.calls.janus_secret.is_none() {
        return conflict(format!(
            "{} needs {} or {}: Janus must refuse requests from anyone else",
            named("janus_urls"),
            named("janus_secret"),
            named("janus_secret_file")
        ));
    }
    if c.calls.mesh_max_participants > c.calls.max_participants {
        return conflict(format!(
            "{} ({}) must not exceed {} ({})",
            named("call_mesh_max_participants"),
            c.calls.mesh_max_participants,
            named("call_max_participants"),
            c.calls.max_participants
        ));
    }
    if c.scale.redis_url.is_some() && !c.scale.redis_cluster_urls.is_empty() {
        return conflict(format!(
            "set only one of {} and {}",
            named("redis_url"),
            named("redis_cluster_urls")
        ));
    }
    Ok(())
}
