//! [`ProviderKeys`] against a real HTTP server on loopback that plays the identity
//! provider's discovery and key set endpoints, counting fetches and failing on demand.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::json;

use super::*;
use crate::auth::Verifier;
use crate::config::{AuthConfig, JwtKey};

// Test-only keys, see ../testdata/README.md.
const RSA_PRIVATE: &[u8] = include_bytes!("../testdata/rsa-private.pem");
const EC_PRIVATE: &[u8] = include_bytes!("../testdata/ec-private.pem");

struct Provider {
    issuer: String,
    jwks: std::sync::Mutex<serde_json::Value>,
    fetches: AtomicU64,
    down: AtomicBool,
    cache_control: std::sync::Mutex<&'static str>,
}

async fn discovery(State(p): State<Arc<Provider>>) -> Response {
    if p.down.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    axum::Json(json!({
        "issuer": p.issuer,
        "jwks_uri": format!("{}/jwks", p.issuer),
    }))
    .into_response()
}

async fn jwks(State(p): State<Arc<Provider>>) -> Response {
    p.fetches.fetch_add(1, Ordering::SeqCst);
    if p.down.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let body = p.jwks.lock().unwrap().clone();
    let cache_control = *p.cache_control.lock().unwrap();
    ([(header::CACHE_CONTROL, cache_control)], axum::Json(body)).into_response()
}

async fn provider() -> Arc<Provider> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://{}", listener.local_addr().unwrap());
    let provider = Arc::new(Provider {
        issuer,
        jwks: std::sync::Mutex::new(json!({ "keys": [jwk(RSA_PRIVATE, Algorithm::RS256, "r1")] })),
        fetches: AtomicU64::new(0),
        down: AtomicBool::new(false),
        cache_control: std::sync::Mutex::new("public, max-age=3600"),
    });
    let app = Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/jwks", get(jwks))
        .with_state(Arc::clone(&provider));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    provider
}

fn encoding_key(pem: &[u8], algorithm: Algorithm) -> EncodingKey {
    match algorithm {
        Algorithm::RS256 => EncodingKey::from_rsa_pem(pem).unwrap(),
        _ => EncodingKey::from_ec_pem(pem).unwrap(),
    }
}

fn jwk(pem: &[u8], algorithm: Algorithm, kid: &str) -> serde_json::Value {
    let mut jwk = Jwk::from_encoding_key(&encoding_key(pem, algorithm), algorithm).unwrap();
    jwk.common.key_id = Some(kid.to_owned());
    serde_json::to_value(jwk).unwrap()
}

fn token(pem: &[u8], algorithm: Algorithm, kid: &str, issuer: &str) -> String {
    let mut header = jsonwebtoken::Header::new(algorithm);
    header.kid = Some(kid.to_owned());
    let now = super::super::now_secs();
    let claims = json!({ "sub": "acc-1", "name": "Ada", "roles": ["mentee"], "iss": issuer,
        "iat": now, "exp": now + 600 });
    jsonwebtoken::encode(&header, &claims, &encoding_key(pem, algorithm)).unwrap()
}

fn timing(refetch_ms: u64) -> KeySetTiming {
    KeySetTiming {
        cache_min: Duration::from_secs(1),
        cache_max: Duration::from_secs(3600),
        refetch: Duration::from_millis(refetch_ms),
    }
}

fn verifier(source: KeySetSource, issuer: &str, timing: KeySetTiming) -> Verifier {
    let auth = AuthConfig {
        key: Some(JwtKey::KeySet(source)),
        issuer: Some(issuer.to_owned()),
        audience: None,
        leeway: Duration::from_secs(5),
        max_lifetime: Duration::from_secs(3600),
        key_set: timing,
        sign_in: None,
    };
    Verifier::from_config(&auth).unwrap().unwrap()
}

fn discovered(p: &Provider, timing: KeySetTiming) -> Verifier {
    verifier(
        KeySetSource::Discovery {
            issuer: p.issuer.clone(),
        },
        &p.issuer,
        timing,
    )
}

/// A discovering verifier (refetch interval 200 ms) that has fetched the key set once,
/// verifying a token signed with `r1`.
async fn fetched_once(p: &Provider) -> Verifier {
    let v = discovered(p, timing(200));
    v.verify(&token(RSA_PRIVATE, Algorithm::RS256, "r1", &p.issuer))
        .await
        .unwrap();
    v
}

#[tokio::test]
async fn discovery_finds_the_keys_and_caches_them() {
    let p = provider().await;
    let v = discovered(&p, timing(60_000));
    for _ in 0..5 {
        let principal = v
            .verify(&token(RSA_PRIVATE, Algorithm::RS256, "r1", &p.issuer))
            .await
            .unwrap();
        assert_eq!(principal.account.as_str(), "acc-1");
    }
    assert_eq!(p.fetches.load(Ordering::SeqCst), 1, "cached within max-age");
}

#[tokio::test]
async fn a_key_is_used_only_with_its_own_algorithm() {
    let p = provider().await;
    let v = discovered(&p, timing(60_000));
    // The RSA key's kid on an ES256 token (signed with the EC key): refused unread.
    let forged = token(EC_PRIVATE, Algorithm::ES256, "r1", &p.issuer);
    assert_eq!(
        v.verify(&forged).await.unwrap_err(),
        AuthError::DisallowedAlgorithm
    );
    // HS256 "signed" with anything never reaches the key set.
    let mut header = jsonwebtoken::Header::new(Algorithm::HS256);
    header.kid = Some("r1".into());
    let hs = jsonwebtoken::encode(
        &header,
        &json!({"sub": "x", "exp": 1}),
        &EncodingKey::from_secret(b"secret"),
    )
    .unwrap();
    assert_eq!(
        v.verify(&hs).await.unwrap_err(),
        AuthError::DisallowedAlgorithm
    );
    assert_eq!(p.fetches.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn forged_kids_cost_at_most_one_fetch_per_interval() {
    let p = provider().await;
    let v = fetched_once(&p).await;
    // Past the refetch interval: an unknown kid may cause a fetch again.
    tokio::time::sleep(Duration::from_millis(250)).await;
    let forged: Vec<_> = (0..20)
        .map(|i| {
            token(
                EC_PRIVATE,
                Algorithm::ES256,
                &format!("forged-{i}"),
                &p.issuer,
            )
        })
        .collect();
    let results = futures_util::future::join_all(forged.iter().map(|token| v.verify(token))).await;
    for result in results {
        assert_eq!(result.unwrap_err(), AuthError::UnknownKey);
        assert_eq!(AuthError::UnknownKey.code(), "token_unknown_key");
    }
    assert_eq!(
        p.fetches.load(Ordering::SeqCst),
        2,
        "one extra fetch for all 20"
    );
    // And within the interval, none at all.
    let again = token(EC_PRIVATE, Algorithm::ES256, "forged-again", &p.issuer);
    assert_eq!(v.verify(&again).await.unwrap_err(), AuthError::UnknownKey);
    assert_eq!(p.fetches.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_rotated_key_is_fetched_and_the_old_one_dropped() {
    let p = provider().await;
    let v = fetched_once(&p).await;
    *p.jwks.lock().unwrap() = json!({ "keys": [jwk(EC_PRIVATE, Algorithm::ES256, "e2")] });
    tokio::time::sleep(Duration::from_millis(250)).await;
    v.verify(&token(EC_PRIVATE, Algorithm::ES256, "e2", &p.issuer))
        .await
        .unwrap();
    assert_eq!(p.fetches.load(Ordering::SeqCst), 2);
    assert_eq!(
        v.verify(&token(RSA_PRIVATE, Algorithm::RS256, "r1", &p.issuer))
            .await
            .unwrap_err(),
        AuthError::UnknownKey,
        "the new set no longer holds the old key"
    );
}

#[tokio::test]
async fn the_last_good_set_serves_while_the_provider_is_down() {
    let p = provider().await;
    // max-age 0 is raised to the 1 s minimum: the set goes stale quickly.
    *p.cache_control.lock().unwrap() = "no-store";
    let v = discovered(&p, timing(200));
    let good = token(RSA_PRIVATE, Algorithm::RS256, "r1", &p.issuer);
    v.verify(&good).await.unwrap();
    p.down.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    for _ in 0..3 {
        v.verify(&good).await.unwrap();
    }
    assert!(p.fetches.load(Ordering::SeqCst) >= 2, "a refresh was tried");
    p.down.store(false, Ordering::SeqCst);
}

#[tokio::test]
async fn nothing_is_accepted_before_the_first_fetch_succeeds() {
    let p = provider().await;
    p.down.store(true, Ordering::SeqCst);
    let v = discovered(&p, timing(60_000));
    let good = token(RSA_PRIVATE, Algorithm::RS256, "r1", &p.issuer);
    assert_eq!(
        v.verify(&good).await.unwrap_err(),
        AuthError::KeysUnavailable
    );
    assert_eq!(AuthError::KeysUnavailable.code(), "token_keys_unavailable");
}

#[tokio::test]
async fn a_discovery_document_for_another_issuer_is_refused() {
    let p = provider().await;
    // Configured with a trailing slash: the document's issuer is not byte for byte ours.
    let issuer = format!("{}/", p.issuer);
    let v = verifier(
        KeySetSource::Discovery {
            issuer: issuer.clone(),
        },
        &issuer,
        timing(60_000),
    );
    let good = token(RSA_PRIVATE, Algorithm::RS256, "r1", &issuer);
    assert_eq!(
        v.verify(&good).await.unwrap_err(),
        AuthError::KeysUnavailable
    );
    assert_eq!(p.fetches.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_key_set_file_is_read_once_and_never_fetched() {
    let json = json!({ "keys": [jwk(EC_PRIVATE, Algorithm::ES256, "e1")] }).to_string();
    let v = verifier(
        KeySetSource::File {
            path: "keys.json".into(),
            json: json.into_bytes(),
        },
        "https://idp.example",
        timing(1),
    );
    v.verify(&token(
        EC_PRIVATE,
        Algorithm::ES256,
        "e1",
        "https://idp.example",
    ))
    .await
    .unwrap();
    assert_eq!(
        v.verify(&token(
            EC_PRIVATE,
            Algorithm::ES256,
            "e9",
            "https://idp.example"
        ))
        .await
        .unwrap_err(),
        AuthError::UnknownKey
    );
}

#[test]
fn max_age_is_read_from_cache_control() {
    assert_eq!(
        max_age("public, max-age=600"),
        Some(Duration::from_secs(600))
    );
    assert_eq!(
        max_age("Max-Age=5, must-revalidate"),
        Some(Duration::from_secs(5))
    );
    assert_eq!(max_age("no-store"), Some(Duration::ZERO));
    assert_eq!(max_age("public"), None);
    assert_eq!(max_age("max-age=soon"), None);
}
