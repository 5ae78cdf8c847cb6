//! Sanction decisions (vedtak om trekk) on unexcused hours: recorded with the
//! `DeductionDecided` event and the audit entry in one transaction.

use kvp_rules::AbsenceKind;
use kvp_store::{DecisionOutcome, SanctionDecision};
use rust_decimal::Decimal;
use serde_json::json;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use super::{Actor, Payroll, audit};
use crate::error::ServiceError;

/// A caseworker's decision, as given.
#[derive(Debug, Clone)]
pub struct NewDecision {
    /// The day of the hours.
    pub date: Date,
    /// The kind of the entry decided on: UNEXCUSED, or SICK_SELF, LEAVE or
    /// CHILD_SICK for hours a quota turned unexcused.
    pub entry_kind: String,
    /// APPROVED (deduct) or REJECTED (pay).
    pub outcome: String,
    /// The decision's reference.
    pub reference: String,
    /// The reasoning given to the participant.
    pub reason: String,
    /// When it was decided; now if absent.
    pub decided_at: Option<OffsetDateTime>,
}

impl Payroll {
    /// Records a sanction decision on a participant's unexcused hours of one
    /// day and kind, which an accepted timesheet must hold; the month is
    /// recomputed from it. One decision per hours (ALREADY_EXISTS after).
    pub async fn decide(
        &self,
        participant_id: Uuid,
        new: NewDecision,
        actor: &Actor,
    ) -> Result<SanctionDecision, ServiceError> {
        let kind: AbsenceKind = new
            .entry_kind
            .parse()
            .map_err(|e: String| ServiceError::field("entry_kind", e))?;
        if !matches!(
            kind,
            AbsenceKind::Unexcused
                | AbsenceKind::SickSelf
                | AbsenceKind::Leave
                | AbsenceKind::ChildSick
        ) {
            return Err(ServiceError::field(
                "entry_kind",
                "only unexcused hours (given so, or turned so by a quota) are decided",
            ));
        }
        let outcome: DecisionOutcome = new
            .outcome
            .parse()
            .map_err(|_| ServiceError::field("outcome", "must be APPROVED or REJECTED"))?;
        if new.reference.trim().is_empty() {
            return Err(ServiceError::field("reference", "must not be empty"));
        }
        let facts = self.facts(participant_id).await?;
        if !facts
            .entries
            .iter()
            .any(|e| e.date == new.date && e.kind == kind)
        {
            return Err(ServiceError::FailedPrecondition {
                what: format!(
                    "no {} entry on {} in an accepted timesheet",
                    kind.as_str(),
                    new.date
                ),
            });
        }
        let decision = SanctionDecision {
            id: Uuid::now_v7(),
            participant_id,
            date: new.date,
            entry_kind: kind,
            outcome,
            decided_at: new.decided_at.unwrap_or_else(OffsetDateTime::now_utc),
            decided_by: actor.name.clone(),
            reference: new.reference.clone(),
            reason: new.reason.clone(),
        };
        let hours: Decimal = facts
            .entries
            .iter()
            .filter(|e| e.date == new.date && e.kind == kind)
            .map(|e| e.hours)
            .sum();
        let sanction_id = crate::ingest::sanction_id(participant_id, new.date, kind.as_str());
        let event = crate::events::outbox_event(
            kvp_proto::event_types::DEDUCTION_DECIDED,
            &facts.participant.municipality_id,
            participant_id.to_string(),
            &kvp_proto::kvp::events::v1::DeductionDecided {
                sanction_id: sanction_id.to_string(),
                participant_id: participant_id.to_string(),
                municipality_id: facts.participant.municipality_id.clone(),
                date: new.date.to_string(),
                hours: hours.normalize().to_string(),
                decision: match outcome {
                    DecisionOutcome::Approved => {
                        kvp_proto::kvp::events::v1::DeductionDecision::Approved
                    }
                    DecisionOutcome::Rejected => {
                        kvp_proto::kvp::events::v1::DeductionDecision::Rejected
                    }
                } as i32,
                decided_on: decision.decided_at.date().to_string(),
                decision_reference: new.reference.clone(),
                decided_at: Some(crate::events::timestamp(decision.decided_at)),
            },
            OffsetDateTime::now_utc(),
        );
        let entry = audit(
            actor,
            "sanction.decided",
            "participant",
            &participant_id.to_string(),
            json!({
                "decision_id": decision.id, "sanction_id": sanction_id, "date": new.date,
                "entry_kind": decision.entry_kind, "outcome": new.outcome,
                "reference": new.reference,
            }),
        );
        self.store
            .record_decision(&decision, &[event], &entry)
            .await
            .map_err(|e| match e {
                kvp_store::StoreError::Conflict { .. } => ServiceError::AlreadyExists {
                    what: "a decision on these hours is already recorded".into(),
                },
                other => other.into(),
            })?;
        Ok(decision)
    }

    /// A participant's sanction decisions (NOT_FOUND for an unknown participant).
    pub async fn decisions(
        &self,
        participant_id: Uuid,
    ) -> Result<Vec<SanctionDecision>, ServiceError> {
        self.store.get_participant(participant_id).await?;
        Ok(self.store.list_decisions(participant_id).await?)
    }
}
