//! The proposal of supplementary social assistance for one month: the pure
//! calculation and its explanation.
//!
//! proposal = norm for the household + housing cost − (net stipend + other
//! income), floored at zero, rounded once to øre, half away from zero.
//!
//! The net stipend is income in the month it is paid, when it can be used:
//! the payments whose payment date falls in the month, each a line saying
//! which run paid it and, for back pay, which months it pays for. A failed
//! payment counts nothing (the notes name it); its reissue counts in the
//! month it is paid.
//!
//! The norm is the sum of the state guideline rates in force on the month's
//! first day: one rate for the adults (single, couple, or a person sharing a
//! home) and one per child by the child's age on that day (0–5, 6–10,
//! 11–17). A child who is 18 or older on that day, or is born after the
//! month ends, is not counted; the explanation says so. A child born during
//! the month is counted at the 0–5 rate for the whole month.
//!
//! This is a proposal, never a payment: a caseworker accepts or rejects it.
//! No I/O and no clock here.

use serde::{Deserialize, Serialize};
use time::Date;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::household::{Adults, Household};
use crate::income::IncomeKinds;
use crate::money::Kroner;
use crate::month::Month;
use crate::norms::{ChildBand, Norms, Rates};
use crate::store::{CountedPayment, PaymentOutcome};

/// How the rounding of a proposal is done, as the explanation states it.
pub const ROUNDING: &str = "rounded once, to øre, half away from zero";

/// What a line of the explanation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LineCode {
    /// The norm rate for one adult living alone.
    NormSingleAdult,
    /// The norm rate for a couple.
    NormCouple,
    /// The norm rate for a person sharing a home.
    NormSharing,
    /// The norm rate for a child aged 0–5.
    NormChild0To5,
    /// The norm rate for a child aged 6–10.
    NormChild6To10,
    /// The norm rate for a child aged 11–17.
    NormChild11To17,
    /// Housing cost including electricity, at actual cost.
    HousingCost,
    /// A net stipend paid in the month (subtracted), or the line saying none
    /// was.
    NetStipend,
    /// Other income of the household (subtracted): of no kind given, or of
    /// a kind that counts.
    OtherIncome,
}

/// One line of a proposal's explanation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ExplanationLine {
    /// What the line is.
    pub code: LineCode,
    /// The line in words.
    pub text: String,
    /// Its contribution, kroner: positive for needs, negative for income.
    #[schema(value_type = String, example = "7850.00")]
    pub amount: Kroner,
    /// For a child's line: the child's position in the household (1-based).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub child: Option<u32>,
    /// For a child's line: the child's age on the month's first day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age: Option<u32>,
}

/// The full explanation of a proposal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Explanation {
    /// The month the proposal is for.
    #[schema(value_type = String, example = "2024-03")]
    pub month: Month,
    /// The day ages are counted on (the month's first day).
    #[schema(value_type = String, format = Date)]
    pub age_counted_on: Date,
    /// First day of the norm rates applied.
    #[schema(value_type = String, format = Date)]
    pub norm_rates_from: Date,
    /// Where those rates come from.
    pub norm_source: String,
    /// The lines, needs first, then income.
    pub lines: Vec<ExplanationLine>,
    /// Household members not counted, failed payments, and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// What the caseworker must check before deciding: norm rates older
    /// than the month's year (no newer circular is registered).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Sum of the norm lines.
    #[schema(value_type = String)]
    pub norm_total: Kroner,
    /// Norm plus housing cost.
    #[schema(value_type = String)]
    pub needs_total: Kroner,
    /// Net stipend plus other income.
    #[schema(value_type = String)]
    pub income_total: Kroner,
    /// Needs minus income, before the floor at zero (may be negative).
    #[schema(value_type = String)]
    pub shortfall: Kroner,
    /// True when the shortfall was negative and the proposal is zero.
    pub floored_at_zero: bool,
    /// How the amount was rounded.
    pub rounding: String,
    /// The proposed amount.
    #[schema(value_type = String, example = "6200.00")]
    pub amount: Kroner,
}

/// A computed proposal, before it is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProposalDraft {
    /// The proposed amount, kroner, zero or more.
    pub amount: Kroner,
    /// How it was computed.
    pub explanation: Explanation,
}

/// No norm rates are in force in the month (it is before the first period).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("no norm rates are in force in {month}")]
pub struct NoNormRates {
    /// The month asked for.
    pub month: Month,
}

/// Computes proposals; the store calls it inside its transactions, so that a
/// proposal is always computed from the household and payments it commits with.
pub trait Proposer: Send + Sync {
    /// The proposal for a household in a month with the payments counted as
    /// income in it (see [`propose`]).
    fn propose(
        &self,
        household: &Household,
        month: Month,
        payments: &[CountedPayment],
    ) -> Result<ProposalDraft, NoNormRates>;
}

impl Proposer for Norms {
    fn propose(
        &self,
        household: &Household,
        month: Month,
        payments: &[CountedPayment],
    ) -> Result<ProposalDraft, NoNormRates> {
        propose(self, household, month, payments)
    }
}

/// A child's age band, by age on the month's first day.
fn child_line(rates: &Rates, age: u32) -> Option<(LineCode, Kroner, &'static str)> {
    match age {
        0..=5 => Some(band_line(rates, ChildBand::Child0To5)),
        6..=10 => Some(band_line(rates, ChildBand::Child6To10)),
        11..=17 => Some(band_line(rates, ChildBand::Child11To17)),
        _ => None,
    }
}

/// A band's line code, rate and name.
fn band_line(rates: &Rates, band: ChildBand) -> (LineCode, Kroner, &'static str) {
    match band {
        ChildBand::Child0To5 => (LineCode::NormChild0To5, rates.child_0_5, "0–5"),
        ChildBand::Child6To10 => (LineCode::NormChild6To10, rates.child_6_10, "6–10"),
        ChildBand::Child11To17 => (LineCode::NormChild11To17, rates.child_11_17, "11–17"),
    }
}

/// Whole years from `birth` to `on`; `None` if `on` is before `birth`.
pub fn age_on(birth: Date, on: Date) -> Option<u32> {
    if on < birth {
        return None;
    }
    let mut years = on.year() - birth.year();
    if (on.month() as u8, on.day()) < (birth.month() as u8, birth.day()) {
        years -= 1;
    }
    u32::try_from(years).ok()
}

/// The proposal for a household in a month (see the module documentation).
///
/// The stipend counts as income in the month it is paid, when it can be used
/// (`payments` are those whose payment date falls in `month`): one line per
/// payment, saying which run paid it and which months its lines pay for (a
/// run pays its own month in arrears, and back pay of earlier months). A
/// failed payment counts nothing and is named in the notes; its reissue
/// counts in the month it is paid.
pub fn propose(
    norms: &Norms,
    household: &Household,
    month: Month,
    payments: &[CountedPayment],
) -> Result<ProposalDraft, NoNormRates> {
    let period = norms.for_month(month).ok_or(NoNormRates { month })?;
    let rates = &period.rates;
    let first = month.first_day();
    let from = period.from;
    let mut warnings = Vec::new();
    if let Some(stale) = stale_rates(period.from, month) {
        warnings.push(stale);
    }

    let mut lines = Vec::new();
    let mut notes = Vec::new();
    let (code, rate, who) = match household.adults {
        Adults::Single => (
            LineCode::NormSingleAdult,
            rates.single_adult,
            "single adult",
        ),
        Adults::Couple => (LineCode::NormCouple, rates.couple, "couple (both adults)"),
        Adults::Sharing => (
            LineCode::NormSharing,
            rates.sharing,
            "person sharing a home",
        ),
    };
    lines.push(ExplanationLine {
        code,
        text: format!("norm rate for a {who}, state guideline rates from {from}"),
        amount: rate,
        child: None,
        age: None,
    });

    for (i, child) in household.children.iter().enumerate() {
        let position = u32::try_from(i + 1).unwrap_or(u32::MAX);
        if child.birth_date > month.last_day() {
            notes.push(format!(
                "child {position} is not counted: born after {month} ended"
            ));
            continue;
        }
        // Born during the month: age 0 for the whole month.
        let age = age_on(child.birth_date, first).unwrap_or(0);
        match child_line(rates, age) {
            Some((code, rate, band)) => lines.push(ExplanationLine {
                code,
                text: format!(
                    "norm rate for child {position}, aged {age} on {first} (band {band}), \
                     state guideline rates from {from}"
                ),
                amount: rate,
                child: Some(position),
                age: Some(age),
            }),
            None => match norms.youth_rule() {
                Some(rule) if child.in_upper_secondary_school => {
                    let (code, rate, band) = band_line(rates, rule.counted_as);
                    lines.push(ExplanationLine {
                        code,
                        text: format!(
                            "norm rate for household member {position}, aged {age} on {first} \
                             and still in upper secondary school, counted at the {band} rate \
                             ({}), state guideline rates from {from}",
                            rule.source
                        ),
                        amount: rate,
                        child: Some(position),
                        age: Some(age),
                    });
                }
                Some(_) | None if !child.in_upper_secondary_school => notes.push(format!(
                    "child {position} is not counted: aged {age} on {first}, 18 or older"
                )),
                _ => notes.push(format!(
                    "household member {position}, aged {age} on {first} and in upper secondary \
                     school, is not counted: the norm table has no rule for young people in \
                     upper secondary school"
                )),
            },
        }
    }
    let norm_total: Kroner = lines.iter().map(|l| l.amount).sum();

    lines.push(ExplanationLine {
        code: LineCode::HousingCost,
        text: "housing cost including electricity, at actual cost".into(),
        amount: household.housing_cost,
        child: None,
        age: None,
    });
    let needs_total = norm_total + household.housing_cost;

    let paid: Vec<&CountedPayment> = payments
        .iter()
        .filter(|p| p.outcome == PaymentOutcome::Paid)
        .collect();
    if paid.is_empty() {
        lines.push(ExplanationLine {
            code: LineCode::NetStipend,
            text: format!("no stipend was paid in {month}"),
            amount: Kroner::ZERO,
            child: None,
            age: None,
        });
    }
    for payment in &paid {
        lines.push(ExplanationLine {
            code: LineCode::NetStipend,
            text: format!(
                "net stipend (after tax) paid {}, subtracted in {month}, when it could be used",
                which_payment(payment),
            ),
            amount: -payment.net_paid,
            child: None,
            age: None,
        });
    }
    for failed in payments
        .iter()
        .filter(|p| p.outcome == PaymentOutcome::Failed)
    {
        notes.push(format!(
            "the payment {} failed: nothing was received, so nothing is counted; its lines \
             are reissued by a later run and count in the month they are paid",
            which_payment(failed),
        ));
    }
    let net_stipend: Kroner = paid.iter().map(|p| p.net_paid).sum();
    lines.push(ExplanationLine {
        code: LineCode::OtherIncome,
        text: "other monthly income of the household, net, subtracted".into(),
        amount: -household.other_income,
        child: None,
        age: None,
    });
    let kinds = IncomeKinds::shipped();
    let mut counted_income = household.other_income;
    for entry in household.income.iter().filter(|e| e.received_in(month)) {
        let Some(kind) = kinds.get(&entry.kind) else {
            // Validated at registration; a kind since removed from the data
            // counts, as all income does unless excepted.
            notes.push(format!(
                "income of the unknown kind {} is counted as other income",
                entry.kind
            ));
            counted_income = counted_income + entry.net_amount;
            continue;
        };
        if kind.counts_in(month) {
            lines.push(ExplanationLine {
                code: LineCode::OtherIncome,
                text: format!("{}, net, subtracted", kind.name),
                amount: -entry.net_amount,
                child: None,
                age: None,
            });
            counted_income = counted_income + entry.net_amount;
        } else {
            notes.push(format!(
                "{} of {} is not counted in {month}: {}",
                kind.name, entry.net_amount, kind.source
            ));
        }
    }
    let income_total = net_stipend + counted_income;

    let shortfall = needs_total - income_total;
    // Every input is whole øre, so the shortfall is exact; the one rounding
    // is still applied here, where the amount is made.
    let amount = Kroner::round_to_ore(shortfall.floored_at_zero().value());

    Ok(ProposalDraft {
        amount,
        explanation: Explanation {
            month,
            age_counted_on: first,
            norm_rates_from: from,
            norm_source: period.source.clone(),
            lines,
            notes,
            warnings,
            norm_total,
            needs_total,
            income_total,
            shortfall,
            floored_at_zero: shortfall < Kroner::ZERO,
            rounding: ROUNDING.into(),
            amount,
        },
    })
}

/// The warning for a month whose newest norm rates are of an earlier year:
/// the annual circular's rates for its year are not registered, so older
/// rates (lower, as they are adjusted for prices every year) are applied.
pub fn stale_rates(rates_from: Date, month: Month) -> Option<String> {
    let year = month.first_day().year();
    (rates_from.year() < year).then(|| {
        format!(
            "no norm rates for {year} are registered: the rates from {rates_from} are applied; \
             check the state guideline rates for {year} before deciding"
        )
    })
}

/// A payment in words: its date, its run and, when it pays for more than
/// its run's own month (back pay, recoveries, reissues), the months it pays
/// for with their gross.
fn which_payment(payment: &CountedPayment) -> String {
    let date = payment
        .payment_date
        .map_or_else(|| "on no given date".to_owned(), |d| format!("on {d}"));
    format!(
        "{date} by the run for {}{}",
        payment.run_month,
        paid_for(payment)
    )
}

/// The months a payment's lines pay for, with their gross, when it pays for
/// more than its run's own month.
fn paid_for(payment: &CountedPayment) -> String {
    if payment
        .attributed
        .iter()
        .all(|part| part.month == payment.run_month)
    {
        return String::new();
    }
    let parts: Vec<String> = payment
        .attributed
        .iter()
        .map(|part| format!("{} {:.2}", part.month, part.gross))
        .collect();
    format!(" (gross by the month paid for: {})", parts.join(", "))
}

/// Where a proposal stands in the caseworker's worklist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ProposalState {
    /// Waiting for a caseworker's decision.
    Proposed,
    /// A caseworker accepted it (the assistance is then granted and paid by
    /// the municipality's own process; this service pays nothing).
    Accepted,
    /// A caseworker rejected it.
    Rejected,
    /// Replaced, before any decision, by a newer proposal for the same month
    /// (the household changed or another payment for the month arrived).
    Superseded,
    /// Recorded with 0.00, income covering the need: nothing for a
    /// caseworker to decide, so not on the worklist. Replaced like an open
    /// proposal when the figures change.
    NoShortfall,
}

impl ProposalState {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Proposed => "PROPOSED",
            Self::Accepted => "ACCEPTED",
            Self::Rejected => "REJECTED",
            Self::Superseded => "SUPERSEDED",
            Self::NoShortfall => "NO_SHORTFALL",
        }
    }

    /// Open: the month's current figures, replaced when they change
    /// (PROPOSED, or NO_SHORTFALL).
    pub fn is_open(self) -> bool {
        matches!(self, Self::Proposed | Self::NoShortfall)
    }

    /// The name back to the value.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "PROPOSED" => Some(Self::Proposed),
            "ACCEPTED" => Some(Self::Accepted),
            "REJECTED" => Some(Self::Rejected),
            "SUPERSEDED" => Some(Self::Superseded),
            "NO_SHORTFALL" => Some(Self::NoShortfall),
            _ => None,
        }
    }
}

/// What made the service propose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ProposalCause {
    /// A stipend payment for the month arrived (StipendPaid event).
    StipendPaid,
    /// A payment due in the month failed (StipendPaymentFailed event).
    PaymentFailed,
    /// The household was registered or changed after the month was paid.
    HouseholdChanged,
}

impl ProposalCause {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::StipendPaid => "STIPEND_PAID",
            Self::PaymentFailed => "PAYMENT_FAILED",
            Self::HouseholdChanged => "HOUSEHOLD_CHANGED",
        }
    }

    /// The name back to the value.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "STIPEND_PAID" => Some(Self::StipendPaid),
            "PAYMENT_FAILED" => Some(Self::PaymentFailed),
            "HOUSEHOLD_CHANGED" => Some(Self::HouseholdChanged),
            _ => None,
        }
    }
}

/// A caseworker's decision on a proposal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Accept the proposal.
    Accept,
    /// Reject the proposal.
    Reject,
}

impl Decision {
    /// The state the decision leads to.
    pub fn state(self) -> ProposalState {
        match self {
            Self::Accept => ProposalState::Accepted,
            Self::Reject => ProposalState::Rejected,
        }
    }
}

/// A stored proposal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposal {
    /// Its id.
    pub id: Uuid,
    /// The participant.
    pub participant_id: Uuid,
    /// The month it is for.
    pub month: Month,
    /// Where it stands.
    pub state: ProposalState,
    /// The proposed amount.
    pub amount: Kroner,
    /// How it was computed.
    pub explanation: Explanation,
    /// What made the service propose.
    pub cause: ProposalCause,
    /// The earlier proposal for the month this one replaced, if any.
    pub supersedes: Option<Uuid>,
    /// The proposal that replaced this one, if any.
    pub superseded_by: Option<Uuid>,
    /// When it was made.
    pub created_at: time::OffsetDateTime,
    /// When it was decided.
    pub decided_at: Option<time::OffsetDateTime>,
    /// Who decided (a caseworker id as given, never a national identity number).
    pub decided_by: Option<String>,
    /// The decision's reason.
    pub decision_reason: Option<String>,
    /// The municipality that paid the month (`None` only for a proposal made
    /// before proposals were scoped whose payment cannot be found).
    pub municipality_id: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::household::Child;
    use time::macros::date;

    fn kr(text: &str) -> Kroner {
        text.parse().unwrap()
    }

    fn household(adults: Adults, births: &[Date], housing: &str, other: &str) -> Household {
        Household {
            participant_id: Uuid::nil(),
            adults,
            children: births
                .iter()
                .map(|&birth_date| Child {
                    birth_date,
                    in_upper_secondary_school: false,
                })
                .collect(),
            housing_cost: kr(housing),
            other_income: kr(other),
            income: Vec::new(),
        }
    }

    fn month(text: &str) -> Month {
        text.parse().unwrap()
    }

    /// One payment of `net` by the run for the month before `income_month`,
    /// paid on the 1st of `income_month` and paying for its run's month only.
    fn paid(net: &str, income_month: &str) -> Vec<CountedPayment> {
        let income = month(income_month);
        let run_month = Month::containing(income.first_day() - time::Duration::days(1)).unwrap();
        vec![CountedPayment {
            run_month,
            outcome: PaymentOutcome::Paid,
            net_paid: kr(net),
            payment_date: Some(income.first_day()),
            attributed: vec![crate::store::AttributedGross {
                month: run_month,
                gross: kr(net).value(),
            }],
        }]
    }

    #[test]
    fn a_single_adult_with_a_four_year_old_gets_the_shortfall() {
        let norms = Norms::shipped().unwrap();
        let h = household(Adults::Single, &[date!(2019 - 06 - 10)], "9000", "500");
        let draft = propose(&norms, &h, month("2024-03"), &paid("14000", "2024-03")).unwrap();
        // 7850 + 3850 + 9000 − (14000 + 500)
        assert_eq!(draft.amount.to_string(), "6200.00");
        let e = &draft.explanation;
        let codes: Vec<_> = e
            .lines
            .iter()
            .map(|l| (l.code, l.amount.to_string()))
            .collect();
        assert_eq!(
            codes,
            [
                (LineCode::NormSingleAdult, "7850.00".into()),
                (LineCode::NormChild0To5, "3850.00".into()),
                (LineCode::HousingCost, "9000.00".into()),
                (LineCode::NetStipend, "-14000.00".into()),
                (LineCode::OtherIncome, "-500.00".into()),
            ]
        );
        assert_eq!(e.lines[1].age, Some(4));
        assert_eq!(e.norm_total.to_string(), "11700.00");
        assert_eq!(e.needs_total.to_string(), "20700.00");
        assert_eq!(e.income_total.to_string(), "14500.00");
        assert!(!e.floored_at_zero);
        assert_eq!(e.norm_rates_from, date!(2024 - 01 - 01));
    }

    #[test]
    fn income_counts_in_the_month_paid_and_a_failed_payment_counts_nothing() {
        let norms = Norms::shipped().unwrap();
        let h = household(Adults::Single, &[], "9000", "500");
        let attributed = |parts: &[(&str, &str)]| {
            parts
                .iter()
                .map(|(m, gross)| crate::store::AttributedGross {
                    month: month(m),
                    gross: gross.parse().unwrap(),
                })
                .collect()
        };
        let payments = [
            CountedPayment {
                run_month: month("2024-02"),
                outcome: PaymentOutcome::Failed,
                net_paid: Kroner::ZERO,
                payment_date: Some(date!(2024 - 03 - 01)),
                attributed: attributed(&[("2024-02", "12000.00")]),
            },
            CountedPayment {
                run_month: month("2024-01"),
                outcome: PaymentOutcome::Paid,
                net_paid: kr("1500"),
                payment_date: Some(date!(2024 - 03 - 05)),
                attributed: attributed(&[("2023-12", "-200.00"), ("2024-01", "2200.00")]),
            },
        ];
        let draft = propose(&norms, &h, month("2024-03"), &payments).unwrap();
        // 7850 + 9000 − (1500 + 500): the failed payment counts nothing.
        assert_eq!(draft.amount.to_string(), "14850.00");
        let e = &draft.explanation;
        let stipend: Vec<_> = e
            .lines
            .iter()
            .filter(|l| l.code == LineCode::NetStipend)
            .map(|l| (l.text.as_str(), l.amount.to_string()))
            .collect();
        assert_eq!(
            stipend,
            [(
                "net stipend (after tax) paid on 2024-03-05 by the run for 2024-01 (gross by the \
                 month paid for: 2023-12 -200.00, 2024-01 2200.00), subtracted in 2024-03, when \
                 it could be used",
                "-1500.00".to_owned()
            )]
        );
        assert_eq!(
            e.notes,
            [
                "the payment on 2024-03-01 by the run for 2024-02 failed: nothing was received, \
                 so nothing is counted; its lines are reissued by a later run and count in the \
                 month they are paid"
            ]
        );

        // Only the failed payment: nothing received, the whole shortfall.
        let draft = propose(&norms, &h, month("2024-03"), &payments[..1]).unwrap();
        assert_eq!(draft.amount.to_string(), "16350.00");
        assert_eq!(draft.explanation.income_total.to_string(), "500.00");
    }

    #[test]
    fn a_month_of_a_year_without_its_own_rates_is_warned_about() {
        let norms = Norms::shipped().unwrap();
        let h = household(Adults::Single, &[], "9000", "500");
        let current = propose(&norms, &h, month("2024-12"), &[]).unwrap();
        assert!(current.explanation.warnings.is_empty());
        let later = propose(&norms, &h, month("2025-01"), &[]).unwrap();
        assert_eq!(
            later.explanation.warnings,
            [
                "no norm rates for 2025 are registered: the rates from 2024-01-01 are applied; \
                 check the state guideline rates for 2025 before deciding"
            ]
        );
        // The figures are still those of the newest rates.
        assert_eq!(later.amount, current.amount);
    }

    #[test]
    fn typed_income_counts_as_its_kind_says_and_only_in_its_month() {
        use crate::income::IncomeEntry;

        let norms = Norms::shipped().unwrap();
        let mut h = household(Adults::Single, &[], "9000", "0");
        let entry = |kind: &str, net: &str, in_month: Option<&str>| IncomeEntry {
            kind: kind.into(),
            net_amount: kr(net),
            month: in_month.map(month),
        };
        h.income = vec![
            entry("HOUSING_BENEFIT", "1800", None),
            entry("CHILD_BENEFIT", "1766", None),
            entry("WAGE", "2500", Some("2024-04")),
        ];
        let march = propose(&norms, &h, month("2024-03"), &[]).unwrap();
        // 7850 + 9000 − 1800: child benefit is not counted, the wage is April's.
        assert_eq!(march.amount.to_string(), "15050.00");
        let income: Vec<_> = march
            .explanation
            .lines
            .iter()
            .filter(|l| l.code == LineCode::OtherIncome)
            .map(|l| (l.text.as_str(), l.amount.to_string()))
            .collect();
        assert_eq!(
            income,
            [
                (
                    "other monthly income of the household, net, subtracted",
                    "0.00".to_owned()
                ),
                (
                    "housing benefit (bostøtte), net, subtracted",
                    "-1800.00".to_owned()
                ),
            ]
        );
        assert!(
            march.explanation.notes[0]
                .starts_with("child benefit (barnetrygd) of 1766.00 is not counted in 2024-03: Since 1 September 2022"),
            "{:?}",
            march.explanation.notes
        );
        let april = propose(&norms, &h, month("2024-04"), &[]).unwrap();
        assert_eq!(april.amount.to_string(), "12550.00");
    }

    #[test]
    fn a_member_of_18_in_upper_secondary_school_is_counted_as_the_table_says() {
        let norms = Norms::shipped().unwrap();
        let mut h = household(
            Adults::Single,
            &[date!(2005 - 08 - 01), date!(2005 - 08 - 01)],
            "9000",
            "0",
        );
        h.children[0].in_upper_secondary_school = true;
        let e = propose(&norms, &h, month("2024-03"), &[])
            .unwrap()
            .explanation;
        let youth: Vec<_> = e
            .lines
            .iter()
            .filter(|l| l.child.is_some())
            .map(|l| (l.code, l.child, l.age, l.amount.to_string()))
            .collect();
        // Aged 18: the first, in school, at the 11–17 rate; the second not.
        assert_eq!(
            youth,
            [(
                LineCode::NormChild11To17,
                Some(1),
                Some(18),
                "5150.00".to_owned()
            )]
        );
        assert!(
            e.lines[1].text.contains("still in upper secondary school"),
            "{}",
            e.lines[1].text
        );
        assert_eq!(
            e.notes,
            ["child 2 is not counted: aged 18 on 2024-03-01, 18 or older"]
        );
        assert_eq!(e.norm_total.to_string(), "13000.00");
    }

    #[test]
    fn income_above_needs_proposes_zero() {
        let norms = Norms::shipped().unwrap();
        let h = household(Adults::Sharing, &[], "3000", "0");
        let draft = propose(&norms, &h, month("2024-05"), &paid("16000.50", "2024-05")).unwrap();
        assert_eq!(draft.amount.to_string(), "0.00");
        assert!(draft.explanation.floored_at_zero);
        assert_eq!(draft.explanation.shortfall.to_string(), "-6400.50");
    }

    #[test]
    fn age_bands_follow_the_age_on_the_first_day_of_the_month() {
        let norms = Norms::shipped().unwrap();
        let births = [
            date!(2018 - 03 - 01), // 6 on 2024-03-01: turns 6 that very day
            date!(2018 - 03 - 02), // still 5 on 2024-03-01
            date!(2013 - 03 - 01), // 11
            date!(2006 - 03 - 02), // 17
            date!(2006 - 03 - 01), // 18: not counted
            date!(2024 - 03 - 20), // born during the month: 0–5
            date!(2024 - 04 - 01), // born after the month: not counted
        ];
        let h = household(Adults::Couple, &births, "0", "0");
        let e = propose(&norms, &h, month("2024-03"), &[])
            .unwrap()
            .explanation;
        let lines: Vec<_> = e.lines.iter().map(|l| (l.code, l.child, l.age)).collect();
        assert_eq!(
            lines[..6],
            [
                (LineCode::NormCouple, None, None),
                (LineCode::NormChild6To10, Some(1), Some(6)),
                (LineCode::NormChild0To5, Some(2), Some(5)),
                (LineCode::NormChild11To17, Some(3), Some(11)),
                (LineCode::NormChild11To17, Some(4), Some(17)),
                (LineCode::NormChild0To5, Some(6), Some(0)),
            ]
        );
        assert_eq!(e.notes.len(), 2);
        assert!(e.notes[0].starts_with("child 5"));
        assert!(e.notes[1].starts_with("child 7"));
        // 13100 + 3950 + 3850 + 5150 + 5150 + 3850
        assert_eq!(e.norm_total.to_string(), "35050.00");
    }

    #[test]
    fn the_2023_rates_apply_from_july_2023_and_none_before() {
        let norms = Norms::shipped().unwrap();
        let h = household(Adults::Single, &[], "0", "0");
        let draft = propose(&norms, &h, month("2023-07"), &[]).unwrap();
        assert_eq!(draft.amount.to_string(), "7550.00");
        assert_eq!(
            propose(&norms, &h, month("2023-06"), &[]),
            Err(NoNormRates {
                month: month("2023-06")
            })
        );
    }

    #[test]
    fn the_explanation_survives_json() {
        let norms = Norms::shipped().unwrap();
        let h = household(Adults::Single, &[date!(2019 - 06 - 10)], "9000", "500");
        let e = propose(&norms, &h, month("2024-03"), &paid("14000", "2024-03"))
            .unwrap()
            .explanation;
        let json = serde_json::to_string(&e).unwrap();
        assert!(json.contains(r#""amount":"6200.00""#), "{json}");
        assert_eq!(serde_json::from_str::<Explanation>(&json).unwrap(), e);
    }

    #[test]
    fn ages_count_whole_years() {
        assert_eq!(
            age_on(date!(2020 - 02 - 29), date!(2021 - 02 - 28)),
            Some(0)
        );
        assert_eq!(
            age_on(date!(2020 - 02 - 29), date!(2021 - 03 - 01)),
            Some(1)
        );
        assert_eq!(age_on(date!(2020 - 05 - 01), date!(2020 - 04 - 30)), None);
    }
}
