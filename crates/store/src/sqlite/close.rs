//! Closing a month in chunks on SQLite: the flow is shared with PostgreSQL
//! (`src/shared/close.rs`); here are its transaction, how a chunk's facts
//! are read and how marks are cleared.

use std::collections::HashSet;

use async_trait::async_trait;
use rust_decimal::Decimal;
use sqlx::{QueryBuilder, Row, Sqlite, Transaction};
use time::Date;
use uuid::Uuid;

use super::dialect::*;
use super::rows::{self, DbRow};
use super::{
    Violation, insert_audit, insert_events, insert_pay_lines, on_violation, participant_missing,
    select_run_by_month,
};
use crate::json_rows;
use crate::records::{
    BeginClose, ChunkBuilder, CloseContext, CloseParticipant, FinishClose, Hold, OpenRun, PayLine,
    PayRun, RECOMPUTE_EVERYTHING, RecomputeMark, RunState, check_close_lines, check_finish,
    check_open_run,
};
use crate::{CloseSession, StoreError};

/// The participants of a chunk, by the municipality and the chunk's id range
/// (`?1`, `?2`, `?3`); the facts queries filter on it.
macro_rules! chunk_members {
    () => {
        "(SELECT id FROM participants WHERE municipality_id = ?1 AND id BETWEEN ?2 AND ?3)"
    };
}

/// A close's one `BEGIN IMMEDIATE` transaction on the writer connection: it
/// holds SQLite's write lock from the first statement to the commit, so no
/// other writer (in this process or another) changes a fact, a mark or the
/// ledger while the close reads them chunk by chunk. Every read goes through
/// the same connection, and so sees one state throughout; readers on other
/// connections are not blocked (WAL).
pub(super) struct CloseTransactions {
    tx: Transaction<'static, Sqlite>,
}

impl CloseTransactions {
    /// The write transaction is also where the close reads.
    pub(super) async fn open(
        _store: &Store,
        write: Transaction<'static, Sqlite>,
    ) -> Result<Self, StoreError> {
        Ok(Self { tx: write })
    }

    /// Where the close reads.
    pub(super) fn reader(&mut self) -> &mut Conn {
        &mut self.tx
    }

    /// Where the close writes.
    pub(super) fn writer(&mut self) -> &mut Conn {
        &mut self.tx
    }

    /// The transaction to finish in.
    pub(super) async fn into_write(self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        Ok(self.tx)
    }
}

/// The participants of a chunk as its facts queries name them: the
/// municipality (`$1`) and the chunk's first and last id (`$2`, `$3`).
struct ChunkScope<'a> {
    municipality: &'a str,
    first: Uuid,
    last: Uuid,
}

impl<'a> ChunkScope<'a> {
    /// The scope of a chunk; `None` for an empty one.
    fn of(chunk: &ChunkBuilder, municipality: &'a str) -> Option<Self> {
        let (first, last) = chunk.bounds()?;
        Some(Self {
            municipality,
            first,
            last,
        })
    }
}

/// The condition that a column names a participant of the chunk.
macro_rules! in_chunk {
    ($column:literal) => {
        concat!(
            $column,
            " IN (SELECT id FROM participants WHERE municipality_id = $1 AND id BETWEEN $2 AND $3)"
        )
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
        .bind(scope.municipality)
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
    // A year of timesheets is a dozen rows a participant: one JSON array each.
    for_each_row(
        conn,
        concat!(
            "SELECT participant_id, json_group_array(json_array(hex(id), period_from, \
             period_to, version) ORDER BY period_from) AS timesheets \
             FROM timesheets WHERE status = 'ACCEPTED' AND participant_id IN ",
            chunk_members!(),
            " GROUP BY participant_id ORDER BY participant_id"
        ),
        scope,
        |row| {
            let participant_id: Uuid = row.try_get("participant_id")?;
            let text: &str = row.try_get("timesheets")?;
            for period in json_rows::timesheet_periods(Some(text))? {
                chunk.timesheet(participant_id, period)?;
            }
            Ok(())
        },
    )
    .await?;

    // Every timesheet's entries, in index order; those of superseded
    // timesheets are left out as they are assembled. A year of entries is
    // some forty rows a participant: they come as one JSON array each,
    // as sqlx hands SQLite rows across threads one by one, at a cost
    // several times SQLite's own.
    for_each_row(
        conn,
        concat!(
            "SELECT participant_id, json_group_array(json_array(hex(timesheet_id), date, seq, \
             kind, hours, note) ORDER BY date, seq) AS entries \
             FROM day_entries WHERE participant_id IN ",
            chunk_members!(),
            " GROUP BY participant_id ORDER BY participant_id"
        ),
        scope,
        |row| {
            let participant_id: Uuid = row.try_get("participant_id")?;
            let text: &str = row.try_get("entries")?;
            for entry in json_rows::day_entries(participant_id, Some(text))? {
                chunk.entry(entry)?;
            }
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
    // mark, every month for a missing one; and the recovery lines. Each
    // part a range of the index on participant and month. Whole øre
    // sum exactly.
    let ledger = sqlx::query(concat!(
        "SELECT participant_id, attributed_month, line_code, SUM(amount_ore) AS amount_ore, ",
        sum_of_quantities!(),
        " FROM (SELECT l.participant_id, l.attributed_month, l.line_code, l.amount_ore, \
                      l.quantity_scaled, l.run_id \
               FROM ",
        chunk_members!(),
        " p LEFT JOIN recompute_marks m ON m.participant_id = p.id \
               JOIN pay_lines l ON l.participant_id = p.id AND l.attributed_month >= \
                    CASE WHEN m.participant_id IS NULL THEN ?5 \
                         ELSE min(coalesce(m.recompute_from, ?4), ?4) END \
               UNION ALL \
               SELECT l.participant_id, l.attributed_month, l.line_code, l.amount_ore, \
                      l.quantity_scaled, l.run_id \
               FROM ",
        chunk_members!(),
        " p JOIN pay_lines l ON l.participant_id = p.id AND l.attributed_month IS NULL) l \
         JOIN pay_runs r ON r.id = l.run_id AND r.municipality_id = ?1 \
         WHERE NOT EXISTS (SELECT 1 FROM payment_confirmations c \
                           WHERE c.run_id = l.run_id AND c.participant_id = l.participant_id \
                           AND c.outcome = 'FAILED') \
         GROUP BY participant_id, attributed_month, line_code \
         ORDER BY participant_id, attributed_month NULLS FIRST, line_code"
    ))
    .bind(scope.municipality)
    .bind(scope.first)
    .bind(scope.last)
    .bind(floor.unwrap_or(RECOMPUTE_EVERYTHING))
    .bind(RECOMPUTE_EVERYTHING)
    .fetch_all(&mut *conn)
    .await?;
    for row in &ledger {
        chunk.ledger(rows::ledger_entry(row)?)?;
    }
    Ok(())
}

/// Marks cleared per statement (2 parameters each).
const MARKS_PER_UPDATE: usize = 5_000;

/// Clears the marks of the recomputed participants whose version is still
/// the one read. The write lock kept every mark as read, so the version
/// check only guards against a caller handing back a version it did not read.
pub(super) async fn clear_marks(
    conn: &mut Conn,
    recomputed: &[(Uuid, i64)],
) -> Result<(), StoreError> {
    for chunk in recomputed.chunks(MARKS_PER_UPDATE) {
        let mut update =
            QueryBuilder::<Sqlite>::new("UPDATE recompute_marks SET recompute_from = NULL FROM (");
        update.push_values(chunk, |mut row, (participant_id, version)| {
            row.push_bind(*participant_id).push_bind(*version);
        });
        update.push(
            ") AS seen WHERE recompute_marks.participant_id = seen.column1 \
             AND recompute_marks.version = seen.column2",
        );
        update.build().execute(&mut *conn).await?;
    }
    Ok(())
}

include!("../shared/close.rs");
