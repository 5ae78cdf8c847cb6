//! Parameters registered at run time (the G): the PostgreSQL implementation.

use super::*;
use crate::repository::ParameterStore;

#[async_trait]
impl ParameterStore for PostgresStore {
    async fn register_g(
        &self,
        g: &RegisteredG,
        events: &[NewOutboxEvent],
        audit: &NewAuditEntry,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO registered_g (effective_date, value, reference, registered_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(g.effective_date)
        .bind(g.value)
        .bind(&g.reference)
        .bind(g.registered_at)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            on_violation(e, |violation| match violation {
                Violation::Unique("registered_g_pkey") => Some(StoreError::conflict(format!(
                    "a grunnbeløp effective {} is registered already",
                    g.effective_date
                ))),
                _ => None,
            })
        })?;
        insert_events(&mut tx, events).await?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_registered_g(&self) -> Result<Vec<RegisteredG>, StoreError> {
        let found = sqlx::query(
            "SELECT effective_date, value, reference, registered_at FROM registered_g \
             ORDER BY effective_date",
        )
        .fetch_all(&self.pool)
        .await?;
        rows::all(found, rows::registered_g)
    }
}
