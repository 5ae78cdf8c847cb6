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
    Violation, insert_audit, insert_events, insert_pay_lines, on_violation, select_run_by_month,
};
use crate::json_rows;
use crate::records::{
    BeginClose, ChunkBuilder, CloseContext, CloseParticipant, FinishClose, OpenRun, PayLine,
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

/// Reads the facts, and the ledger from each participant's first month to
/// recompute on, of a chunk's participants into `chunk` (by the municipality
/// and the chunk's id range, `chunk_members!`).
pub(super) async fn read_chunk_facts(
    conn: &mut Conn,
    chunk: &mut ChunkBuilder,
    municipality: &str,
    floor: Option<Date>,
) -> Result<(), StoreError> {
    let Some((first, last)) = chunk.bounds() else {
        return Ok(());
    };
    for_each_row(
        conn,
        concat!(
            "SELECT id, participant_id, birth_date FROM children WHERE participant_id IN ",
            chunk_members!(),
            " ORDER BY participant_id, birth_date, id"
        ),
        municipality,
        first,
        last,
        |row| {
            chunk.child(rows::child(row)?)?;
            Ok(())
        },
    )
    .await?;
    for_each_row(
        conn,
        concat!(
            "SELECT id, participant_id, from_date, to_date FROM sole_carer_periods \
             WHERE participant_id IN ",
            chunk_members!(),
            " ORDER BY participant_id, from_date, id"
        ),
        municipality,
        first,
        last,
        |row| {
            chunk.sole_carer_period(rows::sole_carer_period(row)?)?;
            Ok(())
        },
    )
    .await?;
    for_each_row(
        conn,
        concat!(
            "SELECT id, participant_id, month, kind, amount FROM benefit_offsets \
             WHERE participant_id IN ",
            chunk_members!(),
            " ORDER BY participant_id, month, kind, id"
        ),
        municipality,
        first,
        last,
        |row| {
            chunk.offset(rows::benefit_offset(row)?)?;
            Ok(())
        },
    )
    .await?;
    for_each_row(
        conn,
        concat!(
            "SELECT ",
            programme_columns!(),
            " FROM programmes WHERE participant_id IN ",
            chunk_members!(),
            " ORDER BY participant_id, start_date, id"
        ),
        municipality,
        first,
        last,
        |row| {
            chunk.programme(rows::programme(row)?)?;
            Ok(())
        },
    )
    .await?;
    for_each_row(
        conn,
        concat!(
            "SELECT g.participant_id AS owner, p.id, p.programme_id, p.from_date, p.to_date, \
             p.kind, p.reference \
             FROM programme_pauses p JOIN programmes g ON g.id = p.programme_id \
             WHERE g.participant_id IN ",
            chunk_members!(),
            " ORDER BY g.participant_id, p.from_date, p.id"
        ),
        municipality,
        first,
        last,
        |row| {
            chunk.pause(row.try_get("owner")?, rows::pause(row)?)?;
            Ok(())
        },
    )
    .await?;
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
        municipality,
        first,
        last,
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
        municipality,
        first,
        last,
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
    for_each_row(
        conn,
        concat!(
            "SELECT ",
            decision_columns!(),
            " FROM sanction_decisions WHERE participant_id IN ",
            chunk_members!(),
            " ORDER BY participant_id, date, entry_kind"
        ),
        municipality,
        first,
        last,
        |row| {
            chunk.decision(rows::sanction_decision(row)?)?;
            Ok(())
        },
    )
    .await?;
    // The ledger as `ledger` sums it, from each participant's first month
    // to recompute on: min(mark, floor), the floor alone for a clear
    // mark, every month for a missing one; and the recovery lines. Each
    // part a range of the index on participant and month. Whole øre
    // sum exactly.
    let ledger = sqlx::query(concat!(
        "SELECT participant_id, attributed_month, line_code, SUM(amount_ore) AS amount_ore \
         FROM (SELECT l.participant_id, l.attributed_month, l.line_code, l.amount_ore, \
                      l.run_id \
               FROM ",
        chunk_members!(),
        " p LEFT JOIN recompute_marks m ON m.participant_id = p.id \
               JOIN pay_lines l ON l.participant_id = p.id AND l.attributed_month >= \
                    CASE WHEN m.participant_id IS NULL THEN ?5 \
                         ELSE min(coalesce(m.recompute_from, ?4), ?4) END \
               UNION ALL \
               SELECT l.participant_id, l.attributed_month, l.line_code, l.amount_ore, \
                      l.run_id \
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
    .bind(municipality)
    .bind(first)
    .bind(last)
    .bind(floor.unwrap_or(RECOMPUTE_EVERYTHING))
    .bind(RECOMPUTE_EVERYTHING)
    .fetch_all(&mut *conn)
    .await?;
    for row in &ledger {
        chunk.ledger(rows::ledger_entry(row)?)?;
    }
    Ok(())
}

/// Runs one of the chunk's facts queries (parameters: municipality, first and
/// last id of the chunk) and hands each row to `each` as it arrives, so that a
/// chunk's rows are never all held at once.
async fn for_each_row(
    conn: &mut Conn,
    sql: &'static str,
    municipality: &str,
    first: Uuid,
    last: Uuid,
    mut each: impl FnMut(&DbRow) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let rows = sqlx::query(sql)
        .bind(municipality)
        .bind(first)
        .bind(last)
        .fetch_all(conn)
        .await?;
    for row in &rows {
        each(row)?;
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
