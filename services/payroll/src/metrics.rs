//! Prometheus metrics: the names the service exports (a dashboard queries
//! them, see [`METRIC_NAMES`]), its [`RECORDER`] and its domain counters. The
//! recorder, `GET /metrics` and the request metrics of both surfaces (an axum
//! middleware and a tower layer on the tonic server) are `kvp_telemetry`'s,
//! under this service's `kvp_` prefix.
//!
//! Labels are bounded sets only — route templates, gRPC method names known
//! from the proto descriptors, status codes, rejection reasons, flag names —
//! never ids or personal data. Amounts are counted in whole øre (integers);
//! durations are recorded as [`Duration`]s.

use std::sync::LazyLock;
use std::time::Duration;

use kvp_telemetry::{
    GrpcMethods, GrpcMetricsLayer, PrometheusHandle, Recorder, RequestMetricNames,
};
use metrics::{counter, gauge, histogram};
use rust_decimal::{Decimal, RoundingStrategy};

use crate::error::ServiceError;

/// The request metrics of both surfaces, named with the `kvp_` prefix.
pub const REQUEST_METRICS: RequestMetricNames = kvp_telemetry::request_metric_names!("kvp_");
/// `kvp_grpc_requests_total`: gRPC requests, by `method` (the path's last
/// segment) and `code` (the grpc-status name, e.g. `OK`, `INVALID_ARGUMENT`).
pub const GRPC_REQUESTS: &str = REQUEST_METRICS.grpc_requests;
/// `kvp_grpc_request_duration_seconds`: gRPC request latency until the
/// response headers, by `method`.
pub const GRPC_REQUEST_DURATION: &str = REQUEST_METRICS.grpc_request_duration;
/// `kvp_http_requests_total`: REST requests, by `route` (the template),
/// `method` and `status`.
pub const HTTP_REQUESTS: &str = REQUEST_METRICS.http_requests;
/// `kvp_http_request_duration_seconds`: REST request latency, by `route` and
/// `method`.
pub const HTTP_REQUEST_DURATION: &str = REQUEST_METRICS.http_request_duration;
/// Timesheets newly accepted (a duplicate submission is not counted again).
pub const TIMESHEETS_ACCEPTED: &str = "kvp_timesheets_accepted_total";
/// Timesheets refused, by `reason` (the lowercase gRPC code name).
pub const TIMESHEETS_REJECTED: &str = "kvp_timesheets_rejected_total";
/// Flags raised by accepted timesheets' assessments, by `flag` (lowercase).
pub const QUOTA_FLAGS: &str = "kvp_quota_flags_total";
/// Time to close a pay period that created a run.
pub const PAY_PERIOD_CLOSE_DURATION: &str = "kvp_pay_period_close_duration_seconds";
/// Pay lines written by closed runs.
pub const PAY_PERIOD_LINES: &str = "kvp_pay_period_lines_total";
/// Run totals, in whole øre.
pub const PAY_PERIOD_AMOUNT_ORE: &str = "kvp_pay_period_amount_ore_total";
/// Participants held by closed runs: their months could not be computed, so
/// the run paid them nothing (one per participant and run; a participant
/// held again by the next close counts again). No label: which participants
/// is the municipality's worklist, never a label.
pub const PAY_PERIOD_HELD: &str = "kvp_pay_period_held_participants_total";
/// Outbox events not yet delivered, as of the relay's last poll.
pub const OUTBOX_BACKLOG: &str = "kvp_outbox_backlog";
/// Outbox events delivered to the top-up service.
pub const OUTBOX_DELIVERED: &str = "kvp_outbox_delivered_total";
/// Failed outbox delivery attempts (each is retried with backoff).
pub const OUTBOX_DELIVERY_FAILURES: &str = "kvp_outbox_delivery_failures_total";
/// The audit chain's length (its head's sequence number) at the last
/// checkpoint: a fall means the chain was cut short.
pub const AUDIT_CHAIN_ENTRIES: &str = "kvp_audit_chain_entries";

/// Every metric name this service exports, for checking a dashboard's queries.
pub const METRIC_NAMES: &[&str] = &[
    GRPC_REQUESTS,
    GRPC_REQUEST_DURATION,
    HTTP_REQUESTS,
    HTTP_REQUEST_DURATION,
    TIMESHEETS_ACCEPTED,
    TIMESHEETS_REJECTED,
    QUOTA_FLAGS,
    PAY_PERIOD_CLOSE_DURATION,
    PAY_PERIOD_LINES,
    PAY_PERIOD_AMOUNT_ORE,
    PAY_PERIOD_HELD,
    OUTBOX_BACKLOG,
    OUTBOX_DELIVERED,
    OUTBOX_DELIVERY_FAILURES,
    AUDIT_CHAIN_ENTRIES,
];

/// Histogram bucket bounds for latencies, in milliseconds: from 1 ms (a
/// health check) to 60 s (a close of 100 000 participants).
const LATENCY_BUCKETS_MS: [u64; 16] = [
    1, 2, 5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 20_000, 30_000, 60_000,
];

/// This service's view of the process-wide Prometheus recorder: it serves
/// `GET /metrics` and runs the histogram upkeep.
pub static RECORDER: Recorder = Recorder::new(&LATENCY_BUCKETS_MS);

/// Installs the process-wide Prometheus recorder, once; later calls (several
/// applications in one test process) return the same handle. `None` when
/// another recorder was installed first — e.g. the top-up service's, when
/// both services run in one process — so this service's `/metrics` is empty.
///
/// The binary calls this (through `telemetry::init`), as it installs the
/// global subscriber; an embedding or a test that wants metrics calls it
/// before starting the application.
pub fn install() -> Option<PrometheusHandle> {
    RECORDER.install()
}

/// The gRPC paths this server answers, read from the proto descriptor sets
/// (the KVP protos, health) and reflection's, so a client's made-up path
/// cannot mint labels.
pub static GRPC_METHODS: LazyLock<GrpcMethods> = LazyLock::new(|| {
    GrpcMethods::from_descriptor_sets(&[
        kvp_proto::FILE_DESCRIPTOR_SET,
        tonic_health::pb::FILE_DESCRIPTOR_SET,
    ])
    .with_reflection()
});

/// The tower layer on the tonic server counting and timing every gRPC
/// request (health and reflection included) by method and status code.
pub fn grpc_layer() -> GrpcMetricsLayer {
    GrpcMetricsLayer::new(REQUEST_METRICS, &GRPC_METHODS)
}

/// The `reason` label of a refused timesheet: the lowercase name of the gRPC
/// code the error is answered with (`crate::error` maps it; this mirrors that
/// mapping for the label only).
pub fn rejection_reason(error: &ServiceError) -> &'static str {
    match error {
        ServiceError::InvalidArgument(_) => "invalid_argument",
        ServiceError::NotFound { .. } => "not_found",
        ServiceError::AlreadyExists { .. } | ServiceError::Duplicate { .. } => "already_exists",
        ServiceError::IdempotencyKeyReused => "invalid_argument",
        ServiceError::IdempotencyKeyInUse { .. } => "aborted",
        ServiceError::FailedPrecondition { .. }
        | ServiceError::PreconditionRequired { .. }
        | ServiceError::PreconditionFailed { .. } => "failed_precondition",
        ServiceError::Unauthenticated { .. } => "unauthenticated",
        ServiceError::PermissionDenied { .. } => "permission_denied",
        ServiceError::TooLarge { .. } => "out_of_range",
        ServiceError::Timeout { .. } => "deadline_exceeded",
        ServiceError::Internal(_) => "internal",
    }
}

/// Counts a submission's outcome: a new acceptance with its flags, or a
/// refusal by reason. A duplicate (the same payload again) is neither.
pub fn record_submission(result: &Result<crate::payroll::Submitted, ServiceError>) {
    match result {
        Ok(submitted) if submitted.duplicate => {}
        Ok(submitted) => {
            counter!(TIMESHEETS_ACCEPTED).increment(1);
            for flag in &submitted.assessment.flags {
                counter!(QUOTA_FLAGS, "flag" => flag.to_ascii_lowercase()).increment(1);
            }
        }
        Err(error) => {
            counter!(TIMESHEETS_REJECTED, "reason" => rejection_reason(error)).increment(1);
        }
    }
}

/// A run total in whole øre, for the amount counter: `None` for a negative
/// total (runs never have one; a counter cannot go down). Totals are whole
/// øre by construction; a fraction of an øre, which cannot arise, would be
/// rounded half to even (banker's rounding) rather than lost.
pub fn whole_ore(total: Decimal) -> Option<u64> {
    use rust_decimal::prelude::ToPrimitive;
    if total.is_sign_negative() {
        return None;
    }
    total
        .checked_mul(Decimal::ONE_HUNDRED)?
        .round_dp_with_strategy(0, RoundingStrategy::MidpointNearestEven)
        .to_u64()
}

/// Records a close that created a run, with the participants it held (the
/// counter is written even for none, so a dashboard sees it from the first close).
pub fn record_period_closed(elapsed: Duration, lines: usize, total: Decimal, held: usize) {
    histogram!(PAY_PERIOD_CLOSE_DURATION).record(elapsed);
    counter!(PAY_PERIOD_LINES).increment(u64::try_from(lines).unwrap_or(u64::MAX));
    counter!(PAY_PERIOD_HELD).increment(u64::try_from(held).unwrap_or(u64::MAX));
    match whole_ore(total) {
        Some(ore) => counter!(PAY_PERIOD_AMOUNT_ORE).increment(ore),
        None => tracing::warn!(%total, "a run total is negative; not counted"),
    }
}

/// Sets the outbox backlog gauge (clamped to the gauge's integer range).
pub fn record_outbox_backlog(backlog: i64) {
    gauge!(OUTBOX_BACKLOG).set(u32::try_from(backlog.max(0)).unwrap_or(u32::MAX));
}

/// Records the audit chain's length at a checkpoint.
pub fn record_audit_chain_entries(entries: u64) {
    gauge!(AUDIT_CHAIN_ENTRIES).set(u32::try_from(entries).unwrap_or(u32::MAX));
}

/// Counts one delivered outbox event.
pub fn record_outbox_delivered() {
    counter!(OUTBOX_DELIVERED).increment(1);
}

/// Counts one failed delivery attempt.
pub fn record_outbox_delivery_failure() {
    counter!(OUTBOX_DELIVERY_FAILURES).increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_totals_count_in_whole_ore_and_negative_totals_are_skipped() {
        assert_eq!(whole_ore(Decimal::new(1_234_567, 2)), Some(1_234_567));
        assert_eq!(whole_ore(Decimal::new(15, 0)), Some(1_500));
        assert_eq!(whole_ore(Decimal::ZERO), Some(0));
        assert_eq!(whole_ore(Decimal::new(-1, 2)), None);
        // Not reachable from a run, but rounded by a named rule, not truncated.
        assert_eq!(whole_ore(Decimal::new(1_005, 3)), Some(100));
        assert_eq!(whole_ore(Decimal::new(1_015, 3)), Some(102));
    }

    #[test]
    fn grpc_methods_are_labelled_only_when_served() {
        assert_eq!(
            GRPC_METHODS.label("/kvp.payroll.v1.PayrollService/SubmitTimesheet"),
            "SubmitTimesheet"
        );
        assert_eq!(GRPC_METHODS.label("/grpc.health.v1.Health/Check"), "Check");
        assert_eq!(
            GRPC_METHODS.label("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"),
            "ServerReflectionInfo"
        );
        assert_eq!(
            GRPC_METHODS.label("/kvp.payroll.v1.PayrollService/0d5a1c2e-made-up"),
            "unknown"
        );
    }

    #[test]
    fn metric_names_are_unique_and_prefixed() {
        use std::collections::HashSet;
        let unique: HashSet<_> = METRIC_NAMES.iter().collect();
        assert_eq!(unique.len(), METRIC_NAMES.len());
        assert!(METRIC_NAMES.iter().all(|n| n.starts_with("kvp_")));
        // The request metrics' names, as the dashboard queries them.
        assert_eq!(
            [
                GRPC_REQUESTS,
                GRPC_REQUEST_DURATION,
                HTTP_REQUESTS,
                HTTP_REQUEST_DURATION
            ],
            [
                "kvp_grpc_requests_total",
                "kvp_grpc_request_duration_seconds",
                "kvp_http_requests_total",
                "kvp_http_request_duration_seconds",
            ]
        );
    }
}
