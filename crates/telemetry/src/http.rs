//! The REST surface's request metrics: an axum middleware.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use metrics::{counter, histogram};

use crate::RequestMetricNames;

/// The method as a label: the standard ones by name, anything else `OTHER`
/// (a client chooses the method; the label set must stay bounded).
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// Axum middleware counting and timing each REST request by its route
/// template (`/proposals/{id}`, never the id), method and status, under the
/// service's [`RequestMetricNames`]; a path no route matches is `unmatched`.
///
/// Layer it after the routes (so the template is known) with
/// `axum::middleware::from_fn_with_state(NAMES, kvp_telemetry::track_http)`.
pub async fn track_http(
    State(names): State<RequestMetricNames>,
    route: Option<MatchedPath>,
    request: Request,
    next: Next,
) -> Response {
    let route = route.map_or_else(|| "unmatched".to_owned(), |r| r.as_str().to_owned());
    let method = method_label(request.method());
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    counter!(names.http_requests, "route" => route.clone(), "method" => method, "status" => status)
        .increment(1);
    histogram!(names.http_request_duration, "route" => route, "method" => method)
        .record(started.elapsed());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unusual_methods_share_one_label() {
        assert_eq!(method_label(&axum::http::Method::PATCH), "PATCH");
        let custom = axum::http::Method::from_bytes(b"PURGE").unwrap();
        assert_eq!(method_label(&custom), "OTHER");
    }
}
