//! Signals the server must refuse — and relay to nobody: from connections that are not
//! in the call, for another call, oversized or malformed. Also: the sender is always the
//! connection's participant, and nothing of the SDP reaches the disk.

use mentorhub_tests::{Pair, WsClient, spawn_app};
use serde_json::{Value, json};

use super::{accept, action, assert_no_event, assert_refused, ended_record, event, start, text};

/// A small valid offer (the shape `webrtc` peers produce), with a marker in its ICE
/// credentials so tests can look for it.
fn offer_sdp(marker: &str) -> String {
    format!(
        "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
         a=group:BUNDLE 0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n\
         c=IN IP4 0.0.0.0\r\na=setup:actpass\r\na=mid:0\r\na=sendrecv\r\n\
         a=sctp-port:5000\r\na=ice-ufrag:{marker}\r\na=ice-pwd:CAJnBUsRcXEDunyyRfnJmpQpFRNhgJJT\r\n\
         a=fingerprint:sha-256 49:66:12:17:0D:1C:91:AE:57:4C:C6:98:5F:AA:FA:8D:0F:C7:42:3E:AE:7A:6F:F9:18:E1:0F:6E:0E:2D:3B:F8\r\n\
         a=candidate:1966762133 1 udp 2130706431 198.51.100.7 51234 typ host\r\n"
    )
}

fn description(call: &str, to: &Value, sdp: &str) -> Value {
    json!({"call": call, "to": to, "description": {"type": "offer", "sdp": sdp}})
}

fn candidate(call: &str, to: &Value, line: &str) -> Value {
    json!({"call": call, "to": to, "candidate": {"candidate": line, "sdpMid": "0", "sdpMLineIndex": 0}})
}

const HOST: &str = "candidate:1966762133 1 udp 2130706431 198.51.100.7 51234 typ host";

/// A mentee and a mentor (two devices) in an answered call.
struct InCall {
    call: String,
    mentee: WsClient,
    mentee_id: Value,
    laptop: WsClient,
    laptop_id: Value,
    phone: WsClient,
}

async fn in_call(app: &mentorhub_tests::TestApp, mentee: &str, mentor: &str) -> InCall {
    let pair = Pair::create(&app.rest, mentee, mentor).await;
    let mut mentee = WsClient::connect(&app.ws_url, &pair.mentee.token).await;
    let mut laptop = WsClient::connect(&app.ws_url, &pair.mentor.token).await;
    let mut phone = WsClient::connect(&app.ws_url, &pair.mentor.token).await;
    let started = start(&mut mentee, &pair.conversation, "video").await;
    let call = text(&started["call"]);
    event(&mut laptop, "ringing").await;
    event(&mut phone, "ringing").await;
    let joined = accept(&mut laptop, &call).await;
    event(&mut mentee, "participant_joined").await;
    InCall {
        call,
        mentee,
        mentee_id: started["me"].clone(),
        laptop,
        laptop_id: joined["me"].clone(),
        phone,
    }
}

#[tokio::test]
async fn non_participants_cannot_signal() {
    let app = spawn_app().await;
    let mut c = in_call(&app, "Rosa Lima", "Dr. Ivan Petrov").await;
    let outsider_pair = Pair::create(&app.rest, "Ben Carter", "Dr. Sara Lind").await;
    let mut outsider = WsClient::connect(&app.ws_url, &outsider_pair.mentee.token).await;

    // The mentor's other device is a member but not in the call.
    let refused = action(
        &mut c.phone,
        "description",
        description(&c.call, &c.mentee_id, &offer_sdp("phoneufrag")),
    )
    .await;
    assert_refused(&refused, "call_state");
    let refused = action(
        &mut c.phone,
        "candidate",
        candidate(&c.call, &c.mentee_id, HOST),
    )
    .await;
    assert_refused(&refused, "call_state");
    // Someone outside the conversation cannot even tell the call exists.
    let refused = action(
        &mut outsider,
        "description",
        description(&c.call, &c.mentee_id, &offer_sdp("outsiderufrag")),
    )
    .await;
    assert_refused(&refused, "not_found");
    let refused = action(
        &mut outsider,
        "candidate",
        candidate(&c.call, &c.mentee_id, HOST),
    )
    .await;
    assert_refused(&refused, "not_found");
    // A participant cannot signal itself or a member who is not in the call.
    let refused = action(
        &mut c.laptop,
        "candidate",
        candidate(&c.call, &c.laptop_id, HOST),
    )
    .await;
    assert_refused(&refused, "call_state");
    let refused = action(
        &mut c.laptop,
        "candidate",
        candidate(&c.call, &json!("m_notamember"), HOST),
    )
    .await;
    assert_refused(&refused, "call_state");

    assert_no_event(&mut c.mentee, &["description", "candidate"]).await;
    // The same signal from the participant's own connection does arrive.
    let ok = action(
        &mut c.laptop,
        "candidate",
        candidate(&c.call, &c.mentee_id, HOST),
    )
    .await;
    assert_eq!(ok["type"], "ok", "{ok}");
    let relayed = event(&mut c.mentee, "candidate").await;
    assert_eq!(relayed["candidate"]["candidate"], HOST);
    assert_eq!(relayed["from"], c.laptop_id);
}

#[tokio::test]
async fn a_candidate_for_another_call_is_refused() {
    let app = spawn_app().await;
    let mut first = in_call(&app, "Zara Ahmed", "Dr. Leo Martin").await;
    let mut second = in_call(&app, "Ike Obi", "Dr. Anna Berg").await;

    // A participant of the first call names the second call (and one of its members).
    let refused = action(
        &mut first.laptop,
        "candidate",
        candidate(&second.call, &second.mentee_id, HOST),
    )
    .await;
    assert_refused(&refused, "not_found");
    let refused = action(
        &mut first.laptop,
        "description",
        description(&second.call, &second.mentee_id, &offer_sdp("crosscall")),
    )
    .await;
    assert_refused(&refused, "not_found");
    // Its own call with the other call's member as target.
    let refused = action(
        &mut first.laptop,
        "candidate",
        candidate(&first.call, &second.mentee_id, HOST),
    )
    .await;
    assert_refused(&refused, "call_state");
    // A call id that does not exist, and one that is not an id at all.
    for bogus in ["k_doesnotexist", "not-a-call"] {
        let refused = action(
            &mut first.laptop,
            "candidate",
            candidate(bogus, &first.mentee_id, HOST),
        )
        .await;
        assert_refused(&refused, "not_found");
    }
    assert_no_event(&mut second.mentee, &["description", "candidate"]).await;
    assert_no_event(&mut second.laptop, &["description", "candidate"]).await;
    assert_no_event(&mut first.mentee, &["description", "candidate"]).await;
}

#[tokio::test]
async fn oversized_and_malformed_signals_are_refused() {
    let app = spawn_app().await;
    let mut c = in_call(&app, "Chidi Eze", "Dr. Maria Costa").await;

    // 17 KiB: over the 16 KiB default, well under the 64 KiB frame limit.
    let mut oversized = offer_sdp("bigufrag");
    while oversized.len() <= 17 * 1024 {
        oversized.push_str("a=x-padding:0123456789012345678901234567890123456789\r\n");
    }
    let refused = action(
        &mut c.mentee,
        "description",
        description(&c.call, &c.laptop_id, &oversized),
    )
    .await;
    assert_refused(&refused, "invalid_signal");

    for malformed in [
        "not sdp at all".to_owned(),
        "v=0\r\nthis is not a valid line\r\n".to_owned(),
        offer_sdp("badcandidate").replace("typ host", "typ teleport"),
        offer_sdp("badorigin").replace("o=- 4611731400430051336", "o=- notanumber"),
    ] {
        let refused = action(
            &mut c.mentee,
            "description",
            description(&c.call, &c.laptop_id, &malformed),
        )
        .await;
        assert_refused(&refused, "invalid_signal");
    }
    for malformed in [
        "candidate:garbage",
        "candidate:1 1 udp 2130706431 198.51.100.7 99999 typ host",
        "candidate:1 1 udp 2130706431 198.51.100.7 51234 typ host\r\na=injected",
    ] {
        let refused = action(
            &mut c.mentee,
            "candidate",
            candidate(&c.call, &c.laptop_id, malformed),
        )
        .await;
        assert_refused(&refused, "invalid_signal");
    }
    // A description type that is never signalled.
    let refused = action(
        &mut c.mentee,
        "description",
        json!({"call": c.call, "to": c.laptop_id, "description": {"type": "rollback", "sdp": ""}}),
    )
    .await;
    assert_refused(&refused, "invalid_frame");
    assert_no_event(&mut c.laptop, &["description", "candidate"]).await;

    // A valid description at the same size class passes.
    let ok = action(
        &mut c.mentee,
        "description",
        description(&c.call, &c.laptop_id, &offer_sdp("fineufrag")),
    )
    .await;
    assert_eq!(ok["type"], "ok", "{ok}");
    event(&mut c.laptop, "description").await;
}

#[tokio::test]
async fn the_sender_is_the_connection_and_no_sdp_reaches_the_disk() {
    let app = spawn_app().await;
    let mut c = in_call(&app, "Dana Levi", "Dr. Tom Walsh").await;
    let marker = "diskcanaryufrag";

    // A forged `from` is ignored: the relayed event names the real sender.
    let mut frame = description(&c.call, &c.laptop_id, &offer_sdp(marker));
    frame["from"] = c.laptop_id.clone();
    let ok = action(&mut c.mentee, "description", frame).await;
    assert_eq!(ok["type"], "ok", "{ok}");
    let relayed = event(&mut c.laptop, "description").await;
    assert_eq!(relayed["from"], c.mentee_id);
    assert_eq!(relayed["description"]["sdp"], offer_sdp(marker).as_str());

    action(&mut c.mentee, "leave", json!({"call": c.call})).await;
    action(&mut c.laptop, "leave", json!({"call": c.call})).await;
    let record = ended_record(&app, &c.call).await;
    assert_eq!(record.participants, 2);
    // Metadata only: neither the SDP's credentials nor its addresses were written.
    let disk = mentorhub_tests::disk::sqlite_bytes(&app.data_dir);
    for needle in [marker, "198.51.100.7", "CAJnBUsRcXEDunyyRfnJmpQpFRNhgJJT"] {
        assert!(
            !mentorhub_tests::disk::contains(&disk, needle.as_bytes()),
            "{needle} reached the disk"
        );
    }
}
