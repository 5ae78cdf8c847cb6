//! The process-wide Prometheus recorder, its upkeep and its exposition.

use std::sync::OnceLock;
use std::time::Duration;

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// One service's view of the Prometheus recorder: held in a `static` by the
/// service, with the service's histogram buckets. The first [`install`]
/// anywhere in the process becomes the global `metrics` recorder.
///
/// [`install`]: Recorder::install
#[derive(Debug)]
pub struct Recorder {
    /// Histogram bucket bounds for latencies, in whole milliseconds.
    latency_buckets_ms: &'static [u64],
    /// Set by the first [`Recorder::install`]; `Some` when it became global.
    handle: OnceLock<Option<PrometheusHandle>>,
}

impl Recorder {
    /// A recorder, not yet installed, whose latency histograms have these
    /// bucket bounds (in milliseconds, ascending).
    pub const fn new(latency_buckets_ms: &'static [u64]) -> Self {
        Self {
            latency_buckets_ms,
            handle: OnceLock::new(),
        }
    }

    /// Installs the process-wide Prometheus recorder, once; later calls
    /// return the same handle. `None` when another recorder was installed
    /// first (another service's, when two run in one process), so this
    /// service's `/metrics` is then empty.
    pub fn install(&self) -> Option<PrometheusHandle> {
        self.handle
            .get_or_init(|| {
                let buckets = latency_buckets_seconds(self.latency_buckets_ms);
                let builder = match PrometheusBuilder::new().set_buckets(&buckets) {
                    Ok(builder) => builder,
                    Err(e) => {
                        tracing::warn!(error = %e, "metrics buckets refused; histograms become summaries");
                        PrometheusBuilder::new()
                    }
                };
                let recorder = builder.build_recorder();
                let handle = recorder.handle();
                match metrics::set_global_recorder(recorder) {
                    Ok(()) => Some(handle),
                    Err(_) => {
                        tracing::warn!(
                            "another metrics recorder is installed: /metrics stays empty"
                        );
                        None
                    }
                }
            })
            .clone()
    }

    /// The installed recorder's handle, if [`Recorder::install`] succeeded.
    pub fn handle(&self) -> Option<PrometheusHandle> {
        self.handle.get().cloned().flatten()
    }

    /// Drains histogram samples into their buckets every few seconds, so
    /// memory stays flat between scrapes (the exporter's own listener would
    /// do this; the services render from their own handler instead). Returns
    /// at once when nothing is installed, else when `stop` turns true.
    pub async fn upkeep(&self, mut stop: tokio::sync::watch::Receiver<bool>) {
        let Some(handle) = self.handle() else { return };
        while !*stop.borrow() {
            tokio::select! {
                () = tokio::time::sleep(Duration::from_secs(5)) => handle.run_upkeep(),
                _ = stop.changed() => {}
            }
        }
    }

    /// The `GET /metrics` response: the Prometheus text exposition.
    pub fn render(&self) -> Response {
        let body = self.handle().map_or_else(
            || "# no metrics recorder is installed in this process\n".to_owned(),
            |h| h.render(),
        );
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            )],
            body,
        )
            .into_response()
    }
}

/// The bucket bounds in seconds, as the exporter's API takes them: the only
/// float in the services, converted here from integer milliseconds and never
/// computed with (latency bounds, never money or hours).
#[allow(
    clippy::disallowed_types,
    reason = "metrics-exporter-prometheus takes bucket bounds as f64 seconds"
)]
fn latency_buckets_seconds(buckets_ms: &[u64]) -> Vec<f64> {
    buckets_ms
        .iter()
        .map(|ms| Duration::from_millis(*ms).as_secs_f64())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_converted_from_milliseconds() {
        let seconds = latency_buckets_seconds(&[1, 250, 60_000]);
        let millis: Vec<u128> = seconds
            .into_iter()
            .map(|s| Duration::from_secs_f64(s).as_millis())
            .collect();
        assert_eq!(millis, [1, 250, 60_000]);
    }

    #[test]
    fn an_uninstalled_recorder_renders_a_comment() {
        static RECORDER: Recorder = Recorder::new(&[1, 10]);
        assert!(RECORDER.handle().is_none());
        let response = RECORDER.render();
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "text/plain; version=0.0.4; charset=utf-8"
        );
    }
}
