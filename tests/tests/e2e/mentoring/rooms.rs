//! Group and peer rooms: creation, invitations and single-use codes, joining, the member
//! limit, history visibility for new members, remove, mute and leave.

use mentorhub_tests::rest::text;
use mentorhub_tests::{WsClient, spawn_app};
use serde_json::{Value, json};

use super::{
    agree, assert_error, bodies, create_room, enter_room, invite_code, join_with_code,
    member_entry, summary,
};

/// The next timeline `system` event of this kind in `room`.
async fn system_event(ws: &mut WsClient, room: &str, kind: &str) -> Value {
    ws.next_matching(&format!("a `{kind}` event"), |f| {
        f["type"] == "system" && f["conversation"] == room && f["event"]["kind"] == kind
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mentoring_room_creation_invite_code_and_join() {
    let app = spawn_app().await;
    let rest = &app.rest;
    let facilitator = rest.login("Amara Diallo", "mentor").await;
    let coordinator = rest.login("Cora Ordinator", "coordinator").await;
    let ada = rest.login("Ada Student", "mentee").await;
    let bo = rest.login("Bo Student", "mentee").await;
    let cy = rest.login("Cy Student", "mentee").await;

    let refused = rest
        .post("/api/rooms", Some(&ada.token), &json!({"title": "Mine"}))
        .await;
    assert_eq!((refused.status, refused.code()), (403, "forbidden"));
    let created = rest
        .post(
            "/api/rooms",
            Some(&facilitator.token),
            &json!({"title": "Night-shift peer support", "kind": "group",
                    "agreement": "What is said here stays here.", "member_limit": 3}),
        )
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let room_summary = &created.body["conversation"];
    let room = text(&room_summary["id"]);
    assert_eq!(room_summary["kind"], "room");
    assert_eq!(room_summary["room_kind"], "group");
    assert_eq!(room_summary["title"], "Night-shift peer support");
    assert_eq!(room_summary["my_role"], "facilitator");
    // A coordinator may create one too (and a standard agreement is used).
    let peer = create_room(
        rest,
        &coordinator,
        json!({"title": "Peers", "kind": "peer"}),
    )
    .await;
    let code = invite_code(rest, &coordinator, &peer).await;
    let gated = join_with_code(rest, &ada, &code, None).await;
    assert!(
        !gated["agreement"].as_str().unwrap_or("").is_empty(),
        "{gated}"
    );

    // A single-use code: the second use is refused like an unknown one.
    let code = invite_code(rest, &facilitator, &room).await;
    assert_eq!(code.len(), 40, "invite codes are 40 characters");
    let joined = join_with_code(rest, &ada, &code, Some("Night Owl")).await;
    assert_eq!(joined["id"], room.as_str());
    assert_eq!(joined["my_role"], "member");
    let reused = rest
        .post("/api/rooms/join", Some(&bo.token), &json!({"code": code}))
        .await;
    assert_eq!((reused.status, reused.code()), (404, "not_found"));
    let unknown = rest
        .post(
            "/api/rooms/join",
            Some(&bo.token),
            &json!({"code": "x".repeat(40)}),
        )
        .await;
    assert_eq!(unknown.code(), "not_found");
    // Only the facilitator makes codes.
    agree(rest, &ada, &room).await;
    let not_facilitator = rest
        .post(
            &format!("/api/rooms/{room}/invite-codes"),
            Some(&ada.token),
            &json!({}),
        )
        .await;
    assert_eq!(not_facilitator.code(), "forbidden");
    let stranger = rest
        .post(
            &format!("/api/rooms/{room}/invite-codes"),
            Some(&bo.token),
            &json!({}),
        )
        .await;
    assert_eq!(stranger.code(), "not_found");
    // Joining twice is a conflict; a pseudonym already used is `name_taken`.
    let again = invite_code(rest, &facilitator, &room).await;
    let twice = rest
        .post("/api/rooms/join", Some(&ada.token), &json!({"code": again}))
        .await;
    assert_eq!(twice.code(), "conflict");
    let taken = rest
        .post(
            "/api/rooms/join",
            Some(&bo.token),
            &json!({"code": again, "pseudonym": "night owl"}),
        )
        .await;
    assert_eq!(taken.code(), "name_taken");

    // An invitation by account: told live, listed, joined by room id.
    let mut bo_ws = WsClient::connect(&app.ws_url, &bo.token).await;
    let invited = rest
        .post(
            &format!("/api/rooms/{room}/invitations"),
            Some(&facilitator.token),
            &json!({"account": bo.account}),
        )
        .await;
    assert_eq!(invited.status, 201, "{:?}", invited.body);
    let frame = bo_ws.next_of_type("invitation").await;
    assert_eq!(frame["invitation"]["room"], room.as_str());
    assert_eq!(
        frame["invitation"]["agreement"],
        "What is said here stays here."
    );
    assert_eq!(frame["invitation"]["history_visible"], false);
    let listed = rest.get("/api/invitations", Some(&bo.token)).await.ok();
    assert_eq!(listed["invitations"][0]["room"], room.as_str());
    rest.post("/api/rooms/join", Some(&bo.token), &json!({"room": room}))
        .await
        .ok();
    agree(rest, &bo, &room).await;

    // The member limit (3: facilitator, Ada, Bo).
    let last = invite_code(rest, &facilitator, &room).await;
    let full = rest
        .post("/api/rooms/join", Some(&cy.token), &json!({"code": last}))
        .await;
    assert_eq!((full.status, full.code()), (409, "room_full"));

    let view = summary(rest, &facilitator, &room).await;
    assert_eq!(view["members"].as_array().unwrap().len(), 3, "{view}");
    let shown = view["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["display_name"] == "Night Owl")
        .expect("Ada under her pseudonym");
    assert_eq!(shown["pseudonymous"], true);
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mentoring_room_history_for_new_members() {
    let app = spawn_app().await;
    let rest = &app.rest;
    let facilitator = rest.login("Amara Diallo", "mentor").await;
    let early = rest.login("Early Bird", "mentee").await;
    let late = rest.login("Late Comer", "mentee").await;
    let later = rest.login("Later Still", "mentee").await;

    for (visible, newcomer) in [(false, &late), (true, &later)] {
        let mut settings = json!({"title": "Circle", "kind": "peer"});
        if visible {
            settings["history_visible"] = json!(true);
        }
        let room = create_room(rest, &facilitator, settings).await;
        enter_room(rest, &facilitator, &room, &early, None).await;
        let mut ws = WsClient::connect(&app.ws_url, &early.token).await;
        ws.say(&room, "h-1", "said before you came").await;

        let before = ws.say(&room, "h-1b", "also said before you came").await;
        let mut newcomer_live = WsClient::connect_recording(&app.ws_url, &newcomer.token).await;
        let joined = enter_room(rest, &facilitator, &room, newcomer, None).await;
        // Editing an earlier message must not carry its text to a newcomer who may not
        // read that far back.
        let edited = ws
            .request(json!({"type": "edit", "conversation": room, "seq": before,
                            "body": "edited before-text, after you came"}))
            .await;
        assert_eq!(edited["type"], "ack", "{edited}");
        ws.say(&room, "h-2", "said after you came").await;
        let seen = bodies(rest, newcomer, &room).await;
        if visible {
            assert_eq!(
                seen,
                [
                    "said before you came",
                    "edited before-text, after you came",
                    "said after you came"
                ]
            );
            assert_eq!(joined["visible_from"], 0, "{joined}");
        } else {
            // Default: what the room said before you joined was said to others.
            assert_eq!(seen, ["said after you came"]);
            let last = newcomer_live
                .next_matching("the message after joining", |f| {
                    f["type"] == "message" && f["body"] == "said after you came"
                })
                .await;
            assert!(last["seq"].as_u64().is_some());
            let mut everything: Vec<Value> = newcomer_live.transcript().to_vec();
            everything.push(
                rest.get(
                    &format!("/api/conversations/{room}/messages?limit=200"),
                    Some(&newcomer.token),
                )
                .await
                .body,
            );
            super::assert_absent(
                &everything,
                &["before-text", "before you came"],
                "a newcomer to a room that hides history",
            );
            assert!(joined["visible_from"].as_u64().unwrap() > 1, "{joined}");
            let mut newcomer_ws = WsClient::connect(&app.ws_url, &newcomer.token).await;
            let page = newcomer_ws
                .request(json!({"type": "history", "conversation": room, "limit": 200}))
                .await;
            let said: Vec<&Value> = page["events"]
                .as_array()
                .expect("events")
                .iter()
                .filter(|e| e["body"] == "said before you came")
                .collect();
            assert!(
                said.is_empty(),
                "history over WebSocket shows earlier messages"
            );
            let before = newcomer_ws
                .request(json!({"type": "history", "conversation": room, "before": 3}))
                .await;
            assert!(
                before["events"]
                    .as_array()
                    .map(Vec::is_empty)
                    .unwrap_or(true),
                "paging back crosses visible_from"
            );
        }
    }
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mentoring_room_mute_remove_and_leave() {
    let app = spawn_app().await;
    let rest = &app.rest;
    let facilitator = rest.login("Amara Diallo", "mentor").await;
    let ada = rest.login("Ada Student", "mentee").await;
    let bo = rest.login("Bo Student", "mentee").await;
    let cy = rest.login("Cy Student", "mentee").await;
    let room = create_room(rest, &facilitator, json!({"title": "Circle"})).await;
    let mut members = Vec::new();
    for person in [&ada, &bo, &cy] {
        members.push(text(
            &enter_room(rest, &facilitator, &room, person, None).await["me"],
        ));
    }
    let (ada_member, bo_member) = (members[0].clone(), members[1].clone());
    let mut facilitator_ws = WsClient::connect(&app.ws_url, &facilitator.token).await;
    let mut ada_ws = WsClient::connect(&app.ws_url, &ada.token).await;
    let mut bo_ws = WsClient::connect(&app.ws_url, &bo.token).await;
    let mut cy_ws = WsClient::connect(&app.ws_url, &cy.token).await;
    let member_path =
        |member: &str, action: &str| format!("/api/rooms/{room}/members/{member}/{action}");

    // Only the facilitator moderates.
    let refused = rest
        .post(
            &member_path(&bo_member, "mute"),
            Some(&ada.token),
            &json!({}),
        )
        .await;
    assert_eq!((refused.status, refused.code()), (403, "forbidden"));

    // Mute: Ada still reads, but cannot post or type.
    rest.post(
        &member_path(&ada_member, "mute"),
        Some(&facilitator.token),
        &json!({}),
    )
    .await
    .ok();
    system_event(&mut bo_ws, &room, "member_muted").await;
    system_event(&mut ada_ws, &room, "member_muted").await;
    let send = ada_ws
        .request(json!({"type": "send", "conversation": room, "client_id": "m-1", "body": "hi"}))
        .await;
    assert_error(&send, "muted");
    let typing = ada_ws
        .request(json!({"type": "typing", "conversation": room, "active": true}))
        .await;
    assert_error(&typing, "muted");
    let seq = bo_ws.say(&room, "b-1", "Ada can read this").await;
    ada_ws
        .next_matching("Bo's message", |f| {
            f["type"] == "message" && f["seq"] == seq
        })
        .await;
    assert_eq!(
        member_entry(&summary(rest, &facilitator, &room).await, &ada_member)["muted"],
        true
    );
    rest.post(
        &member_path(&ada_member, "unmute"),
        Some(&facilitator.token),
        &json!({}),
    )
    .await
    .ok();
    system_event(&mut ada_ws, &room, "member_unmuted").await;
    ada_ws.say(&room, "m-2", "thanks").await;

    // Remove: Bo is told the room is gone for him, and nothing more of it arrives.
    rest.post(
        &member_path(&bo_member, "remove"),
        Some(&facilitator.token),
        &json!({}),
    )
    .await
    .ok();
    let gone = bo_ws.next_of_type("conversation_removed").await;
    assert_eq!(gone["conversation"], room.as_str());
    let removed = system_event(&mut cy_ws, &room, "member_removed").await;
    assert_eq!(removed["event"]["member"], bo_member.as_str());
    let after = facilitator_ws.say(&room, "f-1", "after Bo left").await;
    cy_ws
        .next_matching("the facilitator's message", |f| {
            f["type"] == "message" && f["seq"] == after
        })
        .await;
    let history = rest
        .get(
            &format!("/api/conversations/{room}/messages"),
            Some(&bo.token),
        )
        .await;
    assert_eq!(history.status, 404);
    let send = bo_ws
        .request(json!({"type": "send", "conversation": room, "client_id": "b-2", "body": "?"}))
        .await;
    assert_error(&send, "not_found");
    bo_ws.sync().await;
    assert!(
        bo_ws.backlog().all(|f| f["seq"] != after),
        "a removed member still receives the room"
    );

    // Leave: Cy's own act.
    rest.post(
        &format!("/api/rooms/{room}/leave"),
        Some(&cy.token),
        &json!({}),
    )
    .await
    .ok();
    let gone = cy_ws.next_of_type("conversation_removed").await;
    assert_eq!(gone["conversation"], room.as_str());
    system_event(&mut ada_ws, &room, "member_left").await;
    let left = member_entry(&summary(rest, &facilitator, &room).await, &members[2]).clone();
    assert_eq!(left["left"], true, "{left}");
    assert_eq!(
        rest.get(&format!("/api/conversations/{room}"), Some(&cy.token))
            .await
            .status,
        404
    );
    app.shutdown().await;
}

/// What a facilitator observes when inviting their pseudonymous mentee into a room by
/// the member id they know her by: the answer (time left out) and the frames they get.
/// `already_in` puts the mentee in the room first, under another name.
async fn invite_by_member_seen_by_facilitator(already_in: bool) -> (u16, Value, Vec<String>) {
    let app = spawn_app().await;
    let rest = &app.rest;
    let pair =
        mentorhub_tests::Pair::pseudonymous(rest, "Ada Student", "Amara Diallo", "Night Owl").await;
    let room = create_room(rest, &pair.mentor, json!({"title": "Circle"})).await;
    if already_in {
        enter_room(rest, &pair.mentor, &room, &pair.mentee, Some("Quiet One")).await;
    }
    let mentor_view = summary(rest, &pair.mentor, &pair.conversation).await;
    let night_owl = mentor_view["members"]
        .as_array()
        .expect("members")
        .iter()
        .find(|m| m["display_name"] == "Night Owl")
        .map(|m| text(&m["member"]))
        .expect("the mentee, as the mentor knows her");
    let mut mentee_ws = WsClient::connect(&app.ws_url, &pair.mentee.token).await;
    let mut mentor_ws = WsClient::connect_recording(&app.ws_url, &pair.mentor.token).await;
    mentor_ws.sync().await;
    let before = mentor_ws.transcript().len();

    let invited = rest
        .post(
            &format!("/api/rooms/{room}/invitations"),
            Some(&pair.mentor.token),
            &json!({"conversation": pair.conversation, "member": night_owl}),
        )
        .await;
    if !already_in {
        // She is told, and joins by her own choice under a name she picks.
        let frame = mentee_ws.next_of_type("invitation").await;
        assert_eq!(frame["invitation"]["room"], room.as_str());
        rest.post(
            "/api/rooms/join",
            Some(&pair.mentee.token),
            &json!({"room": room, "pseudonym": "Owl Two"}),
        )
        .await
        .ok();
        let members = summary(rest, &pair.mentor, &room).await;
        assert!(
            members["members"]
                .as_array()
                .expect("members")
                .iter()
                .any(|m| m["display_name"] == "Owl Two"),
            "{members}"
        );
    }
    super::settle(&mut mentor_ws).await;
    let frames = mentor_ws.transcript()[before..]
        .iter()
        .map(|f| f["type"].as_str().unwrap_or("").to_owned())
        .filter(|t| t != "pong" && t != "presence")
        .collect();
    // Each world has its own room: the id is asserted, then left out like the time.
    let mut body = invited.body.clone();
    let invitation = body["invitation"].as_object_mut().expect("invitation");
    assert_eq!(invitation.remove("room"), Some(json!(room)));
    invitation.remove("invited_at");
    app.shutdown().await;
    (invited.status, body, frames)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mentoring_leak_invite_by_member_answers_alike_whoever_the_pseudonym_is() {
    let (status_fresh, body_fresh, _) = invite_by_member_seen_by_facilitator(false).await;
    let (status_in, body_in, frames_in) = invite_by_member_seen_by_facilitator(true).await;
    assert_eq!(status_fresh, 201, "{body_fresh}");
    assert_eq!(
        (status_in, &body_in),
        (status_fresh, &body_fresh),
        "the answer tells whether the pseudonymous mentee is already in the room"
    );
    // Nothing reaches the facilitator when she is already in (in the fresh world the
    // facilitator sees her join, by her own act, which is not the question).
    assert!(
        frames_in.iter().all(|t| t == "ok"),
        "the facilitator got {frames_in:?}"
    );
}
