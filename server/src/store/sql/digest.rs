//! The e-mail digest's statements ([`DigestStore`]), compiled for each engine like
//! `engine.rs`. The lease is one conditional `UPDATE … RETURNING` on both engines: a
//! row is taken only while it is due and no lease on it is running, so two nodes never
//! hold one account at once (PostgreSQL serialises the two updates on the row lock and
//! re-checks the condition; SQLite has one writer).

macro_rules! impl_digest_store {
    ($db:ty) => {
        type LeaseRow = (String, i64, Option<Vec<u8>>, Vec<u8>, i64);

        fn digest_choice_of(choice: &str, after_hours: i64) -> Result<DigestChoice, StoreError> {
            Ok(DigestChoice {
                choice: word(choice, EmailDigest::parse, "e-mail digest choice")?,
                after_hours: u32::try_from(after_hours)
                    .map_err(|_| StoreError::Corrupt("e-mail digest hours".into()))?,
            })
        }

        fn sealed_digest_blob(blob: Vec<u8>) -> Result<Sealed, StoreError> {
            Sealed::from_bytes(&blob)
                .map_err(|_| StoreError::Corrupt("sealed e-mail digest field".into()))
        }

        #[async_trait::async_trait]
        impl DigestStore for SqlStore<$db> {
            async fn digest_choice(
                &self,
                account: &AccountId,
            ) -> StoreResult<Option<DigestChoice>> {
                let row: Option<(String, i64)> = sqlx::query_as(
                    "SELECT choice, after_hours FROM email_digests WHERE account_id = $1",
                )
                .bind(account.as_str())
                .fetch_optional(&self.read)
                .await
                .map_err(db_error)?;
                row.map(|(choice, hours)| digest_choice_of(&choice, hours))
                    .transpose()
            }

            async fn put_digest_choice(&self, update: DigestUpdate) -> StoreResult<()> {
                sqlx::query(
                    "INSERT INTO email_digests (account_id, choice, after_hours, \
                     sealed_address, unsubscribe_hash, sealed_unsubscribe, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) \
                     ON CONFLICT (account_id) DO UPDATE SET choice = excluded.choice, \
                     after_hours = excluded.after_hours, \
                     sealed_address = excluded.sealed_address, next_due_at = 0, \
                     updated_at = excluded.updated_at",
                )
                .bind(update.account.as_str())
                .bind(update.choice.choice.as_str())
                .bind(i64::from(update.choice.after_hours))
                .bind(update.address.map(|a| a.to_bytes()))
                .bind(update.unsubscribe_hash.to_vec())
                .bind(update.unsubscribe.to_bytes())
                .bind(update.now)
                .execute(&self.write)
                .await
                .map_err(db_error)?;
                Ok(())
            }

            async fn digest_address(
                &self,
                account: &AccountId,
            ) -> StoreResult<Option<Option<Sealed>>> {
                let row: Option<(Option<Vec<u8>>,)> = sqlx::query_as(
                    "SELECT sealed_address FROM email_digests \
                     WHERE account_id = $1 AND choice <> $2",
                )
                .bind(account.as_str())
                .bind(EmailDigest::Off.as_str())
                .fetch_optional(&self.read)
                .await
                .map_err(db_error)?;
                row.map(|(blob,)| blob.map(sealed_digest_blob).transpose())
                    .transpose()
            }

            async fn set_digest_address(
                &self,
                account: &AccountId,
                address: Option<Sealed>,
            ) -> StoreResult<()> {
                sqlx::query(
                    "UPDATE email_digests SET sealed_address = $2 \
                     WHERE account_id = $1 AND choice <> $3",
                )
                .bind(account.as_str())
                .bind(address.map(|a| a.to_bytes()))
                .bind(EmailDigest::Off.as_str())
                .execute(&self.write)
                .await
                .map_err(db_error)?;
                Ok(())
            }

            async fn digest_by_unsubscribe(
                &self,
                hash: &[u8; 32],
            ) -> StoreResult<Option<(AccountId, Vec<u8>)>> {
                let row: Option<(String, Vec<u8>)> = sqlx::query_as(
                    "SELECT account_id, unsubscribe_hash FROM email_digests \
                     WHERE unsubscribe_hash = $1",
                )
                .bind(hash.to_vec())
                .fetch_optional(&self.read)
                .await
                .map_err(db_error)?;
                Ok(row.map(|(account, stored)| (AccountId::from_stored(account), stored)))
            }

            async fn turn_digest_off(&self, account: &AccountId, now: Millis) -> StoreResult<()> {
                sqlx::query(
                    "UPDATE email_digests SET choice = $2, sealed_address = NULL, \
                     updated_at = $3 WHERE account_id = $1",
                )
                .bind(account.as_str())
                .bind(EmailDigest::Off.as_str())
                .bind(now)
                .execute(&self.write)
                .await
                .map_err(db_error)?;
                Ok(())
            }

            async fn due_digests(&self, now: Millis, limit: u32) -> StoreResult<Vec<AccountId>> {
                let rows: Vec<(String,)> = sqlx::query_as(
                    "SELECT account_id FROM email_digests WHERE choice <> $2 \
                     AND sealed_address IS NOT NULL AND next_due_at <= $1 \
                     AND lease_until <= $1 ORDER BY next_due_at, account_id LIMIT $3",
                )
                .bind(now)
                .bind(EmailDigest::Off.as_str())
                .bind(i64::from(limit))
                .fetch_all(&self.read)
                .await
                .map_err(db_error)?;
                Ok(rows
                    .into_iter()
                    .map(|(id,)| AccountId::from_stored(id))
                    .collect())
            }

            async fn lease_digest(
                &self,
                account: &AccountId,
                now: Millis,
                until: Millis,
            ) -> StoreResult<Option<DigestLease>> {
                let row: Option<LeaseRow> = sqlx::query_as(
                    "UPDATE email_digests SET lease_until = $3 WHERE account_id = $1 \
                     AND choice <> $4 AND next_due_at <= $2 AND lease_until <= $2 \
                     RETURNING choice, after_hours, sealed_address, sealed_unsubscribe, \
                     last_sent_at",
                )
                .bind(account.as_str())
                .bind(now)
                .bind(until)
                .bind(EmailDigest::Off.as_str())
                .fetch_optional(&self.write)
                .await
                .map_err(db_error)?;
                let Some((choice, hours, address, unsubscribe, last_sent_at)) = row else {
                    return Ok(None);
                };
                Ok(Some(DigestLease {
                    account: account.clone(),
                    choice: digest_choice_of(&choice, hours)?,
                    address: address.map(sealed_digest_blob).transpose()?,
                    unsubscribe: sealed_digest_blob(unsubscribe)?,
                    last_sent_at,
                    lease_until: until,
                }))
            }

            async fn release_digest(
                &self,
                lease: &DigestLease,
                release: DigestRelease,
            ) -> StoreResult<bool> {
                let done = sqlx::query(
                    "UPDATE email_digests SET lease_until = 0, next_due_at = $3, \
                     last_sent_at = $4 WHERE account_id = $1 AND lease_until = $2",
                )
                .bind(lease.account.as_str())
                .bind(lease.lease_until)
                .bind(release.next_due_at)
                .bind(release.last_sent_at)
                .execute(&self.write)
                .await
                .map_err(db_error)?;
                Ok(done.rows_affected() == 1)
            }

            async fn unread_since(
                &self,
                member: &MemberRecord,
                hidden: &[HiddenSender],
                after: Millis,
            ) -> StoreResult<UnreadSince> {
                // Top-level messages after the read marker and replies after their
                // thread's marker, as `unread` counts them, in one pass.
                let mut q = sqlx::QueryBuilder::<$db>::new(
                    "SELECT COUNT(*), MIN(CASE WHEN e.created_at > ",
                );
                q.push_bind(after);
                q.push(
                    " THEN e.created_at END) FROM events e LEFT JOIN thread_reads r \
                     ON r.conversation_id = e.conversation_id AND r.member_id = ",
                );
                q.push_bind(member.member.as_str());
                q.push(" AND r.root_seq = e.thread_root WHERE e.conversation_id = ");
                q.push_bind(member.conversation.as_str());
                q.push(" AND e.kind = ");
                q.push_bind(EventKind::Message.as_str());
                q.push(" AND e.deleted = 0 AND e.sender <> ");
                q.push_bind(member.member.as_str());
                q.push(" AND e.seq >= ");
                q.push_bind(member.visible_from as i64);
                q.push(" AND ((e.thread_root IS NULL AND e.seq > ");
                q.push_bind(member.read_seq as i64);
                q.push(") OR (e.thread_root IS NOT NULL AND e.seq > COALESCE(r.read_seq, 0)))");
                for sender in hidden {
                    q.push(" AND NOT (e.sender = ");
                    q.push_bind(sender.member.as_str());
                    q.push(" AND e.created_at >= ");
                    q.push_bind(sender.since);
                    q.push(")");
                }
                let (messages, first_after): (i64, Option<i64>) = q
                    .build_query_as()
                    .fetch_one(&self.read)
                    .await
                    .map_err(db_error)?;
                Ok(UnreadSince {
                    messages: messages.max(0) as u64,
                    first_after,
                })
            }
        }
    };
}

pub(crate) use impl_digest_store;
