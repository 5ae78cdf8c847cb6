//! Retries of creating requests over real HTTP, on both backends: the
//! `Idempotency-Key` header, natural duplicates refused without one, and a
//! retry whose first answer was lost — on the network, or between the change
//! and the recording of its answer. Nothing is ever stored twice.

use serde_json::{Value, json};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};

use kvp_system_tests::{Fixture, TestApp, TestBackend};

/// A POST's answer: status, the replay header, the JSON body.
#[derive(Debug)]
struct Answer {
    status: u16,
    replayed: bool,
    content_type: String,
    body: Value,
}

async fn post(app: &TestApp, path: &str, key: Option<&str>, actor: &str, body: &Value) -> Answer {
    let mut request = app
        .client
        .post(format!("{}{path}", app.http))
        .header("x-kvp-actor", actor)
        .json(body);
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    let response = request.send().await.unwrap();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let replayed = header("idempotent-replayed").as_deref() == Some("true");
    let content_type = header("content-type").unwrap_or_default();
    Answer {
        status: response.status().as_u16(),
        replayed,
        content_type,
        body: response.json().await.unwrap(),
    }
}

/// Sends a POST through a connection that loses the answer: the request
/// reaches the service whole, the service answers, and the connection drops
/// before the answer reaches the caller. Answers the status line the caller
/// never saw.
async fn post_losing_the_answer(app: &TestApp, path: &str, key: &str, body: &Value) -> String {
    let service = app.http.trim_start_matches("http://").to_owned();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy = listener.local_addr().unwrap();
    let relay = tokio::spawn(async move {
        let (client, _) = listener.accept().await.unwrap();
        let server = TcpStream::connect(service).await.unwrap();
        let (mut from_client, to_client) = client.into_split();
        let (mut from_server, mut to_server) = server.into_split();
        let upstream = tokio::spawn(async move {
            let _ = tokio::io::copy(&mut from_client, &mut to_server).await;
        });
        let mut answer = vec![0u8; 1 << 16];
        let read = from_server.read(&mut answer).await.unwrap();
        upstream.abort();
        drop(to_client);
        String::from_utf8_lossy(&answer[..read])
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned()
    });
    let sent = app
        .client
        .post(format!("http://{proxy}{path}"))
        .header("idempotency-key", key)
        .json(body)
        .send()
        .await;
    assert!(sent.is_err(), "the answer was to be lost: {sent:?}");
    relay.await.unwrap()
}

async fn offsets(app: &TestApp, participant: &str) -> Vec<(String, String, String)> {
    let id = participant.parse().unwrap();
    app.payroll
        .store()
        .list_benefit_offsets(id)
        .await
        .unwrap()
        .into_iter()
        .map(|o| {
            (
                o.month.to_string(),
                o.kind.as_str().to_owned(),
                o.amount.to_string(),
            )
        })
        .collect()
}

async fn children(app: &TestApp, participant: &str) -> Vec<Value> {
    app.get(&format!("/v1/participants/{participant}")).await["children"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn a_retry_with_its_key_gives_the_first_answer_and_another_request_under_it_is_422() {
    for backend in TestBackend::all() {
        let app = TestApp::spawn_on(backend).await;
        let fixture = Fixture::new(&app).await;
        let participant = &fixture.participant_id;
        let path = format!("/v1/participants/{participant}/benefit-offsets");
        let body = json!({"month": "2025-03", "kind": "DAGPENGER", "amount": "1234.50"});

        let first = post(&app, &path, Some("offset-1"), "kari", &body).await;
        assert_eq!((first.status, first.replayed), (201, false), "{backend:?}");
        let again = post(&app, &path, Some("offset-1"), "kari", &body).await;
        assert_eq!((again.status, again.replayed), (201, true), "{backend:?}");
        assert_eq!(
            again.body, first.body,
            "{backend:?}: the first answer again"
        );
        assert_eq!(again.content_type, first.content_type);
        assert_eq!(
            offsets(&app, participant).await,
            [("2025-03-01".into(), "DAGPENGER".into(), "1234.50".into())],
            "{backend:?}: stored once"
        );

        // Another body, or another path, under the same key: refused whole.
        let other = json!({"month": "2025-03", "kind": "DAGPENGER", "amount": "999.00"});
        let reused = post(&app, &path, Some("offset-1"), "kari", &other).await;
        assert_eq!(reused.status, 422, "{backend:?}: {:?}", reused.body);
        assert_eq!(reused.content_type, "application/problem+json");
        assert_eq!(
            reused.body["type"],
            "https://kvp.example/problems/idempotency-key-reused"
        );
        let child = json!({"birth_date": "2023-05-01"});
        let elsewhere = post(
            &app,
            &format!("/v1/participants/{participant}/children"),
            Some("offset-1"),
            "kari",
            &child,
        )
        .await;
        assert_eq!(elsewhere.status, 422, "{backend:?}");
        assert_eq!(children(&app, participant).await.len(), 1, "{backend:?}");

        // Keys are the caller's own: another caseworker's key of the same
        // name is another key.
        let foreldrepenger =
            json!({"month": "2025-03", "kind": "FORELDREPENGER", "amount": "10.00"});
        let theirs = post(&app, &path, Some("offset-1"), "ola", &foreldrepenger).await;
        assert_eq!(
            (theirs.status, theirs.replayed),
            (201, false),
            "{backend:?}"
        );
        assert_eq!(offsets(&app, participant).await.len(), 2, "{backend:?}");

        // A key that is no key.
        let long = "k".repeat(256);
        let bad = post(&app, &path, Some(&long), "kari", &foreldrepenger).await;
        assert_eq!(bad.status, 400, "{backend:?}");
        assert_eq!(bad.body["errors"][0]["field"], "Idempotency-Key");
        app.stop().await;
    }
}

#[tokio::test]
async fn a_retry_after_a_lost_answer_never_doubles_an_amount() {
    for backend in TestBackend::all() {
        let app = TestApp::spawn_on(backend).await;
        let fixture = Fixture::new(&app).await;
        let participant = &fixture.participant_id;
        let path = format!("/v1/participants/{participant}/benefit-offsets");
        let body = json!({"month": "2025-04", "kind": "SYKEPENGER", "amount": "2500.00"});

        // Lost on the network: the service made the change and answered.
        let unseen = post_losing_the_answer(&app, &path, "lost-1", &body).await;
        assert!(unseen.starts_with("HTTP/1.1 201"), "{backend:?}: {unseen}");
        let retry = post(&app, &path, Some("lost-1"), "development-mode", &body).await;
        assert_eq!((retry.status, retry.replayed), (201, true), "{backend:?}");
        let stored = offsets(&app, participant).await;
        assert_eq!(
            stored,
            [("2025-04-01".into(), "SYKEPENGER".into(), "2500.00".into())],
            "{backend:?}"
        );
        assert_eq!(
            retry.body["id"].as_str().unwrap(),
            app.payroll
                .store()
                .list_benefit_offsets(participant.parse().unwrap())
                .await
                .unwrap()[0]
                .id
                .to_string(),
            "{backend:?}: the answer names the one record"
        );

        // A child the same way: one child more, not two.
        let child_path = format!("/v1/participants/{participant}/children");
        let child = json!({"birth_date": "2024-02-29"});
        let unseen = post_losing_the_answer(&app, &child_path, "lost-2", &child).await;
        assert!(unseen.starts_with("HTTP/1.1 201"), "{backend:?}: {unseen}");
        let retry = post(
            &app,
            &child_path,
            Some("lost-2"),
            "development-mode",
            &child,
        )
        .await;
        assert_eq!((retry.status, retry.replayed), (201, true), "{backend:?}");
        let dates: Vec<_> = children(&app, participant)
            .await
            .iter()
            .map(|c| c["birth_date"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(dates, ["2021-03-14", "2024-02-29"], "{backend:?}");

        // Lost between the change's commit and the recording of its answer
        // (a crash): the key knows the change was made, so the retry is
        // refused, naming what was changed, rather than run again.
        let body = json!({"month": "2025-05", "kind": "SYKEPENGER", "amount": "100.00"});
        let first = post(&app, &path, Some("crash-1"), "development-mode", &body).await;
        assert_eq!(first.status, 201);
        app.sql(
            "UPDATE idempotency_keys SET answer_status = NULL, answer_content_type = NULL, \
             answer_body = NULL WHERE idempotency_key = 'crash-1'",
        )
        .await;
        let retry = post(&app, &path, Some("crash-1"), "development-mode", &body).await;
        assert_eq!(retry.status, 409, "{backend:?}: {:?}", retry.body);
        assert_eq!(
            retry.body["type"],
            "https://kvp.example/problems/idempotency-key-in-use"
        );
        let detail = retry.body["detail"].as_str().unwrap();
        assert!(
            detail.contains(&format!("participant {participant}")),
            "{backend:?}: {detail}"
        );
        assert_eq!(offsets(&app, participant).await.len(), 2, "{backend:?}");
        app.stop().await;
    }
}

#[tokio::test]
async fn concurrent_requests_under_one_key_store_one_record() {
    for backend in TestBackend::all() {
        let app = TestApp::spawn_on(backend).await;
        let fixture = Fixture::new(&app).await;
        let participant = fixture.participant_id.clone();
        let path = format!("/v1/participants/{participant}/benefit-offsets");
        let body = json!({"month": "2025-06", "kind": "OTHER_LIVELIHOOD", "amount": "75.25"});
        let app = std::sync::Arc::new(app);
        let racing: Vec<_> = (0..8)
            .map(|_| {
                let (app, path, body) = (app.clone(), path.clone(), body.clone());
                tokio::spawn(async move { post(&app, &path, Some("race-1"), "kari", &body).await })
            })
            .collect();
        let mut ids = std::collections::BTreeSet::new();
        for answer in racing {
            let answer = answer.await.unwrap();
            match answer.status {
                201 => {
                    ids.insert(answer.body["id"].as_str().unwrap().to_owned());
                }
                409 => assert_eq!(
                    answer.body["type"], "https://kvp.example/problems/idempotency-key-in-use",
                    "{backend:?}"
                ),
                other => panic!("{backend:?}: {other} {:?}", answer.body),
            }
        }
        assert_eq!(
            ids.len(),
            1,
            "{backend:?}: one record, one id in every answer"
        );
        assert_eq!(
            offsets(&app, &participant).await,
            [(
                "2025-06-01".into(),
                "OTHER_LIVELIHOOD".into(),
                "75.25".into()
            )],
            "{backend:?}"
        );
        std::sync::Arc::into_inner(app).unwrap().stop().await;
    }
}

#[tokio::test]
async fn natural_duplicates_without_a_key_are_409_naming_the_record() {
    for backend in TestBackend::all() {
        let app = TestApp::spawn_on(backend).await;
        let fixture = Fixture::new(&app).await;
        let participant = &fixture.participant_id;
        let href = format!("/v1/participants/{participant}");

        // Another benefit: one per month and kind.
        let path = format!("/v1/participants/{participant}/benefit-offsets");
        let body = json!({"month": "2025-03", "kind": "DAGPENGER", "amount": "500.00"});
        let first = post(&app, &path, None, "kari", &body).await;
        assert_eq!(first.status, 201);
        let second = post(&app, &path, None, "kari", &body).await;
        assert_eq!(second.status, 409, "{backend:?}");
        assert_eq!(second.content_type, "application/problem+json");
        assert_eq!(
            second.body["type"],
            "https://kvp.example/problems/duplicate"
        );
        assert_eq!(
            second.body["existing"]["id"], first.body["id"],
            "{backend:?}"
        );
        assert_eq!(second.body["existing"]["href"], href.as_str());
        let other_kind = json!({"month": "2025-03", "kind": "SYKEPENGER", "amount": "500.00"});
        assert_eq!(
            post(&app, &path, None, "kari", &other_kind).await.status,
            201
        );
        assert_eq!(offsets(&app, participant).await.len(), 2, "{backend:?}");

        // A child born the day a registered child was: a retry, unless the
        // request says it is a twin or gives a reference that tells it apart.
        let path = format!("/v1/participants/{participant}/children");
        let registered = children(&app, participant).await[0]["id"].clone();
        let retried = post(
            &app,
            &path,
            None,
            "kari",
            &json!({"birth_date": "2021-03-14"}),
        )
        .await;
        assert_eq!(retried.status, 409, "{backend:?}");
        assert_eq!(retried.body["existing"]["id"], registered, "{backend:?}");
        assert_eq!(children(&app, participant).await.len(), 1);

        let twin = json!({"birth_date": "2021-03-14", "twin": true});
        assert_eq!(post(&app, &path, None, "kari", &twin).await.status, 201);
        let with_reference = json!({"birth_date": "2021-03-14", "reference": "BARN-3"});
        let third = post(&app, &path, None, "kari", &with_reference).await;
        assert_eq!(third.status, 201, "{backend:?}: {:?}", third.body);
        let again = post(&app, &path, None, "kari", &with_reference).await;
        assert_eq!(again.status, 409, "{backend:?}");
        let listed = children(&app, participant).await;
        let referenced = listed.iter().find(|c| c["reference"] == "BARN-3").unwrap();
        assert_eq!(
            again.body["existing"]["id"], referenced["id"],
            "{backend:?}"
        );
        assert_eq!(listed.len(), 3, "{backend:?}: {listed:?}");
        assert!(
            listed.iter().all(|c| c["birth_date"] == "2021-03-14"),
            "{backend:?}: {listed:?}"
        );
        app.stop().await;
    }
}
