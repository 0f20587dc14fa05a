//! What a participant on a weak link asks for: taking part audio only (no video sent;
//! the others' video still received unless capped), capping the video the others send it (`receive_limit`), and the
//! content-free quality figures (`stats`) that end up in per-node histograms only.

use mentorhub_tests::{Pair, WsClient};
use serde_json::{Value, json};

use super::agent::{Agent, Options};
use super::{action, assert_no_event, assert_refused, call_app, event, start, text};

/// Whether a session description sends video: a `video` section with a port and a
/// direction that sends (`sendrecv`, `sendonly`, or none given).
fn sends_video(sdp: &str) -> bool {
    let mut sends = Vec::new();
    for line in sdp.lines() {
        if let Some(rest) = line.strip_prefix("m=") {
            let mut fields = rest.split(' ');
            let video = fields.next() == Some("video");
            sends.push(video && fields.next() != Some("0"));
        } else if matches!(line.trim(), "a=recvonly" | "a=inactive")
            && let Some(last) = sends.last_mut()
        {
            *last = false;
        }
    }
    sends.into_iter().any(|s| s)
}

fn descriptions<'a>(frames: &'a [Value], kind: &str) -> Vec<&'a str> {
    frames
        .iter()
        .filter(|f| f["action"] == "description" && f["description"]["type"] == kind)
        .filter_map(|f| f["description"]["sdp"].as_str())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_audio_only_participant_is_announced_and_never_sends_video() {
    let app = call_app(|_| {}).await;
    let pair = Pair::create(&app.rest, "Imani Njoroge", "Dr. Paul Weber").await;
    let mut mentor = WsClient::connect(&app.ws_url, &pair.mentor.token).await;
    let mut mentee = WsClient::connect(&app.ws_url, &pair.mentee.token).await;

    let started = start(&mut mentor, &pair.conversation, "video").await;
    let call = text(&started["call"]);
    event(&mut mentee, "ringing").await;
    let joined = action(
        &mut mentee,
        "accept",
        json!({"call": call, "media": "audio"}),
    )
    .await;
    assert_eq!(joined["event"], "joined", "{joined}");
    assert_eq!(joined["media"], "video", "the call stays a video call");
    assert_eq!(joined["audio_only"], json!([joined["me"]]), "{joined}");
    let arrived = event(&mut mentor, "participant_joined").await;
    assert_eq!(arrived["member"], joined["me"]);
    assert_eq!(arrived["media"], "audio", "{arrived}");

    // Her client sends a microphone only; the mentor's client is careless and keeps a
    // camera on the connection with her.
    let audio_only = Options {
        audio: true,
        ..Options::default()
    };
    let camera = Options {
        audio: true,
        video: true,
        ..Options::default()
    };
    let her = Agent::run("audio-only mentee", mentee, &joined, audio_only).await;
    let him = Agent::run("mentor", mentor, &started, camera).await;
    her.wait_connected(&[&him.me]).await;
    him.wait_connected(&[&her.me]).await;
    her.wait_hello_from(&[&him.me]).await;

    // His mid-call offer carries his camera; her answer still sends no video.
    him.renegotiate(&her.me).await;
    let what = "her answer to his renegotiation";
    mentorhub_tests::eventually(super::agent::CONNECT, what, || async {
        (descriptions(&her.sent(), "answer").len() == 1).then_some(())
    })
    .await;
    let (his_frames, her_frames) = (him.sent(), her.sent());
    let offers = descriptions(&his_frames, "offer");
    assert!(
        offers.iter().any(|sdp| sends_video(sdp)),
        "the test's own premise: his offer sends video"
    );
    for sdp in descriptions(&her_frames, "offer")
        .into_iter()
        .chain(descriptions(&her_frames, "answer"))
    {
        assert!(!sends_video(sdp), "her description sends video:\n{sdp}");
    }
    assert!(her.errors().is_empty(), "{:?}", her.errors());
    let offer_with_video = offers
        .into_iter()
        .find(|sdp| sends_video(sdp))
        .unwrap()
        .to_owned();
    let mut mentee = her.stop().await;
    let mut mentor = him.stop().await;

    // A description of hers that would send video is refused and reaches nobody.
    let refused = action(
        &mut mentee,
        "description",
        json!({"call": call, "to": started["me"],
               "description": {"type": "offer", "sdp": offer_with_video}}),
    )
    .await;
    assert_refused(&refused, "invalid_signal");
    assert_no_event(&mut mentor, &["description"]).await;
    // Audio only is about what she sends: she may still cap what she receives.
    let capped = action(
        &mut mentee,
        "receive_limit",
        json!({"call": call, "max_video_kbps": 150}),
    )
    .await;
    assert_eq!(capped["type"], "ok", "{capped}");
    let told = event(&mut mentor, "receive_limit").await;
    assert_eq!(told["max_video_kbps"], 150, "{told}");
}

#[tokio::test]
async fn calls_receive_limit_is_relayed_validated_and_kept_for_later_joiners() {
    let app = call_app(|_| {}).await;
    let pair = Pair::create(&app.rest, "Rosa Quispe", "Dr. Anil Mehta").await;
    let mut mentee = WsClient::connect(&app.ws_url, &pair.mentee.token).await;
    let mut laptop = WsClient::connect(&app.ws_url, &pair.mentor.token).await;
    let mut phone = WsClient::connect(&app.ws_url, &pair.mentor.token).await;
    let mut her_tablet = WsClient::connect(&app.ws_url, &pair.mentee.token).await;

    let started = start(&mut mentee, &pair.conversation, "video").await;
    let call = text(&started["call"]);
    event(&mut laptop, "ringing").await;
    let joined = action(&mut laptop, "accept", json!({"call": call})).await;
    assert_eq!(joined["event"], "joined", "{joined}");
    assert!(joined.get("audio_only").is_none(), "{joined}");
    let arrived = event(&mut mentee, "participant_joined").await;
    assert_eq!(arrived["media"], "video");

    // On a weak link she asks for little video.
    let ok = action(
        &mut mentee,
        "receive_limit",
        json!({"call": call, "max_video_kbps": 150}),
    )
    .await;
    assert_eq!(ok["type"], "ok", "{ok}");
    let limit = event(&mut laptop, "receive_limit").await;
    assert_eq!(limit["member"], started["me"]);
    assert_eq!(limit["max_video_kbps"], 150);
    assert_eq!(limit["call"], call.as_str());

    // Values no cap can mean are refused, and nothing is relayed.
    for bad in [
        json!(10),
        json!(20_001),
        json!(-1),
        json!("150"),
        json!(1.5),
    ] {
        let reply = action(
            &mut mentee,
            "receive_limit",
            json!({"call": call, "max_video_kbps": bad}),
        )
        .await;
        assert_refused(&reply, "invalid_frame");
    }
    // Not from a device that does not carry her place, nor for a call that is not hers.
    let elsewhere = action(
        &mut her_tablet,
        "receive_limit",
        json!({"call": call, "max_video_kbps": 0}),
    )
    .await;
    assert_refused(&elsewhere, "call_state");
    let unknown = action(
        &mut mentee,
        "receive_limit",
        json!({"call": "k_doesnotexist", "max_video_kbps": 0}),
    )
    .await;
    assert_refused(&unknown, "not_found");
    assert_no_event(&mut laptop, &["receive_limit"]).await;

    // The mentor's phone takes the call over audio only: her client is told, and the
    // phone's view carries her standing cap.
    let moved = action(&mut phone, "join", json!({"call": call, "media": "audio"})).await;
    assert_eq!(moved["event"], "joined", "{moved}");
    assert_eq!(
        moved["receive_limits"],
        json!([{"member": started["me"], "max_video_kbps": 150}])
    );
    assert_eq!(moved["audio_only"], json!([moved["me"]]));
    let back = event(&mut mentee, "participant_reconnected").await;
    assert_eq!(back["media"], "audio", "{back}");

    // Lifting the cap: `null`.
    let lifted = action(
        &mut mentee,
        "receive_limit",
        json!({"call": call, "max_video_kbps": null}),
    )
    .await;
    assert_eq!(lifted["type"], "ok", "{lifted}");
    let lifted = event(&mut phone, "receive_limit").await;
    assert!(lifted["max_video_kbps"].is_null(), "{lifted}");
}

#[tokio::test]
async fn calls_stats_are_validated_and_counted_per_node_without_ids() {
    let app = call_app(|_| {}).await;
    let pair = Pair::create(&app.rest, "Lucía Gómez", "Dr. Erik Holm").await;
    let mut mentee = WsClient::connect(&app.ws_url, &pair.mentee.token).await;
    let mut mentor = WsClient::connect(&app.ws_url, &pair.mentor.token).await;
    let started = start(&mut mentee, &pair.conversation, "audio").await;
    let call = text(&started["call"]);
    event(&mut mentor, "ringing").await;
    super::accept(&mut mentor, &call).await;

    let stats = json!({"rtt_ms": 180, "loss": 0.02, "inbound_kbps": 48, "relayed": true});
    let ok = action(&mut mentee, "stats", json!({"call": call, "stats": stats})).await;
    assert_eq!(ok["type"], "ok", "{ok}");
    for bad in [
        json!({"rtt_ms": 60_001, "loss": 0.0, "inbound_kbps": 0, "relayed": false}),
        json!({"rtt_ms": 10, "loss": 1.5, "inbound_kbps": 0, "relayed": false}),
        json!({"rtt_ms": 10, "loss": 0.0, "inbound_kbps": 100_001, "relayed": false}),
        json!({"rtt_ms": 10, "loss": 0.0, "relayed": false}),
    ] {
        let reply = action(&mut mentee, "stats", json!({"call": call, "stats": bad})).await;
        assert_refused(&reply, "invalid_frame");
    }
    // Nothing about it reaches the other side.
    assert_no_event(&mut mentor, &["stats"]).await;
    mentor.sync().await;
    assert!(
        !mentor.backlog().any(|f| f.to_string().contains("rtt_ms")),
        "stats were relayed"
    );

    let (status, body) = app.rest.get_text("/metrics").await;
    assert_eq!(status, 200);
    let count = body
        .lines()
        .find(|l| l.starts_with("mentorhub_call_rtt_seconds_count{path=\"relay\"}"))
        .unwrap_or_else(|| panic!("no relay RTT histogram in:\n{body}"));
    assert!(count.ends_with(" 1"), "{count}");
    for line in body.lines().filter(|l| l.starts_with("mentorhub_call_")) {
        for id in [&call, &pair.conversation, &text(&started["me"])] {
            assert!(!line.contains(id.as_str()), "an id in a series: {line}");
        }
    }
}
