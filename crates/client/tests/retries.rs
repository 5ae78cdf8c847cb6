//! The client against a stand-in service that fails on purpose: which
//! answers are retried, how often, and a line stream broken off midway.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kvp_client::{PayrollClient, Retry, pb};
use pb::payroll_service_server::{PayrollService, PayrollServiceServer};
use tokio_stream::Stream;
use tonic::{Code, Request, Response, Status};

/// What the stand-in was asked, and how it answers.
#[derive(Default)]
struct Script {
    /// Answers to `SubmitTimesheet`, first to last; then success.
    submit_failures: Vec<Code>,
    submit_calls: usize,
    /// Every `after_line_id` the line stream was opened with.
    stream_openings: Vec<String>,
    /// Page tokens `ListPayRuns` was called with.
    page_tokens: Vec<String>,
}

#[derive(Clone, Default)]
struct StandIn(Arc<Mutex<Script>>);

const LINES: [&str; 5] = ["l1", "l2", "l3", "l4", "l5"];

type LineStream = Pin<Box<dyn Stream<Item = Result<pb::StreamPayLinesResponse, Status>> + Send>>;

#[tonic::async_trait]
impl PayrollService for StandIn {
    async fn submit_timesheet(
        &self,
        _: Request<pb::SubmitTimesheetRequest>,
    ) -> Result<Response<pb::SubmitTimesheetResponse>, Status> {
        let mut script = self.0.lock().unwrap();
        script.submit_calls += 1;
        let call = script.submit_calls;
        match script.submit_failures.get(call - 1) {
            Some(&code) => Err(Status::new(code, "scripted")),
            None => Ok(Response::new(pb::SubmitTimesheetResponse {
                timesheet_id: format!("accepted-at-call-{call}"),
                ..Default::default()
            })),
        }
    }

    async fn close_period(
        &self,
        _: Request<pb::ClosePeriodRequest>,
    ) -> Result<Response<pb::ClosePeriodResponse>, Status> {
        Err(Status::unimplemented("not scripted"))
    }

    type StreamPayLinesStream = LineStream;

    async fn stream_pay_lines(
        &self,
        request: Request<pb::StreamPayLinesRequest>,
    ) -> Result<Response<LineStream>, Status> {
        let after = request.into_inner().after_line_id;
        let first_opening = {
            let mut script = self.0.lock().unwrap();
            script.stream_openings.push(after.clone());
            script.stream_openings.len() == 1
        };
        let start = LINES.iter().position(|l| *l == after).map_or(0, |i| i + 1);
        let mut items: Vec<Result<pb::StreamPayLinesResponse, Status>> = LINES[start..]
            .iter()
            .map(|id| {
                Ok(pb::StreamPayLinesResponse {
                    pay_line: Some(pb::PayLine {
                        line_id: (*id).into(),
                        ..Default::default()
                    }),
                })
            })
            .collect();
        if first_opening {
            // The first stream breaks off after two lines.
            items.truncate(2);
            items.push(Err(Status::unavailable("connection reset")));
        }
        Ok(Response::new(Box::pin(tokio_stream::iter(items))))
    }

    async fn get_pay_run(
        &self,
        _: Request<pb::GetPayRunRequest>,
    ) -> Result<Response<pb::GetPayRunResponse>, Status> {
        Err(Status::unimplemented("not scripted"))
    }

    async fn list_pay_runs(
        &self,
        request: Request<pb::ListPayRunsRequest>,
    ) -> Result<Response<pb::ListPayRunsResponse>, Status> {
        let token = request.into_inner().page_token;
        self.0.lock().unwrap().page_tokens.push(token.clone());
        let (month, next) = if token.is_empty() {
            ("2026-01", "page-2")
        } else {
            ("2026-02", "")
        };
        Ok(Response::new(pb::ListPayRunsResponse {
            runs: vec![pb::PayRun {
                month: month.into(),
                ..Default::default()
            }],
            next_page_token: next.into(),
        }))
    }

    async fn confirm_payment(
        &self,
        _: Request<pb::ConfirmPaymentRequest>,
    ) -> Result<Response<pb::ConfirmPaymentResponse>, Status> {
        Err(Status::unimplemented("not scripted"))
    }

    async fn batch_confirm_payments(
        &self,
        _: Request<pb::BatchConfirmPaymentsRequest>,
    ) -> Result<Response<pb::BatchConfirmPaymentsResponse>, Status> {
        Err(Status::unimplemented("not scripted"))
    }

    async fn simulate(
        &self,
        _: Request<pb::SimulateRequest>,
    ) -> Result<Response<pb::SimulateResponse>, Status> {
        Err(Status::unimplemented("not scripted"))
    }
}

/// Serves `stand_in` on a free loopback port; a client with quick retries.
async fn serve(stand_in: StandIn) -> PayrollClient {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(PayrollServiceServer::new(stand_in))
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );
    PayrollClient::connect(&url, None)
        .await
        .unwrap()
        .with_retry(Retry {
            attempts: 3,
            first_pause: Duration::from_millis(1),
            longest_pause: Duration::from_millis(5),
        })
}

fn scripted(failures: &[Code]) -> StandIn {
    let stand_in = StandIn::default();
    stand_in.0.lock().unwrap().submit_failures = failures.to_vec();
    stand_in
}

#[tokio::test]
async fn unavailable_is_retried_until_the_service_answers() {
    let stand_in = scripted(&[Code::Unavailable, Code::Unavailable]);
    let client = serve(stand_in.clone()).await;
    let answer = client.submit(&Default::default()).await.unwrap();
    assert_eq!(answer.timesheet_id, "accepted-at-call-3");
    assert_eq!(stand_in.0.lock().unwrap().submit_calls, 3);
}

#[tokio::test]
async fn retries_end_after_the_attempts_allowed() {
    let stand_in = scripted(&[Code::Unavailable; 4]);
    let client = serve(stand_in.clone()).await;
    let error = client.submit(&Default::default()).await.unwrap_err();
    assert_eq!(error.code(), Code::Unavailable);
    assert_eq!(stand_in.0.lock().unwrap().submit_calls, 3);
}

#[tokio::test]
async fn a_refusal_is_answered_at_once_and_never_retried() {
    let stand_in = scripted(&[Code::InvalidArgument, Code::Unavailable]);
    let client = serve(stand_in.clone()).await;
    let error = client.submit(&Default::default()).await.unwrap_err();
    assert_eq!(error.code(), Code::InvalidArgument);
    assert_eq!(stand_in.0.lock().unwrap().submit_calls, 1);

    let stand_in = scripted(&[Code::Unavailable]);
    let client = serve(stand_in.clone()).await.with_retry(Retry::NONE);
    let error = client.submit(&Default::default()).await.unwrap_err();
    assert_eq!(error.code(), Code::Unavailable);
    assert_eq!(stand_in.0.lock().unwrap().submit_calls, 1);
}

#[tokio::test]
async fn a_broken_line_stream_resumes_after_the_last_line_received() {
    let stand_in = StandIn::default();
    let client = serve(stand_in.clone()).await;
    let lines = client.pay_lines("run-1").collect().await.unwrap();
    let ids: Vec<&str> = lines.iter().map(|l| l.line_id.as_str()).collect();
    assert_eq!(ids, LINES);
    assert_eq!(stand_in.0.lock().unwrap().stream_openings, ["", "l2"]);
}

#[tokio::test]
async fn every_page_of_runs_is_read() {
    let stand_in = StandIn::default();
    let client = serve(stand_in.clone()).await;
    let runs = client.list_pay_runs("0301", None).await.unwrap();
    let months: Vec<&str> = runs.iter().map(|r| r.month.as_str()).collect();
    assert_eq!(months, ["2026-01", "2026-02"]);
    assert_eq!(stand_in.0.lock().unwrap().page_tokens, ["", "page-2"]);
}
