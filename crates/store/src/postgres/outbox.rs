//! The transactional outbox, relay side: the PostgreSQL implementation.

use super::*;
use crate::repository::OutboxStore;

#[async_trait]
impl OutboxStore for PostgresStore {
    async fn claim_outbox(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<OutboxEvent>, StoreError> {
        // FOR UPDATE SKIP LOCKED: a concurrent claimer passes over the rows
        // this statement holds; once it commits, their new available_at keeps
        // them out of every claim until the lease ends (a claimer that reads
        // a row just leased re-checks it against the committed version).
        let found = sqlx::query(concat!(
            "WITH claimable AS (\
                 SELECT seq FROM outbox_events \
                 WHERE delivered_at IS NULL AND available_at <= $1 \
                 ORDER BY created_at, seq LIMIT $2 \
                 FOR UPDATE SKIP LOCKED) \
             UPDATE outbox_events o SET available_at = $3 FROM claimable \
             WHERE o.seq = claimable.seq \
             RETURNING o.seq, ",
            outbox_columns!()
        ))
        .bind(now)
        .bind(i64::from(limit))
        .bind(lease_until)
        .fetch_all(&self.pool)
        .await?;
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
        // One statement: COALESCE keeps the first delivery's instant.
        let known: Option<i32> = sqlx::query_scalar(
            "UPDATE outbox_events SET delivered_at = COALESCE(delivered_at, $1) \
             WHERE id = $2 RETURNING 1",
        )
        .bind(at)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        known
            .map(|_| ())
            .ok_or_else(|| StoreError::not_found("outbox event", id))
    }

    async fn mark_failed(
        &self,
        id: Uuid,
        error: &str,
        retry_at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let delivered: Option<Option<OffsetDateTime>> =
            sqlx::query_scalar("SELECT delivered_at FROM outbox_events WHERE id = $1 FOR UPDATE")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        match delivered {
            None => return Err(StoreError::not_found("outbox event", id)),
            Some(Some(_)) => {}
            Some(None) => {
                sqlx::query(
                    "UPDATE outbox_events \
                     SET attempts = attempts + 1, last_error = $1, available_at = $2 \
                     WHERE id = $3",
                )
                .bind(error)
                .bind(retry_at)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn outbox_backlog(&self) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM outbox_events WHERE delivered_at IS NULL")
                .fetch_one(&self.pool)
                .await?,
        )
    }
}
