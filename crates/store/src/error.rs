//! The one error type of the store.
//!
//! Each backend maps its named constraints to these variants at the call site,
//! so the service sees what went wrong in domain terms (a conflict, a missing
//! record, an overlap) and never has to read database error text. Messages
//! never carry personal data: no identity number, no name, no birth date.

use uuid::Uuid;

/// What can go wrong when reading or writing the store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The record the operation needs does not exist.
    #[error("{entity} {id} not found")]
    NotFound {
        /// Kind of record, e.g. `"participant"` or `"timesheet"`.
        entity: &'static str,
        /// Its identifier (never a national identity number).
        id: String,
    },

    /// The record would duplicate one that exists (a unique key is taken).
    #[error("conflict: {what}")]
    Conflict {
        /// Which uniqueness rule was hit, in words.
        what: String,
    },

    /// The record would be a second of one that exists (a retried request
    /// without an idempotency key, most likely): a child with the same birth
    /// date, another benefit for the same month and kind.
    #[error("{what}")]
    Duplicate {
        /// What exists, in words.
        what: String,
        /// The existing record's id.
        existing: Uuid,
    },

    /// A change's expectation of the stored version failed (see
    /// [`crate::Expected`]); nothing was written.
    #[error("the stored version is {current:?}")]
    VersionMismatch {
        /// The stored version; `None` when there is no record.
        current: Option<i64>,
    },

    /// An idempotency key is claimed by another request of the same caller.
    #[error("the idempotency key is in use by another request")]
    KeyInUse,

    /// The timesheet's period overlaps an accepted timesheet of the same participant.
    #[error("the period overlaps accepted timesheet {existing}")]
    Overlap {
        /// Id of the accepted timesheet that already covers part of the period.
        existing: Uuid,
    },

    /// The operation is not allowed in the record's current state
    /// (a key revoked twice, a timesheet superseded twice, …).
    #[error("invalid state: {what}")]
    InvalidState {
        /// Why the current state refuses the operation.
        what: String,
    },

    /// The record handed to the store is inconsistent in itself
    /// (an end before its start, an entry of another timesheet, …).
    #[error("invalid input: {what}")]
    InvalidInput {
        /// What is inconsistent.
        what: String,
    },

    /// A stored value cannot be read back (e.g. a decimal column that is not a decimal).
    #[error("stored data cannot be read: {what}")]
    Corrupt {
        /// Which value, in which table.
        what: String,
    },

    /// The database URL names a scheme that no backend serves.
    #[error("unsupported database URL scheme {scheme:?}: expected sqlite: or postgres:")]
    UnsupportedUrl {
        /// The scheme found (only the scheme: the rest of a URL may hold a password).
        scheme: String,
    },

    /// The directory of the SQLite database file could not be created.
    #[error("cannot create the database directory: {0}")]
    CreateDirectory(#[source] std::io::Error),

    /// Any other database failure (connection, I/O, an unexpected constraint).
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),

    /// Applying the embedded migrations failed.
    #[error("database migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
}

impl StoreError {
    pub(crate) fn not_found(entity: &'static str, id: impl ToString) -> Self {
        Self::NotFound {
            entity,
            id: id.to_string(),
        }
    }

    pub(crate) fn conflict(what: impl Into<String>) -> Self {
        Self::Conflict { what: what.into() }
    }

    pub(crate) fn invalid_state(what: impl Into<String>) -> Self {
        Self::InvalidState { what: what.into() }
    }

    pub(crate) fn invalid_input(what: impl Into<String>) -> Self {
        Self::InvalidInput { what: what.into() }
    }

    pub(crate) fn corrupt(what: impl Into<String>) -> Self {
        Self::Corrupt { what: what.into() }
    }
}
