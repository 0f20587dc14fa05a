//! Sign-in through a real OpenID provider (npm `oidc-provider`): the server finds the
//! provider's keys by OpenID Connect discovery, verifies the access tokens the
//! authorization code + PKCE flow obtains (RS256 and ES256), follows a key rotation during
//! an open session, refuses made-up key ids at the cost of at most one fetch, and keeps
//! verifying with the last good key set while the provider is down.

use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use mentorhub::config::{JwtKey, KeySetSource, KeySetTiming};
use mentorhub_tests::oidc::{AUDIENCE, OidcProvider};
use mentorhub_tests::tokens::now;
use mentorhub_tests::{TestApp, WsClient, spawn_app_with};
use serde_json::json;

use crate::foundation::assert_error;

/// A server that trusts the provider's keys, found by discovery from its issuer.
async fn app_for(provider: &OidcProvider, timing: KeySetTiming) -> TestApp {
    let issuer = provider.issuer.clone();
    spawn_app_with(move |c| {
        c.dev = false;
        c.auth.key = Some(JwtKey::KeySet(KeySetSource::Discovery {
            issuer: issuer.clone(),
        }));
        c.auth.issuer = Some(issuer);
        c.auth.audience = Some(AUDIENCE.into());
        c.auth.key_set = timing;
    })
    .await
}

fn timing(cache_min_secs: u64, refetch_secs: u64) -> KeySetTiming {
    KeySetTiming {
        cache_min: Duration::from_secs(cache_min_secs),
        cache_max: Duration::from_secs(3600),
        refetch: Duration::from_secs(refetch_secs),
    }
}

fn kid(token: &str) -> String {
    jsonwebtoken::decode_header(token)
        .expect("a JWT")
        .kid
        .expect("a kid")
}

fn alg(token: &str) -> Algorithm {
    jsonwebtoken::decode_header(token).expect("a JWT").alg
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_code_and_pkce_tokens_signed_rs256_and_es256_are_accepted() {
    let provider = OidcProvider::start(&[], 300).await;
    let app = app_for(&provider, timing(300, 60)).await;

    let alice = provider.sign_in("alice").await;
    assert_eq!(alg(&alice.access_token), Algorithm::RS256);
    let ws = WsClient::connect(&app.ws_url, &alice.access_token).await;
    let welcome = ws.welcome.as_ref().unwrap();
    assert_eq!(welcome["account"]["id"], "alice", "{welcome}");
    assert_eq!(welcome["account"]["roles"], json!(["mentee"]), "{welcome}");
    let me = app.rest.get("/api/me", Some(&alice.access_token)).await;
    assert_eq!(me.status, 200, "{:?}", me.body);

    provider.sign_with("ES256").await;
    let bob = provider.sign_in("bob").await;
    assert_eq!(alg(&bob.access_token), Algorithm::ES256);
    let ws = WsClient::connect(&app.ws_url, &bob.access_token).await;
    assert_eq!(ws.welcome.as_ref().unwrap()["account"]["id"], "bob");

    // A refreshed token from the refresh token grant serves as well.
    let refreshed = provider
        .refresh(alice.refresh_token.as_deref().expect("a refresh token"))
        .await
        .expect("the refresh grant");
    WsClient::connect(&app.ws_url, &refreshed.access_token).await;
    // The ID token is for the client, not for this server: its audience is the client id.
    let id_token = alice.id_token.expect("an ID token");
    let mut ws = WsClient::open(&app.ws_url).await;
    let reply = ws.hello(&id_token, &Default::default()).await;
    assert_error(&reply, "unauthorized");
    assert_eq!(reply["message"], "token refused: token_wrong_audience");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_key_rotation_during_an_open_session_keeps_it_working() {
    let provider = OidcProvider::start(&[], 300).await;
    // The refetch interval would refuse a new kid within a minute of the last fetch.
    let app = app_for(&provider, timing(300, 1)).await;
    let before = provider.sign_in("alice").await;
    let mut ws = WsClient::connect(&app.ws_url, &before.access_token).await;
    let fetches = provider.jwks_fetches().await;

    provider.rotate().await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    // The client renews its token with the refresh token it got before the rotation.
    let after = provider
        .refresh(before.refresh_token.as_deref().expect("a refresh token"))
        .await
        .expect("the refresh grant after a rotation");
    assert_ne!(kid(&after.access_token), kid(&before.access_token));
    let reply = ws
        .request(json!({"type": "refresh", "ref": "r1", "token": after.access_token}))
        .await;
    assert_eq!(reply["type"], "refreshed", "{reply}");
    assert_eq!(
        provider.jwks_fetches().await,
        fetches + 1,
        "one fetch for the new kid"
    );
    // New sessions with either key: the previous one is still published.
    WsClient::connect(&app.ws_url, &after.access_token).await;
    WsClient::connect(&app.ws_url, &before.access_token).await;
    ws.sync().await;
    assert!(ws.closed().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_twenty_forged_kids_cost_at_most_one_fetch() {
    let provider = OidcProvider::start(&[], 300).await;
    let app = app_for(&provider, timing(300, 1)).await;
    let alice = provider.sign_in("alice").await;
    WsClient::connect(&app.ws_url, &alice.access_token).await;
    let fetches = provider.jwks_fetches().await;
    // Past the refetch interval: an unknown kid may cost one fetch now, not more.
    tokio::time::sleep(Duration::from_millis(1100)).await;

    // Signed with a key of our own (the test-only EC key), under kids the provider never
    // published, with claims that would otherwise pass.
    let forger = EncodingKey::from_ec_pem(include_bytes!(
        "../../../server/src/auth/testdata/ec-private.pem"
    ))
    .unwrap();
    let claims = json!({"sub": "alice", "name": "Alice Example", "roles": ["coordinator"],
        "iss": provider.issuer, "aud": AUDIENCE, "iat": now(), "exp": now() + 300});
    let mut tasks = Vec::new();
    for i in 0..20 {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(format!("forged-{i}"));
        let token = jsonwebtoken::encode(&header, &claims, &forger).unwrap();
        let url = app.ws_url.clone();
        tasks.push(tokio::spawn(async move {
            let mut ws = WsClient::open(&url).await;
            let reply = ws.hello(&token, &Default::default()).await;
            let closed = ws.expect_close(4001).await;
            (reply, closed.reason)
        }));
    }
    for task in tasks {
        let (reply, reason) = task.await.unwrap();
        assert_error(&reply, "unauthorized");
        assert_eq!(reply["message"], "token refused: token_unknown_key");
        assert_eq!(reason, "unauthorized");
    }
    let extra = provider.jwks_fetches().await - fetches;
    assert_eq!(extra, 1, "one fetch for 20 forged kids");
    // The genuine key still works, without another fetch.
    WsClient::connect(&app.ws_url, &alice.access_token).await;
    assert_eq!(provider.jwks_fetches().await - fetches, extra);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_provider_down_the_last_good_key_set_keeps_working() {
    let provider = OidcProvider::start(&[], 300).await;
    // Trusted for a second only, so it is stale while the provider is down.
    let app = app_for(&provider, timing(1, 1)).await;
    let alice = provider.sign_in("alice").await;
    let mut ws = WsClient::connect(&app.ws_url, &alice.access_token).await;
    let bob = provider.sign_in("bob").await;

    provider.set_down(true).await;
    let fetches = provider.jwks_fetches().await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    // A new session and a refresh, both verified with the stale set.
    let bob_ws = WsClient::connect(&app.ws_url, &bob.access_token).await;
    assert_eq!(bob_ws.welcome.as_ref().unwrap()["account"]["id"], "bob");
    let reply = ws
        .request(json!({"type": "refresh", "ref": "r1", "token": alice.access_token}))
        .await;
    assert_eq!(reply["type"], "refreshed", "{reply}");
    assert!(
        provider.jwks_fetches().await > fetches,
        "the server tried to refresh the stale set"
    );

    // Back up: the next refresh of the set succeeds and sign-in goes on.
    provider.set_down(false).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let again = provider.sign_in("alice").await;
    WsClient::connect(&app.ws_url, &again.access_token).await;
}
