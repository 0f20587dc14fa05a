//! Races decided by the database, on both engines: one single-use invite code tried by
//! many accounts at once admits exactly one; one mentee's many simultaneous requests to
//! one mentor leave exactly one open request.

use futures_util::future::join_all;
use mentorhub::config::DatabaseConfig;
use mentorhub_tests::cluster::PgDatabase;
use mentorhub_tests::rest::text;
use mentorhub_tests::{Person, Reply, TestApp, spawn_app, spawn_app_with};
use serde_json::json;

const ROUNDS: usize = 5;
const ATTEMPTS: usize = 24;

enum Engine {
    Sqlite,
    Postgres,
}

/// A server on the engine; the PostgreSQL database lives as long as the server.
async fn app_on(engine: Engine) -> (TestApp, Option<PgDatabase>) {
    match engine {
        Engine::Sqlite => (spawn_app().await, None),
        Engine::Postgres => {
            let db = PgDatabase::create().await;
            let url = db.url.clone();
            let app = spawn_app_with(|c| {
                c.scale.database = DatabaseConfig::Postgres { url };
            })
            .await;
            (app, Some(db))
        }
    }
}

/// The statuses of `replies`: how many succeeded, and the error codes of the rest.
fn outcome(replies: &[Reply]) -> (usize, Vec<String>) {
    let won = replies
        .iter()
        .filter(|r| (200..300).contains(&r.status))
        .count();
    let mut codes: Vec<String> = replies
        .iter()
        .filter(|r| !(200..300).contains(&r.status))
        .map(|r| format!("{} {}", r.status, r.code()))
        .collect();
    codes.sort();
    codes.dedup();
    (won, codes)
}

async fn one_code_many_joiners(engine: Engine) {
    let (app, _db) = app_on(engine).await;
    let rest = &app.rest;
    let facilitator = rest.login("Fola Facilitator", "mentor").await;
    for round in 0..ROUNDS {
        let created = rest
            .post(
                "/api/rooms",
                Some(&facilitator.token),
                &json!({"title": format!("Round {round}"), "kind": "group"}),
            )
            .await
            .ok();
        let room = text(&created["conversation"]["id"]);
        let code = rest
            .post(
                &format!("/api/rooms/{room}/invite-codes"),
                Some(&facilitator.token),
                &json!({}),
            )
            .await
            .ok();
        let code = text(&code["invite_code"]["code"]);
        let mut joiners: Vec<Person> = Vec::new();
        for i in 0..ATTEMPTS {
            joiners.push(rest.login(&format!("Joiner {round}-{i}"), "mentee").await);
        }
        let body = json!({"code": code});
        let replies = join_all(
            joiners
                .iter()
                .map(|person| rest.post("/api/rooms/join", Some(&person.token), &body)),
        )
        .await;
        let (won, codes) = outcome(&replies);
        assert_eq!(
            won, 1,
            "round {round}: one join per code; others: {codes:?}"
        );
        assert_eq!(codes, ["404 not_found"], "round {round}");
        let summary = rest
            .get(
                &format!("/api/conversations/{room}"),
                Some(&facilitator.token),
            )
            .await
            .ok();
        let members = summary["conversation"]["members"]
            .as_array()
            .map_or(0, Vec::len);
        assert_eq!(members, 2, "round {round}: the facilitator and one joiner");
    }
    app.shutdown().await;
}

async fn one_mentee_many_requests(engine: Engine) {
    let (app, _db) = app_on(engine).await;
    let rest = &app.rest;
    for round in 0..ROUNDS {
        let mentee = rest.login(&format!("Mina {round}"), "mentee").await;
        let mentor = rest.login(&format!("Dr Mo {round}"), "mentor").await;
        let request = json!({"mentor": mentor.account, "introduction": "Could we talk?"});
        let replies = join_all(
            (0..ATTEMPTS).map(|_| rest.post("/api/relationships", Some(&mentee.token), &request)),
        )
        .await;
        let (won, codes) = outcome(&replies);
        assert_eq!(won, 1, "round {round}: one open request; others: {codes:?}");
        assert_eq!(codes, ["409 conflict"], "round {round}");
        let pending = open_relationships(rest, &mentor).await;
        assert_eq!(
            pending.len(),
            1,
            "round {round}: the mentor sees one request"
        );

        // Once the request is withdrawn the place is free again (and held again).
        let id = &pending[0];
        rest.post(
            &format!("/api/relationships/{id}/withdraw"),
            Some(&mentee.token),
            &json!({}),
        )
        .await
        .ok();
        let replies = join_all(
            (0..ATTEMPTS).map(|_| rest.post("/api/relationships", Some(&mentee.token), &request)),
        )
        .await;
        assert_eq!(outcome(&replies).0, 1, "round {round}: after withdrawing");
        assert_eq!(open_relationships(rest, &mentor).await.len(), 1);
    }
    app.shutdown().await;
}

/// Ids of the pending and active relationships `person` sees.
async fn open_relationships(rest: &mentorhub_tests::Rest, person: &Person) -> Vec<String> {
    let listed = rest
        .get("/api/relationships", Some(&person.token))
        .await
        .ok();
    listed["relationships"]
        .as_array()
        .expect("a list of relationships")
        .iter()
        .filter(|r| r["state"] == "pending" || r["state"] == "active")
        .map(|r| text(&r["id"]))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn abuse_race_one_invite_code_admits_one_joiner_on_sqlite() {
    one_code_many_joiners(Engine::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn abuse_race_one_invite_code_admits_one_joiner_on_postgres() {
    one_code_many_joiners(Engine::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn abuse_race_simultaneous_requests_leave_one_open_request_on_sqlite() {
    one_mentee_many_requests(Engine::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn abuse_race_simultaneous_requests_leave_one_open_request_on_postgres() {
    one_mentee_many_requests(Engine::Postgres).await;
}
