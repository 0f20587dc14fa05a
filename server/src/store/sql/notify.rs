//! The SQL behind [`crate::store::NotifyStore`], compiled per engine by
//! [`impl_notify_store!`]. The engines differ in one place: how a claim keeps two nodes
//! off the same rows (PostgreSQL `FOR UPDATE SKIP LOCKED`; SQLite's one writer).

pub(crate) use super::notify_rows::*;

/// Per subscribed account and conversation: messages from others it has not read
/// (top level after its read marker, replies after its thread's marker), not yet
/// notified (after its cursor), within the time window `[$2, $1]`, not from a member it
/// blocked there since the block. In rooms only once the member accepted the agreement.
pub(crate) const UNNOTIFIED_SELECT: &str = "SELECT m.account_id, m.conversation_id, \
     SUM(CASE WHEN e.thread_root IS NULL THEN 1 ELSE 0 END) AS messages, \
     SUM(CASE WHEN e.thread_root IS NULL THEN 0 ELSE 1 END) AS replies, \
     MAX(e.seq) AS last_seq, MAX(COALESCE(n.seq, 0)) AS cursor \
     FROM members m \
     JOIN conversations c ON c.id = m.conversation_id \
     JOIN events e ON e.conversation_id = m.conversation_id \
     LEFT JOIN notify_cursors n ON n.account_id = m.account_id \
       AND n.conversation_id = m.conversation_id \
     LEFT JOIN thread_reads tr ON tr.conversation_id = e.conversation_id \
       AND tr.member_id = m.member_id AND tr.root_seq = e.thread_root \
     WHERE m.left_at IS NULL \
       AND m.account_id IN (SELECT account_id FROM push_subscriptions) \
       AND (c.kind <> 'room' OR m.agreed_at IS NOT NULL) \
       AND e.kind = 'message' AND e.deleted = 0 AND e.sender <> m.member_id \
       AND e.seq >= m.visible_from AND e.seq > COALESCE(n.seq, 0) \
       AND e.created_at <= $1 AND e.created_at >= $2 \
       AND ((e.thread_root IS NULL AND e.seq > m.read_seq) \
         OR (e.thread_root IS NOT NULL AND e.seq > COALESCE(tr.read_seq, 0))) \
       AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.blocker = m.account_id \
         AND b.conversation_id = e.conversation_id AND b.member_id = e.sender \
         AND e.created_at >= b.created_at) \
     GROUP BY m.account_id, m.conversation_id \
     ORDER BY MIN(e.created_at) LIMIT $3";

/// `$1` owner, `$2` lease end, `$3` now, `$4` limit; `$lock` keeps concurrent claims
/// apart on engines with row locks.
macro_rules! claim_sql {
    ($lock:literal) => {
        concat!(
            "UPDATE notification_outbox SET lease_owner = $1, lease_until = $2, \
             attempts = attempts + 1 WHERE id IN (SELECT id FROM notification_outbox \
             WHERE state = 'pending' AND due_at <= $3 \
             AND (lease_until IS NULL OR lease_until < $3) \
             ORDER BY due_at LIMIT $4",
            $lock,
            ") AND state = 'pending' AND (lease_until IS NULL OR lease_until < $3) \
             RETURNING id, account_id, kind, conversation_id, count, attempts, created_at"
        )
    };
}
pub(crate) use claim_sql;

macro_rules! impl_notify_store {
    ($db:ty, $claim:expr) => {
        use $crate::ids::{NotificationId, PushSubscriptionId};
        use $crate::protocol::notify::NotificationPreferences;
        use $crate::store::sql::notify::*;
        use $crate::store::{
            ClaimedNotification, NewNotification, NotifyStore, OutboxEnd,
            PushSubscriptionRecord, SavedSubscription, UnnotifiedMessages,
        };

        /// Moves a cursor from `found.cursor` to `found.last_seq`, only if it is still
        /// where it was read; true if it moved.
        async fn move_cursor(
            tx: &mut sqlx::Transaction<'static, $db>,
            found: &UnnotifiedMessages,
        ) -> Result<bool, StoreError> {
            let moved = if found.cursor == 0 {
                sqlx::query(
                    "INSERT INTO notify_cursors (account_id, conversation_id, seq) \
                     VALUES ($1, $2, $3) ON CONFLICT (account_id, conversation_id) DO NOTHING",
                )
                .bind(found.account.as_str())
                .bind(found.conversation.as_str())
                .bind(found.last_seq as i64)
                .execute(&mut **tx)
                .await
                .map_err(db_error)?
            } else {
                sqlx::query(
                    "UPDATE notify_cursors SET seq = $3 WHERE account_id = $1 \
                     AND conversation_id = $2 AND seq = $4",
                )
                .bind(found.account.as_str())
                .bind(found.conversation.as_str())
                .bind(found.last_seq as i64)
                .bind(found.cursor as i64)
                .execute(&mut **tx)
                .await
                .map_err(db_error)?
            };
            Ok(moved.rows_affected() == 1)
        }

        /// Inserts a notification for an account with a subscription (no device, no
        /// row); `false` if there is none or its source was enqueued before.
        async fn insert_notification<'e, E>(
            executor: E,
            new: &NewNotification,
        ) -> Result<bool, StoreError>
        where
            E: sqlx::Executor<'e, Database = $db>,
        {
            let done = sqlx::query(
                "INSERT INTO notification_outbox (id, account_id, kind, conversation_id, \
                 count, source, state, attempts, created_at, due_at) \
                 SELECT $1, $2, $3, $4, $5, $6, 'pending', 0, $7, $7 \
                 WHERE EXISTS (SELECT 1 FROM push_subscriptions WHERE account_id = $2) \
                 ON CONFLICT (account_id, source) DO NOTHING",
            )
            .bind(new.id.as_str())
            .bind(new.account.as_str())
            .bind(new.kind.as_str())
            .bind(new.conversation.as_ref().map(|c| c.as_str().to_owned()))
            .bind(new.count.min(i64::MAX as u64) as i64)
            .bind(&new.source)
            .bind(new.now)
            .execute(executor)
            .await
            .map_err(db_error)?;
            Ok(done.rows_affected() == 1)
        }

        #[async_trait::async_trait]
        impl NotifyStore for SqlStore<$db> {
            async fn save_push_subscription(
                &self,
                record: &PushSubscriptionRecord,
                max_per_account: u32,
            ) -> Result<SavedSubscription, WriteError> {
                let mut tx = self.write.begin().await.map_err(db_error)?;
                let existing: Option<String> = sqlx::query_scalar(
                    "UPDATE push_subscriptions SET p256dh = $3, auth = $4 \
                     WHERE account_id = $1 AND endpoint = $2 RETURNING id",
                )
                .bind(record.account.as_str())
                .bind(&record.endpoint)
                .bind(&record.p256dh)
                .bind(&record.auth)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_error)?;
                if let Some(id) = existing {
                    tx.commit().await.map_err(db_error)?;
                    return Ok(SavedSubscription {
                        id: PushSubscriptionId::from_stored(id),
                        created: false,
                    });
                }
                let held: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM push_subscriptions WHERE account_id = $1",
                )
                .bind(record.account.as_str())
                .fetch_one(&mut *tx)
                .await
                .map_err(db_error)?;
                if held >= i64::from(max_per_account) {
                    return Err(WriteError::LimitReached);
                }
                sqlx::query(
                    "INSERT INTO push_subscriptions (id, account_id, endpoint, p256dh, auth, \
                     created_at) VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(record.id.as_str())
                .bind(record.account.as_str())
                .bind(&record.endpoint)
                .bind(&record.p256dh)
                .bind(&record.auth)
                .bind(record.created_at)
                .execute(&mut *tx)
                .await
                // Two saves of one endpoint at once: the loser tries again.
                .map_err(unique_as_conflict)?;
                tx.commit().await.map_err(db_error)?;
                Ok(SavedSubscription {
                    id: record.id.clone(),
                    created: true,
                })
            }

            async fn delete_push_subscription(
                &self,
                account: &AccountId,
                id: &PushSubscriptionId,
            ) -> StoreResult<bool> {
                let done = sqlx::query(
                    "DELETE FROM push_subscriptions WHERE id = $1 AND account_id = $2",
                )
                .bind(id.as_str())
                .bind(account.as_str())
                .execute(&self.write)
                .await
                .map_err(db_error)?;
                Ok(done.rows_affected() > 0)
            }

            async fn remove_push_subscription(&self, id: &PushSubscriptionId) -> StoreResult<()> {
                sqlx::query("DELETE FROM push_subscriptions WHERE id = $1")
                    .bind(id.as_str())
                    .execute(&self.write)
                    .await
                    .map_err(db_error)?;
                Ok(())
            }

            async fn push_subscriptions(
                &self,
                account: &AccountId,
            ) -> StoreResult<Vec<PushSubscriptionRecord>> {
                let rows: Vec<SubscriptionRow> = sqlx::query_as(
                    "SELECT id, account_id, endpoint, p256dh, auth, created_at \
                     FROM push_subscriptions WHERE account_id = $1 ORDER BY created_at, id",
                )
                .bind(account.as_str())
                .fetch_all(&self.read)
                .await
                .map_err(db_error)?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            async fn notification_preferences(
                &self,
                account: &AccountId,
            ) -> StoreResult<Option<NotificationPreferences>> {
                let row: Option<PreferencesRow> = sqlx::query_as(
                    "SELECT push, kind_message, kind_relationship, kind_invitation, \
                     kind_missed_call, kind_ringing_call, quiet_start, quiet_end, \
                     quiet_time_zone, ringing_in_quiet_hours, daily_cap \
                     FROM notification_preferences WHERE account_id = $1",
                )
                .bind(account.as_str())
                .fetch_optional(&self.read)
                .await
                .map_err(db_error)?;
                row.map(TryInto::try_into).transpose()
            }

            async fn save_notification_preferences(
                &self,
                account: &AccountId,
                p: &NotificationPreferences,
                now: Millis,
            ) -> StoreResult<()> {
                let (quiet_start, quiet_end) = quiet_minutes(p);
                let zone = p.quiet_hours.as_ref().map(|q| q.time_zone.clone());
                let flag = |b: bool| i64::from(b);
                sqlx::query(
                    "INSERT INTO notification_preferences (account_id, push, kind_message, \
                     kind_relationship, kind_invitation, kind_missed_call, kind_ringing_call, \
                     quiet_start, quiet_end, quiet_time_zone, ringing_in_quiet_hours, \
                     daily_cap, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
                     ON CONFLICT (account_id) DO UPDATE SET push = excluded.push, \
                     kind_message = excluded.kind_message, \
                     kind_relationship = excluded.kind_relationship, \
                     kind_invitation = excluded.kind_invitation, \
                     kind_missed_call = excluded.kind_missed_call, \
                     kind_ringing_call = excluded.kind_ringing_call, \
                     quiet_start = excluded.quiet_start, quiet_end = excluded.quiet_end, \
                     quiet_time_zone = excluded.quiet_time_zone, \
                     ringing_in_quiet_hours = excluded.ringing_in_quiet_hours, \
                     daily_cap = excluded.daily_cap, \
                     updated_at = excluded.updated_at",
                )
                .bind(account.as_str())
                .bind(flag(p.push))
                .bind(flag(p.kinds.message))
                .bind(flag(p.kinds.relationship))
                .bind(flag(p.kinds.invitation))
                .bind(flag(p.kinds.missed_call))
                .bind(flag(p.kinds.ringing_call))
                .bind(quiet_start)
                .bind(quiet_end)
                .bind(zone)
                .bind(flag(p.ringing_in_quiet_hours))
                .bind(i64::from(p.daily_cap))
                .bind(now)
                .execute(&self.write)
                .await
                .map_err(db_error)?;
                Ok(())
            }

            async fn enqueue_notification(&self, new: &NewNotification) -> StoreResult<bool> {
                insert_notification(&self.write, new).await
            }

            async fn unnotified_messages(
                &self,
                sent_before: Millis,
                sent_after: Millis,
                limit: u32,
            ) -> StoreResult<Vec<UnnotifiedMessages>> {
                let rows: Vec<UnnotifiedRow> = sqlx::query_as(UNNOTIFIED_SELECT)
                    .bind(sent_before)
                    .bind(sent_after)
                    .bind(i64::from(limit))
                    .fetch_all(&self.read)
                    .await
                    .map_err(db_error)?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            async fn enqueue_messages_notification(
                &self,
                found: &UnnotifiedMessages,
                new: &NewNotification,
            ) -> StoreResult<bool> {
                let mut tx = self.write.begin().await.map_err(db_error)?;
                if !move_cursor(&mut tx, found).await? {
                    return Ok(false);
                }
                let inserted = insert_notification(&mut *tx, new).await?;
                tx.commit().await.map_err(db_error)?;
                Ok(inserted)
            }

            async fn skip_messages(&self, found: &UnnotifiedMessages) -> StoreResult<bool> {
                let mut tx = self.write.begin().await.map_err(db_error)?;
                let moved = move_cursor(&mut tx, found).await?;
                tx.commit().await.map_err(db_error)?;
                Ok(moved)
            }

            async fn claim_notifications(
                &self,
                owner: &str,
                now: Millis,
                lease_until: Millis,
                limit: u32,
            ) -> StoreResult<Vec<ClaimedNotification>> {
                // Most ticks find nothing due: a read, so the claim's write (on SQLite
                // the one writer connection, shared with group commit) is not taken
                // every second for nothing.
                let due: Option<i64> = sqlx::query_scalar(
                    "SELECT due_at FROM notification_outbox WHERE state = 'pending' \
                     AND due_at <= $1 AND (lease_until IS NULL OR lease_until < $1) LIMIT 1",
                )
                .bind(now)
                .fetch_optional(&self.read)
                .await
                .map_err(db_error)?;
                if due.is_none() {
                    return Ok(Vec::new());
                }
                let rows: Vec<ClaimRow> = sqlx::query_as($claim)
                    .bind(owner)
                    .bind(lease_until)
                    .bind(now)
                    .bind(i64::from(limit))
                    .fetch_all(&self.write)
                    .await
                    .map_err(db_error)?;
                rows.into_iter().map(TryInto::try_into).collect()
            }

            async fn renew_notification_lease(
                &self,
                id: &NotificationId,
                owner: &str,
                lease_until: Millis,
            ) -> StoreResult<bool> {
                let done = sqlx::query(
                    "UPDATE notification_outbox SET lease_until = $3 WHERE id = $1 \
                     AND lease_owner = $2 AND state = 'pending'",
                )
                .bind(id.as_str())
                .bind(owner)
                .bind(lease_until)
                .execute(&self.write)
                .await
                .map_err(db_error)?;
                Ok(done.rows_affected() == 1)
            }

            async fn delivered_subscriptions(
                &self,
                id: &NotificationId,
            ) -> StoreResult<Vec<PushSubscriptionId>> {
                let rows: Vec<String> = sqlx::query_scalar(
                    "SELECT subscription_id FROM push_deliveries WHERE outbox_id = $1",
                )
                .bind(id.as_str())
                .fetch_all(&self.write)
                .await
                .map_err(db_error)?;
                Ok(rows.into_iter().map(PushSubscriptionId::from_stored).collect())
            }

            async fn record_push_delivery(
                &self,
                id: &NotificationId,
                subscription: &PushSubscriptionId,
            ) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO push_deliveries (outbox_id, subscription_id) VALUES ($1, $2) \
                     ON CONFLICT (outbox_id, subscription_id) DO NOTHING",
                )
                .bind(id.as_str())
                .bind(subscription.as_str())
                .execute(&self.write)
                .await
                .map_err(db_error)?;
                Ok(())
            }

            async fn finish_notification(
                &self,
                id: &NotificationId,
                owner: &str,
                end: OutboxEnd,
                now: Millis,
            ) -> StoreResult<bool> {
                let done = sqlx::query(
                    "UPDATE notification_outbox SET state = $3, done_at = $4, \
                     lease_owner = NULL, lease_until = NULL \
                     WHERE id = $1 AND lease_owner = $2 AND state = 'pending'",
                )
                .bind(id.as_str())
                .bind(owner)
                .bind(end.as_str())
                .bind(now)
                .execute(&self.write)
                .await
                .map_err(db_error)?;
                Ok(done.rows_affected() == 1)
            }

            async fn release_notification(
                &self,
                id: &NotificationId,
                owner: &str,
                due_at: Millis,
                undo_attempt: bool,
            ) -> StoreResult<bool> {
                let done = sqlx::query(
                    "UPDATE notification_outbox SET due_at = $3, lease_owner = NULL, \
                     lease_until = NULL, attempts = attempts - $4 \
                     WHERE id = $1 AND lease_owner = $2 AND state = 'pending'",
                )
                .bind(id.as_str())
                .bind(owner)
                .bind(due_at)
                .bind(i64::from(undo_attempt))
                .execute(&self.write)
                .await
                .map_err(db_error)?;
                Ok(done.rows_affected() == 1)
            }

            async fn notifications_sent_since(
                &self,
                account: &AccountId,
                since: Millis,
            ) -> StoreResult<u32> {
                let n: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM notification_outbox WHERE account_id = $1 \
                     AND state = 'sent' AND done_at >= $2",
                )
                .bind(account.as_str())
                .bind(since)
                .fetch_one(&self.read)
                .await
                .map_err(db_error)?;
                Ok(n.clamp(0, i64::from(u32::MAX)) as u32)
            }

            async fn prune_notifications(&self, before: Millis) -> StoreResult<u64> {
                let done = sqlx::query(
                    "DELETE FROM notification_outbox WHERE state <> 'pending' AND done_at < $1",
                )
                .bind(before)
                .execute(&self.write)
                .await
                .map_err(db_error)?;
                Ok(done.rows_affected())
            }
        }
    };
}
pub(crate) use impl_notify_store;
