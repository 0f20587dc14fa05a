//! Token verification: with one key bound to one algorithm, or with the identity
//! provider's key set, where each key is bound to its own.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

use super::key_set::SetKey;
use super::{AuthError, Principal, ProviderKeys, claims};
use crate::config::{AuthConfig, ConfigError, JwtAlgorithm, JwtKey};

/// Tokens longer than this are refused unread (identity providers with many group claims
/// stay well below; the WebSocket frame limit is larger).
const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// Verifies tokens; cheap to clone and share between tasks.
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

#[derive(Clone)]
struct Inner {
    keys: Keys,
    issuer: Option<String>,
    validation: Validation,
    /// Clock skew allowed on `exp`, `nbf` and `iat`, compared in milliseconds.
    leeway: Duration,
    /// A token may not live longer than this (`exp` − `iat`, and `exp` − now).
    max_lifetime: Duration,
}

/// What signatures are checked with.
#[derive(Clone)]
enum Keys {
    /// One key, one algorithm.
    Single(SetKey),
    /// The identity provider's set: the token's `kid` picks the key.
    Provider(Arc<ProviderKeys>),
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("algorithm", &self.algorithm())
            .field("issuer", &self.inner.issuer)
            .field("audience", &self.inner.validation.aud)
            .field("leeway_secs", &self.inner.validation.leeway)
            .field("max_lifetime", &self.inner.max_lifetime)
            .finish_non_exhaustive()
    }
}

/// Parses an identity provider's PEM public key for the algorithm it is bound to. The
/// error is a reason phrase for configuration messages.
pub(crate) fn public_decoding_key(
    algorithm: JwtAlgorithm,
    pem: &[u8],
) -> Result<DecodingKey, String> {
    let (key, kind) = match algorithm {
        JwtAlgorithm::RS256 => (DecodingKey::from_rsa_pem(pem), "an RSA"),
        JwtAlgorithm::ES256 => (DecodingKey::from_ec_pem(pem), "an EC (P-256)"),
        JwtAlgorithm::EdDSA => (DecodingKey::from_ed_pem(pem), "an Ed25519"),
    };
    key.map_err(|_| {
        format!(
            "is not {kind} public key in PEM form, as {} needs",
            algorithm.as_str()
        )
    })
}

impl Verifier {
    /// The verifier for the configured key; `None` when none is configured (dev mode).
    pub fn from_config(auth: &AuthConfig) -> Result<Option<Verifier>, ConfigError> {
        let (key, algorithm, name) = match &auth.key {
            None => return Ok(None),
            Some(JwtKey::KeySet(source)) => {
                let keys = ProviderKeys::new(source, auth.key_set).map_err(|reason| {
                    ConfigError::Conflict(format!("the identity provider's key set: {reason}"))
                })?;
                let verifier = Verifier::with_keys(
                    Keys::Provider(Arc::new(keys)),
                    auth.issuer.clone(),
                    auth.audience.clone(),
                    auth.leeway,
                );
                return Ok(Some(verifier.with_max_lifetime(auth.max_lifetime)));
            }
            Some(JwtKey::Hs256(secret)) => (
                DecodingKey::from_secret(secret.expose()),
                Algorithm::HS256,
                "HS256",
            ),
            Some(JwtKey::PublicKey {
                algorithm,
                pem,
                path,
            }) => {
                let key = public_decoding_key(*algorithm, pem).map_err(|reason| {
                    ConfigError::Conflict(format!(
                        "jwt_public_key_file (MENTORHUB_JWT_PUBLIC_KEY_FILE) {}: {reason}",
                        path.display()
                    ))
                })?;
                let jwt_algorithm = match algorithm {
                    JwtAlgorithm::RS256 => Algorithm::RS256,
                    JwtAlgorithm::ES256 => Algorithm::ES256,
                    JwtAlgorithm::EdDSA => Algorithm::EdDSA,
                };
                (key, jwt_algorithm, algorithm.as_str())
            }
        };
        Ok(Some(
            Verifier::new(
                key,
                algorithm,
                name,
                auth.issuer.clone(),
                auth.audience.clone(),
                auth.leeway,
            )
            .with_max_lifetime(auth.max_lifetime),
        ))
    }

    pub(super) fn new(
        key: DecodingKey,
        algorithm: Algorithm,
        algorithm_name: &'static str,
        issuer: Option<String>,
        audience: Option<String>,
        leeway: Duration,
    ) -> Verifier {
        let key = SetKey {
            key,
            algorithm,
            algorithm_name,
        };
        Verifier::with_keys(Keys::Single(key), issuer, audience, leeway)
    }

    fn with_keys(
        keys: Keys,
        issuer: Option<String>,
        audience: Option<String>,
        leeway: Duration,
    ) -> Verifier {
        // The algorithm is set per token, from the key that verifies it.
        let mut validation = Validation::new(Algorithm::RS256);
        validation.leeway = leeway.as_secs();
        // jsonwebtoken ignores nbf unless asked.
        validation.validate_nbf = true;
        validation.validate_exp = true;
        let mut required = vec!["exp"];
        if let Some(issuer) = &issuer {
            validation.set_issuer(&[issuer]);
            required.push("iss");
        }
        if let Some(audience) = &audience {
            validation.set_audience(&[audience]);
            required.push("aud");
        }
        validation.set_required_spec_claims(&required);
        Verifier {
            inner: Arc::new(Inner {
                keys,
                issuer,
                validation,
                leeway,
                // Until configured: the setting's default.
                max_lifetime: crate::config::defaults::jwt_max_lifetime(),
            }),
        }
    }

    /// The same verifier with another longest accepted lifetime.
    pub fn with_max_lifetime(mut self, max_lifetime: Duration) -> Verifier {
        Arc::make_mut(&mut self.inner).max_lifetime = max_lifetime;
        self
    }

    /// The algorithm tokens must be signed with (`"HS256"`, `"RS256"`, `"ES256"`, `"EdDSA"`),
    /// or `"JWKS"`: each key of the provider's set with its own.
    pub fn algorithm(&self) -> &'static str {
        match &self.inner.keys {
            Keys::Single(key) => key.algorithm_name,
            Keys::Provider(_) => "JWKS",
        }
    }

    /// With an identity provider's key set: fetches it now (see [`ProviderKeys::prefetch`]).
    pub async fn prefetch_keys(&self) {
        if let Keys::Provider(keys) = &self.inner.keys {
            keys.prefetch().await;
        }
    }

    /// Checks signature, algorithm, exp/nbf/iat (with leeway) and the lifetime, iss/aud,
    /// then the claims. With a key set, a token naming an unknown `kid` may wait for one
    /// fetch of the provider's keys.
    pub async fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        let header = read_header(token)?;
        let key = match &self.inner.keys {
            Keys::Single(key) => key.clone(),
            Keys::Provider(keys) => {
                // Never fetch for a token that no key of a set could verify anyway.
                if !matches!(header.alg.as_str(), "RS256" | "ES256" | "EdDSA") {
                    return Err(AuthError::DisallowedAlgorithm);
                }
                keys.key(header.kid.as_deref()).await?
            }
        };
        self.verify_with(token, &header, &key, crate::ids::now_millis())
    }

    /// As [`Verifier::verify`], with the keys at hand only: never fetches.
    pub fn verify_now(&self, token: &str) -> Result<Principal, AuthError> {
        let header = read_header(token)?;
        let key = match &self.inner.keys {
            Keys::Single(key) => key.clone(),
            Keys::Provider(_) => return Err(AuthError::KeysUnavailable),
        };
        self.verify_with(token, &header, &key, crate::ids::now_millis())
    }

    #[cfg(test)]
    fn verify_at(&self, token: &str, now_ms: i64) -> Result<Principal, AuthError> {
        let header = read_header(token)?;
        let Keys::Single(key) = &self.inner.keys else {
            return Err(AuthError::KeysUnavailable);
        };
        self.verify_with(token, &header, key, now_ms)
    }

    fn verify_with(
        &self,
        token: &str,
        header: &Header,
        key: &SetKey,
        now_ms: i64,
    ) -> Result<Principal, AuthError> {
        let inner = &*self.inner;
        // The key's own algorithm, byte for byte: never `none`, never HS256 with a public key.
        if header.alg != key.algorithm_name {
            return Err(AuthError::DisallowedAlgorithm);
        }
        let mut validation = inner.validation.clone();
        validation.algorithms = vec![key.algorithm];
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, &key.key, &validation)
            .map_err(|e| map_error(e.kind()))?;
        debug_assert_eq!(data.header.alg, key.algorithm);
        // jsonwebtoken accepts an `iss` array that merely contains ours; we want exact.
        if let Some(issuer) = &inner.issuer
            && data.claims.get("iss").and_then(Value::as_str) != Some(issuer.as_str())
        {
            return Err(AuthError::WrongIssuer);
        }
        let principal = claims::principal(&data.claims)?;
        self.check_times(&principal, &data.claims, now_ms)?;
        Ok(principal)
    }

    /// What jsonwebtoken leaves out: it compares `exp` in whole seconds (a token closed
    /// for expiry would work again for up to a second), ignores `iat`, and has no
    /// notion of a longest lifetime. A session is closed at `expires_at` + leeway to the
    /// millisecond, and a token is refused from that same instant.
    fn check_times(
        &self,
        principal: &Principal,
        claims: &Map<String, Value>,
        now_ms: i64,
    ) -> Result<(), AuthError> {
        let leeway_ms = self.inner.leeway.as_millis() as i64;
        let max_ms = self.inner.max_lifetime.as_millis() as i64;
        let exp_ms = principal.expires_at.saturating_mul(1000);
        if now_ms >= exp_ms.saturating_add(leeway_ms) {
            return Err(AuthError::Expired);
        }
        if exp_ms.saturating_sub(now_ms) > max_ms.saturating_add(leeway_ms) {
            return Err(AuthError::LifetimeTooLong);
        }
        if let Some(iat) = claims.get("iat") {
            let iat_ms = iat
                .as_f64()
                .filter(|x| x.is_finite())
                .map(|secs| (secs * 1000.0) as i64)
                .ok_or(AuthError::InvalidClaim("iat"))?;
            if iat_ms > now_ms.saturating_add(leeway_ms) {
                return Err(AuthError::NotYetValid);
            }
            if exp_ms.saturating_sub(iat_ms) > max_ms {
                return Err(AuthError::LifetimeTooLong);
            }
        }
        Ok(())
    }
}

/// What the token's header says, read before any signature check.
struct Header {
    alg: String,
    kid: Option<String>,
}

/// Reads the header ourselves so an algorithm jsonwebtoken cannot even name (`none`)
/// is reported as an algorithm refusal rather than a parse error, and refuses headers
/// with critical extensions we do not implement (RFC 7515 §4.1.11).
fn read_header(token: &str) -> Result<Header, AuthError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(AuthError::Malformed);
    }
    let mut parts = token.split('.');
    let (Some(header), Some(_payload), Some(_signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(AuthError::Malformed);
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| AuthError::Malformed)?;
    let header: Map<String, Value> =
        serde_json::from_slice(&bytes).map_err(|_| AuthError::Malformed)?;
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .ok_or(AuthError::Malformed)?;
    if header.contains_key("crit") {
        return Err(AuthError::Malformed);
    }
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(kid)) if kid.len() <= 256 => Some(kid.clone()),
        Some(_) => return Err(AuthError::Malformed),
    };
    Ok(Header {
        alg: alg.to_owned(),
        kid,
    })
}

fn map_error(kind: &ErrorKind) -> AuthError {
    match kind {
        ErrorKind::InvalidSignature
        | ErrorKind::InvalidEcdsaKey
        | ErrorKind::InvalidEddsaKey
        | ErrorKind::InvalidRsaKey(_) => AuthError::BadSignature,
        ErrorKind::ExpiredSignature => AuthError::Expired,
        ErrorKind::ImmatureSignature => AuthError::NotYetValid,
        ErrorKind::InvalidIssuer => AuthError::WrongIssuer,
        ErrorKind::InvalidAudience => AuthError::WrongAudience,
        ErrorKind::InvalidAlgorithm
        | ErrorKind::MissingAlgorithm
        | ErrorKind::UnsupportedAlgorithm
        | ErrorKind::InvalidAlgorithmName => AuthError::DisallowedAlgorithm,
        ErrorKind::MissingRequiredClaim(claim) => AuthError::MissingClaim(static_claim(claim)),
        ErrorKind::InvalidClaimFormat(claim) => AuthError::InvalidClaim(static_claim(claim)),
        ErrorKind::InvalidSubject => AuthError::InvalidClaim("sub"),
        _ => AuthError::Malformed,
    }
}

fn static_claim(claim: &str) -> &'static str {
    match claim {
        "exp" => "exp",
        "nbf" => "nbf",
        "iss" => "iss",
        "aud" => "aud",
        "sub" => "sub",
        "iat" => "iat",
        _ => "claim",
    }
}

#[cfg(test)]
mod lifetime_tests;
#[cfg(test)]
mod tests;
