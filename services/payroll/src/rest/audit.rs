//! The audit trail, one subject at a time (auditors only).

use axum::extract::{OriginalUri, Path, State};
use axum::response::Response;
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::extract::QueryParams;
use super::pages::PageQuery;
use super::{ApiResult, AppState};
use crate::error::Problem;

/// An audit entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditView {
    /// When.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Who.
    pub actor: String,
    /// What.
    pub action: String,
    /// Details.
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

/// The audit trail of one subject (participant, programme, signer_key,
/// timesheet, municipality), oldest first. Paged by `limit` and `after`; the next page is in the `Link` header.
#[utoipa::path(get, path = "/v1/audit/{subject_type}/{subject_id}", params(PageQuery),
    responses((status = 200, body = [AuditView], headers(("Link" = String, description = "The next page, rel=\"next\"; absent on the last."))), (status = 400, body = Problem)))]
pub async fn audit_trail(
    State(payroll): AppState,
    Path((subject_type, subject_id)): Path<(String, String)>,
    QueryParams(page): QueryParams<PageQuery>,
    OriginalUri(uri): OriginalUri,
) -> ApiResult<Response> {
    let entries = payroll.audit_trail(&subject_type, &subject_id).await?;
    // The trail only grows at its end: an entry's position names it.
    let views: Vec<(usize, AuditView)> = entries
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            (
                i,
                AuditView {
                    at: e.at,
                    actor: e.actor,
                    action: e.action,
                    details: e.details,
                },
            )
        })
        .collect();
    let limit = page.limit;
    Ok(page
        .page(views, |(i, _)| i.to_string())?
        .map(|(_, view)| view)
        .answer(&uri, limit))
}
