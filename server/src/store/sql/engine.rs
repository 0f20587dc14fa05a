//! The SQL behind [`Store`], written once and compiled for each engine by
//! [`impl_sql_store!`]. Placeholders are `$N`, which both SQLite and PostgreSQL accept;
//! integers are `i64` and flags `0/1` in both schemas, so the same statements and row
//! types serve both. Engine-specific set-up (pools, pragmas, migrations) lives in `mod.rs`;
//! the append path and group commit (`append_in_tx`, …) in `append.rs`.

macro_rules! impl_sql_store {
    ($db:ty) => {
        async fn relationship_in(
            executor: &mut <$db as sqlx::Database>::Connection,
            id: &str,
        ) -> StoreResult<Option<RelationshipRecord>> {
            let row: Option<RelationshipRow> = sqlx::query_as(concat!("SELECT ", relationship_columns!(), " FROM relationships r WHERE r.id = $1"))
            .bind(id)
            .fetch_optional(&mut *executor)
            .await
            .map_err(db_error)?;
            let Some(row) = row else { return Ok(None) };
            let parties: Vec<PartyRow> = sqlx::query_as(PARTIES_SELECT_ONE)
                .bind(id)
                .fetch_all(&mut *executor)
                .await
                .map_err(db_error)?;
            assemble_relationship(row, parties).map(Some)
        }

        #[async_trait::async_trait]
        impl Store for SqlStore<$db> {
            async fn ping(&self) -> StoreResult<()> {
                sqlx::query("SELECT 1").execute(&self.read).await.map_err(db_error)?;
                Ok(())
            }

            async fn close(&self) -> StoreResult<()> {
                self.on_close().await
            }

            fn usage(&self) -> crate::store::StoreUsage {
                self.usage_now()
            }

            async fn upsert_account(
                &self,
                id: &AccountId,
                name: &str,
                roles: &[Role],
                now: Millis,
            ) -> StoreResult<AccountRecord> {
                let existing = self.account(id).await?;
                if let Some(existing) = existing {
                    if existing.name == name && existing.roles == roles {
                        return Ok(existing);
                    }
                }
                let roles_text = roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(",");
                let op = writer::WriteOp::UpsertAccount {
                    id: id.as_str().to_owned(),
                    name: name.to_owned(),
                    roles: roles_text,
                    now,
                };
                match writer::submit(&self.jobs, op, None).await? {
                    writer::Outcome::Account(Ok(())) => {}
                    writer::Outcome::Account(Err(e)) => return Err(into_store_error(e)),
                    _ => return Err(StoreError::Corrupt("writer answered another job".into())),
                }
                self.account(id)
                    .await?
                    .ok_or_else(|| StoreError::Corrupt("account vanished after upsert".into()))
            }

            async fn account(&self, id: &AccountId) -> StoreResult<Option<AccountRecord>> {
                let row: Option<AccountRow> = sqlx::query_as(
                    "SELECT id, name, roles, read_receipts, default_pseudonym, created_at \
                     FROM accounts WHERE id = $1",
                )
                .bind(id.as_str())
                .fetch_optional(&self.read)
                .await
                .map_err(db_error)?;
                Ok(row.map(Into::into))
            }

            async fn update_settings(&self, id: &AccountId, settings: &Settings) -> StoreResult<()> {
                sqlx::query(
                    "UPDATE accounts SET read_receipts = $2, default_pseudonym = $3 WHERE id = $1",
                )
                .bind(id.as_str())
                .bind(i64::from(settings.read_receipts))
                .bind(settings.default_pseudonym.as_deref())
                .execute(&self.write)
                .await
                .map_err(db_error)?;
                Ok(())
            }

            async fn memberships(&self, account: &AccountId) -> StoreResult<Vec<Membership>> {
                let rows: Vec<MembershipRow> = sqlx::query_as(concat!("SELECT ", conversation_columns!(), ", ", member_columns!(), " FROM members m \
                     JOIN conversations c ON c.id = m.conversation_id \
                     WHERE m.account_id = $1 AND m.left_at IS NULL ORDER BY c.created_at, c.id"))
                .bind(account.as_str())
                .fetch_all(&self.read)
                .await
                .map_err(db_error)?;
                rows.into_iter().map(TryInto::try_into).collect()
            }

            async fn membership(
                &self,
                conversation: &ConversationId,
                account: &AccountId,
            ) -> StoreResult<Option<Membership>> {
                let row: Option<MembershipRow> = sqlx::query_as(concat!("SELECT ", conversation_columns!(), ", ", member_columns!(), " FROM members m \
                     JOIN conversations c ON c.id = m.conversation_id \
                     WHERE m.conversation_id = $1 AND m.account_id = $2 AND m.left_at IS NULL"))
                .bind(conversation.as_str())
                .bind(account.as_str())
                .fetch_optional(&self.read)
                .await
                .map_err(db_error)?;
                row.map(TryInto::try_into).transpose()
            }

            async fn members(&self, conversation: &ConversationId) -> StoreResult<Vec<MemberRecord>> {
                let rows: Vec<MemberRow> = sqlx::query_as(concat!("SELECT ", member_columns!(), " FROM members m WHERE m.conversation_id = $1 \
                     ORDER BY m.joined_at, m.member_id"))
                .bind(conversation.as_str())
                .fetch_all(&self.read)
                .await
                .map_err(db_error)?;
                rows.into_iter().map(TryInto::try_into).collect()
            }

            async fn unread(
                &self,
                member: &MemberRecord,
                hidden: &[HiddenSender],
            ) -> StoreResult<UnreadCounts> {
                // The same filter as `threads`: a blocked sender's messages since the
                // block are not counted.
                let hidden_filter = |first: usize| -> String {
                    (0..hidden.len())
                        .map(|i| {
                            let (sender, since) = (first + 2 * i, first + 1 + 2 * i);
                            format!(" AND NOT (e.sender = ${sender} AND e.created_at >= ${since})")
                        })
                        .collect()
                };
                let sql = format!(
                    "SELECT COUNT(*) FROM events e WHERE e.conversation_id = $1 AND e.seq > $2 \
                     AND e.seq >= $3 AND e.kind = $5 AND e.thread_root IS NULL \
                     AND e.deleted = 0 AND e.sender <> $4{}",
                    hidden_filter(6)
                );
                let mut select = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql))
                    .bind(member.conversation.as_str())
                    .bind(member.read_seq as i64)
                    .bind(member.visible_from as i64)
                    .bind(member.member.as_str())
                    .bind(EventKind::Message.as_str());
                for sender in hidden {
                    select = select.bind(sender.member.as_str()).bind(sender.since);
                }
                let main = select.fetch_one(&self.read).await.map_err(db_error)?;
                let sql = format!(
                    "SELECT e.thread_root, COUNT(*) FROM events e LEFT JOIN thread_reads r \
                     ON r.conversation_id = e.conversation_id AND r.member_id = $2 \
                     AND r.root_seq = e.thread_root \
                     WHERE e.conversation_id = $1 AND e.thread_root IS NOT NULL \
                     AND e.kind = $4 AND e.deleted = 0 AND e.sender <> $2 \
                     AND e.seq >= $3 AND e.seq > COALESCE(r.read_seq, 0){} \
                     GROUP BY e.thread_root",
                    hidden_filter(5)
                );
                let mut select = sqlx::query_as::<_, (i64, i64)>(sqlx::AssertSqlSafe(sql))
                    .bind(member.conversation.as_str())
                    .bind(member.member.as_str())
                    .bind(member.visible_from as i64)
                    .bind(EventKind::Message.as_str());
                for sender in hidden {
                    select = select.bind(sender.member.as_str()).bind(sender.since);
                }
                let per_thread = select.fetch_all(&self.read).await.map_err(db_error)?;
                Ok(UnreadCounts {
                    main: main as u64,
                    threads: per_thread.into_iter().map(|(root, n)| (root as u64, n as u64)).collect(),
                })
            }

            async fn append(
                &self,
                request: AppendRequest,
                on_commit: Option<CommitHook>,
            ) -> Result<Appended, WriteError> {
                match writer::submit(&self.jobs, writer::WriteOp::Append(request), on_commit).await? {
                    writer::Outcome::Appended(result) => result,
                    _ => Err(StoreError::Corrupt("writer answered another job".into()).into()),
                }
            }

            async fn queue_append(
                &self,
                request: AppendRequest,
                on_commit: Option<CommitHook>,
            ) -> Result<PendingAppend, WriteError> {
                let queued =
                    writer::enqueue(&self.jobs, writer::WriteOp::Append(request), on_commit).await?;
                Ok(Box::pin(async move {
                    match writer::answer(queued).await? {
                        writer::Outcome::Appended(result) => result,
                        _ => Err(StoreError::Corrupt("writer answered another job".into()).into()),
                    }
                }))
            }

            async fn mark_read(&self, marker: ReadMarker) -> Result<bool, WriteError> {
                match writer::submit(&self.jobs, writer::WriteOp::Read(marker), None).await? {
                    writer::Outcome::Read(result) => result,
                    _ => Err(StoreError::Corrupt("writer answered another job".into()).into()),
                }
            }

            async fn events(&self, query: &EventQuery) -> StoreResult<Vec<StoredEvent>> {
                let ascending = query.after.is_some();
                let visible_from = query.visible_from as i64;
                let mut q = sqlx::QueryBuilder::<$db>::new(event_select!());
                q.push(" WHERE e.conversation_id = ")
                    .push_bind(query.conversation.as_str())
                    .push(" AND e.seq >= ")
                    .push_bind(visible_from)
                    .push(" AND e.seq > ")
                    .push_bind(query.after.unwrap_or(0) as i64)
                    .push(" AND e.seq < ")
                    .push_bind(query.before.map(|b| b as i64).unwrap_or(i64::MAX));
                // Edits and deletions of messages from before `visible_from` are left
                // out: an edit carries the message's text, which a member who may not
                // read that far back must not get.
                q.push(" AND NOT (e.kind IN (")
                    .push_bind(EventKind::Edit.as_str())
                    .push(", ")
                    .push_bind(EventKind::Delete.as_str())
                    .push(") AND COALESCE(e.target_seq, 0) < ")
                    .push_bind(visible_from)
                    .push(")");
                if let Some(root) = query.thread {
                    q.push(" AND (e.seq = ")
                        .push_bind(root as i64)
                        .push(" OR e.thread_root = ")
                        .push_bind(root as i64)
                        .push(")");
                }
                // Blocked senders' events are left out here, in SQL, so pages keep
                // their size and `has_more` stays right.
                for hidden in &query.hidden_senders {
                    q.push(" AND NOT (COALESCE(e.sender, '') = ")
                        .push_bind(hidden.member.as_str())
                        .push(" AND (e.created_at >= ")
                        .push_bind(hidden.since)
                        .push(" OR COALESCE(e.edited_at, 0) >= ")
                        .push_bind(hidden.since)
                        .push("))");
                }
                q.push(if ascending { " ORDER BY e.seq ASC" } else { " ORDER BY e.seq DESC" })
                    .push(" LIMIT ")
                    .push_bind(i64::from(query.limit));
                let rows: Vec<EventRow> = q
                    .build_query_as()
                    .fetch_all(&self.read)
                    .await
                    .map_err(db_error)?;
                let mut events: Vec<StoredEvent> =
                    rows.into_iter().map(TryInto::try_into).collect::<StoreResult<_>>()?;
                if !ascending {
                    events.reverse();
                }
                Ok(events)
            }

            async fn event(
                &self,
                conversation: &ConversationId,
                seq: Seq,
            ) -> StoreResult<Option<StoredEvent>> {
                let row: Option<EventRow> =
                    sqlx::query_as(concat!(event_select!(), " WHERE e.conversation_id = $1 AND e.seq = $2"))
                        .bind(conversation.as_str())
                        .bind(seq as i64)
                        .fetch_optional(&self.read)
                        .await
                        .map_err(db_error)?;
                row.map(TryInto::try_into).transpose()
            }

            async fn heads(
                &self,
                conversations: &[ConversationId],
            ) -> StoreResult<Vec<(ConversationId, Seq)>> {
                if conversations.is_empty() {
                    return Ok(Vec::new());
                }
                let mut q = sqlx::QueryBuilder::<$db>::new(
                    "SELECT id, last_seq FROM conversations WHERE id IN (",
                );
                let mut ids = q.separated(", ");
                for id in conversations {
                    ids.push_bind(id.as_str());
                }
                q.push(")");
                let rows: Vec<(String, i64)> = q
                    .build_query_as()
                    .persistent(false)
                    .fetch_all(&self.read)
                    .await
                    .map_err(db_error)?;
                Ok(rows
                    .into_iter()
                    .map(|(id, seq)| (ConversationId::from_stored(id), seq.max(0) as Seq))
                    .collect())
            }

            async fn threads(
                &self,
                conversation: &ConversationId,
                visible_from: Seq,
                hidden: &[HiddenSender],
            ) -> StoreResult<Vec<ThreadRecord>> {
                let mut q = sqlx::QueryBuilder::<$db>::new(
                    "SELECT thread_root AS root, COUNT(*) AS replies, MAX(seq) AS last_seq, \
                     MAX(created_at) AS last_ts FROM events WHERE conversation_id = ",
                );
                q.push_bind(conversation.as_str())
                    .push(" AND thread_root IS NOT NULL AND thread_root >= ")
                    .push_bind(visible_from as i64)
                    .push(" AND kind = ")
                    .push_bind(EventKind::Message.as_str())
                    .push(" AND deleted = 0");
                // The same filter as `events`: a blocked sender's replies since the
                // block are not counted, or the count would give the block away.
                for sender in hidden {
                    q.push(" AND NOT (sender = ")
                        .push_bind(sender.member.as_str())
                        .push(" AND created_at >= ")
                        .push_bind(sender.since)
                        .push(")");
                }
                q.push(" GROUP BY thread_root ORDER BY MAX(seq) DESC");
                let rows: Vec<ThreadRow> =
                    q.build_query_as().fetch_all(&self.read).await.map_err(db_error)?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            async fn create_relationship(
                &self,
                new: NewRelationship,
                may_wait: Option<&$crate::store::DecideCount<'_>>,
            ) -> Result<(), WriteError> {
                let mut tx = self.write.begin().await.map_err(db_error)?;
                if let Some(may_wait) = may_wait {
                    for mentor in new.parties.iter().filter(|p| p.role == PartyRole::Mentor) {
                        lock_account_in(&mut tx, mentor.account.as_str()).await?;
                        let waiting: i64 = sqlx::query_scalar(
                            "SELECT COUNT(*) FROM relationship_parties p JOIN relationships r \
                             ON r.id = p.relationship_id WHERE p.account_id = $1 \
                             AND p.role = $2 AND r.state = $3 AND r.origin = $4",
                        )
                        .bind(mentor.account.as_str())
                        .bind(PartyRole::Mentor.as_str())
                        .bind(RelationshipState::Pending.as_str())
                        .bind(Origin::Requested.as_str())
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(db_error)?;
                        may_wait(waiting.max(0) as u64)?;
                    }
                }
                sqlx::query(
                    "INSERT INTO conversations (id, kind, state, last_seq, created_at, created_by) \
                     VALUES ($1, $4, $5, 0, $2, $3)",
                )
                .bind(new.conversation.as_str())
                .bind(new.now)
                .bind(new.created_by.as_str())
                .bind(ConversationKind::Relationship.as_str())
                .bind(ConversationState::Pending.as_str())
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
                for party in &new.parties {
                    sqlx::query(
                        "INSERT INTO members (conversation_id, member_id, account_id, display_name, \
                         role, pseudonymous, agreed_at, visible_from, joined_at, name_key) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $7, $8)",
                    )
                    .bind(new.conversation.as_str())
                    .bind(party.member.as_str())
                    .bind(party.account.as_str())
                    .bind(&party.display_name)
                    .bind(party.role.as_str())
                    .bind(i64::from(party.pseudonymous))
                    .bind(new.now)
                    .bind($crate::display_name::comparison_key(&party.display_name))
                    .execute(&mut *tx)
                    .await
                    .map_err(unique_as_name_taken)?;
                }
                let intro = new.introduction.as_ref();
                sqlx::query(
                    "INSERT INTO relationships (id, conversation_id, origin, state, created_by, \
                     coordinator, intro_key_id, intro_nonce, intro, created_at, updated_at, \
                     first_conversation) \
                     VALUES ($1, $2, $3, $11, $4, $5, $6, $7, $8, $9, $9, $10)",
                )
                .bind(new.id.as_str())
                .bind(new.conversation.as_str())
                .bind(new.origin.as_str())
                .bind(new.created_by.as_str())
                .bind(new.coordinator.as_ref().map(|c| c.as_str()))
                .bind(intro.map(|s| i64::from(s.key_id)))
                .bind(intro.map(|s| s.nonce.as_slice()))
                .bind(intro.map(|s| s.ciphertext.as_slice()))
                .bind(new.now)
                .bind(i64::from(new.first_conversation))
                .bind(RelationshipState::Pending.as_str())
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
                for party in &new.parties {
                    sqlx::query(
                        "INSERT INTO relationship_parties (relationship_id, account_id, member_id, \
                         role, response) VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(new.id.as_str())
                    .bind(party.account.as_str())
                    .bind(party.member.as_str())
                    .bind(party.role.as_str())
                    .bind(party.response.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?;
                }
                if new.origin == Origin::Requested {
                    open_request_in(&mut tx, &new).await?;
                }
                tx.commit().await.map_err(db_error)?;
                Ok(())
            }

            async fn relationship(&self, id: &RelationshipId) -> StoreResult<Option<RelationshipRecord>> {
                let mut conn = self.read.acquire().await.map_err(db_error)?;
                relationship_in(&mut *conn, id.as_str()).await
            }

            async fn relationships_of(&self, account: &AccountId) -> StoreResult<Vec<RelationshipRecord>> {
                // The account's own relationships and those it coordinates.
                macro_rules! party_or_coordinator {
                    () => {
                        " WHERE r.id IN (SELECT relationship_id FROM relationship_parties \
                         WHERE account_id = $1) OR r.coordinator = $1"
                    };
                }
                let rows: Vec<RelationshipRow> = sqlx::query_as(concat!(
                    "SELECT ",
                    relationship_columns!(),
                    " FROM relationships r",
                    party_or_coordinator!(),
                    " ORDER BY r.created_at DESC, r.id"
                ))
                .bind(account.as_str())
                .fetch_all(&self.read)
                .await
                .map_err(db_error)?;
                let parties: Vec<PartyRow> =
                    sqlx::query_as(concat!(parties_select!(), party_or_coordinator!()))
                        .bind(account.as_str())
                        .fetch_all(&self.read)
                        .await
                        .map_err(db_error)?;
                assemble_relationships(rows, parties)
            }

            async fn relationship_of_conversation(
                &self,
                conversation: &ConversationId,
            ) -> StoreResult<Option<RelationshipId>> {
                let id: Option<String> =
                    sqlx::query_scalar("SELECT id FROM relationships WHERE conversation_id = $1")
                        .bind(conversation.as_str())
                        .fetch_optional(&self.read)
                        .await
                        .map_err(db_error)?;
                Ok(id.map(RelationshipId::from_stored))
            }

            async fn active_mentee_count(&self, mentor: &AccountId) -> StoreResult<u64> {
                let count: i64 = sqlx::query_scalar(ACTIVE_MENTEES)
                    .bind(mentor.as_str())
                    .bind(PartyRole::Mentor.as_str())
                    .bind(RelationshipState::Active.as_str())
                    .fetch_one(&self.read)
                    .await
                    .map_err(db_error)?;
                Ok(count as u64)
            }

            async fn record_call_start(&self, call: &CallRecord) -> StoreResult<()> {
                insert_call(&self.write, call).await
            }

            async fn record_call_end(&self, call: &CallRecord) -> StoreResult<()> {
                finish_call(&self.write, call).await
            }

            async fn call_record(&self, id: &CallId) -> StoreResult<Option<CallRecord>> {
                select_call(&self.read, id).await
            }
        }

        /// Holds the mentee's place with each requested mentor while the request is
        /// open (see migration 0005): a second request to the same mentor, however
        /// close in time, violates the key and is a `Conflict`.
        async fn open_request_in(
            tx: &mut sqlx::Transaction<'static, $db>,
            new: &NewRelationship,
        ) -> Result<(), WriteError> {
            let mentee = new.parties.iter().filter(|p| p.role == PartyRole::Mentee);
            for mentee in mentee {
                for mentor in new.parties.iter().filter(|p| p.role == PartyRole::Mentor) {
                    sqlx::query(
                        "INSERT INTO open_requests (mentee, mentor, relationship_id) \
                         VALUES ($1, $2, $3)",
                    )
                    .bind(mentee.account.as_str())
                    .bind(mentor.account.as_str())
                    .bind(new.id.as_str())
                    .execute(&mut **tx)
                    .await
                    .map_err(unique_as_conflict)?;
                }
            }
            Ok(())
        }
    };
}

pub(crate) use impl_sql_store;
