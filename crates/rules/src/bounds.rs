//! The upper bounds of sense: the one place that says how large an amount, an
//! hour count, a rate, an age, a G or a policy quota may be.
//!
//! RULES.md gives values, not limits; these limits are far above every real
//! value and low enough that no month's or run's arithmetic can come near the
//! range of a [`Decimal`] (about 7.9 × 10^28). A value beyond one is a typing
//! error or an attack: every edge refuses it as a field violation — the REST
//! API, gRPC, case files and parameter and policy files — so that it is never
//! stored, and a stored one can never fail a close. The arithmetic of the
//! rules is checked as well ([`checked`]): should a value beyond sense still
//! reach it (facts read from a database written by other means, a parameter
//! set built in code), the answer is a [`RulesError`], never a panic.
//!
//! The table of these bounds, with the reason for each, is in the crate's
//! README (`crates/rules/README.md`, "Bounds of sense"); a test keeps it in
//! step with [`ALL`].

use rust_decimal::Decimal;

use crate::month::RulesError;

/// A whole number of kroner (or hours, or years) as a constant decimal.
const fn whole(value: u32) -> Decimal {
    Decimal::from_parts(value, 0, 0, false, 0)
}

/// Grunnbeløpet, in kroner (R1). G is about 130 000 kr (2025); 10 000 000 kr
/// leaves room for any regulation this programme will see and keeps a year at
/// the largest factor below 10^8 kr.
pub const G_MAX: Decimal = whole(10_000_000);

/// The annual G factor (R1). The law says 2 (2.041 in NAV's reading); 10 is
/// five times that.
pub const ANNUAL_G_FACTOR_MAX: Decimal = whole(10);

/// The child supplement per child per weekday, in kroner (R13). About 38 kr;
/// 10 000 kr is a month's stipend a day.
pub const CHILD_SUPPLEMENT_PER_DAY_MAX: Decimal = whole(10_000);

/// The denominator of the under-25 fraction (R2; 3 in 2/3). The month keeps
/// the fraction exact and divides each line once by 12 × weekdays ×
/// denominator × hours per day; a denominator of at most 1 000 keeps that
/// below 10^7, which is what makes the one rounding exact (see `month.rs`).
pub const FRACTION_DENOMINATOR_MAX: Decimal = whole(1_000);

/// Hours in a full programme day, the parameter `hours_per_day` (7.5): no
/// day has more than 24.
pub const HOURS_PER_DAY_MAX: Decimal = whole(24);

/// Hours of one day entry, and of all the entries of one day together (R5):
/// no day has more than 24.
pub const ENTRY_HOURS_MAX: Decimal = whole(ENTRY_HOURS_MAX_WHOLE);
const ENTRY_HOURS_MAX_WHOLE: u32 = 24;

/// Whether a day entry's hours lie outside 0–[`ENTRY_HOURS_MAX`]; by the
/// mantissa, as a history of entries is checked each month computed.
pub fn hours_out_of_bounds(hours: Decimal) -> bool {
    if hours.is_sign_negative() {
        return true;
    }
    // The bound at each scale a decimal has (0–28), within i128.
    const BOUNDS: [i128; 29] = {
        let mut bounds = [0; 29];
        let mut scale = 0;
        while scale < 29 {
            bounds[scale] = ENTRY_HOURS_MAX_WHOLE as i128 * 10_i128.pow(scale as u32);
            scale += 1;
        }
        bounds
    };
    match BOUNDS.get(hours.scale() as usize) {
        Some(bound) => hours.mantissa() > *bound,
        None => hours > ENTRY_HOURS_MAX,
    }
}

/// An age in whole years that a parameter names: `full_rate_from_age` (25,
/// R2) and `child_supplement_until_age` (18, R13). No rule ends beyond a
/// century of life; the least is 1.
pub const AGE_MAX: i32 = 100;

/// One other livelihood benefit for one month, in kroner (R11). A month's
/// stipend is about 22 000 kr; 10 000 000 kr is far above any benefit, and
/// a month's handful of them cannot come near the range of the arithmetic.
pub const OFFSET_MAX: Decimal = whole(10_000_000);

/// The gross, the tax withheld and the net paid that a payroll system
/// confirms for one payslip, in kroner. A payslip is about 22 000 kr, and a
/// year of corrections with it some 300 000 kr; 10 000 000 kr is also the
/// largest amount the top-up service accepts in a `StipendPaid` event, so a
/// confirmed payment never becomes an event its consumer refuses.
pub const PAYMENT_MAX: Decimal = whole(10_000_000);

/// Policy `self_cert_min_weeks` (R6, default 8): a waiting time beyond a
/// year means no self-certification at all, which no municipality means.
pub const SELF_CERT_MIN_WEEKS_MAX: u32 = 52;

/// Policy day counts in a year: `self_cert_max_days`,
/// `self_cert_max_occurrences`, `leave_days_per_year`,
/// `child_sick_days_per_year`, `child_sick_days_many_children` and
/// `long_sickness_days` (R6–R9): no year has more than 366 days.
pub const DAYS_PER_YEAR_MAX: u32 = 366;

/// Policy `child_sick_many_children_more_than` (R8, default 2): more than 20
/// young children is no threshold.
pub const MANY_CHILDREN_MAX: u32 = 20;

/// Policy `child_sick_young_child_age` (R8, default 12): a child is a child
/// until 18.
pub const YOUNG_CHILD_AGE_MAX: i32 = 18;

/// Policy `sole_carer_quota_multiplier` (R8, default 2): between 1 (the
/// quota never shrinks for a sole carer) and 10.
pub const SOLE_CARER_QUOTA_MULTIPLIER_MAX: Decimal = whole(10);

/// The days one signed timesheet may cover, from its first to its last
/// (both included): two months, so that a timesheet is signed while it is
/// still remembered.
pub const TIMESHEET_PERIOD_DAYS_MAX: i64 = 62;

/// The latest day of the following month a municipality may set as its
/// timesheet deadline: every month has a 28th.
pub const DEADLINE_DAY_MAX: u32 = 28;

/// The longest first approval of a programme a policy may set: 5 years, as
/// § 30 allows one year at a time.
pub const PROGRAMME_APPROVED_MONTHS_MAX: u32 = 60;

/// The most years a policy may let a programme run (with or without an
/// exception): § 30 says two, a third by exception.
pub const PROGRAMME_YEARS_MAX: u32 = 10;

/// Every bound as (name, largest value, unit): the table of the README.
pub const ALL: [(&str, Decimal, &str); 19] = [
    ("g", G_MAX, "kr"),
    ("annual_g_factor", ANNUAL_G_FACTOR_MAX, ""),
    (
        "child_supplement_per_day",
        CHILD_SUPPLEMENT_PER_DAY_MAX,
        "kr",
    ),
    ("under_25_factor denominator", FRACTION_DENOMINATOR_MAX, ""),
    ("hours_per_day", HOURS_PER_DAY_MAX, "h"),
    ("day entry hours", ENTRY_HOURS_MAX, "h"),
    (
        "full_rate_from_age, child_supplement_until_age",
        whole(AGE_MAX as u32),
        "years",
    ),
    ("benefit offset amount", OFFSET_MAX, "kr"),
    ("gross, tax_withheld, net_paid", PAYMENT_MAX, "kr"),
    (
        "self_cert_min_weeks",
        whole(SELF_CERT_MIN_WEEKS_MAX),
        "weeks",
    ),
    (
        "self_cert_max_days, self_cert_max_occurrences, leave_days_per_year, \
         child_sick_days_per_year, child_sick_days_many_children, long_sickness_days",
        whole(DAYS_PER_YEAR_MAX),
        "days",
    ),
    (
        "child_sick_many_children_more_than",
        whole(MANY_CHILDREN_MAX),
        "children",
    ),
    (
        "child_sick_young_child_age",
        whole(YOUNG_CHILD_AGE_MAX as u32),
        "years",
    ),
    (
        "sole_carer_quota_multiplier",
        SOLE_CARER_QUOTA_MULTIPLIER_MAX,
        "",
    ),
    (
        "timesheet period",
        whole(TIMESHEET_PERIOD_DAYS_MAX as u32),
        "days",
    ),
    ("timesheet_deadline_day", whole(DEADLINE_DAY_MAX), ""),
    (
        "programme_approved_months",
        whole(PROGRAMME_APPROVED_MONTHS_MAX),
        "months",
    ),
    (
        "programme_years_without_exception, programme_years_max",
        whole(PROGRAMME_YEARS_MAX),
        "years",
    ),
    ("sanction decision deducted_hours", ENTRY_HOURS_MAX, "h"),
];

/// The largest value of sense of a parameter (a dated table or a scalar) by
/// its name in the parameter file, if it has one.
pub fn parameter(name: &str) -> Option<Decimal> {
    match name {
        "g" => Some(G_MAX),
        "annual_g_factor" => Some(ANNUAL_G_FACTOR_MAX),
        "child_supplement_per_day" => Some(CHILD_SUPPLEMENT_PER_DAY_MAX),
        "hours_per_day" => Some(HOURS_PER_DAY_MAX),
        _ => None,
    }
}

/// Arithmetic that answers an error instead of panicking: every sum and
/// product over amounts and hours in this crate goes through these.
pub(crate) mod checked {
    use super::{Decimal, RulesError};

    /// `a + b`.
    pub(crate) fn add(a: Decimal, b: Decimal, what: &'static str) -> Result<Decimal, RulesError> {
        a.checked_add(b).ok_or(RulesError::Overflow { what })
    }

    /// `a - b`.
    pub(crate) fn sub(a: Decimal, b: Decimal, what: &'static str) -> Result<Decimal, RulesError> {
        a.checked_sub(b).ok_or(RulesError::Overflow { what })
    }

    /// `a × b`.
    pub(crate) fn mul(a: Decimal, b: Decimal, what: &'static str) -> Result<Decimal, RulesError> {
        a.checked_mul(b).ok_or(RulesError::Overflow { what })
    }

    /// `a ÷ b`; a zero divisor is an error too.
    pub(crate) fn div(a: Decimal, b: Decimal, what: &'static str) -> Result<Decimal, RulesError> {
        a.checked_div(b).ok_or(RulesError::Overflow { what })
    }

    /// The sum of `values`.
    pub(crate) fn sum(
        values: impl IntoIterator<Item = Decimal>,
        what: &'static str,
    ) -> Result<Decimal, RulesError> {
        values
            .into_iter()
            .try_fold(Decimal::ZERO, |total, value| add(total, value, what))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_hours_are_bounded_as_comparing_decimals_does() {
        for hours in [
            Decimal::ZERO,
            Decimal::new(75, 1),
            Decimal::new(24, 0),
            Decimal::new(2400, 2),
            Decimal::new(24_000_000_001, 9),
            Decimal::new(25, 0),
            Decimal::new(-1, 28),
            Decimal::new(1, 28),
            Decimal::MAX,
            Decimal::from_i128_with_scale(24 * 10_i128.pow(27), 27),
            Decimal::from_i128_with_scale(24 * 10_i128.pow(27) + 1, 27),
        ] {
            let expected = hours.is_sign_negative() || hours > ENTRY_HOURS_MAX;
            assert_eq!(hours_out_of_bounds(hours), expected, "{hours}");
        }
    }

    #[test]
    fn the_readme_lists_every_bound_with_its_value() {
        let readme = include_str!("../README.md");
        for (name, max, unit) in ALL {
            let value = format!("{max}");
            let row = readme
                .lines()
                .find(|line| line.starts_with('|') && line.contains(&format!("`{name}`")))
                .unwrap_or_else(|| panic!("the README's table has no row for `{name}`"));
            let grouped = group_thousands(&value);
            let cell = if unit.is_empty() {
                grouped
            } else {
                format!("{grouped} {unit}")
            };
            assert!(
                row.contains(&format!("| {cell} |")),
                "the README gives `{name}` another value than {cell}: {row}"
            );
        }
    }

    /// `10000000` as `10 000 000`, as the README writes numbers.
    fn group_thousands(digits: &str) -> String {
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(' ');
            }
            out.push(c);
        }
        out
    }

    #[test]
    fn checked_arithmetic_answers_an_error_at_the_edge_of_the_range() {
        assert_eq!(
            checked::add(Decimal::MAX, Decimal::ONE, "sum"),
            Err(RulesError::Overflow { what: "sum" })
        );
        assert_eq!(
            checked::mul(Decimal::MAX, Decimal::TWO, "product"),
            Err(RulesError::Overflow { what: "product" })
        );
        assert_eq!(
            checked::div(Decimal::ONE, Decimal::ZERO, "quotient"),
            Err(RulesError::Overflow { what: "quotient" })
        );
        assert_eq!(
            checked::sum([Decimal::MAX, Decimal::MAX], "offsets"),
            Err(RulesError::Overflow { what: "offsets" })
        );
        assert_eq!(
            checked::sum([G_MAX, OFFSET_MAX], "sum"),
            Ok(Decimal::from(20_000_000))
        );
    }
}
