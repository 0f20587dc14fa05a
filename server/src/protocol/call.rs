//! Call signalling frames: `{"type":"call","action":…}` in, `{"type":"call","event":…}`
//! out (see `server/PROTOCOL.md`, "Calls").
//!
//! Our own fields are snake_case like the rest of the protocol. The three WebRTC
//! dictionaries a browser hands to `RTCPeerConnection` as they are — the session
//! description (`{type, sdp}`), the ICE candidate (`{candidate, sdpMid, sdpMLineIndex,
//! usernameFragment}`) and the ICE configuration (`{iceServers, iceTransportPolicy}`) —
//! keep their W3C camelCase names, so a client passes them through untouched.
//!
//! Participants are named by their per-conversation [`MemberId`], never by account.

use serde::{Deserialize, Serialize};

use super::sfu::{Quality, SfuLeg, SfuStream, Topology, TopologyReason};
use crate::ids::{CallId, ConversationId, MemberId};

/// A call frame from a client. Every action may carry a `ref`, echoed in the reply.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum CallRequest {
    /// Start a call in a conversation: rings every other member's devices.
    Start {
        #[serde(rename = "ref", default)]
        reference: Option<String>,
        conversation: String,
        media: Media,
    },
    /// Answer a call that rings this account (on this device).
    Accept {
        #[serde(rename = "ref", default)]
        reference: Option<String>,
        call: String,
    },
    /// Join a call in progress, or rejoin one after a dropped connection.
    Join {
        #[serde(rename = "ref", default)]
        reference: Option<String>,
        call: String,
    },
    /// Refuse a call that rings this account (on every device).
    Decline {
        #[serde(rename = "ref", default)]
        reference: Option<String>,
        call: String,
        #[serde(default)]
        reason: Option<DeclineReason>,
    },
    /// Hang up (the caller hanging up before anyone answered cancels the call).
    Leave {
        #[serde(rename = "ref", default)]
        reference: Option<String>,
        call: String,
        #[serde(default)]
        reason: Option<LeaveReason>,
    },
    /// An offer or answer for one other participant (`to`, mesh) or for one of the
    /// device's legs with the SFU (`sfu`).
    Description {
        #[serde(rename = "ref", default)]
        reference: Option<String>,
        call: String,
        #[serde(default)]
        to: Option<String>,
        #[serde(default)]
        sfu: Option<SfuLeg>,
        description: SessionDescription,
    },
    /// A trickled ICE candidate for one other participant (`to`) or SFU leg (`sfu`).
    Candidate {
        #[serde(rename = "ref", default)]
        reference: Option<String>,
        call: String,
        #[serde(default)]
        to: Option<String>,
        #[serde(default)]
        sfu: Option<SfuLeg>,
        candidate: IceCandidate,
    },
    /// SFU calls: the quality to receive, from everyone or from one `member`.
    Receive {
        #[serde(rename = "ref", default)]
        reference: Option<String>,
        call: String,
        quality: Quality,
        #[serde(default)]
        member: Option<String>,
    },
}

impl CallRequest {
    pub fn reference(&self) -> Option<&str> {
        match self {
            CallRequest::Start { reference, .. }
            | CallRequest::Accept { reference, .. }
            | CallRequest::Join { reference, .. }
            | CallRequest::Decline { reference, .. }
            | CallRequest::Leave { reference, .. }
            | CallRequest::Description { reference, .. }
            | CallRequest::Candidate { reference, .. }
            | CallRequest::Receive { reference, .. } => reference.as_deref(),
        }
    }

    /// The action's name, for metrics labels.
    pub fn action(&self) -> &'static str {
        match self {
            CallRequest::Start { .. } => "start",
            CallRequest::Accept { .. } => "accept",
            CallRequest::Join { .. } => "join",
            CallRequest::Decline { .. } => "decline",
            CallRequest::Leave { .. } => "leave",
            CallRequest::Description { .. } => "description",
            CallRequest::Candidate { .. } => "candidate",
            CallRequest::Receive { .. } => "receive",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Media {
    Audio,
    Video,
}

impl Media {
    pub fn as_str(self) -> &'static str {
        match self {
            Media::Audio => "audio",
            Media::Video => "video",
        }
    }

    pub fn parse(raw: &str) -> Option<Media> {
        serde_json::from_value(serde_json::Value::String(raw.to_owned())).ok()
    }
}

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

/// Why a member declined (sent by the client).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeclineReason {
    UserDeclined,
    /// The device is busy with something else (another call outside Mentorhub).
    UserBusy,
}

/// Why a participant hangs up (sent by the client).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LeaveReason {
    UserHangup,
    IceFailed,
    IceTimeout,
    UserMediaFailed,
    UnknownError,
}

/// Why a participant left or a call ended. Modelled on Matrix's hangup reasons.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Nobody answered within the ring timeout.
    InviteTimeout,
    /// Every member rung declined.
    UserDeclined,
    /// Every member rung was busy (in another call, or declined as busy).
    UserBusy,
    /// The caller hung up before anyone answered.
    UserCancelled,
    /// The (last) participant hung up.
    UserHangup,
    /// The client gave up: its peer connections failed.
    IceFailed,
    IceTimeout,
    UserMediaFailed,
    UnknownError,
    /// The participant's connection dropped and it did not rejoin within the grace period.
    ConnectionLost,
    /// The participant's account joined the call from another device.
    JoinedElsewhere,
    /// The member may no longer call here: the relationship ended, or they left or
    /// were removed from the room.
    ConversationClosed,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::InviteTimeout => "invite_timeout",
            Reason::UserDeclined => "user_declined",
            Reason::UserBusy => "user_busy",
            Reason::UserCancelled => "user_cancelled",
            Reason::UserHangup => "user_hangup",
            Reason::IceFailed => "ice_failed",
            Reason::IceTimeout => "ice_timeout",
            Reason::UserMediaFailed => "user_media_failed",
            Reason::UnknownError => "unknown_error",
            Reason::ConnectionLost => "connection_lost",
            Reason::JoinedElsewhere => "joined_elsewhere",
            Reason::ConversationClosed => "conversation_closed",
        }
    }

    pub fn parse(raw: &str) -> Option<Reason> {
        serde_json::from_value(serde_json::Value::String(raw.to_owned())).ok()
    }
}

impl From<DeclineReason> for Reason {
    fn from(reason: DeclineReason) -> Self {
        match reason {
            DeclineReason::UserDeclined => Reason::UserDeclined,
            DeclineReason::UserBusy => Reason::UserBusy,
        }
    }
}

impl From<LeaveReason> for Reason {
    fn from(reason: LeaveReason) -> Self {
        match reason {
            LeaveReason::UserHangup => Reason::UserHangup,
            LeaveReason::IceFailed => Reason::IceFailed,
            LeaveReason::IceTimeout => Reason::IceTimeout,
            LeaveReason::UserMediaFailed => Reason::UserMediaFailed,
            LeaveReason::UnknownError => Reason::UnknownError,
        }
    }
}

/// Why a device stopped ringing without the call ending.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RingStop {
    /// The member answered (on this or another device).
    Answered,
    /// The member declined (on this or another device).
    Declined,
    /// The ring timed out while others are still in the call.
    InviteTimeout,
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

/// A participant's own view of the call, sent when it starts, joins or rejoins.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct CallView {
    #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    pub call: CallId,
    pub conversation: ConversationId,
    pub media: Media,
    /// `mesh`: offer to every participant listed. `sfu`: publish to the SFU instead.
    pub topology: Topology,
    /// The caller's own member id in this conversation.
    pub me: MemberId,
    /// The other participants. The one who joins sends an offer to each of them.
    pub participants: Vec<MemberId>,
    /// Participants whose connection dropped (grace period): offer to them once
    /// `participant_reconnected` arrives.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reconnecting: Vec<MemberId>,
    /// Members still being rung.
    pub ringing: Vec<MemberId>,
    pub ice: IceConfig,
    /// This device took over a place the account already held (reconnect).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub rejoined: bool,
}

/// Every call event the server sends, tagged by `event`.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum CallEvent {
    /// Reply to `start`: the caller is the first participant.
    Started(CallView),
    /// Reply to `accept` / `join`.
    Joined(CallView),
    /// To every device of each member rung.
    Ringing {
        call: CallId,
        conversation: ConversationId,
        media: Media,
        from: MemberId,
        ring_timeout_ms: u64,
    },
    /// To every device of one member: stop ringing, the call goes on without this device.
    RingStopped {
        call: CallId,
        conversation: ConversationId,
        reason: RingStop,
    },
    /// To participants: expect an offer from this member.
    ParticipantJoined {
        call: CallId,
        conversation: ConversationId,
        member: MemberId,
    },
    ParticipantLeft {
        call: CallId,
        conversation: ConversationId,
        member: MemberId,
        reason: Reason,
    },
    /// The member's connection dropped; its place is kept for `grace_ms`.
    ParticipantDisconnected {
        call: CallId,
        conversation: ConversationId,
        member: MemberId,
        grace_ms: u64,
    },
    ParticipantReconnected {
        call: CallId,
        conversation: ConversationId,
        member: MemberId,
    },
    /// To participants: a member rung refused.
    Declined {
        call: CallId,
        conversation: ConversationId,
        member: MemberId,
        reason: Reason,
    },
    /// To one device that is no longer in the call while the call goes on.
    Left {
        call: CallId,
        conversation: ConversationId,
        reason: Reason,
    },
    /// To every member's devices: the call is over.
    Ended {
        call: CallId,
        conversation: ConversationId,
        reason: Reason,
    },
    Description {
        call: CallId,
        conversation: ConversationId,
        from: MemberId,
        description: SessionDescription,
    },
    Candidate {
        call: CallId,
        conversation: ConversationId,
        from: MemberId,
        candidate: IceCandidate,
    },
    /// From the SFU, for one of the device's legs: the answer to its publish offer, or
    /// an offer for its subscribe leg with the member each media section carries.
    #[serde(rename = "description")]
    SfuDescription {
        call: CallId,
        conversation: ConversationId,
        sfu: SfuLeg,
        description: SessionDescription,
        #[serde(skip_serializing_if = "Vec::is_empty")]
        streams: Vec<SfuStream>,
    },
    /// To participants: the call's media path changed; (re)connect to the SFU.
    Topology {
        call: CallId,
        conversation: ConversationId,
        topology: Topology,
        reason: TopologyReason,
    },
}

impl CallEvent {
    pub fn name(&self) -> &'static str {
        match self {
            CallEvent::Started(_) => "started",
            CallEvent::Joined(_) => "joined",
            CallEvent::Ringing { .. } => "ringing",
            CallEvent::RingStopped { .. } => "ring_stopped",
            CallEvent::ParticipantJoined { .. } => "participant_joined",
            CallEvent::ParticipantLeft { .. } => "participant_left",
            CallEvent::ParticipantDisconnected { .. } => "participant_disconnected",
            CallEvent::ParticipantReconnected { .. } => "participant_reconnected",
            CallEvent::Declined { .. } => "declined",
            CallEvent::Left { .. } => "left",
            CallEvent::Ended { .. } => "ended",
            CallEvent::Description { .. } => "description",
            CallEvent::Candidate { .. } => "candidate",
            CallEvent::SfuDescription { .. } => "description",
            CallEvent::Topology { .. } => "topology",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{ClientFrame, ErrorCode, ServerFrame};

    #[test]
    fn decodes_call_actions() {
        let frame = ClientFrame::decode(
            r#"{"type":"call","action":"description","ref":"r1","call":"k_a","to":"m_b",
                "description":{"type":"offer","sdp":"v=0"}}"#,
        )
        .unwrap();
        let ClientFrame::Call(CallRequest::Description {
            reference,
            description,
            ..
        }) = frame
        else {
            panic!("unexpected {frame:?}");
        };
        assert_eq!(reference.as_deref(), Some("r1"));
        assert_eq!(description.kind, SdpKind::Offer);

        let frame = ClientFrame::decode(
            r#"{"type":"call","action":"candidate","call":"k_a","to":"m_b",
                "candidate":{"candidate":"","sdpMid":"0","sdpMLineIndex":0}}"#,
        )
        .unwrap();
        assert!(matches!(
            frame,
            ClientFrame::Call(CallRequest::Candidate { .. })
        ));
    }

    #[test]
    fn bad_call_frames_are_invalid_frame_with_ref() {
        for text in [
            r#"{"type":"call","ref":"x","action":"teleport","call":"k_a"}"#,
            r#"{"type":"call","ref":"x","action":"start","conversation":"c_a","media":"smell"}"#,
            r#"{"type":"call","ref":"x","action":"description","call":"k_a","to":"m_b",
                "description":{"type":"rollback","sdp":""}}"#,
            r#"{"type":"call","ref":"x"}"#,
        ] {
            let error = ClientFrame::decode(text).unwrap_err();
            assert_eq!(error.code, ErrorCode::InvalidFrame, "{text}");
            assert_eq!(error.reference.as_deref(), Some("x"));
        }
    }

    #[test]
    fn events_serialise_as_type_call_with_event() {
        let frame = ServerFrame::Call(CallEvent::Ended {
            call: CallId::from_stored("k_a".into()),
            conversation: ConversationId::from_stored("c_b".into()),
            reason: Reason::InviteTimeout,
        });
        let value: serde_json::Value = serde_json::from_str(&frame.to_json()).unwrap();
        assert_eq!(value["type"], "call");
        assert_eq!(value["event"], "ended");
        assert_eq!(value["reason"], "invite_timeout");

        let view = CallView {
            reference: Some("r".into()),
            call: CallId::from_stored("k_a".into()),
            conversation: ConversationId::from_stored("c_b".into()),
            media: Media::Video,
            topology: Topology::Mesh,
            me: MemberId::from_stored("m_me".into()),
            participants: vec![],
            reconnecting: vec![],
            ringing: vec![MemberId::from_stored("m_x".into())],
            ice: IceConfig {
                ice_servers: vec![IceServer {
                    urls: vec!["turn:127.0.0.1:3478?transport=udp".into()],
                    username: Some("1:x".into()),
                    credential: Some("c".into()),
                }],
                ice_transport_policy: IcePolicy::Relay,
                expires_at: 1,
            },
            rejoined: false,
        };
        let value: serde_json::Value =
            serde_json::from_str(&ServerFrame::Call(CallEvent::Started(view)).to_json()).unwrap();
        assert_eq!(value["type"], "call");
        assert_eq!(value["event"], "started");
        assert_eq!(value["ref"], "r");
        assert_eq!(value["ice"]["iceTransportPolicy"], "relay");
        assert_eq!(value["ice"]["iceServers"][0]["username"], "1:x");
        assert!(value.get("rejoined").is_none());
    }

    #[test]
    fn reason_names_round_trip() {
        for reason in [
            Reason::InviteTimeout,
            Reason::UserBusy,
            Reason::ConnectionLost,
        ] {
            assert_eq!(Reason::parse(reason.as_str()), Some(reason));
        }
    }
}
