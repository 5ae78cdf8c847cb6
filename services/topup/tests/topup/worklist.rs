//! The caseworkers' worklist: decisions once, reasons, filters.

use serde_json::json;
use uuid::Uuid;

use crate::support::{TestApp, dec, single_with_a_four_year_old, stipend_event, stipend_paid};

/// A participant with one open proposal for March 2024; its id.
async fn open_proposal(app: &TestApp) -> String {
    let participant = Uuid::now_v7();
    app.register(participant, &single_with_a_four_year_old())
        .await;
    app.deliver(stipend_event(&stipend_paid(
        participant,
        "2024-03",
        "14000.00",
    )))
    .await
    .unwrap();
    app.proposals_of(participant).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

pub async fn a_proposal_is_accepted_once_and_a_second_decision_is_a_conflict(app: TestApp) {
    let id = open_proposal(&app).await;
    let accepted = app
        .post(
            &format!("/proposals/{id}/accept"),
            &json!({ "reason": "meets § 18", "decided_by": "caseworker-17" }),
        )
        .await;
    assert_eq!(accepted.status, 200, "{}", accepted.body);
    assert_eq!(accepted.body["state"], "ACCEPTED");
    assert_eq!(accepted.body["decision_reason"], "meets § 18");
    assert_eq!(accepted.body["decided_by"], "caseworker-17");
    assert!(accepted.body["decided_at"].is_string());
    assert_eq!(dec(accepted.body["amount"].as_str().unwrap()), dec("6200"));

    for action in ["accept", "reject"] {
        let again = app
            .post(
                &format!("/proposals/{id}/{action}"),
                &json!({ "reason": "second thoughts" }),
            )
            .await;
        assert_eq!(again.status, 409, "{action}");
        assert_eq!(again.content_type, "application/problem+json");
        assert_eq!(again.body["type"], "/problems/already-decided");
        assert_eq!(again.body["status"], 409);
        assert!(again.body["detail"].as_str().unwrap().contains("ACCEPTED"));
    }
    let stored = app.proposal(&id).await;
    assert_eq!(stored["state"], "ACCEPTED");
    assert_eq!(stored["decision_reason"], "meets § 18");
}

pub async fn a_proposal_is_rejected_once_and_cannot_be_accepted_after(app: TestApp) {
    let id = open_proposal(&app).await;
    let rejected = app
        .post(
            &format!("/proposals/{id}/reject"),
            &json!({ "reason": "has savings above the limit" }),
        )
        .await;
    assert_eq!(rejected.status, 200);
    assert_eq!(rejected.body["state"], "REJECTED");
    assert!(rejected.body.get("decided_by").is_none());

    let accept = app
        .post(
            &format!("/proposals/{id}/accept"),
            &json!({ "reason": "changed my mind" }),
        )
        .await;
    assert_eq!(accept.status, 409);
    assert_eq!(app.proposal(&id).await["state"], "REJECTED");
}

pub async fn decisions_need_a_reason_and_an_existing_proposal(app: TestApp) {
    let id = open_proposal(&app).await;
    let garbled = app
        .post(
            &format!("/proposals/{id}/accept"),
            &json!({ "reason": "ok\u{0}", "decided_by": "kari\u{1b}[2J" }),
        )
        .await;
    assert_eq!(garbled.status, 400, "{}", garbled.body);
    let fields: Vec<&str> = garbled.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["reason", "decided_by"]);
    assert_eq!(app.proposal(&id).await["state"], "PROPOSED");

    let id = open_proposal(&app).await;
    let blank = app
        .post(
            &format!("/proposals/{id}/accept"),
            &json!({ "reason": "  " }),
        )
        .await;
    assert_eq!(blank.status, 400);
    assert_eq!(blank.body["errors"][0]["field"], "reason");
    let missing = app
        .post(&format!("/proposals/{id}/accept"), &json!({}))
        .await;
    assert_eq!(missing.status, 400);
    assert_eq!(missing.body["errors"][0]["field"], "reason");
    assert_eq!(app.proposal(&id).await["state"], "PROPOSED");

    let unknown = app
        .post(
            &format!("/proposals/{}/accept", Uuid::now_v7()),
            &json!({ "reason": "x" }),
        )
        .await;
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.content_type, "application/problem+json");
    assert_eq!(unknown.body["type"], "/problems/not-found");

    assert_eq!(
        app.get(&format!("/proposals/{}", Uuid::now_v7()))
            .await
            .status,
        404
    );
    let bad = app.get("/proposals/not-an-id").await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.body["errors"][0]["field"], "id");
}

pub async fn the_worklist_filters_by_state_and_participant(app: TestApp) {
    let first = open_proposal(&app).await;
    let second = open_proposal(&app).await;
    app.post(
        &format!("/proposals/{first}/reject"),
        &json!({ "reason": "not eligible" }),
    )
    .await;

    let ids = |body: &serde_json::Value| -> Vec<String> {
        body["proposals"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        ids(&app.get("/proposals?state=PROPOSED").await.body),
        [second]
    );
    assert_eq!(
        ids(&app.get("/proposals?state=REJECTED").await.body),
        [first]
    );
    assert_eq!(
        ids(&app.get("/proposals?state=ACCEPTED").await.body),
        Vec::<String>::new()
    );
    assert_eq!(ids(&app.get("/proposals?limit=1").await.body).len(), 1);

    let bad = app.get("/proposals?state=MAYBE&limit=0").await;
    assert_eq!(bad.status, 400);
    let fields: Vec<&str> = bad.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["state", "limit"]);
}

pub async fn a_month_without_its_years_rates_is_on_the_worklist_with_a_warning(app: TestApp) {
    // The process's recorder (once per process; every delivery sets the gauge).
    kvp_topup::metrics::install();
    let participant = Uuid::now_v7();
    app.register(participant, &single_with_a_four_year_old())
        .await;
    for month in ["2024-12", "2025-01"] {
        app.deliver(stipend_event(&stipend_paid(participant, month, "14000.00")))
            .await
            .unwrap();
    }
    let listed = app.get("/proposals?state=PROPOSED").await;
    assert_eq!(listed.status, 200);
    let warnings: Vec<(String, serde_json::Value)> = listed.body["proposals"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["participant_id"] == participant.to_string())
        .map(|p| {
            (
                p["month"].as_str().unwrap().to_owned(),
                p["warnings"].clone(),
            )
        })
        .collect();
    let stale = "no norm rates for 2025 are registered: the rates from 2024-01-01 are applied; \
                 check the state guideline rates for 2025 before deciding";
    assert_eq!(
        warnings,
        [
            ("2024-12".to_owned(), serde_json::Value::Null),
            ("2025-01".to_owned(), json!([stale])),
        ]
    );
    // The explanation says so too; the figures are those of the 2024 rates.
    let january = app.proposals_of(participant).await;
    let january = january.iter().find(|p| p["month"] == "2025-01").unwrap();
    let explained = app.proposal(january["id"].as_str().unwrap()).await;
    assert_eq!(explained["explanation"]["warnings"], json!([stale]));
    assert_eq!(explained["amount"], "6200.00");
    // Operators see it without reading proposals: the newest rates (2024)
    // are older than this year.
    let metrics = app
        .http
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.lines().any(|l| l == "kvp_topup_norm_rates_stale 1"),
        "{metrics}"
    );
}
