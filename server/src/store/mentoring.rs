//! Storage for the mentoring model around the timeline: the mentor directory, the
//! relationship life cycle after the request, rooms (creation, invitations, joining,
//! membership changes). Blocks, reports and oversight are in [`super::SafetyStore`].
//!
//! [`MentoringStore`] is a supertrait of [`super::Store`], so every store has it and a
//! `dyn Store` can call it. Every membership change is committed together with the
//! system event that records it, in one transaction, so the timeline and the member
//! table never disagree.

use async_trait::async_trait;

use super::{
    Appended, ConversationRecord, Membership, RelationshipRecord, StoreResult, WriteError,
};
use crate::crypto::Sealed;
use crate::ids::{AccountId, ConversationId, MemberId, Millis, RelationshipId};
use crate::protocol::vocabulary::{
    CallRouting, ConversationKind, ConversationState, MemberRole, RelationshipState, Response,
    RoomKind,
};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MentorProfileRecord {
    pub account: AccountId,
    pub display_name: String,
    pub specialty: String,
    pub interests: Vec<String>,
    pub languages: Vec<String>,
    pub bio: String,
    pub accepting: bool,
    /// Active mentees taken at most.
    pub capacity: u32,
    pub updated_at: Millis,
}

#[derive(Clone, Debug)]
pub struct NewRoom {
    pub id: ConversationId,
    pub title: String,
    pub room_kind: RoomKind,
    pub agreement: String,
    pub member_limit: u32,
    pub history_visible: bool,
    pub calls: CallRouting,
    pub creator: AccountId,
    pub creator_member: MemberId,
    pub creator_name: String,
    pub creator_pseudonymous: bool,
    /// Refused (`LimitReached`) if the creator already has this many open rooms.
    pub max_open_rooms: u32,
    /// The `room_created` system event, as stored.
    pub event: String,
    pub now: Millis,
}

#[derive(Clone, Debug)]
pub struct NewInvite {
    pub id: String,
    pub conversation: ConversationId,
    /// An invitation for one account …
    pub account: Option<AccountId>,
    /// … or a single-use code (its SHA-256, hex).
    pub code_hash: Option<String>,
    pub created_by: AccountId,
    pub expires_at: Option<Millis>,
    /// For a code: refused (`LimitReached`) if the room has this many live codes.
    pub max_live_codes: u32,
    pub now: Millis,
}

/// A pending invitation of one account to a room.
#[derive(Clone, Debug)]
pub struct InvitationRecord {
    pub conversation: ConversationRecord,
    pub created_at: Millis,
}

/// What lets an account into a room.
#[derive(Clone, Debug)]
pub enum JoinTicket {
    /// A single-use code (its SHA-256, hex).
    Code(String),
    /// The account's pending invitation to this room.
    Invitation(ConversationId),
}

#[derive(Clone, Debug)]
pub struct JoinRoom {
    pub ticket: JoinTicket,
    pub account: AccountId,
    pub display_name: String,
    pub pseudonymous: bool,
    pub now: Millis,
}

/// A room as a join finds it, read inside the join's transaction under the room's row
/// lock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoomAtJoin {
    /// `None`: a word this version does not know.
    pub kind: Option<ConversationKind>,
    pub state: Option<ConversationState>,
    pub member_limit: Option<u32>,
    pub history_visible: bool,
    /// Current members.
    pub members: u64,
    /// The joining account's member id from an earlier membership, and whether that
    /// membership is current.
    pub earlier: Option<(MemberId, bool)>,
}

/// What a join writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JoinDecision {
    pub member: MemberId,
    /// The new member reads the room's history from its start, else from their join.
    pub history_from_start: bool,
    /// The system event recording the join, as stored.
    pub event: String,
}

/// Decides a join from the room as read (see [`MentoringStore::join_room`]).
pub type DecideJoin<'a> =
    dyn Fn(&RoomAtJoin) -> Result<JoinDecision, WriteError> + Send + Sync + 'a;

/// A change to one member of a room (or, for `Reveal`, of any conversation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MemberChange {
    /// The member accepts the room's confidentiality agreement.
    Agree,
    Leave,
    Remove {
        by: MemberId,
    },
    Mute {
        by: MemberId,
        muted: bool,
    },
    Role {
        by: MemberId,
        role: MemberRole,
    },
    /// The member shows their real name from now on.
    Reveal {
        display_name: String,
    },
}

#[derive(Clone, Debug)]
pub struct MemberUpdate {
    pub conversation: ConversationId,
    pub member: MemberId,
    pub change: MemberChange,
    /// The system event recording the change, as stored.
    pub event: String,
    pub now: Millis,
}

/// Decides whether a membership change applies (see [`MentoringStore::update_member`]).
pub type DecideMember<'a> = dyn Fn(Option<ConversationState>, Option<&super::MemberRecord>) -> Result<(), WriteError>
    + Send
    + Sync
    + 'a;

/// A committed membership change: the member as it is now and the system event that
/// records the change.
#[derive(Clone, Debug)]
pub struct MemberChanged {
    pub member: super::MemberRecord,
    pub event: Appended,
    pub meta: String,
}

/// A facilitator's change of how a room's calls carry media.
#[derive(Clone, Debug)]
pub struct RoomCallsChange {
    pub conversation: ConversationId,
    pub calls: CallRouting,
    pub by: MemberId,
    /// The `room_calls_changed` system event, as stored.
    pub event: String,
    pub now: Millis,
}

/// What one relationship change writes, decided by the domain from the relationship
/// as read inside the committing transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RelationshipWrite {
    /// The version read: the write applies only if nothing changed it since.
    pub version: u64,
    pub state: RelationshipState,
    pub updated_at: Millis,
    pub ended_at: Option<Millis>,
    /// The conversation's new state, when it changes.
    pub conversation: Option<ConversationState>,
    /// A party's new answer.
    pub answer: Option<(AccountId, Response)>,
    /// A party's new display name and whether it is a pseudonym.
    pub rename: Option<(AccountId, String, bool)>,
    /// A party's private note, sealed; stored on their own party row only.
    pub note: Option<(AccountId, Sealed)>,
    /// System events to append, as stored (`SystemKind::to_meta`).
    pub events: Vec<String>,
    pub now: Millis,
}

/// Decides a relationship change from the relationship read inside the transaction
/// and each of its mentors' active relationships, counted there under the mentor's
/// lock.
pub type DecideRelationship<'a> = dyn Fn(&RelationshipRecord, &[(AccountId, u64)]) -> Result<RelationshipWrite, WriteError>
    + Send
    + Sync
    + 'a;

/// A relationship's new state and the system events its timeline got.
#[derive(Clone, Debug)]
pub struct RelationshipChanged {
    pub record: RelationshipRecord,
    pub events: Vec<(Appended, String)>,
}

#[async_trait]
pub trait MentoringStore: Send + Sync + 'static {
    // ---- directory -------------------------------------------------------------

    /// Publishes or replaces a profile; a name that looks like another mentor's is
    /// `NameTaken`.
    async fn upsert_mentor_profile(&self, profile: &MentorProfileRecord) -> Result<(), WriteError>;
    async fn mentor_profile(&self, account: &AccountId)
    -> StoreResult<Option<MentorProfileRecord>>;
    async fn mentor_profiles(&self) -> StoreResult<Vec<MentorProfileRecord>>;
    /// Active relationships per mentor account (mentors with none are absent).
    async fn active_mentee_counts(&self) -> StoreResult<Vec<(AccountId, u64)>>;

    // ---- relationship life cycle ------------------------------------------------

    /// Changes a relationship: reads it (and its mentors' active relationships) inside
    /// a transaction, asks `decide` what to write, and writes that with a
    /// compare-and-set on the version read, with its system events; a concurrent change
    /// in between makes it read and decide again. No such relationship:
    /// `TargetNotFound`; what `decide` refuses is returned as it is.
    async fn change_relationship(
        &self,
        id: &RelationshipId,
        decide: &DecideRelationship<'_>,
    ) -> Result<RelationshipChanged, WriteError>;
    /// Every relationship of the programme, newest first (oversight).
    async fn all_relationships(&self) -> StoreResult<Vec<RelationshipRecord>>;

    // ---- rooms -----------------------------------------------------------------

    /// Creates a room with its creator as the facilitator (agreement accepted) and a
    /// `room_created` system event.
    async fn create_room(&self, room: NewRoom) -> Result<Appended, WriteError>;
    async fn create_invite(&self, invite: NewInvite) -> Result<(), WriteError>;
    /// Pending invitations of an account to active rooms it is not in.
    async fn invitations_for(&self, account: &AccountId) -> StoreResult<Vec<InvitationRecord>>;
    async fn decline_invitation(
        &self,
        account: &AccountId,
        conversation: &ConversationId,
        now: Millis,
    ) -> StoreResult<bool>;
    /// Uses a ticket (single use) and, as `decide` says from the room read under its
    /// row lock, adds the account to the room, not yet agreed, with the decided system
    /// event; its `visible_from` is that event's seq unless it reads from the start.
    /// Refusals: `TargetNotFound` (no valid ticket), `NameTaken`, and what `decide`
    /// refuses.
    async fn join_room(
        &self,
        join: JoinRoom,
        decide: &DecideJoin<'_>,
    ) -> Result<(Membership, Appended, String), WriteError>;
    /// Applies one membership change with its system event, if `decide` allows it for
    /// the conversation's state and the member as read inside the transaction (after
    /// taking the conversation's row lock). No such conversation: state `None`; no such
    /// current member: `None`.
    async fn update_member(
        &self,
        update: MemberUpdate,
        decide: &DecideMember<'_>,
    ) -> Result<MemberChanged, WriteError>;
    /// Sets how an active room's calls carry media, with a `room_calls_changed` event,
    /// if `by` is still a facilitator who accepted the agreement (checked in the same
    /// statement). Already so: `None`, nothing written. Otherwise `Conflict`.
    async fn set_room_calls(
        &self,
        change: RoomCallsChange,
    ) -> Result<Option<(Appended, String)>, WriteError>;
}
