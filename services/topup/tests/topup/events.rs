//! Events delivered over gRPC: proposals, the floor, the inbox's
//! deduplication, malformed events and forward compatibility.

use kvp_proto::event_types;
use kvp_proto::kvp::events::v1::PeriodClosed;
use prost::Message;
use serde_json::json;
use tonic::Code;
use tonic_types::StatusExt;
use uuid::Uuid;

use crate::support::{
    TestApp, cloud_event, single_with_a_four_year_old, stipend_event, stipend_paid,
};

/// The field violations of a status, as (field, description) pairs.
fn violations(status: &tonic::Status) -> Vec<(String, String)> {
    status
        .get_error_details()
        .bad_request()
        .expect("a BadRequest detail")
        .field_violations
        .iter()
        .map(|v| (v.field.clone(), v.description.clone()))
        .collect()
}

pub async fn a_stipend_paid_event_for_a_registered_household_makes_an_exact_proposal(app: TestApp) {
    let participant = Uuid::now_v7();
    let saved = app
        .register(participant, &single_with_a_four_year_old())
        .await;
    assert_eq!(saved["created"], true);
    assert_eq!(saved["proposals_made"], json!([]));

    let duplicate = app
        .deliver(stipend_event(&stipend_paid(
            participant,
            "2024-03",
            "14000.00",
        )))
        .await
        .unwrap();
    assert!(!duplicate);

    let open = app.get("/proposals?state=PROPOSED").await;
    assert_eq!(open.status, 200);
    let listed: Vec<_> = open.body["proposals"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["participant_id"] == participant.to_string())
        .collect();
    assert_eq!(listed.len(), 1);
    // 7 850 + 3 850 + 9 000 − (14 000 + 500)
    assert_eq!(listed[0]["amount"], "6200.00");
    assert_eq!(listed[0]["month"], "2024-03");
    assert_eq!(listed[0]["state"], "PROPOSED");
    assert_eq!(listed[0]["cause"], "STIPEND_PAID");
    assert!(listed[0].get("explanation").is_none(), "lists leave it out");

    let proposal = app.proposal(listed[0]["id"].as_str().unwrap()).await;
    let e = &proposal["explanation"];
    let lines: Vec<(String, String)> = e["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["code"].as_str().unwrap().to_owned(),
                l["amount"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            ("NORM_SINGLE_ADULT", "7850.00"),
            ("NORM_CHILD0_TO5", "3850.00"),
            ("HOUSING_COST", "9000.00"),
            ("NET_STIPEND", "-14000.00"),
            ("OTHER_INCOME", "-500.00"),
        ]
        .map(|(c, a)| (c.to_owned(), a.to_owned()))
    );
    assert_eq!(e["lines"][1]["child"], 1);
    assert_eq!(e["lines"][1]["age"], 4);
    assert_eq!(e["age_counted_on"], "2024-03-01");
    assert_eq!(e["norm_rates_from"], "2024-01-01");
    assert_eq!(e["norm_total"], "11700.00");
    assert_eq!(e["needs_total"], "20700.00");
    assert_eq!(e["income_total"], "14500.00");
    assert_eq!(e["shortfall"], "6200.00");
    assert_eq!(e["floored_at_zero"], false);
    assert_eq!(e["amount"], "6200.00");
    assert!(e["norm_source"].as_str().unwrap().contains("2024"));
}

pub async fn income_above_the_norm_proposes_zero(app: TestApp) {
    let participant = Uuid::now_v7();
    app.register(
        participant,
        &json!({ "adults": "SHARING", "housing_cost": "3000", "other_income": "0" }),
    )
    .await;
    app.deliver(stipend_event(&stipend_paid(
        participant,
        "2024-05",
        "16000.50",
    )))
    .await
    .unwrap();

    let proposals = app.proposals_of(participant).await;
    assert_eq!(proposals.len(), 1);
    assert_eq!(proposals[0]["amount"], "0.00");
    let e = &app.proposal(proposals[0]["id"].as_str().unwrap()).await["explanation"];
    // 6 600 + 3 000 − 16 000.50
    assert_eq!(e["shortfall"], "-6400.50");
    assert_eq!(e["floored_at_zero"], true);
    assert_eq!(e["amount"], "0.00");
    // Recorded, but nothing to decide: not on the worklist, and no decision
    // is taken on it.
    assert_eq!(proposals[0]["state"], "NO_SHORTFALL");
    let worklist = app.get("/proposals?state=PROPOSED").await;
    assert!(
        worklist.body["proposals"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["participant_id"] != participant.to_string()),
        "{}",
        worklist.body
    );
    let id = proposals[0]["id"].as_str().unwrap();
    let accept = app
        .post(
            &format!("/proposals/{id}/accept"),
            &json!({"reason": "nothing to grant"}),
        )
        .await;
    assert_eq!(accept.status, 409, "{}", accept.body);

    // A higher housing cost later makes a shortfall: the month's figures are
    // replaced, and now there is a decision to take.
    app.register(
        participant,
        &json!({ "adults": "SHARING", "housing_cost": "12000", "other_income": "0" }),
    )
    .await;
    let proposals = app.proposals_of(participant).await;
    let states: Vec<(&str, &str)> = proposals
        .iter()
        .map(|p| (p["state"].as_str().unwrap(), p["amount"].as_str().unwrap()))
        .collect();
    // 6 600 + 12 000 − 16 000.50
    assert_eq!(states, [("SUPERSEDED", "0.00"), ("PROPOSED", "2599.50")]);
}

pub async fn the_same_event_delivered_twice_is_applied_once(app: TestApp) {
    let participant = Uuid::now_v7();
    app.register(participant, &single_with_a_four_year_old())
        .await;
    let event = stipend_event(&stipend_paid(participant, "2024-03", "14000.00"));

    assert!(!app.deliver(event.clone()).await.unwrap());
    assert!(
        app.deliver(event.clone()).await.unwrap(),
        "the second is a duplicate"
    );
    assert!(app.deliver(event).await.unwrap(), "and so is the third");

    let proposals = app.proposals_of(participant).await;
    assert_eq!(proposals.len(), 1, "applied once");
    assert_eq!(proposals[0]["amount"], "6200.00");
    assert_eq!(proposals[0]["state"], "PROPOSED");
}

pub async fn concurrent_deliveries_of_one_event_apply_it_once(app: TestApp) {
    let participant = Uuid::now_v7();
    app.register(participant, &single_with_a_four_year_old())
        .await;
    let event = stipend_event(&stipend_paid(participant, "2024-03", "14000.00"));

    let deliveries: Vec<_> = (0..8)
        .map(|_| {
            let mut sink = app.sink.clone();
            let event = event.clone();
            tokio::spawn(async move {
                sink.deliver(kvp_proto::kvp::topup::v1::DeliverRequest { event: Some(event) })
                    .await
                    .map(|r| r.into_inner().duplicate)
            })
        })
        .collect();
    let mut firsts = 0;
    for delivery in deliveries {
        if !delivery.await.unwrap().unwrap() {
            firsts += 1;
        }
    }
    assert_eq!(firsts, 1, "exactly one delivery applies the event");
    assert_eq!(app.proposals_of(participant).await.len(), 1);
}

pub async fn a_malformed_payload_is_refused_with_a_field_violation_and_stores_nothing(
    app: TestApp,
) {
    let participant = Uuid::now_v7();
    app.register(participant, &single_with_a_four_year_old())
        .await;
    let mut paid = stipend_paid(participant, "2024-03", "fourteen thousand");
    let mut event = stipend_event(&paid);

    let status = app.deliver(event.clone()).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let found = violations(&status);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "event.proto_data.net_paid");
    assert!(found[0].1.contains("decimal"), "{found:?}");
    assert!(app.proposals_of(participant).await.is_empty());

    // A payload that is not a StipendPaid at all.
    let mut garbage = event.clone();
    garbage.data = Some(kvp_proto::kvp::events::v1::cloud_event::Data::ProtoData(
        prost_types::Any {
            type_url: "type.googleapis.com/kvp.events.v1.StipendPaid".into(),
            value: vec![0xFF, 0xFF, 0xFF],
        },
    ));
    let status = app.deliver(garbage).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(violations(&status)[0].0, "event.proto_data.value");

    // Nothing was stored: the corrected event under the same id is new.
    paid.net_paid = "14000.00".into();
    event.data = stipend_event(&paid).data;
    assert!(!app.deliver(event).await.unwrap());
    let proposals = app.proposals_of(participant).await;
    assert_eq!(proposals.len(), 1);
    assert_eq!(proposals[0]["amount"], "6200.00");
}

pub async fn a_malformed_envelope_names_its_fields(app: TestApp) {
    let participant = Uuid::now_v7();
    let mut event = stipend_event(&stipend_paid(participant, "2024-03", "14000.00"));
    event.id.clear();
    event.source.clear();
    event.spec_version = "0.3".into();

    let status = app.deliver(event).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let fields: Vec<String> = violations(&status).into_iter().map(|(f, _)| f).collect();
    assert_eq!(fields, ["event.id", "event.source", "event.spec_version"]);

    let missing = app
        .sink
        .clone()
        .deliver(kvp_proto::kvp::topup::v1::DeliverRequest { event: None })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::InvalidArgument);
    assert_eq!(violations(&missing)[0].0, "event");

    let mut wrong_month = stipend_paid(participant, "2024-03", "14000.00");
    wrong_month.month = "2024-3".into();
    wrong_month.participant_id = "not-a-uuid".into();
    let status = app.deliver(stipend_event(&wrong_month)).await.unwrap_err();
    let fields: Vec<String> = violations(&status).into_iter().map(|(f, _)| f).collect();
    assert_eq!(
        fields,
        ["event.proto_data.participant_id", "event.proto_data.month"]
    );
    let pending = app.get("/pending-months").await;
    assert_eq!(pending.body["pending"], json!([]));

    // NUL cannot be stored by PostgreSQL: refused, never retried for ever;
    // the municipality scopes who sees the proposal, so it must be one.
    let mut paid = stipend_paid(participant, "2024-03", "14000.00");
    paid.municipality_id = "Oslo".into();
    let mut event = stipend_event(&paid);
    event.source = "/kvp/payroll/0301\u{0}".into();
    event.attributes.insert(
        "subject".into(),
        kvp_proto::kvp::events::v1::CloudEventAttributeValue {
            attr: Some(
                kvp_proto::kvp::events::v1::cloud_event_attribute_value::Attr::CeString(
                    "run\u{7}".into(),
                ),
            ),
        },
    );
    let status = app.deliver(event).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let control = "must not contain control characters but tab and line breaks";
    assert_eq!(
        violations(&status),
        vec![
            ("event.source".to_owned(), control.to_owned()),
            ("event.subject".to_owned(), control.to_owned()),
            (
                "event.proto_data.municipality_id".to_owned(),
                "must be a four-digit municipality number".to_owned()
            ),
        ]
    );
}

pub async fn unknown_and_unused_event_types_are_stored_and_acknowledged(app: TestApp) {
    // A type this version has never heard of, with a payload it cannot read.
    let mut future = cloud_event(
        &Uuid::now_v7().to_string(),
        "no.kvp.payroll.something.new.v7",
        "SomethingNew",
        vec![1, 2, 3],
    );
    assert!(!app.deliver(future.clone()).await.unwrap());
    assert!(
        app.deliver(future.clone()).await.unwrap(),
        "stored: a duplicate now"
    );
    future.data = Some(kvp_proto::kvp::events::v1::cloud_event::Data::TextData(
        "{}".into(),
    ));
    assert!(app.deliver(future).await.unwrap(), "the key is source + id");

    // A known type this service does not use.
    let closed = PeriodClosed {
        run_id: Uuid::now_v7().to_string(),
        municipality_id: "0301".into(),
        month: "2024-03".into(),
        participant_count: 1,
        line_count: 2,
        total_amount: "18000.00".into(),
        closed_at: None,
    };
    let event = cloud_event(
        &Uuid::now_v7().to_string(),
        event_types::PERIOD_CLOSED,
        "PeriodClosed",
        closed.encode_to_vec(),
    );
    assert!(!app.deliver(event.clone()).await.unwrap());
    assert!(app.deliver(event).await.unwrap());
    let all = app.get("/proposals").await;
    assert_eq!(all.body["proposals"], json!([]));
}
