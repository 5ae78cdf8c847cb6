//! Pay runs as read back: a municipality's runs with the participants each
//! held, a run's lines for export or streaming (with the municipality's pay
//! codes), a closed run with its totals, and what closed runs paid for one
//! participant's month. Closing and payment
//! confirmation themselves are in [`super::periods`].

use std::collections::HashMap;
use std::sync::Arc;

use kvp_rules::{MonthResult, YearMonth};
use kvp_store::{HeldParticipant, LineTotal, PayLine, PayRun, Repository};
use rust_decimal::Decimal;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{Actor, Payroll};
use crate::client_identity::Scope;
use crate::error::ServiceError;

/// Lines fetched per page when a run's lines are streamed.
const PAGE: u32 = 1000;

/// A run's lines with what an export needs beside them.
#[derive(Debug, Clone)]
pub struct RunExport {
    /// The run.
    pub run: PayRun,
    /// The municipality's pay codes (line code → lønnsart).
    pub pay_codes: serde_json::Value,
    /// The participants' employee numbers, where registered.
    pub employee_numbers: HashMap<Uuid, String>,
    /// Every line, by participant and `seq`.
    pub lines: Vec<PayLine>,
    /// The participants the run held (paid nothing), by participant.
    pub held: Vec<HeldParticipant>,
}

/// A run with the participants it held.
#[derive(Debug, Clone)]
pub struct RunSummary {
    /// The run.
    pub run: PayRun,
    /// The participants it held (paid nothing), by participant.
    pub held: Vec<HeldParticipant>,
    /// The participants it paid without an employee number, by id.
    pub without_employee_number: Vec<Uuid>,
}

/// A closed run with its lines summed per line code.
#[derive(Debug, Clone)]
pub struct ClosedPeriod {
    /// The run.
    pub run: PayRun,
    /// False when the month had been closed before.
    pub created: bool,
    /// The run's lines summed per line code (see [`kvp_store::PayRunStore::run_totals`]).
    pub totals: Vec<LineTotal>,
    /// The participants the run held (paid nothing), by participant.
    pub held: Vec<HeldParticipant>,
    /// The participants it paid without an employee number, by id.
    pub without_employee_number: Vec<Uuid>,
}

/// A line a closed run paid for a month.
#[derive(Debug, Clone)]
pub struct PaidForMonth {
    /// The run.
    pub run_id: Uuid,
    /// The month the run paid.
    pub run_month: YearMonth,
    /// The line.
    pub line: PayLine,
}

/// What was paid and corrected for a participant's month, and what the rules
/// give for it now.
#[derive(Debug, Clone)]
pub struct MonthStatement {
    /// Every line attributed to the month, in every closed run, oldest run first.
    pub paid: Vec<PaidForMonth>,
    /// Sum of those lines.
    pub paid_total: Decimal,
    /// The rules engine's current result.
    pub current: MonthResult,
}

/// A run's lines a page at a time, so a run of any size streams in flat memory.
pub struct PayLinePages {
    /// The run.
    pub run: PayRun,
    /// The municipality's pay codes (line code → lønnsart).
    pub pay_codes: serde_json::Value,
    /// The participants' employee numbers, where registered.
    pub employee_numbers: HashMap<Uuid, String>,
    store: Arc<dyn Repository>,
    after: Option<(Uuid, i32)>,
}

impl PayLinePages {
    /// The next page of lines; empty at the end.
    pub async fn next_page(&mut self) -> Result<Vec<PayLine>, ServiceError> {
        let page = self
            .store
            .list_pay_lines_after(self.run.id, self.after, PAGE)
            .await?;
        if let Some(last) = page.last() {
            self.after = Some((last.participant_id, last.seq));
        }
        Ok(page)
    }
}

impl Payroll {
    /// A pay run.
    pub async fn run(&self, id: Uuid) -> Result<PayRun, ServiceError> {
        Ok(self.store.get_run(id).await?)
    }

    /// A municipality's pay runs, by month, each with the participants it held.
    pub async fn runs(&self, municipality_id: &str) -> Result<Vec<RunSummary>, ServiceError> {
        let mut summaries = Vec::new();
        for run in self.store.list_runs(municipality_id).await? {
            summaries.push(RunSummary {
                held: self.held(&run).await?,
                without_employee_number: self.store.without_employee_number(run.id).await?,
                run,
            });
        }
        Ok(summaries)
    }

    /// The participants a run held (no query for a run that held nobody).
    async fn held(&self, run: &PayRun) -> Result<Vec<HeldParticipant>, ServiceError> {
        if run.held_count == 0 {
            return Ok(Vec::new());
        }
        Ok(self.store.list_held(run.id).await?)
    }

    /// A run's lines with the municipality's pay codes, for a file export.
    pub async fn run_export(&self, run_id: Uuid) -> Result<RunExport, ServiceError> {
        let run = self.store.get_run(run_id).await?;
        let pay_codes = self
            .store
            .get_municipality(&run.municipality_id)
            .await?
            .pay_codes;
        let lines = self.store.list_pay_lines(run_id).await?;
        let held = self.held(&run).await?;
        let employee_numbers = self.employee_numbers(&run.municipality_id).await?;
        Ok(RunExport {
            run,
            pay_codes,
            employee_numbers,
            lines,
            held,
        })
    }

    /// A run's lines a page at a time, if `scope` reaches the run's municipality.
    pub async fn pay_lines(
        &self,
        run_id: Uuid,
        scope: &Scope,
    ) -> Result<PayLinePages, ServiceError> {
        let run = self.store.get_run(run_id).await?;
        scope.permit(&run.municipality_id)?;
        let pay_codes = self
            .store
            .get_municipality(&run.municipality_id)
            .await?
            .pay_codes;
        let employee_numbers = self.employee_numbers(&run.municipality_id).await?;
        Ok(PayLinePages {
            run,
            pay_codes,
            employee_numbers,
            store: self.store.clone(),
            after: None,
        })
    }

    /// Closes a municipality's month ([`Payroll::close_period`]) and sums the
    /// run's lines by the database: a run may hold hundreds of thousands.
    pub async fn close_period_with_totals(
        &self,
        municipality_id: &str,
        month: YearMonth,
        actor: &Actor,
        now: OffsetDateTime,
    ) -> Result<ClosedPeriod, ServiceError> {
        let (run, created) = self
            .close_period(municipality_id, month, actor, now)
            .await?;
        let totals = self.store.run_totals(run.id).await?;
        let held = self.held(&run).await?;
        let without_employee_number = self.store.without_employee_number(run.id).await?;
        Ok(ClosedPeriod {
            run,
            created,
            totals,
            held,
            without_employee_number,
        })
    }

    /// What closed runs paid for a participant's month, line by line, and
    /// what the rules give for it now.
    pub async fn month_statement(
        &self,
        participant_id: Uuid,
        month: YearMonth,
    ) -> Result<MonthStatement, ServiceError> {
        let participant = self.store.get_participant(participant_id).await?;
        let mut paid = Vec::new();
        let mut runs = self.store.list_runs(&participant.municipality_id).await?;
        runs.sort_by_key(|r| r.month);
        for run in runs.iter().filter(|r| r.month >= month.first_day()) {
            for line in self.store.list_pay_lines(run.id).await? {
                if line.participant_id == participant_id
                    && line.attributed_month == Some(month.first_day())
                {
                    paid.push(PaidForMonth {
                        run_id: run.id,
                        run_month: YearMonth::of(run.month),
                        line,
                    });
                }
            }
        }
        let paid_total = paid.iter().map(|l| l.line.amount).sum();
        let current = self.month(participant_id, month).await?;
        Ok(MonthStatement {
            paid,
            paid_total,
            current,
        })
    }
}

/// The pay code a line is imported by: as frozen at close, or (on lines
/// closed before codes were kept) the municipality's now, else the line code.
pub fn line_pay_code(line: &PayLine, pay_codes: &serde_json::Value) -> String {
    line.pay_code.clone().unwrap_or_else(|| {
        pay_codes[line.line_code.as_str()]
            .as_str()
            .unwrap_or(line.line_code.as_str())
            .to_owned()
    })
}

/// The employee number a line is imported by: as frozen at close, or (on
/// lines closed before numbers were kept) the one registered now; empty
/// when there is none.
pub fn line_employee_number(line: &PayLine, employee_numbers: &HashMap<Uuid, String>) -> String {
    line.employee_number
        .clone()
        .or_else(|| {
            line.pay_code
                .is_none()
                .then(|| employee_numbers.get(&line.participant_id).cloned())
                .flatten()
        })
        .unwrap_or_default()
}
