// Signed timesheets and their day entries: the statements of both backends, written once.
//
// Included by `postgres/timesheets.rs` and `sqlite/timesheets.rs`, each of which brings
// into scope what this code names: its store, connection and row types, how
// it binds values, its constraint names, row locks and how a timesheet and
// its entries are inserted (`<backend>/dialect.rs`, `<backend>/mod.rs`), and
// its row mappers (`rows.rs`).
use crate::repository::TimesheetStore;

#[async_trait]
impl TimesheetStore for Store {
    async fn accept_timesheet(&self, new: &NewTimesheet) -> Result<AcceptOutcome, StoreError> {
        check_new_timesheet(new)?;
        let ts = &new.timesheet;
        let mut tx = self.begin_write().await?;

        // Lock the participant: concurrent accepts for them queue here, and
        // each one's checks below see what the ones before it committed. (On
        // PostgreSQL FOR NO KEY UPDATE, which conflicts with itself but not
        // with the key-share locks a close in progress holds on the
        // participants it wrote lines for, so submissions do not wait for a
        // long close; SQLite's write transaction holds the database's lock.)
        let municipality: Option<String> = sqlx::query_scalar(concat!(
            "SELECT municipality_id FROM participants WHERE id = $1",
            for_no_key_update!()
        ))
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
            let row = sqlx::query(concat!(
                "SELECT participant_id, status, version FROM timesheets WHERE id = $1",
                for_update!()
            ))
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

        // An instant the backend cannot store (SQLite keeps the years
        // 0000–9999) is invalid input, refused before anything is inserted.
        instant(ts.received_at)?;
        // Inserted only if no accepted timesheet overlaps its period: the
        // participant's lock above makes the check and the insert one step.
        // The superseded timesheet is no longer ACCEPTED, so it does not count.
        let inserted = insert_timesheet_unless_overlapping(&mut tx, new)
            .await
            .map_err(|e| {
                on_violation(e, |violation| match violation {
                    Violation::Unique(constraint::TIMESHEETS_PKEY) => {
                        Some(StoreError::conflict("the timesheet id is taken"))
                    }
                    Violation::Unique(constraint::TIMESHEETS_DIGEST_KEY) => Some(
                        StoreError::conflict("a timesheet with this digest is stored already"),
                    ),
                    Violation::ForeignKey(constraint::TIMESHEETS_MUNICIPALITY_FKEY) => {
                        Some(StoreError::not_found("municipality", &ts.municipality_id))
                    }
                    _ => None,
                })
            })?;
        if !inserted {
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
        .fetch_optional(self.read_pool())
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
        let mut conn = self.read_pool().acquire().await?;
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
        .fetch_all(self.read_pool())
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
        .fetch_all(self.read_pool())
        .await?;
        rows::all(found, rows::day_entry)
    }
}
