//! Rooms and calls across nodes: members of one room and the two ends of one call
//! connected to different server processes, joined by a real Redis and one PostgreSQL.

use mentorhub_tests::cluster::{Cluster, RedisLink, RedisServer};
use mentorhub_tests::{Pair, WsClient};
use serde_json::json;

use crate::calls::agent::{Agent, Options};
use crate::calls::{accept, action, event, room_with, start, text};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_call_between_nodes_connects_real_peers() {
    let redis = RedisServer::start().await;
    let cluster = Cluster::start(2, RedisLink::Single(redis.url())).await;
    cluster.wait_ready().await;
    let pair = Pair::create(&cluster.node(0).rest, "Zara Mentee", "Dr Obi Mentor").await;
    let mut mentee = WsClient::connect(&cluster.node(0).ws_url, &pair.mentee.token).await;
    let mut mentor = WsClient::connect(&cluster.node(1).ws_url, &pair.mentor.token).await;

    let started = start(&mut mentee, &pair.conversation, "audio").await;
    let call = text(&started["call"]);
    event(&mut mentor, "ringing").await; // rung on node B
    let joined = accept(&mut mentor, &call).await;
    event(&mut mentee, "participant_joined").await;

    let caller = Agent::run("mentee on A", mentee, &started, Options::default()).await;
    let callee = Agent::run("mentor on B", mentor, &joined, Options::default()).await;
    caller.wait_connected(&[&callee.me]).await;
    callee.wait_connected(&[&caller.me]).await;
    caller.wait_hello_from(&[&callee.me]).await;
    callee.wait_hello_from(&[&caller.me]).await;
    assert!(caller.errors().is_empty(), "{:?}", caller.errors());
    assert!(callee.errors().is_empty(), "{:?}", callee.errors());
    assert!(
        callee
            .received()
            .iter()
            .all(|f| f["from"] == caller.me.as_str()),
        "every signal crossing the nodes names its real sender"
    );

    let mut mentee = caller.stop().await;
    let mut mentor = callee.stop().await;
    action(&mut mentor, "leave", json!({"call": call})).await;
    event(&mut mentee, "participant_left").await;
    action(&mut mentee, "leave", json!({"call": call})).await;
    let ended = event(&mut mentee, "ended").await;
    assert_eq!(ended["reason"], "user_hangup");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_room_members_on_different_nodes_talk() {
    let redis = RedisServer::start().await;
    let cluster = Cluster::start(2, RedisLink::Single(redis.url())).await;
    cluster.wait_ready().await;
    let rest = &cluster.node(0).rest;
    let facilitator = rest.login("Dr Ines Facilitator", "mentor").await;
    let on_b = rest.login("Kwame Trainee", "mentee").await;
    let also_on_a = rest.login("Lea Trainee", "mentee").await;
    let room = room_with(rest, &facilitator, &[&on_b, &also_on_a]).await;

    let (a, b) = (&cluster.node(0).ws_url, &cluster.node(1).ws_url);
    let mut facilitator = WsClient::connect(a, &facilitator.token).await;
    let mut on_b = WsClient::connect(b, &on_b.token).await;
    let mut also_on_a = WsClient::connect(a, &also_on_a.token).await;

    let seq = facilitator.say(&room, "f1", "welcome, everyone").await;
    on_b.wait_for_seq(&room, seq).await;
    also_on_a.wait_for_seq(&room, seq).await;
    let reply = on_b.say(&room, "b1", "hello from node B").await;
    facilitator.wait_for_seq(&room, reply).await;
    also_on_a.wait_for_seq(&room, reply).await;
    let got = also_on_a
        .events()
        .iter()
        .find(|e| e["seq"] == reply)
        .cloned()
        .expect("the reply");
    assert_eq!(got["body"], "hello from node B");

    on_b.send(&json!({"type": "typing", "conversation": room, "active": true}))
        .await;
    let typing = facilitator
        .next_matching("typing from node B", |f| {
            f["type"] == "typing" && f["conversation"] == room.as_str()
        })
        .await;
    assert_eq!(typing["active"], true);
}
