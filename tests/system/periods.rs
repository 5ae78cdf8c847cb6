//! Pay periods end to end: close, stream, confirm, and the top-up proposal; late
//! decisions and a late G corrected by recompute-and-diff; the top-up service
//! down during a close and catching up.

use std::collections::BTreeMap;

use kvp_proto::kvp::payroll::v1 as pb;
use kvp_system_tests::{Fixture, TestApp, TopupApp, eventually};
use pb::DayKind;
use rust_decimal::Decimal;
use serde_json::json;

fn dec(text: &str) -> Decimal {
    text.parse().unwrap()
}

async fn close(app: &mut TestApp, month: &str) -> pb::ClosePeriodResponse {
    app.close_oslo(month).await
}

async fn lines(app: &mut TestApp, run_id: &str) -> Vec<pb::PayLine> {
    app.pay_lines(run_id).await
}

/// Sums lines per (attributed month, line code).
fn by_month(lines: &[pb::PayLine]) -> BTreeMap<(String, i32), Decimal> {
    let mut out = BTreeMap::new();
    for l in lines {
        *out.entry((l.attributed_month.clone(), l.line_code))
            .or_default() += dec(&l.amount);
    }
    out
}

#[tokio::test]
async fn a_month_goes_from_timesheets_to_confirmed_payment_to_a_topup_proposal() {
    let topup = TopupApp::spawn("127.0.0.1:0".parse().unwrap()).await;
    let mut app = TestApp::spawn_with(Some(topup.grpc_url.clone())).await;
    assert_eq!(topup.backend, app.payroll.store().backend());
    let fixture = Fixture::new(&app).await;
    let (status, _) = topup.call(reqwest::Method::PUT, &format!("/households/{}", fixture.participant_id), Some(json!({
        "adults": "SINGLE", "children": [{"birth_date": "2021-03-14"}], "housing_cost": "9000.00", "other_income": "500.00",
    }))).await;
    assert_eq!(status, 201);
    let body = fixture.body(
        "2025-10-01",
        "2025-10-31",
        &[("2025-10-21", DayKind::PaidWork, "4")],
    );
    app.grpc
        .submit_timesheet(fixture.signed(&body))
        .await
        .unwrap();

    let closed = close(&mut app, "2025-10").await;
    assert!(closed.created);
    let run = closed.run.unwrap();
    assert_eq!(run.participant_count, 1);
    let paid = lines(&mut app, &run.run_id).await;
    let month = app
        .get(&format!(
            "/v1/participants/{}/months/2025-10",
            fixture.participant_id
        ))
        .await;
    let gross: Decimal = paid.iter().map(|l| dec(&l.amount)).sum();
    assert_eq!(
        gross,
        dec(month["total"].as_str().unwrap()),
        "the run pays the month's result"
    );
    assert_eq!(run.total_amount, gross.to_string());
    assert!(paid.iter().all(|l| l.taxable
        && l.income_type == "pensjonEllerTrygd"
        && l.income_description == "kvalifiseringstoenad"));
    assert!(paid.iter().all(|l| l.attributed_month == "2025-10"));
    let codes: Vec<i32> = paid.iter().map(|l| l.line_code).collect();
    assert_eq!(
        codes,
        vec![
            pb::LineCode::KvpBase as i32,
            pb::LineCode::KvpDeductionWage as i32,
            pb::LineCode::KvpChildSupplement as i32
        ]
    );

    // Closing again is idempotent.
    let again = close(&mut app, "2025-10").await;
    assert!(!again.created);
    assert_eq!(again.run.unwrap().run_id, run.run_id);

    let tax = (gross * dec("0.30")).round_dp(0);
    let confirm = pb::ConfirmPaymentRequest {
        run_id: run.run_id.clone(),
        participant_id: fixture.participant_id.clone(),
        gross: gross.to_string(),
        tax_withheld: tax.to_string(),
        net_paid: (gross - tax).to_string(),
        outcome: pb::PaymentOutcome::Paid as i32,
        failure_reason: String::new(),
        payment_date: "2025-11-12".into(),
    };
    let confirmed = app
        .grpc
        .confirm_payment(confirm.clone())
        .await
        .unwrap()
        .into_inner();
    assert!(!confirmed.duplicate);
    assert_eq!(confirmed.run_state, pb::PayRunState::Confirmed as i32);
    let again = app
        .grpc
        .confirm_payment(confirm.clone())
        .await
        .unwrap()
        .into_inner();
    // The repeat is answered as recorded the first time, to the microsecond.
    assert!(again.duplicate);
    assert_eq!(again.confirmed_at, confirmed.confirmed_at);
    let mut different = confirm.clone();
    different.tax_withheld = "0.00".into();
    different.net_paid = gross.to_string();
    let status = app.grpc.confirm_payment(different).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::AlreadyExists);

    // The top-up service proposes: norm (single adult 7 850 + child 0–5 3 850)
    // + housing 9 000 − (net stipend + other income 500), floored at zero.
    let path = format!("/proposals?participant_id={}", fixture.participant_id);
    let proposals = eventually(10, || async {
        let (_, value) = topup.call(reqwest::Method::GET, &path, None).await;
        let list = value["proposals"].as_array().cloned().unwrap_or_default();
        (!list.is_empty()).then_some(list)
    })
    .await;
    assert_eq!(proposals.len(), 1);
    let expected =
        (dec("7850") + dec("3850") + dec("9000") - (gross - tax + dec("500"))).max(Decimal::ZERO);
    assert_eq!(dec(proposals[0]["amount"].as_str().unwrap()), expected);
    // Paid on 12 November: November's income.
    assert_eq!(proposals[0]["month"], "2025-11");
    eventually(10, || async {
        (app.payroll.store().outbox_backlog().await.unwrap() == 0).then_some(())
    })
    .await;

    // The export carries the same lines with the a-melding income type.
    let csv = reqwest::get(format!(
        "{}/v1/runs/{}/export?format=csv",
        app.http, run.run_id
    ))
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    assert_eq!(csv.lines().count(), 1 + paid.len());
    assert!(
        csv.lines()
            .nth(1)
            .unwrap()
            .contains("pensjonEllerTrygd;kvalifiseringstoenad")
    );
    app.stop().await;
    topup.stop().await;
}

#[tokio::test]
async fn a_late_sanction_decision_is_corrected_in_the_next_month() {
    let mut app = TestApp::spawn().await;
    let fixture = Fixture::new(&app).await;
    let id = fixture.participant_id.clone();
    let october = fixture.body(
        "2025-10-01",
        "2025-10-31",
        &[("2025-10-14", DayKind::Unexcused, "3")],
    );
    app.grpc
        .submit_timesheet(fixture.signed(&october))
        .await
        .unwrap();
    let october_run = close(&mut app, "2025-10").await.run.unwrap();
    let october_lines = lines(&mut app, &october_run.run_id).await;
    assert!(
        october_lines
            .iter()
            .all(|l| l.line_code != pb::LineCode::KvpDeductionAbsence as i32),
        "pending hours are paid"
    );

    app.warn(&id, "2025-10-14", "UNEXCUSED").await;
    app.post(&format!("/v1/participants/{id}/sanction-decisions"), json!({
        "date": "2025-10-14", "entry_kind": "UNEXCUSED", "outcome": "APPROVED", "reference": "VEDTAK-1",
    }), 201).await;
    let november = fixture.body("2025-11-01", "2025-11-30", &[]);
    app.grpc
        .submit_timesheet(fixture.signed(&november))
        .await
        .unwrap();
    let november_run = close(&mut app, "2025-11").await.run.unwrap();
    let november_lines = lines(&mut app, &november_run.run_id).await;
    // The deduction, and the child supplement it reduces (R13), are corrected.
    let correction: Vec<&pb::PayLine> = november_lines
        .iter()
        .filter(|l| l.attributed_month == "2025-10")
        .collect();
    let codes: Vec<i32> = correction.iter().map(|l| l.line_code).collect();
    assert_eq!(
        codes,
        vec![
            pb::LineCode::KvpDeductionAbsence as i32,
            pb::LineCode::KvpChildSupplement as i32
        ]
    );
    let october_now = app
        .get(&format!("/v1/participants/{id}/months/2025-10"))
        .await;
    assert_eq!(
        correction[0].amount,
        october_now["lines"]["KVP_DEDUCTION_ABSENCE"]
            .as_str()
            .unwrap()
    );
    let supplement_paid = october_lines
        .iter()
        .find(|l| l.line_code == pb::LineCode::KvpChildSupplement as i32)
        .unwrap();
    assert_eq!(
        dec(&correction[1].amount),
        dec(october_now["lines"]["KVP_CHILD_SUPPLEMENT"]
            .as_str()
            .unwrap())
            - dec(&supplement_paid.amount)
    );
    assert!(
        correction[0]
            .explanation
            .starts_with("correction of 2025-10")
    );

    // The payslip explanation shows what was paid for October and when.
    let payslip = app
        .get(&format!("/v1/participants/{id}/payslips/2025-10"))
        .await;
    assert_eq!(payslip["paid_total"], october_now["total"]);
    assert_eq!(
        payslip["paid"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|l| l["run_month"] == "2025-11")
            .count(),
        2
    );
    app.stop().await;
}

#[tokio::test]
async fn a_late_g_regulation_is_back_paid_in_the_next_run() {
    let mut app = TestApp::spawn().await;
    let fixture = Fixture::new(&app).await;
    let id = fixture.participant_id.clone();
    for (from, to) in [("2026-05-01", "2026-05-31"), ("2026-06-01", "2026-06-30")] {
        app.grpc
            .submit_timesheet(fixture.signed(&fixture.body(from, to, &[])))
            .await
            .unwrap();
    }
    close(&mut app, "2026-05").await;
    let may_before = app
        .get(&format!("/v1/participants/{id}/months/2026-05"))
        .await;

    // The regulation decided late: G from 1 May 2026 is registered as 137 000.
    app.post(
        "/v1/parameters/g",
        json!({"effective_date": "2026-05-01", "value": "137000", "reference": "Prop. 1 S"}),
        201,
    )
    .await;
    app.post(
        "/v1/parameters/g",
        json!({"effective_date": "2026-05-01", "value": "138000", "reference": "again"}),
        409,
    )
    .await;
    // A G beyond sense (a typing error) is refused by field, and not stored.
    let refused = app
        .post(
            "/v1/parameters/g",
            json!({"effective_date": "2027-05-01", "value": "10000000.01", "reference": "typo"}),
            400,
        )
        .await;
    assert_eq!(refused["errors"][0]["field"], "value", "{refused}");
    let table = app.get("/v1/parameters/g").await;
    assert!(
        !table.to_string().contains("2027-05-01"),
        "a refused G was stored: {table}"
    );
    let may_after = app
        .get(&format!("/v1/participants/{id}/months/2026-05"))
        .await;
    let back_pay = dec(may_after["lines"]["KVP_BASE"].as_str().unwrap())
        - dec(may_before["lines"]["KVP_BASE"].as_str().unwrap());
    assert!(back_pay > Decimal::ZERO);

    let june_run = close(&mut app, "2026-06").await.run.unwrap();
    let june = lines(&mut app, &june_run.run_id).await;
    let sums = by_month(&june);
    assert_eq!(
        sums[&("2026-05".to_owned(), pb::LineCode::KvpBase as i32)],
        back_pay
    );
    let june_now = app
        .get(&format!("/v1/participants/{id}/months/2026-06"))
        .await;
    assert_eq!(
        sums[&("2026-06".to_owned(), pb::LineCode::KvpBase as i32)],
        dec(june_now["lines"]["KVP_BASE"].as_str().unwrap())
    );
    app.stop().await;
}

#[tokio::test]
async fn the_topup_service_down_during_a_close_catches_up_with_every_event_once() {
    // Reserve a port for the top-up service, and start it only after the close.
    let reserved = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = reserved.local_addr().unwrap();
    drop(reserved);
    let mut app = TestApp::spawn_with(Some(format!("http://{addr}"))).await;
    let fixture = Fixture::new(&app).await;
    app.grpc
        .submit_timesheet(fixture.signed(&fixture.body("2025-10-01", "2025-10-31", &[])))
        .await
        .unwrap();
    let run = close(&mut app, "2025-10").await.run.unwrap();
    let gross: Decimal = lines(&mut app, &run.run_id)
        .await
        .iter()
        .map(|l| dec(&l.amount))
        .sum();
    app.grpc
        .confirm_payment(pb::ConfirmPaymentRequest {
            run_id: run.run_id.clone(),
            participant_id: fixture.participant_id.clone(),
            gross: gross.to_string(),
            tax_withheld: "5000".into(),
            net_paid: (gross - dec("5000")).to_string(),
            outcome: pb::PaymentOutcome::Paid as i32,
            failure_reason: String::new(),
            payment_date: String::new(),
        })
        .await
        .unwrap();
    // Timesheet accepted, period closed, stipend paid: all waiting.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(app.payroll.store().outbox_backlog().await.unwrap(), 3);

    let topup = TopupApp::spawn(addr).await;
    let (status, _) = topup.call(reqwest::Method::PUT, &format!("/households/{}", fixture.participant_id), Some(json!({
        "adults": "SINGLE", "children": [], "housing_cost": "12000.00", "other_income": "0.00",
    }))).await;
    assert!(status == 200 || status == 201, "{status}");
    eventually(20, || async {
        (app.payroll.store().outbox_backlog().await.unwrap() == 0).then_some(())
    })
    .await;
    let (_, value) = topup
        .call(
            reqwest::Method::GET,
            &format!("/proposals?participant_id={}", fixture.participant_id),
            None,
        )
        .await;
    let list = value["proposals"].as_array().cloned().unwrap();
    assert_eq!(list.len(), 1, "the paid month is proposed once: {value}");
    let expected = (dec("7850") + dec("12000") - (gross - dec("5000"))).max(Decimal::ZERO);
    assert_eq!(dec(list[0]["amount"].as_str().unwrap()), expected);
    app.stop().await;
    topup.stop().await;
}

#[tokio::test]
async fn closing_one_month_from_two_instances_at_once_yields_one_run() {
    let mut app = TestApp::spawn().await;
    let fixture = Fixture::new(&app).await;
    app.grpc
        .submit_timesheet(fixture.signed(&fixture.body("2025-10-01", "2025-10-31", &[])))
        .await
        .unwrap();
    let mut second = app.second_instance().await;
    let (a, b) = tokio::join!(
        app.grpc.close_period(pb::ClosePeriodRequest {
            municipality_id: "0301".into(),
            month: "2025-10".into()
        }),
        second.close_period(pb::ClosePeriodRequest {
            municipality_id: "0301".into(),
            month: "2025-10".into()
        }),
    );
    let (a, b) = (a.unwrap().into_inner(), b.unwrap().into_inner());
    assert_eq!(
        a.run.as_ref().unwrap().run_id,
        b.run.as_ref().unwrap().run_id
    );
    assert_eq!(
        u8::from(a.created) + u8::from(b.created),
        1,
        "exactly one close created the run"
    );
    let runs = app.get("/v1/municipalities/0301/runs").await;
    assert_eq!(runs.as_array().unwrap().len(), 1);
    let run_id = a.run.unwrap().run_id;
    assert_eq!(
        lines(&mut app, &run_id).await.len(),
        2,
        "base and child supplement, once"
    );
    app.stop().await;
}

/// A close recomputes a participant only from the first month whose facts
/// changed: a correction of a month closed three runs ago must still be
/// found, paid as a correction of that month, and nothing else.
#[tokio::test]
async fn a_corrected_timesheet_of_a_month_closed_long_ago_is_corrected_in_the_next_run() {
    let mut app = TestApp::spawn().await;
    let fixture = Fixture::new(&app).await;
    let id: uuid::Uuid = fixture.participant_id.parse().unwrap();
    let mut september_id = String::new();
    for (month, from, to) in [
        ("2025-09", "2025-09-01", "2025-09-30"),
        ("2025-10", "2025-10-01", "2025-10-31"),
        ("2025-11", "2025-11-01", "2025-11-30"),
    ] {
        let accepted = app
            .grpc
            .submit_timesheet(fixture.signed(&fixture.body(from, to, &[])))
            .await
            .unwrap()
            .into_inner();
        if month == "2025-09" {
            september_id = accepted.timesheet_id;
        }
        close(&mut app, month).await;
    }
    let september_before = app
        .payroll
        .month(id, kvp_rules::YearMonth::new(2025, time::Month::September))
        .await
        .unwrap();

    // September is corrected: four hours of paid work on the 10th.
    let mut corrected = fixture.body(
        "2025-09-01",
        "2025-09-30",
        &[("2025-09-10", DayKind::PaidWork, "4")],
    );
    corrected.supersedes_timesheet_id = september_id;
    app.grpc
        .submit_timesheet(fixture.signed(&corrected))
        .await
        .unwrap();
    app.grpc
        .submit_timesheet(fixture.signed(&fixture.body("2025-12-01", "2025-12-31", &[])))
        .await
        .unwrap();
    let december_run = close(&mut app, "2025-12").await.run.unwrap();
    let december = lines(&mut app, &december_run.run_id).await;

    let september_now = app
        .payroll
        .month(id, kvp_rules::YearMonth::new(2025, time::Month::September))
        .await
        .unwrap();
    let mut expected = BTreeMap::new();
    for (before, now) in september_before.lines.iter().zip(&september_now.lines) {
        if before.amount != now.amount {
            expected.insert(now.code.as_str().to_owned(), now.amount - before.amount);
        }
    }
    assert!(expected.contains_key("KVP_DEDUCTION_WAGE"), "{expected:?}");
    let mut corrections = BTreeMap::new();
    for line in december.iter().filter(|l| l.attributed_month == "2025-09") {
        let code = pb::LineCode::try_from(line.line_code)
            .unwrap()
            .as_str_name();
        let code = code.trim_start_matches("LINE_CODE_").to_owned();
        corrections.insert(code, dec(&line.amount));
    }
    assert_eq!(corrections, expected);
    // October and November did not change: nothing is paid for them again.
    assert!(
        december
            .iter()
            .all(|l| l.attributed_month == "2025-09" || l.attributed_month == "2025-12"),
        "{december:?}"
    );

    // With nothing changed, the next run pays only its own month.
    app.grpc
        .submit_timesheet(fixture.signed(&fixture.body("2026-01-01", "2026-01-31", &[])))
        .await
        .unwrap();
    let january_run = close(&mut app, "2026-01").await.run.unwrap();
    let january = lines(&mut app, &january_run.run_id).await;
    assert!(january.iter().all(|l| l.attributed_month == "2026-01"));
    app.stop().await;
}

/// A municipality's policy is not a fact of any participant: changing it
/// makes the next close recompute every month of everyone.
#[tokio::test]
async fn a_changed_municipal_policy_reaches_months_closed_before() {
    let mut app = TestApp::spawn().await;
    let fixture = Fixture::new(&app).await;
    let id: uuid::Uuid = fixture.participant_id.parse().unwrap();
    let october = fixture.body(
        "2025-10-01",
        "2025-10-31",
        &[("2025-10-14", DayKind::Unexcused, "3")],
    );
    app.grpc
        .submit_timesheet(fixture.signed(&october))
        .await
        .unwrap();
    close(&mut app, "2025-10").await;

    // Oslo now deducts unexcused hours without waiting for a decision.
    let (status, _) = app
        .rest()
        .put_read(
            "/v1/municipalities/0301",
            json!({"name": "Oslo", "use_product_codes": true, "policy_overrides": {"auto_apply_unexcused": true}}),
        )
        .await;
    assert_eq!(status, 200);
    app.grpc
        .submit_timesheet(fixture.signed(&fixture.body("2025-11-01", "2025-11-30", &[])))
        .await
        .unwrap();
    let november_run = close(&mut app, "2025-11").await.run.unwrap();
    let november = lines(&mut app, &november_run.run_id).await;
    let october_now = app
        .payroll
        .month(id, kvp_rules::YearMonth::new(2025, time::Month::October))
        .await
        .unwrap();
    let deduction = november
        .iter()
        .find(|l| {
            l.attributed_month == "2025-10"
                && l.line_code == pb::LineCode::KvpDeductionAbsence as i32
        })
        .expect("October's deduction is corrected");
    assert_eq!(
        dec(&deduction.amount),
        october_now.line(kvp_rules::LineCode::KvpDeductionAbsence)
    );
    assert!(dec(&deduction.amount) < Decimal::ZERO);
    app.stop().await;
}

#[tokio::test]
async fn a_top_up_service_that_accepts_and_never_answers_does_not_hold_the_outbox_up() {
    // In front of the top-up service: a peer that takes the relay's first
    // connection and never answers on it, then passes later ones through. A
    // relay without a deadline would wait on the first forever.
    let topup = TopupApp::spawn("127.0.0.1:0".parse().unwrap()).await;
    let upstream = topup.grpc_url.trim_start_matches("http://").to_owned();
    let front = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = front.local_addr().unwrap();
    let proxy = tokio::spawn(async move {
        let Ok((_silent, _)) = front.accept().await else {
            return;
        };
        while let Ok((mut inbound, _)) = front.accept().await {
            let upstream = upstream.clone();
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(&upstream).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    let mut app = TestApp::spawn_with(Some(format!("http://{addr}"))).await;
    let fixture = Fixture::new(&app).await;
    app.grpc
        .submit_timesheet(fixture.signed(&fixture.body("2025-10-01", "2025-10-31", &[])))
        .await
        .unwrap();
    // The call on the silent connection times out (10 s), the relay connects
    // anew and the event arrives.
    eventually(40, || async {
        (app.payroll.store().outbox_backlog().await.unwrap() == 0).then_some(())
    })
    .await;
    proxy.abort();
    app.stop().await;
    topup.stop().await;
}

#[tokio::test]
async fn every_payment_outcome_is_published_dated_and_by_attributed_month() {
    use kvp_proto::kvp::events::v1 as ev;
    use prost::Message as _;

    // No top-up service: the events stay in the outbox to be read.
    let mut app = TestApp::spawn().await;
    let fixture = Fixture::new(&app).await;
    let october = fixture.body(
        "2025-10-01",
        "2025-10-31",
        &[("2025-10-21", DayKind::PaidWork, "4")],
    );
    let first = app
        .grpc
        .submit_timesheet(fixture.signed(&october))
        .await
        .unwrap()
        .into_inner();
    let october_run = close(&mut app, "2025-10").await.run.unwrap();
    let october_lines = lines(&mut app, &october_run.run_id).await;
    let october_gross: Decimal = october_lines.iter().map(|l| dec(&l.amount)).sum();
    let wage_deduction = october_lines
        .iter()
        .find(|l| l.line_code == pb::LineCode::KvpDeductionWage as i32)
        .map(|l| dec(&l.amount))
        .unwrap();
    assert!(wage_deduction < Decimal::ZERO);
    let confirm = |run: &pb::PayRun, gross: Decimal, outcome: pb::PaymentOutcome, date: &str| {
        let paid = outcome == pb::PaymentOutcome::Paid;
        pb::ConfirmPaymentRequest {
            run_id: run.run_id.clone(),
            participant_id: fixture.participant_id.clone(),
            gross: format!("{gross:.2}"),
            tax_withheld: "0.00".into(),
            net_paid: if paid {
                format!("{gross:.2}")
            } else {
                "0.00".into()
            },
            outcome: outcome as i32,
            failure_reason: if paid {
                String::new()
            } else {
                "closed bank account".into()
            },
            payment_date: date.into(),
        }
    };
    app.grpc
        .confirm_payment(confirm(
            &october_run,
            october_gross,
            pb::PaymentOutcome::Paid,
            "2025-11-01",
        ))
        .await
        .unwrap();

    // October is corrected (there was no paid work): November's run pays
    // November and October's deduction back, and its payment fails.
    let mut corrected = fixture.body("2025-10-01", "2025-10-31", &[]);
    corrected.supersedes_timesheet_id = first.timesheet_id;
    app.grpc
        .submit_timesheet(fixture.signed(&corrected))
        .await
        .unwrap();
    let november = fixture.body("2025-11-01", "2025-11-30", &[]);
    app.grpc
        .submit_timesheet(fixture.signed(&november))
        .await
        .unwrap();
    let november_run = close(&mut app, "2025-11").await.run.unwrap();
    let november_lines = lines(&mut app, &november_run.run_id).await;
    let sum_of = |month: &str| -> Decimal {
        november_lines
            .iter()
            .filter(|l| l.attributed_month == month)
            .map(|l| dec(&l.amount))
            .sum()
    };
    // October's wage deduction is paid back (with the child supplement it
    // had reduced).
    let wage_paid_back: Decimal = november_lines
        .iter()
        .filter(|l| {
            l.attributed_month == "2025-10" && l.line_code == pb::LineCode::KvpDeductionWage as i32
        })
        .map(|l| dec(&l.amount))
        .sum();
    assert_eq!(wage_paid_back, -wage_deduction);
    let november_gross = sum_of("2025-10") + sum_of("2025-11");
    app.grpc
        .confirm_payment(confirm(
            &november_run,
            november_gross,
            pb::PaymentOutcome::Failed,
            "",
        ))
        .await
        .unwrap();

    let far = time::OffsetDateTime::now_utc() + time::Duration::days(3650);
    let events = app
        .payroll
        .store()
        .claim_outbox(far, far + time::Duration::minutes(1), 1000)
        .await
        .unwrap();
    let of_type = |event_type: &str| -> Vec<Vec<u8>> {
        events
            .iter()
            .filter(|e| e.event_type == event_type)
            .map(|e| e.payload.clone())
            .collect()
    };
    let attributed = |pairs: &[(&str, Decimal)]| -> Vec<ev::AttributedAmount> {
        pairs
            .iter()
            .map(|(month, gross)| ev::AttributedAmount {
                month: (*month).into(),
                gross: format!("{gross:.2}"),
            })
            .collect()
    };

    let paid = of_type(kvp_proto::event_types::STIPEND_PAID);
    assert_eq!(paid.len(), 1);
    let paid = ev::StipendPaid::decode(paid[0].as_slice()).unwrap();
    assert_eq!(
        (
            paid.month.as_str(),
            paid.payment_date.as_str(),
            paid.net_paid.as_str()
        ),
        (
            "2025-10",
            "2025-11-01",
            format!("{october_gross:.2}").as_str()
        )
    );
    assert_eq!(paid.attributed, attributed(&[("2025-10", october_gross)]));

    let failed = of_type(kvp_proto::event_types::STIPEND_PAYMENT_FAILED);
    assert_eq!(failed.len(), 1);
    let failed = ev::StipendPaymentFailed::decode(failed[0].as_slice()).unwrap();
    assert_eq!(
        (
            failed.month.as_str(),
            failed.run_id.as_str(),
            failed.gross.as_str()
        ),
        (
            "2025-11",
            november_run.run_id.as_str(),
            format!("{november_gross:.2}").as_str()
        )
    );
    // No payment date given: the day of confirmation.
    assert_eq!(failed.payment_date, kvp_payroll::clock::today().to_string());
    assert_eq!(
        failed.attributed,
        attributed(&[
            ("2025-10", sum_of("2025-10")),
            ("2025-11", sum_of("2025-11"))
        ])
    );
    assert_eq!(failed.participant_id, fixture.participant_id);
}

/// A second participant of the fixture's municipality, with a programme and
/// a signing key of their own: their id and key (keyid `participant-key-2`).
async fn second_participant(app: &TestApp) -> (String, kvp_signing::SigningKey) {
    let id = app
        .post(
            "/v1/participants",
            json!({"municipality_id": "0301", "national_id": kvp_system_tests::national_id("150190", 321),
                   "display_name": "Ola Nordmann"}),
            201,
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.post(
        &format!("/v1/participants/{id}/programmes"),
        json!({"start": "2025-01-06", "end": "2026-12-31", "decision_reference": "KVP-2"}),
        201,
    )
    .await;
    let key = kvp_signing::SigningKey::from_bytes(&[4; 32]);
    app.post(
        "/v1/signer-keys",
        json!({
            "keyid": "participant-key-2", "person_id": id, "role": "PARTICIPANT",
            "public_key": kvp_signing::public_key_to_base64(&key.verifying_key()),
            "valid_from": "2025-01-01T00:00:00Z",
        }),
        201,
    )
    .await;
    (id, key)
}

#[tokio::test]
async fn the_topup_counts_each_payment_in_the_month_it_was_paid_and_a_failed_one_as_nothing() {
    use prost::Message as _;

    let topup = TopupApp::spawn("127.0.0.1:0".parse().unwrap()).await;
    let mut app = TestApp::spawn_with(Some(topup.grpc_url.clone())).await;
    let fixture = Fixture::new(&app).await;
    let kari = fixture.participant_id.clone();
    let (ola, ola_key) = second_participant(&app).await;
    // Both single, no children, housing 9 000, other income 500.
    for participant in [&kari, &ola] {
        let (status, _) = topup
            .call(
                reqwest::Method::PUT,
                &format!("/households/{participant}"),
                Some(json!({"adults": "SINGLE", "children": [], "housing_cost": "9000.00", "other_income": "500.00"})),
            )
            .await;
        assert_eq!(status, 201);
    }
    let grpc = app.grpc.clone();
    let submit = |body: pb::TimesheetBody| {
        let request = if body.participant_id == ola {
            kvp_system_tests::sign(
                body.encode_to_vec(),
                &[
                    ("participant-key-2", &ola_key),
                    ("supervisor-key", &fixture.supervisor_key),
                ],
            )
        } else {
            fixture.signed(&body)
        };
        let mut grpc = grpc.clone();
        async move { grpc.submit_timesheet(request).await.unwrap().into_inner() }
    };
    let body = |participant: &str, from: &str, to: &str, entries: &[(&str, DayKind, &str)]| {
        let mut body = fixture.body(from, to, entries);
        body.participant_id = participant.to_owned();
        body
    };

    // October: Ola worked four paid hours (deducted); both are paid on
    // 1 November.
    submit(body(&kari, "2025-10-01", "2025-10-31", &[])).await;
    let ola_october = submit(body(
        &ola,
        "2025-10-01",
        "2025-10-31",
        &[("2025-10-21", DayKind::PaidWork, "4")],
    ))
    .await;
    let october = close(&mut app, "2025-10").await.run.unwrap();
    let october_lines = lines(&mut app, &october.run_id).await;
    let gross_of = |lines: &[pb::PayLine], participant: &str, month: Option<&str>| -> Decimal {
        lines
            .iter()
            .filter(|l| l.participant_id == participant)
            .filter(|l| month.is_none_or(|m| l.attributed_month == m))
            .map(|l| dec(&l.amount))
            .sum()
    };
    let tax_on = |gross: Decimal| (gross * dec("0.30")).round_dp(0);
    let mut net = BTreeMap::new();
    let mut confirm =
        |run: &pb::PayRun, participant: &str, gross: Decimal, paid: bool, date: &str| {
            let tax = if paid { tax_on(gross) } else { Decimal::ZERO };
            let net_paid = if paid { gross - tax } else { Decimal::ZERO };
            net.insert((participant.to_owned(), run.month.clone()), net_paid);
            let request = pb::ConfirmPaymentRequest {
                run_id: run.run_id.clone(),
                participant_id: participant.to_owned(),
                gross: format!("{gross:.2}"),
                tax_withheld: format!("{tax:.2}"),
                net_paid: format!("{net_paid:.2}"),
                outcome: if paid {
                    pb::PaymentOutcome::Paid
                } else {
                    pb::PaymentOutcome::Failed
                } as i32,
                failure_reason: if paid {
                    String::new()
                } else {
                    "closed bank account".into()
                },
                payment_date: date.into(),
            };
            let mut grpc = grpc.clone();
            async move { grpc.confirm_payment(request).await.unwrap() }
        };
    for participant in [&kari, &ola] {
        let gross = gross_of(&october_lines, participant, None);
        confirm(&october, participant, gross, true, "2025-11-01").await;
    }

    // Ola's October is corrected (the hours were not paid work after all):
    // November's run pays November and October's deduction back. Kari's
    // November payment fails; Ola's goes through; both on 1 December.
    let mut corrected = body(&ola, "2025-10-01", "2025-10-31", &[]);
    corrected.supersedes_timesheet_id = ola_october.timesheet_id;
    submit(corrected).await;
    submit(body(&kari, "2025-11-01", "2025-11-30", &[])).await;
    submit(body(&ola, "2025-11-01", "2025-11-30", &[])).await;
    let november = close(&mut app, "2025-11").await.run.unwrap();
    let november_lines = lines(&mut app, &november.run_id).await;
    let back_pay = gross_of(&november_lines, &ola, Some("2025-10"));
    assert!(back_pay > Decimal::ZERO, "October's deduction is paid back");
    let ola_november = gross_of(&november_lines, &ola, Some("2025-11"));
    let kari_november = gross_of(&november_lines, &kari, None);
    confirm(&november, &kari, kari_november, false, "2025-12-01").await;
    confirm(&november, &ola, back_pay + ola_november, true, "2025-12-01").await;

    // Each payment is income in the month of its payment date: October's run
    // in November, November's (with Ola's back pay) in December; nothing was
    // paid in October. Needs: norm 7 850 (single adult, the newest rates) +
    // housing 9 000; income: net stipend + other income 500.
    let proposals = eventually(20, || async {
        let (_, value) = topup.call(reqwest::Method::GET, "/proposals", None).await;
        let list = value["proposals"].as_array().cloned().unwrap_or_default();
        (list.len() == 4).then_some(list)
    })
    .await;
    // A month with a shortfall is work (PROPOSED); one without is recorded
    // as NO_SHORTFALL, off the worklist.
    for p in &proposals {
        let expected_state = if p["amount"] == "0.00" {
            "NO_SHORTFALL"
        } else {
            "PROPOSED"
        };
        assert_eq!(p["state"], expected_state, "{p}");
    }
    let mut by_month: BTreeMap<(String, String), (Decimal, String)> = BTreeMap::new();
    for p in &proposals {
        by_month.insert(
            (
                p["participant_id"].as_str().unwrap().to_owned(),
                p["month"].as_str().unwrap().to_owned(),
            ),
            (
                dec(p["amount"].as_str().unwrap()),
                p["id"].as_str().unwrap().to_owned(),
            ),
        );
    }
    let needs = dec("7850") + dec("9000") - dec("500");
    let expected = |net: Decimal| (needs - net).max(Decimal::ZERO);
    let net_of =
        |participant: &str, run_month: &str| net[&(participant.to_owned(), run_month.to_owned())];
    assert_eq!(
        by_month
            .iter()
            .map(|(k, (amount, _))| (k.clone(), *amount))
            .collect::<Vec<_>>(),
        {
            let mut rows = vec![
                (
                    (kari.clone(), "2025-11".to_owned()),
                    expected(net_of(&kari, "2025-10")),
                ),
                // Kari's December: the payment failed, nothing received.
                (
                    (kari.clone(), "2025-12".to_owned()),
                    expected(Decimal::ZERO),
                ),
                (
                    (ola.clone(), "2025-11".to_owned()),
                    expected(net_of(&ola, "2025-10")),
                ),
                (
                    (ola.clone(), "2025-12".to_owned()),
                    expected(net_of(&ola, "2025-11")),
                ),
            ];
            rows.sort();
            rows
        }
    );

    // The explanations say which payment counted where.
    let explanation = |participant: &str, month: &str| {
        let id = by_month[&(participant.to_owned(), month.to_owned())]
            .1
            .clone();
        let topup = &topup;
        async move {
            let (status, value) = topup
                .call(reqwest::Method::GET, &format!("/proposals/{id}"), None)
                .await;
            assert_eq!(status, 200, "{value}");
            value["explanation"].clone()
        }
    };
    let ola_december = explanation(&ola, "2025-12").await;
    let stipend: Vec<&str> = ola_december["lines"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["code"] == "NET_STIPEND")
        .map(|l| l["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        stipend,
        [format!(
            "net stipend (after tax) paid on 2025-12-01 by the run for 2025-11 (gross by the \
             month paid for: 2025-10 {back_pay:.2}, 2025-11 {ola_november:.2}), subtracted in \
             2025-12, when it could be used"
        )]
    );
    // Kari's December, with nothing received, is on the worklist.
    let (_, worklist) = topup
        .call(reqwest::Method::GET, "/proposals?state=PROPOSED", None)
        .await;
    assert!(
        worklist["proposals"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["participant_id"] == kari.as_str() && p["month"] == "2025-12"),
        "{worklist}"
    );
    let kari_december = explanation(&kari, "2025-12").await;
    assert_eq!(
        kari_december["notes"],
        json!([
            "the payment on 2025-12-01 by the run for 2025-11 failed: nothing was received, so \
             nothing is counted; its lines are reissued by a later run and count in the month \
             they are paid"
        ])
    );
    app.stop().await;
    topup.stop().await;
}

#[tokio::test]
async fn a_month_ends_at_midnight_in_norway_not_in_utc() {
    let app = TestApp::spawn().await;
    Fixture::new(&app).await;
    let march = kvp_rules::YearMonth::new(2025, time::Month::March);
    let actor = kvp_payroll::payroll::Actor::named("payroll_operator:night");
    // 23:30 in Oslo on 31 March (summer time: UTC+2) is 21:30 UTC: not ended.
    let refused = app
        .payroll
        .close_period(
            "0301",
            march,
            &actor,
            time::macros::datetime!(2025-03-31 21:30 UTC),
        )
        .await
        .unwrap_err();
    assert_eq!(refused.reason(), "MONTH_NOT_ENDED", "{refused}");
    // 00:30 in Oslo on 1 April is still 31 March in UTC: ended.
    let (run, created) = app
        .payroll
        .close_period(
            "0301",
            march,
            &actor,
            time::macros::datetime!(2025-03-31 22:30 UTC),
        )
        .await
        .unwrap();
    assert!(created);
    assert_eq!(run.month, march.first_day());
    app.stop().await;
}
