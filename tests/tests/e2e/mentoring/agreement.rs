//! The agreement gate: a room member who has not accepted the confidentiality agreement
//! receives nothing of the room while others chat, type, read and come and go; sees only
//! its title and agreement; cannot send. Then they accept and take part.

use mentorhub_tests::rest::text;
use mentorhub_tests::{WsClient, spawn_app};
use serde_json::{Value, json};

use super::{
    agree, assert_error, create_room, enter_room, invite_code, join_with_code, member_entry,
    settle, summary,
};

const AGREEMENT: &str = "What is said in this circle stays in this circle.";
const SAID: [&str; 4] = [
    "gate-body-1: I nearly quit last week",
    "gate-body-2: the rota broke me",
    "gate-body-3 (edited): it got better",
    "gate-body-4: a thread reply",
];

/// Frame types that carry a room's content or its members' activity.
const CONTENT: [&str; 8] = [
    "message",
    "message_edited",
    "message_deleted",
    "system",
    "typing",
    "receipt",
    "presence",
    "call",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mentoring_agreement_gate_withholds_everything_until_accepted() {
    let app = spawn_app().await;
    let rest = &app.rest;
    let facilitator = rest.login("Amara Diallo", "mentor").await;
    let ada = rest.login("Ada Student", "mentee").await;
    let bo = rest.login("Bo Student", "mentee").await;
    let cy = rest.login("Cy Holdout", "mentee").await;
    // Ada shares read receipts, so the room would see her reading.
    rest.put(
        "/api/me/settings",
        Some(&ada.token),
        &json!({"read_receipts": true, "default_pseudonym": null}),
    )
    .await
    .ok();
    let room = create_room(
        rest,
        &facilitator,
        json!({"title": "Night-shift circle", "kind": "group", "agreement": AGREEMENT,
               "history_visible": true}),
    )
    .await;
    enter_room(rest, &facilitator, &room, &ada, None).await;
    enter_room(rest, &facilitator, &room, &bo, Some("Quiet Bo")).await;

    // Cy is connected, then joins without accepting the agreement.
    let mut cy_ws = WsClient::connect_recording(&app.ws_url, &cy.token).await;
    let code = invite_code(rest, &facilitator, &room).await;
    let gated = join_with_code(rest, &cy, &code, None).await;
    let cy_member = text(&gated["me"]);
    assert_gated(&gated);
    assert_gated(&summary(rest, &cy, &room).await);

    let mut facilitator_ws = WsClient::connect_recording(&app.ws_url, &facilitator.token).await;
    let mut ada_ws = WsClient::connect(&app.ws_url, &ada.token).await;
    let mut bo_ws = WsClient::connect(&app.ws_url, &bo.token).await;

    // The facilitator sees who has accepted.
    let view = summary(rest, &facilitator, &room).await;
    assert_eq!(member_entry(&view, &cy_member)["agreed"], false, "{view}");
    let agreed = view["members"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["agreed"] == true)
        .count();
    assert_eq!(agreed, 3, "facilitator, Ada and Bo accepted");

    // The room talks: messages, a thread reply, an edit, a deletion, typing, reading,
    // presence changes. The facilitator is the witness that each was fanned out.
    let first = ada_ws.say(&room, "g-1", SAID[0]).await;
    let second = bo_ws.say(&room, "g-2", SAID[1]).await;
    let edited = ada_ws
        .request(json!({"type": "edit", "conversation": room, "seq": first, "body": SAID[2]}))
        .await;
    assert_eq!(edited["type"], "ack", "{edited}");
    let deleted = bo_ws
        .request(json!({"type": "delete", "conversation": room, "seq": second}))
        .await;
    assert_eq!(deleted["type"], "ack", "{deleted}");
    let reply = ada_ws
        .request(
            json!({"type": "send", "conversation": room, "client_id": "g-3",
                        "body": SAID[3], "thread": first}),
        )
        .await;
    assert_eq!(reply["type"], "ack", "{reply}");
    bo_ws
        .send(&json!({"type": "typing", "conversation": room, "active": true}))
        .await;
    let read = ada_ws
        .request(json!({"type": "read", "conversation": room, "seq": reply["seq"]}))
        .await;
    assert_eq!(read["type"], "ok", "{read}");
    let away = bo_ws
        .request(json!({"type": "presence", "status": "away"}))
        .await;
    assert_eq!(away["type"], "ok", "{away}");
    let last_seq = reply["seq"].as_u64().unwrap();
    facilitator_ws.wait_for_seq(&room, last_seq).await;
    for (what, kind) in [
        ("Bo typing", "typing"),
        ("Ada's receipt", "receipt"),
        ("Bo away", "presence"),
    ] {
        facilitator_ws
            .next_matching(what, |f| {
                f["type"] == kind && f["conversation"] == room.as_str()
            })
            .await;
    }

    // Cy, meanwhile: not one frame of content, no member, no name.
    let frames = settle(&mut cy_ws).await;
    assert!(!frames.is_empty() || !cy_ws.transcript().is_empty());
    for frame in cy_ws.transcript() {
        let kind = frame["type"].as_str().unwrap_or("");
        assert!(
            !(CONTENT.contains(&kind) && frame["conversation"] == room.as_str()),
            "a member who has not agreed received a `{kind}` frame of the room"
        );
        if frame["type"] == "conversation" && frame["conversation"]["id"] == room.as_str() {
            assert_gated(&frame["conversation"]);
        }
    }
    super::assert_absent(
        cy_ws.transcript(),
        &[
            SAID[0],
            SAID[1],
            SAID[2],
            SAID[3],
            "gate-body",
            "Ada Student",
            "Quiet Bo",
            "Amara Diallo",
        ],
        "a member who has not agreed",
    );
    // And nothing of Cy reaches the room before they agree: not even presence.
    assert!(
        facilitator_ws
            .transcript()
            .iter()
            .all(|f| !(f["type"] == "presence" && f["member"] == cy_member.as_str())),
        "the room saw the presence of a member who has not agreed"
    );

    // Cy cannot post, type, read or page through the room, by any route.
    for frame in [
        json!({"type": "send", "conversation": room, "client_id": "c-1", "body": "hello?"}),
        json!({"type": "typing", "conversation": room, "active": true}),
        json!({"type": "read", "conversation": room, "seq": 1}),
        json!({"type": "history", "conversation": room}),
        json!({"type": "threads", "conversation": room}),
        json!({"type": "call", "action": "start", "conversation": room, "media": "audio"}),
    ] {
        let refused = cy_ws.request(frame.clone()).await;
        assert_error(&refused, "agreement_required");
    }
    for path in [
        format!("/api/conversations/{room}/messages"),
        format!("/api/conversations/{room}/threads"),
    ] {
        let refused = rest.get(&path, Some(&cy.token)).await;
        assert_eq!(
            (refused.status, refused.code()),
            (403, "agreement_required"),
            "{path}"
        );
    }
    let refused = rest
        .post(
            "/api/reports",
            Some(&cy.token),
            &json!({"conversation": room, "seq": first}),
        )
        .await;
    assert!(
        refused.status >= 400,
        "a gated member reported a message they cannot read"
    );

    // Cy accepts: the full room, the history (this room shows it) and a voice.
    let full = agree(rest, &cy, &room).await;
    assert!(full.get("agreement_required").is_none(), "{full}");
    assert_eq!(full["members"].as_array().unwrap().len(), 4);
    let accepted = facilitator_ws
        .next_matching("agreement_accepted", |f| {
            f["type"] == "system" && f["event"]["kind"] == "agreement_accepted"
        })
        .await;
    assert_eq!(accepted["event"]["member"], cy_member.as_str());
    assert_eq!(
        member_entry(&summary(rest, &facilitator, &room).await, &cy_member)["agreed"],
        true
    );
    cy_ws
        .next_matching("Cy's full view", |f| {
            f["type"] == "conversation"
                && f["conversation"]["id"] == room.as_str()
                && f["conversation"].get("agreement_required").is_none()
        })
        .await;
    let page = cy_ws
        .request(json!({"type": "history", "conversation": room, "limit": 200}))
        .await;
    let bodies: Vec<&str> = page["events"]
        .as_array()
        .expect("a history page")
        .iter()
        .filter(|e| e["type"] == "message")
        .filter_map(|e| e["body"].as_str())
        .collect();
    assert_eq!(bodies, [SAID[2], SAID[3]], "the edited root and the reply");
    let spoken = cy_ws.say(&room, "c-2", "Thank you for having me.").await;
    let heard = ada_ws
        .next_matching("Cy's first message", |f| {
            f["type"] == "message" && f["seq"] == spoken
        })
        .await;
    assert_eq!(heard["sender"], cy_member.as_str());
    let answer = ada_ws.say(&room, "g-4", "Welcome, Cy.").await;
    cy_ws
        .next_matching("Ada's welcome, live", |f| {
            f["type"] == "message" && f["seq"] == answer
        })
        .await;
    cy_ws
        .send(&json!({"type": "typing", "conversation": room, "active": true}))
        .await;
    let typing = bo_ws
        .next_matching("Cy typing", |f| {
            f["type"] == "typing" && f["member"] == cy_member.as_str()
        })
        .await;
    assert_eq!(typing["conversation"], room.as_str());
    app.shutdown().await;
}

/// A summary that shows only the room's title and agreement.
#[track_caller]
fn assert_gated(summary: &Value) {
    assert_eq!(summary["agreement_required"], true, "{summary}");
    assert_eq!(summary["agreement"], AGREEMENT);
    assert_eq!(summary["title"], "Night-shift circle");
    assert_eq!(
        summary["members"],
        json!([]),
        "members shown before agreeing"
    );
    assert_eq!(summary["last_seq"], 0);
    assert_eq!(summary["unread"], 0);
}
