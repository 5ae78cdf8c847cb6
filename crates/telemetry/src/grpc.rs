//! The gRPC surface's request metrics: a tower layer on the tonic server.

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use metrics::{counter, histogram};

use crate::RequestMetricNames;

/// The canonical name of a gRPC status code (as in the gRPC specification).
pub fn grpc_code_name(code: tonic::Code) -> &'static str {
    use tonic::Code;
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// The full paths (`/package.Service/Method`) a server answers, so that a
/// client's made-up path cannot mint labels.
#[derive(Debug, Clone, Default)]
pub struct GrpcMethods {
    paths: HashSet<String>,
}

impl GrpcMethods {
    /// Every method of every service in these encoded
    /// `FileDescriptorSet`s; a set that does not decode is skipped.
    pub fn from_descriptor_sets(sets: &[&[u8]]) -> Self {
        use prost::Message;
        let mut paths = HashSet::new();
        for set in sets {
            let Ok(set) = prost_types::FileDescriptorSet::decode(*set) else {
                continue;
            };
            for file in set.file {
                let package = file.package.unwrap_or_default();
                for service in file.service {
                    let service_name = service.name.unwrap_or_default();
                    for method in service.method {
                        paths.insert(format!(
                            "/{package}.{service_name}/{}",
                            method.name.unwrap_or_default()
                        ));
                    }
                }
            }
        }
        Self { paths }
    }

    /// These methods and server reflection's (`v1` and `v1alpha`).
    #[must_use]
    pub fn with_reflection(mut self) -> Self {
        for version in ["v1", "v1alpha"] {
            self.paths.insert(format!(
                "/grpc.reflection.{version}.ServerReflection/ServerReflectionInfo"
            ));
        }
        self
    }

    /// The `method` label of a gRPC path: its last segment when the path is
    /// one of these, else `unknown`.
    pub fn label(&self, path: &str) -> String {
        if self.paths.contains(path) {
            path.rsplit('/').next().unwrap_or("unknown").to_owned()
        } else {
            "unknown".to_owned()
        }
    }
}

/// The `code` label of a gRPC response: the `grpc-status` response header
/// when present, else `OK`.
///
/// tonic sends an error returned by a handler before any message as a
/// trailers-only response, with `grpc-status` in the headers — so every
/// rejection is seen here. A successful call's status comes in the trailers,
/// after the body; it is counted as `OK` when the headers go out. The one
/// case this misreads is a stream that fails after its first message: it is
/// counted `OK`.
fn grpc_code_label(headers: &axum::http::HeaderMap) -> &'static str {
    let code = headers
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i32>().ok())
        .map_or(tonic::Code::Ok, tonic::Code::from_i32);
    grpc_code_name(code)
}

/// A tower layer on the tonic server counting and timing every gRPC request
/// (health and reflection included) by method and status code, under the
/// service's [`RequestMetricNames`].
#[derive(Debug, Clone, Copy)]
pub struct GrpcMetricsLayer {
    names: RequestMetricNames,
    methods: &'static GrpcMethods,
}

impl GrpcMetricsLayer {
    /// A layer recording under `names`, labelling by `methods` (the paths the
    /// server answers; any other is `unknown`).
    pub fn new(names: RequestMetricNames, methods: &'static GrpcMethods) -> Self {
        Self { names, methods }
    }
}

impl<S> tower::Layer<S> for GrpcMetricsLayer {
    type Service = GrpcMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcMetrics {
            inner,
            layer: *self,
        }
    }
}

/// The service made by [`GrpcMetricsLayer`].
#[derive(Debug, Clone)]
pub struct GrpcMetrics<S> {
    inner: S,
    layer: GrpcMetricsLayer,
}

impl<S, B, R> tower::Service<axum::http::Request<B>> for GrpcMetrics<S>
where
    S: tower::Service<axum::http::Request<B>, Response = axum::http::Response<R>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: axum::http::Request<B>) -> Self::Future {
        let names = self.layer.names;
        let method = self.layer.methods.label(request.uri().path());
        let started = Instant::now();
        let response = self.inner.call(request);
        Box::pin(async move {
            let response = response.await;
            // A failure below tonic's handlers (no response at all): UNKNOWN.
            let code = response
                .as_ref()
                .map_or("UNKNOWN", |r| grpc_code_label(r.headers()));
            counter!(names.grpc_requests, "method" => method.clone(), "code" => code).increment(1);
            histogram!(names.grpc_request_duration, "method" => method).record(started.elapsed());
            response
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_are_labelled_only_when_served() {
        let methods = GrpcMethods::from_descriptor_sets(&[tonic_health::pb::FILE_DESCRIPTOR_SET]);
        assert_eq!(methods.label("/grpc.health.v1.Health/Check"), "Check");
        assert_eq!(methods.label("/grpc.health.v1.Health/Watch"), "Watch");
        let reflection = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo";
        assert_eq!(methods.label(reflection), "unknown");
        let methods = methods.with_reflection();
        assert_eq!(methods.label(reflection), "ServerReflectionInfo");
        assert_eq!(methods.label("/grpc.health.v1.Health/made-up"), "unknown");
        assert_eq!(methods.label("Check"), "unknown");
    }

    #[test]
    fn undecodable_descriptor_sets_are_skipped() {
        let methods = GrpcMethods::from_descriptor_sets(&[
            b"\xff\xff not a descriptor set",
            tonic_health::pb::FILE_DESCRIPTOR_SET,
        ]);
        assert_eq!(methods.label("/grpc.health.v1.Health/Check"), "Check");
    }

    #[test]
    fn the_grpc_code_comes_from_the_header_else_ok() {
        use axum::http::HeaderValue;
        let mut headers = axum::http::HeaderMap::new();
        assert_eq!(grpc_code_label(&headers), "OK");
        headers.insert("grpc-status", HeaderValue::from_static("16"));
        assert_eq!(grpc_code_label(&headers), "UNAUTHENTICATED");
        headers.insert("grpc-status", HeaderValue::from_static("3"));
        assert_eq!(grpc_code_label(&headers), "INVALID_ARGUMENT");
    }
}
