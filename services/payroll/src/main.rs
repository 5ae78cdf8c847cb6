//! The payroll binary: `serve` (the default) runs the service; `simulate
//! CASE.json` evaluates one participant-month; `print-config` prints an example
//! configuration.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use kvp_payroll::app::Application;
use kvp_payroll::config::Config;
use kvp_payroll::{simulate, telemetry};

/// KVP stipend payroll.
#[derive(Debug, Parser)]
#[command(name = "kvp-payroll", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the service (gRPC and REST). The default.
    Serve(ServeArgs),
    /// Compute one participant-month from a case file (the golden vectors' shape)
    /// and print lines, total, quantities, flags and the explanation as JSON.
    Simulate(simulate::Args),
    /// Print an example configuration file.
    PrintConfig,
}

#[derive(Debug, Default, clap::Args)]
struct ServeArgs {
    /// A TOML configuration file (also `KVP_CONFIG`).
    #[arg(long, env = "KVP_CONFIG")]
    config: Option<PathBuf>,
    /// Override the gRPC address.
    #[arg(long)]
    grpc_addr: Option<std::net::SocketAddr>,
    /// Override the HTTP address.
    #[arg(long)]
    http_addr: Option<std::net::SocketAddr>,
    /// Override the database URL.
    #[arg(long)]
    database_url: Option<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Serve(ServeArgs::default())) {
        Command::Simulate(args) => simulate::run(&args),
        Command::PrintConfig => {
            println!("{}", Config::example());
            ExitCode::SUCCESS
        }
        Command::Serve(args) => match serve(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let mut config = Config::load(args.config.as_deref(), std::env::vars())?;
    if let Some(addr) = args.grpc_addr {
        config.grpc_addr = addr;
    }
    if let Some(addr) = args.http_addr {
        config.http_addr = addr;
    }
    if let Some(url) = args.database_url {
        config.database_url = url;
    }
    telemetry::init(config.log_format);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let app = Application::build(&config).await?;
        tracing::info!(grpc = %app.grpc_addr()?, http = %app.http_addr()?, "kvp-payroll listening");
        app.run_until(shutdown_signal()).await
    })
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = terminate => {} }
    tracing::info!("shutting down: finishing in-flight requests");
}
