//! Logging and tracing set-up: text or JSON, filtered by `RUST_LOG`
//! (default `info`), and — when an endpoint is configured — the same spans
//! exported over OTLP/gRPC to an OpenTelemetry collector, as service
//! `kvp-payroll`. Spans carry ids only, never identity numbers.
//!
//! The machinery is `kvp_telemetry`'s; this module names the service and
//! its default filter. [`init`] is for the binary: it installs the global
//! subscriber and the metrics recorder. Tests build a [`TelemetryGuard`]
//! against an endpoint (`TelemetryGuard::otlp(SERVICE_NAME, endpoint)`) and
//! use its [`TelemetryGuard::layer`] in a subscriber of their own
//! (`tracing::subscriber::set_default`), so nothing global is touched.

pub use kvp_telemetry::{OtlpLayer, TelemetryError, TelemetryGuard};

use crate::config::LogFormat;

/// The `service.name` spans are exported under.
pub const SERVICE_NAME: &str = "kvp-payroll";

/// The log filter when `RUST_LOG` is unset.
const DEFAULT_FILTER: &str = "info";

/// Installs the global subscriber (a second call leaves the first in place)
/// and the metrics recorder; exports spans over OTLP when `otlp_endpoint` is
/// set. Keep the guard until exit: dropping it flushes the spans still
/// buffered and shuts the exporter down.
pub fn init(
    format: LogFormat,
    otlp_endpoint: Option<&str>,
) -> Result<TelemetryGuard, TelemetryError> {
    crate::metrics::install();
    let format = match format {
        LogFormat::Text => kvp_telemetry::LogFormat::Text,
        LogFormat::Json => kvp_telemetry::LogFormat::Json,
    };
    kvp_telemetry::init_tracing(SERVICE_NAME, DEFAULT_FILTER, format, otlp_endpoint)
}
