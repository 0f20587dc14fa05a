//! Several server processes on one PostgreSQL database and one test-owned Redis:
//! chat, receipts, typing and presence between members connected to different nodes;
//! a dead node's presence expiring; a draining node's clients moving to another node.

use std::time::{Duration, Instant};

use mentorhub_tests::cluster::{Cluster, RedisLink, RedisServer};
use mentorhub_tests::scenario::Pair;
use mentorhub_tests::{WAIT, WsClient};
use serde_json::{Value, json};

/// The member id of `account`'s counterpart as listed in a welcome's conversation.
fn member_of(welcome: &Value, conversation: &str, role: &str) -> String {
    let summary = welcome["conversations"]
        .as_array()
        .expect("conversations")
        .iter()
        .find(|c| c["id"] == conversation)
        .expect("the conversation is in the welcome");
    summary["members"]
        .as_array()
        .expect("members")
        .iter()
        .find(|m| m["role"] == role)
        .map(|m| m["member"].as_str().expect("member id").to_owned())
        .expect("a member with that role")
}

fn summary<'a>(welcome: &'a Value, conversation: &str) -> &'a Value {
    welcome["conversations"]
        .as_array()
        .expect("conversations")
        .iter()
        .find(|c| c["id"] == conversation)
        .expect("the conversation is in the welcome")
}

async fn presence_of(client: &mut WsClient, member: &str, status: &str) -> Value {
    client
        .next_matching(&format!("presence {status} of {member}"), |f| {
            f["type"] == "presence" && f["member"] == member && f["status"] == status
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_node_chat_receipts_typing_and_presence() {
    let redis = RedisServer::start().await;
    let cluster = Cluster::start(2, RedisLink::Single(redis.url())).await;
    cluster.wait_ready().await;
    let (a, b) = (cluster.node(0), cluster.node(1));
    let pair = Pair::create(&a.rest, "Nadia Mentee", "Dr Bello Mentor").await;
    let conversation = pair.conversation.as_str();
    // The mentor shares receipts (opt-in), set through node B.
    b.rest
        .put(
            "/api/me/settings",
            Some(&pair.mentor.token),
            &json!({"read_receipts": true}),
        )
        .await
        .ok();

    let mut mentee = WsClient::connect(&a.ws_url, &pair.mentee.token).await;
    let mut mentor = WsClient::connect(&b.ws_url, &pair.mentor.token).await;
    assert_eq!(mentee.welcome.as_ref().unwrap()["node"], "node-a");
    assert_eq!(mentor.welcome.as_ref().unwrap()["node"], "node-b");
    let mentor_member = member_of(mentee.welcome.as_ref().unwrap(), conversation, "mentor");
    let mentee_member = member_of(mentor.welcome.as_ref().unwrap(), conversation, "mentee");

    // Presence crosses nodes: the mentee (node A) hears the mentor (node B) come online.
    presence_of(&mut mentee, &mentor_member, "online").await;

    // Chat both ways.
    let seq = mentee.say(conversation, "n1", "Hello from node A").await;
    let got = mentor
        .next_matching("the mentee's message", |f| {
            f["type"] == "message" && f["seq"] == seq
        })
        .await;
    assert_eq!(got["body"], "Hello from node A");
    assert_eq!(got["sender"], mentee_member.as_str());
    let reply = mentor.say(conversation, "b1", "Hello from node B").await;
    let got = mentee
        .next_matching("the mentor's reply", |f| {
            f["type"] == "message" && f["seq"] == reply
        })
        .await;
    assert_eq!(got["body"], "Hello from node B");

    // Typing crosses nodes and never echoes to the typist.
    mentor
        .send(&json!({"type": "typing", "conversation": conversation, "active": true}))
        .await;
    let typing = mentee.next_of_type("typing").await;
    assert_eq!(typing["member"], mentor_member.as_str());
    assert_eq!(typing["active"], true);

    // A read receipt of a member who shares them reaches the other node.
    let ok = mentor
        .request(json!({"type": "read", "conversation": conversation, "seq": seq}))
        .await;
    assert_eq!(ok["type"], "ok", "{ok}");
    let receipt = mentee.next_of_type("receipt").await;
    assert_eq!(receipt["member"], mentor_member.as_str());
    assert_eq!(receipt["seq"], seq);

    // Away is set by the client and seen on the other node.
    let ok = mentee
        .request(json!({"type": "presence", "status": "away"}))
        .await;
    assert_eq!(ok["type"], "ok", "{ok}");
    presence_of(&mut mentor, &mentee_member, "away").await;
    let refused = mentee
        .request(json!({"type": "presence", "status": "invisible"}))
        .await;
    assert_eq!(refused["code"], "invalid_frame", "{refused}");

    // A new session on node B learns the current presence in its welcome.
    let second = WsClient::connect(&b.ws_url, &pair.mentor.token).await;
    let listed = summary(second.welcome.as_ref().unwrap(), conversation)["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["member"] == mentee_member.as_str())
        .cloned()
        .unwrap();
    assert_eq!(listed["presence"], "away", "{listed}");
    second.close().await;

    // Leaving: the other node hears `offline`.
    mentee.close().await;
    presence_of(&mut mentor, &mentee_member, "offline").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_nodes_presence_expires_and_members_are_told() {
    let redis = RedisServer::start().await;
    let mut cluster = Cluster::start_with(2, RedisLink::Single(redis.url()), |o| {
        o.set("node_ttl_secs", "3")
    })
    .await;
    cluster.wait_ready().await;
    let pair = Pair::create(&cluster.node(0).rest, "Ines Mentee", "Dr Kofi Mentor").await;
    let conversation = pair.conversation.clone();
    let mut mentor = WsClient::connect(&cluster.node(0).ws_url, &pair.mentor.token).await;
    let mentee = WsClient::connect(&cluster.node(1).ws_url, &pair.mentee.token).await;
    let mentee_member = member_of(mentor.welcome.as_ref().unwrap(), &conversation, "mentee");
    presence_of(&mut mentor, &mentee_member, "online").await;

    // SIGKILL: node B says nothing; its heartbeat simply stops.
    cluster.nodes[1].sigkill().await;
    let killed = Instant::now();
    presence_of(&mut mentor, &mentee_member, "offline").await;
    let took = killed.elapsed();
    // Bound: the heartbeat TTL (⅔ of node_ttl) plus one maintenance pass (⅙), with
    // slack for a loaded machine.
    assert!(
        took <= Duration::from_secs(3) + Duration::from_secs(4),
        "offline announced after {took:?}"
    );
    drop(mentee);
    // The survivor is (or, on a loaded machine, soon becomes) ready again.
    mentorhub_tests::cluster::wait_readiness(cluster.node(0), true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn draining_node_sends_its_clients_to_another_node() {
    let redis = RedisServer::start().await;
    let mut cluster = Cluster::start(2, RedisLink::Single(redis.url())).await;
    cluster.wait_ready().await;
    let pair = Pair::create(&cluster.node(0).rest, "Lena Mentee", "Dr Ravi Mentor").await;
    let conversation = pair.conversation.clone();
    let mut mentee = WsClient::connect(&cluster.node(0).ws_url, &pair.mentee.token).await;
    let mut mentor = WsClient::connect(&cluster.node(1).ws_url, &pair.mentor.token).await;
    let first = mentee.say(&conversation, "d1", "before the drain").await;
    mentor.wait_for_seq(&conversation, first).await;

    cluster.nodes[0].sigterm();
    let reconnect = mentee.next_of_type("reconnect").await;
    let after_ms = reconnect["after_ms"].as_u64().expect("after_ms");
    assert!(after_ms <= 5_000, "jitter is bounded: {reconnect}");
    mentee.expect_close(1001).await;
    // While the mentee is away the mentor keeps talking on node B.
    let mut sent = Vec::new();
    for i in 0..5 {
        sent.push(
            mentor
                .say(&conversation, &format!("m{i}"), "while you move")
                .await,
        );
    }
    let cursors = mentee.cursors().clone();
    let exit = cluster.nodes[0].wait_exit(WAIT).await;
    assert!(
        exit.is_some_and(|s| s.success()),
        "node A exits cleanly: {exit:?}"
    );
    // Resume on node B: everything after the cursor, exactly once, in order.
    let mut moved =
        WsClient::connect_with_cursors(&cluster.node(1).ws_url, &pair.mentee.token, &cursors).await;
    assert_eq!(moved.welcome.as_ref().unwrap()["node"], "node-b");
    moved
        .wait_for_seq(&conversation, *sent.last().unwrap())
        .await;
    let seqs: Vec<u64> = moved
        .events()
        .iter()
        .filter(|e| e["conversation"] == conversation.as_str())
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, sent, "the missed messages, once each, in order");
}
