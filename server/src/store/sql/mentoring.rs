//! The SQL behind [`crate::store::MentoringStore`] (directory, relationship life cycle,
//! rooms and membership changes), compiled per engine by [`impl_mentoring_store!`]
//! inside the same module as `impl_sql_store!`, whose transaction helpers
//! (`append_in_tx`, `relationship_in`, …) it uses.

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

pub(crate) const PROFILE_COLUMNS: &str = "account_id, display_name, specialty, interests, \
    languages, bio, accepting, capacity, updated_at";

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
        use $crate::store::sql::mentoring::*;
        use $crate::store::{
            DecideJoin, DecideMember, DecideRelationship, InvitationRecord, JoinRoom, JoinTicket, MemberChanged,
            MemberUpdate, MentorProfileRecord, MentoringStore, NewInvite, NewRoom,
            RelationshipChanged, RelationshipWrite, RoomAtJoin, RoomCallsChange,
        };
        use $crate::ids::MemberId;

        /// A current member row read inside a transaction.
        async fn current_member_in(
            tx: &mut sqlx::Transaction<'static, $db>,
            conversation: &str,
            member: &str,
        ) -> Result<Option<MemberRow>, WriteError> {
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {MEMBER_COLUMNS} FROM members m WHERE m.conversation_id = $1 \
                 AND m.member_id = $2 AND m.left_at IS NULL"
            )))
            .bind(conversation)
            .bind(member)
            .fetch_optional(&mut **tx)
            .await
            .map_err(|e| WriteError::Store(db_error(e)))
        }

        async fn system_event_in(
            tx: &mut sqlx::Transaction<'static, $db>,
            conversation: &ConversationId,
            meta: &str,
            now: Millis,
        ) -> Result<Appended, WriteError> {
            let request = AppendRequest {
                conversation: conversation.clone(),
                sender: None,
                client_id: None,
                kind: AppendKind::System { meta: meta.to_owned() },
                now,
            };
            append_in_tx(tx, &request, true).await
        }

        /// Takes the account's row lock until the transaction ends, so counts of what
        /// the account owns are read one transaction after another (PostgreSQL; SQLite
        /// has one writer anyway).
        async fn lock_account_in(
            tx: &mut sqlx::Transaction<'static, $db>,
            account: &str,
        ) -> Result<(), WriteError> {
            sqlx::query("UPDATE accounts SET name = name WHERE id = $1")
                .bind(account)
                .execute(&mut **tx)
                .await
                .map_err(db_error)?;
            Ok(())
        }

        /// The same for a conversation's row.
        async fn lock_conversation_in(
            tx: &mut sqlx::Transaction<'static, $db>,
            conversation: &str,
        ) -> Result<(), WriteError> {
            sqlx::query("UPDATE conversations SET last_seq = last_seq WHERE id = $1")
                .bind(conversation)
                .execute(&mut **tx)
                .await
                .map_err(db_error)?;
            Ok(())
        }

        /// Consumes an unused, unexpired ticket and returns its room. The conditional
        /// update is the single-use rule: of any number of joins with one code, the
        /// first to update the row wins and the others find it used (PostgreSQL
        /// re-checks `used_at IS NULL` after the winner commits). A join that fails
        /// later rolls back and leaves the ticket unused.
        async fn consume_ticket_in(
            tx: &mut sqlx::Transaction<'static, $db>,
            join: &JoinRoom,
        ) -> Result<String, WriteError> {
            let consumed: Option<String> = match &join.ticket {
                JoinTicket::Code(hash) => sqlx::query_scalar(
                    "UPDATE room_invites SET used_at = $2, used_by = $3 \
                     WHERE code_hash = $1 AND used_at IS NULL \
                     AND (expires_at IS NULL OR expires_at > $2) \
                     RETURNING conversation_id",
                )
                .bind(hash)
                .bind(join.now)
                .bind(join.account.as_str())
                .fetch_optional(&mut **tx)
                .await,
                JoinTicket::Invitation(conversation) => sqlx::query_scalar(
                    "UPDATE room_invites SET used_at = $3, used_by = $1 WHERE id = \
                     (SELECT id FROM room_invites WHERE account_id = $1 AND conversation_id = $2 \
                     AND used_at IS NULL AND (expires_at IS NULL OR expires_at > $3) \
                     ORDER BY created_at LIMIT 1) \
                     AND used_at IS NULL RETURNING conversation_id",
                )
                .bind(join.account.as_str())
                .bind(conversation.as_str())
                .bind(join.now)
                .fetch_optional(&mut **tx)
                .await,
            }
            .map_err(db_error)?;
            consumed.ok_or(WriteError::TargetNotFound)
        }

        /// Each mentor party's active relationships, counted after taking the mentor's
        /// profile row lock (in account order), so activations for one mentor are
        /// decided one transaction after another (PostgreSQL; SQLite has one writer).
        async fn active_mentees_in(
            tx: &mut sqlx::Transaction<'static, $db>,
            relationship: &RelationshipRecord,
        ) -> Result<Vec<(AccountId, u64)>, WriteError> {
            let mut mentors: Vec<&AccountId> = relationship
                .parties
                .iter()
                .filter(|p| p.role == PartyRole::Mentor)
                .map(|p| &p.account)
                .collect();
            mentors.sort();
            let mut active = Vec::with_capacity(mentors.len());
            for mentor in mentors {
                sqlx::query("UPDATE mentor_profiles SET updated_at = updated_at WHERE account_id = $1")
                    .bind(mentor.as_str())
                    .execute(&mut **tx)
                    .await
                    .map_err(db_error)?;
                let count: i64 = sqlx::query_scalar(ACTIVE_MENTEES)
                    .bind(mentor.as_str())
                    .bind(PartyRole::Mentor.as_str())
                    .bind(RelationshipState::Active.as_str())
                    .fetch_one(&mut **tx)
                    .await
                    .map_err(db_error)?;
                active.push((mentor.clone(), count.max(0) as u64));
            }
            Ok(active)
        }

        /// Writes a decided change if the relationship still has the version it was
        /// decided on; `false` if another change got there first.
        async fn write_relationship_in(
            tx: &mut sqlx::Transaction<'static, $db>,
            current: &RelationshipRecord,
            write: &RelationshipWrite,
        ) -> Result<bool, WriteError> {
            let id = current.id.as_str();
            let written = sqlx::query(
                "UPDATE relationships SET state = $2, updated_at = $3, ended_at = $4, \
                 version = version + 1 WHERE id = $1 AND version = $5",
            )
            .bind(id)
            .bind(write.state.as_str())
            .bind(write.updated_at)
            .bind(write.ended_at)
            .bind(write.version as i64)
            .execute(&mut **tx)
            .await
            .map_err(db_error)?;
            if written.rows_affected() == 0 {
                return Ok(false);
            }
            if let Some((account, response)) = &write.answer {
                sqlx::query(
                    "UPDATE relationship_parties SET response = $3 \
                     WHERE relationship_id = $1 AND account_id = $2",
                )
                .bind(id)
                .bind(account.as_str())
                .bind(response.as_str())
                .execute(&mut **tx)
                .await
                .map_err(db_error)?;
            }
            if let Some((account, name, pseudonymous)) = &write.rename {
                sqlx::query(
                    "UPDATE members SET display_name = $3, pseudonymous = $4, name_key = $5 \
                     WHERE conversation_id = $1 AND account_id = $2",
                )
                .bind(current.conversation.as_str())
                .bind(account.as_str())
                .bind(name)
                .bind(i64::from(*pseudonymous))
                .bind($crate::display_name::comparison_key(name))
                .execute(&mut **tx)
                .await
                .map_err(unique_as_name_taken)?;
            }
            if let Some((account, note)) = &write.note {
                sqlx::query(
                    "UPDATE relationship_parties SET note_key_id = $3, note_nonce = $4, note = $5 \
                     WHERE relationship_id = $1 AND account_id = $2",
                )
                .bind(id)
                .bind(account.as_str())
                .bind(i64::from(note.key_id))
                .bind(&note.nonce)
                .bind(&note.ciphertext)
                .execute(&mut **tx)
                .await
                .map_err(db_error)?;
            }
            if let Some(state) = write.conversation {
                sqlx::query("UPDATE conversations SET state = $2 WHERE id = $1")
                    .bind(current.conversation.as_str())
                    .bind(state.as_str())
                    .execute(&mut **tx)
                    .await
                    .map_err(db_error)?;
            }
            Ok(true)
        }

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
                let row: Option<ProfileRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {PROFILE_COLUMNS} FROM mentor_profiles WHERE account_id = $1"
                )))
                .bind(account.as_str())
                .fetch_optional(&self.read)
                .await
                .map_err(db_error)?;
                Ok(row.map(Into::into))
            }

            async fn mentor_profiles(&self) -> StoreResult<Vec<MentorProfileRecord>> {
                let rows: Vec<ProfileRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {PROFILE_COLUMNS} FROM mentor_profiles ORDER BY display_name, account_id"
                )))
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
                            system_event_in(&mut tx, &current.conversation, meta, write.now).await?;
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
                let rows: Vec<RelationshipRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {RELATIONSHIP_COLUMNS} FROM relationships r \
                     ORDER BY r.created_at DESC, r.id"
                )))
                .fetch_all(&self.read)
                .await
                .map_err(db_error)?;
                let parties: Vec<PartyRow> = sqlx::query_as(PARTIES_SELECT)
                    .fetch_all(&self.read)
                    .await
                    .map_err(db_error)?;
                let mut by_relationship: std::collections::HashMap<String, Vec<PartyRow>> =
                    std::collections::HashMap::new();
                for party in parties {
                    by_relationship.entry(party.relationship_id.clone()).or_default().push(party);
                }
                rows.into_iter()
                    .map(|row| {
                        let parties = by_relationship.remove(&row.id).unwrap_or_default();
                        assemble_relationship(row, parties)
                    })
                    .collect()
            }

            async fn create_room(&self, room: NewRoom) -> Result<Appended, WriteError> {
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
                if open >= i64::from(room.max_open_rooms) {
                    return Err(WriteError::LimitReached);
                }
                sqlx::query(
                    "INSERT INTO conversations (id, kind, state, last_seq, created_at, created_by, \
                     title, room_kind, agreement, member_limit, history_visible, calls) \
                     VALUES ($1, 'room', 'active', 0, $2, $3, $4, $5, $6, $7, $8, $9)",
                )
                .bind(room.id.as_str())
                .bind(room.now)
                .bind(room.creator.as_str())
                .bind(&room.title)
                .bind(room.room_kind.as_str())
                .bind(&room.agreement)
                .bind(i64::from(room.member_limit))
                .bind(i64::from(room.history_visible))
                .bind(room.calls.as_str())
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
                sqlx::query(
                    "INSERT INTO members (conversation_id, member_id, account_id, display_name, \
                     role, pseudonymous, agreed_at, visible_from, joined_at, name_key) \
                     VALUES ($1, $2, $3, $4, 'facilitator', $5, $6, 0, $6, $7)",
                )
                .bind(room.id.as_str())
                .bind(room.creator_member.as_str())
                .bind(room.creator.as_str())
                .bind(&room.creator_name)
                .bind(i64::from(room.creator_pseudonymous))
                .bind(room.now)
                .bind($crate::display_name::comparison_key(&room.creator_name))
                .execute(&mut *tx)
                .await
                .map_err(unique_as_name_taken)?;
                let appended = system_event_in(&mut tx, &room.id, &room.event, room.now).await?;
                tx.commit().await.map_err(db_error)?;
                Ok(appended)
            }

            async fn create_invite(&self, invite: NewInvite) -> Result<(), WriteError> {
                let mut tx = self.write.begin().await.map_err(db_error)?;
                if let Some(account) = &invite.account {
                    let pending: Option<String> = sqlx::query_scalar(
                        "SELECT id FROM room_invites WHERE account_id = $1 \
                         AND conversation_id = $2 AND used_at IS NULL",
                    )
                    .bind(account.as_str())
                    .bind(invite.conversation.as_str())
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db_error)?;
                    if pending.is_some() {
                        return Ok(());
                    }
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
                    if live >= i64::from(invite.max_live_codes) {
                        return Err(WriteError::LimitReached);
                    }
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
                let rows: Vec<InvitationRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {CONVERSATION_COLUMNS}, MIN(i.created_at) AS invited_at \
                     FROM room_invites i JOIN conversations c ON c.id = i.conversation_id \
                     WHERE i.account_id = $1 AND i.used_at IS NULL AND c.state = $2 \
                     AND NOT EXISTS (SELECT 1 FROM members m WHERE m.conversation_id = c.id \
                     AND m.account_id = $1 AND m.left_at IS NULL) \
                     GROUP BY {CONVERSATION_COLUMNS} ORDER BY MIN(i.created_at)"
                )))
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
                let appended = system_event_in(&mut tx, &conversation, &meta, join.now).await?;
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
                let row: MembershipRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT {CONVERSATION_COLUMNS}, {MEMBER_COLUMNS} FROM members m \
                     JOIN conversations c ON c.id = m.conversation_id \
                     WHERE m.conversation_id = $1 AND m.member_id = $2"
                )))
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
                let appended = system_event_in(&mut tx, &update.conversation, &meta, update.now).await?;
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
            ) -> Result<Option<(Appended, String)>, WriteError> {
                let mut tx = self.write.begin().await.map_err(db_error)?;
                let conversation = change.conversation.as_str();
                // The facilitator's standing is part of the condition, so a facilitator
                // demoted or removed meanwhile changes nothing.
                let changed = sqlx::query(
                    "UPDATE conversations SET calls = $2 \
                     WHERE id = $1 AND kind = $4 AND state = $5 AND calls <> $2 \
                     AND EXISTS (SELECT 1 FROM members WHERE conversation_id = $1 \
                       AND member_id = $3 AND role = $6 AND left_at IS NULL \
                       AND agreed_at IS NOT NULL)",
                )
                .bind(conversation)
                .bind(change.calls.as_str())
                .bind(change.by.as_str())
                .bind(ConversationKind::Room.as_str())
                .bind(ConversationState::Active.as_str())
                .bind(MemberRole::Facilitator.as_str())
                .execute(&mut *tx)
                .await
                .map_err(db_error)?
                .rows_affected();
                if changed == 0 {
                    let current: Option<String> =
                        sqlx::query_scalar("SELECT calls FROM conversations WHERE id = $1")
                            .bind(conversation)
                            .fetch_optional(&mut *tx)
                            .await
                            .map_err(db_error)?;
                    return if current.as_deref() == Some(change.calls.as_str()) {
                        Ok(None)
                    } else {
                        Err(WriteError::Conflict)
                    };
                }
                let appended =
                    system_event_in(&mut tx, &change.conversation, &change.event, change.now).await?;
                tx.commit().await.map_err(db_error)?;
                Ok(Some((appended, change.event)))
            }
        }
    };
}

pub(crate) use impl_mentoring_store;
