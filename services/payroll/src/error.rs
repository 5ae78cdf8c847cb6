//! The service's one error type, mapped in this module — and only here — to gRPC
//! status codes (with `google.rpc.BadRequest` field violations) and to RFC 9457
//! problem details over HTTP. Internal causes are logged, never shown.
//!
//! The words of both answers (field violations, the problem body, the
//! `BadRequest` details) are `kvp_problem`'s, shared with the top-up service;
//! what each error means, and its problem type, is decided here.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
pub use kvp_problem::{ExistingResource, FieldViolation, Problem, without_values};
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
        /// Which condition failed, as one of [`reason`]'s stable names.
        reason: &'static str,
        /// Which condition failed, in words.
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
            StoreError::InvalidState { what } => Self::FailedPrecondition {
                reason: reason::STATE_DOES_NOT_ALLOW,
                what,
            },
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
        use tonic::Code;
        error.log_if_internal();
        let message = error.to_string();
        let reason = error.reason();
        let (code, violations) = match error {
            ServiceError::InvalidArgument(violations) => (Code::InvalidArgument, violations),
            ServiceError::NotFound { .. } => (Code::NotFound, Vec::new()),
            ServiceError::AlreadyExists { .. } | ServiceError::Duplicate { .. } => {
                (Code::AlreadyExists, Vec::new())
            }
            ServiceError::IdempotencyKeyReused => (Code::InvalidArgument, Vec::new()),
            ServiceError::IdempotencyKeyInUse { .. } => (Code::Aborted, Vec::new()),
            ServiceError::PreconditionRequired { .. }
            | ServiceError::PreconditionFailed { .. }
            | ServiceError::FailedPrecondition { .. } => (Code::FailedPrecondition, Vec::new()),
            ServiceError::Unauthenticated { .. } => (Code::Unauthenticated, Vec::new()),
            ServiceError::PermissionDenied { .. } => (Code::PermissionDenied, Vec::new()),
            ServiceError::TooLarge { .. } => (Code::OutOfRange, Vec::new()),
            ServiceError::Timeout { .. } => (Code::DeadlineExceeded, Vec::new()),
            ServiceError::Internal(_) => (Code::Internal, Vec::new()),
        };
        kvp_problem::status(code, message, reason, ERROR_DOMAIN, violations)
    }
}

/// The `google.rpc.ErrorInfo` domain of this service's errors.
pub const ERROR_DOMAIN: &str = "payroll.kvp";

/// The stable, machine-readable reasons an error carries
/// (`google.rpc.ErrorInfo.reason` over gRPC, `reason` in problem details);
/// the README lists them. A reason, once given, keeps its name and meaning.
pub mod reason {
    /// A field is missing or wrong; the field violations name them.
    pub const INVALID_FIELDS: &str = "INVALID_FIELDS";
    /// What the request names does not exist.
    pub const NOT_FOUND: &str = "NOT_FOUND";
    /// It exists already, or overlaps or conflicts with what does.
    pub const ALREADY_EXISTS: &str = "ALREADY_EXISTS";
    /// A second of a fact that exists (a retry without an idempotency key).
    pub const DUPLICATE: &str = "DUPLICATE";
    /// An idempotency key used again with another request.
    pub const IDEMPOTENCY_KEY_REUSED: &str = "IDEMPOTENCY_KEY_REUSED";
    /// An idempotency key whose request is in progress or lost its answer.
    pub const IDEMPOTENCY_KEY_IN_USE: &str = "IDEMPOTENCY_KEY_IN_USE";
    /// A change of an existing resource without `If-Match`.
    pub const IF_MATCH_REQUIRED: &str = "IF_MATCH_REQUIRED";
    /// The resource is not at the version the change names.
    pub const VERSION_MISMATCH: &str = "VERSION_MISMATCH";
    /// The month to close has not ended (the stipend is paid in arrears).
    pub const MONTH_NOT_ENDED: &str = "MONTH_NOT_ENDED";
    /// A later month of the municipality is closed already.
    pub const LATER_MONTH_CLOSED: &str = "LATER_MONTH_CLOSED";
    /// Line codes without a pay code, and the municipality did not choose
    /// the product's codes.
    pub const PAY_CODES_MISSING: &str = "PAY_CODES_MISSING";
    /// No a-melding coding is in force for the month.
    pub const A_MELDING_CODING_MISSING: &str = "A_MELDING_CODING_MISSING";
    /// The participant has no programme decision (in force on the day).
    pub const NO_PROGRAMME: &str = "NO_PROGRAMME";
    /// The month cannot be computed from the stored facts.
    pub const MONTH_NOT_COMPUTABLE: &str = "MONTH_NOT_COMPUTABLE";
    /// The timesheet named to supersede is unknown or not the current one.
    pub const TIMESHEET_NOT_CURRENT: &str = "TIMESHEET_NOT_CURRENT";
    /// The sanction procedure does not allow the step (a decision without
    /// its warning, an appeal of a decision deducting nothing or decided
    /// already, a day without the entry decided on).
    pub const SANCTION_PROCEDURE: &str = "SANCTION_PROCEDURE";
    /// The fact cannot be corrected or voided in its state.
    pub const FACT_NOT_CORRECTABLE: &str = "FACT_NOT_CORRECTABLE";
    /// Any other state that does not allow the request.
    pub const STATE_DOES_NOT_ALLOW: &str = "STATE_DOES_NOT_ALLOW";
    /// A signature is missing, unknown or does not verify; or the caller is
    /// not authenticated.
    pub const UNAUTHENTICATED: &str = "UNAUTHENTICATED";
    /// The caller, or a key, may not do this.
    pub const PERMISSION_DENIED: &str = "PERMISSION_DENIED";
    /// The request is larger than the service accepts.
    pub const TOO_LARGE: &str = "TOO_LARGE";
    /// The request did not complete in time; nothing was stored.
    pub const TIMEOUT: &str = "TIMEOUT";
    /// A fault of the service's.
    pub const INTERNAL: &str = "INTERNAL";
    /// The route is not served with the request's method (REST: 405, with
    /// `Allow`).
    pub const METHOD_NOT_ALLOWED: &str = "METHOD_NOT_ALLOWED";
}

/// The problem answered for a method a route is not served with.
pub fn method_not_allowed(allow: &str) -> Problem {
    Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        problem_type("method-not-allowed"),
        "Method not allowed",
        format!("this resource is served with {allow}"),
    )
    .with_reason(reason::METHOD_NOT_ALLOWED)
}

impl ServiceError {
    /// The error's stable, machine-readable reason (see [`reason`]).
    pub fn reason(&self) -> &'static str {
        match self {
            ServiceError::InvalidArgument(_) => reason::INVALID_FIELDS,
            ServiceError::NotFound { .. } => reason::NOT_FOUND,
            ServiceError::AlreadyExists { .. } => reason::ALREADY_EXISTS,
            ServiceError::Duplicate { .. } => reason::DUPLICATE,
            ServiceError::IdempotencyKeyReused => reason::IDEMPOTENCY_KEY_REUSED,
            ServiceError::IdempotencyKeyInUse { .. } => reason::IDEMPOTENCY_KEY_IN_USE,
            ServiceError::PreconditionRequired { .. } => reason::IF_MATCH_REQUIRED,
            ServiceError::PreconditionFailed { .. } => reason::VERSION_MISMATCH,
            ServiceError::FailedPrecondition { reason, .. } => reason,
            ServiceError::Unauthenticated { .. } => reason::UNAUTHENTICATED,
            ServiceError::PermissionDenied { .. } => reason::PERMISSION_DENIED,
            ServiceError::TooLarge { .. } => reason::TOO_LARGE,
            ServiceError::Timeout { .. } => reason::TIMEOUT,
            ServiceError::Internal(_) => reason::INTERNAL,
        }
    }
}

impl IntoResponse for ServiceError {
    fn into_response(self) -> Response {
        self.log_if_internal();
        let detail = self.to_string();
        let reason = self.reason();
        let (status, slug, title, errors) = match self {
            ServiceError::Duplicate { existing, href, .. } => {
                return Problem::new(
                    StatusCode::CONFLICT,
                    problem_type("duplicate"),
                    "Duplicates an existing record",
                    detail,
                )
                .with_existing(ExistingResource { id: existing, href })
                .with_reason(reason)
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
        Problem::new(status, problem_type(slug), title, detail)
            .with_errors(errors)
            .with_reason(reason)
            .into_response()
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
