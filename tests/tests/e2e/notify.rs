//! Web Push notifications end to end, against a local push service
//! (`tests/push-receiver/receiver.py`: RFC 8030 delivery, the VAPID JWT verified, every
//! payload decrypted with the subscription's own keys by PyPI `http-ece` / `py-vapid`).
//!
//! Checked: one notification per kind (relationship, message, reply, invitation,
//! ringing and missed call), content-free (canaries from bodies, titles, introductions
//! and pseudonyms appear in no payload and no server log), none while a device of the
//! account is connected, none inside quiet hours, a 410 removes the subscription, and
//! on two nodes (PostgreSQL + Redis) with one SIGKILLed mid-batch every notification
//! arrives exactly once.

use std::process::Stdio;
use std::time::Duration;

use mentorhub_tests::cluster::{Cluster, RedisLink, RedisServer};
use mentorhub_tests::process::{ProcessOptions, spawn_process_with};
use mentorhub_tests::rest::{Rest, text};
use mentorhub_tests::scenario::{Pair, Person};
use mentorhub_tests::{WsClient, eventually};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The local push service, as a child process.
struct PushReceiver {
    origin: String,
    http: reqwest::Client,
    _child: Child,
}

impl PushReceiver {
    async fn start() -> PushReceiver {
        Self::start_with_delay(0).await
    }

    /// A push service that holds every request `delay_ms` before answering.
    async fn start_with_delay(delay_ms: u64) -> PushReceiver {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/push-receiver");
        let installed = std::process::Command::new("bash")
            .arg(format!("{dir}/install.sh"))
            .stderr(Stdio::inherit())
            .output()
            .expect("run the push receiver's install script");
        assert!(installed.status.success(), "install.sh failed");
        let python = String::from_utf8(installed.stdout).expect("a path");
        let mut child = Command::new(python.trim())
            .arg(format!("{dir}/receiver.py"))
            .args(["--delay-ms", &delay_ms.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("start the push receiver");
        let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("the receiver starts")
            .expect("a line")
            .expect("a line");
        let origin = line
            .strip_prefix("push-receiver listening on ")
            .expect("the listening line")
            .to_owned();
        PushReceiver {
            origin,
            http: reqwest::Client::new(),
            _child: child,
        }
    }

    /// A browser-side subscription bound to the server's VAPID key.
    async fn subscription(&self, server_key: &str) -> Value {
        self.http
            .post(format!("{}/subscriptions", self.origin))
            .json(&json!({"application_server_key": server_key}))
            .send()
            .await
            .expect("the receiver answers")
            .json()
            .await
            .expect("json")
    }

    async fn gone(&self, id: &str) {
        self.http
            .post(format!("{}/subscriptions/{id}/gone", self.origin))
            .send()
            .await
            .expect("the receiver answers");
    }

    async fn received(&self) -> Value {
        self.http
            .get(format!("{}/received", self.origin))
            .send()
            .await
            .expect("the receiver answers")
            .json()
            .await
            .expect("json")
    }

    /// Payloads delivered to one subscription so far.
    async fn payloads(&self, subscription: &str) -> Vec<Value> {
        let received = self.received().await;
        assert_eq!(
            received["refused"],
            json!([]),
            "the push service refused a request"
        );
        received["messages"]
            .as_array()
            .expect("messages")
            .iter()
            .filter(|m| m["subscription"] == subscription)
            .map(|m| m["payload"].clone())
            .collect()
    }

    /// Whether a payload of `kind` has reached `subscription`.
    async fn has(&self, subscription: &str, kind: &str) -> bool {
        self.payloads(subscription)
            .await
            .iter()
            .any(|p| p["kind"] == kind)
    }

    /// Waits for a payload of `kind` to `subscription`.
    async fn wait_for(&self, subscription: &str, kind: &str) -> Value {
        eventually(
            Duration::from_secs(20),
            &format!("a {kind} notification"),
            || async {
                self.payloads(subscription)
                    .await
                    .into_iter()
                    .find(|p| p["kind"] == kind)
            },
        )
        .await
    }
}

/// Subscribes `person`'s device; returns the receiver's subscription id and the
/// server's.
async fn subscribe(rest: &Rest, receiver: &PushReceiver, person: &Person) -> (String, String) {
    let info = rest.get("/api/info", None).await.ok();
    let key = text(&info["push"]["vapid_public_key"]);
    let subscription = receiver.subscription(&key).await;
    let body = json!({"endpoint": subscription["endpoint"], "keys": subscription["keys"]});
    let saved = rest
        .post("/api/me/push-subscriptions", Some(&person.token), &body)
        .await;
    assert_eq!(saved.status, 201, "{:?}", saved.body);
    let again = rest
        .post("/api/me/push-subscriptions", Some(&person.token), &body)
        .await;
    assert_eq!(again.status, 200, "the same endpoint again");
    assert_eq!(again.body["id"], saved.body["id"]);
    (text(&subscription["id"]), text(&saved.body["id"]))
}

fn single_node_options() -> ProcessOptions {
    ProcessOptions::default()
        .set("push_allow_http_loopback", "true")
        .set("push_idle_secs", "1")
        .set("call_ring_timeout_secs", "2")
}

const CANARIES: [&str; 4] = [
    "CANARYBODY7731",
    "CANARYTITLE7731",
    "CANARYNAME7731",
    "CANARYINTRO7731",
];

fn assert_no_canary(what: &str, text: &str) {
    for canary in CANARIES {
        assert!(!text.contains(canary), "{canary} appears in {what}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_each_kind_content_free_never_while_connected_nor_in_quiet_hours() {
    let receiver = PushReceiver::start().await;
    let server = spawn_process_with(single_node_options()).await;
    let rest = &server.rest;

    // Contract checks of the endpoints themselves.
    let mentor = rest.login("Mira Mentor", "mentor").await;
    let plain = rest
        .post(
            "/api/me/push-subscriptions",
            Some(&mentor.token),
            &json!({"endpoint": "http://push.example/x",
                    "keys": {"p256dh": "AAAA", "auth": "AAAA"}}),
        )
        .await;
    assert_eq!(
        (plain.status, plain.code()),
        (400, "body_invalid"),
        "plain http off loopback"
    );
    let defaults = rest
        .get("/api/me/notifications", Some(&mentor.token))
        .await
        .ok();
    assert_eq!(defaults["push"], true);
    assert_eq!(defaults["daily_cap"], 20);
    assert_eq!(defaults["quiet_hours"], Value::Null);
    assert_eq!(
        defaults.get("email_digest"),
        None,
        "the e-mail digest is chosen at /api/me/email-digest"
    );
    let (mentor_sub, mentor_server_sub) = subscribe(rest, &receiver, &mentor).await;

    // A pseudonymous request with a canary introduction: the mentor is told a request
    // waits, and nothing else.
    let mentee = rest.login("Menna Mentee", "mentee").await;
    let (mentee_sub, mentee_server_sub) = subscribe(rest, &receiver, &mentee).await;
    let requested = rest
        .post(
            "/api/relationships",
            Some(&mentee.token),
            &json!({"mentor": mentor.account, "introduction": CANARIES[3],
                    "pseudonym": CANARIES[2]}),
        )
        .await
        .ok();
    let relationship = text(&requested["relationship"]["id"]);
    let told = receiver.wait_for(&mentor_sub, "relationship").await;
    assert_eq!(
        told,
        json!({"kind": "relationship", "count": 1, "link": "/#/"})
    );
    let accepted = rest
        .post(
            &format!("/api/relationships/{relationship}/accept"),
            Some(&mentor.token),
            &json!({}),
        )
        .await
        .ok();
    let conversation = text(&accepted["relationship"]["conversation"]);
    let pair = Pair {
        conversation: conversation.clone(),
        relationship,
        mentee: mentee.clone(),
        mentor: mentor.clone(),
    };

    // Messages while the mentor is connected: nothing; once he is gone, one
    // notification for what he has not read, with a count.
    let mut mentee_ws = WsClient::connect(&server.ws_url, &mentee.token).await;
    let mentor_ws = WsClient::connect(&server.ws_url, &mentor.token).await;
    let root = mentee_ws
        .say(&pair.conversation, "n-1", &format!("{} one", CANARIES[0]))
        .await;
    mentee_ws
        .say(&pair.conversation, "n-2", &format!("{} two", CANARIES[0]))
        .await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(
        !receiver.has(&mentor_sub, "message").await,
        "a push while a device was connected"
    );
    mentor_ws.close().await;
    let told = receiver.wait_for(&mentor_sub, "message").await;
    assert_eq!(
        told,
        json!({"kind": "message", "count": 2, "link": format!("/#/c/{conversation}")})
    );

    // A thread reply alone is a `reply`.
    let reply = mentee_ws
        .request(
            json!({"type": "send", "conversation": conversation, "client_id": "n-3",
                        "body": format!("{} reply", CANARIES[0]), "thread": root}),
        )
        .await;
    assert_eq!(reply["type"], "ack", "{reply}");
    let told = receiver.wait_for(&mentor_sub, "reply").await;
    assert_eq!(told["count"], 1);

    // A ringing call, then missed when it rings out.
    let started = mentee_ws
        .request(
            json!({"type": "call", "action": "start", "conversation": conversation,
                        "media": "audio"}),
        )
        .await;
    assert_eq!(started["event"], "started", "{started}");
    let ringing = receiver.wait_for(&mentor_sub, "ringing_call").await;
    assert_eq!(ringing["link"], format!("/#/c/{conversation}"));
    receiver.wait_for(&mentor_sub, "missed_call").await;
    let calls: Vec<Value> = receiver.received().await["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["subscription"] == mentor_sub && m["payload"]["kind"] == "ringing_call")
        .cloned()
        .collect();
    assert_eq!(calls[0]["urgency"], "high");
    assert_eq!(
        calls[0]["ttl"], 2,
        "a ringing push lives as long as the ring"
    );

    // An invitation to a room with a canary title.
    let room = rest
        .post(
            "/api/rooms",
            Some(&mentor.token),
            &json!({"title": CANARIES[1], "agreement": CANARIES[1]}),
        )
        .await
        .ok();
    let room = text(&room["conversation"]["id"]);
    let invited = rest
        .post(
            &format!("/api/rooms/{room}/invitations"),
            Some(&mentor.token),
            &json!({"account": mentee.account}),
        )
        .await;
    assert_eq!(invited.status, 201, "{:?}", invited.body);
    // The mentee is connected (her socket is open): nothing yet.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        !receiver.has(&mentee_sub, "invitation").await,
        "an invitation pushed to a connected account"
    );
    mentee_ws.close().await;

    // Quiet hours around now (UTC): a message waits.
    let now_minutes = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        / 60)
        % (24 * 60);
    let clock = |m: u64| format!("{:02}:{:02}", (m / 60) % 24, m % 60);
    let mut quiet = defaults.clone();
    quiet["quiet_hours"] = json!({"start": clock(now_minutes + 24 * 60 - 60),
        "end": clock(now_minutes + 60), "time_zone": "UTC"});
    let saved = rest
        .put("/api/me/notifications", Some(&mentor.token), &quiet)
        .await
        .ok();
    assert_eq!(saved["quiet_hours"], quiet["quiet_hours"]);
    let bad = rest
        .put(
            "/api/me/notifications",
            Some(&mentor.token),
            &json!({"push": true}),
        )
        .await;
    assert_eq!(bad.status, 400);
    let mut mentee_ws = WsClient::connect(&server.ws_url, &mentee.token).await;
    let before = receiver.payloads(&mentor_sub).await.len();
    mentee_ws
        .say(&conversation, "n-4", &format!("{} quiet", CANARIES[0]))
        .await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        receiver.payloads(&mentor_sub).await.len(),
        before,
        "a push inside quiet hours"
    );
    mentee_ws.close().await;

    // The invitation made while she was connected was skipped; one made while she
    // has no device connected reaches her.
    let room_two = rest
        .post(
            "/api/rooms",
            Some(&mentor.token),
            &json!({"title": CANARIES[1]}),
        )
        .await
        .ok();
    let room_two = text(&room_two["conversation"]["id"]);
    let invited = rest
        .post(
            &format!("/api/rooms/{room_two}/invitations"),
            Some(&mentor.token),
            &json!({"account": mentee.account}),
        )
        .await;
    assert_eq!(invited.status, 201);
    let told = receiver.wait_for(&mentee_sub, "invitation").await;
    assert_eq!(
        told,
        json!({"kind": "invitation", "count": 1, "link": "/#/"})
    );

    // Gone (410): the server removes the subscription.
    receiver.gone(&mentee_sub).await;
    let offerer = rest.login("Oona Offerer", "mentor").await;
    rest.post(
        "/api/relationships/offers",
        Some(&offerer.token),
        &json!({"mentee": mentee.account, "introduction": CANARIES[3]}),
    )
    .await
    .ok();
    eventually(
        Duration::from_secs(20),
        "the push service to answer 410",
        || async {
            let received = receiver.received().await;
            (received["gone"].as_u64() > Some(0)).then_some(())
        },
    )
    .await;
    eventually(
        Duration::from_secs(10),
        "the gone subscription removed",
        || async {
            let removed = rest
                .delete(
                    &format!("/api/me/push-subscriptions/{mentee_server_sub}"),
                    Some(&mentee.token),
                )
                .await;
            (removed.status == 404).then_some(())
        },
    )
    .await;
    // Someone else's subscription is not found either.
    let foreign = rest
        .delete(
            &format!("/api/me/push-subscriptions/{mentor_server_sub}"),
            Some(&mentee.token),
        )
        .await;
    assert_eq!(foreign.status, 404);

    // Nothing of any canary in any payload or in the server's log.
    let all = receiver.received().await.to_string();
    assert_no_canary("a push payload", &all);
    assert_no_canary("the server log", &server.logs());
    // Nor a push endpoint in the log.
    assert!(!server.logs().contains(&receiver.origin));
}

/// Two nodes on PostgreSQL + Redis, the push service slow (a batch takes seconds); the
/// node holding a claimed, unfinished batch is SIGKILLed. The other claims those
/// notifications when the dead node's leases run out: every mentor's device gets its
/// notification, and none twice (a copy resent after the kill carries the first one's
/// Topic, so it replaces it, as a push service does).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_two_nodes_at_most_once_with_one_killed_mid_batch() {
    const MENTORS: usize = 24;
    let receiver = PushReceiver::start_with_delay(150).await;
    let redis = RedisServer::start().await;
    let keys = tempfile::tempdir().expect("a temporary dir");
    let key_file = keys.path().join("vapid");
    {
        use base64::Engine;
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let scalar =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&key_file)
            .expect("the key file");
        writeln!(file, "{scalar}").expect("written");
    }
    let key_path = key_file.display().to_string();
    let mut cluster = Cluster::start_with(2, RedisLink::Single(redis.url()), |o| {
        o.set("push_allow_http_loopback", "true")
            .set("vapid_private_key_file", key_path)
    })
    .await;
    cluster.wait_ready().await;
    let (a, b) = (cluster.node(0).rest.clone(), cluster.node(1).rest.clone());
    // Both nodes serve the same VAPID key.
    assert_eq!(
        a.get("/api/info", None).await.ok()["push"],
        b.get("/api/info", None).await.ok()["push"]
    );
    let mut mentors = Vec::new();
    for i in 0..MENTORS {
        let rest = if i % 2 == 0 { &a } else { &b };
        let mentor = rest.login(&format!("Kill Mentor {i}"), "mentor").await;
        let (sub, _) = subscribe(rest, &receiver, &mentor).await;
        mentors.push((mentor, sub));
    }
    let db = sqlx::PgPool::connect(&cluster.db.url)
        .await
        .expect("the database");
    // Every mentor is requested at once, through both nodes.
    let requests = mentors.iter().enumerate().map(|(i, (mentor, _))| {
        let rest = if i % 2 == 0 { a.clone() } else { b.clone() };
        let account = mentor.account.clone();
        async move {
            let mentee = rest.login(&format!("Kill Mentee {i}"), "mentee").await;
            rest.post(
                "/api/relationships",
                Some(&mentee.token),
                &json!({"mentor": account}),
            )
            .await
            .ok();
        }
    });
    futures_util::future::join_all(requests).await;
    // Kill the node that holds claimed notifications it has not finished (whichever
    // ticked first took the batch).
    let holder = eventually(
        Duration::from_secs(20),
        "a node to hold a claimed batch",
        || {
            let db = db.clone();
            async move {
                let held: Option<(String, i64)> = sqlx::query_as(
                    "SELECT lease_owner, COUNT(*) FROM notification_outbox \
                 WHERE lease_owner IS NOT NULL AND state = 'pending' \
                 GROUP BY lease_owner ORDER BY 2 DESC LIMIT 1",
                )
                .fetch_optional(&db)
                .await
                .expect("a count");
                held.filter(|(_, n)| *n > 1).map(|(owner, _)| owner)
            }
        },
    )
    .await;
    let killed = if holder == "node-a" { 0 } else { 1 };
    cluster.nodes[killed].sigkill().await;
    // Every device gets its notification (the dead node's after its 30 s leases run out).
    eventually(Duration::from_secs(90), "every mentor notified", || async {
        let received = receiver.received().await;
        let messages = received["messages"].as_array().cloned().unwrap_or_default();
        mentors
            .iter()
            .all(|(_, sub)| messages.iter().any(|m| m["subscription"] == *sub))
            .then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let received = receiver.received().await;
    assert_eq!(received["refused"], json!([]));
    let messages = received["messages"].as_array().expect("messages");
    for (mentor, sub) in &mentors {
        let to_it: Vec<&Value> = messages
            .iter()
            .filter(|m| m["subscription"] == *sub)
            .collect();
        let shown = to_it.iter().filter(|m| m["replaced"] == false).count();
        assert_eq!(
            shown, 1,
            "{} got {} notifications: {to_it:?}",
            mentor.name, shown
        );
        assert_eq!(
            to_it[0]["payload"],
            json!({"kind": "relationship", "count": 1, "link": "/#/"})
        );
    }
    // The dead node's claims were taken over: some rows were claimed twice, all are sent.
    let (reclaimed, unsent): (i64, i64) = sqlx::query_as(
        "SELECT COUNT(*) FILTER (WHERE attempts > 1), COUNT(*) FILTER (WHERE state <> 'sent') \
         FROM notification_outbox",
    )
    .fetch_one(&db)
    .await
    .expect("counts");
    assert!(
        reclaimed > 0,
        "no notification was taken over from the killed node"
    );
    assert_eq!(unsent, 0);
    let raw = messages.len();
    eprintln!("{MENTORS} notifications, {raw} push requests accepted, {reclaimed} reclaimed");
}
