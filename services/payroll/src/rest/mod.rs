//! The REST API for caseworkers, payroll operators, auditors and
//! administrators (axum, JSON, RFC 9457 problem details), with its OpenAPI
//! document. Every route passes [`auth::guard`]: bearer tokens with roles,
//! scoped to a municipality, by the table [`auth::POLICY`].

pub mod auth;
mod extract;
mod handlers;
pub mod limits;
mod periods;

use std::sync::Arc;

use crate::payroll::Payroll;
use axum::Router;
use axum::routing::{get, post, put};

pub use handlers::ApiDoc;

/// The REST router over the payroll core, guarded by `auth` (development
/// mode when it checks nothing).
pub fn router(payroll: Arc<Payroll>, auth: auth::Authenticator) -> Router {
    let guard = auth::Guard::new(auth, payroll.clone());
    Router::new()
        .route("/healthz", get(handlers::healthz))
        .route("/readyz", get(handlers::readyz))
        .route("/metrics", get(handlers::metrics))
        .route("/openapi.json", get(handlers::openapi))
        .route(
            "/v1/municipalities/{id}",
            put(handlers::put_municipality).get(handlers::get_municipality),
        )
        .route("/v1/participants", post(handlers::create_participant))
        .route("/v1/participants/{id}", get(handlers::get_participant))
        .route("/v1/participants/{id}/children", post(handlers::add_child))
        .route(
            "/v1/participants/{id}/sole-carer-periods",
            post(handlers::add_sole_carer_period),
        )
        .route(
            "/v1/participants/{id}/benefit-offsets",
            post(handlers::add_benefit_offset),
        )
        .route(
            "/v1/participants/{id}/programmes",
            post(handlers::create_programme),
        )
        .route("/v1/programmes/{id}/end", put(handlers::set_programme_end))
        .route("/v1/programmes/{id}/pauses", post(handlers::add_pause))
        .route(
            "/v1/participants/{id}/sanction-decisions",
            post(handlers::decide).get(handlers::list_decisions),
        )
        .route(
            "/v1/participants/{id}/absence-overview",
            get(handlers::absence_overview),
        )
        .route("/v1/participants/{id}/months/{month}", get(handlers::month))
        .route(
            "/v1/participants/{id}/timesheets",
            get(handlers::list_timesheets),
        )
        .route("/v1/signer-keys", post(handlers::register_key))
        .route("/v1/signer-keys/{keyid}", get(handlers::get_key))
        .route(
            "/v1/signer-keys/{keyid}/revocation",
            post(handlers::revoke_key),
        )
        .route(
            "/v1/audit/{subject_type}/{subject_id}",
            get(handlers::audit_trail),
        )
        .route("/v1/simulations", post(handlers::simulate))
        .route(
            "/v1/parameters/g",
            post(periods::register_g).get(periods::list_g),
        )
        .route("/v1/municipalities/{id}/runs", get(periods::list_runs))
        .route("/v1/runs/{id}/export", get(periods::export_run))
        .route(
            "/v1/participants/{id}/payslips/{month}",
            get(periods::payslip),
        )
        // Token, role and municipality, per route (after routing, so the
        // template is known); hands the handlers their `Caller`.
        .route_layer(axum::middleware::from_fn_with_state(guard, auth::guard))
        // Counts every request, by route template (after routing, so the
        // template is known; requests no route matches are `unmatched`).
        .layer(axum::middleware::from_fn_with_state(
            crate::metrics::REQUEST_METRICS,
            kvp_telemetry::track_http,
        ))
        .with_state(payroll)
}
