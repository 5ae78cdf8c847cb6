//! The service around the API: the backend, gRPC health and reflection, the
//! OpenAPI document.

use tonic::codegen::tokio_stream::{self, StreamExt};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_reflection::pb::v1::ServerReflectionRequest;
use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

use crate::support::TestApp;

pub async fn the_backend_that_ran_is_the_one_configured(app: TestApp) {
    let health = app.get("/healthz").await;
    assert_eq!(health.status, 200);
    assert_eq!(health.body["status"], "ok");
    assert_eq!(health.body["backend"], app.expected_backend);
}

pub async fn grpc_health_and_reflection_serve_the_event_sink(app: TestApp) {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", app.grpc_addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = HealthClient::new(channel.clone());
    let status = health
        .check(HealthCheckRequest {
            service: "kvp.topup.v1.EventSinkService".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .status();
    assert_eq!(status, ServingStatus::Serving);

    let mut reflection = ServerReflectionClient::new(channel);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = reflection
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let Some(Ok(response)) = responses.next().await else {
        panic!("no reflection answer");
    };
    let Some(MessageResponse::ListServicesResponse(list)) = response.message_response else {
        panic!("not a service list");
    };
    let mut names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection",
            "kvp.topup.v1.EventSinkService",
        ]
    );
}

pub async fn the_openapi_document_describes_the_routes(app: TestApp) {
    let doc = app.get("/openapi.json").await;
    assert_eq!(doc.status, 200);
    assert_eq!(doc.body["openapi"], "3.1.0");
    let paths = doc.body["paths"].as_object().unwrap();
    for path in [
        "/healthz",
        "/households/{participant_id}",
        "/proposals",
        "/proposals/{id}",
        "/proposals/{id}/accept",
        "/proposals/{id}/reject",
        "/pending-months",
    ] {
        assert!(paths.contains_key(path), "{path} is missing");
    }
    let put = &doc.body["paths"]["/households/{participant_id}"]["put"];
    assert!(put["responses"]["400"]["content"]["application/problem+json"].is_object());
    assert!(doc.body["components"]["schemas"]["Problem"].is_object());
}
