//! The payroll binary: `serve` (the default) runs the service; `simulate
//! CASE.json` evaluates one participant-month; `print-config` prints an example
//! configuration; `verify-audit` checks the audit log's hash chain;
//! `reseal-identities` moves the identity numbers to a new identity key;
//! `migrate` applies the database migrations; `sandbox` runs a sandbox for
//! integrators' tests.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use kvp_payroll::app::Application;
use kvp_payroll::config::{self, Config};
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
    /// Apply the database migrations and exit: as `migration_database_url`
    /// (the schema's owner) when configured, granting `database_url`'s role
    /// rows but no schema; else as `database_url`.
    Migrate(DatabaseArgs),
    /// Re-seal every identity number under a new identity key, given in
    /// `KVP_NEW_IDENTITY_KEY` (base64 of at least 32 bytes; never on the
    /// command line), opening them with the configured `KVP_IDENTITY_KEY`.
    /// One transaction, audited. Stop the service first; start it with the
    /// new key after.
    ResealIdentities(DatabaseArgs),
    /// Run a sandbox for integrators' tests: every protection on, with test
    /// credentials, a synthetic municipality and a clock that can be moved
    /// forward, written to a folder (see its README.txt and sandbox.json).
    Sandbox(kvp_payroll::sandbox::Args),
    /// Recompute the audit log's hash chain and print how many entries verify.
    /// Exits 0 when the chain is intact, 1 naming the first broken entry, 2 when
    /// the database cannot be read.
    VerifyAudit(VerifyAuditArgs),
}

#[derive(Debug, clap::Args)]
struct DatabaseArgs {
    /// A TOML configuration file (also `KVP_CONFIG`) naming the database.
    #[arg(long, env = "KVP_CONFIG")]
    config: Option<PathBuf>,
    /// The database; default: the configured one.
    #[arg(long)]
    database_url: Option<String>,
}

#[derive(Debug, clap::Args)]
struct VerifyAuditArgs {
    #[command(flatten)]
    database: DatabaseArgs,
    /// A checkpoint the service logged (`seq=N head=… [mac=…]`, target
    /// `kvp::audit`): the chain must still hold that entry with that hash,
    /// else it was cut short or rewritten. A signed one needs the configured
    /// `audit_checkpoint_key`.
    #[arg(long)]
    checkpoint: Option<String>,
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
    /// Development mode, asked for explicitly (also `KVP_DEV=1`): missing
    /// protections are allowed on loopback even with production settings.
    #[arg(long)]
    dev: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Serve(ServeArgs::default())) {
        Command::Simulate(args) => simulate::run(&args),
        Command::PrintConfig => {
            println!("{}", Config::example());
            ExitCode::SUCCESS
        }
        Command::VerifyAudit(args) => verify_audit(args),
        Command::Sandbox(args) => match sandbox(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::FAILURE
            }
        },
        Command::Migrate(args) => match migrate(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::FAILURE
            }
        },
        Command::ResealIdentities(args) => match reseal_identities(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::FAILURE
            }
        },
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
    config.dev |= args.dev;
    // Flushes buffered spans when `serve` returns, after the runtime is gone.
    let _telemetry = telemetry::init(config.log_format, config.otlp_endpoint.as_deref())?;
    for (old, new) in config::renamed_variables(std::env::vars()) {
        tracing::warn!(
            variable = old,
            renamed_to = new,
            "a setting is set by its old name: rename it (the old name is accepted until the \
             next release; the new one wins when both are set)"
        );
    }
    let ignored = config::unrecognised_variables(std::env::vars());
    if !ignored.is_empty() {
        tracing::warn!(
            variables = %ignored.join(", "),
            "ignoring KVP_ environment variables that are not settings of kvp-payroll \
             (print-config lists the settings)"
        );
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let app = Application::build(&config).await?;
        tracing::info!(grpc = %app.grpc_addr()?, http = %app.http_addr()?, "kvp-payroll listening");
        app.run_until(shutdown_signal()).await
    })
}

fn sandbox(args: kvp_payroll::sandbox::Args) -> anyhow::Result<()> {
    let _telemetry = telemetry::init(config::LogFormat::Text, None)?;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(kvp_payroll::sandbox::run(args, shutdown_signal()))
}

fn migrate(args: DatabaseArgs) -> anyhow::Result<()> {
    let mut config = Config::load(args.config.as_deref(), std::env::vars())?;
    if let Some(url) = args.database_url {
        config.database_url = url;
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        match &config.migration_database_url {
            Some(owner) => kvp_store::migrate(owner, &config.database_url).await?,
            None => {
                kvp_store::connect(&config.database_url)
                    .await?
                    .close()
                    .await
            }
        }
        anyhow::Ok(())
    })?;
    println!("migrations applied");
    Ok(())
}

/// The variable holding the new key for `reseal-identities`.
const NEW_IDENTITY_KEY: &str = "KVP_NEW_IDENTITY_KEY";

fn reseal_identities(args: DatabaseArgs) -> anyhow::Result<()> {
    let mut config = Config::load(args.config.as_deref(), std::env::vars())?;
    if let Some(url) = args.database_url {
        config.database_url = url;
    }
    let new_key = std::env::var(NEW_IDENTITY_KEY)
        .map_err(|_| anyhow::anyhow!("{NEW_IDENTITY_KEY} must hold the new identity key"))?;
    let new_secret = Config {
        identity_key: Some(new_key),
        ..Config::default()
    }
    .identity_secret()
    .map_err(|e| anyhow::anyhow!("{NEW_IDENTITY_KEY}: {e}"))?;
    let old = kvp_payroll::identity::IdentityVault::new(&config.identity_secret()?);
    let new = kvp_payroll::identity::IdentityVault::new(&new_secret);
    if old.key_id() == new.key_id() {
        anyhow::bail!("{NEW_IDENTITY_KEY} is the configured identity key already");
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let count = runtime.block_on(async {
        let store = kvp_store::connect(&config.database_url).await?;
        let count = kvp_payroll::identity_keys::reseal(
            store.as_ref(),
            &old,
            &new,
            "operator:reseal-identities",
        )
        .await;
        store.close().await;
        count
    })?;
    println!(
        "re-sealed {count} identity numbers under identity key {}: start the service with it as \
         KVP_IDENTITY_KEY",
        new.key_id()
    );
    Ok(())
}

/// Exit status of `verify-audit` when the chain is broken (an error is 2).
const AUDIT_CHAIN_BROKEN: u8 = 1;

fn verify_audit(args: VerifyAuditArgs) -> ExitCode {
    let (verification, against) = match read_audit_chain(args) {
        Ok(read) => read,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(2);
        }
    };
    let head = verification
        .head
        .map_or_else(|| "none".to_owned(), |h| kvp_store::audit_chain::hex(&h));
    if verification.unchained > 0 {
        println!(
            "{} audit entries from before the chain are not chained yet",
            verification.unchained
        );
    }
    if let Some((seq, reason)) = verification.first_broken {
        println!(
            "audit chain broken at entry {seq}: {reason} (entries verified before it: {}, \
             last intact hash {head})",
            verification.entries
        );
        return ExitCode::from(AUDIT_CHAIN_BROKEN);
    }
    use kvp_payroll::audit_checkpoint::Against;
    match against {
        Some(Against::Truncated { last }) => {
            println!(
                "audit chain cut short: it ends at entry {}, before the checkpoint's entry \
                 (the {} entries left verify, head {head})",
                last.map_or_else(|| "none".to_owned(), |l| l.to_string()),
                verification.entries
            );
            ExitCode::from(AUDIT_CHAIN_BROKEN)
        }
        Some(Against::Rewritten) => {
            println!(
                "audit chain rewritten: the checkpoint's entry has another hash now (the {} \
                 entries verify among themselves, head {head})",
                verification.entries
            );
            ExitCode::from(AUDIT_CHAIN_BROKEN)
        }
        Some(Against::Holds) | None => {
            let checked = if against.is_some() {
                ", and it holds the checkpoint"
            } else {
                ""
            };
            println!(
                "audit chain intact: {} entries verified, head {head}{checked}",
                verification.entries
            );
            ExitCode::SUCCESS
        }
    }
}

/// Opens the configured (or given) database, verifies its audit chain and,
/// with a checkpoint, what the chain says against it.
fn read_audit_chain(
    args: VerifyAuditArgs,
) -> anyhow::Result<(
    kvp_store::AuditVerification,
    Option<kvp_payroll::audit_checkpoint::Against>,
)> {
    let mut config = Config::load(args.database.config.as_deref(), std::env::vars())?;
    if let Some(url) = args.database.database_url {
        config.database_url = url;
    }
    let checkpoint = args
        .checkpoint
        .map(|line| {
            let checkpoint: kvp_payroll::audit_checkpoint::Checkpoint = line.parse()?;
            checkpoint.authenticate(config.audit_checkpoint_secret()?.as_deref())?;
            anyhow::Ok(checkpoint)
        })
        .transpose()
        .map_err(|e| anyhow::anyhow!("the checkpoint: {e}"))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let store = kvp_store::connect(&config.database_url).await?;
        let verification = store.verify_audit_chain().await;
        let against = match &checkpoint {
            Some(checkpoint) => Some(checkpoint.against(store.as_ref()).await),
            None => None,
        };
        store.close().await;
        Ok((verification?, against.transpose()?))
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
