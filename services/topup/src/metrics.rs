//! Prometheus metrics: the names the service exports (a dashboard queries
//! them, see [`METRIC_NAMES`]), its [`RECORDER`] and its domain counters.
//! The recorder, `GET /metrics` and the request metrics of both surfaces (an
//! axum middleware and a tower layer on the tonic server) are
//! `kvp_telemetry`'s. Every name has the `kvp_topup_` prefix, so the payroll
//! service's and this one's never collide in one Prometheus.
//!
//! Labels are bounded sets only — route templates, gRPC method names known
//! from the proto descriptors, status codes, event types, outcomes and
//! states — never ids or personal data.

use std::sync::LazyLock;

use kvp_proto::kvp::events::v1::CloudEvent;
use kvp_telemetry::{
    GrpcMethods, GrpcMetricsLayer, PrometheusHandle, Recorder, RequestMetricNames,
};
use metrics::{counter, gauge};

use crate::error::ServiceError;
use crate::proposal::ProposalState;
use crate::store::Received;

/// Events received, by `type` (the CloudEvent type, or `unknown`) and
/// `outcome`: `applied` (stored now), `duplicate` (received before),
/// `invalid` (malformed, refused) or `failed` (storage failure; the sender
/// retries).
pub const EVENTS: &str = "kvp_topup_events_total";
/// Proposals by `state`: `proposed` when made (a proposal of 0.00 is made
/// as NO_SHORTFALL and counted here too), `accepted` or `rejected` when a
/// caseworker decides. (Open proposals superseded by a newer one are not
/// counted here: the store replaces them inside the transaction.)
pub const PROPOSALS: &str = "kvp_topup_proposals_total";
/// 1 while the newest norm rates are of an earlier year than today's (no
/// newer circular is registered, so this year's proposals use old rates and
/// carry a warning), else 0.
pub const NORM_RATES_STALE: &str = "kvp_topup_norm_rates_stale";
/// The request metrics of both surfaces, named with the `kvp_topup_` prefix.
pub const REQUEST_METRICS: RequestMetricNames = kvp_telemetry::request_metric_names!("kvp_topup_");
/// `kvp_topup_http_requests_total`: REST requests, by `route` (the
/// template), `method` and `status`.
pub const HTTP_REQUESTS: &str = REQUEST_METRICS.http_requests;
/// `kvp_topup_http_request_duration_seconds`: REST request latency, by
/// `route` and `method`.
pub const HTTP_REQUEST_DURATION: &str = REQUEST_METRICS.http_request_duration;
/// `kvp_topup_grpc_requests_total`: gRPC requests, by `method` (the path's
/// last segment) and `code` (the grpc-status name, e.g. `OK`,
/// `INVALID_ARGUMENT`).
pub const GRPC_REQUESTS: &str = REQUEST_METRICS.grpc_requests;
/// `kvp_topup_grpc_request_duration_seconds`: gRPC request latency until the
/// response headers, by `method`.
pub const GRPC_REQUEST_DURATION: &str = REQUEST_METRICS.grpc_request_duration;

/// Every metric name this service exports, for checking a dashboard's queries.
pub const METRIC_NAMES: &[&str] = &[
    EVENTS,
    PROPOSALS,
    NORM_RATES_STALE,
    HTTP_REQUESTS,
    HTTP_REQUEST_DURATION,
    GRPC_REQUESTS,
    GRPC_REQUEST_DURATION,
];

/// Histogram bucket bounds for latencies, in milliseconds.
const LATENCY_BUCKETS_MS: [u64; 14] = [
    1, 2, 5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000,
];

/// This service's view of the process-wide Prometheus recorder: it serves
/// `GET /metrics` and runs the histogram upkeep.
pub static RECORDER: Recorder = Recorder::new(&LATENCY_BUCKETS_MS);

/// Installs the process-wide Prometheus recorder, once; later calls return
/// the same handle. `None` when another recorder was installed first (the
/// payroll service's, when both run in one test process), so this service's
/// `/metrics` is then empty.
///
/// The binary calls this (through `telemetry::init`), as it installs the
/// global subscriber; an embedding or a test that wants metrics calls it
/// before starting the application.
pub fn install() -> Option<PrometheusHandle> {
    RECORDER.install()
}

/// The gRPC paths this server answers — every KVP proto's and health's
/// methods, and reflection's — so a client's made-up path cannot mint labels.
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

/// The `type` label of an event: one of the payroll service's event types,
/// else `unknown` (a sender chooses the type; the label set stays bounded).
pub fn event_type_label(event: Option<&CloudEvent>) -> &'static str {
    use kvp_proto::event_types::{
        DEDUCTION_DECIDED, FACT_CORRECTED, PERIOD_CLOSED, SANCTION_APPEAL_DECIDED,
        SANCTION_APPEALED, SANCTION_WARNED, STIPEND_PAID, TIMESHEET_ACCEPTED,
    };
    let Some(event) = event else { return "unknown" };
    [
        TIMESHEET_ACCEPTED,
        DEDUCTION_DECIDED,
        PERIOD_CLOSED,
        STIPEND_PAID,
        FACT_CORRECTED,
        SANCTION_WARNED,
        SANCTION_APPEALED,
        SANCTION_APPEAL_DECIDED,
    ]
    .into_iter()
    .find(|known| *known == event.r#type)
    .unwrap_or("unknown")
}

/// Counts a delivered event by type and outcome, and the proposal it made.
pub fn record_delivery(event_type: &'static str, result: &Result<Received, ServiceError>) {
    let outcome = match result {
        Ok(Received::Duplicate) => "duplicate",
        Ok(Received::Stored { proposal, .. }) => {
            if proposal.is_some() {
                record_proposal(ProposalState::Proposed);
            }
            "applied"
        }
        Err(ServiceError::InvalidInput { .. }) => "invalid",
        Err(_) => "failed",
    };
    counter!(EVENTS, "type" => event_type, "outcome" => outcome).increment(1);
}

/// Sets [`NORM_RATES_STALE`] from the newest period's first day and today.
pub fn record_norm_rates(newest_from: Option<time::Date>, today: time::Date) {
    let stale = newest_from.is_none_or(|from| from.year() < today.year());
    gauge!(NORM_RATES_STALE).set(if stale { 1.0 } else { 0.0 });
}

/// Counts a proposal made (`Proposed`) or decided (`Accepted`, `Rejected`).
pub fn record_proposal(state: ProposalState) {
    let state = match state {
        ProposalState::Proposed => "proposed",
        ProposalState::Accepted => "accepted",
        ProposalState::Rejected => "rejected",
        ProposalState::Superseded => "superseded",
        ProposalState::NoShortfall => "no_shortfall",
    };
    counter!(PROPOSALS, "state" => state).increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_methods_are_labelled_only_when_served() {
        assert_eq!(
            GRPC_METHODS.label("/kvp.topup.v1.EventSinkService/Deliver"),
            "Deliver"
        );
        assert_eq!(GRPC_METHODS.label("/grpc.health.v1.Health/Check"), "Check");
        assert_eq!(
            GRPC_METHODS.label("/kvp.topup.v1.EventSinkService/x-123"),
            "unknown"
        );
    }

    #[test]
    fn event_types_outside_the_payroll_set_are_unknown() {
        let mut event = CloudEvent {
            r#type: kvp_proto::event_types::STIPEND_PAID.into(),
            ..CloudEvent::default()
        };
        assert_eq!(
            event_type_label(Some(&event)),
            "no.kvp.payroll.stipend.paid.v1"
        );
        event.r#type = "com.example.anything.v9".into();
        assert_eq!(event_type_label(Some(&event)), "unknown");
        assert_eq!(event_type_label(None), "unknown");
    }

    /// The value of the series `name{labels…}`, 0 when not written yet.
    fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> u64 {
        text.lines()
            .filter_map(|line| line.rsplit_once(' '))
            .find(|(series, _)| {
                series.starts_with(&format!("{name}{{"))
                    && labels
                        .iter()
                        .all(|(k, v)| series.contains(&format!("{k}=\"{v}\"")))
            })
            .map_or(0, |(_, value)| value.parse().unwrap())
    }

    #[tokio::test]
    async fn requests_and_events_are_counted_by_template_and_outcome() {
        // The only recorder in this test binary; other tests may add to it,
        // so values are compared with at least what this test did.
        assert!(install().is_some());
        let dir = tempfile::tempdir().unwrap();
        let config = crate::Config {
            grpc_addr: "127.0.0.1:0".parse().unwrap(),
            http_addr: "127.0.0.1:0".parse().unwrap(),
            database_url: crate::config::DatabaseUrl::new(format!(
                "sqlite://{}?mode=rwc",
                dir.path().join("topup.db").display()
            )),
            ..crate::Config::default()
        };
        let app = crate::Application::build(&config).await.unwrap();
        let (grpc, http) = (app.grpc_addr(), app.http_addr());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until(async {
            let _ = stopped.await;
        }));

        let client = reqwest::Client::new();
        let id = uuid::Uuid::new_v4();
        let missing = client
            .get(format!("http://{http}/proposals/{id}"))
            .send()
            .await
            .unwrap();
        assert_eq!(missing.status(), 404);
        let mut sink =
            kvp_proto::kvp::topup::v1::event_sink_service_client::EventSinkServiceClient::connect(
                format!("http://{grpc}"),
            )
            .await
            .unwrap();
        let refused = sink
            .deliver(kvp_proto::kvp::topup::v1::DeliverRequest { event: None })
            .await
            .unwrap_err();
        assert_eq!(refused.code(), tonic::Code::InvalidArgument);

        let response = client
            .get(format!("http://{http}/metrics"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let text = response.text().await.unwrap();
        let route = [
            ("route", "/proposals/{id}"),
            ("method", "GET"),
            ("status", "404"),
        ];
        assert!(sample(&text, HTTP_REQUESTS, &route) >= 1, "{text}");
        let invalid = [("type", "unknown"), ("outcome", "invalid")];
        assert!(sample(&text, EVENTS, &invalid) >= 1, "{text}");
        let deliver = [("method", "Deliver"), ("code", "INVALID_ARGUMENT")];
        assert!(sample(&text, GRPC_REQUESTS, &deliver) >= 1, "{text}");
        assert!(
            text.contains(
                "kvp_topup_grpc_request_duration_seconds_bucket{method=\"Deliver\",le=\""
            ),
            "{text}"
        );
        assert!(!text.contains(&id.to_string()), "{text}");

        stop.send(()).unwrap();
        server.await.unwrap().unwrap();
    }

    #[test]
    fn metric_names_are_unique_and_prefixed() {
        use std::collections::HashSet;
        let unique: HashSet<_> = METRIC_NAMES.iter().collect();
        assert_eq!(unique.len(), METRIC_NAMES.len());
        assert!(METRIC_NAMES.iter().all(|n| n.starts_with("kvp_topup_")));
        // The request metrics' names, as the dashboard queries them.
        assert_eq!(
            [
                HTTP_REQUESTS,
                HTTP_REQUEST_DURATION,
                GRPC_REQUESTS,
                GRPC_REQUEST_DURATION
            ],
            [
                "kvp_topup_http_requests_total",
                "kvp_topup_http_request_duration_seconds",
                "kvp_topup_grpc_requests_total",
                "kvp_topup_grpc_request_duration_seconds",
            ]
        );
    }
}
