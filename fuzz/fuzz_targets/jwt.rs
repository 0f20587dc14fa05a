//! Token verification with arbitrary tokens, as `hello` and `refresh` carry them. It never
//! panics and never accepts a token it should not. The first byte picks the case; the
//! rest is text (`$NOW`, `$SOON`, `$PAST`, `$LATE` in it become Unix times: now, in ten
//! minutes, ten minutes ago, in two hours):
//! - `r` + token: any string, refused by an HS256 verifier and RS256, ES256, EdDSA ones;
//! - `w` + header NUL claims: signed with another secret, refused;
//! - `c` + key byte + header NUL claims: signed HS256 with a public key's PEM as the
//!   secret (algorithm confusion), refused by every public-key verifier;
//! - `t` + two position bytes + replacement byte + header NUL claims: correctly signed,
//!   then one character changed: refused unless nothing changed;
//! - `s` + header NUL claims: correctly signed; accepted only with the one algorithm, no
//!   `crit`, the issuer exactly, times within leeway and lifetime.
#![no_main]

use std::sync::LazyLock;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use libfuzzer_sys::fuzz_target;
use mentorhub::auth::Verifier;
use mentorhub::config::{AuthConfig, JwtAlgorithm, JwtKey, Secret};
use serde_json::{Map, Value, json};
use sha2::Sha256;

const SECRET: &[u8] = b"fuzz-secret-0123456789abcdef-0123456789";
const OTHER_SECRET: &[u8] = b"not-the-secret-0123456789abcdef-0123456";
const ISSUER: &str = "https://idp.example";
const LEEWAY: Duration = Duration::from_secs(5);
const MAX_LIFETIME: Duration = Duration::from_secs(3600);

const PUBLIC_KEYS: [(JwtAlgorithm, &[u8]); 3] = [
    (
        JwtAlgorithm::RS256,
        include_bytes!("../../server/src/auth/testdata/rsa-public.pem"),
    ),
    (
        JwtAlgorithm::ES256,
        include_bytes!("../../server/src/auth/testdata/ec-public.pem"),
    ),
    (
        JwtAlgorithm::EdDSA,
        include_bytes!("../../server/src/auth/testdata/ed-public.pem"),
    ),
];

fn verifier(key: JwtKey) -> Verifier {
    let config = AuthConfig {
        key: Some(key),
        issuer: Some(ISSUER.into()),
        audience: None,
        leeway: LEEWAY,
        max_lifetime: MAX_LIFETIME,
        key_set: Default::default(),
        sign_in: None,
    };
    Verifier::from_config(&config)
        .expect("valid key")
        .expect("a key is configured")
}

static HS256: LazyLock<Verifier> = LazyLock::new(|| verifier(JwtKey::Hs256(Secret::new(SECRET))));
static PUBLIC: LazyLock<Vec<Verifier>> = LazyLock::new(|| {
    PUBLIC_KEYS
        .iter()
        .map(|(algorithm, pem)| {
            verifier(JwtKey::PublicKey {
                algorithm: *algorithm,
                path: "fuzz.pem".into(),
                pem: pem.to_vec(),
            })
        })
        .collect()
});

fn now_secs() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

fn with_times(text: &str, now: i64) -> String {
    text.replace("$NOW", &now.to_string())
        .replace("$SOON", &(now + 600).to_string())
        .replace("$PAST", &(now - 600).to_string())
        .replace("$LATE", &(now + 7200).to_string())
}

fn sign(secret: &[u8], header: &[u8], claims: &[u8]) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims)
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("any key length");
    mac.update(input.as_bytes());
    let signature = mac.finalize().into_bytes();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

fn refused_everywhere(token: &str) {
    assert!(HS256.verify_now(token).is_err(), "accepted: {token}");
    for verifier in PUBLIC.iter() {
        assert!(verifier.verify_now(token).is_err(), "accepted: {token}");
    }
}

/// What an accepted token must have been.
fn check_accepted(
    header: &Map<String, Value>,
    claims: &Map<String, Value>,
    before: f64,
    after: f64,
) {
    assert_eq!(header.get("alg"), Some(&json!("HS256")), "{header:?}");
    assert!(!header.contains_key("crit"), "{header:?}");
    assert_eq!(claims.get("iss"), Some(&json!(ISSUER)), "{claims:?}");
    let leeway = LEEWAY.as_secs_f64();
    let max = MAX_LIFETIME.as_secs_f64();
    let exp = claims
        .get("exp")
        .and_then(Value::as_f64)
        .expect("exp is a number");
    assert!(exp.floor() + leeway > before - 1.0, "expired: {claims:?}");
    assert!(
        exp - after <= max + leeway + 1.0,
        "lives too long: {claims:?}"
    );
    for key in ["iat", "nbf"] {
        if let Some(at) = claims.get(key).filter(|at| !at.is_null()) {
            let at = at.as_f64().expect("a number");
            assert!(
                at <= after + leeway + 1.0,
                "{key} in the future: {claims:?}"
            );
        }
    }
    if let Some(iat) = claims.get("iat").and_then(Value::as_f64) {
        assert!(exp - iat <= max + 1.0, "lives too long: {claims:?}");
    }
}

/// `header NUL claims`, with the times filled in.
fn parts(rest: &str, now: i64) -> (String, String) {
    let (header, claims) = rest.split_once('\0').unwrap_or((rest, "{}"));
    (with_times(header, now), with_times(claims, now))
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let now = now_secs() as i64;
    match mode {
        b'r' => {
            if let Ok(token) = std::str::from_utf8(rest) {
                refused_everywhere(&with_times(token, now));
            }
        }
        b'w' => {
            let Ok(rest) = std::str::from_utf8(rest) else {
                return;
            };
            let (header, claims) = parts(rest, now);
            refused_everywhere(&sign(OTHER_SECRET, header.as_bytes(), claims.as_bytes()));
        }
        b'c' => {
            let Some((&which, rest)) = rest.split_first() else {
                return;
            };
            let Ok(rest) = std::str::from_utf8(rest) else {
                return;
            };
            let (_, pem) = PUBLIC_KEYS[usize::from(which) % PUBLIC_KEYS.len()];
            let (header, claims) = parts(rest, now);
            let token = sign(pem, header.as_bytes(), claims.as_bytes());
            for verifier in PUBLIC.iter() {
                assert!(verifier.verify_now(&token).is_err(), "accepted: {token}");
            }
        }
        b't' => {
            let [high, low, replacement, rest @ ..] = rest else {
                return;
            };
            let Ok(rest) = std::str::from_utf8(rest) else {
                return;
            };
            let (header, claims) = parts(rest, now);
            let token = sign(SECRET, header.as_bytes(), claims.as_bytes());
            let mut bytes = token.clone().into_bytes();
            let at = usize::from(u16::from_be_bytes([*high, *low])) % bytes.len();
            const ALPHABET: &[u8] =
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ ";
            bytes[at] = ALPHABET[usize::from(*replacement) % ALPHABET.len()];
            let tampered = String::from_utf8(bytes).expect("ASCII");
            if tampered != token {
                assert!(
                    HS256.verify_now(&tampered).is_err(),
                    "accepted: {tampered} (from {token})"
                );
            }
        }
        b's' => {
            let Ok(rest) = std::str::from_utf8(rest) else {
                return;
            };
            let (header, claims) = parts(rest, now);
            let token = sign(SECRET, header.as_bytes(), claims.as_bytes());
            let before = now_secs();
            let accepted = HS256.verify_now(&token);
            let after = now_secs();
            if accepted.is_ok() {
                let header: Map<String, Value> =
                    serde_json::from_str(&header).expect("an accepted header is a JSON object");
                let claims: Map<String, Value> =
                    serde_json::from_str(&claims).expect("accepted claims are a JSON object");
                check_accepted(&header, &claims, before, after);
            }
        }
        _ => {}
    }
});
