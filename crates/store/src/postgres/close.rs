//! Closing a month in chunks on PostgreSQL.
//!
//! A session holds two transactions on two connections:
//!
//! - the write transaction takes a transaction-level advisory lock on the
//!   municipality (closes of one municipality, in every instance, queue on
//!   it), finds the month free, and writes the run, the lines as they come,
//!   the cleared marks, the events and the audit entry, committing them
//!   together;
//! - the read transaction (`REPEATABLE READ READ ONLY`) starts once the lock
//!   is held and reads the context and every chunk from that one snapshot,
//!   so a participant's facts, mark and ledger agree with each other and
//!   with the registered G and policy the service computes with.
//!
//! Facts may change while the close runs (timesheets are not blocked): such a
//! change moves the participant's mark on, in its own transaction, and the
//! clearing `UPDATE … WHERE version = <read>` at the finish then leaves the
//! mark alone (it waits for a concurrent change's row lock and re-checks the
//! version), so the next close recomputes what this one did not see.

use std::collections::HashSet;

use async_trait::async_trait;
use rust_decimal::Decimal;
use sqlx::postgres::{PgConnection, PgRow};
use sqlx::{Postgres, Row, Transaction};
use time::Date;
use uuid::Uuid;

use super::rows;
use super::{
    PostgresStore, Violation, insert_audit, insert_events, insert_pay_lines, on_violation,
    select_run_by_month,
};
use crate::records::{
    BeginClose, ChunkBuilder, CloseContext, CloseParticipant, FinishClose, OpenRun, PayLine,
    PayRun, RECOMPUTE_EVERYTHING, RecomputeMark, RunState, check_close_lines, check_finish,
    check_open_run,
};
use crate::{CloseSession, StoreError};

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

/// The advisory lock key of a municipality's closes (also taken by
/// [`crate::Repository::close_period`]).
pub(super) fn close_lock_key(municipality_id: &str) -> String {
    format!("kvp.close/{municipality_id}")
}

/// An open close on PostgreSQL.
struct PostgresClose {
    write: Transaction<'static, Postgres>,
    read: Transaction<'static, Postgres>,
    run: OpenRun,
    context: CloseContext,
    /// Participants with lines written so far.
    paid: HashSet<Uuid>,
    /// The sum of the lines written so far.
    total: Decimal,
}

/// See [`crate::Repository::begin_close`].
pub(super) async fn begin(store: &PostgresStore, run: &OpenRun) -> Result<BeginClose, StoreError> {
    check_open_run(run)?;
    let mut write = store.pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind(close_lock_key(&run.municipality_id))
        .execute(&mut *write)
        .await?;
    // READ COMMITTED: this statement sees every close committed before the lock.
    if let Some(existing) = select_run_by_month(&mut write, &run.municipality_id, run.month).await?
    {
        write.rollback().await?;
        return Ok(BeginClose::Closed(existing));
    }
    // The snapshot is taken by the first query below, after the lock: it
    // holds every earlier run of the municipality.
    let mut read = store
        .pool
        .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .await?;
    let context = read_context(&mut read, &run.municipality_id).await?;
    sqlx::query(concat!(
        "INSERT INTO pay_runs (",
        pay_run_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, 0, 0)"
    ))
    .bind(run.id)
    .bind(&run.municipality_id)
    .bind(run.month)
    .bind(RunState::Closed.as_str())
    .bind(run.closed_at)
    .execute(&mut *write)
    .await
    .map_err(|e| {
        on_violation(e, |violation| match violation {
            Violation::Unique("pay_runs_pkey") => {
                Some(StoreError::conflict("the pay run id is taken"))
            }
            _ => None,
        })
    })?;
    Ok(BeginClose::Open(Box::new(PostgresClose {
        write,
        read,
        run: run.clone(),
        context,
        paid: HashSet::new(),
        total: Decimal::ZERO,
    })))
}

async fn read_context(
    conn: &mut PgConnection,
    municipality_id: &str,
) -> Result<CloseContext, StoreError> {
    let municipality = sqlx::query(
        "SELECT id, name, policy_overrides, pay_codes FROM municipalities WHERE id = $1",
    )
    .bind(municipality_id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| StoreError::not_found("municipality", municipality_id))?;
    let runs = sqlx::query(concat!(
        "SELECT ",
        pay_run_columns!(),
        " FROM pay_runs WHERE municipality_id = $1 ORDER BY month"
    ))
    .bind(municipality_id)
    .fetch_all(&mut *conn)
    .await?;
    let basis: Option<Option<String>> = sqlx::query_scalar(
        "SELECT basis FROM pay_runs WHERE municipality_id = $1 ORDER BY month DESC LIMIT 1",
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
impl CloseSession for PostgresClose {
    fn context(&self) -> &CloseContext {
        &self.context
    }

    async fn participants(
        &mut self,
        after: Option<Uuid>,
        limit: u32,
        floor: Option<Date>,
    ) -> Result<Vec<CloseParticipant>, StoreError> {
        let conn = &mut *self.read;
        let found = match after {
            None => {
                sqlx::query(chunk_participants!(
                    "WHERE municipality_id = $1 ORDER BY id LIMIT $2"
                ))
                .bind(&self.run.municipality_id)
                .bind(i64::from(limit))
                .fetch_all(&mut *conn)
                .await?
            }
            Some(after) => {
                sqlx::query(chunk_participants!(
                    "WHERE municipality_id = $1 AND id > $2 ORDER BY id LIMIT $3"
                ))
                .bind(&self.run.municipality_id)
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
        let ids = chunk.ids();
        if ids.is_empty() {
            return Ok(Vec::new());
        }

        for_each_row(
            conn,
            "SELECT id, participant_id, birth_date FROM children \
             WHERE participant_id BETWEEN $2 AND $3 AND participant_id = ANY($1) \
             ORDER BY participant_id, birth_date, id",
            &ids,
            |row| {
                chunk.child(rows::child(row)?)?;
                Ok(())
            },
        )
        .await?;
        for_each_row(
            conn,
            "SELECT id, participant_id, from_date, to_date FROM sole_carer_periods \
             WHERE participant_id BETWEEN $2 AND $3 AND participant_id = ANY($1) \
             ORDER BY participant_id, from_date, id",
            &ids,
            |row| {
                chunk.sole_carer_period(rows::sole_carer_period(row)?)?;
                Ok(())
            },
        )
        .await?;
        for_each_row(
            conn,
            "SELECT id, participant_id, month, kind, amount FROM benefit_offsets \
             WHERE participant_id BETWEEN $2 AND $3 AND participant_id = ANY($1) \
             ORDER BY participant_id, month, kind, id",
            &ids,
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
                " FROM programmes \
                 WHERE participant_id BETWEEN $2 AND $3 AND participant_id = ANY($1) \
                 ORDER BY participant_id, start_date, id"
            ),
            &ids,
            |row| {
                chunk.programme(rows::programme(row)?)?;
                Ok(())
            },
        )
        .await?;
        for_each_row(
            conn,
            "SELECT g.participant_id AS owner, p.id, p.programme_id, p.from_date, p.to_date, \
                    p.kind, p.reference \
             FROM programme_pauses p JOIN programmes g ON g.id = p.programme_id \
             WHERE g.participant_id BETWEEN $2 AND $3 AND g.participant_id = ANY($1) \
             ORDER BY g.participant_id, p.from_date, p.id",
            &ids,
            |row| {
                chunk.pause(row.try_get("owner")?, rows::pause(row)?)?;
                Ok(())
            },
        )
        .await?;
        for_each_row(
            conn,
            "SELECT id, participant_id, period_from, period_to, version FROM timesheets \
             WHERE participant_id BETWEEN $2 AND $3 AND participant_id = ANY($1) \
             AND status = 'ACCEPTED' \
             ORDER BY participant_id, period_from",
            &ids,
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
            &ids,
            |row| {
                chunk.entry(rows::day_entry(row)?)?;
                Ok(())
            },
        )
        .await?;
        for_each_row(
            conn,
            concat!(
                "SELECT ",
                decision_columns!(),
                " FROM sanction_decisions \
                 WHERE participant_id BETWEEN $2 AND $3 AND participant_id = ANY($1) \
                 ORDER BY participant_id, date, entry_kind"
            ),
            &ids,
            |row| {
                chunk.decision(rows::sanction_decision(row)?)?;
                Ok(())
            },
        )
        .await?;
        // The ledger as `ledger` sums it, from each participant's first month
        // to recompute on: min(mark, floor), the floor alone for a clear
        // mark (LEAST ignores NULL), every month for a missing one; and the
        // recovery lines. Each part a range of the index on participant and month.
        let ledger = sqlx::query(
            "SELECT participant_id, attributed_month, line_code, round(SUM(amount), 2) AS amount \
             FROM (SELECT l.participant_id, l.attributed_month, l.line_code, l.amount, l.run_id \
                   FROM participants p LEFT JOIN recompute_marks m ON m.participant_id = p.id \
                   JOIN pay_lines l ON l.participant_id = p.id AND l.attributed_month >= \
                        CASE WHEN m.participant_id IS NULL THEN $4 \
                             ELSE LEAST(m.recompute_from, $3) END \
                   WHERE p.id BETWEEN $5 AND $6 AND p.id = ANY($2) \
                   UNION ALL \
                   SELECT l.participant_id, l.attributed_month, l.line_code, l.amount, l.run_id \
                   FROM pay_lines l \
                   WHERE l.participant_id BETWEEN $5 AND $6 AND l.participant_id = ANY($2) \
                   AND l.attributed_month IS NULL) l \
             JOIN pay_runs r ON r.id = l.run_id AND r.municipality_id = $1 \
             WHERE NOT EXISTS (SELECT 1 FROM payment_confirmations c \
                               WHERE c.run_id = l.run_id AND c.participant_id = l.participant_id \
                               AND c.outcome = 'FAILED') \
             GROUP BY participant_id, attributed_month, line_code \
             ORDER BY participant_id, attributed_month NULLS FIRST, line_code",
        )
        .bind(&self.run.municipality_id)
        .bind(&ids)
        .bind(floor.unwrap_or(RECOMPUTE_EVERYTHING))
        .bind(RECOMPUTE_EVERYTHING)
        .bind(ids.first())
        .bind(ids.last())
        .fetch_all(&mut *conn)
        .await?;
        for row in &ledger {
            chunk.ledger(rows::ledger_entry(row)?)?;
        }
        Ok(chunk.finish())
    }

    async fn write_lines(&mut self, lines: &[PayLine]) -> Result<(), StoreError> {
        check_close_lines(&self.run, lines, &mut self.paid, &mut self.total)?;
        insert_pay_lines(&mut self.write, lines).await
    }

    async fn finish(mut self: Box<Self>, finish: FinishClose) -> Result<PayRun, StoreError> {
        check_finish(&finish, &self.paid, self.total)?;
        // Everything is read: the snapshot is let go before any lock below.
        self.read.rollback().await?;
        let run_id = self.run.id;
        let write = &mut self.write;
        sqlx::query(
            "UPDATE pay_runs SET participant_count = $1, total = $2, basis = $3 WHERE id = $4",
        )
        .bind(finish.participant_count)
        .bind(finish.total)
        .bind(&finish.basis)
        .bind(run_id)
        .execute(&mut **write)
        .await?;
        let foreign: Option<i32> = sqlx::query_scalar(
            "SELECT 1 FROM pay_lines l JOIN participants p ON p.id = l.participant_id \
             WHERE l.run_id = $1 AND p.municipality_id <> $2 LIMIT 1",
        )
        .bind(run_id)
        .bind(&self.run.municipality_id)
        .fetch_optional(&mut **write)
        .await?;
        if foreign.is_some() {
            return Err(StoreError::invalid_input(
                "a pay line names a participant of another municipality",
            ));
        }
        // READ COMMITTED: a mark changed since the snapshot (committed, or
        // still locked by its change, which this waits for) no longer has the
        // version read, and stays for the next close.
        let (participants, versions): (Vec<Uuid>, Vec<i64>) =
            finish.recomputed.iter().copied().unzip();
        sqlx::query(
            "UPDATE recompute_marks m SET recompute_from = NULL \
             FROM UNNEST($1::uuid[], $2::int8[]) AS seen (participant_id, version) \
             WHERE m.participant_id = seen.participant_id AND m.version = seen.version",
        )
        .bind(&participants)
        .bind(&versions)
        .execute(&mut **write)
        .await?;
        insert_events(write, &finish.events).await?;
        insert_audit(write, &finish.audit).await?;
        self.write.commit().await?;
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
fn mark(row: &PgRow) -> Result<RecomputeMark, StoreError> {
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

/// Runs one of the chunk's facts queries (parameters: the chunk's participant
/// ids, and the first and last of them) and hands each row to `each` as it
/// arrives, so that a chunk's rows are never all held at once. The range lets
/// the planner scan the participant index from the first to the last id; the
/// ids alone, a small share of a large table, it would rather read the whole
/// table for.
async fn for_each_row(
    conn: &mut PgConnection,
    sql: &'static str,
    ids: &[Uuid],
    mut each: impl FnMut(&PgRow) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let (Some(first), Some(last)) = (ids.first(), ids.last()) else {
        return Ok(());
    };
    let rows = sqlx::query(sql)
        .bind(ids)
        .bind(first)
        .bind(last)
        .fetch_all(conn)
        .await?;
    for row in &rows {
        each(row)?;
    }
    Ok(())
}
