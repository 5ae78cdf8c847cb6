//! Receiving a signed timesheet: the content checks (all violations reported at
//! once, nothing stored) and the assessment returned to the submitting system.

use std::collections::{BTreeMap, BTreeSet};

use kvp_proto::kvp::payroll::v1 as pb;
use kvp_rules::quotas::{QuotaContext, QuotaEntry, quota_details};
use kvp_rules::{AbsenceKind, Explain, Parameters, Policy, YearMonth, compute_month_explained};
use kvp_store::{DayEntry, ParticipantFacts, TimesheetPeriod};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::macros::format_description;
use time::{Date, Duration};
use uuid::Uuid;

use crate::error::{FieldViolation, ServiceError};
use crate::facts::{month_facts, participant, programmes, started_by};

/// The longest period one timesheet may cover.
const MAX_PERIOD_DAYS: i64 = kvp_rules::bounds::TIMESHEET_PERIOD_DAYS_MAX;
/// The longest note of an entry, in characters (it is stored and shown).
pub const MAX_NOTE_CHARS: usize = 1000;
/// The longest client reference, in characters.
pub const MAX_CLIENT_REFERENCE_CHARS: usize = 200;

/// A timesheet body that passed every content check.
#[derive(Debug, Clone)]
pub struct ValidTimesheet {
    /// The participant it is for.
    pub participant_id: Uuid,
    /// The municipality it was submitted to.
    pub municipality_id: String,
    /// First covered day.
    pub from: Date,
    /// Last covered day.
    pub to: Date,
    /// The accepted timesheet it corrects, if any.
    pub supersedes: Option<Uuid>,
    /// The entries: date, kind, hours, note.
    pub entries: Vec<(Date, AbsenceKind, Decimal, Option<String>)>,
}

/// Parses a `YYYY-MM-DD` date.
pub fn parse_date(text: &str) -> Option<Date> {
    Date::parse(text, format_description!("[year]-[month]-[day]")).ok()
}

fn kind_of(kind: i32) -> Option<AbsenceKind> {
    use pb::DayKind as K;
    Some(match K::try_from(kind).ok()? {
        K::Unspecified => return None,
        K::Attended => AbsenceKind::Attended,
        K::PaidWork => AbsenceKind::PaidWork,
        K::SickSelf => AbsenceKind::SickSelf,
        K::SickCertified => AbsenceKind::SickCertified,
        K::ChildSick => AbsenceKind::ChildSick,
        K::Welfare => AbsenceKind::Welfare,
        K::Leave => AbsenceKind::Leave,
        K::ApprovedUnpaid => AbsenceKind::ApprovedUnpaid,
        K::Unexcused => AbsenceKind::Unexcused,
    })
}

/// Checks the participant reference of a body, before anything is looked up.
pub fn participant_id(body: &pb::TimesheetBody) -> Result<Uuid, ServiceError> {
    Uuid::parse_str(&body.participant_id)
        .map_err(|_| ServiceError::field("participant_id", "must be a participant id (UUID)"))
}

/// Checks a body against the participant's facts: dates, weekdays, programme,
/// hours (0–24, in quarters), kinds, and the per-day total.
pub fn validate(
    body: &pb::TimesheetBody,
    stored: &ParticipantFacts,
) -> Result<ValidTimesheet, ServiceError> {
    let mut violations = Vec::new();
    let mut violate = |field: String, description: &str| {
        violations.push(FieldViolation::new(field, description));
    };
    let participant_id = stored.participant.id;
    if body.municipality_id != stored.participant.municipality_id {
        violate(
            "municipality_id".into(),
            "is not the participant's municipality",
        );
    }
    let period = body.period.clone().unwrap_or_default();
    let from = parse_date(&period.from_date);
    let to = parse_date(&period.to_date);
    if from.is_none() {
        violate("period.from_date".into(), "must be a date YYYY-MM-DD");
    }
    if to.is_none() {
        violate("period.to_date".into(), "must be a date YYYY-MM-DD");
    }
    let periods = programmes(stored);
    if let (Some(from), Some(to)) = (from, to) {
        if to < from {
            violate("period.to_date".into(), "must not be before from_date");
        } else if to - from >= Duration::days(MAX_PERIOD_DAYS) {
            violate("period".into(), "may cover at most 62 days");
        }
        let in_programme = periods
            .iter()
            .any(|p| p.start <= to && p.end.is_none_or(|end| end >= from));
        if !in_programme {
            violate("period".into(), "lies outside the participant's programme");
        }
    }
    let supersedes = if body.supersedes_timesheet_id.is_empty() {
        None
    } else {
        let parsed = Uuid::parse_str(&body.supersedes_timesheet_id).ok();
        if parsed.is_none() {
            violate(
                "supersedes_timesheet_id".into(),
                "must be a timesheet id (UUID)",
            );
        }
        parsed
    };

    if let Some(v) = kvp_problem::text_violation(
        "client_reference",
        &body.client_reference,
        MAX_CLIENT_REFERENCE_CHARS,
    ) {
        violate(v.field, &v.description);
    }

    let day_limit = kvp_rules::bounds::ENTRY_HOURS_MAX;
    let mut per_day: BTreeMap<Date, Decimal> = BTreeMap::new();
    let mut entries = Vec::with_capacity(body.entries.len());
    for (i, entry) in body.entries.iter().enumerate() {
        let field = |name: &str| format!("entries[{i}].{name}");
        let date = parse_date(&entry.date);
        match date {
            None => violate(field("date"), "must be a date YYYY-MM-DD"),
            Some(date) => {
                if from.is_some_and(|f| date < f) || to.is_some_and(|t| date > t) {
                    violate(field("date"), "lies outside the timesheet's period");
                } else if !kvp_rules::calendar::is_weekday(date) {
                    violate(field("date"), "is not a weekday");
                } else if !kvp_rules::is_entitled_on(&periods, date) {
                    violate(field("date"), "lies outside the programme or in a pause");
                }
            }
        }
        let kind = kind_of(entry.kind);
        if kind.is_none() {
            violate(field("kind"), "must be a known day kind");
        }
        let hours = match exact_decimal(&entry.hours) {
            None => {
                violate(field("hours"), "must be a decimal number of hours");
                None
            }
            Some(h) if h.is_sign_negative() || h > day_limit => {
                violate(field("hours"), "must be between 0 and 24");
                None
            }
            Some(h) if !(h * Decimal::from(4)).fract().is_zero() => {
                violate(field("hours"), "must be in quarter hours");
                None
            }
            Some(h) => Some(h),
        };
        if let (Some(date), Some(kind), Some(hours)) = (date, kind, hours) {
            let total = per_day.entry(date).or_default();
            *total += hours;
            if *total > day_limit {
                violate(
                    field("hours"),
                    "the day's entries add up to more than 24 hours",
                );
            }
            if let Some(v) =
                kvp_problem::text_violation(&field("note"), &entry.note, MAX_NOTE_CHARS)
            {
                violate(v.field, &v.description);
            }
            let note = (!entry.note.is_empty()).then(|| entry.note.clone());
            entries.push((date, kind, hours, note));
        }
    }
    match (violations.is_empty(), from, to) {
        (true, Some(from), Some(to)) => Ok(ValidTimesheet {
            participant_id,
            municipality_id: body.municipality_id.clone(),
            from,
            to,
            supersedes,
            entries,
        }),
        _ => Err(ServiceError::InvalidArgument(violations)),
    }
}

fn exact_decimal(text: &str) -> Option<Decimal> {
    let text = text.trim();
    if text.is_empty() || text.contains(['e', 'E']) {
        return None;
    }
    Decimal::from_str_exact(text).ok()
}

/// What the submitting system learns about an accepted timesheet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Assessment {
    /// Quota use after this timesheet, as of the last day it covers.
    pub quota: QuotaSummary,
    /// Entries (or parts) the quotas turned unexcused.
    pub unexcused_entries: Vec<UnexcusedEntry>,
    /// Unexcused hours awaiting a caseworker's sanction decision.
    pub proposed_deductions: Vec<ProposedDeduction>,
    /// Flags raised in the months the timesheet covers, sorted.
    pub flags: Vec<String>,
}

/// What is left of the absence quotas (R6–R8).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QuotaSummary {
    /// The date the figures hold for.
    pub as_of: Date,
    /// Self-certified dates left in the running (or a new) occurrence.
    pub self_cert_days_left_in_occurrence: u32,
    /// Self-certification occurrences that may still start in the rolling year.
    pub self_cert_occurrences_left: u32,
    /// The first date self-certification may be used.
    pub self_cert_available_from: Date,
    /// Leave hours left this calendar year.
    #[schema(value_type = String)]
    pub leave_hours_left: Decimal,
    /// Leave days left this calendar year.
    #[schema(value_type = String)]
    pub leave_days_left: Decimal,
    /// Child's-sickness hours left this calendar year.
    #[schema(value_type = String)]
    pub child_sick_hours_left: Decimal,
    /// Child's-sickness days left this calendar year.
    #[schema(value_type = String)]
    pub child_sick_days_left: Decimal,
    /// Self-certification in the twelve months up to `as_of`, entry by entry.
    pub self_certification: SelfCertificationUse,
    /// Leave in `as_of`'s calendar year, entry by entry.
    pub leave: YearlyQuotaUse,
    /// Child's sickness in `as_of`'s calendar year, entry by entry.
    pub child_sickness: YearlyQuotaUse,
}

/// Self-certified sickness (R6) in the twelve months up to a date.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SelfCertificationUse {
    /// Occurrences count when they start after this date (one year before
    /// `as_of`) and by `as_of`.
    pub counted_after: Date,
    /// The most occurrences in twelve months (policy).
    pub max_occurrences: u32,
    /// The most self-certified dates in one occurrence (policy).
    pub max_days_per_occurrence: u32,
    /// Occurrences that count.
    pub occurrences_used: u32,
    /// Self-certified dates in those occurrences.
    pub days_used: u32,
    /// The occurrences, oldest first.
    pub occurrences: Vec<SelfCertificationOccurrence>,
    /// The self-certified entries of those occurrences, by date.
    pub entries: Vec<QuotaEntryView>,
}

/// One occurrence of self-certified sickness: dates in a row, rest days
/// between them allowed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SelfCertificationOccurrence {
    /// The first date.
    pub first: Date,
    /// The last date.
    pub last: Date,
    /// Self-certified dates in it.
    pub days: u32,
}

/// A quota of hours in a calendar year (leave, R7; child's sickness, R8).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct YearlyQuotaUse {
    /// The quota in hours (for child's sickness, in force on `as_of`).
    #[schema(value_type = String)]
    pub quota_hours: Decimal,
    /// The quota in days.
    #[schema(value_type = String)]
    pub quota_days: Decimal,
    /// Hours used within the quota.
    #[schema(value_type = String)]
    pub used_hours: Decimal,
    /// Days used within the quota.
    #[schema(value_type = String)]
    pub used_days: Decimal,
    /// Hours left.
    #[schema(value_type = String)]
    pub left_hours: Decimal,
    /// Days left.
    #[schema(value_type = String)]
    pub left_days: Decimal,
    /// Child's sickness: the quota is doubled, the participant being a sole
    /// carer on `as_of`; always false for leave.
    pub doubled_for_sole_carer: bool,
    /// The entries of the year, by date.
    pub entries: Vec<QuotaEntryView>,
}

/// An entry a quota counts, and what the quota made of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct QuotaEntryView {
    /// The day.
    pub date: Date,
    /// The kind it was given as.
    pub kind: String,
    /// Its hours.
    #[schema(value_type = String)]
    pub hours: Decimal,
    /// Hours within the quota.
    #[schema(value_type = String)]
    pub within_quota_hours: Decimal,
    /// Hours the quota turned unexcused.
    #[schema(value_type = String)]
    pub turned_unexcused_hours: Decimal,
    /// The quota flag, when the entry lies beyond its quota.
    pub flag: Option<String>,
}

impl From<&QuotaEntry> for QuotaEntryView {
    fn from(entry: &QuotaEntry) -> Self {
        Self {
            date: entry.date,
            kind: entry.kind.as_str().to_owned(),
            hours: entry.hours.normalize(),
            within_quota_hours: entry.kept_hours.normalize(),
            turned_unexcused_hours: entry.unexcused_hours.normalize(),
            flag: entry.flag.map(|f| f.as_str().to_owned()),
        }
    }
}

/// An entry, or the part of one, that a quota turned unexcused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UnexcusedEntry {
    /// The day.
    pub date: Date,
    /// The kind it was given as.
    pub kind: String,
    /// Hours turned unexcused.
    #[schema(value_type = String)]
    pub hours: Decimal,
    /// The quota flag.
    pub flag: String,
}

/// Unexcused hours proposed for deduction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProposedDeduction {
    /// The day.
    pub date: Date,
    /// Hours awaiting a decision.
    #[schema(value_type = String)]
    pub hours: Decimal,
    /// Stable id of the pending sanction case (participant, date, kind).
    pub sanction_id: Uuid,
    /// The kind the hours were given as (the decision names it).
    pub source_kind: String,
}

/// The id of the sanction case for a participant's entry kind on a date.
pub fn sanction_id(participant_id: Uuid, date: Date, kind: &str) -> Uuid {
    Uuid::new_v5(&participant_id, format!("{date}/{kind}").as_bytes())
}

/// The participant's facts as they will be once `timesheet` is accepted.
pub fn with_timesheet(
    stored: &ParticipantFacts,
    id: Uuid,
    timesheet: &ValidTimesheet,
) -> ParticipantFacts {
    let mut facts = stored.clone();
    if let Some(old) = timesheet.supersedes {
        facts.timesheets.retain(|t| t.id != old);
        facts.entries.retain(|e| e.timesheet_id != old);
    }
    facts.timesheets.push(TimesheetPeriod {
        id,
        period_from: timesheet.from,
        period_to: timesheet.to,
        version: 0,
    });
    facts
        .entries
        .extend(
            timesheet
                .entries
                .iter()
                .enumerate()
                .map(|(seq, (date, kind, hours, note))| DayEntry {
                    timesheet_id: id,
                    participant_id: timesheet.participant_id,
                    date: *date,
                    seq: seq as i32,
                    kind: *kind,
                    hours: *hours,
                    note: note.clone(),
                }),
        );
    facts
}

/// Assesses the months a timesheet covers over the participant's facts with the
/// timesheet included.
pub fn assess(
    facts: &ParticipantFacts,
    from: Date,
    to: Date,
    parameters: &Parameters,
    policy: &Policy,
) -> Result<Assessment, ServiceError> {
    let mut unexcused_entries = Vec::new();
    let mut proposed_deductions = Vec::new();
    let mut flags = BTreeSet::new();
    let mut month = YearMonth::of(from);
    let mut days = Vec::new();
    while month <= YearMonth::of(to) {
        if let Some(month_facts) = month_facts(facts, month)? {
            // The entries' outcomes and flags are read, never the explanation.
            let result =
                compute_month_explained(&month_facts, parameters, policy, Explain::Summaries)
                    .map_err(ServiceError::internal)?;
            for entry in result
                .entries
                .iter()
                .filter(|e| e.date >= from && e.date <= to)
            {
                if let Some(flag) = entry
                    .flag
                    .filter(|_| !entry.turned_unexcused_hours.is_zero())
                {
                    unexcused_entries.push(UnexcusedEntry {
                        date: entry.date,
                        kind: entry.kind.as_str().to_owned(),
                        hours: entry.turned_unexcused_hours,
                        flag: flag.as_str().to_owned(),
                    });
                }
                if entry.pending_hours > Decimal::ZERO {
                    proposed_deductions.push(ProposedDeduction {
                        date: entry.date,
                        hours: entry.pending_hours,
                        sanction_id: sanction_id(
                            facts.participant.id,
                            entry.date,
                            entry.kind.as_str(),
                        ),
                        source_kind: entry.kind.as_str().to_owned(),
                    });
                }
            }
            flags.extend(result.flags.iter().map(|f| f.as_str().to_owned()));
            days = month_facts.days;
        }
        month = month.next();
    }
    let quota = quota_summary(facts, &days, to, parameters, policy)?.ok_or_else(|| {
        ServiceError::FailedPrecondition {
            reason: crate::error::reason::NO_PROGRAMME,
            what: "the participant has no programme decision".into(),
        }
    })?;
    Ok(Assessment {
        quota,
        unexcused_entries,
        proposed_deductions,
        flags: flags.into_iter().collect(),
    })
}

/// The quota figures on `as_of` (the caseworker's absence overview); none
/// without a programme in force on that date.
pub fn quota_summary(
    facts: &ParticipantFacts,
    days: &[kvp_rules::DayEntry],
    as_of: Date,
    parameters: &Parameters,
    policy: &Policy,
) -> Result<Option<QuotaSummary>, ServiceError> {
    if !started_by(facts, as_of) {
        return Ok(None);
    }
    let periods = programmes(facts);
    let participant = participant(facts);
    let ctx = QuotaContext {
        participant: &participant,
        programmes: &periods,
        policy,
        parameters,
    };
    let details = quota_details(days, ctx, as_of).map_err(ServiceError::internal)?;
    let q = &details.quotas;
    let hpd = parameters.hours_per_day;
    let days_of = |hours: Decimal| {
        hours
            .checked_div(hpd)
            .map(|days| days.normalize())
            .ok_or_else(|| ServiceError::internal(anyhow::anyhow!("hours per day is zero")))
    };
    let entries_of = |kind: AbsenceKind| -> Vec<QuotaEntryView> {
        details
            .entries
            .iter()
            .filter(|e| e.kind == kind)
            .map(QuotaEntryView::from)
            .collect()
    };
    let yearly = |quota: Decimal, used: Decimal, left: Decimal, doubled: bool, kind| {
        Ok::<_, ServiceError>(YearlyQuotaUse {
            quota_hours: quota.normalize(),
            quota_days: days_of(quota)?,
            used_hours: used.normalize(),
            used_days: days_of(used)?,
            left_hours: left.normalize(),
            left_days: days_of(left)?,
            doubled_for_sole_carer: doubled,
            entries: entries_of(kind),
        })
    };
    let occurrences: Vec<SelfCertificationOccurrence> = details
        .self_cert_occurrences
        .iter()
        .filter_map(|dates| {
            Some(SelfCertificationOccurrence {
                first: *dates.first()?,
                last: *dates.last()?,
                days: dates.len() as u32,
            })
        })
        .collect();
    Ok(Some(QuotaSummary {
        as_of,
        self_cert_days_left_in_occurrence: q.self_cert_days_left_in_occurrence,
        self_cert_occurrences_left: q.self_cert_occurrences_left,
        self_cert_available_from: q.self_cert_available_from,
        leave_hours_left: q.leave_hours_left.normalize(),
        leave_days_left: days_of(q.leave_hours_left)?,
        child_sick_hours_left: q.child_sick_hours_left.normalize(),
        child_sick_days_left: days_of(q.child_sick_hours_left)?,
        self_certification: SelfCertificationUse {
            counted_after: details.self_cert_counted_after,
            max_occurrences: policy.self_cert_max_occurrences,
            max_days_per_occurrence: policy.self_cert_max_days,
            occurrences_used: occurrences.len() as u32,
            days_used: occurrences.iter().map(|o| o.days).sum(),
            occurrences,
            entries: entries_of(AbsenceKind::SickSelf),
        },
        leave: yearly(
            details.leave_quota_hours,
            q.leave_hours_used,
            q.leave_hours_left,
            false,
            AbsenceKind::Leave,
        )?,
        child_sickness: yearly(
            details.child_sick_quota_hours,
            q.child_sick_hours_used,
            q.child_sick_hours_left,
            details.child_sick_quota_doubled,
            AbsenceKind::ChildSick,
        )?,
    }))
}
