// The transactional outbox, relay side: the statements of both backends, written once.
//
// Included by `postgres/outbox.rs` and `sqlite/outbox.rs`, each of which brings
// into scope what this code names: its store, connection and row types, how
// it binds values and its row locks (`<backend>/dialect.rs`, `<backend>/mod.rs`),
// and its row mappers (`rows.rs`).
use crate::repository::OutboxStore;

#[async_trait]
impl OutboxStore for Store {
    async fn claim_outbox(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<OutboxEvent>, StoreError> {
        // Select and lease in one statement. PostgreSQL: FOR UPDATE SKIP
        // LOCKED, so a concurrent claimer passes over the rows this statement
        // holds, and once it commits their new available_at keeps them out of
        // every claim until the lease ends. SQLite: the write transaction
        // holds the database's lock, so no other claimer, in this process or
        // another, sees the rows before the lease.
        let mut tx = self.begin_write().await?;
        let found = sqlx::query(concat!(
            "UPDATE outbox_events SET available_at = $1 WHERE seq IN (\
                 SELECT seq FROM outbox_events \
                 WHERE delivered_at IS NULL AND available_at <= $2 \
                 ORDER BY created_at, seq LIMIT $3",
            for_update_skip_locked!(),
            ") RETURNING seq, ",
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
        // One statement: COALESCE keeps the first delivery's instant.
        let known: Option<Uuid> = sqlx::query_scalar(
            "UPDATE outbox_events SET delivered_at = COALESCE(delivered_at, $1) \
             WHERE id = $2 RETURNING id",
        )
        .bind(instant(at)?)
        .bind(id)
        .fetch_optional(self.write_pool())
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
        // The row is locked (PostgreSQL) or the database is (SQLite), so a
        // delivery recorded meanwhile is seen and not counted as a failure.
        let mut tx = self.begin_write().await?;
        let known: Option<Uuid> = sqlx::query_scalar(concat!(
            "SELECT id FROM outbox_events WHERE id = $1",
            for_update!()
        ))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        if known.is_none() {
            return Err(StoreError::not_found("outbox event", id));
        }
        sqlx::query(
            "UPDATE outbox_events \
             SET attempts = attempts + 1, last_error = $1, available_at = $2 \
             WHERE id = $3 AND delivered_at IS NULL",
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
                .fetch_one(self.read_pool())
                .await?,
        )
    }
}
