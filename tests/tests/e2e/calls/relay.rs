//! The embedded TURN server and relay-only privacy, with real `webrtc` peers and the
//! `webrtc` crate's TURN client. Every test name here contains `relay`.

use std::net::SocketAddr;
use std::sync::Arc;

use mentorhub_tests::{Pair, TestApp, WAIT, WsClient, eventually};
use serde_json::{Value, json};
use tokio::net::UdpSocket;
use webrtc::ice_transport::ice_candidate_type::RTCIceCandidateType;
use webrtc::turn::client::{Client, ClientConfig};
use webrtc::util::Conn;

use super::agent::{Agent, Options};
use super::ice::{Leak, host_candidates};
use super::{accept, call_app, event, start, text};

#[tokio::test]
async fn relay_forced_call_connects_through_embedded_turn() {
    let app = call_app(|_| {}).await;
    let pair = Pair::create(&app.rest, "Priya Nair", "Dr. Elias Moreau").await;
    let mut mentee = WsClient::connect(&app.ws_url, &pair.mentee.token).await;
    let mut mentor = WsClient::connect(&app.ws_url, &pair.mentor.token).await;

    let started = start(&mut mentee, &pair.conversation, "audio").await;
    let call = text(&started["call"]);
    assert!(turn_url(&started["ice"]).is_some(), "{}", started["ice"]);
    event(&mut mentor, "ringing").await;
    let joined = accept(&mut mentor, &call).await;

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
    // Both ends of the selected pair are relay candidates: the media went through TURN.
    for (agent, other) in [(&caller, &callee.me), (&callee, &caller.me)] {
        let (local, remote) = agent.selected_pair(other).await;
        assert_eq!(local, RTCIceCandidateType::Relay, "{}", agent.name);
        assert_eq!(remote, RTCIceCandidateType::Relay, "{}", agent.name);
    }
}

#[tokio::test]
async fn relay_only_pseudonymous_caller_never_reveals_host_addresses() {
    let app = call_app(|_| {}).await;
    let pair = Pair::pseudonymous(&app.rest, "Fatima Zahra", "Dr. Noah Fischer", "Sparrow").await;
    let (lines, addresses) = host_candidates().await;
    let host: Vec<String> = addresses
        .into_iter()
        .filter(|a| {
            a.parse::<std::net::IpAddr>()
                .is_ok_and(|ip| !ip.is_loopback())
        })
        .collect();
    assert!(
        !host.is_empty(),
        "this machine has no non-loopback host address to hide"
    );
    let ipv4 = host
        .iter()
        .find(|a| a.parse::<std::net::Ipv4Addr>().is_ok())
        .expect("an IPv4 host address")
        .clone();
    let mut mentee = WsClient::connect(&app.ws_url, &pair.mentee.token).await;
    let mut mentor = WsClient::connect(&app.ws_url, &pair.mentor.token).await;

    let started = start(&mut mentee, &pair.conversation, "video").await;
    let call = text(&started["call"]);
    assert_eq!(started["ice"]["iceTransportPolicy"], "relay");
    event(&mut mentor, "ringing").await;
    let joined = accept(&mut mentor, &call).await;
    // Relay-only holds on both sides: the mentor is told so too.
    assert_eq!(joined["ice"]["iceTransportPolicy"], "relay");

    // The pseudonymous client gathers relay candidates only, as told, but is careless
    // with everything else: its host address and host candidates go into every
    // description it sends and are trickled too. The server must strip them all.
    let careless = Options {
        leak: Some(Leak {
            address: ipv4,
            candidates: lines,
        }),
        ..Options::default()
    };
    let pseudonym = Agent::run("pseudonym", mentee, &started, careless).await;
    let mentor = Agent::run("mentor", mentor, &joined, Options::default()).await;
    pseudonym.wait_connected(&[&mentor.me]).await;
    mentor.wait_connected(&[&pseudonym.me]).await;
    pseudonym.wait_hello_from(&[&mentor.me]).await;
    mentor.wait_hello_from(&[&pseudonym.me]).await;

    // What the pseudonymous client sent did carry its addresses (so this test can fail)…
    let sent = serde_json::to_string(&pseudonym.sent()).unwrap();
    assert!(
        host.iter().any(|a| sent.contains(a.as_str())),
        "nothing leaked was sent"
    );
    // …and nothing the mentor received does.
    let received = mentor.received();
    assert!(!received.is_empty());
    let mut relay_candidates = 0;
    for frame in &received {
        assert_eq!(frame["from"], pseudonym.me.as_str());
        let text = frame.to_string();
        for address in &host {
            assert!(
                !text.contains(address.as_str()),
                "{address} reached the peer: {frame}"
            );
        }
        if frame["event"] == "description" {
            let sdp = frame["description"]["sdp"].as_str().expect("sdp");
            for line in sdp.lines().filter(|l| l.starts_with("a=candidate:")) {
                assert!(
                    line.contains(" typ relay"),
                    "non-relay candidate relayed: {line}"
                );
                relay_candidates += 1;
            }
            for line in sdp.lines().filter(|l| l.starts_with("c=")) {
                assert!(
                    line == "c=IN IP4 0.0.0.0" || line == "c=IN IP6 ::",
                    "{line}"
                );
            }
        } else {
            let candidate = frame["candidate"]["candidate"].as_str().expect("candidate");
            if !candidate.is_empty() {
                assert!(
                    candidate.contains(" typ relay"),
                    "non-relay candidate relayed: {candidate}"
                );
                assert!(candidate.contains("raddr 0.0.0.0 rport 0"), "{candidate}");
                relay_candidates += 1;
            }
        }
    }
    assert!(
        relay_candidates > 0,
        "no relay candidate reached the mentor"
    );
    // And the call runs through the embedded TURN server.
    let (local, _) = pseudonym.selected_pair(&mentor.me).await;
    assert_eq!(local, RTCIceCandidateType::Relay);
    let (_, remote) = mentor.selected_pair(&pseudonym.me).await;
    assert_eq!(remote, RTCIceCandidateType::Relay);
}

/// `(turn address, username, credential)` from an ICE configuration.
pub(super) fn turn_url(ice: &Value) -> Option<(SocketAddr, String, String)> {
    ice["iceServers"].as_array()?.iter().find_map(|server| {
        let url = server["urls"]
            .as_array()?
            .iter()
            .filter_map(Value::as_str)
            .find(|u| u.starts_with("turn:"))?;
        let address = url.strip_prefix("turn:")?.split('?').next()?.parse().ok()?;
        Some((
            address,
            server["username"].as_str()?.to_owned(),
            server["credential"].as_str()?.to_owned(),
        ))
    })
}

pub(super) async fn ice_servers(app: &TestApp, token: &str) -> Value {
    app.rest.get("/api/ice-servers", Some(token)).await.ok()
}

pub(super) async fn turn_client(turn: SocketAddr, username: &str, password: &str) -> Client {
    turn_client_at(turn, username, password).await.0
}

/// A TURN client and the address it sends from.
pub(super) async fn turn_client_at(
    turn: SocketAddr,
    username: &str,
    password: &str,
) -> (Client, SocketAddr) {
    let conn = Arc::new(UdpSocket::bind("127.0.0.1:0").await.expect("client socket"));
    let local = conn.local_addr().expect("client address");
    let client = Client::new(ClientConfig {
        stun_serv_addr: turn.to_string(),
        turn_serv_addr: turn.to_string(),
        username: username.to_owned(),
        password: password.to_owned(),
        realm: String::new(),
        software: String::new(),
        rto_in_ms: 0,
        conn,
        vnet: None,
    })
    .await
    .expect("TURN client");
    client.listen().await.expect("TURN client listens");
    (client, local)
}

#[tokio::test]
async fn relay_ice_servers_give_credentials_the_embedded_turn_accepts() {
    let app = call_app(|_| {}).await;
    let pair = Pair::pseudonymous(&app.rest, "Lea Novak", "Dr. Sam Reyes", "Wren").await;

    let ice = ice_servers(&app, &pair.mentee.token).await;
    assert_eq!(ice["iceTransportPolicy"], "all");
    let (turn, username, credential) = turn_url(&ice).expect("a TURN server");
    let (expiry, opaque) = username.split_once(':').expect("expiry:opaque-id");
    let expiry: i64 = expiry.parse().expect("expiry in seconds");
    let now = mentorhub::ids::now_millis() / 1000;
    assert!(
        (now + 590..=now + 610).contains(&expiry),
        "ttl: {expiry} vs {now}"
    );
    for secret in [
        pair.mentee.account.as_str(),
        pair.mentee.name.as_str(),
        "Wren",
    ] {
        assert!(!username.contains(secret), "{secret} in {username}");
    }
    // Where the caller is pseudonymous, relay only; elsewhere nothing to see.
    let here = app
        .rest
        .get(
            &format!("/api/ice-servers?conversation={}", pair.conversation),
            Some(&pair.mentee.token),
        )
        .await
        .ok();
    assert_eq!(here["iceTransportPolicy"], "relay");
    let mentor_here = app
        .rest
        .get(
            &format!("/api/ice-servers?conversation={}", pair.conversation),
            Some(&pair.mentor.token),
        )
        .await
        .ok();
    // Her calls are relay-only on both sides, so the mentor's policy there is too.
    assert_eq!(mentor_here["iceTransportPolicy"], "relay");
    let stranger = app.rest.login("Ed Stone", "mentee").await;
    let refused = app
        .rest
        .get(
            &format!("/api/ice-servers?conversation={}", pair.conversation),
            Some(&stranger.token),
        )
        .await;
    assert_eq!(
        (refused.status, &refused.body["error"]["code"]),
        (404, &json!("not_found"))
    );
    let refused = app.rest.get("/api/ice-servers", None).await;
    assert_eq!(
        (refused.status, &refused.body["error"]["code"]),
        (401, &json!("unauthorized"))
    );

    // The embedded TURN server allocates with exactly these credentials.
    let client = turn_client(turn, &username, &credential).await;
    client
        .allocate()
        .await
        .expect("allocation with issued credentials");
    let wrong = turn_client(turn, &username, "not-the-credential").await;
    assert!(
        wrong.allocate().await.is_err(),
        "a wrong credential allocated"
    );
    let expired = turn_client(turn, &format!("1000:{opaque}"), &credential).await;
    assert!(
        expired.allocate().await.is_err(),
        "an expired username allocated"
    );
}

#[tokio::test]
async fn relay_to_loopback_peers_is_refused_unless_allowed() {
    for allowed in [false, true] {
        let app =
            mentorhub_tests::spawn_app_with(|c| c.calls.turn_allow_private_peers = allowed).await;
        let person = app.rest.login("Ravi Shah", "mentee").await;
        let ice = ice_servers(&app, &person.token).await;
        let (turn, username, credential) = turn_url(&ice).expect("a TURN server");
        let client = turn_client(turn, &username, &credential).await;
        let relay = client.allocate().await.expect("allocation");
        // A service on the TURN server's own loopback interface.
        let target = UdpSocket::bind("127.0.0.1:0").await.expect("target socket");
        let sent = relay
            .send_to(b"knock knock", target.local_addr().expect("target address"))
            .await;
        if allowed {
            sent.expect("relaying to loopback when allowed");
            let mut buf = [0u8; 64];
            let (n, _) = tokio::time::timeout(WAIT, target.recv_from(&mut buf))
                .await
                .expect("the relayed datagram within the wait")
                .expect("receive");
            assert_eq!(&buf[..n], b"knock knock");
        } else {
            let error = sent.expect_err("relaying to 127.0.0.1 was allowed");
            assert!(error.to_string().contains("403"), "{error}");
        }
        let _ = client.close().await;
    }
}

#[tokio::test]
async fn relay_allocations_are_capped_per_user() {
    let app = mentorhub_tests::spawn_app_with(|c| c.calls.turn_max_allocations_per_user = 2).await;
    let first = app.rest.login("Eva Horvat", "mentee").await;
    let second = app.rest.login("Kai Müller", "mentee").await;
    let ice = ice_servers(&app, &first.token).await;
    let (turn, username, credential) = turn_url(&ice).expect("a TURN server");

    let mut clients = Vec::new();
    let mut relays = Vec::new();
    for _ in 0..2 {
        let client = turn_client(turn, &username, &credential).await;
        relays.push(
            client
                .allocate()
                .await
                .expect("an allocation within the cap"),
        );
        clients.push(client);
    }
    let over = turn_client(turn, &username, &credential).await;
    let Err(error) = over.allocate().await else {
        panic!("a third allocation was granted");
    };
    assert!(error.to_string().contains("486"), "{error}");
    // Fresh credentials for the same account count against the same cap…
    let again = ice_servers(&app, &first.token).await;
    let (_, username_again, credential_again) = turn_url(&again).expect("a TURN server");
    let over = turn_client(turn, &username_again, &credential_again).await;
    assert!(
        over.allocate().await.is_err(),
        "new credentials escaped the cap"
    );
    // …while another account is unaffected.
    let other = ice_servers(&app, &second.token).await;
    let (_, other_user, other_credential) = turn_url(&other).expect("a TURN server");
    let client = turn_client(turn, &other_user, &other_credential).await;
    client.allocate().await.expect("another user's allocation");

    // Releasing one allocation frees a place.
    let released = relays.pop().expect("an allocation");
    released.close().await.expect("release the allocation");
    eventually(WAIT, "a place under the cap after a release", || async {
        let client = turn_client(turn, &username, &credential).await;
        client.allocate().await.ok().map(|_| ())
    })
    .await;
}

/// Every frame's candidates (in descriptions and trickled) are relay candidates;
/// returns their `address port`s.
fn only_relay_candidates(frames: &[Value], who: &str) -> Vec<String> {
    let mut relay = Vec::new();
    for frame in frames {
        let lines: Vec<String> = if frame["event"] == "description" {
            let sdp = frame["description"]["sdp"].as_str().expect("sdp");
            sdp.lines()
                .filter_map(|l| l.strip_prefix("a="))
                .filter(|l| l.starts_with("candidate:"))
                .map(str::to_owned)
                .collect()
        } else {
            let line = text(&frame["candidate"]["candidate"]);
            if line.is_empty() { vec![] } else { vec![line] }
        };
        for line in lines {
            assert!(
                line.contains(" typ relay"),
                "{who} received a non-relay candidate: {line}"
            );
            let fields: Vec<&str> = line.split_ascii_whitespace().collect();
            relay.push(format!("{} {}", fields[4], fields[5]));
        }
    }
    relay
}

#[tokio::test]
async fn relay_only_holds_on_both_sides_when_the_pseudonymous_client_ignores_it() {
    let app = call_app(|_| {}).await;
    let pair = Pair::pseudonymous(&app.rest, "Leyla Demir", "Dr. Hugo Blanc", "Kestrel").await;
    let (lines, addresses) = host_candidates().await;
    let host: Vec<String> = addresses
        .into_iter()
        .filter(|a| {
            a.parse::<std::net::IpAddr>()
                .is_ok_and(|ip| !ip.is_loopback())
        })
        .collect();
    let ipv4 = host
        .iter()
        .find(|a| a.parse::<std::net::Ipv4Addr>().is_ok())
        .expect("an IPv4 host address to hide")
        .clone();
    let mut mentee = WsClient::connect(&app.ws_url, &pair.mentee.token).await;
    let mut mentor = WsClient::connect(&app.ws_url, &pair.mentor.token).await;

    // The mentor calls her: his own transport is relay-only in this call too.
    let started = start(&mut mentor, &pair.conversation, "video").await;
    let call = text(&started["call"]);
    assert_eq!(started["ice"]["iceTransportPolicy"], "relay");
    let here = app
        .rest
        .get(
            &format!("/api/ice-servers?conversation={}", pair.conversation),
            Some(&pair.mentor.token),
        )
        .await
        .ok();
    assert_eq!(here["iceTransportPolicy"], "relay");
    event(&mut mentee, "ringing").await;
    let joined = accept(&mut mentee, &call).await;
    assert_eq!(joined["ice"]["iceTransportPolicy"], "relay");

    // Her client ignores the policy: it gathers host candidates, puts them and its
    // address in every description and trickles them.
    let careless = Options {
        ignore_relay_policy: true,
        leak: Some(Leak {
            address: ipv4,
            candidates: lines,
        }),
        ..Options::default()
    };
    let mentor = Agent::run("mentor", mentor, &started, Options::default()).await;
    let pseudonym = Agent::run("pseudonym", mentee, &joined, careless).await;
    pseudonym.wait_connected(&[&mentor.me]).await;
    mentor.wait_connected(&[&pseudonym.me]).await;
    pseudonym.wait_hello_from(&[&mentor.me]).await;
    mentor.wait_hello_from(&[&pseudonym.me]).await;

    // She did send host candidates (so this test can fail)…
    let sent = serde_json::to_string(&pseudonym.sent()).unwrap();
    assert!(sent.contains(" typ host"), "no host candidate was sent");
    assert!(
        host.iter().any(|a| sent.contains(a.as_str())),
        "nothing leaked was sent"
    );
    // …none reached the mentor, in SDP or trickled…
    let received = mentor.received();
    for frame in &received {
        let text = frame.to_string();
        for address in &host {
            assert!(
                !text.contains(address.as_str()),
                "{address} reached the mentor: {frame}"
            );
        }
    }
    let her_relays = only_relay_candidates(&received, "the mentor");
    assert!(!her_relays.is_empty());
    // …the mentor's signals to her were held to relay candidates as well…
    only_relay_candidates(&pseudonym.received(), "the pseudonym");
    // …and her connectivity checks from her real address never became his selected
    // pair: the mentor's peer is on the TURN server's address, never on hers. (On one
    // machine her sockets reach the TURN server from loopback, the very IP its relays
    // have, so a TURN permission — by IP, RFC 8656 — admits a check from there as
    // peer-reflexive; on a real network her address is never the TURN server's.)
    let (kind, remote) = mentor.selected_remote(&pseudonym.me).await;
    let turn = turn_url(&started["ice"]).expect("a TURN server").0;
    let ip = remote.split(' ').next().unwrap_or_default();
    assert!(
        !host.iter().any(|a| a == ip),
        "selected pair on her address {remote} ({kind})"
    );
    assert_eq!(
        ip,
        turn.ip().to_string(),
        "selected pair on {remote} ({kind})"
    );
}
