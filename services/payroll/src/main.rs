//! The payroll service binary: `kvp-payroll simulate CASE.json` evaluates one
//! participant-month with the rules engine and prints the result.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod simulate;

/// KVP stipend payroll.
#[derive(Debug, Parser)]
#[command(name = "kvp-payroll", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Compute one participant-month from a case file (the golden vectors' shape)
    /// and print lines, total, quantities, flags and the explanation as JSON.
    Simulate(simulate::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Simulate(args) => simulate::run(&args),
    }
}
