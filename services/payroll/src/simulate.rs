//! `simulate CASE.json`: the rules engine on a case file, from the command line.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use kvp_rules::{Case, Parameters, Policy, compute_month};

/// Arguments of `simulate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The case file: a golden vector, or the bare `input` object of one.
    case: PathBuf,
    /// Print the result on one line instead of indented.
    #[arg(long)]
    compact: bool,
}

/// Exit code for a case file that cannot be read or is malformed.
const EXIT_BAD_INPUT: u8 = 2;

/// Runs the simulation; malformed input is reported on stderr naming the field.
pub fn run(args: &Args) -> ExitCode {
    match simulate(args) {
        Ok(json) => {
            let mut out = std::io::stdout().lock();
            match writeln!(out, "{json}") {
                Ok(()) => ExitCode::SUCCESS,
                Err(_) => ExitCode::FAILURE,
            }
        }
        Err(message) => {
            eprintln!("error: {}: {message}", args.case.display());
            ExitCode::from(EXIT_BAD_INPUT)
        }
    }
}

fn simulate(args: &Args) -> Result<String, String> {
    let text = std::fs::read_to_string(&args.case).map_err(|e| format!("cannot read: {e}"))?;
    let parameters = Parameters::shipped().map_err(|e| e.to_string())?;
    let policy = Policy::shipped().map_err(|e| format!("shipped policy: {e}"))?;
    let case = Case::from_json(&text, &parameters, &policy).map_err(|e| e.to_string())?;
    let result =
        compute_month(&case.facts, &case.parameters, &case.policy).map_err(|e| e.to_string())?;
    let json = if args.compact {
        serde_json::to_string(&result)
    } else {
        serde_json::to_string_pretty(&result)
    };
    json.map_err(|e| e.to_string())
}
