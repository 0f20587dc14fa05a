//! Real WebRTC peers (`webrtc` 0.17) signalled through a running server: they reach
//! `connected` and move data over data channels, 1:1 and as a 3-party mesh.

use mentorhub_tests::{Pair, WsClient};

use super::agent::{Agent, Options};
use super::{OneToOne, accept, call_app, connected_one_to_one, event, room_with, start, text};

#[tokio::test]
async fn one_to_one_call_connects_and_moves_data_both_ways() {
    let app = call_app(|_| {}).await;
    let pair = Pair::create(&app.rest, "Ama Owusu", "Dr. Lars Nilsson").await;
    let mentee = WsClient::connect(&app.ws_url, &pair.mentee.token).await;
    let mentor = WsClient::connect(&app.ws_url, &pair.mentor.token).await;
    let OneToOne {
        call,
        started,
        caller,
        callee,
    } = connected_one_to_one(
        ("mentee", mentee),
        ("mentor", mentor),
        &pair.conversation,
        "video",
    )
    .await;
    assert_eq!(started["ice"]["iceTransportPolicy"], "all");
    // Signals crossed with the right sender.
    assert!(
        callee
            .received()
            .iter()
            .all(|f| f["from"] == caller.me.as_str())
    );
    assert!(
        callee
            .received()
            .iter()
            .any(|f| f["event"] == "description" && f["description"]["type"] == "answer")
    );

    let mut mentee = caller.stop().await;
    let mut mentor = callee.stop().await;
    super::action(&mut mentee, "leave", serde_json::json!({"call": call})).await;
    super::action(&mut mentor, "leave", serde_json::json!({"call": call})).await;
    let ended = event(&mut mentee, "ended").await;
    assert_eq!(ended["reason"], "user_hangup");
}

#[tokio::test]
async fn three_party_mesh_connects_every_pair() {
    let app = call_app(|_| {}).await;
    let facilitator = app.rest.login("Dr. Mira Kaur", "mentor").await;
    let second = app.rest.login("Jon Ekström", "mentee").await;
    let third = app.rest.login("Ayo Balogun", "mentee").await;
    let room = room_with(&app.rest, &facilitator, &[&second, &third]).await;
    let mut a = WsClient::connect(&app.ws_url, &facilitator.token).await;
    let mut b = WsClient::connect(&app.ws_url, &second.token).await;
    let mut c = WsClient::connect(&app.ws_url, &third.token).await;

    let started = start(&mut a, &room, "video").await;
    let call = text(&started["call"]);
    assert_eq!(started["ringing"].as_array().map(Vec::len), Some(2));
    event(&mut b, "ringing").await;
    event(&mut c, "ringing").await;

    // B joins: B offers to A.
    let b_view = accept(&mut b, &call).await;
    assert_eq!(b_view["participants"], serde_json::json!([started["me"]]));
    event(&mut a, "participant_joined").await;
    let agent_a = Agent::run("a", a, &started, Options::default()).await;
    let agent_b = Agent::run("b", b, &b_view, Options::default()).await;
    agent_a.wait_connected(&[&agent_b.me]).await;

    // C joins a call in progress: the server lists A and B, and C offers to both.
    let c_view = accept(&mut c, &call).await;
    let mut listed: Vec<String> = c_view["participants"]
        .as_array()
        .expect("participants")
        .iter()
        .map(text)
        .collect();
    listed.sort();
    let mut expected = vec![agent_a.me.clone(), agent_b.me.clone()];
    expected.sort();
    assert_eq!(listed, expected);
    let agent_c = Agent::run("c", c, &c_view, Options::default()).await;

    agent_a.wait_connected(&[&agent_b.me, &agent_c.me]).await;
    agent_b.wait_connected(&[&agent_a.me, &agent_c.me]).await;
    agent_c.wait_connected(&[&agent_a.me, &agent_b.me]).await;
    agent_a.wait_hello_from(&[&agent_b.me, &agent_c.me]).await;
    agent_b.wait_hello_from(&[&agent_a.me, &agent_c.me]).await;
    agent_c.wait_hello_from(&[&agent_a.me, &agent_b.me]).await;
    // Each pairwise signal went only to its addressee: B got A's answer to its own offer
    // and C's offer — none of the A↔C exchange.
    let mut descriptions: Vec<(String, String)> = agent_b
        .received()
        .iter()
        .filter(|f| f["event"] == "description")
        .map(|f| (text(&f["from"]), text(&f["description"]["type"])))
        .collect();
    descriptions.sort();
    let mut expected = vec![
        (agent_a.me.clone(), "answer".to_owned()),
        (agent_c.me.clone(), "offer".to_owned()),
    ];
    expected.sort();
    assert_eq!(descriptions, expected);
    for agent in [&agent_a, &agent_b, &agent_c] {
        assert!(
            agent.errors().is_empty(),
            "{}: {:?}",
            agent.name,
            agent.errors()
        );
    }
}
