//! Configuration errors and how values are named and shown in them.

use std::path::PathBuf;

use super::args::SETTINGS;

/// Settings whose values are never shown, anywhere.
pub(super) const SECRET_SETTINGS: &[&str] = &[
    "jwt_hs256_secret",
    "turn_secret",
    "encryption_keys",
    "janus_secret",
    "smtp_password",
];
/// Settings that are URLs which may carry a password (masked when shown).
pub(super) const URL_SETTINGS: &[&str] = &[
    "database_url",
    "redis_url",
    "redis_cluster_urls",
    "janus_urls",
    "smtp_url",
];

/// Where a value came from, for error messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    Cli,
    Env,
    File(PathBuf),
    /// The setting's default ([`super::defaults`]).
    Default,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// One setting's value is unusable. `value` is already redacted for secrets.
    #[error("invalid setting {}: {value} {reason}", describe(.setting, .origin))]
    Invalid {
        setting: &'static str,
        origin: Origin,
        value: String,
        reason: String,
    },
    /// Settings that are fine alone but do not fit together (the message names them).
    #[error("invalid configuration: {0}")]
    Conflict(String),
    #[error(
        "no authentication configured: set MENTORHUB_JWT_ISSUER (OpenID Connect discovery), \
         MENTORHUB_JWT_JWKS_URL, MENTORHUB_JWT_JWKS_FILE, MENTORHUB_JWT_HS256_SECRET or \
         MENTORHUB_JWT_PUBLIC_KEY_FILE, or run with --dev for local development"
    )]
    NoAuth,
    #[error("unknown setting {key:?} in config file {}{hint}", path.display())]
    UnknownKey {
        key: String,
        path: PathBuf,
        hint: String,
    },
    #[error("cannot read config file {} (--config / MENTORHUB_CONFIG): {source}", path.display())]
    ReadFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The TOML parser's message only: its usual snippet could quote a secret.
    #[error("config file {} is not valid TOML (line {line}, column {column}): {message}", path.display())]
    Toml {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
}

impl ConfigError {
    /// The setting an [`ConfigError::Invalid`] error is about.
    pub fn setting(&self) -> Option<&'static str> {
        match self {
            ConfigError::Invalid { setting, .. } => Some(setting),
            _ => None,
        }
    }
}

pub(super) fn describe(setting: &str, origin: &Origin) -> String {
    match origin {
        Origin::Env => format!("{} ({setting})", env_name(setting)),
        Origin::Cli => format!("{} ({setting})", flag_name(setting)),
        Origin::File(path) => format!("{setting} in config file {}", path.display()),
        Origin::Default => format!("{setting} (its default)"),
    }
}

/// The environment variable of a setting.
pub fn env_name(setting: &str) -> &'static str {
    SETTINGS
        .iter()
        .find(|(name, _)| *name == setting)
        .map(|(_, env)| *env)
        .unwrap_or("MENTORHUB_?")
}

pub(super) fn flag_name(setting: &str) -> String {
    format!("--{}", setting.replace('_', "-"))
}

/// `name (ENV)`, for messages about combinations of settings.
pub(super) fn named(setting: &str) -> String {
    format!("{setting} ({})", env_name(setting))
}

/// How a raw value may appear in an error or in `Debug`.
pub(super) fn shown_value(setting: &str, value: &str) -> String {
    if SECRET_SETTINGS.contains(&setting) {
        return "<redacted>".into();
    }
    let value = if URL_SETTINGS.contains(&setting) {
        value
            .split(',')
            .map(mask_url_password)
            .collect::<Vec<_>>()
            .join(",")
    } else {
        value.to_owned()
    };
    let mut shown: String = value.chars().take(200).collect();
    if shown.len() < value.len() {
        shown.push('…');
    }
    format!("{shown:?}")
}

/// `scheme://user:password@host/…` → `scheme://user:***@host/…`.
pub fn mask_url_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(user, _)| user);
            if userinfo.contains(':') {
                format!("{scheme}://{user}:***@{host}{tail}")
            } else {
                // A lone userinfo is often a password (redis://token@host): mask it too.
                format!("{scheme}://***@{host}{tail}")
            }
        }
        None => url.to_owned(),
    }
}
