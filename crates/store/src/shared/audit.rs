// The audit trail and its hash chain: the statements of both backends, written once.
//
// Included by `postgres/audit.rs` and `sqlite/audit.rs`, each of which brings
// into scope what this code names: its store, connection and row types, how
// it binds values, its constraint names and locks (`<backend>/dialect.rs`),
// and its row mappers and helpers (`<backend>/mod.rs`, `rows.rs`).
use crate::repository::AuditStore;

#[async_trait]
impl AuditStore for Store {
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
        .fetch_all(self.read_pool())
        .await?;
        rows::all(found, rows::audit_entry)
    }

    async fn audit_chain_hash(&self, seq: Option<u64>) -> Result<Option<(u64, [u8; 32])>, StoreError> {
        let row = match seq {
            Some(seq) => sqlx::query(
                "SELECT chain_seq, hash FROM audit_entries WHERE chain_seq = $1",
            )
            .bind(i64::try_from(seq).map_err(|_| StoreError::corrupt("audit chain_seq"))?),
            None => sqlx::query(
                "SELECT chain_seq, hash FROM audit_entries WHERE chain_seq IS NOT NULL \
                 ORDER BY chain_seq DESC LIMIT 1",
            ),
        }
        .fetch_optional(self.read_pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let seq: i64 = row.try_get("chain_seq")?;
        let hash: Vec<u8> = row.try_get("hash")?;
        let seq = u64::try_from(seq).map_err(|_| StoreError::corrupt("audit chain_seq"))?;
        let hash = <[u8; 32]>::try_from(hash.as_slice())
            .map_err(|_| StoreError::corrupt("audit hash"))?;
        Ok(Some((seq, hash)))
    }

    async fn verify_audit_chain(&self) -> Result<AuditVerification, StoreError> {
        // One snapshot for every page: entries appended meanwhile are not seen.
        let mut tx = self.begin_snapshot().await?;
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
