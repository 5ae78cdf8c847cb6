//! Sanction decisions (vedtak om trekk) on unexcused hours: recorded with the
//! `DeductionDecided` event and the audit entry in one transaction. A
//! deduction follows a warning (varsel) on the same hours, and names its
//! legal basis and the last day of appeal (ARCHITECTURE.md, "Sanction
//! procedure"; warnings and appeals in `procedure.rs`).

use kvp_store::{DecisionOutcome, SanctionDecision};
use serde_json::json;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use super::{Actor, Payroll, audit};
use crate::error::ServiceError;

/// The legal basis a deduction decision gives.
pub const LEGAL_BASIS: &str = "sosialtjenesteloven § 36";

/// The appeal period from the decision (forvaltningsloven § 29: three weeks
/// from notice; the decision date stands in for the day of notice).
const APPEAL_PERIOD: time::Duration = time::Duration::weeks(3);

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
        let kind = super::procedure::decided_kind(&new.entry_kind, "entry_kind")?;
        let outcome: DecisionOutcome = new
            .outcome
            .parse()
            .map_err(|_| ServiceError::field("outcome", "must be APPROVED or REJECTED"))?;
        if new.reference.trim().is_empty() {
            return Err(ServiceError::field("reference", "must not be empty"));
        }
        let facts = self.facts(participant_id).await?;
        let hours = super::procedure::entry_hours(&facts, new.date, kind, "")?;
        let decided_at = new.decided_at.unwrap_or_else(crate::clock::now);
        // The decision date (vedtaksdato) is a Norwegian date.
        let decided_on = kvp_rules::calendar::date_in_norway(decided_at);
        // § 36: a deduction only after the participant was warned about
        // these hours; a decision not to deduct needs no warning.
        let warning = self
            .warning_covering(participant_id, (new.date, kind), decided_on)
            .await?;
        if outcome == DecisionOutcome::Approved && warning.is_none() {
            return Err(no_warning(new.date, kind));
        }
        let decision = SanctionDecision {
            id: Uuid::now_v7(),
            participant_id,
            date: new.date,
            entry_kind: kind,
            outcome,
            decided_at,
            decided_by: actor.name.clone(),
            reference: new.reference.clone(),
            reason: new.reason.clone(),
            legal_basis: LEGAL_BASIS.to_owned(),
            appeal_deadline: decided_on.checked_add(APPEAL_PERIOD),
            warning_id: warning.map(|w| w.id),
            deducted_hours: None,
        };
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
                decided_on: decided_on.to_string(),
                decision_reference: new.reference.clone(),
                decided_at: Some(crate::events::timestamp(decision.decided_at)),
                legal_basis: decision.legal_basis.clone(),
                appeal_deadline: decision
                    .appeal_deadline
                    .map(|d| d.to_string())
                    .unwrap_or_default(),
            },
            crate::clock::now(),
        );
        let entry = audit(
            actor,
            "sanction.decided",
            "participant",
            &participant_id.to_string(),
            json!({
                "decision_id": decision.id, "sanction_id": sanction_id, "date": new.date,
                "entry_kind": decision.entry_kind, "outcome": new.outcome,
                "reference": new.reference, "warning_id": decision.warning_id,
                "legal_basis": decision.legal_basis, "appeal_deadline": decision.appeal_deadline,
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

    /// The warning given by `by` that covers the participant's `kind` hours
    /// of `date`, if one was.
    pub(super) async fn warning_covering(
        &self,
        participant_id: Uuid,
        (date, kind): (Date, kvp_rules::AbsenceKind),
        by: Date,
    ) -> Result<Option<kvp_store::SanctionWarning>, ServiceError> {
        Ok(self
            .store
            .list_warnings(participant_id)
            .await?
            .into_iter()
            .filter(|w| w.given_on <= by)
            .find(|w| {
                w.days
                    .iter()
                    .any(|d| d.date == date && d.entry_kind == kind)
            }))
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

/// A deduction refused for want of a warning (§ 36).
pub(super) fn no_warning(date: Date, kind: kvp_rules::AbsenceKind) -> ServiceError {
    ServiceError::FailedPrecondition {
        reason: crate::error::reason::SANCTION_PROCEDURE,
        what: format!(
            "no warning (varsel) given by the decision date covers the {} hours of {date}: \
             give and record the warning first ({LEGAL_BASIS})",
            kind.as_str()
        ),
    }
}
