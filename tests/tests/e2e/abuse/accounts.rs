//! Per-account limits: one budget of actions for all of an account's connections, its
//! REST writes and every node; caps on devices, open rooms, live invite codes and
//! requests waiting for one mentor.

use std::time::{Duration, Instant};

use mentorhub::config::{DatabaseConfig, JwtKey, Secret};
use mentorhub_tests::cluster::{PgDatabase, RedisServer};
use mentorhub_tests::rest::text;
use mentorhub_tests::{Pair, Rest, TestApp, WsClient, spawn_app_with};
use serde_json::{Value, json};

const SECRET: &str = "abuse-accounts-hs256-secret-0123456789abcdef";
/// The account's budget in these tests: 10 at once, then 1 per second.
const BURST: u32 = 10;
const PER_SEC: f64 = 1.0;

/// Sends `count` messages on `ws` without waiting, then reads every reply: the number
/// acknowledged, and the `retry_after_ms` of each refusal.
async fn flood(
    ws: &mut WsClient,
    conversation: &str,
    tag: &str,
    count: usize,
) -> (usize, Vec<u64>) {
    for i in 0..count {
        ws.send(
            &json!({"type": "send", "ref": format!("{tag}-{i}"), "conversation": conversation,
                        "client_id": format!("{tag}-{i}"), "body": format!("flood {i}")}),
        )
        .await;
    }
    let (mut acked, mut waits) = (0, Vec::new());
    for i in 0..count {
        let reference = format!("{tag}-{i}");
        let reply = ws
            .next_matching("a reply", |f| f["ref"] == reference.as_str())
            .await;
        match reply["type"].as_str() {
            Some("ack") => acked += 1,
            _ => {
                assert_eq!(reply["code"], "rate_limited", "{reply}");
                waits.push(reply["retry_after_ms"].as_u64().expect("retry_after_ms"));
            }
        }
    }
    (acked, waits)
}

/// Most actions the budget allows in `elapsed`.
fn allowance(elapsed: Duration) -> usize {
    BURST as usize + (elapsed.as_secs_f64() * PER_SEC).ceil() as usize
}

fn budget(c: &mut mentorhub::config::Config) {
    // Connections may send far faster than the account: the account's budget decides.
    c.ws.rate_per_sec = 1_000.0;
    c.ws.rate_burst = 1_000;
    c.mentoring.account_rate_per_sec = Some(PER_SEC);
    c.mentoring.account_rate_burst = Some(BURST);
}

async fn messages_in(rest: &Rest, token: &str, conversation: &str) -> usize {
    let page = rest
        .get(
            &format!("/api/conversations/{conversation}/messages?limit=200"),
            Some(token),
        )
        .await
        .ok();
    page["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["type"] == "message")
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abuse_account_budget_is_shared_by_connections_and_rest() {
    let app = spawn_app_with(budget).await;
    let rest = &app.rest;
    let pair = Pair::create(rest, "Flo Flooder", "Dr Patience").await;
    let started = Instant::now();
    let mut sockets = Vec::new();
    for _ in 0..3 {
        sockets.push(WsClient::connect(&app.ws_url, &pair.mentee.token).await);
    }
    let (mut acked, mut waits) = (0, Vec::new());
    for (i, ws) in sockets.iter_mut().enumerate() {
        let (a, w) = flood(ws, &pair.conversation, &format!("c{i}"), 15).await;
        acked += a;
        waits.extend(w);
    }
    let elapsed = started.elapsed();
    assert!(
        acked <= allowance(elapsed),
        "{acked} sends acknowledged over three connections in {elapsed:?}"
    );
    // The burst, less the request that started the relationship (a REST write).
    assert!(
        acked >= BURST as usize - 1,
        "the burst is available: {acked}"
    );
    assert_eq!(acked + waits.len(), 45);
    assert!(waits.iter().all(|&w| w > 0 && w <= 1_000), "{waits:?}");
    assert_eq!(
        messages_in(rest, &pair.mentor.token, &pair.conversation).await,
        acked,
        "exactly the acknowledged messages were committed"
    );

    // REST writes spend from the same budget.
    let settings = json!({"read_receipts": false});
    let refused = rest
        .put("/api/me/settings", Some(&pair.mentee.token), &settings)
        .await;
    assert_eq!((refused.status, refused.code()), (429, "rate_limited"));
    assert!(refused.body["error"]["retry_after_ms"].as_u64().unwrap() > 0);
    // Another account is not affected.
    let other = rest
        .put("/api/me/settings", Some(&pair.mentor.token), &settings)
        .await;
    assert_eq!(other.status, 200, "{:?}", other.body);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn abuse_account_budget_holds_across_two_nodes() {
    let db = PgDatabase::create().await;
    let redis = RedisServer::start().await;
    let prefix = format!("abuse-{}", std::process::id());
    let node = |name: &'static str| {
        let (url, redis_url, prefix) = (db.url.clone(), redis.url(), prefix.clone());
        move |c: &mut mentorhub::config::Config| {
            budget(c);
            c.dev = false;
            c.auth.key = Some(JwtKey::Hs256(Secret::new(SECRET.as_bytes())));
            c.node_id = name.into();
            c.scale.database = DatabaseConfig::Postgres { url };
            c.scale.redis_url = Some(redis_url);
            c.scale.redis_prefix = prefix;
        }
    };
    let one: TestApp = spawn_app_with(node("one")).await;
    let two: TestApp = spawn_app_with(node("two")).await;
    let rest_one = Rest::minting(&one.base_url, SECRET.as_bytes());
    let pair = Pair::create(&rest_one, "Nia Nodes", "Dr Both").await;
    let started = Instant::now();
    let mut on_one = WsClient::connect(&one.ws_url, &pair.mentee.token).await;
    let mut on_two = WsClient::connect(&two.ws_url, &pair.mentee.token).await;
    let (a1, w1) = flood(&mut on_one, &pair.conversation, "one", 15).await;
    let (a2, w2) = flood(&mut on_two, &pair.conversation, "two", 15).await;
    let elapsed = started.elapsed();
    assert!(
        a1 + a2 <= allowance(elapsed),
        "{a1} + {a2} sends acknowledged on two nodes in {elapsed:?}"
    );
    assert!(!w2.is_empty(), "the second node knows the budget is spent");
    assert_eq!(a1 + a2 + w1.len() + w2.len(), 30);
    drop((on_one, on_two));
    one.shutdown().await;
    two.shutdown().await;
    db.drop_now().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abuse_devices_per_account_are_capped() {
    let app = spawn_app_with(|c| c.mentoring.max_devices_per_account = 2).await;
    let person = app.rest.login("Dee Devices", "mentee").await;
    let _first = WsClient::connect(&app.ws_url, &person.token).await;
    let second = WsClient::connect(&app.ws_url, &person.token).await;
    let mut third = WsClient::open(&app.ws_url).await;
    let reply = third.hello(&person.token, &Default::default()).await;
    assert_eq!(reply["code"], "limit_reached", "{reply}");
    third.expect_close(4014).await;
    // Closing a device frees its place.
    second.close().await;
    let url = app.ws_url.clone();
    let token = person.token.clone();
    let _again = mentorhub_tests::eventually(Duration::from_secs(10), "a free place", || {
        let (url, token) = (url.clone(), token.clone());
        async move {
            let mut ws = WsClient::open(&url).await;
            let reply = ws.hello(&token, &Default::default()).await;
            (reply["type"] == "welcome").then_some(ws)
        }
    })
    .await;
    app.shutdown().await;
}

fn limit_reached(reply: &mentorhub_tests::Reply) {
    assert_eq!(
        (reply.status, reply.code()),
        (409, "limit_reached"),
        "{:?}",
        reply.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abuse_rooms_codes_and_waiting_requests_are_capped() {
    let app = spawn_app_with(|c| {
        c.mentoring.max_rooms_per_account = 2;
        c.mentoring.max_invite_codes_per_room = 3;
        c.mentoring.max_pending_requests_per_mentor = 2;
    })
    .await;
    let rest = &app.rest;
    let facilitator = rest.login("Fay Facilitator", "mentor").await;
    let room = |title: &str| json!({"title": title, "kind": "group"});
    let first = rest
        .post("/api/rooms", Some(&facilitator.token), &room("One"))
        .await
        .ok();
    let first = text(&first["conversation"]["id"]);
    rest.post("/api/rooms", Some(&facilitator.token), &room("Two"))
        .await
        .ok();
    limit_reached(
        &rest
            .post("/api/rooms", Some(&facilitator.token), &room("Three"))
            .await,
    );

    let code = |room: String| {
        let token = facilitator.token.clone();
        async move {
            rest.post(
                &format!("/api/rooms/{room}/invite-codes"),
                Some(&token),
                &json!({}),
            )
            .await
        }
    };
    let mut codes: Vec<Value> = Vec::new();
    for _ in 0..3 {
        codes.push(code(first.clone()).await.ok());
    }
    limit_reached(&code(first.clone()).await);
    // A used code no longer counts.
    let joiner = rest.login("Jo Joiner", "mentee").await;
    rest.post(
        "/api/rooms/join",
        Some(&joiner.token),
        &json!({"code": text(&codes[0]["invite_code"]["code"])}),
    )
    .await
    .ok();
    code(first.clone()).await.ok();

    let mentor = rest.login("Dr Popular", "mentor").await;
    for i in 0..2 {
        let mentee = rest.login(&format!("Asker {i}"), "mentee").await;
        rest.post(
            "/api/relationships",
            Some(&mentee.token),
            &json!({"mentor": mentor.account}),
        )
        .await
        .ok();
    }
    let late = rest.login("Asker late", "mentee").await;
    limit_reached(
        &rest
            .post(
                "/api/relationships",
                Some(&late.token),
                &json!({"mentor": mentor.account}),
            )
            .await,
    );
    app.shutdown().await;
}
