//! The first path: a mentee requests a mentor, the mentor accepts, both see it live and
//! chat both ways; the mentor is connected from two devices. Typing indicators.

use mentorhub_tests::rest::text;
use mentorhub_tests::{Pair, WsClient, spawn_app};
use serde_json::{Value, json};

use super::{ack_seq, arrived, assert_error, history, message_event, send, summary};

/// The next `relationship` frame in this state.
async fn relationship_frame(ws: &mut WsClient, state: &str) -> Value {
    let state = state.to_owned();
    ws.next_matching(&format!("a `{state}` relationship frame"), move |f| {
        f["type"] == "relationship" && f["relationship"]["state"] == state
    })
    .await["relationship"]
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foundation_request_accept_then_chat_both_ways_on_two_devices() {
    let app = spawn_app().await;
    let mentee = app.rest.login("Bea Mensah", "mentee").await;
    let mentor = app.rest.login("Dr Ana Okafor", "mentor").await;
    let mut bea = WsClient::connect(&app.ws_url, &mentee.token).await;
    let mut laptop = WsClient::connect(&app.ws_url, &mentor.token).await;
    let mut phone = WsClient::connect(&app.ws_url, &mentor.token).await;

    // The request: both parties see it live, the mentor is asked to answer.
    let requested = app
        .rest
        .post(
            "/api/relationships",
            Some(&mentee.token),
            &json!({"mentor": mentor.account, "introduction": "Could we talk about surgery?"}),
        )
        .await;
    assert_eq!(requested.status, 201, "{:?}", requested.body);
    let relationship = text(&requested.body["relationship"]["id"]);
    let conversation = text(&requested.body["relationship"]["conversation"]);
    assert_eq!(requested.body["relationship"]["state"], "pending");
    for (ws, awaiting) in [(&mut bea, false), (&mut laptop, true), (&mut phone, true)] {
        let seen = relationship_frame(ws, "pending").await;
        assert_eq!(seen["id"], relationship.as_str());
        assert_eq!(seen["awaiting_me"], awaiting, "{seen}");
    }
    // Nobody posts in a pending conversation.
    let early = send(&mut bea, &conversation, "early-1", "Hello?").await;
    assert_error(&early, "conversation_closed");
    assert_eq!(early["client_id"], "early-1");

    // The mentor accepts on one device; every connection of both sees it, in order:
    // relationship (active), the first timeline event, then the conversation summary.
    app.rest
        .post(
            &format!("/api/relationships/{relationship}/accept"),
            Some(&mentor.token),
            &json!({}),
        )
        .await
        .ok();
    let mut me = Vec::new();
    for ws in [&mut bea, &mut laptop, &mut phone] {
        let summary = ws.next_of_type("conversation").await["conversation"].clone();
        assert_eq!(summary["id"], conversation.as_str());
        assert_eq!(summary["state"], "active");
        let before: Vec<Value> = ws.drain_backlog();
        let active = before
            .iter()
            .position(|f| f["type"] == "relationship" && f["relationship"]["state"] == "active")
            .unwrap_or_else(|| panic!("no active relationship before the summary: {before:?}"));
        let system = before
            .iter()
            .position(|f| f["type"] == "system" && f["seq"] == 1)
            .unwrap_or_else(|| panic!("no system event before the summary: {before:?}"));
        assert!(active < system, "relationship, then system: {before:?}");
        assert_eq!(before[system]["event"]["kind"], "relationship_active");
        me.push(text(&summary["me"]));
    }
    let (bea_member, mentor_member) = (me[0].clone(), me[1].clone());
    assert_eq!(me[1], me[2], "one member id per account and conversation");
    assert_ne!(bea_member, mentor_member);

    // Mentee → mentor: the ack comes before the sender's own event; both of the
    // mentor's devices get the message, without the sender's client id.
    let ack = send(&mut bea, &conversation, "bea-1", "Thank you for accepting!").await;
    let seq = ack_seq(&ack);
    assert_eq!(seq, 2);
    assert_eq!(ack["client_id"], "bea-1");
    assert_eq!(ack["conversation"], conversation.as_str());
    assert!(ack["ts"].as_u64().is_some(), "{ack}");
    assert!(ack.get("duplicate").is_none(), "{ack}");
    assert!(
        !bea.backlog()
            .any(|f| f["type"] == "message" && f["seq"] == seq),
        "the sender's own event arrived before its ack"
    );
    for ws in [&mut bea, &mut laptop, &mut phone] {
        let event = message_event(ws, &conversation, seq).await;
        assert_eq!(event["body"], "Thank you for accepting!");
        assert_eq!(event["sender"], bea_member.as_str());
        assert_eq!(event["ts"], ack["ts"]);
        assert!(event.get("client_id").is_none(), "{event}");
    }

    // Mentor → mentee from the laptop: the phone (the sender's other device) gets it too.
    let seq = laptop
        .say(
            &conversation,
            "ana-1",
            "Of course. Tell me about your rotation.",
        )
        .await;
    assert_eq!(seq, 3);
    for ws in [&mut bea, &mut laptop, &mut phone] {
        let event = message_event(ws, &conversation, seq).await;
        assert_eq!(event["body"], "Of course. Tell me about your rotation.");
        assert_eq!(event["sender"], mentor_member.as_str());
    }

    // And from the phone, answered by the mentee: every connection holds 1..=5 once.
    let seq = phone
        .say(&conversation, "ana-2", "Sent from my phone.")
        .await;
    assert_eq!(seq, 4);
    let seq = bea
        .say(&conversation, "bea-2", "Night shifts mostly.")
        .await;
    assert_eq!(seq, 5);
    for ws in [&mut bea, &mut laptop, &mut phone] {
        ws.wait_for_seq(&conversation, 5).await;
        let held: Vec<u64> = ws
            .events()
            .iter()
            .filter(|e| e["conversation"] == conversation.as_str())
            .map(|e| e["seq"].as_u64().unwrap())
            .collect();
        assert_eq!(held, vec![1, 2, 3, 4, 5]);
    }
    let (events, _) = history(&mut laptop, json!({"conversation": conversation})).await;
    let bodies: Vec<&Value> = events.iter().map(|e| &e["body"]).collect();
    assert_eq!(
        bodies,
        [
            &Value::Null,
            &json!("Thank you for accepting!"),
            &json!("Of course. Tell me about your rotation."),
            &json!("Sent from my phone."),
            &json!("Night shifts mostly."),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foundation_typing_reaches_the_others_live_and_is_never_stored() {
    let app = spawn_app().await;
    let pair = Pair::create(&app.rest, "Kofi Asante", "Dr Lena Berg").await;
    let conversation = pair.conversation.as_str();
    let mut kofi = WsClient::connect(&app.ws_url, &pair.mentee.token).await;
    let mut kofi_phone = WsClient::connect(&app.ws_url, &pair.mentee.token).await;
    let mut lena = WsClient::connect(&app.ws_url, &pair.mentor.token).await;
    let welcome = kofi.welcome.clone().expect("welcome");
    let kofi_member = summary(&welcome["conversations"], conversation)["me"].clone();

    let root = kofi
        .say(conversation, "k-1", "A question about theatre.")
        .await;
    lena.wait_for_seq(conversation, root).await;
    kofi_phone.wait_for_seq(conversation, root).await;

    kofi.send(&json!({"type": "typing", "conversation": conversation, "active": true}))
        .await;
    let typing = lena.next_of_type("typing").await;
    assert_eq!(typing["conversation"], conversation);
    assert_eq!(typing["member"], kofi_member);
    assert_eq!(typing["active"], true);
    assert!(typing.get("thread").is_none(), "{typing}");

    // In a thread, and stopping; `active` defaults to true.
    kofi.send(&json!({"type": "typing", "conversation": conversation,
                      "thread": root, "active": false}))
        .await;
    let typing = lena.next_of_type("typing").await;
    assert_eq!(
        (typing["thread"].clone(), typing["active"].clone()),
        (json!(root), json!(false))
    );
    lena.send(&json!({"type": "typing", "conversation": conversation}))
        .await;
    let typing = kofi.next_of_type("typing").await;
    assert_eq!(typing["active"], true);
    assert_ne!(typing["member"], kofi_member);

    // No reply to the typist, and the typist's own other device is not told.
    let own = arrived(&mut kofi, "typing").await;
    assert!(
        own.iter().all(|f| f["member"] != kofi_member),
        "the typist got its own indicator: {own:?}"
    );
    assert!(
        !kofi.backlog().any(|f| f["type"] == "error"),
        "typing is not answered"
    );
    let phone_typing = arrived(&mut kofi_phone, "typing").await;
    assert!(
        phone_typing.iter().all(|f| f["member"] != kofi_member),
        "the typist's other device got its own indicator: {phone_typing:?}"
    );

    // Never stored: no seq, not in history, not replayed to a resuming client.
    let (events, _) = history(&mut lena, json!({"conversation": conversation})).await;
    assert!(events.iter().all(|e| e["type"] != "typing"), "{events:?}");
    assert_eq!(super::seqs(&events), vec![1, root]);
    let mut from_start = std::collections::BTreeMap::new();
    from_start.insert(conversation.to_owned(), 0);
    let mut resumed =
        WsClient::connect_with_cursors(&app.ws_url, &pair.mentor.token, &from_start).await;
    resumed.wait_for_seq(conversation, root).await;
    assert!(arrived(&mut resumed, "typing").await.is_empty());

    // Typing where one is not a member: the same `not_found` as for anything else.
    let mut outsider = WsClient::connect(
        &app.ws_url,
        &app.rest.login("Outsider", "mentee").await.token,
    )
    .await;
    outsider
        .send(&json!({"type": "typing", "conversation": conversation, "active": true}))
        .await;
    let refused = outsider.next_of_type("error").await;
    assert_error(&refused, "not_found");
    assert_eq!(refused["conversation"], conversation);
    assert!(arrived(&mut lena, "typing").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foundation_pipelined_sends_commit_in_order_and_a_later_frame_waits_for_them() {
    let app = spawn_app().await;
    let pair = Pair::create(&app.rest, "Pia Quick", "Dr Ravi Steady").await;
    let mut ws = WsClient::connect(&app.ws_url, &pair.mentee.token).await;
    let conversation = pair.conversation.as_str();
    // Forty sends without waiting (more than the 32 one connection may have in flight),
    // one retried client id among them, then a ping and a history request.
    for i in 0..40 {
        ws.send(
            &json!({"type": "send", "ref": format!("s{i}"), "conversation": conversation,
                        "client_id": format!("pipe-{i}"), "body": format!("line {i}")}),
        )
        .await;
    }
    ws.send(
        &json!({"type": "send", "ref": "again", "conversation": conversation,
                    "client_id": "pipe-3", "body": "line 3"}),
    )
    .await;
    ws.send(&json!({"type": "ping", "ref": "barrier"})).await;
    ws.send(&json!({"type": "history", "ref": "page", "conversation": conversation, "limit": 100}))
        .await;

    let pong = ws
        .next_matching("the pong", |f| f["ref"] == "barrier")
        .await;
    assert_eq!(pong["type"], "pong");
    // Everything answered before the pong: 40 fresh acks in send order, and the retry.
    let before_pong = ws.drain_backlog();
    let acks: Vec<&Value> = before_pong
        .iter()
        .filter(|f| f["type"] == "ack" && f["duplicate"] != true)
        .collect();
    let order: Vec<String> = acks.iter().map(|f| text(&f["client_id"])).collect();
    let expected: Vec<String> = (0..40).map(|i| format!("pipe-{i}")).collect();
    assert_eq!(order, expected, "acks before the pong, in send order");
    let seqs: Vec<u64> = acks.iter().map(|f| ack_seq(f)).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "seqs follow send order: {seqs:?}"
    );
    let retry = before_pong
        .iter()
        .find(|f| f["ref"] == "again")
        .expect("the retry answered before the pong");
    assert_eq!(
        (retry["duplicate"].as_bool(), retry["seq"].as_u64()),
        (Some(true), Some(seqs[3]))
    );
    // The history page asked for after them holds all forty, once each.
    let page = ws.next_matching("the page", |f| f["ref"] == "page").await;
    let bodies: Vec<String> = page["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["type"] == "message")
        .map(|e| text(&e["body"]))
        .collect();
    let expected: Vec<String> = (0..40).map(|i| format!("line {i}")).collect();
    assert_eq!(bodies, expected);
    app.shutdown().await;
}
