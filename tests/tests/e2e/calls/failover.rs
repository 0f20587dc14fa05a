//! A node killed mid-call: the survivor is told once the dead node's heartbeat expires,
//! and the participant who was on it rejoins through another node within the grace
//! period. Media never went through the node, so the peers keep talking throughout.

use std::time::Duration;

use mentorhub_tests::cluster::{Cluster, RedisLink, RedisServer};
use mentorhub_tests::{Pair, WsClient};
use serde_json::json;
use webrtc::peer_connection::peer_connection_state::RTCPeerConnectionState;

use super::{OneToOne, action, assert_no_event, connected_one_to_one, join};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_survive_a_node_kill_with_a_rejoin_through_another_node() {
    let redis = RedisServer::start().await;
    // A dead node is noticed within seconds; the grace period outlasts that comfortably.
    let mut cluster = Cluster::start_with(2, RedisLink::Single(redis.url()), |options| {
        options
            .set("node_ttl_secs", "3")
            .set("call_reconnect_grace_secs", "60")
    })
    .await;
    cluster.wait_ready().await;
    let pair = Pair::create(&cluster.node(0).rest, "Nadia Haddad", "Dr. Tom Berg").await;
    let mentee = WsClient::connect(&cluster.node(0).ws_url, &pair.mentee.token).await;
    let mentor = WsClient::connect(&cluster.node(1).ws_url, &pair.mentor.token).await;
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
    let mentee_me = caller.me.clone();
    let mentor_me = callee.me.clone();
    // Both keep their peer connections; signalling is watched by hand from here.
    let (mentee_ws, mentee_peers) = caller.detach().await;
    let (mut mentor_ws, mentor_peers) = callee.detach().await;

    // Node A dies with the mentee's connection: nobody closes anything there.
    cluster.nodes[0].sigkill().await;
    drop(mentee_ws);
    let gone = mentor_ws
        .next_matching_within(
            Duration::from_secs(20),
            "participant_disconnected after the node died",
            |f| super::is_event(f, "participant_disconnected"),
        )
        .await
        .expect("the survivor is told");
    assert_eq!(gone["member"], mentee_me.as_str());
    assert_eq!(gone["grace_ms"], 60_000);

    // The mentee's client reconnects through node B and takes her place back.
    let mut back = WsClient::connect(&cluster.node(1).ws_url, &pair.mentee.token).await;
    let rejoined = join(&mut back, &call).await;
    assert_eq!(rejoined["rejoined"], true, "{rejoined}");
    assert_eq!(rejoined["me"], mentee_me.as_str());
    assert_eq!(rejoined["participants"], json!([mentor_me]));
    let reconnected = super::event(&mut mentor_ws, "participant_reconnected").await;
    assert_eq!(reconnected["member"], mentee_me.as_str());

    // Signals reach her new connection.
    let sent = action(
        &mut mentor_ws,
        "candidate",
        json!({"call": call, "to": mentee_me, "candidate": {"candidate": ""}}),
    )
    .await;
    assert_eq!(sent["type"], "ok", "{sent}");
    let relayed = super::event(&mut back, "candidate").await;
    assert_eq!(relayed["from"], mentor_me.as_str());
    // The media path never depended on the node.
    for pc in mentee_peers.iter().chain(&mentor_peers) {
        assert_eq!(pc.connection_state(), RTCPeerConnectionState::Connected);
    }
    assert_no_event(&mut mentor_ws, &["participant_left", "ended"]).await;
    assert_no_event(&mut back, &["left", "ended"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_whose_participants_all_died_with_their_node_end_and_leave_the_registry() {
    let redis = RedisServer::start().await;
    let mut cluster = Cluster::start_with(2, RedisLink::Single(redis.url()), |options| {
        options
            .set("node_ttl_secs", "3")
            .set("call_reconnect_grace_secs", "4")
    })
    .await;
    cluster.wait_ready().await;
    let pair = Pair::create(&cluster.node(0).rest, "Esi Asante", "Dr. Karl Lund").await;
    // Both sides of the call on node A; nobody on node B is in it.
    let mut mentee = WsClient::connect(&cluster.node(0).ws_url, &pair.mentee.token).await;
    let mut mentor = WsClient::connect(&cluster.node(0).ws_url, &pair.mentor.token).await;
    let started = super::start(&mut mentee, &pair.conversation, "audio").await;
    let call = super::text(&started["call"]);
    super::event(&mut mentor, "ringing").await;
    super::accept(&mut mentor, &call).await;
    let keys = redis.cli(&["KEYS", "*call*"]).await;
    assert!(keys.contains(&call), "the call is in the registry: {keys}");

    // Node A dies with both connections and every timer it had armed.
    cluster.nodes[0].sigkill().await;
    drop(mentee);
    drop(mentor);
    // The mentee's app comes back through node B without rejoining: she is told the
    // call ended once the survivor noticed the death and the grace period ran out.
    let mut back = WsClient::connect(&cluster.node(1).ws_url, &pair.mentee.token).await;
    let ended = back
        .next_matching_within(
            Duration::from_secs(30),
            "ended after the node died and the grace period ran out",
            |f| super::is_event(f, "ended") && f["call"] == call.as_str(),
        )
        .await
        .expect("the call ends");
    assert_eq!(ended["reason"], "connection_lost", "{ended}");
    let keys = redis.cli(&["KEYS", "*call*"]).await;
    assert!(
        !keys.contains(&call) && !keys.contains(&pair.conversation),
        "the call is still in the registry: {keys}"
    );
    let gone = action(&mut back, "join", json!({"call": call})).await;
    super::assert_refused(&gone, "not_found");
    // The conversation is free for a new call.
    super::start(&mut back, &pair.conversation, "audio").await;
}
