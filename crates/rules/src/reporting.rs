//! How the stipend is reported in the a-melding (RULES.md, Tax and reporting):
//! the income coding the municipality files for every line a run pays.
//!
//! The codes are Skatteetaten's, kept in the dated file
//! `parameters/a-melding.json` like the parameters, each value marked to be
//! verified against the current code list before production use. A run
//! freezes the coding in force on the first day of the month it closes into
//! its lines, so a closed run reports the same whatever the file says later.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::Date;

/// The a-melding code file shipped with the crate.
pub const SHIPPED_INCOME_CODES: &str = include_str!("../parameters/a-melding.json");

/// How one line of stipend is coded in the a-melding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncomeCoding {
    /// The income type (`pensjonEllerTrygd`).
    pub income_type: String,
    /// The income description (`beskrivelse`: `kvalifiseringstoenad`).
    pub description: String,
    /// The kind of benefit (`fordel`: `kontantytelse`).
    pub benefit_kind: String,
    /// Whether the line is part of the basis for tax withholding
    /// (`inngaarIGrunnlagForTrekk`).
    pub withholding_basis: bool,
}

/// The dated income codings of the code file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomeCodes {
    by_date: BTreeMap<Date, IncomeCoding>,
}

/// Why the code file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a-melding codes: {0}")]
pub struct IncomeCodesError(String);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CodeFile {
    #[serde(rename = "source")]
    _source: String,
    #[serde(rename = "verify")]
    _verify: String,
    #[serde(rename = "checked_on")]
    _checked_on: String,
    values: BTreeMap<String, IncomeCoding>,
}

impl IncomeCodes {
    /// The codes shipped with the crate.
    pub fn shipped() -> Result<Self, IncomeCodesError> {
        Self::from_json(SHIPPED_INCOME_CODES)
    }

    /// Parses a code file: dated entries (`YYYY-MM-DD`), every text filled in.
    pub fn from_json(text: &str) -> Result<Self, IncomeCodesError> {
        let file: CodeFile =
            serde_json::from_str(text).map_err(|e| IncomeCodesError(e.to_string()))?;
        let format = time::macros::format_description!("[year]-[month]-[day]");
        let mut by_date = BTreeMap::new();
        for (date, coding) in file.values {
            let day = Date::parse(&date, format)
                .map_err(|_| IncomeCodesError(format!("`{date}` is not a date (YYYY-MM-DD)")))?;
            for (field, text) in [
                ("income_type", &coding.income_type),
                ("description", &coding.description),
                ("benefit_kind", &coding.benefit_kind),
            ] {
                if text.trim().is_empty() {
                    return Err(IncomeCodesError(format!("{date}.{field} is empty")));
                }
            }
            by_date.insert(day, coding);
        }
        if by_date.is_empty() {
            return Err(IncomeCodesError("no dated entry".to_owned()));
        }
        Ok(Self { by_date })
    }

    /// The coding in force on `day`: the latest entry dated on or before it.
    pub fn at(&self, day: Date) -> Option<&IncomeCoding> {
        self.by_date.range(..=day).next_back().map(|(_, c)| c)
    }
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;

    #[test]
    fn the_shipped_file_codes_the_stipend_as_rules_md_says() {
        let codes = IncomeCodes::shipped().unwrap();
        let coding = codes.at(date!(2025 - 03 - 01)).unwrap();
        assert_eq!(coding.income_type, "pensjonEllerTrygd");
        assert_eq!(coding.description, "kvalifiseringstoenad");
        assert_eq!(coding.benefit_kind, "kontantytelse");
        assert!(coding.withholding_basis);
    }

    #[test]
    fn a_later_entry_takes_over_from_its_date_and_nothing_is_in_force_before_the_first() {
        let entry = |description: &str| {
            serde_json::json!({
                "income_type": "pensjonEllerTrygd",
                "description": description,
                "benefit_kind": "kontantytelse",
                "withholding_basis": true,
            })
        };
        let file = serde_json::json!({
            "source": "test", "verify": "test", "checked_on": "2026-12-07",
            "values": {"2020-01-01": entry("old"), "2027-01-01": entry("new")},
        });
        let codes = IncomeCodes::from_json(&file.to_string()).unwrap();
        assert_eq!(codes.at(date!(2019 - 12 - 31)), None);
        assert_eq!(codes.at(date!(2026 - 12 - 31)).unwrap().description, "old");
        assert_eq!(codes.at(date!(2027 - 01 - 01)).unwrap().description, "new");

        let mut blank = file.clone();
        blank["values"]["2020-01-01"]["benefit_kind"] = serde_json::json!(" ");
        assert_eq!(
            IncomeCodes::from_json(&blank.to_string())
                .unwrap_err()
                .to_string(),
            "a-melding codes: 2020-01-01.benefit_kind is empty"
        );
    }
}
