//! The bounds of sense (`kvp_rules::bounds`, `crates/rules/README.md`) at
//! every edge of the running service: a value beyond one is a field violation
//! naming the field — a REST 400 problem, a gRPC `INVALID_ARGUMENT` with a
//! `google.rpc.BadRequest` field violation — and nothing is stored; a value at
//! its bound is accepted and a close over it succeeds.

use kvp_proto::kvp::payroll::v1 as pb;
use kvp_proto::kvp::payroll::v1::DayKind;
use kvp_system_tests::{Fixture, TestApp, violations};
use reqwest::Method;
use serde_json::{Value, json};
use tonic::Code;

/// The fields and descriptions of a problem's `errors`.
fn errors(problem: &Value) -> Vec<(String, String)> {
    problem["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no errors in {problem}"))
        .iter()
        .map(|e| {
            (
                e["field"].as_str().unwrap().to_owned(),
                e["description"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn one(field: &str, description: &str) -> Vec<(String, String)> {
    vec![(field.to_owned(), description.to_owned())]
}

#[tokio::test]
async fn a_benefit_offset_beyond_its_bound_is_refused_and_one_at_it_closes_to_zero() {
    let mut app = TestApp::spawn().await;
    let fixture = Fixture::new(&app).await;
    let id = &fixture.participant_id;
    let path = format!("/v1/participants/{id}/benefit-offsets");
    let beyond = "must be at most 10000000 kroner, the largest monthly benefit of sense";
    for amount in ["10000000.01", "79228162514264337593543950335"] {
        let (status, problem) = app
            .call(
                Method::POST,
                &path,
                Some(json!({"month": "2025-10", "kind": "SYKEPENGER", "amount": amount})),
            )
            .await;
        assert_eq!(status, 400, "{problem}");
        assert_eq!(problem["status"], 400);
        assert_eq!(errors(&problem), one("amount", beyond), "{amount}");
    }
    let (status, problem) = app
        .call(
            Method::POST,
            &path,
            Some(json!({"month": "2025-10", "kind": "SYKEPENGER", "amount": "-0.01"})),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        errors(&problem),
        one("amount", "must be a non-negative amount in kroner and øre")
    );

    // Nothing refused was stored: October pays in full.
    app.grpc
        .submit_timesheet(fixture.signed(&fixture.body("2025-10-01", "2025-10-31", &[])))
        .await
        .unwrap();
    let month = app
        .get(&format!("/v1/participants/{id}/months/2025-10"))
        .await;
    assert_eq!(month["lines"]["KVP_DEDUCTION_OTHER_BENEFITS"], "0.00");
    assert_ne!(month["total"], "0.00");

    // Two benefits at the bound take the whole month, and the close pays zero
    // instead of failing.
    for kind in ["SYKEPENGER", "DAGPENGER"] {
        app.post(
            &path,
            json!({"month": "2025-10", "kind": kind, "amount": "10000000.00"}),
            201,
        )
        .await;
    }
    let month = app
        .get(&format!("/v1/participants/{id}/months/2025-10"))
        .await;
    assert_eq!(month["total"], "0.00", "{month}");
    let closed = app
        .grpc
        .close_period(pb::ClosePeriodRequest {
            municipality_id: "0301".into(),
            month: "2025-10".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(closed.created);
    assert_eq!(closed.run.unwrap().total_amount, "0.00");
    app.stop().await;
}

#[tokio::test]
async fn a_g_beyond_its_bound_is_refused_naming_the_bound() {
    let app = TestApp::spawn().await;
    let (status, problem) = app
        .call(
            Method::POST,
            "/v1/parameters/g",
            Some(json!({
                "effective_date": "2027-05-01", "value": "10000000.01", "reference": "typo",
            })),
        )
        .await;
    assert_eq!(status, 400, "{problem}");
    assert_eq!(
        errors(&problem),
        one(
            "value",
            "must be at most 10000000 kroner, the largest G of sense"
        )
    );
    app.post(
        "/v1/parameters/g",
        json!({"effective_date": "2027-05-01", "value": "10000000", "reference": "at the bound"}),
        201,
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn policy_quotas_beyond_their_bounds_are_refused_each_by_field() {
    let app = TestApp::spawn().await;
    let (status, problem) = app
        .call(
            Method::PUT,
            "/v1/municipalities/5001",
            Some(json!({
                "name": "Trondheim",
                "policy_overrides": {
                    "self_cert_min_weeks": 53,
                    "self_cert_max_days": 367,
                    "child_sick_days_many_children": "366.5",
                    "child_sick_many_children_more_than": 21,
                    "long_sickness_days": 0,
                },
            })),
        )
        .await;
    assert_eq!(status, 400, "{problem}");
    assert_eq!(
        errors(&problem),
        vec![
            (
                "policy_overrides.self_cert_min_weeks".to_owned(),
                "must be at most 52 weeks".to_owned()
            ),
            (
                "policy_overrides.self_cert_max_days".to_owned(),
                "must be at most 366 days".to_owned()
            ),
            (
                "policy_overrides.child_sick_days_many_children".to_owned(),
                "must be between 0 and 366 days".to_owned()
            ),
            (
                "policy_overrides.child_sick_many_children_more_than".to_owned(),
                "must be at most 20 children".to_owned()
            ),
            (
                "policy_overrides.long_sickness_days".to_owned(),
                "must be between 1 and 366 days".to_owned()
            ),
        ]
    );
    let (status, _) = app.call(Method::GET, "/v1/municipalities/5001", None).await;
    assert_eq!(status, 404, "nothing was stored");
    app.stop().await;
}

#[tokio::test]
async fn a_simulation_names_the_value_beyond_its_bound_and_reads_ages_exactly() {
    let app = TestApp::spawn().await;
    let vector: Value = serde_json::from_str(include_str!(
        "../../crates/rules/tests/vectors/public/03-turns-25-mid-month.json"
    ))
    .unwrap();
    let input = &vector["input"];
    let refused = |mut case: Value, edit: fn(&mut Value)| {
        edit(&mut case);
        case
    };
    for (case, field, description) in [
        (
            refused(input.clone(), |c| {
                c["offsets"] = json!([
                    {"kind": "SYKEPENGER", "amount": "79228162514264337593543950335"},
                    {"kind": "DAGPENGER", "amount": "79228162514264337593543950335"},
                ]);
            }),
            "offsets[0].amount",
            "79228162514264337593543950335 is above 10000000 kr, the largest monthly benefit of sense",
        ),
        (
            refused(input.clone(), |c| {
                c["parameters"]["full_rate_from_age"] = json!("25.5");
            }),
            "parameters.full_rate_from_age",
            "25.5 is not an age in whole years from 1 to 100",
        ),
        (
            refused(input.clone(), |c| {
                c["parameters"]["full_rate_from_age"] = json!("1e30");
            }),
            "parameters.full_rate_from_age",
            "`1e30` is not a decimal number",
        ),
        (
            refused(input.clone(), |c| {
                c["parameters"]["under_25_factor"] = json!("1/1001");
            }),
            "parameters.under_25_factor",
            "the denominator of 1/1001 is above 1000, the largest of sense",
        ),
        (
            refused(input.clone(), |c| {
                c["days"] = json!([
                    {"date": "2025-03-04", "kind": "PAID_WORK", "hours": 20},
                    {"date": "2025-03-04", "kind": "UNEXCUSED", "hours": 4.25},
                ]);
            }),
            "days[1].hours",
            "the day's entries add up to more than 24 hours",
        ),
    ] {
        let (status, problem) = app.call(Method::POST, "/v1/simulations", Some(case)).await;
        assert_eq!(status, 400, "{problem}");
        assert_eq!(errors(&problem), one(field, description));
    }

    // An age with many decimals is that age: the vector's expected month.
    let mut case = input.clone();
    case["parameters"]["full_rate_from_age"] = json!("25.00000000");
    let result = app.post("/v1/simulations", case, 200).await;
    for key in ["lines", "total", "quantities", "flags"] {
        assert_eq!(result[key], vector["expected"][key], "{key}");
    }
    app.stop().await;
}

#[tokio::test]
async fn payment_figures_beyond_a_payslip_of_sense_are_invalid_arguments() {
    let app = TestApp::spawn().await;
    let status = app
        .grpc
        .clone()
        .confirm_payment(pb::ConfirmPaymentRequest {
            run_id: "0192f3c4-0000-7000-8000-000000000001".into(),
            participant_id: "0192f3c4-0000-7000-8000-000000000002".into(),
            gross: "10000000.01".into(),
            tax_withheld: "-79228162514264337593543950335".into(),
            net_paid: "10000000.00".into(),
            outcome: pb::PaymentOutcome::Paid as i32,
            failure_reason: String::new(),
            payment_date: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let beyond = "must lie within ±10000000 kroner, the largest payslip of sense";
    assert_eq!(
        violations(&status),
        vec![
            ("gross".to_owned(), beyond.to_owned()),
            ("tax_withheld".to_owned(), beyond.to_owned()),
        ]
    );
    app.stop().await;
}

#[tokio::test]
async fn timesheet_hours_and_periods_beyond_their_bounds_are_invalid_arguments() {
    let mut app = TestApp::spawn().await;
    let fixture = Fixture::new(&app).await;
    let body = fixture.body(
        "2025-10-01",
        "2025-10-31",
        &[
            ("2025-10-06", DayKind::Attended, "24.25"),
            ("2025-10-07", DayKind::PaidWork, "20"),
            ("2025-10-07", DayKind::Attended, "4.25"),
            ("2025-10-08", DayKind::PaidWork, "24"),
        ],
    );
    let status = app
        .grpc
        .submit_timesheet(fixture.signed(&body))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        violations(&status),
        vec![
            (
                "entries[0].hours".to_owned(),
                "must be between 0 and 24".to_owned()
            ),
            (
                "entries[2].hours".to_owned(),
                "the day's entries add up to more than 24 hours".to_owned()
            ),
        ]
    );
    let long = fixture.body("2025-09-01", "2025-11-02", &[]);
    let status = app
        .grpc
        .submit_timesheet(fixture.signed(&long))
        .await
        .unwrap_err();
    assert_eq!(
        violations(&status),
        vec![("period".to_owned(), "may cover at most 62 days".to_owned())]
    );
    // 62 days exactly is one timesheet.
    let longest = fixture.body("2025-09-01", "2025-11-01", &[]);
    app.grpc
        .submit_timesheet(fixture.signed(&longest))
        .await
        .unwrap();
    app.stop().await;
}

#[tokio::test]
async fn every_golden_vector_is_a_case_the_openapi_document_describes() {
    let app = TestApp::spawn().await;
    let doc = app.get("/openapi.json").await;
    assert_eq!(
        doc["paths"]["/v1/simulations"]["post"]["requestBody"]["content"]["application/json"]["schema"]
            ["$ref"],
        "#/components/schemas/SimulationRequest"
    );
    // The document's components as a JSON Schema, rooted at the case, and at
    // what the operation takes: a case or a whole case file.
    let rooted_at = |name: &str| {
        let root = serde_json::json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$ref": format!("#/components/schemas/{name}"),
            "components": doc["components"],
        });
        jsonschema::validator_for(&root).unwrap()
    };
    let validator = rooted_at("CaseSchema");
    let request = rooted_at("SimulationRequest");
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../crates/rules/tests/vectors/public"
    );
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let vector: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let errors: Vec<String> = validator
            .iter_errors(&vector["input"])
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{}: {errors:?}", path.display());
        assert!(request.is_valid(&vector), "{}", path.display());
        assert!(request.is_valid(&vector["input"]), "{}", path.display());
        checked += 1;
    }
    assert_eq!(checked, 44);
    // And the schema is not a mere object: a case without its month is not one.
    let mut without_month = serde_json::from_str::<Value>(include_str!(
        "../../crates/rules/tests/vectors/public/03-turns-25-mid-month.json"
    ))
    .unwrap()["input"]
        .clone();
    let mut with_unknown_field = without_month.clone();
    without_month.as_object_mut().unwrap().remove("month");
    assert!(!validator.is_valid(&without_month));
    // Nor one with a field the service does not know (it refuses those).
    with_unknown_field["mnoth"] = serde_json::json!("2025-03");
    assert!(!request.is_valid(&with_unknown_field));
    app.stop().await;
}

#[tokio::test]
async fn the_openapi_document_states_the_bounds_of_its_schemas() {
    let app = TestApp::spawn().await;
    let doc = app.get("/openapi.json").await;
    let schemas = &doc["components"]["schemas"];
    // What a schema admits, of the texts and numbers given.
    let admitted = |schema: &Value, values: &[Value]| -> Vec<Value> {
        let validator = jsonschema::validator_for(schema).unwrap();
        values
            .iter()
            .filter(|v| validator.is_valid(v))
            .cloned()
            .collect()
    };
    let amount = &schemas["OffsetBody"]["properties"]["amount"];
    assert!(
        amount["description"]
            .as_str()
            .unwrap()
            .contains("10 000 000"),
        "{amount}"
    );
    let texts = serde_json::json!([
        "0",
        "0.5",
        "4500.00",
        "007",
        "9999999.99",
        "10000000",
        "10000000.00",
        "10000000.01",
        "10000001",
        "99999999",
        "1.234",
        "-1",
        ""
    ]);
    let texts = texts.as_array().unwrap();
    assert_eq!(
        admitted(amount, texts),
        serde_json::json!([
            "0",
            "0.5",
            "4500.00",
            "007",
            "9999999.99",
            "10000000",
            "10000000.00"
        ])
        .as_array()
        .unwrap()
        .clone(),
        "{amount}"
    );
    // A G is above 0, at most 10 000 000.
    let g = &schemas["GBody"]["properties"]["value"];
    assert_eq!(
        admitted(g, texts),
        serde_json::json!(["4500.00", "007", "9999999.99", "10000000", "10000000.00"])
            .as_array()
            .unwrap()
            .clone(),
        "{g}"
    );
    let policy = &schemas["PolicyOverridesSchema"]["properties"];
    // Day counts: a number or a decimal text, 0 to 366, or null.
    let days = serde_json::json!([
        0, 366, 367, -1, "366", "366.0", "366.5", "365.75", "12", null
    ]);
    assert_eq!(
        admitted(&policy["leave_days_per_year"], days.as_array().unwrap()),
        serde_json::json!([0, 366, "366", "366.0", "365.75", "12", null])
            .as_array()
            .unwrap()
            .clone()
    );
    for (field, minimum, maximum) in [
        ("self_cert_min_weeks", 0, 52),
        ("self_cert_max_days", 0, 366),
        ("self_cert_max_occurrences", 0, 366),
        ("child_sick_many_children_more_than", 0, 20),
        ("child_sick_young_child_age", 0, 18),
        ("long_sickness_days", 1, 366),
    ] {
        let property = &policy[field];
        assert_eq!(
            (
                property["minimum"].to_string(),
                property["maximum"].to_string()
            ),
            (format!("{minimum}"), format!("{maximum}")),
            "{field}: {property}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn control_characters_and_overlong_free_text_in_grpc_messages_are_invalid_arguments() {
    let mut app = TestApp::spawn().await;
    let fixture = Fixture::new(&app).await;
    let mut body = fixture.body(
        "2025-10-01",
        "2025-10-31",
        &[
            ("2025-10-06", DayKind::Unexcused, "2"),
            ("2025-10-07", DayKind::Unexcused, "2"),
        ],
    );
    // NUL cannot be stored by PostgreSQL; an escape sequence garbles a screen.
    body.entries[0].note = "sick\u{0}".into();
    body.entries[1].note = "x".repeat(1001);
    body.client_reference = "ref\u{1b}[2J".into();
    let status = app
        .grpc
        .submit_timesheet(fixture.signed(&body))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let control = "must not contain control characters but tab and line breaks";
    assert_eq!(
        violations(&status),
        vec![
            ("client_reference".to_owned(), control.to_owned()),
            ("entries[0].note".to_owned(), control.to_owned()),
            (
                "entries[1].note".to_owned(),
                "must be at most 1000 characters".to_owned()
            ),
        ]
    );
    // Tabs and line breaks are text; the same timesheet with them is taken.
    body.entries[0].note = "sick,\tback\r\non Wednesday".into();
    body.entries[1].note = "x".repeat(1000);
    body.client_reference = "ref-1".into();
    app.grpc
        .submit_timesheet(fixture.signed(&body))
        .await
        .unwrap();

    let status = app
        .grpc
        .confirm_payment(pb::ConfirmPaymentRequest {
            run_id: "0192f3c4-0000-7000-8000-000000000001".into(),
            participant_id: "0192f3c4-0000-7000-8000-000000000002".into(),
            gross: "100.00".into(),
            tax_withheld: "0.00".into(),
            net_paid: "100.00".into(),
            outcome: pb::PaymentOutcome::Failed as i32,
            failure_reason: "closed\u{0}account".into(),
            payment_date: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(violations(&status), one("failure_reason", control));
    app.stop().await;
}
