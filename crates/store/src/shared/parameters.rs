// Parameters registered at run time (the G): the statements of both backends, written once.
//
// Included by `postgres/parameters.rs` and `sqlite/parameters.rs`, each of which brings
// into scope what this code names: its store, connection and row types, how
// it binds values, its constraint names and locks (`<backend>/dialect.rs`),
// and its row mappers and helpers (`<backend>/mod.rs`, `rows.rs`).
use crate::records::FactContent;
use crate::repository::ParameterStore;

#[async_trait]
impl ParameterStore for Store {
    async fn register_g(
        &self,
        g: &RegisteredG,
        events: &[NewOutboxEvent],
        audit: &NewAuditEntry,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO registered_g (effective_date, value, reference, registered_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(g.effective_date)
        .bind(decimal(g.value))
        .bind(&g.reference)
        .bind(instant(g.registered_at)?)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            on_violation(e, |violation| match violation {
                Violation::Unique(constraint::REGISTERED_G_PKEY) => {
                    Some(StoreError::conflict(format!(
                        "a grunnbeløp effective {} is registered already",
                        g.effective_date
                    )))
                }
                _ => None,
            })
        })?;
        super::facts::record_registered(
            &mut tx,
            &g.effective_date.to_string(),
            None,
            FactContent::RegisteredG {
                value: g.value,
                reference: g.reference.clone(),
            },
            audit,
        )
        .await?;
        commit_with(tx, events, audit).await
    }

    async fn list_registered_g(&self) -> Result<Vec<RegisteredG>, StoreError> {
        let found = sqlx::query(
            "SELECT effective_date, value, reference, registered_at FROM registered_g \
             ORDER BY effective_date",
        )
        .fetch_all(self.read_pool())
        .await?;
        rows::all(found, rows::registered_g)
    }
}
