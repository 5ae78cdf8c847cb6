//! The storage ceiling SubmitTimesheet is compared with: pgbench, at the
//! same concurrency against the same PostgreSQL, committing one INSERT of a
//! 600-byte row per transaction into a table of its own
//! (`pgbench/insert-600-byte-row.sql`).

use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail};
use sqlx::Connection;

/// The pgbench script, as committed beside this file.
const SCRIPT: &str = include_str!("../pgbench/insert-600-byte-row.sql");

/// What pgbench measured.
pub struct Ceiling {
    /// Committed transactions a second (without connection time), whole.
    pub per_second: u64,
    /// Mean latency in microseconds.
    pub latency_micros: u64,
}

/// Runs pgbench for `duration` at `clients` against `database` (a
/// `postgres:` URL), on a fresh `kvp_load_ceiling` table.
pub async fn measure(
    database: &str,
    clients: usize,
    duration: Duration,
) -> anyhow::Result<Ceiling> {
    let mut connection = sqlx::PgConnection::connect(database)
        .await
        .context("connecting to the ceiling's database")?;
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS kvp_load_ceiling (
             id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
             payload text NOT NULL
         );
         TRUNCATE kvp_load_ceiling;",
    )
    .execute(&mut connection)
    .await?;
    connection.close().await?;

    let script = std::env::temp_dir().join(format!("kvp-load-ceiling-{}.sql", std::process::id()));
    std::fs::write(&script, SCRIPT)?;
    // pgbench's threads: as many as the machine has cores, at most one a client.
    let jobs = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(clients.max(1));
    let mut pgbench = Command::new(pgbench()?);
    pgbench
        .arg("--no-vacuum")
        .args(["--client", &clients.to_string()])
        .args(["--jobs", &jobs.to_string()])
        .args(["--time", &duration.as_secs().max(1).to_string()])
        .arg("--file")
        .arg(&script)
        .arg(database);
    // The run takes `duration`: off the runtime's threads.
    let output = tokio::task::spawn_blocking(move || pgbench.output())
        .await?
        .context("running pgbench");
    let _ = std::fs::remove_file(&script);
    let output = output?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "pgbench failed: {}{}",
            stdout,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    // pgbench writes `tps = 6153.123456 (…)` and `latency average = 5.199 ms`.
    let figure = |prefix: &str| -> anyhow::Result<(u64, u64)> {
        stdout
            .lines()
            .find_map(|line| line.trim().strip_prefix(prefix))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(thousandths)
            .with_context(|| format!("pgbench printed no `{prefix}`: {stdout}"))
    };
    let (per_second, _) = figure("tps = ")?;
    let (whole_ms, thousandths_ms) = figure("latency average = ")?;
    Ok(Ceiling {
        per_second,
        latency_micros: whole_ms * 1000 + thousandths_ms,
    })
}

/// A decimal figure as its whole part and thousandths (`5.1999` → (5, 199)).
fn thousandths(text: &str) -> Option<(u64, u64)> {
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let fraction: String = fraction.chars().chain("000".chars()).take(3).collect();
    Some((whole.parse().ok()?, fraction.parse().ok()?))
}

/// pgbench on the PATH, or in Debian's PostgreSQL directory.
fn pgbench() -> anyhow::Result<std::path::PathBuf> {
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .map(|dir| dir.join("pgbench"));
    let debian = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|version| version.path().join("bin/pgbench"));
    on_path
        .chain(debian)
        .find(|candidate| candidate.is_file())
        .context("pgbench is not installed (Debian: postgresql-contrib or postgresql-client)")
}

#[cfg(test)]
mod tests {
    #[test]
    fn figures_are_read_to_the_thousandth() {
        assert_eq!(super::thousandths("6153.123456"), Some((6153, 123)));
        assert_eq!(super::thousandths("5.2"), Some((5, 200)));
        assert_eq!(super::thousandths("17"), Some((17, 0)));
        assert_eq!(super::thousandths("n/a"), None);
    }
}
