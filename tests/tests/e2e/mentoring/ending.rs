//! No-fault endings: either party ends at any time; the conversation stays readable and
//! accepts nothing new; the optional private note reaches nobody but its writer.

use mentorhub_tests::rest::text;
use mentorhub_tests::{Pair, WsClient, spawn_app};
use serde_json::{Value, json};

use super::{answer, assert_absent, assert_error, bodies, settle};

const NOTE: &str = "Private-note-7f31: our schedules never matched and I felt judged";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mentoring_no_fault_end_is_read_only_and_the_note_stays_private() {
    let app = spawn_app().await;
    let rest = &app.rest;
    let mentee = rest.login("Ada Student", "mentee").await;
    let mentor = rest.login("Amara Diallo", "mentor").await;
    let coordinator = rest.login("Cora Ordinator", "coordinator").await;
    let mut mentor_ws = WsClient::connect_recording(&app.ws_url, &mentor.token).await;
    let mut coordinator_ws = WsClient::connect_recording(&app.ws_url, &coordinator.token).await;

    let assigned = rest
        .post(
            "/api/relationships/assignments",
            Some(&coordinator.token),
            &json!({"mentee": mentee.account, "mentors": [mentor.account]}),
        )
        .await
        .ok();
    let id = text(&assigned["relationship"]["id"]);
    let conversation = text(&assigned["relationship"]["conversation"]);
    answer(
        rest,
        &mentee,
        &id,
        "accept",
        json!({"pseudonym": "Night Owl"}),
    )
    .await
    .ok();
    answer(rest, &mentor, &id, "accept", json!({})).await.ok();
    let mut mentee_ws = WsClient::connect(&app.ws_url, &mentee.token).await;
    mentee_ws.say(&conversation, "e-1", "Before the end.").await;
    let reply = mentor_ws.say(&conversation, "e-2", "Noted.").await;

    // The mentee ends it, with a private note. Their own view keeps the note.
    let ended = answer(rest, &mentee, &id, "end", json!({"note": NOTE}))
        .await
        .ok();
    assert_eq!(ended["relationship"]["state"], "ended");
    assert_eq!(ended["relationship"]["my_note"], NOTE);
    assert!(ended["relationship"]["ended_at"].is_number());
    let own = rest
        .get("/api/relationships", Some(&mentee.token))
        .await
        .ok();
    assert_eq!(own["relationships"][0]["my_note"], NOTE);

    // Everyone in it learns of the end, live.
    for ws in [&mut mentor_ws, &mut mentee_ws] {
        let event = ws
            .next_matching("relationship_ended", |f| {
                f["type"] == "system"
                    && f["conversation"] == conversation.as_str()
                    && f["event"]["kind"] == "relationship_ended"
            })
            .await;
        assert_eq!(event["event"]["relationship"], id.as_str());
        let now = ws
            .next_matching("the read-only conversation", |f| {
                f["type"] == "conversation"
                    && f["conversation"]["id"] == conversation.as_str()
                    && f["conversation"]["state"] != "active"
            })
            .await;
        assert_eq!(now["conversation"]["state"], "read_only");
    }
    coordinator_ws
        .next_matching("the end, for the coordinator", |f| {
            f["type"] == "relationship" && f["relationship"]["state"] == "ended"
        })
        .await;

    // Read-only: members read everything said, nobody posts, types, edits or answers again.
    for person in [&mentee, &mentor] {
        assert_eq!(
            bodies(rest, person, &conversation).await,
            ["Before the end.", "Noted."]
        );
    }
    for ws in [&mut mentee_ws, &mut mentor_ws] {
        let refused = ws
            .request(json!({"type": "send", "conversation": conversation,
                            "client_id": "late", "body": "one more thing"}))
            .await;
        assert_error(&refused, "conversation_closed");
        let history = ws
            .request(json!({"type": "history", "conversation": conversation}))
            .await;
        assert_eq!(history["type"], "history", "{history}");
    }
    let edit = mentor_ws
        .request(json!({"type": "edit", "conversation": conversation,
                        "seq": reply, "body": "changed"}))
        .await;
    assert_error(&edit, "conversation_closed");
    for (who, verb) in [(&mentor, "end"), (&mentor, "accept"), (&mentee, "end")] {
        let again = answer(rest, who, &id, verb, json!({})).await;
        assert_eq!(again.code(), "conflict", "{verb} after the end");
    }

    // The note: in nothing the mentor or the coordinator received or can fetch.
    let mut seen: Vec<Value> = Vec::new();
    for (person, ws) in [
        (&mentor, &mut mentor_ws),
        (&coordinator, &mut coordinator_ws),
    ] {
        settle(ws).await;
        seen.extend(ws.transcript().iter().cloned());
        for path in [
            "/api/relationships".to_owned(),
            "/api/conversations".to_owned(),
            format!("/api/conversations/{conversation}"),
            format!("/api/conversations/{conversation}/messages"),
            format!("/api/conversations/{conversation}/threads"),
            "/api/oversight".to_owned(),
        ] {
            seen.push(rest.get(&path, Some(&person.token)).await.body);
        }
    }
    let reconnected = WsClient::connect(&app.ws_url, &mentor.token).await;
    seen.push(reconnected.welcome.clone().unwrap());
    assert!(seen.len() > 12);
    assert_absent(
        &seen,
        &[NOTE, "Private-note-7f31", "my_note"],
        "the mentor or coordinator",
    );
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mentoring_either_party_ends_without_a_note() {
    let app = spawn_app().await;
    let pair = Pair::create(&app.rest, "Ada Student", "Amara Diallo").await;
    let ended = app
        .rest
        .post_raw(
            &format!("/api/relationships/{}/end", pair.relationship),
            Some(&pair.mentor.token),
            "application/json",
            Vec::new(),
        )
        .await;
    assert_eq!(ended.status, 200, "{:?}", ended.body);
    assert_eq!(ended.body["relationship"]["state"], "ended");
    assert!(ended.body["relationship"].get("my_note").is_none());
    let summary = super::summary(&app.rest, &pair.mentee, &pair.conversation).await;
    assert_eq!(summary["state"], "read_only");
    app.shutdown().await;
}
