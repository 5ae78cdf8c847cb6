//! Public probes, metrics and the OpenAPI document: no token needed.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use utoipa::OpenApi;

use super::{ApiDoc, AppState};
use crate::error::Problem;

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", responses((status = 200, description = "alive")))]
pub async fn healthz() -> &'static str {
    "ok"
}

/// Prometheus metrics (text exposition format); public, like the probes.
#[utoipa::path(get, path = "/metrics", responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
pub async fn metrics() -> Response {
    crate::metrics::RECORDER.render()
}

/// This OpenAPI document; public.
#[utoipa::path(get, path = "/openapi.json", responses((status = 200, description = "the OpenAPI document")))]
pub async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// Readiness: the database answers and holds every migration of this build.
#[utoipa::path(get, path = "/readyz", responses((status = 200, description = "ready"), (status = 503, body = Problem)))]
pub async fn readyz(State(payroll): AppState) -> Response {
    let not_ready = |detail: String| {
        crate::error::problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "not-ready",
            "Not ready",
            detail,
            Vec::new(),
        )
    };
    match payroll.pending_migrations().await {
        Ok(pending) if pending.is_empty() => "ready".into_response(),
        Ok(pending) => not_ready(format!("migrations pending: {}", pending.join(", "))),
        Err(_) => not_ready("the database does not answer".into()),
    }
}
