//! The audit trail and its hash chain: the PostgreSQL implementation.

use super::*;
use crate::repository::AuditStore;

#[async_trait]
impl AuditStore for PostgresStore {
    async fn list_audit(
        &self,
        subject_type: &str,
        subject_id: &str,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let found = sqlx::query(
            "SELECT id, at, actor, action, subject_type, subject_id, details \
             FROM audit_entries WHERE subject_type = $1 AND subject_id = $2 ORDER BY seq",
        )
        .bind(subject_type)
        .bind(subject_id)
        .fetch_all(&self.pool)
        .await?;
        rows::all(found, rows::audit_entry)
    }

    async fn verify_audit_chain(&self) -> Result<AuditVerification, StoreError> {
        // One snapshot for every page: entries appended meanwhile are not seen.
        let mut tx = self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await?;
        let mut walk = ChainWalk::new();
        let mut after = 0i64;
        while !walk.is_broken() {
            let page = sqlx::query(
                "SELECT seq, chain_seq, prev_hash, hash, at, actor, action, subject_type, \
                 subject_id, details FROM audit_entries WHERE seq > $1 ORDER BY seq LIMIT $2",
            )
            .bind(after)
            .bind(AUDIT_PAGE)
            .fetch_all(&mut *tx)
            .await?;
            let Some(last) = page.last() else { break };
            after = last.try_get("seq")?;
            for row in &page {
                walk.visit(rows::audit_link(row)?);
            }
        }
        tx.commit().await?;
        Ok(walk.finish())
    }
}
