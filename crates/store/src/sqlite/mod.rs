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

use self::rows::{decimal_text, instant_text, instant_text_opt};
use crate::audit_chain::{
    AuditVerification, ChainContent, ChainWalk, GENESIS, canonical_json, link_hash, next_link,
};
use crate::records::{
    AcceptOutcome, AuditEntry, BeginClose, BenefitOffset, Child, CloseOutcome, ConfirmOutcome,
    Confirmation, DayEntry, LedgerEntry, LineTotal, Municipality, NewAuditEntry, NewOutboxEvent,
    NewPayRun, NewTimesheet, OpenRun, OutboxEvent, Participant, ParticipantFacts, Pause, PayLine,
    PayRun, Programme, ProgrammeWithPauses, RegisteredG, SanctionDecision, SignerKey,
    SoleCarerPeriod, Timesheet, TimesheetStatus, check_new_pay_run, check_new_timesheet,
    check_offset, check_range, check_signer_key, current_entries, group_pauses, run_state,
    whole_ore,
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

macro_rules! participant_columns {
    () => {
        "id, municipality_id, nin_lookup, nin_sealed, birth_date, display_name, created_at"
    };
}
macro_rules! programme_columns {
    () => {
        "id, participant_id, start_date, end_date, decision_reference, decided_at"
    };
}
macro_rules! signer_key_columns {
    () => {
        "keyid, person_id, participant_id, role, public_key, valid_from, valid_until, \
         revoked_at, revocation_reason, registered_at"
    };
}
macro_rules! timesheet_columns {
    () => {
        "id, participant_id, municipality_id, digest, envelope, period_from, period_to, \
         version, supersedes, status, assessment, received_at"
    };
}
macro_rules! day_entry_columns {
    () => {
        "timesheet_id, participant_id, date, seq, kind, hours, note"
    };
}
macro_rules! decision_columns {
    () => {
        "id, participant_id, date, entry_kind, outcome, decided_at, decided_by, reference, reason"
    };
}

macro_rules! pay_run_columns {
    () => {
        "id, municipality_id, month, state, closed_at, participant_count, total"
    };
}
macro_rules! pay_line_columns {
    () => {
        "id, run_id, participant_id, seq, line_code, attributed_month, quantity, rate, amount, \
         explanation"
    };
}
macro_rules! confirmation_columns {
    () => {
        "run_id, participant_id, gross, tax_withheld, net_paid, outcome, failure_reason, \
         payment_date, confirmed_at"
    };
}
macro_rules! outbox_columns {
    () => {
        "id, event_type, source, subject, payload, created_at, attempts, available_at, \
         delivered_at, last_error"
    };
}

// Closing in chunks; declared here, after the column macros it uses.
mod close;

/// Rows per multi-row INSERT of pay lines: 11 parameters each, well under
/// SQLite's limit of 32 766 parameters per statement.
const LINES_PER_INSERT: usize = 1_000;
/// Rows per multi-row INSERT of outbox events (7 parameters each).
const EVENTS_PER_INSERT: usize = 1_000;

/// A violated constraint, as SQLite reports it: UNIQUE by its columns
/// (`table.a, table.b`), CHECK by its name, FOREIGN KEY without a name.
#[derive(Clone, Copy)]
enum Violation<'a> {
    Unique(&'a str),
    ForeignKey,
    Check(&'a str),
}

/// Turns a database error into the caller's typed error when `map` knows the
/// violated constraint; anything else stays a database error.
fn on_violation(
    err: sqlx::Error,
    map: impl FnOnce(Violation<'_>) -> Option<StoreError>,
) -> StoreError {
    let mapped = err.as_database_error().and_then(|db| {
        let message = db.message();
        let violation = match db.kind() {
            ErrorKind::UniqueViolation => Violation::Unique(
                message
                    .strip_prefix("UNIQUE constraint failed: ")
                    .unwrap_or(message),
            ),
            ErrorKind::ForeignKeyViolation => Violation::ForeignKey,
            ErrorKind::CheckViolation => Violation::Check(
                message
                    .strip_prefix("CHECK constraint failed: ")
                    .unwrap_or(message),
            ),
            _ => return None,
        };
        // A CHECK constraint guards the shape of a record: whatever trips
        // one is bad input, even where the call site has no special word for it.
        map(violation).or_else(|| match violation {
            Violation::Check(name) => Some(StoreError::invalid_input(format!(
                "the record violates {name}"
            ))),
            _ => None,
        })
    });
    mapped.unwrap_or(StoreError::Database(err))
}

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
    let head: Option<(i64, Vec<u8>)> = sqlx::query_as(
        "SELECT chain_seq, hash FROM audit_entries WHERE chain_seq IS NOT NULL \
         ORDER BY chain_seq DESC LIMIT 1",
    )
    .fetch_optional(&mut *conn)
    .await?;
    let (chain_seq, prev_hash) = next_link(head)?;
    let at = instant_text(audit.at)?;
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

/// Links the audit entries written before migration 0003, oldest first from
/// the genesis hash, when the chain has not begun yet; otherwise does nothing
/// (an unlinked entry after the chain began is for verification to report).
async fn chain_unlinked_entries(writer: &SqlitePool) -> Result<(), StoreError> {
    const PENDING: &str = "SELECT EXISTS (SELECT 1 FROM audit_entries WHERE chain_seq IS NULL) \
         AND NOT EXISTS (SELECT 1 FROM audit_entries WHERE chain_seq IS NOT NULL)";
    // Checked before taking the write lock, so that opening a store usually writes nothing.
    let pending: bool = sqlx::query_scalar(PENDING).fetch_one(writer).await?;
    if !pending {
        return Ok(());
    }
    let mut tx = writer.begin_with("BEGIN IMMEDIATE").await?;
    let pending: bool = sqlx::query_scalar(PENDING).fetch_one(&mut *tx).await?;
    if !pending {
        tx.rollback().await?;
        return Ok(());
    }
    let found = sqlx::query(
        "SELECT seq, chain_seq, prev_hash, hash, at, actor, action, subject_type, subject_id, \
         details FROM audit_entries ORDER BY seq",
    )
    .fetch_all(&mut *tx)
    .await?;
    let mut prev_hash = GENESIS;
    for (chain_seq, row) in (1u64..).zip(&found) {
        let link = rows::audit_link(row)?;
        let content = link.content.map_err(|why| {
            StoreError::corrupt(format!(
                "audit entry {} cannot be chained: {why}",
                link.row_seq
            ))
        })?;
        let hash = link_hash(chain_seq, &prev_hash, &content);
        sqlx::query(
            "UPDATE audit_entries SET chain_seq = ?, prev_hash = ?, hash = ? WHERE seq = ?",
        )
        .bind(chain_seq_value(chain_seq)?)
        .bind(prev_hash.as_slice())
        .bind(hash.as_slice())
        .bind(link.row_seq)
        .execute(&mut *tx)
        .await?;
        prev_hash = hash;
    }
    tx.commit().await?;
    tracing::info!(
        entries = found.len(),
        "audit entries from before the chain were chained"
    );
    Ok(())
}

/// Writes domain events to the outbox, deliverable from their creation on.
async fn insert_events(
    conn: &mut SqliteConnection,
    events: &[NewOutboxEvent],
) -> Result<(), StoreError> {
    for chunk in events.chunks(EVENTS_PER_INSERT) {
        let mut texts = Vec::with_capacity(chunk.len());
        for event in chunk {
            texts.push(instant_text(event.created_at)?);
        }
        let mut insert = QueryBuilder::<Sqlite>::new(
            "INSERT INTO outbox_events \
             (id, event_type, source, subject, payload, created_at, available_at) ",
        );
        insert.push_values(chunk.iter().zip(texts), |mut row, (event, created_at)| {
            row.push_bind(event.id)
                .push_bind(event.event_type.clone())
                .push_bind(event.source.clone())
                .push_bind(event.subject.clone())
                .push_bind(event.payload.clone())
                .push_bind(created_at.clone())
                .push_bind(created_at);
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
        let mut ore = Vec::with_capacity(chunk.len());
        for line in chunk {
            ore.push(whole_ore(line.amount)?);
        }
        let mut insert = QueryBuilder::<Sqlite>::new(
            "INSERT INTO pay_lines (id, run_id, participant_id, seq, line_code, \
             attributed_month, quantity, rate, amount, amount_ore, explanation) ",
        );
        insert.push_values(chunk.iter().zip(ore), |mut row, (line, ore)| {
            row.push_bind(line.id)
                .push_bind(line.run_id)
                .push_bind(line.participant_id)
                .push_bind(line.seq)
                .push_bind(line.line_code.clone())
                .push_bind(line.attributed_month)
                .push_bind(decimal_text(line.quantity))
                .push_bind(decimal_text(line.rate))
                .push_bind(decimal_text(line.amount))
                .push_bind(ore)
                .push_bind(line.explanation.clone());
        });
        insert.build().execute(&mut *conn).await.map_err(|e| {
            on_violation(e, |violation| match violation {
                Violation::Unique("pay_lines.id") => {
                    Some(StoreError::conflict("a pay line id is taken"))
                }
                Violation::Unique(_) => Some(StoreError::invalid_input(
                    "two pay lines of one participant have the same position",
                )),
                Violation::ForeignKey => Some(StoreError::invalid_input(
                    "a pay line names an unknown participant",
                )),
                _ => None,
            })
        })?;
    }
    Ok(())
}

async fn select_run(conn: &mut SqliteConnection, id: Uuid) -> Result<Option<PayRun>, StoreError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        pay_run_columns!(),
        " FROM pay_runs WHERE id = ?"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(rows::pay_run).transpose()
}

async fn select_run_by_month(
    conn: &mut SqliteConnection,
    municipality_id: &str,
    month: Date,
) -> Result<Option<PayRun>, StoreError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        pay_run_columns!(),
        " FROM pay_runs WHERE municipality_id = ? AND month = ?"
    ))
    .bind(municipality_id)
    .bind(month)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(rows::pay_run).transpose()
}

/// Whether the error is the unique violation of one municipality's month.
fn is_month_taken(err: &sqlx::Error) -> bool {
    err.as_database_error().is_some_and(|db| {
        db.kind() == ErrorKind::UniqueViolation
            && db
                .message()
                .ends_with("pay_runs.municipality_id, pay_runs.month")
    })
}

/// What a foreign-key failure means when the only reference is the participant.
fn participant_missing(id: Uuid) -> impl FnOnce(Violation<'_>) -> Option<StoreError> {
    move |violation| match violation {
        Violation::ForeignKey => Some(StoreError::not_found("participant", id)),
        _ => None,
    }
}

async fn select_participant(
    conn: &mut SqliteConnection,
    id: Uuid,
) -> Result<Participant, StoreError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        participant_columns!(),
        " FROM participants WHERE id = ?"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    match row {
        Some(row) => rows::participant(&row),
        None => Err(StoreError::not_found("participant", id)),
    }
}

async fn select_programme(conn: &mut SqliteConnection, id: Uuid) -> Result<Programme, StoreError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        programme_columns!(),
        " FROM programmes WHERE id = ?"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    match row {
        Some(row) => rows::programme(&row),
        None => Err(StoreError::not_found("programme", id)),
    }
}

async fn select_signer_key(
    conn: &mut SqliteConnection,
    keyid: &str,
) -> Result<SignerKey, StoreError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        signer_key_columns!(),
        " FROM signer_keys WHERE keyid = ?"
    ))
    .bind(keyid)
    .fetch_optional(conn)
    .await?;
    match row {
        Some(row) => rows::signer_key(&row),
        None => Err(StoreError::not_found("signer key", keyid)),
    }
}

async fn select_timesheet_by_digest(
    conn: &mut SqliteConnection,
    digest: &str,
) -> Result<Option<Timesheet>, StoreError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        timesheet_columns!(),
        " FROM timesheets WHERE digest = ?"
    ))
    .bind(digest)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(rows::timesheet).transpose()
}

async fn select_children(
    conn: &mut SqliteConnection,
    participant_id: Uuid,
) -> Result<Vec<Child>, StoreError> {
    let found = sqlx::query(
        "SELECT id, participant_id, birth_date FROM children \
         WHERE participant_id = ? ORDER BY birth_date, id",
    )
    .bind(participant_id)
    .fetch_all(conn)
    .await?;
    rows::all(found, rows::child)
}

async fn select_sole_carer_periods(
    conn: &mut SqliteConnection,
    participant_id: Uuid,
) -> Result<Vec<SoleCarerPeriod>, StoreError> {
    let found = sqlx::query(
        "SELECT id, participant_id, from_date, to_date FROM sole_carer_periods \
         WHERE participant_id = ? ORDER BY from_date, id",
    )
    .bind(participant_id)
    .fetch_all(conn)
    .await?;
    rows::all(found, rows::sole_carer_period)
}

async fn select_benefit_offsets(
    conn: &mut SqliteConnection,
    participant_id: Uuid,
) -> Result<Vec<BenefitOffset>, StoreError> {
    let found = sqlx::query(
        "SELECT id, participant_id, month, kind, amount FROM benefit_offsets \
         WHERE participant_id = ? ORDER BY month, kind, id",
    )
    .bind(participant_id)
    .fetch_all(conn)
    .await?;
    rows::all(found, rows::benefit_offset)
}

async fn select_programmes(
    conn: &mut SqliteConnection,
    participant_id: Uuid,
) -> Result<Vec<ProgrammeWithPauses>, StoreError> {
    let programmes = sqlx::query(concat!(
        "SELECT ",
        programme_columns!(),
        " FROM programmes WHERE participant_id = ? ORDER BY start_date, id"
    ))
    .bind(participant_id)
    .fetch_all(&mut *conn)
    .await?;
    let pauses = sqlx::query(
        "SELECT p.id, p.programme_id, p.from_date, p.to_date, p.kind, p.reference \
         FROM programme_pauses p JOIN programmes g ON g.id = p.programme_id \
         WHERE g.participant_id = ? ORDER BY p.from_date, p.id",
    )
    .bind(participant_id)
    .fetch_all(conn)
    .await?;
    Ok(group_pauses(
        rows::all(programmes, rows::programme)?,
        rows::all(pauses, rows::pause)?,
    ))
}

async fn select_decisions(
    conn: &mut SqliteConnection,
    participant_id: Uuid,
) -> Result<Vec<SanctionDecision>, StoreError> {
    let found = sqlx::query(concat!(
        "SELECT ",
        decision_columns!(),
        " FROM sanction_decisions WHERE participant_id = ? ORDER BY date, entry_kind"
    ))
    .bind(participant_id)
    .fetch_all(conn)
    .await?;
    rows::all(found, rows::sanction_decision)
}

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

    async fn upsert_municipality(
        &self,
        municipality: &Municipality,
        audit: &NewAuditEntry,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO municipalities (id, name, policy_overrides, pay_codes) \
             VALUES (?, ?, ?, ?) \
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, \
             policy_overrides = excluded.policy_overrides, pay_codes = excluded.pay_codes",
        )
        .bind(&municipality.id)
        .bind(&municipality.name)
        .bind(&municipality.policy_overrides)
        .bind(&municipality.pay_codes)
        .execute(&mut *tx)
        .await?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_municipality(&self, id: &str) -> Result<Municipality, StoreError> {
        let row = sqlx::query(
            "SELECT id, name, policy_overrides, pay_codes FROM municipalities WHERE id = ?",
        )
        .bind(id)
        .fetch_optional(&self.reader)
        .await?;
        match row {
            Some(row) => rows::municipality(&row),
            None => Err(StoreError::not_found("municipality", id)),
        }
    }

    async fn list_municipalities(&self) -> Result<Vec<Municipality>, StoreError> {
        let found = sqlx::query(
            "SELECT id, name, policy_overrides, pay_codes FROM municipalities ORDER BY id",
        )
        .fetch_all(&self.reader)
        .await?;
        rows::all(found, rows::municipality)
    }

    async fn create_participant(
        &self,
        participant: &Participant,
        audit: &NewAuditEntry,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(concat!(
            "INSERT INTO participants (",
            participant_columns!(),
            ") VALUES (?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(participant.id)
        .bind(&participant.municipality_id)
        .bind(&participant.nin_lookup)
        .bind(&participant.nin_sealed)
        .bind(participant.birth_date)
        .bind(&participant.display_name)
        .bind(instant_text(participant.created_at)?)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            on_violation(e, |violation| match violation {
                Violation::Unique("participants.municipality_id, participants.nin_lookup") => {
                    Some(StoreError::conflict(
                        "a participant with this identity number exists in the municipality",
                    ))
                }
                Violation::Unique("participants.id") => {
                    Some(StoreError::conflict("the participant id is taken"))
                }
                Violation::ForeignKey => Some(StoreError::not_found(
                    "municipality",
                    &participant.municipality_id,
                )),
                _ => None,
            })
        })?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_participant(&self, id: Uuid) -> Result<Participant, StoreError> {
        let mut conn = self.reader.acquire().await?;
        select_participant(&mut conn, id).await
    }

    async fn find_participant_by_nin(
        &self,
        municipality_id: &str,
        nin_lookup: &[u8],
    ) -> Result<Option<Participant>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            participant_columns!(),
            " FROM participants WHERE municipality_id = ? AND nin_lookup = ?"
        ))
        .bind(municipality_id)
        .bind(nin_lookup)
        .fetch_optional(&self.reader)
        .await?;
        row.as_ref().map(rows::participant).transpose()
    }

    async fn list_participants(
        &self,
        municipality_id: &str,
    ) -> Result<Vec<Participant>, StoreError> {
        let found = sqlx::query(concat!(
            "SELECT ",
            participant_columns!(),
            " FROM participants WHERE municipality_id = ? ORDER BY created_at, id"
        ))
        .bind(municipality_id)
        .fetch_all(&self.reader)
        .await?;
        rows::all(found, rows::participant)
    }

    async fn add_child(&self, child: &Child, audit: &NewAuditEntry) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query("INSERT INTO children (id, participant_id, birth_date) VALUES (?, ?, ?)")
            .bind(child.id)
            .bind(child.participant_id)
            .bind(child.birth_date)
            .execute(&mut *tx)
            .await
            .map_err(|e| {
                on_violation(e, |violation| match violation {
                    Violation::Unique("children.id") => {
                        Some(StoreError::conflict("the child id is taken"))
                    }
                    other => participant_missing(child.participant_id)(other),
                })
            })?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_children(&self, participant_id: Uuid) -> Result<Vec<Child>, StoreError> {
        let mut conn = self.reader.acquire().await?;
        select_children(&mut conn, participant_id).await
    }

    async fn add_sole_carer_period(
        &self,
        period: &SoleCarerPeriod,
        audit: &NewAuditEntry,
    ) -> Result<(), StoreError> {
        check_range("sole-carer period", period.from, period.to)?;
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO sole_carer_periods (id, participant_id, from_date, to_date) \
             VALUES (?, ?, ?, ?)",
        )
        .bind(period.id)
        .bind(period.participant_id)
        .bind(period.from)
        .bind(period.to)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            on_violation(e, |violation| match violation {
                Violation::Unique("sole_carer_periods.id") => {
                    Some(StoreError::conflict("the sole-carer period id is taken"))
                }
                other => participant_missing(period.participant_id)(other),
            })
        })?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_sole_carer_periods(
        &self,
        participant_id: Uuid,
    ) -> Result<Vec<SoleCarerPeriod>, StoreError> {
        let mut conn = self.reader.acquire().await?;
        select_sole_carer_periods(&mut conn, participant_id).await
    }

    async fn add_benefit_offset(
        &self,
        offset: &BenefitOffset,
        audit: &NewAuditEntry,
    ) -> Result<(), StoreError> {
        check_offset(offset)?;
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO benefit_offsets (id, participant_id, month, kind, amount) \
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(offset.id)
        .bind(offset.participant_id)
        .bind(offset.month)
        .bind(&offset.kind)
        .bind(decimal_text(offset.amount))
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            on_violation(e, |violation| match violation {
                Violation::Unique("benefit_offsets.id") => {
                    Some(StoreError::conflict("the offset id is taken"))
                }
                other => participant_missing(offset.participant_id)(other),
            })
        })?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_benefit_offsets(
        &self,
        participant_id: Uuid,
    ) -> Result<Vec<BenefitOffset>, StoreError> {
        let mut conn = self.reader.acquire().await?;
        select_benefit_offsets(&mut conn, participant_id).await
    }

    async fn create_programme(
        &self,
        programme: &Programme,
        audit: &NewAuditEntry,
    ) -> Result<(), StoreError> {
        check_range("programme", programme.start, programme.end)?;
        let mut tx = self.begin_write().await?;
        sqlx::query(concat!(
            "INSERT INTO programmes (",
            programme_columns!(),
            ") VALUES (?, ?, ?, ?, ?, ?)"
        ))
        .bind(programme.id)
        .bind(programme.participant_id)
        .bind(programme.start)
        .bind(programme.end)
        .bind(&programme.decision_reference)
        .bind(instant_text(programme.decided_at)?)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            on_violation(e, |violation| match violation {
                Violation::Unique("programmes.id") => {
                    Some(StoreError::conflict("the programme id is taken"))
                }
                other => participant_missing(programme.participant_id)(other),
            })
        })?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_programme(&self, id: Uuid) -> Result<Programme, StoreError> {
        let mut conn = self.reader.acquire().await?;
        select_programme(&mut conn, id).await
    }

    async fn set_programme_end(
        &self,
        programme_id: Uuid,
        end: Option<Date>,
        audit: &NewAuditEntry,
    ) -> Result<Programme, StoreError> {
        let mut tx = self.begin_write().await?;
        let mut programme = select_programme(&mut tx, programme_id).await?;
        check_range("programme", programme.start, end)?;
        sqlx::query("UPDATE programmes SET end_date = ? WHERE id = ?")
            .bind(end)
            .bind(programme_id)
            .execute(&mut *tx)
            .await?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        programme.end = end;
        Ok(programme)
    }

    async fn add_pause(&self, pause: &Pause, audit: &NewAuditEntry) -> Result<(), StoreError> {
        check_range("pause", pause.from, pause.to)?;
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO programme_pauses (id, programme_id, from_date, to_date, kind, reference) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(pause.id)
        .bind(pause.programme_id)
        .bind(pause.from)
        .bind(pause.to)
        .bind(pause.kind.as_str())
        .bind(&pause.reference)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            on_violation(e, |violation| match violation {
                Violation::Unique("programme_pauses.id") => {
                    Some(StoreError::conflict("the pause id is taken"))
                }
                Violation::ForeignKey => {
                    Some(StoreError::not_found("programme", pause.programme_id))
                }
                _ => None,
            })
        })?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_programmes(
        &self,
        participant_id: Uuid,
    ) -> Result<Vec<ProgrammeWithPauses>, StoreError> {
        // One snapshot, so that no pause is read without its programme.
        let mut tx = self.reader.begin().await?;
        let programmes = select_programmes(&mut tx, participant_id).await?;
        tx.commit().await?;
        Ok(programmes)
    }

    async fn register_signer_key(
        &self,
        key: &SignerKey,
        audit: &NewAuditEntry,
    ) -> Result<(), StoreError> {
        check_signer_key(key)?;
        let mut tx = self.begin_write().await?;
        sqlx::query(concat!(
            "INSERT INTO signer_keys (",
            signer_key_columns!(),
            ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(&key.keyid)
        .bind(&key.person_id)
        .bind(key.participant_id)
        .bind(key.role.as_str())
        .bind(&key.public_key)
        .bind(instant_text(key.valid_from)?)
        .bind(instant_text_opt(key.valid_until)?)
        .bind(instant_text_opt(key.revoked_at)?)
        .bind(&key.revocation_reason)
        .bind(instant_text(key.registered_at)?)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            on_violation(e, |violation| match violation {
                Violation::Unique("signer_keys.keyid") => Some(StoreError::conflict(format!(
                    "signer key {} is registered already",
                    key.keyid
                ))),
                Violation::ForeignKey => key
                    .participant_id
                    .map(|id| StoreError::not_found("participant", id)),
                _ => None,
            })
        })?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_signer_key(&self, keyid: &str) -> Result<SignerKey, StoreError> {
        let mut conn = self.reader.acquire().await?;
        select_signer_key(&mut conn, keyid).await
    }

    async fn list_signer_keys(&self) -> Result<Vec<SignerKey>, StoreError> {
        let found = sqlx::query(concat!(
            "SELECT ",
            signer_key_columns!(),
            " FROM signer_keys ORDER BY registered_at, keyid"
        ))
        .fetch_all(&self.reader)
        .await?;
        rows::all(found, rows::signer_key)
    }

    async fn revoke_signer_key(
        &self,
        keyid: &str,
        revoked_at: OffsetDateTime,
        reason: &str,
        audit: &NewAuditEntry,
    ) -> Result<SignerKey, StoreError> {
        let mut tx = self.begin_write().await?;
        let mut key = select_signer_key(&mut tx, keyid).await?;
        if key.revoked_at.is_some() {
            return Err(StoreError::invalid_state(format!(
                "signer key {keyid} is revoked already"
            )));
        }
        sqlx::query(
            "UPDATE signer_keys SET revoked_at = ?, revocation_reason = ? \
             WHERE keyid = ? AND revoked_at IS NULL",
        )
        .bind(instant_text(revoked_at)?)
        .bind(reason)
        .bind(keyid)
        .execute(&mut *tx)
        .await?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        key.revoked_at = Some(revoked_at);
        key.revocation_reason = Some(reason.to_owned());
        Ok(key)
    }

    async fn accept_timesheet(&self, new: &NewTimesheet) -> Result<AcceptOutcome, StoreError> {
        check_new_timesheet(new)?;
        let ts = &new.timesheet;
        // BEGIN IMMEDIATE: from here on no other writer runs until commit or
        // rollback, so what is checked below is what is committed against.
        let mut tx = self.begin_write().await?;

        if let Some(stored) = select_timesheet_by_digest(&mut tx, &ts.digest).await? {
            tx.rollback().await?;
            return Ok(AcceptOutcome::Duplicate(stored));
        }

        let municipality: Option<String> =
            sqlx::query_scalar("SELECT municipality_id FROM participants WHERE id = ?")
                .bind(ts.participant_id)
                .fetch_optional(&mut *tx)
                .await?;
        match municipality {
            None => return Err(StoreError::not_found("participant", ts.participant_id)),
            Some(m) if m != ts.municipality_id => {
                return Err(StoreError::invalid_input(
                    "the timesheet's municipality is not the participant's",
                ));
            }
            Some(_) => {}
        }

        if let Some(superseded) = ts.supersedes {
            let row =
                sqlx::query("SELECT participant_id, status, version FROM timesheets WHERE id = ?")
                    .bind(superseded)
                    .fetch_optional(&mut *tx)
                    .await?;
            let Some(row) = row else {
                return Err(StoreError::not_found("timesheet", superseded));
            };
            let owner: Uuid = row.try_get("participant_id")?;
            let status: String = row.try_get("status")?;
            let version: i32 = row.try_get("version")?;
            if owner != ts.participant_id {
                return Err(StoreError::invalid_state(
                    "the superseded timesheet belongs to another participant",
                ));
            }
            if status != TimesheetStatus::Accepted.as_str() {
                return Err(StoreError::invalid_state(format!(
                    "timesheet {superseded} is superseded already"
                )));
            }
            if ts.version != version + 1 {
                return Err(StoreError::invalid_input(format!(
                    "a correction of version {version} must have version {}",
                    version + 1
                )));
            }
            sqlx::query("UPDATE timesheets SET status = 'SUPERSEDED' WHERE id = ?")
                .bind(superseded)
                .execute(&mut *tx)
                .await?;
        }

        // The superseded timesheet is no longer ACCEPTED, so it does not count.
        let overlapping: Option<Uuid> = sqlx::query_scalar(
            "SELECT id FROM timesheets \
             WHERE participant_id = ? AND status = 'ACCEPTED' \
             AND period_from <= ? AND period_to >= ? \
             ORDER BY period_from LIMIT 1",
        )
        .bind(ts.participant_id)
        .bind(ts.period_to)
        .bind(ts.period_from)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(existing) = overlapping {
            tracing::debug!(timesheet_id = %ts.id, %existing, "timesheet overlaps an accepted one");
            return Err(StoreError::Overlap { existing });
        }

        sqlx::query(concat!(
            "INSERT INTO timesheets (",
            timesheet_columns!(),
            ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(ts.id)
        .bind(ts.participant_id)
        .bind(&ts.municipality_id)
        .bind(&ts.digest)
        .bind(&ts.envelope)
        .bind(ts.period_from)
        .bind(ts.period_to)
        .bind(ts.version)
        .bind(ts.supersedes)
        .bind(ts.status.as_str())
        .bind(&ts.assessment)
        .bind(instant_text(ts.received_at)?)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            on_violation(e, |violation| match violation {
                Violation::Unique("timesheets.id") => {
                    Some(StoreError::conflict("the timesheet id is taken"))
                }
                Violation::Unique("timesheets.digest") => Some(StoreError::conflict(
                    "a timesheet with this digest is stored already",
                )),
                Violation::ForeignKey => {
                    Some(StoreError::not_found("municipality", &ts.municipality_id))
                }
                _ => None,
            })
        })?;

        for entry in &new.entries {
            sqlx::query(concat!(
                "INSERT INTO day_entries (",
                day_entry_columns!(),
                ") VALUES (?, ?, ?, ?, ?, ?, ?)"
            ))
            .bind(entry.timesheet_id)
            .bind(entry.participant_id)
            .bind(entry.date)
            .bind(entry.seq)
            .bind(&entry.kind)
            .bind(decimal_text(entry.hours))
            .bind(&entry.note)
            .execute(&mut *tx)
            .await?;
        }

        insert_events(&mut tx, &new.events).await?;
        insert_audit(&mut tx, &new.audit).await?;
        tx.commit().await?;
        Ok(AcceptOutcome::Accepted(ts.clone()))
    }

    async fn get_timesheet(&self, id: Uuid) -> Result<Timesheet, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            timesheet_columns!(),
            " FROM timesheets WHERE id = ?"
        ))
        .bind(id)
        .fetch_optional(&self.reader)
        .await?;
        match row {
            Some(row) => rows::timesheet(&row),
            None => Err(StoreError::not_found("timesheet", id)),
        }
    }

    async fn find_timesheet_by_digest(
        &self,
        digest: &str,
    ) -> Result<Option<Timesheet>, StoreError> {
        let mut conn = self.reader.acquire().await?;
        select_timesheet_by_digest(&mut conn, digest).await
    }

    async fn list_current_timesheets(
        &self,
        participant_id: Uuid,
    ) -> Result<Vec<Timesheet>, StoreError> {
        let found = sqlx::query(concat!(
            "SELECT ",
            timesheet_columns!(),
            " FROM timesheets WHERE participant_id = ? AND status = 'ACCEPTED' \
             ORDER BY period_from"
        ))
        .bind(participant_id)
        .fetch_all(&self.reader)
        .await?;
        rows::all(found, rows::timesheet)
    }

    async fn list_day_entries(&self, timesheet_id: Uuid) -> Result<Vec<DayEntry>, StoreError> {
        let found = sqlx::query(concat!(
            "SELECT ",
            day_entry_columns!(),
            " FROM day_entries WHERE timesheet_id = ? ORDER BY date, seq"
        ))
        .bind(timesheet_id)
        .fetch_all(&self.reader)
        .await?;
        rows::all(found, rows::day_entry)
    }

    async fn record_decision(
        &self,
        decision: &SanctionDecision,
        events: &[NewOutboxEvent],
        audit: &NewAuditEntry,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(concat!(
            "INSERT INTO sanction_decisions (",
            decision_columns!(),
            ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(decision.id)
        .bind(decision.participant_id)
        .bind(decision.date)
        .bind(&decision.entry_kind)
        .bind(decision.outcome.as_str())
        .bind(instant_text(decision.decided_at)?)
        .bind(&decision.decided_by)
        .bind(&decision.reference)
        .bind(&decision.reason)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            on_violation(e, |violation| match violation {
                Violation::Unique(
                    "sanction_decisions.participant_id, sanction_decisions.date, \
                     sanction_decisions.entry_kind",
                ) => Some(StoreError::conflict(
                    "a decision on this day and entry kind exists",
                )),
                Violation::Unique("sanction_decisions.id") => {
                    Some(StoreError::conflict("the decision id is taken"))
                }
                other => participant_missing(decision.participant_id)(other),
            })
        })?;
        insert_events(&mut tx, events).await?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_decisions(
        &self,
        participant_id: Uuid,
    ) -> Result<Vec<SanctionDecision>, StoreError> {
        let mut conn = self.reader.acquire().await?;
        select_decisions(&mut conn, participant_id).await
    }

    async fn close_period(&self, new: &NewPayRun) -> Result<CloseOutcome, StoreError> {
        check_new_pay_run(new)?;
        let run = &new.run;
        // BEGIN IMMEDIATE: no other writer, in this process or another, runs
        // until commit, so the month found free below is still free at commit.
        let mut tx = self.begin_write().await?;
        if let Some(existing) =
            select_run_by_month(&mut tx, &run.municipality_id, run.month).await?
        {
            tx.rollback().await?;
            return Ok(CloseOutcome::Existing(existing));
        }

        let inserted = sqlx::query(concat!(
            "INSERT INTO pay_runs (",
            pay_run_columns!(),
            ") VALUES (?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(run.id)
        .bind(&run.municipality_id)
        .bind(run.month)
        .bind(run.state.as_str())
        .bind(instant_text(run.closed_at)?)
        .bind(run.participant_count)
        .bind(decimal_text(run.total))
        .execute(&mut *tx)
        .await;
        if let Err(e) = inserted {
            // The write lock makes this unreachable; should it happen, the
            // month is closed, and the answer is the run that closed it.
            if is_month_taken(&e) {
                tx.rollback().await?;
                let mut conn = self.reader.acquire().await?;
                if let Some(existing) =
                    select_run_by_month(&mut conn, &run.municipality_id, run.month).await?
                {
                    return Ok(CloseOutcome::Existing(existing));
                }
            }
            return Err(on_violation(e, |violation| match violation {
                Violation::Unique("pay_runs.id") => {
                    Some(StoreError::conflict("the pay run id is taken"))
                }
                Violation::ForeignKey => {
                    Some(StoreError::not_found("municipality", &run.municipality_id))
                }
                _ => None,
            }));
        }

        insert_pay_lines(&mut tx, &new.lines).await?;
        let foreign: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM pay_lines l JOIN participants p ON p.id = l.participant_id \
             WHERE l.run_id = ? AND p.municipality_id <> ? LIMIT 1",
        )
        .bind(run.id)
        .bind(&run.municipality_id)
        .fetch_optional(&mut *tx)
        .await?;
        if foreign.is_some() {
            return Err(StoreError::invalid_input(
                "a pay line names a participant of another municipality",
            ));
        }
        insert_events(&mut tx, &new.events).await?;
        insert_audit(&mut tx, &new.audit).await?;
        tx.commit().await?;
        Ok(CloseOutcome::Created(run.clone()))
    }

    async fn begin_close(&self, run: &OpenRun) -> Result<BeginClose, StoreError> {
        close::begin(self, run).await
    }

    async fn get_run(&self, id: Uuid) -> Result<PayRun, StoreError> {
        let mut conn = self.reader.acquire().await?;
        select_run(&mut conn, id)
            .await?
            .ok_or_else(|| StoreError::not_found("pay run", id))
    }

    async fn find_run(
        &self,
        municipality_id: &str,
        month: Date,
    ) -> Result<Option<PayRun>, StoreError> {
        let mut conn = self.reader.acquire().await?;
        select_run_by_month(&mut conn, municipality_id, month).await
    }

    async fn list_runs(&self, municipality_id: &str) -> Result<Vec<PayRun>, StoreError> {
        let found = sqlx::query(concat!(
            "SELECT ",
            pay_run_columns!(),
            " FROM pay_runs WHERE municipality_id = ? ORDER BY month"
        ))
        .bind(municipality_id)
        .fetch_all(&self.reader)
        .await?;
        rows::all(found, rows::pay_run)
    }

    async fn list_pay_lines(&self, run_id: Uuid) -> Result<Vec<PayLine>, StoreError> {
        let found = sqlx::query(concat!(
            "SELECT ",
            pay_line_columns!(),
            " FROM pay_lines WHERE run_id = ? ORDER BY participant_id, seq"
        ))
        .bind(run_id)
        .fetch_all(&self.reader)
        .await?;
        rows::all(found, rows::pay_line)
    }

    async fn run_totals(&self, run_id: Uuid) -> Result<Vec<LineTotal>, StoreError> {
        // Whole øre are integers, which SQLite sums exactly.
        let found = sqlx::query(
            "SELECT l.line_code, coalesce(l.attributed_month = r.month, 0) AS of_run_month, \
                    COUNT(*) AS line_count, SUM(l.amount_ore) AS amount_ore \
             FROM pay_lines l JOIN pay_runs r ON r.id = l.run_id WHERE l.run_id = ? \
             GROUP BY l.line_code, of_run_month ORDER BY l.line_code, of_run_month",
        )
        .bind(run_id)
        .fetch_all(&self.reader)
        .await?;
        rows::all(found, rows::line_total)
    }

    async fn list_pay_lines_after(
        &self,
        run_id: Uuid,
        after: Option<(Uuid, i32)>,
        limit: u32,
    ) -> Result<Vec<PayLine>, StoreError> {
        let found = match after {
            None => {
                sqlx::query(concat!(
                    "SELECT ",
                    pay_line_columns!(),
                    " FROM pay_lines WHERE run_id = ? ORDER BY participant_id, seq LIMIT ?"
                ))
                .bind(run_id)
                .bind(i64::from(limit))
                .fetch_all(&self.reader)
                .await?
            }
            Some((participant_id, seq)) => {
                sqlx::query(concat!(
                    "SELECT ",
                    pay_line_columns!(),
                    " FROM pay_lines WHERE run_id = ? AND (participant_id, seq) > (?, ?) \
                     ORDER BY participant_id, seq LIMIT ?"
                ))
                .bind(run_id)
                .bind(participant_id)
                .bind(seq)
                .bind(i64::from(limit))
                .fetch_all(&self.reader)
                .await?
            }
        };
        rows::all(found, rows::pay_line)
    }

    async fn ledger(&self, municipality_id: &str) -> Result<Vec<LedgerEntry>, StoreError> {
        // Whole øre are integers, which SQLite sums exactly.
        let found = sqlx::query(
            "SELECT l.participant_id, l.attributed_month, l.line_code, \
                    SUM(l.amount_ore) AS amount_ore \
             FROM pay_runs r JOIN pay_lines l ON l.run_id = r.id \
             WHERE r.municipality_id = ? \
             AND NOT EXISTS (SELECT 1 FROM payment_confirmations c \
                             WHERE c.run_id = l.run_id AND c.participant_id = l.participant_id \
                             AND c.outcome = 'FAILED') \
             GROUP BY l.participant_id, l.attributed_month, l.line_code \
             ORDER BY l.participant_id, l.attributed_month NULLS FIRST, l.line_code",
        )
        .bind(municipality_id)
        .fetch_all(&self.reader)
        .await?;
        rows::all(found, rows::ledger_entry)
    }

    async fn confirm_payment(
        &self,
        confirmation: &Confirmation,
        events: &[NewOutboxEvent],
        audit: &NewAuditEntry,
    ) -> Result<ConfirmOutcome, StoreError> {
        let c = confirmation;
        // BEGIN IMMEDIATE serialises confirmations: the count below is final.
        let mut tx = self.begin_write().await?;
        let Some(mut run) = select_run(&mut tx, c.run_id).await? else {
            return Err(StoreError::not_found("pay run", c.run_id));
        };
        let stored = sqlx::query(concat!(
            "SELECT ",
            confirmation_columns!(),
            " FROM payment_confirmations WHERE run_id = ? AND participant_id = ?"
        ))
        .bind(c.run_id)
        .bind(c.participant_id)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = stored {
            let stored = rows::confirmation(&row)?;
            tx.rollback().await?;
            return if stored.same_payment(c) {
                Ok(ConfirmOutcome::Duplicate(run))
            } else {
                Err(StoreError::conflict(
                    "the payslip is confirmed already, with other values",
                ))
            };
        }
        let has_lines: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM pay_lines WHERE run_id = ? AND participant_id = ? LIMIT 1",
        )
        .bind(c.run_id)
        .bind(c.participant_id)
        .fetch_optional(&mut *tx)
        .await?;
        if has_lines.is_none() {
            return Err(StoreError::invalid_state(
                "the participant has no lines in the run",
            ));
        }

        sqlx::query(concat!(
            "INSERT INTO payment_confirmations (",
            confirmation_columns!(),
            ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(c.run_id)
        .bind(c.participant_id)
        .bind(decimal_text(c.gross))
        .bind(decimal_text(c.tax_withheld))
        .bind(decimal_text(c.net_paid))
        .bind(c.outcome.as_str())
        .bind(&c.failure_reason)
        .bind(c.payment_date)
        .bind(instant_text(c.confirmed_at)?)
        .execute(&mut *tx)
        .await?;
        let confirmed: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM payment_confirmations WHERE run_id = ?")
                .bind(c.run_id)
                .fetch_one(&mut *tx)
                .await?;
        run.state = run_state(i64::from(run.participant_count), confirmed);
        sqlx::query("UPDATE pay_runs SET state = ? WHERE id = ?")
            .bind(run.state.as_str())
            .bind(run.id)
            .execute(&mut *tx)
            .await?;
        insert_events(&mut tx, events).await?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(ConfirmOutcome::Recorded(run))
    }

    async fn list_confirmations(&self, run_id: Uuid) -> Result<Vec<Confirmation>, StoreError> {
        let found = sqlx::query(concat!(
            "SELECT ",
            confirmation_columns!(),
            " FROM payment_confirmations WHERE run_id = ? ORDER BY participant_id"
        ))
        .bind(run_id)
        .fetch_all(&self.reader)
        .await?;
        rows::all(found, rows::confirmation)
    }

    async fn register_g(
        &self,
        g: &RegisteredG,
        events: &[NewOutboxEvent],
        audit: &NewAuditEntry,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO registered_g (effective_date, value, reference, registered_at) \
             VALUES (?, ?, ?, ?)",
        )
        .bind(g.effective_date)
        .bind(decimal_text(g.value))
        .bind(&g.reference)
        .bind(instant_text(g.registered_at)?)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            on_violation(e, |violation| match violation {
                Violation::Unique(_) => Some(StoreError::conflict(format!(
                    "a grunnbeløp effective {} is registered already",
                    g.effective_date
                ))),
                _ => None,
            })
        })?;
        insert_events(&mut tx, events).await?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_registered_g(&self) -> Result<Vec<RegisteredG>, StoreError> {
        let found = sqlx::query(
            "SELECT effective_date, value, reference, registered_at FROM registered_g \
             ORDER BY effective_date",
        )
        .fetch_all(&self.reader)
        .await?;
        rows::all(found, rows::registered_g)
    }

    async fn claim_outbox(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<OutboxEvent>, StoreError> {
        // Select and lease in one statement, inside BEGIN IMMEDIATE: no other
        // claimer, in this process or another, sees the rows before the lease.
        let mut tx = self.begin_write().await?;
        let found = sqlx::query(concat!(
            "UPDATE outbox_events SET available_at = ? WHERE seq IN (\
                 SELECT seq FROM outbox_events \
                 WHERE delivered_at IS NULL AND available_at <= ? \
                 ORDER BY created_at, seq LIMIT ?) \
             RETURNING seq, ",
            outbox_columns!()
        ))
        .bind(instant_text(lease_until)?)
        .bind(instant_text(now)?)
        .bind(i64::from(limit))
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let mut claimed = Vec::with_capacity(found.len());
        for row in &found {
            let seq: i64 = row.try_get("seq")?;
            claimed.push((seq, rows::outbox_event(row)?));
        }
        // RETURNING does not keep the subquery's order.
        claimed.sort_by_key(|(seq, event)| (event.created_at, *seq));
        Ok(claimed.into_iter().map(|(_, event)| event).collect())
    }

    async fn mark_delivered(&self, id: Uuid, at: OffsetDateTime) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let known: Option<i64> = sqlx::query_scalar("SELECT 1 FROM outbox_events WHERE id = ?")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        if known.is_none() {
            return Err(StoreError::not_found("outbox event", id));
        }
        sqlx::query(
            "UPDATE outbox_events SET delivered_at = ? WHERE id = ? AND delivered_at IS NULL",
        )
        .bind(instant_text(at)?)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn mark_failed(
        &self,
        id: Uuid,
        error: &str,
        retry_at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let known: Option<i64> = sqlx::query_scalar("SELECT 1 FROM outbox_events WHERE id = ?")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
        if known.is_none() {
            return Err(StoreError::not_found("outbox event", id));
        }
        sqlx::query(
            "UPDATE outbox_events SET attempts = attempts + 1, last_error = ?, available_at = ? \
             WHERE id = ? AND delivered_at IS NULL",
        )
        .bind(error)
        .bind(instant_text(retry_at)?)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn outbox_backlog(&self) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM outbox_events WHERE delivered_at IS NULL")
                .fetch_one(&self.reader)
                .await?,
        )
    }

    async fn list_audit(
        &self,
        subject_type: &str,
        subject_id: &str,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let found = sqlx::query(
            "SELECT id, at, actor, action, subject_type, subject_id, details \
             FROM audit_entries WHERE subject_type = ? AND subject_id = ? ORDER BY seq",
        )
        .bind(subject_type)
        .bind(subject_id)
        .fetch_all(&self.reader)
        .await?;
        rows::all(found, rows::audit_entry)
    }

    async fn verify_audit_chain(&self) -> Result<AuditVerification, StoreError> {
        // A deferred read transaction in WAL mode reads one snapshot throughout.
        let mut tx = self.reader.begin().await?;
        let mut walk = ChainWalk::new();
        let mut after = 0i64;
        while !walk.is_broken() {
            let page = sqlx::query(
                "SELECT seq, chain_seq, prev_hash, hash, at, actor, action, subject_type, \
                 subject_id, details FROM audit_entries WHERE seq > ? ORDER BY seq LIMIT ?",
            )
            .bind(after)
            .bind(AUDIT_PAGE)
            .fetch_all(&mut *tx)
            .await?;
            let Some(last) = page.last() else { break };
            after = last.try_get("seq")?;
            for row in &page {
                walk.visit(rows::audit_link(row)?);
            }
        }
        tx.commit().await?;
        Ok(walk.finish())
    }

    async fn participant_facts(
        &self,
        participant_id: Uuid,
    ) -> Result<ParticipantFacts, StoreError> {
        // A deferred read transaction in WAL mode reads one snapshot throughout.
        let mut tx = self.reader.begin().await?;
        let participant = select_participant(&mut tx, participant_id).await?;
        let children = select_children(&mut tx, participant_id).await?;
        let sole_carer_periods = select_sole_carer_periods(&mut tx, participant_id).await?;
        let offsets = select_benefit_offsets(&mut tx, participant_id).await?;
        let programmes = select_programmes(&mut tx, participant_id).await?;
        let timesheets = sqlx::query(
            "SELECT id, period_from, period_to, version FROM timesheets \
             WHERE participant_id = ? AND status = 'ACCEPTED' ORDER BY period_from",
        )
        .bind(participant_id)
        .fetch_all(&mut *tx)
        .await?;
        let entries = sqlx::query(
            // Superseded timesheets' entries too, left out below: a join with
            // the timesheets would risk a plan that reads every participant's.
            concat!(
                "SELECT ",
                day_entry_columns!(),
                " FROM day_entries WHERE participant_id = ? ORDER BY date, seq"
            ),
        )
        .bind(participant_id)
        .fetch_all(&mut *tx)
        .await?;
        let decisions = select_decisions(&mut tx, participant_id).await?;
        tx.commit().await?;
        let timesheets = rows::all(timesheets, rows::timesheet_period)?;
        Ok(ParticipantFacts {
            participant,
            children,
            sole_carer_periods,
            offsets,
            programmes,
            entries: current_entries(&timesheets, rows::all(entries, rows::day_entry)?),
            timesheets,
            decisions,
        })
    }
}
