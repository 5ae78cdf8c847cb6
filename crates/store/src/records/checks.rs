//! What the store checks before it writes, and the assembly of a close's chunk:
//! shared by both backends.

use std::str::FromStr;

use rust_decimal::Decimal;
use time::Date;
use uuid::Uuid;

use super::*;
use crate::StoreError;

/// Parses a stored enum value (the store's own, or a kind of the rules
/// crate), reporting an unknown one as corrupt data.
pub(crate) fn parse_stored<T>(value: &str) -> Result<T, StoreError>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    value
        .parse()
        .map_err(|e: T::Err| StoreError::corrupt(e.to_string()))
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

/// A quantity in ten-thousandths (SQLite sums those exactly): an error, not
/// a truncation, for a quantity with more decimals or beyond the range.
pub(crate) fn scaled_quantity(quantity: Decimal) -> Result<i64, StoreError> {
    use rust_decimal::prelude::ToPrimitive;
    quantity
        .checked_mul(Decimal::from(
            10_i64.pow(kvp_rules::month::QUANTITY_DECIMALS),
        ))
        .filter(|scaled| scaled.fract().is_zero())
        .and_then(|scaled| scaled.to_i64())
        .ok_or_else(|| {
            StoreError::invalid_input("a pay line quantity must have at most four decimals")
        })
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
    run: &OpenRun,
    finish: &FinishClose,
    participants: &std::collections::HashSet<Uuid>,
    total: Decimal,
) -> Result<(), StoreError> {
    if finish
        .held
        .iter()
        .any(|hold| participants.contains(&hold.held.participant_id))
    {
        return Err(StoreError::invalid_input(
            "a held participant has lines in the run",
        ));
    }
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
    check_holds(run, finish)
}

/// Checks the holds of an open close's finish: each names the open run, a
/// first day as its month and a reason, once, and a participant neither paid
/// nor recomputed in the run (a hold is the participant's whole payslip).
fn check_holds(run: &OpenRun, finish: &FinishClose) -> Result<(), StoreError> {
    let mut held = std::collections::HashSet::new();
    for hold in &finish.held {
        let h = &hold.held;
        if h.run_id != run.id {
            return Err(StoreError::invalid_input("a hold names another run"));
        }
        if h.month.day() != 1 || hold.recompute_from.day() != 1 {
            return Err(StoreError::invalid_input(
                "a hold's month and recompute month must be given as their first day",
            ));
        }
        if h.reason.trim().is_empty() {
            return Err(StoreError::invalid_input("a hold must give its reason"));
        }
        if !held.insert(h.participant_id) {
            return Err(StoreError::invalid_input(
                "a participant is held twice in one run",
            ));
        }
    }
    if finish
        .recomputed
        .iter()
        .any(|(participant, _)| held.contains(participant))
    {
        return Err(StoreError::invalid_input(
            "a held participant's mark cannot be cleared",
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
