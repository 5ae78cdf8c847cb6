//! A participant's timesheets as accepted, with their assessments (they are
//! submitted over gRPC, signed).

use axum::extract::{OriginalUri, State};
use axum::response::Response;
use serde::Serialize;
use time::Date;
use utoipa::ToSchema;
use uuid::Uuid;

use super::extract::{Id, Params, QueryParams};
use super::pages::PageQuery;
use super::{ApiResult, AppState};
use crate::error::Problem;
use crate::ingest::Assessment;

/// An accepted timesheet.
#[derive(Debug, Serialize, ToSchema)]
pub struct TimesheetView {
    /// Timesheet id.
    pub id: Uuid,
    /// First covered day.
    pub period_from: Date,
    /// Last covered day.
    pub period_to: Date,
    /// 1, or one more than the timesheet it superseded.
    pub version: i32,
    /// SHA-256 of the signed payload.
    pub digest: String,
    /// The assessment given at receipt.
    pub assessment: Assessment,
}

/// Lists a participant's current timesheets with their assessments.
/// Paged by `limit` and `after`; the next page is in the `Link` header.
#[utoipa::path(get, path = "/v1/participants/{id}/timesheets", params(("id" = String, Path), PageQuery),
    responses((status = 200, body = [TimesheetView], headers(("Link" = String, description = "The next page, rel=\"next\"; absent on the last."))), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn list_timesheets(
    State(payroll): AppState,
    Params(Id(id)): Params<Id>,
    QueryParams(page): QueryParams<PageQuery>,
    OriginalUri(uri): OriginalUri,
) -> ApiResult<Response> {
    let views: Vec<TimesheetView> = payroll
        .current_timesheets(id)
        .await?
        .into_iter()
        .map(|(t, assessment)| TimesheetView {
            id: t.id,
            period_from: t.period_from,
            period_to: t.period_to,
            version: t.version,
            digest: t.digest,
            assessment,
        })
        .collect();
    let limit = page.limit;
    Ok(page.page(views, |t| t.id.to_string())?.answer(&uri, limit))
}
