//! Digests held back and sent later: until the recipient's quiet hours end, while one
//! of her devices is connected, and by the other node after the sending one was killed
//! mid-send.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mentorhub_tests::cluster::{Cluster, RedisLink, RedisServer};
use mentorhub_tests::process::{ProcessOptions, ServerProcess, spawn_process_with};
use mentorhub_tests::smtp::SmtpSink;
use mentorhub_tests::{Pair, Person, WsClient, eventually};
use serde_json::json;

use super::{assert_one_unread, mailing, mails_to, pair_choosing, tag};

/// A mentee who chose "after 1 hour" and her mentor, on `server`.
async fn opted_in_pair(server: &ServerProcess, tag: &str) -> (Person, Person, Pair, String) {
    let choice = json!({"email_digest": "after_hours", "email_after_hours": 1});
    pair_choosing(server, tag, choice).await
}

async fn mentor_says(server: &ServerProcess, mentor: &Person, pair: &Pair, id: &str) {
    let mut ws = WsClient::connect(&server.ws_url, &mentor.token).await;
    ws.say(&pair.conversation, id, "hello").await;
    ws.close().await;
}

fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

/// Quiet hours are wall-clock minutes (hours are not shortened for them): they run
/// from an hour ago to a whole minute 30–90 s from now, in Kolkata (UTC+5:30, no
/// summer time), so the recipient's zone is what counts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_email_digest_waits_for_the_end_of_quiet_hours() {
    let sink = SmtpSink::start().await;
    let server = spawn_process_with(mailing(ProcessOptions::default(), &sink)).await;
    let rest = &server.rest;
    let (mentee, mentor, pair, address) = opted_in_pair(&server, &tag()).await;
    let now = unix_secs();
    let end = ((now + 30) / 60 + 1) * 60;
    let kolkata = |secs: u64| {
        let m = (secs / 60 + 330) % (24 * 60);
        format!("{:02}:{:02}", m / 60, m % 60)
    };
    let mut prefs = rest
        .get("/api/me/notifications", Some(&mentee.token))
        .await
        .ok();
    prefs["quiet_hours"] = json!({"start": kolkata(now - 3600), "end": kolkata(end),
        "time_zone": "Asia/Kolkata"});
    let saved = rest
        .put("/api/me/notifications", Some(&mentee.token), &prefs)
        .await
        .ok();
    assert_eq!(saved["quiet_hours"], prefs["quiet_hours"]);

    // Due a second after it arrives, but inside quiet hours: nothing until they end…
    mentor_says(&server, &mentor, &pair, "q-1").await;
    let before_end = Duration::from_secs(end - 1 - unix_secs());
    tokio::time::sleep(before_end).await;
    assert!(
        sink.received_by(&address).is_empty(),
        "a digest inside quiet hours"
    );
    // …then it goes out.
    let mails = mails_to(&sink, &address, 1, Duration::from_secs(20)).await;
    assert!(unix_secs() >= end);
    assert_one_unread(&mails[0]);
    assert!(server.logs().contains("e-mail digest sent"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_email_no_digest_while_a_device_is_connected() {
    let sink = SmtpSink::start().await;
    let server = spawn_process_with(mailing(ProcessOptions::default(), &sink)).await;
    let (mentee, mentor, pair, address) = opted_in_pair(&server, &tag()).await;
    let mentee_ws = WsClient::connect(&server.ws_url, &mentee.token).await;
    mentor_says(&server, &mentor, &pair, "c-1").await;
    // Due after a second; five pass with her device connected: nothing.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(
        sink.received_by(&address).is_empty(),
        "a digest to a connected account"
    );
    // She leaves with the message still unread: now it goes out.
    mentee_ws.close().await;
    let mails = mails_to(&sink, &address, 1, Duration::from_secs(20)).await;
    assert_one_unread(&mails[0]);
}

/// Two nodes on PostgreSQL + Redis, a slow mail server (3 s per e-mail), leases of 8 s.
/// The node that leased the account is SIGKILLed while it waits for the mail server;
/// the other sends once the lease has run out. Exactly one e-mail, or — if the mail
/// server accepted the first before noticing its sender died — a second with the same
/// `Message-ID`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_email_node_killed_mid_send_the_other_sends_once() {
    let sink = SmtpSink::start_slow(Duration::from_secs(3)).await;
    let redis = RedisServer::start().await;
    let mut cluster = Cluster::start_with(2, RedisLink::Single(redis.url()), |options| {
        mailing(options, &sink)
            .set("log", "debug")
            .set("email_digest_lease_secs", "8")
    })
    .await;
    cluster.wait_ready().await;
    let (_, mentor, pair, address) = opted_in_pair(cluster.node(0), &tag()).await;
    mentor_says(cluster.node(0), &mentor, &pair, "k-1").await;

    let sending = "sending an e-mail digest";
    let sender = eventually(Duration::from_secs(20), "a node sending the digest", || {
        let found = (0..2).find(|&i| cluster.node(i).logs().contains(sending));
        async move { found }
    })
    .await;
    cluster.nodes[sender].sigkill().await;
    let killed_at = Instant::now();
    let survivor = 1 - sender;
    assert!(
        !cluster.node(sender).logs().contains("e-mail digest sent"),
        "the node was killed after it finished"
    );
    assert!(
        !cluster.node(survivor).logs().contains(sending),
        "both nodes sent at once"
    );

    eventually(
        Duration::from_secs(40),
        "the other node to send the digest",
        || {
            let sent = cluster.node(survivor).logs().contains("e-mail digest sent");
            async move { sent.then_some(()) }
        },
    )
    .await;
    assert!(
        killed_at.elapsed() >= Duration::from_secs(5),
        "the other node sent before the lease ran out ({:?})",
        killed_at.elapsed()
    );
    // Several more rounds: nothing more.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let mails = sink.received_by(&address);
    assert_eq!(
        cluster
            .node(survivor)
            .logs()
            .matches("e-mail digest sent")
            .count(),
        1
    );
    match mails.len() {
        1 => eprintln!(
            "one e-mail: the killed node's was never accepted (its connection died before the mail server answered)"
        ),
        2 => {
            assert_eq!(
                mails[0].header("Message-ID"),
                mails[1].header("Message-ID"),
                "a second e-mail is the same digest"
            );
            eprintln!("two copies with one Message-ID: the mail server accepted the killed node's");
        }
        n => panic!("{n} e-mails for one digest"),
    }
    assert_eq!(sink.received().len(), mails.len());
}
