//! The sandbox's clock (`kvp-payroll sandbox` only): an integrator's test
//! reads today's date and moves it forward, so that a month can be closed
//! without waiting for it to end. Outside the sandbox the clock is the
//! system's and these operations answer 404.

use axum::Json;
use serde::{Deserialize, Serialize};
use time::Date;
use utoipa::ToSchema;

use super::ApiResult;
use super::extract::Body;
use crate::clock::ClockError;
use crate::error::{Problem, ServiceError};

/// Today, by the service's clock.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SandboxClock {
    /// Today's date in Norway (`YYYY-MM-DD`).
    pub today: Date,
}

fn sandbox_only() -> ServiceError {
    ServiceError::NotFound {
        what: "the clock (the sandbox's only)".into(),
    }
}

/// Today's date by the sandbox's clock.
#[utoipa::path(get, path = "/v1/sandbox/clock",
    description = "The sandbox's clock (kvp-payroll sandbox only; elsewhere 404).",
    responses((status = 200, body = SandboxClock), (status = 404, body = Problem)))]
pub async fn get_clock() -> ApiResult<Json<SandboxClock>> {
    if !crate::clock::is_movable() {
        return Err(sandbox_only());
    }
    Ok(Json(SandboxClock {
        today: crate::clock::today(),
    }))
}

/// Moves the sandbox's clock forward to a date: months end, keys come into
/// and go out of force, and what is received, decided and audited is dated
/// by it. Time runs forward only, at most five years ahead of the real date.
#[utoipa::path(put, path = "/v1/sandbox/clock", request_body = SandboxClock,
    description = "Moves the sandbox's clock forward (kvp-payroll sandbox only; elsewhere 404). \
        An earlier date than today, or one more than five years ahead of the real date, is 400.",
    responses((status = 200, body = SandboxClock), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn put_clock(Body(body): Body<SandboxClock>) -> ApiResult<Json<SandboxClock>> {
    let today = crate::clock::move_to(body.today).map_err(|error| match error {
        ClockError::Fixed => sandbox_only(),
        refused @ (ClockError::Backwards { .. } | ClockError::TooFar { .. }) => {
            ServiceError::field("today", refused.to_string())
        }
    })?;
    tracing::info!(%today, "sandbox clock moved");
    Ok(Json(SandboxClock { today }))
}
