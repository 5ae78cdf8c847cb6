// Idempotency keys: the statements of both backends, written once.
//
// Included by `postgres/idempotency.rs` and `sqlite/idempotency.rs`, each of
// which brings into scope its store, connection and row types and how it
// binds instants (`<backend>/dialect.rs`).
use crate::repository::IdempotencyStore;

/// Claims the request's idempotency key, if it carries one, in the
/// transaction of its change (called by `insert_audit`): a key another
/// request holds refuses the change with [`StoreError::KeyInUse`]. A request
/// whose several writes each claim the key finds it its own.
pub(super) async fn claim_idempotency_key(
    conn: &mut Conn,
    audit: &NewAuditEntry,
) -> Result<(), StoreError> {
    let Some(claim) = &audit.idempotency else {
        return Ok(());
    };
    let ours = sqlx::query(
        "INSERT INTO idempotency_keys (scope, idempotency_key, request_hash, request_id, \
         subject_type, subject_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (scope, idempotency_key) DO UPDATE SET request_id = excluded.request_id \
         WHERE idempotency_keys.request_id = excluded.request_id \
         RETURNING request_id",
    )
    .bind(&claim.scope)
    .bind(&claim.key)
    .bind(claim.request_hash.as_slice())
    .bind(claim.request_id)
    .bind(&audit.subject_type)
    .bind(&audit.subject_id)
    .bind(instant(audit.at)?)
    .fetch_optional(conn)
    .await?;
    match ours {
        Some(_) => Ok(()),
        None => Err(StoreError::KeyInUse),
    }
}

#[async_trait]
impl IdempotencyStore for Store {
    async fn find_idempotency(
        &self,
        scope: &str,
        key: &str,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT request_hash, request_id, subject_type, subject_id, created_at, \
             answer_status, answer_content_type, answer_body FROM idempotency_keys \
             WHERE scope = $1 AND idempotency_key = $2",
        )
        .bind(scope)
        .bind(key)
        .fetch_optional(self.write_pool())
        .await?;
        row.as_ref().map(rows::idempotency_record).transpose()
    }

    async fn record_idempotent_answer(
        &self,
        claim: &IdempotencyClaim,
        answer: &IdempotentAnswer,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let recorded = sqlx::query(
            "INSERT INTO idempotency_keys (scope, idempotency_key, request_hash, request_id, \
             created_at, answer_status, answer_content_type, answer_body) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (scope, idempotency_key) DO UPDATE SET \
             answer_status = excluded.answer_status, \
             answer_content_type = excluded.answer_content_type, \
             answer_body = excluded.answer_body \
             WHERE idempotency_keys.request_id = excluded.request_id \
             RETURNING request_id",
        )
        .bind(&claim.scope)
        .bind(&claim.key)
        .bind(claim.request_hash.as_slice())
        .bind(claim.request_id)
        .bind(instant(at)?)
        .bind(i32::from(answer.status))
        .bind(&answer.content_type)
        .bind(answer.body.as_slice())
        .fetch_optional(self.write_pool())
        .await?;
        Ok(recorded.is_some())
    }

    async fn purge_idempotency_keys(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
            .bind(instant(before)?)
            .execute(self.write_pool())
            .await?;
        Ok(done.rows_affected())
    }
}
