//! JWTs for tests, good and deliberately bad: each bad one should be refused with its
//! own `token_*` reason. The RSA key pair is the server's own test data
//! (`server/src/auth/testdata`), never used outside tests.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

pub const RSA_PRIVATE_PEM: &str = include_str!("../../server/src/auth/testdata/rsa-private.pem");
pub const RSA_PUBLIC_PEM: &str = include_str!("../../server/src/auth/testdata/rsa-public.pem");

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64
}

/// Claims for `sub` valid for an hour; change fields to make them bad.
pub fn claims(sub: &str, name: &str, role: &str) -> Value {
    let now = now();
    json!({"sub": sub, "name": name, "roles": [role], "iat": now, "exp": now + 3600})
}

/// HS256 over `claims` with `secret`.
pub fn hs256(secret: &[u8], claims: &Value) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret),
    )
    .expect("HS256 signing")
}

/// RS256 over `claims` with the test RSA private key.
pub fn rs256(claims: &Value) -> String {
    let key = EncodingKey::from_rsa_pem(RSA_PRIVATE_PEM.as_bytes()).expect("the test RSA key");
    jsonwebtoken::encode(&Header::new(Algorithm::RS256), claims, &key).expect("RS256 signing")
}

/// `alg: none` with an empty signature: must never be accepted.
pub fn alg_none(claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{payload}.")
}

/// The classic key-confusion attack: HS256 "signed" with the RSA *public* key's PEM
/// bytes, sent to a server that verifies RS256 with that public key.
pub fn hs256_with_rsa_public_key(claims: &Value) -> String {
    hs256(RSA_PUBLIC_PEM.as_bytes(), claims)
}

/// A valid token whose payload was changed afterwards (the signature no longer fits).
pub fn tampered(token: &str, change: impl FnOnce(&mut Value)) -> String {
    let mut parts = token.split('.');
    let (header, payload, signature) = (
        parts.next().expect("header"),
        parts.next().expect("payload"),
        parts.next().expect("signature"),
    );
    let mut claims: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url payload"))
            .expect("JSON claims");
    change(&mut claims);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{payload}.{signature}")
}
