//! A room set to "calls through the SFU": only a facilitator changes it, the change is
//! recorded on the timeline, and the room's next call is on the SFU from its first
//! participant — three people, far below the mesh limit. A server without an SFU
//! ignores the setting: the call is a mesh, with the mesh's cap.

use mentorhub_tests::rest::Rest;
use mentorhub_tests::{Person, WsClient};
use serde_json::{Value, json};

use super::agent::{SfuAgent, SfuOptions};
use super::{devices, janus_instances, people, room, sfu_app};
use crate::calls::{accept, call_app, event, start, text};

async fn set_calls(
    rest: &Rest,
    room: &str,
    person: &Person,
    body: Value,
) -> mentorhub_tests::rest::Reply {
    rest.put(
        &format!("/api/rooms/{room}/settings"),
        Some(&person.token),
        &body,
    )
    .await
}

async fn calls_setting(rest: &Rest, room: &str, person: &Person) -> Value {
    rest.get(&format!("/api/conversations/{room}"), Some(&person.token))
        .await
        .ok()["conversation"]["calls"]
        .clone()
}

/// The facilitator sets the room to `sfu`; refusals on the way change nothing.
async fn set_room_to_sfu(rest: &Rest, room: &str, facilitator: &Person, member: &Person) {
    assert_eq!(
        calls_setting(rest, room, member).await,
        "auto",
        "the default"
    );
    let refused = set_calls(rest, room, member, json!({"calls": "sfu"})).await;
    assert_eq!(
        (refused.status, refused.code()),
        (403, "forbidden"),
        "{refused:?}"
    );
    for bad in [
        json!({"calls": "always"}),
        json!({"calls": "sfu", "mesh": 2}),
        json!({}),
    ] {
        let refused = set_calls(rest, room, facilitator, bad.clone()).await;
        assert_eq!(refused.status, 400, "{bad}: {refused:?}");
        assert_eq!(refused.code(), "invalid_frame", "{bad}: {refused:?}");
    }
    assert_eq!(
        calls_setting(rest, room, facilitator).await,
        "auto",
        "nothing changed"
    );

    let set = set_calls(rest, room, facilitator, json!({"calls": "sfu"}))
        .await
        .ok();
    assert_eq!(set["conversation"]["calls"], "sfu", "{set}");
    assert_eq!(calls_setting(rest, room, member).await, "sfu");
    // Setting it again records nothing: one timeline event for one change.
    set_calls(rest, room, facilitator, json!({"calls": "sfu"}))
        .await
        .ok();
    let history = rest
        .get(
            &format!("/api/conversations/{room}/messages"),
            Some(&member.token),
        )
        .await
        .ok();
    let changes: Vec<&Value> = history["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["event"]["kind"] == "room_calls_changed")
        .collect();
    assert_eq!(changes.len(), 1, "{history}");
    assert_eq!(changes[0]["event"]["calls"], "sfu");
}

/// The first device starts a call; the others accept. Every view as it arrives.
async fn call_of(mut devices: Vec<WsClient>, room: &str) -> Vec<(WsClient, Value)> {
    let started = start(&mut devices[0], room, "video").await;
    let call = text(&started["call"]);
    let mut views = vec![started];
    for device in devices.iter_mut().skip(1) {
        event(device, "ringing").await;
        views.push(accept(device, &call).await);
    }
    devices.into_iter().zip(views).collect()
}

#[tokio::test]
async fn sfu_room_set_to_sfu_puts_a_call_of_three_on_the_sfu_from_the_start() {
    let janus = janus_instances(1).await;
    let app = sfu_app(&janus, |_| {}).await; // mesh up to 4 (the default)
    let (facilitator, members) = people(&app.rest, 2).await;
    let listed: Vec<_> = members.iter().map(|m| (m, None)).collect();
    let room = room(&app.rest, &facilitator, &listed).await;
    set_room_to_sfu(&app.rest, &room, &facilitator, &members[0]).await;

    let mut everyone = vec![&facilitator];
    everyone.extend(members.iter());
    let joined = call_of(devices(&app, &everyone).await, &room).await;
    for (_, view) in &joined {
        assert_eq!(view["topology"], "sfu", "{view}");
    }
    janus[0].wait_rooms(1).await;

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
    for agent in &agents {
        // Never a mesh, so never moved.
        assert!(
            !agent.events().iter().any(|e| e["event"] == "topology"),
            "{}: {:?}",
            agent.name,
            agent.events()
        );
        assert!(
            agent.errors().is_empty(),
            "{}: {:?}",
            agent.name,
            agent.errors()
        );
    }
}

#[tokio::test]
async fn sfu_room_setting_is_ignored_by_a_server_without_an_sfu() {
    let app = call_app(|_| {}).await;
    let (facilitator, members) = people(&app.rest, 2).await;
    let listed: Vec<_> = members.iter().map(|m| (m, None)).collect();
    let room = room(&app.rest, &facilitator, &listed).await;
    set_room_to_sfu(&app.rest, &room, &facilitator, &members[0]).await;

    let mut everyone = vec![&facilitator];
    everyone.extend(members.iter());
    let joined = call_of(devices(&app, &everyone).await, &room).await;
    for (_, view) in &joined {
        assert_eq!(view["topology"], "mesh", "{view}");
    }
}
