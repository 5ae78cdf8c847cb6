//! Caseworkers' decisions on unexcused absence: the SQLite implementation.

use super::*;
use crate::repository::SanctionStore;

#[async_trait]
impl SanctionStore for SqliteStore {
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
            ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(decision.id)
        .bind(decision.participant_id)
        .bind(decision.date)
        .bind(&decision.entry_kind)
        .bind(decision.outcome.as_str())
        .bind(instant_text(decision.decided_at)?)
        .bind(&decision.decided_by)
        .bind(&decision.reference)
        .bind(&decision.reason)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            on_violation(e, |violation| match violation {
                Violation::Unique(
                    "sanction_decisions.participant_id, sanction_decisions.date, \
                     sanction_decisions.entry_kind",
                ) => Some(StoreError::conflict(
                    "a decision on this day and entry kind exists",
                )),
                Violation::Unique("sanction_decisions.id") => {
                    Some(StoreError::conflict("the decision id is taken"))
                }
                other => participant_missing(decision.participant_id)(other),
            })
        })?;
        insert_events(&mut tx, events).await?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_decisions(
        &self,
        participant_id: Uuid,
    ) -> Result<Vec<SanctionDecision>, StoreError> {
        let mut conn = self.reader.acquire().await?;
        select_decisions(&mut conn, participant_id).await
    }
}
