//! Token lifetimes: `iat` in the future, lifetimes beyond the maximum, and expiry to
//! the millisecond (a token whose session was closed for expiry never works again).

use std::time::Duration;

use mentorhub::config::{JwtKey, Secret};
use mentorhub_tests::tokens::{self, claims, now};
use mentorhub_tests::{TestApp, WsClient, spawn_app_with};
use serde_json::json;

const SECRET: &str = "abuse-tests-hs256-secret-0123456789abcdef";

async fn app(leeway: Duration) -> TestApp {
    spawn_app_with(|c| {
        c.dev = false;
        c.auth.key = Some(JwtKey::Hs256(Secret::new(SECRET.as_bytes())));
        c.auth.leeway = leeway;
        c.auth.max_lifetime = Duration::from_secs(3600);
    })
    .await
}

async fn refused_with(app: &TestApp, token: &str, reason: &str) {
    let mut ws = WsClient::open(&app.ws_url).await;
    let reply = ws.hello(token, &Default::default()).await;
    assert_eq!(reply["code"], "unauthorized", "{reply}");
    assert_eq!(reply["message"], format!("token refused: {reason}"));
    ws.expect_close(4001).await;
    let rest = app.rest.get("/api/me", Some(token)).await;
    assert_eq!(rest.status, 401, "REST refuses it too");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abuse_tokens_from_the_future_or_living_too_long_are_refused() {
    let app = app(Duration::from_secs(60)).await;
    let now = now();
    let mut future = claims("acc-f", "Dr Future", "mentor");
    future["iat"] = json!(now + 120);
    refused_with(
        &app,
        &tokens::hs256(SECRET.as_bytes(), &future),
        "token_not_yet_valid",
    )
    .await;

    let mut forever = claims("acc-f", "Dr Forever", "mentor");
    forever["exp"] = json!(253_402_300_799_i64); // 9999-12-31
    forever.as_object_mut().unwrap().remove("iat");
    refused_with(
        &app,
        &tokens::hs256(SECRET.as_bytes(), &forever),
        "token_lifetime",
    )
    .await;

    let mut long = claims("acc-f", "Dr Long", "mentor");
    long["iat"] = json!(now - 3000);
    long["exp"] = json!(now + 1000); // 4,000 s in all, over the 3,600 s maximum
    refused_with(
        &app,
        &tokens::hs256(SECRET.as_bytes(), &long),
        "token_lifetime",
    )
    .await;

    let good = tokens::hs256(SECRET.as_bytes(), &claims("acc-f", "Dr Fine", "mentor"));
    let mut ws = WsClient::open(&app.ws_url).await;
    assert_eq!(
        ws.hello(&good, &Default::default()).await["type"],
        "welcome"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abuse_a_token_closed_for_expiry_never_works_again() {
    let app = app(Duration::ZERO).await;
    let mut short = claims("acc-e", "Dr Brief", "mentor");
    short["exp"] = json!(now() + 2);
    let token = tokens::hs256(SECRET.as_bytes(), &short);
    let mut ws = WsClient::connect(&app.ws_url, &token).await;
    let closed = ws.wait_closed(Duration::from_secs(5)).await;
    assert_eq!(closed.code, Some(4003));
    // At once — within the same second as the close — the token is refused.
    refused_with(&app, &token, "token_expired").await;
}
