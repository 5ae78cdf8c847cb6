//! Whether the database holds the schema this build expects: what readiness
//! probes ask, so an instance does not take traffic while a migration it
//! needs is missing (a migration job still running, or a database restored
//! from before it), nor after one failed half-way.

use sqlx::migrate::{MigrationType, Migrator};

/// A migration as `_sqlx_migrations` records it: version, checksum, success.
pub(crate) type AppliedMigration = (i64, Vec<u8>, bool);

/// The migrations of `migrator` the database lacks, as `version description`,
/// in order: never run, failed, or run from a different text (a checksum that
/// differs). Migrations the database has that this build does not know are
/// a newer build's and do not make this one unready.
pub(crate) fn pending(migrator: &Migrator, applied: &[AppliedMigration]) -> Vec<String> {
    migrator
        .iter()
        .filter(|m| !matches!(m.migration_type, MigrationType::ReversibleDown))
        .filter(|m| {
            !applied.iter().any(|(version, checksum, success)| {
                *version == m.version && *success && checksum.as_slice() == &*m.checksum
            })
        })
        .map(|m| format!("{} {}", m.version, m.description))
        .collect()
}

/// The query both backends answer it from.
pub(crate) const APPLIED_MIGRATIONS: &str =
    "SELECT version, checksum, success FROM _sqlx_migrations ORDER BY version";
