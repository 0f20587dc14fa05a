//! Plain records the store reads and writes. No sqlx types leak out of `store`.

use std::collections::BTreeMap;

use crate::auth::Role;
use crate::crypto::Sealed;
use crate::ids::{AccountId, CallId, ConversationId, MemberId, Millis, RelationshipId, Seq};
use crate::protocol::call::{Media, Reason};
use crate::protocol::server::Settings;
use crate::protocol::vocabulary::{
    CallRouting, ConversationKind, ConversationState, MemberRole, Origin, PartyRole,
    RelationshipState, Response, RoomKind,
};

#[derive(Clone, Debug)]
pub struct AccountRecord {
    pub id: AccountId,
    pub name: String,
    pub roles: Vec<Role>,
    pub settings: Settings,
    pub created_at: Millis,
}

#[derive(Clone, Debug)]
pub struct ConversationRecord {
    pub id: ConversationId,
    pub kind: ConversationKind,
    pub state: ConversationState,
    pub last_seq: Seq,
    pub created_at: Millis,
    pub created_by: Option<AccountId>,
    /// Rooms: the title, sealed like a body (the domain opens it).
    pub title: Option<Sealed>,
    pub room_kind: Option<RoomKind>,
    /// Rooms: the confidentiality agreement, sealed like a body.
    pub agreement: Option<Sealed>,
    pub member_limit: Option<u32>,
    pub history_visible: bool,
    /// Rooms: how calls carry media (relationships: always `auto`).
    pub calls: CallRouting,
}

#[derive(Clone, Debug)]
pub struct MemberRecord {
    pub conversation: ConversationId,
    pub member: MemberId,
    pub account: AccountId,
    pub display_name: String,
    pub role: MemberRole,
    pub pseudonymous: bool,
    pub agreed_at: Option<Millis>,
    pub visible_from: Seq,
    pub joined_at: Millis,
    pub left_at: Option<Millis>,
    pub muted: bool,
    pub read_seq: Seq,
}

/// An account's membership of a conversation, read together.
#[derive(Clone, Debug)]
pub struct Membership {
    pub conversation: ConversationRecord,
    pub member: MemberRecord,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UnreadCounts {
    pub main: u64,
    pub threads: BTreeMap<Seq, u64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    Message,
    Edit,
    Delete,
    System,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Message => "message",
            EventKind::Edit => "edit",
            EventKind::Delete => "delete",
            EventKind::System => "system",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "message" => Some(Self::Message),
            "edit" => Some(Self::Edit),
            "delete" => Some(Self::Delete),
            "system" => Some(Self::System),
            _ => None,
        }
    }
}

/// One timeline entry as stored. For an `Edit`, `body` is the edited message's
/// *current* body (bodies are stored once, on the message itself).
#[derive(Clone, Debug)]
pub struct StoredEvent {
    pub conversation: ConversationId,
    pub seq: Seq,
    pub kind: EventKind,
    pub sender: Option<MemberId>,
    pub client_id: Option<String>,
    pub thread_root: Option<Seq>,
    pub target: Option<Seq>,
    pub body: Option<Sealed>,
    pub meta: Option<String>,
    pub created_at: Millis,
    pub edited_at: Option<Millis>,
    pub deleted: bool,
}

#[derive(Clone, Debug)]
pub enum AppendKind {
    Message { body: Sealed, thread: Option<Seq> },
    Edit { target: Seq, body: Sealed },
    Delete { target: Seq },
    System { meta: String },
}

#[derive(Clone, Debug)]
pub struct AppendRequest {
    pub conversation: ConversationId,
    pub sender: Option<MemberId>,
    pub client_id: Option<String>,
    pub kind: AppendKind,
    pub now: Millis,
}

/// A sender's membership as an append reads it inside the committing transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SenderStanding {
    /// Not left nor removed.
    pub current: bool,
    /// Accepted the conversation's agreement.
    pub agreed: bool,
    pub muted: bool,
}

/// The domain's rule for whether a sender may append (`None`: never a member of the
/// conversation), applied by the store to the standing it read where it commits.
pub type MayPost = fn(Option<SenderStanding>) -> Result<(), super::WriteError>;

/// The domain's rules a store applies inside its transactions, handed to it when it
/// opens (the store names no domain module).
#[derive(Clone, Copy, Debug)]
pub struct StoreRules {
    pub may_post: MayPost,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Appended {
    pub seq: Seq,
    pub created_at: Millis,
    /// The client id was already committed; `seq`/`created_at` are the original's.
    pub duplicate: bool,
}

#[derive(Clone, Debug)]
pub struct ReadMarker {
    pub conversation: ConversationId,
    pub member: MemberId,
    /// `None` for the main timeline, `Some(root)` for a thread.
    pub thread: Option<Seq>,
    pub seq: Seq,
}

#[derive(Clone, Debug)]
pub struct EventQuery {
    pub conversation: ConversationId,
    /// Only events with `seq > after`.
    pub after: Option<Seq>,
    /// Only events with `seq < before`.
    pub before: Option<Seq>,
    /// Never events below this seq (history hidden from late joiners).
    pub visible_from: Seq,
    /// Only a thread's root and its replies.
    pub thread: Option<Seq>,
    /// Maximum events returned. With `before` (or neither bound) the newest `limit`
    /// events below the bound are returned, still oldest first.
    pub limit: u32,
    /// Never events these members sent (or edited) since the reader blocked them.
    pub hidden_senders: Vec<HiddenSender>,
}

/// A member whose events a reader does not receive: everything they send, and every
/// message of theirs they edit, from `since` (the block's time) on. What they said
/// before the block stays readable (it may matter for a report).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HiddenSender {
    pub member: MemberId,
    pub since: Millis,
}

#[derive(Clone, Debug)]
pub struct ThreadRecord {
    pub root: Seq,
    pub replies: u64,
    pub last_seq: Seq,
    pub last_ts: Millis,
}

#[derive(Clone, Debug)]
pub struct RelationshipParty {
    pub account: AccountId,
    pub member: MemberId,
    pub display_name: String,
    pub role: PartyRole,
    pub pseudonymous: bool,
    pub response: Response,
    /// The account's name as its token says (shown only to an assigning coordinator).
    pub account_name: String,
    /// The party's private end note, sealed (shown to that party only).
    pub note: Option<Sealed>,
}

#[derive(Clone, Debug)]
pub struct RelationshipRecord {
    pub id: RelationshipId,
    pub conversation: ConversationId,
    pub origin: Origin,
    pub state: RelationshipState,
    /// Bumped by every change (compare-and-set in the store).
    pub version: u64,
    pub created_by: AccountId,
    pub coordinator: Option<AccountId>,
    pub introduction: Option<Sealed>,
    pub parties: Vec<RelationshipParty>,
    /// A mentee's request for a first conversation before the bigger ask.
    pub first_conversation: bool,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub ended_at: Option<Millis>,
}

#[derive(Clone, Debug)]
pub struct NewRelationship {
    pub id: RelationshipId,
    pub conversation: ConversationId,
    pub origin: Origin,
    pub created_by: AccountId,
    pub coordinator: Option<AccountId>,
    pub introduction: Option<Sealed>,
    /// Parties with their initial response (the initiator's is `accepted`).
    pub parties: Vec<RelationshipParty>,
    pub first_conversation: bool,
    pub now: Millis,
}

/// A call's metadata: never SDP, candidates or addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallRecord {
    pub id: CallId,
    pub conversation: ConversationId,
    pub media: Media,
    pub started_at: Millis,
    pub answered_at: Option<Millis>,
    /// `None` while the call is live.
    pub ended_at: Option<Millis>,
    /// Distinct members who took part.
    pub participants: u32,
    /// `None` while live.
    pub end_reason: Option<Reason>,
}
