// Caseworkers' decisions on unexcused absence: the statements of both backends, written once.
//
// Included by `postgres/sanctions.rs` and `sqlite/sanctions.rs`, each of which brings
// into scope what this code names: its store, connection and row types, how
// it binds values, its constraint names and locks (`<backend>/dialect.rs`),
// and its row mappers and helpers (`<backend>/mod.rs`, `rows.rs`).
use crate::records::{FactChange, FactContent, SanctionAppeal, SanctionWarning};
use crate::repository::SanctionStore;

const WARNING_COLUMNS: &str =
    "id, participant_id, given_on, channel, reference, recorded_by, recorded_at";
const APPEAL_COLUMNS: &str = "id, decision_id, participant_id, received_on, reference, \
     recorded_by, recorded_at, outcome, decided_on, outcome_reference";

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
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
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
        .bind(&decision.legal_basis)
        .bind(decision.appeal_deadline)
        .bind(decision.warning_id)
        .bind(decision.deducted_hours.map(decimal))
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
                deducted_hours: decision.deducted_hours,
            },
            audit,
        )
        .await?;
        commit_with(tx, events, audit).await
    }

    async fn record_warning(
        &self,
        warning: &SanctionWarning,
        events: &[NewOutboxEvent],
        audit: &NewAuditEntry,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO sanction_warnings (id, participant_id, given_on, channel, reference, \
             recorded_by, recorded_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(warning.id)
        .bind(warning.participant_id)
        .bind(warning.given_on)
        .bind(warning.channel.as_str())
        .bind(&warning.reference)
        .bind(&warning.recorded_by)
        .bind(instant(warning.recorded_at)?)
        .execute(&mut *tx)
        .await
        .map_err(|e| on_violation(e, participant_missing(warning.participant_id)))?;
        for day in &warning.days {
            sqlx::query(
                "INSERT INTO sanction_warning_days (warning_id, date, entry_kind, hours) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(warning.id)
            .bind(day.date)
            .bind(day.entry_kind.as_str())
            .bind(decimal(day.hours))
            .execute(&mut *tx)
            .await?;
        }
        commit_with(tx, events, audit).await
    }

    async fn list_warnings(
        &self,
        participant_id: Uuid,
    ) -> Result<Vec<SanctionWarning>, StoreError> {
        let mut conn = self.read_pool().acquire().await?;
        let found = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {WARNING_COLUMNS} FROM sanction_warnings WHERE participant_id = $1 \
             ORDER BY given_on, recorded_at"
        )))
        .bind(participant_id)
        .fetch_all(&mut *conn)
        .await?;
        let mut warnings = rows::all(found, rows::sanction_warning)?;
        let days = sqlx::query(
            "SELECT warning_id, date, entry_kind, hours FROM sanction_warning_days \
             WHERE warning_id IN (SELECT id FROM sanction_warnings WHERE participant_id = $1) \
             ORDER BY date, entry_kind",
        )
        .bind(participant_id)
        .fetch_all(&mut *conn)
        .await?;
        for (warning_id, day) in rows::all(days, rows::warned_day)? {
            if let Some(warning) = warnings.iter_mut().find(|w| w.id == warning_id) {
                warning.days.push(day);
            }
        }
        Ok(warnings)
    }

    async fn record_appeal(
        &self,
        appeal: &SanctionAppeal,
        events: &[NewOutboxEvent],
        audit: &NewAuditEntry,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO sanction_appeals ({APPEAL_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, NULL, NULL)"
        )))
        .bind(appeal.id)
        .bind(appeal.decision_id)
        .bind(appeal.participant_id)
        .bind(appeal.received_on)
        .bind(&appeal.reference)
        .bind(&appeal.recorded_by)
        .bind(instant(appeal.recorded_at)?)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            on_violation(e, |violation| match violation {
                Violation::Unique(constraint::SANCTION_APPEALS_DECISION_KEY) => Some(
                    StoreError::conflict("the decision is appealed already"),
                ),
                Violation::ForeignKey(_) => {
                    Some(StoreError::not_found("sanction decision", appeal.decision_id))
                }
                _ => None,
            })
        })?;
        commit_with(tx, events, audit).await
    }

    async fn decide_appeal(
        &self,
        decided: &SanctionAppeal,
        change: Option<&FactChange>,
        events: &[NewOutboxEvent],
        audit: &NewAuditEntry,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        lock_participant(&mut tx, decided.participant_id).await?;
        let outcome: Option<Option<String>> =
            sqlx::query_scalar("SELECT outcome FROM sanction_appeals WHERE id = $1")
                .bind(decided.id)
                .fetch_optional(&mut *tx)
                .await?;
        match outcome {
            None => return Err(StoreError::not_found("appeal", decided.id)),
            Some(Some(_)) => {
                return Err(StoreError::invalid_state(format!(
                    "appeal {} is decided already",
                    decided.id
                )));
            }
            Some(None) => {}
        }
        if let Some(change) = change {
            super::facts::apply_change(&mut tx, change, audit).await?;
        }
        sqlx::query(
            "UPDATE sanction_appeals SET outcome = $1, decided_on = $2, outcome_reference = $3 \
             WHERE id = $4",
        )
        .bind(decided.outcome.map(AppealOutcome::as_str))
        .bind(decided.decided_on)
        .bind(&decided.outcome_reference)
        .bind(decided.id)
        .execute(&mut *tx)
        .await?;
        commit_with(tx, events, audit).await
    }

    async fn list_appeals(&self, participant_id: Uuid) -> Result<Vec<SanctionAppeal>, StoreError> {
        let found = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {APPEAL_COLUMNS} FROM sanction_appeals WHERE participant_id = $1 \
             ORDER BY received_on, recorded_at"
        )))
        .bind(participant_id)
        .fetch_all(self.read_pool())
        .await?;
        rows::all(found, rows::sanction_appeal)
    }

    async fn list_decisions(
        &self,
        participant_id: Uuid,
    ) -> Result<Vec<SanctionDecision>, StoreError> {
        let mut conn = self.read_pool().acquire().await?;
        select_decisions(&mut conn, participant_id).await
    }
}
