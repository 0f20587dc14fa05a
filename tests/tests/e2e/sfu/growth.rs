//! A call that grows past the mesh moves to the SFU without anyone redialling: three
//! connect as a mesh, a fourth joins the mesh, the fifth moves the call to the SFU, the
//! sixth joins it there; the mesh connections close once SFU media flows.

use mentorhub_tests::{WAIT, eventually};

use super::agent::{SfuAgent, SfuOptions};
use super::{devices, janus_instances, people, room, sfu_app};
use crate::calls::agent::{Agent, Options};
use crate::calls::{accept, event, start, text};

#[tokio::test]
async fn sfu_call_grows_from_a_mesh_of_three_to_six_without_redialling() {
    let janus = janus_instances(1).await;
    let app = sfu_app(&janus, |_| {}).await; // mesh up to 4 (the default)
    let (facilitator, members) = people(&app.rest, 5).await;
    let listed: Vec<_> = members.iter().map(|m| (m, None)).collect();
    let room = room(&app.rest, &facilitator, &listed).await;
    let mut everyone = vec![&facilitator];
    everyone.extend(members.iter());
    let mut devices = devices(&app, &everyone).await.into_iter();

    // Three on the mesh, connected pairwise.
    let mut first = devices.next().unwrap();
    let started = start(&mut first, &room, "video").await;
    assert_eq!(started["topology"], "mesh");
    let call = text(&started["call"]);
    let mut mesh = Vec::new();
    let mut views = vec![started.clone()];
    let mut pending = Vec::new();
    for _ in 0..3 {
        let mut device = devices.next().unwrap();
        event(&mut device, "ringing").await;
        let view = accept(&mut device, &call).await;
        assert_eq!(view["topology"], "mesh", "{view}");
        pending.push((device, view));
    }
    mesh.push(Agent::run("p0", first, &started, Options::default()).await);
    for (i, (device, view)) in pending.into_iter().enumerate() {
        views.push(view.clone());
        mesh.push(Agent::run(&format!("p{}", i + 1), device, &view, Options::default()).await);
    }
    let ids: Vec<String> = mesh.iter().map(|a| a.me.clone()).collect();
    for agent in &mesh {
        let others: Vec<&str> = ids
            .iter()
            .filter(|m| **m != agent.me)
            .map(String::as_str)
            .collect();
        agent.wait_connected(&others).await;
    }

    // The fifth joins: the call moves to the SFU; the four on the mesh are told.
    let mut fifth = devices.next().unwrap();
    event(&mut fifth, "ringing").await;
    let fifth_view = accept(&mut fifth, &call).await;
    assert_eq!(fifth_view["topology"], "sfu");
    for agent in &mesh {
        eventually(WAIT, "the topology event", || async {
            (!agent.topology().is_empty()).then_some(())
        })
        .await;
        assert_eq!(agent.topology()[0]["reason"], "call_grew");
    }
    // Each mesh participant connects to the SFU on the same device and in the same call,
    // keeping its mesh connections until SFU media flows.
    let mut agents = Vec::new();
    for (agent, view) in mesh.into_iter().zip(&views) {
        let name = agent.name.clone();
        let (device, peers) = agent.detach().await;
        agents.push(
            SfuAgent::run_after_mesh(&name, device, view, SfuOptions::default(), peers).await,
        );
    }
    agents.push(SfuAgent::run("p4", fifth, &fifth_view, SfuOptions::default()).await);
    let mut sixth = devices.next().unwrap();
    event(&mut sixth, "ringing").await;
    let sixth_view = accept(&mut sixth, &call).await;
    assert_eq!(sixth_view["topology"], "sfu");
    agents.push(SfuAgent::run("p5", sixth, &sixth_view, SfuOptions::default()).await);

    let ids: Vec<String> = agents.iter().map(|a| a.me.clone()).collect();
    for agent in &agents {
        let others: Vec<&str> = ids
            .iter()
            .filter(|m| **m != agent.me)
            .map(String::as_str)
            .collect();
        agent.wait_receiving(&others).await;
    }
    for agent in &agents {
        eventually(WAIT, "the mesh connections to close", || async {
            agent.mesh_closed().await.then_some(())
        })
        .await;
        // Nobody left or rejoined the call on the way.
        for event in agent.events() {
            let kind = event["event"].as_str().unwrap_or_default();
            assert!(
                ![
                    "participant_left",
                    "left",
                    "ended",
                    "participant_disconnected"
                ]
                .contains(&kind),
                "{}: {event}",
                agent.name
            );
        }
        assert!(
            agent.errors().is_empty(),
            "{}: {:?}",
            agent.name,
            agent.errors()
        );
    }
    janus[0].wait_rooms(1).await;
}
