//! Mentorhub's rules enforced at the SFU: a muted member is no longer heard or seen (and
//! still receives), a removed member loses its feed and its subscription at once; and
//! each subscriber chooses the layer it receives.

use std::time::Duration;

use mentorhub_tests::{WAIT, eventually};
use serde_json::json;

use super::agent::{SfuAgent, SfuOptions};
use super::{call_everyone, devices, janus_instances, people, room, sfu_app};

/// Waits until `agent` gets no packet of `kind` from `member` for a while.
async fn silenced(agent: &SfuAgent, member: &str, kind: &str) {
    let what = format!("{}: {kind} from {member} to stop", agent.name);
    eventually(WAIT, &what, || async {
        (agent
            .packets_during(member, kind, Duration::from_millis(800))
            .await
            == 0)
            .then_some(())
    })
    .await;
}

#[tokio::test]
async fn sfu_mute_and_removal_take_effect_at_the_sfu() {
    let janus = janus_instances(1).await;
    let app = sfu_app(&janus, |c| c.calls.mesh_max_participants = 2).await;
    let (facilitator, members) = people(&app.rest, 3).await;
    let listed: Vec<_> = members.iter().map(|m| (m, None)).collect();
    let room = room(&app.rest, &facilitator, &listed).await;
    let everyone = [&facilitator, &members[0], &members[1], &members[2]];
    let (_call, joined) = call_everyone(devices(&app, &everyone).await, &room, "video").await;
    let mut agents = Vec::new();
    for (i, (device, view)) in joined.into_iter().enumerate() {
        agents.push(SfuAgent::run(&format!("p{i}"), device, &view, SfuOptions::default()).await);
    }
    let ids: Vec<String> = agents.iter().map(|a| a.me.clone()).collect();
    let others = |me: &str| -> Vec<String> { ids.iter().filter(|m| *m != me).cloned().collect() };
    for agent in &agents {
        let others = others(&agent.me);
        let others: Vec<&str> = others.iter().map(String::as_str).collect();
        agent.wait_receiving(&others).await;
    }
    let (muted, removed) = (ids[1].clone(), ids[2].clone());

    // The facilitator mutes p1: nobody hears or sees p1 any more; p1 still receives.
    app.rest
        .post(
            &format!("/api/rooms/{room}/members/{muted}/mute"),
            Some(&facilitator.token),
            &json!({}),
        )
        .await
        .ok();
    for agent in [&agents[0], &agents[2], &agents[3]] {
        silenced(agent, &muted, "audio").await;
        silenced(agent, &muted, "video").await;
    }
    agents[1].wait_receiving(&[&ids[0], &ids[2], &ids[3]]).await;
    // Unmuted, p1 is heard again without renegotiating.
    app.rest
        .post(
            &format!("/api/rooms/{room}/members/{muted}/unmute"),
            Some(&facilitator.token),
            &json!({}),
        )
        .await
        .ok();
    agents[0].wait_receiving(&[&muted]).await;

    // The facilitator removes p2: its feed stops for everyone, and it receives nothing.
    app.rest
        .post(
            &format!("/api/rooms/{room}/members/{removed}/remove"),
            Some(&facilitator.token),
            &json!({}),
        )
        .await
        .ok();
    for agent in [&agents[0], &agents[1], &agents[3]] {
        silenced(agent, &removed, "audio").await;
        silenced(agent, &removed, "video").await;
    }
    for from in [&ids[0], &ids[1], &ids[3]] {
        silenced(&agents[2], from, "video").await;
        silenced(&agents[2], from, "audio").await;
    }
    // The others go on.
    agents[0].wait_receiving(&[&ids[1], &ids[3]]).await;
    let what = "the removed member's publisher gone from the room";
    eventually(WAIT, what, || async {
        (janus[0].participants().await == 3).then_some(())
    })
    .await;
}

#[tokio::test]
async fn sfu_subscriber_choosing_the_low_layer_receives_less() {
    let janus = janus_instances(1).await;
    let app = sfu_app(&janus, |c| c.calls.mesh_max_participants = 2).await;
    let (facilitator, members) = people(&app.rest, 2).await;
    let listed: Vec<_> = members.iter().map(|m| (m, None)).collect();
    let room = room(&app.rest, &facilitator, &listed).await;
    let everyone = [&facilitator, &members[0], &members[1]];
    let (_call, joined) = call_everyone(devices(&app, &everyone).await, &room, "video").await;
    let mut agents = Vec::new();
    for (i, (device, view)) in joined.into_iter().enumerate() {
        // The facilitator publishes three simulcast layers.
        let options = SfuOptions {
            simulcast: i == 0,
            ..SfuOptions::default()
        };
        agents.push(SfuAgent::run(&format!("p{i}"), device, &view, options).await);
    }
    let publisher = agents[0].me.clone();
    for agent in &agents[1..] {
        agent.wait_receiving(&[&publisher]).await;
    }
    let window = Duration::from_secs(3);
    let high = agents[1].bitrate(&publisher, "video", window).await;

    // p1's link is weak: it asks for the low layer of the facilitator's video.
    agents[1].act("receive", json!({"quality": "low", "member": publisher}));
    let low = eventually(Duration::from_secs(30), "the bitrate to drop", || async {
        let now = agents[1].bitrate(&publisher, "video", window).await;
        (now > 0.0 && now < high / 3.0).then_some(now)
    })
    .await;
    // p2 did not ask: it still gets the high layer.
    let other = agents[2].bitrate(&publisher, "video", window).await;
    assert!(
        other > low * 2.0,
        "high {high:.0} low {low:.0} other {other:.0}"
    );
    eprintln!("video from a simulcast publisher: high {high:.0} bit/s, low {low:.0} bit/s");

    // Audio only: the video stops, the audio goes on.
    agents[1].act("receive", json!({"quality": "audio"}));
    eventually(WAIT, "video to stop", || async {
        (agents[1]
            .packets_during(&publisher, "video", Duration::from_millis(800))
            .await
            == 0)
            .then_some(())
    })
    .await;
    agents[1]
        .wait_receiving_kinds(&[&publisher], &["audio"])
        .await;
    for agent in &agents {
        assert!(
            agent.errors().is_empty(),
            "{}: {:?}",
            agent.name,
            agent.errors()
        );
    }
}
