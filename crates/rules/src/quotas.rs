//! The absence quotas that turn paid absence into unexcused absence (R6–R8) and
//! the long-sickness signal (R9).
//!
//! Quotas count every entry given, from any month, in date order: the history
//! before the computed month decides what is left of a quota within it.

use std::collections::BTreeSet;
use std::ops::RangeInclusive;

use rust_decimal::Decimal;
use time::{Date, Duration};

use crate::bounds::checked;
use crate::calendar;
use crate::facts::{AbsenceKind, DayEntry, Participant, Programme, YearMonth, latest_started_by};
use crate::month::{Flag, RulesError};
use crate::parameters::Parameters;
use crate::policy::Policy;

/// How the quotas treat one day entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classified {
    /// Hours that keep the entry's own effect (paid, or deducted for its kind).
    pub kept_hours: Decimal,
    /// Hours that a quota turned into unexcused absence (they follow R5's rules
    /// for `UNEXCUSED`, with the entry's own decision).
    pub unexcused_hours: Decimal,
    /// The quota flag, when the entry lies beyond its quota: some hours were
    /// turned unexcused, or the quota was used up already (an entry of 0
    /// hours raises its flag too, RULES.md "Flags").
    pub flag: Option<Flag>,
}

impl Classified {
    fn kept(entry: &DayEntry) -> Self {
        Self {
            kept_hours: entry.hours,
            unexcused_hours: Decimal::ZERO,
            flag: None,
        }
    }

    /// `within` of the entry's hours keep their effect, the rest turn
    /// unexcused; `beyond_quota` says whether the entry lies beyond its quota.
    fn split(entry: &DayEntry, within: Decimal, beyond_quota: bool, flag: Flag) -> Self {
        Self {
            kept_hours: within,
            unexcused_hours: entry.hours - within,
            flag: beyond_quota.then_some(flag),
        }
    }
}

/// What the quotas need besides the entries.
#[derive(Debug, Clone, Copy)]
pub struct QuotaContext<'a> {
    /// The participant (children and sole-carer periods, R8).
    pub participant: &'a Participant,
    /// The programme periods (their starts, R6).
    pub programmes: &'a [Programme],
    /// The policy values.
    pub policy: &'a Policy,
    /// The parameters (hours per day).
    pub parameters: &'a Parameters,
}

/// What the quotas' checked arithmetic names when it overflows.
const QUOTA: &str = "absence quota";

/// Classifies every entry (same order as `days`) by R6, R7 and R8; an error
/// only when a quota leaves the range of the arithmetic (a policy or hours
/// far beyond their bounds of sense).
pub fn classify(days: &[DayEntry], ctx: QuotaContext<'_>) -> Result<Vec<Classified>, RulesError> {
    classify_within(days, ctx, Date::MIN..=Date::MAX)
}

/// As [`classify`], exact for the entries dated within `dates`; the entries
/// those cannot depend on are left as given: those after its end (quotas are
/// used in date order) and leave and child's sickness of earlier calendar
/// years (their quotas are per year). What a month's calculation needs.
pub fn classify_within(
    days: &[DayEntry],
    ctx: QuotaContext<'_>,
    dates: RangeInclusive<Date>,
) -> Result<Vec<Classified>, RulesError> {
    let mut out: Vec<Classified> = days.iter().map(Classified::kept).collect();
    let (first_year, last) = (dates.start().year(), *dates.end());

    // One pass takes the entries each quota counts.
    let mut self_certified: Vec<Date> = Vec::with_capacity(days.len());
    let mut leave: Vec<(usize, &DayEntry)> = Vec::with_capacity(days.len());
    let mut child_sick: Vec<(usize, &DayEntry)> = Vec::with_capacity(days.len());
    for (i, entry) in days.iter().enumerate() {
        if entry.date > last {
            continue;
        }
        let this_year_or_later = entry.date.year() >= first_year;
        match entry.kind {
            AbsenceKind::SickSelf => self_certified.push(entry.date),
            AbsenceKind::Leave if this_year_or_later => leave.push((i, entry)),
            AbsenceKind::ChildSick if this_year_or_later => child_sick.push((i, entry)),
            _ => {}
        }
    }
    self_certified.sort_unstable();
    self_certified.dedup();

    let over_quota = self_cert_over_quota(&self_certified, ctx.programmes, ctx.policy);
    for (entry, classified) in days.iter().zip(out.iter_mut()) {
        if entry.kind == AbsenceKind::SickSelf && over_quota.binary_search(&entry.date).is_ok() {
            *classified =
                Classified::split(entry, Decimal::ZERO, true, Flag::SelfCertQuotaExceeded);
        }
    }

    let hpd = ctx.parameters.hours_per_day;
    // Each quota is computed when an entry first needs it, and again only
    // when what it depends on changes: the closures answer a quota only
    // when it is new.
    let mut leave_quota = None;
    apply_yearly_quota(
        leave,
        &mut out,
        Flag::LeaveQuotaExceeded,
        |_| match leave_quota {
            Some(_) => Ok(None),
            None => {
                let quota = checked::mul(ctx.policy.leave_days_per_year, hpd, QUOTA)?;
                leave_quota = Some(quota);
                Ok(Some(quota))
            }
        },
    )?;
    let mut child_quota: Option<ChildSickBasis> = None;
    let young_spans = if child_sick.is_empty() {
        Vec::new()
    } else {
        ChildSickBasis::young_spans(&ctx)
    };
    apply_yearly_quota(child_sick, &mut out, Flag::ChildSickQuotaExceeded, |date| {
        let basis = ChildSickBasis::on(date, &young_spans, &ctx);
        if child_quota == Some(basis) {
            return Ok(None);
        }
        let quota = checked::mul(basis.days(ctx.policy)?, hpd, QUOTA)?;
        child_quota = Some(basis);
        Ok(Some(quota))
    })?;
    Ok(out)
}

/// What the child's-sickness quota depends on (R8): the young children and
/// whether the participant cares alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ChildSickBasis {
    young_children: usize,
    sole_carer: bool,
}

impl ChildSickBasis {
    /// Each child's span as a young child: birth and the birthday it ends on.
    fn young_spans(ctx: &QuotaContext<'_>) -> Vec<(Date, Date)> {
        let age = ctx.policy.child_sick_young_child_age;
        ctx.participant
            .children
            .iter()
            .map(|c| (c.birth_date, calendar::anniversary(c.birth_date, age)))
            .collect()
    }

    fn on(date: Date, young_spans: &[(Date, Date)], ctx: &QuotaContext<'_>) -> Self {
        Self {
            young_children: young_spans
                .iter()
                .filter(|(born, grown)| *born <= date && date < *grown)
                .count(),
            sole_carer: ctx.participant.is_sole_carer_on(date),
        }
    }

    /// The quota in days.
    fn days(self, policy: &Policy) -> Result<Decimal, RulesError> {
        let days = if self.young_children > policy.child_sick_many_children_more_than as usize {
            policy.child_sick_days_many_children
        } else {
            policy.child_sick_days_per_year
        };
        if self.sole_carer {
            checked::mul(days, policy.sole_carer_quota_multiplier, QUOTA)
        } else {
            Ok(days)
        }
    }
}

/// R8: the child's-sickness quota in days in force on `date`.
pub fn child_sick_quota_days(date: Date, ctx: &QuotaContext<'_>) -> Result<Decimal, RulesError> {
    ChildSickBasis::on(date, &ChildSickBasis::young_spans(ctx), ctx).days(ctx.policy)
}

/// R7/R8: a per-calendar-year quota in hours, used up in date order by the hours
/// within it; the part of an entry beyond the quota in force on its date is
/// split off. `entries` are those of the quota's kind with their index in
/// `out`; `changed_quota_on` answers the quota on a date when it differs from
/// the one it answered before.
fn apply_yearly_quota(
    mut entries: Vec<(usize, &DayEntry)>,
    out: &mut [Classified],
    flag: Flag,
    mut changed_quota_on: impl FnMut(Date) -> Result<Option<Decimal>, RulesError>,
) -> Result<(), RulesError> {
    // A stable sort keeps entries of one date in the order given.
    entries.sort_by_key(|(_, e)| e.date);
    // In date order, so each year's use starts when the year before ends.
    let mut year = None;
    let (mut quota, mut used, mut left) = (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO);
    for (i, entry) in entries {
        let mut stale = false;
        if year != Some(entry.date.year()) {
            year = Some(entry.date.year());
            used = Decimal::ZERO;
            stale = true;
        }
        if let Some(changed) = changed_quota_on(entry.date)? {
            quota = changed;
            stale = true;
        }
        if stale {
            left = checked::sub(quota, used, QUOTA)?.max(Decimal::ZERO);
        }
        // Beyond the quota: hours over what is left, or nothing left at all.
        let (within, beyond_quota) = if entry.hours <= left {
            (entry.hours, left.is_zero())
        } else {
            (left, true)
        };
        if !within.is_zero() {
            used = checked::add(used, within, QUOTA)?;
            left = checked::sub(left, within, QUOTA)?;
        }
        out[i] = Classified::split(entry, within, beyond_quota, flag);
    }
    Ok(())
}

/// The dates of one kind, sorted, each once.
fn dates_of(days: &[DayEntry], kind: AbsenceKind) -> Vec<Date> {
    let mut dates: Vec<Date> = days
        .iter()
        .filter(|e| e.kind == kind)
        .map(|e| e.date)
        .collect();
    dates.sort_unstable();
    dates.dedup();
    dates
}

/// The runs of [`occurrences`] over sorted, distinct `dates`, as index ranges.
fn runs(dates: &[Date]) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
    let mut start = 0;
    (1..=dates.len()).filter_map(move |end| {
        let continues =
            end < dates.len() && calendar::only_rest_days_between(dates[end - 1], dates[end]);
        if continues {
            return None;
        }
        let run = start..end;
        start = end;
        Some(run)
    })
}

/// The self-certified sickness occurrences (R6), from all `SICK_SELF` entries.
pub fn self_cert_occurrences(days: &[DayEntry]) -> Vec<Vec<Date>> {
    let dates = dates_of(days, AbsenceKind::SickSelf);
    runs(&dates).map(|run| dates[run].to_vec()).collect()
}

/// How many earlier occurrences count against an occurrence starting on
/// `first`, of the occurrences' first dates `starts` (sorted): those later
/// than the same calendar date one year before.
pub fn occurrences_in_year_before(starts: &[Date], first: Date) -> usize {
    let year_before = calendar::anniversary(first, -1);
    let after_year_before = starts.partition_point(|start| *start <= year_before);
    let before_first = starts.partition_point(|start| *start < first);
    before_first.saturating_sub(after_year_before)
}

/// The first date on which self-certification is allowed in a programme
/// period (R6); a period starting so near the end of the calendar that the
/// waiting time runs past it never allows it.
fn self_cert_allowed_from(programme: &Programme, policy: &Policy) -> Date {
    programme
        .start
        .checked_add(Duration::weeks(i64::from(policy.self_cert_min_weeks)))
        .unwrap_or(Date::MAX)
}

/// R6: whether a `SICK_SELF` date is past the waiting time of the latest
/// period started by then (a re-entry starts its own); a date before every
/// period never is.
fn self_cert_waited(programmes: &[Programme], date: Date, policy: &Policy) -> bool {
    latest_started_by(programmes, date).is_some_and(|p| date >= self_cert_allowed_from(p, policy))
}

/// The first date on which self-certification is allowed, as of `as_of`:
/// in the latest period started by then, or else the next to start
/// (`Date::MAX` when there is none).
pub fn self_cert_available_from(programmes: &[Programme], as_of: Date, policy: &Policy) -> Date {
    latest_started_by(programmes, as_of)
        .or_else(|| {
            programmes
                .iter()
                .filter(|p| p.start > as_of)
                .min_by_key(|p| p.start)
        })
        .map_or(Date::MAX, |p| self_cert_allowed_from(p, policy))
}

/// R6: the `SICK_SELF` dates over quota, sorted, of the self-certified
/// `dates` (sorted, each once).
fn self_cert_over_quota(dates: &[Date], programmes: &[Programme], policy: &Policy) -> Vec<Date> {
    let occurrences: Vec<std::ops::Range<usize>> = runs(dates).collect();
    let mut over = Vec::new();
    let starts: Vec<Date> = occurrences.iter().map(|o| dates[o.start]).collect();
    for (occurrence, first) in occurrences.iter().zip(&starts) {
        let before = occurrences_in_year_before(&starts, *first);
        let too_many_before = before >= policy.self_cert_max_occurrences as usize;
        for (position, date) in dates[occurrence.clone()].iter().enumerate() {
            if too_many_before
                || !self_cert_waited(programmes, *date, policy)
                || position >= policy.self_cert_max_days as usize
            {
                over.push(*date);
            }
        }
    }
    over
}

/// R9: a run of more than `long_sickness_days` certified sick dates with at least
/// one date in `month`.
pub fn long_sickness_in(days: &[DayEntry], month: YearMonth, policy: &Policy) -> bool {
    let dates = dates_of(days, AbsenceKind::SickCertified);
    runs(&dates).any(|run| {
        run.len() > policy.long_sickness_days as usize
            && dates[run].iter().any(|d| YearMonth::of(*d) == month)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn sick(date: Date) -> DayEntry {
        DayEntry {
            date,
            kind: AbsenceKind::SickSelf,
            hours: Decimal::new(75, 1),
            decision: None,
        }
    }

    #[test]
    fn a_weekend_joins_sick_days_into_one_occurrence() {
        let days = [
            sick(date!(2025 - 03 - 06)),
            sick(date!(2025 - 03 - 07)),
            sick(date!(2025 - 03 - 10)),
            sick(date!(2025 - 03 - 12)),
        ];
        let runs = self_cert_occurrences(&days);
        assert_eq!(runs.len(), 2);
        assert_eq!(runs[0].len(), 3);
        assert_eq!(runs[1], vec![date!(2025 - 03 - 12)]);
    }

    #[test]
    fn a_waiting_time_past_the_end_of_the_calendar_never_allows_self_certification() {
        let policy = Policy::shipped().unwrap();
        let programme = |start| Programme {
            start,
            end: None,
            pauses: Vec::new(),
        };
        assert_eq!(
            self_cert_allowed_from(&programme(date!(9999 - 12 - 31)), &policy),
            Date::MAX
        );
        assert_eq!(
            self_cert_allowed_from(&programme(date!(2025 - 01 - 06)), &policy),
            date!(2025 - 01 - 06) + Duration::weeks(i64::from(policy.self_cert_min_weeks))
        );
    }

    #[test]
    fn a_re_entry_starts_its_own_waiting_time() {
        let policy = Policy::shipped().unwrap();
        let weeks = Duration::weeks(i64::from(policy.self_cert_min_weeks));
        let first = Programme {
            start: date!(2024 - 01 - 08),
            end: Some(date!(2025 - 02 - 28)),
            pauses: Vec::new(),
        };
        let again = Programme {
            start: date!(2025 - 04 - 07),
            end: None,
            pauses: Vec::new(),
        };
        let both = [again.clone(), first.clone()];
        // Before every period: never allowed.
        assert!(!self_cert_waited(&both, date!(2024 - 01 - 05), &policy));
        // In the first period after its waiting time, and in the gap after it.
        assert!(self_cert_waited(&both, date!(2025 - 01 - 14), &policy));
        assert!(self_cert_waited(&both, date!(2025 - 03 - 20), &policy));
        // The re-entry waits again, to the day.
        assert!(!self_cert_waited(
            &both,
            again.start + weeks - Duration::days(1),
            &policy
        ));
        assert!(self_cert_waited(&both, again.start + weeks, &policy));
        assert_eq!(
            self_cert_available_from(&both, date!(2025 - 05 - 06), &policy),
            again.start + weeks
        );
        assert_eq!(
            self_cert_available_from(&both, date!(2023 - 12 - 01), &policy),
            first.start + weeks,
            "before every period: the first period's"
        );
        assert_eq!(
            self_cert_available_from(&[], date!(2025 - 05 - 06), &policy),
            Date::MAX
        );
    }

    #[test]
    fn quota_use_counts_leave_child_sickness_and_self_certification() {
        let parameters = Parameters::shipped().unwrap();
        let policy = Policy::shipped().unwrap();
        let participant = Participant {
            birth_date: date!(1990 - 01 - 01),
            children: vec![crate::facts::Child {
                birth_date: date!(2020 - 01 - 01),
            }],
            sole_carer: Vec::new(),
        };
        let programme = Programme {
            start: date!(2024 - 01 - 01),
            end: None,
            pauses: Vec::new(),
        };
        let ctx = QuotaContext {
            participant: &participant,
            programmes: std::slice::from_ref(&programme),
            policy: &policy,
            parameters: &parameters,
        };
        let leave = |date, hours| DayEntry {
            date,
            kind: AbsenceKind::Leave,
            hours: Decimal::new(hours, 1),
            decision: None,
        };
        let days = vec![
            leave(date!(2024 - 12 - 30), 75),
            leave(date!(2025 - 03 - 03), 75),
            leave(date!(2025 - 03 - 04), 40),
            DayEntry {
                date: date!(2025 - 03 - 05),
                kind: AbsenceKind::ChildSick,
                hours: Decimal::new(75, 1),
                decision: None,
            },
            sick(date!(2025 - 03 - 06)),
            sick(date!(2025 - 03 - 07)),
            sick(date!(2025 - 02 - 03)),
        ];
        let q = quota_use(&days, ctx, date!(2025 - 03 - 07)).unwrap();
        assert_eq!(q.leave_hours_used, Decimal::new(115, 1));
        assert_eq!(
            q.leave_hours_left,
            Decimal::new(1875, 1) - Decimal::new(115, 1)
        );
        assert_eq!(
            q.child_sick_hours_left,
            Decimal::new(750, 1) - Decimal::new(75, 1)
        );
        assert_eq!(q.self_cert_days_left_in_occurrence, 1);
        assert_eq!(q.self_cert_occurrences_left, 2);
        assert_eq!(q.self_cert_available_from, date!(2024 - 02 - 26));
        // The next Monday continues Friday's occurrence across the weekend.
        let q = quota_use(&days, ctx, date!(2025 - 03 - 10)).unwrap();
        assert_eq!(q.self_cert_days_left_in_occurrence, 1);
        let q = quota_use(&days, ctx, date!(2025 - 03 - 12)).unwrap();
        assert_eq!(q.self_cert_days_left_in_occurrence, 3);
    }

    #[test]
    fn only_later_occurrences_than_a_year_before_count() {
        let starts = [
            date!(2024 - 03 - 01),
            date!(2024 - 03 - 02),
            date!(2025 - 03 - 01),
        ];
        // 2024-03-01 is not later than the same date one year before.
        assert_eq!(
            occurrences_in_year_before(&starts, date!(2025 - 03 - 01)),
            1
        );
        assert_eq!(
            occurrences_in_year_before(&starts, date!(2025 - 03 - 02)),
            1
        );
        assert_eq!(
            occurrences_in_year_before(&starts, date!(2024 - 03 - 02)),
            1
        );
    }
}

/// What is left of each absence quota on a date (R6–R8): the count caseworkers
/// keep by hand today.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct QuotaUse {
    /// The date the figures hold for; the annual quotas are those of its year.
    pub as_of: Date,
    /// Self-certified dates still allowed in the occurrence running on `as_of`,
    /// or in a new one.
    pub self_cert_days_left_in_occurrence: u32,
    /// Occurrences that may still start in the year up to `as_of`.
    pub self_cert_occurrences_left: u32,
    /// The first date self-certification may be used.
    pub self_cert_available_from: Date,
    /// Leave hours used within the quota in `as_of`'s year.
    pub leave_hours_used: Decimal,
    /// Leave hours left in `as_of`'s year.
    pub leave_hours_left: Decimal,
    /// Child's-sickness hours used within the quota in `as_of`'s year.
    pub child_sick_hours_used: Decimal,
    /// Child's-sickness hours left in `as_of`'s year, by the quota in force on `as_of`.
    pub child_sick_hours_left: Decimal,
}

/// Computes what is left of the quotas on `as_of`, counting every entry given;
/// an error only as [`classify`].
pub fn quota_use(
    days: &[DayEntry],
    ctx: QuotaContext<'_>,
    as_of: Date,
) -> Result<QuotaUse, RulesError> {
    quota_details(days, ctx, as_of).map(|details| details.quotas)
}

/// What is left of the quotas on `as_of` ([`quota_use`]) with what the
/// figures are made of: each quota's size and the entries it counts, so a
/// caseworker can check every figure; an error only as [`classify`].
pub fn quota_details(
    days: &[DayEntry],
    ctx: QuotaContext<'_>,
    as_of: Date,
) -> Result<QuotaDetails, RulesError> {
    let policy = ctx.policy;
    let hpd = ctx.parameters.hours_per_day;
    let classified = classify(days, ctx)?;
    let used_in_year = |kind: AbsenceKind| -> Result<Decimal, RulesError> {
        checked::sum(
            days.iter()
                .zip(&classified)
                .filter(|(e, _)| e.kind == kind && e.date.year() == as_of.year())
                .map(|(_, c)| c.kept_hours),
            QUOTA,
        )
    };
    let leave_used = used_in_year(AbsenceKind::Leave)?;
    let child_used = used_in_year(AbsenceKind::ChildSick)?;
    let leave_quota = checked::mul(policy.leave_days_per_year, hpd, QUOTA)?;
    let child_quota = checked::mul(child_sick_quota_days(as_of, &ctx)?, hpd, QUOTA)?;

    let occurrences = self_cert_occurrences(days);
    let year_before = calendar::anniversary(as_of, -1);
    let in_year: Vec<Vec<Date>> = occurrences
        .iter()
        .filter(|o| o.first().is_some_and(|f| *f > year_before && *f <= as_of))
        .cloned()
        .collect();
    let running = occurrences.iter().find(|o| {
        o.first().is_some_and(|f| *f <= as_of)
            && o.last()
                .is_some_and(|l| *l >= as_of || calendar::only_rest_days_between(*l, as_of))
    });
    let days_left = match running {
        Some(o) => policy.self_cert_max_days.saturating_sub(o.len() as u32),
        None => policy.self_cert_max_days,
    };
    let counted_dates: BTreeSet<Date> = in_year.iter().flatten().copied().collect();
    let mut entries: Vec<QuotaEntry> = days
        .iter()
        .zip(&classified)
        .filter(|(e, _)| match e.kind {
            AbsenceKind::SickSelf => counted_dates.contains(&e.date),
            AbsenceKind::Leave | AbsenceKind::ChildSick => e.date.year() == as_of.year(),
            _ => false,
        })
        .map(|(e, c)| QuotaEntry {
            date: e.date,
            kind: e.kind,
            hours: e.hours,
            kept_hours: c.kept_hours,
            unexcused_hours: c.unexcused_hours,
            flag: c.flag,
        })
        .collect();
    entries.sort_by_key(|e| e.date);
    Ok(QuotaDetails {
        quotas: QuotaUse {
            as_of,
            self_cert_days_left_in_occurrence: days_left,
            self_cert_occurrences_left: policy
                .self_cert_max_occurrences
                .saturating_sub(in_year.len() as u32),
            self_cert_available_from: self_cert_available_from(ctx.programmes, as_of, policy),
            leave_hours_used: leave_used,
            leave_hours_left: checked::sub(leave_quota, leave_used, QUOTA)?.max(Decimal::ZERO),
            child_sick_hours_used: child_used,
            child_sick_hours_left: checked::sub(child_quota, child_used, QUOTA)?.max(Decimal::ZERO),
        },
        self_cert_counted_after: year_before,
        self_cert_occurrences: in_year,
        leave_quota_hours: leave_quota,
        child_sick_quota_hours: child_quota,
        child_sick_quota_doubled: ctx.participant.is_sole_carer_on(as_of),
        entries,
    })
}

/// The quotas on a date and what they are made of ([`quota_details`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaDetails {
    /// What is left of each quota.
    pub quotas: QuotaUse,
    /// Self-certification occurrences count when they start after this date
    /// (the same date one year before `as_of`) and by `as_of`.
    pub self_cert_counted_after: Date,
    /// The occurrences that count, each its self-certified dates, oldest first.
    pub self_cert_occurrences: Vec<Vec<Date>>,
    /// The leave quota of `as_of`'s year, in hours.
    pub leave_quota_hours: Decimal,
    /// The child's-sickness quota in force on `as_of`, in hours.
    pub child_sick_quota_hours: Decimal,
    /// Whether that quota is doubled: the participant is a sole carer on `as_of`.
    pub child_sick_quota_doubled: bool,
    /// The entries behind the figures, by date: self-certified days of the
    /// occurrences that count, leave and child's sickness of `as_of`'s year.
    pub entries: Vec<QuotaEntry>,
}

/// An entry a quota counts, and what the quota made of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaEntry {
    /// The day.
    pub date: Date,
    /// The kind it was given as.
    pub kind: AbsenceKind,
    /// Its hours.
    pub hours: Decimal,
    /// Hours within the quota.
    pub kept_hours: Decimal,
    /// Hours the quota turned unexcused.
    pub unexcused_hours: Decimal,
    /// The quota flag, when the entry lies beyond its quota.
    pub flag: Option<Flag>,
}
