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
