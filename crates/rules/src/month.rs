//! The month calculation (R10–R15): pay lines, quantities, flags and the
//! line-by-line explanation.
//!
//! Each line is computed exactly as one fraction (numerators summed over the days,
//! one division) and rounded once to øre, half away from zero. The under-25
//! factor stays a fraction: a day's annual amount is `G × factor × n / d`, where
//! `n / d` is 2/3 before the 25th birthday and `d / d` after, so every day of a line
//! shares the denominator `12 × W × d` (× hours per day for hour-based lines).
//! The denominators are small (below 10^7), so a quotient that is not exactly on a
//! half-øre lies at least 10^-10 from it, far above the 28 significant digits of
//! the division: rounding the quotient is exact.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use rust_decimal::Decimal;
use serde::{Serialize, Serializer};
use time::{Date, Month};

use crate::bounds::{self, checked};
use crate::calendar;
use crate::decimal::{Kroner, format_amount, format_hours, ratio_to_ore, round_to_ore};
use crate::facts::{AbsenceKind, Decision, MonthFacts, Offset, Participant, YearMonth};
use crate::parameters::Parameters;
use crate::policy::Policy;
use crate::quotas::{self, QuotaContext};

/// The pay line codes of R15, in the order they are computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LineCode {
    /// The stipend for the paid days.
    KvpBase,
    /// Paid work, hour for hour (R4).
    KvpDeductionWage,
    /// Approved unpaid absence, hour for hour.
    KvpDeductionUnpaidLeave,
    /// Sanctioned unexcused absence, hour for hour (§ 36).
    KvpDeductionAbsence,
    /// Child supplement (R13).
    KvpChildSupplement,
    /// Other livelihood benefits, krone for krone (R11).
    KvpDeductionOtherBenefits,
}

impl LineCode {
    /// All codes, in computation order.
    pub const ALL: [LineCode; 6] = [
        Self::KvpBase,
        Self::KvpDeductionWage,
        Self::KvpDeductionUnpaidLeave,
        Self::KvpDeductionAbsence,
        Self::KvpChildSupplement,
        Self::KvpDeductionOtherBenefits,
    ];

    /// The product's code (`KVP_BASE`); municipalities map it to a pay code.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::KvpBase => "KVP_BASE",
            Self::KvpDeductionWage => "KVP_DEDUCTION_WAGE",
            Self::KvpDeductionUnpaidLeave => "KVP_DEDUCTION_UNPAID_LEAVE",
            Self::KvpDeductionAbsence => "KVP_DEDUCTION_ABSENCE",
            Self::KvpChildSupplement => "KVP_CHILD_SUPPLEMENT",
            Self::KvpDeductionOtherBenefits => "KVP_DEDUCTION_OTHER_BENEFITS",
        }
    }

    /// The rules and the law behind the line.
    pub fn reference(self) -> &'static str {
        match self {
            Self::KvpBase => "RULES R1, R2, R3, R12, R15; sosialtjenesteloven § 35",
            Self::KvpDeductionWage => "RULES R4, R10, R15; forskrift om kvalifiseringsprogram",
            Self::KvpDeductionUnpaidLeave => "RULES R5, R10, R15; sosialtjenesteloven § 36",
            Self::KvpDeductionAbsence => "RULES R5–R8, R10, R15; sosialtjenesteloven § 36",
            Self::KvpChildSupplement => "RULES R13, R15; sosialtjenesteloven § 35",
            Self::KvpDeductionOtherBenefits => "RULES R11; sosialtjenesteloven § 35",
        }
    }
}

impl fmt::Display for LineCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Signals for the caseworker and the payroll clerk (RULES.md, Flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Flag {
    /// R8: child's-sickness hours beyond the quota became unexcused.
    ChildSickQuotaExceeded,
    /// R12: entitled weekdays without an accepted timesheet were withheld.
    DaysWithheldNoTimesheet,
    /// R14: the month is May or later and that year's G is not known yet.
    GRegulationPending,
    /// R7: leave hours beyond the quota became unexcused.
    LeaveQuotaExceeded,
    /// R9: a long run of certified sickness (consider a temporary interruption).
    LongSickness,
    /// R6: self-certified sickness beyond the quota became unexcused.
    SelfCertQuotaExceeded,
    /// R5: unexcused hours await a sanction decision (paid for now).
    UnexcusedPendingDecision,
}

impl Flag {
    /// The flag's name (`SELF_CERT_QUOTA_EXCEEDED`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ChildSickQuotaExceeded => "CHILD_SICK_QUOTA_EXCEEDED",
            Self::DaysWithheldNoTimesheet => "DAYS_WITHHELD_NO_TIMESHEET",
            Self::GRegulationPending => "G_REGULATION_PENDING",
            Self::LeaveQuotaExceeded => "LEAVE_QUOTA_EXCEEDED",
            Self::LongSickness => "LONG_SICKNESS",
            Self::SelfCertQuotaExceeded => "SELF_CERT_QUOTA_EXCEEDED",
            Self::UnexcusedPendingDecision => "UNEXCUSED_PENDING_DECISION",
        }
    }
}

/// Why a month could not be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RulesError {
    /// A dated parameter has no value in force on a day that needs it.
    #[error("no {parameter} is in force on {date}")]
    MissingParameter {
        /// The parameter table.
        parameter: &'static str,
        /// The day that needs it.
        date: Date,
    },
    /// An input value is out of its domain.
    #[error("{field}: {message}")]
    InvalidInput {
        /// The field at fault, e.g. `days[3].hours`.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// A sum, product or quotient left the range of the arithmetic (or
    /// divided by zero): the facts or parameters hold a value far beyond the
    /// bounds of sense ([`crate::bounds`]) that no edge let through.
    #[error(
        "the {what} is beyond the range of the arithmetic: a value far beyond its bound of sense"
    )]
    Overflow {
        /// What was being computed (`sum of the other benefits`).
        what: &'static str,
    },
}

/// The quantities behind the lines (RULES.md, Outputs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Quantities {
    /// Number of paid days.
    pub base_days: u32,
    /// Sanctioned unexcused hours deducted, after the R10 cap.
    pub absence_hours: Decimal,
    /// Approved unpaid hours deducted, after the R10 cap.
    pub unpaid_hours: Decimal,
    /// Paid-work hours deducted, after the R10 cap.
    pub wage_hours: Decimal,
}

/// What a line's quantity counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum QuantityUnit {
    /// Paid days (the base line).
    Days,
    /// Hours deducted (the three hour-based deductions).
    Hours,
    /// Child-days (the child supplement): each child under 18 on a paid day
    /// counts that day's share not deducted, `(7.5 − deducted hours) / 7.5`.
    ChildDays,
}

impl QuantityUnit {
    /// The unit as stored and written in the API (`DAYS`, `HOURS`, `CHILD_DAYS`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Days => "DAYS",
            Self::Hours => "HOURS",
            Self::ChildDays => "CHILD_DAYS",
        }
    }

    /// The unit of a stored text form.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Days, Self::Hours, Self::ChildDays]
            .into_iter()
            .find(|unit| unit.as_str() == text)
    }

    /// The unit a line code's quantity counts in; `None` for the other
    /// benefits, which are kroner for kroner.
    pub fn of(code: LineCode) -> Option<Self> {
        match code {
            LineCode::KvpBase => Some(Self::Days),
            LineCode::KvpDeductionWage
            | LineCode::KvpDeductionUnpaidLeave
            | LineCode::KvpDeductionAbsence => Some(Self::Hours),
            LineCode::KvpChildSupplement => Some(Self::ChildDays),
            LineCode::KvpDeductionOtherBenefits => None,
        }
    }
}

/// Decimals a quantity is given with (days and hours need fewer; child-days
/// are fractions of a day).
pub const QUANTITY_DECIMALS: u32 = 4;

/// A line's quantity and display rate. The line stays one amount rounded
/// once (R15): the rate is for reading, `unrounded amount ÷ quantity`
/// rounded to øre, so `quantity × rate` may differ from the amount by
/// rounding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineQuantity {
    /// How many units, at most [`QUANTITY_DECIMALS`] decimals; never negative
    /// on a month's line, negative on a correction that takes units back.
    pub value: Decimal,
    /// What the quantity counts.
    pub unit: QuantityUnit,
    /// Kroner per unit with the amount's sign, rounded to øre; `None` when
    /// the quantity is zero.
    pub rate: Option<Decimal>,
}

impl LineQuantity {
    /// A quantity of `value` units behind an amount of `unrounded` kroner
    /// (before the line's rounding). Errors when the quotient leaves the range
    /// of the arithmetic.
    pub fn new(value: Decimal, unit: QuantityUnit, unrounded: Decimal) -> Result<Self, RulesError> {
        let rate = if value.is_zero() {
            None
        } else {
            Some(round_to_ore(checked::div(
                unrounded,
                value,
                "display rate",
            )?))
        };
        Ok(Self {
            value: round_quantity(value),
            unit,
            rate,
        })
    }
}

/// A quantity rounded to [`QUANTITY_DECIMALS`], half away from zero.
pub fn round_quantity(value: Decimal) -> Decimal {
    value
        .round_dp_with_strategy(
            QUANTITY_DECIMALS,
            rust_decimal::RoundingStrategy::MidpointAwayFromZero,
        )
        .normalize()
}

/// One pay line with its explanation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayLine {
    /// Which line.
    pub code: LineCode,
    /// The amount in kroner, rounded to øre; negative for deductions.
    pub amount: Decimal,
    /// The days, hours or child-days behind the amount; `None` for the other
    /// benefits (kroner for kroner).
    pub quantity: Option<LineQuantity>,
    /// One sentence: how the amount was reached.
    pub summary: String,
    /// The days, hours and rates behind it, one per line.
    pub details: Vec<String>,
}

/// What became of an entry on a paid day of the month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntryOutcome {
    /// The day.
    pub date: Date,
    /// The entry's kind.
    pub kind: AbsenceKind,
    /// The entry's hours.
    #[serde(serialize_with = "hours_str")]
    pub hours: Decimal,
    /// Hours a quota turned unexcused.
    #[serde(serialize_with = "hours_str")]
    pub turned_unexcused_hours: Decimal,
    /// Unexcused hours deducted (decided, or auto-applied), before the day cap.
    #[serde(serialize_with = "hours_str")]
    pub sanctioned_hours: Decimal,
    /// Unexcused hours awaiting a decision (paid for now).
    #[serde(serialize_with = "hours_str")]
    pub pending_hours: Decimal,
    /// The quota flag, if a quota was exceeded.
    pub flag: Option<Flag>,
}

/// The computed month.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonthResult {
    /// The month.
    pub month: YearMonth,
    /// The six lines of R15, in computation order.
    pub lines: Vec<PayLine>,
    /// The sum of the lines.
    pub total: Decimal,
    /// The quantities behind the lines.
    pub quantities: Quantities,
    /// The flags raised.
    pub flags: BTreeSet<Flag>,
    /// Entries on paid days of the month and what became of them.
    pub entries: Vec<EntryOutcome>,
}

impl MonthResult {
    /// The amount of one line.
    pub fn line(&self, code: LineCode) -> Decimal {
        self.lines
            .iter()
            .find(|l| l.code == code)
            .map_or(Decimal::ZERO, |l| l.amount)
    }
}

/// Per-day hours after classification, before the R10 cap.
#[derive(Debug, Default, Clone, Copy)]
struct DayHours {
    /// Whether any entry lies on the day.
    any: bool,
    wage: Decimal,
    unpaid: Decimal,
    sanctioned: Decimal,
}

impl DayHours {
    /// R10: at most one day's hours are deducted, in the order wage, unpaid,
    /// absence. Checked like every sum here: `hpd` may be any value in
    /// parameters built in code, which no loader bounded.
    fn capped(&self, hpd: Decimal) -> Result<(Decimal, Decimal, Decimal), RulesError> {
        if !self.any && !hpd.is_sign_negative() {
            // Most days: no entry, nothing deducted.
            return Ok((Decimal::ZERO, Decimal::ZERO, Decimal::ZERO));
        }
        let wage = self.wage.min(hpd);
        let unpaid = self.unpaid.min(checked::sub(hpd, wage, HOURS)?);
        let deducted_before_absence = checked::add(wage, unpaid, HOURS)?;
        let absence = self
            .sanctioned
            .min(checked::sub(hpd, deducted_before_absence, HOURS)?);
        Ok((wage, unpaid, absence))
    }
}

/// A line's exact value before its one rounding.
#[derive(Debug, Default)]
struct Exact {
    numerator: Decimal,
    denominator: Decimal,
}

impl Exact {
    fn value(&self, what: &'static str) -> Result<Decimal, RulesError> {
        if self.numerator.is_zero() {
            Ok(Decimal::ZERO)
        } else {
            checked::div(self.numerator, self.denominator, what)
        }
    }

    /// The value rounded once to øre: exactly, in integers, where they hold
    /// the fraction; else the decimal quotient rounded (the same, as the
    /// module's note shows).
    fn rounded(&self, what: &'static str) -> Result<Decimal, RulesError> {
        if self.numerator.is_zero() {
            return Ok(Decimal::ZERO);
        }
        match ratio_to_ore(self.numerator, self.denominator) {
            Some(amount) => Ok(amount),
            None => Ok(round_to_ore(self.value(what)?)),
        }
    }

    /// The line's quantity of `value` units with the display rate of the
    /// value (negated for a deduction) per unit, as [`LineQuantity::new`].
    fn quantity(
        &self,
        value: Decimal,
        unit: QuantityUnit,
        negated: bool,
        what: &'static str,
    ) -> Result<LineQuantity, RulesError> {
        let per_unit = self.denominator.checked_mul(value);
        self.quantity_per(per_unit, value, unit, negated, what)
    }

    /// [`Exact::quantity`] with the rate `numerator ÷ per_unit` (`per_unit`
    /// being the denominator times `value`, or a fraction equal to it), in
    /// integers when they hold it.
    fn quantity_per(
        &self,
        per_unit: Option<Decimal>,
        value: Decimal,
        unit: QuantityUnit,
        negated: bool,
        what: &'static str,
    ) -> Result<LineQuantity, RulesError> {
        let sign = |amount: Decimal| if negated { -amount } else { amount };
        let numerator = sign(self.numerator);
        if !value.is_zero()
            && !numerator.is_zero()
            && let Some(rate) = per_unit.and_then(|d| ratio_to_ore(numerator, d))
        {
            return Ok(LineQuantity {
                value: round_quantity(value),
                unit,
                rate: Some(rate),
            });
        }
        LineQuantity::new(value, unit, sign(self.value(what)?))
    }

    /// Adds `a × b` to the numerator.
    fn add_product(
        &mut self,
        a: Decimal,
        b: Decimal,
        what: &'static str,
    ) -> Result<(), RulesError> {
        self.numerator = checked::add(self.numerator, checked::mul(a, b, what)?, what)?;
        Ok(())
    }
}

/// How much of the explanation a computation writes. The amounts, quantities,
/// flags and entry outcomes are the same either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Explain {
    /// Each line's summary and its details (one per day or run of days): what
    /// a month statement shows.
    Full,
    /// Each line's summary only, with no details: what a pay run keeps with a
    /// line (a close computes every participant's months, and the details are
    /// shown from a fresh computation when a statement is read).
    Summaries,
}

/// Computes one participant's month (R1–R15) with its full explanation.
pub fn compute_month(
    facts: &MonthFacts,
    parameters: &Parameters,
    policy: &Policy,
) -> Result<MonthResult, RulesError> {
    compute_month_explained(facts, parameters, policy, Explain::Full)
}

/// Computes one participant's month (R1–R15), explained as `explain` says.
pub fn compute_month_explained(
    facts: &MonthFacts,
    parameters: &Parameters,
    policy: &Policy,
    explain: Explain,
) -> Result<MonthResult, RulesError> {
    validate(facts)?;
    let month = facts.month;
    let hpd = parameters.hours_per_day;
    let weekdays = Decimal::from(calendar::weekdays_in(month));
    let u25 = parameters.under_25_factor;
    let participant = &facts.participant;

    let ctx = QuotaContext {
        participant,
        programmes: &facts.programmes,
        policy,
        parameters,
    };
    let classified =
        quotas::classify_within(&facts.days, ctx, month.first_day()..=month.last_day())?;

    // The month's days by their index (day of month − 1): no map per day.
    let (first, last) = (month.first_day(), month.last_day());
    let index = |date: Date| usize::from(date.ordinal() - first.ordinal());
    let slot = |date: Date| (first <= date && date <= last).then(|| index(date));
    let mut flags = BTreeSet::new();
    let mut paid_days: Vec<Date> = Vec::with_capacity(23);
    let mut withheld: Vec<Date> = Vec::new();
    let mut is_paid = [false; 31];
    let first_weekday = usize::from(first.weekday().number_days_from_monday());
    for (i, day) in month.days().enumerate() {
        // Monday to Friday: R1's weekdays.
        if (first_weekday + i) % 7 >= 5 || !crate::facts::is_entitled_on(&facts.programmes, day) {
            continue;
        }
        if facts.covered.iter().any(|r| r.contains(day)) {
            is_paid[i] = true;
            paid_days.push(day);
        } else {
            withheld.push(day);
        }
    }
    if !withheld.is_empty() {
        flags.insert(Flag::DaysWithheldNoTimesheet);
    }

    // R5: what each entry on a paid day contributes.
    let mut hours_by_day = [DayHours::default(); 31];
    let mut entries = Vec::new();
    for (entry, class) in facts.days.iter().zip(&classified) {
        let Some(index) = slot(entry.date).filter(|i| is_paid[*i]) else {
            continue;
        };
        let day = &mut hours_by_day[index];
        day.any = true;
        match entry.kind {
            AbsenceKind::PaidWork => day.wage = checked::add(day.wage, class.kept_hours, HOURS)?,
            AbsenceKind::ApprovedUnpaid => {
                day.unpaid = checked::add(day.unpaid, class.kept_hours, HOURS)?;
            }
            _ => {}
        }
        let unexcused = if entry.kind == AbsenceKind::Unexcused {
            checked::add(class.kept_hours, class.unexcused_hours, HOURS)?
        } else {
            class.unexcused_hours
        };
        let (sanctioned, pending) = match (entry.decision, policy.auto_apply_unexcused) {
            (Some(Decision::Approved), _) | (None, true) => (unexcused, Decimal::ZERO),
            (Some(Decision::Rejected), _) => (Decimal::ZERO, Decimal::ZERO),
            (None, false) => (Decimal::ZERO, unexcused),
        };
        if !sanctioned.is_zero() {
            day.sanctioned = checked::add(day.sanctioned, sanctioned, HOURS)?;
        }
        // An unexcused entry (or one a quota turned unexcused) that waits for a
        // decision raises the flag whatever its hours (RULES.md "Flags").
        let is_unexcused = entry.kind == AbsenceKind::Unexcused || class.flag.is_some();
        if is_unexcused && entry.decision.is_none() && !policy.auto_apply_unexcused {
            flags.insert(Flag::UnexcusedPendingDecision);
        }
        if let Some(flag) = class.flag {
            flags.insert(flag);
        }
        entries.push(EntryOutcome {
            date: entry.date,
            kind: entry.kind,
            hours: entry.hours,
            turned_unexcused_hours: class.unexcused_hours,
            sanctioned_hours: sanctioned,
            pending_hours: pending,
            flag: class.flag,
        });
    }
    entries.sort_by_key(|e| e.date);

    if quotas::long_sickness_in(&facts.days, month, policy) {
        flags.insert(Flag::LongSickness);
    }
    if month.month() >= Month::May {
        let may_first = YearMonth::new(month.year(), Month::May).first_day();
        if !parameters.g.has_entry_on_or_after(may_first) {
            flags.insert(Flag::GRegulationPending);
        }
    }

    // R15: exact sums over the paid days.
    let rate_denominator = checked::mul(
        Decimal::from(12) * weekdays,
        u25.denominator,
        "denominator of the monthly rate",
    )?;
    let hour_denominator = checked::mul(rate_denominator, hpd, "denominator of the hourly rate")?;
    let hour_exact = || Exact {
        numerator: Decimal::ZERO,
        denominator: hour_denominator,
    };
    let mut sums = Sums {
        base: Exact {
            numerator: Decimal::ZERO,
            denominator: rate_denominator,
        },
        wage: hour_exact(),
        unpaid: hour_exact(),
        absence: hour_exact(),
        child: Exact {
            numerator: Decimal::ZERO,
            denominator: hpd,
        },
        child_hours: Decimal::ZERO,
    };
    let mut quantities = Quantities {
        base_days: paid_days.len() as u32,
        ..Quantities::default()
    };
    let mut explain_days = Explainer::new(explain, month, weekdays, hpd);

    // The days are summed in stretches at one rate (one annual amount, the
    // same children and child-supplement rate): a stretch's terms share their
    // rate, so its sums are the rate times its days or hours, exactly the sums
    // day by day.
    let birthdays = Birthdays::of(participant, parameters);
    let mut stretch: Option<Stretch> = None;
    for day in &paid_days {
        let day = *day;
        // R10: at most one day's hours are deducted.
        let hours = hours_by_day[index(day)].capped(hpd)?;
        let (wage_h, unpaid_h, absence_h) = hours;
        let deducted = if wage_h.is_zero() && unpaid_h.is_zero() && absence_h.is_zero() {
            Decimal::ZERO
        } else {
            checked::add(checked::add(wage_h, unpaid_h, HOURS)?, absence_h, HOURS)?
        };
        let mut current = match stretch.take() {
            Some(current) if day < current.until => current,
            finished => {
                if let Some(finished) = finished {
                    finished.add_to(&mut sums, &mut quantities, hpd)?;
                }
                Stretch::starting(day, &birthdays, parameters)?
            }
        };
        current.add_day(hours, deducted)?;
        explain_days.day(
            day,
            current.rate.annual,
            [wage_h, unpaid_h, absence_h],
            current.children,
            current.child_rate,
            deducted,
        );
        stretch = Some(current);
    }
    if let Some(last) = stretch {
        last.add_to(&mut sums, &mut quantities, hpd)?;
    }
    let Sums {
        base,
        wage,
        unpaid,
        absence,
        child,
        child_hours,
    } = sums;

    // One rounding per line; deductions capped by what is left of the rounded base.
    let base_amount = base.rounded("base line")?;
    let mut left = base_amount;
    let mut capped = |exact: &Exact, what| -> Result<Decimal, RulesError> {
        let amount = exact.rounded(what)?.min(left);
        left = checked::sub(left, amount, what)?;
        Ok(amount)
    };
    let wage_amount = capped(&wage, "wage deduction")?;
    let unpaid_amount = capped(&unpaid, "unpaid-leave deduction")?;
    let absence_amount = capped(&absence, "absence deduction")?;
    let child_amount = child.rounded(CHILD)?;

    // R11: other benefits, krone for krone, never below a month total of zero.
    // What is left of the base after its deductions is `left`.
    let before_offsets = checked::add(left, child_amount, "month before other benefits")?;
    let offsets_sum = offsets_total(&facts.offsets)?;
    let offsets_amount = offsets_sum.min(before_offsets.max(Decimal::ZERO));

    // Each line's quantity, with a display rate that divides the line's
    // unrounded amount (before the cap) by it; the child supplement's
    // `(Σ rate × child-hours / hpd) ÷ (child-hours / hpd)`, which is
    // `Σ rate × child-hours ÷ child-hours`.
    let hours = |value, exact: &Exact, what| {
        exact
            .quantity(value, QuantityUnit::Hours, true, what)
            .map(Some)
    };
    let child_days = Exact {
        numerator: child_hours,
        denominator: hpd,
    }
    .value(CHILD)?;
    let lines = [
        (
            LineCode::KvpBase,
            base_amount,
            Some(base.quantity(
                Decimal::from(quantities.base_days),
                QuantityUnit::Days,
                false,
                "base line",
            )?),
        ),
        (
            LineCode::KvpDeductionWage,
            -wage_amount,
            hours(quantities.wage_hours, &wage, "wage deduction")?,
        ),
        (
            LineCode::KvpDeductionUnpaidLeave,
            -unpaid_amount,
            hours(quantities.unpaid_hours, &unpaid, "unpaid-leave deduction")?,
        ),
        (
            LineCode::KvpDeductionAbsence,
            -absence_amount,
            hours(quantities.absence_hours, &absence, "absence deduction")?,
        ),
        (
            LineCode::KvpChildSupplement,
            child_amount,
            Some(child.quantity_per(
                Some(child_hours),
                child_days,
                QuantityUnit::ChildDays,
                false,
                CHILD,
            )?),
        ),
        (LineCode::KvpDeductionOtherBenefits, -offsets_amount, None),
    ];
    let total = checked::sum(lines.iter().map(|(_, a, _)| *a), "month total")?;
    let lines = lines
        .into_iter()
        .map(|(code, amount, quantity)| {
            let (summary, details) =
                explain_days.line(code, amount, &withheld, facts, offsets_sum, before_offsets);
            PayLine {
                code,
                amount,
                quantity,
                summary,
                details,
            }
        })
        .collect();

    Ok(MonthResult {
        month,
        lines,
        total,
        quantities,
        flags,
        entries,
    })
}

/// The line sums of the month, each exact until its one rounding.
struct Sums {
    base: Exact,
    wage: Exact,
    unpaid: Exact,
    absence: Exact,
    child: Exact,
    /// Σ children × hours not deducted, over the paid days: child-days × hpd.
    child_hours: Decimal,
}

/// The days on which a participant's rates change by age: the 25th birthday
/// (R2) and each child's birth and 18th birthday (R13).
struct Birthdays {
    full_rate_from: Date,
    /// Each child's first day and the day it is no longer counted.
    children: Vec<(Date, Date)>,
}

impl Birthdays {
    fn of(participant: &Participant, parameters: &Parameters) -> Self {
        Self {
            full_rate_from: calendar::anniversary(
                participant.birth_date,
                parameters.full_rate_from_age,
            ),
            children: participant
                .children
                .iter()
                .map(|c| {
                    let until =
                        calendar::anniversary(c.birth_date, parameters.child_supplement_until_age);
                    (c.birth_date, until)
                })
                .collect(),
        }
    }
}

/// R1–R2 for one day: the annual amount as `numerator / under-25 denominator`.
#[derive(Debug, Clone, Copy)]
struct DayRate {
    numerator: Decimal,
    annual: AnnualAmount,
}

/// Paid days in a row at one rate, and what they sum to so far.
struct Stretch {
    rate: DayRate,
    /// Children under 18 on these days (R13).
    children: usize,
    /// The child supplement a day (zero without children).
    child_rate: Decimal,
    /// The first day at which a rate may differ.
    until: Date,
    days: u32,
    /// Hours deducted on these days after the R10 cap: wage, unpaid, absence.
    hours: [Decimal; 3],
    /// Σ of the day's deducted hours.
    deducted: Decimal,
}

impl Stretch {
    /// The stretch starting on `day`: the rates in force and when the first
    /// of them changes.
    fn starting(
        day: Date,
        birthdays: &Birthdays,
        parameters: &Parameters,
    ) -> Result<Self, RulesError> {
        let missing = |parameter| RulesError::MissingParameter {
            parameter,
            date: day,
        };
        let (g, g_until) = parameters.g.in_force(day).ok_or_else(|| missing("g"))?;
        let (factor, factor_until) = parameters
            .annual_g_factor
            .in_force(day)
            .ok_or_else(|| missing("annual_g_factor"))?;
        let under_25 = day < birthdays.full_rate_from;
        let u25 = parameters.under_25_factor;
        let share = if under_25 {
            u25.numerator
        } else {
            u25.denominator
        };
        let numerator = checked::mul(
            checked::mul(g, factor, "annual amount")?,
            share,
            "annual amount",
        )?;
        let mut until = g_until.min(factor_until);
        if under_25 {
            until = until.min(birthdays.full_rate_from);
        }
        let mut children = 0;
        for (born, grown) in &birthdays.children {
            if *born <= day && day < *grown {
                children += 1;
                until = until.min(*grown);
            } else if day < *born {
                until = until.min(*born);
            }
        }
        let mut child_rate = Decimal::ZERO;
        if children > 0 {
            let (rate, rate_until) = parameters
                .child_supplement_per_day
                .in_force(day)
                .ok_or_else(|| missing("child_supplement_per_day"))?;
            child_rate = rate;
            until = until.min(rate_until);
        }
        Ok(Self {
            rate: DayRate {
                numerator,
                annual: AnnualAmount {
                    g,
                    factor,
                    under_25,
                },
            },
            children,
            child_rate,
            until,
            days: 0,
            hours: [Decimal::ZERO; 3],
            deducted: Decimal::ZERO,
        })
    }

    /// Adds a day with its deducted hours (wage, unpaid, absence) and their sum.
    fn add_day(
        &mut self,
        (wage, unpaid, absence): (Decimal, Decimal, Decimal),
        deducted: Decimal,
    ) -> Result<(), RulesError> {
        self.days += 1;
        for (sum, hours) in self.hours.iter_mut().zip([wage, unpaid, absence]) {
            if !hours.is_zero() {
                *sum = checked::add(*sum, hours, HOURS)?;
            }
        }
        if !deducted.is_zero() {
            self.deducted = checked::add(self.deducted, deducted, HOURS)?;
        }
        Ok(())
    }

    /// Adds the stretch's terms to the month's sums: each line's rate times
    /// the stretch's days or hours.
    fn add_to(
        &self,
        sums: &mut Sums,
        quantities: &mut Quantities,
        hpd: Decimal,
    ) -> Result<(), RulesError> {
        let numerator = self.rate.numerator;
        sums.base
            .add_product(numerator, Decimal::from(self.days), "base line")?;
        for ((exact, quantity, what), hours) in [
            (&mut sums.wage, &mut quantities.wage_hours, "wage deduction"),
            (
                &mut sums.unpaid,
                &mut quantities.unpaid_hours,
                "unpaid-leave deduction",
            ),
            (
                &mut sums.absence,
                &mut quantities.absence_hours,
                "absence deduction",
            ),
        ]
        .into_iter()
        .zip(self.hours)
        {
            // A zero product adds nothing: most stretches deduct nothing.
            if !hours.is_zero() {
                exact.add_product(numerator, hours, what)?;
                *quantity = checked::add(*quantity, hours, HOURS)?;
            }
        }
        // R13: the supplement shrinks with the hours deducted.
        if self.children > 0 {
            let undeducted = checked::sub(
                checked::mul(hpd, Decimal::from(self.days), CHILD)?,
                self.deducted,
                CHILD,
            )?;
            let child_days = checked::mul(Decimal::from(self.children), undeducted, CHILD)?;
            sums.child.add_product(self.child_rate, child_days, CHILD)?;
            sums.child_hours = checked::add(sums.child_hours, child_days, CHILD)?;
        }
        Ok(())
    }
}

/// What a day's annual amount is made of (R1–R2), as the explanation names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct AnnualAmount {
    g: Decimal,
    factor: Decimal,
    under_25: bool,
}

impl fmt::Display for AnnualAmount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "G {} × {}", self.g.normalize(), self.factor.normalize())?;
        if self.under_25 {
            f.write_str(" × under-25 fraction")?;
        }
        Ok(())
    }
}

/// What the checked sums of hours name when they overflow.
const HOURS: &str = "sum of a day's hours";
/// What the child supplement's checked arithmetic names when it overflows.
const CHILD: &str = "child supplement";

/// R11: the other benefits of the month summed and rounded to øre, half away
/// from zero; an error, not a panic, however large they are.
fn offsets_total(offsets: &[Offset]) -> Result<Decimal, RulesError> {
    let sum = checked::sum(
        offsets.iter().map(|o| o.amount),
        "sum of the other benefits",
    )?;
    Ok(round_to_ore(sum))
}

/// The facts' values against their bounds of sense ([`bounds`]): entry hours
/// 0–24 and benefits from 0 to [`bounds::OFFSET_MAX`]; the first at fault,
/// named by its path in the facts (`offsets[1].amount`).
pub(crate) fn out_of_bounds(facts: &MonthFacts) -> Option<(String, String)> {
    let max_hours = bounds::ENTRY_HOURS_MAX;
    for (i, entry) in facts.days.iter().enumerate() {
        if bounds::hours_out_of_bounds(entry.hours) {
            return Some((
                format!("days[{i}].hours"),
                format!("{} is outside 0–{max_hours}", entry.hours),
            ));
        }
    }
    if let Some((earlier, later)) = crate::facts::first_overlap(&facts.programmes) {
        return Some((
            format!("programmes[{later}].start"),
            format!("the period overlaps programmes[{earlier}]; periods never share a day (R3)"),
        ));
    }
    for (i, offset) in facts.offsets.iter().enumerate() {
        if offset.amount.is_sign_negative() {
            return Some((
                format!("offsets[{i}].amount"),
                format!("{} is negative", offset.amount),
            ));
        }
        if offset.amount > bounds::OFFSET_MAX {
            return Some((
                format!("offsets[{i}].amount"),
                format!(
                    "{} is above {} kr, the largest monthly benefit of sense",
                    offset.amount,
                    bounds::OFFSET_MAX
                ),
            ));
        }
    }
    None
}

fn validate(facts: &MonthFacts) -> Result<(), RulesError> {
    match out_of_bounds(facts) {
        Some((field, message)) => Err(RulesError::InvalidInput { field, message }),
        None => Ok(()),
    }
}

/// Collects, while the days are summed, what a caseworker needs to follow each
/// line: values only, written out as text when the lines are explained.
struct Explainer {
    explain: Explain,
    month: YearMonth,
    weekdays: Decimal,
    hpd: Decimal,
    /// Paid days summed.
    paid_days: u32,
    /// Days with hours deducted, per line in [`DEDUCTIONS`] order.
    deducted_days: [u32; 3],
    /// Paid days with a child under 18.
    child_days: u32,
    /// With [`Explain::Full`]: runs of paid days at one annual amount.
    base_runs: Vec<Run<AnnualAmount>>,
    /// With [`Explain::Full`]: days with hours deducted, the hours of the
    /// wage, unpaid-leave and absence lines and the day's annual amount.
    deductions: Vec<(Date, [Decimal; 3], AnnualAmount)>,
    /// With [`Explain::Full`]: runs of paid days at one child-supplement
    /// rate and share.
    child_runs: Vec<Run<ChildShare>>,
}

/// The hour-based deduction lines, in the order R10 deducts them, with what
/// their hours are.
const DEDUCTIONS: [(LineCode, &str); 3] = [
    (LineCode::KvpDeductionWage, "paid work"),
    (LineCode::KvpDeductionUnpaidLeave, "approved unpaid absence"),
    (
        LineCode::KvpDeductionAbsence,
        "sanctioned unexcused absence",
    ),
];

/// Consecutive paid days that read alike in the explanation.
struct Run<T> {
    from: Date,
    to: Date,
    days: u32,
    what: T,
}

/// A day's child supplement (R13): children under 18, the rate and the
/// hours deducted that day. Two days read alike when their text does: the
/// rate to øre and the hours in their shortest form.
#[derive(Debug, Clone, Copy)]
struct ChildShare {
    children: usize,
    rate: Decimal,
    deducted: Decimal,
}

impl PartialEq for ChildShare {
    fn eq(&self, other: &Self) -> bool {
        self.children == other.children
            && round_to_ore(self.rate) == round_to_ore(other.rate)
            && self.deducted == other.deducted
    }
}

impl Explainer {
    fn new(explain: Explain, month: YearMonth, weekdays: Decimal, hpd: Decimal) -> Self {
        Self {
            explain,
            month,
            weekdays,
            hpd,
            paid_days: 0,
            deducted_days: [0; 3],
            child_days: 0,
            base_runs: Vec::new(),
            deductions: Vec::new(),
            child_runs: Vec::new(),
        }
    }

    fn day(
        &mut self,
        day: Date,
        annual: AnnualAmount,
        deducted_hours: [Decimal; 3],
        children: usize,
        child_rate: Decimal,
        deducted: Decimal,
    ) {
        self.paid_days += 1;
        for (days, hours) in self.deducted_days.iter_mut().zip(deducted_hours) {
            if hours > Decimal::ZERO {
                *days += 1;
            }
        }
        if children > 0 {
            self.child_days += 1;
        }
        if self.explain == Explain::Summaries {
            return;
        }
        extend_run(&mut self.base_runs, day, annual);
        if deducted_hours.iter().any(|h| *h > Decimal::ZERO) {
            self.deductions.push((day, deducted_hours, annual));
        }
        if children > 0 {
            let share = ChildShare {
                children,
                rate: child_rate,
                deducted,
            };
            extend_run(&mut self.child_runs, day, share);
        }
    }

    /// A line's summary, and its details when `explain` asks for them.
    #[allow(
        clippy::too_many_arguments,
        reason = "the month's figures a line's text names"
    )]
    fn line(
        &self,
        code: LineCode,
        amount: Decimal,
        withheld: &[Date],
        facts: &MonthFacts,
        offsets_sum: Decimal,
        before_offsets: Decimal,
    ) -> (String, Vec<String>) {
        let full = self.explain == Explain::Full;
        match code {
            LineCode::KvpBase => {
                let days = self.paid_days;
                let mut details = Vec::new();
                if full {
                    details = runs(&self.base_runs, |what| what.to_string());
                    if !withheld.is_empty() {
                        let list: Vec<String> = withheld.iter().map(Date::to_string).collect();
                        details.push(text(format_args!(
                            "withheld, no accepted timesheet (R12): {}",
                            list.join(", ")
                        )));
                    }
                }
                let summary = text(format_args!(
                    "{days} paid day(s) of {} weekdays in {}: Σ annual amount ÷ (12 × {}) = {} kr ({})",
                    self.weekdays,
                    self.month,
                    self.weekdays,
                    Kroner(amount),
                    code.reference()
                ));
                (summary, details)
            }
            LineCode::KvpDeductionWage
            | LineCode::KvpDeductionUnpaidLeave
            | LineCode::KvpDeductionAbsence => {
                let Some(index) = DEDUCTIONS.iter().position(|(c, _)| *c == code) else {
                    return (String::new(), Vec::new());
                };
                let what = DEDUCTIONS[index].1;
                let summary = if self.deducted_days[index] == 0 {
                    text(format_args!("no hours deducted ({})", code.reference()))
                } else {
                    text(format_args!(
                        "hour for hour, at most {} h a day in all, capped by the base: {} kr ({})",
                        format_hours(self.hpd),
                        Kroner(amount),
                        code.reference()
                    ))
                };
                let days = self
                    .deductions
                    .iter()
                    .filter(|(_, hours, _)| hours[index] > Decimal::ZERO);
                let details = if full {
                    days.map(|(day, hours, annual)| {
                        text(format_args!(
                            "{day}: {} h {what} × ({annual}) ÷ (12 × {} weekdays × {} h)",
                            format_hours(hours[index]),
                            self.weekdays,
                            format_hours(self.hpd)
                        ))
                    })
                    .collect()
                } else {
                    Vec::new()
                };
                (summary, details)
            }
            LineCode::KvpChildSupplement => {
                let summary = if self.child_days == 0 {
                    text(format_args!(
                        "no child under 18 on a paid day ({})",
                        code.reference()
                    ))
                } else {
                    text(format_args!(
                        "rate × children under 18 × undeducted share of each paid day = {} kr ({})",
                        Kroner(amount),
                        code.reference()
                    ))
                };
                let details = if full {
                    runs(&self.child_runs, |share| self.child_share(share))
                } else {
                    Vec::new()
                };
                (summary, details)
            }
            LineCode::KvpDeductionOtherBenefits => {
                let summary = if facts.offsets.is_empty() {
                    text(format_args!(
                        "no other livelihood benefits ({})",
                        code.reference()
                    ))
                } else {
                    text(format_args!(
                        "krone for krone: {} kr of benefits, at most the {} kr left before them: {} kr ({})",
                        Kroner(offsets_sum),
                        Kroner(before_offsets.max(Decimal::ZERO)),
                        Kroner(amount),
                        code.reference()
                    ))
                };
                let details = if full {
                    facts
                        .offsets
                        .iter()
                        .map(|o| text(format_args!("{}: {} kr", o.kind.as_str(), Kroner(o.amount))))
                        .collect()
                } else {
                    Vec::new()
                };
                (summary, details)
            }
        }
    }

    /// A child-supplement run's text.
    fn child_share(&self, share: &ChildShare) -> String {
        let deducted = if share.deducted.is_zero() {
            String::new()
        } else {
            text(format_args!(
                " × ({} − {} h deducted) ÷ {}",
                format_hours(self.hpd),
                format_hours(share.deducted),
                format_hours(self.hpd)
            ))
        };
        text(format_args!(
            "{} child(ren) under 18 × {} kr a day{deducted}",
            share.children,
            Kroner(share.rate)
        ))
    }
}

/// A sentence of the explanation, written into one allocation of a size
/// that holds most.
fn text(arguments: fmt::Arguments<'_>) -> String {
    use fmt::Write as _;
    let mut text = String::with_capacity(160);
    // Writing into a String cannot fail.
    let _ = text.write_fmt(arguments);
    text
}

/// Each run as a detail: its days and what they read.
fn runs<T>(runs: &[Run<T>], what: impl Fn(&T) -> String) -> Vec<String> {
    runs.iter()
        .map(|run| {
            format!(
                "{} – {}: {} paid day(s), {}",
                run.from,
                run.to,
                run.days,
                what(&run.what)
            )
        })
        .collect()
}

/// Extends the last run when `day` continues it reading the same.
fn extend_run<T: PartialEq>(runs: &mut Vec<Run<T>>, day: Date, what: T) {
    if let Some(last) = runs.last_mut()
        && last.what == what
    {
        last.to = day;
        last.days += 1;
        return;
    }
    runs.push(Run {
        from: day,
        to: day,
        days: 1,
        what,
    });
}

fn hours_str<S: Serializer>(hours: &Decimal, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_hours(*hours))
}

/// The JSON shape of the golden vectors, plus the explanation and entry outcomes.
impl Serialize for MonthResult {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Quantities<'a> {
            base_days: u32,
            absence_hours: &'a str,
            unpaid_hours: &'a str,
            wage_hours: &'a str,
        }
        #[derive(Serialize)]
        struct Explanation<'a> {
            code: LineCode,
            amount: String,
            reference: &'static str,
            summary: &'a str,
            details: &'a [String],
        }
        #[derive(Serialize)]
        struct Report<'a> {
            month: YearMonth,
            lines: BTreeMap<&'static str, String>,
            total: String,
            quantities: Quantities<'a>,
            flags: Vec<&'static str>,
            explanation: Vec<Explanation<'a>>,
            entries: &'a [EntryOutcome],
        }
        let (absence, unpaid, wage) = (
            format_hours(self.quantities.absence_hours),
            format_hours(self.quantities.unpaid_hours),
            format_hours(self.quantities.wage_hours),
        );
        let mut flags: Vec<&'static str> = self.flags.iter().map(|f| f.as_str()).collect();
        flags.sort_unstable();
        Report {
            month: self.month,
            lines: self
                .lines
                .iter()
                .map(|l| (l.code.as_str(), format_amount(l.amount)))
                .collect(),
            total: format_amount(self.total),
            quantities: Quantities {
                base_days: self.quantities.base_days,
                absence_hours: &absence,
                unpaid_hours: &unpaid,
                wage_hours: &wage,
            },
            flags,
            explanation: self
                .lines
                .iter()
                .map(|l| Explanation {
                    code: l.code,
                    amount: format_amount(l.amount),
                    reference: l.code.reference(),
                    summary: &l.summary,
                    details: &l.details,
                })
                .collect(),
            entries: &self.entries,
        }
        .serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;
    use crate::facts::{DateRange, DayEntry, OffsetKind, Participant, Programme};
    use crate::parameters::{DatedTable, Fraction};

    /// March 2025, covered in full, for a participant of 35 in a programme
    /// since 2024, with `days` as entries.
    fn march(days: Vec<DayEntry>, offsets: Vec<Offset>) -> MonthFacts {
        MonthFacts {
            month: YearMonth::new(2025, Month::March),
            participant: Participant {
                birth_date: date!(1990 - 01 - 15),
                children: vec![crate::facts::Child {
                    birth_date: date!(2020 - 06 - 01),
                }],
                sole_carer: vec![DateRange {
                    from: date!(2024 - 01 - 01),
                    to: None,
                }],
            },
            programmes: vec![Programme {
                start: date!(2024 - 01 - 01),
                end: None,
                pauses: Vec::new(),
            }],
            covered: vec![DateRange {
                from: date!(2025 - 03 - 01),
                to: Some(date!(2025 - 03 - 31)),
            }],
            days,
            offsets,
        }
    }

    fn entry(date: Date, kind: AbsenceKind, hours: Decimal) -> DayEntry {
        DayEntry {
            date,
            kind,
            hours,
            decision: Some(Decision::Approved),
        }
    }

    fn defaults() -> (Parameters, Policy) {
        (Parameters::shipped().unwrap(), Policy::shipped().unwrap())
    }

    fn overflow(result: Result<MonthResult, RulesError>) -> &'static str {
        match result {
            Err(RulesError::Overflow { what }) => what,
            other => panic!("expected an overflow error, got {other:?}"),
        }
    }

    #[test]
    fn two_benefits_near_the_largest_decimal_are_an_error_not_a_panic() {
        let huge = |kind| Offset {
            kind,
            amount: Decimal::MAX - Decimal::ONE,
        };
        let offsets = vec![huge(OffsetKind::Sykepenger), huge(OffsetKind::Dagpenger)];
        // The sum itself, as if the bounds had been bypassed (facts read from
        // a database written by other means).
        assert_eq!(
            offsets_total(&offsets),
            Err(RulesError::Overflow {
                what: "sum of the other benefits"
            })
        );
        // Through the month: refused by name before any arithmetic.
        let (parameters, policy) = defaults();
        let result = compute_month(&march(Vec::new(), offsets), &parameters, &policy);
        assert_eq!(
            result,
            Err(RulesError::InvalidInput {
                field: "offsets[0].amount".into(),
                message: "79228162514264337593543950334 is above 10000000 kr, \
                          the largest monthly benefit of sense"
                    .into(),
            })
        );
        // At the bound, two benefits take the whole month.
        let at_bound = |kind| Offset {
            kind,
            amount: bounds::OFFSET_MAX,
        };
        let facts = march(
            Vec::new(),
            vec![
                at_bound(OffsetKind::Sykepenger),
                at_bound(OffsetKind::Dagpenger),
            ],
        );
        let month = compute_month(&facts, &parameters, &policy).unwrap();
        assert_eq!(month.total, Decimal::ZERO);
        assert_eq!(
            month.line(LineCode::KvpDeductionOtherBenefits),
            -month.line(LineCode::KvpBase) - month.line(LineCode::KvpChildSupplement)
        );
    }

    #[test]
    fn every_line_counts_its_units_with_a_display_rate_of_the_unrounded_amount() {
        let (parameters, policy) = defaults();
        let leave = vec![entry(
            date!(2025 - 03 - 04),
            AbsenceKind::ApprovedUnpaid,
            Decimal::from(4),
        )];
        let month = compute_month(&march(leave, Vec::new()), &parameters, &policy).unwrap();
        let quantity = |code| {
            month
                .lines
                .iter()
                .find(|l| l.code == code)
                .and_then(|l| l.quantity)
        };
        let base = quantity(LineCode::KvpBase).unwrap();
        assert_eq!(
            (base.value, base.unit),
            (Decimal::from(21), QuantityUnit::Days)
        );
        let base_rate = base.rate.unwrap();
        assert!(
            (base_rate * base.value - month.line(LineCode::KvpBase)).abs() <= Decimal::new(11, 2)
        );

        let unpaid = quantity(LineCode::KvpDeductionUnpaidLeave).unwrap();
        assert_eq!(
            (unpaid.value, unpaid.unit),
            (Decimal::from(4), QuantityUnit::Hours)
        );
        let hourly = unpaid.rate.unwrap();
        assert!(hourly < Decimal::ZERO, "a deduction's rate has its sign");
        assert!((hourly + base_rate / Decimal::new(75, 1)).abs() <= Decimal::new(1, 2));

        // One child on 21 paid days, 4 of 7.5 hours deducted on one: 20.4667
        // child-days at the day rate in force, exactly.
        let child = quantity(LineCode::KvpChildSupplement).unwrap();
        assert_eq!(
            (child.value, child.unit, child.rate),
            (
                Decimal::new(204_667, 4),
                QuantityUnit::ChildDays,
                parameters
                    .child_supplement_per_day
                    .at(date!(2025 - 03 - 04))
            )
        );
        let wage = quantity(LineCode::KvpDeductionWage).unwrap();
        assert_eq!((wage.value, wage.rate), (Decimal::ZERO, None));
        assert_eq!(quantity(LineCode::KvpDeductionOtherBenefits), None);
    }

    #[test]
    fn parameters_beyond_sense_built_in_code_are_an_error_not_a_panic() {
        let (shipped, policy) = defaults();
        let leave = vec![entry(
            date!(2025 - 03 - 04),
            AbsenceKind::ApprovedUnpaid,
            Decimal::from(4),
        )];
        let facts = march(leave, Vec::new());

        let mut p = shipped.clone();
        p.hours_per_day = Decimal::MAX;
        assert_eq!(
            overflow(compute_month(&facts, &p, &policy)),
            "denominator of the hourly rate"
        );

        // A day of no hours divides nothing: no hour is deducted, no panic.
        let mut p = shipped.clone();
        p.hours_per_day = Decimal::ZERO;
        let month = compute_month(&facts, &p, &policy).unwrap();
        assert_eq!(month.line(LineCode::KvpDeductionUnpaidLeave), Decimal::ZERO);
        assert_eq!(month.line(LineCode::KvpChildSupplement), Decimal::ZERO);

        let mut p = shipped.clone();
        p.under_25_factor = Fraction {
            numerator: Decimal::MAX,
            denominator: Decimal::MAX,
        };
        assert_eq!(
            overflow(compute_month(&facts, &p, &policy)),
            "denominator of the monthly rate"
        );

        // A table under a name without a bound takes any value.
        let mut p = shipped.clone();
        p.g = DatedTable::new(
            "unbounded",
            vec![(date!(2020 - 01 - 01), Decimal::MAX)],
            None,
        )
        .unwrap();
        assert_eq!(
            overflow(compute_month(&facts, &p, &policy)),
            "annual amount"
        );

        let mut p = shipped.clone();
        p.child_supplement_per_day = DatedTable::new(
            "unbounded",
            vec![(date!(2020 - 01 - 01), Decimal::MAX)],
            None,
        )
        .unwrap();
        assert_eq!(
            overflow(compute_month(&facts, &p, &policy)),
            "child supplement"
        );

        // Ages far beyond a lifetime are no panic either: everyone is under them.
        let mut p = shipped.clone();
        p.full_rate_from_age = i32::MAX;
        p.child_supplement_until_age = i32::MAX;
        let month = compute_month(&facts, &p, &policy).unwrap();
        let under_25 = compute_month(
            &MonthFacts {
                participant: Participant {
                    birth_date: date!(2005 - 01 - 15),
                    ..facts.participant.clone()
                },
                ..facts.clone()
            },
            &shipped,
            &policy,
        )
        .unwrap();
        assert_eq!(
            month.line(LineCode::KvpBase),
            under_25.line(LineCode::KvpBase)
        );
    }

    #[test]
    fn a_policy_beyond_sense_built_in_code_is_an_error_not_a_panic() {
        let (parameters, shipped) = defaults();
        let day = date!(2025 - 03 - 04);
        let leave = march(
            vec![entry(day, AbsenceKind::Leave, Decimal::from(4))],
            Vec::new(),
        );
        let mut policy = shipped.clone();
        policy.leave_days_per_year = Decimal::MAX;
        assert_eq!(
            overflow(compute_month(&leave, &parameters, &policy)),
            "absence quota"
        );

        let child_sick = march(
            vec![entry(day, AbsenceKind::ChildSick, Decimal::from(4))],
            Vec::new(),
        );
        let mut policy = shipped.clone();
        policy.child_sick_days_per_year = Decimal::MAX;
        policy.sole_carer_quota_multiplier = Decimal::MAX;
        assert_eq!(
            overflow(compute_month(&child_sick, &parameters, &policy)),
            "absence quota"
        );
        // The same facts under the shipped policy compute.
        assert!(compute_month(&child_sick, &parameters, &shipped).is_ok());
    }

    #[test]
    fn thousands_of_entries_at_the_bounds_compute() {
        let (parameters, policy) = defaults();
        // Ten years of history, every calendar day with four entries of 6 h
        // (24 h a day, the bound), and the month itself full of paid work.
        let kinds = [
            AbsenceKind::Leave,
            AbsenceKind::ChildSick,
            AbsenceKind::PaidWork,
            AbsenceKind::Unexcused,
        ];
        let mut days = Vec::new();
        let mut day = date!(2015 - 03 - 01);
        while day <= date!(2025 - 03 - 31) {
            for kind in kinds {
                days.push(entry(day, kind, Decimal::from(6)));
            }
            day = day.next_day().unwrap();
        }
        assert!(days.len() > 14_000);
        let facts = march(days, Vec::new());
        let month = compute_month(&facts, &parameters, &policy).unwrap();
        // Every paid day is deducted in full (R10), so the base is all gone.
        assert_eq!(
            month.line(LineCode::KvpBase)
                + month.line(LineCode::KvpDeductionWage)
                + month.line(LineCode::KvpDeductionUnpaidLeave)
                + month.line(LineCode::KvpDeductionAbsence),
            Decimal::ZERO
        );
        assert_eq!(month.quantities.base_days, 21);
    }
}
