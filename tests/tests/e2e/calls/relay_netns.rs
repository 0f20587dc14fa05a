//! Relay-only when the pseudonymous member's own client ignores it, with her peer on a
//! network of its own: a namespace joined to the test's by one link, the server and its
//! TURN server on the test's end of it. Her address is then not the TURN server's, as on
//! any real network, so a TURN permission (by IP) tells her relay from her own address —
//! which on one loopback it cannot.

use std::net::SocketAddr;

use mentorhub_tests::netns::{self, Namespace};
use mentorhub_tests::{Pair, WsClient};
use serde_json::Value;
use tokio::sync::oneshot;
use webrtc::ice_transport::ice_candidate_type::RTCIceCandidateType;

use super::agent::{Agent, Options};
use super::{accept, call_app, event, start, text};

/// What her client did, read inside her namespace.
struct HerSide {
    me: String,
    sent: Vec<Value>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_only_calls_never_show_a_careless_mentee_on_her_own_network() {
    if let Some(why) = netns::unavailable() {
        if std::env::var_os("MENTORHUB_TEST_SKIP_NETNS").is_some() {
            eprintln!("SKIPPED (MENTORHUB_TEST_SKIP_NETNS): relay test in a namespace: {why}");
            return;
        }
        panic!("this relay test needs network namespaces: {why}");
    }
    let mut namespace = Namespace::create().expect("a network namespace");
    let link = namespace.link("home").expect("her link");
    let (server_ip, her_ip) = (link.outer_ip, link.inner_ip);
    let app = call_app(|config| {
        config.listen = SocketAddr::new(server_ip.into(), 0);
        config.calls.turn_listen = SocketAddr::new(server_ip.into(), 0);
        config.calls.turn_public_ip = Some(server_ip.into());
    })
    .await;
    let pair = Pair::pseudonymous(&app.rest, "Amara Okafor", "Dr. Jonas Berg", "Lark").await;

    // Her device and peer live in the namespace: every socket they open is there.
    let (ws_url, token) = (app.ws_url.clone(), pair.mentee.token.clone());
    let (report, reported) = oneshot::channel::<HerSide>();
    let (stop, stopped) = oneshot::channel::<()>();
    let her_thread = namespace.run_inside(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime in her namespace");
        runtime.block_on(async move {
            let mut ws = WsClient::connect(&ws_url, &token).await;
            let ringing = event(&mut ws, "ringing").await;
            let joined = accept(&mut ws, &text(&ringing["call"])).await;
            assert_eq!(joined["ice"]["iceTransportPolicy"], "relay");
            // Her client ignores the policy: it gathers and sends her own address too.
            let careless = Options {
                ignore_relay_policy: true,
                ..Options::default()
            };
            let mentor = text(&joined["participants"][0]);
            let agent = Agent::run("pseudonym", ws, &joined, careless).await;
            agent.wait_connected(&[&mentor]).await;
            agent.wait_hello_from(&[&mentor]).await;
            let _ = report.send(HerSide {
                me: agent.me.clone(),
                sent: agent.sent(),
            });
            let _ = stopped.await;
            agent.stop().await;
        })
    });

    let mut mentor_ws = WsClient::connect(&app.ws_url, &pair.mentor.token).await;
    let started = start(&mut mentor_ws, &pair.conversation, "video").await;
    assert_eq!(started["ice"]["iceTransportPolicy"], "relay");
    event(&mut mentor_ws, "participant_joined").await;
    let mentor = Agent::run("mentor", mentor_ws, &started, Options::default()).await;
    let Ok(her) = reported.await else {
        let failure = tokio::task::spawn_blocking(move || her_thread.join())
            .await
            .expect("join her thread");
        panic!("her side failed: {failure:?}");
    };
    mentor.wait_connected(&[&her.me]).await;
    mentor.wait_hello_from(&[&her.me]).await;

    let her_address = her_ip.to_string();
    // Her client did send her own address (so this test can fail)…
    let sent = serde_json::to_string(&her.sent).unwrap();
    assert!(
        sent.contains(&format!(" {her_address} ")),
        "her client sent no candidate of her own address"
    );
    // …none of it reached the mentor, in SDP or trickled…
    for frame in mentor.received() {
        assert!(
            !frame.to_string().contains(&her_address),
            "her address reached the mentor: {frame}"
        );
    }
    // …and his selected pair is her relay on the TURN server, never her own address:
    // her checks from it found no permission on his allocation and were dropped.
    let (kind, remote) = mentor.selected_remote(&her.me).await;
    let ip = remote.split(' ').next().unwrap_or_default();
    assert_ne!(ip, her_address, "selected pair on her address ({kind})");
    assert_eq!(
        ip,
        server_ip.to_string(),
        "selected pair on {remote} ({kind})"
    );
    assert_eq!(kind, RTCIceCandidateType::Relay, "{remote}");
    let (local, _) = mentor.selected_pair(&her.me).await;
    assert_eq!(
        local,
        RTCIceCandidateType::Relay,
        "his own side is relayed too"
    );

    let _ = stop.send(());
    let joined = tokio::task::spawn_blocking(move || her_thread.join())
        .await
        .expect("join her thread");
    assert!(matches!(joined, Ok(Ok(()))), "her side: {joined:?}");
    drop(mentor);
}
