//! Everything the service may ask of storage: one trait per area (participants
//! and their facts, signer keys, timesheets, sanctions, pay runs and the ledger,
//! parameters, outbox, audit), each backend implementing each in a file of its
//! own (`postgres/<area>.rs`, `sqlite/<area>.rs`), and `Repository`, all of them.

use std::fmt;

use async_trait::async_trait;
use rust_decimal::Decimal;
use time::{Date, OffsetDateTime};
use uuid::Uuid;

use crate::StoreError;
use crate::audit_chain::AuditVerification;
use crate::records::{
    AcceptOutcome, AuditEntry, BeginClose, BenefitOffset, Child, CloseContext, CloseParticipant,
    ConfirmOutcome, Confirmation, DayEntry, EmployeeNumber, Expected, FactChange, FactKind,
    FactVersion, FinishClose, HeldParticipant, IdempotencyClaim, IdempotencyRecord,
    IdempotentAnswer, LedgerEntry, LineTotal, Municipality, NewAuditEntry, NewOutboxEvent,
    NewTimesheet, OpenRun, OutboxEvent, Participant, ParticipantFacts, Pause, PayLine, PayRun,
    PaymentToConfirm, Programme, ProgrammeExtension, ProgrammeWithPauses, RegisteredG,
    ResealedIdentity, SanctionAppeal, SanctionDecision, SanctionWarning, SealedIdentity, SignerKey,
    SoleCarerPeriod, Timesheet,
};

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// An SQLite file (the embedded default; one instance).
    Sqlite,
    /// A PostgreSQL database (production; several instances).
    Postgres,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        })
    }
}

/// The payroll service's storage.
///
/// Every state-changing method takes the audit entry of the change and writes
/// it in the same transaction: both are stored, or neither, and the entry is
/// linked into the audit hash chain in that transaction. Methods that take
/// domain events ([`NewOutboxEvent`]) write them to the transactional outbox
/// in that same transaction, so an event exists exactly when its change does;
/// an event id that is taken is a [`StoreError::Conflict`]. `get_*` methods
/// answer [`StoreError::NotFound`] for a missing record; `find_*` methods
/// answer `None`. Lists come in a stable order, documented per method.
#[async_trait]
pub trait Repository:
    ParticipantStore
    + FactStore
    + SignerKeyStore
    + TimesheetStore
    + SanctionStore
    + PayRunStore
    + ParameterStore
    + OutboxStore
    + AuditStore
    + IdempotencyStore
    + IdentityKeyStore
    + Send
    + Sync
{
    /// Which database this store runs on.
    fn backend(&self) -> Backend;

    /// The migrations of this build the database lacks (for readiness
    /// probes; see [`crate::schema`]): empty when ready, an error when the
    /// database does not answer.
    async fn pending_migrations(&self) -> Result<Vec<String>, StoreError>;

    /// Closes the connections; later calls fail.
    async fn close(&self);
}

/// Municipalities, participants and the facts that change their pay: children, sole-carer periods, other benefits, programmes and pauses.
#[async_trait]
pub trait ParticipantStore: Send + Sync {
    /// Creates the municipality or replaces its name, policy overrides and pay
    /// codes, if the stored version is what `expected` says (`None`: any, or
    /// none); answers the version stored.
    async fn upsert_municipality(
        &self,
        municipality: &Municipality,
        expected: Option<Expected>,
        audit: &NewAuditEntry,
    ) -> Result<i64, StoreError>;

    /// The municipality with this number.
    async fn get_municipality(&self, id: &str) -> Result<Municipality, StoreError>;

    /// All municipalities, by number.
    async fn list_municipalities(&self) -> Result<Vec<Municipality>, StoreError>;

    /// Registers a participant. A participant with the same `nin_lookup` in the
    /// same municipality, or the same id, is a [`StoreError::Conflict`]; an
    /// unknown municipality is [`StoreError::NotFound`].
    async fn create_participant(
        &self,
        participant: &Participant,
        audit: &NewAuditEntry,
    ) -> Result<(), StoreError>;

    /// The participant with this id.
    async fn get_participant(&self, id: Uuid) -> Result<Participant, StoreError>;

    /// The participant of this municipality whose identity number has this keyed hash.
    async fn find_participant_by_nin(
        &self,
        municipality_id: &str,
        nin_lookup: &[u8],
    ) -> Result<Option<Participant>, StoreError>;

    /// The participants of a municipality, by registration time.
    async fn list_participants(
        &self,
        municipality_id: &str,
    ) -> Result<Vec<Participant>, StoreError>;

    /// Adds a child to a participant. A child born the same day as one
    /// registered is a [`StoreError::Duplicate`] (a retry, most likely),
    /// unless its reference tells it apart or `same_birth_date_confirmed`
    /// (twins, triplets) is set; a reference that is taken is a duplicate
    /// whatever the birth date.
    async fn add_child(
        &self,
        child: &Child,
        same_birth_date_confirmed: bool,
        audit: &NewAuditEntry,
    ) -> Result<(), StoreError>;

    /// A participant's children, by birth date.
    async fn list_children(&self, participant_id: Uuid) -> Result<Vec<Child>, StoreError>;

    /// Adds a sole-carer period to a participant.
    async fn add_sole_carer_period(
        &self,
        period: &SoleCarerPeriod,
        audit: &NewAuditEntry,
    ) -> Result<(), StoreError>;

    /// A participant's sole-carer periods, by first day.
    async fn list_sole_carer_periods(
        &self,
        participant_id: Uuid,
    ) -> Result<Vec<SoleCarerPeriod>, StoreError>;

    /// Adds a monthly other-benefit offset; the month must be a first day. One
    /// exists for the participant, month and kind already: a
    /// [`StoreError::Duplicate`].
    async fn add_benefit_offset(
        &self,
        offset: &BenefitOffset,
        audit: &NewAuditEntry,
    ) -> Result<(), StoreError>;

    /// A participant's other-benefit offsets, by month and kind.
    async fn list_benefit_offsets(
        &self,
        participant_id: Uuid,
    ) -> Result<Vec<BenefitOffset>, StoreError>;

    /// Stores a programme decision; one that shares a day with another of the
    /// participant's is a [`StoreError::Conflict`] (so is an end that would).
    async fn create_programme(
        &self,
        programme: &Programme,
        audit: &NewAuditEntry,
    ) -> Result<(), StoreError>;

    /// The programme decision with this id.
    async fn get_programme(&self, id: Uuid) -> Result<Programme, StoreError>;

    /// Adds a pause to a programme (the programme's own version stays).
    async fn add_pause(&self, pause: &Pause, audit: &NewAuditEntry) -> Result<(), StoreError>;

    /// Registers or changes a participant's employee number from the version
    /// `expected` ([`Expected::Absent`] to register); a number another
    /// participant of the municipality has is a [`StoreError::Duplicate`]
    /// naming them. Answers the version stored.
    async fn set_employee_number(
        &self,
        number: &EmployeeNumber,
        expected: Expected,
        audit: &NewAuditEntry,
    ) -> Result<EmployeeNumber, StoreError>;

    /// A participant's employee number, if one is registered.
    async fn employee_number(
        &self,
        participant_id: Uuid,
    ) -> Result<Option<EmployeeNumber>, StoreError>;

    /// The employee numbers of a municipality's participants.
    async fn employee_numbers(
        &self,
        municipality_id: &str,
    ) -> Result<Vec<EmployeeNumber>, StoreError>;

    /// Stores an extension of a programme's approved period, with its audit
    /// entry; an unknown programme is not found.
    async fn add_extension(
        &self,
        extension: &ProgrammeExtension,
        audit: &NewAuditEntry,
    ) -> Result<(), StoreError>;

    /// The extensions of a participant's programmes, by programme and until.
    async fn list_extensions(
        &self,
        participant_id: Uuid,
    ) -> Result<Vec<ProgrammeExtension>, StoreError>;

    /// A participant's programmes with their pauses, by start.
    async fn list_programmes(
        &self,
        participant_id: Uuid,
    ) -> Result<Vec<ProgrammeWithPauses>, StoreError>;

    /// Everything the rules engine needs about a participant, read in one
    /// consistent snapshot.
    async fn participant_facts(&self, participant_id: Uuid)
    -> Result<ParticipantFacts, StoreError>;
}

/// Facts over time: the versions of every fact that changes money (see
/// [`FactVersion`]), and their corrections and voids.
///
/// Each fact's first version is written by the method that registers it, in
/// its transaction. A change is the next version: the fact's row in its
/// table is updated (a correction) or removed (a void) in the same
/// transaction, which moves the participant's recompute mark (the tables'
/// triggers), so the next close pays or recovers the difference.
#[async_trait]
pub trait FactStore: Send + Sync {
    /// Every version of a fact, oldest first; [`StoreError::NotFound`] for a
    /// fact never registered.
    async fn fact_versions(
        &self,
        kind: FactKind,
        fact_id: &str,
    ) -> Result<Vec<FactVersion>, StoreError>;

    /// Corrects or voids a fact, with its events and audit entry (whose actor
    /// and instant the version records), and answers the version stored.
    ///
    /// - An unknown fact: [`StoreError::NotFound`].
    /// - A latest version other than `expected`: [`StoreError::VersionMismatch`].
    /// - A void fact: [`StoreError::InvalidState`] (void is final; register
    ///   the fact anew).
    /// - Content of another kind, a change of what never changes (a
    ///   decision's day and kind), or a range that ends before it starts:
    ///   [`StoreError::InvalidInput`].
    /// - A correction that makes the fact a duplicate of another (a child's
    ///   reference, an offset's month and kind): [`StoreError::Duplicate`];
    ///   a programme period that overlaps another: [`StoreError::Conflict`].
    ///
    /// Voiding a programme voids its pauses with it (each a version of its
    /// own). Any error writes nothing.
    async fn change_fact(
        &self,
        change: &FactChange,
        events: &[NewOutboxEvent],
        audit: &NewAuditEntry,
    ) -> Result<FactVersion, StoreError>;
}

/// The signer registry: participants', supervisors' and providers' keys and their revocation.
#[async_trait]
pub trait SignerKeyStore: Send + Sync {
    /// Registers a key; a taken key id is a [`StoreError::Conflict`].
    async fn register_signer_key(
        &self,
        key: &SignerKey,
        audit: &NewAuditEntry,
    ) -> Result<(), StoreError>;

    /// The key with this id.
    async fn get_signer_key(&self, keyid: &str) -> Result<SignerKey, StoreError>;

    /// The registered keys among `keyids` (an envelope's), in their order;
    /// ids not registered are left out.
    async fn find_signer_keys(&self, keyids: &[&str]) -> Result<Vec<SignerKey>, StoreError> {
        let mut found = Vec::with_capacity(keyids.len());
        for keyid in keyids {
            match self.get_signer_key(keyid).await {
                Ok(key) => found.push(key),
                Err(StoreError::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(found)
    }

    /// All keys, by registration time.
    async fn list_signer_keys(&self) -> Result<Vec<SignerKey>, StoreError>;

    /// Assigns a supervisor key registered without a municipality (a
    /// national key of before) to `municipality_id`, once; answers the key as
    /// stored. Another role's key, or one assigned already, is
    /// [`StoreError::InvalidState`].
    async fn assign_signer_key(
        &self,
        keyid: &str,
        municipality_id: &str,
        audit: &NewAuditEntry,
    ) -> Result<SignerKey, StoreError>;

    /// Revokes a key from `revoked_at` on and answers the key as stored.
    /// Revoking a revoked key is [`StoreError::InvalidState`]. Timesheets
    /// accepted before are not touched.
    async fn revoke_signer_key(
        &self,
        keyid: &str,
        revoked_at: OffsetDateTime,
        reason: &str,
        audit: &NewAuditEntry,
    ) -> Result<SignerKey, StoreError>;
}

/// Signed timesheets and their day entries.
#[async_trait]
pub trait TimesheetStore: Send + Sync {
    /// Stores a timesheet with its entries and audit entry in one transaction.
    ///
    /// - A stored timesheet with the same digest: [`AcceptOutcome::Duplicate`]
    ///   with it, and nothing is written.
    /// - `supersedes` set: that timesheet must exist ([`StoreError::NotFound`]),
    ///   be the same participant's and still be accepted
    ///   ([`StoreError::InvalidState`]), and `version` must be its version + 1;
    ///   it becomes superseded.
    /// - A period overlapping another accepted timesheet of the participant:
    ///   [`StoreError::Overlap`].
    ///
    /// Concurrent calls for one participant are serialised, so two overlapping
    /// timesheets can never both be accepted. The timesheet's events
    /// ([`NewTimesheet::events`]) are written to the outbox with it (not for a
    /// duplicate). Any error leaves nothing stored, events included.
    async fn accept_timesheet(&self, new: &NewTimesheet) -> Result<AcceptOutcome, StoreError>;

    /// The timesheet with this id (accepted or superseded).
    async fn get_timesheet(&self, id: Uuid) -> Result<Timesheet, StoreError>;

    /// The timesheet with this digest, if one was stored.
    async fn find_timesheet_by_digest(&self, digest: &str)
    -> Result<Option<Timesheet>, StoreError>;

    /// A participant's accepted (not superseded) timesheets, by first day.
    async fn list_current_timesheets(
        &self,
        participant_id: Uuid,
    ) -> Result<Vec<Timesheet>, StoreError>;

    /// The day entries of a timesheet, by date and position.
    async fn list_day_entries(&self, timesheet_id: Uuid) -> Result<Vec<DayEntry>, StoreError>;
}

/// The sanction procedure on unexcused absence (§ 36): warnings, decisions,
/// appeals.
#[async_trait]
pub trait SanctionStore: Send + Sync {
    /// Stores a warning with the days it concerns, its events and audit
    /// entry; an unknown participant is not found.
    async fn record_warning(
        &self,
        warning: &SanctionWarning,
        events: &[NewOutboxEvent],
        audit: &NewAuditEntry,
    ) -> Result<(), StoreError>;

    /// A participant's warnings, by the day given, each with its days.
    async fn list_warnings(&self, participant_id: Uuid)
    -> Result<Vec<SanctionWarning>, StoreError>;

    /// Stores an appeal against a decision, with its events and audit entry;
    /// a second appeal against the same decision is a
    /// [`StoreError::Conflict`].
    async fn record_appeal(
        &self,
        appeal: &SanctionAppeal,
        events: &[NewOutboxEvent],
        audit: &NewAuditEntry,
    ) -> Result<(), StoreError>;

    /// Decides an open appeal (`decided` carries the outcome, the day and
    /// the reference) and, when the outcome changes the decision, records
    /// `change` as the decision's next version — together, with the events
    /// and audit entry. An appeal decided already is
    /// [`StoreError::InvalidState`]; the change fails as
    /// [`FactStore::change_fact`] does, and then nothing is written.
    async fn decide_appeal(
        &self,
        decided: &SanctionAppeal,
        change: Option<&FactChange>,
        events: &[NewOutboxEvent],
        audit: &NewAuditEntry,
    ) -> Result<(), StoreError>;

    /// A participant's appeals, by the day received.
    async fn list_appeals(&self, participant_id: Uuid) -> Result<Vec<SanctionAppeal>, StoreError>;

    /// Stores a sanction decision with its events (e.g. "deduction decided")
    /// and audit entry; a second decision for the same participant, date and
    /// entry kind is a [`StoreError::Conflict`], and writes nothing.
    async fn record_decision(
        &self,
        decision: &SanctionDecision,
        events: &[NewOutboxEvent],
        audit: &NewAuditEntry,
    ) -> Result<(), StoreError>;

    /// A participant's sanction decisions, by date and entry kind.
    async fn list_decisions(
        &self,
        participant_id: Uuid,
    ) -> Result<Vec<SanctionDecision>, StoreError>;
}

/// Pay runs, their lines, the ledger of what was paid and payment confirmations.
#[async_trait]
pub trait PayRunStore: Send + Sync {
    /// Begins closing a municipality's month in chunks, so that a close of
    /// 100 000 participants reads and writes a few thousand at a time.
    ///
    /// - A run for the municipality and month exists: [`BeginClose::Closed`]
    ///   with it, and nothing is held.
    /// - Otherwise [`BeginClose::Open`]: the session holds the
    ///   municipality's close until it finishes or is dropped (a second close
    ///   of the municipality, in any instance, waits, then finds this run or
    ///   writes its own), and reads everything from one snapshot taken once
    ///   it holds it. The run, its lines, events, audit entry and the cleared
    ///   marks commit together at [`CloseSession::finish`]; dropping the
    ///   session writes nothing.
    ///
    /// An unknown municipality is [`StoreError::NotFound`]; a taken run id a
    /// [`StoreError::Conflict`]. On SQLite the session holds the write lock
    /// throughout (writers wait; readers do not).
    async fn begin_close(&self, run: &OpenRun) -> Result<BeginClose, StoreError>;

    /// The run with this id.
    async fn get_run(&self, id: Uuid) -> Result<PayRun, StoreError>;

    /// The municipality's run for the month (given as its first day), if closed.
    async fn find_run(
        &self,
        municipality_id: &str,
        month: Date,
    ) -> Result<Option<PayRun>, StoreError>;

    /// The municipality's runs, by month.
    async fn list_runs(&self, municipality_id: &str) -> Result<Vec<PayRun>, StoreError>;

    /// All lines of a run, by participant and `seq` (empty for an unknown run).
    async fn list_pay_lines(&self, run_id: Uuid) -> Result<Vec<PayLine>, StoreError>;

    /// The lines of every run attributed to one participant's month (the
    /// month's first day), by run then position: that participant's lines
    /// only, however large the runs.
    async fn list_lines_for_month(
        &self,
        participant_id: Uuid,
        month: Date,
    ) -> Result<Vec<PayLine>, StoreError>;

    /// The participants a run held (see [`HeldParticipant`]), by participant;
    /// empty for an unknown run or one that held nobody.
    async fn list_held(&self, run_id: Uuid) -> Result<Vec<HeldParticipant>, StoreError>;

    /// The participants with lines in a run and no employee number frozen
    /// into them, by participant id.
    async fn without_employee_number(&self, run_id: Uuid) -> Result<Vec<Uuid>, StoreError>;

    /// The participants the municipality's latest run held, by month then
    /// participant: those still waiting for a close to pay them (a close
    /// that computes them pays the held months and holds them no more).
    /// Empty with no run, or when the latest run held nobody.
    async fn current_holds(
        &self,
        municipality_id: &str,
    ) -> Result<Vec<HeldParticipant>, StoreError>;

    /// A run's lines summed per line code, those of the run's month apart
    /// from the others, by line code then `of_run_month` (false first); empty
    /// for an unknown run. One query, however many lines the run has.
    async fn run_totals(&self, run_id: Uuid) -> Result<Vec<LineTotal>, StoreError>;

    /// One page of a run's lines in the order of [`PayRunStore::list_pay_lines`]:
    /// at most `limit` lines after the position `after` (participant, `seq`),
    /// or from the start with `None`. Pass the last line's position to get
    /// the next page; an empty page is the end (so `limit` must be at least 1).
    async fn list_pay_lines_after(
        &self,
        run_id: Uuid,
        after: Option<(Uuid, i32)>,
        limit: u32,
    ) -> Result<Vec<PayLine>, StoreError>;

    /// What has been paid so far in the municipality: the lines of all its
    /// runs summed per participant, attributed month and line code, leaving
    /// out every payslip (run + participant) confirmed as
    /// [`crate::PaymentOutcome::Failed`], which the next run pays again.
    /// Entries with `attributed_month: None` sum the recovery lines: the
    /// recovery balance. Ordered by participant, month (`None` first), line
    /// code; read in one query, one consistent snapshot.
    async fn ledger(&self, municipality_id: &str) -> Result<Vec<LedgerEntry>, StoreError>;

    /// Records the payroll system's confirmation of one payslip, with its
    /// events (e.g. "stipend paid") and audit entry, and moves the run's
    /// state on: [`crate::RunState::Confirmed`] once every participant of the
    /// run is confirmed, else [`crate::RunState::PartiallyConfirmed`].
    ///
    /// Idempotent on run + participant: the same confirmation again (see
    /// [`Confirmation::same_payment`]) is [`ConfirmOutcome::Duplicate`] and
    /// writes nothing; a different one is a [`StoreError::Conflict`]. An
    /// unknown run is [`StoreError::NotFound`]; a participant without lines in
    /// the run is [`StoreError::InvalidState`]. Concurrent confirmations of
    /// one run are serialised, so the state is always right.
    async fn confirm_payment(
        &self,
        confirmation: &Confirmation,
        events: &[NewOutboxEvent],
        audit: &NewAuditEntry,
    ) -> Result<ConfirmOutcome, StoreError>;

    /// Records up to a batch of one run's payslip confirmations at once, all
    /// or nothing, as [`PayRunStore::confirm_payment`] records one: a
    /// confirmation recorded before with the same values is a duplicate
    /// (`true` in the answer, in the order given) and writes nothing; the
    /// others are recorded with their events and audit entries. Any
    /// confirmation recorded before with other values (or twice in the batch
    /// with different ones) fails the whole batch with a
    /// [`StoreError::Conflict`] naming every such participant, and nothing is
    /// written; so does a participant without lines in the run
    /// ([`StoreError::InvalidState`]). An unknown run is
    /// [`StoreError::NotFound`].
    async fn confirm_payments(
        &self,
        run_id: Uuid,
        batch: &[PaymentToConfirm],
    ) -> Result<(PayRun, Vec<bool>), StoreError>;

    /// The confirmations of a run, by participant.
    async fn list_confirmations(&self, run_id: Uuid) -> Result<Vec<Confirmation>, StoreError>;

    /// One payslip's confirmation, if recorded.
    async fn find_confirmation(
        &self,
        run_id: Uuid,
        participant_id: Uuid,
    ) -> Result<Option<Confirmation>, StoreError>;

    /// A run's line with this id, if the run has one (where a stream of the
    /// run's lines resumes).
    async fn find_pay_line(
        &self,
        run_id: Uuid,
        line_id: Uuid,
    ) -> Result<Option<PayLine>, StoreError>;

    /// A participant's payslip in a run by the month its lines are
    /// attributed to (`None`: a recovery carried from earlier runs), oldest
    /// first, each summed in SQL; empty when the run has no line of theirs.
    /// It reads that payslip's lines only, however large the run; the gross
    /// is the sum of the amounts.
    async fn payslip_by_month(
        &self,
        run_id: Uuid,
        participant_id: Uuid,
    ) -> Result<Vec<(Option<Date>, Decimal)>, StoreError>;
}

/// Parameters registered at run time (the G).
#[async_trait]
pub trait ParameterStore: Send + Sync {
    /// Registers a grunnbeløp with its events (the back-pay trigger) and
    /// audit entry. A value registered for the same effective date already is
    /// a [`StoreError::Conflict`], and nothing is written.
    async fn register_g(
        &self,
        g: &RegisteredG,
        events: &[NewOutboxEvent],
        audit: &NewAuditEntry,
    ) -> Result<(), StoreError>;

    /// Every registered grunnbeløp, by effective date.
    async fn list_registered_g(&self) -> Result<Vec<RegisteredG>, StoreError>;
}

/// The transactional outbox, relay side.
#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Claims up to `limit` undelivered events whose `available_at <= now`,
    /// oldest first (by `created_at`, then the order written), and leases
    /// them: their `available_at` becomes `lease_until`, so no other claim
    /// returns them before then, and if the relay dies they come back when
    /// the lease runs out. Concurrent claimers (several instances) never get
    /// the same event from one claim round.
    async fn claim_outbox(
        &self,
        now: OffsetDateTime,
        lease_until: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<OutboxEvent>, StoreError>;

    /// Marks an event delivered at `at`; it is never claimed again. Marking a
    /// delivered event again keeps the first instant. An unknown id is
    /// [`StoreError::NotFound`].
    async fn mark_delivered(&self, id: Uuid, at: OffsetDateTime) -> Result<(), StoreError>;

    /// Records a failed delivery: counts the attempt, keeps `error` as the
    /// last error and makes the event claimable again from `retry_at`. An
    /// event delivered meanwhile (by another relay whose lease ran out) stays
    /// delivered and untouched. An unknown id is [`StoreError::NotFound`].
    async fn mark_failed(
        &self,
        id: Uuid,
        error: &str,
        retry_at: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// How many events are not delivered yet.
    async fn outbox_backlog(&self) -> Result<i64, StoreError>;
}

/// The identity key the participants' identity numbers are sealed with,
/// known by its public id (never the key itself).
#[async_trait]
pub trait IdentityKeyStore: Send + Sync {
    /// The id of the key the numbers are sealed with; `None` before the
    /// service first adopted one.
    async fn identity_key_id(&self) -> Result<Option<String>, StoreError>;

    /// Every participant's sealed number, by participant id.
    async fn sealed_identities(&self) -> Result<Vec<SealedIdentity>, StoreError>;

    /// Replaces participants' lookups and sealed numbers and records `key_id`
    /// as the key they are sealed with, with `audit`, in one transaction;
    /// when the recorded key is not `expected` nothing changes
    /// ([`StoreError::Conflict`]).
    async fn reseal_identities(
        &self,
        expected: Option<&str>,
        key_id: &str,
        resealed: &[ResealedIdentity],
        audit: &NewAuditEntry,
    ) -> Result<(), StoreError>;
}

/// The audit trail and its hash chain.
#[async_trait]
pub trait AuditStore: Send + Sync {
    /// The audit entries about one record, oldest first.
    async fn list_audit(
        &self,
        subject_type: &str,
        subject_id: &str,
    ) -> Result<Vec<AuditEntry>, StoreError>;

    /// The chain sequence number and stored hash of entry `seq`, or of the
    /// last chained entry (the head) for `None`; `None` when there is no
    /// such entry. Only [`AuditStore::verify_audit_chain`] says whether the
    /// stored hashes are the entries' own.
    async fn audit_chain_hash(
        &self,
        seq: Option<u64>,
    ) -> Result<Option<(u64, [u8; 32])>, StoreError>;

    /// Recomputes the audit log's hash chain in order, in one consistent
    /// snapshot: every entry's number, link to the entry before it and hash
    /// (see [`crate::audit_chain`]). Answers how many entries verified and the
    /// first broken one, if any; a broken chain is an answer, not an error.
    async fn verify_audit_chain(&self) -> Result<AuditVerification, StoreError>;
}

/// Answers to creating requests by idempotency key, so that a retry whose
/// first answer was lost gets that answer again and changes nothing.
///
/// A key is claimed by the request's first change, in that change's
/// transaction ([`NewAuditEntry::idempotency`]): a claimed key means the
/// change was made. A claim on a key another request holds is
/// [`StoreError::KeyInUse`], and that change is not written.
#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// What is stored under the caller's key, if anything.
    async fn find_idempotency(
        &self,
        scope: &str,
        key: &str,
    ) -> Result<Option<IdempotencyRecord>, StoreError>;

    /// Records the answer of the request that claimed the key; a request that
    /// changed nothing claims it now, with its answer. Answers `false`, and
    /// records nothing, when another request holds the key.
    async fn record_idempotent_answer(
        &self,
        claim: &IdempotencyClaim,
        answer: &IdempotentAnswer,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// Forgets the keys claimed before `before`; answers how many.
    async fn purge_idempotency_keys(&self, before: OffsetDateTime) -> Result<u64, StoreError>;
}

/// A close in progress (see [`PayRunStore::begin_close`]): reads participants
/// chunk by chunk from one snapshot and writes their lines as it goes.
#[async_trait]
pub trait CloseSession: Send {
    /// The municipality, its earlier runs, the registered G values and the
    /// latest run's basis, from the session's snapshot.
    fn context(&self) -> &CloseContext;

    /// The next at most `limit` participants of the municipality in id order
    /// after `after` (from the first with `None`), with their facts, marks
    /// and ledger; an empty answer is the end.
    ///
    /// Each participant's ledger holds the recovery balance and the months
    /// from `min(mark.from, floor)` on, or from `floor` when the mark is
    /// clear; `floor: None` means every month. Months before that paid
    /// what the engine gave when they were last computed, and nothing that
    /// enters them has changed since (see [`crate::RecomputeMark`]).
    async fn participants(
        &mut self,
        after: Option<Uuid>,
        limit: u32,
        floor: Option<Date>,
    ) -> Result<Vec<CloseParticipant>, StoreError>;

    /// Writes lines of the run, in multi-row statements. Each must name the
    /// open run, a first day as its month and a whole number of øre; lines of
    /// an unknown participant or two lines of one participant with the same
    /// `seq` are [`StoreError::InvalidInput`].
    async fn write_lines(&mut self, lines: &[PayLine]) -> Result<(), StoreError>;

    /// Commits the run with the lines written, its holds, events, audit entry
    /// and basis, clears the marks of the recomputed participants whose
    /// version is still the one read, and moves each held participant's
    /// mark back to its hold's `recompute_from` (never forward), so the next
    /// close recomputes what this one held. A count or total that does not
    /// match the lines written, a line or hold of another municipality's
    /// participant, a held participant with lines or among the recomputed,
    /// or a hold without a reason, is [`StoreError::InvalidInput`], and
    /// nothing is written.
    async fn finish(self: Box<Self>, finish: FinishClose) -> Result<PayRun, StoreError>;
}
