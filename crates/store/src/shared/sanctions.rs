// Caseworkers' decisions on unexcused absence: the statements of both backends, written once.
//
// Included by `postgres/sanctions.rs` and `sqlite/sanctions.rs`, each of which brings
// into scope what this code names: its store, connection and row types, how
// it binds values, its constraint names and locks (`<backend>/dialect.rs`),
// and its row mappers and helpers (`<backend>/mod.rs`, `rows.rs`).
use crate::records::FactContent;
use crate::repository::SanctionStore;

#[async_trait]
impl SanctionStore for Store {
    async fn record_decision(
        &self,
        decision: &SanctionDecision,
        events: &[NewOutboxEvent],
        audit: &NewAuditEntry,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(concat!(
            "INSERT INTO sanction_decisions (",
            decision_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        ))
        .bind(decision.id)
        .bind(decision.participant_id)
        .bind(decision.date)
        .bind(decision.entry_kind.as_str())
        .bind(decision.outcome.as_str())
        .bind(instant(decision.decided_at)?)
        .bind(&decision.decided_by)
        .bind(&decision.reference)
        .bind(&decision.reason)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            on_violation(e, |violation| match violation {
                Violation::Unique(constraint::SANCTION_DECISIONS_DAY_KEY) => Some(
                    StoreError::conflict("a decision on this day and entry kind exists"),
                ),
                Violation::Unique(constraint::SANCTION_DECISIONS_PKEY) => {
                    Some(StoreError::conflict("the decision id is taken"))
                }
                other => participant_missing(decision.participant_id)(other),
            })
        })?;
        super::facts::record_registered(
            &mut tx,
            &decision.id.to_string(),
            Some(decision.participant_id),
            FactContent::SanctionDecision {
                date: decision.date,
                entry_kind: decision.entry_kind,
                outcome: decision.outcome,
                reference: decision.reference.clone(),
                reason: decision.reason.clone(),
            },
            audit,
        )
        .await?;
        insert_events(&mut tx, events).await?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_decisions(
        &self,
        participant_id: Uuid,
    ) -> Result<Vec<SanctionDecision>, StoreError> {
        let mut conn = self.read_pool().acquire().await?;
        select_decisions(&mut conn, participant_id).await
    }
}
