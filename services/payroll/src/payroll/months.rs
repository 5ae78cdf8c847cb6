//! What the rules engine gives: a participant's month and quota overview from
//! what is stored now, and simulations that store nothing.

use kvp_rules::{Case, YearMonth, compute_month};
use time::Date;
use uuid::Uuid;

use super::Payroll;
use crate::error::ServiceError;
use crate::ingest;

impl Payroll {
    /// What is left of the quotas on `as_of`, counting every accepted entry.
    pub async fn absence_overview(
        &self,
        participant_id: Uuid,
        as_of: Date,
    ) -> Result<ingest::QuotaSummary, ServiceError> {
        let facts = self.facts(participant_id).await?;
        let policy = self.policy_for(&facts.participant.municipality_id).await?;
        let month_facts =
            crate::facts::month_facts(&facts, YearMonth::of(as_of))?.ok_or_else(|| {
                ServiceError::FailedPrecondition {
                    reason: crate::error::reason::NO_PROGRAMME,
                    what: "the participant has no programme decision".into(),
                }
            })?;
        let parameters = self.effective_parameters().await?;
        ingest::quota_summary(&facts, &month_facts.days, as_of, &parameters, &policy)?.ok_or_else(
            || ServiceError::FailedPrecondition {
                reason: crate::error::reason::NO_PROGRAMME,
                what: "no programme decision is in force on that date".into(),
            },
        )
    }

    /// Computes one participant's month from what is stored now.
    pub async fn month(
        &self,
        participant_id: Uuid,
        month: YearMonth,
    ) -> Result<kvp_rules::MonthResult, ServiceError> {
        let facts = self.facts(participant_id).await?;
        let policy = self.policy_for(&facts.participant.municipality_id).await?;
        let month_facts = crate::facts::month_facts(&facts, month)?.ok_or_else(|| {
            ServiceError::FailedPrecondition {
                reason: crate::error::reason::NO_PROGRAMME,
                what: "the participant has no programme decision".into(),
            }
        })?;
        let parameters = self.effective_parameters().await?;
        // A stored fact the rules refuse is the state of the participant's
        // facts, not a fault of the service: the same words a close holds the
        // participant with, for the caseworker the worklist sends here.
        compute_month(&month_facts, &parameters, &policy).map_err(|e| {
            ServiceError::FailedPrecondition {
                reason: crate::error::reason::MONTH_NOT_COMPUTABLE,
                what: format!("{month} cannot be computed from the stored facts: {e}"),
            }
        })
    }

    /// The rules engine on posted facts (a case in the golden vectors' shape) over
    /// the national policy: [`Payroll::simulate_case`] without a municipality.
    pub async fn simulate(&self, case: &str) -> Result<kvp_rules::MonthResult, ServiceError> {
        self.simulate_case(case, None).await
    }

    /// The rules engine on a case in the golden vectors' JSON shape, storing
    /// nothing: the one simulation behind REST and gRPC. The policy base is the
    /// national policy or, when `municipality_id` names one, that municipality's
    /// profile (an unknown municipality is NOT_FOUND); the case's own `policy`
    /// overrides apply on top. The parameters are those in force unless the case
    /// gives its own. Bad input is INVALID_ARGUMENT naming the case's JSON path
    /// (`days[2].hours`); callers with another wire form rename the paths.
    pub async fn simulate_case(
        &self,
        case: &str,
        municipality_id: Option<&str>,
    ) -> Result<kvp_rules::MonthResult, ServiceError> {
        let policy = match municipality_id {
            Some(id) => {
                let municipality = self.store.get_municipality(id).await?;
                self.municipal_policy(municipality.policy_overrides)?
            }
            None => self.policy.clone(),
        };
        let parameters = self.effective_parameters().await?;
        let case = Case::from_json(case, &parameters, &policy)
            .map_err(|e| ServiceError::field(e.field, e.message))?;
        compute_month(&case.facts, &case.parameters, &case.policy).map_err(|e| match e {
            kvp_rules::RulesError::InvalidInput { field, message } => {
                ServiceError::field(field, message)
            }
            other => ServiceError::field("parameters", other.to_string()),
        })
    }
}
