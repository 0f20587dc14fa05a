//! The parts of call signalling that exist only when a call goes through the SFU
//! (`server/PROTOCOL.md` §13.7): which media path a call uses, the two legs a client
//! holds to the SFU, the quality it asks to receive and the map from the SFU's media
//! sections to the members they carry.

use serde::{Deserialize, Serialize};

use crate::ids::MemberId;

/// How a call's media flows.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Topology {
    /// Every participant connected to every other (peer to peer or through TURN).
    #[default]
    Mesh,
    /// Every participant sends once to the SFU and receives the others from it.
    Sfu,
}

/// One of a client's two peer connections with the SFU.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SfuLeg {
    /// What the client sends: the client offers, the SFU answers.
    Publish,
    /// What the client receives: the SFU offers, the client answers.
    Subscribe,
}

/// What a subscriber wants of the others' video.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Quality {
    /// The best layer the publisher sends.
    #[default]
    High,
    /// The lowest simulcast layer (a weak link).
    Low,
    /// No video at all, audio only.
    Audio,
}

impl Quality {
    pub fn as_str(self) -> &'static str {
        match self {
            Quality::High => "high",
            Quality::Low => "low",
            Quality::Audio => "audio",
        }
    }
}

/// The kind of one media section.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StreamKind {
    Audio,
    Video,
}

/// One media section of the subscribe leg: whose audio or video it carries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct SfuStream {
    pub mid: String,
    pub kind: StreamKind,
    pub member: MemberId,
}

/// Why a call's media path changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TopologyReason {
    /// The call grew past the largest mesh.
    CallGrew,
    /// The SFU instance carrying the call stopped answering: connect to the new one.
    SfuLost,
}
