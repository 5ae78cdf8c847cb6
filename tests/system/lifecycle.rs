//! The programme's lifecycle from registered facts, on both backends: a
//! participant who leaves and re-enters has two programme periods, both paid
//! in the month they share.

use kvp_system_tests::{Fixture, TestApp, TestBackend};
use reqwest::Method;
use rust_decimal::Decimal;
use serde_json::{Value, json};

fn dec(text: &str) -> Decimal {
    text.parse().unwrap()
}

#[tokio::test]
async fn two_programme_periods_in_one_month_are_both_paid() {
    for backend in TestBackend::all() {
        two_periods_paid(backend).await;
    }
}

/// Public vector 42 from registered facts: the fixture's participant (born
/// 1990-01-15, one child) leaves the programme on 9 May 2025 and re-enters
/// on 19 May; May is covered by one timesheet.
async fn two_periods_paid(backend: TestBackend) {
    let vector: Value = serde_json::from_str(include_str!(
        "../../crates/rules/tests/vectors/public/42-two-programmes-in-one-month.json"
    ))
    .unwrap();
    let mut app = TestApp::spawn_on(backend).await;
    let fixture = Fixture::new(&app).await;
    let p = fixture.participant_id.clone();
    let participant = app.get(&format!("/v1/participants/{p}")).await;
    let first = participant["programmes"][0]["id"].as_str().unwrap();
    let ended = app
        .rest()
        .call_as_with(
            None,
            Method::PUT,
            &format!("/v1/programmes/{first}/end"),
            Some(json!({"end": "2025-05-09"})),
            &[("x-kvp-actor", "caseworker-1"), ("if-match", "\"1\"")],
        )
        .await;
    assert_eq!(ended.status, 200, "{backend:?}: {ended:?}");
    // The re-entry may not share a day with the first period.
    app.post(
        &format!("/v1/participants/{p}/programmes"),
        json!({"start": "2025-05-09", "decision_reference": "KVP-2"}),
        409,
    )
    .await;
    app.post(
        &format!("/v1/participants/{p}/programmes"),
        json!({"start": "2025-05-19", "decision_reference": "KVP-2"}),
        201,
    )
    .await;
    let body = fixture.body("2025-05-01", "2025-05-31", &[]);
    app.grpc
        .submit_timesheet(fixture.signed(&body))
        .await
        .unwrap();

    // The days of both periods count: the vector's days and child
    // supplement; its amounts are those of the vector's input over the
    // service's parameters (the vector fixes the G factor at 2, the
    // service's table has 2.041 from July 2024), as a simulation gives them.
    let mut input = vector["input"].clone();
    input.as_object_mut().unwrap().remove("parameters");
    let expected = app.post("/v1/simulations", input, 200).await;
    let month = app
        .get(&format!("/v1/participants/{p}/months/2025-05"))
        .await;
    assert_eq!(month["lines"], expected["lines"], "{backend:?}");
    assert_eq!(month["total"], expected["total"], "{backend:?}");
    assert_eq!(month["quantities"]["base_days"], 17, "{backend:?}");
    assert_eq!(
        month["lines"]["KVP_CHILD_SUPPLEMENT"],
        vector["expected"]["lines"]["KVP_CHILD_SUPPLEMENT"]
    );

    // The close pays it, attributed to May.
    let closed = app.close_oslo("2025-05").await;
    let run = closed.run.unwrap();
    let paid: Decimal = app
        .pay_lines(&run.run_id)
        .await
        .iter()
        .filter(|l| l.attributed_month == "2025-05")
        .map(|l| dec(&l.amount))
        .sum();
    assert_eq!(paid, dec(month["total"].as_str().unwrap()), "{backend:?}");
    app.stop().await;
}

#[tokio::test]
async fn the_sanction_procedure_runs_from_warning_to_appeal_and_pays_back() {
    for backend in TestBackend::all() {
        sanction_procedure(backend).await;
    }
}

/// A ledger sum of the lines attributed to `month` with `code`.
async fn paid(app: &TestApp, month: &str, code: &str) -> Decimal {
    app.payroll
        .store()
        .ledger("0301")
        .await
        .unwrap()
        .iter()
        .filter(|e| {
            e.attributed_month.map(|m| m.to_string()[..7].to_owned()) == Some(month.to_owned())
                && e.line_code.as_str() == code
        })
        .map(|e| e.amount)
        .sum()
}

async fn sanction_procedure(backend: TestBackend) {
    use kvp_proto::kvp::payroll::v1::DayKind;
    let mut app = TestApp::spawn_on(backend).await;
    let fixture = Fixture::new(&app).await;
    let p = fixture.participant_id.clone();
    let body = fixture.body(
        "2025-10-01",
        "2025-10-31",
        &[
            ("2025-10-14", DayKind::Unexcused, "7.5"),
            ("2025-10-15", DayKind::Unexcused, "3"),
            ("2025-10-17", DayKind::Unexcused, "1"),
        ],
    );
    app.grpc
        .submit_timesheet(fixture.signed(&body))
        .await
        .unwrap();
    let decide = |date: &str| {
        json!({
            "date": date, "entry_kind": "UNEXCUSED", "outcome": "APPROVED",
            "reference": format!("VEDTAK-{date}"), "decided_at": "2025-10-22T10:00:00Z",
        })
    };
    let decisions = format!("/v1/participants/{p}/sanction-decisions");

    // No deduction without a warning first.
    let refused = app.post(&decisions, decide("2025-10-14"), 409).await;
    assert!(
        refused["detail"].as_str().unwrap().contains("no warning"),
        "{backend:?}: {refused}"
    );
    let warnings = format!("/v1/participants/{p}/sanction-warnings");
    let bad = app
        .post(
            &warnings,
            json!({"given_on": "2025-10-20", "channel": "PIGEON", "reference": "V",
                   "days": [{"date": "2025-10-14", "entry_kind": "UNEXCUSED"}]}),
            400,
        )
        .await;
    assert_eq!(bad["errors"][0]["field"], "channel");
    app.post(
        &warnings,
        json!({"given_on": "2025-10-20", "channel": "LETTER", "reference": "V",
               "days": [{"date": "2025-10-16", "entry_kind": "UNEXCUSED"}]}),
        409,
    )
    .await;
    let warning = app
        .post(
            &warnings,
            json!({"given_on": "2025-10-20", "channel": "LETTER", "reference": "VARSEL-7",
                   "days": [{"date": "2025-10-14", "entry_kind": "UNEXCUSED"},
                            {"date": "2025-10-15", "entry_kind": "UNEXCUSED"}]}),
            201,
        )
        .await;
    let hours: Vec<_> = warning["days"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["date"].clone(), d["hours"].clone()))
        .collect();
    assert_eq!(
        hours,
        [
            (json!("2025-10-14"), json!("7.50")),
            (json!("2025-10-15"), json!("3.00"))
        ]
    );

    // Both days decided: legal basis, appeal deadline three weeks on, the
    // warning they follow.
    let full_day = app.post(&decisions, decide("2025-10-14"), 201).await;
    assert_eq!(full_day["legal_basis"], "sosialtjenesteloven § 36");
    assert_eq!(full_day["appeal_deadline"], "2025-11-12");
    assert_eq!(full_day["warning_id"], warning["id"]);
    let three_hours = app.post(&decisions, decide("2025-10-15"), 201).await;
    let october = app
        .get(&format!("/v1/participants/{p}/months/2025-10"))
        .await;
    assert_eq!(october["quantities"]["absence_hours"], "10.5");
    let deducted = dec(october["lines"]["KVP_DEDUCTION_ABSENCE"].as_str().unwrap());
    assert!(deducted < Decimal::ZERO);
    app.close_oslo("2025-10").await;
    assert_eq!(
        paid(&app, "2025-10", "KVP_DEDUCTION_ABSENCE").await,
        deducted,
        "{backend:?}"
    );

    // Appeals: the full day's upheld, the three hours' partly (one hour
    // still deducted).
    for (decision, received) in [(&full_day, "2025-11-03"), (&three_hours, "2025-11-04")] {
        let path = format!(
            "/v1/sanction-decisions/{}/appeal",
            decision["id"].as_str().unwrap()
        );
        let appeal = app
            .post(
                &path,
                json!({"received_on": received, "reference": "KLAGE"}),
                201,
            )
            .await;
        assert_eq!(appeal["outcome"], Value::Null);
        app.post(
            &path,
            json!({"received_on": received, "reference": "KLAGE"}),
            409,
        )
        .await;
    }
    let outcome = |decision: &Value| {
        format!(
            "/v1/sanction-decisions/{}/appeal/outcome",
            decision["id"].as_str().unwrap()
        )
    };
    let too_many = app
        .post(
            &outcome(&three_hours),
            json!({"outcome": "PARTLY_UPHELD", "decided_on": "2025-11-20",
                   "reference": "KLAGEVEDTAK-2", "deducted_hours": "3"}),
            400,
        )
        .await;
    assert_eq!(too_many["errors"][0]["field"], "deducted_hours");
    let upheld = app
        .post(
            &outcome(&full_day),
            json!({"outcome": "UPHELD", "decided_on": "2025-11-20", "reference": "KLAGEVEDTAK-1"}),
            200,
        )
        .await;
    assert_eq!(upheld["outcome"], "UPHELD");
    app.post(
        &outcome(&full_day),
        json!({"outcome": "DISMISSED", "decided_on": "2025-11-21", "reference": "X"}),
        409,
    )
    .await;
    app.post(
        &outcome(&three_hours),
        json!({"outcome": "PARTLY_UPHELD", "decided_on": "2025-11-20",
               "reference": "KLAGEVEDTAK-2", "deducted_hours": "1"}),
        200,
    )
    .await;
    let versions = app
        .get(&format!(
            "/v1/facts/sanction-decisions/{}/versions",
            full_day["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(versions["versions"][1]["fact"]["outcome"], "REJECTED");
    assert_eq!(
        versions["versions"][1]["reason"],
        "appeal upheld (KLAGEVEDTAK-1)"
    );
    let decided = app.get(&decisions).await;
    assert_eq!(decided[0]["outcome"], "REJECTED");
    assert_eq!(decided[1]["deducted_hours"], "1.00");

    // An appealed decision changes through its appeal only; a decision not
    // to deduct becomes one to deduct only with a warning, as a new one does.
    let correct = |decision: &Value, outcome: &str| {
        let path = format!(
            "/v1/facts/sanction-decisions/{}",
            decision["id"].as_str().unwrap()
        );
        let body = json!({"reason": "second thoughts", "fact": {
            "date": decision["date"], "entry_kind": "UNEXCUSED", "outcome": outcome,
            "reference": "VEDTAK-X",
        }});
        let rest = app.rest();
        async move {
            rest.call_as_with(
                None,
                reqwest::Method::PUT,
                &path,
                Some(body),
                &[("x-kvp-actor", "caseworker-1"), ("if-match", "*")],
            )
            .await
        }
    };
    let refused = correct(&full_day, "APPROVED").await;
    assert_eq!(refused.status, 409, "{refused:?}");
    assert!(
        refused.body["detail"]
            .as_str()
            .unwrap()
            .contains("appealed"),
        "{refused:?}"
    );
    let not_deducted = app
        .post(
            &decisions,
            json!({"date": "2025-10-17", "entry_kind": "UNEXCUSED", "outcome": "REJECTED",
                   "reference": "VEDTAK-3"}),
            201,
        )
        .await;
    let refused = correct(&not_deducted, "APPROVED").await;
    assert_eq!(refused.status, 409, "{refused:?}");
    assert!(
        refused.body["detail"]
            .as_str()
            .unwrap()
            .contains("no warning"),
        "{refused:?}"
    );

    // November's close pays back what October no longer deducts.
    let october = app
        .get(&format!("/v1/participants/{p}/months/2025-10"))
        .await;
    assert_eq!(october["quantities"]["absence_hours"], "1");
    let november = fixture.body("2025-11-01", "2025-11-30", &[]);
    app.grpc
        .submit_timesheet(fixture.signed(&november))
        .await
        .unwrap();
    app.close_oslo("2025-11").await;
    assert_eq!(
        paid(&app, "2025-10", "KVP_DEDUCTION_ABSENCE").await,
        dec(october["lines"]["KVP_DEDUCTION_ABSENCE"].as_str().unwrap()),
        "{backend:?}"
    );
    assert_eq!(
        paid(&app, "2025-10", "KVP_BASE").await
            + paid(&app, "2025-10", "KVP_DEDUCTION_ABSENCE").await
            + paid(&app, "2025-10", "KVP_CHILD_SUPPLEMENT").await,
        dec(october["total"].as_str().unwrap())
    );

    // Each step is in the audit trail, and sent as an event.
    let trail = app.get(&format!("/v1/audit/participant/{p}")).await;
    let steps: Vec<&str> = trail
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .filter(|a| a.starts_with("sanction."))
        .collect();
    assert_eq!(
        steps,
        [
            "sanction.warned",
            "sanction.decided",
            "sanction.decided",
            "sanction.appealed",
            "sanction.appealed",
            "sanction.appeal_decided",
            "sanction.appeal_decided",
            "sanction.decided",
        ]
    );
    for (event, count) in [
        ("sanction.warned", "1"),
        ("deduction.decided", "3"),
        ("sanction.appealed", "2"),
        ("sanction.appeal_decided", "2"),
        ("fact.corrected", "2"),
    ] {
        let found = app
            .sql(&format!(
                "SELECT CAST(count(*) AS TEXT) FROM outbox_events \
                 WHERE event_type = 'no.kvp.payroll.{event}.v1'"
            ))
            .await
            .unwrap();
        assert_eq!(found, count, "{backend:?}: {event}");
    }
    app.stop().await;
}

#[tokio::test]
async fn the_worklist_names_missing_and_late_timesheets_and_the_procedure_waiting() {
    for backend in TestBackend::all() {
        worklist(backend).await;
    }
}

/// A participant of Oslo in the programme from `start`, with a signing key.
async fn participant_from(
    app: &TestApp,
    individual: u32,
    start: time::Date,
) -> (String, kvp_signing::SigningKey, String) {
    let participant = app
        .post(
            "/v1/participants",
            json!({
                "municipality_id": "0301",
                "national_id": kvp_system_tests::national_id("150190", individual),
                "display_name": format!("Participant {individual}"),
            }),
            201,
        )
        .await;
    let id = participant["id"].as_str().unwrap().to_owned();
    app.post(
        &format!("/v1/participants/{id}/programmes"),
        json!({"start": start.to_string(), "decision_reference": format!("KVP-{individual}")}),
        201,
    )
    .await;
    let key = kvp_signing::SigningKey::from_bytes(&[u8::try_from(individual - 180).unwrap(); 32]);
    let keyid = format!("participant-key-{individual}");
    app.post(
        "/v1/signer-keys",
        json!({
            "keyid": keyid, "person_id": id, "role": "PARTICIPANT",
            "public_key": kvp_signing::public_key_to_base64(&key.verifying_key()),
            "valid_from": "2020-01-01T00:00:00Z",
        }),
        201,
    )
    .await;
    (id, key, keyid)
}

/// Submits `participant`'s timesheet for the whole of `month`.
async fn submit(
    app: &mut TestApp,
    fixture: &Fixture,
    (participant, key, keyid): &(String, kvp_signing::SigningKey, String),
    month: kvp_rules::YearMonth,
    entries: &[(&str, kvp_proto::kvp::payroll::v1::DayKind, &str)],
) {
    use prost::Message;
    let body = kvp_proto::kvp::payroll::v1::TimesheetBody {
        participant_id: participant.clone(),
        ..fixture.body(
            &month.first_day().to_string(),
            &month.last_day().to_string(),
            entries,
        )
    };
    app.grpc
        .submit_timesheet(kvp_system_tests::sign(
            body.encode_to_vec(),
            &[(keyid, key), ("supervisor-key", &fixture.supervisor_key)],
        ))
        .await
        .unwrap();
}

/// The first weekday of `month`, `YYYY-MM-DD`.
fn first_weekday(month: kvp_rules::YearMonth) -> String {
    month
        .days()
        .find(|d| kvp_rules::calendar::is_weekday(*d))
        .unwrap()
        .to_string()
}

async fn worklist(backend: TestBackend) {
    use kvp_proto::kvp::payroll::v1::DayKind;
    use kvp_rules::YearMonth;
    let mut app = TestApp::spawn_on(backend).await;
    let fixture = Fixture::new(&app).await;
    // This month M is due by the 5th of the next (the default deadline);
    // the worklist is read as of the 6th.
    let this = YearMonth::of(time::OffsetDateTime::now_utc().date());
    let (before, earlier) = (this.previous(), this.previous().previous());
    let as_of = time::Date::from_calendar_date(this.next().year(), this.next().month(), 6).unwrap();
    let on_time = participant_from(&app, 201, this.first_day()).await;
    let missing = participant_from(&app, 202, this.first_day()).await;
    let late = participant_from(&app, 203, earlier.first_day()).await;
    // Self-certified sickness in the first weeks of the programme: over the
    // R6 quota, so unexcused hours awaiting a warning.
    let sick = first_weekday(this);
    submit(
        &mut app,
        &fixture,
        &on_time,
        this,
        &[(&sick, DayKind::SickSelf, "7.5")],
    )
    .await;
    submit(&mut app, &fixture, &late, this, &[]).await;
    // Received today, long after the 5th of the month after `earlier`.
    let absent = first_weekday(earlier);
    submit(
        &mut app,
        &fixture,
        &late,
        earlier,
        &[(&absent, DayKind::Unexcused, "2")],
    )
    .await;

    let read = |app: &TestApp| {
        let path = format!("/v1/municipalities/0301/worklist?as_of={as_of}");
        let ours = [on_time.0.clone(), missing.0.clone(), late.0.clone()];
        let app_rest = app.rest();
        async move {
            let list = app_rest.get(&path).await;
            list["items"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|i| ours.contains(&i["participant_id"].as_str().unwrap().to_owned()))
                .map(|i| {
                    (
                        i["kind"].as_str().unwrap().to_owned(),
                        i["month"].as_str().unwrap().to_owned(),
                        i["participant_id"].as_str().unwrap().to_owned(),
                    )
                })
                .collect::<Vec<_>>()
        }
    };
    let item = |kind: &str, month: YearMonth, who: &(String, kvp_signing::SigningKey, String)| {
        (kind.to_owned(), month.to_string(), who.0.clone())
    };
    assert_eq!(
        read(&app).await,
        [
            item("missing_timesheet", before, &late),
            item("missing_timesheet", this, &missing),
            item("late_timesheet", earlier, &late),
            item("absence_awaiting_warning", earlier, &late),
            item("absence_awaiting_warning", this, &on_time),
        ],
        "{backend:?}"
    );
    // As of today, this month's timesheets are not due yet.
    let today = app.get("/v1/municipalities/0301/worklist").await;
    assert!(
        today["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["kind"].as_str().unwrap().ends_with("_timesheet"))
            .all(|i| i["month"] != this.to_string()),
        "{backend:?}: {today}"
    );

    // The procedure moves the absence along the list; a close pays the late
    // timesheet and its item leaves.
    app.warn(&late.0, &absent, "UNEXCUSED").await;
    let waiting = read(&app).await;
    assert!(waiting.contains(&item("absence_awaiting_decision", earlier, &late)));
    let decision = app
        .post(
            &format!("/v1/participants/{}/sanction-decisions", late.0),
            json!({"date": absent, "entry_kind": "UNEXCUSED", "outcome": "APPROVED", "reference": "V-1"}),
            201,
        )
        .await;
    app.post(
        &format!(
            "/v1/sanction-decisions/{}/appeal",
            decision["id"].as_str().unwrap()
        ),
        json!({"received_on": as_of.to_string(), "reference": "KLAGE-1"}),
        201,
    )
    .await;
    app.close_oslo(&earlier.to_string()).await;
    assert_eq!(
        read(&app).await,
        [
            item("missing_timesheet", before, &late),
            item("missing_timesheet", this, &missing),
            item("absence_awaiting_warning", this, &on_time),
            item("open_appeal", earlier, &late),
        ],
        "{backend:?}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_programme_is_for_ages_18_to_67_on_its_start() {
    let app = TestApp::spawn().await;
    let fixture = Fixture::new(&app).await;
    // Kari is born 1990-01-15.
    let programmes = format!("/v1/participants/{}/programmes", fixture.participant_id);
    let young = app
        .post(
            &programmes,
            json!({"start": "2008-01-14", "end": "2008-12-31", "decision_reference": "K"}),
            400,
        )
        .await;
    assert_eq!(young["errors"][0]["field"], "start");
    assert!(
        young["errors"][0]["description"]
            .as_str()
            .unwrap()
            .contains("is 17 on the start date"),
        "{young}"
    );
    let old = app
        .post(
            &programmes,
            json!({"start": "2058-01-15", "decision_reference": "K"}),
            400,
        )
        .await;
    assert!(
        old["errors"][0]["description"]
            .as_str()
            .unwrap()
            .contains("is 68"),
        "{old}"
    );
    // On the 67th birthday, and on the 18th, the programme may start.
    app.post(
        &programmes,
        json!({"start": "2057-01-15", "decision_reference": "K-67"}),
        201,
    )
    .await;
    app.post(
        &programmes,
        json!({"start": "2008-01-15", "end": "2008-12-31", "decision_reference": "K-18"}),
        201,
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn a_programme_past_its_approved_period_or_its_years_is_on_the_worklist() {
    for backend in TestBackend::all() {
        let app = TestApp::spawn_on(backend).await;
        let fixture = Fixture::new(&app).await;
        let p = &fixture.participant_id;
        let second = app.add_programme(p, "2027-02-01", "KVP-2").await;
        let programme_items = |app: &TestApp| {
            let rest = app.rest();
            async move {
                let list = rest
                    .get("/v1/municipalities/0301/worklist?as_of=2030-03-01")
                    .await;
                list["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|i| i["kind"].as_str().unwrap().starts_with("programme_"))
                    .map(|i| {
                        (
                            i["kind"].as_str().unwrap().to_owned(),
                            i["month"].as_str().unwrap().to_owned(),
                        )
                    })
                    .collect::<Vec<_>>()
            }
        };
        let item = |kind: &str, month: &str| (kind.to_owned(), month.to_owned());
        // The fixture's programme (2025-01-06 to 2026-12-31) ran past its
        // first year; the second, open-ended, past every limit by 2030-03.
        assert_eq!(
            programme_items(&app).await,
            [
                item("programme_beyond_approved_period", "2026-01"),
                item("programme_beyond_approved_period", "2028-02"),
                item("programme_beyond_years_without_exception", "2029-02"),
                item("programme_beyond_maximum_years", "2030-02"),
            ],
            "{backend:?}"
        );
        let extensions = format!("/v1/programmes/{second}/extensions");
        let stale = app
            .post(
                &extensions,
                json!({"until": "2028-01-31", "reference": "F-0"}),
                400,
            )
            .await;
        assert_eq!(stale["errors"][0]["field"], "until");
        app.post(
            &extensions,
            json!({"until": "2029-01-31", "reference": "F-1"}),
            201,
        )
        .await;
        let period = app
            .post(
                &extensions,
                json!({"until": "2030-01-31", "exception": true, "reference": "F-2"}),
                201,
            )
            .await;
        assert_eq!(period["approved_until"], "2030-01-31");
        assert_eq!(period["extensions"].as_array().unwrap().len(), 2);
        assert_eq!(
            programme_items(&app).await,
            [
                item("programme_beyond_approved_period", "2026-01"),
                item("programme_beyond_approved_period", "2030-02"),
                item("programme_beyond_maximum_years", "2030-02"),
            ],
            "{backend:?}"
        );
        app.stop().await;
    }
}
