//! Storage for the mentoring model around the timeline: the mentor directory, the
//! relationship life cycle after the request, rooms (creation, invitations, joining,
//! membership changes), blocks, safeguarding reports and content-blind oversight.
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
use crate::ids::{AccountId, ConversationId, MemberId, Millis, RelationshipId, ReportId, Seq};

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
    /// `group` or `peer`.
    pub room_kind: String,
    pub agreement: String,
    pub member_limit: u32,
    pub history_visible: bool,
    pub creator: AccountId,
    pub creator_member: MemberId,
    pub creator_name: String,
    pub creator_pseudonymous: bool,
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
    /// Used for a first join; a returning member keeps the member id they had.
    pub member: MemberId,
    pub display_name: String,
    pub pseudonymous: bool,
    pub now: Millis,
}

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
        role: String,
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
    pub now: Millis,
}

/// A committed membership change: the member as it is now and the system event that
/// records the change.
#[derive(Clone, Debug)]
pub struct MemberChanged {
    pub member: super::MemberRecord,
    pub event: Appended,
    pub meta: String,
}

#[derive(Clone, Debug)]
pub struct EndRelationship {
    pub id: RelationshipId,
    pub account: AccountId,
    /// The ender's private note, sealed; stored on their own party row only.
    pub note: Option<Sealed>,
    pub now: Millis,
}

/// A relationship's new state and, when its timeline changed, the system event.
#[derive(Clone, Debug)]
pub struct RelationshipChanged {
    pub record: RelationshipRecord,
    pub event: Option<(Appended, String)>,
}

/// One block as the blocker sees it: where and whom (by member id and display name).
#[derive(Clone, Debug)]
pub struct BlockRecord {
    pub conversation: ConversationId,
    pub member: MemberId,
    pub display_name: String,
    pub created_at: Millis,
}

/// Which way a block points, seen from one account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockSide {
    /// The account blocked this member: it does not see what they send.
    Hidden,
    /// This member blocked the account: they do not see what it sends.
    BlockedBy,
}

/// A block that applies in one conversation (one without a current facilitator).
#[derive(Clone, Debug)]
pub struct BlockEdge {
    pub conversation: ConversationId,
    pub member: MemberId,
    pub side: BlockSide,
    /// When the block was made.
    pub since: Millis,
}

#[derive(Clone, Debug)]
pub struct NewBlock {
    pub blocker: AccountId,
    pub blocked: AccountId,
    pub conversation: ConversationId,
    pub member: MemberId,
    pub display_name: String,
    pub now: Millis,
}

#[derive(Clone, Debug)]
pub struct NewReport {
    pub id: ReportId,
    pub conversation: ConversationId,
    pub target: Seq,
    pub reporter: AccountId,
    pub reporter_member: MemberId,
    pub reported: AccountId,
    pub reported_member: MemberId,
    pub snapshot: Sealed,
    pub now: Millis,
}

#[derive(Clone, Debug)]
pub struct ReportRecord {
    pub id: ReportId,
    pub conversation: ConversationId,
    pub conversation_kind: String,
    pub target: Seq,
    pub reporter: AccountId,
    pub reporter_member: MemberId,
    pub reported: AccountId,
    pub reported_member: MemberId,
    pub snapshot: Sealed,
    /// `open` or `closed`.
    pub state: String,
    pub created_at: Millis,
    pub closed_at: Option<Millis>,
}

#[derive(Clone, Debug)]
pub struct ReportAccessRecord {
    pub account: AccountId,
    pub action: String,
    pub at: Millis,
}

/// A room's counts for oversight.
#[derive(Clone, Debug)]
pub struct RoomOverview {
    pub conversation: ConversationRecord,
    /// Current members (not left), and how many of them accepted the agreement.
    pub members: u64,
    pub agreed: u64,
}

/// Message activity of one conversation (counts only).
#[derive(Clone, Debug, Default)]
pub struct ActivityRecord {
    pub messages: u64,
    pub last_activity: Option<Millis>,
    /// Messages in each of the last weeks, most recent 7 days first.
    pub per_week: Vec<u64>,
}

#[async_trait]
pub trait MentoringStore: Send + Sync + 'static {
    // ---- directory -------------------------------------------------------------

    async fn upsert_mentor_profile(&self, profile: &MentorProfileRecord) -> StoreResult<()>;
    async fn mentor_profile(&self, account: &AccountId)
    -> StoreResult<Option<MentorProfileRecord>>;
    async fn mentor_profiles(&self) -> StoreResult<Vec<MentorProfileRecord>>;
    /// Active relationships per mentor account (mentors with none are absent).
    async fn active_mentee_counts(&self) -> StoreResult<Vec<(AccountId, u64)>>;

    // ---- relationship life cycle ------------------------------------------------

    /// Ends an active relationship (the caller must be a party): relationship `ended`,
    /// conversation `read_only`, the ender's sealed note on their own party row, and a
    /// `relationship_ended` system event.
    async fn end_relationship(
        &self,
        end: EndRelationship,
    ) -> Result<RelationshipChanged, WriteError>;
    /// Withdraws a pending relationship (the caller must have created it): relationship
    /// `withdrawn`, conversation `closed`.
    async fn withdraw_relationship(
        &self,
        id: &RelationshipId,
        account: &AccountId,
        now: Millis,
    ) -> Result<RelationshipRecord, WriteError>;
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
    /// Uses a ticket (single use) and adds the account to the room, not yet agreed; its
    /// `visible_from` is the seq of its `member_joined` event unless the room shows
    /// history. Refusals: `TargetNotFound` (no valid ticket), `Conflict` (already a
    /// member), `RoomFull`, `NameTaken`, `ConversationClosed`.
    async fn join_room(&self, join: JoinRoom)
    -> Result<(Membership, Appended, String), WriteError>;
    /// Applies one membership change with its system event.
    async fn update_member(&self, update: MemberUpdate) -> Result<MemberChanged, WriteError>;

    // ---- blocks ----------------------------------------------------------------

    /// Records a block; `false` if it already existed.
    async fn add_block(&self, block: NewBlock) -> StoreResult<bool>;
    async fn remove_block(&self, blocker: &AccountId, blocked: &AccountId) -> StoreResult<bool>;
    async fn blocks_of(&self, blocker: &AccountId) -> StoreResult<Vec<BlockRecord>>;
    /// Whether `blocker` blocked `blocked`.
    async fn is_blocked(&self, blocker: &AccountId, blocked: &AccountId) -> StoreResult<bool>;
    /// Accounts that blocked `account`.
    async fn blockers_of(&self, account: &AccountId) -> StoreResult<Vec<AccountId>>;
    /// The blocks that apply to `account` in its conversations (one conversation, or
    /// all), in both directions; conversations with a current facilitator are exempt.
    async fn block_edges(
        &self,
        account: &AccountId,
        conversation: Option<&ConversationId>,
    ) -> StoreResult<Vec<BlockEdge>>;

    // ---- safeguarding ------------------------------------------------------------

    async fn create_report(&self, report: NewReport) -> StoreResult<()>;
    /// Every report, newest first.
    async fn reports(&self) -> StoreResult<Vec<ReportRecord>>;
    async fn report(&self, id: &ReportId) -> StoreResult<Option<ReportRecord>>;
    async fn record_report_access(
        &self,
        ids: &[ReportId],
        account: &AccountId,
        action: &str,
        now: Millis,
    ) -> StoreResult<()>;
    async fn report_accesses(&self, id: &ReportId) -> StoreResult<Vec<ReportAccessRecord>>;
    /// Closes an open report; `false` if it was not open.
    async fn close_report(&self, id: &ReportId, now: Millis) -> StoreResult<bool>;
    /// Accounts seen with a role (e.g. `safeguarding`).
    async fn accounts_with_role(&self, role: &str) -> StoreResult<Vec<AccountId>>;

    // ---- oversight ---------------------------------------------------------------

    /// Every room with member counts.
    async fn rooms_overview(&self) -> StoreResult<Vec<RoomOverview>>;
    /// Message counts per conversation: total, last message time and per week for the
    /// `weeks` weeks before `now`.
    async fn message_activity(
        &self,
        now: Millis,
        weeks: u32,
    ) -> StoreResult<Vec<(ConversationId, ActivityRecord)>>;
}
