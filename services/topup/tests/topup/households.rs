//! The household register: pending months, validation, and changes.

use serde_json::json;
use uuid::Uuid;

use crate::support::{TestApp, single_with_a_four_year_old, stipend_event, stipend_paid};

pub async fn a_paid_month_waits_for_the_household_and_is_proposed_when_it_is_registered(
    app: TestApp,
) {
    let participant = Uuid::now_v7();
    assert!(
        !app.deliver(stipend_event(&stipend_paid(
            participant,
            "2024-03",
            "14000.00"
        )))
        .await
        .unwrap()
    );
    assert!(app.proposals_of(participant).await.is_empty());
    let pending = app.get("/pending-months").await;
    assert_eq!(pending.status, 200);
    assert_eq!(
        pending.body["pending"],
        json!([{
            "participant_id": participant,
            "month": "2024-03",
            "net_paid": "14000.00",
            "reason": "AWAITING_HOUSEHOLD"
        }])
    );
    let missing = app.get(&format!("/households/{participant}")).await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.content_type, "application/problem+json");

    let saved = app
        .register(participant, &single_with_a_four_year_old())
        .await;
    assert_eq!(saved["created"], true);
    let made = saved["proposals_made"].as_array().unwrap();
    assert_eq!(made.len(), 1);

    let proposal = app.proposal(made[0].as_str().unwrap()).await;
    assert_eq!(proposal["month"], "2024-03");
    assert_eq!(proposal["amount"], "6200.00");
    assert_eq!(proposal["cause"], "HOUSEHOLD_CHANGED");
    assert_eq!(proposal["state"], "PROPOSED");
    assert_eq!(app.get("/pending-months").await.body["pending"], json!([]));

    let household = app.get(&format!("/households/{participant}")).await;
    assert_eq!(household.status, 200);
    assert_eq!(household.body["adults"], "SINGLE");
    assert_eq!(
        household.body["children"],
        json!([{ "birth_date": "2019-10-01" }])
    );
    assert_eq!(household.body["housing_cost"], "9000.00");
    assert_eq!(household.body["revision"], 1);

    // A month before the first norm rates waits too, with its reason.
    app.deliver(stipend_event(&stipend_paid(
        participant,
        "2023-01",
        "14000.00",
    )))
    .await
    .unwrap();
    assert_eq!(app.proposals_of(participant).await.len(), 1);
    assert_eq!(
        app.get("/pending-months").await.body["pending"],
        json!([{
            "participant_id": participant,
            "month": "2023-01",
            "net_paid": "14000.00",
            "reason": "NO_NORM_RATES"
        }])
    );
}

pub async fn household_validation_errors_are_problem_details_naming_the_field(app: TestApp) {
    let participant = Uuid::now_v7();
    let path = format!("/households/{participant}");

    let bad = app
        .put(
            &path,
            &json!({
                "adults": "TRIPLE",
                "children": [{ "birth_date": "2019-10-01" }, { "birth_date": "2019-02-30" }],
                "housing_cost": "-5",
                "other_income": "1.005"
            }),
        )
        .await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.content_type, "application/problem+json");
    assert_eq!(bad.body["type"], "/problems/invalid-input");
    assert_eq!(bad.body["title"], "The request is invalid");
    assert_eq!(bad.body["status"], 400);
    assert!(
        bad.body["detail"]
            .as_str()
            .unwrap()
            .contains("nothing was stored")
    );
    let fields: Vec<&str> = bad.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "adults",
            "children[1].birth_date",
            "housing_cost",
            "other_income"
        ]
    );
    assert_eq!(bad.body["errors"][2]["description"], "must not be negative");

    let missing = app
        .put(&path, &json!({ "adults": "COUPLE", "other_income": "0" }))
        .await;
    assert_eq!(missing.status, 400);
    assert_eq!(missing.body["errors"][0]["field"], "housing_cost");

    let unknown = app
        .put(
            &path,
            &json!({ "adults": "COUPLE", "housing_cost": "1", "other_income": "0",
                     "children": [{ "birth_date": "2019-10-01", "name": "Ola" }] }),
        )
        .await;
    assert_eq!(unknown.status, 400);
    // The client's key is not repeated (it could be anything): its parent is named.
    assert_eq!(unknown.body["errors"][0]["field"], "children[0]");
    assert_eq!(
        unknown.body["errors"][0]["description"],
        "unknown field, expected `birth_date` or `in_upper_secondary_school`"
    );

    let number = app
        .put(
            &path,
            &json!({ "adults": "COUPLE", "housing_cost": 9000, "other_income": "0" }),
        )
        .await;
    assert_eq!(number.status, 400);
    assert_eq!(number.body["errors"][0]["field"], "housing_cost");

    let bad_id = app
        .put("/households/P-42", &single_with_a_four_year_old())
        .await;
    assert_eq!(bad_id.status, 400);
    assert_eq!(bad_id.body["errors"][0]["field"], "participant_id");

    let not_json = app
        .http
        .put(format!("{}{path}", app.base))
        .header("content-type", "text/plain")
        .body("adults=SINGLE")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status().as_u16(), 415);

    let delete = app
        .http
        .delete(format!("{}{path}", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status().as_u16(), 405);
    assert_eq!(
        delete.headers()["content-type"].to_str().unwrap(),
        "application/problem+json"
    );

    // Nothing was stored by any of these.
    assert_eq!(app.get(&path).await.status, 404);
}

pub async fn changing_the_household_supersedes_the_open_proposal_and_keeps_decided_ones(
    app: TestApp,
) {
    let participant = Uuid::now_v7();
    app.register(participant, &single_with_a_four_year_old())
        .await;
    for month in ["2024-02", "2024-03"] {
        app.deliver(stipend_event(&stipend_paid(participant, month, "14000.00")))
            .await
            .unwrap();
    }
    let before = app.proposals_of(participant).await;
    assert_eq!(before.len(), 2);
    let february = before[0]["id"].as_str().unwrap().to_owned();
    let march = before[1]["id"].as_str().unwrap().to_owned();
    let accepted = app
        .post(
            &format!("/proposals/{february}/accept"),
            &json!({ "reason": "granted as proposed" }),
        )
        .await;
    assert_eq!(accepted.status, 200);

    // The same household again changes nothing.
    let same = app
        .register(participant, &single_with_a_four_year_old())
        .await;
    assert_eq!(same["created"], false);
    assert_eq!(same["proposals_made"], json!([]));

    // Housing rises by 1 000: March's open proposal is replaced.
    let mut dearer = single_with_a_four_year_old();
    dearer["housing_cost"] = json!("10000.00");
    let saved = app.register(participant, &dearer).await;
    assert_eq!(saved["household"]["revision"], 3);
    let made = saved["proposals_made"].as_array().unwrap();
    assert_eq!(made.len(), 1);
    let replacement = made[0].as_str().unwrap();

    let old = app.proposal(&march).await;
    assert_eq!(old["state"], "SUPERSEDED");
    assert_eq!(old["superseded_by"], replacement);
    let new = app.proposal(replacement).await;
    assert_eq!(new["state"], "PROPOSED");
    assert_eq!(new["supersedes"], march.as_str());
    assert_eq!(new["month"], "2024-03");
    assert_eq!(new["amount"], "7200.00");

    // February was decided: it stays as decided.
    let feb = app.proposal(&february).await;
    assert_eq!(feb["state"], "ACCEPTED");
    assert_eq!(feb["amount"], "6200.00");

    // A superseded proposal cannot be decided.
    let late = app
        .post(
            &format!("/proposals/{march}/accept"),
            &json!({ "reason": "too late" }),
        )
        .await;
    assert_eq!(late.status, 409);
}

pub async fn typed_income_counts_as_its_kind_says_and_child_benefit_changes_nothing(app: TestApp) {
    let (plain, with_benefits) = (Uuid::now_v7(), Uuid::now_v7());
    let mut household = single_with_a_four_year_old();
    app.register(plain, &household).await;
    // A member of 18 still in upper secondary school is kept with the flag.
    let mut with_youth = household.clone();
    with_youth["children"] =
        json!([{"birth_date": "2005-08-01", "in_upper_secondary_school": true}]);
    let youth = app.register(Uuid::now_v7(), &with_youth).await;
    assert_eq!(
        youth["household"]["children"],
        json!([{"birth_date": "2005-08-01", "in_upper_secondary_school": true}])
    );
    household["income"] = json!([
        {"kind": "CHILD_BENEFIT", "net_amount": "1766.00"},
        {"kind": "HOUSING_BENEFIT", "net_amount": "1200.00", "month": "2024-03"},
    ]);
    let saved = app.register(with_benefits, &household).await;
    assert_eq!(
        saved["household"]["income"],
        json!([
            {"kind": "CHILD_BENEFIT", "net_amount": "1766.00"},
            {"kind": "HOUSING_BENEFIT", "net_amount": "1200.00", "month": "2024-03"},
        ])
    );
    for (participant, month) in [
        (plain, "2024-03"),
        (with_benefits, "2024-03"),
        (with_benefits, "2024-04"),
    ] {
        app.deliver(stipend_event(&stipend_paid(participant, month, "14000.00")))
            .await
            .unwrap();
    }
    let amount = |proposals: &[serde_json::Value], month: &str| {
        proposals
            .iter()
            .find(|p| p["month"] == month)
            .map(|p| p["amount"].clone())
            .unwrap()
    };
    let plain_proposals = app.proposals_of(plain).await;
    let benefit_proposals = app.proposals_of(with_benefits).await;
    // 7850 + 3850 + 9000 − (14000 + 500) = 6200; the housing benefit of March
    // counts in March only; the child benefit never (not since 2022-09).
    assert_eq!(amount(&plain_proposals, "2024-03"), "6200.00");
    assert_eq!(amount(&benefit_proposals, "2024-03"), "5000.00");
    assert_eq!(amount(&benefit_proposals, "2024-04"), "6200.00");

    household["income"] = json!([{"kind": "LOTTERY", "net_amount": "1.00", "month": "2024-3"}]);
    let refused = app
        .put(&format!("/households/{}", Uuid::now_v7()), &household)
        .await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    let fields: Vec<&str> = refused.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["income[0].kind", "income[0].month"]);
}
