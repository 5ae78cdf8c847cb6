//! What the statements shared with PostgreSQL (`src/shared/`) name, as SQLite
//! has it: the store and its connection, how values are bound (instants and
//! amounts as text), the names SQLite reports for constraints (UNIQUE by its
//! columns, FOREIGN KEY without a name), and locks, which it needs none of:
//! every write transaction holds the database's write lock (`BEGIN IMMEDIATE`).

use super::*;
use sqlx::error::DatabaseError;

pub(super) use super::rows::{
    decimal_text as decimal, instant_text as instant, instant_text_opt as instant_opt,
};

/// The pool a store opens with (its writer).
pub(super) type Pool = SqlitePool;

/// The constraint a database error violated, as SQLite reports it: UNIQUE by
/// its columns (`table.a, table.b`), CHECK by its name, FOREIGN KEY without
/// a name.
pub(super) fn violation_of(db: &dyn DatabaseError) -> Option<Violation<'_>> {
    let message = db.message();
    Some(match db.kind() {
        ErrorKind::UniqueViolation => Violation::Unique(
            message
                .strip_prefix("UNIQUE constraint failed: ")
                .unwrap_or(message),
        ),
        ErrorKind::ForeignKeyViolation => Violation::ForeignKey(""),
        ErrorKind::CheckViolation => Violation::Check(
            message
                .strip_prefix("CHECK constraint failed: ")
                .unwrap_or(message),
        ),
        _ => return None,
    })
}

/// A write transaction holding SQLite's write lock from its first statement.
pub(super) async fn begin_chain_write(
    pool: &Pool,
) -> Result<Transaction<'static, Sqlite>, StoreError> {
    Ok(pool.begin_with("BEGIN IMMEDIATE").await?)
}

/// The store the shared statements are implemented for.
pub(super) type Store = SqliteStore;
/// A connection, inside or outside a transaction.
pub(super) type Conn = SqliteConnection;
/// A write transaction.
pub(super) type WriteTx = Transaction<'static, Sqlite>;

impl SqliteStore {
    /// Where a write of one statement runs without a transaction: the one writer connection, so it queues with every write transaction.
    pub(super) fn write_pool(&self) -> &SqlitePool {
        &self.writer
    }

    /// The pool reads outside a write transaction use.
    pub(super) fn read_pool(&self) -> &SqlitePool {
        &self.reader
    }

    /// A read transaction: deferred, in WAL mode it reads one snapshot throughout.
    pub(super) async fn begin_snapshot(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        Ok(self.reader.begin().await?)
    }
}

/// Nothing to lock: the write transaction holds the database's write lock.
pub(super) async fn lock_signer_key(_conn: &mut Conn, _keyid: &str) -> Result<(), StoreError> {
    Ok(())
}

/// Nothing to lock: the write transaction holds the database's write lock.
pub(super) async fn lock_participant(_conn: &mut Conn, _id: Uuid) -> Result<(), StoreError> {
    Ok(())
}

/// The registered keys among `keyids`, in their order.
pub(super) async fn select_signer_keys(
    store: &Store,
    keyids: &[&str],
) -> Result<Vec<SignerKey>, StoreError> {
    let mut found = Vec::with_capacity(keyids.len());
    for keyid in keyids {
        let row = sqlx::query(concat!(
            "SELECT ",
            signer_key_columns!(),
            " FROM signer_keys WHERE keyid = $1"
        ))
        .bind(keyid)
        .fetch_optional(store.read_pool())
        .await?;
        if let Some(row) = row {
            found.push(rows::signer_key(&row)?);
        }
    }
    Ok(found)
}

/// Everything the rules engine needs about a participant, read in one
/// deferred transaction (one snapshot in WAL mode).
pub(super) async fn read_participant_facts(
    store: &Store,
    participant_id: Uuid,
) -> Result<ParticipantFacts, StoreError> {
    // A deferred read transaction in WAL mode reads one snapshot throughout.
    let mut tx = store.read_pool().begin().await?;
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

/// Inserts a timesheet unless an accepted timesheet of the participant
/// overlaps its period (false if one does), then its entries.
pub(super) async fn insert_timesheet_unless_overlapping(
    conn: &mut Conn,
    new: &NewTimesheet,
) -> Result<bool, sqlx::Error> {
    let ts = &new.timesheet;
    let received_at = instant(ts.received_at).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    let inserted: Option<Uuid> = sqlx::query_scalar(concat!(
        "INSERT INTO timesheets (",
        timesheet_columns!(),
        ") SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12 \
            WHERE NOT EXISTS (SELECT 1 FROM timesheets \
                              WHERE participant_id = $2 AND status = 'ACCEPTED' \
                              AND period_from <= $7 AND period_to >= $6) \
            RETURNING id"
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
    .bind(received_at)
    .fetch_optional(&mut *conn)
    .await?;
    if inserted.is_none() {
        return Ok(false);
    }
    for entry in &new.entries {
        sqlx::query(concat!(
            "INSERT INTO day_entries (",
            day_entry_columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7)"
        ))
        .bind(entry.timesheet_id)
        .bind(entry.participant_id)
        .bind(entry.date)
        .bind(entry.seq)
        .bind(entry.kind.as_str())
        .bind(decimal(entry.hours))
        .bind(&entry.note)
        .execute(&mut *conn)
        .await?;
    }
    Ok(true)
}

/// Nothing to lock: the write transaction holds the database's write lock,
/// so the month found free is still free at commit.
pub(super) async fn lock_closes(
    _conn: &mut Conn,
    _municipality_id: &str,
) -> Result<(), StoreError> {
    Ok(())
}

/// The pauses of a participant's programmes, by start.
pub(super) async fn select_pauses(
    conn: &mut Conn,
    participant_id: Uuid,
    _programmes: &[Programme],
) -> Result<Vec<Pause>, StoreError> {
    let pauses = sqlx::query(
        "SELECT p.id, p.programme_id, p.from_date, p.to_date, p.kind, p.reference \
         FROM programme_pauses p JOIN programmes g ON g.id = p.programme_id \
         WHERE g.participant_id = $1 ORDER BY p.from_date, p.id",
    )
    .bind(participant_id)
    .fetch_all(conn)
    .await?;
    rows::all(pauses, rows::pause)
}

/// Constraint names as SQLite reports them: UNIQUE by `table.column, …`,
/// FOREIGN KEY without a name (so each is the empty name).
pub(super) mod constraint {
    pub(in super::super) const FACT_VERSIONS_PKEY: &str =
        "fact_versions.fact_type, fact_versions.fact_id, fact_versions.version";
    pub(in super::super) const SANCTION_DECISIONS_DAY_KEY: &str =
        "sanction_decisions.participant_id, sanction_decisions.date, sanction_decisions.entry_kind";
    pub(in super::super) const SANCTION_DECISIONS_PKEY: &str = "sanction_decisions.id";
    pub(in super::super) const EMPLOYEE_NUMBERS_NUMBER_KEY: &str =
        "employee_numbers.municipality_id, employee_numbers.employee_number";
    pub(in super::super) const SANCTION_APPEALS_DECISION_KEY: &str = "sanction_appeals.decision_id";
    pub(in super::super) const REGISTERED_G_PKEY: &str = "registered_g.effective_date";
    pub(in super::super) const SIGNER_KEYS_PKEY: &str = "signer_keys.keyid";
    pub(in super::super) const PARTICIPANTS_NIN_LOOKUP_KEY: &str =
        "participants.municipality_id, participants.nin_lookup";
    pub(in super::super) const PARTICIPANTS_PKEY: &str = "participants.id";
    pub(in super::super) const PARTICIPANTS_MUNICIPALITY_FKEY: &str = "";
    pub(in super::super) const CHILDREN_PKEY: &str = "children.id";
    pub(in super::super) const SOLE_CARER_PERIODS_PKEY: &str = "sole_carer_periods.id";
    pub(in super::super) const BENEFIT_OFFSETS_PKEY: &str = "benefit_offsets.id";
    pub(in super::super) const PROGRAMMES_PKEY: &str = "programmes.id";
    pub(in super::super) const PROGRAMME_PAUSES_PKEY: &str = "programme_pauses.id";
    pub(in super::super) const PROGRAMME_PAUSES_PROGRAMME_FKEY: &str = "";
    pub(in super::super) const TIMESHEETS_PKEY: &str = "timesheets.id";
    pub(in super::super) const TIMESHEETS_DIGEST_KEY: &str = "timesheets.digest";
    pub(in super::super) const TIMESHEETS_MUNICIPALITY_FKEY: &str = "";
    pub(in super::super) const PAY_RUNS_PKEY: &str = "pay_runs.id";
    pub(in super::super) const PAYMENT_CONFIRMATIONS_PKEY: &str =
        "payment_confirmations.run_id, payment_confirmations.participant_id";
}
