//! Unit tests of [`super::Verifier`]: every supported algorithm, claim checks and
//! the refusals, with the test-only keys in `auth/testdata`.

use std::path::PathBuf;

use jsonwebtoken::{EncodingKey, Header};
use serde_json::json;

use super::*;
use crate::auth::Role;
use crate::config::Secret;

// Test-only keys, see ../testdata/README.md.
const RSA_PRIVATE: &[u8] = include_bytes!("../testdata/rsa-private.pem");
const RSA_PUBLIC: &[u8] = include_bytes!("../testdata/rsa-public.pem");
const EC_PRIVATE: &[u8] = include_bytes!("../testdata/ec-private.pem");
const EC_PUBLIC: &[u8] = include_bytes!("../testdata/ec-public.pem");
const ED_PRIVATE: &[u8] = include_bytes!("../testdata/ed-private.pem");
const ED_PUBLIC: &[u8] = include_bytes!("../testdata/ed-public.pem");
const HS_SECRET: &[u8] = b"test-only-hs256-secret-0123456789abcdef";
const ISSUER: &str = "https://idp.example";
const AUDIENCE: &str = "mentorhub";

fn now() -> i64 {
    super::super::now_secs()
}

fn auth_config(key: JwtKey, issuer: Option<&str>, audience: Option<&str>) -> AuthConfig {
    AuthConfig {
        key: Some(key),
        issuer: issuer.map(str::to_owned),
        audience: audience.map(str::to_owned),
        leeway: Duration::from_secs(60),
        max_lifetime: crate::config::defaults::jwt_max_lifetime(),
        key_set: Default::default(),
        sign_in: None,
    }
}

fn hs_verifier() -> Verifier {
    let cfg = auth_config(
        JwtKey::Hs256(Secret::new(HS_SECRET)),
        Some(ISSUER),
        Some(AUDIENCE),
    );
    Verifier::from_config(&cfg).unwrap().unwrap()
}

fn public_verifier(algorithm: JwtAlgorithm, pem: &[u8]) -> Verifier {
    let key = JwtKey::PublicKey {
        algorithm,
        path: PathBuf::from("test.pem"),
        pem: pem.to_vec(),
    };
    Verifier::from_config(&auth_config(key, Some(ISSUER), Some(AUDIENCE)))
        .unwrap()
        .unwrap()
}

fn good_claims() -> Value {
    json!({
        "sub": "acc-123",
        "name": "Dr Grace",
        "roles": ["mentor"],
        "email": "grace@example.org",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now(),
        "exp": now() + 600,
    })
}

fn claims_with(changes: Value) -> Value {
    let mut claims = good_claims();
    for (key, value) in changes.as_object().unwrap() {
        if value.is_null() {
            claims.as_object_mut().unwrap().remove(key);
        } else {
            claims[key] = value.clone();
        }
    }
    claims
}

fn sign(alg: Algorithm, key: &EncodingKey, claims: &Value) -> String {
    jsonwebtoken::encode(&Header::new(alg), claims, key).unwrap()
}

fn hs(claims: &Value) -> String {
    sign(
        Algorithm::HS256,
        &EncodingKey::from_secret(HS_SECRET),
        claims,
    )
}

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

#[test]
fn hs256_ok() {
    let p = hs_verifier().verify_now(&hs(&good_claims())).unwrap();
    assert_eq!(p.account.as_str(), "acc-123");
    assert_eq!(p.name, "Dr Grace");
    assert_eq!(p.roles, [Role::Mentor]);
    assert!(p.expires_at > now());
}

#[test]
fn rs256_ok() {
    let token = sign(
        Algorithm::RS256,
        &EncodingKey::from_rsa_pem(RSA_PRIVATE).unwrap(),
        &good_claims(),
    );
    let verifier = public_verifier(JwtAlgorithm::RS256, RSA_PUBLIC);
    assert_eq!(verifier.algorithm(), "RS256");
    assert_eq!(
        verifier.verify_now(&token).unwrap().account.as_str(),
        "acc-123"
    );
}

#[test]
fn es256_ok() {
    let token = sign(
        Algorithm::ES256,
        &EncodingKey::from_ec_pem(EC_PRIVATE).unwrap(),
        &good_claims(),
    );
    let p = public_verifier(JwtAlgorithm::ES256, EC_PUBLIC)
        .verify_now(&token)
        .unwrap();
    assert_eq!(p.name, "Dr Grace");
}

#[test]
fn eddsa_ok() {
    let token = sign(
        Algorithm::EdDSA,
        &EncodingKey::from_ed_pem(ED_PRIVATE).unwrap(),
        &good_claims(),
    );
    let p = public_verifier(JwtAlgorithm::EdDSA, ED_PUBLIC)
        .verify_now(&token)
        .unwrap();
    assert_eq!(p.roles, [Role::Mentor]);
}

#[test]
fn alg_none_is_refused() {
    let header = json!({"alg": "none", "typ": "JWT"});
    let token = format!("{}.{}.", b64(&header), b64(&good_claims()));
    assert_eq!(
        hs_verifier().verify_now(&token).unwrap_err(),
        AuthError::DisallowedAlgorithm
    );
    let rsa = public_verifier(JwtAlgorithm::RS256, RSA_PUBLIC);
    assert_eq!(
        rsa.verify_now(&token).unwrap_err(),
        AuthError::DisallowedAlgorithm
    );
    let header = json!({"alg": "None"});
    let token = format!("{}.{}.", b64(&header), b64(&good_claims()));
    assert_eq!(
        hs_verifier().verify_now(&token).unwrap_err(),
        AuthError::DisallowedAlgorithm
    );
}

#[test]
fn hs256_signed_with_the_public_key_is_refused() {
    // The classic key-confusion attack: the attacker knows the RSA public key and
    // uses its PEM bytes as an HMAC secret.
    let forged = sign(
        Algorithm::HS256,
        &EncodingKey::from_secret(RSA_PUBLIC),
        &good_claims(),
    );
    let rsa = public_verifier(JwtAlgorithm::RS256, RSA_PUBLIC);
    assert_eq!(
        rsa.verify_now(&forged).unwrap_err(),
        AuthError::DisallowedAlgorithm
    );
    let ed_forged = sign(
        Algorithm::HS256,
        &EncodingKey::from_secret(ED_PUBLIC),
        &good_claims(),
    );
    let ed = public_verifier(JwtAlgorithm::EdDSA, ED_PUBLIC);
    assert_eq!(
        ed.verify_now(&ed_forged).unwrap_err(),
        AuthError::DisallowedAlgorithm
    );
}

#[test]
fn other_algorithms_for_the_key_are_refused() {
    let es = sign(
        Algorithm::ES256,
        &EncodingKey::from_ec_pem(EC_PRIVATE).unwrap(),
        &good_claims(),
    );
    let rsa = public_verifier(JwtAlgorithm::RS256, RSA_PUBLIC);
    assert_eq!(
        rsa.verify_now(&es).unwrap_err(),
        AuthError::DisallowedAlgorithm
    );
    let hs512 = sign(
        Algorithm::HS512,
        &EncodingKey::from_secret(HS_SECRET),
        &good_claims(),
    );
    assert_eq!(
        hs_verifier().verify_now(&hs512).unwrap_err(),
        AuthError::DisallowedAlgorithm
    );
    let rs = sign(
        Algorithm::RS256,
        &EncodingKey::from_rsa_pem(RSA_PRIVATE).unwrap(),
        &good_claims(),
    );
    assert_eq!(
        hs_verifier().verify_now(&rs).unwrap_err(),
        AuthError::DisallowedAlgorithm
    );
}

#[test]
fn tampered_payload_is_refused() {
    let token = hs(&good_claims());
    let parts: Vec<&str> = token.split('.').collect();
    let escalated = claims_with(json!({"roles": ["coordinator"]}));
    let tampered = format!("{}.{}.{}", parts[0], b64(&escalated), parts[2]);
    assert_eq!(
        hs_verifier().verify_now(&tampered).unwrap_err(),
        AuthError::BadSignature
    );

    let rs = sign(
        Algorithm::RS256,
        &EncodingKey::from_rsa_pem(RSA_PRIVATE).unwrap(),
        &good_claims(),
    );
    let parts: Vec<&str> = rs.split('.').collect();
    let tampered = format!("{}.{}.{}", parts[0], b64(&escalated), parts[2]);
    let rsa = public_verifier(JwtAlgorithm::RS256, RSA_PUBLIC);
    assert_eq!(
        rsa.verify_now(&tampered).unwrap_err(),
        AuthError::BadSignature
    );
}

#[test]
fn wrong_secret_is_a_bad_signature() {
    let token = sign(
        Algorithm::HS256,
        &EncodingKey::from_secret(b"another-secret-of-sufficient-length!!"),
        &good_claims(),
    );
    assert_eq!(
        hs_verifier().verify_now(&token).unwrap_err(),
        AuthError::BadSignature
    );
}

#[test]
fn expiry_with_leeway() {
    let v = hs_verifier();
    let expired = hs(&claims_with(json!({"exp": now() - 120})));
    assert_eq!(v.verify_now(&expired).unwrap_err(), AuthError::Expired);
    let within_leeway = hs(&claims_with(json!({"exp": now() - 30})));
    assert!(v.verify_now(&within_leeway).is_ok());
}

#[test]
fn not_before_with_leeway() {
    let v = hs_verifier();
    let future = hs(&claims_with(json!({"nbf": now() + 120})));
    assert_eq!(v.verify_now(&future).unwrap_err(), AuthError::NotYetValid);
    let within_leeway = hs(&claims_with(json!({"nbf": now() + 30})));
    assert!(v.verify_now(&within_leeway).is_ok());
    let past = hs(&claims_with(json!({"nbf": now() - 30})));
    assert!(v.verify_now(&past).is_ok());
}

#[test]
fn issuer_is_exact_and_required() {
    let v = hs_verifier();
    let wrong = hs(&claims_with(json!({"iss": "https://evil.example"})));
    assert_eq!(v.verify_now(&wrong).unwrap_err(), AuthError::WrongIssuer);
    let prefix = hs(&claims_with(json!({"iss": "https://idp.example/"})));
    assert_eq!(v.verify_now(&prefix).unwrap_err(), AuthError::WrongIssuer);
    let list = hs(&claims_with(json!({"iss": [ISSUER, "other"]})));
    assert_eq!(v.verify_now(&list).unwrap_err(), AuthError::WrongIssuer);
    let missing = hs(&claims_with(json!({"iss": null})));
    assert_eq!(
        v.verify_now(&missing).unwrap_err(),
        AuthError::MissingClaim("iss")
    );
}

#[test]
fn audience_is_checked_and_required() {
    let v = hs_verifier();
    let wrong = hs(&claims_with(json!({"aud": "another-app"})));
    assert_eq!(v.verify_now(&wrong).unwrap_err(), AuthError::WrongAudience);
    let list = hs(&claims_with(json!({"aud": ["another-app", AUDIENCE]})));
    assert!(
        v.verify_now(&list).is_ok(),
        "aud may be an array containing ours"
    );
    let missing = hs(&claims_with(json!({"aud": null})));
    assert_eq!(
        v.verify_now(&missing).unwrap_err(),
        AuthError::MissingClaim("aud")
    );
}

#[test]
fn without_configured_iss_and_aud() {
    let cfg = auth_config(JwtKey::Hs256(Secret::new(HS_SECRET)), None, None);
    let v = Verifier::from_config(&cfg).unwrap().unwrap();
    let plain = hs(&claims_with(json!({"iss": null, "aud": null})));
    assert!(v.verify_now(&plain).is_ok());
    let any_issuer = hs(&claims_with(json!({"iss": "whoever", "aud": null})));
    assert!(v.verify_now(&any_issuer).is_ok());
    // RFC 7519: a token addressed to an audience we do not claim to be is refused.
    let with_aud = hs(&claims_with(json!({"iss": null})));
    assert_eq!(
        v.verify_now(&with_aud).unwrap_err(),
        AuthError::WrongAudience
    );
}

#[test]
fn missing_and_invalid_claims() {
    let v = hs_verifier();
    let cases = [
        (json!({"exp": null}), AuthError::MissingClaim("exp")),
        (json!({"sub": null}), AuthError::MissingClaim("sub")),
        (json!({"name": null}), AuthError::MissingClaim("name")),
        (json!({"name": "a\nb"}), AuthError::InvalidClaim("name")),
        (json!({"sub": ""}), AuthError::InvalidClaim("sub")),
        (json!({"roles": 7}), AuthError::InvalidClaim("roles")),
        (json!({"nbf": "soon"}), AuthError::InvalidClaim("nbf")),
    ];
    for (change, expected) in cases {
        let token = hs(&claims_with(change.clone()));
        assert_eq!(v.verify_now(&token).unwrap_err(), expected, "{change}");
    }
}

#[test]
fn malformed_tokens() {
    let v = hs_verifier();
    let good = hs(&good_claims());
    let parts: Vec<&str> = good.split('.').collect();
    let cases = [
        String::new(),
        "abc".into(),
        "a.b".into(),
        format!("{good}.extra"),
        format!("!!!.{}.{}", parts[1], parts[2]),
        format!("{}.{}.{}", b64(&json!("not an object")), parts[1], parts[2]),
        format!("{}.{}.{}", b64(&json!({"typ": "JWT"})), parts[1], parts[2]),
        format!(
            "{}.{}.{}",
            b64(&json!({"alg": "HS256", "crit": ["exp"]})),
            parts[1],
            parts[2]
        ),
        "x".repeat(MAX_TOKEN_BYTES + 1),
    ];
    for token in cases {
        assert_eq!(
            v.verify_now(&token).unwrap_err(),
            AuthError::Malformed,
            "{token:.60}"
        );
    }
    // A validly signed payload that is not JSON.
    let header = b64(&json!({"alg": "HS256", "typ": "JWT"}));
    let payload = URL_SAFE_NO_PAD.encode(b"not json");
    let signing_input = format!("{header}.{payload}");
    let signature = jsonwebtoken::crypto::sign(
        signing_input.as_bytes(),
        &EncodingKey::from_secret(HS_SECRET),
        Algorithm::HS256,
    )
    .unwrap();
    let token = format!("{signing_input}.{signature}");
    assert_eq!(v.verify_now(&token).unwrap_err(), AuthError::Malformed);
}

#[test]
fn public_key_must_match_the_algorithm() {
    for (algorithm, pem) in [
        (JwtAlgorithm::EdDSA, RSA_PUBLIC),
        (JwtAlgorithm::RS256, EC_PUBLIC),
        (JwtAlgorithm::ES256, ED_PUBLIC),
        (JwtAlgorithm::RS256, b"not a pem".as_slice()),
    ] {
        let key = JwtKey::PublicKey {
            algorithm,
            path: PathBuf::from("k.pem"),
            pem: pem.to_vec(),
        };
        assert!(Verifier::from_config(&auth_config(key, None, None)).is_err());
    }
    let none = AuthConfig {
        key: None,
        issuer: None,
        audience: None,
        leeway: Duration::from_secs(60),
        max_lifetime: crate::config::defaults::jwt_max_lifetime(),
        key_set: Default::default(),
        sign_in: None,
    };
    assert!(Verifier::from_config(&none).unwrap().is_none());
}

#[test]
fn debug_shows_no_key_material() {
    let debug = format!("{:?}", hs_verifier());
    assert!(debug.contains("HS256"));
    assert!(!debug.contains("test-only-hs256-secret"), "{debug}");
}
