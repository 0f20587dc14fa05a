//! Confidentiality: a chat scenario against a real `mentorhub` process at trace log
//! level (the most verbose there is, so nothing can hide below it), with canary strings in
//! message bodies (sent, replied, edited, deleted, refused, malformed), in an introduction and in tokens (a claim the server ignores, refused and
//! refreshed tokens). None of them, and no token, may appear in the captured logs or in
//! the raw SQLite files.

use std::time::Duration;

use mentorhub_tests::disk::{all_bytes, contains, sqlite_bytes};
use mentorhub_tests::process::{ProcessOptions, ServerProcess, spawn_process_with};
use mentorhub_tests::{Pair, Person, WsClient, tokens};
use rand::Rng;
use serde_json::json;

use super::{ack_seq, send};

/// Signs in with a token that carries `canary` in a claim the server must ignore.
async fn sign_in(
    server: &ServerProcess,
    slug: &str,
    name: &str,
    role: &str,
    canary: &str,
) -> Person {
    let account = format!("idp:{slug}");
    let mut claims = tokens::claims(&account, name, role);
    claims["email"] = json!(format!("{canary}@hospital.example"));
    let token = tokens::hs256(server.options.secret.as_bytes(), &claims);
    server.rest.get("/api/me", Some(&token)).await.ok();
    Person {
        account,
        name: name.to_owned(),
        token,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foundation_canary_strings_never_reach_logs_or_database_files() {
    // Everything the server and its libraries log, at the most verbose level.
    let mut server = spawn_process_with(ProcessOptions::default().set("log", "trace")).await;
    let tag = format!("{:012x}", rand::rng().random::<u64>() & 0xffff_ffff_ffff);
    let canary = |what: &str| format!("CANARY{what}{tag}");
    let mut canaries: Vec<String> = Vec::new();
    let mut remember = |value: String| {
        canaries.push(value.clone());
        value
    };

    let mentee = sign_in(
        &server,
        "mentee-c",
        "Mentee C",
        "mentee",
        &remember(canary("MAILA")),
    )
    .await;
    let mentor = sign_in(
        &server,
        "mentor-c",
        "Dr Mentor C",
        "mentor",
        &remember(canary("MAILB")),
    )
    .await;
    let introduction = remember(canary("INTRO"));
    let requested = server
        .rest
        .post(
            "/api/relationships",
            Some(&mentee.token),
            &json!({"mentor": mentor.account, "introduction": introduction}),
        )
        .await
        .ok();
    let relationship = requested["relationship"]["id"].as_str().unwrap().to_owned();
    let accepted = server
        .rest
        .post(
            &format!("/api/relationships/{relationship}/accept"),
            Some(&mentor.token),
            &json!({}),
        )
        .await
        .ok();
    let pair = Pair {
        conversation: accepted["relationship"]["conversation"]
            .as_str()
            .unwrap()
            .to_owned(),
        relationship,
        mentee,
        mentor,
    };
    let conversation = pair.conversation.as_str();
    let mut a = WsClient::connect(&server.ws_url, &pair.mentee.token).await;
    let mut b = WsClient::connect(&server.ws_url, &pair.mentor.token).await;

    // Bodies: kept, replied to, edited, deleted.
    let kept = a.say(conversation, "c-1", &remember(canary("KEPT"))).await;
    let reply = send_reply(&mut b, conversation, kept, &remember(canary("REPLY"))).await;
    let edited = b.say(conversation, "c-3", &remember(canary("DRAFT"))).await;
    let edit = b
        .request(
            json!({"type": "edit", "conversation": conversation, "seq": edited,
                        "body": remember(canary("EDITED"))}),
        )
        .await;
    ack_seq(&edit);
    let doomed = a
        .say(conversation, "c-4", &remember(canary("DELETED")))
        .await;
    let delete = a
        .request(json!({"type": "delete", "conversation": conversation, "seq": doomed}))
        .await;
    ack_seq(&delete);
    b.wait_for_seq(conversation, doomed + 1).await;
    let history = b
        .request(json!({"type": "history", "conversation": conversation}))
        .await;
    assert_eq!(history["type"], "history");
    assert!(reply > kept);

    // Refused and malformed frames that carry canaries.
    let refused = send(
        &mut a,
        "c_aaaaaaaaaaaaaaaaaaaa",
        "c-5",
        &remember(canary("REFUSED")),
    )
    .await;
    assert_eq!(refused["code"], "not_found");
    let too_long = format!("{}{}", remember(canary("TOOLONG")), "x".repeat(16_001));
    let refused = send(&mut a, conversation, "c-6", &too_long).await;
    assert_eq!(refused["code"], "body_invalid");
    let broken = remember(canary("BROKEN"));
    a.send_text(&format!(r#"{{"type": "send", "body": "{broken}"#))
        .await;
    let error = a.next_of_type("error").await;
    assert_eq!(error["code"], "invalid_json");
    assert!(
        !error.to_string().contains(&broken),
        "the error echoes content"
    );

    // Tokens: refused at hello and over REST, and a refresh.
    let mut forged_claims = tokens::claims("idp:mentee-c", "Mentee C", "mentee");
    forged_claims["email"] = json!(remember(canary("FORGED")));
    let forged = tokens::tampered(&pair.mentee.token, |c| *c = forged_claims.clone());
    let mut intruder = WsClient::open(&server.ws_url).await;
    let reply = intruder.hello(&forged, &Default::default()).await;
    assert_eq!(reply["message"], "token refused: token_bad_signature");
    intruder.expect_close(4001).await;
    let rest = server.rest.get("/api/conversations", Some(&forged)).await;
    assert_eq!(rest.status, 401);
    let mut fresh_claims = tokens::claims("idp:mentee-c", "Mentee C", "mentee");
    fresh_claims["email"] = json!(remember(canary("FRESH")));
    let fresh = tokens::hs256(server.options.secret.as_bytes(), &fresh_claims);
    let refreshed = a.request(json!({"type": "refresh", "token": fresh})).await;
    assert_eq!(refreshed["type"], "refreshed", "{refreshed}");

    let mut secrets: Vec<(String, String)> =
        canaries.iter().map(|c| (c.clone(), c.clone())).collect();
    for (name, token) in [
        ("mentee token", &pair.mentee.token),
        ("mentor token", &pair.mentor.token),
        ("forged token", &forged),
        ("refreshed token", &fresh),
    ] {
        secrets.push((name.to_owned(), token.clone()));
        // The signature alone is as good as a name for the token.
        let signature = token.rsplit('.').next().unwrap().to_owned();
        secrets.push((format!("{name}'s signature"), signature));
    }

    // The live files (database, WAL) first, then after a graceful stop.
    let live = sqlite_bytes(&server.data_dir);
    a.close().await;
    b.close().await;
    server.sigterm();
    server
        .wait_exit(Duration::from_secs(15))
        .await
        .expect("the server stops on SIGTERM");
    let stopped = all_bytes(&server.data_dir);
    let logs = server.logs();
    assert!(
        logs.contains("hello refused"),
        "the logs were captured:\n{logs}"
    );
    for (name, secret) in &secrets {
        let needle = secret.as_bytes();
        assert!(!logs.contains(secret.as_str()), "{name} is in the logs");
        assert!(
            !contains(&live, needle),
            "{name} is in the live SQLite files"
        );
        assert!(!contains(&stopped, needle), "{name} is in the data dir");
    }
}

/// A thread reply with a fresh client id; its `seq`.
async fn send_reply(ws: &mut WsClient, conversation: &str, root: u64, body: &str) -> u64 {
    let reply = ws
        .request(
            json!({"type": "send", "conversation": conversation, "client_id": "c-2",
                        "body": body, "thread": root}),
        )
        .await;
    ack_seq(&reply)
}
