//! Parameters registered at run time (the G): the SQLite implementation.

use super::*;
use crate::repository::ParameterStore;

#[async_trait]
impl ParameterStore for SqliteStore {
    async fn register_g(
        &self,
        g: &RegisteredG,
        events: &[NewOutboxEvent],
        audit: &NewAuditEntry,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO registered_g (effective_date, value, reference, registered_at) \
             VALUES (?, ?, ?, ?)",
        )
        .bind(g.effective_date)
        .bind(decimal_text(g.value))
        .bind(&g.reference)
        .bind(instant_text(g.registered_at)?)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            on_violation(e, |violation| match violation {
                Violation::Unique(_) => Some(StoreError::conflict(format!(
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
        .fetch_all(&self.reader)
        .await?;
        rows::all(found, rows::registered_g)
    }
}
