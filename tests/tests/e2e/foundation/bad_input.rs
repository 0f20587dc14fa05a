//! Bad input, each answered with its documented code (PROTOCOL.md §3, §9, §10, §11) and
//! changing nothing: the handshake, malformed / unknown / oversized frames, the rate
//! limit, conversations one is not in, retried client ids, and bad REST requests.

use std::time::Duration;

use mentorhub_tests::{Pair, WsClient, spawn_app, spawn_app_with};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use super::{ack_seq, arrived, assert_error, history, send, seqs};

/// The first frame the server sends after `text` as the very first frame, and the close.
async fn first_frame_refused(url: &str, message: Message) -> (Value, u16) {
    let mut ws = WsClient::open(url).await;
    ws.send_message(message).await;
    let closed = ws.wait_closed(Duration::from_secs(10)).await;
    let error = ws
        .drain_backlog()
        .into_iter()
        .find(|f| f["type"] == "error")
        .unwrap_or(Value::Null);
    (error, closed.code.expect("a close frame"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foundation_bad_input_no_hello_in_time_closes_4002() {
    let app = spawn_app_with(|c| c.ws.hello_timeout = Duration::from_millis(500)).await;
    let mut silent = WsClient::open(&app.ws_url).await;
    let closed = silent.expect_close(4002).await;
    assert_eq!(closed.reason, "no hello in time");
    assert_eq!(silent.drain_backlog(), Vec::<Value>::new(), "no frames");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foundation_bad_input_a_first_frame_that_is_not_hello_closes_4004() {
    let app = spawn_app().await;
    let url = app.ws_url.as_str();
    let cases = [
        (r#"{"type": "ping", "ref": "p"}"#, "protocol_violation"),
        (r#"{"type": "teleport"}"#, "unknown_type"),
        (
            r#"{"type": "hello", "token": "t", "cursors": {"c_x": "seven"}}"#,
            "invalid_frame",
        ),
        ("{this is not json", "invalid_json"),
        ("[1, 2, 3]", "invalid_json"),
        (r#"{"type": "hello"}"#, "invalid_frame"),
        (r#"{"type": "hello", "token": 42}"#, "invalid_frame"),
    ];
    for (text, code) in cases {
        let (error, close) = first_frame_refused(url, Message::Text(text.into())).await;
        assert_error(&error, code);
        assert_eq!(close, 4004, "first frame {text}");
    }
    let (error, close) = first_frame_refused(url, Message::Binary(vec![1, 2, 3].into())).await;
    assert_error(&error, "protocol_violation");
    assert_eq!(close, 4004);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foundation_bad_input_malformed_and_unknown_frames_change_nothing() {
    let app = spawn_app().await;
    let pair = Pair::create(&app.rest, "Ada Kimani", "Dr Max Roth").await;
    let conversation = pair.conversation.as_str();
    let mut ada = WsClient::connect(&app.ws_url, &pair.mentee.token).await;
    let mut max = WsClient::connect(&app.ws_url, &pair.mentor.token).await;

    // Undecodable frames: answered, the connection survives.
    ada.send_text("{this is not json").await;
    assert_error(&ada.next_of_type("error").await, "invalid_json");
    ada.send_text("[\"send\"]").await;
    assert_error(&ada.next_of_type("error").await, "invalid_json");
    ada.send_message(Message::Binary(vec![0xde, 0xad].into()))
        .await;
    assert_error(&ada.next_of_type("error").await, "invalid_json");

    // Each refusal echoes the frame's ref when it could be read.
    let long_body = "x".repeat(16_001);
    let refusals = [
        (json!({"type": "teleport", "ref": "e1"}), "unknown_type"),
        (
            json!({"ref": "e2", "conversation": conversation}),
            "unknown_type",
        ),
        (
            json!({"type": "send", "ref": "e3", "conversation": conversation, "body": "hi"}),
            "invalid_frame",
        ),
        (
            json!({"type": "read", "ref": "e4", "conversation": conversation, "seq": "one"}),
            "invalid_frame",
        ),
        (
            json!({"type": "send", "ref": "e5", "conversation": conversation,
                   "client_id": "has space", "body": "hi"}),
            "invalid_frame",
        ),
        (
            json!({"type": "send", "ref": "e6", "conversation": conversation,
                   "client_id": "x".repeat(65), "body": "hi"}),
            "invalid_frame",
        ),
        (
            json!({"type": "send", "ref": "e7", "conversation": conversation,
                   "client_id": "blank", "body": "  \n "}),
            "body_invalid",
        ),
        (
            json!({"type": "send", "ref": "e8", "conversation": conversation,
                   "client_id": "long", "body": long_body}),
            "body_invalid",
        ),
        (
            json!({"type": "history", "ref": "e9", "conversation": conversation,
                   "after": 5, "before": 2}),
            "invalid_frame",
        ),
        (
            json!({"type": "hello", "ref": "e10", "token": pair.mentee.token}),
            "protocol_violation",
        ),
    ];
    for (frame, code) in refusals {
        let reply = ada.request(frame.clone()).await;
        assert_error(&reply, code);
        assert_eq!(reply["ref"], frame["ref"], "{reply}");
        let message = reply["message"].as_str().expect("a message");
        assert!(!message.contains("xxxxxxxx"), "the error echoes content");
    }
    // An unknown field is ignored (a newer client talking to this server).
    let seq = ack_seq(
        &ada.request(
            json!({"type": "send", "conversation": conversation, "client_id": "ok-1",
                            "body": "still connected", "mood": "hopeful"}),
        )
        .await,
    );
    assert_eq!(seq, 2, "no refused frame created an event");
    max.wait_for_seq(conversation, seq).await;
    let (events, _) = history(&mut max, json!({"conversation": conversation})).await;
    assert_eq!(seqs(&events), vec![1, 2]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foundation_bad_input_a_frame_over_the_limit_closes_1009() {
    let app = spawn_app().await;
    let person = app.rest.login("Big Sender", "mentee").await;
    // `{"type":"ping","ref":"big","pad":"…"}` padded to an exact size.
    let frame_of = |size: usize| {
        let skeleton = r#"{"type":"ping","ref":"big","pad":""}"#;
        let pad = "a".repeat(size - skeleton.len());
        let text = format!(r#"{{"type":"ping","ref":"big","pad":"{pad}"}}"#);
        assert_eq!(text.len(), size);
        text
    };

    let mut ws = WsClient::connect(&app.ws_url, &person.token).await;
    assert_eq!(
        ws.welcome.as_ref().unwrap()["limits"]["max_frame_bytes"],
        131_072
    );
    ws.send_text(&frame_of(131_072)).await;
    let pong = ws.next_of_type("pong").await;
    assert_eq!(pong["ref"], "big", "exactly the limit is accepted");
    ws.send_text(&frame_of(131_073)).await;
    let closed = ws.expect_close(1009).await;
    assert_eq!(closed.reason, "frame too big");

    // Fragmented into several WebSocket frames counts as one message.
    let mut ws = WsClient::connect(&app.ws_url, &person.token).await;
    let text = frame_of(131_073);
    let (head, tail) = text.as_bytes().split_at(80_000);
    use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
    use tokio_tungstenite::tungstenite::protocol::frame::{Frame, FrameHeader};
    let fragment = |opcode: OpCode, is_final: bool, payload: &[u8]| {
        let header = FrameHeader {
            is_final,
            opcode,
            ..FrameHeader::default()
        };
        Message::Frame(Frame::from_payload(header, payload.to_vec().into()))
    };
    ws.send_message(fragment(OpCode::Data(Data::Text), false, head))
        .await;
    ws.send_message(fragment(OpCode::Data(Data::Continue), true, tail))
        .await;
    ws.expect_close(1009).await;

    // Before `hello` too.
    let mut ws = WsClient::open(&app.ws_url).await;
    ws.send_text(&frame_of(131_073)).await;
    ws.expect_close(1009).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foundation_bad_input_rate_limited_frames_are_not_processed() {
    // A burst of 5, refilled slowly enough that the sixth frame always finds it empty.
    let app = spawn_app_with(|c| {
        c.ws.rate_burst = 5;
        c.ws.rate_per_sec = 0.5;
        // The connection's limit is under test, not the account's (abuse tests).
        c.mentoring.account_rate_burst = Some(100);
    })
    .await;
    let pair = Pair::create(&app.rest, "Ines Mora", "Dr Karl Vik").await;
    let conversation = pair.conversation.as_str();
    let mut ines = WsClient::connect(&app.ws_url, &pair.mentee.token).await;
    let limits = ines.welcome.as_ref().unwrap()["limits"].clone();
    assert_eq!(
        (limits["rate_burst"].clone(), limits["rate_per_sec"].clone()),
        (json!(5), json!(0.5))
    );

    for i in 1..=6 {
        ines.send(
            &json!({"type": "send", "ref": format!("r{i}"), "conversation": conversation,
                          "client_id": format!("burst-{i}"), "body": format!("burst {i}")}),
        )
        .await;
    }
    for i in 1..=5 {
        let reference = format!("r{i}");
        let reply = ines
            .next_matching("a reply", |f| f["ref"] == reference.as_str())
            .await;
        assert_eq!(ack_seq(&reply), i + 1);
    }
    let limited = ines
        .next_matching("the sixth reply", |f| f["ref"] == "r6")
        .await;
    assert_error(&limited, "rate_limited");
    assert_eq!(limited["conversation"], conversation);
    assert_eq!(limited["client_id"], "burst-6");
    let wait = limited["retry_after_ms"].as_u64().expect("retry_after_ms");
    assert!((1..=2_000).contains(&wait), "retry_after_ms {wait}");

    // Not processed: nothing stored. The connection stays open; after the wait the
    // same send goes through as a new message.
    tokio::time::sleep(Duration::from_millis(wait + 50)).await;
    let (events, _) = history(&mut ines, json!({"conversation": conversation})).await;
    assert_eq!(seqs(&events), vec![1, 2, 3, 4, 5, 6]);
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let retry = send(&mut ines, conversation, "burst-6", "burst 6").await;
    assert_eq!(ack_seq(&retry), 7);
    assert!(retry.get("duplicate").is_none(), "{retry}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foundation_bad_input_a_conversation_one_is_not_in_is_not_found() {
    let app = spawn_app().await;
    let pair = Pair::create(&app.rest, "Lena Park", "Dr Omar Said").await;
    let conversation = pair.conversation.as_str();
    let mut lena = WsClient::connect(&app.ws_url, &pair.mentee.token).await;
    let seq = lena.say(conversation, "l-1", "private").await;
    let outsider = app.rest.login("Noor Ali", "mentee").await;
    let mut noor = WsClient::connect(&app.ws_url, &outsider.token).await;

    let unknown = "c_aaaaaaaaaaaaaaaaaaaa";
    let mut messages = Vec::new();
    for target in [conversation, unknown, "not-an-id"] {
        let reply = send(&mut noor, target, "n-1", "let me in").await;
        assert_error(&reply, "not_found");
        assert_eq!(reply["conversation"], target);
        assert_eq!(reply["client_id"], "n-1");
        messages.push(reply["message"].clone());
        for frame in [
            json!({"type": "edit", "conversation": target, "seq": seq, "body": "mine now"}),
            json!({"type": "delete", "conversation": target, "seq": seq}),
            json!({"type": "read", "conversation": target, "seq": seq}),
            json!({"type": "history", "conversation": target}),
            json!({"type": "threads", "conversation": target}),
        ] {
            let reply = noor.request(frame.clone()).await;
            assert_error(&reply, "not_found");
        }
    }
    assert!(
        messages.windows(2).all(|w| w[0] == w[1]),
        "the answer differs for an existing conversation: {messages:?}"
    );
    let rest = app
        .rest
        .get(
            &format!("/api/conversations/{conversation}"),
            Some(&outsider.token),
        )
        .await;
    assert_eq!((rest.status, rest.code()), (404, "not_found"));

    // Nothing reached the members, nothing changed.
    let seen = arrived(&mut lena, "message").await;
    assert!(seen.iter().all(|m| m["seq"] == seq), "{seen:?}");
    let (events, _) = history(&mut lena, json!({"conversation": conversation})).await;
    assert_eq!(seqs(&events), vec![1, seq]);
    assert_eq!(events[1]["body"], "private");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foundation_bad_input_a_retried_client_id_gets_the_same_ack_and_no_event() {
    let app = spawn_app().await;
    let pair = Pair::create(&app.rest, "Sam Ortiz", "Dr Ada Byrne").await;
    let conversation = pair.conversation.as_str();
    let mut sam = WsClient::connect(&app.ws_url, &pair.mentee.token).await;
    let mut ada = WsClient::connect(&app.ws_url, &pair.mentor.token).await;

    let first = send(&mut sam, conversation, "7f3a-0001", "Only once, please").await;
    let seq = ack_seq(&first);
    ada.wait_for_seq(conversation, seq).await;
    sam.wait_for_seq(conversation, seq).await;
    // The original event was delivered; from here on, nothing more may arrive.
    ada.drain_backlog();
    sam.drain_backlog();

    // Same connection, then another device, then after a reconnect: the original ack
    // with `duplicate: true`; the retry's body is not compared.
    let retry = send(&mut sam, conversation, "7f3a-0001", "Only once, please").await;
    let mut phone = WsClient::connect(&app.ws_url, &pair.mentee.token).await;
    let from_phone = send(&mut phone, conversation, "7f3a-0001", "a different body").await;
    sam.drop_connection();
    let mut sam = WsClient::connect(&app.ws_url, &pair.mentee.token).await;
    let after_reconnect = send(&mut sam, conversation, "7f3a-0001", "Only once, please").await;
    for reply in [&retry, &from_phone, &after_reconnect] {
        assert_eq!(ack_seq(reply), seq);
        assert_eq!(reply["ts"], first["ts"]);
        assert_eq!(reply["client_id"], "7f3a-0001");
        assert_eq!(reply["duplicate"], true, "{reply}");
    }

    // No event went out again, to anyone.
    for ws in [&mut ada, &mut phone, &mut sam] {
        let again = arrived(ws, "message").await;
        assert!(again.is_empty(), "a retry was broadcast: {again:?}");
    }
    assert_eq!(
        ada.events().iter().filter(|e| e["seq"] == seq).count(),
        1,
        "the mentor holds the message once"
    );
    // The key is (conversation, sender, client id): the mentor may use the same one.
    let theirs = send(&mut ada, conversation, "7f3a-0001", "My own message").await;
    assert_eq!(ack_seq(&theirs), seq + 1);
    assert!(theirs.get("duplicate").is_none());
    let (events, _) = history(&mut ada, json!({"conversation": conversation})).await;
    assert_eq!(seqs(&events), vec![1, seq, seq + 1]);
    assert_eq!(events[1]["body"], "Only once, please");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foundation_bad_input_rest_requests_get_documented_errors() {
    let app = spawn_app().await;
    let rest = &app.rest;
    let mentee = rest.login("Rest Mentee", "mentee").await;
    let mentor = rest.login("Dr Rest Mentor", "mentor").await;
    let token = Some(mentee.token.as_str());
    let json_type = "application/json";

    let malformed = rest
        .post_raw(
            "/api/relationships",
            token,
            json_type,
            b"{\"mentor\": ".to_vec(),
        )
        .await;
    assert_eq!((malformed.status, malformed.code()), (400, "invalid_json"));
    let not_object = rest
        .post_raw("/api/relationships", token, json_type, b"[1]".to_vec())
        .await;
    assert_eq!(
        (not_object.status, not_object.code()),
        (400, "invalid_json"),
        "{:?}",
        not_object.body
    );
    let empty_array = rest
        .post_raw("/api/relationships", token, json_type, b" []".to_vec())
        .await;
    assert_eq!(
        (empty_array.status, empty_array.code()),
        (400, "invalid_json")
    );
    // JSON sent as text/plain (what a cross-site form could send without a preflight)
    // is refused before it is read, even when it would be a valid request.
    let plain_text = rest
        .post_raw(
            "/api/relationships",
            token,
            "text/plain;charset=UTF-8",
            json!({"mentor": mentor.account}).to_string().into_bytes(),
        )
        .await;
    assert_eq!(
        (plain_text.status, plain_text.code()),
        (415, "unsupported_media_type")
    );
    let with_charset = rest
        .post_raw(
            "/api/relationships",
            token,
            "Application/JSON; charset=utf-8",
            b"[]".to_vec(),
        )
        .await;
    assert_eq!(
        (with_charset.status, with_charset.code()),
        (400, "invalid_json"),
        "a JSON media type with parameters is read"
    );
    let wrong_type = rest
        .post("/api/relationships", token, &json!({"mentor": 17}))
        .await;
    assert_eq!(
        (wrong_type.status, wrong_type.code()),
        (400, "invalid_frame")
    );
    let unknown_field = rest
        .post(
            "/api/relationships",
            token,
            &json!({"mentor": mentor.account, "favourite_colour": "green"}),
        )
        .await;
    assert_eq!(
        (unknown_field.status, unknown_field.code()),
        (400, "invalid_frame")
    );
    let too_large = rest
        .post_raw(
            "/api/relationships",
            token,
            json_type,
            format!(
                r#"{{"mentor": "{}", "introduction": "{}"}}"#,
                mentor.account,
                "x".repeat(70_000)
            )
            .into_bytes(),
        )
        .await;
    assert_eq!((too_large.status, too_large.code()), (413, "too_large"));
    let settings = rest
        .put(
            "/api/me/settings",
            token,
            &json!({"default_pseudonym": "Owl"}),
        )
        .await;
    assert_eq!((settings.status, settings.code()), (400, "invalid_frame"));
    let settings = rest
        .put("/api/me/settings", token, &json!({"read_receipts": "yes"}))
        .await;
    assert_eq!((settings.status, settings.code()), (400, "invalid_frame"));
    let settings = rest
        .put(
            "/api/me/settings",
            token,
            &json!({"read_receipts": true, "read_reciepts": true}),
        )
        .await;
    assert_eq!(
        (settings.status, settings.code()),
        (400, "invalid_frame"),
        "unknown fields are refused here as in every body"
    );
    let login = rest
        .post(
            "/api/dev/login",
            None,
            &json!({"name": "X", "role": "mentee", "admin": true}),
        )
        .await;
    assert_eq!((login.status, login.code()), (400, "invalid_frame"));
    let no_token = rest.get("/api/conversations", None).await;
    assert_eq!((no_token.status, no_token.code()), (401, "unauthorized"));
    let garbage_token = rest.get("/api/conversations", Some("not.a.token")).await;
    assert_eq!(
        (garbage_token.status, garbage_token.code()),
        (401, "unauthorized")
    );
    let unknown = rest.get("/api/teleport", token).await;
    assert_eq!((unknown.status, unknown.code()), (404, "not_found"));
    let method = rest.delete("/api/relationships", token).await;
    assert_eq!((method.status, method.code()), (405, "method_not_allowed"));
    for reply in [
        &malformed,
        &wrong_type,
        &too_large,
        &no_token,
        &unknown,
        &method,
    ] {
        assert!(
            reply.body["error"]["message"].is_string(),
            "errors have the documented shape: {:?}",
            reply.body
        );
    }

    // Nothing was created, and settings are unchanged.
    let relationships = rest.get("/api/relationships", token).await.ok();
    assert_eq!(relationships["relationships"], json!([]));
    let me = rest.get("/api/me", token).await.ok();
    assert_eq!(
        me["settings"],
        json!({"read_receipts": false}),
        "no pseudonym set: the field is omitted, not null"
    );
}

/// Dev sign-in records the account, so a mentor who has never connected can be
/// requested at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foundation_dev_login_makes_the_account_known_at_once() {
    let app = spawn_app().await;
    let rest = &app.rest;
    let mentee = rest.login("Fresh Mentee", "mentee").await;
    let mentor = rest.login("Dr Fresh Mentor", "mentor").await;
    let request = rest
        .post(
            "/api/relationships",
            Some(&mentee.token),
            &json!({"mentor": mentor.account}),
        )
        .await;
    assert_eq!(request.status, 201, "{:?}", request.body);
}
