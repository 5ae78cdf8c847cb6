//! Sanction decisions (vedtak om trekk) on a participant's unexcused hours.

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use kvp_store::SanctionDecision;
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use utoipa::ToSchema;
use uuid::Uuid;

use super::auth::Caller;
use super::extract::{Body, Id, Params};
use super::{ApiResult, AppState, created};
use crate::error::Problem;
use crate::payroll::NewDecision;

/// A sanction decision (vedtak om trekk) on unexcused hours.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionBody {
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
    #[serde(default)]
    pub reason: String,
    /// When it was decided; now if absent.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub decided_at: Option<OffsetDateTime>,
}

/// A recorded decision.
#[derive(Debug, Serialize, ToSchema)]
pub struct DecisionView {
    /// Decision id.
    pub id: Uuid,
    /// The sanction case it decides.
    pub sanction_id: Uuid,
    /// Day.
    pub date: Date,
    /// Entry kind.
    pub entry_kind: String,
    /// APPROVED or REJECTED.
    pub outcome: String,
    /// Reference.
    pub reference: String,
    /// Who decided.
    pub decided_by: String,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub decided_at: OffsetDateTime,
}

fn decision_view(d: &SanctionDecision) -> DecisionView {
    DecisionView {
        id: d.id,
        sanction_id: crate::ingest::sanction_id(d.participant_id, d.date, d.entry_kind.as_str()),
        date: d.date,
        entry_kind: d.entry_kind.as_str().to_owned(),
        outcome: d.outcome.as_str().to_owned(),
        reference: d.reference.clone(),
        decided_by: d.decided_by.clone(),
        decided_at: d.decided_at,
    }
}

/// Records a caseworker's sanction decision; the month is recomputed from it.
#[utoipa::path(post, path = "/v1/participants/{id}/sanction-decisions", params(("id" = String, Path)), request_body = DecisionBody,
    responses((status = 201, body = DecisionView), (status = 400, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn decide(
    State(payroll): AppState,
    Params(Id(id)): Params<Id>,
    caller: Caller,
    Body(body): Body<DecisionBody>,
) -> ApiResult<Response> {
    let new = NewDecision {
        date: body.date,
        entry_kind: body.entry_kind,
        outcome: body.outcome,
        reference: body.reference,
        reason: body.reason,
        decided_at: body.decided_at,
    };
    let decision = payroll.decide(id, new, &caller.actor()).await?;
    Ok(created(decision_view(&decision)))
}

/// Lists a participant's sanction decisions.
#[utoipa::path(get, path = "/v1/participants/{id}/sanction-decisions", params(("id" = String, Path)), responses((status = 200, body = [DecisionView]), (status = 404, body = Problem)))]
pub async fn list_decisions(
    State(payroll): AppState,
    Params(Id(id)): Params<Id>,
) -> ApiResult<Json<Vec<DecisionView>>> {
    Ok(Json(
        payroll
            .decisions(id)
            .await?
            .iter()
            .map(decision_view)
            .collect(),
    ))
}
