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
    /// Sealed by the domain: the store never sees a room's title or agreement in clear.
    pub title: Sealed,
    pub room_kind: RoomKind,
    pub agreement: Sealed,
    pub member_limit: u32,
    pub history_visible: bool,
    pub calls: CallRouting,
    pub creator: AccountId,
    pub creator_member: MemberId,
    pub creator_name: String,
    pub creator_pseudonymous: bool,
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
    pub now: Millis,
}

/// Decides whether one more of something fits, from how many there are, counted
/// inside the committing transaction under the owner's row lock.
pub type DecideCount<'a> = dyn Fn(u64) -> Result<(), WriteError> + Send + Sync + 'a;

/// What an invitation finds where it commits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InviteAtCreate {
    /// For one account: whether it already has a pending invitation to the room.
    Account { pending: bool },
    /// A code: how many unused, unexpired codes the room has (under its row lock).
    Code { live: u64 },
}

/// Whether an invitation is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InviteDecision {
    Write,
    /// Nothing is written and nothing refused: the pending one stands.
    AlreadyPending,
}

/// Decides an invitation (see [`MentoringStore::create_invite`]).
pub type DecideInvite<'a> =
    dyn Fn(&InviteAtCreate) -> Result<InviteDecision, WriteError> + Send + Sync + 'a;

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

/// A room as a change of its calls finds it, read under its row lock.
#[derive(Clone, Debug)]
pub struct RoomAtCallsChange {
    /// `None`: a word this version does not know.
    pub kind: Option<ConversationKind>,
    pub state: Option<ConversationState>,
    pub calls: Option<CallRouting>,
    /// The member asking, if a current member.
    pub by: Option<super::MemberRecord>,
}

/// Whether a change of a room's calls is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallsDecision {
    Write,
    /// The room already routes its calls so: nothing written.
    AlreadySo,
}

/// Decides a change of a room's calls (see [`MentoringStore::set_room_calls`]); `None`:
/// no such conversation.
pub type DecideCalls<'a> =
    dyn Fn(Option<&RoomAtCallsChange>) -> Result<CallsDecision, WriteError> + Send + Sync + 'a;

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

/// A room whose title or agreement was stored in plaintext (before they were sealed).
#[derive(Clone, Debug)]
pub struct PlaintextRoomTexts {
    pub conversation: ConversationId,
    pub title: Option<String>,
    pub agreement: Option<String>,
}

/// The same texts sealed, to replace the plaintext.
#[derive(Clone, Debug)]
pub struct SealedRoomTexts {
    pub conversation: ConversationId,
    pub title: Option<Sealed>,
    pub agreement: Option<Sealed>,
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
    /// `room_created` system event, if `may_open` allows one more for the creator's
    /// open rooms, counted under the creator's row lock.
    async fn create_room(
        &self,
        room: NewRoom,
        may_open: &DecideCount<'_>,
    ) -> Result<Appended, WriteError>;
    /// Rooms whose title or agreement is still stored in plaintext.
    async fn plaintext_room_texts(&self) -> StoreResult<Vec<PlaintextRoomTexts>>;
    /// Stores the sealed texts and erases the plaintext (also from the engine's files:
    /// SQLite's log is checkpointed, PostgreSQL's table rewritten). Idempotent.
    async fn seal_room_texts(&self, sealed: Vec<SealedRoomTexts>) -> StoreResult<()>;
    /// Stores an invitation as `decide` says from what the room already has: for an
    /// account, whether one is pending; for a code, the live codes under the room's
    /// row lock.
    async fn create_invite(
        &self,
        invite: NewInvite,
        decide: &DecideInvite<'_>,
    ) -> Result<(), WriteError>;
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
    /// Sets how a room's calls carry media, with a `room_calls_changed` event, as
    /// `decide` says from the room and the asking member read under the room's row
    /// lock, written only if the calls are still as read. Already so: `None`, nothing
    /// written.
    async fn set_room_calls(
        &self,
        change: RoomCallsChange,
        decide: &DecideCalls<'_>,
    ) -> Result<Option<(Appended, String)>, WriteError>;
}
