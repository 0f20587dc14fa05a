//! Call metadata statements, compiled for each engine like `engine.rs` (kept apart so
//! the call feature touches the shared engine file only with three delegating lines).

macro_rules! impl_call_sql {
    ($db:ty) => {
        async fn insert_call(pool: &sqlx::Pool<$db>, call: &CallRecord) -> StoreResult<()> {
            sqlx::query(
                "INSERT INTO calls (id, conversation_id, media, started_at, participants) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(call.id.as_str())
            .bind(call.conversation.as_str())
            .bind(call.media.as_str())
            .bind(call.started_at)
            .bind(i64::from(call.participants))
            .execute(pool)
            .await
            .map_err(db_error)?;
            Ok(())
        }

        async fn finish_call(pool: &sqlx::Pool<$db>, call: &CallRecord) -> StoreResult<()> {
            sqlx::query(
                "UPDATE calls SET answered_at = $2, ended_at = $3, participants = $4, \
                 end_reason = $5 WHERE id = $1",
            )
            .bind(call.id.as_str())
            .bind(call.answered_at)
            .bind(call.ended_at)
            .bind(i64::from(call.participants))
            .bind(call.end_reason.map(|r| r.as_str()))
            .execute(pool)
            .await
            .map_err(db_error)?;
            Ok(())
        }

        async fn select_call(
            pool: &sqlx::Pool<$db>,
            id: &CallId,
        ) -> StoreResult<Option<CallRecord>> {
            type Row = (
                String,
                String,
                String,
                i64,
                Option<i64>,
                Option<i64>,
                i64,
                Option<String>,
            );
            let row: Option<Row> = sqlx::query_as(
                "SELECT id, conversation_id, media, started_at, answered_at, ended_at, \
                 participants, end_reason FROM calls WHERE id = $1",
            )
            .bind(id.as_str())
            .fetch_optional(pool)
            .await
            .map_err(db_error)?;
            use $crate::protocol::call::{Media, Reason};
            let Some(r) = row else { return Ok(None) };
            Ok(Some(CallRecord {
                id: CallId::from_stored(r.0),
                conversation: ConversationId::from_stored(r.1),
                media: word(&r.2, Media::parse, "call media")?,
                started_at: r.3,
                answered_at: r.4,
                ended_at: r.5,
                participants: u32::try_from(r.6).unwrap_or(u32::MAX),
                end_reason: r
                    .7
                    .map(|e| word(&e, Reason::parse, "call end reason"))
                    .transpose()?,
            }))
        }
    };
}

pub(crate) use impl_call_sql;
