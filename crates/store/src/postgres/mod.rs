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

use crate::audit_chain::{
    AuditVerification, ChainContent, ChainWalk, GENESIS, canonical_instant, canonical_json,
    link_hash, next_link, to_microsecond,
};
use crate::json_rows;
use crate::records::{
    AcceptOutcome, AuditEntry, BeginClose, BenefitOffset, Child, CloseOutcome, ConfirmOutcome,
    Confirmation, DayEntry, LedgerEntry, LineTotal, Municipality, NewAuditEntry, NewOutboxEvent,
    NewPayRun, NewTimesheet, OpenRun, OutboxEvent, Participant, ParticipantFacts, Pause, PayLine,
    PayRun, Programme, ProgrammeWithPauses, RegisteredG, SanctionDecision, SignerKey,
    SoleCarerPeriod, Timesheet, TimesheetStatus, check_new_pay_run, check_new_timesheet,
    check_offset, check_range, check_signer_key, current_entries, group_pauses, run_state,
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
/// An instant as whole microseconds since the Unix epoch (PostgreSQL keeps
/// microseconds; `extract` gives an exact numeric).
macro_rules! epoch_micros {
    ($column:literal) => {
        concat!("(extract(epoch FROM ", $column, ") * 1000000)::bigint")
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

/// Rows per `INSERT … SELECT FROM UNNEST(…)` of pay lines or outbox events:
/// one round trip per chunk instead of one per row.
const ROWS_PER_INSERT: usize = 10_000;

/// A violated constraint, by the name PostgreSQL reports.
#[derive(Clone, Copy)]
enum Violation<'a> {
    Unique(&'a str),
    ForeignKey(&'a str),
    Check(&'a str),
}

/// Turns a database error into the caller's typed error when `map` knows the
/// violated constraint; anything else stays a database error.
fn on_violation(
    err: sqlx::Error,
    map: impl FnOnce(Violation<'_>) -> Option<StoreError>,
) -> StoreError {
    let mapped = err.as_database_error().and_then(|db| {
        let constraint = db.constraint().unwrap_or("");
        let violation = match db.kind() {
            ErrorKind::UniqueViolation => Violation::Unique(constraint),
            ErrorKind::ForeignKeyViolation => Violation::ForeignKey(constraint),
            ErrorKind::CheckViolation => Violation::Check(constraint),
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

/// The PostgreSQL store.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connects to the database of a `postgres:` URL and applies the migrations
    /// (sqlx takes an advisory lock, so instances starting together apply them once).
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect(url)
            .await?;
        MIGRATOR.run(&pool).await?;
        chain_unlinked_entries(&pool).await?;
        Ok(Self { pool })
    }
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

/// Links the audit entries written before migration 0003, oldest first from
/// the genesis hash, when the chain has not begun yet; otherwise does nothing
/// (an unlinked entry after the chain began is for verification to report).
/// Instances opening the store together queue on the chain's lock, and the
/// later ones find the work done.
async fn chain_unlinked_entries(pool: &PgPool) -> Result<(), StoreError> {
    const PENDING: &str = "SELECT EXISTS (SELECT 1 FROM audit_entries WHERE chain_seq IS NULL) \
         AND NOT EXISTS (SELECT 1 FROM audit_entries WHERE chain_seq IS NOT NULL)";
    // Checked before taking the lock, so that opening a store usually writes nothing.
    let pending: bool = sqlx::query_scalar(PENDING).fetch_one(pool).await?;
    if !pending {
        return Ok(());
    }
    let mut tx = pool.begin().await?;
    lock_audit_chain(&mut tx).await?;
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
            "UPDATE audit_entries SET chain_seq = $1, prev_hash = $2, hash = $3 WHERE seq = $4",
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
        sqlx::query(
            "INSERT INTO outbox_events \
             (id, event_type, source, subject, payload, created_at, available_at) \
             SELECT id, event_type, source, subject, payload, created_at, created_at \
             FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::text[], $5::bytea[], \
                         $6::timestamptz[]) \
                  AS e (id, event_type, source, subject, payload, created_at)",
        )
        .bind(&ids)
        .bind(&types)
        .bind(&sources)
        .bind(&subjects)
        .bind(&payloads)
        .bind(&created)
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
        let quantities: Vec<Decimal> = chunk.iter().map(|l| l.quantity).collect();
        let rates: Vec<Decimal> = chunk.iter().map(|l| l.rate).collect();
        let amounts: Vec<Decimal> = chunk.iter().map(|l| l.amount).collect();
        let explanations: Vec<&str> = chunk.iter().map(|l| l.explanation.as_str()).collect();
        sqlx::query(concat!(
            "INSERT INTO pay_lines (",
            pay_line_columns!(),
            ") SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::int4[], $5::text[], \
             $6::date[], $7::numeric[], $8::numeric[], $9::numeric[], $10::text[])"
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

async fn select_run(conn: &mut PgConnection, id: Uuid) -> Result<Option<PayRun>, StoreError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        pay_run_columns!(),
        " FROM pay_runs WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(rows::pay_run).transpose()
}

async fn select_run_by_month(
    conn: &mut PgConnection,
    municipality_id: &str,
    month: Date,
) -> Result<Option<PayRun>, StoreError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        pay_run_columns!(),
        " FROM pay_runs WHERE municipality_id = $1 AND month = $2"
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
        db.kind() == ErrorKind::UniqueViolation && db.constraint() == Some("pay_runs_month_key")
    })
}

/// What a foreign-key failure means when the only reference is the participant.
fn participant_missing(id: Uuid) -> impl FnOnce(Violation<'_>) -> Option<StoreError> {
    move |violation| match violation {
        Violation::ForeignKey(_) => Some(StoreError::not_found("participant", id)),
        _ => None,
    }
}

async fn select_participant(conn: &mut PgConnection, id: Uuid) -> Result<Participant, StoreError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        participant_columns!(),
        " FROM participants WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    match row {
        Some(row) => rows::participant(&row),
        None => Err(StoreError::not_found("participant", id)),
    }
}

async fn select_programme(conn: &mut PgConnection, id: Uuid) -> Result<Programme, StoreError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        programme_columns!(),
        " FROM programmes WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    match row {
        Some(row) => rows::programme(&row),
        None => Err(StoreError::not_found("programme", id)),
    }
}

async fn select_signer_key(conn: &mut PgConnection, keyid: &str) -> Result<SignerKey, StoreError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        signer_key_columns!(),
        " FROM signer_keys WHERE keyid = $1"
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
    conn: &mut PgConnection,
    digest: &str,
) -> Result<Option<Timesheet>, StoreError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        timesheet_columns!(),
        " FROM timesheets WHERE digest = $1"
    ))
    .bind(digest)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(rows::timesheet).transpose()
}

async fn select_children(
    conn: &mut PgConnection,
    participant_id: Uuid,
) -> Result<Vec<Child>, StoreError> {
    let found = sqlx::query(
        "SELECT id, participant_id, birth_date FROM children \
         WHERE participant_id = $1 ORDER BY birth_date, id",
    )
    .bind(participant_id)
    .fetch_all(conn)
    .await?;
    rows::all(found, rows::child)
}

async fn select_sole_carer_periods(
    conn: &mut PgConnection,
    participant_id: Uuid,
) -> Result<Vec<SoleCarerPeriod>, StoreError> {
    let found = sqlx::query(
        "SELECT id, participant_id, from_date, to_date FROM sole_carer_periods \
         WHERE participant_id = $1 ORDER BY from_date, id",
    )
    .bind(participant_id)
    .fetch_all(conn)
    .await?;
    rows::all(found, rows::sole_carer_period)
}

async fn select_benefit_offsets(
    conn: &mut PgConnection,
    participant_id: Uuid,
) -> Result<Vec<BenefitOffset>, StoreError> {
    let found = sqlx::query(
        "SELECT id, participant_id, month, kind, amount FROM benefit_offsets \
         WHERE participant_id = $1 ORDER BY month, kind, id",
    )
    .bind(participant_id)
    .fetch_all(conn)
    .await?;
    rows::all(found, rows::benefit_offset)
}

async fn select_programmes(
    conn: &mut PgConnection,
    participant_id: Uuid,
) -> Result<Vec<ProgrammeWithPauses>, StoreError> {
    let programmes = sqlx::query(concat!(
        "SELECT ",
        programme_columns!(),
        " FROM programmes WHERE participant_id = $1 ORDER BY start_date, id"
    ))
    .bind(participant_id)
    .fetch_all(&mut *conn)
    .await?;
    let programmes = rows::all(programmes, rows::programme)?;
    // By the programmes' ids, not a join: a cached generic plan of a join
    // may read every participant's pauses.
    let ids: Vec<Uuid> = programmes.iter().map(|p| p.id).collect();
    let pauses = sqlx::query(
        "SELECT id, programme_id, from_date, to_date, kind, reference \
         FROM programme_pauses WHERE programme_id = ANY($1) ORDER BY from_date, id",
    )
    .bind(&ids)
    .fetch_all(conn)
    .await?;
    Ok(group_pauses(programmes, rows::all(pauses, rows::pause)?))
}

async fn select_decisions(
    conn: &mut PgConnection,
    participant_id: Uuid,
) -> Result<Vec<SanctionDecision>, StoreError> {
    let found = sqlx::query(concat!(
        "SELECT ",
        decision_columns!(),
        " FROM sanction_decisions WHERE participant_id = $1 ORDER BY date, entry_kind"
    ))
    .bind(participant_id)
    .fetch_all(conn)
    .await?;
    rows::all(found, rows::sanction_decision)
}

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

    async fn upsert_municipality(
        &self,
        municipality: &Municipality,
        audit: &NewAuditEntry,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO municipalities (id, name, policy_overrides, pay_codes) \
             VALUES ($1, $2, $3, $4) \
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
            "SELECT id, name, policy_overrides, pay_codes FROM municipalities WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
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
        .fetch_all(&self.pool)
        .await?;
        rows::all(found, rows::municipality)
    }

    async fn create_participant(
        &self,
        participant: &Participant,
        audit: &NewAuditEntry,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(concat!(
            "INSERT INTO participants (",
            participant_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7)"
        ))
        .bind(participant.id)
        .bind(&participant.municipality_id)
        .bind(&participant.nin_lookup)
        .bind(&participant.nin_sealed)
        .bind(participant.birth_date)
        .bind(&participant.display_name)
        .bind(participant.created_at)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            on_violation(e, |violation| match violation {
                Violation::Unique("participants_nin_lookup_key") => Some(StoreError::conflict(
                    "a participant with this identity number exists in the municipality",
                )),
                Violation::Unique("participants_pkey") => {
                    Some(StoreError::conflict("the participant id is taken"))
                }
                Violation::ForeignKey("participants_municipality_fkey") => Some(
                    StoreError::not_found("municipality", &participant.municipality_id),
                ),
                _ => None,
            })
        })?;
        insert_audit(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn get_participant(&self, id: Uuid) -> Result<Participant, StoreError> {
        let mut conn = self.pool.acquire().await?;
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
            " FROM participants WHERE municipality_id = $1 AND nin_lookup = $2"
        ))
        .bind(municipality_id)
        .bind(nin_lookup)
        .fetch_optional(&self.pool)
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
            " FROM participants WHERE municipality_id = $1 ORDER BY created_at, id"
        ))
        .bind(municipality_id)
        .fetch_all(&self.pool)
        .await?;
        rows::all(found, rows::participant)
    }

    async fn add_child(&self, child: &Child, audit: &NewAuditEntry) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("INSERT INTO children (id, participant_id, birth_date) VALUES ($1, $2, $3)")
            .bind(child.id)
            .bind(child.participant_id)
            .bind(child.birth_date)
            .execute(&mut *tx)
            .await
            .map_err(|e| {
                on_violation(e, |violation| match violation {
                    Violation::Unique("children_pkey") => {
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
        let mut conn = self.pool.acquire().await?;
        select_children(&mut conn, participant_id).await
    }

    async fn add_sole_carer_period(
        &self,
        period: &SoleCarerPeriod,
        audit: &NewAuditEntry,
    ) -> Result<(), StoreError> {
        check_range("sole-carer period", period.from, period.to)?;
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO sole_carer_periods (id, participant_id, from_date, to_date) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(period.id)
        .bind(period.participant_id)
        .bind(period.from)
        .bind(period.to)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            on_violation(e, |violation| match violation {
                Violation::Unique("sole_carer_periods_pkey") => {
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
        let mut conn = self.pool.acquire().await?;
        select_sole_carer_periods(&mut conn, participant_id).await
    }

    async fn add_benefit_offset(
        &self,
        offset: &BenefitOffset,
        audit: &NewAuditEntry,
    ) -> Result<(), StoreError> {
        check_offset(offset)?;
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO benefit_offsets (id, participant_id, month, kind, amount) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(offset.id)
        .bind(offset.participant_id)
        .bind(offset.month)
        .bind(&offset.kind)
        .bind(offset.amount)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            on_violation(e, |violation| match violation {
                Violation::Unique("benefit_offsets_pkey") => {
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
        let mut conn = self.pool.acquire().await?;
        select_benefit_offsets(&mut conn, participant_id).await
    }

    async fn create_programme(
        &self,
        programme: &Programme,
        audit: &NewAuditEntry,
    ) -> Result<(), StoreError> {
        check_range("programme", programme.start, programme.end)?;
        let mut tx = self.pool.begin().await?;
        sqlx::query(concat!(
            "INSERT INTO programmes (",
            programme_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6)"
        ))
        .bind(programme.id)
        .bind(programme.participant_id)
        .bind(programme.start)
        .bind(programme.end)
        .bind(&programme.decision_reference)
        .bind(programme.decided_at)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            on_violation(e, |violation| match violation {
                Violation::Unique("programmes_pkey") => {
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
        let mut conn = self.pool.acquire().await?;
        select_programme(&mut conn, id).await
    }

    async fn set_programme_end(
        &self,
        programme_id: Uuid,
        end: Option<Date>,
        audit: &NewAuditEntry,
    ) -> Result<Programme, StoreError> {
        let mut tx = self.pool.begin().await?;
        // Lock the programme so that a concurrent change waits for this one.
        sqlx::query("SELECT 1 FROM programmes WHERE id = $1 FOR UPDATE")
            .bind(programme_id)
            .execute(&mut *tx)
            .await?;
        let mut programme = select_programme(&mut tx, programme_id).await?;
        check_range("programme", programme.start, end)?;
        sqlx::query("UPDATE programmes SET end_date = $1 WHERE id = $2")
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
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO programme_pauses (id, programme_id, from_date, to_date, kind, reference) \
             VALUES ($1, $2, $3, $4, $5, $6)",
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
                Violation::Unique("programme_pauses_pkey") => {
                    Some(StoreError::conflict("the pause id is taken"))
                }
                Violation::ForeignKey("programme_pauses_programme_fkey") => {
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
        let mut tx = self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await?;
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
        let mut tx = self.pool.begin().await?;
        sqlx::query(concat!(
            "INSERT INTO signer_keys (",
            signer_key_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        ))
        .bind(&key.keyid)
        .bind(&key.person_id)
        .bind(key.participant_id)
        .bind(key.role.as_str())
        .bind(&key.public_key)
        .bind(key.valid_from)
        .bind(key.valid_until)
        .bind(key.revoked_at)
        .bind(&key.revocation_reason)
        .bind(key.registered_at)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            on_violation(e, |violation| match violation {
                Violation::Unique("signer_keys_pkey") => Some(StoreError::conflict(format!(
                    "signer key {} is registered already",
                    key.keyid
                ))),
                Violation::ForeignKey("signer_keys_participant_fkey") => key
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
        let mut conn = self.pool.acquire().await?;
        select_signer_key(&mut conn, keyid).await
    }

    /// One query for an envelope's keys (the submission path's round trips count).
    async fn find_signer_keys(&self, keyids: &[&str]) -> Result<Vec<SignerKey>, StoreError> {
        let found = sqlx::query(concat!(
            "SELECT ",
            signer_key_columns!(),
            " FROM signer_keys WHERE keyid = ANY($1)"
        ))
        .bind(keyids)
        .fetch_all(&self.pool)
        .await?;
        let mut found = rows::all(found, rows::signer_key)?;
        found.sort_by_key(|key| keyids.iter().position(|id| *id == key.keyid));
        Ok(found)
    }

    async fn list_signer_keys(&self) -> Result<Vec<SignerKey>, StoreError> {
        let found = sqlx::query(concat!(
            "SELECT ",
            signer_key_columns!(),
            " FROM signer_keys ORDER BY registered_at, keyid"
        ))
        .fetch_all(&self.pool)
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
        let mut tx = self.pool.begin().await?;
        // Lock the key so that a concurrent revocation waits and then sees this one.
        sqlx::query("SELECT 1 FROM signer_keys WHERE keyid = $1 FOR UPDATE")
            .bind(keyid)
            .execute(&mut *tx)
            .await?;
        let mut key = select_signer_key(&mut tx, keyid).await?;
        if key.revoked_at.is_some() {
            return Err(StoreError::invalid_state(format!(
                "signer key {keyid} is revoked already"
            )));
        }
        sqlx::query(
            "UPDATE signer_keys SET revoked_at = $1, revocation_reason = $2 \
             WHERE keyid = $3 AND revoked_at IS NULL",
        )
        .bind(revoked_at)
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
        let mut tx = self.pool.begin().await?;

        // Lock the participant: concurrent accepts for them queue here, and
        // each one's checks below see what the ones before it committed. FOR
        // NO KEY UPDATE conflicts with itself but not with the key-share locks
        // a close in progress holds on the participants it wrote lines for,
        // so submissions do not wait for a long close.
        let municipality: Option<String> = sqlx::query_scalar(
            "SELECT municipality_id FROM participants WHERE id = $1 FOR NO KEY UPDATE",
        )
        .bind(ts.participant_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(municipality) = municipality else {
            return Err(StoreError::not_found("participant", ts.participant_id));
        };

        if let Some(stored) = select_timesheet_by_digest(&mut tx, &ts.digest).await? {
            tx.rollback().await?;
            return Ok(AcceptOutcome::Duplicate(stored));
        }

        if municipality != ts.municipality_id {
            return Err(StoreError::invalid_input(
                "the timesheet's municipality is not the participant's",
            ));
        }

        if let Some(superseded) = ts.supersedes {
            let row = sqlx::query(
                "SELECT participant_id, status, version FROM timesheets WHERE id = $1 FOR UPDATE",
            )
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
            sqlx::query("UPDATE timesheets SET status = 'SUPERSEDED' WHERE id = $1")
                .bind(superseded)
                .execute(&mut *tx)
                .await?;
        }

        // The timesheet and its entries in one statement (check_new_timesheet
        // refused two entries with one position), inserted only if no
        // accepted timesheet overlaps its period: the participant's lock
        // above makes the check and the insert one step. The superseded
        // timesheet is no longer ACCEPTED, so it does not count.
        let dates: Vec<Date> = new.entries.iter().map(|e| e.date).collect();
        let seqs: Vec<i32> = new.entries.iter().map(|e| e.seq).collect();
        let kinds: Vec<&str> = new.entries.iter().map(|e| e.kind.as_str()).collect();
        let hours: Vec<Decimal> = new.entries.iter().map(|e| e.hours).collect();
        let notes: Vec<Option<&str>> = new.entries.iter().map(|e| e.note.as_deref()).collect();
        let inserted: Option<Uuid> = sqlx::query_scalar(concat!(
            "WITH timesheet AS (INSERT INTO timesheets (",
            timesheet_columns!(),
            ") SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12 \
                WHERE NOT EXISTS (SELECT 1 FROM timesheets \
                                  WHERE participant_id = $2 AND status = 'ACCEPTED' \
                                  AND period_from <= $7 AND period_to >= $6) \
                RETURNING id), \
             entries AS (INSERT INTO day_entries (",
            day_entry_columns!(),
            ") SELECT timesheet.id, $2, e.date, e.seq, e.kind, e.hours, e.note \
                FROM timesheet, UNNEST($13::date[], $14::int[], $15::text[], $16::numeric[], \
                                       $17::text[]) AS e (date, seq, kind, hours, note)) \
             SELECT id FROM timesheet"
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
        .bind(ts.received_at)
        .bind(&dates)
        .bind(&seqs)
        .bind(&kinds)
        .bind(&hours)
        .bind(&notes)
        .fetch_optional(&mut *tx)
        .await
        .map_err(|e| {
            on_violation(e, |violation| match violation {
                Violation::Unique("timesheets_pkey") => {
                    Some(StoreError::conflict("the timesheet id is taken"))
                }
                Violation::Unique("timesheets_digest_key") => Some(StoreError::conflict(
                    "a timesheet with this digest is stored already",
                )),
                Violation::ForeignKey("timesheets_municipality_fkey") => {
                    Some(StoreError::not_found("municipality", &ts.municipality_id))
                }
                _ => None,
            })
        })?;
        if inserted.is_none() {
            let existing: Uuid = sqlx::query_scalar(
                "SELECT id FROM timesheets \
                 WHERE participant_id = $1 AND status = 'ACCEPTED' \
                 AND period_from <= $2 AND period_to >= $3 \
                 ORDER BY period_from LIMIT 1",
            )
            .bind(ts.participant_id)
            .bind(ts.period_to)
            .bind(ts.period_from)
            .fetch_one(&mut *tx)
            .await?;
            tracing::debug!(timesheet_id = %ts.id, %existing, "timesheet overlaps an accepted one");
            return Err(StoreError::Overlap { existing });
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
            " FROM timesheets WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
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
        let mut conn = self.pool.acquire().await?;
        select_timesheet_by_digest(&mut conn, digest).await
    }

    async fn list_current_timesheets(
        &self,
        participant_id: Uuid,
    ) -> Result<Vec<Timesheet>, StoreError> {
        let found = sqlx::query(concat!(
            "SELECT ",
            timesheet_columns!(),
            " FROM timesheets WHERE participant_id = $1 AND status = 'ACCEPTED' \
             ORDER BY period_from"
        ))
        .bind(participant_id)
        .fetch_all(&self.pool)
        .await?;
        rows::all(found, rows::timesheet)
    }

    async fn list_day_entries(&self, timesheet_id: Uuid) -> Result<Vec<DayEntry>, StoreError> {
        let found = sqlx::query(concat!(
            "SELECT ",
            day_entry_columns!(),
            " FROM day_entries WHERE timesheet_id = $1 ORDER BY date, seq"
        ))
        .bind(timesheet_id)
        .fetch_all(&self.pool)
        .await?;
        rows::all(found, rows::day_entry)
    }

    async fn record_decision(
        &self,
        decision: &SanctionDecision,
        events: &[NewOutboxEvent],
        audit: &NewAuditEntry,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(concat!(
            "INSERT INTO sanction_decisions (",
            decision_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        ))
        .bind(decision.id)
        .bind(decision.participant_id)
        .bind(decision.date)
        .bind(&decision.entry_kind)
        .bind(decision.outcome.as_str())
        .bind(decision.decided_at)
        .bind(&decision.decided_by)
        .bind(&decision.reference)
        .bind(&decision.reason)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            on_violation(e, |violation| match violation {
                Violation::Unique("sanction_decisions_day_key") => Some(StoreError::conflict(
                    "a decision on this day and entry kind exists",
                )),
                Violation::Unique("sanction_decisions_pkey") => {
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
        let mut conn = self.pool.acquire().await?;
        select_decisions(&mut conn, participant_id).await
    }

    async fn close_period(&self, new: &NewPayRun) -> Result<CloseOutcome, StoreError> {
        check_new_pay_run(new)?;
        let run = &new.run;
        let mut tx = self.pool.begin().await?;
        // Closes of one municipality queue on this lock (the one a close
        // session holds), in every instance, until the holder commits or
        // rolls back; the next one then finds the run below (READ COMMITTED:
        // a fresh snapshot per statement).
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
            .bind(close::close_lock_key(&run.municipality_id))
            .execute(&mut *tx)
            .await?;
        if let Some(existing) =
            select_run_by_month(&mut tx, &run.municipality_id, run.month).await?
        {
            tx.rollback().await?;
            return Ok(CloseOutcome::Existing(existing));
        }

        let inserted = sqlx::query(concat!(
            "INSERT INTO pay_runs (",
            pay_run_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7)"
        ))
        .bind(run.id)
        .bind(&run.municipality_id)
        .bind(run.month)
        .bind(run.state.as_str())
        .bind(run.closed_at)
        .bind(run.participant_count)
        .bind(run.total)
        .execute(&mut *tx)
        .await;
        if let Err(e) = inserted {
            // The unique key is the last line, should a writer ever bypass
            // the lock: the month is closed, and the answer is that run.
            if is_month_taken(&e) {
                tx.rollback().await?;
                let mut conn = self.pool.acquire().await?;
                if let Some(existing) =
                    select_run_by_month(&mut conn, &run.municipality_id, run.month).await?
                {
                    return Ok(CloseOutcome::Existing(existing));
                }
            }
            return Err(on_violation(e, |violation| match violation {
                Violation::Unique("pay_runs_pkey") => {
                    Some(StoreError::conflict("the pay run id is taken"))
                }
                Violation::ForeignKey("pay_runs_municipality_fkey") => {
                    Some(StoreError::not_found("municipality", &run.municipality_id))
                }
                _ => None,
            }));
        }

        insert_pay_lines(&mut tx, &new.lines).await?;
        let foreign: Option<i32> = sqlx::query_scalar(
            "SELECT 1 FROM pay_lines l JOIN participants p ON p.id = l.participant_id \
             WHERE l.run_id = $1 AND p.municipality_id <> $2 LIMIT 1",
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
        let mut conn = self.pool.acquire().await?;
        select_run(&mut conn, id)
            .await?
            .ok_or_else(|| StoreError::not_found("pay run", id))
    }

    async fn find_run(
        &self,
        municipality_id: &str,
        month: Date,
    ) -> Result<Option<PayRun>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        select_run_by_month(&mut conn, municipality_id, month).await
    }

    async fn list_runs(&self, municipality_id: &str) -> Result<Vec<PayRun>, StoreError> {
        let found = sqlx::query(concat!(
            "SELECT ",
            pay_run_columns!(),
            " FROM pay_runs WHERE municipality_id = $1 ORDER BY month"
        ))
        .bind(municipality_id)
        .fetch_all(&self.pool)
        .await?;
        rows::all(found, rows::pay_run)
    }

    async fn list_pay_lines(&self, run_id: Uuid) -> Result<Vec<PayLine>, StoreError> {
        let found = sqlx::query(concat!(
            "SELECT ",
            pay_line_columns!(),
            " FROM pay_lines WHERE run_id = $1 ORDER BY participant_id, seq"
        ))
        .bind(run_id)
        .fetch_all(&self.pool)
        .await?;
        rows::all(found, rows::pay_line)
    }

    async fn run_totals(&self, run_id: Uuid) -> Result<Vec<LineTotal>, StoreError> {
        // round(…, 2): the sum to the øre, with the same scale as on SQLite.
        let found = sqlx::query(
            "SELECT l.line_code, coalesce(l.attributed_month = r.month, false) AS of_run_month, \
                    COUNT(*) AS line_count, round(SUM(l.amount), 2) AS amount \
             FROM pay_lines l JOIN pay_runs r ON r.id = l.run_id WHERE l.run_id = $1 \
             GROUP BY l.line_code, of_run_month ORDER BY l.line_code, of_run_month",
        )
        .bind(run_id)
        .fetch_all(&self.pool)
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
                    " FROM pay_lines WHERE run_id = $1 ORDER BY participant_id, seq LIMIT $2"
                ))
                .bind(run_id)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?
            }
            Some((participant_id, seq)) => {
                sqlx::query(concat!(
                    "SELECT ",
                    pay_line_columns!(),
                    " FROM pay_lines WHERE run_id = $1 AND (participant_id, seq) > ($2, $3) \
                     ORDER BY participant_id, seq LIMIT $4"
                ))
                .bind(run_id)
                .bind(participant_id)
                .bind(seq)
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?
            }
        };
        rows::all(found, rows::pay_line)
    }

    async fn ledger(&self, municipality_id: &str) -> Result<Vec<LedgerEntry>, StoreError> {
        // round(…, 2): the sum to the øre, with the same scale as on SQLite.
        let found = sqlx::query(
            "SELECT l.participant_id, l.attributed_month, l.line_code, \
                    round(SUM(l.amount), 2) AS amount \
             FROM pay_runs r JOIN pay_lines l ON l.run_id = r.id \
             WHERE r.municipality_id = $1 \
             AND NOT EXISTS (SELECT 1 FROM payment_confirmations c \
                             WHERE c.run_id = l.run_id AND c.participant_id = l.participant_id \
                             AND c.outcome = 'FAILED') \
             GROUP BY l.participant_id, l.attributed_month, l.line_code \
             ORDER BY l.participant_id, l.attributed_month NULLS FIRST, l.line_code",
        )
        .bind(municipality_id)
        .fetch_all(&self.pool)
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
        let mut tx = self.pool.begin().await?;
        // Lock the run: confirmations of one run queue here, so a retry finds
        // the confirmation before it, and the count below is final.
        let row = sqlx::query(concat!(
            "SELECT ",
            pay_run_columns!(),
            " FROM pay_runs WHERE id = $1 FOR UPDATE"
        ))
        .bind(c.run_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Err(StoreError::not_found("pay run", c.run_id));
        };
        let mut run = rows::pay_run(&row)?;
        let stored = sqlx::query(concat!(
            "SELECT ",
            confirmation_columns!(),
            " FROM payment_confirmations WHERE run_id = $1 AND participant_id = $2"
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
        let has_lines: Option<i32> = sqlx::query_scalar(
            "SELECT 1 FROM pay_lines WHERE run_id = $1 AND participant_id = $2 LIMIT 1",
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
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        ))
        .bind(c.run_id)
        .bind(c.participant_id)
        .bind(c.gross)
        .bind(c.tax_withheld)
        .bind(c.net_paid)
        .bind(c.outcome.as_str())
        .bind(&c.failure_reason)
        .bind(c.payment_date)
        .bind(c.confirmed_at)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            on_violation(e, |violation| match violation {
                Violation::Unique("payment_confirmations_pkey") => {
                    Some(StoreError::conflict("the payslip is confirmed already"))
                }
                _ => None,
            })
        })?;
        let confirmed: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM payment_confirmations WHERE run_id = $1")
                .bind(c.run_id)
                .fetch_one(&mut *tx)
                .await?;
        run.state = run_state(i64::from(run.participant_count), confirmed);
        sqlx::query("UPDATE pay_runs SET state = $1 WHERE id = $2")
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
            " FROM payment_confirmations WHERE run_id = $1 ORDER BY participant_id"
        ))
        .bind(run_id)
        .fetch_all(&self.pool)
        .await?;
        rows::all(found, rows::confirmation)
    }

    async fn register_g(
        &self,
        g: &RegisteredG,
        events: &[NewOutboxEvent],
        audit: &NewAuditEntry,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO registered_g (effective_date, value, reference, registered_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(g.effective_date)
        .bind(g.value)
        .bind(&g.reference)
        .bind(g.registered_at)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            on_violation(e, |violation| match violation {
                Violation::Unique("registered_g_pkey") => Some(StoreError::conflict(format!(
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
        .fetch_all(&self.pool)
        .await?;
        rows::all(found, rows::registered_g)
    }

    async fn claim_outbox(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<OutboxEvent>, StoreError> {
        // FOR UPDATE SKIP LOCKED: a concurrent claimer passes over the rows
        // this statement holds; once it commits, their new available_at keeps
        // them out of every claim until the lease ends (a claimer that reads
        // a row just leased re-checks it against the committed version).
        let found = sqlx::query(concat!(
            "WITH claimable AS (\
                 SELECT seq FROM outbox_events \
                 WHERE delivered_at IS NULL AND available_at <= $1 \
                 ORDER BY created_at, seq LIMIT $2 \
                 FOR UPDATE SKIP LOCKED) \
             UPDATE outbox_events o SET available_at = $3 FROM claimable \
             WHERE o.seq = claimable.seq \
             RETURNING o.seq, ",
            outbox_columns!()
        ))
        .bind(now)
        .bind(i64::from(limit))
        .bind(lease_until)
        .fetch_all(&self.pool)
        .await?;
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
        // One statement: COALESCE keeps the first delivery's instant.
        let known: Option<i32> = sqlx::query_scalar(
            "UPDATE outbox_events SET delivered_at = COALESCE(delivered_at, $1) \
             WHERE id = $2 RETURNING 1",
        )
        .bind(at)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        known
            .map(|_| ())
            .ok_or_else(|| StoreError::not_found("outbox event", id))
    }

    async fn mark_failed(
        &self,
        id: Uuid,
        error: &str,
        retry_at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let delivered: Option<Option<OffsetDateTime>> =
            sqlx::query_scalar("SELECT delivered_at FROM outbox_events WHERE id = $1 FOR UPDATE")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        match delivered {
            None => return Err(StoreError::not_found("outbox event", id)),
            Some(Some(_)) => {}
            Some(None) => {
                sqlx::query(
                    "UPDATE outbox_events \
                     SET attempts = attempts + 1, last_error = $1, available_at = $2 \
                     WHERE id = $3",
                )
                .bind(error)
                .bind(retry_at)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn outbox_backlog(&self) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM outbox_events WHERE delivered_at IS NULL")
                .fetch_one(&self.pool)
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
             FROM audit_entries WHERE subject_type = $1 AND subject_id = $2 ORDER BY seq",
        )
        .bind(subject_type)
        .bind(subject_id)
        .fetch_all(&self.pool)
        .await?;
        rows::all(found, rows::audit_entry)
    }

    async fn verify_audit_chain(&self) -> Result<AuditVerification, StoreError> {
        // One snapshot for every page: entries appended meanwhile are not seen.
        let mut tx = self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await?;
        let mut walk = ChainWalk::new();
        let mut after = 0i64;
        while !walk.is_broken() {
            let page = sqlx::query(
                "SELECT seq, chain_seq, prev_hash, hash, at, actor, action, subject_type, \
                 subject_id, details FROM audit_entries WHERE seq > $1 ORDER BY seq LIMIT $2",
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
        // One statement, so one snapshot, and one round trip: the facts of
        // every table as one JSON array each (see `json_rows`). Every
        // subquery goes by the participant's own index.
        let row = sqlx::query(concat!(
            "SELECT ",
            participant_columns!(),
            ", (SELECT json_agg(json_build_array(id, birth_date) ORDER BY birth_date, id) \
                FROM children WHERE participant_id = $1)::text AS children, \
              (SELECT json_agg(json_build_array(id, from_date, to_date) ORDER BY from_date, id) \
                FROM sole_carer_periods WHERE participant_id = $1)::text AS sole_carer_periods, \
              (SELECT json_agg(json_build_array(id, month, kind, amount::text) \
                               ORDER BY month, kind, id) \
                FROM benefit_offsets WHERE participant_id = $1)::text AS offsets, \
              (SELECT json_agg(json_build_array(g.id, g.start_date, g.end_date, \
                                 g.decision_reference, ",
            epoch_micros!("g.decided_at"),
            ", \
                                 (SELECT json_agg(json_build_array(x.id, x.from_date, x.to_date, \
                                                                   x.kind, x.reference) \
                                                  ORDER BY x.from_date, x.id) \
                                  FROM programme_pauses x WHERE x.programme_id = g.id)) \
                               ORDER BY g.start_date, g.id) \
                FROM programmes g WHERE g.participant_id = $1)::text AS programmes, \
              (SELECT json_agg(json_build_array(id, period_from, period_to, version) \
                               ORDER BY period_from) \
                FROM timesheets WHERE participant_id = $1 AND status = 'ACCEPTED')::text \
                AS timesheets, \
              (SELECT json_agg(json_build_array(timesheet_id, date, seq, kind, hours::text, note) \
                               ORDER BY date, seq) \
                FROM day_entries WHERE participant_id = $1)::text AS entries, \
              (SELECT json_agg(json_build_array(id, date, entry_kind, outcome, ",
            epoch_micros!("decided_at"),
            ", \
                                                decided_by, reference, reason) \
                               ORDER BY date, entry_kind) \
                FROM sanction_decisions WHERE participant_id = $1)::text AS decisions \
             FROM participants WHERE id = $1"
        ))
        .bind(participant_id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Err(StoreError::not_found("participant", participant_id));
        };
        let text = |column: &str| -> Result<Option<String>, StoreError> {
            Ok(row.try_get::<Option<String>, _>(column)?)
        };
        let id = participant_id;
        let timesheets = json_rows::timesheet_periods(text("timesheets")?.as_deref())?;
        // The entries of superseded timesheets came too (by the participant's
        // index alone); they are left out here.
        let entries = json_rows::day_entries(id, text("entries")?.as_deref())?;
        Ok(ParticipantFacts {
            participant: rows::participant(&row)?,
            children: json_rows::children(id, text("children")?.as_deref())?,
            sole_carer_periods: json_rows::sole_carer_periods(
                id,
                text("sole_carer_periods")?.as_deref(),
            )?,
            offsets: json_rows::benefit_offsets(id, text("offsets")?.as_deref())?,
            programmes: json_rows::programmes(id, text("programmes")?.as_deref())?,
            entries: current_entries(&timesheets, entries),
            timesheets,
            decisions: json_rows::sanction_decisions(id, text("decisions")?.as_deref())?,
        })
    }
}
