//! The REST API for caseworkers, payroll operators, auditors and
//! administrators (axum, JSON, RFC 9457 problem details), with its OpenAPI
//! document. Every route passes [`auth::guard`]: bearer tokens with roles,
//! scoped to a municipality, by the table [`auth::POLICY`]. One file per
//! resource, each with its own request and answer types; every handler
//! parses, calls one method of the payroll core and maps its answer.

mod audit;
pub mod auth;
mod decisions;
pub(crate) mod extract;
pub(crate) mod facts;
mod health;
pub mod idempotency;
pub mod limits;
mod municipalities;
mod openapi;
mod pages;
mod participants;
mod periods;
mod programmes;
mod run_files;
pub mod sandbox;
mod schemas;
mod signer_keys;
mod simulations;
mod timesheets;
mod versions;
mod worklist;

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Serialize;

use crate::error::ServiceError;
use crate::payroll::Payroll;

pub use openapi::ApiDoc;

/// What every handler is given: the payroll core.
type AppState = State<Arc<Payroll>>;
/// A handler's answer, or the problem details of its error.
type ApiResult<T> = Result<T, ServiceError>;

/// 201 Created with a JSON body.
/// An amount as the contract writes it everywhere: kroner with two decimals.
fn two_decimals<S: serde::Serializer>(
    amount: &rust_decimal::Decimal,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&kvp_rules::format_amount(*amount))
}

fn created<T: Serialize>(body: T) -> Response {
    (StatusCode::CREATED, Json(body)).into_response()
}

/// The REST router over the payroll core, guarded by `auth` (development
/// mode when it checks nothing).
pub fn router(payroll: Arc<Payroll>, auth: auth::Authenticator) -> Router {
    let guard = auth::Guard::new(auth, payroll.clone());
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .route("/openapi.json", get(health::openapi))
        .route(
            "/v1/municipalities/{id}",
            put(municipalities::put_municipality).get(municipalities::get_municipality),
        )
        .route(
            "/v1/facts/{kind}/{id}",
            get(facts::get_fact).put(facts::correct_fact),
        )
        .route("/v1/facts/{kind}/{id}/versions", get(facts::fact_versions))
        .route("/v1/facts/{kind}/{id}/void", post(facts::void_fact))
        .route(
            "/v1/parameters/g/{effective_date}",
            get(facts::get_g).put(facts::correct_g),
        )
        .route(
            "/v1/parameters/g/{effective_date}/versions",
            get(facts::g_versions),
        )
        .route(
            "/v1/parameters/g/{effective_date}/void",
            post(facts::void_g),
        )
        .route(
            "/v1/sandbox/clock",
            get(sandbox::get_clock).put(sandbox::put_clock),
        )
        .route("/v1/participants", post(participants::create_participant))
        .route("/v1/participants/{id}", get(participants::get_participant))
        .route(
            "/v1/participants/{id}/employee-number",
            get(participants::get_employee_number).put(participants::put_employee_number),
        )
        .route(
            "/v1/participants/{id}/children",
            post(participants::add_child),
        )
        .route(
            "/v1/participants/{id}/sole-carer-periods",
            post(participants::add_sole_carer_period),
        )
        .route(
            "/v1/participants/{id}/benefit-offsets",
            post(participants::add_benefit_offset),
        )
        .route(
            "/v1/participants/{id}/programmes",
            post(programmes::create_programme),
        )
        .route("/v1/programmes/{id}", get(programmes::get_programme))
        .route(
            "/v1/programmes/{id}/end",
            put(programmes::set_programme_end),
        )
        .route("/v1/programmes/{id}/pauses", post(programmes::add_pause))
        .route(
            "/v1/programmes/{id}/extensions",
            post(programmes::extend_programme).get(programmes::list_extensions),
        )
        .route(
            "/v1/participants/{id}/sanction-decisions",
            post(decisions::decide).get(decisions::list_decisions),
        )
        .route(
            "/v1/participants/{id}/sanction-warnings",
            post(decisions::warn).get(decisions::list_warnings),
        )
        .route(
            "/v1/sanction-decisions/{id}/appeal",
            post(decisions::appeal).get(decisions::get_appeal),
        )
        .route(
            "/v1/sanction-decisions/{id}/appeal/outcome",
            post(decisions::decide_appeal),
        )
        .route(
            "/v1/participants/{id}/absence-overview",
            get(participants::absence_overview),
        )
        .route(
            "/v1/participants/{id}/months/{month}",
            get(participants::month),
        )
        .route(
            "/v1/participants/{id}/timesheets",
            get(timesheets::list_timesheets),
        )
        .route("/v1/signer-keys", post(signer_keys::register_key))
        .route("/v1/signer-keys/{keyid}", get(signer_keys::get_key))
        .route(
            "/v1/signer-keys/{keyid}/revocation",
            post(signer_keys::revoke_key),
        )
        .route(
            "/v1/signer-keys/{keyid}/municipality",
            put(signer_keys::assign_key),
        )
        .route(
            "/v1/unassigned-supervisor-keys",
            get(signer_keys::unassigned_keys),
        )
        .route(
            "/v1/audit/{subject_type}/{subject_id}",
            get(audit::audit_trail),
        )
        .route("/v1/simulations", post(simulations::simulate))
        .route(
            "/v1/parameters/g",
            post(periods::register_g).get(periods::list_g),
        )
        .route("/v1/municipalities/{id}/runs", get(periods::list_runs))
        .route(
            "/v1/municipalities/{id}/worklist",
            get(worklist::get_worklist),
        )
        .route("/v1/runs/{id}", get(periods::get_run))
        .route("/v1/runs/{id}/export", get(periods::export_run))
        .route(
            "/v1/participants/{id}/payslips/{month}",
            get(periods::payslip),
        )
        // A POST's Idempotency-Key (inside the guard: keys are the caller's).
        .route_layer(axum::middleware::from_fn_with_state(
            payroll.clone(),
            idempotency::idempotent,
        ))
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
