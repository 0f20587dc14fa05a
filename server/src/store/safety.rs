//! Storage for members' safety and the programme's view of it: blocks (per
//! membership), presence choices, safeguarding reports (with their access log) and content-blind oversight
//! counts.
//!
//! [`SafetyStore`] is a supertrait of [`super::Store`], so every store has it and a
//! `dyn Store` can call it.

use async_trait::async_trait;

use super::{ConversationRecord, StoreResult};
use crate::auth::Role;
use crate::crypto::Sealed;
use crate::ids::{AccountId, ConversationId, MemberId, Millis, ReportId, Seq};
use crate::protocol::vocabulary::{ConversationKind, ReportAction, ReportState};

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

impl BlockSide {
    /// How a query names the side (never stored, never sent).
    pub fn as_str(self) -> &'static str {
        match self {
            BlockSide::Hidden => "hidden",
            BlockSide::BlockedBy => "blocked_by",
        }
    }

    pub fn parse(raw: &str) -> Option<BlockSide> {
        [BlockSide::Hidden, BlockSide::BlockedBy]
            .into_iter()
            .find(|side| side.as_str() == raw)
    }
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

/// What a report names, fixed when it is filed: which message, by whom, about whom, and
/// the sealed snapshot of what the reporter saw.
#[derive(Clone, Debug)]
pub struct ReportFiling {
    pub id: ReportId,
    pub conversation: ConversationId,
    pub target: Seq,
    pub reporter: AccountId,
    pub reporter_member: MemberId,
    pub reported: AccountId,
    pub reported_member: MemberId,
    pub snapshot: Sealed,
}

#[derive(Clone, Debug)]
pub struct NewReport {
    pub filing: ReportFiling,
    /// The state it is filed in (the domain's).
    pub state: ReportState,
    pub now: Millis,
}

/// Decides a report's next state from the one read where the change commits.
pub type DecideReport<'a> =
    dyn Fn(ReportState) -> Result<ReportState, super::WriteError> + Send + Sync + 'a;

#[derive(Clone, Debug)]
pub struct ReportRecord {
    pub filing: ReportFiling,
    pub conversation_kind: ConversationKind,
    pub state: ReportState,
    pub created_at: Millis,
    pub closed_at: Option<Millis>,
}

#[derive(Clone, Debug)]
pub struct ReportAccessRecord {
    pub account: AccountId,
    pub action: ReportAction,
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
pub trait SafetyStore: Send + Sync + 'static {
    // ---- blocks ----------------------------------------------------------------

    /// Records a block; `false` if it already existed.
    async fn add_block(&self, block: NewBlock) -> StoreResult<bool>;
    /// Lifts the block `blocker` made on `member` of `conversation`.
    async fn remove_block(
        &self,
        blocker: &AccountId,
        conversation: &ConversationId,
        member: &MemberId,
    ) -> StoreResult<bool>;
    async fn blocks_of(&self, blocker: &AccountId) -> StoreResult<Vec<BlockRecord>>;
    /// Whether `blocker` blocked any membership of `blocked` (what new contact asks).
    async fn is_blocked(&self, blocker: &AccountId, blocked: &AccountId) -> StoreResult<bool>;
    /// The blocks that apply to `account` in its conversations (one conversation, or
    /// all), in both directions: each only in the conversation where it was made, and
    /// not while that conversation has a current facilitator.
    async fn block_edges(
        &self,
        account: &AccountId,
        conversation: Option<&ConversationId>,
    ) -> StoreResult<Vec<BlockEdge>>;

    // ---- presence choices ----------------------------------------------------------

    /// A member's choice to show (or not) their presence in a conversation.
    async fn choose_presence(
        &self,
        conversation: &ConversationId,
        member: &MemberId,
        shown: bool,
    ) -> StoreResult<()>;
    /// The presence choices members made in a conversation.
    async fn presence_choices(
        &self,
        conversation: &ConversationId,
    ) -> StoreResult<Vec<(MemberId, bool)>>;
    /// The presence choices an account made, per conversation.
    async fn presence_choices_of(
        &self,
        account: &AccountId,
    ) -> StoreResult<Vec<(ConversationId, bool)>>;

    // ---- safeguarding ------------------------------------------------------------

    /// Files a report; `false` (and nothing stored) if this reporter already reported
    /// that message — the database enforces one report per reporter and message.
    async fn create_report(&self, report: NewReport) -> StoreResult<bool>;
    /// Every report, newest first.
    async fn reports(&self) -> StoreResult<Vec<ReportRecord>>;
    /// The reports one account filed, newest first.
    async fn reports_filed_by(&self, reporter: &AccountId) -> StoreResult<Vec<ReportRecord>>;
    async fn report(&self, id: &ReportId) -> StoreResult<Option<ReportRecord>>;
    async fn record_report_access(
        &self,
        ids: &[ReportId],
        account: &AccountId,
        action: ReportAction,
        now: Millis,
    ) -> StoreResult<()>;
    async fn report_accesses(&self, id: &ReportId) -> StoreResult<Vec<ReportAccessRecord>>;
    /// Moves a report to the state `decide` gives for the state read, stamping
    /// `closed_at`, written only if no one moved it meanwhile (else `Conflict`). No
    /// such report: `TargetNotFound`.
    async fn close_report(
        &self,
        id: &ReportId,
        now: Millis,
        decide: &DecideReport<'_>,
    ) -> Result<(), super::WriteError>;
    /// Accounts seen with a role (e.g. `safeguarding`).
    async fn accounts_with_role(&self, role: Role) -> StoreResult<Vec<AccountId>>;

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
