//! SubmitTimesheet over real gRPC: acceptance with its assessment, idempotent
//! retries, and every kind of rejection leaving no trace.

use kvp_proto::kvp::payroll::v1 as pb;
use pb::DayKind;
use prost::Message;
use tonic::Code;

use kvp_system_tests::{Fixture, TestApp, sign, violations};

/// What a rejected submission must not leave behind.
async fn stored_count(app: &TestApp, fixture: &Fixture) -> (usize, i64) {
    let id = fixture.participant_id.parse().unwrap();
    let timesheets = app
        .payroll
        .store()
        .list_current_timesheets(id)
        .await
        .unwrap()
        .len();
    let backlog = app.payroll.store().outbox_backlog().await.unwrap();
    (timesheets, backlog)
}

#[tokio::test]
async fn a_signed_timesheet_is_accepted_with_its_assessment_and_a_retry_is_idempotent() {
    let mut app = TestApp::spawn().await;
    let fixture = Fixture::new(&app).await;
    let body = fixture.body(
        "2025-10-01",
        "2025-10-31",
        &[
            ("2025-10-06", DayKind::SickSelf, "7.5"),
            ("2025-10-07", DayKind::SickSelf, "7.5"),
            ("2025-10-08", DayKind::SickSelf, "7.5"),
            ("2025-10-09", DayKind::SickSelf, "7.5"),
            ("2025-10-14", DayKind::Unexcused, "3"),
            ("2025-10-20", DayKind::Leave, "7.5"),
        ],
    );
    let first = app
        .grpc
        .submit_timesheet(fixture.signed(&body))
        .await
        .unwrap()
        .into_inner();
    assert!(!first.duplicate);
    assert_eq!(first.version, 1);
    let a = first.assessment.clone().unwrap();
    let quota = a.quota.unwrap();
    assert_eq!(quota.as_of, "2025-10-31");
    assert_eq!(quota.self_cert_occurrences_left, 3);
    assert_eq!(quota.leave_hours_left, "180");
    assert_eq!(quota.leave_days_left, "24");
    assert_eq!(quota.child_sick_days_left, "10");
    // The fourth self-certified day of one occurrence is over quota (R6).
    assert_eq!(a.unexcused_entries.len(), 1);
    assert_eq!(a.unexcused_entries[0].date, "2025-10-09");
    assert_eq!(
        a.unexcused_entries[0].flag,
        pb::Flag::SelfCertQuotaExceeded as i32
    );
    let proposed: Vec<(&str, &str)> = a
        .proposed_deductions
        .iter()
        .map(|d| (d.date.as_str(), d.hours.as_str()))
        .collect();
    assert_eq!(proposed, vec![("2025-10-09", "7.5"), ("2025-10-14", "3")]);
    assert_eq!(
        a.flags,
        vec![
            pb::Flag::SelfCertQuotaExceeded as i32,
            pb::Flag::UnexcusedPendingDecision as i32
        ]
    );

    // The same payload again, now also co-signed by a provider: same answer, nothing new stored.
    let before = stored_count(&app, &fixture).await;
    let cosigned = sign(
        body.encode_to_vec(),
        &[
            ("participant-key", &fixture.participant_key),
            ("supervisor-key", &fixture.supervisor_key),
            ("provider-key", &fixture.provider_key),
        ],
    );
    let again = app
        .grpc
        .submit_timesheet(cosigned)
        .await
        .unwrap()
        .into_inner();
    assert!(again.duplicate);
    assert_eq!(again.timesheet_id, first.timesheet_id);
    assert_eq!(again.digest, first.digest);
    assert_eq!(again.assessment, first.assessment);
    // The instant read back is the one answered first, to the microsecond.
    assert_eq!(again.accepted_at, first.accepted_at);
    assert_eq!(first.accepted_at.unwrap().nanos % 1_000, 0);
    assert_eq!(stored_count(&app, &fixture).await, before);
    assert_eq!(before, (1, 1), "one timesheet and its one outbox event");
    app.stop().await;
}

#[tokio::test]
async fn tampered_unsigned_and_wrongly_signed_timesheets_are_refused_without_trace() {
    let mut app = TestApp::spawn().await;
    let fixture = Fixture::new(&app).await;
    let body = fixture.body(
        "2025-10-01",
        "2025-10-31",
        &[("2025-10-14", DayKind::Unexcused, "3")],
    );
    let before = stored_count(&app, &fixture).await;

    let mut tampered = fixture.signed(&body);
    let envelope = tampered.envelope.as_mut().unwrap();
    let mut changed = body.clone();
    changed.entries[0].hours = "0".into();
    envelope.payload = changed.encode_to_vec();
    let status = app.grpc.submit_timesheet(tampered).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");

    let only_participant = sign(
        body.encode_to_vec(),
        &[("participant-key", &fixture.participant_key)],
    );
    let status = app
        .grpc
        .submit_timesheet(only_participant)
        .await
        .unwrap_err();
    // A timesheet without all its required signatures is not authenticated.
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert!(
        status.message().contains("supervisor")
            || status.message().to_lowercase().contains("supervisor"),
        "{}",
        status.message()
    );

    // Thousands of tiny keyids: refused by the envelope's form, before any
    // key is looked up.
    let mut flood = fixture.signed(&body);
    let envelope = flood.envelope.as_mut().unwrap();
    let sig = envelope.signatures[0].sig.clone();
    envelope.signatures.extend((0..5000).map(|i| pb::Signature {
        keyid: format!("k{i}"),
        sig: sig.clone(),
    }));
    let status = app.grpc.submit_timesheet(flood).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(
        violations(&status),
        vec![(
            "envelope".to_owned(),
            "the envelope carries 5002 signatures; at most 8 are read".to_owned()
        )]
    );

    let stranger = kvp_signing::SigningKey::from_bytes(&[9; 32]);
    let unknown = sign(
        body.encode_to_vec(),
        &[
            ("participant-key", &fixture.participant_key),
            ("someone-else", &stranger),
        ],
    );
    let status = app.grpc.submit_timesheet(unknown).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");

    // The supervisor's key signing in the participant's place.
    let impostor = sign(
        body.encode_to_vec(),
        &[
            ("supervisor-key", &fixture.supervisor_key),
            ("provider-key", &fixture.provider_key),
        ],
    );
    let status = app.grpc.submit_timesheet(impostor).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");

    let revoked = app
        .rest()
        .call_as_with(
            None,
            reqwest::Method::POST,
            "/v1/signer-keys/supervisor-key/revocation",
            Some(serde_json::json!({"reason": "left the municipality"})),
            &[("x-kvp-actor", "admin-1"), ("if-match", "\"1\"")],
        )
        .await;
    assert_eq!(revoked.status, 200, "{revoked:?}");
    let status = app
        .grpc
        .submit_timesheet(fixture.signed(&body))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert!(status.message().contains("revoked"), "{}", status.message());

    assert_eq!(stored_count(&app, &fixture).await, before);
    app.stop().await;
}

#[tokio::test]
async fn impossible_content_is_refused_field_by_field() {
    let mut app = TestApp::spawn().await;
    let fixture = Fixture::new(&app).await;
    let before = stored_count(&app, &fixture).await;
    let body = fixture.body(
        "2025-10-01",
        "2025-10-31",
        &[
            ("2025-10-06", DayKind::Attended, "25"),
            ("2025-10-07", DayKind::Attended, "1.1"),
            ("2025-10-11", DayKind::Attended, "7.5"),
            ("2025-11-03", DayKind::Attended, "7.5"),
            ("2025-10-08", DayKind::Unspecified, "7.5"),
            ("2025-10-09", DayKind::PaidWork, "seven"),
        ],
    );
    let status = app
        .grpc
        .submit_timesheet(fixture.signed(&body))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let fields: Vec<String> = violations(&status).into_iter().map(|(f, _)| f).collect();
    assert_eq!(
        fields,
        vec![
            "entries[0].hours",
            "entries[1].hours",
            "entries[2].date",
            "entries[3].date",
            "entries[4].kind",
            "entries[5].hours",
        ]
    );
    let messages: Vec<String> = violations(&status).into_iter().map(|(_, m)| m).collect();
    assert_eq!(messages[1], "must be in quarter hours");
    assert_eq!(messages[2], "is not a weekday");

    // A period before the programme started.
    let early = fixture.body("2024-10-01", "2024-10-31", &[]);
    let status = app
        .grpc
        .submit_timesheet(fixture.signed(&early))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(violations(&status)[0].0, "period");
    assert_eq!(stored_count(&app, &fixture).await, before);
    app.stop().await;
}

#[tokio::test]
async fn an_overlapping_timesheet_is_refused_unless_it_supersedes() {
    let mut app = TestApp::spawn().await;
    let fixture = Fixture::new(&app).await;
    let first = fixture.body(
        "2025-10-01",
        "2025-10-31",
        &[("2025-10-14", DayKind::Unexcused, "3")],
    );
    let accepted = app
        .grpc
        .submit_timesheet(fixture.signed(&first))
        .await
        .unwrap()
        .into_inner();

    let overlapping = fixture.body("2025-10-15", "2025-11-14", &[]);
    let status = app
        .grpc
        .submit_timesheet(fixture.signed(&overlapping))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::AlreadyExists, "{status:?}");
    assert!(status.message().contains(&accepted.timesheet_id));

    let mut correction = fixture.body(
        "2025-10-01",
        "2025-10-31",
        &[("2025-10-14", DayKind::Unexcused, "1.5")],
    );
    correction.supersedes_timesheet_id = accepted.timesheet_id.clone();
    let corrected = app
        .grpc
        .submit_timesheet(fixture.signed(&correction))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(corrected.version, 2);
    assert_eq!(
        corrected.assessment.unwrap().proposed_deductions[0].hours,
        "1.5"
    );

    // The superseded timesheet cannot be superseded again.
    let mut stale = fixture.body("2025-10-01", "2025-10-31", &[]);
    stale.supersedes_timesheet_id = accepted.timesheet_id;
    let status = app
        .grpc
        .submit_timesheet(fixture.signed(&stale))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    app.stop().await;
}

#[tokio::test]
async fn a_supervisor_approves_for_their_municipality_only() {
    let mut app = TestApp::spawn().await;
    let fixture = Fixture::new(&app).await;
    let (status, _) = app
        .call(
            reqwest::Method::PUT,
            "/v1/municipalities/4601",
            Some(serde_json::json!({"name": "Bergen", "use_product_codes": true})),
        )
        .await;
    assert_eq!(status, 200);
    let bergen_supervisor = kvp_signing::SigningKey::from_bytes(&[11; 32]);
    let legacy_supervisor = kvp_signing::SigningKey::from_bytes(&[12; 32]);
    app.post(
        "/v1/signer-keys",
        serde_json::json!({
            "keyid": "bergen-supervisor", "person_id": "supervisor-46", "role": "SUPERVISOR",
            "public_key": kvp_signing::public_key_to_base64(&bergen_supervisor.verifying_key()),
            "valid_from": "2025-01-01T00:00:00Z", "municipality_id": "4601",
        }),
        201,
    )
    .await;
    // A supervisor's key without a municipality is refused at registration.
    let refused = app
        .post(
            "/v1/signer-keys",
            serde_json::json!({
                "keyid": "no-municipality", "person_id": "supervisor-0", "role": "SUPERVISOR",
                "public_key": kvp_signing::public_key_to_base64(&legacy_supervisor.verifying_key()),
                "valid_from": "2025-01-01T00:00:00Z",
            }),
            400,
        )
        .await;
    assert_eq!(
        refused["errors"][0]["field"], "municipality_id",
        "{refused}"
    );
    let body = fixture.body("2025-10-01", "2025-10-31", &[]);
    let before = stored_count(&app, &fixture).await;

    // Bergen's supervisor approving an Oslo participant's timesheet.
    let across = sign(
        body.encode_to_vec(),
        &[
            ("participant-key", &fixture.participant_key),
            ("bergen-supervisor", &bergen_supervisor),
        ],
    );
    let status = app.grpc.submit_timesheet(across).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    assert!(
        status.message().contains("another municipality"),
        "{}",
        status.message()
    );
    assert_eq!(stored_count(&app, &fixture).await, before);

    // A key from before keys had a municipality approves anywhere until it
    // is assigned one; assigned to Bergen, it no longer approves for Oslo.
    app.seed_unassigned_supervisor_key("legacy-supervisor", &legacy_supervisor)
        .await;
    let unassigned = app.get("/v1/unassigned-supervisor-keys").await;
    assert_eq!(unassigned[0]["keyid"], "legacy-supervisor", "{unassigned}");
    assert_eq!(unassigned.as_array().unwrap().len(), 1, "{unassigned}");
    let by_legacy = |body: &pb::TimesheetBody| {
        sign(
            body.encode_to_vec(),
            &[
                ("participant-key", &fixture.participant_key),
                ("legacy-supervisor", &legacy_supervisor),
            ],
        )
    };
    app.grpc.submit_timesheet(by_legacy(&body)).await.unwrap();
    let (status, assigned) = app
        .call(
            reqwest::Method::PUT,
            "/v1/signer-keys/legacy-supervisor/municipality",
            Some(serde_json::json!({"municipality_id": "4601"})),
        )
        .await;
    assert_eq!(status, 200, "{assigned}");
    assert_eq!(assigned["municipality_id"], "4601");
    assert_eq!(
        app.get("/v1/unassigned-supervisor-keys").await,
        serde_json::json!([])
    );
    let november = fixture.body("2025-11-01", "2025-11-30", &[]);
    let status = app
        .grpc
        .submit_timesheet(by_legacy(&november))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    // Assigned once: a second assignment is a conflict.
    let (status, _) = app
        .call(
            reqwest::Method::PUT,
            "/v1/signer-keys/legacy-supervisor/municipality",
            Some(serde_json::json!({"municipality_id": "0301"})),
        )
        .await;
    assert_eq!(status, 409);
    app.stop().await;
}
