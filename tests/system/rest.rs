//! The caseworker REST API over real HTTP: problem details, decisions that
//! recompute the month, the absence overview, simulations and the audit trail.

use kvp_proto::kvp::payroll::v1::DayKind;
use kvp_store::Backend;
use serde_json::json;

use kvp_system_tests::{Fixture, TestApp, national_id, postgres_url};

#[tokio::test]
async fn every_error_answer_is_declared_and_served_as_problem_details() {
    let app = TestApp::spawn().await;
    let doc = app.get("/openapi.json").await;
    let mut declared = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let Some(responses) = operation["responses"].as_object() else {
                continue;
            };
            // The request bounds answer on every operation.
            assert!(responses.contains_key("503"), "{method} {path}");
            if !operation["requestBody"].is_null() {
                assert!(responses.contains_key("413"), "{method} {path}");
            }
            for (status, response) in responses {
                let Some(content) = response["content"].as_object() else {
                    continue;
                };
                if status.starts_with('4') || status.starts_with('5') {
                    let types: Vec<&String> = content.keys().collect();
                    assert_eq!(
                        types,
                        ["application/problem+json"],
                        "{method} {path} {status}"
                    );
                    declared += 1;
                }
            }
        }
    }
    assert!(declared > 100, "{declared} error answers declared");
    // A path or a query that does not parse is problem details too.
    for path in [
        "/v1/runs/not-a-run",
        "/v1/municipalities/0301/runs?limit=many",
    ] {
        let response = app
            .client
            .get(format!("{}{path}", app.http))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{path}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json",
            "{path}"
        );
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["reason"], "INVALID_FIELDS", "{path}: {body}");
    }
    app.stop().await;
}

#[tokio::test]
async fn the_service_runs_on_the_configured_backend() {
    let app = TestApp::spawn().await;
    let expected = if postgres_url().is_some() {
        Backend::Postgres
    } else {
        Backend::Sqlite
    };
    assert_eq!(app.payroll.store().backend(), expected);
    app.stop().await;
}

#[tokio::test]
async fn an_object_given_as_an_array_of_its_fields_is_refused_at_any_depth() {
    let app = TestApp::spawn().await;
    Fixture::new(&app).await;
    // serde would read these as the fields in order; the contract says object.
    let whole = app
        .post(
            "/v1/participants",
            json!(["0301", national_id("150190", 300), "Ola"]),
            400,
        )
        .await;
    assert_eq!(whole["errors"][0]["field"], "body", "{whole}");
    let nested = app
        .post(
            "/v1/simulations",
            json!({
                "month": "2025-03", "participant": ["1990-01-15"],
                "programme": {"start": "2025-01-01"},
            }),
            400,
        )
        .await;
    assert_eq!(nested["errors"][0]["field"], "participant", "{nested}");
    let (status, problem) = app
        .call(
            reqwest::Method::PUT,
            "/v1/municipalities/4601",
            Some(json!({"name": "Bergen", "policy_overrides": [null, 3]})),
        )
        .await;
    assert_eq!(status, 400, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "policy_overrides");
    // Nothing of the refused municipality was stored.
    let (status, _) = app
        .call(reqwest::Method::GET, "/v1/municipalities/4601", None)
        .await;
    assert_eq!(status, 404);
    app.stop().await;
}

#[tokio::test]
async fn text_with_a_control_character_is_a_field_violation_naming_the_field() {
    let app = TestApp::spawn().await;
    Fixture::new(&app).await;
    let problem = app
        .post(
            "/v1/participants",
            json!({
                "municipality_id": "0301", "national_id": national_id("150190", 301),
                "display_name": "Ola\u{0}Nordmann",
            }),
            400,
        )
        .await;
    assert_eq!(problem["errors"][0]["field"], "display_name", "{problem}");
    assert!(
        problem["errors"][0]["description"]
            .as_str()
            .unwrap()
            .contains("control character"),
        "{problem}"
    );
    app.stop().await;
}

#[tokio::test]
async fn invalid_identity_numbers_and_duplicates_are_problems_naming_the_field() {
    let app = TestApp::spawn().await;
    Fixture::new(&app).await;
    let mut bad = national_id("150190", 200);
    let last = bad.pop().unwrap().to_digit(10).unwrap();
    bad.push(char::from_digit((last + 1) % 10, 10).unwrap());
    let problem = app
        .post(
            "/v1/participants",
            json!({
                "municipality_id": "0301", "national_id": bad, "display_name": "X",
            }),
            400,
        )
        .await;
    assert_eq!(problem["status"], 400);
    assert_eq!(problem["errors"][0]["field"], "national_id");
    assert_eq!(
        problem["errors"][0]["description"],
        "the check digits do not match"
    );
    assert!(
        !problem.to_string().contains(&bad),
        "the number is never echoed"
    );

    let problem = app.post("/v1/participants", json!({
        "municipality_id": "0301", "national_id": national_id("150190", 123), "display_name": "Kari again",
    }), 409).await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("already registered")
    );

    let problem = app.post("/v1/participants", json!({
        "municipality_id": "0301", "national_id": national_id("150190", 300), "display_name": "Y", "children": ["not a date"],
    }), 400).await;
    assert_eq!(problem["errors"][0]["field"], "children[0]");

    // D-numbers are accepted; the birth date comes from the number.
    let d_number = national_id("550190", 10);
    let created = app
        .post(
            "/v1/participants",
            json!({
                "municipality_id": "0301", "national_id": d_number, "display_name": "Ola",
            }),
            201,
        )
        .await;
    assert_eq!(created["birth_date"], "1990-01-15");
    assert!(created.get("national_id").is_none());
    app.stop().await;
}

#[tokio::test]
async fn an_approved_sanction_deducts_and_a_rejected_one_pays() {
    let mut app = TestApp::spawn().await;
    let fixture = Fixture::new(&app).await;
    let body = fixture.body(
        "2025-10-01",
        "2025-10-31",
        &[
            ("2025-10-14", DayKind::Unexcused, "3"),
            ("2025-10-15", DayKind::Unexcused, "7.5"),
        ],
    );
    app.grpc
        .submit_timesheet(fixture.signed(&body))
        .await
        .unwrap();
    let id = &fixture.participant_id;
    let month = app
        .get(&format!("/v1/participants/{id}/months/2025-10"))
        .await;
    assert_eq!(month["lines"]["KVP_DEDUCTION_ABSENCE"], "0.00");
    assert_eq!(month["flags"], json!(["UNEXCUSED_PENDING_DECISION"]));

    app.warn(id, "2025-10-14", "UNEXCUSED").await;
    app.post(&format!("/v1/participants/{id}/sanction-decisions"), json!({
        "date": "2025-10-14", "entry_kind": "UNEXCUSED", "outcome": "APPROVED", "reference": "VEDTAK-9", "reason": "no notice given",
    }), 201).await;
    app.post(&format!("/v1/participants/{id}/sanction-decisions"), json!({
        "date": "2025-10-15", "entry_kind": "UNEXCUSED", "outcome": "REJECTED", "reference": "VEDTAK-10",
    }), 201).await;
    let month = app
        .get(&format!("/v1/participants/{id}/months/2025-10"))
        .await;
    // October 2025: 23 weekdays, G 130 160 × 2.041 (the shipped factor from
    // 2024-07-01), born 1990: base = 265 656.56 ÷ 12, and 3 h = 265 656.56 × 3 ÷ (12 × 23 × 7.5).
    assert_eq!(month["lines"]["KVP_BASE"], "22138.05");
    assert_eq!(month["lines"]["KVP_DEDUCTION_ABSENCE"], "-385.01");
    assert_eq!(month["quantities"]["absence_hours"], "3");
    assert_eq!(month["flags"], json!([]));

    let problem = app.post(&format!("/v1/participants/{id}/sanction-decisions"), json!({
        "date": "2025-10-14", "entry_kind": "UNEXCUSED", "outcome": "REJECTED", "reference": "VEDTAK-11",
    }), 409).await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("already recorded")
    );
    let problem = app.post(&format!("/v1/participants/{id}/sanction-decisions"), json!({
        "date": "2025-10-16", "entry_kind": "UNEXCUSED", "outcome": "APPROVED", "reference": "VEDTAK-12",
    }), 409).await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("no UNEXCUSED entry")
    );
    let problem = app.post(&format!("/v1/participants/{id}/sanction-decisions"), json!({
        "date": "2025-10-14", "entry_kind": "UNEXCUSED", "outcome": "MAYBE", "reference": "X",
    }), 400).await;
    assert_eq!(problem["errors"][0]["field"], "outcome");

    let decisions = app
        .get(&format!("/v1/participants/{id}/sanction-decisions"))
        .await;
    assert_eq!(decisions.as_array().unwrap().len(), 2);
    let trail = app.get(&format!("/v1/audit/participant/{id}")).await;
    let actions: Vec<&str> = trail
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions.iter().filter(|a| **a == "sanction.decided").count(),
        2
    );
    assert!(
        trail
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["actor"] == "caseworker-1")
    );
    app.stop().await;
}

#[tokio::test]
async fn the_absence_overview_counts_quotas_across_timesheets() {
    let mut app = TestApp::spawn().await;
    let fixture = Fixture::new(&app).await;
    let september = fixture.body(
        "2025-09-01",
        "2025-09-30",
        &[
            ("2025-09-08", DayKind::SickSelf, "7.5"),
            ("2025-09-22", DayKind::ChildSick, "7.5"),
            ("2025-09-23", DayKind::ChildSick, "3.75"),
        ],
    );
    let october = fixture.body(
        "2025-10-01",
        "2025-10-31",
        &[
            ("2025-10-02", DayKind::SickSelf, "7.5"),
            ("2025-10-03", DayKind::SickSelf, "7.5"),
            ("2025-10-13", DayKind::Leave, "7.5"),
        ],
    );
    app.grpc
        .submit_timesheet(fixture.signed(&september))
        .await
        .unwrap();
    app.grpc
        .submit_timesheet(fixture.signed(&october))
        .await
        .unwrap();
    let id = &fixture.participant_id;
    let overview = app
        .get(&format!(
            "/v1/participants/{id}/absence-overview?as_of=2025-10-03"
        ))
        .await;
    assert_eq!(overview["self_cert_occurrences_left"], 2);
    assert_eq!(overview["self_cert_days_left_in_occurrence"], 1);
    assert_eq!(overview["child_sick_hours_left"], "63.75");
    assert_eq!(overview["child_sick_days_left"], "8.5");
    assert_eq!(overview["leave_days_left"], "24");
    let problem = app
        .call(
            reqwest::Method::GET,
            &format!("/v1/participants/{id}/absence-overview?as_of=yesterday"),
            None,
        )
        .await;
    assert_eq!(problem.0, 400);
    assert_eq!(problem.1["errors"][0]["field"], "as_of");
    let timesheets = app.get(&format!("/v1/participants/{id}/timesheets")).await;
    assert_eq!(timesheets.as_array().unwrap().len(), 2);
    app.stop().await;
}

#[tokio::test]
async fn simulations_and_the_openapi_document_are_served() {
    let app = TestApp::spawn().await;
    let vector: serde_json::Value = serde_json::from_str(include_str!(
        "../../crates/rules/tests/vectors/public/36-mixed-young-parent.json"
    ))
    .unwrap();
    let result = app
        .post("/v1/simulations", vector["input"].clone(), 200)
        .await;
    for key in ["lines", "total", "quantities", "flags"] {
        assert_eq!(result[key], vector["expected"][key], "{key}");
    }
    let mut bad = vector["input"].clone();
    bad["days"][0]["hours"] = json!(30);
    let problem = app.post("/v1/simulations", bad, 400).await;
    assert_eq!(problem["errors"][0]["field"], "days[0].hours");

    let doc = app.get("/openapi.json").await;
    let paths = doc["paths"].as_object().unwrap();
    for path in [
        "/v1/participants",
        "/v1/signer-keys",
        "/v1/simulations",
        "/v1/participants/{id}/absence-overview",
    ] {
        assert!(
            paths.contains_key(path),
            "{path} missing from the OpenAPI document"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn policy_overrides_beyond_sense_are_refused_by_field_and_nothing_changes() {
    let app = TestApp::spawn().await;
    let path = "/v1/municipalities/4601";
    let (status, _) = app
        .call(
            reqwest::Method::PUT,
            path,
            Some(json!({"name": "Tromsø", "policy_overrides": {"leave_days_per_year": 20}})),
        )
        .await;
    assert_eq!(status, 200);

    let (status, problem) = app
        .call(
            reqwest::Method::PUT,
            path,
            Some(json!({
                "name": "Tromsø",
                "policy_overrides": {
                    "leave_days_per_year": 250,
                    "sole_carer_quota_multiplier": "0.5",
                    "child_sick_young_child_age": 30,
                },
            })),
        )
        .await;
    assert_eq!(status, 400, "{problem}");
    assert_eq!(
        problem["errors"],
        json!([
            {"field": "policy_overrides.child_sick_young_child_age",
             "description": "must be between 0 and 18 years"},
            {"field": "policy_overrides.sole_carer_quota_multiplier",
             "description": "must be between 1 and 10"},
        ]),
        "{problem}"
    );
    // The municipality keeps what it had.
    let stored = app.get(path).await;
    assert_eq!(
        stored["policy_overrides"],
        json!({"leave_days_per_year": 20})
    );
    app.stop().await;
}

/// A malformed id or month in the path is a problem naming the parameter, on
/// every route that takes one, as a body field that does not fit would be.
#[tokio::test]
async fn malformed_path_parameters_are_problems_naming_the_parameter() {
    use reqwest::Method;
    let app = TestApp::spawn().await;
    let fixture = Fixture::new(&app).await;
    let id = &fixture.participant_id;
    let violation =
        |field: &str, description: &str| json!([{"field": field, "description": description}]);
    let not_uuid = violation("id", "must be a UUID");
    let not_month = violation("month", "must be YYYY-MM");
    let bad = "0190a0a0-zzzz";
    let cases = [
        (
            Method::GET,
            format!("/v1/participants/{bad}"),
            None,
            &not_uuid,
        ),
        (
            Method::POST,
            format!("/v1/participants/{bad}/children"),
            Some(json!({"birth_date": "2020-01-01"})),
            &not_uuid,
        ),
        (
            Method::POST,
            format!("/v1/participants/{bad}/sole-carer-periods"),
            Some(json!({"from": "2025-01-01"})),
            &not_uuid,
        ),
        (
            Method::POST,
            format!("/v1/participants/{bad}/benefit-offsets"),
            Some(json!({"month": "2025-01", "kind": "SYKEPENGER", "amount": "100"})),
            &not_uuid,
        ),
        (
            Method::POST,
            format!("/v1/participants/{bad}/programmes"),
            Some(json!({"start": "2025-01-01", "decision_reference": "KVP-1"})),
            &not_uuid,
        ),
        (
            Method::POST,
            format!("/v1/participants/{bad}/sanction-decisions"),
            Some(json!({
                "date": "2025-01-06", "entry_kind": "UNEXCUSED", "outcome": "APPROVED",
                "reference": "S-1",
            })),
            &not_uuid,
        ),
        (
            Method::GET,
            format!("/v1/participants/{bad}/sanction-decisions"),
            None,
            &not_uuid,
        ),
        (
            Method::GET,
            format!("/v1/participants/{bad}/absence-overview"),
            None,
            &not_uuid,
        ),
        (
            Method::GET,
            format!("/v1/participants/{bad}/timesheets"),
            None,
            &not_uuid,
        ),
        (
            Method::GET,
            format!("/v1/participants/{bad}/months/2025-01"),
            None,
            &not_uuid,
        ),
        (
            Method::GET,
            format!("/v1/participants/{bad}/months/January"),
            None,
            &not_uuid,
        ),
        (
            Method::GET,
            format!("/v1/participants/{id}/months/January"),
            None,
            &not_month,
        ),
        (
            Method::GET,
            format!("/v1/participants/{bad}/payslips/2025-01"),
            None,
            &not_uuid,
        ),
        (
            Method::GET,
            format!("/v1/participants/{id}/payslips/2025-13"),
            None,
            &not_month,
        ),
        (
            Method::PUT,
            format!("/v1/programmes/{bad}/end"),
            Some(json!({"end": null})),
            &not_uuid,
        ),
        (
            Method::POST,
            format!("/v1/programmes/{bad}/pauses"),
            Some(json!({"from": "2025-01-01", "kind": "INTERRUPTED", "reference": "P-1"})),
            &not_uuid,
        ),
        (
            Method::GET,
            format!("/v1/runs/{bad}/export"),
            None,
            &not_uuid,
        ),
    ];
    for (method, path, body, expected) in cases {
        let (status, problem) = app.call(method.clone(), &path, body).await;
        assert_eq!(status, 400, "{method} {path}: {problem}");
        assert_eq!(problem["errors"], *expected, "{method} {path}: {problem}");
    }
    app.stop().await;
}
