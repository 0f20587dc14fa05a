//! The SQL behind [`crate::store::MentoringStore`] (directory, relationship life cycle,
//! rooms and membership changes), compiled per engine by [`impl_mentoring_store!`]
//! inside the same module as `impl_sql_store!` and `impl_mentoring_tx!`, whose
//! transaction steps (`append_in_tx`, `relationship_in`, `lock_conversation_in`, …) it
//! uses.

use crate::store::{InvitationRecord, MentorProfileRecord, StoreError};

use super::rows::ConversationRow;

/// A mentor's active relationships: the mentor's account is `$1`, `$2` the mentor role
/// and `$3` the active state.
pub(crate) const ACTIVE_MENTEES: &str = "SELECT COUNT(*) FROM relationship_parties p \
    JOIN relationships r ON r.id = p.relationship_id WHERE p.account_id = $1 \
    AND p.role = $2 AND r.state = $3";

/// How many times a relationship change is read and decided again after another change
/// got there first, before it is refused as a conflict.
pub(crate) const CHANGE_ATTEMPTS: usize = 8;

fn json_list(raw: &str) -> Vec<String> {
    serde_json::from_str(raw).unwrap_or_default()
}

pub(crate) fn json_text(list: &[String]) -> String {
    serde_json::to_string(list).unwrap_or_else(|_| "[]".into())
}

#[derive(sqlx::FromRow)]
pub(crate) struct ProfileRow {
    pub account_id: String,
    pub display_name: String,
    pub specialty: String,
    pub interests: String,
    pub languages: String,
    pub bio: String,
    pub accepting: i64,
    pub capacity: i64,
    pub updated_at: i64,
}

macro_rules! profile_columns {
    () => {
        "account_id, display_name, specialty, interests, \
    languages, bio, accepting, capacity, updated_at"
    };
}
pub(crate) use profile_columns;

impl From<ProfileRow> for MentorProfileRecord {
    fn from(row: ProfileRow) -> Self {
        MentorProfileRecord {
            account: crate::ids::AccountId::from_stored(row.account_id),
            display_name: row.display_name,
            specialty: row.specialty,
            interests: json_list(&row.interests),
            languages: json_list(&row.languages),
            bio: row.bio,
            accepting: row.accepting != 0,
            capacity: row.capacity.clamp(0, i64::from(u32::MAX)) as u32,
            updated_at: row.updated_at,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct InvitationRow {
    #[sqlx(flatten)]
    pub conversation: ConversationRow,
    pub invited_at: i64,
}

impl TryFrom<InvitationRow> for InvitationRecord {
    type Error = StoreError;
    fn try_from(row: InvitationRow) -> Result<Self, StoreError> {
        Ok(InvitationRecord {
            conversation: row.conversation.try_into()?,
            created_at: row.invited_at,
        })
    }
}

macro_rules! impl_mentoring_store {
    ($db:ty) => {
        use $crate::store::sql::member_changes::*;
        use $crate::store::{
            CallsDecision, DecideCalls, DecideCount, DecideInvite, DecideJoin, DecideMember,
            DecideRelationship, InvitationRecord, InviteAtCreate, InviteDecision, JoinRoom,
            MemberChanged, MemberUpdate, MentorProfileRecord, MentoringStore, NewInvite,
            NewRoom, PlaintextRoomTexts, RelationshipChanged, RoomAtCallsChange,
            RoomAtJoin, RoomCallsChange, SealedRoomTexts,
        };
        use $crate::protocol::vocabulary::CallRouting;
        use $crate::ids::MemberId;

        #[async_trait::async_trait]
        impl MentoringStore for SqlStore<$db> {
            async fn upsert_mentor_profile(&self, p: &MentorProfileRecord) -> Result<(), WriteError> {
                sqlx::query(
                    "INSERT INTO mentor_profiles (account_id, display_name, specialty, interests, \
                     languages, bio, accepting, capacity, updated_at, name_key) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (account_id) DO UPDATE \
                     SET display_name = excluded.display_name, specialty = excluded.specialty, \
                     interests = excluded.interests, languages = excluded.languages, \
                     bio = excluded.bio, accepting = excluded.accepting, \
                     capacity = excluded.capacity, updated_at = excluded.updated_at, \
                     name_key = excluded.name_key",
                )
                .bind(p.account.as_str())
                .bind(&p.display_name)
                .bind(&p.specialty)
                .bind(json_text(&p.interests))
                .bind(json_text(&p.languages))
                .bind(&p.bio)
                .bind(i64::from(p.accepting))
                .bind(i64::from(p.capacity))
                .bind(p.updated_at)
                .bind($crate::display_name::comparison_key(&p.display_name))
                .execute(&self.write)
                .await
                .map_err(unique_as_name_taken)?;
                Ok(())
            }

            async fn mentor_profile(
                &self,
                account: &AccountId,
            ) -> StoreResult<Option<MentorProfileRecord>> {
                let row: Option<ProfileRow> = sqlx::query_as(concat!("SELECT ", profile_columns!(), " FROM mentor_profiles WHERE account_id = $1"))
                .bind(account.as_str())
                .fetch_optional(&self.read)
                .await
                .map_err(db_error)?;
                Ok(row.map(Into::into))
            }

            async fn mentor_profiles(&self) -> StoreResult<Vec<MentorProfileRecord>> {
                let rows: Vec<ProfileRow> = sqlx::query_as(concat!("SELECT ", profile_columns!(), " FROM mentor_profiles ORDER BY display_name, account_id"))
                .fetch_all(&self.read)
                .await
                .map_err(db_error)?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            async fn active_mentee_counts(&self) -> StoreResult<Vec<(AccountId, u64)>> {
                let rows: Vec<(String, i64)> = sqlx::query_as(
                    "SELECT p.account_id, COUNT(*) FROM relationship_parties p JOIN relationships r \
                     ON r.id = p.relationship_id WHERE p.role = $1 AND r.state = $2 \
                     GROUP BY p.account_id",
                )
                .bind(PartyRole::Mentor.as_str())
                .bind(RelationshipState::Active.as_str())
                .fetch_all(&self.read)
                .await
                .map_err(db_error)?;
                Ok(rows
                    .into_iter()
                    .map(|(account, n)| (AccountId::from_stored(account), n as u64))
                    .collect())
            }

            async fn change_relationship(
                &self,
                id: &RelationshipId,
                decide: &DecideRelationship<'_>,
            ) -> Result<RelationshipChanged, WriteError> {
                for _ in 0..CHANGE_ATTEMPTS {
                    let mut tx = self.write.begin().await.map_err(db_error)?;
                    let current = relationship_in(&mut *tx, id.as_str())
                        .await?
                        .ok_or(WriteError::TargetNotFound)?;
                    let active = active_mentees_in(&mut tx, &current).await?;
                    let write = decide(&current, &active)?;
                    if !write_relationship_in(&mut tx, &current, &write).await? {
                        tx.rollback().await.map_err(db_error)?;
                        continue;
                    }
                    let mut events = Vec::new();
                    for meta in &write.events {
                        let appended =
                            system_event_in(&mut tx, self.rules, &current.conversation, meta, write.now).await?;
                        events.push((appended, meta.clone()));
                    }
                    let record = relationship_in(&mut *tx, id.as_str())
                        .await?
                        .ok_or(WriteError::TargetNotFound)?;
                    tx.commit().await.map_err(db_error)?;
                    return Ok(RelationshipChanged { record, events });
                }
                Err(WriteError::Conflict)
            }

            async fn all_relationships(&self) -> StoreResult<Vec<RelationshipRecord>> {
                let rows: Vec<RelationshipRow> = sqlx::query_as(concat!("SELECT ", relationship_columns!(), " FROM relationships r \
                     ORDER BY r.created_at DESC, r.id"))
                .fetch_all(&self.read)
                .await
                .map_err(db_error)?;
                let parties: Vec<PartyRow> = sqlx::query_as(PARTIES_SELECT)
                    .fetch_all(&self.read)
                    .await
                    .map_err(db_error)?;
                assemble_relationships(rows, parties)
            }

            async fn create_room(
                &self,
                room: NewRoom,
                may_open: &DecideCount<'_>,
            ) -> Result<Appended, WriteError> {
                let mut tx = self.write.begin().await.map_err(db_error)?;
                lock_account_in(&mut tx, room.creator.as_str()).await?;
                let open: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM conversations WHERE kind = $2 \
                     AND created_by = $1 AND state = $3",
                )
                .bind(room.creator.as_str())
                .bind(ConversationKind::Room.as_str())
                .bind(ConversationState::Active.as_str())
                .fetch_one(&mut *tx)
                .await
                .map_err(db_error)?;
                may_open(open.max(0) as u64)?;
                sqlx::query(
                    "INSERT INTO conversations (id, kind, state, last_seq, created_at, created_by, \
                     sealed_title, room_kind, sealed_agreement, member_limit, history_visible, \
                     calls) VALUES ($1, $10, $11, 0, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(room.id.as_str())
                .bind(room.now)
                .bind(room.creator.as_str())
                .bind(room.title.to_bytes())
                .bind(room.room_kind.as_str())
                .bind(room.agreement.to_bytes())
                .bind(i64::from(room.member_limit))
                .bind(i64::from(room.history_visible))
                .bind(room.calls.as_str())
                .bind(ConversationKind::Room.as_str())
                .bind(ConversationState::Active.as_str())
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
                sqlx::query(
                    "INSERT INTO members (conversation_id, member_id, account_id, display_name, \
                     role, pseudonymous, agreed_at, visible_from, joined_at, name_key) \
                     VALUES ($1, $2, $3, $4, $8, $5, $6, 0, $6, $7)",
                )
                .bind(room.id.as_str())
                .bind(room.creator_member.as_str())
                .bind(room.creator.as_str())
                .bind(&room.creator_name)
                .bind(i64::from(room.creator_pseudonymous))
                .bind(room.now)
                .bind($crate::display_name::comparison_key(&room.creator_name))
                .bind(MemberRole::Facilitator.as_str())
                .execute(&mut *tx)
                .await
                .map_err(unique_as_name_taken)?;
                let appended = system_event_in(&mut tx, self.rules, &room.id, &room.event, room.now).await?;
                tx.commit().await.map_err(db_error)?;
                Ok(appended)
            }

            async fn plaintext_room_texts(&self) -> StoreResult<Vec<PlaintextRoomTexts>> {
                let rows: Vec<(String, Option<String>, Option<String>)> = sqlx::query_as(
                    "SELECT id, title, agreement FROM conversations \
                     WHERE title IS NOT NULL OR agreement IS NOT NULL ORDER BY id",
                )
                .fetch_all(&self.write)
                .await
                .map_err(db_error)?;
                Ok(rows
                    .into_iter()
                    .map(|(id, title, agreement)| PlaintextRoomTexts {
                        conversation: ConversationId::from_stored(id),
                        title,
                        agreement,
                    })
                    .collect())
            }

            async fn seal_room_texts(&self, sealed: Vec<SealedRoomTexts>) -> StoreResult<()> {
                if sealed.is_empty() {
                    return Ok(());
                }
                let mut tx = self.write.begin().await.map_err(db_error)?;
                for room in &sealed {
                    sqlx::query(
                        "UPDATE conversations SET \
                         sealed_title = COALESCE($2, sealed_title), title = NULL, \
                         sealed_agreement = COALESCE($3, sealed_agreement), agreement = NULL \
                         WHERE id = $1",
                    )
                    .bind(room.conversation.as_str())
                    .bind(room.title.as_ref().map(Sealed::to_bytes))
                    .bind(room.agreement.as_ref().map(Sealed::to_bytes))
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?;
                }
                tx.commit().await.map_err(db_error)?;
                self.scrub_rewritten_rows().await
            }

            async fn create_invite(
                &self,
                invite: NewInvite,
                decide: &DecideInvite<'_>,
            ) -> Result<(), WriteError> {
                let mut tx = self.write.begin().await.map_err(db_error)?;
                let found = if let Some(account) = &invite.account {
                    let pending: Option<String> = sqlx::query_scalar(
                        "SELECT id FROM room_invites WHERE account_id = $1 \
                         AND conversation_id = $2 AND used_at IS NULL",
                    )
                    .bind(account.as_str())
                    .bind(invite.conversation.as_str())
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db_error)?;
                    InviteAtCreate::Account { pending: pending.is_some() }
                } else {
                    lock_conversation_in(&mut tx, invite.conversation.as_str()).await?;
                    let live: i64 = sqlx::query_scalar(
                        "SELECT COUNT(*) FROM room_invites WHERE conversation_id = $1 \
                         AND code_hash IS NOT NULL AND used_at IS NULL \
                         AND (expires_at IS NULL OR expires_at > $2)",
                    )
                    .bind(invite.conversation.as_str())
                    .bind(invite.now)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db_error)?;
                    InviteAtCreate::Code { live: live.max(0) as u64 }
                };
                if decide(&found)? == InviteDecision::AlreadyPending {
                    return Ok(());
                }
                sqlx::query(
                    "INSERT INTO room_invites (id, conversation_id, account_id, code_hash, \
                     created_by, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(&invite.id)
                .bind(invite.conversation.as_str())
                .bind(invite.account.as_ref().map(|a| a.as_str()))
                .bind(invite.code_hash.as_deref())
                .bind(invite.created_by.as_str())
                .bind(invite.now)
                .bind(invite.expires_at)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
                tx.commit().await.map_err(db_error)?;
                Ok(())
            }

            async fn invitations_for(&self, account: &AccountId) -> StoreResult<Vec<InvitationRecord>> {
                let rows: Vec<InvitationRow> = sqlx::query_as(concat!("SELECT ", conversation_columns!(), ", MIN(i.created_at) AS invited_at \
                     FROM room_invites i JOIN conversations c ON c.id = i.conversation_id \
                     WHERE i.account_id = $1 AND i.used_at IS NULL AND c.state = $2 \
                     AND NOT EXISTS (SELECT 1 FROM members m WHERE m.conversation_id = c.id \
                     AND m.account_id = $1 AND m.left_at IS NULL) \
                     GROUP BY ", conversation_columns!(), " ORDER BY MIN(i.created_at)"))
                .bind(account.as_str())
                .bind(ConversationState::Active.as_str())
                .fetch_all(&self.read)
                .await
                .map_err(db_error)?;
                rows.into_iter().map(TryInto::try_into).collect()
            }

            async fn decline_invitation(
                &self,
                account: &AccountId,
                conversation: &ConversationId,
                now: Millis,
            ) -> StoreResult<bool> {
                let done = sqlx::query(
                    "UPDATE room_invites SET used_at = $3, used_by = $1 WHERE account_id = $1 \
                     AND conversation_id = $2 AND used_at IS NULL",
                )
                .bind(account.as_str())
                .bind(conversation.as_str())
                .bind(now)
                .execute(&self.write)
                .await
                .map_err(db_error)?;
                Ok(done.rows_affected() > 0)
            }

            async fn join_room(
                &self,
                join: JoinRoom,
                decide: &DecideJoin<'_>,
            ) -> Result<(Membership, Appended, String), WriteError> {
                let mut tx = self.write.begin().await.map_err(db_error)?;
                let raw_conversation = consume_ticket_in(&mut tx, &join).await?;
                let conversation = ConversationId::from_stored(raw_conversation);
                // The room's row lock first, so concurrent joins count members one
                // after another.
                lock_conversation_in(&mut tx, conversation.as_str()).await?;
                let room: Option<(String, String, Option<i64>, i64)> = sqlx::query_as(
                    "SELECT kind, state, member_limit, history_visible FROM conversations WHERE id = $1",
                )
                .bind(conversation.as_str())
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_error)?;
                let Some((kind, state, limit, history_visible)) = room else {
                    return Err(WriteError::TargetNotFound);
                };
                let existing: Option<(String, Option<i64>)> = sqlx::query_as(
                    "SELECT member_id, left_at FROM members WHERE conversation_id = $1 AND account_id = $2",
                )
                .bind(conversation.as_str())
                .bind(join.account.as_str())
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_error)?;
                let current: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM members WHERE conversation_id = $1 AND left_at IS NULL",
                )
                .bind(conversation.as_str())
                .fetch_one(&mut *tx)
                .await
                .map_err(db_error)?;
                let decision = decide(&RoomAtJoin {
                    kind: ConversationKind::parse(&kind),
                    state: ConversationState::parse(&state),
                    member_limit: limit.map(|l| l.clamp(0, i64::from(u32::MAX)) as u32),
                    history_visible: history_visible != 0,
                    members: current.max(0) as u64,
                    earlier: existing
                        .as_ref()
                        .map(|(id, left)| (MemberId::from_stored(id.clone()), left.is_none())),
                })?;
                let (member, meta) = (decision.member, decision.event);
                let appended = system_event_in(&mut tx, self.rules, &conversation, &meta, join.now).await?;
                let visible_from =
                    if decision.history_from_start { 0 } else { appended.seq as i64 };
                let sql = if existing.is_some() {
                    "UPDATE members SET display_name = $4, pseudonymous = $5, role = $9, \
                     agreed_at = NULL, visible_from = $6, joined_at = $7, left_at = NULL, \
                     name_key = $8 WHERE conversation_id = $1 AND member_id = $2 AND account_id = $3"
                } else {
                    "INSERT INTO members (conversation_id, member_id, account_id, display_name, \
                     role, pseudonymous, agreed_at, visible_from, joined_at, name_key) \
                     VALUES ($1, $2, $3, $4, $9, $5, NULL, $6, $7, $8)"
                };
                sqlx::query(sql)
                    .bind(conversation.as_str())
                    .bind(member.as_str())
                    .bind(join.account.as_str())
                    .bind(&join.display_name)
                    .bind(i64::from(join.pseudonymous))
                    .bind(visible_from)
                    .bind(join.now)
                    .bind($crate::display_name::comparison_key(&join.display_name))
                    .bind(MemberRole::Member.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err(unique_as_name_taken)?;
                let row: MembershipRow = sqlx::query_as(concat!("SELECT ", conversation_columns!(), ", ", member_columns!(), " FROM members m \
                     JOIN conversations c ON c.id = m.conversation_id \
                     WHERE m.conversation_id = $1 AND m.member_id = $2"))
                .bind(conversation.as_str())
                .bind(member.as_str())
                .fetch_one(&mut *tx)
                .await
                .map_err(db_error)?;
                tx.commit().await.map_err(db_error)?;
                Ok((row.try_into()?, appended, meta))
            }

            async fn update_member(
                &self,
                update: MemberUpdate,
                decide: &DecideMember<'_>,
            ) -> Result<MemberChanged, WriteError> {
                let mut tx = self.write.begin().await.map_err(db_error)?;
                let conversation = update.conversation.as_str();
                lock_conversation_in(&mut tx, conversation).await?;
                let state: Option<String> =
                    sqlx::query_scalar("SELECT state FROM conversations WHERE id = $1")
                        .bind(conversation)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(db_error)?;
                let state = state.as_deref().and_then(ConversationState::parse);
                let before = current_member_in(&mut tx, conversation, update.member.as_str())
                    .await?
                    .map(MemberRecord::try_from)
                    .transpose()?;
                decide(state, before.as_ref())?;
                let before = before.ok_or(WriteError::TargetNotFound)?;
                let meta = update.event;
                let appended = system_event_in(&mut tx, self.rules, &update.conversation, &meta, update.now).await?;
                let (sql, value) = change_statement(&update.change, update.now);
                let statement = sqlx::query(sql).bind(conversation).bind(update.member.as_str());
                let statement = match value {
                    ChangeValue::Int(v) => statement.bind(v),
                    ChangeValue::Text(t) => statement.bind(t),
                    ChangeValue::Name(name) => {
                        let key = $crate::display_name::comparison_key(&name);
                        statement.bind(name).bind(key)
                    }
                };
                statement.execute(&mut *tx).await.map_err(unique_as_name_taken)?;
                let member = match current_member_in(&mut tx, conversation, update.member.as_str()).await? {
                    Some(row) => MemberRecord::try_from(row)?,
                    None => MemberRecord { left_at: Some(update.now), ..before },
                };
                tx.commit().await.map_err(db_error)?;
                Ok(MemberChanged { member, event: appended, meta })
            }

            async fn set_room_calls(
                &self,
                change: RoomCallsChange,
                decide: &DecideCalls<'_>,
            ) -> Result<Option<(Appended, String)>, WriteError> {
                let mut tx = self.write.begin().await.map_err(db_error)?;
                let conversation = change.conversation.as_str();
                // The room's row lock first: membership changes take it too, so the
                // asking member's standing cannot change before this commits.
                lock_conversation_in(&mut tx, conversation).await?;
                let row: Option<(String, String, String)> =
                    sqlx::query_as("SELECT kind, state, calls FROM conversations WHERE id = $1")
                        .bind(conversation)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(db_error)?;
                let room = match &row {
                    Some((kind, state, calls)) => Some(RoomAtCallsChange {
                        kind: ConversationKind::parse(kind),
                        state: ConversationState::parse(state),
                        calls: CallRouting::parse(calls),
                        by: current_member_in(&mut tx, conversation, change.by.as_str())
                            .await?
                            .map(MemberRecord::try_from)
                            .transpose()?,
                    }),
                    None => None,
                };
                if decide(room.as_ref())? == CallsDecision::AlreadySo {
                    return Ok(None);
                }
                let read_calls = row.map(|(_, _, calls)| calls);
                let changed = sqlx::query("UPDATE conversations SET calls = $2 WHERE id = $1 AND calls = $3")
                    .bind(conversation)
                    .bind(change.calls.as_str())
                    .bind(read_calls)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?
                    .rows_affected();
                if changed == 0 {
                    return Err(WriteError::Conflict);
                }
                let appended =
                    system_event_in(&mut tx, self.rules, &change.conversation, &change.event, change.now).await?;
                tx.commit().await.map_err(db_error)?;
                Ok(Some((appended, change.event)))
            }
        }
    };
}

pub(crate) use impl_mentoring_store;
