//! The audit trail, one subject at a time (auditors only).

use axum::Json;
use axum::extract::{Path, State};
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::{ApiResult, AppState};

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

/// The audit trail of one subject (participant, programme, signer_key, timesheet, municipality).
#[utoipa::path(get, path = "/v1/audit/{subject_type}/{subject_id}", responses((status = 200, body = [AuditView])))]
pub async fn audit_trail(
    State(payroll): AppState,
    Path((subject_type, subject_id)): Path<(String, String)>,
) -> ApiResult<Json<Vec<AuditView>>> {
    let entries = payroll.audit_trail(&subject_type, &subject_id).await?;
    Ok(Json(
        entries
            .into_iter()
            .map(|e| AuditView {
                at: e.at,
                actor: e.actor,
                action: e.action,
                details: e.details,
            })
            .collect(),
    ))
}
