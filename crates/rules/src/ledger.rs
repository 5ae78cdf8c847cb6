//! Pay-run arithmetic: what closed runs paid, and what a run pays now.
//!
//! A close recomputes each month from the facts known now and pays, per
//! month and line code, the difference to what closed runs paid for it (the
//! ledger); so for every participant, month and code the lines of all closed
//! runs sum to the engine's current result. A payslip never goes below zero:
//! a shortfall is carried to later runs as a recovery line attributed to no
//! month. This module is that arithmetic and nothing else: the service reads
//! the ledger and the facts, and stores the lines.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use time::Date;

use crate::bounds::checked;
use crate::decimal::format_amount;
use crate::facts::YearMonth;
use crate::month::{
    LineCode, LineQuantity, MonthResult, PayLine, Quantities, QuantityUnit, RulesError,
};

/// The line code of recovery lines (attributed to no month).
pub const RECOVERY_CARRIED: &str = "KVP_RECOVERY_CARRIED";

/// The code of a line a run pays: one of a month's lines (R15), or the
/// recovery carried between runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PayLineCode {
    /// A month's line, paid or corrected.
    Month(LineCode),
    /// Negative corrections carried to, or taken back in, a run.
    RecoveryCarried,
}

impl PayLineCode {
    /// The code as stored and written in the API (`KVP_BASE`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Month(code) => code.as_str(),
            Self::RecoveryCarried => RECOVERY_CARRIED,
        }
    }
}

impl fmt::Display for PayLineCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PayLineCode {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text == RECOVERY_CARRIED {
            return Ok(Self::RecoveryCarried);
        }
        LineCode::ALL
            .into_iter()
            .find(|code| code.as_str() == text)
            .map(Self::Month)
            .ok_or_else(|| "is not a pay line code".to_owned())
    }
}

/// One entry of the ledger: lines of closed runs summed per month and code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LedgerEntry {
    /// The month the lines paid or corrected; `None` for recovery lines.
    pub month: Option<YearMonth>,
    /// Their line code.
    pub code: PayLineCode,
    /// The sum of their amounts.
    pub amount: Decimal,
    /// The sum of their quantities; `None` when a line has none (lines of
    /// codes without a unit, and lines closed before quantities were kept).
    pub quantity: Option<Decimal>,
}

/// What closed runs paid a participant, per (attributed month, line code), and
/// the recovery balance still to be taken back.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Paid {
    by_month: HashMap<(YearMonth, PayLineCode), (Decimal, Option<Decimal>)>,
    recovery_balance: Decimal,
}

impl Paid {
    /// Ledger entries summed per month and code (an entry's month is none
    /// for a recovery line). An error, not a panic, when the sums leave the
    /// range of the arithmetic (amounts far beyond any a run can pay).
    pub fn from_entries(
        entries: impl IntoIterator<Item = LedgerEntry>,
    ) -> Result<Self, RulesError> {
        const WHAT: &str = "sum of the lines paid";
        let mut paid = Self::default();
        for entry in entries {
            let Some(month) = entry.month else {
                paid.recovery_balance = checked::add(paid.recovery_balance, entry.amount, WHAT)?;
                continue;
            };
            let (amount, quantity) = paid
                .by_month
                .entry((month, entry.code))
                .or_insert((Decimal::ZERO, Some(Decimal::ZERO)));
            *amount = checked::add(*amount, entry.amount, WHAT)?;
            *quantity = match (*quantity, entry.quantity) {
                (Some(sum), Some(more)) => Some(checked::add(sum, more, WHAT)?),
                _ => None,
            };
        }
        Ok(paid)
    }

    /// The quantity paid for `month` under `code`: zero when nothing was,
    /// `None` when a line paid has no quantity.
    pub fn quantity(&self, month: YearMonth, code: PayLineCode) -> Option<Decimal> {
        self.by_month
            .get(&(month, code))
            .map_or(Some(Decimal::ZERO), |(_, quantity)| *quantity)
    }

    /// What was paid for `month` under `code`.
    pub fn paid(&self, month: YearMonth, code: PayLineCode) -> Decimal {
        self.by_month
            .get(&(month, code))
            .map_or(Decimal::ZERO, |(amount, _)| *amount)
    }

    /// Whether anything other than zero was paid for `month`.
    pub fn paid_anything(&self, month: YearMonth) -> bool {
        self.by_month
            .iter()
            .any(|((m, _), (amount, _))| *m == month && !amount.is_zero())
    }

    /// The months something was paid for (or corrected to zero).
    pub fn months(&self) -> BTreeSet<YearMonth> {
        self.by_month.keys().map(|(m, _)| *m).collect()
    }

    /// Negative corrections carried and not yet taken back.
    pub fn recovery_balance(&self) -> Decimal {
        self.recovery_balance
    }
}

/// One line a run pays: a difference for a month, or the recovery line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunLine {
    /// The line code.
    pub code: PayLineCode,
    /// The month it pays or corrects; `None` for the recovery line.
    pub month: Option<YearMonth>,
    /// The amount, already whole øre (a difference of rounded lines).
    pub amount: Decimal,
    /// The quantity behind the amount: the month's on its first payment, the
    /// difference to what was paid on a correction (with the rate of the
    /// differences); `None` for lines without a unit and for corrections of
    /// a month paid before quantities were kept.
    pub quantity: Option<LineQuantity>,
    /// Why, for the payslip.
    pub explanation: String,
}

/// One participant's lines for the run closing `closing`: for each month's
/// current result in `targets`, the difference of every line to what was paid
/// for it, then the recovery line that keeps the payslip from going below zero
/// (or takes back what earlier runs carried). An error, not a panic, when a
/// difference or the payslip's sum leaves the range of the arithmetic.
pub fn run_lines(
    closing: YearMonth,
    targets: &[(YearMonth, MonthResult)],
    paid: &Paid,
) -> Result<Vec<RunLine>, RulesError> {
    let mut lines = Vec::new();
    for (month, result) in targets {
        for computed in &result.lines {
            let code = PayLineCode::Month(computed.code);
            let before = paid.paid(*month, code);
            let difference = checked::sub(computed.amount, before, "difference to what was paid")?;
            if difference.is_zero() {
                continue;
            }
            let quantity = match computed.quantity {
                Some(current) => match paid.quantity(*month, code) {
                    Some(paid_quantity) if before.is_zero() && paid_quantity.is_zero() => {
                        Some(current)
                    }
                    Some(paid_quantity) => Some(LineQuantity::new(
                        checked::sub(current.value, paid_quantity, "difference of quantities")?,
                        current.unit,
                        difference,
                    )?),
                    None => None,
                },
                None => None,
            };
            let explanation = if *month == closing && before.is_zero() {
                computed.summary.clone()
            } else {
                format!(
                    "correction of {month}: {} is now {} kr, {} kr was paid: {}",
                    computed.code,
                    format_amount(computed.amount),
                    format_amount(before),
                    computed.summary
                )
            };
            lines.push(RunLine {
                code,
                month: Some(*month),
                amount: difference,
                quantity,
                explanation,
            });
        }
    }
    let net = checked::sum(lines.iter().map(|l| l.amount), "payslip's sum")?;
    let recovery = recovery(net, paid.recovery_balance);
    if !recovery.is_zero() {
        let explanation = if recovery > Decimal::ZERO {
            format!(
                "{} kr of negative corrections carried to the next run (never below zero)",
                format_amount(recovery)
            )
        } else {
            format!(
                "{} kr recovered of {} kr carried from earlier runs",
                format_amount(-recovery),
                format_amount(paid.recovery_balance)
            )
        };
        lines.push(RunLine {
            code: PayLineCode::RecoveryCarried,
            month: None,
            amount: recovery,
            quantity: None,
            explanation,
        });
    }
    Ok(lines)
}

/// The recovery line of a payslip whose differences sum to `net`, with
/// `balance` carried from earlier runs: positive carries a shortfall on (the
/// payslip pays zero), negative takes back as much of the balance as the
/// payslip can bear.
pub fn recovery(net: Decimal, balance: Decimal) -> Decimal {
    (-balance).max(-net)
}

/// The first month that may have changed for a participant: the earlier of
/// the close's floor (`None`: every month) and the participant's recompute
/// mark (`None`: nothing changed since the last close).
pub fn recompute_from(floor: Option<YearMonth>, mark: Option<YearMonth>) -> Option<YearMonth> {
    let floor = floor?;
    Some(mark.map_or(floor, |mark| floor.min(mark)))
}

/// The months a close considers for a participant: those something was paid
/// for and those from the first programme's first month to the month closed,
/// from `from` on (every month with `None`). Before `from` every month pays
/// what the engine gives already, so its difference is zero.
pub fn months_to_compute(
    programme_start: Option<YearMonth>,
    paid: &Paid,
    from: Option<YearMonth>,
    closing: YearMonth,
) -> BTreeSet<YearMonth> {
    let mut months = paid.months();
    if let Some(start) = programme_start {
        let mut month = from.map_or(start, |from| start.max(from));
        while month <= closing {
            months.insert(month);
            month = month.next();
        }
    }
    months.retain(|m| *m <= closing && from.is_none_or(|from| *m >= from));
    months
}

/// The month every participant is recomputed from when the G table in force
/// changed between two runs: both tables agree before their first differing
/// entry, and so does the G of every day before it. The month after the
/// latest run if no entry differs, or if the first difference is later.
pub fn g_floor(
    recorded: &[(Date, Decimal)],
    current: &[(Date, Decimal)],
    latest_run: YearMonth,
) -> YearMonth {
    let changed = recorded
        .iter()
        .filter(|entry| !current.contains(entry))
        .chain(current.iter().filter(|entry| !recorded.contains(entry)))
        .map(|(date, _)| YearMonth::of(*date))
        .min();
    let floor = latest_run.next();
    changed.map_or(floor, |changed| changed.min(floor))
}

/// A month with nothing due: every line zero (no programme decision in force).
pub fn empty_month(month: YearMonth) -> MonthResult {
    MonthResult {
        month,
        lines: LineCode::ALL
            .into_iter()
            .map(|code| PayLine {
                code,
                amount: Decimal::ZERO,
                quantity: QuantityUnit::of(code).map(|unit| LineQuantity {
                    value: Decimal::ZERO,
                    unit,
                    rate: None,
                }),
                summary: "no programme decision in force".into(),
                details: Vec::new(),
            })
            .collect(),
        total: Decimal::ZERO,
        quantities: Quantities::default(),
        flags: BTreeSet::new(),
        entries: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use time::Month;

    use super::*;

    fn ym(year: i32, month: Month) -> YearMonth {
        YearMonth::new(year, month)
    }

    /// A month whose base line and absence deduction are given in øre.
    fn result(month: YearMonth, base: i64, absence: i64) -> MonthResult {
        let mut r = empty_month(month);
        r.lines[0].amount = Decimal::new(base, 2);
        r.lines[3].amount = Decimal::new(-absence, 2);
        r.total = r.lines.iter().map(|l| l.amount).sum();
        r
    }

    fn code(text: &str) -> PayLineCode {
        text.parse().unwrap()
    }

    /// A ledger entry of lines without quantities.
    fn amount_entry(
        (month, code, amount): (Option<YearMonth>, PayLineCode, Decimal),
    ) -> LedgerEntry {
        LedgerEntry {
            month,
            code,
            amount,
            quantity: None,
        }
    }

    fn paid(rows: &[(Option<YearMonth>, &str, i64)]) -> Paid {
        Paid::from_entries(
            rows.iter()
                .map(|(m, text, amount)| amount_entry((*m, code(text), Decimal::new(*amount, 2)))),
        )
        .unwrap()
    }

    fn summary(lines: &[RunLine]) -> Vec<(&str, Option<YearMonth>, Decimal)> {
        lines
            .iter()
            .map(|l| (l.code.as_str(), l.month, l.amount))
            .collect()
    }

    #[test]
    fn the_ledger_sums_per_month_and_code_and_keeps_the_recovery_balance_apart() {
        let (oct, nov) = (ym(2025, Month::October), ym(2025, Month::November));
        let paid = paid(&[
            (Some(oct), "KVP_BASE", 2_000_000),
            (Some(oct), "KVP_BASE", -50_000),
            (Some(nov), "KVP_BASE", 0),
            (None, RECOVERY_CARRIED, 30_000),
            (None, RECOVERY_CARRIED, -10_000),
        ]);
        assert_eq!(paid.paid(oct, code("KVP_BASE")), Decimal::new(1_950_000, 2));
        assert_eq!(paid.paid(oct, code("KVP_CHILD_SUPPLEMENT")), Decimal::ZERO);
        assert_eq!(paid.recovery_balance(), Decimal::new(20_000, 2));
        assert_eq!(paid.months(), BTreeSet::from([oct, nov]));
        assert!(paid.paid_anything(oct));
        assert!(!paid.paid_anything(nov), "only zero was paid for November");
    }

    #[test]
    fn a_late_decision_becomes_a_correction_of_its_month() {
        let (oct, nov) = (ym(2025, Month::October), ym(2025, Month::November));
        let paid = paid(&[(Some(oct), "KVP_BASE", 2_000_000)]);
        let lines = run_lines(
            nov,
            &[
                (oct, result(oct, 2_000_000, 38_501)),
                (nov, result(nov, 2_100_000, 0)),
            ],
            &paid,
        )
        .unwrap();
        assert_eq!(
            summary(&lines),
            vec![
                ("KVP_DEDUCTION_ABSENCE", Some(oct), Decimal::new(-38_501, 2)),
                ("KVP_BASE", Some(nov), Decimal::new(2_100_000, 2)),
            ]
        );
        assert!(
            lines[0].explanation.starts_with(
                "correction of 2025-10: KVP_DEDUCTION_ABSENCE is now -385.01 kr, 0.00 kr was paid"
            ),
            "{}",
            lines[0].explanation
        );
        assert_eq!(lines[1].explanation, "no programme decision in force");
    }

    #[test]
    fn a_correction_carries_the_difference_of_quantities_and_its_rate() {
        let (oct, nov) = (ym(2025, Month::October), ym(2025, Month::November));
        let days = |value: i64, unrounded: &str| {
            LineQuantity::new(
                Decimal::from(value),
                QuantityUnit::Days,
                unrounded.parse().unwrap(),
            )
            .unwrap()
        };
        // October was paid for 21 days; two late timesheet days make it 23.
        let mut october = result(oct, 2_190_476, 0);
        october.lines[0].quantity = Some(days(23, "21904.7619047619"));
        let mut november = result(nov, 2_000_000, 0);
        november.lines[0].quantity = Some(days(20, "20000"));
        let entry = |quantity| LedgerEntry {
            month: Some(oct),
            code: code("KVP_BASE"),
            amount: Decimal::new(2_000_000, 2),
            quantity,
        };
        let targets = [(oct, october), (nov, november)];
        let paid_with = |quantity| Paid::from_entries([entry(quantity)]).unwrap();

        let lines = run_lines(nov, &targets, &paid_with(Some(Decimal::from(21)))).unwrap();
        let correction = lines[0].quantity.unwrap();
        assert_eq!(
            (correction.value, correction.unit, correction.rate),
            (
                Decimal::from(2),
                QuantityUnit::Days,
                Some(Decimal::new(95_238, 2))
            ),
            "1904.76 kr for 2 more days"
        );
        let first = lines[1].quantity.unwrap();
        assert_eq!(
            (first.value, first.rate),
            (Decimal::from(20), Some(Decimal::new(100_000, 2)))
        );

        // A month paid before quantities were kept: the difference is unknown.
        let lines = run_lines(nov, &targets, &paid_with(None)).unwrap();
        assert_eq!(lines[0].amount, Decimal::new(190_476, 2));
        assert_eq!(lines[0].quantity, None);
    }

    #[test]
    fn a_change_of_amount_alone_corrects_zero_units_without_a_rate() {
        let oct = ym(2025, Month::October);
        let mut october = result(oct, 2_010_000, 0);
        october.lines[0].quantity = Some(
            LineQuantity::new(
                Decimal::from(23),
                QuantityUnit::Days,
                "20100".parse().unwrap(),
            )
            .unwrap(),
        );
        let paid = Paid::from_entries([LedgerEntry {
            month: Some(oct),
            code: code("KVP_BASE"),
            amount: Decimal::new(2_000_000, 2),
            quantity: Some(Decimal::from(23)),
        }])
        .unwrap();
        let lines = run_lines(oct.next(), &[(oct, october)], &paid).unwrap();
        let quantity = lines[0].quantity.unwrap();
        assert_eq!((quantity.value, quantity.rate), (Decimal::ZERO, None));
    }

    #[test]
    fn a_negative_payslip_pays_zero_and_carries_the_rest() {
        let (oct, nov, dec) = (
            ym(2025, Month::October),
            ym(2025, Month::November),
            ym(2025, Month::December),
        );
        // October was paid in full; now October is fully sanctioned and
        // November has no paid days.
        let lines = run_lines(
            nov,
            &[
                (oct, result(oct, 2_000_000, 2_000_000)),
                (nov, result(nov, 0, 0)),
            ],
            &paid(&[(Some(oct), "KVP_BASE", 2_000_000)]),
        )
        .unwrap();
        assert_eq!(
            summary(&lines),
            vec![
                (
                    "KVP_DEDUCTION_ABSENCE",
                    Some(oct),
                    Decimal::new(-2_000_000, 2)
                ),
                (RECOVERY_CARRIED, None, Decimal::new(2_000_000, 2)),
            ]
        );

        // December pays 21 000: the 20 000 carried is taken back, 1 000 is paid.
        let lines = run_lines(
            dec,
            &[
                (oct, result(oct, 2_000_000, 2_000_000)),
                (nov, result(nov, 0, 0)),
                (dec, result(dec, 2_100_000, 0)),
            ],
            &paid(&[
                (Some(oct), "KVP_BASE", 2_000_000),
                (Some(oct), "KVP_DEDUCTION_ABSENCE", -2_000_000),
                (None, RECOVERY_CARRIED, 2_000_000),
            ]),
        )
        .unwrap();
        assert_eq!(
            summary(&lines),
            vec![
                ("KVP_BASE", Some(dec), Decimal::new(2_100_000, 2)),
                (RECOVERY_CARRIED, None, Decimal::new(-2_000_000, 2)),
            ]
        );
        assert_eq!(
            lines[1].explanation,
            "20000.00 kr recovered of 20000.00 kr carried from earlier runs"
        );
    }

    #[test]
    fn a_balance_with_nothing_to_pay_is_carried_on_untouched() {
        let oct = ym(2025, Month::October);
        let paid = paid(&[
            (Some(oct), "KVP_BASE", 2_000_000),
            (None, RECOVERY_CARRIED, 50_000),
        ]);
        assert!(
            run_lines(oct.next(), &[(oct, result(oct, 2_000_000, 0))], &paid)
                .unwrap()
                .is_empty()
        );
        assert_eq!(recovery(Decimal::ZERO, Decimal::new(500, 0)), Decimal::ZERO);
        // A payslip of 300 takes back 300 of a 500 balance; one of 800, all 500.
        assert_eq!(
            recovery(Decimal::new(300, 0), Decimal::new(500, 0)),
            Decimal::new(-300, 0)
        );
        assert_eq!(
            recovery(Decimal::new(800, 0), Decimal::new(500, 0)),
            Decimal::new(-500, 0)
        );
    }

    #[test]
    fn nothing_changed_means_no_lines() {
        let oct = ym(2025, Month::October);
        let paid = paid(&[
            (Some(oct), "KVP_BASE", 2_000_000),
            (Some(oct), "KVP_DEDUCTION_ABSENCE", -38_501),
        ]);
        assert!(
            run_lines(oct.next(), &[(oct, result(oct, 2_000_000, 38_501))], &paid)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn amounts_beyond_the_arithmetic_in_the_ledger_are_an_error_not_a_panic() {
        let oct = ym(2025, Month::October);
        let overflow = Err(RulesError::Overflow {
            what: "sum of the lines paid",
        });
        // Two ledger rows near the largest decimal, as a database written by
        // other means could hold them.
        let huge = Decimal::MAX - Decimal::ONE;
        assert_eq!(
            Paid::from_entries(
                [
                    (Some(oct), code("KVP_BASE"), huge),
                    (Some(oct), code("KVP_BASE"), huge),
                ]
                .map(amount_entry)
            ),
            overflow
        );
        assert_eq!(
            Paid::from_entries(
                [
                    (None, PayLineCode::RecoveryCarried, -huge),
                    (None, PayLineCode::RecoveryCarried, -huge),
                ]
                .map(amount_entry)
            ),
            overflow
        );

        // A month's line near the largest decimal against a negative paid one.
        let paid =
            Paid::from_entries([amount_entry((Some(oct), code("KVP_BASE"), -huge))]).unwrap();
        let mut month = empty_month(oct);
        month.lines[0].amount = huge;
        assert_eq!(
            run_lines(oct, &[(oct, month.clone())], &paid),
            Err(RulesError::Overflow {
                what: "difference to what was paid"
            })
        );
        // Two lines of one payslip that each fit, but not their sum.
        month.lines[4].amount = huge;
        assert_eq!(
            run_lines(oct, &[(oct, month)], &Paid::default()),
            Err(RulesError::Overflow {
                what: "payslip's sum"
            })
        );
    }

    #[test]
    fn pay_line_codes_read_back_as_written() {
        for month_code in LineCode::ALL {
            let code = PayLineCode::Month(month_code);
            assert_eq!(code.as_str().parse::<PayLineCode>(), Ok(code));
        }
        assert_eq!(code(RECOVERY_CARRIED), PayLineCode::RecoveryCarried);
        assert!("KVP_BONUS".parse::<PayLineCode>().is_err());
    }

    #[test]
    fn recomputation_starts_at_the_earlier_of_floor_and_mark() {
        let (sep, oct) = (ym(2025, Month::September), ym(2025, Month::October));
        assert_eq!(recompute_from(None, Some(sep)), None);
        assert_eq!(recompute_from(None, None), None);
        assert_eq!(recompute_from(Some(oct), None), Some(oct));
        assert_eq!(recompute_from(Some(oct), Some(sep)), Some(sep));
        assert_eq!(recompute_from(Some(sep), Some(oct)), Some(sep));
    }

    #[test]
    fn the_months_considered_run_from_the_programme_or_the_ledger_to_the_close() {
        let (jun, aug, sep, oct, nov) = (
            ym(2025, Month::June),
            ym(2025, Month::August),
            ym(2025, Month::September),
            ym(2025, Month::October),
            ym(2025, Month::November),
        );
        let paid = paid(&[(Some(jun), "KVP_BASE", 100), (Some(nov), "KVP_BASE", 100)]);
        assert_eq!(
            months_to_compute(Some(aug), &paid, None, oct),
            BTreeSet::from([jun, aug, sep, oct])
        );
        assert_eq!(
            months_to_compute(Some(aug), &paid, Some(sep), oct),
            BTreeSet::from([sep, oct])
        );
        assert_eq!(
            months_to_compute(None, &paid, None, oct),
            BTreeSet::from([jun])
        );
        assert!(months_to_compute(Some(nov), &Paid::default(), None, oct).is_empty());
    }

    #[test]
    fn a_changed_g_moves_the_floor_back_to_its_month() {
        let date = |y, m| Date::from_calendar_date(y, m, 1).unwrap();
        let g2024 = (date(2024, Month::May), Decimal::new(124_028, 0));
        let g2025 = (date(2025, Month::May), Decimal::new(130_160, 0));
        let latest = ym(2025, Month::October);
        assert_eq!(
            g_floor(&[g2024, g2025], &[g2024, g2025], latest),
            latest.next()
        );
        assert_eq!(
            g_floor(&[g2024], &[g2024, g2025], latest),
            ym(2025, Month::May)
        );
        let corrected = (date(2025, Month::May), Decimal::new(130_200, 0));
        assert_eq!(
            g_floor(&[g2024, g2025], &[g2024, corrected], latest),
            ym(2025, Month::May)
        );
        let future = (date(2026, Month::May), Decimal::new(135_000, 0));
        assert_eq!(g_floor(&[g2024], &[g2024, future], latest), latest.next());
    }
}
