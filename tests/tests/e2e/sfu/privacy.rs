//! A pseudonymous member on the SFU: relay-only, and whatever address its client lets
//! slip reaches neither Janus nor any other participant. With an SFU no participant
//! receives another's SDP at all: every description comes from the SFU.

use webrtc::ice_transport::ice_candidate_type::RTCIceCandidateType;

use super::agent::{SfuAgent, SfuOptions};
use mentorhub_tests::janus::{Janus, JanusOptions, free_port, random_secret};

use super::{call_everyone, devices, people, room, sfu_app_for};
use crate::calls::ice::Leak;

/// Addresses no interface here has (TEST-NET-3, a private one): only a leak carries them.
const LEAKED: &str = "203.0.113.77";
const LEAKED_PRIVATE: &str = "10.77.0.9";

#[tokio::test]
async fn sfu_relay_only_pseudonym_address_reaches_no_participant() {
    // Janus takes its own TURN credentials from Mentorhub: start Mentorhub first.
    let (secret, port) = (random_secret(), free_port());
    let url = format!("ws://127.0.0.1:{port}");
    let app = sfu_app_for(vec![url], &secret, |c| c.calls.mesh_max_participants = 2).await;
    let turn_rest_api = Some(format!("{}/api/sfu/turn-credentials", app.base_url));
    let janus = [Janus::start_on(port, &secret, JanusOptions { turn_rest_api }).await];
    let (facilitator, members) = people(&app.rest, 2).await;
    let room = room(
        &app.rest,
        &facilitator,
        &[(&members[0], Some("Sparrow")), (&members[1], None)],
    )
    .await;
    let everyone = [&facilitator, &members[0], &members[1]];
    let (_call, joined) = call_everyone(devices(&app, &everyone).await, &room, "video").await;
    assert_eq!(joined[1].1["ice"]["iceTransportPolicy"], "relay");
    // The facilitator started a mesh call that rang a pseudonymous member: relay-only
    // on both sides (§13.1), so relay for the facilitator too.
    assert_eq!(joined[0].1["ice"]["iceTransportPolicy"], "relay");

    // The pseudonymous client gathers relay candidates only, as told, but is careless
    // otherwise: a host address in its offer's c=/o= lines, host and server-reflexive
    // candidates in the offer and trickled.
    let careless = SfuOptions {
        leak: Some(Leak {
            address: LEAKED.to_owned(),
            candidates: vec![
                format!("candidate:7 1 udp 2130706431 {LEAKED} 50000 typ host"),
                format!(
                    "candidate:8 1 udp 1694498815 {LEAKED} 50001 typ srflx raddr {LEAKED_PRIVATE} rport 50000"
                ),
            ],
        }),
        ..SfuOptions::default()
    };
    let mut agents = Vec::new();
    for (i, (device, view)) in joined.into_iter().enumerate() {
        let options = if i == 1 {
            careless.clone()
        } else {
            SfuOptions::default()
        };
        agents.push(SfuAgent::run(&format!("p{i}"), device, &view, options).await);
    }
    let ids: Vec<String> = agents.iter().map(|a| a.me.clone()).collect();
    for agent in &agents {
        let others: Vec<&str> = ids
            .iter()
            .filter(|m| **m != agent.me)
            .map(String::as_str)
            .collect();
        agent.wait_receiving(&others).await;
    }

    // The leak was sent (so this test can fail)…
    let sent = serde_json::to_string(&agents[1].sent()).unwrap();
    assert!(sent.contains(LEAKED) && sent.contains(LEAKED_PRIVATE));
    // …the member's media reaches the SFU through the TURN relay only…
    let (local, _) = agents[1].publish_pair().await;
    assert_eq!(local, RTCIceCandidateType::Relay);
    // …and no other participant received anything that names it, or anything that came
    // from another participant at all: every description is the SFU's.
    for agent in [&agents[0], &agents[2]] {
        let events = agent.events();
        assert!(!events.is_empty());
        for event in &events {
            let text = event.to_string();
            assert!(
                !text.contains(LEAKED) && !text.contains(LEAKED_PRIVATE),
                "{}: a leaked address arrived: {event}",
                agent.name
            );
            if event["event"] == "description" || event["event"] == "candidate" {
                assert!(
                    event.get("from").is_none(),
                    "a participant's signal: {event}"
                );
                assert!(event.get("sfu").is_some(), "{event}");
            }
        }
    }
    assert!(
        !janus[0].log().contains(LEAKED),
        "Janus saw the leaked address"
    );
}
