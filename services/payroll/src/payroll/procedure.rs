//! The sanction procedure around a deduction for absence (sosialtjenesteloven
//! § 36; ARCHITECTURE.md, "Sanction procedure"): the warning (varsel) that
//! must come before a deduction decision, and the appeal (klage) against the
//! decision. An appeal's outcome is a new version of the decision (the
//! corrections' mechanism), so the next close pays back what is no longer
//! deducted. Each step is written with its event and audit entry.

use kvp_proto::kvp::events::v1 as ev;
use kvp_rules::AbsenceKind;
use kvp_store::{
    AppealOutcome, DecisionOutcome, Expected, FactChange, FactContent, FactKind, SanctionAppeal,
    SanctionWarning, WarnedDay, WarningChannel,
};
use rust_decimal::Decimal;
use serde_json::json;
use time::Date;
use uuid::Uuid;

use super::{Actor, Payroll, audit};
use crate::error::ServiceError;
use crate::ingest::sanction_id;

/// Why the sanction procedure refuses a step.
const REASON: &str = crate::error::reason::SANCTION_PROCEDURE;

/// The most days one warning names.
const MAX_WARNED_DAYS: usize = 62;

/// A warning, as given.
#[derive(Debug, Clone)]
pub struct NewWarning {
    /// The day it was given.
    pub given_on: Date,
    /// How: IN_PERSON, LETTER or DIGITAL.
    pub channel: String,
    /// The case system's reference.
    pub reference: String,
    /// The days and entry kinds it concerns.
    pub days: Vec<(Date, String)>,
}

/// An appeal's outcome, as decided.
#[derive(Debug, Clone)]
pub struct AppealDecision {
    /// UPHELD, PARTLY_UPHELD or DISMISSED.
    pub outcome: String,
    /// The day it was decided.
    pub decided_on: Date,
    /// The outcome decision's reference.
    pub reference: String,
    /// For PARTLY_UPHELD: the hours still deducted (fewer than decided).
    pub deducted_hours: Option<Decimal>,
}

impl Payroll {
    /// Records a warning about unexcused hours the participant's accepted
    /// timesheets hold (each day and kind once); the hours are those of the
    /// entries now.
    pub async fn warn(
        &self,
        participant_id: Uuid,
        new: NewWarning,
        actor: &Actor,
    ) -> Result<SanctionWarning, ServiceError> {
        let channel: WarningChannel = new
            .channel
            .parse()
            .map_err(|_| ServiceError::field("channel", "must be IN_PERSON, LETTER or DIGITAL"))?;
        if new.reference.trim().is_empty() {
            return Err(ServiceError::field("reference", "must not be empty"));
        }
        if new.days.is_empty() || new.days.len() > MAX_WARNED_DAYS {
            return Err(ServiceError::field(
                "days",
                format!("must name 1–{MAX_WARNED_DAYS} days"),
            ));
        }
        let facts = self.facts(participant_id).await?;
        let mut days: Vec<WarnedDay> = Vec::with_capacity(new.days.len());
        for (i, (date, kind)) in new.days.iter().enumerate() {
            let kind = decided_kind(kind, &format!("days[{i}].entry_kind"))?;
            if days.iter().any(|d| d.date == *date && d.entry_kind == kind) {
                return Err(ServiceError::field(
                    format!("days[{i}]"),
                    "names a day and kind named before",
                ));
            }
            let hours = entry_hours(&facts, *date, kind, &format!("days[{i}]: "))?;
            days.push(WarnedDay {
                date: *date,
                entry_kind: kind,
                hours,
            });
        }
        days.sort_by_key(|d| (d.date, d.entry_kind.as_str()));
        let now = crate::clock::now();
        let warning = SanctionWarning {
            id: Uuid::now_v7(),
            participant_id,
            given_on: new.given_on,
            channel,
            reference: new.reference.trim().to_owned(),
            days,
            recorded_by: actor.name.clone(),
            recorded_at: now,
        };
        let municipality_id = &facts.participant.municipality_id;
        let event = crate::events::outbox_event(
            kvp_proto::event_types::SANCTION_WARNED,
            municipality_id,
            participant_id.to_string(),
            &ev::SanctionWarned {
                warning_id: warning.id.to_string(),
                participant_id: participant_id.to_string(),
                municipality_id: municipality_id.clone(),
                given_on: warning.given_on.to_string(),
                hours: warning
                    .days
                    .iter()
                    .map(|d| ev::WarnedHours {
                        sanction_id: sanction_id(participant_id, d.date, d.entry_kind.as_str())
                            .to_string(),
                        date: d.date.to_string(),
                        hours: d.hours.normalize().to_string(),
                    })
                    .collect(),
                recorded_at: Some(crate::events::timestamp(now)),
            },
            now,
        );
        let entry = audit(
            actor,
            "sanction.warned",
            "participant",
            &participant_id.to_string(),
            json!({
                "warning_id": warning.id, "given_on": warning.given_on,
                "channel": warning.channel, "reference": warning.reference,
                "days": warning.days.iter().map(|d| json!({
                    "date": d.date, "entry_kind": d.entry_kind, "hours": d.hours,
                })).collect::<Vec<_>>(),
            }),
        );
        self.store
            .record_warning(&warning, &[event], &entry)
            .await?;
        Ok(warning)
    }

    /// A participant's warnings, by the day given.
    pub async fn warnings(
        &self,
        participant_id: Uuid,
    ) -> Result<Vec<SanctionWarning>, ServiceError> {
        self.store.get_participant(participant_id).await?;
        Ok(self.store.list_warnings(participant_id).await?)
    }

    /// The decision `decision_id` as it stands: its participant, content and
    /// version.
    async fn decision_content(
        &self,
        decision_id: Uuid,
    ) -> Result<(Uuid, FactContent, i64), ServiceError> {
        let latest = self
            .fact(FactKind::SanctionDecision, &decision_id.to_string())
            .await?;
        match (latest.participant_id, latest.is_void()) {
            (Some(participant_id), false) => Ok((participant_id, latest.content, latest.version)),
            _ => Err(ServiceError::NotFound {
                what: format!("sanction decision {decision_id}"),
            }),
        }
    }

    /// Records an appeal against a deduction decision (one per decision).
    pub async fn appeal(
        &self,
        decision_id: Uuid,
        received_on: Date,
        reference: String,
        actor: &Actor,
    ) -> Result<SanctionAppeal, ServiceError> {
        if reference.trim().is_empty() {
            return Err(ServiceError::field("reference", "must not be empty"));
        }
        let (participant_id, content, _) = self.decision_content(decision_id).await?;
        let FactContent::SanctionDecision {
            date,
            entry_kind,
            outcome,
            ..
        } = content
        else {
            return Err(ServiceError::internal(anyhow::anyhow!(
                "a decision's version is not a decision"
            )));
        };
        if outcome != DecisionOutcome::Approved {
            return Err(ServiceError::FailedPrecondition {
                reason: REASON,
                what: "only a decision to deduct is appealed; this one deducts nothing".into(),
            });
        }
        let participant = self.store.get_participant(participant_id).await?;
        let now = crate::clock::now();
        let appeal = SanctionAppeal {
            id: Uuid::now_v7(),
            decision_id,
            participant_id,
            received_on,
            reference: reference.trim().to_owned(),
            recorded_by: actor.name.clone(),
            recorded_at: now,
            outcome: None,
            decided_on: None,
            outcome_reference: None,
        };
        let sanction = sanction_id(participant_id, date, entry_kind.as_str());
        let event = crate::events::outbox_event(
            kvp_proto::event_types::SANCTION_APPEALED,
            &participant.municipality_id,
            participant_id.to_string(),
            &ev::SanctionAppealed {
                appeal_id: appeal.id.to_string(),
                sanction_id: sanction.to_string(),
                participant_id: participant_id.to_string(),
                municipality_id: participant.municipality_id.clone(),
                received_on: received_on.to_string(),
                recorded_at: Some(crate::events::timestamp(now)),
            },
            now,
        );
        let entry = audit(
            actor,
            "sanction.appealed",
            "participant",
            &participant_id.to_string(),
            json!({
                "appeal_id": appeal.id, "decision_id": decision_id, "sanction_id": sanction,
                "received_on": received_on, "reference": appeal.reference,
            }),
        );
        self.store
            .record_appeal(&appeal, &[event], &entry)
            .await
            .map_err(|e| match e {
                kvp_store::StoreError::Conflict { .. } => ServiceError::AlreadyExists {
                    what: format!("decision {decision_id} is appealed already"),
                },
                other => other.into(),
            })?;
        Ok(appeal)
    }

    /// A participant's appeals.
    pub async fn appeals(&self, participant_id: Uuid) -> Result<Vec<SanctionAppeal>, ServiceError> {
        self.store.get_participant(participant_id).await?;
        Ok(self.store.list_appeals(participant_id).await?)
    }

    /// The appeal against a decision.
    pub async fn appeal_of(&self, decision_id: Uuid) -> Result<SanctionAppeal, ServiceError> {
        let (participant_id, _, _) = self.decision_content(decision_id).await?;
        self.store
            .list_appeals(participant_id)
            .await?
            .into_iter()
            .find(|a| a.decision_id == decision_id)
            .ok_or_else(|| ServiceError::NotFound {
                what: format!("an appeal against decision {decision_id}"),
            })
    }

    /// Decides the open appeal against a decision: upheld, the deduction is
    /// reversed; partly upheld, fewer hours are deducted; dismissed, the
    /// decision stands. A change is the decision's next version.
    pub async fn decide_appeal(
        &self,
        decision_id: Uuid,
        decided: AppealDecision,
        actor: &Actor,
    ) -> Result<SanctionAppeal, ServiceError> {
        let outcome: AppealOutcome = decided.outcome.parse().map_err(|_| {
            ServiceError::field("outcome", "must be UPHELD, PARTLY_UPHELD or DISMISSED")
        })?;
        if decided.reference.trim().is_empty() {
            return Err(ServiceError::field("reference", "must not be empty"));
        }
        let appeal = self.appeal_of(decision_id).await?;
        if appeal.outcome.is_some() {
            return Err(ServiceError::FailedPrecondition {
                reason: REASON,
                what: format!("the appeal against decision {decision_id} is decided already"),
            });
        }
        let (participant_id, content, version) = self.decision_content(decision_id).await?;
        let FactContent::SanctionDecision {
            date,
            entry_kind,
            reference,
            reason,
            deducted_hours,
            ..
        } = content
        else {
            return Err(ServiceError::internal(anyhow::anyhow!(
                "a decision's version is not a decision"
            )));
        };
        let facts = self.facts(participant_id).await?;
        let entry_hours = entry_hours(&facts, date, entry_kind, "")?;
        let deducting = deducted_hours.unwrap_or(entry_hours).min(entry_hours);
        let changed = match (outcome, decided.deducted_hours) {
            (AppealOutcome::Upheld, None) => Some((DecisionOutcome::Rejected, None)),
            (AppealOutcome::PartlyUpheld, Some(_))
                if matches!(entry_kind, AbsenceKind::Leave | AbsenceKind::ChildSick) =>
            {
                // Their quotas count hours: which of the day's hours are
                // beyond the quota, and so deducted, is the rules' to say;
                // a cap on the entry would be taken by the quota first.
                return Err(ServiceError::FailedPrecondition {
                    reason: REASON,
                    what: format!(
                        "a partly upheld appeal on {} hours is not kept as such: decide it \
                         UPHELD or DISMISSED, or correct the timesheet's hours",
                        entry_kind.as_str()
                    ),
                });
            }
            (AppealOutcome::PartlyUpheld, Some(hours)) => {
                if hours <= Decimal::ZERO || hours >= deducting || hours.round_dp(2) != hours {
                    return Err(ServiceError::field(
                        "deducted_hours",
                        format!(
                            "must be more than 0 and fewer than the {} hours deducted now",
                            deducting.normalize()
                        ),
                    ));
                }
                Some((DecisionOutcome::Approved, Some(hours)))
            }
            (AppealOutcome::PartlyUpheld, None) => {
                return Err(ServiceError::field(
                    "deducted_hours",
                    "is required for a partly upheld appeal: the hours still deducted",
                ));
            }
            (AppealOutcome::Dismissed, None) => None,
            (_, Some(_)) => {
                return Err(ServiceError::field(
                    "deducted_hours",
                    "is given only for a partly upheld appeal",
                ));
            }
        };
        let change = changed.map(|(new_outcome, hours)| FactChange {
            kind: FactKind::SanctionDecision,
            fact_id: decision_id.to_string(),
            // The version the outcome was computed from: a correction of the
            // decision made meanwhile is not overwritten (409 to retry).
            expected: Expected::Version(version),
            content: Some(FactContent::SanctionDecision {
                date,
                entry_kind,
                outcome: new_outcome,
                reference: reference.clone(),
                reason: reason.clone(),
                deducted_hours: hours,
            }),
            reason: format!(
                "appeal {} ({})",
                outcome.as_str().to_lowercase().replace('_', " "),
                decided.reference.trim()
            ),
        });
        let participant = &facts.participant;
        let now = crate::clock::now();
        let decided_appeal = SanctionAppeal {
            outcome: Some(outcome),
            decided_on: Some(decided.decided_on),
            outcome_reference: Some(decided.reference.trim().to_owned()),
            ..appeal
        };
        let sanction = sanction_id(participant_id, date, entry_kind.as_str());
        let mut events = vec![crate::events::outbox_event(
            kvp_proto::event_types::SANCTION_APPEAL_DECIDED,
            &participant.municipality_id,
            participant_id.to_string(),
            &ev::SanctionAppealDecided {
                appeal_id: decided_appeal.id.to_string(),
                sanction_id: sanction.to_string(),
                participant_id: participant_id.to_string(),
                municipality_id: participant.municipality_id.clone(),
                outcome: match outcome {
                    AppealOutcome::Upheld => ev::AppealOutcome::Upheld,
                    AppealOutcome::PartlyUpheld => ev::AppealOutcome::PartlyUpheld,
                    AppealOutcome::Dismissed => ev::AppealOutcome::Dismissed,
                } as i32,
                deducted_hours: decided
                    .deducted_hours
                    .map(|h| h.normalize().to_string())
                    .unwrap_or_default(),
                decided_on: decided.decided_on.to_string(),
                recorded_at: Some(crate::events::timestamp(now)),
            },
            now,
        )];
        if let Some(change) = &change {
            let version = version + 1;
            events.push(crate::events::outbox_event(
                kvp_proto::event_types::FACT_CORRECTED,
                &participant.municipality_id,
                participant_id.to_string(),
                &ev::FactCorrected {
                    fact_type: change.kind.as_str().to_owned(),
                    fact_id: change.fact_id.clone(),
                    participant_id: participant_id.to_string(),
                    municipality_id: participant.municipality_id.clone(),
                    version: u32::try_from(version).unwrap_or(u32::MAX),
                    change: ev::FactChange::Corrected as i32,
                    first_month: kvp_rules::YearMonth::of(date).to_string(),
                    changed_at: Some(crate::events::timestamp(now)),
                },
                now,
            ));
        }
        let entry = audit(
            actor,
            "sanction.appeal_decided",
            "participant",
            &participant_id.to_string(),
            json!({
                "appeal_id": decided_appeal.id, "decision_id": decision_id,
                "sanction_id": sanction, "outcome": outcome,
                "deducted_hours": decided.deducted_hours, "decided_on": decided.decided_on,
                "reference": decided_appeal.outcome_reference,
            }),
        );
        self.store
            .decide_appeal(&decided_appeal, change.as_ref(), &events, &entry)
            .await
            .map_err(|e| match e {
                kvp_store::StoreError::VersionMismatch { .. } => ServiceError::FailedPrecondition {
                    reason: crate::error::reason::VERSION_MISMATCH,
                    what: format!(
                        "decision {decision_id} changed while its appeal was decided: decide again"
                    ),
                },
                kvp_store::StoreError::InvalidInput { what } => {
                    ServiceError::field("outcome", what)
                }
                other => other.into(),
            })?;
        Ok(decided_appeal)
    }
}

/// The kind of hours a sanction step names: unexcused, or a kind a quota
/// turns unexcused.
pub(super) fn decided_kind(text: &str, field: &str) -> Result<AbsenceKind, ServiceError> {
    let kind: AbsenceKind = text
        .parse()
        .map_err(|e: String| ServiceError::field(field, e))?;
    if !matches!(
        kind,
        AbsenceKind::Unexcused
            | AbsenceKind::SickSelf
            | AbsenceKind::Leave
            | AbsenceKind::ChildSick
    ) {
        return Err(ServiceError::field(
            field,
            "only unexcused hours (given so, or turned so by a quota) are decided",
        ));
    }
    Ok(kind)
}

/// The hours of the participant's `kind` entries on `date` in accepted
/// timesheets; FAILED_PRECONDITION naming `what` when there are none.
pub(super) fn entry_hours(
    facts: &kvp_store::ParticipantFacts,
    date: Date,
    kind: AbsenceKind,
    what: &str,
) -> Result<Decimal, ServiceError> {
    let mut entries = facts
        .entries
        .iter()
        .filter(|e| e.date == date && e.kind == kind)
        .peekable();
    if entries.peek().is_none() {
        return Err(ServiceError::FailedPrecondition {
            reason: REASON,
            what: format!(
                "{what}no {} entry on {date} in an accepted timesheet",
                kind.as_str()
            ),
        });
    }
    Ok(entries.map(|e| e.hours).sum())
}
