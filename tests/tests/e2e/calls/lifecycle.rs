//! The call life cycle over real WebSockets: who is rung, who stops ringing, how and why
//! a call ends, and the grace period for a dropped connection. No media here — only
//! signalling (see `media` and `relay` for real peers).

use std::time::Duration;

use mentorhub_tests::{Pair, WsClient, spawn_app, spawn_app_with};
use serde_json::json;

use super::{
    accept, action, assert_no_event, assert_refused, call_app, ended_record, event, join, start,
    text,
};

#[tokio::test]
async fn accept_on_one_device_stops_ringing_on_the_other() {
    let app = spawn_app().await;
    let pair = Pair::create(&app.rest, "Ama Mensah", "Dr. Ruth Okoye").await;
    let mut mentee = WsClient::connect(&app.ws_url, &pair.mentee.token).await;
    let mut laptop = WsClient::connect(&app.ws_url, &pair.mentor.token).await;
    let mut phone = WsClient::connect(&app.ws_url, &pair.mentor.token).await;

    let started = start(&mut mentee, &pair.conversation, "video").await;
    let call = text(&started["call"]);
    assert_eq!(started["participants"], json!([]));
    assert_eq!(started["ringing"].as_array().map(Vec::len), Some(1));
    for device in [&mut laptop, &mut phone] {
        let ringing = event(device, "ringing").await;
        assert_eq!(ringing["call"], call.as_str());
        assert_eq!(ringing["from"], started["me"]);
        assert_eq!(ringing["media"], "video");
    }
    // The caller's own devices are never rung.
    assert_no_event(&mut mentee, &["ringing"]).await;

    let joined = accept(&mut laptop, &call).await;
    assert_eq!(joined["participants"], json!([started["me"]]));
    let stopped = event(&mut phone, "ring_stopped").await;
    assert_eq!(stopped["reason"], "answered");
    let arrived = event(&mut mentee, "participant_joined").await;
    assert_eq!(arrived["member"], joined["me"]);

    // The phone answering late is refused: the laptop answered first.
    let late = action(&mut phone, "accept", json!({"call": call})).await;
    assert_refused(&late, "call_state");
    assert_no_event(
        &mut mentee,
        &["participant_joined", "participant_reconnected"],
    )
    .await;
}

#[tokio::test]
async fn decline_ends_an_unanswered_call_on_every_device() {
    let app = spawn_app().await;
    let pair = Pair::create(&app.rest, "Kofi Boateng", "Dr. Lena Park").await;
    let mut mentee = WsClient::connect(&app.ws_url, &pair.mentee.token).await;
    let mut laptop = WsClient::connect(&app.ws_url, &pair.mentor.token).await;
    let mut phone = WsClient::connect(&app.ws_url, &pair.mentor.token).await;

    let started = start(&mut mentee, &pair.conversation, "audio").await;
    let call = text(&started["call"]);
    event(&mut laptop, "ringing").await;
    event(&mut phone, "ringing").await;
    let ok = action(&mut phone, "decline", json!({"call": call})).await;
    assert_eq!(ok["type"], "ok", "{ok}");

    let declined = event(&mut mentee, "declined").await;
    assert_eq!(declined["reason"], "user_declined");
    for device in [&mut mentee, &mut laptop, &mut phone] {
        let ended = event(device, "ended").await;
        assert_eq!(ended["call"], call.as_str());
        assert_eq!(ended["reason"], "user_declined");
    }
    let record = ended_record(&app, &call).await;
    assert_eq!(record.end_reason.as_deref(), Some("user_declined"));
    assert!(!record.answered);
    assert_eq!(record.participants, 1);
    // The call is gone: answering it now is refused like an unknown call.
    let late = action(&mut laptop, "accept", json!({"call": call})).await;
    assert_refused(&late, "not_found");
}

#[tokio::test]
async fn a_member_in_another_call_is_busy() {
    let app = spawn_app().await;
    let first = Pair::create(&app.rest, "Nia Adeyemi", "Dr. Omar Haddad").await;
    let second_mentee = app.rest.login("Tomás Ruiz", "mentee").await;
    let second = Pair::between(&app.rest, second_mentee, first.mentor.clone()).await;
    let mut nia = WsClient::connect(&app.ws_url, &first.mentee.token).await;
    let mut tomas = WsClient::connect(&app.ws_url, &second.mentee.token).await;
    let mut mentor = WsClient::connect(&app.ws_url, &first.mentor.token).await;

    let call = text(&start(&mut nia, &first.conversation, "video").await["call"]);
    event(&mut mentor, "ringing").await;
    accept(&mut mentor, &call).await;

    let started = start(&mut tomas, &second.conversation, "video").await;
    let busy_call = text(&started["call"]);
    assert_eq!(started["ringing"], json!([]), "a busy member is not rung");
    let declined = event(&mut tomas, "declined").await;
    assert_eq!(declined["reason"], "user_busy");
    let ended = event(&mut tomas, "ended").await;
    assert_eq!(ended["reason"], "user_busy");
    assert_eq!(ended["call"], busy_call.as_str());
    // The mentor's devices never rang for it, nor hear of its end, and the first call
    // goes on.
    mentor.sync().await;
    let told: Vec<&serde_json::Value> = mentor
        .backlog()
        .filter(|f| f["type"] == "call" && f["call"] == busy_call.as_str())
        .collect();
    assert!(
        told.is_empty(),
        "the busy mentor heard of a call that never rang them: {told:?}"
    );
    assert_no_event(&mut nia, &["ended", "participant_left"]).await;
    assert_eq!(
        ended_record(&app, &busy_call).await.end_reason.as_deref(),
        Some("user_busy")
    );
}

#[tokio::test]
async fn caller_hanging_up_before_an_answer_cancels() {
    let app = spawn_app().await;
    let pair = Pair::create(&app.rest, "Aiyana Begay", "Dr. Jonas Weber").await;
    let mut mentee = WsClient::connect(&app.ws_url, &pair.mentee.token).await;
    let mut mentor = WsClient::connect(&app.ws_url, &pair.mentor.token).await;

    let call = text(&start(&mut mentee, &pair.conversation, "video").await["call"]);
    event(&mut mentor, "ringing").await;
    let ok = action(&mut mentee, "leave", json!({"call": call})).await;
    assert_eq!(ok["type"], "ok", "{ok}");
    let ended = event(&mut mentor, "ended").await;
    assert_eq!(ended["reason"], "user_cancelled");
    assert_eq!(
        ended_record(&app, &call).await.end_reason.as_deref(),
        Some("user_cancelled")
    );
}

#[tokio::test]
async fn an_unanswered_call_times_out() {
    let app = spawn_app_with(|c| c.calls.ring_timeout = Duration::from_secs(1)).await;
    let pair = Pair::create(&app.rest, "Mei Chen", "Dr. Kwame Asante").await;
    let mut mentee = WsClient::connect(&app.ws_url, &pair.mentee.token).await;
    let mut mentor = WsClient::connect(&app.ws_url, &pair.mentor.token).await;

    let call = text(&start(&mut mentee, &pair.conversation, "audio").await["call"]);
    let ringing = event(&mut mentor, "ringing").await;
    assert_eq!(ringing["ring_timeout_ms"], 1000);
    for device in [&mut mentor, &mut mentee] {
        let ended = event(device, "ended").await;
        assert_eq!(ended["reason"], "invite_timeout");
    }
    let record = ended_record(&app, &call).await;
    assert_eq!(record.end_reason.as_deref(), Some("invite_timeout"));
    assert!(!record.answered);
}

#[tokio::test]
async fn leaving_keeps_the_call_until_the_last_participant_goes() {
    let app = spawn_app().await;
    let pair = Pair::create(&app.rest, "Sofia Rossi", "Dr. Ade Bello").await;
    let mut mentee = WsClient::connect(&app.ws_url, &pair.mentee.token).await;
    let mut mentor = WsClient::connect(&app.ws_url, &pair.mentor.token).await;

    let started = start(&mut mentee, &pair.conversation, "video").await;
    let call = text(&started["call"]);
    event(&mut mentor, "ringing").await;
    let joined = accept(&mut mentor, &call).await;

    let ok = action(&mut mentor, "leave", json!({"call": call})).await;
    assert_eq!(ok["type"], "ok", "{ok}");
    let left = event(&mut mentee, "participant_left").await;
    assert_eq!(left["member"], joined["me"]);
    assert_eq!(left["reason"], "user_hangup");
    assert_no_event(&mut mentee, &["ended"]).await;
    // Leaving twice is refused; rejoining an answered call works.
    assert_refused(
        &action(&mut mentor, "leave", json!({"call": call})).await,
        "call_state",
    );
    let again = join(&mut mentor, &call).await;
    assert_eq!(again["participants"], json!([started["me"]]));
    event(&mut mentee, "participant_joined").await;

    action(
        &mut mentor,
        "leave",
        json!({"call": call, "reason": "ice_failed"}),
    )
    .await;
    action(&mut mentee, "leave", json!({"call": call})).await;
    for device in [&mut mentee, &mut mentor] {
        let ended = event(device, "ended").await;
        assert_eq!(ended["reason"], "user_hangup");
    }
    let record = ended_record(&app, &call).await;
    assert!(record.answered);
    assert_eq!(record.participants, 2);
    assert_eq!(record.media, "video");
    assert_eq!(record.end_reason.as_deref(), Some("user_hangup"));
}

#[tokio::test]
async fn rejoining_within_the_grace_period_keeps_the_call() {
    let app = call_app(|_| {}).await;
    let pair = Pair::create(&app.rest, "Lwazi Dube", "Dr. Hana Sato").await;
    let mut mentee = WsClient::connect(&app.ws_url, &pair.mentee.token).await;
    let mut mentor = WsClient::connect(&app.ws_url, &pair.mentor.token).await;

    let started = start(&mut mentee, &pair.conversation, "video").await;
    let call = text(&started["call"]);
    event(&mut mentor, "ringing").await;
    let joined = accept(&mut mentor, &call).await;

    // The mentee's phone loses its signal: no close frame.
    mentee.drop_connection();
    let gone = event(&mut mentor, "participant_disconnected").await;
    assert_eq!(gone["member"], started["me"]);
    assert_eq!(gone["grace_ms"], 30_000);
    // Signals to a reconnecting participant are refused, not lost silently.
    let early = action(
        &mut mentor,
        "candidate",
        json!({"call": call, "to": started["me"], "candidate": {"candidate": ""}}),
    )
    .await;
    assert_refused(&early, "call_state");

    let mut back = WsClient::connect(&app.ws_url, &pair.mentee.token).await;
    let rejoined = join(&mut back, &call).await;
    assert_eq!(rejoined["rejoined"], true);
    assert_eq!(rejoined["me"], started["me"]);
    assert_eq!(rejoined["participants"], json!([joined["me"]]));
    let reconnected = event(&mut mentor, "participant_reconnected").await;
    assert_eq!(reconnected["member"], started["me"]);

    // Signals reach the new connection.
    let sent = action(
        &mut mentor,
        "candidate",
        json!({"call": call, "to": started["me"], "candidate": {"candidate": ""}}),
    )
    .await;
    assert_eq!(sent["type"], "ok", "{sent}");
    let relayed = event(&mut back, "candidate").await;
    assert_eq!(relayed["from"], joined["me"]);
    assert_no_event(&mut mentor, &["ended", "participant_left"]).await;
}

#[tokio::test]
async fn after_the_grace_period_the_participant_is_gone() {
    let app = spawn_app_with(|c| c.calls.reconnect_grace = Duration::from_secs(1)).await;
    let pair = Pair::create(&app.rest, "Ines Duarte", "Dr. Felix Braun").await;
    let mut mentee = WsClient::connect(&app.ws_url, &pair.mentee.token).await;
    let mut mentor = WsClient::connect(&app.ws_url, &pair.mentor.token).await;

    let started = start(&mut mentee, &pair.conversation, "audio").await;
    let call = text(&started["call"]);
    event(&mut mentor, "ringing").await;
    accept(&mut mentor, &call).await;

    mentee.drop_connection();
    event(&mut mentor, "participant_disconnected").await;
    let left = event(&mut mentor, "participant_left").await;
    assert_eq!(left["member"], started["me"]);
    assert_eq!(left["reason"], "connection_lost");
    assert_no_event(&mut mentor, &["ended"]).await;

    // Coming back now is a new join, not a rejoin: the place was given up.
    let mut back = WsClient::connect(&app.ws_url, &pair.mentee.token).await;
    let joined = join(&mut back, &call).await;
    assert!(joined.get("rejoined").is_none(), "{joined}");
    let arrived = event(&mut mentor, "participant_joined").await;
    assert_eq!(arrived["member"], started["me"]);

    // And when everyone's connection is gone for good, the call ends.
    back.drop_connection();
    mentor.drop_connection();
    let record = ended_record(&app, &call).await;
    assert_eq!(record.end_reason.as_deref(), Some("connection_lost"));
}

#[tokio::test]
async fn one_call_per_conversation_and_per_account() {
    let app = spawn_app().await;
    let pair = Pair::create(&app.rest, "Yara Haddad", "Dr. Piet de Vries").await;
    let other_mentee = app.rest.login("Ola Nowak", "mentee").await;
    let other = Pair::between(&app.rest, other_mentee, pair.mentor.clone()).await;
    let mut mentee = WsClient::connect(&app.ws_url, &pair.mentee.token).await;
    let mut mentor = WsClient::connect(&app.ws_url, &pair.mentor.token).await;

    let call = text(&start(&mut mentee, &pair.conversation, "video").await["call"]);
    event(&mut mentor, "ringing").await;
    // A second call in the same conversation, from either side.
    for device in [&mut mentor, &mut mentee] {
        let again = action(
            device,
            "start",
            json!({"conversation": pair.conversation, "media": "audio"}),
        )
        .await;
        assert_refused(&again, "call_state");
    }
    // The mentor in this call cannot start another one elsewhere.
    accept(&mut mentor, &call).await;
    let elsewhere = action(
        &mut mentor,
        "start",
        json!({"conversation": other.conversation, "media": "audio"}),
    )
    .await;
    assert_refused(&elsewhere, "call_state");
    // Someone who is not a member cannot start one here, and hears of nothing.
    let mut stranger = WsClient::connect(&app.ws_url, &other.mentee.token).await;
    let refused = action(
        &mut stranger,
        "start",
        json!({"conversation": pair.conversation, "media": "audio"}),
    )
    .await;
    assert_refused(&refused, "not_found");
    let refused = action(&mut stranger, "join", json!({"call": call})).await;
    assert_refused(&refused, "not_found");
}

#[tokio::test]
async fn a_device_that_comes_online_while_a_call_rings_rings_too() {
    let app = spawn_app().await;
    let pair = Pair::create(&app.rest, "Olu Adebayo", "Dr. Clara Voss").await;
    let mut mentee = WsClient::connect(&app.ws_url, &pair.mentee.token).await;
    let mut laptop = WsClient::connect(&app.ws_url, &pair.mentor.token).await;

    let started = start(&mut mentee, &pair.conversation, "video").await;
    let call = text(&started["call"]);
    event(&mut laptop, "ringing").await;
    // The mentor's phone connects now: it rings, with the time left.
    let mut phone = WsClient::connect(&app.ws_url, &pair.mentor.token).await;
    let ringing = event(&mut phone, "ringing").await;
    assert_eq!(ringing["call"], call.as_str());
    assert_eq!(ringing["from"], started["me"]);
    let left = ringing["ring_timeout_ms"].as_u64().expect("time left");
    assert!(left > 0 && left <= 60_000, "{left}");
    // It can answer, and a device of the caller coming online does not ring.
    accept(&mut phone, &call).await;
    let mut other = WsClient::connect(&app.ws_url, &pair.mentee.token).await;
    assert_no_event(&mut other, &["ringing"]).await;
    // Once answered, a device coming online no longer rings.
    let mut tablet = WsClient::connect(&app.ws_url, &pair.mentor.token).await;
    assert_no_event(&mut tablet, &["ringing"]).await;
}

#[tokio::test]
async fn ending_the_relationship_ends_its_call() {
    let app = spawn_app().await;
    let pair = Pair::create(&app.rest, "Amira Said", "Dr. Paul Grant").await;
    let mut mentee = WsClient::connect(&app.ws_url, &pair.mentee.token).await;
    let mut mentor = WsClient::connect(&app.ws_url, &pair.mentor.token).await;
    let call = text(&start(&mut mentee, &pair.conversation, "video").await["call"]);
    event(&mut mentor, "ringing").await;
    accept(&mut mentor, &call).await;

    // Either party ends the relationship, no fault: the conversation turns read-only.
    app.rest
        .post(
            &format!("/api/relationships/{}/end", pair.relationship),
            Some(&pair.mentee.token),
            &json!({}),
        )
        .await
        .ok();
    for device in [&mut mentee, &mut mentor] {
        let ended = event(device, "ended").await;
        assert_eq!(ended["call"], call.as_str());
        assert_eq!(ended["reason"], "conversation_closed");
    }
    assert_eq!(
        ended_record(&app, &call).await.end_reason.as_deref(),
        Some("conversation_closed")
    );
}

#[tokio::test]
async fn a_member_removed_from_the_room_leaves_its_call() {
    let app = spawn_app().await;
    let facilitator = app.rest.login("Dr. Ines Moreau", "mentor").await;
    let stays = app.rest.login("Jia Wen", "mentee").await;
    let removed = app.rest.login("Rex Hale", "mentee").await;
    let room = super::room_with(&app.rest, &facilitator, &[&stays, &removed]).await;
    let mut a = WsClient::connect(&app.ws_url, &facilitator.token).await;
    let mut b = WsClient::connect(&app.ws_url, &stays.token).await;
    let mut c = WsClient::connect(&app.ws_url, &removed.token).await;

    let started = start(&mut a, &room, "audio").await;
    let call = text(&started["call"]);
    event(&mut b, "ringing").await;
    event(&mut c, "ringing").await;
    accept(&mut b, &call).await;
    let c_view = accept(&mut c, &call).await;
    let c_member = text(&c_view["me"]);

    app.rest
        .post(
            &format!("/api/rooms/{room}/members/{c_member}/remove"),
            Some(&facilitator.token),
            &json!({}),
        )
        .await
        .ok();
    for device in [&mut a, &mut b] {
        let left = super::event(device, "participant_left").await;
        assert_eq!(left["member"], c_member.as_str());
        assert_eq!(left["reason"], "conversation_closed");
    }
    // The call goes on for the others; the removed member cannot come back into it.
    assert_no_event(&mut a, &["ended"]).await;
    let refused = action(&mut c, "join", json!({"call": call})).await;
    assert_refused(&refused, "not_found");
}

#[tokio::test]
async fn only_the_device_carrying_the_call_leaves_and_the_caller_cannot_accept() {
    let app = spawn_app().await;
    let pair = Pair::create(&app.rest, "Zanele Khumalo", "Dr. Arjun Mehta").await;
    let mut mentee = WsClient::connect(&app.ws_url, &pair.mentee.token).await;
    let mut laptop = WsClient::connect(&app.ws_url, &pair.mentor.token).await;
    let mut phone = WsClient::connect(&app.ws_url, &pair.mentor.token).await;

    let started = start(&mut mentee, &pair.conversation, "video").await;
    let call = text(&started["call"]);
    // The caller's own accept is not an answer.
    let own = action(&mut mentee, "accept", json!({"call": call})).await;
    assert_refused(&own, "call_state");
    event(&mut laptop, "ringing").await;
    let joined = accept(&mut laptop, &call).await;

    // The phone never joined: it cannot hang up the laptop's call.
    let stray = action(&mut phone, "leave", json!({"call": call})).await;
    assert_refused(&stray, "call_state");
    assert_no_event(&mut mentee, &["participant_left", "ended"]).await;
    assert_no_event(&mut laptop, &["left", "ended"]).await;

    // The phone takes the call over; the displaced laptop can neither leave nor answer.
    join(&mut phone, &call).await;
    let moved = event(&mut laptop, "left").await;
    assert_eq!(moved["reason"], "joined_elsewhere");
    let stale = action(&mut laptop, "leave", json!({"call": call})).await;
    assert_refused(&stale, "call_state");
    let stale = action(&mut laptop, "accept", json!({"call": call})).await;
    assert_refused(&stale, "call_state");
    let own = action(&mut mentee, "accept", json!({"call": call})).await;
    assert_refused(&own, "call_state");
    assert_no_event(&mut mentee, &["participant_left", "ended"]).await;
    assert_no_event(&mut phone, &["left", "ended"]).await;

    // The carrying device leaves: now the mentee hears of it.
    let ok = action(&mut phone, "leave", json!({"call": call})).await;
    assert_eq!(ok["type"], "ok", "{ok}");
    let left = event(&mut mentee, "participant_left").await;
    assert_eq!(left["member"], joined["me"]);
    assert_eq!(left["reason"], "user_hangup");
}

#[tokio::test]
async fn without_turn_a_pseudonymous_member_is_not_rung() {
    let app = spawn_app_with(|config| config.calls.turn_enabled = false).await;
    let pair = Pair::pseudonymous(&app.rest, "Sara Lindqvist", "Dr. Felix Moreau", "Heron").await;
    let mut mentee = WsClient::connect(&app.ws_url, &pair.mentee.token).await;
    let mut mentor = WsClient::connect(&app.ws_url, &pair.mentor.token).await;

    // Her answer would be refused (no relay to hide her address): she is not rung, and
    // with nobody else to call the mentor's call does not start.
    let refused = action(
        &mut mentor,
        "start",
        json!({"conversation": pair.conversation, "media": "video"}),
    )
    .await;
    assert_refused(&refused, "call_state");
    assert_no_event(&mut mentee, &["ringing", "ended"]).await;
    // She cannot start one either.
    let hers = action(
        &mut mentee,
        "start",
        json!({"conversation": pair.conversation, "media": "audio"}),
    )
    .await;
    assert_refused(&hers, "call_state");
}
