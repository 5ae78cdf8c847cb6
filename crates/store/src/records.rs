//! The records the store keeps, as plain structs.
//!
//! These are storage shapes, not domain types: the service validates and
//! interprets them (identity numbers, entry kinds, hours in quarters, quotas).
//! Ids are chosen by the caller (UUID v4 or v7), and so are all instants, so
//! that the store reads no clock except for the ids of audit entries.
//! Instants are kept to the microsecond on both backends.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::StoreError;

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
    /// Benefit kind, e.g. `"SYKEPENGER"` (the rules crate validates kinds).
    pub kind: String,
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
    /// Entry kind, e.g. `"SICK_SELF"` (the rules crate validates kinds).
    pub kind: String,
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

/// A caseworker's decision on the unexcused hours of one day.
#[derive(Debug, Clone, PartialEq)]
pub struct SanctionDecision {
    /// Decision id.
    pub id: Uuid,
    /// The participant.
    pub participant_id: Uuid,
    /// The day the decision is about.
    pub date: Date,
    /// Kind of the day entry the decision is about, e.g. `"UNEXCUSED"`, or
    /// `"SICK_SELF"` when the quota turned it unexcused.
    pub entry_kind: String,
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

// --- pay periods, ledger and payment confirmation ---

/// Where a pay run stands in its payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RunState {
    /// Closed, no payslip confirmed yet; stored as `CLOSED`.
    Closed,
    /// Some payslips confirmed, not all; stored as `PARTIALLY_CONFIRMED`.
    PartiallyConfirmed,
    /// Every payslip of the run confirmed (paid or failed); stored as `CONFIRMED`.
    Confirmed,
}

/// A closed pay period of one municipality: the commitment to pay its lines.
///
/// Runs are immutable once closed; only `state` moves on as payslips are confirmed.
#[derive(Debug, Clone, PartialEq)]
pub struct PayRun {
    /// Run id.
    pub id: Uuid,
    /// The municipality that pays.
    pub municipality_id: String,
    /// The month the run pays, as its first day; one run per municipality and month.
    pub month: Date,
    /// Closed, partially confirmed or confirmed.
    pub state: RunState,
    /// When the period was closed.
    pub closed_at: OffsetDateTime,
    /// How many participants have lines in the run.
    pub participant_count: i32,
    /// The sum of the amounts of all lines of the run, in kroner.
    pub total: Decimal,
}

/// One line of a payslip in a run.
#[derive(Debug, Clone, PartialEq)]
pub struct PayLine {
    /// Line id.
    pub id: Uuid,
    /// The run the line belongs to.
    pub run_id: Uuid,
    /// The participant paid.
    pub participant_id: Uuid,
    /// Position among the participant's lines in the run, unique per
    /// participant and run.
    pub seq: i32,
    /// The product's line code, e.g. `"KVP_BASE"` or `"KVP_RECOVERY_CARRIED"`
    /// (the municipality's pay code is mapped from it on export).
    pub line_code: String,
    /// The month the line pays or corrects, as its first day; `None` for
    /// recovery lines, which belong to no month.
    pub attributed_month: Option<Date>,
    /// Quantity (days, hours, children, …).
    pub quantity: Decimal,
    /// Rate per unit, in kroner.
    pub rate: Decimal,
    /// Amount in kroner, a whole number of øre (at most two decimals).
    pub amount: Decimal,
    /// The line's explanation, as the rules crate wrote it.
    pub explanation: String,
}

/// Everything `close_period` stores together, or not at all.
#[derive(Debug, Clone, PartialEq)]
pub struct NewPayRun {
    /// The run; `state` must be `Closed`, `month` a first day,
    /// `participant_count` the number of distinct participants of `lines` and
    /// `total` the sum of their amounts.
    pub run: PayRun,
    /// Its lines; each must name this run and a participant of its municipality.
    pub lines: Vec<PayLine>,
    /// Domain events of the close (e.g. "period closed"), written to the outbox.
    pub events: Vec<NewOutboxEvent>,
    /// The audit entry of the close.
    pub audit: NewAuditEntry,
}

/// The result of `close_period`.
#[derive(Debug, Clone, PartialEq)]
pub enum CloseOutcome {
    /// The run was stored with its lines, events and audit entry.
    Created(PayRun),
    /// The municipality's month was closed before (perhaps by another
    /// instance at the same moment); this is that run, and nothing was written.
    Existing(PayRun),
}

impl CloseOutcome {
    /// The run, created or existing.
    pub fn run(&self) -> &PayRun {
        match self {
            Self::Created(run) | Self::Existing(run) => run,
        }
    }
}

// --- closing a month in chunks (see `CloseSession`) ---

/// The run a close session opens: what is known before any line is computed.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenRun {
    /// Run id.
    pub id: Uuid,
    /// The municipality that pays.
    pub municipality_id: String,
    /// The month closed, as its first day.
    pub month: Date,
    /// When the period is closed.
    pub closed_at: OffsetDateTime,
}

/// What a close reads before its participants, in the snapshot it computes from.
#[derive(Debug, Clone, PartialEq)]
pub struct CloseContext {
    /// The municipality (its policy overrides enter the calculation).
    pub municipality: Municipality,
    /// The municipality's earlier runs, by month (not the one being closed).
    pub runs: Vec<PayRun>,
    /// Every registered grunnbeløp, by effective date.
    pub registered_g: Vec<RegisteredG>,
    /// The basis the latest of `runs` was computed on, as the service wrote
    /// it; `None` when there is no run or it recorded none.
    pub basis: Option<String>,
}

/// The first day of the earliest month that needs recomputing for every month.
pub const RECOMPUTE_EVERYTHING: Date = time::macros::date!(0001 - 01 - 01);

/// What changed for a participant since a close last recomputed them.
///
/// The database keeps it: every change to a fact the month calculation reads
/// (timesheets and their entries, decisions, offsets, children, sole-carer
/// periods, programmes and pauses, the participant's birth date or
/// municipality, a payslip confirmed as failed) moves `from` back, in the
/// transaction of the change, and bumps `version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecomputeMark {
    /// The first day of the earliest month whose result may have changed;
    /// [`RECOMPUTE_EVERYTHING`] for every month (a new participant); `None`
    /// when nothing changed since a close cleared the mark.
    pub from: Option<Date>,
    /// Bumped by every change; a close clears the mark only if it still
    /// holds the version the close read.
    pub version: i64,
}

/// One participant as a close reads it, all from the session's snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct CloseParticipant {
    /// Everything the rules engine needs (as [`crate::Repository::participant_facts`]
    /// answers it, in the same orders).
    pub facts: ParticipantFacts,
    /// What changed since the participant was last recomputed.
    pub mark: RecomputeMark,
    /// What was paid for the participant, as [`crate::Repository::ledger`]
    /// sums it, but only the recovery balance and the months from the
    /// earlier of `mark.from` and the floor given on.
    pub ledger: Vec<LedgerEntry>,
}

/// How a close session ends: everything written besides its lines.
#[derive(Debug, Clone, PartialEq)]
pub struct FinishClose {
    /// How many distinct participants have lines; must match the lines written.
    pub participant_count: i32,
    /// The sum of the amounts of the lines written; must match them.
    pub total: Decimal,
    /// Domain events of the close (e.g. "period closed").
    pub events: Vec<NewOutboxEvent>,
    /// The audit entry of the close.
    pub audit: NewAuditEntry,
    /// What the lines were computed on (parameters, policy, code), recorded
    /// with the run for the next close to compare; opaque to the store.
    pub basis: String,
    /// The participants recomputed, with the mark version read for each: their
    /// marks are cleared unless a change moved them on meanwhile.
    pub recomputed: Vec<(Uuid, i64)>,
}

/// The result of [`crate::Repository::begin_close`].
pub enum BeginClose {
    /// The month was closed before (perhaps by another instance a moment
    /// ago): this is its run, and nothing is held.
    Closed(PayRun),
    /// The month is free and this session now holds the municipality's close.
    Open(Box<dyn crate::CloseSession>),
}

impl fmt::Debug for BeginClose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Closed(run) => f.debug_tuple("Closed").field(run).finish(),
            Self::Open(session) => f
                .debug_tuple("Open")
                .field(&session.context().municipality.id)
                .finish(),
        }
    }
}

/// The lines of a run with one line code, summed: those attributed to the
/// run's own month apart from the rest (corrections of earlier months, and
/// recovery lines, which belong to no month).
#[derive(Debug, Clone, PartialEq)]
pub struct LineTotal {
    /// The line code.
    pub line_code: String,
    /// True for the lines attributed to the run's month.
    pub of_run_month: bool,
    /// How many lines.
    pub line_count: i64,
    /// The sum of their amounts, in kroner, to the øre (two decimals).
    pub amount: Decimal,
}

/// What has been paid for one participant, month and line code, over all
/// runs of a municipality (payslips confirmed as failed left out).
#[derive(Debug, Clone, PartialEq)]
pub struct LedgerEntry {
    /// The participant.
    pub participant_id: Uuid,
    /// The month paid or corrected (first day); `None` sums the recovery lines,
    /// which is the recovery balance.
    pub attributed_month: Option<Date>,
    /// The line code.
    pub line_code: String,
    /// The sum of the lines' amounts, in kroner, to the øre (two decimals).
    pub amount: Decimal,
}

/// How the payment of a payslip ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PaymentOutcome {
    /// The net amount was paid out, stored as `PAID`.
    Paid,
    /// The payment failed (e.g. a closed account), stored as `FAILED`; the
    /// payslip's lines leave the ledger and the next run pays them again.
    Failed,
}

/// The municipal payroll system's confirmation of one payslip (run + participant).
#[derive(Debug, Clone, PartialEq)]
pub struct Confirmation {
    /// The run.
    pub run_id: Uuid,
    /// The participant whose payslip it is.
    pub participant_id: Uuid,
    /// Gross amount of the payslip, in kroner.
    pub gross: Decimal,
    /// Tax withheld by the tax card (tabelltrekk over the whole payslip).
    pub tax_withheld: Decimal,
    /// Net amount paid out.
    pub net_paid: Decimal,
    /// Paid or failed.
    pub outcome: PaymentOutcome,
    /// Why the payment failed, when it did.
    pub failure_reason: Option<String>,
    /// The day the money was paid, when known.
    pub payment_date: Option<Date>,
    /// When the confirmation was received.
    pub confirmed_at: OffsetDateTime,
}

impl Confirmation {
    /// Whether `other` confirms the same payment: every field but
    /// `confirmed_at` (a retry is received later) equal, decimals by value.
    pub fn same_payment(&self, other: &Self) -> bool {
        self.run_id == other.run_id
            && self.participant_id == other.participant_id
            && self.gross == other.gross
            && self.tax_withheld == other.tax_withheld
            && self.net_paid == other.net_paid
            && self.outcome == other.outcome
            && self.failure_reason == other.failure_reason
            && self.payment_date == other.payment_date
    }
}

/// The result of `confirm_payment`.
#[derive(Debug, Clone, PartialEq)]
pub enum ConfirmOutcome {
    /// The confirmation was stored; this is the run with its new state.
    Recorded(PayRun),
    /// The same confirmation was stored before; nothing was written; this is the run.
    Duplicate(PayRun),
}

impl ConfirmOutcome {
    /// The run, as it stands after the call.
    pub fn run(&self) -> &PayRun {
        match self {
            Self::Recorded(run) | Self::Duplicate(run) => run,
        }
    }
}

// --- registered parameters ---

/// A grunnbeløp (G) registered at run time; it overlays the shipped parameter file.
#[derive(Debug, Clone, PartialEq)]
pub struct RegisteredG {
    /// The day the value takes effect (usually 1 May); one value per day.
    pub effective_date: Date,
    /// The value of G in kroner.
    pub value: Decimal,
    /// Its legal source (e.g. the regulation's reference).
    pub reference: String,
    /// When it was registered.
    pub registered_at: OffsetDateTime,
}

// --- transactional outbox ---

/// A domain event to write to the outbox together with a state change.
#[derive(Debug, Clone, PartialEq)]
pub struct NewOutboxEvent {
    /// Event id (the CloudEvents `id`; the consumer deduplicates by it).
    pub id: Uuid,
    /// CloudEvents `type`, e.g. `"no.kvp.payroll.period.closed.v1"`.
    pub event_type: String,
    /// CloudEvents `source`.
    pub source: String,
    /// CloudEvents `subject` (a run or participant id, never an identity number).
    pub subject: String,
    /// The encoded protobuf payload.
    pub payload: Vec<u8>,
    /// When the event was created; it is deliverable from then on.
    pub created_at: OffsetDateTime,
}

/// An event in the outbox, with its delivery state.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEvent {
    /// Event id.
    pub id: Uuid,
    /// CloudEvents `type`.
    pub event_type: String,
    /// CloudEvents `source`.
    pub source: String,
    /// CloudEvents `subject`.
    pub subject: String,
    /// The encoded protobuf payload.
    pub payload: Vec<u8>,
    /// When the event was created.
    pub created_at: OffsetDateTime,
    /// Failed delivery attempts so far.
    pub attempts: i32,
    /// The event may be claimed from this instant on (the end of the current
    /// lease, or the next retry).
    pub available_at: OffsetDateTime,
    /// When it was delivered; delivered events are never claimed again.
    pub delivered_at: Option<OffsetDateTime>,
    /// The error of the last failed attempt.
    pub last_error: Option<String>,
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
stored_enum!(RunState, "run state", {
    Closed => "CLOSED",
    PartiallyConfirmed => "PARTIALLY_CONFIRMED",
    Confirmed => "CONFIRMED",
});
stored_enum!(PaymentOutcome, "payment outcome", { Paid => "PAID", Failed => "FAILED" });

/// Parses a stored enum value, reporting an unknown one as corrupt data.
pub(crate) fn parse_stored<T: FromStr<Err = UnknownValue>>(value: &str) -> Result<T, StoreError> {
    value
        .parse()
        .map_err(|e: UnknownValue| StoreError::corrupt(e.to_string()))
}

/// Checks that hold for a timesheet whatever is stored already; both backends
/// run them before opening the transaction.
pub(crate) fn check_new_timesheet(new: &NewTimesheet) -> Result<(), StoreError> {
    let ts = &new.timesheet;
    if ts.status != TimesheetStatus::Accepted {
        return Err(StoreError::invalid_input(
            "a new timesheet must have status ACCEPTED",
        ));
    }
    if ts.period_to < ts.period_from {
        return Err(StoreError::invalid_input(
            "the timesheet period ends before it starts",
        ));
    }
    if ts.supersedes.is_none() && ts.version != 1 {
        return Err(StoreError::invalid_input(
            "a timesheet that supersedes none must have version 1",
        ));
    }
    if ts.supersedes == Some(ts.id) {
        return Err(StoreError::invalid_input(
            "a timesheet cannot supersede itself",
        ));
    }
    let mut positions = std::collections::HashSet::with_capacity(new.entries.len());
    for entry in &new.entries {
        if !positions.insert((entry.date, entry.seq)) {
            return Err(StoreError::invalid_input(format!(
                "two day entries of {} have position {}",
                entry.date, entry.seq
            )));
        }
        if entry.timesheet_id != ts.id || entry.participant_id != ts.participant_id {
            return Err(StoreError::invalid_input(
                "a day entry names another timesheet or participant",
            ));
        }
        if entry.date < ts.period_from || entry.date > ts.period_to {
            return Err(StoreError::invalid_input(
                "a day entry lies outside the timesheet period",
            ));
        }
    }
    Ok(())
}

/// Checks a benefit offset's month before it is stored.
pub(crate) fn check_offset(offset: &BenefitOffset) -> Result<(), StoreError> {
    if offset.month.day() != 1 {
        return Err(StoreError::invalid_input(
            "an offset month must be given as its first day",
        ));
    }
    Ok(())
}

/// Checks an optional end against a start (both ends included).
pub(crate) fn check_range(what: &str, from: Date, to: Option<Date>) -> Result<(), StoreError> {
    match to {
        Some(to) if to < from => Err(StoreError::invalid_input(format!(
            "the {what} ends before it starts"
        ))),
        _ => Ok(()),
    }
}

/// Checks a signer key's shape before it is stored.
pub(crate) fn check_signer_key(key: &SignerKey) -> Result<(), StoreError> {
    if key.public_key.len() != 32 {
        return Err(StoreError::invalid_input(
            "an Ed25519 public key is 32 bytes",
        ));
    }
    if key.revoked_at.is_some() || key.revocation_reason.is_some() {
        return Err(StoreError::invalid_input(
            "a key is registered unrevoked; revoke it afterwards",
        ));
    }
    if matches!(key.valid_until, Some(until) if until <= key.valid_from) {
        return Err(StoreError::invalid_input(
            "the key's validity ends before it starts",
        ));
    }
    Ok(())
}

/// The entries of the current (accepted) timesheets among a participant's
/// entries, in their order.
pub(crate) fn current_entries(
    timesheets: &[TimesheetPeriod],
    mut entries: Vec<DayEntry>,
) -> Vec<DayEntry> {
    let current: std::collections::HashSet<Uuid> = timesheets.iter().map(|t| t.id).collect();
    entries.retain(|e| current.contains(&e.timesheet_id));
    entries
}

/// Attaches pauses to their programmes, keeping both orders.
pub(crate) fn group_pauses(
    programmes: Vec<Programme>,
    pauses: Vec<Pause>,
) -> Vec<ProgrammeWithPauses> {
    let mut grouped: Vec<ProgrammeWithPauses> = programmes
        .into_iter()
        .map(|programme| ProgrammeWithPauses {
            programme,
            pauses: Vec::new(),
        })
        .collect();
    for pause in pauses {
        if let Some(owner) = grouped
            .iter_mut()
            .find(|p| p.programme.id == pause.programme_id)
        {
            owner.pauses.push(pause);
        }
    }
    grouped
}

/// The amount of a pay line in whole øre; more than two decimals, or an
/// amount beyond any budget, is refused.
pub(crate) fn whole_ore(amount: Decimal) -> Result<i64, StoreError> {
    use rust_decimal::prelude::ToPrimitive;
    amount
        .checked_mul(Decimal::ONE_HUNDRED)
        .filter(|ore| ore.fract().is_zero())
        .and_then(|ore| ore.to_i64())
        .ok_or_else(|| StoreError::invalid_input("a pay line amount must be a whole number of øre"))
}

/// Checks that hold for a new pay run whatever is stored already; both
/// backends run them before opening the transaction.
pub(crate) fn check_new_pay_run(new: &NewPayRun) -> Result<(), StoreError> {
    let run = &new.run;
    if run.state != RunState::Closed {
        return Err(StoreError::invalid_input(
            "a new pay run must have state CLOSED",
        ));
    }
    if run.month.day() != 1 {
        return Err(StoreError::invalid_input(
            "a pay run month must be given as its first day",
        ));
    }
    let mut participants = std::collections::HashSet::new();
    let mut total = Decimal::ZERO;
    for line in &new.lines {
        if line.run_id != run.id {
            return Err(StoreError::invalid_input("a pay line names another run"));
        }
        if matches!(line.attributed_month, Some(month) if month.day() != 1) {
            return Err(StoreError::invalid_input(
                "a pay line's attributed month must be given as its first day",
            ));
        }
        whole_ore(line.amount)?;
        total = total
            .checked_add(line.amount)
            .ok_or_else(|| StoreError::invalid_input("the run total overflows"))?;
        participants.insert(line.participant_id);
    }
    if usize::try_from(run.participant_count).ok() != Some(participants.len()) {
        return Err(StoreError::invalid_input(
            "the run's participant count is not the number of participants with lines",
        ));
    }
    if run.total != total {
        return Err(StoreError::invalid_input(
            "the run total is not the sum of its lines",
        ));
    }
    Ok(())
}

/// The state of a run with `participants` payslips of which `confirmed` are confirmed.
pub(crate) fn run_state(participants: i64, confirmed: i64) -> RunState {
    if confirmed == 0 {
        RunState::Closed
    } else if confirmed >= participants {
        RunState::Confirmed
    } else {
        RunState::PartiallyConfirmed
    }
}

/// Assembles a close's chunk of participants from one query per table, each
/// ordered by participant and then as `participant_facts` orders that table,
/// so every participant's lists come out in the same order as there.
pub(crate) struct ChunkBuilder {
    slots: std::collections::HashMap<Uuid, usize>,
    participants: Vec<CloseParticipant>,
    programmes: Vec<Vec<Programme>>,
    pauses: Vec<Vec<Pause>>,
}

impl ChunkBuilder {
    /// A chunk of these participants (in id order) with their marks.
    pub(crate) fn new(participants: Vec<(Participant, RecomputeMark)>) -> Self {
        let slots = participants
            .iter()
            .enumerate()
            .map(|(i, (p, _))| (p.id, i))
            .collect();
        let n = participants.len();
        Self {
            slots,
            participants: participants
                .into_iter()
                .map(|(participant, mark)| CloseParticipant {
                    facts: ParticipantFacts {
                        participant,
                        children: Vec::new(),
                        sole_carer_periods: Vec::new(),
                        offsets: Vec::new(),
                        programmes: Vec::new(),
                        timesheets: Vec::new(),
                        entries: Vec::new(),
                        decisions: Vec::new(),
                    },
                    mark,
                    ledger: Vec::new(),
                })
                .collect(),
            programmes: vec![Vec::new(); n],
            pauses: vec![Vec::new(); n],
        }
    }

    /// The first and last participant id of the chunk.
    pub(crate) fn bounds(&self) -> Option<(Uuid, Uuid)> {
        Some((
            self.participants.first()?.facts.participant.id,
            self.participants.last()?.facts.participant.id,
        ))
    }

    /// The chunk's participant ids, in order.
    pub(crate) fn ids(&self) -> Vec<Uuid> {
        self.participants
            .iter()
            .map(|p| p.facts.participant.id)
            .collect()
    }

    fn slot(&self, participant_id: Uuid) -> Result<usize, StoreError> {
        self.slots.get(&participant_id).copied().ok_or_else(|| {
            StoreError::corrupt("a fact of a participant outside the chunk was read")
        })
    }

    fn facts(&mut self, participant_id: Uuid) -> Result<&mut ParticipantFacts, StoreError> {
        let i = self.slot(participant_id)?;
        Ok(&mut self.participants[i].facts)
    }

    pub(crate) fn child(&mut self, child: Child) -> Result<(), StoreError> {
        self.facts(child.participant_id)?.children.push(child);
        Ok(())
    }

    pub(crate) fn sole_carer_period(&mut self, period: SoleCarerPeriod) -> Result<(), StoreError> {
        self.facts(period.participant_id)?
            .sole_carer_periods
            .push(period);
        Ok(())
    }

    pub(crate) fn offset(&mut self, offset: BenefitOffset) -> Result<(), StoreError> {
        self.facts(offset.participant_id)?.offsets.push(offset);
        Ok(())
    }

    pub(crate) fn programme(&mut self, programme: Programme) -> Result<(), StoreError> {
        let i = self.slot(programme.participant_id)?;
        self.programmes[i].push(programme);
        Ok(())
    }

    pub(crate) fn pause(&mut self, participant_id: Uuid, pause: Pause) -> Result<(), StoreError> {
        let i = self.slot(participant_id)?;
        self.pauses[i].push(pause);
        Ok(())
    }

    pub(crate) fn timesheet(
        &mut self,
        participant_id: Uuid,
        period: TimesheetPeriod,
    ) -> Result<(), StoreError> {
        self.facts(participant_id)?.timesheets.push(period);
        Ok(())
    }

    /// A day entry of any of the participant's timesheets: kept if its
    /// timesheet is one of the accepted ones given before (a superseded
    /// timesheet's entries are not facts any more).
    pub(crate) fn entry(&mut self, entry: DayEntry) -> Result<(), StoreError> {
        let facts = self.facts(entry.participant_id)?;
        if facts.timesheets.iter().any(|t| t.id == entry.timesheet_id) {
            facts.entries.push(entry);
        }
        Ok(())
    }

    pub(crate) fn decision(&mut self, decision: SanctionDecision) -> Result<(), StoreError> {
        self.facts(decision.participant_id)?
            .decisions
            .push(decision);
        Ok(())
    }

    pub(crate) fn ledger(&mut self, entry: LedgerEntry) -> Result<(), StoreError> {
        let i = self.slot(entry.participant_id)?;
        self.participants[i].ledger.push(entry);
        Ok(())
    }

    /// The participants, their programmes with pauses attached.
    pub(crate) fn finish(mut self) -> Vec<CloseParticipant> {
        for ((participant, programmes), pauses) in self
            .participants
            .iter_mut()
            .zip(self.programmes)
            .zip(self.pauses)
        {
            participant.facts.programmes = group_pauses(programmes, pauses);
        }
        self.participants
    }
}

/// Checks a chunk of lines of an open close before they are written, and
/// counts them in.
pub(crate) fn check_close_lines(
    run: &OpenRun,
    lines: &[PayLine],
    participants: &mut std::collections::HashSet<Uuid>,
    total: &mut Decimal,
) -> Result<(), StoreError> {
    for line in lines {
        if line.run_id != run.id {
            return Err(StoreError::invalid_input("a pay line names another run"));
        }
        if matches!(line.attributed_month, Some(month) if month.day() != 1) {
            return Err(StoreError::invalid_input(
                "a pay line's attributed month must be given as its first day",
            ));
        }
        whole_ore(line.amount)?;
        *total = total
            .checked_add(line.amount)
            .ok_or_else(|| StoreError::invalid_input("the run total overflows"))?;
        participants.insert(line.participant_id);
    }
    Ok(())
}

/// Checks an open close's finish against the lines written.
pub(crate) fn check_finish(
    finish: &FinishClose,
    participants: &std::collections::HashSet<Uuid>,
    total: Decimal,
) -> Result<(), StoreError> {
    if usize::try_from(finish.participant_count).ok() != Some(participants.len()) {
        return Err(StoreError::invalid_input(
            "the run's participant count is not the number of participants with lines",
        ));
    }
    if finish.total != total {
        return Err(StoreError::invalid_input(
            "the run total is not the sum of its lines",
        ));
    }
    Ok(())
}

/// Checks an open run's shape before anything is read or written.
pub(crate) fn check_open_run(run: &OpenRun) -> Result<(), StoreError> {
    if run.month.day() != 1 {
        return Err(StoreError::invalid_input(
            "a pay run month must be given as its first day",
        ));
    }
    Ok(())
}
