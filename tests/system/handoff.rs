//! The handoff to municipal payroll, as a payroll system meets it: employee
//! numbers (ansattnummer) registered per participant, unique in the
//! municipality, on every streamed line and exported row; a participant
//! without one still closes and the export names them. Pay codes, the
//! a-melding coding and the accounting dimensions frozen at close, each line
//! with its quantity, unit and display rate, every amount with two decimals,
//! and the a-melding file valid against its JSON Schema. On both backends.

use std::collections::BTreeMap;

use kvp_proto::kvp::payroll::v1 as pb;
use kvp_system_tests::{Fixture, Reply, TestApp, TestBackend, national_id, two_decimals};
use reqwest::Method;
use rust_decimal::Decimal;
use serde_json::{Value, json};
use tonic_types::StatusExt;

#[tokio::test]
async fn pay_lines_and_exports_carry_the_employee_number_registered() {
    for backend in TestBackend::all() {
        employee_numbers(backend).await;
    }
}

#[tokio::test]
async fn a_payroll_system_imports_a_run_by_its_codes_quantities_and_a_melding() {
    for backend in TestBackend::all() {
        payroll_system(backend).await;
    }
}

/// The municipality's pay codes (lønnsart) for every line code.
fn pay_codes(prefix: &str) -> Value {
    let codes = [
        "KVP_BASE",
        "KVP_DEDUCTION_WAGE",
        "KVP_DEDUCTION_UNPAID_LEAVE",
        "KVP_DEDUCTION_ABSENCE",
        "KVP_CHILD_SUPPLEMENT",
        "KVP_DEDUCTION_OTHER_BENEFITS",
        "KVP_RECOVERY_CARRIED",
    ];
    let map: serde_json::Map<String, Value> = codes
        .iter()
        .enumerate()
        .map(|(i, code)| ((*code).to_owned(), json!(format!("{prefix}{i}"))))
        .collect();
    Value::Object(map)
}

/// A `PUT` of Oslo's settings over whatever is stored.
async fn put_oslo(app: &TestApp, settings: Value) -> Reply {
    app.rest()
        .call_as_with(
            None,
            Method::PUT,
            "/v1/municipalities/0301",
            Some(settings),
            &[("x-kvp-actor", "admin-1"), ("if-match", "*")],
        )
        .await
}

/// A run's export in `format`, as text, checked to be served whole.
async fn export(app: &TestApp, run_id: &str, format: &str) -> String {
    let response = app
        .client
        .get(format!(
            "{}/v1/runs/{run_id}/export?format={format}",
            app.http
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{format}");
    response.text().await.unwrap()
}

fn dec(text: &str) -> Decimal {
    text.parse().unwrap()
}

fn code_name(line: &pb::PayLine) -> &'static str {
    pb::LineCode::try_from(line.line_code)
        .unwrap()
        .as_str_name()
        .trim_start_matches("LINE_CODE_")
}

/// The one line of `code` for `month` among `lines`.
fn line_of<'a>(lines: &'a [pb::PayLine], code: &str, month: &str) -> &'a pb::PayLine {
    let found: Vec<_> = lines
        .iter()
        .filter(|l| code_name(l) == code && l.attributed_month == month)
        .collect();
    assert_eq!(found.len(), 1, "{code} {month}: {lines:?}");
    found[0]
}

/// `quantity × rate` is the amount but for the line's one rounding: half an
/// øre per unit at most.
fn rate_explains_amount(line: &pb::PayLine) {
    let (quantity, rate, amount) = (dec(&line.quantity), dec(&line.rate), dec(&line.amount));
    let slack = quantity.abs() * Decimal::new(5, 3) + Decimal::new(1, 2);
    assert!(
        (quantity * rate - amount).abs() <= slack,
        "{quantity} × {rate} vs {amount}: {line:?}"
    );
}

async fn payroll_system(backend: TestBackend) {
    let mut app = TestApp::spawn_on(backend).await;
    let fixture = Fixture::new(&app).await;
    let kari = fixture.participant_id.clone();
    let (status, body, _) = put(&app, &kari, "100234", None).await;
    assert_eq!(status, 200, "{body}");

    // Half of October signed (11 weekdays), with 3.5 hours of approved
    // unpaid leave on the 7th.
    let first_half = fixture.body(
        "2025-10-01",
        "2025-10-15",
        &[("2025-10-07", pb::DayKind::ApprovedUnpaid, "3.5")],
    );
    app.grpc
        .submit_timesheet(fixture.signed(&first_half))
        .await
        .unwrap();

    // A municipality that chose neither its own codes nor the product's:
    // the close stops before anything is written, naming every code missing.
    let reply = put_oslo(&app, json!({"name": "Oslo"})).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let refused = app
        .grpc
        .close_period(pb::ClosePeriodRequest {
            municipality_id: "0301".into(),
            month: "2025-10".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(
        refused.code(),
        tonic::Code::FailedPrecondition,
        "{refused:?}"
    );
    let info = refused.get_error_details().error_info().cloned().unwrap();
    assert_eq!(
        (info.reason.as_str(), info.domain.as_str()),
        ("PAY_CODES_MISSING", "payroll.kvp")
    );
    for code in pay_codes("").as_object().unwrap().keys() {
        assert!(
            refused.message().contains(code.as_str()),
            "{code}: {refused:?}"
        );
    }
    assert_eq!(app.get("/v1/municipalities/0301/runs").await, json!([]));
    // Codes must be known line codes, and short; a KOSTRA function three digits.
    let reply = put_oslo(
        &app,
        json!({"name": "Oslo", "pay_codes": {"KVP_BONUS": "1", "KVP_BASE": ""},
                        "accounting": {"function": "27"}}),
    )
    .await;
    let mut fields: Vec<&str> = reply.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    fields.sort_unstable();
    assert_eq!(
        (reply.status, fields),
        (
            400,
            vec![
                "accounting.function",
                "pay_codes.KVP_BASE",
                "pay_codes.KVP_BONUS"
            ]
        ),
        "{:?}",
        reply.body
    );
    let reply = put_oslo(
        &app,
        json!({"name": "Oslo", "pay_codes": pay_codes("11"),
               "accounting": {"ansvar": "1400", "tjeneste": "2760"}}),
    )
    .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let settings = app.get("/v1/municipalities/0301").await;
    assert_eq!(
        (&settings["accounting"], &settings["employer_contribution"]),
        (
            &json!({"ansvar": "1400", "tjeneste": "2760", "function": "276"}),
            &json!(false)
        )
    );
    let october = app.close_oslo("2025-10").await.run.unwrap();
    let lines = app.pay_lines(&october.run_id).await;
    for line in &lines {
        assert!(two_decimals(&line.amount), "{line:?}");
        assert!(line.rate.is_empty() || two_decimals(&line.rate), "{line:?}");
        assert_eq!(line.pay_code, pay_codes("11")[code_name(line)], "{line:?}");
        assert_eq!(
            (
                line.income_type.as_str(),
                line.income_description.as_str(),
                line.benefit_kind.as_str(),
                line.employer_contribution,
                line.withholding_basis,
                line.earning_period.as_str(),
            ),
            (
                "pensjonEllerTrygd",
                "kvalifiseringstoenad",
                "kontantytelse",
                false,
                true,
                "2025-10"
            )
        );
        assert_eq!(
            line.accounting,
            Some(pb::Accounting {
                ansvar: "1400".into(),
                tjeneste: "2760".into(),
                function: "276".into(),
            })
        );
    }
    // Days, hours and child-days, each with a rate that explains the amount.
    let base = line_of(&lines, "KVP_BASE", "2025-10");
    assert_eq!(
        (base.quantity.as_str(), base.quantity_unit()),
        ("11", pb::QuantityUnit::Days)
    );
    rate_explains_amount(base);
    let leave = line_of(&lines, "KVP_DEDUCTION_UNPAID_LEAVE", "2025-10");
    assert_eq!(
        (leave.quantity.as_str(), leave.quantity_unit()),
        ("3.5", pb::QuantityUnit::Hours)
    );
    assert!(dec(&leave.rate) < Decimal::ZERO, "{leave:?}");
    rate_explains_amount(leave);
    // One child on 11 days, 3.5 of 7.5 hours deducted on one: 10.5333
    // child-days at the day rate of 2025 (crates/rules/parameters).
    let child = line_of(&lines, "KVP_CHILD_SUPPLEMENT", "2025-10");
    assert_eq!(
        (
            child.quantity.as_str(),
            child.quantity_unit(),
            child.rate.as_str()
        ),
        ("10.5333", pb::QuantityUnit::ChildDays, "37.00")
    );

    // Every file of the closed run is the same bytes after the codes, the
    // dimensions and the employer's-contribution setting change.
    let formats = ["csv", "jsonl", "json", "a-melding"];
    let mut before = Vec::new();
    for format in formats {
        before.push(export(&app, &october.run_id, format).await);
    }
    let reply = put_oslo(
        &app,
        json!({"name": "Oslo", "pay_codes": pay_codes("22"), "employer_contribution": true,
               "accounting": {"ansvar": "1500", "function": "275"}}),
    )
    .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    for (format, before) in formats.iter().zip(&before) {
        assert_eq!(
            &export(&app, &october.run_id, format).await,
            before,
            "{backend:?}: {format}"
        );
    }
    let json_export: Value = serde_json::from_str(&before[2]).unwrap();
    assert_eq!(json_export["run"]["id"], json!(october.run_id));
    assert_eq!(json_export["lines"].as_array().unwrap().len(), lines.len());
    for line in json_export["lines"].as_array().unwrap() {
        assert!(two_decimals(line["amount"].as_str().unwrap()), "{line}");
        assert!(
            line["rate"].is_null() || two_decimals(line["rate"].as_str().unwrap()),
            "{line}"
        );
    }

    // The rest of October arrives late, with November: the November run
    // corrects October by the 12 days added, at the codes of now.
    for (from, to) in [("2025-10-16", "2025-10-31"), ("2025-11-01", "2025-11-30")] {
        app.grpc
            .submit_timesheet(fixture.signed(&fixture.body(from, to, &[])))
            .await
            .unwrap();
    }
    let november = app.close_oslo("2025-11").await.run.unwrap();
    let lines = app.pay_lines(&november.run_id).await;
    let correction = line_of(&lines, "KVP_BASE", "2025-10");
    assert_eq!(
        (
            correction.quantity.as_str(),
            correction.quantity_unit(),
            correction.pay_code.as_str(),
            correction.earning_period.as_str(),
            correction.employer_contribution,
        ),
        ("12", pb::QuantityUnit::Days, "220", "2025-10", true)
    );
    rate_explains_amount(correction);
    assert_eq!(
        correction.accounting.as_ref().unwrap().function,
        "275",
        "{correction:?}"
    );
    let child = line_of(&lines, "KVP_CHILD_SUPPLEMENT", "2025-10");
    assert_eq!(
        (child.quantity.as_str(), child.rate.as_str()),
        ("12", "37.00")
    );

    // The a-melding file: one object per participant, valid against the
    // schema kept in the repository, its income the lines summed per
    // earning period.
    let schema: Value = serde_json::from_str(include_str!(
        "../../services/payroll/schemas/a-melding-participant.v1.schema.json"
    ))
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let a_melding = export(&app, &november.run_id, "a-melding").await;
    let participants: Vec<Value> = a_melding
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(participants.len(), 1, "{a_melding}");
    let kari_income = &participants[0];
    let errors: Vec<String> = validator
        .iter_errors(kari_income)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}: {kari_income}");
    assert_eq!(
        (
            &kari_income["participant_id"],
            &kari_income["employee_number"]
        ),
        (&json!(kari), &json!("100234"))
    );
    let mut by_period: BTreeMap<String, Decimal> = BTreeMap::new();
    for line in &lines {
        *by_period.entry(line.earning_period.clone()).or_default() += dec(&line.amount);
    }
    let reported: BTreeMap<String, Decimal> = kari_income["inntekt"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            assert_eq!(i["utloeserArbeidsgiveravgift"], json!(true), "{i}");
            let start = i["opptjeningsperiode"]["startdato"].as_str().unwrap();
            (start[..7].to_owned(), dec(i["beloep"].as_str().unwrap()))
        })
        .collect();
    assert_eq!(reported, by_period);
    assert_eq!(
        dec(kari_income["total"].as_str().unwrap()),
        by_period.values().sum::<Decimal>()
    );
    // The schema holds the file to its shape: an amount without two
    // decimals is not an a-melding amount.
    let mut wrong = kari_income.clone();
    wrong["inntekt"][0]["beloep"] = json!("988");
    assert!(!validator.is_valid(&wrong));
    app.stop().await;
}

async fn put(
    app: &TestApp,
    participant: &str,
    number: &str,
    if_match: Option<&str>,
) -> (u16, Value, Option<String>) {
    let mut headers = vec![("x-kvp-actor", "caseworker-1")];
    if let Some(tag) = if_match {
        headers.push(("if-match", tag));
    }
    let reply = app
        .rest()
        .call_as_with(
            None,
            Method::PUT,
            &format!("/v1/participants/{participant}/employee-number"),
            Some(json!({"employee_number": number})),
            &headers,
        )
        .await;
    (reply.status, reply.body, reply.etag)
}

async fn employee_numbers(backend: TestBackend) {
    let mut app = TestApp::spawn_on(backend).await;
    let fixture = Fixture::new(&app).await;
    let kari = fixture.participant_id.clone();
    let other = app
        .post(
            "/v1/participants",
            json!({"municipality_id": "0301", "national_id": national_id("150190", 321),
                   "display_name": "Without Number"}),
            201,
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let (status, body, etag) = put(&app, &kari, "100234", None).await;
    assert_eq!(
        (status, etag.as_deref()),
        (200, Some("\"1\"")),
        "{backend:?}: {body}"
    );
    assert_eq!(body["employee_number"], "100234");
    // The municipality's numbers are unique: 409 naming who has it.
    let (status, body, _) = put(&app, &other, "100234", None).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["existing"]["id"], json!(kari));
    let (status, body, _) = put(&app, &other, "10 02", None).await;
    assert_eq!(
        (status, &body["errors"][0]["field"]),
        (400, &json!("employee_number"))
    );
    // A change names the version read.
    let (status, _, _) = put(&app, &kari, "100235", None).await;
    assert_eq!(status, 428);
    let (status, _, _) = put(&app, &kari, "100235", Some("\"7\"")).await;
    assert_eq!(status, 412);
    let (status, _, etag) = put(&app, &kari, "100235", Some("\"1\"")).await;
    assert_eq!((status, etag.as_deref()), (200, Some("\"2\"")));
    let (status, _) = app
        .call(
            Method::GET,
            &format!("/v1/participants/{other}/employee-number"),
            None,
        )
        .await;
    assert_eq!(status, 404);

    // Kari's October; the other participant has no programme and no lines.
    let body = fixture.body("2025-10-01", "2025-10-31", &[]);
    app.grpc
        .submit_timesheet(fixture.signed(&body))
        .await
        .unwrap();
    let run = app.close_oslo("2025-10").await.run.unwrap();
    assert!(run.without_employee_number.is_empty(), "{run:?}");
    let lines = app.pay_lines(&run.run_id).await;
    assert!(!lines.is_empty());
    assert!(
        lines.iter().all(|l| l.employee_reference == "100235"),
        "{backend:?}: {lines:?}"
    );
    let export = app
        .get(&format!("/v1/runs/{}/export?format=json", run.run_id))
        .await;
    assert!(
        export["lines"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["employee_number"] == "100235")
    );
    assert_eq!(export["without_employee_number"], json!([]));
    // The CSV profile: BOM, `;`, CRLF, a header row; the same rows as JSON
    // Lines; a decimal comma on request; a pay code that would read as a
    // formula neutralised.
    let file = |query: &str| {
        let url = format!("{}/v1/runs/{}/export{query}", app.http, run.run_id);
        let client = app.client.clone();
        async move {
            let response = client.get(url).send().await.unwrap();
            assert_eq!(response.status(), 200);
            let content_type = response.headers()["content-type"]
                .to_str()
                .unwrap()
                .to_owned();
            (content_type, response.text().await.unwrap())
        }
    };
    let (content_type, csv) = file("").await;
    assert_eq!(content_type, "text/csv; charset=utf-8");
    let csv = csv.strip_prefix('\u{feff}').expect("a byte order mark");
    assert!(
        csv.ends_with("\r\n") && !csv.replace("\r\n", "").contains('\n'),
        "{csv:?}"
    );
    let mut rows = csv.lines();
    assert!(
        rows.next()
            .unwrap()
            .starts_with("run_id;participant_id;employee_number;line_code;")
    );
    let rows: Vec<&str> = rows.collect();
    assert_eq!(rows.len(), lines.len());
    for row in &rows {
        let cells: Vec<&str> = row.split(';').collect();
        assert_eq!(cells[2], "100235", "{row}");
        assert!(cells[10].contains('.') && !cells[10].contains(','), "{row}");
    }
    let (_, comma) = file("?decimal=comma").await;
    for row in comma.lines().skip(1) {
        let amount = row.split(';').nth(10).unwrap();
        assert!(amount.contains(',') && !amount.contains('.'), "{row}");
    }
    let (content_type, jsonl) = file("?format=jsonl").await;
    assert_eq!(content_type, "application/jsonl");
    let objects: Vec<Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(objects.len(), lines.len());
    assert!(objects.iter().all(|o| o["employee_number"] == "100235"));
    // Pay codes and employee numbers are frozen at close: after a change of
    // both, the closed run's files are the same bytes.
    let (_, before) = file("?format=csv").await;
    let (_, before_jsonl) = file("?format=jsonl").await;
    let reply = put_oslo(
        &app,
        json!({"name": "Oslo", "pay_codes": {"KVP_BASE": "=1101"}, "use_product_codes": true}),
    )
    .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    let (status, _, _) = put(&app, &kari, "100236", Some("\"2\"")).await;
    assert_eq!(status, 200);
    assert_eq!(file("?format=csv").await.1, before, "{backend:?}");
    assert_eq!(file("?format=jsonl").await.1, before_jsonl, "{backend:?}");
    let streamed = app.pay_lines(&run.run_id).await;
    for line in &streamed {
        assert_eq!(line.employee_reference, "100235", "{line:?}");
        // No pay codes were registered at close: the product's line code.
        let code = kvp_proto::kvp::payroll::v1::LineCode::try_from(line.line_code)
            .unwrap()
            .as_str_name()
            .trim_start_matches("LINE_CODE_")
            .to_owned();
        assert_eq!(line.pay_code, code, "{line:?}");
    }

    // A participant without a number still closes; the export names them.
    app.post(
        &format!("/v1/participants/{other}/programmes"),
        json!({"start": "2025-11-03", "decision_reference": "KVP-9"}),
        201,
    )
    .await;
    let key = kvp_signing::SigningKey::from_bytes(&[77; 32]);
    app.post(
        "/v1/signer-keys",
        json!({"keyid": "other-key", "person_id": other, "role": "PARTICIPANT",
               "public_key": kvp_signing::public_key_to_base64(&key.verifying_key()),
               "valid_from": "2025-01-01T00:00:00Z"}),
        201,
    )
    .await;
    use prost::Message;
    for (participant, signer) in [
        (&kari, ("participant-key", &fixture.participant_key)),
        (&other, ("other-key", &key)),
    ] {
        let body = kvp_proto::kvp::payroll::v1::TimesheetBody {
            participant_id: participant.clone(),
            ..fixture.body("2025-11-01", "2025-11-30", &[])
        };
        let body = if participant == &other {
            kvp_proto::kvp::payroll::v1::TimesheetBody {
                period: Some(kvp_proto::kvp::payroll::v1::DateRange {
                    from_date: "2025-11-03".into(),
                    to_date: "2025-11-30".into(),
                }),
                ..body
            }
        } else {
            body
        };
        app.grpc
            .submit_timesheet(kvp_system_tests::sign(
                body.encode_to_vec(),
                &[signer, ("supervisor-key", &fixture.supervisor_key)],
            ))
            .await
            .unwrap();
    }
    let run = app.close_oslo("2025-11").await.run.unwrap();
    assert_eq!(run.participant_count, 2);
    // The run names who it paid without a number, in gRPC and in REST.
    assert_eq!(run.without_employee_number, std::slice::from_ref(&other));
    let runs = app.get("/v1/municipalities/0301/runs").await;
    assert_eq!(runs[1]["without_employee_number"], json!([other]));
    assert_eq!(runs[0]["without_employee_number"], json!([]));
    // A run closed after the change has the codes of now, a formula-like
    // pay code neutralised in the CSV.
    let csv = app
        .client
        .get(format!("{}/v1/runs/{}/export", app.http, run.run_id))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(csv.contains(";100236;KVP_BASE;'=1101;"), "{csv}");
    let lines = app.pay_lines(&run.run_id).await;
    assert!(
        lines
            .iter()
            .any(|l| l.participant_id == other && l.employee_reference.is_empty())
    );
    let export = app
        .get(&format!("/v1/runs/{}/export?format=json", run.run_id))
        .await;
    assert_eq!(export["without_employee_number"], json!([other]));
    app.stop().await;
}
