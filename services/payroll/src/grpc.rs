//! The gRPC surface (`kvp.payroll.v1.PayrollService`): thin, delegating to the
//! payroll core and mapping its answers to the wire types.

use std::sync::Arc;

use kvp_proto::kvp::payroll::v1 as pb;
use pb::payroll_service_server::PayrollService;
use time::OffsetDateTime;
use tonic::{Request, Response, Status};

use crate::error::ServiceError;
use crate::ingest::Assessment;
use crate::payroll::Payroll;

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

fn timestamp(at: OffsetDateTime) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.unix_timestamp(),
        nanos: at.nanosecond() as i32,
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
        _request: Request<pb::ClosePeriodRequest>,
    ) -> Result<Response<pb::ClosePeriodResponse>, Status> {
        Err(Status::unimplemented(
            "pay periods are not served by this version",
        ))
    }

    type StreamPayLinesStream =
        tokio_stream::wrappers::ReceiverStream<Result<pb::StreamPayLinesResponse, Status>>;

    async fn stream_pay_lines(
        &self,
        _request: Request<pb::StreamPayLinesRequest>,
    ) -> Result<Response<Self::StreamPayLinesStream>, Status> {
        Err(Status::unimplemented(
            "pay periods are not served by this version",
        ))
    }

    async fn confirm_payment(
        &self,
        _request: Request<pb::ConfirmPaymentRequest>,
    ) -> Result<Response<pb::ConfirmPaymentResponse>, Status> {
        Err(Status::unimplemented(
            "pay periods are not served by this version",
        ))
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
