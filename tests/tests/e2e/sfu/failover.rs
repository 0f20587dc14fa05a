//! Two Janus instances; the one carrying a call is killed mid-call. The participants are
//! told (`topology`, `sfu_lost`) and connect to a room on the other instance within the
//! rejoin grace; media flows again.

use std::time::Instant;

use super::agent::{SfuAgent, SfuOptions};
use super::{call_everyone, devices, janus_instances, people, room, sfu_app};

#[tokio::test]
async fn sfu_janus_killed_mid_call_participants_rejoin_on_another_instance() {
    let mut janus = janus_instances(2).await;
    let app = sfu_app(&janus, |c| c.calls.mesh_max_participants = 2).await;
    let grace = app.signalling.reconnect_grace();
    let (facilitator, members) = people(&app.rest, 2).await;
    let listed: Vec<_> = members.iter().map(|m| (m, None)).collect();
    let room = room(&app.rest, &facilitator, &listed).await;
    let everyone = [&facilitator, &members[0], &members[1]];
    let (_call, joined) = call_everyone(devices(&app, &everyone).await, &room, "video").await;
    let mut agents = Vec::new();
    for (i, (device, view)) in joined.into_iter().enumerate() {
        agents.push(SfuAgent::run(&format!("p{i}"), device, &view, SfuOptions::default()).await);
    }
    let ids: Vec<String> = agents.iter().map(|a| a.me.clone()).collect();
    let receiving = async || {
        for agent in &agents {
            let others: Vec<&str> = ids
                .iter()
                .filter(|m| **m != agent.me)
                .map(String::as_str)
                .collect();
            agent.wait_receiving(&others).await;
        }
    };
    receiving().await;

    let carrying = if janus[0].rooms().await == 1 { 0 } else { 1 };
    let spare = 1 - carrying;
    assert_eq!(janus[carrying].rooms().await, 1);
    assert_eq!(janus[spare].rooms().await, 0);
    let killed = Instant::now();
    janus[carrying].kill().await;

    receiving().await;
    let took = killed.elapsed();
    assert!(
        took < grace,
        "rejoined after {took:?}, beyond the {grace:?} grace"
    );
    eprintln!("media flowed again {took:?} after the instance was killed");
    assert_eq!(janus[spare].rooms().await, 1);
    for agent in &agents {
        let moved: Vec<_> = agent
            .events()
            .into_iter()
            .filter(|e| e["event"] == "topology")
            .collect();
        assert_eq!(moved.len(), 1, "{}: {moved:?}", agent.name);
        assert_eq!(moved[0]["reason"], "sfu_lost");
    }
}
