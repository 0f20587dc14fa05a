//! Timeline writes inside an open transaction, compiled for each engine like
//! `engine.rs`: appending an event (sender standing, gap-free seq, edit or delete of
//! the target) and moving read markers, plus the group-commit batch that runs many of
//! them in one transaction for the writer task (`writer.rs`).

macro_rules! impl_append_sql {
    ($db:ty) => {
        impl $crate::store::sql::writer::BatchCommit for $crate::store::sql::Committer<$db> {
            async fn commit(
                &self,
                ops: &[$crate::store::sql::writer::WriteOp],
            ) -> Result<Vec<$crate::store::sql::writer::Outcome>, $crate::store::StoreError> {
                use $crate::store::sql::bulk_plan::bulk_eligible;
                use $crate::store::sql::writer::{Outcome, WriteOp};
                if let Some(result) = self.commit_fast(ops).await {
                    return result;
                }
                let mut tx = self.pool.begin().await.map_err(db_error)?;
                let mut outcomes = Vec::with_capacity(ops.len());
                let mut rest = ops;
                while let Some(op) = rest.first() {
                    // Consecutive plain messages go through the bulk path together.
                    let run: Vec<&AppendRequest> = rest
                        .iter()
                        .map_while(|op| match op {
                            WriteOp::Append(r) if bulk_eligible(r) => Some(r),
                            _ => None,
                        })
                        .collect();
                    if !run.is_empty() {
                        rest = &rest[run.len()..];
                        let appended = append_messages_in_tx(&mut tx, &run, self.rules.may_post).await?;
                        outcomes.extend(appended.into_iter().map(Outcome::Appended));
                        continue;
                    }
                    rest = &rest[1..];
                    let outcome = match op {
                        WriteOp::Append(request) => {
                            Outcome::Appended(append_in_tx(&mut tx, request, false, self.rules).await)
                        }
                        WriteOp::Read(marker) => Outcome::Read(mark_read_in_tx(&mut tx, marker).await),
                        WriteOp::UpsertAccount { id, name, roles, now } => {
                            sqlx::query(
                                "INSERT INTO accounts (id, name, roles, created_at, seen_at) \
                                 VALUES ($1, $2, $3, $4, $4) ON CONFLICT (id) DO UPDATE SET \
                                 name = excluded.name, roles = excluded.roles, seen_at = excluded.seen_at",
                            )
                            .bind(id)
                            .bind(name)
                            .bind(roles)
                            .bind(now)
                            .execute(&mut *tx)
                            .await
                            .map_err(db_error)?;
                            Outcome::Account(Ok(()))
                        }
                    };
                    // A transport error inside a job fails the whole batch (retried singly).
                    if let Outcome::Appended(Err(WriteError::Store(e)))
                    | Outcome::Read(Err(WriteError::Store(e))) = &outcome
                    {
                        return Err(StoreError::Unavailable(e.to_string()));
                    }
                    outcomes.push(outcome);
                }
                tx.commit().await.map_err(db_error)?;
                Ok(outcomes)
            }
        }

        /// Appends one event inside an open transaction. `any_state` lets system events
        /// be recorded while a conversation is changing state; `rules` judge a sender.
        async fn append_in_tx(
            tx: &mut sqlx::Transaction<'static, $db>,
            request: &AppendRequest,
            any_state: bool,
            rules: $crate::store::StoreRules,
        ) -> Result<Appended, WriteError> {
            let conversation = request.conversation.as_str();
            let sender = request.sender.as_ref().map(|m| m.as_str());
            if let (Some(client_id), Some(sender)) = (&request.client_id, sender) {
                let existing: Option<(i64, i64)> = sqlx::query_as(
                    "SELECT seq, created_at FROM events \
                     WHERE conversation_id = $1 AND sender = $2 AND client_id = $3",
                )
                .bind(conversation)
                .bind(sender)
                .bind(client_id)
                .fetch_optional(&mut **tx)
                .await
                .map_err(db_error)?;
                if let Some((seq, created_at)) = existing {
                    return Ok(Appended { seq: seq as u64, created_at, duplicate: true });
                }
            }
            if let Some(sender) = sender {
                (rules.may_post)(sender_standing(tx, conversation, sender).await?)?;
            }
            if let AppendKind::Message { thread: Some(root), .. } = &request.kind {
                let root_ok: Option<i64> = sqlx::query_scalar(
                    "SELECT seq FROM events WHERE conversation_id = $1 AND seq = $2 \
                     AND kind = $3 AND thread_root IS NULL",
                )
                .bind(conversation)
                .bind(*root as i64)
                .bind(EventKind::Message.as_str())
                .fetch_optional(&mut **tx)
                .await
                .map_err(db_error)?;
                if root_ok.is_none() {
                    return Err(WriteError::TargetNotFound);
                }
            }
            let seq = allocate_seq(tx, conversation, any_state || matches!(request.kind, AppendKind::System { .. })).await?;
            let Some(seq) = seq else {
                return Err(WriteError::ConversationClosed);
            };
            let mut thread_root: Option<i64> = None;
            let mut target: Option<i64> = None;
            let (mut key_id, mut nonce, mut body, mut meta): (Option<i64>, Option<&[u8]>, Option<&[u8]>, Option<&str>) =
                (None, None, None, None);
            match &request.kind {
                AppendKind::Message { body: sealed, thread } => {
                    thread_root = thread.map(|t| t as i64);
                    key_id = Some(i64::from(sealed.key_id));
                    nonce = Some(&sealed.nonce);
                    body = Some(&sealed.ciphertext);
                }
                AppendKind::Edit { target: t, .. } | AppendKind::Delete { target: t } => {
                    // An edit writes the new text over the target's; a deletion clears it.
                    let new_body = match &request.kind {
                        AppendKind::Edit { body: sealed, .. } => Some(sealed),
                        _ => None,
                    };
                    let root = update_target(tx, conversation, *t, sender, new_body, request.now).await;
                    match root {
                        Ok(root) => thread_root = root,
                        Err(e) => {
                            release_seq(tx, conversation).await?;
                            return Err(e);
                        }
                    }
                    target = Some(*t as i64);
                }
                AppendKind::System { meta: m } => meta = Some(m),
            }
            let kind = match &request.kind {
                AppendKind::Message { .. } => EventKind::Message,
                AppendKind::Edit { .. } => EventKind::Edit,
                AppendKind::Delete { .. } => EventKind::Delete,
                AppendKind::System { .. } => EventKind::System,
            };
            let client_id = match kind {
                EventKind::Message => request.client_id.as_deref(),
                _ => None,
            };
            sqlx::query(
                "INSERT INTO events (conversation_id, seq, kind, sender, client_id, thread_root, \
                 target_seq, key_id, nonce, body, meta, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            )
            .bind(conversation)
            .bind(seq)
            .bind(kind.as_str())
            .bind(sender)
            .bind(client_id)
            .bind(thread_root)
            .bind(target)
            .bind(key_id)
            .bind(nonce)
            .bind(body)
            .bind(meta)
            .bind(request.now)
            .execute(&mut **tx)
            .await
            .map_err(db_error)?;
            Ok(Appended { seq: seq as u64, created_at: request.now, duplicate: false })
        }

        /// The sender's standing, read inside the committing transaction for the
        /// domain's posting rule.
        async fn sender_standing(
            tx: &mut sqlx::Transaction<'static, $db>,
            conversation: &str,
            sender: &str,
        ) -> Result<Option<$crate::store::SenderStanding>, WriteError> {
            let row: Option<(Option<i64>, Option<i64>, i64)> = sqlx::query_as(
                "SELECT left_at, agreed_at, muted FROM members \
                 WHERE conversation_id = $1 AND member_id = $2",
            )
            .bind(conversation)
            .bind(sender)
            .fetch_optional(&mut **tx)
            .await
            .map_err(db_error)?;
            Ok(row.map(|(left_at, agreed_at, muted)| {
                $crate::store::sql::bulk_plan::standing(left_at, agreed_at, muted)
            }))
        }

        /// Takes the conversation's next seq. The row lock taken by this UPDATE is what
        /// keeps the sequence gap-free and commit-ordered on PostgreSQL.
        async fn allocate_seq(
            tx: &mut sqlx::Transaction<'static, $db>,
            conversation: &str,
            any_state: bool,
        ) -> Result<Option<i64>, WriteError> {
            let query = if any_state {
                sqlx::query_scalar(
                    "UPDATE conversations SET last_seq = last_seq + 1 WHERE id = $1 RETURNING last_seq",
                )
                .bind(conversation)
            } else {
                sqlx::query_scalar(
                    "UPDATE conversations SET last_seq = last_seq + 1 WHERE id = $1 \
                     AND state = $2 RETURNING last_seq",
                )
                .bind(conversation)
                .bind(ConversationState::Active.as_str())
            };
            query
                .fetch_optional(&mut **tx)
                .await
                .map_err(|e| WriteError::Store(db_error(e)))
        }

        /// Gives back a seq taken in this transaction (we still hold the row lock, so
        /// nobody else can have taken a later one).
        async fn release_seq(
            tx: &mut sqlx::Transaction<'static, $db>,
            conversation: &str,
        ) -> Result<(), WriteError> {
            sqlx::query("UPDATE conversations SET last_seq = last_seq - 1 WHERE id = $1")
                .bind(conversation)
                .execute(&mut **tx)
                .await
                .map_err(db_error)?;
            Ok(())
        }

        /// Edits (`Some(body)`) or deletes (`None`) the sender's own live message and
        /// returns its thread root. Deleting clears the ciphertext for good.
        async fn update_target(
            tx: &mut sqlx::Transaction<'static, $db>,
            conversation: &str,
            target: Seq,
            sender: Option<&str>,
            body: Option<&Sealed>,
            now: Millis,
        ) -> Result<Option<i64>, WriteError> {
            let sender = sender.ok_or(WriteError::NotOwnMessage)?;
            let updated: Option<Option<i64>> = match body {
                Some(sealed) => sqlx::query_scalar(
                    "UPDATE events SET key_id = $4, nonce = $5, body = $6, edited_at = $7 \
                     WHERE conversation_id = $1 AND seq = $2 AND kind = $8 \
                     AND deleted = 0 AND sender = $3 RETURNING thread_root",
                )
                .bind(conversation)
                .bind(target as i64)
                .bind(sender)
                .bind(i64::from(sealed.key_id))
                .bind(&sealed.nonce)
                .bind(&sealed.ciphertext)
                .bind(now)
                .bind(EventKind::Message.as_str())
                .fetch_optional(&mut **tx)
                .await
                .map_err(db_error)?,
                None => sqlx::query_scalar(
                    "UPDATE events SET key_id = NULL, nonce = NULL, body = NULL, deleted = 1 \
                     WHERE conversation_id = $1 AND seq = $2 AND kind = $4 \
                     AND deleted = 0 AND sender = $3 RETURNING thread_root",
                )
                .bind(conversation)
                .bind(target as i64)
                .bind(sender)
                .bind(EventKind::Message.as_str())
                .fetch_optional(&mut **tx)
                .await
                .map_err(db_error)?,
            };
            if let Some(root) = updated {
                return Ok(root);
            }
            let owner: Option<Option<String>> = sqlx::query_scalar(
                "SELECT sender FROM events WHERE conversation_id = $1 AND seq = $2 \
                 AND kind = $3 AND deleted = 0",
            )
            .bind(conversation)
            .bind(target as i64)
            .bind(EventKind::Message.as_str())
            .fetch_optional(&mut **tx)
            .await
            .map_err(db_error)?;
            Err(match owner {
                Some(_) => WriteError::NotOwnMessage,
                None => WriteError::TargetNotFound,
            })
        }

        async fn mark_read_in_tx(
            tx: &mut sqlx::Transaction<'static, $db>,
            marker: &ReadMarker,
        ) -> Result<bool, WriteError> {
            let result = match marker.thread {
                None => sqlx::query(
                    "UPDATE members SET read_seq = $3 WHERE conversation_id = $1 \
                     AND member_id = $2 AND read_seq < $3 \
                     AND $3 <= (SELECT last_seq FROM conversations WHERE id = $1)",
                )
                .bind(marker.conversation.as_str())
                .bind(marker.member.as_str())
                .bind(marker.seq as i64)
                .execute(&mut **tx)
                .await,
                Some(root) => sqlx::query(
                    "INSERT INTO thread_reads (conversation_id, member_id, root_seq, read_seq) \
                     SELECT $1, $2, $3, $4 WHERE $4 <= (SELECT last_seq FROM conversations WHERE id = $1) \
                     ON CONFLICT (conversation_id, member_id, root_seq) \
                     DO UPDATE SET read_seq = excluded.read_seq \
                     WHERE thread_reads.read_seq < excluded.read_seq",
                )
                .bind(marker.conversation.as_str())
                .bind(marker.member.as_str())
                .bind(root as i64)
                .bind(marker.seq as i64)
                .execute(&mut **tx)
                .await,
            };
            Ok(result.map_err(db_error)?.rows_affected() > 0)
        }
    };
}

pub(crate) use impl_append_sql;
