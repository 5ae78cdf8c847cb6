//! The household register's record: who lives with the participant, what
//! the home costs and what other income comes in. Built from a caseworker's
//! input only through [`HouseholdInput::validate`], which names every field
//! at fault at once.

use serde::{Deserialize, Serialize};
use time::Date;
use time::format_description::well_known::Iso8601;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::FieldViolation;
use crate::income::{IncomeEntry, IncomeKinds};
use crate::money::Kroner;
use crate::month::Month;

/// The most children one household may list: a bound against runaway input,
/// far above any real household.
pub const MAX_CHILDREN: usize = 30;

/// The most incomes a household lists.
pub const MAX_INCOME_ENTRIES: usize = 50;

/// The adults of a household, as the state guideline rates distinguish them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Adults {
    /// One adult living alone (enslig).
    Single,
    /// Two adults living as a couple (ektefeller / samboere); one rate for both.
    Couple,
    /// A person sharing a home with other adults (bofellesskap), not as a couple.
    Sharing,
}

impl Adults {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Single => "SINGLE",
            Self::Couple => "COUPLE",
            Self::Sharing => "SHARING",
        }
    }

    /// The name back to the value.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "SINGLE" => Some(Self::Single),
            "COUPLE" => Some(Self::Couple),
            "SHARING" => Some(Self::Sharing),
            _ => None,
        }
    }
}

/// A child living in the household.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Child {
    /// Date of birth; the age band is the child's age on the first day of a month.
    pub birth_date: Date,
    /// Still in upper secondary school: counted at 18 and over too, as the
    /// norm table's rule for young people says.
    pub in_upper_secondary_school: bool,
}

/// A participant's registered household.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Household {
    /// The payroll service's participant id (the register's key).
    pub participant_id: Uuid,
    /// The adults.
    pub adults: Adults,
    /// The children, in the order registered.
    pub children: Vec<Child>,
    /// Monthly housing cost including electricity, kroner.
    pub housing_cost: Kroner,
    /// Other monthly income besides the stipend, net, kroner: income of no
    /// kind given, counted every month.
    pub other_income: Kroner,
    /// Income by kind, net: each counted or not as its kind says.
    pub income: Vec<IncomeEntry>,
}

/// A caseworker's input for a household, as received: every value still
/// text, so that all faults can be named together.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HouseholdInput {
    /// `SINGLE`, `COUPLE` or `SHARING` (a person sharing a home).
    #[schema(example = "SINGLE")]
    pub adults: String,
    /// The children living in the household (may be empty).
    #[serde(default)]
    pub children: Vec<ChildInput>,
    /// Monthly housing cost including electricity, kroner as a decimal string.
    #[schema(example = "9000.00")]
    pub housing_cost: String,
    /// Other monthly income of no kind listed, net (after tax), kroner as a
    /// decimal string (`"0.00"` if none); counted every month.
    #[schema(example = "500.00")]
    pub other_income: String,
    /// Income by kind, each net (after tax) per month: counted against the
    /// need or not, as its kind says (child benefit, for one, is not).
    #[serde(default)]
    pub income: Vec<IncomeInput>,
}

/// An income of the household, as received.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IncomeInput {
    /// The kind: `WAGE`, `HOUSING_BENEFIT`, `CHILD_SUPPORT`, `CHILD_BENEFIT`
    /// or `OTHER`.
    #[schema(example = "HOUSING_BENEFIT")]
    pub kind: String,
    /// Net (after tax), kroner per month as a decimal string.
    #[schema(example = "1800.00")]
    pub net_amount: String,
    /// `YYYY-MM` when it is received in that month only; absent: every month.
    #[serde(default)]
    #[schema(example = "2024-03")]
    pub month: Option<String>,
}

/// A child as received.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChildInput {
    /// Date of birth, `YYYY-MM-DD`.
    #[schema(example = "2020-01-15")]
    pub birth_date: String,
    /// True for a member of 18 or over still in upper secondary school, who
    /// the household still supports (counted as the norm table's rule says);
    /// absent: false.
    #[serde(default)]
    pub in_upper_secondary_school: bool,
}

impl HouseholdInput {
    /// The household this input describes, or every field violation found.
    pub fn validate(
        &self,
        participant_id: Uuid,
        kinds: &IncomeKinds,
    ) -> Result<Household, Vec<FieldViolation>> {
        let mut violations = Vec::new();

        let adults = Adults::parse(&self.adults);
        if adults.is_none() {
            violations.push(FieldViolation::new(
                "adults",
                "must be one of SINGLE, COUPLE or SHARING",
            ));
        }

        if self.children.len() > MAX_CHILDREN {
            violations.push(FieldViolation::new(
                "children",
                format!("lists more than {MAX_CHILDREN} children"),
            ));
        }
        let mut children = Vec::with_capacity(self.children.len());
        for (i, child) in self.children.iter().enumerate() {
            match parse_date(&child.birth_date) {
                Some(birth_date) => children.push(Child {
                    birth_date,
                    in_upper_secondary_school: child.in_upper_secondary_school,
                }),
                None => violations.push(FieldViolation::new(
                    format!("children[{i}].birth_date"),
                    "is not a date \"YYYY-MM-DD\"",
                )),
            }
        }

        let mut amount = |field: &str, text: &str| match Kroner::parse_non_negative(text) {
            Ok(amount) => Some(amount),
            Err(e) => {
                violations.push(FieldViolation::new(field, e.to_string()));
                None
            }
        };
        let housing_cost = amount("housing_cost", &self.housing_cost);
        let other_income = amount("other_income", &self.other_income);
        let mut income = Vec::with_capacity(self.income.len());
        for (i, entry) in self.income.iter().enumerate() {
            let net_amount = match Kroner::parse_non_negative(&entry.net_amount) {
                Ok(amount) => Some(amount),
                Err(e) => {
                    violations.push(FieldViolation::new(
                        format!("income[{i}].net_amount"),
                        e.to_string(),
                    ));
                    None
                }
            };
            if kinds.get(&entry.kind).is_none() {
                violations.push(FieldViolation::new(
                    format!("income[{i}].kind"),
                    format!("must be one of {}", kinds.codes().join(", ")),
                ));
            }
            let month = match &entry.month {
                None => Some(None),
                Some(text) => match text.parse::<Month>() {
                    Ok(month) => Some(Some(month)),
                    Err(_) => {
                        violations.push(FieldViolation::new(
                            format!("income[{i}].month"),
                            "is not a month \"YYYY-MM\"",
                        ));
                        None
                    }
                },
            };
            if let (Some(net_amount), Some(month)) = (net_amount, month) {
                income.push(IncomeEntry {
                    kind: entry.kind.clone(),
                    net_amount,
                    month,
                });
            }
        }
        if self.income.len() > MAX_INCOME_ENTRIES {
            violations.push(FieldViolation::new(
                "income",
                format!("lists more than {MAX_INCOME_ENTRIES} incomes"),
            ));
        }

        match (adults, housing_cost, other_income) {
            (Some(adults), Some(housing_cost), Some(other_income)) if violations.is_empty() => {
                Ok(Household {
                    participant_id,
                    adults,
                    children,
                    housing_cost,
                    other_income,
                    income,
                })
            }
            _ => Err(violations),
        }
    }
}

/// A calendar date `YYYY-MM-DD` (exactly that shape: no time, no week date).
pub fn parse_date(text: &str) -> Option<Date> {
    let bytes = text.as_bytes();
    let shaped = bytes.len() == 10
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes
            .iter()
            .enumerate()
            .all(|(i, b)| i == 4 || i == 7 || b.is_ascii_digit());
    if !shaped {
        return None;
    }
    Date::parse(text, &Iso8601::DATE).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn input() -> HouseholdInput {
        HouseholdInput {
            adults: "COUPLE".into(),
            children: vec![ChildInput {
                birth_date: "2019-03-01".into(),
                in_upper_secondary_school: false,
            }],
            housing_cost: "9000".into(),
            other_income: "0".into(),
            income: Vec::new(),
        }
    }

    fn kinds() -> &'static IncomeKinds {
        IncomeKinds::shipped()
    }

    #[test]
    fn a_valid_input_becomes_a_household() {
        let id = Uuid::nil();
        let household = input().validate(id, kinds()).unwrap();
        assert_eq!(household.adults, Adults::Couple);
        assert_eq!(household.children[0].birth_date, date!(2019 - 03 - 01));
        assert_eq!(household.housing_cost.to_string(), "9000.00");
    }

    #[test]
    fn every_fault_is_named_at_once() {
        let mut bad = input();
        bad.adults = "TRIPLE".into();
        bad.children.push(ChildInput {
            birth_date: "2019-02-30".into(),
            in_upper_secondary_school: false,
        });
        bad.housing_cost = "-1".into();
        bad.other_income = "12.345".into();
        bad.income = vec![
            IncomeInput {
                kind: "LOTTERY".into(),
                net_amount: "100.00".into(),
                month: None,
            },
            IncomeInput {
                kind: "WAGE".into(),
                net_amount: "-5".into(),
                month: Some("2024-13".into()),
            },
        ];
        let fields: Vec<String> = bad
            .validate(Uuid::nil(), kinds())
            .unwrap_err()
            .into_iter()
            .map(|v| v.field)
            .collect();
        assert_eq!(
            fields,
            [
                "adults",
                "children[1].birth_date",
                "housing_cost",
                "other_income",
                "income[0].kind",
                "income[1].net_amount",
                "income[1].month"
            ]
        );
    }

    #[test]
    fn dates_must_have_the_plain_shape() {
        assert_eq!(parse_date("2024-02-29"), Some(date!(2024 - 02 - 29)));
        for text in [
            "2023-02-29",
            "2024-2-01",
            "20240201",
            "2024-W05-1",
            "2024-02-01T00:00",
        ] {
            assert_eq!(parse_date(text), None, "{text}");
        }
    }
}
