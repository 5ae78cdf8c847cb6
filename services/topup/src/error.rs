//! The service's one error enum and its two mappings: to HTTP problem
//! details (RFC 9457, `application/problem+json`) and to `tonic::Status`
//! (with `google.rpc.BadRequest` field violations).
//!
//! Clients see a precise code, a fixed title and, for bad input, the fields
//! at fault; internal causes (database errors) are logged here and never
//! shown.
//!
//! The words of both answers (field violations, the problem body, the
//! `BadRequest` details) are `kvp_problem`'s, shared with the payroll
//! service; what each error means, and its problem type, is decided here.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
pub use kvp_problem::{FieldViolation, Problem};
use tonic::Code;
use uuid::Uuid;

use crate::proposal::ProposalState;
use crate::store::StoreError;

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The request is malformed; nothing was stored.
    #[error("{message}")]
    InvalidInput {
        /// What kind of input was refused, in words.
        message: String,
        /// The fields at fault.
        violations: Vec<FieldViolation>,
    },

    /// The request body is not JSON (`Content-Type` must be `application/json`).
    #[error("the request body must be application/json")]
    UnsupportedMediaType,

    /// No bearer token, or one that fails a check; the reason says which.
    #[error("{what}")]
    Unauthenticated {
        /// What is missing or wrong, in words (never the token).
        what: &'static str,
    },

    /// The caller's role may not do this, or the resource belongs to another
    /// municipality.
    #[error("{what}")]
    PermissionDenied {
        /// Why, in words (roles and municipality numbers, no personal data).
        what: String,
    },

    /// The path exists, but not with this HTTP method.
    #[error("this method is not allowed here")]
    MethodNotAllowed,

    /// The record asked for does not exist.
    #[error("{entity} {id} not found")]
    NotFound {
        /// Kind of record.
        entity: &'static str,
        /// Its id.
        id: String,
    },

    /// The proposal was decided (or superseded) already; a decision is made once.
    #[error("proposal {id} is {} already: a proposal is decided once", .state.as_str())]
    AlreadyDecided {
        /// The proposal.
        id: Uuid,
        /// Its state now.
        state: ProposalState,
    },

    /// The store failed; the cause is logged, not shown.
    #[error("storage failure")]
    Store(#[source] StoreError),
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { entity, id } => Self::NotFound { entity, id },
            StoreError::AlreadyDecided { id, state } => Self::AlreadyDecided { id, state },
            StoreError::OtherMunicipality => Self::other_municipality(),
            other => Self::Store(other),
        }
    }
}

impl ServiceError {
    /// The resource belongs to a municipality the caller does not act for.
    pub fn other_municipality() -> Self {
        Self::PermissionDenied {
            what: "this belongs to another municipality than the token's".into(),
        }
    }

    /// Bad input with its field violations.
    pub fn invalid(message: impl Into<String>, violations: Vec<FieldViolation>) -> Self {
        Self::InvalidInput {
            message: message.into(),
            violations,
        }
    }

    /// The problem type (a URI reference relative to the service), its title
    /// and its HTTP status.
    fn problem_kind(&self) -> (&'static str, &'static str, StatusCode) {
        match self {
            Self::InvalidInput { .. } => (
                "/problems/invalid-input",
                "The request is invalid",
                StatusCode::BAD_REQUEST,
            ),
            Self::UnsupportedMediaType => (
                "/problems/unsupported-media-type",
                "The request body must be JSON",
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ),
            Self::Unauthenticated { .. } => (
                "/problems/unauthenticated",
                "Authentication required",
                StatusCode::UNAUTHORIZED,
            ),
            Self::PermissionDenied { .. } => (
                "/problems/permission-denied",
                "Permission denied",
                StatusCode::FORBIDDEN,
            ),
            Self::MethodNotAllowed => (
                "/problems/method-not-allowed",
                "Method not allowed",
                StatusCode::METHOD_NOT_ALLOWED,
            ),
            Self::NotFound { .. } => ("/problems/not-found", "Not found", StatusCode::NOT_FOUND),
            Self::AlreadyDecided { .. } => (
                "/problems/already-decided",
                "The proposal is decided already",
                StatusCode::CONFLICT,
            ),
            Self::Store(e) if e.is_unavailable() => (
                "/problems/unavailable",
                "The service is unavailable",
                StatusCode::SERVICE_UNAVAILABLE,
            ),
            Self::Store(_) => (
                "/problems/internal",
                "Internal error",
                StatusCode::INTERNAL_SERVER_ERROR,
            ),
        }
    }

    /// The text a client may see.
    fn public_detail(&self) -> String {
        match self {
            Self::Store(_) => "the request could not be completed; try again later".into(),
            other => other.to_string(),
        }
    }

    fn log(&self) {
        if let Self::Store(e) = self {
            tracing::error!(error = %e, "storage failure");
        }
    }

    /// The problem details document.
    pub fn problem(&self) -> Problem {
        let (kind, title, status) = self.problem_kind();
        let problem =
            Problem::new(status, kind, title, self.public_detail()).with_reason(self.reason());
        match self {
            Self::InvalidInput { violations, .. } => problem.with_errors(violations.clone()),
            _ => problem,
        }
    }
}

impl IntoResponse for ServiceError {
    fn into_response(self) -> Response {
        self.log();
        self.problem().into_response()
    }
}

impl From<ServiceError> for tonic::Status {
    fn from(e: ServiceError) -> Self {
        e.log();
        let code = match &e {
            ServiceError::InvalidInput { .. } | ServiceError::UnsupportedMediaType => {
                Code::InvalidArgument
            }
            ServiceError::Unauthenticated { .. } => Code::Unauthenticated,
            ServiceError::PermissionDenied { .. } => Code::PermissionDenied,
            ServiceError::MethodNotAllowed => Code::Unimplemented,
            ServiceError::NotFound { .. } => Code::NotFound,
            ServiceError::AlreadyDecided { .. } => Code::FailedPrecondition,
            ServiceError::Store(s) if s.is_unavailable() => Code::Unavailable,
            ServiceError::Store(_) => Code::Internal,
        };
        let reason = e.reason();
        match e {
            ServiceError::InvalidInput {
                message,
                violations,
            } => kvp_problem::status(code, message, reason, ERROR_DOMAIN, violations),
            other => kvp_problem::status(
                code,
                other.public_detail(),
                reason,
                ERROR_DOMAIN,
                Vec::new(),
            ),
        }
    }
}

/// The `google.rpc.ErrorInfo` domain of this service's errors.
pub const ERROR_DOMAIN: &str = "topup.kvp";

impl ServiceError {
    /// The error's stable, machine-readable reason (`google.rpc.ErrorInfo`):
    /// `INVALID_FIELDS`, `UNSUPPORTED_MEDIA_TYPE`, `UNAUTHENTICATED`,
    /// `PERMISSION_DENIED`, `METHOD_NOT_ALLOWED`, `NOT_FOUND`,
    /// `ALREADY_DECIDED`, `UNAVAILABLE` or `INTERNAL`.
    pub fn reason(&self) -> &'static str {
        match self {
            ServiceError::InvalidInput { .. } => "INVALID_FIELDS",
            ServiceError::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            ServiceError::Unauthenticated { .. } => "UNAUTHENTICATED",
            ServiceError::PermissionDenied { .. } => "PERMISSION_DENIED",
            ServiceError::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            ServiceError::NotFound { .. } => "NOT_FOUND",
            ServiceError::AlreadyDecided { .. } => "ALREADY_DECIDED",
            ServiceError::Store(s) if s.is_unavailable() => "UNAVAILABLE",
            ServiceError::Store(_) => "INTERNAL",
        }
    }
}
