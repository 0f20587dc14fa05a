//! Authentication: a JWT from the institution's identity provider becomes a [`Principal`].
//!
//! - [`Verifier`] checks tokens against the configured key (HS256 secret, or an RS256 /
//!   ES256 / EdDSA public key), which is bound to exactly one algorithm: a token whose
//!   header names any other algorithm (`none`, or HS256 "signed" with the public key) is
//!   refused before any signature check. Or against the identity provider's key set
//!   ([`ProviderKeys`]: OpenID Connect discovery, a JWKS URL or file), where the token's
//!   `kid` selects the key and the key's own algorithm is the only one accepted.
//! - [`Minter`] signs HS256 tokens: per-start random secret for `--dev`, the configured
//!   secret for `mentorhub token`.
//!
//! Claims used: `sub` (account id), `name` (display name), `roles` (array of strings; a
//! single `role` string is accepted too; unknown roles are ignored), `exp` (required,
//! compared to the millisecond), `nbf` and `iat` (checked when present: neither may lie
//! beyond the leeway in the future), `iss` / `aud` (required and exact when configured).
//! A token may live at most `jwt_max_lifetime_secs` (`exp` − `iat`, and `exp` − now).
//! Everything else (e-mail, groups, …) is ignored and never stored.
//!
//! Audience: per RFC 7519 §4.1.3 a token that carries `aud` is refused when no audience
//! is configured — set `jwt_audience` to what your identity provider puts there.
//!
//! Nothing here logs; callers must never log a token either (only [`AuthError::code`]).

mod claims;
mod key_set;
mod mint;
mod provider_keys;
mod verify;

pub(crate) use verify::public_decoding_key;

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::ids::AccountId;

pub use key_set::KeySet;
pub use mint::{DEV_ISSUER, Minter};
pub use provider_keys::ProviderKeys;
pub use verify::Verifier;

/// What an account may do. Granted only by the identity provider's token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Mentee,
    Mentor,
    Coordinator,
    Safeguarding,
}

impl Role {
    pub const ALL: [Role; 4] = [
        Role::Mentee,
        Role::Mentor,
        Role::Coordinator,
        Role::Safeguarding,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Mentee => "mentee",
            Role::Mentor => "mentor",
            Role::Coordinator => "coordinator",
            Role::Safeguarding => "safeguarding",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = String;

    /// Case-insensitive: identity providers are not consistent about case.
    fn from_str(s: &str) -> Result<Self, String> {
        Role::ALL
            .into_iter()
            .find(|role| role.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                format!("unknown role {s:?} (mentee, mentor, coordinator, safeguarding)")
            })
    }
}

/// An authenticated account, as far as this server knows it.
#[derive(Clone, Debug)]
pub struct Principal {
    pub account: AccountId,
    pub name: String,
    /// Distinct, in the token's order.
    pub roles: Vec<Role>,
    /// The token's `exp`, Unix seconds: the session must be refreshed before then.
    pub expires_at: i64,
    /// The token's `email`, when it carries a plausible one its provider has not
    /// marked unverified: where the e-mail digest goes, if the account chose one.
    pub email: Option<EmailAddress>,
}

/// An e-mail address from a token. Personal data: `Debug` never shows it, and it is
/// never logged; the store keeps it sealed.
#[derive(Clone, PartialEq, Eq)]
pub struct EmailAddress(String);

impl EmailAddress {
    /// Longest address (RFC 5321's path limit less the angle brackets).
    const MAX_BYTES: usize = 254;

    /// A plain `local@domain`: one `@`, both sides non-empty, no spaces, controls,
    /// quotes or the characters that would let it carry a second address or header.
    pub fn parse(raw: &str) -> Option<EmailAddress> {
        let raw = raw.trim();
        let (local, domain) = raw.split_once('@')?;
        let plain = |part: &str| {
            !part.is_empty()
                && part.chars().all(|c| {
                    !c.is_whitespace()
                        && !c.is_control()
                        && !matches!(c, '@' | '<' | '>' | ',' | ';' | '"' | '\\' | '(' | ')')
                })
        };
        let ok =
            raw.len() <= Self::MAX_BYTES && plain(local) && plain(domain) && domain.contains('.');
        ok.then(|| EmailAddress(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EmailAddress(<redacted>)")
    }
}

/// The account as the client is told it: in `welcome` and `GET /api/me`.
impl From<&Principal> for crate::protocol::server::AccountView {
    fn from(principal: &Principal) -> Self {
        crate::protocol::server::AccountView {
            id: principal.account.as_str().to_owned(),
            name: principal.name.clone(),
            roles: principal
                .roles
                .iter()
                .map(|r| r.as_str().to_owned())
                .collect(),
        }
    }
}

impl Principal {
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}

/// Why a token was refused. Display texts are safe to send to the client and to log;
/// they never contain the token or its claims.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("token is malformed")]
    Malformed,
    #[error("token signature is invalid")]
    BadSignature,
    #[error("token has expired")]
    Expired,
    #[error("token is not valid yet")]
    NotYetValid,
    #[error("token issuer is not accepted")]
    WrongIssuer,
    #[error("token audience is not accepted")]
    WrongAudience,
    #[error("token algorithm is not accepted")]
    DisallowedAlgorithm,
    #[error("token lacks the {0} claim")]
    MissingClaim(&'static str),
    #[error("token has an invalid {0} claim")]
    InvalidClaim(&'static str),
    #[error("token lives longer than this server accepts")]
    LifetimeTooLong,
    /// The token names a key the identity provider does not publish (even after a refetch
    /// within the budget): forged, or signed with a key rotated out.
    #[error("token is signed with a key the identity provider does not publish")]
    UnknownKey,
    /// The identity provider's keys have never been fetched successfully.
    #[error("the identity provider's keys are not available yet")]
    KeysUnavailable,
}

impl AuthError {
    /// Stable snake_case code for error frames, HTTP bodies and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            AuthError::Malformed => "token_malformed",
            AuthError::BadSignature => "token_bad_signature",
            AuthError::Expired => "token_expired",
            AuthError::NotYetValid => "token_not_yet_valid",
            AuthError::WrongIssuer => "token_wrong_issuer",
            AuthError::WrongAudience => "token_wrong_audience",
            AuthError::DisallowedAlgorithm => "token_algorithm",
            AuthError::MissingClaim(_) => "token_missing_claim",
            AuthError::InvalidClaim(_) => "token_invalid_claim",
            AuthError::LifetimeTooLong => "token_lifetime",
            AuthError::UnknownKey => "token_unknown_key",
            AuthError::KeysUnavailable => "token_keys_unavailable",
        }
    }
}

/// Longest accepted token lifetime for minted tokens.
const MAX_TTL: Duration = Duration::from_secs(365 * 24 * 3600);

/// Parses a lifetime like `90s`, `15m`, `1h`, `7d` (positive, at most 365 days).
pub fn parse_ttl(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let err = || format!("invalid lifetime {s:?}: use a number and a unit, e.g. 90s, 15m, 1h, 7d");
    let unit_at = s.find(|c: char| !c.is_ascii_digit()).ok_or_else(err)?;
    let (number, unit) = s.split_at(unit_at);
    let number: u64 = number.parse().map_err(|_| err())?;
    let unit_secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(err()),
    };
    let secs = number.checked_mul(unit_secs).ok_or_else(err)?;
    let ttl = Duration::from_secs(secs);
    if ttl.is_zero() || ttl > MAX_TTL {
        return Err(format!(
            "invalid lifetime {s:?}: must be above 0 and at most 365d"
        ));
    }
    Ok(ttl)
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_parsing() {
        assert_eq!(parse_ttl("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_ttl("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_ttl("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_ttl("7d"), Ok(Duration::from_secs(7 * 86_400)));
        for bad in [
            "",
            "h",
            "1",
            "1x",
            "0s",
            "-1h",
            "1.5h",
            "400d",
            "99999999999999999999d",
        ] {
            assert!(parse_ttl(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn roles_parse_and_serialize_lowercase() {
        assert_eq!("Mentor".parse::<Role>(), Ok(Role::Mentor));
        assert!("admin".parse::<Role>().is_err());
        assert_eq!(
            serde_json::to_string(&Role::Safeguarding).unwrap(),
            "\"safeguarding\""
        );
        for role in Role::ALL {
            assert_eq!(role.to_string().parse::<Role>(), Ok(role));
        }
    }

    #[test]
    fn error_codes_are_stable_and_distinct() {
        let all = [
            AuthError::Malformed,
            AuthError::BadSignature,
            AuthError::Expired,
            AuthError::NotYetValid,
            AuthError::WrongIssuer,
            AuthError::WrongAudience,
            AuthError::DisallowedAlgorithm,
            AuthError::MissingClaim("exp"),
            AuthError::InvalidClaim("name"),
            AuthError::LifetimeTooLong,
            AuthError::UnknownKey,
            AuthError::KeysUnavailable,
        ];
        let codes: std::collections::HashSet<_> = all.iter().map(AuthError::code).collect();
        assert_eq!(codes.len(), all.len());
        assert!(
            codes.iter().all(|c| c.starts_with("token_")
                && c.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
        );
        assert_eq!(AuthError::Expired.code(), "token_expired");
    }
}
