//! Closing a month in chunks on PostgreSQL: the flow is shared with SQLite
//! (`src/shared/close.rs`); here are its transactions, how a chunk's facts
//! are read and how marks are cleared.

use std::collections::HashSet;

use async_trait::async_trait;
use rust_decimal::Decimal;
use sqlx::{Postgres, Row, Transaction};
use time::Date;
use uuid::Uuid;

use super::dialect::*;
use super::rows::{self, DbRow};
use super::{
    Violation, insert_audit, insert_events, insert_pay_lines, on_violation, participant_missing,
    select_run_by_month,
};
use crate::records::{
    BeginClose, ChunkBuilder, CloseContext, CloseParticipant, FinishClose, Hold, OpenRun, PayLine,
    PayRun, RECOMPUTE_EVERYTHING, RecomputeMark, RunState, check_close_lines, check_finish,
    check_open_run,
};
use crate::{CloseSession, StoreError};

/// A close's two transactions on two connections: the write transaction,
/// which holds the municipality's close lock and writes the run, its lines,
/// the cleared marks, the events and the audit entry, committing them
/// together; and a read transaction (`REPEATABLE READ READ ONLY`), begun
/// once the lock is held and the month found free, that reads the context
/// and every chunk from one snapshot, so a participant's facts, mark and
/// ledger agree with each other and with the registered G and policy the
/// service computes with. Facts may change while the close runs (timesheets
/// are not blocked): such a change moves the participant's mark on, and
/// clearing the marks at the finish leaves that one alone.
pub(super) struct CloseTransactions {
    write: Transaction<'static, Postgres>,
    read: Transaction<'static, Postgres>,
}

impl CloseTransactions {
    /// Begins the read snapshot beside `write`: its first query comes after
    /// the lock, so it holds every earlier run of the municipality.
    pub(super) async fn open(
        store: &Store,
        write: Transaction<'static, Postgres>,
    ) -> Result<Self, StoreError> {
        let read = store.begin_snapshot().await?;
        Ok(Self { write, read })
    }

    /// Where the close reads.
    pub(super) fn reader(&mut self) -> &mut Conn {
        &mut self.read
    }

    /// Where the close writes.
    pub(super) fn writer(&mut self) -> &mut Conn {
        &mut self.write
    }

    /// Everything is read: the snapshot is let go before the finish takes
    /// any lock, and the write transaction remains.
    pub(super) async fn into_write(self) -> Result<Transaction<'static, Postgres>, StoreError> {
        self.read.rollback().await?;
        Ok(self.write)
    }
}

/// The participants of a chunk as its facts queries name them: their ids
/// (`$1`), and the first and last of them (`$2`, `$3`), which let the planner
/// scan the participant index from the first to the last id (the ids alone,
/// a small share of a large table, it would rather read the whole table for);
/// and the municipality, which the ledger query names.
struct ChunkScope<'a> {
    municipality: &'a str,
    ids: Vec<Uuid>,
    first: Uuid,
    last: Uuid,
}

impl<'a> ChunkScope<'a> {
    /// The scope of a chunk; `None` for an empty one.
    fn of(chunk: &ChunkBuilder, municipality: &'a str) -> Option<Self> {
        let ids = chunk.ids();
        let (first, last) = (*ids.first()?, *ids.last()?);
        Some(Self {
            municipality,
            ids,
            first,
            last,
        })
    }
}

/// The condition that a column names a participant of the chunk.
macro_rules! in_chunk {
    ($column:literal) => {
        concat!($column, " BETWEEN $2 AND $3 AND ", $column, " = ANY($1)")
    };
}

/// Runs one of the chunk's facts queries and hands each row to `each`, so
/// that a chunk's rows are never all held at once.
async fn for_each_row(
    conn: &mut Conn,
    sql: &'static str,
    scope: &ChunkScope<'_>,
    mut each: impl FnMut(&DbRow) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let rows = sqlx::query(sql)
        .bind(&scope.ids)
        .bind(scope.first)
        .bind(scope.last)
        .fetch_all(conn)
        .await?;
    for row in &rows {
        each(row)?;
    }
    Ok(())
}

/// The chunk's timesheets and their entries (those of superseded timesheets
/// are left out as the chunk is assembled).
async fn read_chunk_timesheets(
    conn: &mut Conn,
    chunk: &mut ChunkBuilder,
    scope: &ChunkScope<'_>,
) -> Result<(), StoreError> {
    for_each_row(
        conn,
        "SELECT id, participant_id, period_from, period_to, version FROM timesheets \
         WHERE participant_id BETWEEN $2 AND $3 AND participant_id = ANY($1) \
         AND status = 'ACCEPTED' \
         ORDER BY participant_id, period_from",
        scope,
        |row| {
            chunk.timesheet(row.try_get("participant_id")?, rows::timesheet_period(row)?)?;
            Ok(())
        },
    )
    .await?;

    for_each_row(
        conn,
        // Every timesheet's entries, in index order; those of superseded
        // timesheets are left out as they are assembled.
        "SELECT timesheet_id, participant_id, date, seq, kind, hours, note FROM day_entries \
         WHERE participant_id BETWEEN $2 AND $3 AND participant_id = ANY($1) \
         ORDER BY participant_id, date, seq",
        scope,
        |row| {
            chunk.entry(rows::day_entry(row)?)?;
            Ok(())
        },
    )
    .await?;
    Ok(())
}

/// The chunk's ledger as `ledger` sums it.
async fn read_chunk_ledger(
    conn: &mut Conn,
    chunk: &mut ChunkBuilder,
    scope: &ChunkScope<'_>,
    floor: Option<Date>,
) -> Result<(), StoreError> {
    // The ledger as `ledger` sums it, from each participant's first month
    // to recompute on: min(mark, floor), the floor alone for a clear
    // mark (LEAST ignores NULL), every month for a missing one; and the
    // recovery lines. Each part a range of the index on participant and month.
    let ledger = sqlx::query(concat!(
        "SELECT participant_id, attributed_month, line_code, round(SUM(amount), 2) AS amount, ",
        sum_of_quantities!(),
        " FROM (SELECT l.participant_id, l.attributed_month, l.line_code, l.amount, l.quantity, \
                      l.quantity_unit, l.run_id \
               FROM participants p LEFT JOIN recompute_marks m ON m.participant_id = p.id \
               JOIN pay_lines l ON l.participant_id = p.id AND l.attributed_month >= \
                    CASE WHEN m.participant_id IS NULL THEN $4 \
                         ELSE LEAST(m.recompute_from, $3) END \
               WHERE p.id BETWEEN $5 AND $6 AND p.id = ANY($2) \
               UNION ALL \
               SELECT l.participant_id, l.attributed_month, l.line_code, l.amount, l.quantity, \
                      l.quantity_unit, l.run_id \
               FROM pay_lines l \
               WHERE l.participant_id BETWEEN $5 AND $6 AND l.participant_id = ANY($2) \
               AND l.attributed_month IS NULL) l \
         JOIN pay_runs r ON r.id = l.run_id AND r.municipality_id = $1 \
         WHERE NOT EXISTS (SELECT 1 FROM payment_confirmations c \
                           WHERE c.run_id = l.run_id AND c.participant_id = l.participant_id \
                           AND c.outcome = 'FAILED') \
         GROUP BY participant_id, attributed_month, line_code \
         ORDER BY participant_id, attributed_month NULLS FIRST, line_code"
    ))
    .bind(scope.municipality)
    .bind(&scope.ids)
    .bind(floor.unwrap_or(RECOMPUTE_EVERYTHING))
    .bind(RECOMPUTE_EVERYTHING)
    .bind(scope.first)
    .bind(scope.last)
    .fetch_all(&mut *conn)
    .await?;
    for row in &ledger {
        chunk.ledger(rows::ledger_entry(row)?)?;
    }
    Ok(())
}

/// Clears the marks of the recomputed participants whose version is still
/// the one read. READ COMMITTED: a mark changed since the snapshot
/// (committed, or still locked by its change, which this waits for) no
/// longer has the version read, and stays for the next close.
pub(super) async fn clear_marks(
    conn: &mut Conn,
    recomputed: &[(Uuid, i64)],
) -> Result<(), StoreError> {
    let (participants, versions): (Vec<Uuid>, Vec<i64>) = recomputed.iter().copied().unzip();
    sqlx::query(
        "UPDATE recompute_marks m SET recompute_from = NULL \
         FROM UNNEST($1::uuid[], $2::int8[]) AS seen (participant_id, version) \
         WHERE m.participant_id = seen.participant_id AND m.version = seen.version",
    )
    .bind(&participants)
    .bind(&versions)
    .execute(conn)
    .await?;
    Ok(())
}

/// The advisory lock key of a municipality's closes.
pub(super) fn close_lock_key(municipality_id: &str) -> String {
    format!("kvp.close/{municipality_id}")
}

include!("../shared/close.rs");
