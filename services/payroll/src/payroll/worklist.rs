//! The municipality's worklist: what awaits a person (ARCHITECTURE.md,
//! Worklists), one list per municipality, each item with its kind, the
//! participant, the month and a link to where the person acts.
//!
//! - a participant the latest close held because a month could not be
//!   computed, until a later close pays that month;
//! - a month whose timesheet is missing past the municipality's deadline
//!   (`timesheet_deadline_day` of the following month), or arrived after it
//!   and is not yet paid by a close; withheld days stay withheld (R12);
//! - unexcused hours awaiting a warning (varsel), or warned and awaiting a
//!   decision (§ 36), unless the municipality deducts them without one
//!   (`auto_apply_unexcused`);
//! - appeals (klage) not yet decided;
//! - programmes running past their approved period, past the years allowed
//!   without an exception decision, or past the most years (policy); their
//!   days are paid all the same (the programme period is what counts).

use std::collections::{BTreeMap, BTreeSet, HashSet};

use kvp_rules::{AbsenceKind, YearMonth};
use kvp_store::{ParticipantFacts, PayRun};
use time::Date;
use uuid::Uuid;

use super::Payroll;
use crate::error::ServiceError;

/// What kind of work an item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum WorkItemKind {
    /// The latest close held the participant: a month of theirs could not be
    /// computed, so the run paid them nothing. Correct the fact the reason
    /// names; the next close pays the held months by recompute-and-diff.
    HeldParticipant,
    /// No timesheet covers entitled days of a month whose deadline passed.
    MissingTimesheet,
    /// A month's timesheet arrived after the deadline; no close has paid it yet.
    LateTimesheet,
    /// Unexcused hours of a month that no warning covers yet.
    AbsenceAwaitingWarning,
    /// Unexcused hours warned about and not yet decided.
    AbsenceAwaitingDecision,
    /// An appeal against a deduction decision, not yet decided.
    OpenAppeal,
    /// A programme runs past its approved period without an extension.
    ProgrammeBeyondApprovedPeriod,
    /// A programme runs past the years allowed without an exception decision.
    ProgrammeBeyondYearsWithoutException,
    /// A programme runs past the most years a programme runs.
    ProgrammeBeyondMaximumYears,
}

impl WorkItemKind {
    /// The kind as the API writes it (`held_participant`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HeldParticipant => "held_participant",
            Self::MissingTimesheet => "missing_timesheet",
            Self::LateTimesheet => "late_timesheet",
            Self::AbsenceAwaitingWarning => "absence_awaiting_warning",
            Self::AbsenceAwaitingDecision => "absence_awaiting_decision",
            Self::OpenAppeal => "open_appeal",
            Self::ProgrammeBeyondApprovedPeriod => "programme_beyond_approved_period",
            Self::ProgrammeBeyondYearsWithoutException => {
                "programme_beyond_years_without_exception"
            }
            Self::ProgrammeBeyondMaximumYears => "programme_beyond_maximum_years",
        }
    }
}

/// One thing that awaits a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkItem {
    /// What kind of work.
    pub kind: WorkItemKind,
    /// The participant concerned (never their identity number).
    pub participant_id: Uuid,
    /// The month concerned.
    pub month: YearMonth,
    /// Why it awaits someone, in words.
    pub reason: String,
    /// The pay run the item comes from, if any (the run that held the participant).
    pub run_id: Option<Uuid>,
    /// Where the person looks and acts: a REST path.
    pub link: String,
}

impl Payroll {
    /// A municipality's worklist as of `as_of` (deadlines passed by then
    /// count), by kind, month and participant. An unknown municipality is
    /// not found.
    pub async fn worklist(
        &self,
        municipality_id: &str,
        as_of: Date,
    ) -> Result<Vec<WorkItem>, ServiceError> {
        self.worklist_of(municipality_id, None, as_of).await
    }

    /// One participant's part of their municipality's worklist: the same
    /// items [`Payroll::worklist`] lists for them, without computing the others'.
    pub async fn participant_worklist(
        &self,
        participant_id: Uuid,
        as_of: Date,
    ) -> Result<Vec<WorkItem>, ServiceError> {
        let participant = self.store.get_participant(participant_id).await?;
        self.worklist_of(&participant.municipality_id, Some(participant_id), as_of)
            .await
    }

    /// The worklist of a municipality, or of one participant of it.
    async fn worklist_of(
        &self,
        municipality_id: &str,
        only: Option<Uuid>,
        as_of: Date,
    ) -> Result<Vec<WorkItem>, ServiceError> {
        let municipality = self.store.get_municipality(municipality_id).await?;
        let policy = self.municipal_policy(municipality.policy_overrides)?;
        let wanted = |id: Uuid| only.is_none_or(|only| only == id);
        let mut items: Vec<WorkItem> = self
            .store
            .current_holds(municipality_id)
            .await?
            .into_iter()
            .filter(|held| wanted(held.participant_id))
            .map(|held| {
                let month = YearMonth::of(held.month);
                WorkItem {
                    kind: WorkItemKind::HeldParticipant,
                    participant_id: held.participant_id,
                    month,
                    reason: held.reason,
                    run_id: Some(held.run_id),
                    link: format!("/v1/participants/{}/months/{month}", held.participant_id),
                }
            })
            .collect();
        let runs = self.store.list_runs(municipality_id).await?;
        let parameters = self.effective_parameters().await?;
        let participants = match only {
            Some(id) => vec![id],
            None => self
                .store
                .list_participants(municipality_id)
                .await?
                .into_iter()
                .map(|p| p.id)
                .collect(),
        };
        for participant_id in participants {
            let facts = self.store.participant_facts(participant_id).await?;
            let deadline_day = policy.timesheet_deadline_day;
            self.timesheet_items(&facts, &runs, deadline_day, as_of, &mut items)
                .await?;
            if !policy.auto_apply_unexcused {
                self.absence_items(&facts, (&policy, &parameters), &mut items)
                    .await?;
            }
            self.programme_items(&facts, &policy, as_of, &mut items)
                .await?;
        }
        items.sort_by(|a, b| {
            (a.kind, a.month, a.participant_id).cmp(&(b.kind, b.month, b.participant_id))
        });
        Ok(items)
    }

    /// Months of the participant's programme periods whose timesheet is
    /// missing or came late, among those due by `as_of`.
    async fn timesheet_items(
        &self,
        facts: &ParticipantFacts,
        runs: &[PayRun],
        deadline_day: u32,
        as_of: Date,
        items: &mut Vec<WorkItem>,
    ) -> Result<(), ServiceError> {
        let participant = &facts.participant;
        let programmes = crate::facts::programmes(facts);
        let Some(first) = programmes.iter().map(|p| p.start).min() else {
            return Ok(());
        };
        let timesheets = self.store.list_current_timesheets(participant.id).await?;
        let day = u8::try_from(deadline_day).unwrap_or(28);
        let mut month = YearMonth::of(first);
        loop {
            let next = month.next();
            let deadline = Date::from_calendar_date(next.year(), next.month(), day)
                .map_err(ServiceError::internal)?;
            if deadline >= as_of {
                break;
            }
            let entitled: Vec<Date> = month
                .days()
                .filter(|d| kvp_rules::calendar::is_weekday(*d))
                .filter(|d| kvp_rules::is_entitled_on(&programmes, *d))
                .collect();
            let covering: Vec<_> = timesheets
                .iter()
                .filter(|t| t.period_from <= month.last_day() && t.period_to >= month.first_day())
                .collect();
            let uncovered = entitled
                .iter()
                .filter(|d| {
                    !covering
                        .iter()
                        .any(|t| t.period_from <= **d && **d <= t.period_to)
                })
                .count();
            let link = format!("/v1/participants/{}/months/{month}", participant.id);
            if uncovered > 0 {
                items.push(WorkItem {
                    kind: WorkItemKind::MissingTimesheet,
                    participant_id: participant.id,
                    month,
                    reason: format!(
                        "no timesheet covers {uncovered} entitled day(s) of {month}, due by \
                         {deadline}: they are withheld until one arrives (R12)"
                    ),
                    run_id: None,
                    link,
                });
            } else if let Some(late) = covering.iter().find(|t| {
                // A first version received after the deadline, that no close
                // has paid since (a correction's own time says nothing of
                // the month's timeliness).
                t.version == 1
                    && kvp_rules::calendar::date_in_norway(t.received_at) > deadline
                    && !runs.iter().any(|r| r.closed_at > t.received_at)
            }) {
                items.push(WorkItem {
                    kind: WorkItemKind::LateTimesheet,
                    participant_id: participant.id,
                    month,
                    reason: format!(
                        "the timesheet for {month} arrived on {}, after the deadline {deadline}; \
                         the next close pays its days",
                        kvp_rules::calendar::date_in_norway(late.received_at)
                    ),
                    run_id: None,
                    link,
                });
            }
            if programmes
                .iter()
                .all(|p| p.end.is_some_and(|end| end <= month.last_day()))
            {
                break;
            }
            month = next;
        }
        Ok(())
    }

    /// The participant's undecided unexcused hours (awaiting a warning, or a
    /// decision), one item per month and kind, and their open appeals.
    async fn absence_items(
        &self,
        facts: &ParticipantFacts,
        (policy, parameters): (&kvp_rules::Policy, &kvp_rules::Parameters),
        items: &mut Vec<WorkItem>,
    ) -> Result<(), ServiceError> {
        let participant = &facts.participant;
        let decided: HashSet<(Date, AbsenceKind)> = facts
            .decisions
            .iter()
            .map(|d| (d.date, d.entry_kind))
            .collect();
        let warnings = self.store.list_warnings(participant.id).await?;
        let warned = |date: Date, kind: AbsenceKind| {
            warnings.iter().any(|w| {
                w.days
                    .iter()
                    .any(|d| d.date == date && d.entry_kind == kind)
            })
        };
        // Unexcused hours: entries given so, and hours a quota turned so
        // (R6–R8), which await a decision of their own.
        let unexcused = quota_turned(facts, policy, parameters);
        let mut waiting: BTreeMap<(WorkItemKind, YearMonth), BTreeSet<Date>> = BTreeMap::new();
        for (entry, _) in facts.entries.iter().zip(unexcused).filter(|(e, turned)| {
            (e.kind == AbsenceKind::Unexcused || *turned) && !decided.contains(&(e.date, e.kind))
        }) {
            let kind = if warned(entry.date, entry.kind) {
                WorkItemKind::AbsenceAwaitingDecision
            } else {
                WorkItemKind::AbsenceAwaitingWarning
            };
            waiting
                .entry((kind, YearMonth::of(entry.date)))
                .or_default()
                .insert(entry.date);
        }
        for ((kind, month), days) in waiting {
            let days: Vec<String> = days.iter().map(Date::to_string).collect();
            let next = match kind {
                WorkItemKind::AbsenceAwaitingWarning => "a warning (varsel)",
                _ => "a decision",
            };
            items.push(WorkItem {
                kind,
                participant_id: participant.id,
                month,
                reason: format!(
                    "unexcused hours on {} await {next} (sosialtjenesteloven § 36)",
                    days.join(", ")
                ),
                run_id: None,
                link: format!("/v1/participants/{}/sanction-decisions", participant.id),
            });
        }
        for appeal in self.store.list_appeals(participant.id).await? {
            if appeal.outcome.is_some() {
                continue;
            }
            let month = facts
                .decisions
                .iter()
                .find(|d| d.id == appeal.decision_id)
                .map_or(YearMonth::of(appeal.received_on), |d| YearMonth::of(d.date));
            items.push(WorkItem {
                kind: WorkItemKind::OpenAppeal,
                participant_id: participant.id,
                month,
                reason: format!(
                    "an appeal received on {} awaits its outcome",
                    appeal.received_on
                ),
                run_id: None,
                link: format!("/v1/sanction-decisions/{}/appeal", appeal.decision_id),
            });
        }
        Ok(())
    }

    /// The participant's programmes that by `as_of` run past their approved
    /// period, past the years without an exception, or past the most years.
    async fn programme_items(
        &self,
        facts: &ParticipantFacts,
        policy: &kvp_rules::Policy,
        as_of: Date,
        items: &mut Vec<WorkItem>,
    ) -> Result<(), ServiceError> {
        let participant = &facts.participant;
        let extensions = self.store.list_extensions(participant.id).await?;
        for stored in &facts.programmes {
            let programme = &stored.programme;
            let ran_to = programme.end.map_or(as_of, |end| end.min(as_of));
            let own: Vec<_> = extensions
                .iter()
                .filter(|e| e.programme_id == programme.id)
                .cloned()
                .collect();
            // The day before the start, `n` years on (a start on 29 February
            // runs to 28 February).
            let years = |n: u32| {
                kvp_rules::calendar::anniversary(
                    programme.start.previous_day().unwrap_or(programme.start),
                    i32::try_from(n).unwrap_or(i32::MAX),
                )
            };
            let approved = super::programmes::approved_until(
                programme.start,
                &own,
                policy.programme_approved_months,
            );
            let without_exception = years(policy.programme_years_without_exception);
            let maximum = years(policy.programme_years_max);
            let limits = [
                (
                    WorkItemKind::ProgrammeBeyondApprovedPeriod,
                    approved,
                    "its approved period",
                    true,
                ),
                (
                    WorkItemKind::ProgrammeBeyondYearsWithoutException,
                    without_exception,
                    "the years a programme runs without an exception decision",
                    !own.iter().any(|e| e.exception),
                ),
                (
                    WorkItemKind::ProgrammeBeyondMaximumYears,
                    maximum,
                    "the most years a programme runs",
                    true,
                ),
            ];
            for (kind, last, what, applies) in limits {
                if !applies || ran_to <= last {
                    continue;
                }
                let first_beyond = last.next_day().unwrap_or(last);
                items.push(WorkItem {
                    kind,
                    participant_id: participant.id,
                    month: YearMonth::of(first_beyond),
                    reason: format!(
                        "programme {} (from {}) runs past {what}, which ended {last}; its days \
                         are paid (sosialtjenesteloven § 30)",
                        programme.decision_reference, programme.start
                    ),
                    run_id: None,
                    link: format!("/v1/programmes/{}/extensions", programme.id),
                });
            }
        }
        Ok(())
    }
}

/// For each of the participant's entries, whether a quota (R6–R8) turned
/// some of its hours unexcused. A participant whose entries the rules refuse
/// (held at close, on the list as such) has none turned here.
fn quota_turned(
    facts: &ParticipantFacts,
    policy: &kvp_rules::Policy,
    parameters: &kvp_rules::Parameters,
) -> Vec<bool> {
    let days: Vec<kvp_rules::DayEntry> = facts
        .entries
        .iter()
        .map(|e| kvp_rules::DayEntry {
            date: e.date,
            kind: e.kind,
            hours: e.hours,
            decision: None,
        })
        .collect();
    let programmes = crate::facts::programmes(facts);
    let participant = crate::facts::participant(facts);
    let ctx = kvp_rules::quotas::QuotaContext {
        participant: &participant,
        programmes: &programmes,
        policy,
        parameters,
    };
    match kvp_rules::quotas::classify(&days, ctx) {
        Ok(classified) => classified
            .iter()
            .map(|c| c.unexcused_hours > rust_decimal::Decimal::ZERO || c.flag.is_some())
            .collect(),
        Err(_) => vec![false; days.len()],
    }
}
