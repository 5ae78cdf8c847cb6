//! The REST surface (axum): the household register, the caseworkers'
//! worklist of proposals, `/healthz` and `/openapi.json`.
//!
//! Handlers are thin: they read the request, call
//! [`Topup`] and shape the answer. Every error is an
//! RFC 9457 problem (`application/problem+json`), made in `error`. Each
//! request runs in a span named by its route template (never by the ids in
//! the path).

pub mod auth;
pub mod openapi;
pub mod routes;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post, put};
use serde::de::DeserializeOwned;
use tracing::Instrument;

use crate::error::{FieldViolation, ServiceError};
use crate::service::Topup;

/// The REST router over the service's operations, every route behind the
/// [`auth::guard`].
pub fn router(topup: Topup, auth: auth::Authenticator) -> Router {
    Router::new()
        .route("/healthz", get(routes::healthz))
        .route("/openapi.json", get(routes::openapi_document))
        .route(
            "/metrics",
            get(|| async { crate::metrics::RECORDER.render() }),
        )
        .route(
            "/households/{participant_id}",
            put(routes::put_household).get(routes::get_household),
        )
        .route("/proposals", get(routes::list_proposals))
        .route("/proposals/{id}", get(routes::get_proposal))
        .route("/proposals/{id}/accept", post(routes::accept_proposal))
        .route("/proposals/{id}/reject", post(routes::reject_proposal))
        .route("/pending-months", get(routes::pending_months))
        .route_layer(middleware::from_fn_with_state(auth, auth::guard))
        .route_layer(middleware::from_fn(trace))
        .fallback(routes::not_found)
        .method_not_allowed_fallback(routes::method_not_allowed)
        // Counts every request by route template, fallbacks (`unmatched`) included.
        .layer(middleware::from_fn_with_state(
            crate::metrics::REQUEST_METRICS,
            kvp_telemetry::track_http,
        ))
        .with_state(topup)
}

/// Runs a request in its `http.request` span and records the status.
async fn trace(request: Request, next: Next) -> Response {
    let span = kvp_telemetry::http_request_span(&request);
    async move {
        let response = next.run(request).await;
        tracing::Span::current().record("http.status", response.status().as_u16());
        tracing::debug!("request handled");
        response
    }
    .instrument(span)
    .await
}

/// A JSON request body whose faults are reported as field violations (the
/// path of the field at fault, not a parser's message about a column).
pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ServiceError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|mime| {
                let mime = mime.trim().to_ascii_lowercase();
                mime == "application/json" || mime.ends_with("+json")
            });
        if !json {
            return Err(ServiceError::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(request, state).await.map_err(|_| {
            ServiceError::invalid(
                "the request body cannot be read",
                vec![FieldViolation::new("body", "cannot be read")],
            )
        })?;
        let deserializer = &mut serde_json::Deserializer::from_slice(&bytes);
        serde_path_to_error::deserialize(deserializer)
            .map(JsonBody)
            .map_err(|e| {
                let mut path = e.path().to_string();
                // An unknown field's path ends in the client's key, which is
                // never echoed: name its parent.
                if let Some(serde_path_to_error::Segment::Map { key }) = e.path().iter().next_back()
                    && e.inner().to_string().starts_with("unknown field")
                {
                    path = path.strip_suffix(key.as_str()).map_or_else(
                        || ".".to_owned(),
                        |parent| match parent.trim_end_matches('.') {
                            "" => ".".to_owned(),
                            parent => parent.to_owned(),
                        },
                    );
                }
                // serde quotes what it refused; a refused value is never echoed.
                let message = kvp_problem::without_values(e.inner());
                ServiceError::invalid(
                    "the request body is malformed; nothing was stored",
                    vec![field_violation(&path, &message)],
                )
            })
    }
}

/// Names the field a deserialization error is about: serde reports a missing
/// field at its parent's path, with the name only in the message (an
/// unknown field is named by its parent's path).
fn field_violation(path: &str, message: &str) -> FieldViolation {
    let message = message
        .split_once(" at line ")
        .map_or(message, |(m, _)| m)
        .to_owned();
    let named = ["missing field `", "unknown field `"]
        .iter()
        .find_map(|prefix| message.strip_prefix(prefix))
        .and_then(|rest| rest.split_once('`'))
        .map(|(name, _)| name.to_owned());
    let field = match (path, named) {
        (".", Some(name)) => name,
        (".", None) => "body".to_owned(),
        (path, Some(name)) if path == name || path.ends_with(&format!(".{name}")) => {
            path.to_owned()
        }
        (parent, Some(name)) => format!("{parent}.{name}"),
        (path, None) => path.to_owned(),
    };
    FieldViolation::new(field, message)
}

#[cfg(test)]
mod tests {
    use super::field_violation;

    #[test]
    fn missing_and_unknown_fields_are_named_by_their_path() {
        let v = field_violation(".", "missing field `housing_cost` at line 1 column 2");
        assert_eq!(v.field, "housing_cost");
        assert_eq!(v.description, "missing field `housing_cost`");
        let v = field_violation("children[0]", "unknown field, expected `birth_date`");
        assert_eq!(v.field, "children[0]");
        let v = field_violation("children[0]", "missing field `birth_date`");
        assert_eq!(v.field, "children[0].birth_date");
        let v = field_violation(
            "children",
            "invalid type: string \"x\", expected a sequence",
        );
        assert_eq!(v.field, "children");
        let v = field_violation(".", "EOF while parsing an object at line 1 column 1");
        assert_eq!(v.field, "body");
    }
}
