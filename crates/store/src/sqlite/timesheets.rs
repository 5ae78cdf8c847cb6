//! Signed timesheets and their day entries: the SQLite implementation.

use super::*;
use crate::repository::TimesheetStore;

#[async_trait]
impl TimesheetStore for SqliteStore {
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
        .bind(instant(ts.received_at)?)
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
                Violation::ForeignKey(_) => {
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
            .bind(decimal(entry.hours))
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
}
