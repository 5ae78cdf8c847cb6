//! Closing a month in chunks on SQLite.
//!
//! The session is one `BEGIN IMMEDIATE` transaction on the writer connection:
//! it holds SQLite's write lock from the first statement to the commit, so
//! no other writer (in this process or another) changes a fact, a mark or
//! the ledger while the close reads them chunk by chunk. Every read goes
//! through the same connection, and so sees one state throughout; readers on
//! other connections are not blocked (WAL).

use std::collections::HashSet;

use async_trait::async_trait;
use rust_decimal::Decimal;
use sqlx::sqlite::SqliteRow;
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection, Transaction};
use time::Date;
use uuid::Uuid;

use super::dialect::{decimal, instant};
use super::rows;
use super::{
    SqliteStore, Violation, insert_audit, insert_events, insert_pay_lines, on_violation,
    select_run_by_month,
};
use crate::json_rows;
use crate::records::{
    BeginClose, ChunkBuilder, CloseContext, CloseParticipant, FinishClose, OpenRun, PayLine,
    PayRun, RECOMPUTE_EVERYTHING, RecomputeMark, RunState, check_close_lines, check_finish,
    check_open_run,
};
use crate::{CloseSession, StoreError};

/// Marks cleared per statement (2 parameters each).
const MARKS_PER_UPDATE: usize = 5_000;

/// A chunk's participants (the limit taken before the join) with their
/// marks; a missing mark reads as `marked` false.
macro_rules! chunk_participants {
    ($where:literal) => {
        concat!(
            "SELECT p.id, p.municipality_id, p.nin_lookup, p.nin_sealed, p.birth_date, \
                    p.display_name, p.created_at, \
                    m.participant_id IS NOT NULL AS marked, m.recompute_from, m.version \
             FROM (SELECT * FROM participants ",
            $where,
            ") p LEFT JOIN recompute_marks m ON m.participant_id = p.id ORDER BY p.id"
        )
    };
}

/// The participants of a chunk, by the municipality and the chunk's id range
/// (`?1`, `?2`, `?3`); the facts queries filter on it.
macro_rules! chunk_members {
    () => {
        "(SELECT id FROM participants WHERE municipality_id = ?1 AND id BETWEEN ?2 AND ?3)"
    };
}

/// An open close on SQLite.
struct SqliteClose {
    tx: Transaction<'static, Sqlite>,
    run: OpenRun,
    context: CloseContext,
    /// Participants with lines written so far.
    paid: HashSet<Uuid>,
    /// The sum of the lines written so far.
    total: Decimal,
}

/// See [`crate::Repository::begin_close`].
pub(super) async fn begin(store: &SqliteStore, run: &OpenRun) -> Result<BeginClose, StoreError> {
    check_open_run(run)?;
    // BEGIN IMMEDIATE: the write lock is held from here to the commit, so the
    // month found free below is still free then, and nothing read changes.
    let mut tx = store.begin_write().await?;
    if let Some(existing) = select_run_by_month(&mut tx, &run.municipality_id, run.month).await? {
        tx.rollback().await?;
        return Ok(BeginClose::Closed(existing));
    }
    let context = read_context(&mut tx, &run.municipality_id).await?;
    sqlx::query(concat!(
        "INSERT INTO pay_runs (",
        pay_run_columns!(),
        ") VALUES (?, ?, ?, ?, ?, 0, '0')"
    ))
    .bind(run.id)
    .bind(&run.municipality_id)
    .bind(run.month)
    .bind(RunState::Closed.as_str())
    .bind(instant(run.closed_at)?)
    .execute(&mut *tx)
    .await
    .map_err(|e| {
        on_violation(e, |violation| match violation {
            Violation::Unique("pay_runs.id") => {
                Some(StoreError::conflict("the pay run id is taken"))
            }
            _ => None,
        })
    })?;
    Ok(BeginClose::Open(Box::new(SqliteClose {
        tx,
        run: run.clone(),
        context,
        paid: HashSet::new(),
        total: Decimal::ZERO,
    })))
}

async fn read_context(
    conn: &mut SqliteConnection,
    municipality_id: &str,
) -> Result<CloseContext, StoreError> {
    let municipality = sqlx::query(
        "SELECT id, name, policy_overrides, pay_codes FROM municipalities WHERE id = ?",
    )
    .bind(municipality_id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| StoreError::not_found("municipality", municipality_id))?;
    let runs = sqlx::query(concat!(
        "SELECT ",
        pay_run_columns!(),
        " FROM pay_runs WHERE municipality_id = ? ORDER BY month"
    ))
    .bind(municipality_id)
    .fetch_all(&mut *conn)
    .await?;
    let basis: Option<Option<String>> = sqlx::query_scalar(
        "SELECT basis FROM pay_runs WHERE municipality_id = ? ORDER BY month DESC LIMIT 1",
    )
    .bind(municipality_id)
    .fetch_optional(&mut *conn)
    .await?;
    let registered_g = sqlx::query(
        "SELECT effective_date, value, reference, registered_at FROM registered_g \
         ORDER BY effective_date",
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(CloseContext {
        municipality: rows::municipality(&municipality)?,
        runs: rows::all(runs, rows::pay_run)?,
        registered_g: rows::all(registered_g, rows::registered_g)?,
        basis: basis.flatten(),
    })
}

#[async_trait]
impl CloseSession for SqliteClose {
    fn context(&self) -> &CloseContext {
        &self.context
    }

    async fn participants(
        &mut self,
        after: Option<Uuid>,
        limit: u32,
        floor: Option<Date>,
    ) -> Result<Vec<CloseParticipant>, StoreError> {
        let municipality = self.run.municipality_id.as_str();
        let conn = &mut *self.tx;
        let found = match after {
            None => {
                sqlx::query(chunk_participants!(
                    "WHERE municipality_id = ? ORDER BY id LIMIT ?"
                ))
                .bind(municipality)
                .bind(i64::from(limit))
                .fetch_all(&mut *conn)
                .await?
            }
            Some(after) => {
                sqlx::query(chunk_participants!(
                    "WHERE municipality_id = ? AND id > ? ORDER BY id LIMIT ?"
                ))
                .bind(municipality)
                .bind(after)
                .bind(i64::from(limit))
                .fetch_all(&mut *conn)
                .await?
            }
        };
        let mut members = Vec::with_capacity(found.len());
        for row in &found {
            members.push((rows::participant(row)?, mark(row)?));
        }
        let mut chunk = ChunkBuilder::new(members);
        let Some((first, last)) = chunk.bounds() else {
            return Ok(Vec::new());
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
        Ok(chunk.finish())
    }

    async fn write_lines(&mut self, lines: &[PayLine]) -> Result<(), StoreError> {
        check_close_lines(&self.run, lines, &mut self.paid, &mut self.total)?;
        insert_pay_lines(&mut self.tx, lines).await
    }

    async fn finish(mut self: Box<Self>, finish: FinishClose) -> Result<PayRun, StoreError> {
        check_finish(&finish, &self.paid, self.total)?;
        let run_id = self.run.id;
        let tx = &mut self.tx;
        sqlx::query("UPDATE pay_runs SET participant_count = ?, total = ?, basis = ? WHERE id = ?")
            .bind(finish.participant_count)
            .bind(decimal(finish.total))
            .bind(&finish.basis)
            .bind(run_id)
            .execute(&mut **tx)
            .await?;
        let foreign: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM pay_lines l JOIN participants p ON p.id = l.participant_id \
             WHERE l.run_id = ? AND p.municipality_id <> ? LIMIT 1",
        )
        .bind(run_id)
        .bind(&self.run.municipality_id)
        .fetch_optional(&mut **tx)
        .await?;
        if foreign.is_some() {
            return Err(StoreError::invalid_input(
                "a pay line names a participant of another municipality",
            ));
        }
        // The write lock kept every mark as read, so the version check only
        // guards against a caller handing back a version it did not read.
        for chunk in finish.recomputed.chunks(MARKS_PER_UPDATE) {
            let mut update = QueryBuilder::<Sqlite>::new(
                "UPDATE recompute_marks SET recompute_from = NULL FROM (",
            );
            update.push_values(chunk, |mut row, (participant_id, version)| {
                row.push_bind(*participant_id).push_bind(*version);
            });
            update.push(
                ") AS seen WHERE recompute_marks.participant_id = seen.column1 \
                 AND recompute_marks.version = seen.column2",
            );
            update.build().execute(&mut **tx).await?;
        }
        insert_events(tx, &finish.events).await?;
        insert_audit(tx, &finish.audit).await?;
        self.tx.commit().await?;
        Ok(PayRun {
            id: run_id,
            municipality_id: self.run.municipality_id.clone(),
            month: self.run.month,
            state: RunState::Closed,
            closed_at: self.run.closed_at,
            participant_count: finish.participant_count,
            total: finish.total,
        })
    }
}

/// A participant's mark from the chunk query; a missing mark recomputes everything.
fn mark(row: &SqliteRow) -> Result<RecomputeMark, StoreError> {
    let marked: bool = row.try_get("marked")?;
    if !marked {
        return Ok(RecomputeMark {
            from: Some(RECOMPUTE_EVERYTHING),
            version: 0,
        });
    }
    Ok(RecomputeMark {
        from: row.try_get("recompute_from")?,
        version: row.try_get("version")?,
    })
}

/// Runs one of the chunk's facts queries (parameters: municipality, first and
/// last id of the chunk) and hands each row to `each` as it arrives, so that a
/// chunk's rows are never all held at once.
async fn for_each_row(
    conn: &mut SqliteConnection,
    sql: &'static str,
    municipality: &str,
    first: Uuid,
    last: Uuid,
    mut each: impl FnMut(&SqliteRow) -> Result<(), StoreError>,
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
