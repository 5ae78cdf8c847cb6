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

#[cfg(test)]
mod tests {
    use super::*;

    static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

    fn all_applied() -> Vec<AppliedMigration> {
        MIGRATOR
            .iter()
            .map(|m| (m.version, m.checksum.to_vec(), true))
            .collect()
    }

    fn named(version: i64) -> String {
        let m = MIGRATOR.iter().find(|m| m.version == version).unwrap();
        format!("{} {}", m.version, m.description)
    }

    #[test]
    fn every_migration_applied_is_ready_and_a_newer_builds_extra_one_too() {
        let mut applied = all_applied();
        assert!(MIGRATOR.iter().count() >= 2);
        assert_eq!(pending(&MIGRATOR, &applied), Vec::<String>::new());
        applied.push((99_999, vec![1, 2, 3], true));
        assert_eq!(pending(&MIGRATOR, &applied), Vec::<String>::new());
    }

    #[test]
    fn missing_failed_and_changed_migrations_are_named_in_order() {
        let versions: Vec<i64> = MIGRATOR.iter().map(|m| m.version).collect();
        let (first, last) = (versions[0], *versions.last().unwrap());
        let mut applied = all_applied();
        applied.retain(|(version, _, _)| *version != last);
        applied[0].2 = false;
        assert_eq!(
            pending(&MIGRATOR, &applied),
            vec![named(first), named(last)]
        );

        let mut applied = all_applied();
        applied[1].1[0] ^= 0xff;
        assert_eq!(pending(&MIGRATOR, &applied), vec![named(versions[1])]);

        assert_eq!(pending(&MIGRATOR, &[]).len(), versions.len());
    }
}
