//! The service's one error type, mapped in this module — and only here — to gRPC
//! status codes (with `google.rpc.BadRequest` field violations) and to RFC 9457
//! problem details over HTTP. Internal causes are logged, never shown.
//!
//! The words of both answers (field violations, the problem body, the
//! `BadRequest` details) are `kvp_problem`'s, shared with the top-up service;
//! what each error means, and its problem type, is decided here.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
pub use kvp_problem::{ExistingResource, FieldViolation, Problem};
use kvp_signing::{ErrorClass, VerifyError};
use kvp_store::StoreError;

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
    /// The request would add a second of a fact that exists (a retry without
    /// an idempotency key, most likely).
    #[error("{what}: {existing}")]
    Duplicate {
        /// What exists.
        what: String,
        /// Its id.
        existing: String,
        /// Where it is read.
        href: String,
    },
    /// An idempotency key used again with another request.
    #[error("the Idempotency-Key was used for another request; a new request needs a new key")]
    IdempotencyKeyReused,
    /// An idempotency key whose request is in progress, or whose answer was
    /// lost after its change was made.
    #[error("{what}")]
    IdempotencyKeyInUse {
        /// What the key's request did, as far as known.
        what: String,
    },
    /// A change of an existing resource without `If-Match`.
    #[error("{what}")]
    PreconditionRequired {
        /// What to send.
        what: String,
    },
    /// A change whose `If-Match` / `If-None-Match` does not hold.
    #[error("{what}")]
    PreconditionFailed {
        /// What is stored instead.
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
            StoreError::Duplicate { what, existing } => Self::AlreadyExists {
                what: format!("{what}: {existing}"),
            },
            StoreError::VersionMismatch { current } => Self::PreconditionFailed {
                what: format!("the stored version is {current:?}"),
            },
            StoreError::KeyInUse => Self::IdempotencyKeyInUse {
                what: "another request with this Idempotency-Key is in progress".into(),
            },
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
                kvp_problem::invalid_argument(message, violations)
            }
            ServiceError::NotFound { .. } => tonic::Status::not_found(message),
            ServiceError::AlreadyExists { .. } | ServiceError::Duplicate { .. } => {
                tonic::Status::already_exists(message)
            }
            ServiceError::IdempotencyKeyReused => tonic::Status::invalid_argument(message),
            ServiceError::IdempotencyKeyInUse { .. } => tonic::Status::aborted(message),
            ServiceError::PreconditionRequired { .. } | ServiceError::PreconditionFailed { .. } => {
                tonic::Status::failed_precondition(message)
            }
            ServiceError::FailedPrecondition { .. } => tonic::Status::failed_precondition(message),
            ServiceError::Unauthenticated { .. } => tonic::Status::unauthenticated(message),
            ServiceError::PermissionDenied { .. } => tonic::Status::permission_denied(message),
            ServiceError::TooLarge { .. } => tonic::Status::out_of_range(message),
            ServiceError::Timeout { .. } => tonic::Status::deadline_exceeded(message),
            ServiceError::Internal(_) => tonic::Status::internal(message),
        }
    }
}

impl IntoResponse for ServiceError {
    fn into_response(self) -> Response {
        self.log_if_internal();
        let detail = self.to_string();
        let (status, slug, title, errors) = match self {
            ServiceError::Duplicate { existing, href, .. } => {
                return Problem::new(
                    StatusCode::CONFLICT,
                    problem_type("duplicate"),
                    "Duplicates an existing record",
                    detail,
                )
                .with_existing(ExistingResource { id: existing, href })
                .into_response();
            }
            ServiceError::IdempotencyKeyReused => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency-key-reused",
                "The idempotency key was used for another request",
                Vec::new(),
            ),
            ServiceError::IdempotencyKeyInUse { .. } => (
                StatusCode::CONFLICT,
                "idempotency-key-in-use",
                "The idempotency key's request has no answer to give",
                Vec::new(),
            ),
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
            ServiceError::PreconditionRequired { .. } => (
                StatusCode::PRECONDITION_REQUIRED,
                "precondition-required",
                "A change needs If-Match",
                Vec::new(),
            ),
            ServiceError::PreconditionFailed { .. } => (
                StatusCode::PRECONDITION_FAILED,
                "precondition-failed",
                "The resource is not as the request expects",
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

/// Builds a problem-details response of the problem type named by `slug`.
pub fn problem(
    status: StatusCode,
    slug: &str,
    title: &str,
    detail: String,
    errors: Vec<FieldViolation>,
) -> Response {
    Problem::new(status, problem_type(slug), title, detail)
        .with_errors(errors)
        .into_response()
}

/// The URI of the problem type named by `slug`.
fn problem_type(slug: &str) -> String {
    format!("https://kvp.example/problems/{slug}")
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
