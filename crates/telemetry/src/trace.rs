//! Logging and tracing set-up: log lines as text or JSON, filtered by
//! `RUST_LOG` (else the service's default filter), and — when an endpoint is
//! configured — the same spans exported over OTLP/gRPC to an OpenTelemetry
//! collector, under the service's `service.name`.
//!
//! Spans carry W3C trace context whether or not they are exported: a trace
//! begun by a caller (`traceparent`) continues through this service, its
//! outbox and the top-up service ([`adopt_traceparent`],
//! [`current_traceparent`]), so that a collector behind either service sees
//! one trace.
//!
//! [`init_tracing`] is for a binary: it installs the global subscriber. Tests
//! build a [`TelemetryGuard`] against an endpoint and use its
//! [`TelemetryGuard::layer`] in a subscriber of their own
//! (`tracing::subscriber::set_default`), so nothing global is touched.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use opentelemetry::propagation::TextMapPropagator as _;
use opentelemetry::trace::{TraceContextExt as _, TracerProvider as _};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider, SpanData, SpanExporter};
use tracing::Subscriber;
use tracing_opentelemetry::{OpenTelemetryLayer, OpenTelemetrySpanExt as _};
use tracing_subscriber::filter::{Filtered, LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// How long one export may take before it is abandoned (the batch is dropped).
const EXPORT_TIMEOUT: Duration = Duration::from_secs(5);

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Span export could not be set up or shut down.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// The OTLP exporter refused the endpoint.
    #[error("OTLP endpoint {endpoint}: {message}")]
    Exporter {
        /// The configured endpoint.
        endpoint: String,
        /// Why.
        message: String,
    },
    /// The exporter's runtime could not be started.
    #[error("OTLP export runtime: {0}")]
    Runtime(#[from] std::io::Error),
    /// Spans still buffered could not be flushed at shutdown.
    #[error("flushing spans at shutdown: {0}")]
    Shutdown(String),
}

/// Installs the global subscriber (a second call leaves the first in place):
/// log lines in `format`, filtered by `RUST_LOG` or else `default_filter`
/// (an `EnvFilter` directive such as `info`); exports spans over OTLP as
/// `service_name` when `otlp_endpoint` is set. Keep the guard until exit:
/// dropping it flushes the spans still buffered and shuts the exporter down.
pub fn init_tracing(
    service_name: &'static str,
    default_filter: &str,
    format: LogFormat,
    otlp_endpoint: Option<&str>,
) -> Result<TelemetryGuard, TelemetryError> {
    let guard = match otlp_endpoint {
        Some(endpoint) => TelemetryGuard::otlp(service_name, endpoint)?,
        None => TelemetryGuard::disabled(),
    };
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let logs = match format {
        LogFormat::Text => tracing_subscriber::fmt::layer().boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer().json().boxed(),
    };
    let _already_set = tracing_subscriber::registry()
        .with(filter)
        .with(logs)
        .with(guard.layer())
        .try_init();
    if let Some(endpoint) = otlp_endpoint {
        tracing::info!(endpoint, "exporting spans over OTLP/gRPC");
    }
    Ok(guard)
}

/// The span pipeline: trace context always, export when configured; flushes
/// and shuts down when dropped.
#[must_use = "dropping the guard shuts span export down"]
#[derive(Debug)]
pub struct TelemetryGuard {
    /// The `service.name` spans are exported under (and the tracer's name).
    service_name: &'static str,
    /// The provider behind the tracing layer; taken at shutdown.
    provider: Option<SdkTracerProvider>,
    /// Whether spans are exported.
    exporting: bool,
}

/// The layer [`TelemetryGuard::layer`] gives.
pub type OtlpLayer<S> = Filtered<OpenTelemetryLayer<S, SdkTracer>, Targets, S>;

impl TelemetryGuard {
    /// No span export; spans still carry trace context.
    pub fn disabled() -> Self {
        Self {
            service_name: "kvp",
            provider: Some(SdkTracerProvider::builder().build()),
            exporting: false,
        }
    }

    /// Spans exported as `service_name` in batches to the OTLP/gRPC
    /// collector at `endpoint` (`http://host:4317`). Nothing connects until
    /// the first batch, so an absent collector costs dropped batches, never a
    /// failed start.
    pub fn otlp(service_name: &'static str, endpoint: &str) -> Result<Self, TelemetryError> {
        let exporter = OtlpExporter::new(endpoint)?;
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(Resource::builder().with_service_name(service_name).build())
            .build();
        Ok(Self {
            service_name,
            provider: Some(provider),
            exporting: true,
        })
    }

    /// Whether spans are exported.
    pub fn exporting(&self) -> bool {
        self.exporting
    }

    /// The tracing layer giving spans their trace context and feeding the
    /// exporter, if any (`None` once shut down). The transport crates' own
    /// spans are left out: they would describe the export itself.
    pub fn layer<S>(&self) -> Option<OtlpLayer<S>>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        let tracer = self.provider.as_ref()?.tracer(self.service_name);
        let transport = Targets::new()
            .with_default(LevelFilter::TRACE)
            .with_target("h2", LevelFilter::OFF)
            .with_target("hyper", LevelFilter::OFF)
            .with_target("hyper_util", LevelFilter::OFF)
            .with_target("tonic", LevelFilter::OFF)
            .with_target("tower", LevelFilter::OFF)
            .with_target("opentelemetry", LevelFilter::OFF)
            .with_target("opentelemetry_sdk", LevelFilter::OFF)
            .with_target("opentelemetry_otlp", LevelFilter::OFF);
        Some(
            tracing_opentelemetry::layer()
                .with_tracer(tracer)
                .with_filter(transport),
        )
    }

    /// Flushes the spans still buffered and stops the exporter. Blocks until
    /// the last batch is sent or times out: call it outside async code, or
    /// from `spawn_blocking`.
    pub fn shutdown(mut self) -> Result<(), TelemetryError> {
        self.finish()
    }

    fn finish(&mut self) -> Result<(), TelemetryError> {
        match self.provider.take() {
            Some(provider) if self.exporting => provider
                .shutdown()
                .map_err(|e| TelemetryError::Shutdown(e.to_string())),
            _ => Ok(()),
        }
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Err(e) = self.finish() {
            // The subscriber may already be gone; say it where it is seen.
            eprintln!("{}: {e}", self.service_name);
        }
    }
}

/// The span of a gRPC request, `grpc.request`, with `rpc.method` (the full
/// path, `/package.Service/Method`), in the caller's trace when its metadata
/// carries a `traceparent`.
///
/// Span names in both services follow one scheme, `<area>.<operation>` in
/// snake case: `grpc.request` and `http.request` for what arrives,
/// `payroll.*`, `relay.*` and `topup.*` for the work done.
pub fn grpc_request_span<B>(request: &axum::http::Request<B>) -> tracing::Span {
    let span = tracing::info_span!("grpc.request", rpc.method = %request.uri().path());
    adopt_request_trace(&span, request.headers());
    span
}

/// The span of a REST request, `http.request`, with `http.method`,
/// `http.route` (the route template, never the ids in the path, or
/// `unmatched`) and `http.status` (recorded by the caller once answered), in
/// the caller's trace when it sends a `traceparent`.
pub fn http_request_span<B>(request: &axum::http::Request<B>) -> tracing::Span {
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or("unmatched", |p| p.as_str());
    let span = tracing::info_span!(
        "http.request",
        http.method = %request.method(),
        http.route = route,
        http.status = tracing::field::Empty,
    );
    adopt_request_trace(&span, request.headers());
    span
}

/// The W3C header and CloudEvents extension naming a span's trace.
pub const TRACEPARENT: &str = "traceparent";

/// The W3C `traceparent` of the current span, if it has a trace (it has
/// none outside a subscriber with the [`TelemetryGuard::layer`]).
pub fn current_traceparent() -> Option<String> {
    let context = tracing::Span::current().context();
    if !context.span().span_context().is_valid() {
        return None;
    }
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&context, &mut carrier);
    carrier.remove(TRACEPARENT)
}

/// Makes the trace a W3C `traceparent` names the parent of `span`, which
/// must not have been entered yet. A value that is not a valid trace
/// context is ignored: the span then begins a trace of its own.
pub fn adopt_traceparent(span: &tracing::Span, traceparent: &str) {
    let carrier = HashMap::from([(TRACEPARENT.to_owned(), traceparent.to_owned())]);
    let context = TraceContextPropagator::new().extract(&carrier);
    if context.span().span_context().is_valid() {
        // Fails only for a span no subscriber records: nothing to join then.
        let _unrecorded = span.set_parent(context);
    }
}

/// [`adopt_traceparent`] from a request's `traceparent` header (HTTP) or
/// metadata (gRPC), if it carries one.
pub fn adopt_request_trace(span: &tracing::Span, headers: &axum::http::HeaderMap) {
    if let Some(value) = headers.get(TRACEPARENT).and_then(|v| v.to_str().ok()) {
        adopt_traceparent(span, value);
    }
}

/// The OTLP/gRPC exporter on a one-thread Tokio runtime of its own.
///
/// The SDK's batch processor exports from a plain thread, but tonic needs a
/// Tokio reactor: each batch is sent from this runtime and awaited through
/// its join handle, which needs none. The exporter therefore works the same
/// from a synchronous `main`, an async one, or a test.
#[derive(Debug)]
struct OtlpExporter {
    /// The tonic exporter; shared with the task sending a batch.
    inner: Arc<opentelemetry_otlp::SpanExporter>,
    /// Where batches are sent from; taken when dropped.
    runtime: Option<tokio::runtime::Runtime>,
}

impl OtlpExporter {
    fn new(endpoint: &str) -> Result<Self, TelemetryError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("otlp-export")
            .enable_all()
            .build()?;
        let inner = {
            // tonic's lazy channel spawns its connection task here.
            let _entered = runtime.enter();
            opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .with_endpoint(endpoint)
                .with_timeout(EXPORT_TIMEOUT)
                .build()
                .map_err(|e| TelemetryError::Exporter {
                    endpoint: endpoint.to_owned(),
                    message: e.to_string(),
                })?
        };
        Ok(Self {
            inner: Arc::new(inner),
            runtime: Some(runtime),
        })
    }
}

impl SpanExporter for OtlpExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let Some(runtime) = &self.runtime else {
            return Err(OTelSdkError::AlreadyShutdown);
        };
        let inner = Arc::clone(&self.inner);
        runtime
            .spawn(async move { inner.export(batch).await })
            .await
            .map_err(|e| OTelSdkError::InternalFailure(format!("export task: {e}")))?
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        // Called once, when the provider is built, before any export holds a clone.
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.set_resource(resource);
        }
    }
}

impl Drop for OtlpExporter {
    fn drop(&mut self) {
        // Safe from any context, async or not (a plain drop is not).
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_disabled_guard_exports_nothing_and_shuts_down_cleanly() {
        let guard = TelemetryGuard::disabled();
        assert!(!guard.exporting());
        assert!(guard.layer::<tracing_subscriber::Registry>().is_some());
        guard.shutdown().unwrap();
    }

    #[test]
    fn a_traceparent_is_adopted_by_a_span_and_carried_on_to_its_children() {
        let guard = TelemetryGuard::disabled();
        let subscriber =
            tracing_subscriber::registry().with(guard.layer::<tracing_subscriber::Registry>());
        let _default = tracing::subscriber::set_default(subscriber);
        let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
        let span = tracing::info_span!("test.parent");
        adopt_traceparent(&span, &format!("00-{trace_id}-00f067aa0ba902b7-01"));
        let (parent, child) = span.in_scope(|| {
            let parent = current_traceparent().unwrap();
            let child = tracing::info_span!("test.child").in_scope(current_traceparent);
            (parent, child.unwrap())
        });
        for traceparent in [&parent, &child] {
            let parts: Vec<&str> = traceparent.split('-').collect();
            assert_eq!(parts.len(), 4, "{traceparent}");
            assert_eq!((parts[0], parts[1], parts[3]), ("00", trace_id, "01"));
            assert_ne!(parts[2], "00f067aa0ba902b7", "a span of its own");
        }
        assert_ne!(parent, child);

        // Garbage begins a trace of its own; outside any span there is none.
        let fresh = tracing::info_span!("test.fresh");
        adopt_traceparent(&fresh, "00-not-a-trace-01");
        let own = fresh.in_scope(current_traceparent).unwrap();
        assert!(!own.contains(trace_id), "{own}");
        assert_eq!(current_traceparent(), None);
    }

    #[test]
    fn an_otlp_guard_starts_without_a_collector_and_shuts_down() {
        // Nothing listens here: nothing connects until a batch is sent.
        let guard = TelemetryGuard::otlp("kvp-test", "http://127.0.0.1:9").unwrap();
        assert!(guard.layer::<tracing_subscriber::Registry>().is_some());
        guard.shutdown().unwrap();
    }
}
