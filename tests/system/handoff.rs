//! The handoff to municipal payroll, as a payroll system meets it: employee
//! numbers (ansattnummer) registered per participant, unique in the
//! municipality, on every streamed line and exported row; a participant
//! without one still closes and the export names them. On both backends.

use kvp_system_tests::{Fixture, TestApp, TestBackend, national_id};
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test]
async fn pay_lines_and_exports_carry_the_employee_number_registered() {
    for backend in TestBackend::all() {
        employee_numbers(backend).await;
    }
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
        assert!(cells[8].contains('.') && !cells[8].contains(','), "{row}");
    }
    let (_, comma) = file("?decimal=comma").await;
    for row in comma.lines().skip(1) {
        let amount = row.split(';').nth(8).unwrap();
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
    let reply = app
        .rest()
        .call_as_with(
            None,
            Method::PUT,
            "/v1/municipalities/0301",
            Some(json!({"name": "Oslo", "pay_codes": {"KVP_BASE": "=1101"}})),
            &[("x-kvp-actor", "admin-1"), ("if-match", "*")],
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
