//! Who may call what, with bearer tokens configured: every operation of the
//! OpenAPI document against every role, municipality scope, decisions under
//! the token's subject, and refusals that quote nothing.

use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::{
    OSLO, TestApp, Tokens, single_with_a_four_year_old, stipend_event, stipend_paid,
};

/// Trondheim's municipality number.
const TRONDHEIM: &str = "5001";

const CASEWORKER: &str = "social_assistance_caseworker";
const AUDITOR: &str = "auditor";
const ADMINISTRATOR: &str = "administrator";

/// The access policy as this test states it, independently of the service's
/// table: every documented operation and the roles it admits (empty: public).
const EXPECTED: &[(&str, &str, &[&str])] = &[
    ("get", "/healthz", &[]),
    ("get", "/openapi.json", &[]),
    ("put", "/households/{participant_id}", &[CASEWORKER]),
    (
        "get",
        "/households/{participant_id}",
        &[CASEWORKER, AUDITOR],
    ),
    ("get", "/proposals", &[CASEWORKER, AUDITOR, ADMINISTRATOR]),
    (
        "get",
        "/proposals/{id}",
        &[CASEWORKER, AUDITOR, ADMINISTRATOR],
    ),
    ("post", "/proposals/{id}/accept", &[CASEWORKER]),
    ("post", "/proposals/{id}/reject", &[CASEWORKER]),
    (
        "get",
        "/pending-months",
        &[CASEWORKER, AUDITOR, ADMINISTRATOR],
    ),
];

/// The operations of the served OpenAPI document: method, path template and
/// the roles it declares.
async fn documented_operations(app: &TestApp) -> Vec<(String, String, Vec<String>)> {
    let doc = app.calling_as(None).get("/openapi.json").await;
    assert_eq!(doc.status, 200);
    let mut operations = Vec::new();
    for (path, item) in doc.body["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let roles = operation["x-kvp-roles"]
                .as_array()
                .map(|roles| {
                    roles
                        .iter()
                        .map(|r| r.as_str().unwrap().to_owned())
                        .collect()
                })
                .unwrap_or_default();
            let public = operation["security"] == json!([]);
            assert_eq!(
                public,
                Vec::<String>::is_empty(&roles),
                "{method} {path}: public exactly when it names no role"
            );
            operations.push((method.clone(), path.clone(), roles));
        }
    }
    operations.sort();
    operations
}

/// A body the operation accepts from an allowed caller.
fn body_for(method: &str, path: &str) -> Option<Value> {
    match (method, path) {
        ("put", "/households/{participant_id}") => Some(single_with_a_four_year_old()),
        ("post", _) => Some(json!({ "reason": "checked against the norm" })),
        _ => None,
    }
}

pub async fn every_operation_admits_exactly_the_roles_of_the_policy(app: TestApp) {
    let operations = documented_operations(&app).await;
    let mut expected: Vec<_> = EXPECTED
        .iter()
        .map(|(m, p, roles)| {
            (
                (*m).to_owned(),
                (*p).to_owned(),
                roles.iter().map(|r| (*r).to_owned()).collect::<Vec<_>>(),
            )
        })
        .collect();
    expected.sort();
    assert_eq!(operations, expected, "the document's operations and roles");

    let callers = [
        (CASEWORKER, Some(OSLO)),
        (AUDITOR, None),
        (AUDITOR, Some(OSLO)),
        (ADMINISTRATOR, None),
    ];
    for (method, template, roles) in &operations {
        // Fresh ids: an admitted caller gets the operation's own answer
        // (404, 201), never 401 or 403.
        let path = template
            .replace("{participant_id}", &Uuid::now_v7().to_string())
            .replace("{id}", &Uuid::now_v7().to_string());
        let verb: Method = method.to_uppercase().parse().unwrap();
        let body = body_for(method, template);

        let anonymous = app
            .calling_as(None)
            .send(verb.clone(), &path, body.as_ref())
            .await;
        if roles.is_empty() {
            assert_eq!(anonymous.status, 200, "{method} {template} is public");
            continue;
        }
        assert_eq!(anonymous.status, 401, "{method} {template} without a token");
        assert_eq!(
            anonymous.challenge.as_deref(),
            Some("Bearer realm=\"kvp-topup\""),
            "{method} {template}"
        );
        assert_eq!(anonymous.body["reason"], "UNAUTHENTICATED");

        for (role, municipality) in callers {
            let token = Tokens::token("kari", role, municipality);
            let answer = app
                .calling_as(Some(token))
                .send(verb.clone(), &path, body.as_ref())
                .await;
            if roles.iter().any(|r| r == role) {
                assert!(
                    ![401, 403].contains(&answer.status),
                    "{role} may call {method} {template}: {} {}",
                    answer.status,
                    answer.body
                );
            } else {
                assert_eq!(
                    answer.status, 403,
                    "{role} may not call {method} {template}: {}",
                    answer.body
                );
                assert_eq!(answer.content_type, "application/problem+json");
                assert_eq!(answer.body["reason"], "PERMISSION_DENIED");
                assert!(
                    answer
                        .challenge
                        .as_deref()
                        .is_some_and(|c| c.contains("insufficient_scope")),
                    "{role} {method} {template}"
                );
            }
        }
    }
}

/// A participant paid by `municipality` for March 2024.
async fn paid_participant(app: &TestApp, municipality: &str) -> Uuid {
    let participant = Uuid::now_v7();
    let mut paid = stipend_paid(participant, "2024-03", "14000.00");
    paid.municipality_id = municipality.into();
    app.deliver(stipend_event(&paid)).await.unwrap();
    participant
}

fn ids(answer: &Value, list: &str, field: &str) -> Vec<String> {
    let mut ids: Vec<String> = answer[list]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p[field].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

pub async fn a_caseworker_reaches_only_the_municipality_of_the_token(app: TestApp) {
    let oslo = app.calling_as(Some(Tokens::token("kari", CASEWORKER, Some(OSLO))));
    let trondheim = app.calling_as(Some(Tokens::token("per", CASEWORKER, Some(TRONDHEIM))));
    let national = app.calling_as(Some(Tokens::token("revisor", AUDITOR, None)));

    let in_oslo = paid_participant(&app, OSLO).await;
    let in_trondheim = paid_participant(&app, TRONDHEIM).await;
    let waiting_in_oslo = paid_participant(&app, OSLO).await;

    // Households: a participant paid by Trondheim is Trondheim's.
    let refused = oslo
        .put(
            &format!("/households/{in_trondheim}"),
            &single_with_a_four_year_old(),
        )
        .await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert_eq!(refused.body["reason"], "PERMISSION_DENIED");
    assert_eq!(
        trondheim
            .put(
                &format!("/households/{in_trondheim}"),
                &single_with_a_four_year_old()
            )
            .await
            .status,
        201
    );
    assert_eq!(
        oslo.put(
            &format!("/households/{in_oslo}"),
            &single_with_a_four_year_old()
        )
        .await
        .status,
        201
    );
    // Nobody owns a participant without payments or household: the first
    // caseworker's municipality does from then on.
    let new = Uuid::now_v7();
    let path = format!("/households/{new}");
    assert_eq!(
        oslo.put(&path, &single_with_a_four_year_old()).await.status,
        201
    );
    assert_eq!(
        trondheim
            .put(&path, &single_with_a_four_year_old())
            .await
            .status,
        403
    );
    assert_eq!(trondheim.get(&path).await.status, 403);
    assert_eq!(oslo.get(&path).await.status, 200);
    assert_eq!(
        oslo.get(&format!("/households/{in_trondheim}"))
            .await
            .status,
        403
    );
    assert_eq!(national.get(&path).await.status, 200);

    // Proposals: each municipality lists its own; a national auditor all.
    let listed = oslo.get("/proposals").await;
    assert_eq!(listed.status, 200);
    let oslo_proposals = ids(&listed.body, "proposals", "id");
    assert_eq!(
        ids(&listed.body, "proposals", "participant_id"),
        vec![in_oslo.to_string()]
    );
    let trondheim_proposals = ids(&trondheim.get("/proposals").await.body, "proposals", "id");
    assert_eq!(trondheim_proposals.len(), 1);
    let mut everything = ids(&national.get("/proposals").await.body, "proposals", "id");
    everything.sort();
    let mut both = [oslo_proposals.clone(), trondheim_proposals.clone()].concat();
    both.sort();
    assert_eq!(everything, both);

    let theirs = &trondheim_proposals[0];
    assert_eq!(oslo.get(&format!("/proposals/{theirs}")).await.status, 403);
    let decision = json!({ "reason": "meets § 18" });
    let refused = oslo
        .post(&format!("/proposals/{theirs}/accept"), &decision)
        .await;
    assert_eq!(refused.status, 403);
    assert_eq!(
        national.get(&format!("/proposals/{theirs}")).await.body["state"],
        "PROPOSED",
        "a refused decision changes nothing"
    );
    assert_eq!(
        trondheim
            .post(&format!("/proposals/{theirs}/accept"), &decision)
            .await
            .status,
        200
    );

    // Months waiting for a household: the paying municipality's.
    let waiting = oslo.get("/pending-months").await;
    assert_eq!(
        ids(&waiting.body, "pending", "participant_id"),
        vec![waiting_in_oslo.to_string()]
    );
    assert_eq!(
        trondheim.get("/pending-months").await.body["pending"],
        json!([])
    );
}

pub async fn decisions_are_recorded_under_the_token_subject(app: TestApp) {
    let kari = app.calling_as(Some(Tokens::token("kari", CASEWORKER, Some(OSLO))));
    let participant = paid_participant(&app, OSLO).await;
    kari.put(
        &format!("/households/{participant}"),
        &single_with_a_four_year_old(),
    )
    .await;
    let proposals = kari
        .get(&format!("/proposals?participant_id={participant}"))
        .await;
    let id = proposals.body["proposals"][0]["id"].as_str().unwrap();

    let impersonating = kari
        .post(
            &format!("/proposals/{id}/reject"),
            &json!({ "reason": "savings", "decided_by": "ola" }),
        )
        .await;
    assert_eq!(impersonating.status, 400, "{}", impersonating.body);
    assert_eq!(impersonating.body["errors"][0]["field"], "decided_by");

    let accepted = kari
        .post(
            &format!("/proposals/{id}/accept"),
            &json!({ "reason": "meets § 18" }),
        )
        .await;
    assert_eq!(accepted.status, 200, "{}", accepted.body);
    assert_eq!(accepted.body["decided_by"], "kari");
    assert_eq!(accepted.body["state"], "ACCEPTED");
}

pub async fn refusals_name_no_refused_value(app: TestApp) {
    let expired = Tokens::sign(&json!({
        "iss": "https://login.test", "aud": "kvp-topup", "sub": "kari",
        "exp": jsonwebtoken::get_current_timestamp() - 3600,
        "role": CASEWORKER, "municipality": OSLO,
    }));
    let answer = app
        .calling_as(Some(expired.clone()))
        .get("/proposals")
        .await;
    assert_eq!(answer.status, 401);
    assert_eq!(answer.body["detail"], "the token has expired");
    assert!(
        answer
            .challenge
            .as_deref()
            .is_some_and(|c| c.contains("error=\"invalid_token\"")),
        "{:?}",
        answer.challenge
    );
    let king = Tokens::token("kari", "king", Some(OSLO));
    let answer = app.calling_as(Some(king)).get("/proposals").await;
    assert_eq!(answer.status, 401);
    assert!(
        answer.body["detail"]
            .as_str()
            .unwrap()
            .contains("social_assistance_caseworker, auditor or administrator"),
        "{}",
        answer.body
    );
    assert!(!answer.body.to_string().contains("king"));

    // A body's refused key and value are described, never repeated.
    let kari = app.calling_as(Some(Tokens::token("kari", CASEWORKER, Some(OSLO))));
    let mut household = single_with_a_four_year_old();
    household["13097912345"] = json!("x");
    household["adults"] = json!("15019012345");
    let answer = kari
        .put(&format!("/households/{}", Uuid::now_v7()), &household)
        .await;
    assert_eq!(answer.status, 400);
    let text = answer.body.to_string();
    assert!(
        !text.contains("15019012345") && !text.contains("13097912345"),
        "{text}"
    );
    let answer = kari.get("/proposals?limit=15019012345x").await;
    assert_eq!(answer.status, 400);
    assert!(
        !answer.body.to_string().contains("15019012345"),
        "{}",
        answer.body
    );
}
