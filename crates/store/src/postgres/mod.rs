//! The PostgreSQL backend, for deployments with several instances.
//!
//! Races are prevented inside the database, so that they are prevented across
//! instances too: a timesheet is accepted in a transaction that first locks
//! the participant's row (`SELECT … FOR NO KEY UPDATE`), so concurrent submissions
//! for one participant run one after the other and each sees what the one
//! before committed (READ COMMITTED takes a fresh snapshot per statement).
//! Rows that a transaction reads and then changes (a key being revoked, a
//! programme being ended) are locked the same way. Unique constraints (digest,
//! superseded timesheet, one decision per day and kind) are the last line.
//! Constraint names are those of `migrations/postgres` and are mapped to typed
//! errors where each statement runs.
//!
//! Pay periods: a close first takes a transaction-level advisory lock on its
//! municipality, so concurrent closes (any instance) queue, and each later
//! one of the same month finds the run and answers it as existing; the
//! unique key on municipality and month is the last line, mapped the same
//! way. A close in chunks (`close.rs`) reads from a second, read-only
//! transaction with one snapshot. A
//! confirmation locks its run's row, so retries find the first confirmation
//! and the run's state is counted from final data. The outbox relay claims
//! with `FOR UPDATE SKIP LOCKED` and leases what it claims, so instances never
//! claim the same event at once. Pay lines and events are written with
//! `UNNEST` arrays, a round trip per 10 000 rows.
//!
//! The audit chain has one head for all instances: an append first takes a
//! transaction-level advisory lock on the chain, then reads the head, so
//! appends queue in every instance and each links to the one committed
//! before it (the unique key on `chain_seq` is the last line). Every write
//! method appends its audit entry as its last statement before the commit,
//! so the lock is held only for that moment and its holder never waits for
//! another lock: the lock cannot take part in a deadlock.

mod rows;

use std::time::Duration;

use async_trait::async_trait;
use rust_decimal::Decimal;
use sqlx::Row;
use sqlx::error::ErrorKind;
use sqlx::postgres::{PgConnection, PgPool, PgPoolOptions};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use self::dialect::*;
use crate::audit_chain::{
    AuditVerification, ChainContent, ChainWalk, GENESIS, canonical_instant, canonical_json,
    link_hash, next_link, to_microsecond,
};
use crate::json_rows;
use crate::records::{
    AcceptOutcome, AppealOutcome, AuditEntry, BeginClose, BenefitOffset, Child, ConfirmOutcome,
    Confirmation, DayEntry, Expected, HeldParticipant, IdempotencyClaim, IdempotencyRecord,
    IdempotentAnswer, LedgerEntry, LineReporting, LineTotal, Municipality, NewAuditEntry,
    NewOutboxEvent, NewTimesheet, OpenRun, OutboxEvent, Participant, ParticipantFacts, Pause,
    PayLine, PayRun, PaymentToConfirm, Programme, ProgrammeExtension, ProgrammeWithPauses,
    RegisteredG, SanctionDecision, SignerKey, SignerRole, SoleCarerPeriod, Timesheet,
    TimesheetStatus, check_new_timesheet, check_offset, check_range, check_signer_key,
    current_entries, group_pauses, run_state,
};
use crate::schema::{self, APPLIED_MIGRATIONS, AppliedMigration};
use crate::{Backend, Repository, StoreError};

/// The schema, built into the binary; append-only.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Connections per instance.
const MAX_CONNECTIONS: u32 = 10;
/// How long a call waits for a free connection (or the first connection) before failing.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
/// The name of the advisory lock that serialises appends to the audit chain.
const AUDIT_CHAIN_LOCK: &str = "kvp.audit_chain";
/// Audit entries read per query when the chain is verified.
const AUDIT_PAGE: i64 = 1_000;

// The column lists, shared with the other backend.
include!("../shared/columns.rs");

/// An instant as whole microseconds since the Unix epoch (PostgreSQL keeps
/// microseconds; `extract` gives an exact numeric).
macro_rules! epoch_micros {
    ($column:literal) => {
        concat!("(extract(epoch FROM ", $column, ") * 1000000)::bigint")
    };
}

// Row locks in the statements shared with the other backend: PostgreSQL locks the rows it reads to change.
macro_rules! for_update {
    () => {
        " FOR UPDATE"
    };
}
macro_rules! for_update_skip_locked {
    () => {
        " FOR UPDATE SKIP LOCKED"
    };
}
macro_rules! for_no_key_update {
    () => {
        " FOR NO KEY UPDATE"
    };
}

// The sum of pay lines' amounts in the shared statements (a sum to the øre, with the scale SQLite gives),
// and SQL's false.
macro_rules! sum_of_amounts {
    () => {
        "round(SUM(l.amount), 2) AS amount"
    };
}
/// The sum of the quantities of lines grouped, exactly; NULL when a line
/// of the group has no quantity.
macro_rules! sum_of_quantities {
    () => {
        "CASE WHEN COUNT(l.quantity_unit) = COUNT(*) THEN SUM(l.quantity) END AS quantity_sum"
    };
}
macro_rules! sql_false {
    () => {
        "false"
    };
}

// Closing in chunks; declared here, after the column macros it uses.
mod audit;
mod close;
mod dialect;
mod facts;
mod idempotency;
mod identity_keys;
mod outbox;
mod parameters;
mod participants;
mod pay_runs;
mod sanctions;
mod signer_keys;
mod timesheets;

/// Rows per `INSERT … SELECT FROM UNNEST(…)` of pay lines or outbox events:
/// one round trip per chunk instead of one per row.
const ROWS_PER_INSERT: usize = 10_000;

/// The PostgreSQL store.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects to the database of a `postgres:` URL and applies the migrations
    /// (sqlx takes an advisory lock, so instances starting together apply them once).
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let store = Self::connect_unmigrated(url).await?;
        MIGRATOR.run(&store.pool).await?;
        chain_unlinked_entries(&store.pool).await?;
        Ok(store)
    }

    /// Connects without applying migrations: for a service that runs as a
    /// role that cannot change the schema, after [`migrate`] ran as the
    /// owner. Readiness reports migrations still missing.
    pub async fn connect_unmigrated(url: &str) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect(url)
            .await?;
        Ok(Self { pool })
    }
}

/// Applies the migrations as the schema's owner (`owner_url`) and grants the
/// role the service connects as (the user of `service_url`) what it needs to
/// serve and no more: rows of every table read, written and deleted,
/// sequences used, the audit log appended to only. Owning no table, the role
/// cannot alter one, switch its triggers off or truncate it.
pub async fn migrate(owner_url: &str, service_url: &str) -> Result<(), StoreError> {
    let service: sqlx::postgres::PgConnectOptions = service_url.parse()?;
    let role = format!("\"{}\"", service.get_username().replace('"', "\"\""));
    let store = PostgresStore::connect(owner_url).await?;
    let grants = [
        format!("GRANT USAGE ON SCHEMA public TO {role}"),
        format!("GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}"),
        format!("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}"),
        format!("REVOKE UPDATE, DELETE, TRUNCATE ON audit_entries FROM {role}"),
        format!("REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON _sqlx_migrations FROM {role}"),
    ];
    let mut tx = store.pool.begin().await?;
    for grant in grants {
        sqlx::query(sqlx::AssertSqlSafe(grant))
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    store.pool.close().await;
    Ok(())
}

/// Takes the audit chain's advisory lock until the transaction ends.
async fn lock_audit_chain(conn: &mut PgConnection) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind(AUDIT_CHAIN_LOCK)
        .execute(conn)
        .await?;
    Ok(())
}

/// Writes an audit entry as the next link of the audit chain. Call it last
/// before the commit (see the module documentation).
async fn insert_audit(conn: &mut PgConnection, audit: &NewAuditEntry) -> Result<(), StoreError> {
    idempotency::claim_idempotency_key(&mut *conn, audit).await?;
    // Appends queue here, in every instance, until the holder commits; the
    // head is read after the lock is granted (READ COMMITTED: a fresh
    // snapshot per statement), so it is the last committed entry.
    lock_audit_chain(&mut *conn).await?;
    // The details are hashed as jsonb will give them back (it rewrites numbers).
    let row = sqlx::query(
        "SELECT $1::jsonb AS details, head.chain_seq, head.hash FROM (SELECT 1) AS one \
         LEFT JOIN (SELECT chain_seq, hash FROM audit_entries WHERE chain_seq IS NOT NULL \
                    ORDER BY chain_seq DESC LIMIT 1) AS head ON true",
    )
    .bind(&audit.details)
    .fetch_one(&mut *conn)
    .await?;
    let details: serde_json::Value = row.try_get("details")?;
    let head = match row.try_get::<Option<i64>, _>("chain_seq")? {
        Some(seq) => Some((seq, row.try_get::<Vec<u8>, _>("hash")?)),
        None => None,
    };
    let (chain_seq, prev_hash) = next_link(head)?;
    let at = to_microsecond(audit.at);
    let content = ChainContent {
        at: canonical_instant(at)?,
        actor: audit.actor.clone(),
        action: audit.action.clone(),
        subject_type: audit.subject_type.clone(),
        subject_id: audit.subject_id.clone(),
        details: canonical_json(&details),
    };
    let hash = link_hash(chain_seq, &prev_hash, &content);
    sqlx::query(
        "INSERT INTO audit_entries (id, at, actor, action, subject_type, subject_id, details, \
         chain_seq, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(Uuid::now_v7())
    .bind(at)
    .bind(&audit.actor)
    .bind(&audit.action)
    .bind(&audit.subject_type)
    .bind(&audit.subject_id)
    .bind(&details)
    .bind(chain_seq_value(chain_seq)?)
    .bind(prev_hash.as_slice())
    .bind(hash.as_slice())
    .execute(conn)
    .await?;
    Ok(())
}

fn chain_seq_value(seq: u64) -> Result<i64, StoreError> {
    i64::try_from(seq).map_err(|_| StoreError::invalid_state("the audit chain is full"))
}

/// Writes domain events to the outbox, deliverable from their creation on.
async fn insert_events(
    conn: &mut PgConnection,
    events: &[NewOutboxEvent],
) -> Result<(), StoreError> {
    for chunk in events.chunks(ROWS_PER_INSERT) {
        let ids: Vec<Uuid> = chunk.iter().map(|e| e.id).collect();
        let types: Vec<&str> = chunk.iter().map(|e| e.event_type.as_str()).collect();
        let sources: Vec<&str> = chunk.iter().map(|e| e.source.as_str()).collect();
        let subjects: Vec<&str> = chunk.iter().map(|e| e.subject.as_str()).collect();
        let payloads: Vec<&[u8]> = chunk.iter().map(|e| e.payload.as_slice()).collect();
        let created: Vec<OffsetDateTime> = chunk.iter().map(|e| e.created_at).collect();
        let traces: Vec<Option<&str>> = chunk.iter().map(|e| e.traceparent.as_deref()).collect();
        sqlx::query(
            "INSERT INTO outbox_events \
             (id, event_type, source, subject, payload, created_at, available_at, traceparent) \
             SELECT id, event_type, source, subject, payload, created_at, created_at, traceparent \
             FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::text[], $5::bytea[], \
                         $6::timestamptz[], $7::text[]) \
                  AS e (id, event_type, source, subject, payload, created_at, traceparent)",
        )
        .bind(&ids)
        .bind(&types)
        .bind(&sources)
        .bind(&subjects)
        .bind(&payloads)
        .bind(&created)
        .bind(&traces)
        .execute(&mut *conn)
        .await
        .map_err(|e| {
            on_violation(e, |violation| match violation {
                Violation::Unique("outbox_events_id_key") => {
                    Some(StoreError::conflict("an outbox event id is taken"))
                }
                _ => None,
            })
        })?;
    }
    Ok(())
}

/// Writes a run's lines with one statement per chunk (a close may hold
/// 100 000 participants' lines).
async fn insert_pay_lines(conn: &mut PgConnection, lines: &[PayLine]) -> Result<(), StoreError> {
    for chunk in lines.chunks(ROWS_PER_INSERT) {
        let ids: Vec<Uuid> = chunk.iter().map(|l| l.id).collect();
        let runs: Vec<Uuid> = chunk.iter().map(|l| l.run_id).collect();
        let participants: Vec<Uuid> = chunk.iter().map(|l| l.participant_id).collect();
        let seqs: Vec<i32> = chunk.iter().map(|l| l.seq).collect();
        let codes: Vec<&str> = chunk.iter().map(|l| l.line_code.as_str()).collect();
        let months: Vec<Option<Date>> = chunk.iter().map(|l| l.attributed_month).collect();
        // A line without a quantity stores 0 for quantity and rate (not read).
        let quantities: Vec<Decimal> = chunk
            .iter()
            .map(|l| l.quantity.map_or(Decimal::ZERO, |q| q.value))
            .collect();
        let rates: Vec<Decimal> = chunk
            .iter()
            .map(|l| l.quantity.and_then(|q| q.rate).unwrap_or_default())
            .collect();
        let units: Vec<Option<&str>> = chunk
            .iter()
            .map(|l| l.quantity.map(|q| q.unit.as_str()))
            .collect();
        let amounts: Vec<Decimal> = chunk.iter().map(|l| l.amount).collect();
        let explanations: Vec<&str> = chunk.iter().map(|l| l.explanation.as_str()).collect();
        let pay_codes: Vec<Option<&str>> = chunk.iter().map(|l| l.pay_code.as_deref()).collect();
        let numbers: Vec<Option<&str>> =
            chunk.iter().map(|l| l.employee_number.as_deref()).collect();
        let reporting = |field: fn(&LineReporting) -> Option<&str>| -> Vec<Option<&str>> {
            chunk
                .iter()
                .map(|l| l.reporting.as_ref().and_then(field))
                .collect()
        };
        let flag = |field: fn(&LineReporting) -> bool| -> Vec<Option<bool>> {
            chunk
                .iter()
                .map(|l| l.reporting.as_ref().map(field))
                .collect()
        };
        sqlx::query(concat!(
            "INSERT INTO pay_lines (",
            pay_line_columns!(),
            ") SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::int4[], $5::text[], \
             $6::date[], $7::numeric[], $8::numeric[], $9::numeric[], $10::text[], $11::text[], \
             $12::text[], $13::text[], $14::text[], $15::text[], $16::text[], $17::bool[], \
             $18::bool[], $19::text[], $20::text[], $21::text[])"
        ))
        .bind(&ids)
        .bind(&runs)
        .bind(&participants)
        .bind(&seqs)
        .bind(&codes)
        .bind(&months)
        .bind(&quantities)
        .bind(&rates)
        .bind(&amounts)
        .bind(&explanations)
        .bind(&pay_codes)
        .bind(&numbers)
        .bind(&units)
        .bind(reporting(|r| Some(&r.income.income_type)))
        .bind(reporting(|r| Some(&r.income.description)))
        .bind(reporting(|r| Some(&r.income.benefit_kind)))
        .bind(flag(|r| r.employer_contribution))
        .bind(flag(|r| r.income.withholding_basis))
        .bind(reporting(|r| r.accounting.ansvar.as_deref()))
        .bind(reporting(|r| r.accounting.tjeneste.as_deref()))
        .bind(reporting(|r| Some(&r.accounting.function)))
        .execute(&mut *conn)
        .await
        .map_err(|e| {
            on_violation(e, |violation| match violation {
                Violation::Unique("pay_lines_pkey") => {
                    Some(StoreError::conflict("a pay line id is taken"))
                }
                Violation::Unique("pay_lines_position_key") => Some(StoreError::invalid_input(
                    "two pay lines of one participant have the same position",
                )),
                Violation::ForeignKey("pay_lines_participant_fkey") => Some(
                    StoreError::invalid_input("a pay line names an unknown participant"),
                ),
                _ => None,
            })
        })?;
    }
    Ok(())
}

include!("../shared/reads.rs");
include!("../shared/common.rs");

#[async_trait]
impl Repository for PostgresStore {
    fn backend(&self) -> Backend {
        Backend::Postgres
    }

    async fn pending_migrations(&self) -> Result<Vec<String>, StoreError> {
        let applied: Vec<AppliedMigration> = sqlx::query_as(APPLIED_MIGRATIONS)
            .fetch_all(&self.pool)
            .await?;
        Ok(schema::pending(&MIGRATOR, &applied))
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}
