//! Frames that break the rules, and content sized to hurt others: invalid UTF-8,
//! largest bodies fully escaped, history pages bounded in bytes.

use std::collections::BTreeSet;

use mentorhub_tests::{Pair, WsClient, spawn_app};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::{Frame, FrameHeader};

fn invalid_utf8_text_frame() -> Message {
    let header = FrameHeader {
        is_final: true,
        opcode: OpCode::Data(Data::Text),
        ..FrameHeader::default()
    };
    Message::Frame(Frame::from_payload(
        header,
        vec![b'{', 0xff, 0xfe, b'}'].into(),
    ))
}

/// `"\uXXXX"` for every character of `text` (surrogate pairs beyond the BMP).
fn escaped(text: &str) -> String {
    text.encode_utf16()
        .map(|unit| format!("\\u{unit:04x}"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abuse_invalid_utf8_closes_1007() {
    let app = spawn_app().await;
    let person = app.rest.login("Byte Mangler", "mentee").await;
    let mut ws = WsClient::connect(&app.ws_url, &person.token).await;
    ws.send_message(invalid_utf8_text_frame()).await;
    let closed = ws.expect_close(1007).await;
    assert_eq!(closed.reason, "text frame is not UTF-8");
    let mut ws = WsClient::open(&app.ws_url).await;
    ws.send_message(invalid_utf8_text_frame()).await;
    ws.expect_close(1007).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abuse_a_fully_escaped_body_is_judged_by_its_bytes_not_closed_1009() {
    let app = spawn_app().await;
    let pair = Pair::create(&app.rest, "Esc Mentee", "Dr Esc").await;
    let conversation = pair.conversation.clone();
    let mut ws = WsClient::connect(&app.ws_url, &pair.mentee.token).await;
    let frame = |client_id: &str, body_json: &str| {
        format!(
            r#"{{"type":"send","ref":"{client_id}","conversation":"{conversation}","client_id":"{client_id}","body":"{body_json}"}}"#
        )
    };
    // The largest body (16,000 bytes of ASCII), every character escaped: 96 KB of frame.
    ws.send_text(&frame("max", &escaped(&"a".repeat(16_000))))
        .await;
    let reply = ws
        .next_matching("reply to max", |f| f["ref"] == "max")
        .await;
    assert_eq!(reply["type"], "ack", "{reply}");
    // 16,000 characters but 32,000 bytes: refused as too long, and the socket lives on.
    ws.send_text(&frame("over", &escaped(&"é".repeat(16_000))))
        .await;
    let reply = ws
        .next_matching("reply to over", |f| f["ref"] == "over")
        .await;
    assert_eq!(reply["code"], "body_invalid", "{reply}");
    let pong = ws.request(json!({"type": "ping"})).await;
    assert_eq!(pong["type"], "pong");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abuse_huge_messages_cannot_break_history_for_others() {
    let app = spawn_app().await;
    let pair = Pair::create(&app.rest, "Victim Mentee", "Dr Flood").await;
    let conversation = pair.conversation.clone();
    let mut flooder = WsClient::connect(&app.ws_url, &pair.mentor.token).await;
    // Twenty largest messages: 4,000 emoji of 4 bytes each.
    let body = "😀".repeat(4_000);
    let mut sent = BTreeSet::new();
    for i in 0..20 {
        let reply = flooder
            .request(json!({"type": "send", "conversation": conversation,
                            "client_id": format!("flood-{i}"), "body": body}))
            .await;
        assert_eq!(reply["type"], "ack", "{reply}");
        sent.insert(reply["seq"].as_u64().unwrap());
    }
    // The victim pages back from the newest with limit 50: every page is bounded, says
    // when it was cut, and together they hold every message exactly once.
    let mut victim = WsClient::connect(&app.ws_url, &pair.mentee.token).await;
    let mut seen: Vec<u64> = Vec::new();
    let mut before: Option<u64> = None;
    let mut pages = 0;
    loop {
        let mut query = json!({"type": "history", "conversation": conversation, "limit": 50});
        if let Some(b) = before {
            query["before"] = json!(b);
        }
        let page = victim.request(query).await;
        assert_eq!(page["type"], "history", "{page}");
        let size = page.to_string().len();
        assert!(size <= 300 * 1024, "a page of {size} bytes");
        let events: Vec<Value> = page["events"].as_array().unwrap().clone();
        assert!(!events.is_empty());
        if page["truncated"] == true {
            assert!(
                events.len() < 50 && page["has_more"] == true,
                "a cut page says so"
            );
        }
        let mut seqs: Vec<u64> = events.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
        before = seqs.first().copied();
        seqs.extend(seen);
        seen = seqs;
        pages += 1;
        if page["has_more"] != true {
            break;
        }
        assert!(pages < 20, "paging ends");
    }
    assert!(pages >= 2, "twenty 16 KB messages do not fit one page");
    let unique: BTreeSet<u64> = seen.iter().copied().collect();
    assert_eq!(unique.len(), seen.len(), "no event twice");
    assert!(sent.is_subset(&unique), "every message reached the victim");
    let pong = victim.request(json!({"type": "ping"})).await;
    assert_eq!(pong["type"], "pong", "the victim's socket is fine");
}
