//! Views of the mentoring model shared by REST responses and live frames: the mentor
//! directory, room invitations, blocks, safeguarding reports and oversight.
//!
//! What each view may contain is part of the privacy model (see `server/PROTOCOL.md`):
//! other members appear only as member ids and display names; account ids appear only
//! for mentors in the directory (they publish a profile to be found), for the parties
//! of a relationship in the view of the coordinator who assigned it, and in reports
//! read by the safeguarding role. Oversight views carry counts and dates, never content
//! or a pseudonymous member's chosen name.

use serde::Serialize;

use super::vocabulary::{
    ConversationKind, ConversationState, Origin, PartyRole, RelationshipState, ReportAction,
    ReportState, RoomKind,
};
use crate::ids::{AccountId, ConversationId, MemberId, Millis, RelationshipId, ReportId, Seq};

/// One mentor in the directory.
#[derive(Clone, Debug, Serialize, PartialEq, Eq, schemars::JsonSchema)]
pub struct MentorProfileView {
    /// The mentor's account id: what a mentee names in a request.
    pub mentor: AccountId,
    pub display_name: String,
    pub specialty: String,
    pub interests: Vec<String>,
    pub languages: Vec<String>,
    pub bio: String,
    /// Takes new mentees at all.
    pub accepting: bool,
    pub capacity: u32,
    /// Free places: capacity minus active mentees (0 when not accepting).
    pub places_left: u32,
    pub updated_at: Millis,
}

/// An invitation to a room, as the invited account sees it before joining: the name
/// and the agreement, nothing said inside.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct InvitationView {
    pub room: ConversationId,
    pub title: Option<String>,
    pub room_kind: Option<RoomKind>,
    pub agreement: Option<String>,
    pub history_visible: bool,
    pub invited_at: Millis,
}

/// A single-use invite code, shown once to the facilitator who made it.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct InviteCodeView {
    pub room: ConversationId,
    pub code: String,
    pub expires_at: Millis,
}

/// A block as the blocker sees it: who (as they saw them) and where.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct BlockView {
    pub conversation: ConversationId,
    pub member: MemberId,
    pub display_name: String,
    pub created_at: Millis,
}

/// What a reporter is told, and what safeguarding is pushed live: no content.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct ReportReceipt {
    pub id: ReportId,
    pub state: ReportState,
    pub created_at: Millis,
}

/// A report as its reporter sees it: which message, and whether it was handled.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct FiledReportView {
    pub id: ReportId,
    pub conversation: ConversationId,
    pub seq: Seq,
    /// `closed`: handled by safeguarding.
    pub state: ReportState,
    pub created_at: Millis,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<Millis>,
}

/// One message copied into a report.
#[derive(Clone, Debug, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct ReportedMessage {
    pub seq: Seq,
    pub sender: MemberId,
    pub display_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thread: Option<Seq>,
    /// Absent if the message was deleted before the report.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    pub ts: Millis,
    /// The reported message itself.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub reported: bool,
}

/// A person in a report (safeguarding only).
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct ReportPerson {
    pub account: AccountId,
    pub name: String,
    pub member: MemberId,
    pub display_name: String,
}

#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct ReportAccessView {
    pub account: AccountId,
    pub action: ReportAction,
    pub at: Millis,
}

/// A report as the safeguarding role reads it. Every read is recorded.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct ReportView {
    pub id: ReportId,
    pub state: ReportState,
    pub conversation: ConversationId,
    pub conversation_kind: ConversationKind,
    pub seq: Seq,
    pub reporter: ReportPerson,
    pub reported: ReportPerson,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The reported message and up to 10 around it, oldest first.
    pub messages: Vec<ReportedMessage>,
    pub created_at: Millis,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<Millis>,
    /// Every access to this report, oldest first (this one included).
    pub accesses: Vec<ReportAccessView>,
}

/// Message activity, counts only.
#[derive(Clone, Debug, Serialize, Default, schemars::JsonSchema)]
pub struct ActivityView {
    pub messages: u64,
    /// Messages in each of the last weeks, the most recent 7 days first.
    pub messages_per_week: Vec<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_activity: Option<Millis>,
}

/// A party of an assigned relationship, for the coordinator who assigned it.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct AssignedParty {
    pub account: AccountId,
    pub name: String,
    pub role: PartyRole,
}

/// A mentee or mentor as a coordinator picks them for an assignment.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct ProgrammePerson {
    pub account: AccountId,
    pub name: String,
}

/// A relationship in the coordinator's content-blind overview.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct RelationshipOverview {
    pub id: RelationshipId,
    pub origin: Origin,
    pub state: RelationshipState,
    pub first_conversation: bool,
    pub mentors: u64,
    pub mentees: u64,
    pub created_at: Millis,
    pub updated_at: Millis,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<Millis>,
    pub activity: ActivityView,
    /// Only for the coordinator who assigned it: who the parties are.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parties: Option<Vec<AssignedParty>>,
}

/// A room in the coordinator's content-blind overview.
#[derive(Clone, Debug, Serialize, schemars::JsonSchema)]
pub struct RoomOverviewView {
    pub id: ConversationId,
    pub room_kind: Option<RoomKind>,
    pub title: Option<String>,
    pub state: ConversationState,
    pub members: u64,
    pub agreed: u64,
    pub member_limit: Option<u32>,
    pub history_visible: bool,
    pub created_at: Millis,
    pub activity: ActivityView,
}
