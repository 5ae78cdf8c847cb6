//! Corrections and voids of the facts that change money (ARCHITECTURE.md,
//! "Facts over time"): each is a new version of the fact, with who, when and
//! why, an audit entry and a `FactCorrected` event, written together. The
//! triggers of the fact tables mark the months the change reaches, and the
//! next close pays or recovers the difference attributed to each of them.

use kvp_proto::kvp::events::v1 as ev;
use kvp_rules::YearMonth;
use kvp_store::{Expected, FactChange, FactContent, FactKind, FactVersion};
use rust_decimal::Decimal;
use serde_json::json;

use super::{Actor, Payroll, Precondition, audit};
use crate::error::ServiceError;

/// The longest reason for a correction or void kept.
const MAX_REASON: usize = 1000;

/// The source of events about national facts (a G).
const NATIONAL: &str = "national";

/// A correction or void to make.
#[derive(Debug, Clone)]
pub struct FactCorrection {
    /// The corrected fact, or `None` to void it.
    pub content: Option<FactContent>,
    /// Why (shown in the fact's history; never sent in an event).
    pub reason: String,
    /// The version read (`If-Match`).
    pub precondition: Precondition,
}

impl Payroll {
    /// Every version of a fact, oldest first.
    pub async fn fact_versions(
        &self,
        kind: FactKind,
        fact_id: &str,
    ) -> Result<Vec<FactVersion>, ServiceError> {
        Ok(self.store.fact_versions(kind, fact_id).await?)
    }

    /// A fact's latest version.
    pub async fn fact(&self, kind: FactKind, fact_id: &str) -> Result<FactVersion, ServiceError> {
        self.fact_versions(kind, fact_id)
            .await?
            .pop()
            .ok_or_else(|| ServiceError::NotFound {
                what: format!("{kind} {fact_id}"),
            })
    }

    /// Corrects or voids a fact from the version read; answers the version
    /// recorded. The corrected content is checked as a new fact of its kind
    /// is; a void fact stays void (409), a stale version is 412.
    pub async fn correct_fact(
        &self,
        kind: FactKind,
        fact_id: &str,
        correction: FactCorrection,
        actor: &Actor,
    ) -> Result<FactVersion, ServiceError> {
        let reason = correction.reason.trim();
        if reason.is_empty() || reason.chars().count() > MAX_REASON {
            return Err(ServiceError::field(
                "reason",
                format!("must be 1–{MAX_REASON} characters"),
            ));
        }
        let expected = match correction.precondition {
            Precondition::None => {
                return Err(ServiceError::PreconditionRequired {
                    what: format!("{kind} {fact_id}: a change needs If-Match with the ETag read"),
                });
            }
            Precondition::Absent => {
                return Err(ServiceError::PreconditionFailed {
                    what: format!("{kind} {fact_id} exists: a correction changes what exists"),
                });
            }
            Precondition::Existing => Expected::Existing,
            Precondition::Version(version) => Expected::Version(version),
        };
        let latest = self.fact(kind, fact_id).await?;
        if kind == FactKind::SanctionDecision
            && let Some(participant_id) = latest.participant_id
        {
            self.check_decision_change(participant_id, fact_id, correction.content.as_ref())
                .await?;
        }
        let municipality_id = match latest.participant_id {
            Some(participant_id) => {
                let participant = self.store.get_participant(participant_id).await?;
                if let Some(content) = &correction.content {
                    check_content(content, kind, participant.birth_date)?;
                }
                participant.municipality_id
            }
            None => {
                if let Some(content) = &correction.content {
                    check_content(content, kind, time::Date::MIN)?;
                }
                NATIONAL.to_owned()
            }
        };
        let voiding = correction.content.is_none();
        let first_month = first_month(&latest.content, correction.content.as_ref());
        let now = crate::clock::now();
        let event = crate::events::outbox_event(
            kvp_proto::event_types::FACT_CORRECTED,
            &municipality_id,
            latest
                .participant_id
                .map_or_else(|| format!("{kind}/{fact_id}"), |p| p.to_string()),
            &ev::FactCorrected {
                fact_type: kind.as_str().to_owned(),
                fact_id: fact_id.to_owned(),
                participant_id: latest
                    .participant_id
                    .map(|p| p.to_string())
                    .unwrap_or_default(),
                municipality_id: if latest.participant_id.is_some() {
                    municipality_id.clone()
                } else {
                    String::new()
                },
                version: u32::try_from(latest.version + 1).unwrap_or(u32::MAX),
                change: if voiding {
                    ev::FactChange::Voided
                } else {
                    ev::FactChange::Corrected
                } as i32,
                first_month: first_month.map(|m| m.to_string()).unwrap_or_default(),
                changed_at: Some(crate::events::timestamp(now)),
            },
            now,
        );
        let (subject_type, subject_id) = match latest.participant_id {
            Some(participant_id) => ("participant", participant_id.to_string()),
            None => ("parameter", format!("g/{fact_id}")),
        };
        let change = FactChange {
            kind,
            fact_id: fact_id.to_owned(),
            expected,
            content: correction.content,
            reason: reason.to_owned(),
        };
        let mut entry = audit(
            actor,
            &format!("{kind}.{}", if voiding { "voided" } else { "corrected" }),
            subject_type,
            &subject_id,
            json!({
                "fact_id": fact_id, "version": latest.version + 1, "reason": reason,
                "content": change.content,
            }),
        );
        entry.at = now;
        self.store
            .change_fact(&change, &[event], &entry)
            .await
            .map_err(|e| match e {
                kvp_store::StoreError::VersionMismatch { current } => {
                    ServiceError::PreconditionFailed {
                        what: format!(
                            "{kind} {fact_id} is at version {}: read it again and apply the \
                             change to what is stored",
                            current.unwrap_or_default()
                        ),
                    }
                }
                kvp_store::StoreError::Duplicate { what, existing } => ServiceError::Duplicate {
                    what,
                    existing: existing.to_string(),
                    href: format!("/v1/facts/{}/{existing}", path_segment(kind)),
                },
                kvp_store::StoreError::InvalidInput { what } => ServiceError::field("fact", what),
                other => other.into(),
            })
    }
}

impl Payroll {
    /// A sanction decision is corrected or voided only while no appeal is
    /// lodged against it (then its outcome changes through the appeal), and
    /// corrected into a deduction only when a warning covers its hours, as a
    /// new decision to deduct is (§ 36).
    async fn check_decision_change(
        &self,
        participant_id: uuid::Uuid,
        decision_id: &str,
        content: Option<&FactContent>,
    ) -> Result<(), ServiceError> {
        let appealed = self
            .store
            .list_appeals(participant_id)
            .await?
            .iter()
            .any(|a| a.decision_id.to_string() == decision_id);
        if appealed {
            return Err(ServiceError::FailedPrecondition {
                reason: crate::error::reason::FACT_NOT_CORRECTABLE,
                what: format!(
                    "sanction decision {decision_id} is appealed: its outcome changes through \
                     the appeal (/v1/sanction-decisions/{decision_id}/appeal)"
                ),
            });
        }
        if let Some(FactContent::SanctionDecision {
            date,
            entry_kind,
            outcome: kvp_store::DecisionOutcome::Approved,
            ..
        }) = content
        {
            let today = crate::clock::today();
            if self
                .warning_covering(participant_id, (*date, *entry_kind), today)
                .await?
                .is_none()
            {
                return Err(super::decisions::no_warning(*date, *entry_kind));
            }
        }
        Ok(())
    }
}

/// The path segment of a kind's facts (`/v1/facts/{segment}/{id}`).
pub fn path_segment(kind: FactKind) -> &'static str {
    match kind {
        FactKind::Child => "children",
        FactKind::SoleCarerPeriod => "sole-carer-periods",
        FactKind::BenefitOffset => "benefit-offsets",
        FactKind::Programme => "programmes",
        FactKind::Pause => "pauses",
        FactKind::SanctionDecision => "sanction-decisions",
        FactKind::RegisteredG => "g",
    }
}

/// The kind of fact a path segment names.
pub fn kind_of_segment(segment: &str) -> Option<FactKind> {
    FactKind::ALL
        .into_iter()
        .find(|kind| path_segment(*kind) == segment)
}

/// The first month a change from `before` to `after` (`None`: a void) can
/// reach; `None` for a G, whose reach the close finds from the G table.
fn first_month(before: &FactContent, after: Option<&FactContent>) -> Option<YearMonth> {
    let days = [before.first_day(), after.and_then(FactContent::first_day)];
    days.into_iter().flatten().min().map(YearMonth::of)
}

/// Checks a corrected fact as a new one of its kind is checked.
fn check_content(
    content: &FactContent,
    kind: FactKind,
    participant_birth: time::Date,
) -> Result<(), ServiceError> {
    if content.kind() != kind {
        return Err(ServiceError::field(
            "fact",
            format!("must be a {kind}, as the fact corrected"),
        ));
    }
    match content {
        FactContent::Child {
            birth_date,
            reference,
        } => {
            if *birth_date < participant_birth {
                return Err(ServiceError::field(
                    "fact.birth_date",
                    "is before the participant's birth date",
                ));
            }
            if let Some(reference) = reference {
                super::participants::valid_reference(reference)?;
            }
        }
        FactContent::SoleCarerPeriod { from, to } | FactContent::Pause { from, to, .. } => {
            if to.is_some_and(|to| to < *from) {
                return Err(ServiceError::field("fact.to", "must not be before from"));
            }
        }
        FactContent::BenefitOffset { amount, .. } => check_offset_amount(*amount, "fact.amount")?,
        FactContent::Programme {
            start,
            end,
            decision_reference,
        } => {
            if end.is_some_and(|end| end < *start) {
                return Err(ServiceError::field("fact.end", "must not be before start"));
            }
            if decision_reference.trim().is_empty() {
                return Err(ServiceError::field(
                    "fact.decision_reference",
                    "must not be empty",
                ));
            }
            super::programmes::check_age_at_start(participant_birth, *start, "fact.start")?;
        }
        FactContent::SanctionDecision {
            reference,
            deducted_hours,
            ..
        } => {
            if reference.trim().is_empty() {
                return Err(ServiceError::field("fact.reference", "must not be empty"));
            }
            if deducted_hours.is_some_and(|h| {
                h <= Decimal::ZERO || h > kvp_rules::bounds::ENTRY_HOURS_MAX || h.round_dp(2) != h
            }) {
                return Err(ServiceError::field(
                    "fact.deducted_hours",
                    "must be more than 0 and at most 24 hours, in hundredths",
                ));
            }
        }
        FactContent::RegisteredG { value, reference } => {
            check_g_value(*value, "fact.value")?;
            if reference.trim().is_empty() {
                return Err(ServiceError::field("fact.reference", "must not be empty"));
            }
        }
    }
    Ok(())
}

/// An other-benefit amount: kroner and øre, from 0 to
/// `kvp_rules::bounds::OFFSET_MAX`.
pub(super) fn check_offset_amount(amount: Decimal, field: &str) -> Result<(), ServiceError> {
    if amount.is_sign_negative() || amount.round_dp(2) != amount {
        return Err(ServiceError::field(
            field,
            "must be a non-negative amount in kroner and øre",
        ));
    }
    if amount > kvp_rules::bounds::OFFSET_MAX {
        return Err(ServiceError::field(
            field,
            format!(
                "must be at most {} kroner, the largest monthly benefit of sense",
                kvp_rules::bounds::OFFSET_MAX
            ),
        ));
    }
    Ok(())
}

/// A G: a positive amount in kroner, at most the parameters' bound for it.
pub(super) fn check_g_value(value: Decimal, field: &str) -> Result<(), ServiceError> {
    if value <= Decimal::ZERO || value.round_dp(2) != value {
        return Err(ServiceError::field(
            field,
            "must be a positive amount in kroner",
        ));
    }
    if let Some(max) = kvp_rules::parameters::upper_bound("g")
        && value > max
    {
        return Err(ServiceError::field(
            field,
            format!("must be at most {max} kroner, the largest G of sense"),
        ));
    }
    Ok(())
}
