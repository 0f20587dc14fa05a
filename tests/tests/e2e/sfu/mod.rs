//! Group calls through the SFU: real `webrtc` peers signalled by Mentorhub through a
//! real Janus (Debian's package, started per test from `deploy/janus/`). Test names
//! contain `sfu` (`cargo nextest run -p mentorhub-tests -E 'test(/sfu/)'`).
//!
//! | module | what |
//! |---|---|
//! | `agent` | an SFU participant: WebSocket device, publish and subscribe legs, RTP counters |
//! | `media` | eight participants each receiving every other's audio and video |
//! | `privacy` | a relay-only pseudonymous member whose address reaches no one, not even Janus |
//! | `control` | mute and removal taking effect at the SFU; a subscriber choosing the low layer |
//! | `growth` | a call growing from a mesh of three to six on the SFU, without redialling |
//! | `failover` | a Janus instance killed mid-call; the participants rejoin on another |
//! | `room_setting` | a room set to `sfu`: a call of three on the SFU from the start; ignored without one |

pub(crate) mod agent;
mod control;
mod failover;
mod growth;
mod media;
mod privacy;
mod room_setting;
mod synthetic;

use mentorhub::config::Secret;
use mentorhub_tests::janus::{Janus, JanusOptions, random_secret};
use mentorhub_tests::rest::Rest;
use mentorhub_tests::{Person, TestApp, WsClient};
use serde_json::{Value, json};

use crate::calls::{accept, call_app, event, start, text};

/// `n` Janus instances sharing one API secret.
pub async fn janus_instances(n: usize) -> Vec<Janus> {
    let secret = random_secret();
    let mut instances = Vec::new();
    for _ in 0..n {
        instances.push(
            Janus::start(
                &secret,
                JanusOptions {
                    turn_rest_api: None,
                },
            )
            .await,
        );
    }
    instances
}

/// A server whose calls may move to these Janus instances.
pub async fn sfu_app(
    janus: &[Janus],
    adjust: impl FnOnce(&mut mentorhub::config::Config),
) -> TestApp {
    let urls: Vec<String> = janus.iter().map(|j| j.url.clone()).collect();
    sfu_app_for(urls, &janus[0].secret, adjust).await
}

/// A server for Janus instances at `urls` (started before or after it).
pub async fn sfu_app_for(
    urls: Vec<String>,
    secret: &str,
    adjust: impl FnOnce(&mut mentorhub::config::Config),
) -> TestApp {
    let secret = secret.to_owned();
    let turn_ip = host_ipv4().await;
    call_app(|config| {
        // TURN on a real interface, as in a deployment: Janus (libnice) does not pair its
        // candidates with loopback relay addresses.
        config.calls.turn_listen = std::net::SocketAddr::new(turn_ip, 0);
        config.calls.janus_urls = urls;
        config.calls.janus_secret = Some(Secret::new(secret.as_bytes()));
        adjust(config);
    })
    .await
}

/// This machine's first non-loopback IPv4 address, as a peer gathering host candidates
/// finds it.
pub async fn host_ipv4() -> std::net::IpAddr {
    let (_, addresses) = crate::calls::ice::host_candidates().await;
    addresses
        .iter()
        .filter_map(|a| a.parse::<std::net::Ipv4Addr>().ok())
        .find(|ip| !ip.is_loopback())
        .map(std::net::IpAddr::V4)
        .expect("a non-loopback IPv4 address")
}

/// A peer room of `facilitator` and `members`, every agreement accepted; a member with
/// a pseudonym joins under it (and is then relay-only in calls).
pub async fn room(
    rest: &Rest,
    facilitator: &Person,
    members: &[(&Person, Option<&str>)],
) -> String {
    let created = rest
        .post(
            "/api/rooms",
            Some(&facilitator.token),
            &json!({"title": "Group session", "kind": "peer"}),
        )
        .await
        .ok();
    let room = text(&created["conversation"]["id"]);
    let _ = rest
        .post(
            &format!("/api/rooms/{room}/agreement"),
            Some(&facilitator.token),
            &json!({}),
        )
        .await;
    for (member, pseudonym) in members {
        let code = rest
            .post(
                &format!("/api/rooms/{room}/invite-codes"),
                Some(&facilitator.token),
                &json!({}),
            )
            .await
            .ok();
        let mut join = json!({"code": text(&code["invite_code"]["code"])});
        if let Some(pseudonym) = pseudonym {
            join["pseudonym"] = json!(pseudonym);
        }
        rest.post("/api/rooms/join", Some(&member.token), &join)
            .await
            .ok();
        rest.post(
            &format!("/api/rooms/{room}/agreement"),
            Some(&member.token),
            &json!({}),
        )
        .await
        .ok();
    }
    room
}

/// People signed in: a facilitator (mentor) and `members` mentees.
pub async fn people(rest: &Rest, members: usize) -> (Person, Vec<Person>) {
    let facilitator = rest.login("Dr. Ines Moreau", "mentor").await;
    let mut people = Vec::new();
    for i in 0..members {
        people.push(rest.login(&format!("Resident {i}"), "mentee").await);
    }
    (facilitator, people)
}

/// The first device starts a call in `room`; the others accept in turn. Returns the
/// call and, per device, the view to act on: its own `started`/`joined`. A device that
/// joined while the call was a mesh has had its `topology` event consumed once the call
/// moved to the SFU.
pub async fn call_everyone(
    mut devices: Vec<WsClient>,
    room: &str,
    media: &str,
) -> (String, Vec<(WsClient, Value)>) {
    let started = start(&mut devices[0], room, media).await;
    let call = text(&started["call"]);
    let mut views = vec![started];
    for device in devices.iter_mut().skip(1) {
        event(device, "ringing").await;
        views.push(accept(device, &call).await);
    }
    let on_sfu = views.last().is_some_and(|v| v["topology"] == "sfu");
    let mut joined = Vec::new();
    for (mut device, view) in devices.into_iter().zip(views) {
        if on_sfu && view["topology"] == "mesh" {
            let moved = event(&mut device, "topology").await;
            assert_eq!(moved["topology"], "sfu", "{moved}");
            assert_eq!(moved["reason"], "call_grew", "{moved}");
        }
        joined.push((device, view));
    }
    (call, joined)
}

/// Connects everyone's device.
pub async fn devices(app: &TestApp, people: &[&Person]) -> Vec<WsClient> {
    let mut devices = Vec::new();
    for person in people {
        devices.push(WsClient::connect(&app.ws_url, &person.token).await);
    }
    devices
}
