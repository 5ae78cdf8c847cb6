//! The records of pay periods: runs, lines, closing in chunks, the ledger,
//! payment confirmations, registered parameters and the outbox.

use std::fmt;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use super::*;
use kvp_rules::LineQuantity;
use kvp_rules::ledger::PayLineCode;
use kvp_rules::reporting::IncomeCoding;

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
    /// How many participants the run held (see [`HeldParticipant`]): they
    /// have no lines in it, and are not in `participant_count`.
    pub held_count: i32,
    /// The sum of the amounts of all lines of the run, in kroner.
    pub total: Decimal,
}

/// A participant a close could not compute, recorded in its run: paid
/// nothing in that run, while everyone else was paid. Their recompute mark
/// stays, so a later close recomputes the months held and pays them by
/// recompute-and-diff once the fact at fault is corrected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldParticipant {
    /// The run that held the participant.
    pub run_id: Uuid,
    /// The participant held (never their identity number).
    pub participant_id: Uuid,
    /// The first month that could not be computed, as its first day.
    pub month: Date,
    /// Why, as the rules engine said it (the field at fault and its value).
    pub reason: String,
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
    /// The line code (a month's line, or the recovery carried).
    pub line_code: PayLineCode,
    /// The month the line pays or corrects, as its first day; `None` for
    /// recovery lines, which belong to no month.
    pub attributed_month: Option<Date>,
    /// The days, hours or child-days behind the amount, with the display
    /// rate; `None` for lines without a unit (other benefits, recovery) and
    /// lines closed before quantities were kept.
    pub quantity: Option<LineQuantity>,
    /// Amount in kroner, a whole number of øre (at most two decimals).
    pub amount: Decimal,
    /// The line's explanation, as the rules crate wrote it.
    pub explanation: String,
    /// The municipality's pay code (lønnsart) for the line code, as it was
    /// at close; `None` on lines closed before codes were kept.
    pub pay_code: Option<String>,
    /// The participant's employee number as it was at close; `None` when
    /// none was registered (or on lines closed before numbers were kept).
    pub employee_number: Option<String>,
    /// How the line is reported and booked, as at close; `None` on lines
    /// closed before it was kept.
    pub reporting: Option<LineReporting>,
}

/// How a line is reported in the a-melding and booked, frozen at close.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineReporting {
    /// The a-melding income coding in force for the run's month.
    pub income: IncomeCoding,
    /// Whether it triggers employer's contribution (the municipality's setting).
    pub employer_contribution: bool,
    /// The municipality's accounting dimensions.
    pub accounting: Accounting,
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
    /// Everything the rules engine needs (as [`crate::ParticipantStore::participant_facts`]
    /// answers it, in the same orders).
    pub facts: ParticipantFacts,
    /// What changed since the participant was last recomputed.
    pub mark: RecomputeMark,
    /// What was paid for the participant, as [`crate::PayRunStore::ledger`]
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
    /// The participants the close could not compute: recorded with the run
    /// (its `held_count`), and none of them may have lines in it or be among
    /// `recomputed`.
    pub held: Vec<Hold>,
}

/// A participant held by a close, and where their recompute mark must stand
/// so that the next close recomputes every month this one left unpaid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    /// The hold as recorded with the run (`run_id` the open run's).
    pub held: HeldParticipant,
    /// The first day of the first month this close considered for the
    /// participant ([`RECOMPUTE_EVERYTHING`] for every month): their mark is
    /// moved back to it if it stands later or is clear, never forward.
    pub recompute_from: Date,
}

/// The result of [`crate::PayRunStore::begin_close`].
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
    pub line_code: PayLineCode,
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
    pub line_code: PayLineCode,
    /// The sum of the lines' amounts, in kroner, to the øre (two decimals).
    pub amount: Decimal,
    /// The sum of their quantities; `None` when one of them has none.
    pub quantity: Option<Decimal>,
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

/// One payslip's confirmation of a batch, with what recording it writes
/// beside it (nothing of which is written for a duplicate).
#[derive(Debug, Clone)]
pub struct PaymentToConfirm {
    /// The confirmation; its run is the batch's.
    pub confirmation: Confirmation,
    /// Its events (e.g. "stipend paid").
    pub events: Vec<NewOutboxEvent>,
    /// Its audit entry.
    pub audit: NewAuditEntry,
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
    /// The W3C trace context of the request that wrote it, if it was traced.
    pub traceparent: Option<String>,
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
    /// The W3C trace context of the request that wrote it, if it was traced.
    pub traceparent: Option<String>,
}
