//! Turns what the store knows of a participant into the rules engine's facts for
//! one month: the only place where storage records meet rule types.

use std::collections::HashMap;

use kvp_rules::{
    AbsenceKind, Child, DateRange, DayEntry, Decision, MonthFacts, Offset, Participant, Pause,
    PauseKind, Programme, YearMonth,
};
use kvp_store::{DecisionOutcome, ParticipantFacts};
use rust_decimal::Decimal;
use time::Date;

use crate::error::ServiceError;

/// The rules engine's facts for `month` (entries of every month are kept: the
/// quotas count history; every programme period is passed: the days of each
/// count, and R6 looks for the latest started). `None` when no programme
/// period has started by the month's end.
pub fn month_facts(
    stored: &ParticipantFacts,
    month: YearMonth,
) -> Result<Option<MonthFacts>, ServiceError> {
    if !started_by(stored, month.last_day()) {
        return Ok(None);
    }
    // A decision and, after a partly upheld appeal, the hours it still
    // deducts of its day and kind.
    let decisions: HashMap<(Date, AbsenceKind), (Decision, Option<Decimal>)> = stored
        .decisions
        .iter()
        .map(|d| {
            let decision = match d.outcome {
                DecisionOutcome::Approved => Decision::Approved,
                DecisionOutcome::Rejected => Decision::Rejected,
            };
            ((d.date, d.entry_kind), (decision, d.deducted_hours))
        })
        .collect();
    let mut deductible: HashMap<(Date, AbsenceKind), Decimal> = HashMap::new();
    let mut days = Vec::with_capacity(stored.entries.len());
    for entry in &stored.entries {
        let key = (entry.date, entry.kind);
        match decisions.get(&key).copied() {
            // An approved decision deducting fewer hours than the entries
            // hold: those hours are deducted, the rest paid as a rejection
            // would (the entry is split in two of its kind).
            Some((Decision::Approved, Some(cap))) => {
                let left = deductible.entry(key).or_insert(cap);
                let deducted = entry.hours.min(*left);
                *left -= deducted;
                let paid = entry.hours - deducted;
                for (hours, decision) in
                    [(deducted, Decision::Approved), (paid, Decision::Rejected)]
                {
                    // One part always stands for the entry (a 0-hour entry too).
                    let stands =
                        hours > Decimal::ZERO || (decision == Decision::Approved && paid.is_zero());
                    if stands {
                        days.push(DayEntry {
                            date: entry.date,
                            kind: entry.kind,
                            hours,
                            decision: Some(decision),
                        });
                    }
                }
            }
            found => days.push(DayEntry {
                date: entry.date,
                kind: entry.kind,
                hours: entry.hours,
                decision: found.map(|(decision, _)| decision),
            }),
        }
    }
    let mut offsets = Vec::new();
    for offset in stored
        .offsets
        .iter()
        .filter(|o| o.month == month.first_day())
    {
        offsets.push(Offset {
            kind: offset.kind,
            amount: offset.amount,
        });
    }
    Ok(Some(MonthFacts {
        month,
        participant: participant(stored),
        programmes: programmes(stored),
        covered: stored
            .timesheets
            .iter()
            .map(|t| DateRange {
                from: t.period_from,
                to: Some(t.period_to),
            })
            .collect(),
        days,
        offsets,
    }))
}

/// Whether an accepted timesheet covers any day of `month`. Without one the
/// month has no paid day (R12), and every line of it is zero.
pub fn touches(stored: &ParticipantFacts, month: YearMonth) -> bool {
    let (first, last) = (month.first_day(), month.last_day());
    stored
        .timesheets
        .iter()
        .any(|t| t.period_from <= last && t.period_to >= first)
}

/// The participant facts of the rules.
pub fn participant(stored: &ParticipantFacts) -> Participant {
    Participant {
        birth_date: stored.participant.birth_date,
        children: stored
            .children
            .iter()
            .map(|c| Child {
                birth_date: c.birth_date,
            })
            .collect(),
        sole_carer: stored
            .sole_carer_periods
            .iter()
            .map(|p| DateRange {
                from: p.from,
                to: p.to,
            })
            .collect(),
    }
}

/// Whether a programme period has started by `date`.
pub fn started_by(stored: &ParticipantFacts, date: Date) -> bool {
    stored.programmes.iter().any(|p| p.programme.start <= date)
}

/// Every programme period of the participant (R3), with its pauses, by start.
pub fn programmes(stored: &ParticipantFacts) -> Vec<Programme> {
    let mut periods: Vec<Programme> = stored
        .programmes
        .iter()
        .map(|p| Programme {
            start: p.programme.start,
            end: p.programme.end,
            pauses: p
                .pauses
                .iter()
                .map(|pause| Pause {
                    from: pause.from,
                    to: pause.to,
                    kind: match pause.kind {
                        kvp_store::PauseKind::Interrupted => PauseKind::Interrupted,
                        kvp_store::PauseKind::Stopped => PauseKind::Stopped,
                    },
                })
                .collect(),
        })
        .collect();
    periods.sort_by_key(|p| p.start);
    periods
}
