//! What the statements shared with SQLite (`src/shared/`) name, as PostgreSQL
//! has it: the store and its connection, how values are bound (natively), the
//! names PostgreSQL gives the constraints, and the locks only it needs.

use super::*;
use sqlx::error::DatabaseError;
use sqlx::{Postgres, Transaction};

/// The pool a store opens with.
pub(super) type Pool = PgPool;

/// The constraint a database error violated, by the name PostgreSQL reports.
pub(super) fn violation_of(db: &dyn DatabaseError) -> Option<Violation<'_>> {
    let constraint = db.constraint().unwrap_or("");
    Some(match db.kind() {
        ErrorKind::UniqueViolation => Violation::Unique(constraint),
        ErrorKind::ForeignKeyViolation => Violation::ForeignKey(constraint),
        ErrorKind::CheckViolation => Violation::Check(constraint),
        _ => return None,
    })
}

/// A write transaction holding the audit chain's advisory lock: instances
/// opening the store together queue on it, and the later ones find the work
/// done.
pub(super) async fn begin_chain_write(
    pool: &Pool,
) -> Result<Transaction<'static, Postgres>, StoreError> {
    let mut tx = pool.begin().await?;
    lock_audit_chain(&mut tx).await?;
    Ok(tx)
}

/// The store the shared statements are implemented for.
pub(super) type Store = PostgresStore;
/// A connection, inside or outside a transaction.
pub(super) type Conn = PgConnection;
/// A write transaction.
pub(super) type WriteTx = Transaction<'static, Postgres>;

/// An instant as bound: PostgreSQL keeps `timestamptz` natively.
pub(super) fn instant(value: OffsetDateTime) -> Result<OffsetDateTime, StoreError> {
    Ok(value)
}

/// An optional instant as bound.
pub(super) fn instant_opt(
    value: Option<OffsetDateTime>,
) -> Result<Option<OffsetDateTime>, StoreError> {
    Ok(value)
}

/// An amount as bound: PostgreSQL keeps `numeric` natively.
pub(super) fn decimal(value: Decimal) -> Decimal {
    value
}

impl PostgresStore {
    /// A write transaction (READ COMMITTED; rows are locked where read to be changed).
    pub(super) async fn begin_write(&self) -> Result<Transaction<'static, Postgres>, StoreError> {
        Ok(self.pool.begin().await?)
    }

    /// Where a write of one statement runs without a transaction: the pool itself.
    pub(super) fn write_pool(&self) -> &PgPool {
        &self.pool
    }

    /// The pool reads outside a write transaction use.
    pub(super) fn read_pool(&self) -> &PgPool {
        &self.pool
    }

    /// A read-only transaction reading one snapshot throughout.
    pub(super) async fn begin_snapshot(
        &self,
    ) -> Result<Transaction<'static, Postgres>, StoreError> {
        Ok(self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await?)
    }
}

/// Locks a signer key until the transaction ends, so that a concurrent
/// revocation waits and then sees this one.
pub(super) async fn lock_signer_key(conn: &mut Conn, keyid: &str) -> Result<(), StoreError> {
    sqlx::query("SELECT 1 FROM signer_keys WHERE keyid = $1 FOR UPDATE")
        .bind(keyid)
        .execute(conn)
        .await?;
    Ok(())
}

/// Locks a participant's facts until the transaction ends, so that a
/// concurrent addition checks for duplicates after this one.
pub(super) async fn lock_participant(conn: &mut Conn, id: Uuid) -> Result<(), StoreError> {
    sqlx::query("SELECT 1 FROM participants WHERE id = $1 FOR NO KEY UPDATE")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// The registered keys among `keyids`, in their order: one query (the
/// submission path's round trips count).
pub(super) async fn select_signer_keys(
    store: &Store,
    keyids: &[&str],
) -> Result<Vec<SignerKey>, StoreError> {
    let found = sqlx::query(concat!(
        "SELECT ",
        signer_key_columns!(),
        " FROM signer_keys WHERE keyid = ANY($1)"
    ))
    .bind(keyids)
    .fetch_all(store.read_pool())
    .await?;
    let mut found = rows::all(found, rows::signer_key)?;
    found.sort_by_key(|key| keyids.iter().position(|id| *id == key.keyid));
    Ok(found)
}

/// Everything the rules engine needs about a participant in one statement,
/// so one snapshot and one round trip.
pub(super) async fn read_participant_facts(
    store: &Store,
    participant_id: Uuid,
) -> Result<ParticipantFacts, StoreError> {
    // One statement, so one snapshot, and one round trip: the facts of
    // every table as one JSON array each (see `json_rows`). Every
    // subquery goes by the participant's own index.
    let row = sqlx::query(concat!(
        "SELECT ",
        participant_columns!(),
        ", (SELECT json_agg(json_build_array(id, birth_date, reference) ORDER BY birth_date, id) \
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
                              FROM programme_pauses x WHERE x.programme_id = g.id), \
                             g.version) \
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
                                            decided_by, reference, reason, legal_basis, \
                                            appeal_deadline, warning_id, deducted_hours::text) \
                           ORDER BY date, entry_kind) \
            FROM sanction_decisions WHERE participant_id = $1)::text AS decisions \
         FROM participants WHERE id = $1"
    ))
    .bind(participant_id)
    .fetch_optional(store.read_pool())
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

/// Inserts a timesheet and its entries in one statement unless an accepted
/// timesheet of the participant overlaps its period; false if one does.
pub(super) async fn insert_timesheet_unless_overlapping(
    conn: &mut Conn,
    new: &NewTimesheet,
) -> Result<bool, sqlx::Error> {
    let ts = &new.timesheet;
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
    .fetch_optional(conn)
    .await?;
    Ok(inserted.is_some())
}

/// Queues the closes of one municipality, in every instance, on the lock a
/// close session holds, until the holder commits or rolls back (READ
/// COMMITTED: the next one then sees its run).
pub(super) async fn lock_closes(conn: &mut Conn, municipality_id: &str) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind(close::close_lock_key(municipality_id))
        .execute(conn)
        .await?;
    Ok(())
}

/// The pauses of these programmes (a participant's), by start: by the
/// programmes' ids, not a join, as a cached generic plan of a join may read
/// every participant's pauses.
pub(super) async fn select_pauses(
    conn: &mut Conn,
    _participant_id: Uuid,
    programmes: &[Programme],
) -> Result<Vec<Pause>, StoreError> {
    let ids: Vec<Uuid> = programmes.iter().map(|p| p.id).collect();
    let pauses = sqlx::query(
        "SELECT id, programme_id, from_date, to_date, kind, reference \
         FROM programme_pauses WHERE programme_id = ANY($1) ORDER BY from_date, id",
    )
    .bind(&ids)
    .fetch_all(conn)
    .await?;
    rows::all(pauses, rows::pause)
}

/// Constraint names as PostgreSQL reports them (`migrations/postgres`).
pub(super) mod constraint {
    pub(in super::super) const FACT_VERSIONS_PKEY: &str = "fact_versions_pkey";
    pub(in super::super) const SANCTION_DECISIONS_DAY_KEY: &str = "sanction_decisions_day_key";
    pub(in super::super) const SANCTION_DECISIONS_PKEY: &str = "sanction_decisions_pkey";
    pub(in super::super) const EMPLOYEE_NUMBERS_NUMBER_KEY: &str = "employee_numbers_number_key";
    pub(in super::super) const SANCTION_APPEALS_DECISION_KEY: &str =
        "sanction_appeals_decision_key";
    pub(in super::super) const REGISTERED_G_PKEY: &str = "registered_g_pkey";
    pub(in super::super) const SIGNER_KEYS_PKEY: &str = "signer_keys_pkey";
    pub(in super::super) const PARTICIPANTS_NIN_LOOKUP_KEY: &str = "participants_nin_lookup_key";
    pub(in super::super) const PARTICIPANTS_PKEY: &str = "participants_pkey";
    pub(in super::super) const PARTICIPANTS_MUNICIPALITY_FKEY: &str =
        "participants_municipality_fkey";
    pub(in super::super) const CHILDREN_PKEY: &str = "children_pkey";
    pub(in super::super) const SOLE_CARER_PERIODS_PKEY: &str = "sole_carer_periods_pkey";
    pub(in super::super) const BENEFIT_OFFSETS_PKEY: &str = "benefit_offsets_pkey";
    pub(in super::super) const PROGRAMMES_PKEY: &str = "programmes_pkey";
    pub(in super::super) const PROGRAMME_PAUSES_PKEY: &str = "programme_pauses_pkey";
    pub(in super::super) const PROGRAMME_PAUSES_PROGRAMME_FKEY: &str =
        "programme_pauses_programme_fkey";
    pub(in super::super) const TIMESHEETS_PKEY: &str = "timesheets_pkey";
    pub(in super::super) const TIMESHEETS_DIGEST_KEY: &str = "timesheets_digest_key";
    pub(in super::super) const TIMESHEETS_MUNICIPALITY_FKEY: &str = "timesheets_municipality_fkey";
    pub(in super::super) const PAY_RUNS_PKEY: &str = "pay_runs_pkey";
    pub(in super::super) const PAYMENT_CONFIRMATIONS_PKEY: &str = "payment_confirmations_pkey";
}
