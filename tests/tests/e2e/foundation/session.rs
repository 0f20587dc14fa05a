//! Keeping sessions healthy: the origin policy, token expiry and refresh, slow
//! consumers, the idle timeout, the connection limit and the ops endpoints — each with
//! the close code PROTOCOL.md §2, §8 and §10 document.

use std::time::Duration;

use mentorhub::config::{JwtKey, Secret};
use mentorhub_tests::tokens::{self, claims, now};
use mentorhub_tests::{Pair, TestApp, WAIT, WsClient, spawn_app, spawn_app_with};
use serde_json::json;

const SECRET: &str = "session-tests-secret-0123456789abcdef";

/// A server that trusts HS256 tokens signed with [`SECRET`] (not dev mode), with no
/// leeway so expiry is observable within a test.
async fn secret_app() -> TestApp {
    spawn_app_with(|c| {
        c.dev = false;
        c.auth.key = Some(JwtKey::Hs256(Secret::new(SECRET.as_bytes())));
        c.auth.leeway = Duration::ZERO;
    })
    .await
}

fn token_expiring_in(sub: &str, secs: i64) -> String {
    let mut claims = claims(sub, "Dr Lin", "mentor");
    claims["exp"] = json!(now() + secs);
    tokens::hs256(SECRET.as_bytes(), &claims)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foundation_session_origin_policy_is_exact() {
    let app = spawn_app_with(|c| {
        c.ws.allowed_origins = vec!["https://mentor.example.org".into()];
    })
    .await;
    assert!(
        WsClient::open_with_origin(&app.ws_url, "https://mentor.example.org")
            .await
            .is_ok(),
        "the configured origin is allowed"
    );
    for refused in [
        "https://mentor.example.org.evil.net",
        "http://mentor.example.org",
        "https://MENTOR.example.org:443x",
        "null",
    ] {
        let error = WsClient::open_with_origin(&app.ws_url, refused)
            .await
            .err()
            .unwrap_or_else(|| panic!("origin {refused} was allowed"));
        assert!(error.contains("403"), "{refused}: {error}");
    }
    // No Origin header: a non-browser client, allowed by default.
    let person = app.rest.login("Ama Bot", "mentee").await;
    WsClient::connect(&app.ws_url, &person.token).await;

    let strict = spawn_app_with(|c| c.ws.allow_missing_origin = false).await;
    let refused = tokio_tungstenite::connect_async(strict.ws_url.as_str()).await;
    let Err(error) = refused else {
        panic!("a handshake without Origin was accepted")
    };
    let error = error.to_string();
    assert!(error.contains("403"), "{error}");
    // The server's own origin is allowed when none is configured.
    let own = format!("http://{}", strict.addr);
    assert!(
        WsClient::open_with_origin(&strict.ws_url, &own)
            .await
            .is_ok()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foundation_session_expired_token_closes_4003_unless_refreshed() {
    let app = secret_app().await;
    // Less than 60 s left: `token_expiring` right after `welcome`, then 4003 at `exp`.
    let mut lapsing = WsClient::connect(&app.ws_url, &token_expiring_in("idp:lin", 2)).await;
    let warning = lapsing.next_of_type("token_expiring").await;
    assert!(
        warning["expires_in_ms"].as_u64().unwrap() <= 2_000,
        "{warning}"
    );
    let closed = lapsing.expect_close(4003).await;
    assert!(closed.reason.contains("sign in again"), "{closed:?}");

    // The same, but refreshed in time: the session outlives the first token.
    let mut refreshed = WsClient::connect(&app.ws_url, &token_expiring_in("idp:lin", 2)).await;
    refreshed.next_of_type("token_expiring").await;
    let reply = refreshed
        .request(json!({"type": "refresh", "token": token_expiring_in("idp:lin", 3600)}))
        .await;
    assert_eq!(reply["type"], "refreshed", "{reply}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    refreshed.sync().await;
    assert!(
        refreshed.closed().is_none(),
        "closed: {:?}",
        refreshed.closed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foundation_session_slow_consumer_is_closed_4008_and_stalls_nobody() {
    let app = spawn_app_with(|c| {
        c.ws.outbound_queue = 8;
        c.ws.rate_burst = 1_000;
        c.ws.rate_per_sec = 1_000.0;
    })
    .await;
    let pair = Pair::create(&app.rest, "Rural Mentee", "Dr Busy").await;
    let conversation = pair.conversation.clone();
    // The mentor's phone stops reading; their laptop reads everything.
    let mut phone = WsClient::open_with_receive_buffer(&app.ws_url, 4096).await;
    let welcome = phone.hello(&pair.mentor.token, &Default::default()).await;
    assert_eq!(welcome["type"], "welcome", "{welcome}");
    let mut laptop = WsClient::connect(&app.ws_url, &pair.mentor.token).await;
    let reading = {
        let conversation = conversation.clone();
        // Keeps reading while the mentee sends; done once it holds the last message.
        tokio::spawn(async move {
            let mut received = 0;
            while received < 601 {
                let Some(frame) = laptop.try_next(Duration::from_secs(30)).await else {
                    break;
                };
                if frame["type"] == "message" && frame["conversation"] == conversation.as_str() {
                    received = frame["seq"].as_u64().unwrap_or(0);
                }
            }
            (received, laptop.closed().cloned())
        })
    };
    let mut mentee = WsClient::connect(&app.ws_url, &pair.mentee.token).await;
    // More than the server's kernel send buffer (4 MiB at most here) can absorb, so
    // the phone's outbound queue fills.
    let body = "x".repeat(12_000);
    let mut last = 0;
    for i in 0..600 {
        last = mentee.say(&conversation, &format!("s{i}"), &body).await;
        mentee.drain_backlog();
    }
    // Nobody else waited for the phone: the laptop got everything and stayed.
    let (received, laptop_closed) = reading.await.expect("the laptop's reader");
    assert_eq!((received, laptop_closed), (last, None));
    let (_, metrics) = app.rest.get_text("/metrics").await;
    assert!(
        metrics.contains("mentorhub_slow_consumer_closes_total 1"),
        "one slow-consumer close: {metrics}"
    );
    // The 4008 close frame queues behind megabytes the phone never read; once it
    // reads, it gets the frame, or (if the server gave up on delivering it) the end of
    // the stream, which clients treat alike: reconnect and resume.
    let closed = phone.wait_closed(Duration::from_secs(30)).await;
    assert!(matches!(closed.code, Some(4008) | None), "{closed:?}");
    // Nothing is lost: resuming from the phone's cursor catches up to the end.
    let cursors = phone.cursors().clone();
    let mut resumed =
        WsClient::connect_with_cursors(&app.ws_url, &pair.mentor.token, &cursors).await;
    resumed.wait_for_seq(&conversation, last).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foundation_session_silent_client_is_closed_4010() {
    let app = spawn_app_with(|c| {
        c.ws.ping_interval = Duration::from_secs(1);
        c.ws.idle_timeout = Duration::from_secs(2);
    })
    .await;
    let person = app.rest.login("Quiet Mentee", "mentee").await;
    let mut talking = WsClient::connect(&app.ws_url, &person.token).await;
    let mut silent = WsClient::connect(&app.ws_url, &person.token).await;
    let heartbeat = &silent.welcome.as_ref().unwrap()["heartbeat"];
    assert_eq!(heartbeat["idle_timeout_ms"], 2_000, "{heartbeat}");
    // The silent client never reads, so it never answers the server's pings; the
    // other one keeps talking and stays.
    for _ in 0..8 {
        talking.sync().await;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(talking.closed().is_none(), "{:?}", talking.closed());
    let closed = silent.expect_close(4010).await;
    assert!(closed.reason.contains("idle"), "{closed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foundation_session_connection_limit_closes_4013() {
    let app = spawn_app_with(|c| c.ws.max_connections = 2).await;
    let person = app.rest.login("Many Devices", "mentee").await;
    let first = WsClient::connect(&app.ws_url, &person.token).await;
    let _second = WsClient::connect(&app.ws_url, &person.token).await;
    let mut third = WsClient::open(&app.ws_url).await;
    third
        .send(&json!({"type": "hello", "token": person.token}))
        .await;
    third.expect_close(4013).await;
    // A place frees up when a device leaves.
    first.close().await;
    mentorhub_tests::eventually(WAIT, "a free place", || async {
        let mut again = WsClient::open(&app.ws_url).await;
        let reply = again.hello(&person.token, &Default::default()).await;
        (reply["type"] == "welcome").then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foundation_session_health_readiness_and_metrics() {
    let app = spawn_app().await;
    let (status, _) = app.rest.get_text("/healthz").await;
    assert_eq!(status, 200);
    let (status, ready) = app.rest.get_text("/readyz").await;
    assert_eq!(status, 200, "{ready}");
    let pair = Pair::create(&app.rest, "Metric Mentee", "Dr Metric").await;
    let mut mentee = WsClient::connect(&app.ws_url, &pair.mentee.token).await;
    mentee
        .say(&pair.conversation, "m1", "a counted message")
        .await;
    let (status, metrics) = app.rest.get_text("/metrics").await;
    assert_eq!(status, 200);
    assert!(metrics.contains("mentorhub_connections"), "{metrics}");
    assert!(!metrics.contains("a counted message"));
}
