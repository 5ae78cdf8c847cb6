//! Request bounds for the REST API: a body larger than the limit is refused
//! before it is read, and a request that takes longer than the timeout is
//! abandoned (its transaction, if any, rolls back) — both as problem details.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::header::CONTENT_LENGTH;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::config::Limits;
use crate::error::ServiceError;

/// The bounds one request is held to.
#[derive(Debug, Clone, Copy)]
pub struct RequestBounds {
    /// Largest body, in bytes.
    pub max_body_bytes: usize,
    /// Longest time to an answer.
    pub timeout: Duration,
}

impl From<&Limits> for RequestBounds {
    fn from(limits: &Limits) -> Self {
        Self {
            max_body_bytes: limits.http_max_body_bytes,
            timeout: Duration::from_millis(limits.request_timeout_ms),
        }
    }
}

/// Refuses declared oversized bodies with 413 and cuts off slow requests with
/// 503. Bodies without a declared length are bounded while they are read
/// (`DefaultBodyLimit` on the router).
pub async fn bound(
    State(bounds): State<RequestBounds>,
    mut request: Request,
    next: Next,
) -> Response {
    let declared = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > bounds.max_body_bytes as u64) {
        return ServiceError::TooLarge {
            limit: bounds.max_body_bytes,
        }
        .into_response();
    }
    // The body extractor reports the limit it was held to.
    request.extensions_mut().insert(bounds);
    match tokio::time::timeout(bounds.timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ServiceError::Timeout {
            seconds: bounds.timeout.as_secs(),
        }
        .into_response(),
    }
}
