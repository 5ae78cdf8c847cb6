//! Programme decisions: registering one, setting its end, pausing it.

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::Date;
use utoipa::ToSchema;

use super::auth::Caller;
use super::extract::{Body, Id, Params};
use super::participants::ParticipantView;
use super::{ApiResult, AppState, created};
use crate::error::Problem;
use crate::payroll::NewPause;

/// A programme decision.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProgrammeBody {
    /// First day.
    pub start: Date,
    /// Last day, if decided.
    #[serde(default)]
    pub end: Option<Date>,
    /// The decision's reference (vedtak).
    pub decision_reference: String,
}

/// Registers a programme decision.
#[utoipa::path(post, path = "/v1/participants/{id}/programmes", params(("id" = String, Path)), request_body = ProgrammeBody,
    responses((status = 201, body = ParticipantView), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn create_programme(
    State(payroll): AppState,
    Params(Id(id)): Params<Id>,
    caller: Caller,
    Body(body): Body<ProgrammeBody>,
) -> ApiResult<Response> {
    let facts = payroll
        .create_programme(
            id,
            body.start,
            body.end,
            body.decision_reference,
            &caller.actor(),
        )
        .await?;
    Ok(created(ParticipantView::from(facts)))
}

/// A programme's end.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndBody {
    /// The last day, or null for open-ended.
    pub end: Option<Date>,
}

/// Sets or clears a programme's end.
#[utoipa::path(put, path = "/v1/programmes/{id}/end", params(("id" = String, Path)), request_body = EndBody,
    responses((status = 200, description = "updated"), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn set_programme_end(
    State(payroll): AppState,
    Params(Id(id)): Params<Id>,
    caller: Caller,
    Body(body): Body<EndBody>,
) -> ApiResult<Json<serde_json::Value>> {
    let programme = payroll
        .set_programme_end(id, body.end, &caller.actor())
        .await?;
    Ok(Json(
        json!({"id": programme.id, "start": programme.start, "end": programme.end}),
    ))
}

/// A pause in a programme.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PauseBody {
    /// First day.
    pub from: Date,
    /// Last day; null while open-ended.
    #[serde(default)]
    pub to: Option<Date>,
    /// INTERRUPTED (midlertidig avbrudd) or STOPPED (stans, § 34).
    pub kind: String,
    /// The decision's reference.
    pub reference: String,
}

/// Registers an interruption or a stop.
#[utoipa::path(post, path = "/v1/programmes/{id}/pauses", params(("id" = String, Path)), request_body = PauseBody,
    responses((status = 201, description = "registered"), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn add_pause(
    State(payroll): AppState,
    Params(Id(id)): Params<Id>,
    caller: Caller,
    Body(body): Body<PauseBody>,
) -> ApiResult<Response> {
    let new = NewPause {
        from: body.from,
        to: body.to,
        kind: body.kind,
        reference: body.reference,
    };
    let pause = payroll.add_pause(id, new, &caller.actor()).await?;
    Ok(created(json!({"id": pause})))
}
