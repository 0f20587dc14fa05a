//! Call signalling frames: `{"type":"call","action":…}` in, `{"type":"call","event":…}`
//! out (see `server/PROTOCOL.md`, "Calls").
//!
//! Our own fields are snake_case like the rest of the protocol; the WebRTC dictionaries
//! they carry are in [`super::webrtc`].
//!
//! Participants are named by their per-conversation [`MemberId`], never by account.

use serde::{Deserialize, Serialize};

use super::sfu::{Quality, SfuLeg, SfuStream, Topology, TopologyReason};
use super::webrtc::{IceCandidate, IceConfig, SessionDescription};
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
    /// Answer a call that rings this account (on this device). `media: "audio"` takes
    /// part without video, sent or received, in a video call.
    Accept {
        #[serde(rename = "ref", default)]
        reference: Option<String>,
        call: String,
        #[serde(default)]
        media: Option<Media>,
    },
    /// Join a call in progress, or rejoin one after a dropped connection (`media` as
    /// for `accept`; a rejoin without it keeps the place's media).
    Join {
        #[serde(rename = "ref", default)]
        reference: Option<String>,
        call: String,
        #[serde(default)]
        media: Option<Media>,
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
    /// Mesh calls: ask every other participant to send this device at most
    /// `max_video_kbps` of video (0: no video at all); omitted or `null` lifts the cap.
    ReceiveLimit {
        #[serde(rename = "ref", default)]
        reference: Option<String>,
        call: String,
        #[serde(default)]
        max_video_kbps: Option<u32>,
    },
    /// Content-free figures about this device's call quality, for the operator's
    /// per-node histograms (never stored, never kept per account).
    Stats {
        #[serde(rename = "ref", default)]
        reference: Option<String>,
        call: String,
        stats: CallStats,
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
            | CallRequest::ReceiveLimit { reference, .. }
            | CallRequest::Stats { reference, .. }
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
            CallRequest::ReceiveLimit { .. } => "receive_limit",
            CallRequest::Stats { .. } => "stats",
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
    /// What a participant asking for `requested` gets in a call of `self`: never more
    /// than the call (video in an audio call is audio).
    pub fn for_participant(self, requested: Option<Media>) -> Media {
        match (self, requested) {
            (Media::Audio, _) | (_, Some(Media::Audio)) => Media::Audio,
            _ => Media::Video,
        }
    }

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

/// The most video a participant may ask to receive, in kbit/s (more is no cap).
pub const MAX_VIDEO_KBPS: u32 = 20_000;
/// The least non-zero cap: below it no codec sends a usable picture (ask for 0).
pub const MIN_VIDEO_KBPS: u32 = 30;

/// Content-free call quality figures a client measured on its own connections
/// (`RTCPeerConnection.getStats()`), averaged over the last interval.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize, schemars::JsonSchema)]
pub struct CallStats {
    /// Round-trip time of the selected candidate pair, in milliseconds (0..=60000).
    pub rtt_ms: u32,
    /// Share of inbound packets lost, 0.0..=1.0.
    pub loss: f64,
    /// Inbound bitrate, audio and video, in kbit/s (0..=100000).
    pub inbound_kbps: u32,
    /// Whether media goes through a TURN relay.
    pub relayed: bool,
}

/// Bounds of [`CallStats`]: beyond them a figure is a client bug, not a measurement.
pub const MAX_STATS_RTT_MS: u32 = 60_000;
pub const MAX_STATS_KBPS: u32 = 100_000;

/// A participant's standing request for less video, as others see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ReceiveLimit {
    pub member: MemberId,
    /// Most kbit/s of video to send this member; 0: no video.
    pub max_video_kbps: u32,
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
    /// Participants (you included) who send no video: expect none from them (they
    /// still receive video unless they set a `receive_limit`; omitted when empty).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub audio_only: Vec<MemberId>,
    /// Participants' standing `receive_limit` requests (you included): send each at
    /// most this much video (omitted when empty).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub receive_limits: Vec<ReceiveLimit>,
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
    /// To participants: expect an offer from this member. `media: audio`: it sends
    /// no video (and still receives it).
    ParticipantJoined {
        call: CallId,
        conversation: ConversationId,
        member: MemberId,
        media: Media,
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
        media: Media,
    },
    /// To the other participants: `member` asks for at most `max_video_kbps` of video
    /// from each of them (0: none; `null`: the cap is lifted). Honour it on the video
    /// sent to that member.
    ReceiveLimit {
        call: CallId,
        conversation: ConversationId,
        member: MemberId,
        max_video_kbps: Option<u32>,
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
            CallEvent::ReceiveLimit { .. } => "receive_limit",
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
#[path = "call_tests.rs"]
mod tests;
