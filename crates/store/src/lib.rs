//! Persistence of the KVP payroll service.
//!
//! This crate owns the repository traits (one per area, and [`Repository`],
//! all of them), the records it stores ([`records`]), and two implementations
//! with their embedded, append-only migrations (`migrations/sqlite`,
//! `migrations/postgres`):
//!
//! - [`sqlite`]: an SQLite file, the embedded default (one instance);
//! - [`postgres`]: PostgreSQL, for deployments with several instances.
//!
//! Layout: what both backends do alike is written once, in `src/shared/` —
//! each area's statements and multi-statement flows (accepting a timesheet,
//! recording a decision, a close session, confirming a payment, registering a
//! G, the outbox), the row mappers, the column lists and the constraint-error
//! mapping. Each backend's `<area>.rs` includes its area's shared file
//! (`include!`), so that the same code compiles against that backend's
//! `dialect.rs`, which names only what differs: how instants and amounts are
//! bound, the constraint names it reports, its row locks (PostgreSQL locks rows,
//! SQLite's write transaction holds the database), and the statements each
//! does its own way for speed (bulk inserts, a participant's facts, a chunk's
//! timesheets and ledger). sqlx takes `$N` placeholders on both.
//!
//! [`connect`] picks the backend from the URL, runs the migrations and hands
//! back an `Arc<dyn Repository>`.
//!
//! What the store guarantees: every change, its audit entry and its domain
//! events (the transactional outbox) commit together or not at all; a
//! timesheet digest is stored once; two overlapping accepted timesheets of one
//! participant cannot exist, even under concurrent submissions; a
//! municipality's month is closed into exactly one pay run, however many
//! instances close it at once; a payslip is confirmed once; an outbox event
//! is leased to one relay at a time and never claimed after its delivery;
//! money and hours round-trip as exact decimals, and the ledger sums them
//! exactly; the audit log is append-only and hash-chained ([`audit_chain`]),
//! with one chain per database that never forks.
//!
//! What it must not do: business rules. It does not validate identity
//! numbers, hours, quotas or programme dates (kinds and codes it only reads
//! back as the rules crate's enums), computes no
//! stipend and decides nothing; that is the rules crate's and the service's
//! work. It never puts personal data into an error message or a log line.

pub mod audit_chain;
pub mod error;
mod json_rows;
pub mod postgres;
pub mod records;
pub mod repository;
pub mod schema;
pub mod sqlite;

use std::sync::Arc;

pub use audit_chain::AuditVerification;
pub use error::StoreError;
pub use records::*;
pub use repository::{
    AuditStore, Backend, CloseSession, FactStore, IdempotencyStore, IdentityKeyStore, OutboxStore,
    ParameterStore, ParticipantStore, PayRunStore, Repository, SanctionStore, SignerKeyStore,
    TimesheetStore,
};

/// Opens a PostgreSQL store as a service role that does not own the schema:
/// no migrations are applied (see [`migrate`], which the owner runs).
pub async fn connect_unmigrated(url: &str) -> Result<Arc<dyn Repository>, StoreError> {
    Ok(Arc::new(
        postgres::PostgresStore::connect_unmigrated(url).await?,
    ))
}

/// Applies the migrations as the schema's owner (`owner_url`, PostgreSQL)
/// and grants the role of `service_url` rows but no schema: see
/// [`postgres::migrate`].
pub async fn migrate(owner_url: &str, service_url: &str) -> Result<(), StoreError> {
    postgres::migrate(owner_url, service_url).await
}

/// Opens the store a URL names, applies the migrations and returns it.
///
/// - `sqlite://path/to/file.db?mode=rwc` (or `sqlite::memory:`): SQLite; with
///   `mode=rwc` the file is created if missing, and so is its directory.
/// - `postgres://user@host:port/database` (or `postgresql://…`): PostgreSQL.
pub async fn connect(url: &str) -> Result<Arc<dyn Repository>, StoreError> {
    let scheme = url.split_once(':').map_or("", |(scheme, _)| scheme);
    match scheme {
        "sqlite" => Ok(Arc::new(sqlite::SqliteStore::connect(url).await?)),
        "postgres" | "postgresql" => Ok(Arc::new(postgres::PostgresStore::connect(url).await?)),
        other => Err(StoreError::UnsupportedUrl {
            scheme: other.to_owned(),
        }),
    }
}
