//! Observability from outside: `GET /metrics` after real submissions, closes
//! and deliveries; and the service's spans received by an in-process OTLP
//! collector, with ids on them and no identity number anywhere; and
//! readiness, which fails while a migration of this build is missing.
//!
//! The metrics recorder is process-wide and the tests of this binary run in
//! parallel, so counters are compared before and after (`≥ before + n`),
//! never to absolute values.

use std::sync::{Arc, Mutex};

use kvp_payroll::telemetry::{SERVICE_NAME, TelemetryGuard};
use kvp_proto::kvp::payroll::v1 as pb;
use kvp_system_tests::{Fixture, TestApp, TopupApp, eventually, national_id, sign};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::Span;
use pb::DayKind;
use prost::Message;
use rust_decimal::Decimal;
use tracing_subscriber::layer::SubscriberExt;

/// Installs the payroll service's recorder (idempotent: the binary's `main`
/// does it once, tests as they start). In this test binary only the payroll
/// service installs one, so it is the process's.
fn install_recorder() {
    assert!(
        kvp_payroll::metrics::install().is_some(),
        "the payroll recorder is this process's"
    );
}

/// The payroll service's exposition now.
async fn metrics(app: &TestApp) -> String {
    let response = app
        .client
        .get(format!("{}/metrics", app.http))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    response.text().await.unwrap()
}

/// The value of the series `name{labels…}` (every label given, in any
/// order), or 0 when the series has not been written yet.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> u64 {
    let matching: Vec<u64> = text
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.rsplit_once(' '))
        .filter(|(series, _)| {
            let plain = *series == name;
            let labelled = series.starts_with(&format!("{name}{{"))
                && labels
                    .iter()
                    .all(|(k, v)| series.contains(&format!("{k}=\"{v}\"")));
            (labels.is_empty() && plain) || labelled
        })
        .map(|(series, value)| {
            value
                .parse()
                .unwrap_or_else(|_| panic!("{series}: {value} is not a whole count"))
        })
        .collect();
    assert!(
        matching.len() <= 1,
        "{name} {labels:?} is ambiguous in:\n{text}"
    );
    matching.first().copied().unwrap_or(0)
}

/// Whether the text holds anything shaped like a UUID (an id in a label).
fn contains_uuid(text: &str) -> bool {
    text.split(|c: char| !(c.is_ascii_hexdigit() || c == '-'))
        .any(|token| token.len() == 36 && uuid::Uuid::parse_str(token).is_ok())
}

/// An amount in kroner (`"1234.56"`) in whole øre.
fn ore(amount: &str) -> u64 {
    use rust_decimal::prelude::ToPrimitive;
    let kroner: Decimal = amount.parse().unwrap();
    (kroner * Decimal::ONE_HUNDRED).to_u64().unwrap()
}

#[tokio::test]
async fn metrics_count_timesheets_by_outcome_and_requests_by_route_template() {
    install_recorder();
    let mut app = TestApp::spawn().await;
    let fixture = Fixture::new(&app).await;
    let before = metrics(&app).await;
    let unauthenticated = [("reason", "unauthenticated")];
    let pending_flag = [("flag", "unexcused_pending_decision")];
    let submit_ok = [("method", "SubmitTimesheet"), ("code", "OK")];
    let submit_refused = [("method", "SubmitTimesheet"), ("code", "UNAUTHENTICATED")];

    let body = fixture.body(
        "2025-10-01",
        "2025-10-31",
        &[("2025-10-14", DayKind::Unexcused, "3")],
    );
    let accepted = app
        .grpc
        .submit_timesheet(fixture.signed(&body))
        .await
        .unwrap()
        .into_inner();
    assert!(!accepted.duplicate);
    // The same payload again is a duplicate: answered, not counted again.
    app.grpc
        .submit_timesheet(fixture.signed(&body))
        .await
        .unwrap();
    // Another payload (a payload accepted before is answered as a duplicate
    // whatever its signatures), signed with a key nobody registered.
    let november = fixture.body(
        "2025-11-01",
        "2025-11-30",
        &[("2025-11-04", DayKind::Unexcused, "2")],
    );
    let stranger = kvp_signing::SigningKey::from_bytes(&[9; 32]);
    let refused = app
        .grpc
        .submit_timesheet(sign(
            november.encode_to_vec(),
            &[
                ("participant-key", &fixture.participant_key),
                ("someone-else", &stranger),
            ],
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unauthenticated);
    app.get(&format!("/v1/participants/{}", fixture.participant_id))
        .await;

    let after = metrics(&app).await;
    let grew = |name: &str, labels: &[(&str, &str)], by: u64| {
        let (was, now) = (sample(&before, name, labels), sample(&after, name, labels));
        assert!(
            now >= was + by,
            "{name} {labels:?} went from {was} to {now}, expected +{by}:\n{after}"
        );
    };
    grew("kvp_timesheets_accepted_total", &[], 1);
    grew("kvp_timesheets_rejected_total", &unauthenticated, 1);
    grew("kvp_quota_flags_total", &pending_flag, 1);
    grew("kvp_grpc_requests_total", &submit_ok, 2);
    grew("kvp_grpc_requests_total", &submit_refused, 1);
    grew(
        "kvp_http_requests_total",
        &[
            ("route", "/v1/participants/{id}"),
            ("method", "GET"),
            ("status", "200"),
        ],
        1,
    );
    // The fixture's registrations, counted before: by template too.
    let registered = [
        ("route", "/v1/participants/{id}/programmes"),
        ("method", "POST"),
        ("status", "201"),
    ];
    assert!(
        sample(&before, "kvp_http_requests_total", &registered) >= 1,
        "{before}"
    );
    // Latencies are histograms with buckets (what the dashboard's quantiles need).
    assert!(
        after.contains("kvp_grpc_request_duration_seconds_bucket{method=\"SubmitTimesheet\",le=\""),
        "{after}"
    );
    assert!(
        after.contains("kvp_http_request_duration_seconds_bucket{route=\"/v1/participants/{id}\""),
        "{after}"
    );
    // Labels carry templates, never ids.
    assert!(!after.contains(&fixture.participant_id), "{after}");
    assert!(!contains_uuid(&after), "an id in a label:\n{after}");

    // A close that creates a run: its duration, lines and total in øre.
    let close = app
        .grpc
        .close_period(pb::ClosePeriodRequest {
            municipality_id: "0301".into(),
            month: "2025-10".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(close.created);
    let run = close.run.unwrap();
    assert!(run.line_count > 0, "{run:?}");
    let closed = metrics(&app).await;
    let closes = |text: &str| sample(text, "kvp_pay_period_close_duration_seconds_count", &[]);
    assert!(closes(&closed) > closes(&after), "{closed}");
    assert!(
        sample(&closed, "kvp_pay_period_lines_total", &[])
            >= sample(&after, "kvp_pay_period_lines_total", &[]) + u64::from(run.line_count)
    );
    assert!(
        sample(&closed, "kvp_pay_period_amount_ore_total", &[])
            >= sample(&after, "kvp_pay_period_amount_ore_total", &[]) + ore(&run.total_amount),
        "total {} kr:\n{closed}",
        run.total_amount
    );
    assert!(!contains_uuid(&closed), "an id in a label:\n{closed}");
    app.stop().await;
}

#[tokio::test]
async fn the_relay_counts_deliveries_and_reports_the_backlog() {
    install_recorder();
    let topup = TopupApp::spawn("127.0.0.1:0".parse().unwrap()).await;
    let mut app = TestApp::spawn_with(Some(topup.grpc_url.clone())).await;
    let fixture = Fixture::new(&app).await;
    let before = metrics(&app).await;
    let body = fixture.body(
        "2025-10-01",
        "2025-10-31",
        &[("2025-10-14", DayKind::Unexcused, "3")],
    );
    app.grpc
        .submit_timesheet(fixture.signed(&body))
        .await
        .unwrap();
    // The event is delivered: the outbox empties…
    let store = app.payroll.store().clone();
    eventually(10, || async {
        (store.outbox_backlog().await.unwrap() == 0).then_some(())
    })
    .await;
    // …and the delivery was counted.
    let delivered = |text: &str| sample(text, "kvp_outbox_delivered_total", &[]);
    let after = metrics(&app).await;
    assert!(delivered(&after) > delivered(&before), "{after}");
    assert!(
        after.lines().any(|l| l.starts_with("kvp_outbox_backlog ")),
        "{after}"
    );
    app.stop().await;
    topup.stop().await;
}

/// A span as received, with its resource's attributes.
type ReceivedSpan = (Vec<KeyValue>, Span);

/// An OTLP/gRPC trace receiver keeping every span it is sent.
#[derive(Clone, Default)]
struct Collector {
    spans: Arc<Mutex<Vec<ReceivedSpan>>>,
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut spans = self.spans.lock().unwrap();
        for resource_spans in request.into_inner().resource_spans {
            let resource = resource_spans
                .resource
                .map(|r| r.attributes)
                .unwrap_or_default();
            for scope in resource_spans.scope_spans {
                spans.extend(scope.spans.into_iter().map(|s| (resource.clone(), s)));
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

fn text(value: Option<&AnyValue>) -> String {
    match value.and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}

fn attribute(attributes: &[KeyValue], key: &str) -> Option<String> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .map(|kv| text(kv.value.as_ref()))
}

/// Whether a value holds a run of exactly eleven digits standing alone — the
/// shape of a national identity number (ids and digests are longer tokens).
fn looks_like_identity_number(value: &str) -> bool {
    value
        .split(|c: char| !c.is_ascii_alphanumeric())
        .any(|token| token.len() == 11 && token.bytes().all(|b| b.is_ascii_digit()))
}

/// The services' spans exported to an in-process collector, through this
/// test thread's default subscriber until [`Traced::finish`].
struct Traced {
    collector: Collector,
    receiver: tokio::task::JoinHandle<Result<(), tonic::transport::Error>>,
    telemetry: TelemetryGuard,
    default: tracing::subscriber::DefaultGuard,
    _idle: tracing::Dispatch,
}

impl Traced {
    async fn start() -> Self {
        let collector = Collector::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let receiver = tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(TraceServiceServer::new(collector.clone()))
                .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
        );
        // The test's runtime has one thread: with the OTLP layer as its default
        // subscriber, every request the services handle is traced through it.
        // tracing caches a callsite's interest when a thread first reaches it.
        // With one registered dispatcher it asks only the reaching thread's
        // default, so a parallel test (no subscriber) reaching a service
        // callsite first would cache "never" and hide it from this thread as
        // well. A second, idle dispatcher makes tracing ask every live
        // dispatcher instead.
        let idle = tracing::Dispatch::new(tracing_subscriber::registry());
        let telemetry = TelemetryGuard::otlp(SERVICE_NAME, &endpoint).unwrap();
        let subscriber = tracing_subscriber::registry().with(telemetry.layer());
        let default = tracing::subscriber::set_default(subscriber);
        Self {
            collector,
            receiver,
            telemetry,
            default,
            _idle: idle,
        }
    }

    /// Flushes the spans and stops the collector; what it received.
    async fn finish(self) -> Collector {
        drop(self.default);
        // Flushing blocks until the collector has answered: off this thread,
        // so that the runtime keeps serving the collector meanwhile.
        let telemetry = self.telemetry;
        tokio::task::spawn_blocking(move || telemetry.shutdown())
            .await
            .unwrap()
            .unwrap();
        self.receiver.abort();
        self.collector
    }
}

#[tokio::test]
async fn spans_reach_an_otlp_collector_with_ids_and_no_identity_numbers() {
    let traced = Traced::start().await;
    let mut app = TestApp::spawn().await;
    let fixture = Fixture::new(&app).await;
    let body = fixture.body(
        "2025-10-01",
        "2025-10-31",
        &[("2025-10-14", DayKind::Unexcused, "3")],
    );
    app.grpc
        .submit_timesheet(fixture.signed(&body))
        .await
        .unwrap();
    app.stop().await;
    let collector = traced.finish().await;
    let spans = collector.spans.lock().unwrap();
    let submit: Vec<&Span> = spans
        .iter()
        .filter(|(_, s)| s.name == "payroll.submit_timesheet")
        .map(|(_, s)| s)
        .collect();
    assert_eq!(submit.len(), 1, "{:?}", names(&spans));
    assert_eq!(
        attribute(&submit[0].attributes, "participant_id").as_deref(),
        Some(fixture.participant_id.as_str())
    );
    let (resource, _) = &spans[0];
    assert_eq!(
        attribute(resource, "service.name").as_deref(),
        Some("kvp-payroll")
    );
    // The REST spans carry the route template.
    assert!(
        spans.iter().any(|(_, s)| {
            attribute(&s.attributes, "http.route").as_deref()
                == Some("/v1/participants/{id}/programmes")
        }),
        "{:?}",
        names(&spans)
    );

    // The participant was registered with an identity number: it is on no span.
    let identity_number = national_id("150190", 123);
    for (resource, span) in spans.iter() {
        let attributes = resource
            .iter()
            .chain(&span.attributes)
            .chain(span.events.iter().flat_map(|e| &e.attributes));
        for kv in attributes {
            let value = text(kv.value.as_ref());
            assert!(
                !value.contains(&identity_number) && !looks_like_identity_number(&value),
                "span {:?} attribute {} = {value:?} looks like an identity number",
                span.name,
                kv.key
            );
        }
    }
}

#[tokio::test]
async fn one_trace_runs_from_a_submitted_timesheet_to_the_top_up_span_of_its_event() {
    // One thread, one default subscriber for both services.
    let traced = Traced::start().await;

    let topup = TopupApp::spawn("127.0.0.1:0".parse().unwrap()).await;
    let mut app = TestApp::spawn_with(Some(topup.grpc_url.clone())).await;
    let fixture = Fixture::new(&app).await;
    let body = fixture.body(
        "2025-10-01",
        "2025-10-31",
        &[("2025-10-14", DayKind::Unexcused, "3")],
    );
    // The timesheet client's trace: a random trace id of its own.
    let trace_id = uuid::Uuid::new_v4().simple().to_string();
    let client_span = "0123456789abcdef";
    let mut request = tonic::Request::new(fixture.signed(&body));
    request.metadata_mut().insert(
        "traceparent",
        format!("00-{trace_id}-{client_span}-01").parse().unwrap(),
    );
    app.grpc.submit_timesheet(request).await.unwrap();
    let store = app.payroll.store().clone();
    eventually(10, || async {
        (store.outbox_backlog().await.unwrap() == 0).then_some(())
    })
    .await;
    app.stop().await;
    topup.stop().await;
    let collector = traced.finish().await;
    let spans = collector.spans.lock().unwrap();
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let in_trace = |name: &str| -> Vec<&Span> {
        spans
            .iter()
            .map(|(_, s)| s)
            .filter(|s| s.name == name && hex(&s.trace_id) == trace_id)
            .collect()
    };
    // The request's span is the client's span's child; the submission, the
    // relay's delivery of its event and the top-up's receipt are in its trace.
    let request = in_trace("grpc.request");
    assert!(
        request.iter().any(|s| hex(&s.parent_span_id) == client_span
            && attribute(&s.attributes, "rpc.method").as_deref()
                == Some("/kvp.payroll.v1.PayrollService/SubmitTimesheet")),
        "{:?}",
        names(&spans)
    );
    assert_eq!(
        in_trace("payroll.submit_timesheet").len(),
        1,
        "{:?}",
        names(&spans)
    );
    let relay = in_trace("relay.deliver");
    assert_eq!(relay.len(), 1, "{:?}", names(&spans));
    let received = in_trace("topup.deliver");
    assert_eq!(received.len(), 1, "{:?}", names(&spans));
    assert_eq!(
        received[0].parent_span_id, relay[0].span_id,
        "the top-up's span is the delivery's child"
    );
    assert_eq!(
        attribute(&received[0].attributes, "event.kind").as_deref(),
        Some(kvp_proto::event_types::TIMESHEET_ACCEPTED)
    );
}

fn names(spans: &[ReceivedSpan]) -> Vec<&str> {
    spans.iter().map(|(_, s)| s.name.as_str()).collect()
}

#[test]
fn eleven_digit_tokens_are_recognised_and_ids_and_digests_are_not() {
    assert!(looks_like_identity_number(&national_id("150190", 123)));
    assert!(looks_like_identity_number("fnr=15019012345;"));
    assert!(!looks_like_identity_number(
        "0193a1b2-1234-7abc-8def-123456789012"
    ));
    assert!(!looks_like_identity_number(
        "sha256:01234567890123456789012345678901234567890123456789012345678901ab"
    ));
    assert!(!looks_like_identity_number("1234567890"));
}

/// `GET /readyz`: status and body (a problem is checked to come as one).
async fn readiness(app: &TestApp) -> (u16, serde_json::Value) {
    app.call(reqwest::Method::GET, "/readyz", None).await
}

#[tokio::test]
async fn readiness_fails_while_a_migration_of_this_build_is_missing_or_failed() {
    let app = TestApp::spawn().await;
    assert_eq!(readiness(&app).await, (200, "ready".into()));
    let latest = app
        .sql(
            "SELECT CAST(version AS TEXT) || ' ' || description FROM _sqlx_migrations \
             ORDER BY version DESC LIMIT 1",
        )
        .await
        .unwrap();
    let expected_detail = format!("migrations pending: {latest}");

    // A migration that failed half-way (sqlx records it with success = false).
    app.sql(
        "UPDATE _sqlx_migrations SET success = false \
         WHERE version = (SELECT MAX(version) FROM _sqlx_migrations)",
    )
    .await;
    let (status, problem) = readiness(&app).await;
    assert_eq!(status, 503);
    assert_eq!(problem["type"], "https://kvp.example/problems/not-ready");
    assert_eq!(problem["detail"], expected_detail.as_str());

    app.sql(
        "UPDATE _sqlx_migrations SET success = true \
         WHERE version = (SELECT MAX(version) FROM _sqlx_migrations)",
    )
    .await;
    assert_eq!(readiness(&app).await, (200, "ready".into()));

    // A database restored from before the latest migration.
    app.sql(
        "DELETE FROM _sqlx_migrations \
         WHERE version = (SELECT MAX(version) FROM _sqlx_migrations)",
    )
    .await;
    let (status, problem) = readiness(&app).await;
    assert_eq!(status, 503);
    assert_eq!(problem["detail"], expected_detail.as_str());
    app.stop().await;
}

#[tokio::test]
async fn readiness_fails_while_the_database_does_not_answer() {
    let app = TestApp::spawn().await;
    assert_eq!(readiness(&app).await, (200, "ready".into()));
    // The store's connections closed: every query fails as it would with
    // the database gone.
    app.payroll.store().close().await;
    let (status, problem) = readiness(&app).await;
    assert_eq!(status, 503);
    assert_eq!(problem["type"], "https://kvp.example/problems/not-ready");
    assert_eq!(problem["detail"], "the database does not answer");
    // Liveness is the process's own: it still answers.
    assert_eq!(app.get("/healthz").await, "ok");
    app.stop().await;
}
