//! The SQL behind [`crate::store::SafetyStore`] (blocks, safeguarding reports,
//! content-blind oversight counts), compiled per engine by [`impl_safety_store!`]
//! next to `impl_sql_store!`, whose helpers (`db_error`, the pools) it uses.

use crate::ids::{ConversationId, MemberId};
use crate::store::{
    BlockEdge, BlockRecord, BlockSide, ReportAccessRecord, ReportFiling, ReportRecord,
    RoomOverview, StoreError,
};

use super::rows::{ConversationRow, sealed, word};
use crate::protocol::vocabulary::{ConversationKind, ReportAction, ReportState};

/// Milliseconds in a week, for activity buckets.
pub(crate) const WEEK_MS: i64 = 7 * 24 * 3600 * 1000;

#[derive(sqlx::FromRow)]
pub(crate) struct RoomOverviewRow {
    #[sqlx(flatten)]
    pub conversation: ConversationRow,
    pub current_members: i64,
    pub agreed_members: i64,
}

impl TryFrom<RoomOverviewRow> for RoomOverview {
    type Error = StoreError;
    fn try_from(row: RoomOverviewRow) -> Result<Self, StoreError> {
        Ok(RoomOverview {
            conversation: row.conversation.try_into()?,
            members: row.current_members as u64,
            agreed: row.agreed_members as u64,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct BlockRow {
    pub conversation_id: String,
    pub member_id: String,
    pub display_name: String,
    pub created_at: i64,
}

impl From<BlockRow> for BlockRecord {
    fn from(row: BlockRow) -> Self {
        BlockRecord {
            conversation: ConversationId::from_stored(row.conversation_id),
            member: MemberId::from_stored(row.member_id),
            display_name: row.display_name,
            created_at: row.created_at,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct EdgeRow {
    pub conversation_id: String,
    pub member_id: String,
    pub side: String,
    pub created_at: i64,
}

impl TryFrom<EdgeRow> for BlockEdge {
    type Error = StoreError;
    fn try_from(row: EdgeRow) -> Result<Self, StoreError> {
        Ok(BlockEdge {
            conversation: ConversationId::from_stored(row.conversation_id),
            member: MemberId::from_stored(row.member_id),
            side: word(&row.side, BlockSide::parse, "block side")?,
            since: row.created_at,
        })
    }
}

/// Blocks that apply to `$1` (optionally only in conversation `$2`, or `''` for all),
/// in both directions, each only in the conversation where it was made, and not
/// while that conversation has a current facilitator (`$3`, the role); each row's
/// side is `$4` ([`BlockSide::Hidden`]) or `$5` ([`BlockSide::BlockedBy`]).
pub(crate) const EDGES_SELECT: &str = "SELECT b.conversation_id, b.member_id, $4 AS side, \
    b.created_at FROM blocks b \
    WHERE b.blocker = $1 AND ($2 = '' OR b.conversation_id = $2) AND NOT EXISTS \
    (SELECT 1 FROM members f WHERE f.conversation_id = b.conversation_id \
    AND f.role = $3 AND f.left_at IS NULL) \
    UNION ALL SELECT b.conversation_id, m.member_id, $5 AS side, b.created_at \
    FROM blocks b JOIN members m ON m.conversation_id = b.conversation_id \
    AND m.account_id = b.blocker \
    WHERE b.blocked = $1 AND ($2 = '' OR b.conversation_id = $2) AND NOT EXISTS \
    (SELECT 1 FROM members f WHERE f.conversation_id = b.conversation_id \
    AND f.role = $3 AND f.left_at IS NULL)";

#[derive(sqlx::FromRow)]
pub(crate) struct ReportRow {
    pub id: String,
    pub conversation_id: String,
    pub conversation_kind: String,
    pub target_seq: i64,
    pub reporter: String,
    pub reporter_member: String,
    pub reported: String,
    pub reported_member: String,
    pub key_id: i64,
    pub nonce: Vec<u8>,
    pub snapshot: Vec<u8>,
    pub state: String,
    pub created_at: i64,
    pub closed_at: Option<i64>,
}

macro_rules! report_select {
    () => {
        "SELECT r.id, r.conversation_id, \
    c.kind AS conversation_kind, r.target_seq, r.reporter, r.reporter_member, r.reported, \
    r.reported_member, r.key_id, r.nonce, r.snapshot, r.state, r.created_at, r.closed_at \
    FROM reports r JOIN conversations c ON c.id = r.conversation_id"
    };
}
pub(crate) use report_select;

impl TryFrom<ReportRow> for ReportRecord {
    type Error = StoreError;
    fn try_from(row: ReportRow) -> Result<Self, StoreError> {
        use crate::ids::{AccountId, ReportId};
        Ok(ReportRecord {
            filing: ReportFiling {
                id: ReportId::from_stored(row.id),
                conversation: ConversationId::from_stored(row.conversation_id),
                target: row.target_seq as u64,
                reporter: AccountId::from_stored(row.reporter),
                reporter_member: MemberId::from_stored(row.reporter_member),
                reported: AccountId::from_stored(row.reported),
                reported_member: MemberId::from_stored(row.reported_member),
                snapshot: sealed(Some(row.key_id), Some(row.nonce), Some(row.snapshot))
                    .ok_or_else(|| StoreError::Corrupt("report snapshot".into()))?,
            },
            conversation_kind: word(
                &row.conversation_kind,
                ConversationKind::parse,
                "conversation kind",
            )?,
            state: word(&row.state, ReportState::parse, "report state")?,
            created_at: row.created_at,
            closed_at: row.closed_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct AccessRow {
    pub account_id: String,
    pub action: String,
    pub at: i64,
}

impl TryFrom<AccessRow> for ReportAccessRecord {
    type Error = StoreError;
    fn try_from(row: AccessRow) -> Result<Self, StoreError> {
        Ok(ReportAccessRecord {
            account: crate::ids::AccountId::from_stored(row.account_id),
            action: word(&row.action, ReportAction::parse, "report action")?,
            at: row.at,
        })
    }
}

macro_rules! impl_safety_store {
    ($db:ty) => {
        use $crate::store::sql::safety::*;
        use $crate::store::{
            ActivityRecord, BlockEdge, BlockRecord, BlockSide, NewBlock, NewReport,
            ReportAccessRecord, ReportRecord, RoomOverview, SafetyStore,
        };
        use $crate::protocol::vocabulary::ReportAction;
        use $crate::ids::ReportId;

        #[async_trait::async_trait]
        impl SafetyStore for SqlStore<$db> {
            async fn add_block(&self, block: NewBlock) -> StoreResult<bool> {
                let done = sqlx::query(
                    "INSERT INTO blocks (blocker, blocked, conversation_id, member_id, \
                     display_name, created_at) VALUES ($1, $2, $3, $4, $5, $6) \
                     ON CONFLICT (blocker, conversation_id, member_id) DO NOTHING",
                )
                .bind(block.blocker.as_str())
                .bind(block.blocked.as_str())
                .bind(block.conversation.as_str())
                .bind(block.member.as_str())
                .bind(&block.display_name)
                .bind(block.now)
                .execute(&self.write)
                .await
                .map_err(db_error)?;
                Ok(done.rows_affected() > 0)
            }

            async fn remove_block(
                &self,
                blocker: &AccountId,
                conversation: &ConversationId,
                member: &$crate::ids::MemberId,
            ) -> StoreResult<bool> {
                let done = sqlx::query(
                    "DELETE FROM blocks WHERE blocker = $1 AND conversation_id = $2 AND member_id = $3",
                )
                    .bind(blocker.as_str())
                    .bind(conversation.as_str())
                    .bind(member.as_str())
                    .execute(&self.write)
                    .await
                    .map_err(db_error)?;
                Ok(done.rows_affected() > 0)
            }

            async fn blocks_of(&self, blocker: &AccountId) -> StoreResult<Vec<BlockRecord>> {
                let rows: Vec<BlockRow> = sqlx::query_as(
                    "SELECT conversation_id, member_id, display_name, created_at FROM blocks \
                     WHERE blocker = $1 ORDER BY created_at, member_id",
                )
                .bind(blocker.as_str())
                .fetch_all(&self.read)
                .await
                .map_err(db_error)?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            async fn is_blocked(&self, blocker: &AccountId, blocked: &AccountId) -> StoreResult<bool> {
                let found: Option<String> = sqlx::query_scalar(
                    "SELECT blocker FROM blocks WHERE blocker = $1 AND blocked = $2 LIMIT 1",
                )
                .bind(blocker.as_str())
                .bind(blocked.as_str())
                .fetch_optional(&self.read)
                .await
                .map_err(db_error)?;
                Ok(found.is_some())
            }

            async fn block_edges(
                &self,
                account: &AccountId,
                conversation: Option<&ConversationId>,
            ) -> StoreResult<Vec<BlockEdge>> {
                let rows: Vec<EdgeRow> = sqlx::query_as(EDGES_SELECT)
                    .bind(account.as_str())
                    .bind(conversation.map_or("", |c| c.as_str()))
                    .bind(MemberRole::Facilitator.as_str())
                    .bind(BlockSide::Hidden.as_str())
                    .bind(BlockSide::BlockedBy.as_str())
                    .fetch_all(&self.read)
                    .await
                    .map_err(db_error)?;
                rows.into_iter().map(TryInto::try_into).collect()
            }

            async fn choose_presence(
                &self,
                conversation: &ConversationId,
                member: &$crate::ids::MemberId,
                shown: bool,
            ) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO presence_choices (conversation_id, member_id, shown) \
                     VALUES ($1, $2, $3) ON CONFLICT (conversation_id, member_id) \
                     DO UPDATE SET shown = excluded.shown",
                )
                .bind(conversation.as_str())
                .bind(member.as_str())
                .bind(i64::from(shown))
                .execute(&self.write)
                .await
                .map_err(db_error)?;
                Ok(())
            }

            async fn presence_choices(
                &self,
                conversation: &ConversationId,
            ) -> StoreResult<Vec<($crate::ids::MemberId, bool)>> {
                let rows: Vec<(String, i64)> = sqlx::query_as(
                    "SELECT member_id, shown FROM presence_choices WHERE conversation_id = $1",
                )
                .bind(conversation.as_str())
                .fetch_all(&self.read)
                .await
                .map_err(db_error)?;
                Ok(rows
                    .into_iter()
                    .map(|(member, shown)| ($crate::ids::MemberId::from_stored(member), shown != 0))
                    .collect())
            }

            async fn presence_choices_of(
                &self,
                account: &AccountId,
            ) -> StoreResult<Vec<(ConversationId, bool)>> {
                let rows: Vec<(String, i64)> = sqlx::query_as(
                    "SELECT p.conversation_id, p.shown FROM presence_choices p \
                     JOIN members m ON m.conversation_id = p.conversation_id \
                     AND m.member_id = p.member_id WHERE m.account_id = $1",
                )
                .bind(account.as_str())
                .fetch_all(&self.read)
                .await
                .map_err(db_error)?;
                Ok(rows
                    .into_iter()
                    .map(|(conversation, shown)| (ConversationId::from_stored(conversation), shown != 0))
                    .collect())
            }

            async fn create_report(&self, report: NewReport) -> StoreResult<bool> {
                let (filing, state, now) = (&report.filing, report.state, report.now);
                let inserted = sqlx::query(
                    "INSERT INTO reports (id, conversation_id, target_seq, reporter, reporter_member, \
                     reported, reported_member, key_id, nonce, snapshot, state, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $12, $11)",
                )
                .bind(filing.id.as_str())
                .bind(filing.conversation.as_str())
                .bind(filing.target as i64)
                .bind(filing.reporter.as_str())
                .bind(filing.reporter_member.as_str())
                .bind(filing.reported.as_str())
                .bind(filing.reported_member.as_str())
                .bind(i64::from(filing.snapshot.key_id))
                .bind(&filing.snapshot.nonce)
                .bind(&filing.snapshot.ciphertext)
                .bind(now)
                .bind(state.as_str())
                .execute(&self.write)
                .await;
                match inserted {
                    Ok(_) => Ok(true),
                    // `reports_once_per_reporter`: this reporter already reported it.
                    Err(error) if error.as_database_error().is_some_and(|e| e.is_unique_violation()) => {
                        Ok(false)
                    }
                    Err(error) => Err(db_error(error)),
                }
            }

            async fn reports_filed_by(&self, reporter: &AccountId) -> StoreResult<Vec<ReportRecord>> {
                let rows: Vec<ReportRow> = sqlx::query_as(concat!(report_select!(), " WHERE r.reporter = $1 ORDER BY r.created_at DESC, r.id"))
                .bind(reporter.as_str())
                .fetch_all(&self.read)
                .await
                .map_err(db_error)?;
                rows.into_iter().map(TryInto::try_into).collect()
            }

            async fn reports(&self) -> StoreResult<Vec<ReportRecord>> {
                let rows: Vec<ReportRow> = sqlx::query_as(concat!(report_select!(), " ORDER BY r.created_at DESC, r.id"))
                .fetch_all(&self.read)
                .await
                .map_err(db_error)?;
                rows.into_iter().map(TryInto::try_into).collect()
            }

            async fn report(&self, id: &ReportId) -> StoreResult<Option<ReportRecord>> {
                let row: Option<ReportRow> = sqlx::query_as(concat!(report_select!(), " WHERE r.id = $1"))
                .bind(id.as_str())
                .fetch_optional(&self.read)
                .await
                .map_err(db_error)?;
                row.map(TryInto::try_into).transpose()
            }

            async fn record_report_access(
                &self,
                ids: &[ReportId],
                account: &AccountId,
                action: ReportAction,
                now: Millis,
            ) -> StoreResult<()> {
                let mut tx = self.write.begin().await.map_err(db_error)?;
                for id in ids {
                    sqlx::query(
                        "INSERT INTO report_access (report_id, account_id, action, at) \
                         VALUES ($1, $2, $3, $4)",
                    )
                    .bind(id.as_str())
                    .bind(account.as_str())
                    .bind(action.as_str())
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?;
                }
                tx.commit().await.map_err(db_error)?;
                Ok(())
            }

            async fn report_accesses(&self, id: &ReportId) -> StoreResult<Vec<ReportAccessRecord>> {
                let rows: Vec<AccessRow> = sqlx::query_as(
                    "SELECT account_id, action, at FROM report_access WHERE report_id = $1 ORDER BY at",
                )
                .bind(id.as_str())
                .fetch_all(&self.read)
                .await
                .map_err(db_error)?;
                rows.into_iter().map(TryInto::try_into).collect()
            }

            async fn close_report(
                &self,
                id: &ReportId,
                now: Millis,
                decide: &$crate::store::DecideReport<'_>,
            ) -> Result<(), WriteError> {
                let mut tx = self.write.begin().await.map_err(db_error)?;
                let state: Option<String> = sqlx::query_scalar("SELECT state FROM reports WHERE id = $1")
                    .bind(id.as_str())
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db_error)?;
                let read = state.ok_or(WriteError::TargetNotFound)?;
                let next = decide(word(&read, ReportState::parse, "report state")?)?;
                let done = sqlx::query(
                    "UPDATE reports SET state = $3, closed_at = $2 WHERE id = $1 AND state = $4",
                )
                .bind(id.as_str())
                .bind(now)
                .bind(next.as_str())
                .bind(&read)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
                if done.rows_affected() == 0 {
                    return Err(WriteError::Conflict);
                }
                tx.commit().await.map_err(db_error)?;
                Ok(())
            }

            async fn accounts_with_role(&self, role: Role) -> StoreResult<Vec<AccountId>> {
                let rows: Vec<String> = sqlx::query_scalar(
                    "SELECT id FROM accounts WHERE (',' || roles || ',') LIKE $1 ORDER BY id",
                )
                .bind(format!("%,{},%", role.as_str()))
                .fetch_all(&self.read)
                .await
                .map_err(db_error)?;
                Ok(rows.into_iter().map(AccountId::from_stored).collect())
            }

            async fn rooms_overview(&self) -> StoreResult<Vec<RoomOverview>> {
                let rows: Vec<RoomOverviewRow> = sqlx::query_as(concat!("SELECT ", conversation_columns!(), ", \
                     (SELECT COUNT(*) FROM members m WHERE m.conversation_id = c.id \
                      AND m.left_at IS NULL) AS current_members, \
                     (SELECT COUNT(*) FROM members m WHERE m.conversation_id = c.id \
                      AND m.left_at IS NULL AND m.agreed_at IS NOT NULL) AS agreed_members \
                     FROM conversations c WHERE c.kind = $1 ORDER BY c.created_at DESC, c.id"))
                .bind(ConversationKind::Room.as_str())
                .fetch_all(&self.read)
                .await
                .map_err(db_error)?;
                rows.into_iter().map(TryInto::try_into).collect()
            }

            async fn message_activity(
                &self,
                now: Millis,
                weeks: u32,
            ) -> StoreResult<Vec<(ConversationId, ActivityRecord)>> {
                let totals: Vec<(String, i64, Option<i64>)> = sqlx::query_as(
                    "SELECT conversation_id, COUNT(*), MAX(created_at) FROM events \
                     WHERE kind = $1 GROUP BY conversation_id",
                )
                .bind(EventKind::Message.as_str())
                .fetch_all(&self.read)
                .await
                .map_err(db_error)?;
                let since = now - WEEK_MS * i64::from(weeks);
                let buckets: Vec<(String, i64, i64)> = sqlx::query_as(
                    "SELECT conversation_id, ($1 - created_at) / $3 AS age, COUNT(*) \
                     FROM events WHERE kind = $4 AND created_at > $2 AND created_at <= $1 \
                     GROUP BY conversation_id, age",
                )
                .bind(now)
                .bind(since)
                .bind(WEEK_MS)
                .bind(EventKind::Message.as_str())
                .fetch_all(&self.read)
                .await
                .map_err(db_error)?;
                let mut activity: std::collections::HashMap<String, ActivityRecord> = totals
                    .into_iter()
                    .map(|(id, messages, last)| {
                        let record = ActivityRecord {
                            messages: messages as u64,
                            last_activity: last,
                            per_week: vec![0; weeks as usize],
                        };
                        (id, record)
                    })
                    .collect();
                for (id, age, count) in buckets {
                    if let Some(slot) = activity
                        .get_mut(&id)
                        .and_then(|a| a.per_week.get_mut(age.max(0) as usize))
                    {
                        *slot += count as u64;
                    }
                }
                Ok(activity
                    .into_iter()
                    .map(|(id, record)| (ConversationId::from_stored(id), record))
                    .collect())
            }
        }
    };
}

pub(crate) use impl_safety_store;
