//! Confidentiality: a chat scenario against a real `mentorhub` process at trace log
//! level (the most verbose there is, so nothing can hide below it), with canary strings in
//! message bodies (sent, replied, edited, deleted, refused, malformed), in an introduction,
//! in a room's title and agreement and in tokens (a claim the server ignores, refused and
//! refreshed tokens). None of them, and no token, may appear in the captured logs or in
//! the raw SQLite files. Room titles and agreements are also checked on PostgreSQL (the
//! database's own files), and rooms stored before they were sealed are sealed at start-up
//! on both engines.

use std::time::Duration;

use mentorhub_tests::cluster::{PgDatabase, postgres_admin_url};
use mentorhub_tests::disk::{all_bytes, contains, postgres_database_bytes, sqlite_bytes};
use mentorhub_tests::process::{ProcessOptions, ServerProcess, spawn_process_with};
use mentorhub_tests::rest::Rest;
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

    // A room's title and agreement, read back by its creator.
    create_room(
        &server.rest,
        &pair.mentor,
        &remember(canary("TITLE")),
        &remember(canary("AGREEMENT")),
    )
    .await;

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

/// A room with this title and agreement; its id. The creator reads both back as written.
async fn create_room(rest: &Rest, creator: &Person, title: &str, agreement: &str) -> String {
    let created = rest
        .post(
            "/api/rooms",
            Some(&creator.token),
            &json!({"title": title, "agreement": agreement}),
        )
        .await
        .ok();
    let room = created["conversation"]["id"].as_str().unwrap().to_owned();
    assert_room_texts(rest, creator, &room, title, agreement).await;
    room
}

/// The room's title and agreement as a member reads them.
async fn assert_room_texts(rest: &Rest, member: &Person, room: &str, title: &str, agreement: &str) {
    let read = rest
        .get(&format!("/api/conversations/{room}"), Some(&member.token))
        .await
        .ok();
    assert_eq!(read["conversation"]["title"], title, "{read}");
    assert_eq!(read["conversation"]["agreement"], agreement, "{read}");
}

fn fresh_canary(what: &str) -> String {
    let tag = format!("{:012x}", rand::rng().random::<u64>() & 0xffff_ffff_ffff);
    format!("CANARY{what}{tag}")
}

/// A server on its own PostgreSQL database, logging everything.
async fn postgres_server(db: &PgDatabase) -> ServerProcess {
    spawn_process_with(
        ProcessOptions::default()
            .set("log", "trace")
            .set("database_url", db.url.clone())
            .set("turn_enabled", "false"),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foundation_canary_room_titles_and_agreements_never_reach_postgres_files_or_logs() {
    let db = PgDatabase::create().await;
    let server = postgres_server(&db).await;
    let facilitator = server.rest.login("Facilitator P", "mentor").await;
    let (title, agreement) = (fresh_canary("PGTITLE"), fresh_canary("PGAGREEMENT"));
    create_room(&server.rest, &facilitator, &title, &agreement).await;

    let files = postgres_database_bytes(&postgres_admin_url(), &db.name).await;
    assert!(
        contains(&files, b"room_created"),
        "the scan reads the database's tables"
    );
    let logs = server.logs();
    for secret in [&title, &agreement] {
        assert!(!logs.contains(secret.as_str()), "{secret} is in the logs");
        assert!(
            !contains(&files, secret.as_bytes()),
            "{secret} is in the PostgreSQL files"
        );
    }
    drop(server);
    db.drop_now().await;
}

/// Puts a room's title and agreement back in the plaintext columns, as a server that
/// did not seal them left them.
const UNSEAL: &str = "UPDATE conversations SET title = $2, agreement = $3, \
    sealed_title = NULL, sealed_agreement = NULL WHERE id = $1";

/// What the plaintext columns hold now, over all rooms.
const PLAINTEXT_LEFT: &str =
    "SELECT COUNT(*) FROM conversations WHERE title IS NOT NULL OR agreement IS NOT NULL";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foundation_canary_rooms_stored_in_plaintext_are_sealed_at_start_up_on_sqlite() {
    use sqlx::ConnectOptions;
    let mut server = spawn_process_with(ProcessOptions::default().set("log", "trace")).await;
    let facilitator = server.rest.login("Facilitator S", "mentor").await;
    let room = create_room(&server.rest, &facilitator, "Placeholder", "Placeholder").await;
    let (title, agreement) = (fresh_canary("OLDTITLE"), fresh_canary("OLDAGREEMENT"));
    server.sigterm();
    server
        .wait_exit(Duration::from_secs(15))
        .await
        .expect("stopped");

    let file = server.data_dir.join(mentorhub::config::DEFAULT_SQLITE_FILE);
    let open = || {
        let file = file.clone();
        async move {
            sqlx::sqlite::SqliteConnectOptions::new()
                .filename(file)
                .connect()
                .await
                .expect("open the SQLite file")
        }
    };
    let mut conn = open().await;
    sqlx::query(UNSEAL)
        .bind(&room)
        .bind(&title)
        .bind(&agreement)
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::Connection::close(conn).await.unwrap();
    assert!(contains(&all_bytes(&server.data_dir), title.as_bytes()));

    // Sealed before the first request, and read back; a second start finds nothing to do.
    for start in 0..2 {
        server.restart().await;
        assert_room_texts(&server.rest, &facilitator, &room, &title, &agreement).await;
        server.sigterm();
        server
            .wait_exit(Duration::from_secs(15))
            .await
            .expect("stopped");
        let mut conn = open().await;
        let left: i64 = sqlx::query_scalar(PLAINTEXT_LEFT)
            .fetch_one(&mut conn)
            .await
            .unwrap();
        sqlx::Connection::close(conn).await.unwrap();
        assert_eq!(left, 0, "start {start}: plaintext left");
        let files = all_bytes(&server.data_dir);
        assert_absent(
            &files,
            &[&title, &agreement],
            &format!("start {start}: the data dir"),
        );
    }
    assert_sealed_once(&server.logs(), &[&title, &agreement]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foundation_canary_rooms_stored_in_plaintext_are_sealed_at_start_up_on_postgres() {
    use sqlx::Connection;
    let db = PgDatabase::create().await;
    let mut server = postgres_server(&db).await;
    let facilitator = server.rest.login("Facilitator Q", "mentor").await;
    let room = create_room(&server.rest, &facilitator, "Placeholder", "Placeholder").await;
    let (title, agreement) = (fresh_canary("PGOLDTITLE"), fresh_canary("PGOLDAGREEMENT"));
    server.sigterm();
    server
        .wait_exit(Duration::from_secs(15))
        .await
        .expect("stopped");
    let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
    sqlx::query(UNSEAL)
        .bind(&room)
        .bind(&title)
        .bind(&agreement)
        .execute(&mut conn)
        .await
        .unwrap();
    assert!(contains(
        &postgres_database_bytes(&postgres_admin_url(), &db.name).await,
        title.as_bytes()
    ));

    for start in 0..2 {
        server.restart().await;
        assert_room_texts(&server.rest, &facilitator, &room, &title, &agreement).await;
        let left: i64 = sqlx::query_scalar(PLAINTEXT_LEFT)
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(left, 0, "start {start}: plaintext left");
        let files = postgres_database_bytes(&postgres_admin_url(), &db.name).await;
        assert_absent(
            &files,
            &[&title, &agreement],
            &format!("start {start}: the database files"),
        );
    }
    assert_sealed_once(&server.logs(), &[&title, &agreement]);
    let _ = conn.close().await;
    drop(server);
    db.drop_now().await;
}

/// None of `secrets` in `bytes` (what `place` holds).
fn assert_absent(bytes: &[u8], secrets: &[&str], place: &str) {
    for secret in secrets {
        assert!(
            !contains(bytes, secret.as_bytes()),
            "{place}: {secret} found"
        );
    }
}

/// The start-up seal pass said once that it sealed plaintext, and the logs name none of
/// the `secrets`.
fn assert_sealed_once(logs: &str, secrets: &[&str]) {
    assert_eq!(
        logs.matches("sealed room titles and agreements stored in plaintext")
            .count(),
        1,
        "sealed once, at the first start after:\n{logs}"
    );
    assert!(secrets.iter().all(|secret| !logs.contains(secret)));
}
