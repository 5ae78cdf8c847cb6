//! The records the store keeps, as plain structs.
//!
//! These are storage shapes, not domain types: the service validates and
//! interprets them (identity numbers, hours in quarters, quotas). Entry and
//! benefit kinds and line codes are the rules crate's enums (`AbsenceKind`,
//! `OffsetKind`, `PayLineCode`); an unknown stored value reads as corrupt data.
//! Ids are chosen by the caller (UUID v4 or v7), and so are all instants, so
//! that the store reads no clock except for the ids of audit entries.
//! Instants are kept to the microsecond on both backends.

use std::fmt;
use std::str::FromStr;

use kvp_rules::{AbsenceKind, OffsetKind};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

mod checks;
mod facts;
mod pay_runs;

pub(crate) use checks::*;
pub use facts::*;
pub use pay_runs::*;

/// A municipality (kommune) that runs the programme and pays the stipend.
#[derive(Debug, Clone, PartialEq)]
pub struct Municipality {
    /// Municipality number, e.g. `"0301"` for Oslo.
    pub id: String,
    /// Name, e.g. `"Oslo"`.
    pub name: String,
    /// Policy values that override the national defaults (a JSON object; the
    /// rules crate reads it, the store does not look inside).
    pub policy_overrides: serde_json::Value,
    /// Product line code → the municipality's own payroll pay code (lønnsart).
    pub pay_codes: serde_json::Value,
    /// How its runs are handed to its payroll system.
    pub handoff: HandoffSettings,
    /// The stored settings' version: 1 when created, one more at every change
    /// (ignored when writing).
    pub version: i64,
}

/// A municipality's settings for the handoff to its payroll system (stored
/// as one JSON document; absent fields take their defaults).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HandoffSettings {
    /// The municipality imports lines by the product's line codes: a line
    /// code without a pay code of its own is then no reason to stop a close.
    pub use_product_codes: bool,
    /// Whether the stipend triggers employer's contribution
    /// (`utloeserArbeidsgiveravgift`; RULES.md: default no).
    pub employer_contribution: bool,
    /// The accounting dimensions its lines are booked to.
    pub accounting: Accounting,
}

/// Accounting dimensions (konteringsstreng) a line is booked to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Accounting {
    /// Responsibility (ansvar); none when the municipality books without.
    pub ansvar: Option<String>,
    /// Service (tjeneste); none when the municipality books without.
    pub tjeneste: Option<String>,
    /// KOSTRA function.
    pub function: String,
}

/// KOSTRA function 276, kvalifiseringsordningen: the default function.
pub const KOSTRA_FUNCTION_KVP: &str = "276";

impl Default for Accounting {
    fn default() -> Self {
        Self {
            ansvar: None,
            tjeneste: None,
            function: KOSTRA_FUNCTION_KVP.to_owned(),
        }
    }
}

/// What a change expects of a record's stored version (optimistic
/// concurrency); a change whose expectation fails is a
/// [`crate::StoreError::VersionMismatch`] and writes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    /// No record: the change creates it.
    Absent,
    /// The record, at whatever version.
    Existing,
    /// The record, at this version.
    Version(i64),
}

/// A person in the qualification programme of one municipality.
///
/// `Debug` leaves out the identity-number fields.
#[derive(Clone, PartialEq)]
pub struct Participant {
    /// Participant id.
    pub id: Uuid,
    /// Municipality the participant belongs to.
    pub municipality_id: String,
    /// Keyed hash of the national identity number, computed by the service;
    /// unique within a municipality, so a number can be found again without
    /// storing it in clear.
    pub nin_lookup: Vec<u8>,
    /// The identity number encrypted by the service; opaque to the store.
    pub nin_sealed: Vec<u8>,
    /// Birth date (derived from the identity number by the service).
    pub birth_date: Date,
    /// Name shown to caseworkers.
    pub display_name: String,
    /// When the participant was registered.
    pub created_at: OffsetDateTime,
}

impl fmt::Debug for Participant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Participant")
            .field("id", &self.id)
            .field("municipality_id", &self.municipality_id)
            .field(
                "nin_lookup",
                &format_args!("<{} bytes>", self.nin_lookup.len()),
            )
            .field(
                "nin_sealed",
                &format_args!("<{} bytes>", self.nin_sealed.len()),
            )
            .field("birth_date", &self.birth_date)
            .field("display_name", &self.display_name)
            .field("created_at", &self.created_at)
            .finish()
    }
}

/// A child of a participant (for the child supplement and the child's-sickness quota).
#[derive(Debug, Clone, PartialEq)]
pub struct Child {
    /// Child id.
    pub id: Uuid,
    /// The participant whose child this is.
    pub participant_id: Uuid,
    /// The child's birth date.
    pub birth_date: Date,
    /// The case system's reference for the child, which tells twins apart.
    pub reference: Option<String>,
}

/// A period in which the participant is the sole carer of their children.
#[derive(Debug, Clone, PartialEq)]
pub struct SoleCarerPeriod {
    /// Period id.
    pub id: Uuid,
    /// The participant.
    pub participant_id: Uuid,
    /// First day of the period.
    pub from: Date,
    /// Last day of the period, both ends included; `None` while open-ended.
    pub to: Option<Date>,
}

/// Another livelihood benefit received in one month, which reduces the stipend (R11).
#[derive(Debug, Clone, PartialEq)]
pub struct BenefitOffset {
    /// Offset id.
    pub id: Uuid,
    /// The participant.
    pub participant_id: Uuid,
    /// The month, as its first day.
    pub month: Date,
    /// Which benefit.
    pub kind: OffsetKind,
    /// Amount in kroner.
    pub amount: Decimal,
}

/// A programme decision: the participant is in the programme from `start` to `end`.
#[derive(Debug, Clone, PartialEq)]
pub struct Programme {
    /// Programme id.
    pub id: Uuid,
    /// The participant.
    pub participant_id: Uuid,
    /// First day of the programme.
    pub start: Date,
    /// Last day of the programme, both ends included; `None` while open-ended.
    pub end: Option<Date>,
    /// Reference of the decision (vedtak) that granted the programme.
    pub decision_reference: String,
    /// When the decision was made.
    pub decided_at: OffsetDateTime,
    /// The programme's version (see [`FactVersion`]): 1 when decided, one
    /// more at every correction (ignored when writing).
    pub version: i64,
}

/// Why the programme is paused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PauseKind {
    /// Temporary interruption (midlertidig avbrudd), stored as `INTERRUPTED`.
    Interrupted,
    /// Stop under sotjl. § 34 (stans), stored as `STOPPED`.
    Stopped,
}

/// A pause inside a programme: its days are not entitled (R3).
#[derive(Debug, Clone, PartialEq)]
pub struct Pause {
    /// Pause id.
    pub id: Uuid,
    /// The programme paused.
    pub programme_id: Uuid,
    /// First day of the pause.
    pub from: Date,
    /// Last day of the pause, both ends included; `None` while open-ended.
    pub to: Option<Date>,
    /// Interruption or stop.
    pub kind: PauseKind,
    /// Reference of the decision behind the pause.
    pub reference: String,
}

/// A programme with its pauses, ordered by start.
#[derive(Debug, Clone, PartialEq)]
pub struct ProgrammeWithPauses {
    /// The programme decision.
    pub programme: Programme,
    /// Its pauses, ordered by their first day.
    pub pauses: Vec<Pause>,
}

/// The role in which a key signs timesheets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SignerRole {
    /// The participant, stored as `PARTICIPANT`.
    Participant,
    /// The supervisor (veileder), stored as `SUPERVISOR`.
    Supervisor,
    /// A course holder or employer, stored as `PROVIDER`.
    Provider,
}

/// A registered public key that may sign timesheets.
#[derive(Debug, Clone, PartialEq)]
pub struct SignerKey {
    /// Key id as it appears in DSSE signatures.
    pub keyid: String,
    /// The person holding the key (a caseworker id, a provider id, or the participant id).
    pub person_id: String,
    /// Set when the key belongs to a participant.
    pub participant_id: Option<Uuid>,
    /// Role the key signs in.
    pub role: SignerRole,
    /// The Ed25519 public key, 32 raw bytes.
    pub public_key: Vec<u8>,
    /// The key signs validly from this instant …
    pub valid_from: OffsetDateTime,
    /// … until this instant, if limited.
    pub valid_until: Option<OffsetDateTime>,
    /// When the key was revoked, if it was.
    pub revoked_at: Option<OffsetDateTime>,
    /// Why the key was revoked.
    pub revocation_reason: Option<String>,
    /// When the key was registered.
    pub registered_at: OffsetDateTime,
    /// The municipality whose participants a supervisor key approves for;
    /// `None` for providers' keys and for supervisors' keys registered
    /// before keys had one (national until assigned).
    pub municipality_id: Option<String>,
}

/// Whether a timesheet is the one in force for its period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TimesheetStatus {
    /// In force, stored as `ACCEPTED`.
    Accepted,
    /// Replaced by a correction, stored as `SUPERSEDED`.
    Superseded,
}

/// A signed timesheet as received and accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct Timesheet {
    /// Timesheet id.
    pub id: Uuid,
    /// The participant the timesheet is for.
    pub participant_id: Uuid,
    /// The participant's municipality (the client that submitted it is scoped to it).
    pub municipality_id: String,
    /// Hex SHA-256 of the signed payload: unique, the idempotency key.
    pub digest: String,
    /// The exact envelope bytes received.
    pub envelope: Vec<u8>,
    /// First day covered.
    pub period_from: Date,
    /// Last day covered, both ends included.
    pub period_to: Date,
    /// 1 for a new timesheet, the superseded timesheet's version + 1 for a correction.
    pub version: i32,
    /// The timesheet this one corrects, if any.
    pub supersedes: Option<Uuid>,
    /// In force or superseded.
    pub status: TimesheetStatus,
    /// The assessment answered at receipt, answered again on a retry.
    pub assessment: serde_json::Value,
    /// When the timesheet was received.
    pub received_at: OffsetDateTime,
}

/// The dates a current timesheet covers (for R12), without its envelope.
#[derive(Debug, Clone, PartialEq)]
pub struct TimesheetPeriod {
    /// Timesheet id.
    pub id: Uuid,
    /// First day covered.
    pub period_from: Date,
    /// Last day covered, both ends included.
    pub period_to: Date,
    /// Version of the timesheet.
    pub version: i32,
}

/// One entry of a day in a timesheet.
#[derive(Debug, Clone, PartialEq)]
pub struct DayEntry {
    /// The timesheet the entry belongs to.
    pub timesheet_id: Uuid,
    /// The participant (repeated so that entries can be read per participant).
    pub participant_id: Uuid,
    /// The day.
    pub date: Date,
    /// Position among the entries of the same day, from 0.
    pub seq: i32,
    /// What the participant did or why they were away.
    pub kind: AbsenceKind,
    /// Hours.
    pub hours: Decimal,
    /// Free-text note.
    pub note: Option<String>,
}

/// Everything `accept_timesheet` stores together, or not at all.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTimesheet {
    /// The timesheet; `status` must be `Accepted` and `version` as its
    /// documentation says (checked in the transaction).
    pub timesheet: Timesheet,
    /// Its day entries; each must name this timesheet and participant.
    pub entries: Vec<DayEntry>,
    /// Domain events of the acceptance (e.g. "timesheet accepted"), written to
    /// the outbox in the same transaction; none when the timesheet is a duplicate.
    pub events: Vec<NewOutboxEvent>,
    /// The audit entry of the acceptance.
    pub audit: NewAuditEntry,
}

/// The result of `accept_timesheet`.
#[derive(Debug, Clone, PartialEq)]
pub enum AcceptOutcome {
    /// The timesheet was stored (and the one it supersedes, if any, marked superseded).
    Accepted(Timesheet),
    /// A timesheet with the same digest was stored before; this is it, and
    /// nothing was written.
    Duplicate(Timesheet),
}

/// The outcome of a sanction decision (vedtak om trekk).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DecisionOutcome {
    /// The deduction is decided, stored as `APPROVED`.
    Approved,
    /// No deduction, stored as `REJECTED`.
    Rejected,
}

/// How a warning was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum WarningChannel {
    /// In a meeting, stored as `IN_PERSON`.
    InPerson,
    /// By letter, stored as `LETTER`.
    Letter,
    /// Through the digital mailbox, stored as `DIGITAL`.
    Digital,
}

/// The outcome of an appeal against a sanction decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AppealOutcome {
    /// The appeal succeeds: the deduction is reversed (the decision becomes
    /// a rejection), stored as `UPHELD`.
    Upheld,
    /// The appeal succeeds in part: fewer hours are deducted, stored as
    /// `PARTLY_UPHELD`.
    PartlyUpheld,
    /// The appeal fails: the decision stands, stored as `DISMISSED`.
    Dismissed,
}

/// A caseworker's decision on the unexcused hours of one day.
#[derive(Debug, Clone, PartialEq)]
pub struct SanctionDecision {
    /// Decision id.
    pub id: Uuid,
    /// The participant.
    pub participant_id: Uuid,
    /// The day the decision is about.
    pub date: Date,
    /// Kind of the day entry the decision is about: unexcused, or e.g. sick
    /// (self-certified) when the quota turned it unexcused.
    pub entry_kind: AbsenceKind,
    /// Approved or rejected.
    pub outcome: DecisionOutcome,
    /// When the decision was made.
    pub decided_at: OffsetDateTime,
    /// Who decided (caseworker id).
    pub decided_by: String,
    /// Reference of the decision (vedtak).
    pub reference: String,
    /// The reasons given.
    pub reason: String,
    /// The legal basis the decision gives (sosialtjenesteloven § 36).
    pub legal_basis: String,
    /// The last day an appeal (klage) may be lodged; none on decisions
    /// recorded before the procedure was kept.
    pub appeal_deadline: Option<Date>,
    /// The warning (varsel) the decision follows; none on a rejection or on
    /// decisions recorded before the procedure was kept.
    pub warning_id: Option<Uuid>,
    /// After a partly upheld appeal: the hours the decision still deducts
    /// (the rest are paid); none: all the entry's hours.
    pub deducted_hours: Option<Decimal>,
}

/// A participant's employee number (ansattnummer) in the municipality's
/// payroll system.
#[derive(Debug, Clone, PartialEq)]
pub struct EmployeeNumber {
    /// The participant.
    pub participant_id: Uuid,
    /// Their municipality (the number is unique there).
    pub municipality_id: String,
    /// The number, as the payroll system writes it.
    pub employee_number: String,
    /// 1 when registered, one more at every change: the `ETag`.
    pub version: i64,
    /// When this version was registered.
    pub registered_at: OffsetDateTime,
    /// Who registered it.
    pub registered_by: String,
}

/// A decision extending a programme's approved period (§ 30).
#[derive(Debug, Clone, PartialEq)]
pub struct ProgrammeExtension {
    /// Extension id.
    pub id: Uuid,
    /// The programme extended.
    pub programme_id: Uuid,
    /// The last day of the approved period from this decision on.
    pub until: Date,
    /// Whether it is the exception (særlige tilfeller) a period beyond two
    /// years needs.
    pub exception: bool,
    /// The decision's reference.
    pub reference: String,
    /// When it was decided.
    pub decided_at: OffsetDateTime,
    /// Who decided.
    pub decided_by: String,
}

/// A warning (varsel) before a deduction for absence (§ 36): the days and
/// hours it concerns and how it was given.
#[derive(Debug, Clone, PartialEq)]
pub struct SanctionWarning {
    /// Warning id.
    pub id: Uuid,
    /// The participant.
    pub participant_id: Uuid,
    /// The day it was given.
    pub given_on: Date,
    /// How it was given.
    pub channel: WarningChannel,
    /// The case system's reference.
    pub reference: String,
    /// The days, entry kinds and hours it concerns, by date.
    pub days: Vec<WarnedDay>,
    /// Who recorded it.
    pub recorded_by: String,
    /// When.
    pub recorded_at: OffsetDateTime,
}

/// One day's hours a warning concerns.
#[derive(Debug, Clone, PartialEq)]
pub struct WarnedDay {
    /// The day.
    pub date: Date,
    /// The kind of the entry (unexcused, or one a quota turned unexcused).
    pub entry_kind: AbsenceKind,
    /// The entry's hours when the warning was given.
    pub hours: Decimal,
}

/// An appeal (klage) against a sanction decision, and its outcome once decided.
#[derive(Debug, Clone, PartialEq)]
pub struct SanctionAppeal {
    /// Appeal id.
    pub id: Uuid,
    /// The decision appealed.
    pub decision_id: Uuid,
    /// The participant.
    pub participant_id: Uuid,
    /// The day it was received.
    pub received_on: Date,
    /// The case system's reference.
    pub reference: String,
    /// Who recorded it.
    pub recorded_by: String,
    /// When.
    pub recorded_at: OffsetDateTime,
    /// The outcome; none while the appeal is open.
    pub outcome: Option<AppealOutcome>,
    /// The day the outcome was decided.
    pub decided_on: Option<Date>,
    /// The outcome decision's reference.
    pub outcome_reference: Option<String>,
}

/// A stored audit entry: who did what to which record, when.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    /// Entry id (UUID v7, assigned by the store).
    pub id: Uuid,
    /// When it happened.
    pub at: OffsetDateTime,
    /// Who did it (a caseworker, a client certificate's subject, …).
    pub actor: String,
    /// What was done, e.g. `"timesheet.accepted"`.
    pub action: String,
    /// Kind of record acted on, e.g. `"timesheet"`.
    pub subject_type: String,
    /// Id of the record acted on.
    pub subject_id: String,
    /// Further details (never an identity number).
    pub details: serde_json::Value,
}

/// A participant's identity number as sealed (see [`crate::IdentityKeyStore`]).
#[derive(Clone, PartialEq, Eq)]
pub struct SealedIdentity {
    /// The participant.
    pub participant_id: Uuid,
    /// The sealed number.
    pub nin_sealed: Vec<u8>,
}

/// A participant's identity number sealed anew, with its lookup hash.
#[derive(Clone, PartialEq, Eq)]
pub struct ResealedIdentity {
    /// The participant.
    pub participant_id: Uuid,
    /// The keyed hash the number is found by.
    pub nin_lookup: Vec<u8>,
    /// The sealed number.
    pub nin_sealed: Vec<u8>,
}

impl std::fmt::Debug for SealedIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedIdentity")
            .field("participant_id", &self.participant_id)
            .field(
                "nin_sealed",
                &format_args!("<{} bytes>", self.nin_sealed.len()),
            )
            .finish()
    }
}

impl std::fmt::Debug for ResealedIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResealedIdentity")
            .field("participant_id", &self.participant_id)
            .finish_non_exhaustive()
    }
}

/// An audit entry to write together with a state change.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAuditEntry {
    /// When it happened.
    pub at: OffsetDateTime,
    /// Who did it.
    pub actor: String,
    /// What was done, e.g. `"timesheet.accepted"`.
    pub action: String,
    /// Kind of record acted on, e.g. `"timesheet"`.
    pub subject_type: String,
    /// Id of the record acted on.
    pub subject_id: String,
    /// Further details (never an identity number).
    pub details: serde_json::Value,
    /// The idempotency key of the request making the change, claimed in the
    /// change's transaction (see [`crate::IdempotencyStore`]).
    pub idempotency: Option<IdempotencyClaim>,
}

impl NewAuditEntry {
    /// An audit entry with empty details (`{}`).
    pub fn new(
        at: OffsetDateTime,
        actor: impl Into<String>,
        action: impl Into<String>,
        subject_type: impl Into<String>,
        subject_id: impl ToString,
    ) -> Self {
        Self {
            at,
            actor: actor.into(),
            action: action.into(),
            subject_type: subject_type.into(),
            subject_id: subject_id.to_string(),
            details: serde_json::Value::Object(serde_json::Map::new()),
            idempotency: None,
        }
    }

    /// The same entry with these details.
    #[must_use]
    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = details;
        self
    }
}

/// Everything the rules engine needs about one participant, read consistently.
#[derive(Debug, Clone, PartialEq)]
pub struct ParticipantFacts {
    /// The participant.
    pub participant: Participant,
    /// Their children, by birth date.
    pub children: Vec<Child>,
    /// Their sole-carer periods, by first day.
    pub sole_carer_periods: Vec<SoleCarerPeriod>,
    /// Their other-benefit offsets, by month.
    pub offsets: Vec<BenefitOffset>,
    /// Their programmes with pauses, by start.
    pub programmes: Vec<ProgrammeWithPauses>,
    /// The periods of their current (accepted) timesheets, by first day.
    pub timesheets: Vec<TimesheetPeriod>,
    /// The day entries of those timesheets (all dates, for the quota history),
    /// by date and position.
    pub entries: Vec<DayEntry>,
    /// Their sanction decisions, by date.
    pub decisions: Vec<SanctionDecision>,
}

/// A stored enum value that is not one of the known ones.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {value:?}")]
pub struct UnknownValue {
    /// Which enum.
    pub what: &'static str,
    /// The value found.
    pub value: String,
}

macro_rules! stored_enum {
    ($name:ident, $what:literal, { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $name {
            /// The value as stored and as written in the API (upper snake case).
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)+
                }
            }
        }

        impl FromStr for $name {
            type Err = UnknownValue;

            fn from_str(value: &str) -> Result<Self, Self::Err> {
                match value {
                    $($text => Ok(Self::$variant),)+
                    _ => Err(UnknownValue { what: $what, value: value.to_owned() }),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

stored_enum!(PauseKind, "pause kind", { Interrupted => "INTERRUPTED", Stopped => "STOPPED" });
stored_enum!(SignerRole, "signer role", {
    Participant => "PARTICIPANT",
    Supervisor => "SUPERVISOR",
    Provider => "PROVIDER",
});
stored_enum!(TimesheetStatus, "timesheet status", {
    Accepted => "ACCEPTED",
    Superseded => "SUPERSEDED",
});
stored_enum!(DecisionOutcome, "decision outcome", { Approved => "APPROVED", Rejected => "REJECTED" });
stored_enum!(WarningChannel, "warning channel", {
    InPerson => "IN_PERSON",
    Letter => "LETTER",
    Digital => "DIGITAL",
});
stored_enum!(AppealOutcome, "appeal outcome", {
    Upheld => "UPHELD",
    PartlyUpheld => "PARTLY_UPHELD",
    Dismissed => "DISMISSED",
});
stored_enum!(RunState, "run state", {
    Closed => "CLOSED",
    PartiallyConfirmed => "PARTIALLY_CONFIRMED",
    Confirmed => "CONFIRMED",
});
stored_enum!(PaymentOutcome, "payment outcome", { Paid => "PAID", Failed => "FAILED" });

/// A request's claim on an idempotency key: written with the request's first
/// change, so the key exists exactly when the change does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyClaim {
    /// Whose keys these are: the caller's municipality and actor.
    pub scope: String,
    /// The key the caller chose.
    pub key: String,
    /// SHA-256 of the request (method, path and body).
    pub request_hash: Vec<u8>,
    /// The request making the claim: each of its writes may claim the key.
    pub request_id: Uuid,
}

/// The answer a request gave, kept to be given again to its retries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotentAnswer {
    /// HTTP status code.
    pub status: u16,
    /// The `Content-Type` of the body.
    pub content_type: String,
    /// The body.
    pub body: Vec<u8>,
}

/// What is stored under an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRecord {
    /// SHA-256 of the request that claimed the key.
    pub request_hash: Vec<u8>,
    /// The request that claimed it.
    pub request_id: Uuid,
    /// What its first change was about (the audit entry's subject), if it changed anything.
    pub subject: Option<(String, String)>,
    /// When the key was claimed.
    pub created_at: OffsetDateTime,
    /// Its answer; `None` while the request is in progress, or if the answer was lost
    /// between the change and its recording.
    pub answer: Option<IdempotentAnswer>,
}
