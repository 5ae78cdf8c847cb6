//! Oversized messages and slow clients are bounded: a gRPC message over the
//! limit is refused before it is decoded, a REST body over the limit gets 413
//! whether its length is declared or not, a request that stalls past the
//! request timeout gets 503 with nothing stored, and a connection on which
//! the client sends nothing is closed.

use std::time::Duration;

use kvp_system_tests::{Fixture, TestApp, sign};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The HTTP response on a raw connection: status and JSON body (the service
/// closes the connection or the body is complete).
async fn response(stream: &mut TcpStream) -> (u16, Value) {
    let mut raw = Vec::new();
    let mut buffer = [0_u8; 4096];
    loop {
        let n = stream.read(&mut buffer).await.unwrap();
        if n == 0 {
            break;
        }
        raw.extend_from_slice(&buffer[..n]);
        let text = String::from_utf8_lossy(&raw);
        if let Some((_, body)) = text.split_once("\r\n\r\n")
            && serde_json::from_str::<Value>(body).is_ok()
        {
            break;
        }
    }
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/problem+json"),
        "{head}"
    );
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, serde_json::from_str(body).unwrap())
}

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.http.trim_start_matches("http://"))
        .await
        .unwrap()
}

#[tokio::test]
async fn an_oversized_grpc_message_is_refused_before_it_is_read() {
    let mut app = TestApp::spawn_configured(|c| c.limits.grpc_max_message_bytes = 64 * 1024).await;
    let fixture = Fixture::new(&app).await;
    let mut body = fixture.body("2025-10-01", "2025-10-31", &[]);
    body.client_reference = "x".repeat(100 * 1024);
    let signed = sign(
        prost::Message::encode_to_vec(&body),
        &[("participant-key", &fixture.participant_key)],
    );
    let status = app.grpc.submit_timesheet(signed).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::OutOfRange, "{status:?}");
    assert!(status.message().contains("65536"), "{}", status.message());

    // A timesheet of ordinary size still goes through on the same connection.
    let accepted = app
        .grpc
        .submit_timesheet(fixture.signed(&fixture.body("2025-10-01", "2025-10-31", &[])))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(accepted.version, 1);
    let timesheets = app
        .get(&format!(
            "/v1/participants/{}/timesheets",
            fixture.participant_id
        ))
        .await;
    assert_eq!(timesheets.as_array().unwrap().len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn an_oversized_rest_body_gets_413_declared_or_not() {
    let app = TestApp::spawn_configured(|c| c.limits.http_max_body_bytes = 1024).await;
    let big = format!(
        "{{\"municipality_id\":\"0301\",\"display_name\":\"{}\"}}",
        "x".repeat(4096)
    );

    // Declared with Content-Length: refused before the body is read.
    let response_of_declared = app
        .client
        .post(format!("{}/v1/participants", app.http))
        .header("content-type", "application/json")
        .body(big.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response_of_declared.status().as_u16(), 413);
    let problem: Value = response_of_declared.json().await.unwrap();
    assert_eq!(problem["type"], "https://kvp.example/problems/too-large");
    assert_eq!(
        problem["detail"],
        "the request body exceeds the limit of 1024 bytes"
    );

    // Chunked, so the length is only known while reading: the same answer.
    let mut stream = connect(&app).await;
    let head = "POST /v1/participants HTTP/1.1\r\nhost: kvp\r\ncontent-type: application/json\r\n\
                transfer-encoding: chunked\r\nconnection: close\r\n\r\n";
    stream.write_all(head.as_bytes()).await.unwrap();
    for chunk in big.as_bytes().chunks(512) {
        let framed = format!(
            "{:x}\r\n{}\r\n",
            chunk.len(),
            String::from_utf8_lossy(chunk)
        );
        if stream.write_all(framed.as_bytes()).await.is_err() {
            break; // the service may answer and close before the end
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n").await;
    let (status, problem) = response(&mut stream).await;
    assert_eq!(status, 413);
    assert_eq!(
        problem["detail"],
        "the request body exceeds the limit of 1024 bytes"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_stalled_request_is_cut_off_with_a_problem() {
    let app = TestApp::spawn_configured(|c| {
        c.limits.request_timeout_ms = 500;
        c.limits.idle_timeout_ms = 30_000;
    })
    .await;
    let (status, _) = app
        .call(
            reqwest::Method::PUT,
            "/v1/municipalities/0301",
            Some(serde_json::json!({"name": "Oslo", "use_product_codes": true})),
        )
        .await;
    assert_eq!(status, 200);

    // Headers promise 200 bytes; 20 arrive, then nothing.
    let mut stream = connect(&app).await;
    let body = r#"{"municipality_id":"#;
    let head = format!(
        "POST /v1/participants HTTP/1.1\r\nhost: kvp\r\ncontent-type: application/json\r\n\
         content-length: 200\r\n\r\n{body}"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let (status, problem) = response(&mut stream).await;
    assert_eq!(status, 503);
    assert_eq!(problem["type"], "https://kvp.example/problems/timeout");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("nothing was stored"),
        "{problem}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_connection_on_which_nothing_arrives_is_closed() {
    let app = TestApp::spawn_configured(|c| c.limits.idle_timeout_ms = 300).await;
    // Half a request line, then silence.
    let mut stream = connect(&app).await;
    stream.write_all(b"GET /healthz HT").await.unwrap();
    let mut buffer = [0_u8; 256];
    let closed = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buffer))
        .await
        .expect("the service closes a stalled connection");
    // Closed (0 bytes or reset), with no response to the partial request.
    assert!(matches!(closed, Ok(0) | Err(_)), "{closed:?}");

    // A client that speaks promptly is served.
    let ok = app
        .client
        .get(format!("{}/healthz", app.http))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status().as_u16(), 200);
    app.stop().await;
}
