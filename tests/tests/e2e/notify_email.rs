//! The e-mail digest against a real SMTP server (Python `aiosmtpd`, [`SmtpSink`]) and
//! real `mentorhub` processes at trace log level. Hours are one second here
//! (`email_digest_hour_secs = 1`): "after 1 hour" is a second, a daily window 24 s.
//!
//! What must hold: a digest reaches an account that chose one and has unread messages,
//! says how many in how many conversations and links to the app, and nothing more (no
//! body, introduction, pseudonym or name, checked with canaries in the e-mails and in
//! the logs, where no address or unsubscribe token may appear either); none reaches an
//! account that did not choose one (the default); at most one per window; at most once
//! with two nodes racing on PostgreSQL + Redis, and when the node sending is SIGKILLed
//! (the other sends once the lease runs out); none while a device of the account is
//! connected, none inside the recipient's quiet hours (it goes out when they end); the
//! one-click `POST` unsubscribes without sign-in, a `GET` of the same link does not.
//! The digests held back and sent later are in `notify_email/held.rs`.

use std::time::Duration;

use mentorhub_tests::cluster::{Cluster, RedisLink, RedisServer};
use mentorhub_tests::process::{ProcessOptions, ServerProcess, spawn_process_with};
use mentorhub_tests::rest::Rest;
use mentorhub_tests::smtp::{Received, SmtpSink};
use mentorhub_tests::{Pair, Person, WsClient, eventually, tokens};
use rand::Rng;
use serde_json::{Value, json};

mod held;

const APP: &str = "https://mentor.example/";

fn tag() -> String {
    format!("{:012x}", rand::rng().random::<u64>() & 0xffff_ffff_ffff)
}

/// Options for a server that sends digests to `sink`, hours shortened to a second.
fn mailing(options: ProcessOptions, sink: &SmtpSink) -> ProcessOptions {
    options
        .set("smtp_url", sink.url())
        .set("smtp_tls", "none")
        .set("smtp_from", "Mentorhub <noreply@mentor.example>")
        .set("public_url", "https://mentor.example")
        .set("email_digest_hour_secs", "1")
        .set("log", "trace")
}

/// Signs in with a token that carries `email`, as an identity provider's would.
async fn sign_in(
    rest: &Rest,
    secret: &str,
    slug: &str,
    name: &str,
    role: &str,
    email: &str,
) -> Person {
    let account = format!("idp:{slug}");
    let mut claims = tokens::claims(&account, name, role);
    claims["email"] = json!(email);
    let token = tokens::hs256(secret.as_bytes(), &claims);
    rest.get("/api/me", Some(&token)).await.ok();
    Person {
        account,
        name: name.to_owned(),
        token,
    }
}

async fn choose(rest: &Rest, person: &Person, choice: Value) -> Value {
    rest.put("/api/me/email-digest", Some(&person.token), &choice)
        .await
        .ok()
}

async fn digest_choice(rest: &Rest, person: &Person) -> Value {
    rest.get("/api/me/email-digest", Some(&person.token))
        .await
        .ok()
}

/// Waits until `address` has received `count` e-mails, and returns them.
async fn mails_to(sink: &SmtpSink, address: &str, count: usize, within: Duration) -> Vec<Received> {
    eventually(
        within,
        &format!("{count} e-mail(s) to the test address"),
        || {
            let mails = sink.received_by(address);
            async move { (mails.len() >= count).then_some(mails) }
        },
    )
    .await
}

/// The one-click link's path and query on the test server (the e-mail names the app's
/// public address).
fn unsubscribe_path(mail: &Received) -> String {
    let header = mail.header("List-Unsubscribe").expect("List-Unsubscribe");
    let url = header
        .strip_prefix('<')
        .and_then(|h| h.strip_suffix('>'))
        .unwrap_or_else(|| panic!("List-Unsubscribe is one <URL>: {header}"));
    let path = url
        .strip_prefix(APP.trim_end_matches('/'))
        .unwrap_or_else(|| panic!("the link is under the app's address: {url}"));
    assert!(path.starts_with("/api/email/unsubscribe?token="), "{path}");
    path.to_owned()
}

fn assert_content_free(mails: &[Received], logs: &str, secrets: &[String]) {
    for secret in secrets {
        for mail in mails {
            assert!(
                !mail.everything().contains(secret.as_str()),
                "an e-mail carries {secret:?}:\n{}",
                mail.everything()
            );
        }
        assert!(!logs.contains(secret.as_str()), "the logs carry {secret:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_email_digest_reaches_who_chose_it_and_says_only_counts() {
    let sink = SmtpSink::start().await;
    let server = spawn_process_with(mailing(ProcessOptions::default(), &sink)).await;
    let (rest, secret) = (&server.rest, server.options.secret.as_str());
    let tag = tag();
    let canary = |what: &str| format!("CANARY{what}{tag}");
    let (ann_mail, bea_mail, mentor_mail) = (
        format!("ann-{tag}@hospital.example"),
        format!("bea-{tag}@hospital.example"),
        format!("mentor-{tag}@hospital.example"),
    );
    let ann = sign_in(
        rest,
        secret,
        &format!("ann-{tag}"),
        "Ann",
        "mentee",
        &ann_mail,
    )
    .await;
    let bea = sign_in(
        rest,
        secret,
        &format!("bea-{tag}"),
        "Bea",
        "mentee",
        &bea_mail,
    )
    .await;
    let mentor_name = canary("MENTORNAME");
    let mentor = sign_in(
        rest,
        secret,
        &format!("mentor-{tag}"),
        &mentor_name,
        "mentor",
        &mentor_mail,
    )
    .await;
    let pseudonym = canary("PSEUDO");
    let introduction = canary("INTRO");
    let with_ann = Pair::between_with(
        rest,
        ann.clone(),
        mentor.clone(),
        json!({"pseudonym": pseudonym, "introduction": introduction}),
    )
    .await;
    let with_bea = Pair::between(rest, bea.clone(), mentor.clone()).await;

    // Off until chosen; Ann chooses "after 1 hour", Bea and the mentor choose nothing.
    let off = json!({"email_digest": "off", "email_after_hours": 12});
    assert_eq!(digest_choice(rest, &ann).await, off);
    let chosen = json!({"email_digest": "after_hours", "email_after_hours": 1});
    assert_eq!(choose(rest, &ann, chosen.clone()).await, chosen);
    assert_eq!(digest_choice(rest, &ann).await, chosen);
    let refused = rest
        .put(
            "/api/me/email-digest",
            Some(&ann.token),
            &json!({"email_digest": "after_hours", "email_after_hours": 0}),
        )
        .await;
    assert_eq!(refused.status, 400, "{:?}", refused.body);
    assert_eq!(digest_choice(rest, &ann).await, chosen);

    // Ann writes first (the mentor, who chose no digest, has unread messages too);
    // then the mentor writes to both. Canaries in every body.
    let mut bodies = Vec::new();
    let mut ann_ws = WsClient::connect(&server.ws_url, &ann.token).await;
    let answer = canary("ANSWER");
    ann_ws.say(&with_ann.conversation, "ann-1", &answer).await;
    bodies.push(answer);
    ann_ws.close().await;
    let mut mentor_ws = WsClient::connect(&server.ws_url, &mentor.token).await;
    for i in 0..3 {
        let body = canary(&format!("BODY{i}"));
        mentor_ws
            .say(&with_ann.conversation, &format!("a-{i}"), &body)
            .await;
        bodies.push(body);
    }
    for i in 0..2 {
        let body = canary(&format!("BEA{i}"));
        mentor_ws
            .say(&with_bea.conversation, &format!("b-{i}"), &body)
            .await;
        bodies.push(body);
    }

    let mails = mails_to(&sink, &ann_mail, 1, Duration::from_secs(20)).await;
    let mail = &mails[0];
    assert_eq!(mail.rcpt_tos, std::slice::from_ref(&ann_mail));
    assert_eq!(mail.mail_from, "noreply@mentor.example");
    assert_eq!(mail.header("Subject"), Some("Mentorhub: 3 unread messages"));
    assert!(
        mail.text
            .contains("You have 3 unread messages in 1 mentoring conversation."),
        "{}",
        mail.text
    );
    assert!(mail.text.contains(APP), "{}", mail.text);
    assert_eq!(
        mail.header("List-Unsubscribe-Post"),
        Some("List-Unsubscribe=One-Click")
    );
    let unsubscribe = unsubscribe_path(mail);
    assert!(
        mail.text.contains(&unsubscribe),
        "the text carries the link too"
    );

    // Nothing new: no second digest, however many windows pass; nobody else is
    // e-mailed (Bea and the mentor never chose a digest).
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(sink.received_by(&ann_mail).len(), 1);
    assert!(sink.received_by(&bea_mail).is_empty());
    assert!(sink.received_by(&mentor_mail).is_empty());
    assert_eq!(sink.received().len(), 1);

    // Something new: one more digest, with the new count.
    let last = canary("LAST");
    mentor_ws.say(&with_ann.conversation, "a-last", &last).await;
    bodies.push(last);
    let mails = mails_to(&sink, &ann_mail, 2, Duration::from_secs(20)).await;
    assert!(
        mails[1]
            .text
            .contains("You have 4 unread messages in 1 mentoring conversation."),
        "{}",
        mails[1].text
    );
    assert_ne!(
        mails[0].header("Message-ID"),
        mails[1].header("Message-ID"),
        "each digest is its own e-mail"
    );
    mentor_ws.close().await;

    let token = unsubscribe
        .split("token=")
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    let mut secrets = bodies;
    secrets.extend([pseudonym, introduction, mentor_name]);
    assert_content_free(&sink.received(), "", &secrets);
    secrets.extend([ann_mail, bea_mail, mentor_mail, token]);
    assert_content_free(&[], &server.logs(), &secrets);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_email_daily_once_per_window_and_one_click_unsubscribe() {
    // The mail server requires a login; the password comes from a file.
    let tag = tag();
    let password = format!("pw{tag}");
    let sink = SmtpSink::start_with_login("mentorhub", &password).await;
    let dir = tempfile::tempdir().expect("a temporary dir");
    let password_file = dir.path().join("smtp-password");
    std::fs::write(&password_file, format!("{password}\n")).expect("the password file");
    let options = mailing(ProcessOptions::default(), &sink)
        .set("smtp_username", "mentorhub")
        .set("smtp_password_file", password_file.display().to_string());
    let server: ServerProcess = spawn_process_with(options).await;
    let (cai, mentor, pair, address) =
        pair_choosing(&server, &tag, json!({"email_digest": "daily"})).await;
    let rest = &server.rest;

    let mut mentor_ws = WsClient::connect(&server.ws_url, &mentor.token).await;
    mentor_ws.say(&pair.conversation, "d-1", "first").await;
    let first = mails_to(&sink, &address, 1, Duration::from_secs(20)).await;
    assert_eq!(first[0].authenticated_as.as_deref(), Some("mentorhub"));
    assert_one_unread(&first[0]);
    assert!(first[0].text.contains("a daily e-mail"));

    // New messages inside the daily window (24 s here): no second e-mail within it…
    mentor_ws.say(&pair.conversation, "d-2", "second").await;
    tokio::time::sleep(Duration::from_secs(12)).await;
    assert_eq!(
        sink.received_by(&address).len(),
        1,
        "at most one per window"
    );
    // …and one once it is over.
    let both = mails_to(&sink, &address, 2, Duration::from_secs(25)).await;
    assert!(
        both[1].text.contains("You have 2 unread messages"),
        "{}",
        both[1].text
    );
    mentor_ws.close().await;

    // A GET of the link (what a mail scanner does) shows a button and changes nothing.
    let link = unsubscribe_path(&both[1]);
    assert_eq!(link, unsubscribe_path(&first[0]), "one token per account");
    let (status, page) = rest.get_text(&link).await;
    assert_eq!(status, 200);
    assert!(page.contains("<form method=\"post\""), "{page}");
    assert!(page.contains(&link), "the button posts to the same link");
    assert_eq!(digest_choice(rest, &cai).await["email_digest"], "daily");
    // Another token, or none, unsubscribes nobody.
    let forged = rest
        .post_raw(
            "/api/email/unsubscribe?token=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            None,
            "application/x-www-form-urlencoded",
            b"List-Unsubscribe=One-Click".to_vec(),
        )
        .await;
    assert_eq!(forged.status, 404);
    assert_eq!(digest_choice(rest, &cai).await["email_digest"], "daily");
    // The one-click POST (RFC 8058), without sign-in, turns the digest off.
    let done = rest
        .post_raw(
            &link,
            None,
            "application/x-www-form-urlencoded",
            b"List-Unsubscribe=One-Click".to_vec(),
        )
        .await;
    assert_eq!(done.status, 200);
    assert_eq!(digest_choice(rest, &cai).await["email_digest"], "off");

    let token = link.split("token=").nth(1).unwrap_or_default().to_owned();
    assert_content_free(&[], &server.logs(), &[password, address, token]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notify_email_two_nodes_send_each_digest_once() {
    // A slow mail server: each send takes longer than a round, so the other node's
    // rounds find the account still due while the first node is sending it.
    let sink = SmtpSink::start_slow(Duration::from_millis(1500)).await;
    let redis = RedisServer::start().await;
    let cluster = Cluster::start_with(2, RedisLink::Single(redis.url()), |options| {
        mailing(options, &sink).set("log", "debug")
    })
    .await;
    cluster.wait_ready().await;
    let (a, b) = (cluster.node(0), cluster.node(1));
    let secret = a.options.secret.as_str();
    let tag = tag();
    // Several mentees (each with a mentor of their own, mentors' places being few),
    // half of them known through each node, all due within a second or two: both
    // nodes' rounds find them due together.
    let mut addresses = Vec::new();
    for i in 0..6 {
        let node = if i % 2 == 0 { a } else { b };
        let address = format!("mentee{i}-{tag}@hospital.example");
        let mentee = sign_in(
            &node.rest,
            secret,
            &format!("e{i}-{tag}"),
            &format!("Mentee {i}"),
            "mentee",
            &address,
        )
        .await;
        let mentor = sign_in(
            &node.rest,
            secret,
            &format!("m{i}-{tag}"),
            &format!("Dr M{i}"),
            "mentor",
            "m@hospital.example",
        )
        .await;
        let pair = Pair::between(&node.rest, mentee.clone(), mentor.clone()).await;
        choose(
            &node.rest,
            &mentee,
            json!({"email_digest": "after_hours", "email_after_hours": 1}),
        )
        .await;
        let mut mentor_ws = WsClient::connect(&node.ws_url, &mentor.token).await;
        mentor_ws.say(&pair.conversation, "m-1", "hello").await;
        mentor_ws.close().await;
        addresses.push(address);
    }
    for address in &addresses {
        mails_to(&sink, address, 1, Duration::from_secs(40)).await;
    }
    // Several more rounds on both nodes: still exactly one each.
    tokio::time::sleep(Duration::from_secs(4)).await;
    for address in &addresses {
        assert_eq!(sink.received_by(address).len(), 1, "exactly one digest");
    }
    assert_eq!(sink.received().len(), addresses.len());
    let logs = format!("{}\n{}", a.logs(), b.logs());
    let sent = logs.matches("e-mail digest sent").count();
    assert_eq!(sent, addresses.len(), "one send over both nodes per digest");
}

/// A mentee who chose `choice` and her mentor, on `server`; the mentee's address.
async fn pair_choosing(
    server: &ServerProcess,
    tag: &str,
    choice: Value,
) -> (Person, Person, Pair, String) {
    let (rest, secret) = (&server.rest, server.options.secret.as_str());
    let address = format!("mentee-{tag}@hospital.example");
    let mentee = sign_in(
        rest,
        secret,
        &format!("e-{tag}"),
        "Mentee",
        "mentee",
        &address,
    )
    .await;
    let mentor = sign_in(
        rest,
        secret,
        &format!("m-{tag}"),
        "Dr M",
        "mentor",
        "m@hospital.example",
    )
    .await;
    let pair = Pair::between(rest, mentee.clone(), mentor.clone()).await;
    choose(rest, &mentee, choice).await;
    (mentee, mentor, pair, address)
}

/// The digest of one unread message in one conversation.
fn assert_one_unread(mail: &Received) {
    let counts = "You have 1 unread message in 1 mentoring conversation.";
    assert!(mail.text.contains(counts), "{}", mail.text);
}
