//! Pay periods: closing a municipality's month by recompute-and-diff, payment
//! confirmation, and the G registered at run time.
//!
//! For every participant and every month up to the one closed, the rules engine
//! recomputes the month from the facts known now; what closed runs already paid
//! for that month (the ledger) is subtracted, and each difference becomes a line
//! attributed to the month it pays or corrects. So late timesheets, late
//! decisions, corrected timesheets, changed programmes and a late G all flow
//! through one mechanism, and for every participant and month the lines of all
//! closed runs sum to the engine's current result. A payslip never goes below
//! zero: a shortfall is carried to the next run as a recovery line. That
//! arithmetic is `kvp_rules::ledger`, pure and tested on its own; this module
//! reads the facts and the ledger for it and stores what it gives.
//!
//! Because of that invariant a close need not recompute what cannot have
//! changed: a month before both the participant's recompute mark (moved back
//! by the database, in the same transaction, by every change to a fact the
//! month reads) and the month after the latest run pays what the engine gives
//! already, as long as the parameters, the municipality's policy and the code
//! are those the latest run recorded in its [`Basis`] (otherwise everyone is
//! recomputed, from the first changed G's month or from the beginning). And
//! a month no timesheet touches, with nothing paid for it, pays nothing. The
//! result is the same lines as recomputing every month; the tests
//! `invariant` and `periods` in `tests/system` check that late facts of
//! every kind still reach the months they change.
//!
//! One participant never stops the run: a participant whose month the rules
//! engine refuses (a fact out of its bounds, e.g. written straight into the
//! database) is held — recorded in the run with the month and the reason,
//! paid nothing in it — and everyone else is paid. Their recompute mark is
//! not cleared but moved back to the first month this close considered for
//! them, so the next close recomputes those months and, once the fact is
//! corrected, pays them by recompute-and-diff like any late fact.

use std::sync::Arc;

use kvp_proto::kvp::events::v1 as ev;
use kvp_rules::ledger::{self, LedgerEntry, Paid};
use kvp_rules::{Explain, Parameters, Policy, YearMonth, compute_month_explained};
use kvp_store::{
    BeginClose, CloseParticipant, ConfirmOutcome, Confirmation, FinishClose, HeldParticipant, Hold,
    OpenRun, PayLine, PayRun, PaymentOutcome, PaymentToConfirm, RECOMPUTE_EVERYTHING, RegisteredG,
};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};
use time::{Date, OffsetDateTime};
use tracing::instrument;
use uuid::Uuid;

use crate::client_identity::Scope;
use crate::error::ServiceError;
use crate::events::{outbox_event, timestamp};
use crate::payroll::handoff::FrozenHandoff;
use crate::payroll::{Actor, Payroll, audit};

/// One participant's lines for a run, as stored: the ledger arithmetic's
/// lines (`kvp_rules::ledger::run_lines`) numbered in order, with the pay
/// code, employee number, a-melding coding and accounting dimensions they
/// are imported by, frozen as they are now.
fn pay_lines(
    computing: &Computing,
    participant_id: Uuid,
    lines: Vec<ledger::RunLine>,
) -> Vec<PayLine> {
    lines
        .into_iter()
        .enumerate()
        .map(|(seq, line)| PayLine {
            id: Uuid::now_v7(),
            run_id: computing.run_id,
            participant_id,
            seq: i32::try_from(seq).unwrap_or(i32::MAX),
            pay_code: Some(computing.handoff.pay_code(line.code)),
            employee_number: computing.employee_numbers.get(&participant_id).cloned(),
            reporting: Some(computing.handoff.reporting.clone()),
            line_code: line.code,
            attributed_month: line.month.map(YearMonth::first_day),
            quantity: line.quantity,
            amount: line.amount,
            explanation: line.explanation,
        })
        .collect()
}

/// Participants read, computed and written per step of a close. Memory is
/// bounded by one chunk being computed and one being read; a larger chunk
/// saves little (a chunk costs about ten queries).
pub const CLOSE_CHUNK: u32 = 2_000;

/// What every participant's computation in a close shares.
struct Computing {
    run_id: Uuid,
    closing: YearMonth,
    /// Months from here on are recomputed for everyone; `None`: every month.
    floor: Option<YearMonth>,
    parameters: Parameters,
    policy: Policy,
    /// The pay codes, a-melding coding and accounting dimensions at close.
    handoff: FrozenHandoff,
    /// The participants' employee numbers at close.
    employee_numbers: std::collections::HashMap<Uuid, String>,
}

/// A chunk's lines and bookkeeping.
struct Computed {
    lines: Vec<PayLine>,
    /// Participants with at least one line.
    paid: i32,
    /// Every participant of the chunk but those held, with the mark version read.
    recomputed: Vec<(Uuid, i64)>,
    /// The participants of the chunk whose months could not be computed.
    held: Vec<Hold>,
    months_computed: usize,
    elapsed: std::time::Duration,
}

/// Why a participant's payslip could not be made: the first month the rules
/// engine refused, and its words.
#[derive(Debug)]
struct Unpayable {
    month: YearMonth,
    reason: String,
}

/// A close's running sums.
#[derive(Default)]
struct CloseTotals {
    participants: i32,
    participants_read: usize,
    lines: usize,
    total: Decimal,
    months_computed: usize,
    recomputed: Vec<(Uuid, i64)>,
    held: Vec<Hold>,
    read: std::time::Duration,
    compute: std::time::Duration,
    write: std::time::Duration,
}

impl CloseTotals {
    fn add(&mut self, computed: Computed) {
        self.participants += computed.paid;
        self.participants_read += computed.recomputed.len();
        self.lines += computed.lines.len();
        self.total += computed.lines.iter().map(|l| l.amount).sum::<Decimal>();
        self.months_computed += computed.months_computed;
        self.recomputed.extend(computed.recomputed);
        self.held.extend(computed.held);
        self.compute += computed.elapsed;
    }
}

/// Computes a chunk's payslips (on a blocking thread: this is the CPU work).
/// A participant whose months cannot be computed is held, not an error: the
/// others are paid.
fn compute_chunk(chunk: &[CloseParticipant], computing: &Computing) -> Computed {
    let started = std::time::Instant::now();
    let mut computed = Computed {
        lines: Vec::new(),
        paid: 0,
        recomputed: Vec::with_capacity(chunk.len()),
        held: Vec::new(),
        months_computed: 0,
        elapsed: std::time::Duration::ZERO,
    };
    for participant in chunk {
        let id = participant.facts.participant.id;
        match participant_lines(participant, computing) {
            Ok((lines, months)) => {
                if !lines.is_empty() {
                    computed.paid += 1;
                    computed.lines.extend(lines);
                }
                computed.months_computed += months;
                computed.recomputed.push((id, participant.mark.version));
            }
            Err(unpayable) => {
                // Never the identity number: the participant id and the
                // engine's words (a field and its value) only.
                tracing::warn!(
                    run_id = %computing.run_id,
                    participant_id = %id,
                    month = %unpayable.month,
                    reason = %unpayable.reason,
                    "participant held: a month cannot be computed"
                );
                computed.held.push(hold(participant, computing, unpayable));
            }
        }
    }
    computed.elapsed = started.elapsed();
    computed
}

/// The hold of a participant this close could not pay. Their mark goes back
/// to the first month this close considered for them (the earlier of their
/// mark and the floor), not just to the month refused: every month from
/// there may owe a difference this run did not pay, and the next close's
/// floor will be later.
fn hold(participant: &CloseParticipant, computing: &Computing, unpayable: Unpayable) -> Hold {
    let from = ledger::recompute_from(computing.floor, participant.mark.from.map(YearMonth::of));
    Hold {
        held: HeldParticipant {
            run_id: computing.run_id,
            participant_id: participant.facts.participant.id,
            month: unpayable.month.first_day(),
            reason: unpayable.reason,
        },
        recompute_from: from.map_or(RECOMPUTE_EVERYTHING, YearMonth::first_day),
    }
}

/// One participant's payslip for the close, and how many months were computed.
///
/// The months considered are those from the programme's first month and those
/// something was paid for, up to the month closed, from the first month that
/// may have changed on (the earlier of the participant's mark and the
/// floor). Before that month every month pays what the engine gives (the
/// ledger invariant, kept by the close that cleared the mark), so its
/// difference is zero. A month that no accepted timesheet touches has no paid
/// day (R12), so every line of it is zero: with nothing paid for it either,
/// its difference is zero too, and it is not computed.
///
/// The first month the rules engine refuses makes the whole payslip
/// [`Unpayable`]: paying the other months alone would pay a payslip the
/// participant cannot be shown whole.
fn participant_lines(
    participant: &CloseParticipant,
    computing: &Computing,
) -> Result<(Vec<PayLine>, usize), Unpayable> {
    let facts = &participant.facts;
    let from = ledger::recompute_from(computing.floor, participant.mark.from.map(YearMonth::of));
    let paid = Paid::from_entries(participant.ledger.iter().map(|entry| LedgerEntry {
        month: entry.attributed_month.map(YearMonth::of),
        code: entry.line_code,
        amount: entry.amount,
        quantity: entry.quantity,
    }))
    .map_err(|e| Unpayable {
        month: computing.closing,
        reason: e.to_string(),
    })?;
    let programme_start = facts
        .programmes
        .iter()
        .map(|p| YearMonth::of(p.programme.start))
        .min();
    let mut targets = Vec::new();
    for m in ledger::months_to_compute(programme_start, &paid, from, computing.closing) {
        if !paid.paid_anything(m) && !crate::facts::touches(facts, m) {
            continue;
        }
        let unpayable = |reason: String| Unpayable { month: m, reason };
        let result =
            match crate::facts::month_facts(facts, m).map_err(|e| unpayable(e.to_string()))? {
                // A run's lines keep each line's summary; a statement
                // shows the details from a fresh computation.
                Some(month_facts) => compute_month_explained(
                    &month_facts,
                    &computing.parameters,
                    &computing.policy,
                    Explain::Summaries,
                )
                .map_err(|e| unpayable(e.to_string()))?,
                None => ledger::empty_month(m),
            };
        targets.push((m, result));
    }
    let lines = pay_lines(
        computing,
        facts.participant.id,
        ledger::run_lines(computing.closing, &targets, &paid).map_err(|e| Unpayable {
            month: computing.closing,
            reason: e.to_string(),
        })?,
    );
    Ok((lines, targets.len()))
}

/// The shipped parameters overlaid with every G registered at run time.
pub fn with_registered_g(
    shipped: &Parameters,
    registered: &[RegisteredG],
) -> Result<Parameters, ServiceError> {
    let mut parameters = shipped.clone();
    for g in registered {
        parameters.g = parameters
            .g
            .with_entry("g", g.effective_date, g.value)
            .map_err(ServiceError::internal)?;
    }
    Ok(parameters)
}

/// What a run's lines were computed on, recorded with the run so that the
/// next close knows which months it can trust: everything the month
/// calculation reads that no recompute mark follows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Basis {
    /// SHA-256 of the running executable: the rules' code and the service's
    /// (a new build recomputes everything once).
    build: String,
    /// SHA-256 of the parameters other than G and of the municipality's policy.
    rules: String,
    /// The G table in force: effective date and value.
    g: Vec<(Date, Decimal)>,
}

impl Basis {
    /// The basis of a computation with these parameters and policy.
    pub fn new(
        build: &str,
        parameters: &Parameters,
        policy: &Policy,
    ) -> Result<Self, ServiceError> {
        let mut without_g = serde_json::to_value(parameters).map_err(ServiceError::internal)?;
        if let Some(fields) = without_g.as_object_mut() {
            fields.remove("g");
        }
        let policy = serde_json::to_value(policy).map_err(ServiceError::internal)?;
        // serde_json's maps are ordered by key: the text is canonical.
        let text =
            serde_json::to_string(&json!([without_g, policy])).map_err(ServiceError::internal)?;
        Ok(Self {
            build: build.to_owned(),
            rules: hex(&Sha256::digest(text.as_bytes())),
            g: parameters.g.entries().to_vec(),
        })
    }
}

/// The first month every participant must be recomputed from, given the
/// basis of the latest run and the current one: the month after the latest
/// run, or the first month of a G that differs if earlier; `None` (every
/// month) with no run yet, no recorded basis, or other parameters, policy or
/// code.
pub fn recompute_floor(
    recorded: Option<&str>,
    current: &Basis,
    latest_run: Option<YearMonth>,
) -> Option<YearMonth> {
    let latest_run = latest_run?;
    let recorded: Basis = serde_json::from_str(recorded?).ok()?;
    if recorded.build != current.build || recorded.rules != current.rules {
        return None;
    }
    Some(ledger::g_floor(&recorded.g, &current.g, latest_run))
}

/// The identity of the running code: SHA-256 of the executable, computed once.
/// Unreadable, it is a fresh random value, so every close recomputes everything.
pub async fn build_identity() -> &'static str {
    static BUILD: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    BUILD
        .get_or_init(|| async {
            let hashed = tokio::task::spawn_blocking(|| {
                use std::io::Read;
                // The running image, even if the file was replaced since.
                let mut file = std::fs::File::open("/proc/self/exe")
                    .or_else(|_| std::env::current_exe().and_then(std::fs::File::open))?;
                let mut hasher = Sha256::new();
                let mut buffer = vec![0; 1 << 16];
                loop {
                    let n = file.read(&mut buffer)?;
                    if n == 0 {
                        break;
                    }
                    hasher.update(&buffer[..n]);
                }
                Ok::<_, std::io::Error>(hex(&hasher.finalize()))
            })
            .await;
            match hashed {
                Ok(Ok(hash)) => hash,
                _ => {
                    tracing::warn!(
                        "the executable could not be read: every close recomputes every month"
                    );
                    format!("unknown-{}", Uuid::new_v4())
                }
            }
        })
        .await
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A payroll system's report of one payslip's payment.
#[derive(Debug, Clone)]
pub struct PaymentReport {
    /// The run.
    pub run_id: Uuid,
    /// The participant.
    pub participant_id: Uuid,
    /// The gross paid: must be the payslip's.
    pub gross: Decimal,
    /// Tax withheld: between 0 and the gross.
    pub tax_withheld: Decimal,
    /// Net paid: gross minus tax withheld, when paid.
    pub net_paid: Decimal,
    /// Paid or failed.
    pub outcome: PaymentOutcome,
    /// Why a payment failed, if given.
    pub failure_reason: Option<String>,
    /// The day it was paid, if given.
    pub payment_date: Option<Date>,
}

impl Payroll {
    /// The parameters in force: the shipped file overlaid with every G
    /// registered at run time (the database is the source of truth).
    pub async fn effective_parameters(&self) -> Result<Parameters, ServiceError> {
        with_registered_g(self.parameters(), &self.store().list_registered_g().await?)
    }

    /// Registers a G (the 1 May regulation, often decided late); the next close
    /// back-pays every affected month.
    pub async fn register_g(
        &self,
        effective_date: Date,
        value: Decimal,
        reference: String,
        actor: &Actor,
    ) -> Result<(), ServiceError> {
        super::corrections::check_g_value(value, "value")?;
        if reference.trim().is_empty() {
            return Err(ServiceError::field("reference", "must not be empty"));
        }
        let g = RegisteredG {
            effective_date,
            value,
            reference: reference.clone(),
            registered_at: crate::clock::now(),
        };
        let entry = audit(
            actor,
            "parameter.g_registered",
            "parameter",
            &format!("g/{effective_date}"),
            json!({
                "effective_date": effective_date, "value": value, "reference": reference,
            }),
        );
        self.store()
            .register_g(&g, &[], &entry)
            .await
            .map_err(|e| match e {
                kvp_store::StoreError::Conflict { .. } => ServiceError::AlreadyExists {
                    what: format!("a G from {effective_date} is already registered"),
                },
                other => other.into(),
            })
    }

    /// Closes a municipality's month: idempotent on (municipality, month), and
    /// safe when two instances close at once (one run, one set of lines).
    ///
    /// The participants are read, computed and written a chunk at a time
    /// ([`CLOSE_CHUNK`]), the next chunk read while the last one is computed,
    /// so memory stays flat however many there are. Each participant is
    /// recomputed from the first month that may have changed since the last
    /// close (see [`recompute_floor`] and [`kvp_store::RecomputeMark`]); the
    /// months before it pay what the engine gives already.
    #[instrument(
        name = "payroll.close_period",
        skip_all,
        fields(municipality_id, month = %month, run_id)
    )]
    pub async fn close_period(
        &self,
        municipality_id: &str,
        month: YearMonth,
        actor: &Actor,
        now: OffsetDateTime,
    ) -> Result<(PayRun, bool), ServiceError> {
        tracing::Span::current().record("municipality_id", municipality_id);
        let started = std::time::Instant::now();
        let store = self.store();
        store.get_municipality(municipality_id).await?;
        if let Some(run) = store.find_run(municipality_id, month.first_day()).await? {
            return Ok((run, false));
        }
        // The month ends at midnight in Norway, not in UTC (an hour or two later).
        if kvp_rules::calendar::date_in_norway(now) <= month.last_day() {
            return Err(ServiceError::FailedPrecondition {
                reason: crate::error::reason::MONTH_NOT_ENDED,
                what: format!("{month} has not ended: the stipend is paid in arrears"),
            });
        }
        let build = build_identity().await;
        let run_id = Uuid::now_v7();
        tracing::Span::current().record("run_id", tracing::field::display(run_id));
        let open = OpenRun {
            id: run_id,
            municipality_id: municipality_id.to_owned(),
            month: month.first_day(),
            closed_at: now,
        };
        // From here the session holds the municipality's close and one
        // snapshot of everything the computation reads; dropping it (any `?`
        // below) writes nothing.
        let mut session = match store.begin_close(&open).await? {
            BeginClose::Closed(run) => return Ok((run, false)),
            BeginClose::Open(session) => session,
        };
        let context = session.context();
        if let Some(later) = context.runs.iter().find(|r| r.month > month.first_day()) {
            return Err(ServiceError::FailedPrecondition {
                reason: crate::error::reason::LATER_MONTH_CLOSED,
                what: format!(
                    "a later month ({}) is already closed",
                    YearMonth::of(later.month)
                ),
            });
        }
        let handoff = FrozenHandoff::at_close(&context.municipality, month)?;
        let parameters = with_registered_g(self.parameters(), &context.registered_g)?;
        let policy = self.municipal_policy(context.municipality.policy_overrides.clone())?;
        let basis = Basis::new(build, &parameters, &policy)?;
        let latest_run = context.runs.last().map(|r| YearMonth::of(r.month));
        let floor = recompute_floor(context.basis.as_deref(), &basis, latest_run);
        tracing::debug!(floor = ?floor, "recomputing from the earlier of each mark and the floor");
        let basis = serde_json::to_string(&basis).map_err(ServiceError::internal)?;
        let computing = Arc::new(Computing {
            run_id,
            closing: month,
            floor,
            parameters,
            policy,
            handoff,
            employee_numbers: self.employee_numbers(municipality_id).await?,
        });

        // A pipeline: while one chunk is computed (a blocking thread), the
        // lines of the one before are written and the next one is read.
        let mut totals = CloseTotals::default();
        let floor_day = floor.map(YearMonth::first_day);
        let read = std::time::Instant::now();
        let mut chunk = session.participants(None, CLOSE_CHUNK, floor_day).await?;
        totals.read += read.elapsed();
        let mut computed: Option<Computed> = None;
        loop {
            let after = chunk.last().map(|p| p.facts.participant.id);
            let task = after.map(|_| {
                let computing = computing.clone();
                let chunk = std::mem::take(&mut chunk);
                // In the close's span, so a hold's warning names the run.
                let span = tracing::Span::current();
                tokio::task::spawn_blocking(move || {
                    span.in_scope(|| compute_chunk(&chunk, &computing))
                })
            });
            if let Some(done) = computed.take() {
                let write = std::time::Instant::now();
                session.write_lines(&done.lines).await?;
                totals.write += write.elapsed();
                totals.add(done);
            }
            let Some(task) = task else { break };
            let read = std::time::Instant::now();
            chunk = session.participants(after, CLOSE_CHUNK, floor_day).await?;
            totals.read += read.elapsed();
            computed = Some(task.await.map_err(ServiceError::internal)?);
        }

        let participants = totals.participants;
        let line_count = totals.lines;
        let total = totals.total;
        let held = totals.held.len();
        let event = outbox_event(
            kvp_proto::event_types::PERIOD_CLOSED,
            municipality_id,
            run_id.to_string(),
            &ev::PeriodClosed {
                run_id: run_id.to_string(),
                municipality_id: municipality_id.to_owned(),
                month: month.to_string(),
                participant_count: u32::try_from(participants).unwrap_or_default(),
                line_count: u32::try_from(line_count).unwrap_or(u32::MAX),
                total_amount: total.to_string(),
                closed_at: Some(timestamp(now)),
            },
            now,
        );
        let entry = audit(
            actor,
            "period.closed",
            "pay_run",
            &run_id.to_string(),
            json!({
                "municipality_id": municipality_id, "month": month, "lines": line_count, "total": total,
                "held": totals.held.iter().map(|h| json!({
                    "participant_id": h.held.participant_id,
                    "month": YearMonth::of(h.held.month),
                    "reason": h.held.reason,
                })).collect::<Vec<_>>(),
            }),
        );
        let run = session
            .finish(FinishClose {
                participant_count: participants,
                total,
                events: vec![event],
                audit: entry,
                basis,
                recomputed: totals.recomputed,
                held: totals.held,
            })
            .await?;
        tracing::info!(
            participants,
            held,
            lines = line_count,
            %total,
            read = totals.participants_read,
            months_computed = totals.months_computed,
            read_ms = totals.read.as_millis(),
            compute_ms = totals.compute.as_millis(),
            write_ms = totals.write.as_millis(),
            "period closed"
        );
        crate::metrics::record_period_closed(started.elapsed(), line_count, run.total, held);
        Ok((run, true))
    }

    /// Records the outcome of one payslip (idempotent on run and participant),
    /// if `scope` reaches the run's municipality. The figures must be the
    /// payslip's. A paid payslip publishes `StipendPaid` for the top-up service.
    /// Answers the run, whether it was a duplicate, and when the payslip's
    /// confirmation was (first) recorded.
    #[instrument(
        name = "payroll.confirm_payment",
        skip_all,
        fields(run_id = %report.run_id, participant_id = %report.participant_id)
    )]
    pub async fn confirm_payment(
        &self,
        report: PaymentReport,
        scope: &Scope,
        actor: &Actor,
    ) -> Result<(PayRun, bool, OffsetDateTime), ServiceError> {
        let store = self.store();
        let run = store.get_run(report.run_id).await?;
        scope.permit(&run.municipality_id)?;
        let payslip = store
            .payslip_by_month(run.id, report.participant_id)
            .await?;
        let item = payment_to_confirm(&run, report, &payslip, "", actor)
            .map_err(ServiceError::InvalidArgument)?;
        let c = &item.confirmation;
        match store
            .confirm_payment(c, &item.events, &item.audit)
            .await
            .map_err(confirmation_error)?
        {
            ConfirmOutcome::Recorded(run) => Ok((run, false, c.confirmed_at)),
            ConfirmOutcome::Duplicate(run) => {
                let stored = store
                    .find_confirmation(run.id, c.participant_id)
                    .await?
                    .map_or(c.confirmed_at, |s| s.confirmed_at);
                Ok((run, true, stored))
            }
        }
    }

    /// Records the outcomes of up to [`CONFIRM_BATCH_MAX`] payslips of one
    /// run, all or nothing (see [`kvp_store::PayRunStore::confirm_payments`]),
    /// each checked as [`Payroll::confirm_payment`] checks one; answers the
    /// run and, per payslip in order, whether it was a duplicate.
    #[instrument(
        name = "payroll.confirm_payments",
        skip_all,
        fields(run_id = %run_id, payslips = reports.len())
    )]
    pub async fn confirm_payments(
        &self,
        run_id: Uuid,
        reports: Vec<PaymentReport>,
        scope: &Scope,
        actor: &Actor,
    ) -> Result<(PayRun, Vec<bool>), ServiceError> {
        if reports.is_empty() || reports.len() > CONFIRM_BATCH_MAX {
            return Err(ServiceError::field(
                "payments",
                format!("must hold 1 to {CONFIRM_BATCH_MAX} payslips"),
            ));
        }
        let store = self.store();
        let run = store.get_run(run_id).await?;
        scope.permit(&run.municipality_id)?;
        let mut seen = std::collections::HashSet::new();
        let mut violations = Vec::new();
        let mut batch = Vec::with_capacity(reports.len());
        for (i, report) in reports.into_iter().enumerate() {
            let prefix = format!("payments[{i}].");
            if !seen.insert(report.participant_id) {
                violations.push(crate::error::FieldViolation::new(
                    format!("{prefix}participant_id"),
                    "is in the batch twice",
                ));
                continue;
            }
            // One payslip's lines each: never the whole run's.
            let payslip = store
                .payslip_by_month(run_id, report.participant_id)
                .await?;
            match payment_to_confirm(&run, report, &payslip, &prefix, actor) {
                Ok(item) => batch.push(item),
                Err(wrong) => violations.extend(wrong),
            }
        }
        if !violations.is_empty() {
            return Err(ServiceError::InvalidArgument(violations));
        }
        store
            .confirm_payments(run_id, &batch)
            .await
            .map_err(confirmation_error)
    }
}

/// The most payslips one batch confirms.
pub const CONFIRM_BATCH_MAX: usize = 1_000;

/// A payslip's confirmation checked against its gross in the run (the sum of
/// `payslip`, its amounts by attributed month; `prefix` names its place in a
/// batch in the field violations), with the events and audit entry recording
/// it writes. Every outcome is published to the top-up service: a paid
/// payslip as `StipendPaid`, a failed one as `StipendPaymentFailed`, each
/// dated by the payment date (the day of confirmation when none was given)
/// and broken down by attributed month.
fn payment_to_confirm(
    run: &PayRun,
    report: PaymentReport,
    payslip: &[(Option<Date>, Decimal)],
    prefix: &str,
    actor: &Actor,
) -> Result<PaymentToConfirm, Vec<crate::error::FieldViolation>> {
    let gross: Decimal = payslip.iter().map(|(_, amount)| amount).sum();
    let confirmation = Confirmation {
        run_id: run.id,
        participant_id: report.participant_id,
        gross: report.gross,
        tax_withheld: report.tax_withheld,
        net_paid: report.net_paid,
        outcome: report.outcome,
        failure_reason: report.failure_reason,
        payment_date: report.payment_date,
        confirmed_at: crate::clock::now(),
    };
    let field = |name: &str| format!("{prefix}{name}");
    let mut violations = Vec::new();
    if confirmation.gross != gross {
        violations.push(crate::error::FieldViolation::new(
            field("gross"),
            format!("must be the payslip's gross {gross}"),
        ));
    }
    if confirmation.tax_withheld.is_sign_negative()
        || confirmation.tax_withheld > confirmation.gross
    {
        violations.push(crate::error::FieldViolation::new(
            field("tax_withheld"),
            "must lie between 0 and the gross",
        ));
    }
    if confirmation.outcome == PaymentOutcome::Paid
        && confirmation.net_paid != confirmation.gross - confirmation.tax_withheld
    {
        violations.push(crate::error::FieldViolation::new(
            field("net_paid"),
            "must be gross minus tax withheld",
        ));
    }
    if !violations.is_empty() {
        return Err(violations);
    }
    let month = YearMonth::of(run.month).to_string();
    let payment_date = confirmation
        .payment_date
        .unwrap_or_else(crate::clock::today)
        .to_string();
    let attributed = attributed_amounts(run, payslip);
    let subject = confirmation.participant_id.to_string();
    let event = match confirmation.outcome {
        PaymentOutcome::Paid => outbox_event(
            kvp_proto::event_types::STIPEND_PAID,
            &run.municipality_id,
            subject,
            &ev::StipendPaid {
                participant_id: confirmation.participant_id.to_string(),
                municipality_id: run.municipality_id.clone(),
                month,
                gross: confirmation.gross.to_string(),
                tax_withheld: confirmation.tax_withheld.to_string(),
                net_paid: confirmation.net_paid.to_string(),
                run_id: run.id.to_string(),
                payment_date,
                confirmed_at: Some(timestamp(confirmation.confirmed_at)),
                attributed,
            },
            confirmation.confirmed_at,
        ),
        PaymentOutcome::Failed => outbox_event(
            kvp_proto::event_types::STIPEND_PAYMENT_FAILED,
            &run.municipality_id,
            subject,
            &ev::StipendPaymentFailed {
                participant_id: confirmation.participant_id.to_string(),
                municipality_id: run.municipality_id.clone(),
                month,
                gross: confirmation.gross.to_string(),
                run_id: run.id.to_string(),
                payment_date,
                confirmed_at: Some(timestamp(confirmation.confirmed_at)),
                attributed,
            },
            confirmation.confirmed_at,
        ),
    };
    let events = vec![event];
    let audit = audit(
        actor,
        "payment.confirmed",
        "pay_run",
        &run.id.to_string(),
        json!({
            "participant_id": confirmation.participant_id, "outcome": confirmation.outcome.as_str(),
            "gross": confirmation.gross, "tax_withheld": confirmation.tax_withheld, "net_paid": confirmation.net_paid,
        }),
    );
    Ok(PaymentToConfirm {
        confirmation,
        events,
        audit,
    })
}

/// A payslip's amounts by the month they are attributed to, oldest first, as
/// the events carry them: a recovery carried from earlier runs (no month of
/// its own) counts in the run's month.
fn attributed_amounts(
    run: &PayRun,
    payslip: &[(Option<Date>, Decimal)],
) -> Vec<ev::AttributedAmount> {
    let mut by_month = std::collections::BTreeMap::<Date, Decimal>::new();
    for (month, amount) in payslip {
        *by_month.entry(month.unwrap_or(run.month)).or_default() += amount;
    }
    by_month
        .into_iter()
        .map(|(month, gross)| ev::AttributedAmount {
            month: YearMonth::of(month).to_string(),
            gross: format!("{:.2}", gross.round_dp(2)),
        })
        .collect()
}

/// A confirmation the store refused, in the service's words.
fn confirmation_error(error: kvp_store::StoreError) -> ServiceError {
    match error {
        kvp_store::StoreError::Conflict { what } => ServiceError::AlreadyExists {
            what: format!("confirmed with other figures: {what}"),
        },
        kvp_store::StoreError::InvalidState { what } => ServiceError::FailedPrecondition {
            reason: crate::error::reason::STATE_DOES_NOT_ALLOW,
            what,
        },
        other => other.into(),
    }
}
