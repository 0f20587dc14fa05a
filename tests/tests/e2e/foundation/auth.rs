//! Tokens from an identity provider: a server that verifies RS256 with a configured
//! public key, issuer and audience (not dev mode) refuses every bad token in `hello` with
//! `unauthorized`, `token refused: <reason>` and close 4001, and the same way over REST;
//! `refresh` refusals keep the session.

use std::time::Duration;

use mentorhub::config::{JwtAlgorithm, JwtKey};
use mentorhub_tests::tokens::{self, RSA_PUBLIC_PEM, claims, now};
use mentorhub_tests::{TestApp, WsClient, spawn_app_with};
use serde_json::{Value, json};

use super::assert_error;

const ISSUER: &str = "https://idp.example.org";
const AUDIENCE: &str = "mentorhub";

/// An in-process server that trusts only RS256 tokens from [`ISSUER`] for [`AUDIENCE`].
async fn identity_provider_app() -> TestApp {
    spawn_app_with(|c| {
        // `--dev` cannot be combined with a configured key.
        c.dev = false;
        c.auth.key = Some(JwtKey::PublicKey {
            algorithm: JwtAlgorithm::RS256,
            path: "server/src/auth/testdata/rsa-public.pem".into(),
            pem: RSA_PUBLIC_PEM.as_bytes().to_vec(),
        });
        c.auth.issuer = Some(ISSUER.into());
        c.auth.audience = Some(AUDIENCE.into());
        c.auth.leeway = Duration::from_secs(60);
    })
    .await
}

/// Claims the server accepts.
fn good(sub: &str) -> Value {
    let mut good = claims(sub, "Dr Grace Hopper", "mentor");
    good["iss"] = json!(ISSUER);
    good["aud"] = json!(AUDIENCE);
    good
}

fn with(change: impl FnOnce(&mut Value)) -> Value {
    let mut claims = good("idp:grace");
    change(&mut claims);
    claims
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foundation_auth_every_bad_token_is_refused_with_its_reason_and_4001() {
    let app = identity_provider_app().await;
    let valid = tokens::rs256(&good("idp:grace"));
    let now = now();
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "expired",
            tokens::rs256(&with(|c| c["exp"] = json!(now - 3600))),
            "token_expired",
        ),
        (
            "not yet valid",
            tokens::rs256(&with(|c| c["nbf"] = json!(now + 3600))),
            "token_not_yet_valid",
        ),
        (
            "wrong issuer",
            tokens::rs256(&with(|c| c["iss"] = json!("https://evil.example.org"))),
            "token_wrong_issuer",
        ),
        (
            "wrong audience",
            tokens::rs256(&with(|c| c["aud"] = json!("another-app"))),
            "token_wrong_audience",
        ),
        (
            "alg none",
            tokens::alg_none(&good("idp:grace")),
            "token_algorithm",
        ),
        (
            "HS256 signed with the RSA public key",
            tokens::hs256_with_rsa_public_key(&good("idp:grace")),
            "token_algorithm",
        ),
        (
            "tampered (roles raised after signing)",
            tokens::tampered(&valid, |c| c["roles"] = json!(["coordinator"])),
            "token_bad_signature",
        ),
        (
            "tampered (another subject)",
            tokens::tampered(&valid, |c| c["sub"] = json!("idp:someone-else")),
            "token_bad_signature",
        ),
        (
            "no exp",
            tokens::rs256(&with(|c| {
                c.as_object_mut().unwrap().remove("exp");
            })),
            "token_missing_claim",
        ),
        (
            "no issuer",
            tokens::rs256(&with(|c| {
                c.as_object_mut().unwrap().remove("iss");
            })),
            "token_missing_claim",
        ),
        (
            "not a JWT",
            "definitely-not-a-jwt".to_owned(),
            "token_malformed",
        ),
    ];

    for (case, token, reason) in &cases {
        let mut ws = WsClient::open(&app.ws_url).await;
        let reply = ws.hello(token, &Default::default()).await;
        assert_error(&reply, "unauthorized");
        let expected = format!("token refused: {reason}");
        assert_eq!(reply["message"], expected.as_str(), "{case}");
        let closed = ws.expect_close(4001).await;
        assert_eq!(closed.reason, "unauthorized", "{case}");

        let rest = app.rest.get("/api/me", Some(token)).await;
        assert_eq!((rest.status, rest.code()), (401, "unauthorized"), "{case}");
        assert_eq!(rest.body["error"]["message"], expected.as_str(), "{case}");
    }

    // The controls: a good token, and one that expired within the 60 s leeway.
    let ws = WsClient::connect(&app.ws_url, &valid).await;
    assert_eq!(ws.welcome.as_ref().unwrap()["account"]["id"], "idp:grace");
    let recent = tokens::rs256(&with(|c| c["exp"] = json!(now - 10)));
    let ws = WsClient::connect(&app.ws_url, &recent).await;
    assert_eq!(ws.welcome.as_ref().unwrap()["expires_at"], now - 10);
    // No dev login on a server with a real identity provider.
    let dev = app
        .rest
        .post(
            "/api/dev/login",
            None,
            &json!({"name": "Mallory", "role": "coordinator"}),
        )
        .await;
    assert_eq!((dev.status, dev.code()), (404, "not_found"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foundation_auth_refused_refresh_keeps_the_session_on_its_old_token() {
    let app = identity_provider_app().await;
    let mut ws = WsClient::connect(&app.ws_url, &tokens::rs256(&good("idp:grace"))).await;

    let expired = tokens::rs256(&with(|c| c["exp"] = json!(now() - 3600)));
    let reply = ws
        .request(json!({"type": "refresh", "ref": "r1", "token": expired}))
        .await;
    assert_error(&reply, "unauthorized");
    assert_eq!(reply["message"], "token refused: token_expired");
    let forged = tokens::alg_none(&good("idp:grace"));
    let reply = ws
        .request(json!({"type": "refresh", "ref": "r2", "token": forged}))
        .await;
    assert_eq!(reply["message"], "token refused: token_algorithm");
    let someone_else = tokens::rs256(&good("idp:ada"));
    let reply = ws
        .request(json!({"type": "refresh", "ref": "r3", "token": someone_else}))
        .await;
    assert_error(&reply, "unauthorized");
    assert_eq!(reply["message"], "the new token is for another account");
    ws.sync().await;
    assert!(
        ws.closed().is_none(),
        "the session survives a refused refresh"
    );

    let longer = tokens::rs256(&with(|c| c["exp"] = json!(now() + 7200)));
    let reply = ws
        .request(json!({"type": "refresh", "ref": "r4", "token": longer}))
        .await;
    assert_eq!(reply["type"], "refreshed", "{reply}");
    assert_eq!(reply["ref"], "r4");
    assert!(reply["expires_at"].as_i64().unwrap() >= now() + 7100);
}
