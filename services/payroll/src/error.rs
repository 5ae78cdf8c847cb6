//! The service's one error type, mapped in this module — and only here — to gRPC
//! status codes (with `google.rpc.BadRequest` field violations) and to RFC 9457
//! problem details over HTTP. Internal causes are logged, never shown.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kvp_signing::{ErrorClass, VerifyError};
use kvp_store::StoreError;
use serde::Serialize;
use tonic_types::{ErrorDetails, StatusExt};

/// One field that failed validation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldViolation {
    /// The field, as a path (`entries[2].hours`).
    pub field: String,
    /// What is wrong with it.
    pub description: String,
}

impl FieldViolation {
    /// A violation of `field`.
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            description: description.into(),
        }
    }
}

/// Everything that can go wrong in a request, by what the caller must do about it.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The request is malformed; the fields say how.
    #[error("invalid request: {}", summary(.0))]
    InvalidArgument(Vec<FieldViolation>),
    /// A referenced entity does not exist.
    #[error("{what} not found")]
    NotFound {
        /// What was looked for (never personal data).
        what: String,
    },
    /// The entity exists already (or overlaps one that does).
    #[error("{what}")]
    AlreadyExists {
        /// What exists.
        what: String,
    },
    /// The request is valid but the state does not allow it.
    #[error("{what}")]
    FailedPrecondition {
        /// Which condition failed.
        what: String,
    },
    /// A signature could not be verified or its key is unknown.
    #[error("{what}")]
    Unauthenticated {
        /// What failed.
        what: String,
    },
    /// A key or caller may not do this.
    #[error("{what}")]
    PermissionDenied {
        /// Why not.
        what: String,
    },
    /// The request is larger than the service accepts.
    #[error("the request body exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// The request did not complete in time; nothing of it was stored.
    #[error(
        "the request did not complete within {seconds} s and was abandoned; nothing was stored"
    )]
    Timeout {
        /// The limit, in seconds.
        seconds: u64,
    },
    /// A fault of ours; the cause is logged, the caller sees a generic message.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

fn summary(violations: &[FieldViolation]) -> String {
    violations
        .iter()
        .map(|v| format!("{}: {}", v.field, v.description))
        .collect::<Vec<_>>()
        .join("; ")
}

impl ServiceError {
    /// A single field violation.
    pub fn field(field: impl Into<String>, description: impl Into<String>) -> Self {
        Self::InvalidArgument(vec![FieldViolation::new(field, description)])
    }

    /// An internal fault.
    pub fn internal(cause: impl Into<anyhow::Error>) -> Self {
        Self::Internal(cause.into())
    }

    fn log_if_internal(&self) {
        if let Self::Internal(cause) = self {
            tracing::error!(error = format!("{cause:#}"), "internal error");
        }
    }
}

impl From<StoreError> for ServiceError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound { entity, id } => Self::NotFound {
                what: format!("{entity} {id}"),
            },
            StoreError::Conflict { what } => Self::AlreadyExists { what },
            StoreError::Overlap { existing } => Self::AlreadyExists {
                what: format!(
                    "the period overlaps accepted timesheet {existing}; a correction must supersede it"
                ),
            },
            StoreError::InvalidState { what } => Self::FailedPrecondition { what },
            other => Self::internal(other),
        }
    }
}

impl From<VerifyError> for ServiceError {
    fn from(error: VerifyError) -> Self {
        let what = error.to_string();
        match error.class() {
            ErrorClass::InvalidArgument => Self::field("envelope", what),
            ErrorClass::Unauthenticated => Self::Unauthenticated { what },
            ErrorClass::PermissionDenied => Self::PermissionDenied { what },
        }
    }
}

impl From<ServiceError> for tonic::Status {
    fn from(error: ServiceError) -> Self {
        error.log_if_internal();
        let message = error.to_string();
        match error {
            ServiceError::InvalidArgument(violations) => {
                let mut details = ErrorDetails::new();
                for v in &violations {
                    details.add_bad_request_violation(v.field.clone(), v.description.clone());
                }
                tonic::Status::with_error_details(tonic::Code::InvalidArgument, message, details)
            }
            ServiceError::NotFound { .. } => tonic::Status::not_found(message),
            ServiceError::AlreadyExists { .. } => tonic::Status::already_exists(message),
            ServiceError::FailedPrecondition { .. } => tonic::Status::failed_precondition(message),
            ServiceError::Unauthenticated { .. } => tonic::Status::unauthenticated(message),
            ServiceError::PermissionDenied { .. } => tonic::Status::permission_denied(message),
            ServiceError::TooLarge { .. } => tonic::Status::out_of_range(message),
            ServiceError::Timeout { .. } => tonic::Status::deadline_exceeded(message),
            ServiceError::Internal(_) => tonic::Status::internal(message),
        }
    }
}

/// RFC 9457 problem details.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem.
    #[serde(rename = "type")]
    pub kind: String,
    /// A short summary of the kind.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong in this case.
    pub detail: String,
    /// The fields at fault, for validation problems.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldViolation>,
}

impl IntoResponse for ServiceError {
    fn into_response(self) -> Response {
        self.log_if_internal();
        let detail = self.to_string();
        let (status, slug, title, errors) = match self {
            ServiceError::InvalidArgument(v) => (
                StatusCode::BAD_REQUEST,
                "invalid-request",
                "The request is invalid",
                v,
            ),
            ServiceError::NotFound { .. } => {
                (StatusCode::NOT_FOUND, "not-found", "Not found", Vec::new())
            }
            ServiceError::AlreadyExists { .. } => (
                StatusCode::CONFLICT,
                "conflict",
                "Conflicts with existing state",
                Vec::new(),
            ),
            ServiceError::FailedPrecondition { .. } => (
                StatusCode::CONFLICT,
                "failed-precondition",
                "The current state does not allow this",
                Vec::new(),
            ),
            ServiceError::Unauthenticated { .. } => (
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "Not authenticated",
                Vec::new(),
            ),
            ServiceError::PermissionDenied { .. } => (
                StatusCode::FORBIDDEN,
                "forbidden",
                "Not permitted",
                Vec::new(),
            ),
            ServiceError::TooLarge { .. } => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "too-large",
                "The request is too large",
                Vec::new(),
            ),
            ServiceError::Timeout { .. } => (
                StatusCode::SERVICE_UNAVAILABLE,
                "timeout",
                "The request took too long",
                Vec::new(),
            ),
            ServiceError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
                Vec::new(),
            ),
        };
        problem(status, slug, title, detail, errors)
    }
}

/// Builds a problem-details response.
pub fn problem(
    status: StatusCode,
    slug: &str,
    title: &str,
    detail: String,
    errors: Vec<FieldViolation>,
) -> Response {
    let body = Problem {
        kind: format!("https://kvp.example/problems/{slug}"),
        title: title.to_owned(),
        status: status.as_u16(),
        detail,
        errors,
    };
    let mut response = (status, axum::Json(body)).into_response();
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/problem+json"),
    );
    response
}

/// What serde refused, without the value refused. serde quotes the value it
/// could not take (``invalid type: integer `15019012345`, expected a
/// string``, ``unknown variant `…` ``, ``unknown field `…` ``), and whatever a
/// client sent may be an identity number, which is never put in an error.
/// The part naming what was expected comes from the schema and is kept.
pub fn without_values(error: &serde_json::Error) -> String {
    let message = error.to_string();
    if error.classify() != serde_json::error::Category::Data {
        // Syntax and end-of-input errors name a position, never a value.
        return message;
    }
    let (refused, expected) = match message.find(", expected") {
        Some(at) => message.split_at(at),
        None => (message.as_str(), ""),
    };
    if expected.is_empty() {
        // `missing field `x``, `duplicate field `x``: names from the schema.
        return message;
    }
    let mut kept = String::new();
    let mut quote = None;
    for c in refused.chars() {
        match (quote, c) {
            (None, '`' | '"') => quote = Some(c),
            (Some(open), _) if c == open => quote = None,
            (None, _) => kept.push(c),
            (Some(_), _) => {}
        }
    }
    format!("{}{expected}", kept.trim_end())
}
