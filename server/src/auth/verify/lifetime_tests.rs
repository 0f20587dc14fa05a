//! Unit tests of the token times jsonwebtoken does not check: expiry to the
//! millisecond, `iat` in the future, and the longest accepted lifetime.

use jsonwebtoken::{EncodingKey, Header};
use serde_json::json;

use super::*;

const SECRET: &[u8] = b"test-only-lifetime-secret-0123456789abcdef";
const LEEWAY: Duration = Duration::from_secs(60);
/// A fixed "now" (Unix seconds), so every boundary is exact.
const NOW: i64 = 4_000_000_000;

fn verifier(max_lifetime: Duration) -> Verifier {
    Verifier::new(
        DecodingKey::from_secret(SECRET),
        Algorithm::HS256,
        "HS256",
        None,
        None,
        LEEWAY,
    )
    .with_max_lifetime(max_lifetime)
}

fn token(claims: Value) -> String {
    let mut all = json!({"sub": "acc-1", "name": "Ada", "roles": ["mentee"]});
    for (key, value) in claims.as_object().unwrap() {
        all[key] = value.clone();
    }
    jsonwebtoken::encode(&Header::default(), &all, &EncodingKey::from_secret(SECRET)).unwrap()
}

fn at(token: &str, now_ms: i64) -> Result<Principal, AuthError> {
    verifier(Duration::from_secs(3600)).verify_at(token, now_ms)
}

#[test]
fn expiry_is_exact_to_the_millisecond() {
    let t = token(json!({"iat": NOW - 60, "exp": NOW}));
    let closes_at = (NOW + 60) * 1000; // exp + leeway: when a live session is closed
    assert!(at(&t, closes_at - 1).is_ok());
    assert_eq!(at(&t, closes_at).unwrap_err(), AuthError::Expired);
    assert_eq!(at(&t, closes_at + 400).unwrap_err(), AuthError::Expired);
}

#[test]
fn a_fractional_exp_counts_from_its_whole_second() {
    // The session timer uses whole seconds; refusing from the same instant leaves no
    // window in which a closed session's token works again.
    let t = token(json!({"exp": NOW as f64 + 0.9}));
    assert_eq!(at(&t, (NOW + 60) * 1000).unwrap_err(), AuthError::Expired);
}

#[test]
fn iat_beyond_the_leeway_is_refused() {
    let within = token(json!({"iat": NOW + 59, "exp": NOW + 600}));
    assert!(at(&within, NOW * 1000).is_ok());
    let beyond = token(json!({"iat": NOW + 61, "exp": NOW + 600}));
    assert_eq!(at(&beyond, NOW * 1000).unwrap_err(), AuthError::NotYetValid);
    let garbage = token(json!({"iat": "yesterday", "exp": NOW + 600}));
    assert_eq!(
        at(&garbage, NOW * 1000).unwrap_err(),
        AuthError::InvalidClaim("iat")
    );
}

#[test]
fn lifetime_is_capped_with_or_without_iat() {
    let hour = token(json!({"iat": NOW, "exp": NOW + 3600}));
    assert!(at(&hour, NOW * 1000).is_ok());
    let longer = token(json!({"iat": NOW, "exp": NOW + 3601}));
    assert_eq!(
        at(&longer, NOW * 1000).unwrap_err(),
        AuthError::LifetimeTooLong
    );
    // Without iat, what is left of the token counts (within the leeway).
    let far = token(json!({"exp": 253_402_300_799_i64})); // 9999-12-31
    assert_eq!(
        at(&far, NOW * 1000).unwrap_err(),
        AuthError::LifetimeTooLong
    );
    let near = token(json!({"exp": NOW + 3600 + 60}));
    assert!(at(&near, NOW * 1000).is_ok());
    // An old iat cannot launder a long token: exp − iat is what counts.
    let laundered = token(json!({"iat": NOW - 7200, "exp": NOW + 600}));
    assert_eq!(
        at(&laundered, NOW * 1000).unwrap_err(),
        AuthError::LifetimeTooLong
    );
}
