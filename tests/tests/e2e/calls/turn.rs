//! The embedded TURN server's credential life cycle and edges: a relay-only call that
//! outlives its credential, `401` for bad credentials, self-relay and special ranges
//! refused, and no client, peer or relay address in the server's log.

use std::net::SocketAddr;
use std::time::Duration;

use mentorhub::ids::now_millis;
use mentorhub_tests::process::{ProcessOptions, spawn_process_with};
use mentorhub_tests::{Pair, TestApp, WAIT, WsClient};
use serde_json::Value;
use tokio::net::UdpSocket;
use webrtc::ice_transport::ice_candidate_type::RTCIceCandidateType;
use webrtc::stun::agent::TransactionId;
use webrtc::stun::attributes::{ATTR_NONCE, ATTR_REALM, ATTR_USERNAME};
use webrtc::stun::error_code::ErrorCodeAttribute;
use webrtc::stun::integrity::MessageIntegrity;
use webrtc::stun::message::{
    CLASS_ERROR_RESPONSE, CLASS_REQUEST, Getter, METHOD_ALLOCATE, Message, MessageType, Setter,
};
use webrtc::stun::textattrs::TextAttribute;
use webrtc::turn::proto::reqtrans::RequestedTransport;
use webrtc::util::Conn;

use super::agent::{Agent, Options};
use super::relay::{ice_servers, turn_client, turn_client_at, turn_url};
use super::{accept, call_app, event, start, text};

fn now_secs() -> i64 {
    now_millis() / 1000
}

/// `mentorhub_turn_allocation_refreshes_total` as the node exports it.
async fn refreshes(app: &TestApp) -> u64 {
    let (status, body) = app.rest.get_text("/metrics").await;
    assert_eq!(status, 200);
    body.lines()
        .find_map(|l| l.strip_prefix("mentorhub_turn_allocation_refreshes_total "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map_or(0, |v| v as u64)
}

async fn sleep_until(unix_secs: i64) {
    let left = unix_secs * 1000 - now_millis();
    if left > 0 {
        tokio::time::sleep(Duration::from_millis(left as u64)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_call_outlives_its_turn_credential_while_refreshed() {
    // Credentials live 8 s; allocations are granted 4 s, so each client refreshes every 2 s.
    let app = call_app(|c| {
        c.calls.turn_ttl = Duration::from_secs(8);
        c.calls.turn_allocation_lifetime = Duration::from_secs(4);
    })
    .await;
    let pair = Pair::create(&app.rest, "Amara Obi", "Dr. Jonas Lind").await;
    let mut mentee = WsClient::connect(&app.ws_url, &pair.mentee.token).await;
    let mut mentor = WsClient::connect(&app.ws_url, &pair.mentor.token).await;
    let started = start(&mut mentee, &pair.conversation, "audio").await;
    let call = text(&started["call"]);
    event(&mut mentor, "ringing").await;
    let joined = accept(&mut mentor, &call).await;
    let expires_at = [&started, &joined]
        .iter()
        .filter_map(|view| view["ice"]["expires_at"].as_i64())
        .max()
        .expect("expires_at in the call views");

    let relay = Options {
        force_relay: true,
        ..Options::default()
    };
    let caller = Agent::run("mentee", mentee, &started, relay.clone()).await;
    let callee = Agent::run("mentor", mentor, &joined, relay).await;
    caller.wait_connected(&[&callee.me]).await;
    callee.wait_connected(&[&caller.me]).await;
    caller.wait_hello_from(&[&callee.me]).await;
    callee.wait_hello_from(&[&caller.me]).await;
    for (agent, other) in [(&caller, &callee.me), (&callee, &caller.me)] {
        let (local, remote) = agent.selected_pair(other).await;
        assert_eq!(local, RTCIceCandidateType::Relay, "{}", agent.name);
        assert_eq!(remote, RTCIceCandidateType::Relay, "{}", agent.name);
    }

    // Both credentials have expired; count the refreshes from here.
    sleep_until(expires_at + 1).await;
    let at_expiry = refreshes(&app).await;
    // Three allocation lifetimes later an allocation refused its refreshes would be
    // gone (the server deletes it 4 s after the last accepted one).
    sleep_until(expires_at + 13).await;
    let after = refreshes(&app).await;
    assert!(
        after >= at_expiry + 4,
        "allocations refreshed after the credentials expired: {} (two each expected)",
        after - at_expiry
    );
    assert!(now_secs() > expires_at + 12);
    caller.say(&callee.me, "still here after expiry").await;
    callee.say(&caller.me, "me too").await;
    callee
        .wait_message(&caller.me, "still here after expiry")
        .await;
    caller.wait_message(&callee.me, "me too").await;
    assert!(caller.errors().is_empty(), "{:?}", caller.errors());
    assert!(callee.errors().is_empty(), "{:?}", callee.errors());

    // An expired credential still allocates nothing new; fresh ones do (ICE restart).
    let ice = ice_servers(&app, &pair.mentee.token).await;
    let (turn, username, credential) = turn_url(&ice).expect("a TURN server");
    assert!(ice["expires_at"].as_i64().expect("expires_at") > now_secs());
    turn_client(turn, &username, &credential)
        .await
        .allocate()
        .await
        .expect("an allocation with fresh credentials");
    let old = turn_url(&started["ice"]).expect("a TURN server");
    let error = turn_client(turn, &old.1, &old.2)
        .await
        .allocate()
        .await
        .err()
        .expect("an expired credential allocated");
    assert!(error.to_string().contains("401"), "{error}");
}

/// One request/response exchange with the TURN server over a plain UDP socket.
async fn exchange(socket: &UdpSocket, turn: SocketAddr, setters: Vec<Box<dyn Setter>>) -> Message {
    let mut request = Message::new();
    request.build(&setters).expect("a STUN request");
    socket.send_to(&request.raw, turn).await.expect("send");
    let mut buf = vec![0u8; 1500];
    let (n, _) = tokio::time::timeout(WAIT, socket.recv_from(&mut buf))
        .await
        .expect("a TURN answer")
        .expect("receive");
    let mut response = Message::new();
    response.raw = buf[..n].to_vec();
    response.decode().expect("a STUN response");
    response
}

fn error_code(response: &Message) -> u16 {
    let mut code = ErrorCodeAttribute::default();
    code.get_from(response).expect("an ERROR-CODE");
    code.code.0
}

#[tokio::test]
async fn relay_turn_answers_401_with_realm_and_nonce_to_bad_credentials() {
    let app = call_app(|_| {}).await;
    let person = app.rest.login("Rosa Lima", "mentee").await;
    let ice = ice_servers(&app, &person.token).await;
    let (turn, username, credential) = turn_url(&ice).expect("a TURN server");
    let (_, opaque) = username.split_once(':').expect("expiry:opaque-id");
    let socket = UdpSocket::bind("127.0.0.1:0").await.expect("socket");
    let allocate = || -> Vec<Box<dyn Setter>> {
        vec![
            Box::new(TransactionId::new()),
            Box::new(MessageType::new(METHOD_ALLOCATE, CLASS_REQUEST)),
            Box::new(RequestedTransport {
                protocol: webrtc::turn::proto::PROTO_UDP,
            }),
        ]
    };
    // Unsigned: the server's own 401 hands out realm and nonce.
    let first = exchange(&socket, turn, allocate()).await;
    assert_eq!(first.typ.class, CLASS_ERROR_RESPONSE);
    assert_eq!(error_code(&first), 401);
    let realm = TextAttribute::get_from_as(&first, ATTR_REALM).expect("a realm");
    let nonce = TextAttribute::get_from_as(&first, ATTR_NONCE).expect("a nonce");

    let expired = format!("1000:{opaque}");
    for (user, password) in [
        (username.as_str(), "not-the-credential"),
        (expired.as_str(), credential.as_str()),
    ] {
        let mut setters = allocate();
        setters.push(Box::new(TextAttribute::new(ATTR_USERNAME, user.to_owned())));
        setters.push(Box::new(realm.clone()));
        setters.push(Box::new(nonce.clone()));
        setters.push(Box::new(MessageIntegrity::new_long_term_integrity(
            user.to_owned(),
            realm.text.clone(),
            password.to_owned(),
        )));
        let refused = exchange(&socket, turn, setters).await;
        assert_eq!(refused.typ.class, CLASS_ERROR_RESPONSE, "{user}");
        assert_eq!(error_code(&refused), 401, "{user}");
        let again = TextAttribute::get_from_as(&refused, ATTR_REALM).expect("realm in the 401");
        assert_eq!(again.text, realm.text);
        TextAttribute::get_from_as(&refused, ATTR_NONCE).expect("nonce in the 401");
    }
    // The issued credential allocates.
    turn_client(turn, &username, &credential)
        .await
        .allocate()
        .await
        .expect("an allocation with the issued credential");
}

#[tokio::test]
async fn relay_turn_refuses_self_relay_and_special_ranges() {
    // Special-purpose ranges: refused like private ones.
    let app = mentorhub_tests::spawn_app().await;
    let person = app.rest.login("Tariq Aziz", "mentee").await;
    let (turn, username, credential) =
        turn_url(&ice_servers(&app, &person.token).await).expect("a TURN server");
    let client = turn_client(turn, &username, &credential).await;
    let relay = client.allocate().await.expect("allocation");
    for peer in ["198.18.0.1:9", "198.19.7.7:9", "240.0.0.1:9", "192.0.0.9:9"] {
        let peer: SocketAddr = peer.parse().unwrap();
        let error = relay
            .send_to(b"knock", peer)
            .await
            .expect_err("relayed to a special-purpose address");
        assert!(error.to_string().contains("403"), "{peer}: {error}");
    }
    let _ = client.close().await;

    // The TURN server itself is no peer, even where loopback peers are allowed.
    let app = call_app(|_| {}).await;
    let person = app.rest.login("Tariq Aziz", "mentee").await;
    let (turn, username, credential) =
        turn_url(&ice_servers(&app, &person.token).await).expect("a TURN server");
    let client = turn_client(turn, &username, &credential).await;
    let relay = client.allocate().await.expect("allocation");
    let error = relay
        .send_to(b"knock", turn)
        .await
        .expect_err("relayed into the TURN listener");
    assert!(error.to_string().contains("403"), "{error}");
    // Another loopback peer is still reachable here (allowed for tests).
    let peer = UdpSocket::bind("127.0.0.1:0").await.expect("peer");
    relay
        .send_to(b"hello", peer.local_addr().expect("peer address"))
        .await
        .expect("relaying to an allowed peer");
    let mut buf = [0u8; 16];
    let (n, _) = tokio::time::timeout(WAIT, peer.recv_from(&mut buf))
        .await
        .expect("the relayed datagram")
        .expect("receive");
    assert_eq!(&buf[..n], b"hello");
    let _ = client.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_turn_logs_no_client_peer_or_relay_address_at_info_or_debug() {
    for level in ["info", "debug"] {
        let server = spawn_process_with(
            ProcessOptions::default()
                .set("log", level)
                .set("turn_allow_private_peers", "true"),
        )
        .await;
        let person = server.rest.login("Ada Eze", "mentee").await;
        let ice: Value = server
            .rest
            .get("/api/ice-servers", Some(&person.token))
            .await
            .ok();
        let (turn, username, credential) = turn_url(&ice).expect("a TURN server");
        let (client, client_addr) = turn_client_at(turn, &username, &credential).await;
        let relay = client.allocate().await.expect("allocation");
        let relay_addr = relay.local_addr().expect("relay address");
        // Relayed traffic to a permitted peer and back.
        let peer = UdpSocket::bind("127.0.0.1:0").await.expect("peer");
        let peer_addr = peer.local_addr().expect("peer address");
        relay.send_to(b"hello", peer_addr).await.expect("relay");
        let mut buf = [0u8; 16];
        tokio::time::timeout(WAIT, peer.recv_from(&mut buf))
            .await
            .expect("the relayed datagram")
            .expect("receive");
        peer.send_to(b"back", relay_addr).await.expect("answer");
        // A stranger without a permission knocks on the relay ("No Permission…").
        let stranger = UdpSocket::bind("127.0.0.1:0").await.expect("stranger");
        let stranger_addr = stranger.local_addr().expect("stranger address");
        stranger.send_to(b"knock", relay_addr).await.expect("knock");
        // Refusals: a bad credential, and relaying into the TURN listener.
        let (wrong, wrong_addr) = turn_client_at(turn, &username, "not-the-credential").await;
        assert!(wrong.allocate().await.is_err());
        // (Dropped silently here: the client already holds a permission for the IP.)
        let _ = relay.send_to(b"loop", turn).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let _ = client.close().await;
        tokio::time::sleep(Duration::from_millis(300)).await;

        let logs = server.logs();
        assert!(
            logs.contains("mentorhub listening"),
            "no server log at {level}"
        );
        for (what, addr) in [
            ("client", client_addr),
            ("relay", relay_addr),
            ("peer", peer_addr),
            ("stranger", stranger_addr),
            ("refused client", wrong_addr),
        ] {
            let port = format!(":{}", addr.port());
            let leaked: Vec<&str> = logs.lines().filter(|l| l.contains(&port)).collect();
            assert!(
                leaked.is_empty(),
                "the {what} address {addr} is in the log at {level}: {leaked:?}"
            );
        }
    }
}
