//! The `kvp-topup` binary: reads the configuration, sets up logging and runs
//! the [`Application`] until SIGTERM or ctrl-c.

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use kvp_topup::{Application, Config, config, telemetry};

/// The KVP top-up service: proposals of supplementary social assistance.
#[derive(Debug, Parser)]
#[command(name = "kvp-topup", version, about)]
struct Cli {
    /// A TOML configuration file (else KVP_TOPUP_CONFIG, else defaults).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Print an example configuration file with the defaults and exit.
    #[arg(long)]
    print_example_config: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if cli.print_example_config {
        print!("{}", config::EXAMPLE);
        return Ok(());
    }
    let env = std::env::vars().collect();
    let config = Config::load(cli.config.as_deref(), &env)?;
    // Flushes buffered spans when main returns.
    let _telemetry = telemetry::init(config.log_format, config.otlp_endpoint.as_deref())?;
    if config.auth.is_none() {
        tracing::warn!(
            database = %config.database_url,
            "development mode: REST without bearer tokens, every caller national (loopback only)"
        );
    }
    if config.tls.is_none() {
        tracing::warn!("development mode: events in plain gRPC (loopback only)");
    }
    let app = Application::build(&config)
        .await
        .context("kvp-topup cannot start")?;
    app.run_until_stopped().await.context("kvp-topup failed")?;
    Ok(())
}
