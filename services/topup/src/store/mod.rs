//! The top-up service's own database: the event inbox, the household
//! register, the stipend payments received and the proposals.
//!
//! One trait, [`Store`], two backends, each in its own module with its own
//! SQL, row mapping and embedded, append-only migrations
//! (`migrations/sqlite`, `migrations/postgres`):
//!
//! - [`sqlite`]: an SQLite file, the embedded default (one instance);
//! - [`postgres`]: PostgreSQL, for several instances.
//!
//! [`connect`] picks the backend from the URL and applies the migrations.
//!
//! The write paths that span several statements (receiving an event,
//! registering a household) are written once, in [`flows`], over the
//! per-backend transaction primitives of [`flows::WriteTx`]; each runs in one
//! transaction, so an event's inbox entry and its effect commit together or
//! not at all. The store computes nothing itself: proposals come from the
//! [`Proposer`] it is handed, called inside the transaction so that a
//! proposal always matches the household and payments it commits with.

pub mod flows;
pub mod postgres;
pub mod sqlite;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::household::Household;
use crate::income::IncomeEntry;
use crate::money::Kroner;
use crate::month::Month;
use crate::proposal::{Decision, Proposal, ProposalState, Proposer};

/// What can go wrong when reading or writing the store. Messages carry ids
/// only, never personal data.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The record does not exist.
    #[error("{entity} {id} not found")]
    NotFound {
        /// Kind of record.
        entity: &'static str,
        /// Its id.
        id: String,
    },

    /// The proposal is not open any more: it was decided or superseded.
    #[error("proposal {id} is {} already", .state.as_str())]
    AlreadyDecided {
        /// The proposal.
        id: Uuid,
        /// Its state now.
        state: ProposalState,
    },

    /// The participant belongs to another municipality than the caller's.
    #[error("the participant belongs to another municipality")]
    OtherMunicipality,

    /// A stored value cannot be read back.
    #[error("stored data cannot be read: {what}")]
    Corrupt {
        /// Which value, in which table.
        what: String,
    },

    /// The database URL names a scheme no backend serves.
    #[error("unsupported database URL scheme {scheme:?}: expected sqlite: or postgres:")]
    UnsupportedUrl {
        /// The scheme (only the scheme: the rest of a URL may hold a password).
        scheme: String,
    },

    /// The directory of the SQLite file could not be created.
    #[error("cannot create the database directory: {0}")]
    CreateDirectory(#[source] std::io::Error),

    /// Any other database failure.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),

    /// Applying the embedded migrations failed.
    #[error("database migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
}

impl StoreError {
    /// True for failures that may pass on their own (the database is
    /// unreachable or busy): a client should retry.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self,
            Self::Database(
                sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_)
            )
        )
    }

    pub(crate) fn corrupt(what: impl Into<String>) -> Self {
        Self::Corrupt { what: what.into() }
    }
}

/// Which backend a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

impl Backend {
    /// `"sqlite"` or `"postgres"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whose data a caller reaches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every municipality: development mode, and national auditors and
    /// administrators.
    National,
    /// One municipality, by its four-digit number.
    Municipality(String),
}

impl Scope {
    /// The one municipality, if the scope is one.
    pub fn municipality(&self) -> Option<&str> {
        match self {
            Self::National => None,
            Self::Municipality(m) => Some(m),
        }
    }

    /// Whether the scope reaches data owned by any of `owners` (`None`: an
    /// owner not known, which only a national scope reaches).
    pub fn reaches(&self, owners: &[Option<&str>]) -> bool {
        match self {
            Self::National => true,
            Self::Municipality(m) => owners.contains(&Some(m.as_str())),
        }
    }
}

/// A received event, as the inbox keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxEvent {
    /// CloudEvent `source`; with `id`, the deduplication key.
    pub source: String,
    /// CloudEvent `id`.
    pub id: String,
    /// CloudEvent `type`.
    pub event_type: String,
    /// CloudEvent `specversion`.
    pub spec_version: String,
    /// CloudEvent `subject` attribute, if given (an id).
    pub subject: Option<String>,
    /// The whole CloudEvent, protobuf-encoded as received, so that an event
    /// of a type not consumed today can be applied by a later version.
    pub envelope: Vec<u8>,
    /// When it was received.
    pub received_at: OffsetDateTime,
}

/// What became of a received event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboxOutcome {
    /// A type this service does not consume: stored and acknowledged.
    NotConsumed,
    /// A proposal was made for the month.
    ProposalMade,
    /// The month's open proposal already says the same: nothing new.
    ProposalUnchanged,
    /// No household is registered: the paid month waits for one.
    AwaitingHousehold,
    /// No norm rates are in force in the month: the paid month waits.
    NoNormRates,
    /// The same run already paid this participant for this month under
    /// another event id: recorded, not applied again.
    RepeatedPayment,
}

impl InboxOutcome {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotConsumed => "NOT_CONSUMED",
            Self::ProposalMade => "PROPOSAL_MADE",
            Self::ProposalUnchanged => "PROPOSAL_UNCHANGED",
            Self::AwaitingHousehold => "AWAITING_HOUSEHOLD",
            Self::NoNormRates => "NO_NORM_RATES",
            Self::RepeatedPayment => "REPEATED_PAYMENT",
        }
    }
}

/// A payslip's confirmation, as the payroll service published it: paid
/// (`StipendPaid`) or failed (`StipendPaymentFailed`, nothing received).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StipendPayment {
    /// The participant.
    pub participant_id: Uuid,
    /// The municipality that paid.
    pub municipality_id: String,
    /// The month of the run that paid it (its own month; its lines may pay
    /// earlier months too, see `attributed`).
    pub month: Month,
    /// The payroll run.
    pub run_id: Uuid,
    /// Paid, or failed.
    pub outcome: PaymentOutcome,
    /// Gross of the payslip (paid or not).
    pub gross: Kroner,
    /// Tax withheld (zero for a failed payment).
    pub tax_withheld: Kroner,
    /// Net paid out: what is weighed against the norm (zero for a failed
    /// payment).
    pub net_paid: Kroner,
    /// The date the money was paid or the payment attempted, if given.
    pub payment_date: Option<Date>,
    /// The month the net counts as income in: the payment date's (the run's
    /// month for an event without one, as events before payment dates were
    /// published).
    pub income_month: Month,
    /// The payslip's gross by the month its lines pay for, oldest first.
    pub attributed: Vec<AttributedGross>,
}

/// Whether a payslip was paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentOutcome {
    /// The money reached the participant.
    Paid,
    /// Nothing reached the participant; the payroll service reissues the
    /// lines in a later run.
    Failed,
}

impl PaymentOutcome {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Paid => "PAID",
            Self::Failed => "FAILED",
        }
    }

    /// The outcome of a stored name.
    pub fn from_stored(text: &str) -> Option<Self> {
        match text {
            "PAID" => Some(Self::Paid),
            "FAILED" => Some(Self::Failed),
            _ => None,
        }
    }
}

/// Part of a payslip's gross: the lines paying for one month.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AttributedGross {
    /// The month the lines pay for.
    pub month: Month,
    /// Their sum (negative for a recovery).
    pub gross: rust_decimal::Decimal,
}

/// A payment as a month's proposal counts it: one of the payments whose
/// income month is that month.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountedPayment {
    /// The month of the run that paid it.
    pub run_month: Month,
    /// Paid, or failed.
    pub outcome: PaymentOutcome,
    /// Net paid out (zero for a failed payment).
    pub net_paid: Kroner,
    /// The payment date, if given.
    pub payment_date: Option<Date>,
    /// The gross by the month its lines pay for.
    pub attributed: Vec<AttributedGross>,
}

/// What receiving an event does besides storing it.
#[derive(Clone, Copy)]
pub enum Effect<'a> {
    /// Nothing: the event is stored and acknowledged.
    None,
    /// Record a payslip's outcome and propose for its income month.
    Payment {
        /// The payment.
        payment: &'a StipendPayment,
        /// Computes the proposal.
        proposer: &'a dyn Proposer,
    },
}

/// The store's receipt for an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    /// An event with the same source and id was received before; nothing changed.
    Duplicate,
    /// Stored now, and applied as the outcome says.
    Stored {
        /// What became of it.
        outcome: InboxOutcome,
        /// The proposal made, if any.
        proposal: Option<Uuid>,
    },
}

/// A household as registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HouseholdRecord {
    /// The household.
    pub household: Household,
    /// When it was first registered.
    pub registered_at: OffsetDateTime,
    /// When it was last changed.
    pub updated_at: OffsetDateTime,
    /// 1 when registered, one more with each change.
    pub revision: i64,
    /// The municipality whose caseworker registered it last (`None` for a
    /// household registered before scoping that no payment names).
    pub municipality_id: Option<String>,
}

/// The result of registering or changing a household.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HouseholdSaved {
    /// The household as stored.
    pub record: HouseholdRecord,
    /// True if it was registered now, false if it changed.
    pub created: bool,
    /// Proposals made because of it (for paid months without one, or
    /// replacing open proposals whose figures changed).
    pub proposals: Vec<Uuid>,
}

/// Which proposals to list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProposalFilter {
    /// Only proposals in this state.
    pub state: Option<ProposalState>,
    /// Only proposals of this participant.
    pub participant_id: Option<Uuid>,
    /// Only proposals of this municipality.
    pub municipality_id: Option<String>,
    /// At most this many (oldest month first).
    pub limit: u32,
}

/// A caseworker's decision, to be recorded once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecideProposal {
    /// The proposal.
    pub id: Uuid,
    /// Accept or reject.
    pub decision: Decision,
    /// Why.
    pub reason: String,
    /// Who (a caseworker id), if given.
    pub decided_by: Option<String>,
    /// When.
    pub at: OffsetDateTime,
}

/// Why a paid month has no proposal yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PendingReason {
    /// No household is registered for the participant.
    AwaitingHousehold,
    /// No norm rates are in force in the month.
    NoNormRates,
}

/// A paid month without any proposal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingMonth {
    /// The participant.
    pub participant_id: Uuid,
    /// The month.
    pub month: Month,
    /// Net stipend paid for it so far.
    pub net_paid: Kroner,
    /// Why it waits.
    pub reason: PendingReason,
}

/// The top-up service's persistence.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Which backend this is.
    fn backend(&self) -> Backend;

    /// Stores an event in the inbox and applies its effect, in one
    /// transaction; an event whose source and id are stored already changes
    /// nothing and comes back as [`Received::Duplicate`].
    async fn receive(&self, event: &InboxEvent, effect: Effect<'_>)
    -> Result<Received, StoreError>;

    /// Registers or replaces a participant's household and, in the same
    /// transaction, proposes for paid months that have no proposal and
    /// refreshes open proposals whose figures change. A participant whose
    /// household or payments name other municipalities than a local
    /// `scope`'s gives [`StoreError::OtherMunicipality`] and changes nothing.
    async fn put_household(
        &self,
        household: &Household,
        scope: &Scope,
        at: OffsetDateTime,
        proposer: &dyn Proposer,
    ) -> Result<HouseholdSaved, StoreError>;

    /// A participant's household, if registered.
    async fn household(&self, participant_id: Uuid) -> Result<Option<HouseholdRecord>, StoreError>;

    /// The municipality of the latest stipend payment recorded for a
    /// participant, if any.
    async fn paying_municipality(&self, participant_id: Uuid)
    -> Result<Option<String>, StoreError>;

    /// Proposals, oldest month first.
    async fn proposals(&self, filter: &ProposalFilter) -> Result<Vec<Proposal>, StoreError>;

    /// One proposal.
    async fn proposal(&self, id: Uuid) -> Result<Option<Proposal>, StoreError>;

    /// Records a decision on an open proposal; a proposal that is not open
    /// any more gives [`StoreError::AlreadyDecided`] and changes nothing.
    async fn decide(&self, decision: &DecideProposal) -> Result<Proposal, StoreError>;

    /// Paid months that have no proposal, oldest first; of one
    /// municipality's payments when `municipality_id` is given.
    async fn pending_months(
        &self,
        municipality_id: Option<&str>,
    ) -> Result<Vec<PendingMonth>, StoreError>;

    /// Closes the connections.
    async fn close(&self);
}

/// Opens the store a URL names and applies the migrations.
///
/// - `sqlite://path/to/file.db?mode=rwc` (or `sqlite::memory:`): SQLite; the
///   file's directory is created if missing.
/// - `postgres://user@host:port/database` (or `postgresql://…`): PostgreSQL.
pub async fn connect(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    let scheme = url.split_once(':').map_or("", |(scheme, _)| scheme);
    match scheme {
        "sqlite" => Ok(Arc::new(sqlite::SqliteStore::connect(url).await?)),
        "postgres" | "postgresql" => Ok(Arc::new(postgres::PostgresStore::connect(url).await?)),
        other => Err(StoreError::UnsupportedUrl {
            scheme: other.to_owned(),
        }),
    }
}

/// A payment's attributed gross as stored (JSON).
pub(crate) fn attributed_json(attributed: &[AttributedGross]) -> Result<String, StoreError> {
    serde_json::to_string(attributed)
        .map_err(|_| StoreError::corrupt("attributed amounts that cannot be written as JSON"))
}

/// A payment's attributed gross read back.
pub(crate) fn attributed_from_json(text: &str) -> Result<Vec<AttributedGross>, StoreError> {
    serde_json::from_str(text).map_err(|_| StoreError::corrupt("attributed amounts"))
}

/// A household's typed income as stored (JSON).
pub(crate) fn income_json(income: &[IncomeEntry]) -> Result<String, StoreError> {
    serde_json::to_string(income)
        .map_err(|_| StoreError::corrupt("household income that cannot be written as JSON"))
}

/// A household's typed income read back.
pub(crate) fn income_from_json(text: &str) -> Result<Vec<IncomeEntry>, StoreError> {
    serde_json::from_str(text).map_err(|_| StoreError::corrupt("household income"))
}
