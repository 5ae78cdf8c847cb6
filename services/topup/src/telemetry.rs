//! Tracing set-up for the binary: log lines as text or JSON, filtered by
//! `RUST_LOG` (default `info`). Spans carry ids only (event, participant,
//! proposal), never personal data.

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global subscriber; a second call does nothing.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,h2=warn,hyper=warn,tower=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _already_set = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
