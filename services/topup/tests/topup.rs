//! Black-box tests of the top-up service: each starts the real
//! [`Application`](kvp_topup::Application) on port 0 and talks real gRPC
//! (the kvp-proto client) and real HTTP (reqwest) to it, on a fresh SQLite
//! file always, and on a fresh PostgreSQL database too when
//! `KVP_TEST_DATABASE_URL` is set (an unreachable server then fails the test).
//!
//! Each scenario is one async function taking a started [`support::TestApp`];
//! `on_both_backends!` turns it into a `sqlite` and a `postgres` test.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a panic in a test is a failed assertion with a backtrace"
)]

#[path = "topup/support.rs"]
mod support;

/// Declares a module named after a scenario with one test per backend; the
/// application runs in development mode unless the list starts with
/// `tokens:`.
macro_rules! on_both_backends {
    (tokens: $($scenario:ident),+ $(,)?) => {
        on_both_backends!(@mode crate::support::Mode::Tokens, $($scenario),+);
    };
    ($($scenario:ident),+ $(,)?) => {
        on_both_backends!(@mode crate::support::Mode::Development, $($scenario),+);
    };
    (@mode $mode:expr, $($scenario:ident),+) => {
        $(
            mod $scenario {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    crate::support::on_sqlite($mode, super::scenarios::$scenario).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    crate::support::on_postgres($mode, super::scenarios::$scenario).await;
                }
            }
        )+
    };
}

mod scenarios {
    pub use super::access::*;
    pub use super::events::*;
    pub use super::households::*;
    pub use super::service::*;
    pub use super::worklist::*;
}

#[path = "topup/access.rs"]
mod access;
#[path = "topup/events.rs"]
mod events;
#[path = "topup/households.rs"]
mod households;
#[path = "topup/service.rs"]
mod service;
#[path = "topup/worklist.rs"]
mod worklist;

on_both_backends!(
    // events
    a_stipend_paid_event_for_a_registered_household_makes_an_exact_proposal,
    income_above_the_norm_proposes_zero,
    the_same_event_delivered_twice_is_applied_once,
    concurrent_deliveries_of_one_event_apply_it_once,
    a_malformed_payload_is_refused_with_a_field_violation_and_stores_nothing,
    a_malformed_envelope_names_its_fields,
    unknown_and_unused_event_types_are_stored_and_acknowledged,
    // households
    a_paid_month_waits_for_the_household_and_is_proposed_when_it_is_registered,
    household_validation_errors_are_problem_details_naming_the_field,
    changing_the_household_supersedes_the_open_proposal_and_keeps_decided_ones,
    typed_income_counts_as_its_kind_says_and_child_benefit_changes_nothing,
    // worklist
    a_proposal_is_accepted_once_and_a_second_decision_is_a_conflict,
    a_proposal_is_rejected_once_and_cannot_be_accepted_after,
    decisions_need_a_reason_and_an_existing_proposal,
    the_worklist_filters_by_state_and_participant,
    a_month_without_its_years_rates_is_on_the_worklist_with_a_warning,
    // service
    the_backend_that_ran_is_the_one_configured,
    grpc_health_and_reflection_serve_the_event_sink,
    the_openapi_document_describes_the_routes,
);

on_both_backends!(
    tokens:
    every_operation_admits_exactly_the_roles_of_the_policy,
    a_caseworker_reaches_only_the_municipality_of_the_token,
    decisions_are_recorded_under_the_token_subject,
    refusals_name_no_refused_value,
);
