//! Facts over time over real HTTP, on both backends: a fact that changes
//! money is corrected or voided from the version read, with a reason; its
//! versions stay; the next close pays or recovers the difference attributed
//! to the months the change reaches, so the ledger always sums to what the
//! rules give for the facts as they now stand.

use std::collections::BTreeMap;

use kvp_proto::kvp::payroll::v1 as pb;
use kvp_rules::YearMonth;
use kvp_system_tests::{Fixture, Reply, TestApp, TestBackend, two_decimals};
use reqwest::Method;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use time::Month;

const ACTOR: (&str, &str) = ("x-kvp-actor", "caseworker-1");
const FACT_CORRECTED: &str = "no.kvp.payroll.fact.corrected.v1";

fn dec(text: &str) -> Decimal {
    text.parse().unwrap()
}

/// A GET that must answer 200 with an `ETag`: the body and the tag.
async fn read(app: &TestApp, path: &str) -> (Value, String) {
    let reply = app
        .rest()
        .call_as_with(None, Method::GET, path, None, &[ACTOR])
        .await;
    assert_eq!(reply.status, 200, "GET {path}: {reply:?}");
    (reply.body, reply.etag.expect("an ETag"))
}

/// A correction (`PUT`) or void (`POST …/void`) from `if_match` (none: no
/// header).
async fn change(
    app: &TestApp,
    method: Method,
    path: &str,
    if_match: Option<&str>,
    body: Value,
) -> Reply {
    let mut headers = vec![ACTOR];
    if let Some(tag) = if_match {
        headers.push(("if-match", tag));
    }
    app.rest()
        .call_as_with(None, method, path, Some(body), &headers)
        .await
}

/// Submits the participant's timesheet for the whole of `month`
/// (`YYYY-MM`), without entries, and closes Oslo's month: the run.
async fn submit_and_close(app: &mut TestApp, fixture: &Fixture, month: YearMonth) -> pb::PayRun {
    let body = fixture.body(
        &month.first_day().to_string(),
        &month.last_day().to_string(),
        &[],
    );
    app.grpc
        .submit_timesheet(fixture.signed(&body))
        .await
        .unwrap();
    let closed = app.close_oslo(&month.to_string()).await;
    assert!(closed.created, "{month} is closed by this call");
    closed.run.unwrap()
}

/// A run's lines summed per (attributed month, line code); every amount and
/// rate streamed, and every amount in the run's export and explanations, has
/// two decimals.
async fn run_lines(app: &mut TestApp, run: &pb::PayRun) -> BTreeMap<(String, String), Decimal> {
    assert!(two_decimals(&run.total_amount), "{run:?}");
    let export = app
        .get(&format!("/v1/runs/{}/export?format=json", run.run_id))
        .await;
    for line in export["lines"].as_array().unwrap() {
        assert!(two_decimals(line["amount"].as_str().unwrap()), "{line}");
        // A rate where the line has a quantity that is not zero.
        assert!(
            line["rate"].is_null() || two_decimals(line["rate"].as_str().unwrap()),
            "{line}"
        );
    }
    let mut out = BTreeMap::new();
    for line in app.pay_lines(&run.run_id).await {
        assert!(
            two_decimals(&line.amount) && (line.rate.is_empty() || two_decimals(&line.rate)),
            "{line:?}"
        );
        // Each amount written "<amount> kr".
        let words: Vec<&str> = line.explanation.split(' ').collect();
        for pair in words.windows(2) {
            if pair[1].trim_end_matches([',', '.', ')', ':']) == "kr" {
                assert!(two_decimals(pair[0]), "{}", line.explanation);
            }
        }
        let code = pb::LineCode::try_from(line.line_code)
            .unwrap()
            .as_str_name()
            .to_owned();
        *out.entry((line.attributed_month, code)).or_default() += dec(&line.amount);
    }
    out
}

/// For every month from March 2025 to `upto`: what all closed runs paid for
/// it is what the rules give for it now.
async fn ledger_matches_the_rules(app: &TestApp, fixture: &Fixture, upto: YearMonth) {
    let participant = fixture.participant_id.parse().unwrap();
    let ledger = app.payroll.store().ledger("0301").await.unwrap();
    let mut month = YearMonth::new(2025, Month::March);
    while month <= upto {
        let paid: Decimal = ledger
            .iter()
            .filter(|entry| entry.attributed_month == Some(month.first_day()))
            .map(|entry| entry.amount)
            .sum();
        let now = app.payroll.month(participant, month).await.unwrap().total;
        assert_eq!(paid, now, "paid for {month} after closing {upto}");
        month = month.next();
    }
}

async fn corrected_events(app: &TestApp) -> String {
    app.sql(&format!(
        "SELECT CAST(count(*) AS TEXT) FROM outbox_events WHERE event_type = '{FACT_CORRECTED}'"
    ))
    .await
    .unwrap()
}

#[tokio::test]
async fn a_corrected_or_voided_fact_is_paid_or_recovered_at_the_next_close() {
    for backend in TestBackend::all() {
        corrected_then_paid(backend).await;
    }
}

async fn corrected_then_paid(backend: TestBackend) {
    let mut app = TestApp::spawn_on(backend).await;
    let fixture = Fixture::new(&app).await;
    let p = fixture.participant_id.clone();
    let march = YearMonth::new(2025, Month::March);
    let offset = app
        .post(
            &format!("/v1/participants/{p}/benefit-offsets"),
            json!({"month": "2025-03", "kind": "DAGPENGER", "amount": "1000.00"}),
            201,
        )
        .await;
    let offset_path = format!(
        "/v1/facts/benefit-offsets/{}",
        offset["id"].as_str().unwrap()
    );
    let march_run = submit_and_close(&mut app, &fixture, march).await;
    let march_paid = run_lines(&mut app, &march_run).await;
    assert_eq!(
        march_paid[&(
            "2025-03".into(),
            "LINE_CODE_KVP_DEDUCTION_OTHER_BENEFITS".into()
        )],
        dec("-1000.00")
    );

    // The offset as registered: version 1.
    let (fact, etag) = read(&app, &offset_path).await;
    assert_eq!(etag, "\"1\"", "{backend:?}");
    assert_eq!(
        (
            &fact["kind"],
            &fact["version"],
            &fact["change"],
            &fact["void"]
        ),
        (
            &json!("benefit_offset"),
            &json!(1),
            &json!("RECORDED"),
            &json!(false)
        )
    );
    assert_eq!(fact["participant_id"], json!(p));
    assert_eq!(
        fact["fact"],
        json!({"month": "2025-03", "kind": "DAGPENGER", "amount": "1000.00"})
    );
    assert_eq!(fact["recorded_by"], "caseworker-1");

    let corrected = json!({
        "reason": "the NAV statement said 400",
        "fact": {"month": "2025-03", "kind": "DAGPENGER", "amount": "400"},
    });
    // Without the version read: 428; a bad amount or no reason: 400, naming
    // the field; nothing changes.
    let reply = change(&app, Method::PUT, &offset_path, None, corrected.clone()).await;
    assert_eq!(reply.status, 428, "{reply:?}");
    let mut negative = corrected.clone();
    negative["fact"]["amount"] = json!("-5.00");
    let reply = change(&app, Method::PUT, &offset_path, Some("\"1\""), negative).await;
    assert_eq!(reply.status, 400, "{reply:?}");
    assert_eq!(reply.body["errors"][0]["field"], "fact.amount");
    let mut no_reason = corrected.clone();
    no_reason["reason"] = json!("  ");
    let reply = change(&app, Method::PUT, &offset_path, Some("\"1\""), no_reason).await;
    assert_eq!(reply.status, 400, "{reply:?}");
    assert_eq!(reply.body["errors"][0]["field"], "reason");
    assert_eq!(read(&app, &offset_path).await.1, "\"1\"");

    let reply = change(
        &app,
        Method::PUT,
        &offset_path,
        Some("\"1\""),
        corrected.clone(),
    )
    .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.etag.as_deref(), Some("\"2\""));
    assert_eq!(reply.body["change"], "CORRECTED");
    assert_eq!(reply.body["fact"]["amount"], "400.00");
    assert_eq!(reply.body["reason"], "the NAV statement said 400");
    // A second caseworker working from version 1: 412.
    let reply = change(&app, Method::PUT, &offset_path, Some("\"1\""), corrected).await;
    assert_eq!(reply.status, 412, "{reply:?}");
    let history = app.get(&format!("{offset_path}/versions")).await;
    let changes: Vec<_> = history["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["version"].clone(),
                v["change"].clone(),
                v["reason"].clone(),
            )
        })
        .collect();
    assert_eq!(
        changes,
        [
            (json!(1), json!("RECORDED"), Value::Null),
            (
                json!(2),
                json!("CORRECTED"),
                json!("the NAV statement said 400")
            ),
        ]
    );
    assert_eq!(
        history["versions"][0]["fact"]["amount"], "1000.00",
        "what was recorded stays readable"
    );

    // April's close pays the 600 kroner March was short, attributed to March.
    let april_run = submit_and_close(&mut app, &fixture, march.next()).await;
    let april_paid = run_lines(&mut app, &april_run).await;
    let for_march: BTreeMap<_, _> = april_paid
        .iter()
        .filter(|((month, _), _)| month == "2025-03")
        .map(|((_, code), amount)| (code.as_str(), *amount))
        .collect();
    assert_eq!(
        for_march,
        BTreeMap::from([("LINE_CODE_KVP_DEDUCTION_OTHER_BENEFITS", dec("600.00"))])
    );
    ledger_matches_the_rules(&app, &fixture, march.next()).await;

    // The child was registered on the wrong participant: voided, March and
    // April's child supplement is recovered at May's close.
    let participant = app.get(&format!("/v1/participants/{p}")).await;
    let child_path = format!(
        "/v1/facts/children/{}",
        participant["children"][0]["id"].as_str().unwrap()
    );
    let void = json!({"reason": "registered on the wrong participant"});
    let reply = change(
        &app,
        Method::POST,
        &format!("{child_path}/void"),
        Some("\"1\""),
        void.clone(),
    )
    .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(
        (
            &reply.body["version"],
            &reply.body["change"],
            &reply.body["void"]
        ),
        (&json!(2), &json!("VOIDED"), &json!(true))
    );
    assert_eq!(reply.body["fact"]["birth_date"], "2021-03-14");
    // A void is final: neither voided again nor corrected.
    let again = change(
        &app,
        Method::POST,
        &format!("{child_path}/void"),
        Some("\"2\""),
        void,
    )
    .await;
    assert_eq!(again.status, 409, "{again:?}");
    let revived = change(
        &app,
        Method::PUT,
        &child_path,
        Some("\"2\""),
        json!({"reason": "undo", "fact": {"birth_date": "2021-03-14"}}),
    )
    .await;
    assert_eq!(revived.status, 409, "{revived:?}");
    let participant = app.get(&format!("/v1/participants/{p}")).await;
    assert_eq!(participant["children"], json!([]));

    let may_run = submit_and_close(&mut app, &fixture, march.next().next()).await;
    let may_paid = run_lines(&mut app, &may_run).await;
    let supplement = "LINE_CODE_KVP_CHILD_SUPPLEMENT".to_owned();
    for (month, run) in [("2025-03", &march_paid), ("2025-04", &april_paid)] {
        let paid = run[&(month.to_owned(), supplement.clone())];
        assert!(paid > Decimal::ZERO, "{month}: {paid}");
        assert_eq!(
            may_paid[&(month.to_owned(), supplement.clone())],
            -paid,
            "{month}'s child supplement is recovered whole"
        );
    }
    assert!(!may_paid.contains_key(&("2025-05".to_owned(), supplement)));
    ledger_matches_the_rules(&app, &fixture, march.next().next()).await;

    // A G registered with a typing error, corrected, then voided: each close
    // recomputes May on.
    let g_path = "/v1/parameters/g/2025-05-01";
    app.post(
        "/v1/parameters/g",
        json!({"effective_date": "2025-05-01", "value": "13016", "reference": "Prop. G"}),
        201,
    )
    .await;
    let (g, etag) = read(&app, g_path).await;
    assert_eq!(
        (g["participant_id"].clone(), etag.as_str()),
        (Value::Null, "\"1\"")
    );
    let reply = change(
        &app,
        Method::PUT,
        g_path,
        Some("\"1\""),
        json!({"reason": "a digit lost", "fact": {"value": "130160", "reference": "Prop. G"}}),
    )
    .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.body["fact"]["value"], "130160.00");
    let june = march.next().next().next();
    submit_and_close(&mut app, &fixture, june).await;
    ledger_matches_the_rules(&app, &fixture, june).await;
    let reply = change(
        &app,
        Method::POST,
        &format!("{g_path}/void"),
        Some("\"2\""),
        json!({"reason": "the shipped table has it"}),
    )
    .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    submit_and_close(&mut app, &fixture, june.next()).await;
    ledger_matches_the_rules(&app, &fixture, june.next()).await;

    // Every change is in the audit trail with its reason, and one event each.
    let trail = app.get(&format!("/v1/audit/participant/{p}")).await;
    let changes: Vec<_> = trail
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["action"].as_str().unwrap().ends_with(".corrected")
                || e["action"].as_str().unwrap().ends_with(".voided")
        })
        .map(|e| (e["action"].clone(), e["actor"].clone()))
        .collect();
    assert_eq!(
        changes,
        [
            (json!("benefit_offset.corrected"), json!("caseworker-1")),
            (json!("child.voided"), json!("caseworker-1")),
        ]
    );
    assert_eq!(corrected_events(&app).await, "4");
    app.stop().await;
}

#[tokio::test]
async fn every_fact_that_changes_money_is_corrected_within_its_rules() {
    for backend in TestBackend::all() {
        kinds_corrected(backend).await;
    }
}

async fn kinds_corrected(backend: TestBackend) {
    let mut app = TestApp::spawn_on(backend).await;
    let fixture = Fixture::new(&app).await;
    let p = fixture.participant_id.clone();
    let id = |body: &Value| body["id"].as_str().unwrap().to_owned();

    // A sole-carer period, corrected to end.
    let period = app
        .post(
            &format!("/v1/participants/{p}/sole-carer-periods"),
            json!({"from": "2025-02-01"}),
            201,
        )
        .await;
    let path = format!("/v1/facts/sole-carer-periods/{}", id(&period));
    let fix = |fact: Value| json!({"reason": "as decided", "fact": fact});
    let reply = change(
        &app,
        Method::PUT,
        &path,
        Some("\"1\""),
        fix(json!({"from": "2025-02-01", "to": "2025-01-31"})),
    )
    .await;
    assert_eq!(reply.status, 400, "{reply:?}");
    assert_eq!(reply.body["errors"][0]["field"], "fact.to");
    let reply = change(
        &app,
        Method::PUT,
        &path,
        Some("\"1\""),
        fix(json!({"from": "2025-02-01", "to": "2025-06-30"})),
    )
    .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let participant = app.get(&format!("/v1/participants/{p}")).await;
    assert_eq!(
        participant["sole_carer_periods"],
        json!([{"id": id(&period), "from": "2025-02-01", "to": "2025-06-30"}])
    );

    // Two offsets: one corrected into the other's month and kind is a
    // duplicate (409, naming the other).
    let mut offsets = Vec::new();
    for month in ["2025-03", "2025-04"] {
        let offset = app
            .post(
                &format!("/v1/participants/{p}/benefit-offsets"),
                json!({"month": month, "kind": "DAGPENGER", "amount": "500.00"}),
                201,
            )
            .await;
        offsets.push(id(&offset));
    }
    let reply = change(
        &app,
        Method::PUT,
        &format!("/v1/facts/benefit-offsets/{}", offsets[1]),
        Some("\"1\""),
        fix(json!({"month": "2025-03", "kind": "DAGPENGER", "amount": "500.00"})),
    )
    .await;
    assert_eq!(reply.status, 409, "{reply:?}");
    assert!(
        reply.body["detail"].as_str().unwrap().contains(&offsets[0]),
        "{reply:?}"
    );

    // Programmes never overlap: a second one's start corrected into the
    // first is refused; its start corrected after the first's end is kept.
    let second = app.add_programme(&p, "2027-03-01", "KVP-2").await;
    let path = format!("/v1/facts/programmes/{second}");
    let reply = change(
        &app,
        Method::PUT,
        &path,
        Some("\"1\""),
        fix(json!({"start": "2026-12-01", "decision_reference": "KVP-2"})),
    )
    .await;
    assert_eq!(reply.status, 409, "{reply:?}");
    let reply = change(
        &app,
        Method::PUT,
        &path,
        Some("\"1\""),
        fix(json!({"start": "2027-01-01", "end": "2027-12-31", "decision_reference": "KVP-2b"})),
    )
    .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let (programme, etag) = read(&app, &format!("/v1/programmes/{second}")).await;
    assert_eq!(
        (&programme["start"], &programme["end"], etag.as_str()),
        (&json!("2027-01-01"), &json!("2027-12-31"), "\"2\"")
    );

    // A pause, corrected in kind; a kind the service does not know is 400.
    let first = app.get(&format!("/v1/participants/{p}")).await["programmes"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let pause = app
        .post(
            &format!("/v1/programmes/{first}/pauses"),
            json!({"from": "2025-06-01", "to": "2025-06-30", "kind": "INTERRUPTED", "reference": "P-1"}),
            201,
        )
        .await;
    let path = format!("/v1/facts/pauses/{}", id(&pause));
    let reply = change(
        &app,
        Method::PUT,
        &path,
        Some("\"1\""),
        fix(json!({"from": "2025-06-01", "to": "2025-06-30", "kind": "HOLIDAY", "reference": "P-1"})),
    )
    .await;
    assert_eq!(reply.status, 400, "{reply:?}");
    assert_eq!(reply.body["errors"][0]["field"], "fact.kind");
    let reply = change(
        &app,
        Method::PUT,
        &path,
        Some("\"1\""),
        fix(json!({"from": "2025-06-01", "to": "2025-06-15", "kind": "STOPPED", "reference": "P-1"})),
    )
    .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(
        reply.body["fact"],
        json!({"from": "2025-06-01", "to": "2025-06-15", "kind": "STOPPED", "reference": "P-1"})
    );

    // A sanction decision's outcome is corrected (an appeal upheld); its day
    // and entry kind are what it decided and never change.
    let march = fixture.body(
        "2025-03-01",
        "2025-03-31",
        &[("2025-03-12", pb::DayKind::Unexcused, "3")],
    );
    app.grpc
        .submit_timesheet(fixture.signed(&march))
        .await
        .unwrap();
    app.warn(&p, "2025-03-12", "UNEXCUSED").await;
    let decision = app
        .post(
            &format!("/v1/participants/{p}/sanction-decisions"),
            json!({"date": "2025-03-12", "entry_kind": "UNEXCUSED", "outcome": "APPROVED", "reference": "V-1"}),
            201,
        )
        .await;
    let path = format!("/v1/facts/sanction-decisions/{}", id(&decision));
    let reply = change(
        &app,
        Method::PUT,
        &path,
        Some("\"1\""),
        fix(json!({"date": "2025-03-13", "entry_kind": "UNEXCUSED", "outcome": "REJECTED", "reference": "V-1"})),
    )
    .await;
    assert_eq!(reply.status, 400, "{reply:?}");
    assert_eq!(reply.body["errors"][0]["field"], "fact");
    let reply = change(
        &app,
        Method::PUT,
        &path,
        Some("\"1\""),
        fix(json!({"date": "2025-03-12", "entry_kind": "UNEXCUSED", "outcome": "REJECTED", "reference": "V-1", "reason": "appeal upheld"})),
    )
    .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let decisions = app
        .get(&format!("/v1/participants/{p}/sanction-decisions"))
        .await;
    assert_eq!(decisions[0]["outcome"], "REJECTED");

    // Voiding the first programme voids its pause with it.
    let reply = change(
        &app,
        Method::POST,
        &format!("/v1/facts/programmes/{first}/void"),
        Some("\"1\""),
        json!({"reason": "decision annulled"}),
    )
    .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let (pause, etag) = read(&app, &format!("/v1/facts/pauses/{}", id(&pause))).await;
    assert_eq!(
        (pause["void"].clone(), etag.as_str()),
        (json!(true), "\"3\"")
    );
    let participant = app.get(&format!("/v1/participants/{p}")).await;
    let left: Vec<_> = participant["programmes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["decision_reference"].clone())
        .collect();
    assert_eq!(left, [json!("KVP-2b")]);

    // What is not a fact: 404; a fact of another kind's shape: 400.
    let (status, _) = app.call(Method::GET, "/v1/facts/cars/1", None).await;
    assert_eq!(status, 404);
    let (status, _) = app
        .call(
            Method::GET,
            &format!("/v1/facts/children/{}", uuid::Uuid::nil()),
            None,
        )
        .await;
    assert_eq!(status, 404);
    let reply = change(
        &app,
        Method::PUT,
        &format!("/v1/facts/benefit-offsets/{}", offsets[0]),
        Some("\"1\""),
        fix(json!({"birth_date": "2021-03-14"})),
    )
    .await;
    assert_eq!(reply.status, 400, "{reply:?}");
    app.stop().await;
}
