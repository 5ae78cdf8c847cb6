//! The SQLite backend: a single file, the embedded default for one instance.
//!
//! Races are prevented by serialising writers, twice over: in the process, all
//! writes go through a pool of exactly one connection; across processes, every
//! write transaction starts with `BEGIN IMMEDIATE`, which takes SQLite's write
//! lock before the first read, so the checks a transaction makes (digest,
//! superseded status, overlap) still hold when it commits. The file runs in
//! WAL mode, so readers (a separate pool) are never blocked by the writer, and
//! a busy timeout makes a second process wait for the lock instead of failing.
//!
//! The same lock settles the pay-period races: a close finds its month free
//! and inserts the run under it (the unique key on municipality and month is
//! the last line, mapped to the existing run), a confirmation counts the
//! run's confirmations under it, and an outbox claim selects and leases its
//! events in one statement under it. SQLite has no decimal type, so a pay
//! line's amount is also stored as whole øre, which the ledger sums exactly.
//!
//! The audit chain needs no lock of its own: every audited write is a
//! `BEGIN IMMEDIATE` transaction, so the head an append reads cannot move
//! before it commits, and the chain cannot fork (the unique index on
//! `chain_seq` is the last line).

mod rows;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::error::ErrorKind;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row, Sqlite, Transaction};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use self::dialect::*;
use crate::audit_chain::{
    AuditVerification, ChainContent, ChainWalk, GENESIS, canonical_json, link_hash, next_link,
};
use crate::records::{
    AcceptOutcome, AppealOutcome, AuditEntry, BeginClose, BenefitOffset, Child, ConfirmOutcome,
    Confirmation, DayEntry, Expected, HeldParticipant, IdempotencyClaim, IdempotencyRecord,
    IdempotentAnswer, LedgerEntry, LineTotal, Municipality, NewAuditEntry, NewOutboxEvent,
    NewTimesheet, OpenRun, OutboxEvent, Participant, ParticipantFacts, Pause, PayLine, PayRun,
    PaymentToConfirm, Programme, ProgrammeExtension, ProgrammeWithPauses, RegisteredG,
    SanctionDecision, SignerKey, SignerRole, SoleCarerPeriod, Timesheet, TimesheetStatus,
    check_new_timesheet, check_offset, check_range, check_signer_key, current_entries,
    group_pauses, run_state, scaled_quantity, whole_ore,
};
use crate::schema::{self, APPLIED_MIGRATIONS, AppliedMigration};
use crate::{Backend, Repository, StoreError};

/// The schema, built into the binary; append-only.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// How long a writer waits for another process's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Reader connections (WAL lets them read while the writer writes).
const READERS: u32 = 4;
/// Rows the connection's worker thread may read ahead of the task taking
/// them (sqlx's default is 50): a close reads tens of thousands of rows a
/// chunk, and with a short buffer the two threads wake each other up for
/// nearly every row.
const ROW_BUFFER: usize = 4_096;
/// Audit entries read per query when the chain is verified.
const AUDIT_PAGE: i64 = 1_000;

// The column lists, shared with the other backend.
include!("../shared/columns.rs");

// Row locks in the statements shared with the other backend: SQLite needs none: every write transaction holds the database's write lock.
macro_rules! for_update {
    () => {
        ""
    };
}
macro_rules! for_update_skip_locked {
    () => {
        ""
    };
}
macro_rules! for_no_key_update {
    () => {
        ""
    };
}

// The sum of pay lines' amounts in the shared statements (whole øre, integers SQLite sums exactly),
// and SQL's false.
macro_rules! sum_of_amounts {
    () => {
        "SUM(l.amount_ore) AS amount_ore"
    };
}
/// The sum of the quantities of lines grouped, exactly; NULL when a line
/// of the group has no quantity.
macro_rules! sum_of_quantities {
    () => {
        "CASE WHEN COUNT(l.quantity_scaled) = COUNT(*) THEN SUM(l.quantity_scaled) END AS quantity_sum"
    };
}
macro_rules! sql_false {
    () => {
        "0"
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

/// Rows per multi-row INSERT of pay lines: 11 parameters each, well under
/// SQLite's limit of 32 766 parameters per statement.
const LINES_PER_INSERT: usize = 1_000;
/// Rows per multi-row INSERT of outbox events (7 parameters each).
const EVENTS_PER_INSERT: usize = 1_000;

/// The SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    /// Exactly one connection: all write transactions queue here.
    writer: SqlitePool,
    /// Connections for reads outside write transactions.
    reader: SqlitePool,
}

impl SqliteStore {
    /// Opens (with `mode=rwc`, creates) the database file of an `sqlite:` URL,
    /// creating its directory if missing, and applies the migrations.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(url)?
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .row_buffer_size(ROW_BUFFER);

        // An in-memory database lives in its one connection, so there is one
        // pool of one connection that is never closed while the store lives.
        if url.contains(":memory:") || url.contains("mode=memory") {
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
                .connect_with(options)
                .await?;
            MIGRATOR.run(&pool).await?;
            chain_unlinked_entries(&pool).await?;
            return Ok(Self {
                writer: pool.clone(),
                reader: pool,
            });
        }

        if let Some(directory) = options.get_filename().parent()
            && directory != Path::new("")
        {
            std::fs::create_dir_all(directory).map_err(StoreError::CreateDirectory)?;
        }
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await?;
        MIGRATOR.run(&writer).await?;
        chain_unlinked_entries(&writer).await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(READERS)
            .connect_with(options)
            .await?;
        Ok(Self { writer, reader })
    }

    /// Starts a write transaction holding SQLite's write lock from its first statement.
    async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        Ok(self.writer.begin_with("BEGIN IMMEDIATE").await?)
    }
}

/// Writes an audit entry as the next link of the audit chain. The caller's
/// `BEGIN IMMEDIATE` holds SQLite's write lock, so no other writer reads the
/// same head before this transaction ends.
async fn insert_audit(
    conn: &mut SqliteConnection,
    audit: &NewAuditEntry,
) -> Result<(), StoreError> {
    idempotency::claim_idempotency_key(&mut *conn, audit).await?;
    let head: Option<(i64, Vec<u8>)> = sqlx::query_as(
        "SELECT chain_seq, hash FROM audit_entries WHERE chain_seq IS NOT NULL \
         ORDER BY chain_seq DESC LIMIT 1",
    )
    .fetch_optional(&mut *conn)
    .await?;
    let (chain_seq, prev_hash) = next_link(head)?;
    let at = instant(audit.at)?;
    // The details are hashed as they will be read back: from this text.
    let details = audit.details.to_string();
    let content = ChainContent {
        at: at.clone(),
        actor: audit.actor.clone(),
        action: audit.action.clone(),
        subject_type: audit.subject_type.clone(),
        subject_id: audit.subject_id.clone(),
        details: canonical_json(&audit.details),
    };
    let hash = link_hash(chain_seq, &prev_hash, &content);
    sqlx::query(
        "INSERT INTO audit_entries (id, at, actor, action, subject_type, subject_id, details, \
         chain_seq, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(Uuid::now_v7())
    .bind(at)
    .bind(&audit.actor)
    .bind(&audit.action)
    .bind(&audit.subject_type)
    .bind(&audit.subject_id)
    .bind(details)
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
    conn: &mut SqliteConnection,
    events: &[NewOutboxEvent],
) -> Result<(), StoreError> {
    for chunk in events.chunks(EVENTS_PER_INSERT) {
        let mut texts = Vec::with_capacity(chunk.len());
        for event in chunk {
            texts.push(instant(event.created_at)?);
        }
        let mut insert = QueryBuilder::<Sqlite>::new(
            "INSERT INTO outbox_events \
             (id, event_type, source, subject, payload, created_at, available_at, traceparent) ",
        );
        insert.push_values(chunk.iter().zip(texts), |mut row, (event, created_at)| {
            row.push_bind(event.id)
                .push_bind(event.event_type.clone())
                .push_bind(event.source.clone())
                .push_bind(event.subject.clone())
                .push_bind(event.payload.clone())
                .push_bind(created_at.clone())
                .push_bind(created_at)
                .push_bind(event.traceparent.clone());
        });
        insert.build().execute(&mut *conn).await.map_err(|e| {
            on_violation(e, |violation| match violation {
                Violation::Unique("outbox_events.id") => {
                    Some(StoreError::conflict("an outbox event id is taken"))
                }
                _ => None,
            })
        })?;
    }
    Ok(())
}

/// Writes a run's lines in multi-row statements (a close may hold 100 000
/// participants' lines).
async fn insert_pay_lines(
    conn: &mut SqliteConnection,
    lines: &[PayLine],
) -> Result<(), StoreError> {
    for chunk in lines.chunks(LINES_PER_INSERT) {
        let mut scaled = Vec::with_capacity(chunk.len());
        for line in chunk {
            let quantity = line
                .quantity
                .map(|q| scaled_quantity(q.value))
                .transpose()?;
            scaled.push((whole_ore(line.amount)?, quantity));
        }
        let mut insert = QueryBuilder::<Sqlite>::new(concat!(
            "INSERT INTO pay_lines (",
            pay_line_columns!(),
            ", amount_ore, quantity_scaled) "
        ));
        insert.push_values(
            chunk.iter().zip(scaled),
            |mut row, (line, (ore, quantity))| {
                // A line without a quantity stores 0 for quantity and rate (not read).
                let reporting = line.reporting.as_ref();
                row.push_bind(line.id)
                    .push_bind(line.run_id)
                    .push_bind(line.participant_id)
                    .push_bind(line.seq)
                    .push_bind(line.line_code.as_str())
                    .push_bind(line.attributed_month)
                    .push_bind(decimal(
                        line.quantity
                            .map_or(rust_decimal::Decimal::ZERO, |q| q.value),
                    ))
                    .push_bind(decimal(
                        line.quantity.and_then(|q| q.rate).unwrap_or_default(),
                    ))
                    .push_bind(decimal(line.amount))
                    .push_bind(line.explanation.clone())
                    .push_bind(line.pay_code.clone())
                    .push_bind(line.employee_number.clone())
                    .push_bind(line.quantity.map(|q| q.unit.as_str()))
                    .push_bind(reporting.map(|r| r.income.income_type.clone()))
                    .push_bind(reporting.map(|r| r.income.description.clone()))
                    .push_bind(reporting.map(|r| r.income.benefit_kind.clone()))
                    .push_bind(reporting.map(|r| r.employer_contribution))
                    .push_bind(reporting.map(|r| r.income.withholding_basis))
                    .push_bind(reporting.and_then(|r| r.accounting.ansvar.clone()))
                    .push_bind(reporting.and_then(|r| r.accounting.tjeneste.clone()))
                    .push_bind(reporting.map(|r| r.accounting.function.clone()))
                    .push_bind(ore)
                    .push_bind(quantity);
            },
        );
        insert.build().execute(&mut *conn).await.map_err(|e| {
            on_violation(e, |violation| match violation {
                Violation::Unique("pay_lines.id") => {
                    Some(StoreError::conflict("a pay line id is taken"))
                }
                Violation::Unique(_) => Some(StoreError::invalid_input(
                    "two pay lines of one participant have the same position",
                )),
                Violation::ForeignKey(_) => Some(StoreError::invalid_input(
                    "a pay line names an unknown participant",
                )),
                _ => None,
            })
        })?;
    }
    Ok(())
}

include!("../shared/reads.rs");
include!("../shared/common.rs");

#[async_trait]
impl Repository for SqliteStore {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    async fn pending_migrations(&self) -> Result<Vec<String>, StoreError> {
        let applied: Vec<AppliedMigration> = sqlx::query_as(APPLIED_MIGRATIONS)
            .fetch_all(&self.reader)
            .await?;
        Ok(schema::pending(&MIGRATOR, &applied))
    }

    async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }
}
