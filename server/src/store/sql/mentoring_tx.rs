//! Transaction steps of the mentoring store, compiled per engine by
//! [`impl_mentoring_tx!`] beside `impl_mentoring_store!`, which uses them: reading a
//! member, taking row locks, consuming a join ticket, counting a mentor's active
//! relationships, writing a decided relationship change, appending a system event.

macro_rules! impl_mentoring_tx {
    ($db:ty) => {
        use $crate::store::sql::mentoring::*;

        /// A current member row read inside a transaction.
        async fn current_member_in(
            tx: &mut sqlx::Transaction<'static, $db>,
            conversation: &str,
            member: &str,
        ) -> Result<Option<MemberRow>, WriteError> {
            sqlx::query_as(concat!("SELECT ", member_columns!(), " FROM members m WHERE m.conversation_id = $1 \
                 AND m.member_id = $2 AND m.left_at IS NULL"))
            .bind(conversation)
            .bind(member)
            .fetch_optional(&mut **tx)
            .await
            .map_err(|e| WriteError::Store(db_error(e)))
        }

        async fn system_event_in(
            tx: &mut sqlx::Transaction<'static, $db>,
            rules: $crate::store::StoreRules,
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
            append_in_tx(tx, &request, true, rules).await
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
            join: &$crate::store::JoinRoom,
        ) -> Result<String, WriteError> {
            let consumed: Option<String> = match &join.ticket {
                $crate::store::JoinTicket::Code(hash) => sqlx::query_scalar(
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
                $crate::store::JoinTicket::Invitation(conversation) => sqlx::query_scalar(
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
            write: &$crate::store::RelationshipWrite,
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

    };
}

pub(crate) use impl_mentoring_tx;
