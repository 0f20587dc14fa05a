//! Rooms and calls across nodes: members of one room and the two ends of one call
//! connected to different server processes, joined by a real Redis and one PostgreSQL.

use mentorhub_tests::cluster::{Cluster, RedisLink, RedisServer};
use mentorhub_tests::{Pair, WsClient};
use serde_json::json;

use crate::calls::{OneToOne, action, connected_one_to_one, event, room_with};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scale_call_between_nodes_connects_real_peers() {
    let redis = RedisServer::start().await;
    let cluster = Cluster::start(2, RedisLink::Single(redis.url())).await;
    cluster.wait_ready().await;
    let pair = Pair::create(&cluster.node(0).rest, "Zara Mentee", "Dr Obi Mentor").await;
    let mentee = WsClient::connect(&cluster.node(0).ws_url, &pair.mentee.token).await;
    let mentor = WsClient::connect(&cluster.node(1).ws_url, &pair.mentor.token).await;
    // Rung on node B, answered there; every signal crosses the bus.
    let OneToOne {
        call,
        caller,
        callee,
        ..
    } = connected_one_to_one(
        ("mentee on A", mentee),
        ("mentor on B", mentor),
        &pair.conversation,
        "audio",
    )
    .await;
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
