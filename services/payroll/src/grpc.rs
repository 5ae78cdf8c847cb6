//! The gRPC surface (`kvp.payroll.v1.PayrollService`): thin, delegating to the
//! payroll core and mapping its answers to the wire types.

use std::sync::Arc;

use kvp_proto::kvp::payroll::v1 as pb;
use pb::payroll_service_server::PayrollService;
use tonic::{Request, Response, Status};

use kvp_rules::{QuantityUnit, YearMonth, format_amount};
use kvp_store::{HeldParticipant, PayRun, PaymentOutcome, RunState};
use rust_decimal::Decimal;
use tokio_stream::wrappers::ReceiverStream;
use uuid::Uuid;

use crate::client_identity::{ClientKind, Gate};
use crate::error::{FieldViolation, ServiceError};
use crate::events::timestamp;
use crate::ingest::Assessment;
use crate::payroll::periods::PaymentReport;
use crate::payroll::{Actor, ClosedPeriod, HandedOffLine, Payroll};

/// The gRPC service over the payroll core.
pub struct PayrollGrpc {
    payroll: Arc<Payroll>,
    gate: Gate,
}

impl PayrollGrpc {
    /// A service over `payroll`, admitting callers through `gate`.
    pub fn new(payroll: Arc<Payroll>, gate: Gate) -> Self {
        Self { payroll, gate }
    }
}

/// A UUID in a request field.
fn uuid(text: &str, field: &str) -> Result<Uuid, ServiceError> {
    Uuid::parse_str(text).map_err(|_| ServiceError::field(field, "must be a UUID"))
}

fn run_state(state: RunState) -> pb::PayRunState {
    match state {
        RunState::Closed => pb::PayRunState::Closed,
        RunState::PartiallyConfirmed => pb::PayRunState::PartiallyConfirmed,
        RunState::Confirmed => pb::PayRunState::Confirmed,
    }
}

fn line_code(code: &str) -> i32 {
    pb::LineCode::from_str_name(&format!("LINE_CODE_{code}")).map_or(0, |c| c as i32)
}

/// The wire form of a held participant.
pub fn held_to_proto(held: &HeldParticipant) -> pb::HeldParticipant {
    pb::HeldParticipant {
        participant_id: held.participant_id.to_string(),
        month: YearMonth::of(held.month).to_string(),
        reason: held.reason.clone(),
    }
}

/// The wire form of a run with its totals and the participants it held
/// (from [`Payroll::close_period_with_totals`]).
pub fn run_to_proto(
    run: &PayRun,
    line_totals: &[kvp_store::LineTotal],
    (held, without_employee_number): (&[HeldParticipant], &[uuid::Uuid]),
) -> pb::PayRun {
    let mut totals: std::collections::BTreeMap<&str, (u32, Decimal)> = Default::default();
    let mut corrections = Decimal::ZERO;
    let mut line_count = 0u32;
    for line in line_totals {
        let count = u32::try_from(line.line_count).unwrap_or(u32::MAX);
        let total = totals.entry(line.line_code.as_str()).or_default();
        total.0 = total.0.saturating_add(count);
        total.1 += line.amount;
        line_count = line_count.saturating_add(count);
        if !line.of_run_month {
            corrections += line.amount;
        }
    }
    pb::PayRun {
        run_id: run.id.to_string(),
        municipality_id: run.municipality_id.clone(),
        month: YearMonth::of(run.month).to_string(),
        state: run_state(run.state) as i32,
        participant_count: u32::try_from(run.participant_count).unwrap_or_default(),
        line_count,
        total_amount: format_amount(run.total),
        corrections_amount: format_amount(corrections),
        line_code_totals: totals
            .into_iter()
            .map(|(code, (count, amount))| pb::LineCodeTotal {
                code: line_code(code),
                line_count: count,
                amount: format_amount(amount),
            })
            .collect(),
        closed_at: Some(timestamp(run.closed_at)),
        held_count: u32::try_from(run.held_count).unwrap_or_default(),
        held: held.iter().map(held_to_proto).collect(),
        without_employee_number: without_employee_number
            .iter()
            .map(uuid::Uuid::to_string)
            .collect(),
    }
}

/// The wire form of a run with its totals and exceptions.
fn summary_to_proto(closed: &ClosedPeriod) -> pb::PayRun {
    run_to_proto(
        &closed.run,
        &closed.totals,
        (&closed.held, &closed.without_employee_number),
    )
}

/// The longest failure reason of a payment, in characters (stored and shown).
const MAX_FAILURE_REASON_CHARS: usize = 1000;

/// A payslip's figures as the wire gives them: a `ConfirmPaymentRequest`
/// or one `PayslipPayment` of a batch.
struct WirePayment<'a> {
    participant_id: &'a str,
    gross: &'a str,
    tax_withheld: &'a str,
    net_paid: &'a str,
    outcome: i32,
    failure_reason: &'a str,
    payment_date: &'a str,
}

impl WirePayment<'_> {
    /// The payslip's report of `run_id`, or its field violations (named
    /// after `prefix`) added to `violations`.
    fn report(
        &self,
        run_id: Option<Uuid>,
        prefix: &str,
        violations: &mut Vec<FieldViolation>,
    ) -> Option<PaymentReport> {
        let field = |name: &str| format!("{prefix}{name}");
        let participant_id = Uuid::parse_str(self.participant_id)
            .map_err(|_| {
                violations.push(FieldViolation::new(
                    field("participant_id"),
                    "must be a UUID",
                ))
            })
            .ok();
        // Whole øre within the bound of sense of a payslip's figures.
        let max = kvp_rules::bounds::PAYMENT_MAX;
        let mut amount = |text: &str, name: &str| match Decimal::from_str_exact(text) {
            Ok(d) if d.round_dp(2) == d && d.abs() <= max => Some(d),
            Ok(d) if d.round_dp(2) == d => {
                violations.push(FieldViolation::new(
                    field(name),
                    format!("must lie within ±{max} kroner, the largest payslip of sense"),
                ));
                None
            }
            _ => {
                violations.push(FieldViolation::new(
                    field(name),
                    "must be an amount in kroner, e.g. 1234.56",
                ));
                None
            }
        };
        let gross = amount(self.gross, "gross");
        let tax = amount(self.tax_withheld, "tax_withheld");
        let net = amount(self.net_paid, "net_paid");
        let outcome = match pb::PaymentOutcome::try_from(self.outcome) {
            Ok(pb::PaymentOutcome::Paid) => Some(PaymentOutcome::Paid),
            Ok(pb::PaymentOutcome::Failed) => Some(PaymentOutcome::Failed),
            _ => {
                violations.push(FieldViolation::new(
                    field("outcome"),
                    "must be PAID or FAILED",
                ));
                None
            }
        };
        if let Some(v) = kvp_problem::text_violation(
            &field("failure_reason"),
            self.failure_reason,
            MAX_FAILURE_REASON_CHARS,
        ) {
            violations.push(v);
        }
        let payment_date = if self.payment_date.is_empty() {
            None
        } else {
            let date = crate::ingest::parse_date(self.payment_date);
            if date.is_none() {
                violations.push(FieldViolation::new(
                    field("payment_date"),
                    "must be a date YYYY-MM-DD",
                ));
            }
            date
        };
        let (Some(run_id), Some(participant_id), Some(gross), Some(tax), Some(net), Some(outcome)) =
            (run_id, participant_id, gross, tax, net, outcome)
        else {
            return None;
        };
        Some(PaymentReport {
            run_id,
            participant_id,
            gross,
            tax_withheld: tax,
            net_paid: net,
            outcome,
            failure_reason: (!self.failure_reason.is_empty())
                .then(|| self.failure_reason.to_owned()),
            payment_date,
        })
    }
}

/// `ListPayRuns` page tokens: opaque to callers, the month of the last run
/// of the page before.
mod page_token {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use kvp_rules::YearMonth;

    use crate::error::ServiceError;

    const PREFIX: &str = "runs-after:";

    /// The token of a page that ends at `month`.
    pub fn encode(month: YearMonth) -> String {
        URL_SAFE_NO_PAD.encode(format!("{PREFIX}{month}"))
    }

    /// The month a token continues after; none for an empty token.
    pub fn decode(token: &str) -> Result<Option<YearMonth>, ServiceError> {
        if token.is_empty() {
            return Ok(None);
        }
        let invalid = || ServiceError::field("page_token", "is not a token this service gave");
        let text = URL_SAFE_NO_PAD.decode(token).map_err(|_| invalid())?;
        let text = String::from_utf8(text).map_err(|_| invalid())?;
        text.strip_prefix(PREFIX)
            .and_then(|month| month.parse().ok())
            .map(Some)
            .ok_or_else(invalid)
    }
}

/// The wire form of a pay line as the payroll system imports it.
pub fn line_to_proto(handed: &HandedOffLine<'_>) -> pb::PayLine {
    let line = handed.line;
    let reporting = &handed.reporting;
    let quantity = line.quantity;
    pb::PayLine {
        run_id: line.run_id.to_string(),
        line_id: line.id.to_string(),
        participant_id: line.participant_id.to_string(),
        employee_reference: handed.employee_number.clone(),
        line_code: line_code(line.line_code.as_str()),
        pay_code: handed.pay_code.clone(),
        attributed_month: line
            .attributed_month
            .map(|m| YearMonth::of(m).to_string())
            .unwrap_or_default(),
        quantity: quantity.map(|q| q.value.to_string()).unwrap_or_default(),
        quantity_unit: quantity.map_or(pb::QuantityUnit::None, |q| match q.unit {
            QuantityUnit::Days => pb::QuantityUnit::Days,
            QuantityUnit::Hours => pb::QuantityUnit::Hours,
            QuantityUnit::ChildDays => pb::QuantityUnit::ChildDays,
        }) as i32,
        rate: quantity
            .and_then(|q| q.rate)
            .map(format_amount)
            .unwrap_or_default(),
        amount: format_amount(line.amount),
        taxable: true,
        income_type: reporting.income.income_type.clone(),
        income_description: reporting.income.description.clone(),
        explanation: line.explanation.clone(),
        benefit_kind: reporting.income.benefit_kind.clone(),
        employer_contribution: reporting.employer_contribution,
        withholding_basis: reporting.income.withholding_basis,
        earning_period: handed.earning_period.to_string(),
        accounting: Some(pb::Accounting {
            ansvar: reporting.accounting.ansvar.clone().unwrap_or_default(),
            tjeneste: reporting.accounting.tjeneste.clone().unwrap_or_default(),
            function: reporting.accounting.function.clone(),
        }),
    }
}

fn flag(name: &str) -> i32 {
    pb::Flag::from_str_name(&format!("FLAG_{name}")).map_or(0, |f| f as i32)
}

fn day_kind(name: &str) -> i32 {
    pb::DayKind::from_str_name(&format!("DAY_KIND_{name}")).map_or(0, |k| k as i32)
}

/// The wire form of an assessment.
pub fn assessment_to_proto(a: &Assessment) -> pb::Assessment {
    let q = &a.quota;
    pb::Assessment {
        quota: Some(pb::QuotaUse {
            as_of: q.as_of.to_string(),
            self_cert_days_left_in_occurrence: q.self_cert_days_left_in_occurrence,
            self_cert_occurrences_left: q.self_cert_occurrences_left,
            self_cert_available_from: q.self_cert_available_from.to_string(),
            leave_hours_left: q.leave_hours_left.to_string(),
            leave_days_left: q.leave_days_left.to_string(),
            child_sick_hours_left: q.child_sick_hours_left.to_string(),
            child_sick_days_left: q.child_sick_days_left.to_string(),
        }),
        unexcused_entries: a
            .unexcused_entries
            .iter()
            .map(|e| pb::UnexcusedEntry {
                date: e.date.to_string(),
                kind: day_kind(&e.kind),
                hours: e.hours.normalize().to_string(),
                flag: flag(&e.flag),
            })
            .collect(),
        proposed_deductions: a
            .proposed_deductions
            .iter()
            .map(|d| pb::ProposedDeduction {
                date: d.date.to_string(),
                hours: d.hours.normalize().to_string(),
                sanction_id: d.sanction_id.to_string(),
                source_kind: day_kind(&d.source_kind),
            })
            .collect(),
        flags: a.flags.iter().map(|f| flag(f)).collect(),
    }
}

#[tonic::async_trait]
impl PayrollService for PayrollGrpc {
    async fn submit_timesheet(
        &self,
        request: Request<pb::SubmitTimesheetRequest>,
    ) -> Result<Response<pb::SubmitTimesheetResponse>, Status> {
        let caller = self.gate.admit(&request, &[ClientKind::TimesheetClient])?;
        let envelope = request
            .into_inner()
            .envelope
            .ok_or_else(|| ServiceError::field("envelope", "is required"))?;
        let submitted = self
            .payroll
            .submit_timesheet(envelope, &caller.scope, crate::clock::now())
            .await?;
        let t = &submitted.timesheet;
        Ok(Response::new(pb::SubmitTimesheetResponse {
            timesheet_id: t.id.to_string(),
            digest: t.digest.clone(),
            version: u32::try_from(t.version).unwrap_or_default(),
            assessment: Some(assessment_to_proto(&submitted.assessment)),
            duplicate: submitted.duplicate,
            accepted_at: Some(timestamp(t.received_at)),
        }))
    }

    async fn close_period(
        &self,
        request: Request<pb::ClosePeriodRequest>,
    ) -> Result<Response<pb::ClosePeriodResponse>, Status> {
        let caller = self.gate.admit(&request, &[ClientKind::PayrollSystem])?;
        let request = request.into_inner();
        let month: YearMonth = request
            .month
            .parse()
            .map_err(|_| ServiceError::field("month", "must be YYYY-MM"))?;
        if request.municipality_id.is_empty() {
            return Err(ServiceError::field("municipality_id", "is required").into());
        }
        caller.scope.permit(&request.municipality_id)?;
        let actor = Actor::named(caller.actor);
        let closed = self
            .payroll
            .close_period_with_totals(&request.municipality_id, month, &actor, crate::clock::now())
            .await?;
        Ok(Response::new(pb::ClosePeriodResponse {
            run: Some(summary_to_proto(&closed)),
            created: closed.created,
        }))
    }

    type StreamPayLinesStream = ReceiverStream<Result<pb::StreamPayLinesResponse, Status>>;

    async fn stream_pay_lines(
        &self,
        request: Request<pb::StreamPayLinesRequest>,
    ) -> Result<Response<Self::StreamPayLinesStream>, Status> {
        let caller = self.gate.admit(&request, &[ClientKind::PayrollSystem])?;
        let request = request.into_inner();
        let run_id = uuid(&request.run_id, "run_id")?;
        let after = if request.after_line_id.is_empty() {
            None
        } else {
            Some((
                uuid(&request.after_line_id, "after_line_id")?,
                "after_line_id",
            ))
        };
        let mut pages = self.payroll.pay_lines(run_id, &caller.scope, after).await?;
        let (tx, rx) = tokio::sync::mpsc::channel(256);
        tokio::spawn(async move {
            loop {
                let page = match pages.next_page().await {
                    Ok(page) => page,
                    Err(e) => {
                        let _ = tx.send(Err(e.into())).await;
                        return;
                    }
                };
                if page.is_empty() {
                    return;
                }
                for line in &page {
                    let message = pb::StreamPayLinesResponse {
                        pay_line: Some(line_to_proto(&pages.reader.read(line))),
                    };
                    if tx.send(Ok(message)).await.is_err() {
                        return; // the client went away
                    }
                }
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn confirm_payment(
        &self,
        request: Request<pb::ConfirmPaymentRequest>,
    ) -> Result<Response<pb::ConfirmPaymentResponse>, Status> {
        let caller = self.gate.admit(&request, &[ClientKind::PayrollSystem])?;
        let r = request.into_inner();
        let mut violations = Vec::new();
        let run_id = Uuid::parse_str(&r.run_id)
            .map_err(|_| violations.push(FieldViolation::new("run_id", "must be a UUID")))
            .ok();
        let payment = WirePayment {
            participant_id: &r.participant_id,
            gross: &r.gross,
            tax_withheld: &r.tax_withheld,
            net_paid: &r.net_paid,
            outcome: r.outcome,
            failure_reason: &r.failure_reason,
            payment_date: &r.payment_date,
        };
        let report = payment.report(run_id, "", &mut violations);
        let (Some(report), true) = (report, violations.is_empty()) else {
            return Err(ServiceError::InvalidArgument(violations).into());
        };
        let actor = Actor::named(caller.actor);
        let (run, duplicate, confirmed_at) = self
            .payroll
            .confirm_payment(report, &caller.scope, &actor)
            .await?;
        Ok(Response::new(pb::ConfirmPaymentResponse {
            duplicate,
            run_state: run_state(run.state) as i32,
            confirmed_at: Some(timestamp(confirmed_at)),
        }))
    }

    async fn batch_confirm_payments(
        &self,
        request: Request<pb::BatchConfirmPaymentsRequest>,
    ) -> Result<Response<pb::BatchConfirmPaymentsResponse>, Status> {
        let caller = self.gate.admit(&request, &[ClientKind::PayrollSystem])?;
        let r = request.into_inner();
        let run_id = uuid(&r.run_id, "run_id")?;
        let mut violations = Vec::new();
        let mut reports = Vec::with_capacity(r.payments.len());
        for (i, p) in r.payments.iter().enumerate() {
            let payment = WirePayment {
                participant_id: &p.participant_id,
                gross: &p.gross,
                tax_withheld: &p.tax_withheld,
                net_paid: &p.net_paid,
                outcome: p.outcome,
                failure_reason: &p.failure_reason,
                payment_date: &p.payment_date,
            };
            let prefix = format!("payments[{i}].");
            reports.extend(payment.report(Some(run_id), &prefix, &mut violations));
        }
        if !violations.is_empty() {
            return Err(ServiceError::InvalidArgument(violations).into());
        }
        let actor = Actor::named(caller.actor);
        let participants: Vec<String> = reports
            .iter()
            .map(|r| r.participant_id.to_string())
            .collect();
        let (run, duplicates) = self
            .payroll
            .confirm_payments(run_id, reports, &caller.scope, &actor)
            .await?;
        Ok(Response::new(pb::BatchConfirmPaymentsResponse {
            confirmations: participants
                .into_iter()
                .zip(duplicates)
                .map(|(participant_id, duplicate)| pb::PayslipConfirmation {
                    participant_id,
                    duplicate,
                })
                .collect(),
            run_state: run_state(run.state) as i32,
        }))
    }

    async fn get_pay_run(
        &self,
        request: Request<pb::GetPayRunRequest>,
    ) -> Result<Response<pb::GetPayRunResponse>, Status> {
        let caller = self.gate.admit(&request, &[ClientKind::PayrollSystem])?;
        let run_id = uuid(&request.into_inner().run_id, "run_id")?;
        let run = self.payroll.run_with_totals(run_id, &caller.scope).await?;
        Ok(Response::new(pb::GetPayRunResponse {
            run: Some(summary_to_proto(&run)),
        }))
    }

    async fn list_pay_runs(
        &self,
        request: Request<pb::ListPayRunsRequest>,
    ) -> Result<Response<pb::ListPayRunsResponse>, Status> {
        let caller = self.gate.admit(&request, &[ClientKind::PayrollSystem])?;
        let r = request.into_inner();
        if r.municipality_id.is_empty() {
            return Err(ServiceError::field("municipality_id", "is required").into());
        }
        let month = if r.month.is_empty() {
            None
        } else {
            Some(
                r.month
                    .parse::<YearMonth>()
                    .map_err(|_| ServiceError::field("month", "must be YYYY-MM"))?,
            )
        };
        let limit = match r.page_size {
            0 => 50,
            size @ 1..=100 => size as usize,
            _ => return Err(ServiceError::field("page_size", "must be 0 to 100").into()),
        };
        let after = page_token::decode(&r.page_token)?;
        caller.scope.permit(&r.municipality_id)?;
        let (runs, more) = self
            .payroll
            .runs_with_totals(&r.municipality_id, month, after, limit)
            .await?;
        let next_page_token = match runs.last() {
            Some(last) if more => page_token::encode(YearMonth::of(last.run.month)),
            _ => String::new(),
        };
        Ok(Response::new(pb::ListPayRunsResponse {
            runs: runs.iter().map(summary_to_proto).collect(),
            next_page_token,
        }))
    }

    async fn simulate(
        &self,
        request: Request<pb::SimulateRequest>,
    ) -> Result<Response<pb::SimulateResponse>, Status> {
        use crate::wire_case;
        let caller = self.gate.admit(
            &request,
            &[ClientKind::PayrollSystem, ClientKind::TimesheetClient],
        )?;
        let request = request.into_inner();
        let municipality_id =
            (!request.municipality_id.is_empty()).then_some(request.municipality_id.as_str());
        if let Some(municipality_id) = municipality_id {
            caller.scope.permit(municipality_id)?;
        }
        let facts = request
            .facts
            .as_ref()
            .ok_or_else(|| ServiceError::field("facts", "is required"))?;
        // One validation for every surface: the facts go to the rules engine in
        // the case files' JSON shape, and its violations come back renamed.
        let case = wire_case::case_json(facts, "facts")?;
        let result = self
            .payroll
            .simulate_case(&case, municipality_id)
            .await
            .map_err(|e| wire_case::name_proto_fields(e, facts, "facts"))?;
        Ok(Response::new(pb::SimulateResponse {
            result: Some(wire_case::month_result_to_proto(&result)),
        }))
    }
}
