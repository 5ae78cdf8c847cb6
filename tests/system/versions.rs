//! Optimistic concurrency over real HTTP, on both backends: a municipality's
//! settings carry an `ETag`, and a change names the version it was made
//! from, so two administrators never silently overwrite each other.

use serde_json::{Value, json};

use kvp_system_tests::{TestApp, TestBackend};

/// A PUT with these headers: status, `ETag`, body.
async fn put(
    app: &TestApp,
    path: &str,
    headers: &[(&str, &str)],
    body: Value,
) -> (u16, Option<String>, Value) {
    let mut request = app
        .client
        .put(format!("{}{path}", app.http))
        .header("x-kvp-actor", "admin-1")
        .json(&body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let etag = response
        .headers()
        .get("etag")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, etag, response.json().await.unwrap())
}

async fn etag_of(app: &TestApp, path: &str) -> String {
    let response = app
        .client
        .get(format!("{}{path}", app.http))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.headers()["etag"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_change_names_the_version_it_was_made_from() {
    for backend in TestBackend::all() {
        let app = TestApp::spawn_on(backend).await;
        let path = "/v1/municipalities/0301";
        let oslo = json!({"name": "Oslo", "pay_codes": {"KVP_BASE": "1101"}});

        let (status, etag, _) = put(&app, path, &[], oslo.clone()).await;
        assert_eq!(
            (status, etag.as_deref()),
            (200, Some("\"1\"")),
            "{backend:?}"
        );
        assert_eq!(etag_of(&app, path).await, "\"1\"");

        // Changing what exists without naming its version: 428, nothing changes.
        let renamed = json!({"name": "Oslo kommune"});
        let (status, _, problem) = put(&app, path, &[], renamed.clone()).await;
        assert_eq!(status, 428, "{backend:?}: {problem}");
        assert_eq!(
            problem["type"],
            "https://kvp.example/problems/precondition-required"
        );

        let (status, etag, body) = put(&app, path, &[("if-match", "\"1\"")], renamed).await;
        assert_eq!(
            (status, etag.as_deref()),
            (200, Some("\"2\"")),
            "{backend:?}"
        );
        assert_eq!(body["name"], "Oslo kommune");
        assert_eq!(
            body["pay_codes"],
            json!({}),
            "a PUT replaces the settings whole"
        );

        // A second administrator still holding version 1 comes too late.
        let stale = json!({"name": "Christiania"});
        let (status, _, problem) = put(&app, path, &[("if-match", "\"1\"")], stale.clone()).await;
        assert_eq!(status, 412, "{backend:?}: {problem}");
        assert_eq!(
            problem["type"],
            "https://kvp.example/problems/precondition-failed"
        );
        let (status, _, _) = put(&app, path, &[("if-none-match", "*")], stale).await;
        assert_eq!(status, 412, "{backend:?}: it exists");
        assert_eq!(app.get(path).await["name"], "Oslo kommune");
        assert_eq!(etag_of(&app, path).await, "\"2\"");

        // Naming a version of what does not exist, or creating only.
        let bergen = json!({"name": "Bergen"});
        let (status, _, _) = put(
            &app,
            "/v1/municipalities/4601",
            &[("if-match", "\"1\"")],
            bergen.clone(),
        )
        .await;
        assert_eq!(status, 412, "{backend:?}");
        let (status, etag, _) = put(
            &app,
            "/v1/municipalities/4601",
            &[("if-none-match", "*")],
            bergen,
        )
        .await;
        assert_eq!(
            (status, etag.as_deref()),
            (200, Some("\"1\"")),
            "{backend:?}"
        );
        app.stop().await;
    }
}

#[tokio::test]
async fn of_two_concurrent_changes_from_one_version_exactly_one_is_stored() {
    for backend in TestBackend::all() {
        let app = std::sync::Arc::new(TestApp::spawn_on(backend).await);
        let path = "/v1/municipalities/0301";
        put(&app, path, &[], json!({"name": "Oslo"})).await;
        let racing: Vec<_> = ["Oslo A", "Oslo B", "Oslo C", "Oslo D"]
            .into_iter()
            .map(|name| {
                let app = app.clone();
                tokio::spawn(async move {
                    let (status, _, _) =
                        put(&app, path, &[("if-match", "\"1\"")], json!({"name": name})).await;
                    (status, name)
                })
            })
            .collect();
        let mut stored = Vec::new();
        for answer in racing {
            let (status, name) = answer.await.unwrap();
            match status {
                200 => stored.push(name),
                412 => {}
                other => panic!("{backend:?}: {other}"),
            }
        }
        assert_eq!(stored.len(), 1, "{backend:?}: {stored:?}");
        assert_eq!(app.get(path).await["name"], stored[0], "{backend:?}");
        assert_eq!(etag_of(&app, path).await, "\"2\"");
        std::sync::Arc::into_inner(app).unwrap().stop().await;
    }
}

#[tokio::test]
async fn a_programme_end_changes_only_from_the_version_read() {
    for backend in TestBackend::all() {
        let app = TestApp::spawn_on(backend).await;
        let fixture = kvp_system_tests::Fixture::new(&app).await;
        let participant = app
            .get(&format!("/v1/participants/{}", fixture.participant_id))
            .await;
        let programme = participant["programmes"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let path = format!("/v1/programmes/{programme}");
        let end = format!("{path}/end");
        assert_eq!(etag_of(&app, &path).await, "\"1\"", "{backend:?}");
        assert_eq!(app.get(&path).await["end"], "2026-12-31");

        let (status, _, problem) = put(&app, &end, &[], json!({"end": "2026-06-30"})).await;
        assert_eq!(status, 428, "{backend:?}: {problem}");
        let (status, etag, body) = put(
            &app,
            &end,
            &[("if-match", "\"1\"")],
            json!({"end": "2026-06-30"}),
        )
        .await;
        assert_eq!(
            (status, etag.as_deref()),
            (200, Some("\"2\"")),
            "{backend:?}"
        );
        assert_eq!(body["end"], "2026-06-30");

        // A pause is a fact of its own (with its own version): the
        // programme's stays. An end set from before the last one is stale.
        app.post(
            &format!("{path}/pauses"),
            json!({"from": "2026-01-01", "to": "2026-01-31", "kind": "INTERRUPTED", "reference": "P-1"}),
            201,
        )
        .await;
        assert_eq!(etag_of(&app, &path).await, "\"2\"", "{backend:?}");
        let (status, _, problem) =
            put(&app, &end, &[("if-match", "\"1\"")], json!({"end": null})).await;
        assert_eq!(status, 412, "{backend:?}: {problem}");
        let stored = app.get(&path).await;
        assert_eq!(stored["end"], "2026-06-30", "{backend:?}");
        assert_eq!(stored["pauses"][0]["reference"], "P-1");
        app.stop().await;
    }
}

#[tokio::test]
async fn a_key_is_revoked_only_from_the_version_read() {
    for backend in TestBackend::all() {
        let app = TestApp::spawn_on(backend).await;
        // The fixture registers the supervisor's key.
        let _fixture = kvp_system_tests::Fixture::new(&app).await;
        let path = "/v1/signer-keys/supervisor-key";
        let revocation = format!("{path}/revocation");
        let revoke = |headers: &'static [(&'static str, &'static str)]| {
            let rest = app.rest();
            let revocation = revocation.clone();
            let mut all = vec![("x-kvp-actor", "admin-1")];
            all.extend_from_slice(headers);
            async move {
                rest.call_as_with(
                    None,
                    reqwest::Method::POST,
                    &revocation,
                    Some(json!({"reason": "left the municipality"})),
                    &all,
                )
                .await
            }
        };
        assert_eq!(etag_of(&app, path).await, "\"1\"", "{backend:?}");

        let reply = revoke(&[]).await;
        assert_eq!(reply.status, 428, "{backend:?}: {reply:?}");
        let reply = revoke(&[("if-match", "\"2\"")]).await;
        assert_eq!(reply.status, 412, "{backend:?}: {reply:?}");
        assert_eq!(app.get(path).await["revoked_at"], Value::Null);

        let reply = revoke(&[("if-match", "\"1\"")]).await;
        assert_eq!(reply.status, 200, "{backend:?}: {reply:?}");
        assert_eq!(reply.etag.as_deref(), Some("\"2\""));
        assert!(reply.body["revoked_at"].is_string());
        assert_eq!(etag_of(&app, path).await, "\"2\"");
        // A second administrator who read it before: stale; one who read
        // it after: revoked already.
        let reply = revoke(&[("if-match", "\"1\"")]).await;
        assert_eq!(reply.status, 412, "{backend:?}: {reply:?}");
        let reply = revoke(&[("if-match", "\"2\"")]).await;
        assert_eq!(reply.status, 409, "{backend:?}: {reply:?}");
        app.stop().await;
    }
}
