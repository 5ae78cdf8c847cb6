//! The gRPC surface (`kvp.payroll.v1.PayrollService`): thin, delegating to the
//! payroll core and mapping its answers to the wire types.

use std::sync::Arc;

use kvp_proto::kvp::payroll::v1 as pb;
use pb::payroll_service_server::PayrollService;
use time::OffsetDateTime;
use tonic::{Request, Response, Status};

use kvp_rules::YearMonth;
use kvp_store::{Confirmation, PayLine, PayRun, PaymentOutcome, RunState};
use rust_decimal::Decimal;
use tokio_stream::wrappers::ReceiverStream;
use uuid::Uuid;

use crate::error::{FieldViolation, ServiceError};
use crate::events::timestamp;
use crate::ingest::Assessment;
use crate::payroll::{Actor, Payroll};

/// The gRPC service over the payroll core.
pub struct PayrollGrpc {
    payroll: Arc<Payroll>,
}

impl PayrollGrpc {
    /// A service over `payroll`.
    pub fn new(payroll: Arc<Payroll>) -> Self {
        Self { payroll }
    }
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

/// The wire form of a run with its totals.
pub fn run_to_proto(run: &PayRun, lines: &[PayLine]) -> pb::PayRun {
    let mut totals: std::collections::BTreeMap<&str, (u32, Decimal)> = Default::default();
    let mut corrections = Decimal::ZERO;
    for line in lines {
        let total = totals.entry(line.line_code.as_str()).or_default();
        total.0 += 1;
        total.1 += line.amount;
        if line.attributed_month != Some(run.month) {
            corrections += line.amount;
        }
    }
    pb::PayRun {
        run_id: run.id.to_string(),
        municipality_id: run.municipality_id.clone(),
        month: YearMonth::of(run.month).to_string(),
        state: run_state(run.state) as i32,
        participant_count: u32::try_from(run.participant_count).unwrap_or_default(),
        line_count: u32::try_from(lines.len()).unwrap_or(u32::MAX),
        total_amount: run.total.to_string(),
        corrections_amount: corrections.to_string(),
        line_code_totals: totals
            .into_iter()
            .map(|(code, (count, amount))| pb::LineCodeTotal {
                code: line_code(code),
                line_count: count,
                amount: amount.to_string(),
            })
            .collect(),
        closed_at: Some(timestamp(run.closed_at)),
    }
}

/// The wire form of a pay line, with the municipality's pay code.
pub fn line_to_proto(line: &PayLine, pay_codes: &serde_json::Value) -> pb::PayLine {
    pb::PayLine {
        run_id: line.run_id.to_string(),
        line_id: line.id.to_string(),
        participant_id: line.participant_id.to_string(),
        employee_reference: line.participant_id.to_string(),
        line_code: line_code(&line.line_code),
        pay_code: pay_codes[&line.line_code]
            .as_str()
            .unwrap_or(&line.line_code)
            .to_owned(),
        attributed_month: line
            .attributed_month
            .map(|m| YearMonth::of(m).to_string())
            .unwrap_or_default(),
        quantity: line.quantity.to_string(),
        quantity_unit: pb::QuantityUnit::Unspecified as i32,
        rate: line.rate.to_string(),
        amount: line.amount.to_string(),
        taxable: true,
        income_type: "pensjonEllerTrygd".into(),
        income_description: "kvalifiseringstoenad".into(),
        explanation: line.explanation.clone(),
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
        let envelope = request
            .into_inner()
            .envelope
            .ok_or_else(|| ServiceError::field("envelope", "is required"))?;
        let submitted = self
            .payroll
            .submit_timesheet(envelope, OffsetDateTime::now_utc())
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
        let request = request.into_inner();
        let month: YearMonth = request
            .month
            .parse()
            .map_err(|_| ServiceError::field("month", "must be YYYY-MM"))?;
        if request.municipality_id.is_empty() {
            return Err(ServiceError::field("municipality_id", "is required").into());
        }
        let actor = Actor(format!("payroll-system:{}", request.municipality_id));
        let (run, created) = self
            .payroll
            .close_period(
                &request.municipality_id,
                month,
                &actor,
                OffsetDateTime::now_utc(),
            )
            .await?;
        let lines = self
            .payroll
            .store()
            .list_pay_lines(run.id)
            .await
            .map_err(ServiceError::from)?;
        Ok(Response::new(pb::ClosePeriodResponse {
            run: Some(run_to_proto(&run, &lines)),
            created,
        }))
    }

    type StreamPayLinesStream = ReceiverStream<Result<pb::StreamPayLinesResponse, Status>>;

    async fn stream_pay_lines(
        &self,
        request: Request<pb::StreamPayLinesRequest>,
    ) -> Result<Response<Self::StreamPayLinesStream>, Status> {
        let run_id = Uuid::parse_str(&request.into_inner().run_id)
            .map_err(|_| ServiceError::field("run_id", "must be a UUID"))?;
        let store = self.payroll.store().clone();
        let run = store.get_run(run_id).await.map_err(ServiceError::from)?;
        let pay_codes = store
            .get_municipality(&run.municipality_id)
            .await
            .map_err(ServiceError::from)?
            .pay_codes;
        let (tx, rx) = tokio::sync::mpsc::channel(256);
        tokio::spawn(async move {
            let mut after = None;
            loop {
                let page = match store.list_pay_lines_after(run_id, after, 1000).await {
                    Ok(page) => page,
                    Err(e) => {
                        let _ = tx.send(Err(ServiceError::from(e).into())).await;
                        return;
                    }
                };
                let Some(last) = page.last() else { return };
                after = Some((last.participant_id, last.seq));
                for line in &page {
                    let message = pb::StreamPayLinesResponse {
                        pay_line: Some(line_to_proto(line, &pay_codes)),
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
        let r = request.into_inner();
        let mut violations = Vec::new();
        let uuid = |text: &str, field: &str, violations: &mut Vec<FieldViolation>| {
            Uuid::parse_str(text)
                .map_err(|_| violations.push(FieldViolation::new(field, "must be a UUID")))
                .ok()
        };
        let run_id = uuid(&r.run_id, "run_id", &mut violations);
        let participant_id = uuid(&r.participant_id, "participant_id", &mut violations);
        let mut amount = |text: &str, field: &str| {
            Decimal::from_str_exact(text)
                .ok()
                .filter(|d| d.round_dp(2) == *d)
                .or_else(|| {
                    violations.push(FieldViolation::new(
                        field,
                        "must be an amount in kroner, e.g. 1234.56",
                    ));
                    None
                })
        };
        let gross = amount(&r.gross, "gross");
        let tax = amount(&r.tax_withheld, "tax_withheld");
        let net = amount(&r.net_paid, "net_paid");
        let outcome = match pb::PaymentOutcome::try_from(r.outcome) {
            Ok(pb::PaymentOutcome::Paid) => Some(PaymentOutcome::Paid),
            Ok(pb::PaymentOutcome::Failed) => Some(PaymentOutcome::Failed),
            _ => {
                violations.push(FieldViolation::new("outcome", "must be PAID or FAILED"));
                None
            }
        };
        let payment_date = if r.payment_date.is_empty() {
            None
        } else {
            let date = crate::ingest::parse_date(&r.payment_date);
            if date.is_none() {
                violations.push(FieldViolation::new(
                    "payment_date",
                    "must be a date YYYY-MM-DD",
                ));
            }
            date
        };
        let (Some(run_id), Some(participant_id), Some(gross), Some(tax), Some(net), Some(outcome)) =
            (run_id, participant_id, gross, tax, net, outcome)
        else {
            return Err(ServiceError::InvalidArgument(violations).into());
        };
        let confirmation = Confirmation {
            run_id,
            participant_id,
            gross,
            tax_withheld: tax,
            net_paid: net,
            outcome,
            failure_reason: (!r.failure_reason.is_empty()).then_some(r.failure_reason),
            payment_date,
            confirmed_at: OffsetDateTime::now_utc(),
        };
        let actor = Actor("payroll-system".into());
        let (run, duplicate) = self.payroll.confirm_payment(confirmation, &actor).await?;
        Ok(Response::new(pb::ConfirmPaymentResponse {
            duplicate,
            run_state: run_state(run.state) as i32,
            confirmed_at: Some(timestamp(OffsetDateTime::now_utc())),
        }))
    }

    async fn simulate(
        &self,
        _request: Request<pb::SimulateRequest>,
    ) -> Result<Response<pb::SimulateResponse>, Status> {
        Err(Status::unimplemented(
            "simulation is served over REST: POST /v1/simulations",
        ))
    }
}
