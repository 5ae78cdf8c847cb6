//! Runs as resources, as a payroll system uses them over gRPC: listed a page
//! at a time and read by id without changing anything, their lines streamed
//! and resumed after a broken connection without a gap or a duplicate, and
//! payslips confirmed in batches — a repeat answered as a duplicate, a
//! conflicting one failing the whole batch; over REST, listed a page at a
//! time. On both backends.

use std::collections::BTreeMap;

use kvp_proto::kvp::payroll::v1 as pb;
use kvp_system_tests::{Fixture, TestApp, TestBackend, national_id, sign};
use prost::Message;
use rust_decimal::Decimal;
use serde_json::json;
use tonic_types::StatusExt;

#[tokio::test]
async fn a_payroll_system_lists_gets_resumes_and_batch_confirms_runs() {
    for backend in TestBackend::all() {
        runs_as_resources(backend).await;
    }
}

/// Registers a second participant with an open programme, a signer key and
/// November signed; answers their id.
async fn another_participant_in_november(app: &TestApp, fixture: &Fixture) -> String {
    let other = app
        .post(
            "/v1/participants",
            json!({"municipality_id": "0301", "national_id": national_id("150190", 321),
                   "display_name": "Ola Nordmann"}),
            201,
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.add_programme(&other, "2025-11-03", "KVP-2").await;
    let key = kvp_signing::SigningKey::from_bytes(&[77; 32]);
    app.post(
        "/v1/signer-keys",
        json!({"keyid": "ola-key", "person_id": other, "role": "PARTICIPANT",
               "public_key": kvp_signing::public_key_to_base64(&key.verifying_key()),
               "valid_from": "2025-01-01T00:00:00Z"}),
        201,
    )
    .await;
    let body = pb::TimesheetBody {
        participant_id: other.clone(),
        ..fixture.body("2025-11-03", "2025-11-30", &[])
    };
    let mut grpc = app.grpc.clone();
    grpc.submit_timesheet(sign(
        body.encode_to_vec(),
        &[
            ("ola-key", &key),
            ("supervisor-key", &fixture.supervisor_key),
        ],
    ))
    .await
    .unwrap();
    other
}

fn list(municipality: &str, month: &str, size: u32, token: &str) -> pb::ListPayRunsRequest {
    pb::ListPayRunsRequest {
        municipality_id: municipality.into(),
        month: month.into(),
        page_size: size,
        page_token: token.into(),
    }
}

fn payment(participant: &str, gross: Decimal, tax: Decimal) -> pb::PayslipPayment {
    pb::PayslipPayment {
        participant_id: participant.into(),
        gross: format!("{gross:.2}"),
        tax_withheld: format!("{tax:.2}"),
        net_paid: format!("{:.2}", gross - tax),
        outcome: pb::PaymentOutcome::Paid as i32,
        failure_reason: String::new(),
        payment_date: "2025-12-10".into(),
    }
}

async fn runs_as_resources(backend: TestBackend) {
    let mut app = TestApp::spawn_on(backend).await;
    let fixture = Fixture::new(&app).await;
    let kari = fixture.participant_id.clone();
    let october = fixture.body(
        "2025-10-01",
        "2025-10-31",
        &[("2025-10-07", pb::DayKind::ApprovedUnpaid, "3.5")],
    );
    app.grpc
        .submit_timesheet(fixture.signed(&october))
        .await
        .unwrap();
    app.grpc
        .submit_timesheet(fixture.signed(&fixture.body("2025-11-01", "2025-11-30", &[])))
        .await
        .unwrap();
    let ola = another_participant_in_november(&app, &fixture).await;
    let october = app.close_oslo("2025-10").await.run.unwrap();
    let november = app.close_oslo("2025-11").await.run.unwrap();

    // Listed oldest first, a page at a time; one month's run alone.
    let first = app
        .grpc
        .list_pay_runs(list("0301", "", 1, ""))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.runs, vec![october.clone()], "{backend:?}");
    assert!(!first.next_page_token.is_empty());
    let second = app
        .grpc
        .list_pay_runs(list("0301", "", 1, &first.next_page_token))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (second.runs, second.next_page_token),
        (vec![november.clone()], String::new())
    );
    let only = app
        .grpc
        .list_pay_runs(list("0301", "2025-11", 0, ""))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(only.runs, vec![november.clone()]);
    let bad = app
        .grpc
        .list_pay_runs(list("0301", "", 1, "not-a-token"))
        .await
        .unwrap_err();
    assert_eq!(bad.code(), tonic::Code::InvalidArgument, "{bad:?}");
    // Read by id: the run as its close answered it.
    let got = app
        .grpc
        .get_pay_run(pb::GetPayRunRequest {
            run_id: october.run_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.run, Some(october.clone()));

    // A stream broken off after its first line resumes from it: no gap, no
    // duplicate.
    let all = app.pay_lines(&november.run_id).await;
    assert!(all.len() >= 3, "{all:?}");
    let mut stream = app
        .grpc
        .stream_pay_lines(pb::StreamPayLinesRequest {
            run_id: november.run_id.clone(),
            after_line_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let received = stream.message().await.unwrap().unwrap().pay_line.unwrap();
    drop(stream);
    let mut resumed = vec![received.clone()];
    let mut stream = app
        .grpc
        .stream_pay_lines(pb::StreamPayLinesRequest {
            run_id: november.run_id.clone(),
            after_line_id: received.line_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    while let Some(message) = stream.message().await.unwrap() {
        resumed.push(message.pay_line.unwrap());
    }
    assert_eq!(resumed, all, "{backend:?}");
    let october_line = app.pay_lines(&october.run_id).await[0].line_id.clone();
    let foreign = app
        .grpc
        .stream_pay_lines(pb::StreamPayLinesRequest {
            run_id: november.run_id.clone(),
            after_line_id: october_line,
        })
        .await
        .unwrap_err();
    assert_eq!(foreign.code(), tonic::Code::InvalidArgument, "{foreign:?}");

    // Batch confirmation: the payslips' grosses are their lines summed.
    let mut gross: BTreeMap<String, Decimal> = BTreeMap::new();
    for line in &all {
        *gross.entry(line.participant_id.clone()).or_default() +=
            line.amount.parse::<Decimal>().unwrap();
    }
    let (kari_gross, ola_gross) = (gross[&kari], gross[&ola]);
    let tax = Decimal::new(500_000, 2);
    let confirm = |payments: Vec<pb::PayslipPayment>| pb::BatchConfirmPaymentsRequest {
        run_id: november.run_id.clone(),
        payments,
    };
    let single = app
        .grpc
        .confirm_payment(pb::ConfirmPaymentRequest {
            run_id: november.run_id.clone(),
            participant_id: kari.clone(),
            gross: format!("{kari_gross:.2}"),
            tax_withheld: format!("{tax:.2}"),
            net_paid: format!("{:.2}", kari_gross - tax),
            outcome: pb::PaymentOutcome::Paid as i32,
            failure_reason: String::new(),
            payment_date: "2025-12-10".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(single.run_state(), pb::PayRunState::PartiallyConfirmed);
    // Kari's payslip with another tax conflicts: nothing of the batch is
    // recorded, Ola's payslip included.
    let conflict = app
        .grpc
        .batch_confirm_payments(confirm(vec![
            payment(&kari, kari_gross, Decimal::ZERO),
            payment(&ola, ola_gross, Decimal::ZERO),
        ]))
        .await
        .unwrap_err();
    assert_eq!(conflict.code(), tonic::Code::AlreadyExists, "{conflict:?}");
    assert_eq!(
        conflict.get_error_details().error_info().unwrap().reason,
        "ALREADY_EXISTS"
    );
    assert!(conflict.message().contains(&kari), "{conflict:?}");
    assert!(!conflict.message().contains(&ola), "{conflict:?}");
    let state = |app: &TestApp| {
        let mut grpc = app.grpc.clone();
        let run_id = november.run_id.clone();
        async move {
            grpc.get_pay_run(pb::GetPayRunRequest { run_id })
                .await
                .unwrap()
                .into_inner()
                .run
                .unwrap()
                .state()
        }
    };
    assert_eq!(state(&app).await, pb::PayRunState::PartiallyConfirmed);
    // A participant twice is refused before anything is looked up.
    let twice = app
        .grpc
        .batch_confirm_payments(confirm(vec![
            payment(&ola, ola_gross, Decimal::ZERO),
            payment(&ola, ola_gross, Decimal::ZERO),
        ]))
        .await
        .unwrap_err();
    assert_eq!(twice.code(), tonic::Code::InvalidArgument, "{twice:?}");
    assert!(
        twice.message().contains("payments[1].participant_id"),
        "{twice:?}"
    );
    // The repeat is a duplicate, the new one recorded: the run is confirmed.
    let batch = app
        .grpc
        .batch_confirm_payments(confirm(vec![
            payment(&kari, kari_gross, tax),
            payment(&ola, ola_gross, Decimal::ZERO),
        ]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        batch
            .confirmations
            .iter()
            .map(|c| (c.participant_id.as_str(), c.duplicate))
            .collect::<Vec<_>>(),
        vec![(kari.as_str(), true), (ola.as_str(), false)]
    );
    assert_eq!(batch.run_state(), pb::PayRunState::Confirmed);
    assert_eq!(state(&app).await, pb::PayRunState::Confirmed);

    // REST lists come a page at a time, the next named by the Link header.
    let get = |path: String| {
        let client = app.client.clone();
        let url = format!("{}{path}", app.http);
        async move { client.get(url).send().await.unwrap() }
    };
    let first = get("/v1/municipalities/0301/runs?limit=1".into()).await;
    assert_eq!(first.status(), 200);
    let link = first.headers()["link"].to_str().unwrap().to_owned();
    let body: serde_json::Value = first.json().await.unwrap();
    assert_eq!(body.as_array().unwrap().len(), 1, "{body}");
    assert_eq!(body[0]["id"], json!(october.run_id));
    let next = link
        .strip_prefix('<')
        .and_then(|l| l.strip_suffix(">; rel=\"next\""))
        .unwrap();
    assert!(
        next.starts_with("/v1/municipalities/0301/runs?limit=1&after="),
        "{link}"
    );
    let second = get(next.to_owned()).await;
    assert!(second.headers().get("link").is_none(), "the last page");
    let body: serde_json::Value = second.json().await.unwrap();
    assert_eq!(body.as_array().unwrap().len(), 1);
    assert_eq!(body[0]["id"], json!(november.run_id));
    let wrong = get("/v1/municipalities/0301/runs?after=bm90LWEtcnVu".into()).await;
    assert_eq!(wrong.status(), 400);
    app.stop().await;
}
