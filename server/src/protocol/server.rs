//! Frames the server sends over the WebSocket (and the views REST shares with them).
//!
//! What another member sees of a person is only ever a [`MemberId`] and a display name:
//! account ids appear in exactly one place, the account's own `welcome`.

use std::collections::BTreeMap;

use serde::Serialize;

use super::codes::ErrorCode;
use super::system::SystemKind;
use super::vocabulary::{
    CallRouting, ConversationKind, ConversationState, MemberRole, Origin, PartyRole,
    RelationshipState, Response, RoomKind, ViewerRole,
};
use crate::ids::{ConversationId, MemberId, Millis, RelationshipId, Seq};

pub const PROTOCOL_VERSION: u32 = 1;

/// A conversation's timeline entry, as sent live and in `history` pages. Every variant
/// carries the conversation's gap-free `seq`; clients resume from the highest seen.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventFrame {
    Message(MessageEvent),
    MessageEdited(EditEvent),
    MessageDeleted(DeleteEvent),
    System(SystemEvent),
}

impl EventFrame {
    pub fn seq(&self) -> Seq {
        match self {
            EventFrame::Message(e) => e.seq,
            EventFrame::MessageEdited(e) => e.seq,
            EventFrame::MessageDeleted(e) => e.seq,
            EventFrame::System(e) => e.seq,
        }
    }

    /// The earlier message this event changes (an edit or a deletion).
    pub fn target(&self) -> Option<Seq> {
        match self {
            EventFrame::MessageEdited(e) => Some(e.target),
            EventFrame::MessageDeleted(e) => Some(e.target),
            EventFrame::Message(_) | EventFrame::System(_) => None,
        }
    }
}

#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct MessageEvent {
    pub conversation: ConversationId,
    pub seq: Seq,
    pub sender: MemberId,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thread: Option<Seq>,
    /// Absent once deleted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    pub ts: Millis,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub edited_at: Option<Millis>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub deleted: bool,
}

#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct EditEvent {
    pub conversation: ConversationId,
    pub seq: Seq,
    pub sender: MemberId,
    /// The edited message's seq.
    pub target: Seq,
    /// The message's current body (absent if it has since been deleted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    pub ts: Millis,
}

#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct DeleteEvent {
    pub conversation: ConversationId,
    pub seq: Seq,
    pub sender: MemberId,
    pub target: Seq,
    pub ts: Millis,
}

/// Membership and life-cycle changes recorded in the timeline (see [`SystemKind`]).
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct SystemEvent {
    pub conversation: ConversationId,
    pub seq: Seq,
    pub event: SystemKind,
    pub ts: Millis,
}

/// One member as every other member sees them.
#[derive(Clone, Debug, Serialize, PartialEq, Eq, schemars::JsonSchema)]
pub struct MemberView {
    pub member: MemberId,
    pub display_name: String,
    pub role: MemberRole,
    /// The display name is a pseudonym the member chose (until they reveal).
    pub pseudonymous: bool,
    /// Rooms: the member has accepted the confidentiality agreement.
    pub agreed: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub muted: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub left: bool,
    /// `online`, `away` or `offline`, in active conversations the viewer may read (not
    /// for the viewer itself); kept current by `presence` frames.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub presence: Option<String>,
}

#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct ConversationSummary {
    pub id: ConversationId,
    pub kind: ConversationKind,
    pub state: ConversationState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub room_kind: Option<RoomKind>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relationship: Option<RelationshipId>,
    /// The caller's own member id and role here.
    pub me: MemberId,
    pub my_role: MemberRole,
    pub last_seq: Seq,
    /// The lowest seq the caller may read (rooms that hide earlier history). Left out
    /// before a room's agreement is accepted: how much was said before is not shown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub visible_from: Option<Seq>,
    pub read_seq: Seq,
    /// Unread top-level messages, and unread replies per thread root.
    pub unread: u64,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub thread_unread: BTreeMap<Seq, u64>,
    /// Rooms: the caller has not yet accepted the agreement, so only `agreement` and the
    /// title are shown.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub agreement_required: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agreement: Option<String>,
    /// Rooms (once the agreement is accepted): how calls carry media.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calls: Option<CallRouting>,
    pub members: Vec<MemberView>,
    /// Whether the caller's presence is shown to the others here: off by default where
    /// the caller is pseudonymous (`PUT /api/conversations/{id}/presence`).
    pub presence_shown: bool,
}

#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct AccountView {
    pub id: String,
    pub name: String,
    pub roles: Vec<String>,
}

#[derive(
    Clone, Debug, Serialize, serde::Deserialize, PartialEq, Eq, Default, schemars::JsonSchema,
)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Others see when this account has read (off by default).
    pub read_receipts: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_pseudonym: Option<String>,
}

#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct ThreadSummary {
    pub root: Seq,
    pub replies: u64,
    pub last_seq: Seq,
    pub last_ts: Millis,
}

#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct PartyView {
    /// The party's member id in the relationship's conversation (absent in the view
    /// of the assigning coordinator, who is not a member).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member: Option<MemberId>,
    /// Only in the view of the coordinator who assigned the relationship.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<crate::ids::AccountId>,
    /// The name the other parties see (a pseudonym if `pseudonymous`); for the
    /// assigning coordinator, the account's name.
    pub display_name: String,
    pub role: PartyRole,
    /// Once a relationship is declined, other parties' answers are left out: the
    /// requester learns only "declined".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<Response>,
    pub pseudonymous: bool,
}

/// A relationship as one of its parties sees it.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct RelationshipView {
    pub id: RelationshipId,
    pub conversation: ConversationId,
    pub origin: Origin,
    pub state: RelationshipState,
    /// The caller's member id (absent for the assigning coordinator).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub me: Option<MemberId>,
    /// `coordinator` in the assigning coordinator's view.
    pub my_role: ViewerRole,
    pub parties: Vec<PartyView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub introduction: Option<String>,
    /// A mentee's request for a first conversation before the bigger ask.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub first_conversation: bool,
    /// Whether the caller is expected to accept or decline.
    pub awaiting_me: bool,
    /// The caller's own private end note; nobody else ever sees it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub my_note: Option<String>,
    pub created_at: Millis,
    pub updated_at: Millis,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<Millis>,
}

#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct Heartbeat {
    pub ping_interval_ms: u64,
    pub idle_timeout_ms: u64,
}

#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct Limits {
    pub max_frame_bytes: usize,
    /// The same number as `max_body_bytes`: a body of at most that many bytes has at
    /// most that many characters. Kept for clients that count characters.
    pub max_body_chars: usize,
    pub max_body_bytes: usize,
    pub rate_per_sec: f64,
    pub rate_burst: u32,
    pub history_page_max: u32,
}

/// Every frame the server sends.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    Welcome {
        protocol: u32,
        session: String,
        node: String,
        account: AccountView,
        settings: Settings,
        expires_at: i64,
        heartbeat: Heartbeat,
        limits: Limits,
        conversations: Vec<ConversationSummary>,
    },
    Ack {
        #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
        conversation: ConversationId,
        #[serde(skip_serializing_if = "Option::is_none")]
        client_id: Option<String>,
        seq: Seq,
        ts: Millis,
        /// This client id was already committed: the original ack is repeated and no
        /// second message exists.
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        duplicate: bool,
    },
    Ok {
        #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
    },
    Error {
        #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
        code: ErrorCode,
        message: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        retry_after_ms: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        conversation: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        client_id: Option<String>,
    },
    Receipt {
        conversation: ConversationId,
        member: MemberId,
        seq: Seq,
        #[serde(skip_serializing_if = "Option::is_none")]
        thread: Option<Seq>,
    },
    Typing {
        conversation: ConversationId,
        member: MemberId,
        #[serde(skip_serializing_if = "Option::is_none")]
        thread: Option<Seq>,
        active: bool,
    },
    Presence {
        conversation: ConversationId,
        member: MemberId,
        /// `online`, `away` or `offline`.
        status: String,
    },
    History {
        #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
        conversation: ConversationId,
        events: Vec<EventFrame>,
        /// More events exist beyond this page in the direction asked.
        has_more: bool,
        /// The page was cut short of `limit` by its size; ask for the rest.
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        truncated: bool,
    },
    Threads {
        #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
        conversation: ConversationId,
        threads: Vec<ThreadSummary>,
    },
    Pong {
        #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
    },
    /// A relationship the account is party to was created or changed state.
    Relationship { relationship: RelationshipView },
    /// The account joined a conversation, or its view of one changed (state, members).
    Conversation { conversation: ConversationSummary },
    /// The account no longer belongs to a conversation (left or removed).
    ConversationRemoved { conversation: ConversationId },
    /// The account was invited to a room: its name and agreement, nothing said inside.
    Invitation {
        invitation: super::mentoring::InvitationView,
    },
    /// To `safeguarding` role holders: a report was filed (no content; read it over REST).
    ReportFiled {
        report: super::mentoring::ReportReceipt,
    },
    /// To `safeguarding` role holders: a report was closed (handled) by one of them.
    ReportClosed {
        report: super::mentoring::ReportReceipt,
    },
    /// The session's token expires soon: send `refresh` with a new token.
    TokenExpiring { expires_in_ms: u64 },
    /// A `refresh` was accepted.
    Refreshed {
        #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
        expires_at: i64,
    },
    /// The server is draining: reconnect (to any node) after `after_ms`.
    Reconnect { after_ms: u64, reason: String },
    /// Something may have been missed by this node (bus outage): refetch lists over REST.
    Resync {},
    /// Call signalling (`event` says which; see [`super::call`]).
    Call(super::call::CallEvent),
}

impl ServerFrame {
    pub fn error(code: ErrorCode, message: impl Into<String>) -> ServerFrame {
        ServerFrame::Error {
            reference: None,
            code,
            message: message.into(),
            retry_after_ms: None,
            conversation: None,
            client_id: None,
        }
    }

    /// Serialises once; the bytes are shared by every recipient.
    pub fn to_json(&self) -> String {
        // Serialising our own plain structs cannot fail.
        serde_json::to_string(self).unwrap_or_else(|_| String::from("{\"type\":\"error\"}"))
    }
}

impl EventFrame {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| String::from("{\"type\":\"error\"}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_event_shape() {
        let frame = EventFrame::Message(MessageEvent {
            conversation: ConversationId::from_stored("c_x".into()),
            seq: 3,
            sender: MemberId::from_stored("m_y".into()),
            thread: None,
            body: Some("hello".into()),
            ts: 5,
            edited_at: None,
            deleted: false,
        });
        let value: serde_json::Value = serde_json::from_str(&frame.to_json()).unwrap();
        assert_eq!(value["type"], "message");
        assert_eq!(value["seq"], 3);
        assert_eq!(value["sender"], "m_y");
        assert!(value.get("deleted").is_none());
    }

    #[test]
    fn error_frame_shape() {
        let value: serde_json::Value = serde_json::from_str(
            &ServerFrame::error(ErrorCode::RateLimited, "slow down").to_json(),
        )
        .unwrap();
        assert_eq!(value["type"], "error");
        assert_eq!(value["code"], "rate_limited");
    }
}
