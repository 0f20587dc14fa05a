//! HS256 token minting: `--dev` logins and the operator's `mentorhub token`.

use std::fmt;
use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use rand::RngCore;
use serde::Serialize;

use super::{Role, Verifier, now_secs};
use crate::ids::AccountId;

/// Issuer of tokens minted by `--dev`, so they are recognisable as such.
pub const DEV_ISSUER: &str = "mentorhub-dev";
const LEEWAY: Duration = Duration::from_secs(60);

/// Signs HS256 tokens with one secret. Cheap to clone.
#[derive(Clone)]
pub struct Minter {
    key: EncodingKey,
    issuer: Option<String>,
    audience: Option<String>,
    verifier: Verifier,
}

impl fmt::Debug for Minter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Minter")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

#[derive(Serialize)]
struct MintedClaims<'a> {
    sub: &'a str,
    name: &'a str,
    roles: Vec<&'static str>,
    iat: i64,
    exp: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    iss: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    aud: Option<&'a str>,
}

impl Minter {
    /// The configuration guarantees secrets of at least 32 bytes; this does not re-check.
    pub fn new(secret: &[u8], issuer: Option<String>, audience: Option<String>) -> Self {
        let verifier = Verifier::new(
            DecodingKey::from_secret(secret),
            Algorithm::HS256,
            "HS256",
            issuer.clone(),
            audience.clone(),
            LEEWAY,
        );
        Minter {
            key: EncodingKey::from_secret(secret),
            issuer,
            audience,
            verifier,
        }
    }

    /// A fresh random 32-byte secret per start: dev tokens die with the process.
    pub fn random_dev() -> Self {
        let mut secret = [0u8; 32];
        rand::rng().fill_bytes(&mut secret);
        Self::new(&secret, Some(DEV_ISSUER.to_owned()), None)
    }

    /// A token for `sub` valid for `ttl` from now. Never log the result.
    pub fn mint(&self, sub: &AccountId, name: &str, roles: &[Role], ttl: Duration) -> String {
        let iat = now_secs();
        let ttl = i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX);
        let mut role_names: Vec<&'static str> = Vec::new();
        for role in roles {
            if !role_names.contains(&role.as_str()) {
                role_names.push(role.as_str());
            }
        }
        let claims = MintedClaims {
            sub: sub.as_str(),
            name,
            roles: role_names,
            iat,
            exp: iat.saturating_add(ttl),
            iss: self.issuer.as_deref(),
            aud: self.audience.as_deref(),
        };
        // HMAC over serialisable claims with an in-memory key cannot fail.
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.key)
            .expect("HS256 signing of plain claims cannot fail")
    }

    /// Verifies exactly what this minter signs (same secret, issuer, audience; 60 s leeway).
    pub fn verifier(&self) -> Verifier {
        self.verifier.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::AuthError;

    fn account() -> AccountId {
        AccountId::parse("acc-7").unwrap()
    }

    #[test]
    fn mints_what_its_verifier_accepts() {
        let minter = Minter::new(
            b"0123456789abcdef0123456789abcdef",
            Some("iss-a".into()),
            Some("aud-a".into()),
        );
        let token = minter.mint(
            &account(),
            "Ada",
            &[Role::Mentee, Role::Mentor, Role::Mentee],
            Duration::from_secs(3600),
        );
        let p = minter.verifier().verify_now(&token).unwrap();
        assert_eq!(p.account, account());
        assert_eq!(p.name, "Ada");
        assert_eq!(p.roles, [Role::Mentee, Role::Mentor]);
        let expected = now_secs() + 3600;
        assert!((p.expires_at - expected).abs() <= 2);
    }

    #[test]
    fn dev_minters_do_not_trust_each_other() {
        let a = Minter::random_dev();
        let b = Minter::random_dev();
        let token = a.mint(&account(), "Ada", &[Role::Mentee], Duration::from_secs(60));
        assert!(a.verifier().verify_now(&token).is_ok());
        assert_eq!(
            b.verifier().verify_now(&token).unwrap_err(),
            AuthError::BadSignature
        );
    }

    #[test]
    fn issuer_and_audience_must_match() {
        let secret = b"0123456789abcdef0123456789abcdef";
        let a = Minter::new(secret, Some("a".into()), None);
        let b = Minter::new(secret, Some("b".into()), None);
        let token = a.mint(&account(), "Ada", &[], Duration::from_secs(60));
        assert_eq!(
            b.verifier().verify_now(&token).unwrap_err(),
            AuthError::WrongIssuer
        );
    }

    #[test]
    fn zero_ttl_expires_after_the_leeway() {
        let minter = Minter::random_dev();
        let token = minter.mint(&account(), "Ada", &[], Duration::ZERO);
        // Still inside the 60 s leeway, so accepted; the exp is now.
        let p = minter.verifier().verify_now(&token).unwrap();
        assert!((p.expires_at - now_secs()).abs() <= 2);
    }

    #[test]
    fn debug_hides_the_secret() {
        let minter = Minter::new(b"super-secret-minter-key-0123456789ab", None, None);
        let debug = format!("{minter:?}");
        assert!(!debug.contains("super-secret"), "{debug}");
    }
}
