//! Pay runs as read back: a municipality's runs with the participants each
//! held, a run's lines for export or streaming (as the payroll system
//! imports them: [`LineReader`]), a closed run with its totals, and what closed runs paid for one
//! participant's month. Closing and payment
//! confirmation themselves are in [`super::periods`].

use std::collections::HashMap;
use std::sync::Arc;

use kvp_rules::{MonthResult, YearMonth};
use kvp_store::{HeldParticipant, LineReporting, LineTotal, PayLine, PayRun, Repository};
use rust_decimal::Decimal;
use time::OffsetDateTime;
use uuid::Uuid;

use super::{Actor, Payroll};
use crate::client_identity::Scope;
use crate::error::ServiceError;

/// Lines fetched per page when a run's lines are streamed.
const PAGE: u32 = 1000;

/// How a run's lines are read for the payroll system: with what each line
/// froze at close, or, on lines closed before that was kept, with the
/// municipality's settings now.
#[derive(Debug, Clone)]
pub struct LineReader {
    municipality_id: String,
    run_month: YearMonth,
    pay_codes: serde_json::Value,
    employee_numbers: HashMap<Uuid, String>,
    reporting: LineReporting,
}

/// A pay line as the payroll system imports it.
#[derive(Debug, Clone)]
pub struct HandedOffLine<'a> {
    /// The line as stored.
    pub line: &'a PayLine,
    /// The participant's employee number; empty when none is registered.
    pub employee_number: String,
    /// The pay code (lønnsart).
    pub pay_code: String,
    /// The a-melding coding and the accounting dimensions.
    pub reporting: LineReporting,
    /// The a-melding earning period: the month the line pays or corrects,
    /// the run's month for a recovery line.
    pub earning_period: YearMonth,
}

impl LineReader {
    /// The run's municipality.
    pub fn municipality_id(&self) -> &str {
        &self.municipality_id
    }

    /// The run's month.
    pub fn run_month(&self) -> YearMonth {
        self.run_month
    }

    /// A line as the payroll system imports it.
    pub fn read<'a>(&self, line: &'a PayLine) -> HandedOffLine<'a> {
        HandedOffLine {
            line,
            employee_number: line_employee_number(line, &self.employee_numbers),
            pay_code: line_pay_code(line, &self.pay_codes),
            reporting: line
                .reporting
                .clone()
                .unwrap_or_else(|| self.reporting.clone()),
            earning_period: line.attributed_month.map_or(self.run_month, YearMonth::of),
        }
    }
}

/// The participants' lines of a run, grouped: one group per participant as
/// the pages arrive in participant order (a group may span two pages).
#[derive(Debug, Default)]
pub struct ParticipantGroups {
    open: Vec<PayLine>,
}

impl ParticipantGroups {
    /// Adds a page; answers the groups it completed.
    pub fn add(&mut self, page: Vec<PayLine>) -> Vec<Vec<PayLine>> {
        let mut done = Vec::new();
        for line in page {
            if self
                .open
                .first()
                .is_some_and(|first| first.participant_id != line.participant_id)
            {
                done.push(std::mem::take(&mut self.open));
            }
            self.open.push(line);
        }
        done
    }

    /// The last group, at the end of the pages.
    pub fn finish(self) -> Option<Vec<PayLine>> {
        (!self.open.is_empty()).then_some(self.open)
    }
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
    /// How its lines are read for the payroll system.
    pub reader: LineReader,
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

    /// A run's lines a page at a time, if `scope` reaches the run's
    /// municipality: from the first, or after the line `after` (where a
    /// stream broken off resumes; a line not of the run is a field violation
    /// of `after_field`).
    pub async fn pay_lines(
        &self,
        run_id: Uuid,
        scope: &Scope,
        after: Option<(Uuid, &str)>,
    ) -> Result<PayLinePages, ServiceError> {
        let run = self.store.get_run(run_id).await?;
        scope.permit(&run.municipality_id)?;
        let after = match after {
            None => None,
            Some((line_id, field)) => {
                let line = self
                    .store
                    .find_pay_line(run_id, line_id)
                    .await?
                    .ok_or_else(|| ServiceError::field(field, "is not a line of this run"))?;
                Some((line.participant_id, line.seq))
            }
        };
        let municipality = self.store.get_municipality(&run.municipality_id).await?;
        let month = YearMonth::of(run.month);
        let income = super::handoff::income_coding(month)?;
        let reader = LineReader {
            municipality_id: run.municipality_id.clone(),
            run_month: month,
            employee_numbers: self.employee_numbers(&run.municipality_id).await?,
            reporting: LineReporting {
                income,
                employer_contribution: municipality.handoff.employer_contribution,
                accounting: municipality.handoff.accounting,
            },
            pay_codes: municipality.pay_codes,
        };
        Ok(PayLinePages {
            run,
            reader,
            store: self.store.clone(),
            after,
        })
    }

    /// The participants a run held and those it paid without an employee
    /// number, for its JSON export.
    pub async fn run_exceptions(
        &self,
        run: &PayRun,
    ) -> Result<(Vec<HeldParticipant>, Vec<Uuid>), ServiceError> {
        Ok((
            self.held(run).await?,
            self.store.without_employee_number(run.id).await?,
        ))
    }

    /// A run with its totals and the participants it held or paid without
    /// an employee number, if `scope` reaches its municipality.
    pub async fn run_with_totals(
        &self,
        run_id: Uuid,
        scope: &Scope,
    ) -> Result<ClosedPeriod, ServiceError> {
        let run = self.store.get_run(run_id).await?;
        scope.permit(&run.municipality_id)?;
        self.with_totals(run, false).await
    }

    /// A page of a municipality's runs with their totals, oldest month
    /// first: at most `limit` after the month `after` (or from the first);
    /// only `month`'s run when it is given. Answers whether more follow.
    pub async fn runs_with_totals(
        &self,
        municipality_id: &str,
        month: Option<YearMonth>,
        after: Option<YearMonth>,
        limit: usize,
    ) -> Result<(Vec<ClosedPeriod>, bool), ServiceError> {
        let mut runs = self.store.list_runs(municipality_id).await?;
        runs.sort_by_key(|r| r.month);
        let mut page = runs
            .into_iter()
            .filter(|r| month.is_none_or(|m| r.month == m.first_day()))
            .filter(|r| after.is_none_or(|a| r.month > a.first_day()))
            .take(limit + 1)
            .collect::<Vec<_>>();
        let more = page.len() > limit;
        page.truncate(limit);
        let mut out = Vec::with_capacity(page.len());
        for run in page {
            out.push(self.with_totals(run, false).await?);
        }
        Ok((out, more))
    }

    /// A run with what its summary needs beside it.
    async fn with_totals(&self, run: PayRun, created: bool) -> Result<ClosedPeriod, ServiceError> {
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
        self.with_totals(run, created).await
    }

    /// What closed runs paid for a participant's month, line by line, and
    /// what the rules give for it now.
    pub async fn month_statement(
        &self,
        participant_id: Uuid,
        month: YearMonth,
    ) -> Result<MonthStatement, ServiceError> {
        let participant = self.store.get_participant(participant_id).await?;
        // The runs' months (a municipality's few runs), and this month's
        // lines of this participant only: never whole runs.
        let run_months: std::collections::HashMap<Uuid, time::Date> = self
            .store
            .list_runs(&participant.municipality_id)
            .await?
            .into_iter()
            .map(|r| (r.id, r.month))
            .collect();
        let mut paid = Vec::new();
        for line in self
            .store
            .list_lines_for_month(participant_id, month.first_day())
            .await?
        {
            let run_month = run_months.get(&line.run_id).copied().ok_or_else(|| {
                ServiceError::internal(anyhow::anyhow!(
                    "a pay line's run is not the municipality's"
                ))
            })?;
            paid.push(PaidForMonth {
                run_id: line.run_id,
                run_month: YearMonth::of(run_month),
                line,
            });
        }
        // By run month, then as each run wrote them (the sort is stable).
        paid.sort_by_key(|p| p.run_month);
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
fn line_pay_code(line: &PayLine, pay_codes: &serde_json::Value) -> String {
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
fn line_employee_number(line: &PayLine, employee_numbers: &HashMap<Uuid, String>) -> String {
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
