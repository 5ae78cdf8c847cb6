//! One participant never stops the run: a fact the rules refuse, written
//! straight into the database, holds that participant — recorded in the run
//! with the month and the reason, on the worklist, counted in a metric — while
//! everyone else is paid; once the fact is corrected over REST, the next close
//! pays the held month by recompute-and-diff. A G registered late makes that close
//! recompute from an earlier month than the one refused, so paying the held
//! participant in full needs the close to keep every month it considered for
//! them, not just the one it could not compute. On SQLite always, and on PostgreSQL when
//! `KVP_TEST_DATABASE_URL` is set, one after the other in this one test (the
//! metric is process-wide: run in sequence, its count is exact).

use std::collections::BTreeMap;

use kvp_proto::kvp::payroll::v1 as pb;
use kvp_signing::{SigningKey, public_key_to_base64};
use kvp_system_tests::{Fixture, TestApp, TestBackend, capture, national_id, sign};
use pb::DayKind;
use prost::Message;
use reqwest::Method;
use rust_decimal::Decimal;
use serde_json::{Value, json};

const HELD_METRIC: &str = "kvp_pay_period_held_participants_total";

fn dec(text: &str) -> Decimal {
    text.parse().unwrap()
}

async fn close(app: &mut TestApp, month: &str) -> pb::PayRun {
    let closed = app.close_oslo(month).await;
    assert!(closed.created, "{month} is closed by this call");
    closed.run.unwrap()
}

async fn lines(app: &mut TestApp, run_id: &str) -> Vec<pb::PayLine> {
    app.pay_lines(run_id).await
}

/// A participant's lines summed per (attributed month, line code name).
fn by_month(lines: &[pb::PayLine], participant: &str) -> BTreeMap<(String, String), Decimal> {
    let mut out = BTreeMap::new();
    for l in lines.iter().filter(|l| l.participant_id == participant) {
        let code = pb::LineCode::try_from(l.line_code)
            .unwrap()
            .as_str_name()
            .to_owned();
        *out.entry((l.attributed_month.clone(), code)).or_default() += dec(&l.amount);
    }
    out
}

/// Those of `lines` attributed to `month`.
fn of_month(lines: &BTreeMap<(String, String), Decimal>, month: &str) -> BTreeMap<String, Decimal> {
    lines
        .iter()
        .filter(|((m, _), _)| m == month)
        .map(|((_, code), amount)| (code.clone(), *amount))
        .collect()
}

/// The held-participants counter now (0 before the first close writes it).
async fn held_metric(app: &TestApp) -> u64 {
    let text = app
        .client
        .get(format!("{}/metrics", app.http))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.split_once(' '))
        .find(|(series, _)| *series == HELD_METRIC)
        .map_or(0, |(_, value)| value.trim().parse().unwrap())
}

/// The worklist with its held participants only (the months before September
/// have no timesheets: they are on it as missing).
async fn held_items(app: &TestApp) -> Value {
    let mut worklist = app.get("/v1/municipalities/0301/worklist").await;
    worklist["items"]
        .as_array_mut()
        .unwrap()
        .retain(|item| item["kind"] == "held_participant");
    worklist
}

/// A second participant of Oslo with the fixture's facts: the same birth
/// date, child, programme and supervisor, their own participant key.
async fn twin_of(app: &TestApp, fixture: &Fixture) -> (String, SigningKey) {
    let participant = app
        .post(
            "/v1/participants",
            json!({
                "municipality_id": "0301",
                "national_id": national_id("150190", 124),
                "display_name": "Held Participant",
                "children": ["2021-03-14"],
            }),
            201,
        )
        .await;
    let id = participant["id"].as_str().unwrap().to_owned();
    let kari = app
        .get(&format!("/v1/participants/{}", fixture.participant_id))
        .await;
    assert_eq!(participant["birth_date"], kari["birth_date"]);
    app.post(
        &format!("/v1/participants/{id}/programmes"),
        json!({"start": "2025-01-06", "end": "2026-12-31", "decision_reference": "KVP-2"}),
        201,
    )
    .await;
    let key = SigningKey::from_bytes(&[5; 32]);
    app.post(
        "/v1/signer-keys",
        json!({
            "keyid": "held-participant-key", "person_id": id, "role": "PARTICIPANT",
            "public_key": public_key_to_base64(&key.verifying_key()),
            "valid_from": "2025-01-01T00:00:00Z",
        }),
        201,
    )
    .await;
    (id, key)
}

/// The same month's facts for both: an October benefit offset and a
/// timesheet with the same entries.
async fn same_month(
    app: &mut TestApp,
    fixture: &Fixture,
    (held, held_key): (&str, &SigningKey),
    from: &str,
    to: &str,
    entries: &[(&str, DayKind, &str)],
) {
    let kari_body = fixture.body(from, to, entries);
    app.grpc
        .submit_timesheet(fixture.signed(&kari_body))
        .await
        .unwrap();
    let held_body = pb::TimesheetBody {
        participant_id: held.to_owned(),
        ..kari_body
    };
    app.grpc
        .submit_timesheet(sign(
            held_body.encode_to_vec(),
            &[
                ("held-participant-key", held_key),
                ("supervisor-key", &fixture.supervisor_key),
            ],
        ))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_participant_whose_month_cannot_be_computed_is_held_and_paid_once_the_fact_is_corrected()
{
    for backend in TestBackend::all() {
        held_then_paid(backend).await;
    }
}

async fn held_then_paid(backend: TestBackend) {
    let mut app = TestApp::spawn_on(backend).await;
    assert_eq!(
        app.payroll.store().backend(),
        match backend {
            TestBackend::Sqlite => kvp_store::Backend::Sqlite,
            TestBackend::Postgres => kvp_store::Backend::Postgres,
        }
    );
    let fixture = Fixture::new(&app).await;
    let kari = fixture.participant_id.clone();
    let (held, held_key) = twin_of(&app, &fixture).await;

    // September is paid to both alike; then a G from September is
    // registered late, so October's close recomputes from September.
    same_month(
        &mut app,
        &fixture,
        (&held, &held_key),
        "2025-09-01",
        "2025-09-30",
        &[],
    )
    .await;
    let september = close(&mut app, "2025-09").await;
    assert_eq!((september.participant_count, september.held_count), (2, 0));
    let september_lines = lines(&mut app, &september.run_id).await;
    assert_eq!(
        by_month(&september_lines, &held),
        by_month(&september_lines, &kari)
    );
    app.post(
        "/v1/parameters/g",
        json!({"effective_date": "2025-09-01", "value": "131000", "reference": "late G"}),
        201,
    )
    .await;
    let mut offset_ids = Vec::new();
    for id in [&kari, &held] {
        let offset = app
            .post(
                &format!("/v1/participants/{id}/benefit-offsets"),
                json!({"month": "2025-10", "kind": "DAGPENGER", "amount": "1000.00"}),
                201,
            )
            .await;
        offset_ids.push(offset["id"].as_str().unwrap().to_owned());
    }
    let held_offset_path = format!("/v1/facts/benefit-offsets/{}", offset_ids[1]);
    same_month(
        &mut app,
        &fixture,
        (&held, &held_key),
        "2025-10-01",
        "2025-10-31",
        &[("2025-10-21", DayKind::PaidWork, "4")],
    )
    .await;

    // The bad fact, behind the service's back: an offset far above any
    // benefit of sense, which the rules refuse to compute.
    let held_offset = "participant_id = (SELECT id FROM participants \
                       WHERE display_name = 'Held Participant') AND month = '2025-10-01'";
    app.sql(&format!(
        "UPDATE benefit_offsets SET amount = '20000000.00' WHERE {held_offset}"
    ))
    .await;
    let refused = app
        .call(
            Method::GET,
            &format!("/v1/participants/{held}/months/2025-10"),
            None,
        )
        .await;
    assert_eq!(refused.0, 409, "{refused:?}");
    let reason = refused.1["detail"].as_str().unwrap().to_owned();
    assert!(
        reason.contains("offsets[0].amount") && reason.contains("20000000.00"),
        "{reason}"
    );

    // October: Kari is paid her month; the other is held, paid nothing.
    let metric_before = held_metric(&app).await;
    let logs = capture::mark();
    let october = close(&mut app, "2025-10").await;
    let kari_october = app
        .get(&format!("/v1/participants/{kari}/months/2025-10"))
        .await;
    assert_eq!(october.participant_count, 1, "{backend:?}");
    assert_eq!(october.held_count, 1);
    assert!(dec(&october.total_amount) > dec(kari_october["total"].as_str().unwrap()));
    assert_eq!(october.held.len(), 1);
    let hold = &october.held[0];
    assert_eq!(hold.participant_id, held);
    assert_eq!(hold.month, "2025-10");
    assert!(
        hold.reason.contains("offsets[0].amount") && hold.reason.contains("20000000.00"),
        "{}",
        hold.reason
    );
    let october_lines = lines(&mut app, &october.run_id).await;
    assert!(october_lines.iter().all(|l| l.participant_id == kari));
    let kari_paid = by_month(&october_lines, &kari);
    let expected: BTreeMap<String, Decimal> = kari_october["lines"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(code, amount)| (format!("LINE_CODE_{code}"), dec(amount.as_str().unwrap())))
        .filter(|(_, amount)| !amount.is_zero())
        .collect();
    assert_eq!(of_month(&kari_paid, "2025-10"), expected);
    assert!(
        expected.contains_key("LINE_CODE_KVP_DEDUCTION_OTHER_BENEFITS"),
        "{expected:?}"
    );
    // Kari's September is corrected to the late G; the held one's is not yet.
    let kari_september_correction = of_month(&kari_paid, "2025-09");
    let kari_september = app
        .get(&format!("/v1/participants/{kari}/months/2025-09"))
        .await;
    assert_eq!(
        kari_september_correction.values().sum::<Decimal>(),
        dec(kari_september["total"].as_str().unwrap())
            - by_month(&september_lines, &kari).values().sum::<Decimal>()
    );
    assert!(
        kari_september_correction.values().sum::<Decimal>() > Decimal::ZERO,
        "{kari_paid:?}"
    );
    assert_eq!(
        dec(&october.total_amount),
        kari_paid.values().sum::<Decimal>()
    );

    // A warning names the participant by id, never by identity number.
    let logged = capture::since(logs);
    assert!(
        logged.lines().any(|line| line.contains("participant held")
            && line.contains(&held)
            && line.contains(&october.run_id)),
        "{logged}"
    );
    assert_eq!(held_metric(&app).await, metric_before + 1);

    // The run summary, its export and the worklist show the hold.
    let runs = app.get("/v1/municipalities/0301/runs").await;
    let expected_held =
        json!([{"participant_id": held, "month": "2025-10", "reason": hold.reason}]);
    assert_eq!(runs[0]["held_count"], 0);
    assert_eq!(runs[0]["held"], json!([]));
    assert_eq!(runs[1]["held_count"], 1);
    assert_eq!(runs[1]["participant_count"], 1);
    assert_eq!(runs[1]["held"], expected_held);
    let export = app
        .client
        .get(format!(
            "{}/v1/runs/{}/export?format=json",
            app.http, october.run_id
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(export.headers()["kvp-held-count"], "1");
    let export: Value = export.json().await.unwrap();
    assert_eq!(export["held"], expected_held);
    assert_eq!(export["run"]["held"], expected_held);
    assert_eq!(export["run"]["held_count"], 1);
    let exported = export["lines"].as_array().unwrap();
    assert_eq!(exported.len(), october_lines.len());
    assert!(
        exported
            .iter()
            .all(|l| l["participant_id"] == kari.as_str())
    );
    let csv = app
        .client
        .get(format!(
            "{}/v1/runs/{}/export?format=csv",
            app.http, october.run_id
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(csv.headers()["kvp-held-count"], "1");
    let csv = csv.text().await.unwrap();
    assert_eq!(csv.lines().count(), 1 + october_lines.len());
    assert!(
        !csv.contains(&held),
        "a held participant has no line to import"
    );

    assert_eq!(
        held_items(&app).await,
        json!({
            "municipality_id": "0301",
            "items": [{
                "kind": "held_participant",
                "participant_id": held,
                "month": "2025-10",
                "reason": hold.reason,
                "run_id": october.run_id,
                "link": format!("/v1/participants/{held}/months/2025-10"),
            }],
        })
    );
    let unknown = app
        .call(Method::GET, "/v1/municipalities/9999/worklist", None)
        .await;
    assert_eq!(unknown.0, 404, "{unknown:?}");

    // A caseworker corrects the fact over REST; November pays the held
    // October by recompute-and-diff, to the øre what Kari was paid for her
    // identical October, and both their Novembers alike.
    let corrected = app
        .rest()
        .call_as_with(
            None,
            Method::PUT,
            &held_offset_path,
            Some(json!({
                "reason": "the amount was keyed in øre",
                "fact": {"month": "2025-10", "kind": "DAGPENGER", "amount": "1000.00"},
            })),
            &[("x-kvp-actor", "caseworker-1"), ("if-match", "\"1\"")],
        )
        .await;
    assert_eq!(corrected.status, 200, "{corrected:?}");
    same_month(
        &mut app,
        &fixture,
        (&held, &held_key),
        "2025-11-01",
        "2025-11-30",
        &[("2025-11-11", DayKind::PaidWork, "2")],
    )
    .await;
    let november = close(&mut app, "2025-11").await;
    assert_eq!(november.held_count, 0);
    assert!(november.held.is_empty());
    assert_eq!(november.participant_count, 2);
    let november_lines = lines(&mut app, &november.run_id).await;
    let held_paid = by_month(&november_lines, &held);
    let kari_november = by_month(&november_lines, &kari);
    assert_eq!(
        of_month(&held_paid, "2025-10"),
        of_month(&kari_paid, "2025-10"),
        "the held October, paid as Kari's was"
    );
    assert_eq!(
        of_month(&held_paid, "2025-09"),
        kari_september_correction,
        "the September correction the held run did not pay, paid as Kari's was"
    );
    assert!(
        of_month(&kari_november, "2025-10").is_empty(),
        "Kari's October is settled"
    );
    assert_eq!(
        of_month(&held_paid, "2025-11"),
        of_month(&kari_november, "2025-11")
    );
    assert!(!of_month(&held_paid, "2025-11").is_empty());
    assert!(
        held_paid
            .keys()
            .all(|(month, _)| ["2025-09", "2025-10", "2025-11"].contains(&month.as_str())),
        "{held_paid:?}"
    );
    assert!(
        november_lines
            .iter()
            .filter(|l| l.participant_id == held && l.attributed_month == "2025-10")
            .all(|l| l.explanation.starts_with("correction of 2025-10")),
        "attributed to the month it pays"
    );
    // The ledger invariant: for each month, what closed runs paid the held
    // participant is the engine's result for it now, and Kari's alike.
    for month in ["2025-09", "2025-10", "2025-11"] {
        let now = app
            .get(&format!("/v1/participants/{held}/months/{month}"))
            .await;
        let paid: Decimal = [&september_lines, &november_lines]
            .into_iter()
            .map(|run| {
                of_month(&by_month(run, &held), month)
                    .values()
                    .sum::<Decimal>()
            })
            .sum();
        assert_eq!(paid, dec(now["total"].as_str().unwrap()), "{month}");
        let kari_now = app
            .get(&format!("/v1/participants/{kari}/months/{month}"))
            .await;
        assert_eq!(now["total"], kari_now["total"], "{month}");
    }
    let gross: Decimal = november_lines.iter().map(|l| dec(&l.amount)).sum();
    assert_eq!(dec(&november.total_amount), gross);

    assert_eq!(
        held_items(&app).await["items"],
        json!([]),
        "paid: off the worklist"
    );
    let runs = app.get("/v1/municipalities/0301/runs").await;
    assert_eq!(runs[2]["held_count"], 0);
    assert_eq!(runs[2]["held"], json!([]));
    assert_eq!(
        runs[1]["held"], expected_held,
        "the October run keeps its hold"
    );
    assert_eq!(held_metric(&app).await, metric_before + 1);
    app.stop().await;
}
