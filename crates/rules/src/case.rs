//! Case files: one participant-month with all its facts, in the JSON shape of the
//! golden vectors (`input` of a vector file, or the bare input object).
//!
//! Errors name the field at fault (`input.days[2].hours`) and what is wrong with it.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::Deserialize;
use time::Date;

use crate::bounds;

use crate::facts::{
    Child, DateRange, DayEntry, MonthFacts, Offset, Participant, Programme, YearMonth,
};
use crate::parameters::{ParameterOverlay, Parameters};
use crate::policy::{Policy, PolicyOverrides};

/// A parsed case: the facts of one month with the parameters and policy it assumes.
#[derive(Debug, Clone)]
pub struct Case {
    /// The case's name, when the file is a vector file.
    pub name: Option<String>,
    /// The facts.
    pub facts: MonthFacts,
    /// The defaults overlaid with the case's parameters.
    pub parameters: Parameters,
    /// The defaults overlaid with the case's policy.
    pub policy: Policy,
    /// The `expected` block of a vector file, kept for comparison.
    pub expected: Option<serde_json::Value>,
}

/// Why a case file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct CaseError {
    /// The field at fault, as a path (`input.days[2].hours`); empty for the whole file.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VectorFile {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    #[allow(dead_code, reason = "documents the vector; not used to compute")]
    rules: Vec<String>,
    input: CaseInput,
    #[serde(default)]
    expected: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseInput {
    month: YearMonth,
    #[serde(default)]
    parameters: Option<ParameterOverlay>,
    participant: CaseParticipant,
    /// One programme period (R3), or …
    #[serde(default)]
    programme: Option<Programme>,
    /// … several, never overlapping.
    #[serde(default)]
    programmes: Option<Vec<Programme>>,
    #[serde(default)]
    covered: Vec<DateRange>,
    #[serde(default)]
    days: Vec<DayEntry>,
    #[serde(default)]
    policy: Option<PolicyOverrides>,
    #[serde(default)]
    offsets: Vec<Offset>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseParticipant {
    birth_date: Date,
    #[serde(default)]
    children: Vec<Child>,
    #[serde(default)]
    sole_carer: bool,
}

impl Case {
    /// Parses a case file over the given default parameters and policy.
    pub fn from_json(
        text: &str,
        default_parameters: &Parameters,
        default_policy: &Policy,
    ) -> Result<Case, CaseError> {
        let is_vector_file = serde_json::from_str::<serde_json::Value>(text)
            .map_err(|e| CaseError {
                field: String::new(),
                message: format!("not valid JSON: {e}"),
            })?
            .get("input")
            .is_some();
        let (name, input, expected, prefix) = if is_vector_file {
            let file: VectorFile = parse(text)?;
            (file.name, file.input, file.expected, "input.")
        } else {
            (None, parse::<CaseInput>(text)?, None, "")
        };

        let parameters = match input.parameters {
            Some(overlay) => default_parameters
                .overlaid(overlay)
                .map_err(|e| CaseError {
                    field: format!("{prefix}parameters.{}", e.field)
                        .trim_end_matches('.')
                        .to_owned(),
                    message: e.message,
                })?,
            None => default_parameters.clone(),
        };
        let policy = match &input.policy {
            Some(overrides) => {
                if let Some((field, message)) = overrides.out_of_range().into_iter().next() {
                    return Err(CaseError {
                        field: format!("{prefix}policy.{field}"),
                        message: message.to_owned(),
                    });
                }
                default_policy.with_overrides(overrides)
            }
            None => default_policy.clone(),
        };
        let sole_carer = if input.participant.sole_carer {
            vec![DateRange {
                from: Date::MIN,
                to: None,
            }]
        } else {
            Vec::new()
        };
        let programmes = match (input.programme, input.programmes) {
            (Some(programme), None) => vec![programme],
            (None, Some(programmes)) => programmes,
            (Some(_), Some(_)) => {
                return Err(CaseError {
                    field: format!("{prefix}programmes"),
                    message: "give `programmes` or `programme`, not both".into(),
                });
            }
            (None, None) => {
                return Err(CaseError {
                    field: format!("{prefix}programmes"),
                    message: "is required: the programme periods (or one `programme`)".into(),
                });
            }
        };
        let facts = MonthFacts {
            month: input.month,
            participant: Participant {
                birth_date: input.participant.birth_date,
                children: input.participant.children,
                sole_carer,
            },
            programmes,
            covered: input.covered,
            days: input.days,
            offsets: input.offsets,
        };
        if let Some((field, message)) =
            crate::month::out_of_bounds(&facts).or_else(|| day_total_beyond_bound(&facts.days))
        {
            return Err(CaseError {
                field: format!("{prefix}{field}"),
                message,
            });
        }
        Ok(Case {
            name,
            facts,
            parameters,
            policy,
            expected,
        })
    }
}

/// The first entry whose day's entries add up to more than
/// [`bounds::ENTRY_HOURS_MAX`] hours, as a timesheet's entries may not.
fn day_total_beyond_bound(days: &[DayEntry]) -> Option<(String, String)> {
    let mut per_day: BTreeMap<Date, Decimal> = BTreeMap::new();
    for (i, entry) in days.iter().enumerate() {
        let total = per_day.entry(entry.date).or_default();
        // Each entry is within 0–24 here, so no sum of them overflows.
        *total = total.saturating_add(entry.hours);
        if *total > bounds::ENTRY_HOURS_MAX {
            return Some((
                format!("days[{i}].hours"),
                format!(
                    "the day's entries add up to more than {} hours",
                    bounds::ENTRY_HOURS_MAX
                ),
            ));
        }
    }
    None
}

fn parse<'a, T: Deserialize<'a>>(text: &'a str) -> Result<T, CaseError> {
    let mut de = serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(crate::json::Strict(&mut de)).map_err(|e| {
        let path = e.path().to_string();
        CaseError {
            field: if path == "." { String::new() } else { path },
            message: e.inner().to_string(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::month::{RulesError, compute_month};
    use rust_decimal::Decimal;

    fn defaults() -> (Parameters, Policy) {
        (Parameters::shipped().unwrap(), Policy::shipped().unwrap())
    }

    const MINIMAL: &str = r#"{
        "month": "2025-03",
        "participant": {"birth_date": "1990-01-15"},
        "programme": {"start": "2024-09-02"},
        "covered": [{"from": "2025-03-01", "to": "2025-03-31"}],
        "days": [{"date": "2025-03-03", "kind": "SICK_SELF", "hours": 7.5}]
    }"#;

    #[test]
    fn a_bare_case_uses_the_defaults() {
        let (p, policy) = defaults();
        let case = Case::from_json(MINIMAL, &p, &policy).unwrap();
        assert_eq!(case.facts.month.to_string(), "2025-03");
        assert_eq!(case.parameters, p);
        assert_eq!(case.facts.days[0].hours, rust_decimal::Decimal::new(75, 1));
    }

    #[test]
    fn errors_name_the_field() {
        let (p, policy) = defaults();
        let bad_kind = MINIMAL.replace("SICK_SELF", "SICK_ISH");
        let err = Case::from_json(&bad_kind, &p, &policy).unwrap_err();
        assert_eq!(err.field, "days[0].kind");
        assert!(err.message.contains("SICK_ISH"), "{err}");

        let bad_hours = MINIMAL.replace("7.5", "25");
        let err = Case::from_json(&bad_hours, &p, &policy).unwrap_err();
        assert_eq!(err.to_string(), "days[0].hours: 25 is outside 0–24");

        let bad_date = MINIMAL.replace("1990-01-15", "1990-02-30");
        let err = Case::from_json(&bad_date, &p, &policy).unwrap_err();
        assert_eq!(err.field, "participant.birth_date");

        let bad_month = MINIMAL.replace("2025-03\"", "2025-3\"");
        let err = Case::from_json(&bad_month, &p, &policy).unwrap_err();
        assert_eq!(err.field, "month");

        let bad_policy = MINIMAL.replace(
            "\"month\": \"2025-03\",",
            "\"month\": \"2025-03\", \"policy\": {\"leave_days_per_year\": 400},",
        );
        let err = Case::from_json(&bad_policy, &p, &policy).unwrap_err();
        assert_eq!(
            err.to_string(),
            "policy.leave_days_per_year: must be between 0 and 366 days"
        );

        let err = Case::from_json("{\"month\": ", &p, &policy).unwrap_err();
        assert!(err.message.starts_with("not valid JSON"), "{err}");
    }

    #[test]
    fn several_programme_periods_are_given_as_a_list_that_never_overlaps() {
        let (p, policy) = defaults();
        let two = MINIMAL.replace(
            "\"programme\": {\"start\": \"2024-09-02\"}",
            "\"programmes\": [{\"start\": \"2024-09-02\", \"end\": \"2025-03-07\"},              {\"start\": \"2025-03-17\"}]",
        );
        let case = Case::from_json(&two, &p, &policy).unwrap();
        let starts: Vec<String> = case
            .facts
            .programmes
            .iter()
            .map(|q| q.start.to_string())
            .collect();
        assert_eq!(starts, ["2024-09-02", "2025-03-17"]);

        let overlapping = two.replace("2025-03-17", "2025-03-07");
        let err = Case::from_json(&overlapping, &p, &policy).unwrap_err();
        assert_eq!(err.field, "programmes[1].start");
        assert!(err.message.contains("overlaps programmes[0]"), "{err}");

        let both = two.replace(
            "\"covered\"",
            "\"programme\": {\"start\": \"2024-09-02\"}, \"covered\"",
        );
        let err = Case::from_json(&both, &p, &policy).unwrap_err();
        assert_eq!(err.field, "programmes");
        let neither = MINIMAL.replace("\"programme\": {\"start\": \"2024-09-02\"},", "");
        let err = Case::from_json(&neither, &p, &policy).unwrap_err();
        assert_eq!(
            err.to_string(),
            "programmes: is required: the programme periods (or one `programme`)"
        );
    }

    #[test]
    fn an_unknown_offset_kind_is_invalid_input() {
        let (p, policy) = defaults();
        let text = MINIMAL.replace(
            "\"days\"",
            "\"offsets\": [{\"kind\": \"BOSTOTTE\", \"amount\": \"100\"}], \"days\"",
        );
        let err = Case::from_json(&text, &p, &policy).unwrap_err();
        assert_eq!(err.field, "offsets[0].kind");
    }

    #[test]
    fn benefits_beyond_sense_are_refused_instead_of_overflowing_the_month() {
        let (p, policy) = defaults();
        let offsets = |amount: &str| {
            MINIMAL.replace(
                "\"days\"",
                &format!(
                    "\"offsets\": [{{\"kind\": \"OTHER_LIVELIHOOD\", \"amount\": \"{amount}\"}}, \
                     {{\"kind\": \"OTHER_LIVELIHOOD\", \"amount\": \"{amount}\"}}], \"days\""
                ),
            )
        };
        let huge = Case::from_json(&offsets("79228162514264337593543950335"), &p, &policy)
            .map(|case| compute_month(&case.facts, &case.parameters, &case.policy));
        match huge {
            Err(err) => assert_eq!(err.field, "offsets[0].amount"),
            Ok(Err(RulesError::InvalidInput { field, message })) => {
                assert_eq!(field, "offsets[0].amount");
                assert!(
                    message.contains("largest monthly benefit of sense"),
                    "{message}"
                );
            }
            Ok(other) => panic!("a benefit beyond sense was computed: {other:?}"),
        }
        let case = Case::from_json(&offsets("10000000"), &p, &policy).unwrap();
        let month = compute_month(&case.facts, &case.parameters, &case.policy).unwrap();
        assert_eq!(
            month.total,
            Decimal::ZERO,
            "the benefits take the whole month"
        );
    }

    #[test]
    fn a_benefit_beyond_its_bound_is_refused_when_the_case_is_read() {
        let (p, policy) = defaults();
        let text = MINIMAL.replace(
            "\"days\"",
            "\"offsets\": [{\"kind\": \"DAGPENGER\", \"amount\": \"100\"}, \
             {\"kind\": \"SYKEPENGER\", \"amount\": \"10000000.01\"}], \"days\"",
        );
        let err = Case::from_json(&text, &p, &policy).unwrap_err();
        assert_eq!(
            err.to_string(),
            "offsets[1].amount: 10000000.01 is above 10000000 kr, \
             the largest monthly benefit of sense"
        );
    }

    #[test]
    fn a_day_of_entries_beyond_24_hours_is_refused_at_the_entry_that_passes_it() {
        let (p, policy) = defaults();
        let text = MINIMAL.replace(
            "{\"date\": \"2025-03-03\", \"kind\": \"SICK_SELF\", \"hours\": 7.5}",
            "{\"date\": \"2025-03-03\", \"kind\": \"PAID_WORK\", \"hours\": 20}, \
             {\"date\": \"2025-03-04\", \"kind\": \"PAID_WORK\", \"hours\": 20}, \
             {\"date\": \"2025-03-03\", \"kind\": \"UNEXCUSED\", \"hours\": 4.25}",
        );
        let err = Case::from_json(&text, &p, &policy).unwrap_err();
        assert_eq!(
            err.to_string(),
            "days[2].hours: the day's entries add up to more than 24 hours"
        );
        let at_bound = text.replace("4.25", "4");
        assert!(Case::from_json(&at_bound, &p, &policy).is_ok());
    }

    #[test]
    fn vector_files_report_paths_under_input() {
        let (p, policy) = defaults();
        let text = format!(
            "{{\"name\": \"x\", \"input\": {}}}",
            MINIMAL.replace("\"hours\": 7.5", "\"hours\": \"lots\"")
        );
        let err = Case::from_json(&text, &p, &policy).unwrap_err();
        assert_eq!(err.field, "input.days[0].hours");
        let text = format!(
            "{{\"input\": {}}}",
            MINIMAL.replace(
                "\"days\"",
                "\"parameters\": {\"g\": {\"2020-05-01\": 1, \"2019-05-01\": 2}}, \"days\""
            )
        );
        let err = Case::from_json(&text, &p, &policy).unwrap_err();
        assert_eq!(err.field, "input.parameters.g.2019-05-01");
    }
}
