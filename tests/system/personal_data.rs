//! Identity numbers never leave the service: not in logs, traces, metrics,
//! REST problems or gRPC statuses. The kit captures the whole process's
//! tracing output at TRACE (text and JSON, spans with their fields) and
//! checks it for every identity number the tests used at the end of every
//! test (`kvp_system_tests::capture`); this test drives the paths an identity
//! number takes — registration, a duplicate, malformed and mistyped numbers,
//! a number sent as a JSON number, a number where an id, a field name, a
//! choice or a policy value belongs — and shows the capture really holds
//! that traffic, so the check cannot pass by seeing nothing. (It found
//! echoes, now fixed: serde's messages quoted the refused value, in the body
//! parser and in the policy check; an unknown field's path was the client's
//! key; an unknown absence kind was repeated back.)

use kvp_proto::kvp::payroll::v1 as pb;
use kvp_system_tests::{Fixture, TestApp, capture, check_status, national_id};
use pb::DayKind;
use serde_json::json;

/// The number with its last digit changed: its check digits no longer match.
fn mistyped(number: &str) -> String {
    let mut digits = number.to_owned();
    let last = digits.pop().unwrap().to_digit(10).unwrap();
    digits.push(char::from_digit((last + 1) % 10, 10).unwrap());
    digits
}

#[tokio::test]
async fn identity_numbers_appear_in_no_log_span_metric_problem_or_status() {
    let mark = capture::mark();
    let mut app = TestApp::spawn().await;
    let fixture = Fixture::new(&app).await;
    let registered = national_id("150190", 123);
    let other = national_id("020304", 600);
    let participant = |number: serde_json::Value| {
        json!({
            "municipality_id": "0301", "national_id": number, "display_name": "Per Hansen",
        })
    };

    // Registered again: a conflict, not naming the number.
    let problem = app
        .post("/v1/participants", participant(json!(registered)), 409)
        .await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("already registered")
    );
    // A mistyped number, its split forms, a number too long, a number given
    // as a JSON number: each refused naming the field, none echoed.
    let wrong = mistyped(&other);
    capture::register(&wrong);
    for (number, reason) in [
        (json!(wrong), "the check digits do not match"),
        (
            json!(format!("{} {}", &other[..6], &other[6..])),
            "must be eleven digits",
        ),
        (
            json!(format!("{}-{}", &other[..6], &other[6..])),
            "must be eleven digits",
        ),
        (json!(format!("{other}0")), "must be eleven digits"),
    ] {
        let problem = app.post("/v1/participants", participant(number), 400).await;
        assert_eq!(problem["errors"][0]["field"], "national_id", "{problem}");
        assert_eq!(problem["errors"][0]["description"], reason, "{problem}");
    }
    for number in [&registered, &other] {
        let as_integer: u64 = number.parse().unwrap();
        let problem = app
            .post("/v1/participants", participant(json!(as_integer)), 400)
            .await;
        assert_eq!(problem["errors"][0]["field"], "national_id", "{problem}");
        assert!(
            problem["errors"][0]["description"]
                .as_str()
                .unwrap()
                .starts_with("invalid type: integer, expected a string"),
            "{problem}"
        );
    }
    // A number where a field name or a choice belongs: refused, unnamed.
    let mut misplaced = participant(json!(other));
    misplaced[other.as_str()] = json!("x");
    let problem = app.post("/v1/participants", misplaced, 400).await;
    assert!(
        problem["errors"][0]["description"]
            .as_str()
            .unwrap()
            .starts_with("unknown field, expected"),
        "{problem}"
    );
    let decision = json!({
        "date": "2025-10-14", "entry_kind": registered, "outcome": "APPROVED", "reference": "V-1",
    });
    let problem = app
        .post(
            &format!(
                "/v1/participants/{}/sanction-decisions",
                fixture.participant_id
            ),
            decision,
            400,
        )
        .await;
    assert_eq!(problem["errors"][0]["field"], "entry_kind", "{problem}");
    let (status, problem) = app
        .call(
            reqwest::Method::PUT,
            "/v1/municipalities/0301",
            Some(json!({
                "name": "Oslo", "use_product_codes": true, "policy_overrides": {"self_cert_min_weeks": registered},
            })),
        )
        .await;
    assert_eq!(status, 400, "{problem}");
    assert_eq!(
        problem["errors"][0]["field"], "policy_overrides",
        "{problem}"
    );
    // A valid number in an unknown municipality, and with a child born
    // before the participant: refused for those reasons, the number unnamed.
    let problem = app
        .post(
            "/v1/participants",
            json!({"municipality_id": "9999", "national_id": other, "display_name": "Per"}),
            400,
        )
        .await;
    assert_eq!(problem["errors"][0]["field"], "municipality_id");
    let problem = app
        .post(
            "/v1/participants",
            json!({
                "municipality_id": "0301", "national_id": other, "display_name": "Per",
                "children": ["1999-01-01"],
            }),
            400,
        )
        .await;
    assert_eq!(problem["errors"][0]["field"], "children[0]");
    // Registered for real, then looked up: the view never holds the number.
    let created = app
        .post("/v1/participants", participant(json!(other)), 201)
        .await;
    let id = created["id"].as_str().unwrap();
    let shown = app.get(&format!("/v1/participants/{id}")).await;
    assert_eq!(shown["birth_date"], "2004-03-02");
    assert!(shown.get("national_id").is_none());
    // A number where an id belongs, in a REST path and in a timesheet.
    let (status, problem) = app
        .call(
            reqwest::Method::GET,
            &format!("/v1/participants/{other}"),
            None,
        )
        .await;
    assert_eq!(status, 400, "{problem}");
    let mut body = fixture.body(
        "2025-10-01",
        "2025-10-31",
        &[("2025-10-21", DayKind::PaidWork, "2")],
    );
    body.participant_id = registered.clone();
    let refused = app
        .grpc
        .submit_timesheet(fixture.signed(&body))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::InvalidArgument);
    check_status(&refused);
    // A timesheet accepted, and the participant's month computed.
    let body = fixture.body(
        "2025-10-01",
        "2025-10-31",
        &[("2025-10-21", DayKind::PaidWork, "2")],
    );
    app.grpc
        .submit_timesheet(fixture.signed(&body))
        .await
        .unwrap();
    let month = app
        .get(&format!(
            "/v1/participants/{}/months/2025-10",
            fixture.participant_id
        ))
        .await;
    assert!(month["total"].is_string());

    // The capture holds this traffic — REST requests by route template, the
    // submission's span with its participant id, in text and in JSON — and
    // the kit recognises the numbers in every form it searches for.
    let test = std::thread::current().name().unwrap().to_owned();
    let log = capture::since(mark);
    let ours: Vec<&str> = log.lines().filter(|l| l.contains(&test)).collect();
    assert!(
        ours.iter()
            .any(|l| !l.starts_with('{') && l.contains("http.route=\"/v1/participants\"")),
        "no REST span of this test was captured"
    );
    assert!(
        ours.iter()
            .any(|l| l.starts_with('{') && l.contains("\"http.route\":\"/v1/participants\"")),
        "no JSON record of this test was captured"
    );
    assert!(
        ours.iter()
            .any(|l| l.contains("submit_timesheet") && l.contains(&fixture.participant_id)),
        "no span of the accepted submission was captured"
    );
    for form in [
        registered.clone(),
        format!("{} {}", &registered[..6], &registered[6..]),
        format!("fnr:{wrong};"),
        other[1..].to_owned(),
    ] {
        assert!(capture::contains_registered_number(&form), "{form}");
    }
    capture::assert_clean("what was captured during this test", &log);
    app.stop().await;
}
