//! The transactional outbox, relay side: the SQLite implementation.

use super::*;
use crate::repository::OutboxStore;

#[async_trait]
impl OutboxStore for SqliteStore {
    async fn claim_outbox(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<OutboxEvent>, StoreError> {
        // Select and lease in one statement, inside BEGIN IMMEDIATE: no other
        // claimer, in this process or another, sees the rows before the lease.
        let mut tx = self.begin_write().await?;
        let found = sqlx::query(concat!(
            "UPDATE outbox_events SET available_at = ? WHERE seq IN (\
                 SELECT seq FROM outbox_events \
                 WHERE delivered_at IS NULL AND available_at <= ? \
                 ORDER BY created_at, seq LIMIT ?) \
             RETURNING seq, ",
            outbox_columns!()
        ))
        .bind(instant(lease_until)?)
        .bind(instant(now)?)
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let mut claimed = Vec::with_capacity(found.len());
        for row in &found {
            let seq: i64 = row.try_get("seq")?;
            claimed.push((seq, rows::outbox_event(row)?));
        }
        // RETURNING does not keep the subquery's order.
        claimed.sort_by_key(|(seq, event)| (event.created_at, *seq));
        Ok(claimed.into_iter().map(|(_, event)| event).collect())
    }

    async fn mark_delivered(&self, id: Uuid, at: OffsetDateTime) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let known: Option<i64> = sqlx::query_scalar("SELECT 1 FROM outbox_events WHERE id = ?")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        if known.is_none() {
            return Err(StoreError::not_found("outbox event", id));
        }
        sqlx::query(
            "UPDATE outbox_events SET delivered_at = ? WHERE id = ? AND delivered_at IS NULL",
        )
        .bind(instant(at)?)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn mark_failed(
        &self,
        id: Uuid,
        error: &str,
        retry_at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let known: Option<i64> = sqlx::query_scalar("SELECT 1 FROM outbox_events WHERE id = ?")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        if known.is_none() {
            return Err(StoreError::not_found("outbox event", id));
        }
        sqlx::query(
            "UPDATE outbox_events SET attempts = attempts + 1, last_error = ?, available_at = ? \
             WHERE id = ? AND delivered_at IS NULL",
        )
        .bind(error)
        .bind(instant(retry_at)?)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn outbox_backlog(&self) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM outbox_events WHERE delivered_at IS NULL")
                .fetch_one(&self.reader)
                .await?,
        )
    }
}
