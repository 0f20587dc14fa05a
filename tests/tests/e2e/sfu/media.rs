//! Eight participants on the SFU: every one receives every other's audio and video.

use super::agent::{SfuAgent, SfuOptions};
use super::{call_everyone, devices, janus_instances, people, room, sfu_app};

#[tokio::test]
async fn sfu_eight_participants_each_receive_every_other_audio_and_video() {
    let janus = janus_instances(1).await;
    let app = sfu_app(&janus, |_| {}).await;
    let (facilitator, members) = people(&app.rest, 7).await;
    let listed: Vec<(&mentorhub_tests::Person, Option<&str>)> =
        members.iter().map(|m| (m, None)).collect();
    let room = room(&app.rest, &facilitator, &listed).await;
    let mut everyone = vec![&facilitator];
    everyone.extend(members.iter());
    let (_call, joined) = call_everyone(devices(&app, &everyone).await, &room, "video").await;
    assert!(
        joined
            .iter()
            .all(|(_, v)| v["topology"] == "sfu" || v["topology"] == "mesh")
    );
    assert_eq!(
        joined.last().unwrap().1["topology"],
        "sfu",
        "eight participants are past the mesh"
    );

    let mut agents = Vec::new();
    for (i, (device, view)) in joined.into_iter().enumerate() {
        agents.push(SfuAgent::run(&format!("p{i}"), device, &view, SfuOptions::default()).await);
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
    janus[0].wait_rooms(1).await;
    for agent in &agents {
        assert!(
            agent.errors().is_empty(),
            "{}: {:?}",
            agent.name,
            agent.errors()
        );
    }
    // Everyone hangs up: the call ends and its room is destroyed.
    for agent in agents {
        let call = agent.call.clone();
        let mut device = agent.stop().await;
        let left =
            crate::calls::action(&mut device, "leave", serde_json::json!({"call": call})).await;
        assert_eq!(left["type"], "ok", "{left}");
    }
    janus[0].wait_rooms(0).await;
}
