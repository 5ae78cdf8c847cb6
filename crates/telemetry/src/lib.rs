//! The observability plumbing the KVP services share, parameterized by what
//! differs between them.
//!
//! # What this crate owns
//!
//! - [`Recorder`]: the Prometheus recorder, installed once per process as the
//!   global `metrics` recorder, with the service's latency buckets; its
//!   upkeep task and the `GET /metrics` text exposition.
//! - [`RequestMetricNames`] (built by [`request_metric_names!`] from a
//!   service's prefix, e.g. `kvp_` or `kvp_topup_`): the names of the request
//!   metrics of both surfaces, recorded by [`track_http`] (an axum middleware
//!   labelling by route template, method and status) and by
//!   [`GrpcMetricsLayer`] (a tower layer on the tonic server labelling by
//!   method, from the [`GrpcMethods`] a service serves, and status code).
//! - [`init_tracing`] and [`TelemetryGuard`]: the global subscriber (text or
//!   JSON lines, filtered by `RUST_LOG`) and span export over OTLP/gRPC under
//!   a service's `service.name`, on an exporter with its own Tokio runtime.
//!
//! # What it must not do
//!
//! It knows no domain: no timesheets, runs, events or proposals, no metric
//! beyond the request metrics, no proto package of its own (a service hands
//! it the descriptor sets it serves), no configuration format. Each service
//! keeps its metric-name constants, its `METRIC_NAMES` list (a dashboard is
//! checked against it) and its domain counters, and passes in its prefix,
//! `service.name`, default log filter, buckets and gRPC methods.
//!
//! Labels stay bounded sets — route templates, known gRPC method names,
//! status codes — never ids or personal data.

mod grpc;
mod http;
mod recorder;
mod trace;

pub use grpc::{GrpcMethods, GrpcMetrics, GrpcMetricsLayer, grpc_code_name};
pub use http::track_http;
pub use metrics_exporter_prometheus::PrometheusHandle;
pub use recorder::Recorder;
pub use trace::{
    LogFormat, OtlpLayer, TRACEPARENT, TelemetryError, TelemetryGuard, adopt_request_trace,
    adopt_traceparent, current_traceparent, grpc_request_span, http_request_span, init_tracing,
};

/// The names of the request metrics of both surfaces, as one service exports
/// them. Build it with [`request_metric_names!`], which derives every name
/// from the service's prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestMetricNames {
    /// gRPC requests, by `method` (the path's last segment) and `code` (the
    /// grpc-status name, e.g. `OK`, `INVALID_ARGUMENT`):
    /// `{prefix}grpc_requests_total`.
    pub grpc_requests: &'static str,
    /// gRPC request latency until the response headers, by `method`:
    /// `{prefix}grpc_request_duration_seconds`.
    pub grpc_request_duration: &'static str,
    /// REST requests, by `route` (the template), `method` and `status`:
    /// `{prefix}http_requests_total`.
    pub http_requests: &'static str,
    /// REST request latency, by `route` and `method`:
    /// `{prefix}http_request_duration_seconds`.
    pub http_request_duration: &'static str,
}

/// The [`RequestMetricNames`] of a service whose metric names start with
/// `$prefix` (a string literal such as `"kvp_"`); usable in a `const`.
#[macro_export]
macro_rules! request_metric_names {
    ($prefix:literal) => {
        $crate::RequestMetricNames {
            grpc_requests: concat!($prefix, "grpc_requests_total"),
            grpc_request_duration: concat!($prefix, "grpc_request_duration_seconds"),
            http_requests: concat!($prefix, "http_requests_total"),
            http_request_duration: concat!($prefix, "http_request_duration_seconds"),
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_metric_names_follow_the_prefix() {
        const NAMES: RequestMetricNames = request_metric_names!("kvp_topup_");
        assert_eq!(NAMES.grpc_requests, "kvp_topup_grpc_requests_total");
        assert_eq!(
            NAMES.grpc_request_duration,
            "kvp_topup_grpc_request_duration_seconds"
        );
        assert_eq!(NAMES.http_requests, "kvp_topup_http_requests_total");
        assert_eq!(
            NAMES.http_request_duration,
            "kvp_topup_http_request_duration_seconds"
        );
    }
}
