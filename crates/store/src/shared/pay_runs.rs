// Pay runs, their lines, the ledger of what was paid and payment confirmations: the statements of both backends, written once.
//
// Included by `postgres/pay_runs.rs` and `sqlite/pay_runs.rs`, each of which brings
// into scope what this code names: its store, connection and row types, how
// it binds values and sums amounts, its constraint names and locks
// (`<backend>/dialect.rs`, `<backend>/mod.rs`), and its row mappers (`rows.rs`).
use crate::repository::PayRunStore;

#[async_trait]
impl PayRunStore for Store {
    async fn begin_close(&self, run: &OpenRun) -> Result<BeginClose, StoreError> {
        close::begin(self, run).await
    }

    async fn get_run(&self, id: Uuid) -> Result<PayRun, StoreError> {
        let mut conn = self.read_pool().acquire().await?;
        select_run(&mut conn, id)
            .await?
            .ok_or_else(|| StoreError::not_found("pay run", id))
    }

    async fn find_run(
        &self,
        municipality_id: &str,
        month: Date,
    ) -> Result<Option<PayRun>, StoreError> {
        let mut conn = self.read_pool().acquire().await?;
        select_run_by_month(&mut conn, municipality_id, month).await
    }

    async fn list_runs(&self, municipality_id: &str) -> Result<Vec<PayRun>, StoreError> {
        let found = sqlx::query(concat!(
            "SELECT ",
            pay_run_columns!(),
            " FROM pay_runs WHERE municipality_id = $1 ORDER BY month"
        ))
        .bind(municipality_id)
        .fetch_all(self.read_pool())
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
        .fetch_all(self.read_pool())
        .await?;
        rows::all(found, rows::pay_line)
    }

    async fn list_lines_for_month(
        &self,
        participant_id: Uuid,
        month: Date,
    ) -> Result<Vec<PayLine>, StoreError> {
        // The (participant_id, attributed_month) index finds them.
        let found = sqlx::query(concat!(
            "SELECT ",
            pay_line_columns!(),
            " FROM pay_lines WHERE participant_id = $1 AND attributed_month = $2 \
             ORDER BY run_id, seq"
        ))
        .bind(participant_id)
        .bind(month)
        .fetch_all(self.read_pool())
        .await?;
        rows::all(found, rows::pay_line)
    }

    async fn list_held(&self, run_id: Uuid) -> Result<Vec<HeldParticipant>, StoreError> {
        let found = sqlx::query(concat!(
            "SELECT ",
            held_participant_columns!(),
            " FROM held_participants WHERE run_id = $1 ORDER BY participant_id"
        ))
        .bind(run_id)
        .fetch_all(self.read_pool())
        .await?;
        rows::all(found, rows::held_participant)
    }

    async fn without_employee_number(&self, run_id: Uuid) -> Result<Vec<Uuid>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT DISTINCT participant_id FROM pay_lines \
             WHERE run_id = $1 AND employee_number IS NULL ORDER BY participant_id",
        )
        .bind(run_id)
        .fetch_all(self.read_pool())
        .await?)
    }

    async fn current_holds(
        &self,
        municipality_id: &str,
    ) -> Result<Vec<HeldParticipant>, StoreError> {
        let found = sqlx::query(concat!(
            "SELECT ",
            held_participant_columns!(),
            " FROM held_participants WHERE run_id = \
             (SELECT id FROM pay_runs WHERE municipality_id = $1 ORDER BY month DESC LIMIT 1) \
             ORDER BY month, participant_id"
        ))
        .bind(municipality_id)
        .fetch_all(self.read_pool())
        .await?;
        rows::all(found, rows::held_participant)
    }

    async fn run_totals(&self, run_id: Uuid) -> Result<Vec<LineTotal>, StoreError> {
        // The sums to the øre and of the quantities (`sum_of_amounts!`,
        // `sum_of_quantities!`), read by the backend's mapper.
        let found = sqlx::query(concat!(
            "SELECT l.line_code, coalesce(l.attributed_month = r.month, ",
            sql_false!(),
            ") AS of_run_month, COUNT(*) AS line_count, ",
            sum_of_amounts!(),
            " FROM pay_lines l JOIN pay_runs r ON r.id = l.run_id WHERE l.run_id = $1 \
             GROUP BY l.line_code, of_run_month ORDER BY l.line_code, of_run_month"
        ))
        .bind(run_id)
        .fetch_all(self.read_pool())
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
                .fetch_all(self.read_pool())
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
                .fetch_all(self.read_pool())
                .await?
            }
        };
        rows::all(found, rows::pay_line)
    }

    async fn ledger(&self, municipality_id: &str) -> Result<Vec<LedgerEntry>, StoreError> {
        // The sums to the øre and of the quantities (`sum_of_amounts!`,
        // `sum_of_quantities!`), read by the backend's mapper.
        let found = sqlx::query(concat!(
            "SELECT l.participant_id, l.attributed_month, l.line_code, ",
            sum_of_amounts!(),
            ", ",
            sum_of_quantities!(),
            " FROM pay_runs r JOIN pay_lines l ON l.run_id = r.id \
             WHERE r.municipality_id = $1 \
             AND NOT EXISTS (SELECT 1 FROM payment_confirmations c \
                             WHERE c.run_id = l.run_id AND c.participant_id = l.participant_id \
                             AND c.outcome = 'FAILED') \
             GROUP BY l.participant_id, l.attributed_month, l.line_code \
             ORDER BY l.participant_id, l.attributed_month NULLS FIRST, l.line_code"
        ))
        .bind(municipality_id)
        .fetch_all(self.read_pool())
        .await?;
        rows::all(found, rows::ledger_entry)
    }

    async fn confirm_payment(
        &self,
        confirmation: &Confirmation,
        events: &[NewOutboxEvent],
        audit: &NewAuditEntry,
    ) -> Result<ConfirmOutcome, StoreError> {
        let mut tx = self.begin_write().await?;
        let mut run = lock_run(&mut tx, confirmation.run_id).await?;
        match record_confirmation(&mut tx, confirmation).await? {
            Recorded::Before => {
                tx.rollback().await?;
                Ok(ConfirmOutcome::Duplicate(run))
            }
            Recorded::OtherValues => Err(StoreError::conflict(
                "the payslip is confirmed already, with other values",
            )),
            Recorded::Now => {
                update_run_state(&mut tx, &mut run).await?;
                commit_with(tx, events, audit).await?;
                Ok(ConfirmOutcome::Recorded(run))
            }
        }
    }

    async fn confirm_payments(
        &self,
        run_id: Uuid,
        batch: &[PaymentToConfirm],
    ) -> Result<(PayRun, Vec<bool>), StoreError> {
        let mut tx = self.begin_write().await?;
        let mut run = lock_run(&mut tx, run_id).await?;
        let mut duplicates = Vec::with_capacity(batch.len());
        let mut conflicts = Vec::new();
        for item in batch {
            let c = &item.confirmation;
            if c.run_id != run_id {
                return Err(StoreError::invalid_input(
                    "a confirmation of a batch names another run",
                ));
            }
            match record_confirmation(&mut tx, c).await? {
                Recorded::Now => duplicates.push(false),
                Recorded::Before => duplicates.push(true),
                Recorded::OtherValues => conflicts.push(c.participant_id.to_string()),
            }
        }
        if !conflicts.is_empty() {
            // Dropping the transaction writes nothing of the batch.
            return Err(StoreError::conflict(format!(
                "payslips confirmed already with other values (participants {}): \
                 nothing of the batch was recorded",
                conflicts.join(", ")
            )));
        }
        if duplicates.iter().all(|d| *d) {
            tx.rollback().await?;
            return Ok((run, duplicates));
        }
        update_run_state(&mut tx, &mut run).await?;
        for (item, duplicate) in batch.iter().zip(&duplicates) {
            if !duplicate {
                insert_events(&mut tx, &item.events).await?;
                insert_audit(&mut tx, &item.audit).await?;
            }
        }
        tx.commit().await?;
        Ok((run, duplicates))
    }

    async fn find_pay_line(
        &self,
        run_id: Uuid,
        line_id: Uuid,
    ) -> Result<Option<PayLine>, StoreError> {
        let found = sqlx::query(concat!(
            "SELECT ",
            pay_line_columns!(),
            " FROM pay_lines WHERE id = $1 AND run_id = $2"
        ))
        .bind(line_id)
        .bind(run_id)
        .fetch_optional(self.read_pool())
        .await?;
        found.as_ref().map(rows::pay_line).transpose()
    }

    async fn payslip_by_month(
        &self,
        run_id: Uuid,
        participant_id: Uuid,
    ) -> Result<Vec<(Option<time::Date>, rust_decimal::Decimal)>, StoreError> {
        // The sums to the øre (`sum_of_amounts!`), read by the backend's
        // mapper; the (run, participant, seq) key finds the payslip's lines.
        let found = sqlx::query(concat!(
            "SELECT l.attributed_month, ",
            sum_of_amounts!(),
            " FROM pay_lines l WHERE l.run_id = $1 AND l.participant_id = $2 \
             GROUP BY l.attributed_month"
        ))
        .bind(run_id)
        .bind(participant_id)
        .fetch_all(self.read_pool())
        .await?;
        let mut months = found
            .iter()
            .map(rows::attributed_amount)
            .collect::<Result<Vec<_>, _>>()?;
        // The backends order NULL differently: sorted here, NULL first.
        months.sort_by_key(|(month, _)| *month);
        Ok(months)
    }

    async fn list_confirmations(&self, run_id: Uuid) -> Result<Vec<Confirmation>, StoreError> {
        let found = sqlx::query(concat!(
            "SELECT ",
            confirmation_columns!(),
            " FROM payment_confirmations WHERE run_id = $1 ORDER BY participant_id"
        ))
        .bind(run_id)
        .fetch_all(self.read_pool())
        .await?;
        rows::all(found, rows::confirmation)
    }

    async fn find_confirmation(
        &self,
        run_id: Uuid,
        participant_id: Uuid,
    ) -> Result<Option<Confirmation>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            confirmation_columns!(),
            " FROM payment_confirmations WHERE run_id = $1 AND participant_id = $2"
        ))
        .bind(run_id)
        .bind(participant_id)
        .fetch_optional(self.read_pool())
        .await?
        .as_ref()
        .map(rows::confirmation)
        .transpose()
    }
}

/// What recording a confirmation found.
enum Recorded {
    /// It is recorded now (not committed yet).
    Now,
    /// The same confirmation was recorded before.
    Before,
    /// Another confirmation of the payslip was recorded before.
    OtherValues,
}

/// The run, locked (PostgreSQL; SQLite's write transaction holds the
/// database): confirmations of one run queue here, so a retry finds the
/// confirmation before it, and the count that sets the state is final.
async fn lock_run(tx: &mut WriteTx, run_id: Uuid) -> Result<PayRun, StoreError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        pay_run_columns!(),
        " FROM pay_runs WHERE id = $1",
        for_update!()
    ))
    .bind(run_id)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(row) = row else {
        return Err(StoreError::not_found("pay run", run_id));
    };
    rows::pay_run(&row)
}

/// Records one payslip's confirmation in a transaction holding its run's
/// lock, unless one was recorded before. A participant without lines in the
/// run is [`StoreError::InvalidState`].
async fn record_confirmation(tx: &mut WriteTx, c: &Confirmation) -> Result<Recorded, StoreError> {
    let stored = sqlx::query(concat!(
        "SELECT ",
        confirmation_columns!(),
        " FROM payment_confirmations WHERE run_id = $1 AND participant_id = $2"
    ))
    .bind(c.run_id)
    .bind(c.participant_id)
    .fetch_optional(&mut **tx)
    .await?;
    if let Some(row) = stored {
        return Ok(if rows::confirmation(&row)?.same_payment(c) {
            Recorded::Before
        } else {
            Recorded::OtherValues
        });
    }
    let has_lines: Option<Uuid> = sqlx::query_scalar(
        "SELECT participant_id FROM pay_lines WHERE run_id = $1 AND participant_id = $2 LIMIT 1",
    )
    .bind(c.run_id)
    .bind(c.participant_id)
    .fetch_optional(&mut **tx)
    .await?;
    if has_lines.is_none() {
        return Err(StoreError::invalid_state(format!(
            "participant {} has no lines in the run",
            c.participant_id
        )));
    }
    sqlx::query(concat!(
        "INSERT INTO payment_confirmations (",
        confirmation_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    ))
    .bind(c.run_id)
    .bind(c.participant_id)
    .bind(decimal(c.gross))
    .bind(decimal(c.tax_withheld))
    .bind(decimal(c.net_paid))
    .bind(c.outcome.as_str())
    .bind(&c.failure_reason)
    .bind(c.payment_date)
    .bind(instant(c.confirmed_at)?)
    .execute(&mut **tx)
    .await
    .map_err(|e| {
        on_violation(e, |violation| match violation {
            Violation::Unique(constraint::PAYMENT_CONFIRMATIONS_PKEY) => {
                Some(StoreError::conflict("the payslip is confirmed already"))
            }
            _ => None,
        })
    })?;
    Ok(Recorded::Now)
}

/// Moves a run's state on by the confirmations it has now.
async fn update_run_state(tx: &mut WriteTx, run: &mut PayRun) -> Result<(), StoreError> {
    let confirmed: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM payment_confirmations WHERE run_id = $1")
            .bind(run.id)
            .fetch_one(&mut **tx)
            .await?;
    run.state = run_state(i64::from(run.participant_count), confirmed);
    sqlx::query("UPDATE pay_runs SET state = $1 WHERE id = $2")
        .bind(run.state.as_str())
        .bind(run.id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
