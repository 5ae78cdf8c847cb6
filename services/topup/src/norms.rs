//! The state guideline rates (statlige veiledende retningslinjer) for
//! supplementary social assistance, as dated data.
//!
//! The shipped file is `parameters/norms.json` (embedded in the binary); a
//! deployment may point `norms_file` at its own copy. Loading validates the
//! whole file and names the entry at fault: periods sorted by date with no
//! two on one date, every rate a positive amount in whole øre, every period
//! with its source. The rates of a month are those of the latest period that
//! starts on or before the month's first day; the latest period stays in
//! force until a newer one is added.
//!
//! This module reads no clock and does no I/O beyond [`Norms::load_file`].

use std::path::Path;

use serde::{Deserialize, Serialize};
use time::Date;

use crate::household::parse_date;
use crate::money::Kroner;
use crate::month::Month;

/// The shipped rates file.
pub const SHIPPED: &str = include_str!("../parameters/norms.json");

/// The rates file is unusable; `field` names the entry at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("norm rates: {field}: {message}")]
pub struct NormsError {
    /// Path of the entry at fault, e.g. `periods[1].rates.couple`.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl NormsError {
    fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Monthly rates of one period, kroner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rates {
    /// One adult living alone.
    pub single_adult: Kroner,
    /// Two adults living as a couple, together.
    pub couple: Kroner,
    /// A person sharing a home with other adults.
    pub sharing: Kroner,
    /// A child aged 0–5.
    pub child_0_5: Kroner,
    /// A child aged 6–10.
    pub child_6_10: Kroner,
    /// A child aged 11–17.
    pub child_11_17: Kroner,
}

/// Rates in force from a date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Period {
    /// First day the rates apply.
    pub from: Date,
    /// Where the rates come from.
    pub source: String,
    /// What must be verified before production use, if anything.
    pub verify: Option<String>,
    /// The rates.
    pub rates: Rates,
}

/// The validated rate table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Norms {
    periods: Vec<Period>,
    youth: Option<YouthRule>,
}

/// How a household member of 18 or over who is still in upper secondary
/// school is counted (the guideline rates have no band of their own).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YouthRule {
    /// The child band whose rate applies.
    pub counted_as: ChildBand,
    /// Where the rule comes from.
    pub source: String,
}

/// A child band of the rates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum ChildBand {
    /// Aged 0–5.
    #[serde(rename = "child_0_5")]
    Child0To5,
    /// Aged 6–10.
    #[serde(rename = "child_6_10")]
    Child6To10,
    /// Aged 11–17.
    #[serde(rename = "child_11_17")]
    Child11To17,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSpec {
    #[allow(dead_code, reason = "documentation for readers of the file")]
    description: Option<String>,
    #[allow(dead_code, reason = "documentation for readers of the file")]
    verify: Option<String>,
    periods: Vec<PeriodSpec>,
    /// Absent: such members are not counted (and the explanation says so).
    #[serde(default)]
    youth_in_upper_secondary_school: Option<YouthSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct YouthSpec {
    counted_as: ChildBand,
    source: String,
    #[allow(dead_code, reason = "documentation for readers of the file")]
    verify: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PeriodSpec {
    from: String,
    source: String,
    verify: Option<String>,
    rates: RatesSpec,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RatesSpec {
    single_adult: String,
    couple: String,
    sharing: String,
    child_0_5: String,
    child_6_10: String,
    child_11_17: String,
}

impl Norms {
    /// The shipped rates.
    pub fn shipped() -> Result<Self, NormsError> {
        Self::from_json(SHIPPED)
    }

    /// Reads and validates a rates file.
    pub fn load_file(path: &Path) -> Result<Self, NormsError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| NormsError::new(path.display().to_string(), e.to_string()))?;
        Self::from_json(&text)
    }

    /// Validates a rates file's text.
    pub fn from_json(text: &str) -> Result<Self, NormsError> {
        let deserializer = &mut serde_json::Deserializer::from_str(text);
        let spec: FileSpec = serde_path_to_error::deserialize(deserializer).map_err(|e| {
            let path = e.path().to_string();
            NormsError::new(
                if path == "." { "file".to_owned() } else { path },
                e.into_inner().to_string(),
            )
        })?;
        if spec.periods.is_empty() {
            return Err(NormsError::new("periods", "the table has no periods"));
        }

        let mut periods: Vec<Period> = Vec::with_capacity(spec.periods.len());
        for (i, period) in spec.periods.into_iter().enumerate() {
            let at = |field: &str| format!("periods[{i}].{field}");
            let from = parse_date(&period.from).ok_or_else(|| {
                NormsError::new(
                    at("from"),
                    format!("`{}` is not a date YYYY-MM-DD", period.from),
                )
            })?;
            if let Some(previous) = periods.last() {
                if from == previous.from {
                    return Err(NormsError::new(
                        at("from"),
                        format!("two periods start on {from}"),
                    ));
                }
                if from < previous.from {
                    return Err(NormsError::new(
                        at("from"),
                        format!(
                            "{from} is before the previous period's {}: periods must be sorted by date",
                            previous.from
                        ),
                    ));
                }
            }
            if period.source.trim().is_empty() {
                return Err(NormsError::new(
                    at("source"),
                    "every period needs its source",
                ));
            }
            let rate = |name: &str, text: &str| {
                let amount = Kroner::parse_non_negative(text).map_err(|e| {
                    NormsError::new(at(&format!("rates.{name}")), format!("`{text}` {e}"))
                })?;
                if amount == Kroner::ZERO {
                    return Err(NormsError::new(
                        at(&format!("rates.{name}")),
                        "a rate must be above zero",
                    ));
                }
                Ok(amount)
            };
            let r = &period.rates;
            let rates = Rates {
                single_adult: rate("single_adult", &r.single_adult)?,
                couple: rate("couple", &r.couple)?,
                sharing: rate("sharing", &r.sharing)?,
                child_0_5: rate("child_0_5", &r.child_0_5)?,
                child_6_10: rate("child_6_10", &r.child_6_10)?,
                child_11_17: rate("child_11_17", &r.child_11_17)?,
            };
            periods.push(Period {
                from,
                source: period.source,
                verify: period.verify,
                rates,
            });
        }
        let youth = spec.youth_in_upper_secondary_school.map(|y| YouthRule {
            counted_as: y.counted_as,
            source: y.source,
        });
        Ok(Self { periods, youth })
    }

    /// How a member of 18 or over in upper secondary school is counted, if
    /// the table says.
    pub fn youth_rule(&self) -> Option<&YouthRule> {
        self.youth.as_ref()
    }

    /// The period in force in a month: the latest that starts on or before
    /// its first day; `None` before the first period.
    pub fn for_month(&self, month: Month) -> Option<&Period> {
        let first = month.first_day();
        self.periods.iter().rev().find(|p| p.from <= first)
    }

    /// All periods, oldest first.
    pub fn periods(&self) -> &[Period] {
        &self.periods
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn month(text: &str) -> Month {
        text.parse().unwrap()
    }

    #[test]
    fn the_shipped_file_has_the_2023_and_2024_rates_with_sources() {
        let norms = Norms::shipped().unwrap();
        assert_eq!(norms.periods().len(), 2);
        assert!(norms.for_month(month("2023-06")).is_none());

        let r2023 = norms.for_month(month("2023-12")).unwrap();
        assert_eq!(r2023.from.to_string(), "2023-07-01");
        let r = r2023.rates;
        assert_eq!(
            [
                r.single_adult,
                r.couple,
                r.sharing,
                r.child_0_5,
                r.child_6_10,
                r.child_11_17
            ]
            .map(|k| k.to_string()),
            [
                "7550.00", "12600.00", "6350.00", "3700.00", "3800.00", "4950.00"
            ]
        );

        let r2024 = norms.for_month(month("2024-01")).unwrap();
        let r = r2024.rates;
        assert_eq!(
            [
                r.single_adult,
                r.couple,
                r.sharing,
                r.child_0_5,
                r.child_6_10,
                r.child_11_17
            ]
            .map(|k| k.to_string()),
            [
                "7850.00", "13100.00", "6600.00", "3850.00", "3950.00", "5150.00"
            ]
        );
        // The latest rates stay in force until updated.
        assert_eq!(norms.for_month(month("2026-11")).unwrap().from, r2024.from);
        for period in norms.periods() {
            assert!(!period.source.is_empty());
            assert!(period.verify.as_deref().unwrap_or("").starts_with("VERIFY"));
        }
    }

    fn file(periods: &str) -> String {
        format!(r#"{{"periods": [{periods}]}}"#)
    }

    fn period(from: &str, single: &str) -> String {
        format!(
            r#"{{"from": "{from}", "source": "test", "rates": {{"single_adult": "{single}",
            "couple": "2", "sharing": "3", "child_0_5": "4", "child_6_10": "5", "child_11_17": "6"}}}}"#
        )
    }

    #[test]
    fn unsorted_and_duplicate_periods_are_refused_naming_the_entry() {
        let unsorted = file(&[period("2024-01-01", "1"), period("2023-07-01", "1")].join(","));
        let e = Norms::from_json(&unsorted).unwrap_err();
        assert_eq!(e.field, "periods[1].from");
        assert!(e.message.contains("sorted"), "{e}");

        let twice = file(&[period("2024-01-01", "1"), period("2024-01-01", "1")].join(","));
        let e = Norms::from_json(&twice).unwrap_err();
        assert_eq!(e.field, "periods[1].from");
        assert!(e.message.contains("two periods"), "{e}");
    }

    #[test]
    fn malformed_rates_and_dates_are_refused_naming_the_entry() {
        let cases = [
            (period("2024-13-01", "1"), "periods[0].from"),
            (
                period("2024-01-01", "7850.001"),
                "periods[0].rates.single_adult",
            ),
            (period("2024-01-01", "-1"), "periods[0].rates.single_adult"),
            (period("2024-01-01", "0"), "periods[0].rates.single_adult"),
        ];
        for (entry, field) in cases {
            let e = Norms::from_json(&file(&entry)).unwrap_err();
            assert_eq!(e.field, field, "{e}");
        }
        let e = Norms::from_json(r#"{"periods": []}"#).unwrap_err();
        assert_eq!(e.field, "periods");
        let e = Norms::from_json(r#"{"periods": [{"from": "2024-01-01"}]}"#).unwrap_err();
        assert!(
            e.message.contains("source") || e.message.contains("rates"),
            "{e}"
        );
        let e =
            Norms::from_json(&file(&period("2024-01-01", "1")).replace("\"couple\"", "\"pair\""))
                .unwrap_err();
        assert!(e.field.starts_with("periods[0].rates"), "{e}");
    }
}
