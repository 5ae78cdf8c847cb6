//! Simulations: the rules engine on posted facts, storing nothing.

use axum::Json;
use axum::extract::State;

use super::{ApiResult, AppState};
use crate::error::{Problem, ServiceError};

/// The rules engine on posted facts: a case in the golden vectors' shape.
#[utoipa::path(post, path = "/v1/simulations", request_body(content = Object, description = "a case: month, participant, programme (or programmes: several periods, never overlapping), covered, days, policy, offsets, parameters"),
    responses((status = 200, description = "lines, total, quantities, flags, explanation"), (status = 400, body = Problem)))]
pub async fn simulate(
    State(payroll): AppState,
    body: bytes::Bytes,
) -> ApiResult<Json<kvp_rules::MonthResult>> {
    let text = std::str::from_utf8(&body)
        .map_err(|_| ServiceError::field("body", "must be UTF-8 JSON"))?;
    Ok(Json(payroll.simulate(text).await?))
}
