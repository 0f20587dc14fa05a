//! The three WebRTC dictionaries a browser hands to `RTCPeerConnection` as they are —
//! the session description (`{type, sdp}`), the ICE candidate (`{candidate, sdpMid,
//! sdpMLineIndex, usernameFragment}`) and the ICE configuration (`{iceServers,
//! iceTransportPolicy}`). They keep their W3C camelCase names, so a client passes them
//! through untouched.

use serde::{Deserialize, Serialize};

/// `RTCSessionDescriptionInit`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SessionDescription {
    #[serde(rename = "type")]
    pub kind: SdpKind,
    pub sdp: String,
}

/// `rollback` is local to a peer connection and never signalled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SdpKind {
    Offer,
    Answer,
    Pranswer,
}

/// `RTCIceCandidateInit`. An empty `candidate` marks the end of candidates.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct IceCandidate {
    pub candidate: String,
    #[serde(rename = "sdpMid", default, skip_serializing_if = "Option::is_none")]
    pub sdp_mid: Option<String>,
    #[serde(
        rename = "sdpMLineIndex",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub sdp_mline_index: Option<u16>,
    #[serde(
        rename = "usernameFragment",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub username_fragment: Option<String>,
}

/// `RTCConfiguration`'s ICE part, plus when the TURN credentials expire.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct IceConfig {
    #[serde(rename = "iceServers")]
    pub ice_servers: Vec<IceServer>,
    #[serde(rename = "iceTransportPolicy")]
    pub ice_transport_policy: IcePolicy,
    /// Unix seconds after which the TURN credentials are refused (fetch new ones from
    /// `GET /api/ice-servers` for an ICE restart after that).
    pub expires_at: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct IceServer {
    pub urls: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum IcePolicy {
    All,
    /// Only TURN-relayed candidates: the member's IP address never reaches a peer.
    Relay,
}
