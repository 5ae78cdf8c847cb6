//! Programme decisions: registering one, setting its end, pausing it.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use kvp_store::ProgrammeExtension;
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::{Date, OffsetDateTime};
use utoipa::ToSchema;
use uuid::Uuid;

use super::auth::Caller;
use super::extract::{Body, Id, Params};
use super::participants::{ParticipantView, ProgrammeView};
use super::versions::{etag, precondition};
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
    #[schema(min_length = 1, pattern = r"\S")]
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

/// Reads a programme decision with its pauses, and its `ETag`.
#[utoipa::path(get, path = "/v1/programmes/{id}", params(("id" = String, Path)),
    responses((status = 200, body = ProgrammeView, headers(("ETag" = String, description = "The stored version: If-Match of a change."))), (status = 404, body = Problem)))]
pub async fn get_programme(
    State(payroll): AppState,
    Params(Id(id)): Params<Id>,
) -> ApiResult<impl IntoResponse> {
    let programme = payroll.programme_with_pauses(id).await?;
    let version = programme.programme.version;
    Ok(([etag(version)], Json(ProgrammeView::from(programme))))
}

/// Sets or clears a programme's end. The change names the version read in
/// `If-Match` (its `ETag`): 428 without it, 412 when the programme changed
/// meanwhile (another end, a pause). The answer carries the new `ETag`.
#[utoipa::path(put, path = "/v1/programmes/{id}/end",
    params(
        ("id" = String, Path),
        ("If-Match" = String, Header, description = "The ETag read (required)."),
    ),
    request_body = EndBody,
    responses(
        (status = 200, description = "updated: id, start, end", headers(("ETag" = String, description = "The stored version."))),
        (status = 400, body = Problem),
        (status = 404, body = Problem),
        (status = 412, body = Problem, description = "the programme is not at the version If-Match names"),
        (status = 428, body = Problem, description = "If-Match is required"),
    ))]
pub async fn set_programme_end(
    State(payroll): AppState,
    Params(Id(id)): Params<Id>,
    headers: HeaderMap,
    caller: Caller,
    Body(body): Body<EndBody>,
) -> ApiResult<impl IntoResponse> {
    let precondition = precondition(&headers)?;
    let programme = payroll
        .set_programme_end(id, body.end, precondition, &caller.actor())
        .await?;
    Ok((
        [etag(programme.version)],
        Json(json!({"id": programme.id, "start": programme.start, "end": programme.end})),
    ))
}

/// A pause in a programme.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PauseBody {
    /// First day.
    pub from: Date,
    /// Last day; null while open-ended.
    #[serde(default)]
    pub to: Option<Date>,
    /// INTERRUPTED (midlertidig avbrudd) or STOPPED (stans, § 34).
    #[schema(pattern = "^(INTERRUPTED|STOPPED)$", example = "INTERRUPTED")]
    pub kind: String,
    /// The decision's reference.
    #[schema(min_length = 1)]
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

/// An extension of a programme's approved period (§ 30).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExtensionBody {
    /// The last day of the approved period from this decision on (after the
    /// current one).
    pub until: Date,
    /// Whether it is decided as the exception (særlige tilfeller) a period
    /// beyond two years needs.
    #[serde(default)]
    pub exception: bool,
    /// The decision's reference.
    #[schema(min_length = 1, pattern = r"\S")]
    pub reference: String,
}

/// A programme's approved period and the extensions that made it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApprovedPeriodView {
    /// The programme.
    pub programme_id: Uuid,
    /// The last day of the approved period: the first approval (policy
    /// `programme_approved_months` from the start) or the latest extension.
    pub approved_until: Date,
    /// The extensions, by until.
    pub extensions: Vec<ExtensionView>,
}

/// An extension decision.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExtensionView {
    /// Extension id.
    pub id: Uuid,
    /// The approved period's last day from it on.
    pub until: Date,
    /// Decided as an exception.
    pub exception: bool,
    /// Reference.
    pub reference: String,
    /// Who decided.
    pub decided_by: String,
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub decided_at: OffsetDateTime,
}

fn approved_period(
    programme_id: Uuid,
    (approved_until, extensions): (Date, Vec<ProgrammeExtension>),
) -> ApprovedPeriodView {
    ApprovedPeriodView {
        programme_id,
        approved_until,
        extensions: extensions
            .into_iter()
            .map(|e| ExtensionView {
                id: e.id,
                until: e.until,
                exception: e.exception,
                reference: e.reference,
                decided_by: e.decided_by,
                decided_at: e.decided_at,
            })
            .collect(),
    }
}

/// Extends a programme's approved period; days past it are on the worklist
/// until an extension covers them (they are paid all the same).
#[utoipa::path(post, path = "/v1/programmes/{id}/extensions", params(("id" = String, Path)), request_body = ExtensionBody,
    responses((status = 201, body = ApprovedPeriodView), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn extend_programme(
    State(payroll): AppState,
    Params(Id(id)): Params<Id>,
    caller: Caller,
    Body(body): Body<ExtensionBody>,
) -> ApiResult<Response> {
    let period = payroll
        .extend_programme(
            id,
            body.until,
            body.exception,
            body.reference,
            &caller.actor(),
        )
        .await?;
    Ok(created(approved_period(id, period)))
}

/// A programme's approved period and its extensions.
#[utoipa::path(get, path = "/v1/programmes/{id}/extensions", params(("id" = String, Path)),
    responses((status = 200, body = ApprovedPeriodView), (status = 404, body = Problem)))]
pub async fn list_extensions(
    State(payroll): AppState,
    Params(Id(id)): Params<Id>,
) -> ApiResult<Json<ApprovedPeriodView>> {
    Ok(Json(approved_period(id, payroll.extensions(id).await?)))
}
