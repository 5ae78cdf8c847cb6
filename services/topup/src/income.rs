//! Household income by kind: which kinds count against the need under
//! sosialtjenesteloven § 18, as data (`parameters/income_kinds.json`, each
//! kind with its source and what to verify), and the typed entries a
//! caseworker registers (kind, net amount per month, and the month, if the
//! income is not monthly).

use std::sync::LazyLock;

use serde::{Deserialize, Serialize};
use time::Date;

use crate::household::parse_date;
use crate::money::Kroner;
use crate::month::Month;

/// One kind of income.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomeKind {
    /// Its code, e.g. `HOUSING_BENEFIT`.
    pub kind: String,
    /// Its name in the explanation.
    pub name: String,
    /// From this date on it is not counted (`None`: always counted).
    pub not_counted_from: Option<Date>,
    /// Where the rule comes from.
    pub source: String,
}

impl IncomeKind {
    /// Whether it counts against the need in `month` (by the month's first day).
    pub fn counts_in(&self, month: Month) -> bool {
        self.not_counted_from
            .is_none_or(|from| month.first_day() < from)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSpec {
    #[allow(dead_code, reason = "documentation in the data file")]
    description: String,
    #[allow(dead_code, reason = "documentation in the data file")]
    verify: String,
    kinds: Vec<KindSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KindSpec {
    kind: String,
    name: String,
    #[serde(default)]
    not_counted_from: Option<String>,
    source: String,
    #[allow(dead_code, reason = "documentation in the data file")]
    verify: String,
}

/// The kinds of income known, from the shipped data file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomeKinds {
    kinds: Vec<IncomeKind>,
}

static SHIPPED: LazyLock<Result<IncomeKinds, String>> =
    LazyLock::new(|| IncomeKinds::from_json(include_str!("../parameters/income_kinds.json")));

impl IncomeKinds {
    /// The shipped kinds. The file is compiled in and the application
    /// refuses to start unless it loads ([`IncomeKinds::check_shipped`]); were
    /// it not to, no kind is known (registering a typed income is refused,
    /// and every income counts, as all income does unless excepted).
    pub fn shipped() -> &'static Self {
        static NONE: IncomeKinds = IncomeKinds { kinds: Vec::new() };
        SHIPPED.as_ref().unwrap_or(&NONE)
    }

    /// Whether the shipped file loads, for start-up.
    pub fn check_shipped() -> Result<(), String> {
        SHIPPED.as_ref().map(|_| ()).map_err(Clone::clone)
    }

    /// Reads and checks a kinds file: codes unique and `A_Z` shaped, dates
    /// `YYYY-MM-DD`.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let spec: FileSpec =
            serde_json::from_str(text).map_err(|e| format!("income kinds: {e}"))?;
        let mut kinds: Vec<IncomeKind> = Vec::with_capacity(spec.kinds.len());
        for (i, k) in spec.kinds.into_iter().enumerate() {
            let shaped =
                !k.kind.is_empty() && k.kind.bytes().all(|b| b.is_ascii_uppercase() || b == b'_');
            if !shaped || kinds.iter().any(|known| known.kind == k.kind) {
                return Err(format!(
                    "income kinds: kinds[{i}].kind must be a new code of A-Z and _"
                ));
            }
            let not_counted_from = match k.not_counted_from {
                Some(text) => Some(parse_date(&text).ok_or_else(|| {
                    format!("income kinds: kinds[{i}].not_counted_from is not a date")
                })?),
                None => None,
            };
            kinds.push(IncomeKind {
                kind: k.kind,
                name: k.name,
                not_counted_from,
                source: k.source,
            });
        }
        Ok(Self { kinds })
    }

    /// The kind of a code.
    pub fn get(&self, kind: &str) -> Option<&IncomeKind> {
        self.kinds.iter().find(|k| k.kind == kind)
    }

    /// Every code, in the file's order.
    pub fn codes(&self) -> Vec<&str> {
        self.kinds.iter().map(|k| k.kind.as_str()).collect()
    }
}

/// A household income registered: a net amount of a kind, every month or in
/// one month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncomeEntry {
    /// The kind's code.
    pub kind: String,
    /// Net (after tax), kroner per month.
    pub net_amount: Kroner,
    /// The one month it is received in; `None`: every month.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub month: Option<Month>,
}

impl IncomeEntry {
    /// Whether it is received in `month`.
    pub fn received_in(&self, month: Month) -> bool {
        self.month.is_none_or(|m| m == month)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_kinds_load_and_child_benefit_stopped_counting_in_september_2022() {
        IncomeKinds::check_shipped().unwrap();
        let kinds = IncomeKinds::shipped();
        assert_eq!(
            kinds.codes(),
            [
                "WAGE",
                "HOUSING_BENEFIT",
                "CHILD_SUPPORT",
                "CHILD_BENEFIT",
                "OTHER"
            ]
        );
        let child_benefit = kinds.get("CHILD_BENEFIT").unwrap();
        assert!(child_benefit.counts_in("2022-08".parse().unwrap()));
        assert!(!child_benefit.counts_in("2022-09".parse().unwrap()));
        assert!(
            kinds
                .get("HOUSING_BENEFIT")
                .unwrap()
                .counts_in("2026-01".parse().unwrap())
        );
    }

    #[test]
    fn a_malformed_kinds_file_is_refused_naming_the_entry() {
        let twice = r#"{"description": "", "verify": "", "kinds": [
            {"kind": "WAGE", "name": "a", "source": "s", "verify": "v"},
            {"kind": "WAGE", "name": "b", "source": "s", "verify": "v"}]}"#;
        assert_eq!(
            IncomeKinds::from_json(twice).unwrap_err(),
            "income kinds: kinds[1].kind must be a new code of A-Z and _"
        );
        let bad_date = r#"{"description": "", "verify": "", "kinds": [
            {"kind": "WAGE", "name": "a", "not_counted_from": "2022-9-1", "source": "s", "verify": "v"}]}"#;
        assert!(
            IncomeKinds::from_json(bad_date)
                .unwrap_err()
                .contains("kinds[0].not_counted_from")
        );
    }
}
