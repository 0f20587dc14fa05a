//! ICE for the test peers: their configuration from `/api/ice-servers`, this machine's
//! host candidates, and what a client that ignores relay-only would put into its
//! descriptions and candidates (for the tests that check the server strips them).

use serde_json::Value;
use webrtc::api::APIBuilder;
use webrtc::ice_transport::ice_server::RTCIceServer;
use webrtc::peer_connection::configuration::RTCConfiguration;
use webrtc::peer_connection::policy::ice_transport_policy::RTCIceTransportPolicy;

use super::agent::CONNECT;

/// A peer's configuration from an `/api/ice-servers` answer; relay only when the server
/// says so or `force_relay`.
pub fn rtc_config(ice: &Value, force_relay: bool) -> RTCConfiguration {
    let ice_servers = ice["iceServers"]
        .as_array()
        .expect("iceServers")
        .iter()
        .map(|server| RTCIceServer {
            urls: server["urls"]
                .as_array()
                .expect("urls")
                .iter()
                .map(super::text)
                .collect(),
            username: server["username"].as_str().unwrap_or_default().to_owned(),
            credential: server["credential"].as_str().unwrap_or_default().to_owned(),
        })
        .collect();
    let relay = force_relay || ice["iceTransportPolicy"] == "relay";
    RTCConfiguration {
        ice_servers,
        ice_transport_policy: if relay {
            RTCIceTransportPolicy::Relay
        } else {
            RTCIceTransportPolicy::All
        },
        ..Default::default()
    }
}

/// The host candidates (lines without `a=`) and the address a careless client reveals.
#[derive(Clone, Debug)]
pub struct Leak {
    pub address: String,
    pub candidates: Vec<String>,
}

/// What a client ignoring relay-only would send: its host address in `c=` and `o=`,
/// and its host candidates in every media section.
pub fn leak_into(sdp: &str, leak: &Leak) -> String {
    let mut out = String::new();
    for line in sdp.split("\r\n").filter(|l| !l.is_empty()) {
        if line.starts_with("c=IN IP4 ") {
            out.push_str(&format!("c=IN IP4 {}\r\n", leak.address));
            continue;
        }
        if line.starts_with("o=") {
            let mut fields: Vec<&str> = line.split(' ').collect();
            if let Some(last) = fields.last_mut() {
                *last = &leak.address;
            }
            out.push_str(&fields.join(" "));
            out.push_str("\r\n");
            continue;
        }
        out.push_str(line);
        out.push_str("\r\n");
        if line.starts_with("a=mid:") {
            for candidate in &leak.candidates {
                out.push_str(&format!("a={candidate}\r\n"));
            }
        }
    }
    out
}

/// This machine's host candidates, as a peer gathering everything would send them:
/// (candidate lines without `a=`, their addresses).
pub async fn host_candidates() -> (Vec<String>, Vec<String>) {
    let api = APIBuilder::new().build();
    let pc = api
        .new_peer_connection(RTCConfiguration::default())
        .await
        .expect("peer connection");
    let _channel = pc
        .create_data_channel("probe", None)
        .await
        .expect("channel");
    let offer = pc.create_offer(None).await.expect("offer");
    let mut gathered = pc.gathering_complete_promise().await;
    pc.set_local_description(offer).await.expect("local offer");
    let _ = tokio::time::timeout(CONNECT, gathered.recv()).await;
    let sdp = pc.local_description().await.expect("local description").sdp;
    let _ = pc.close().await;
    let lines: Vec<String> = sdp
        .lines()
        .filter_map(|l| l.strip_prefix("a="))
        .filter(|l| l.starts_with("candidate:") && l.contains(" typ host"))
        .map(str::to_owned)
        .collect();
    let addresses = lines
        .iter()
        .filter_map(|l| l.split(' ').nth(4).map(str::to_owned))
        .collect();
    (lines, addresses)
}
