//! Municipal policy values: the absence quotas and how unexcused hours are treated.
//!
//! The national defaults of RULES.md are shipped in `parameters/policy.json`; each
//! municipality (or a case file) overrides any subset with [`PolicyOverrides`].

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::bounds;

/// The policy file shipped with the crate.
pub const SHIPPED_POLICY: &str = include_str!("../parameters/policy.json");

/// The policy values the rules read (R5–R9).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Where the defaults come from.
    #[serde(default, skip_serializing)]
    pub source: Option<String>,
    /// R6: no self-certification in the first this many weeks of the programme.
    pub self_cert_min_weeks: u32,
    /// R6: at most this many self-certified dates per occurrence.
    pub self_cert_max_days: u32,
    /// R6: at most this many occurrences in the year before an occurrence.
    pub self_cert_max_occurrences: u32,
    /// R7: leave days per calendar year.
    #[serde(deserialize_with = "crate::decimal::exact")]
    pub leave_days_per_year: Decimal,
    /// R8: child's-sickness days per calendar year.
    #[serde(deserialize_with = "crate::decimal::exact")]
    pub child_sick_days_per_year: Decimal,
    /// R8: child's-sickness days per year with many young children.
    #[serde(deserialize_with = "crate::decimal::exact")]
    pub child_sick_days_many_children: Decimal,
    /// R8: "many" means more than this many children under the young-child age.
    pub child_sick_many_children_more_than: u32,
    /// R8: the age under which a child counts as young.
    pub child_sick_young_child_age: i32,
    /// R8: a sole carer's quota is multiplied by this.
    #[serde(deserialize_with = "crate::decimal::exact")]
    pub sole_carer_quota_multiplier: Decimal,
    /// R9: a run of more certified sick dates than this raises `LONG_SICKNESS`.
    pub long_sickness_days: u32,
    /// R5: deduct pending unexcused hours without waiting for a decision.
    pub auto_apply_unexcused: bool,
    /// A month's timesheets are due by this day of the following month
    /// (1–28): the caseworkers' worklist names those missing or late after
    /// it. Not a pay rule: withheld days stay withheld until a timesheet
    /// arrives (R12).
    pub timesheet_deadline_day: u32,
    /// A programme is approved this many months from its start; extension
    /// decisions approve more (worklists; not a pay rule).
    pub programme_approved_months: u32,
    /// Beyond this many years from its start, a programme needs an
    /// extension decided as an exception (worklists).
    pub programme_years_without_exception: u32,
    /// Beyond this many years from its start, a programme's days are on the
    /// worklist whatever was decided.
    pub programme_years_max: u32,
}

/// Why a policy file was refused; `field` names the value at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("policy.{field}: {message}")]
pub struct PolicyError {
    /// The policy value at fault, e.g. `leave_days_per_year`; empty for the
    /// whole file.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl Policy {
    /// The national defaults shipped with the crate.
    pub fn shipped() -> Result<Self, PolicyError> {
        Self::from_json(SHIPPED_POLICY)
    }

    /// Parses a complete policy file, refusing values beyond the bounds of
    /// sense ([`PolicyOverrides::out_of_range`]) by field.
    pub fn from_json(text: &str) -> Result<Self, PolicyError> {
        let mut de = serde_json::Deserializer::from_str(text);
        let policy: Self = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            PolicyError {
                field: if path == "." { String::new() } else { path },
                message: e.inner().to_string(),
            }
        })?;
        if let Some((field, message)) = policy.as_overrides().out_of_range().into_iter().next() {
            return Err(PolicyError {
                field: field.to_owned(),
                message: message.to_owned(),
            });
        }
        Ok(policy)
    }

    /// Every value of this policy as an override.
    fn as_overrides(&self) -> PolicyOverrides {
        PolicyOverrides {
            self_cert_min_weeks: Some(self.self_cert_min_weeks),
            self_cert_max_days: Some(self.self_cert_max_days),
            self_cert_max_occurrences: Some(self.self_cert_max_occurrences),
            leave_days_per_year: Some(self.leave_days_per_year),
            child_sick_days_per_year: Some(self.child_sick_days_per_year),
            child_sick_days_many_children: Some(self.child_sick_days_many_children),
            child_sick_many_children_more_than: Some(self.child_sick_many_children_more_than),
            child_sick_young_child_age: Some(self.child_sick_young_child_age),
            sole_carer_quota_multiplier: Some(self.sole_carer_quota_multiplier),
            long_sickness_days: Some(self.long_sickness_days),
            auto_apply_unexcused: Some(self.auto_apply_unexcused),
            timesheet_deadline_day: Some(self.timesheet_deadline_day),
            programme_approved_months: Some(self.programme_approved_months),
            programme_years_without_exception: Some(self.programme_years_without_exception),
            programme_years_max: Some(self.programme_years_max),
        }
    }

    /// This policy with the given overrides applied.
    pub fn with_overrides(&self, overrides: &PolicyOverrides) -> Self {
        let mut policy = self.clone();
        let o = overrides;
        macro_rules! apply {
            ($($field:ident),*) => {
                $(if let Some(value) = o.$field.clone() { policy.$field = value; })*
            };
        }
        apply!(
            self_cert_min_weeks,
            self_cert_max_days,
            self_cert_max_occurrences,
            leave_days_per_year,
            child_sick_days_per_year,
            child_sick_days_many_children,
            child_sick_many_children_more_than,
            child_sick_young_child_age,
            sole_carer_quota_multiplier,
            long_sickness_days,
            auto_apply_unexcused,
            timesheet_deadline_day,
            programme_approved_months,
            programme_years_without_exception,
            programme_years_max
        );
        policy
    }
}

/// A municipality's (or a case's) overrides of the policy defaults; absent fields
/// keep the default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyOverrides {
    /// See [`Policy::self_cert_min_weeks`].
    #[serde(
        default,
        deserialize_with = "crate::decimal::whole_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub self_cert_min_weeks: Option<u32>,
    /// See [`Policy::self_cert_max_days`].
    #[serde(
        default,
        deserialize_with = "crate::decimal::whole_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub self_cert_max_days: Option<u32>,
    /// See [`Policy::self_cert_max_occurrences`].
    #[serde(
        default,
        deserialize_with = "crate::decimal::whole_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub self_cert_max_occurrences: Option<u32>,
    /// See [`Policy::leave_days_per_year`].
    #[serde(
        default,
        deserialize_with = "crate::decimal::exact_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub leave_days_per_year: Option<Decimal>,
    /// See [`Policy::child_sick_days_per_year`].
    #[serde(
        default,
        deserialize_with = "crate::decimal::exact_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub child_sick_days_per_year: Option<Decimal>,
    /// See [`Policy::child_sick_days_many_children`].
    #[serde(
        default,
        deserialize_with = "crate::decimal::exact_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub child_sick_days_many_children: Option<Decimal>,
    /// See [`Policy::child_sick_many_children_more_than`].
    #[serde(
        default,
        deserialize_with = "crate::decimal::whole_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub child_sick_many_children_more_than: Option<u32>,
    /// See [`Policy::child_sick_young_child_age`].
    #[serde(
        default,
        deserialize_with = "crate::decimal::whole_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub child_sick_young_child_age: Option<i32>,
    /// See [`Policy::sole_carer_quota_multiplier`].
    #[serde(
        default,
        deserialize_with = "crate::decimal::exact_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub sole_carer_quota_multiplier: Option<Decimal>,
    /// See [`Policy::long_sickness_days`].
    #[serde(
        default,
        deserialize_with = "crate::decimal::whole_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub long_sickness_days: Option<u32>,
    /// See [`Policy::auto_apply_unexcused`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_apply_unexcused: Option<bool>,
    /// See [`Policy::timesheet_deadline_day`].
    #[serde(
        default,
        deserialize_with = "crate::decimal::whole_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub timesheet_deadline_day: Option<u32>,
    /// See [`Policy::programme_approved_months`].
    #[serde(
        default,
        deserialize_with = "crate::decimal::whole_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub programme_approved_months: Option<u32>,
    /// See [`Policy::programme_years_without_exception`].
    #[serde(
        default,
        deserialize_with = "crate::decimal::whole_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub programme_years_without_exception: Option<u32>,
    /// See [`Policy::programme_years_max`].
    #[serde(
        default,
        deserialize_with = "crate::decimal::whole_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub programme_years_max: Option<u32>,
}

impl PolicyOverrides {
    /// The overrides no policy can mean, as (field, what is wrong), in field
    /// order: day and week counts beyond a year, a child's age beyond
    /// childhood, a sole carer's multiplier that would shrink the quota.
    /// RULES.md gives the defaults, not bounds; these are the outer limits of
    /// sense ([`bounds`]), so that a typing error is refused rather than paid.
    /// The descriptions name the bound and never the value given.
    pub fn out_of_range(&self) -> Vec<(&'static str, &'static str)> {
        const _: () = assert!(
            bounds::SELF_CERT_MIN_WEEKS_MAX == 52
                && bounds::DAYS_PER_YEAR_MAX == 366
                && bounds::MANY_CHILDREN_MAX == 20
                && bounds::YOUNG_CHILD_AGE_MAX == 18
                && bounds::DEADLINE_DAY_MAX == 28
                && bounds::PROGRAMME_APPROVED_MONTHS_MAX == 60
                && bounds::PROGRAMME_YEARS_MAX == 10,
            "the descriptions below name these bounds"
        );
        let mut wrong = Vec::new();
        let mut count = |field, value: Option<u32>, max: u32, why| {
            if value.is_some_and(|v| v > max) {
                wrong.push((field, why));
            }
        };
        count(
            "self_cert_min_weeks",
            self.self_cert_min_weeks,
            bounds::SELF_CERT_MIN_WEEKS_MAX,
            "must be at most 52 weeks",
        );
        count(
            "self_cert_max_days",
            self.self_cert_max_days,
            bounds::DAYS_PER_YEAR_MAX,
            "must be at most 366 days",
        );
        count(
            "self_cert_max_occurrences",
            self.self_cert_max_occurrences,
            bounds::DAYS_PER_YEAR_MAX,
            "must be at most 366 occurrences",
        );
        let days = |value: Option<Decimal>| {
            value.is_some_and(|v| {
                v.is_sign_negative() || v > Decimal::from(bounds::DAYS_PER_YEAR_MAX)
            })
        };
        if days(self.leave_days_per_year) {
            wrong.push(("leave_days_per_year", "must be between 0 and 366 days"));
        }
        if days(self.child_sick_days_per_year) {
            wrong.push(("child_sick_days_per_year", "must be between 0 and 366 days"));
        }
        if days(self.child_sick_days_many_children) {
            wrong.push((
                "child_sick_days_many_children",
                "must be between 0 and 366 days",
            ));
        }
        if self
            .child_sick_many_children_more_than
            .is_some_and(|n| n > bounds::MANY_CHILDREN_MAX)
        {
            wrong.push((
                "child_sick_many_children_more_than",
                "must be at most 20 children",
            ));
        }
        if self
            .child_sick_young_child_age
            .is_some_and(|age| !(0..=bounds::YOUNG_CHILD_AGE_MAX).contains(&age))
        {
            wrong.push((
                "child_sick_young_child_age",
                "must be between 0 and 18 years",
            ));
        }
        if self
            .sole_carer_quota_multiplier
            .is_some_and(|m| m < Decimal::ONE || m > bounds::SOLE_CARER_QUOTA_MULTIPLIER_MAX)
        {
            wrong.push(("sole_carer_quota_multiplier", "must be between 1 and 10"));
        }
        if self
            .long_sickness_days
            .is_some_and(|d| d == 0 || d > bounds::DAYS_PER_YEAR_MAX)
        {
            wrong.push(("long_sickness_days", "must be between 1 and 366 days"));
        }
        if self
            .timesheet_deadline_day
            .is_some_and(|d| !(1..=bounds::DEADLINE_DAY_MAX).contains(&d))
        {
            wrong.push((
                "timesheet_deadline_day",
                "must be a day from 1 to 28 (every month has it)",
            ));
        }
        if self
            .programme_approved_months
            .is_some_and(|m| !(1..=bounds::PROGRAMME_APPROVED_MONTHS_MAX).contains(&m))
        {
            wrong.push((
                "programme_approved_months",
                "must be between 1 and 60 months",
            ));
        }
        for (field, years) in [
            (
                "programme_years_without_exception",
                self.programme_years_without_exception,
            ),
            ("programme_years_max", self.programme_years_max),
        ] {
            if years.is_some_and(|y| !(1..=bounds::PROGRAMME_YEARS_MAX).contains(&y)) {
                wrong.push((field, "must be between 1 and 10 years"));
            }
        }
        wrong
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_numbers_are_read_as_json_schema_reads_integers() {
        let read = |text: &str| serde_json::from_str::<PolicyOverrides>(text);
        let overrides =
            read(r#"{"self_cert_max_days": 10.0, "child_sick_young_child_age": 12}"#).unwrap();
        assert_eq!(overrides.self_cert_max_days, Some(10));
        assert_eq!(overrides.child_sick_young_child_age, Some(12));
        assert_eq!(
            read(r#"{"long_sickness_days": null}"#).unwrap(),
            PolicyOverrides::default()
        );
        for wrong in [
            r#"{"self_cert_max_days": 10.5}"#,
            r#"{"self_cert_max_days": "10"}"#,
            r#"{"self_cert_max_days": -1}"#,
            r#"{"self_cert_max_days": 1e40}"#,
        ] {
            assert!(read(wrong).is_err(), "{wrong}");
        }
    }

    #[test]
    fn the_shipped_defaults_are_those_of_rules_md() {
        let p = Policy::shipped().unwrap();
        assert_eq!(
            (
                p.self_cert_min_weeks,
                p.self_cert_max_days,
                p.self_cert_max_occurrences
            ),
            (8, 3, 4)
        );
        assert_eq!(p.leave_days_per_year, Decimal::from(25));
        assert_eq!(p.child_sick_days_per_year, Decimal::from(10));
        assert_eq!(p.child_sick_days_many_children, Decimal::from(15));
        assert_eq!(p.long_sickness_days, 20);
        assert!(!p.auto_apply_unexcused);
    }

    #[test]
    fn a_policy_file_beyond_sense_is_refused_naming_the_value() {
        let mut file: serde_json::Value = serde_json::from_str(SHIPPED_POLICY).unwrap();
        file["leave_days_per_year"] = serde_json::json!("367");
        let err = Policy::from_json(&file.to_string()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "policy.leave_days_per_year: must be between 0 and 366 days"
        );
        file["leave_days_per_year"] = serde_json::json!("25");
        file["long_sickness_days"] = serde_json::json!(4_294_967_296_u64);
        let err = Policy::from_json(&file.to_string()).unwrap_err();
        assert_eq!(err.field, "long_sickness_days");
        file["long_sickness_days"] = serde_json::json!(20);
        file["sole_carer_quota_multiplier"] = serde_json::json!("1e30");
        let err = Policy::from_json(&file.to_string()).unwrap_err();
        assert_eq!(err.field, "sole_carer_quota_multiplier");
        file["sole_carer_quota_multiplier"] = serde_json::json!("10");
        assert_eq!(
            Policy::from_json(&file.to_string())
                .unwrap()
                .sole_carer_quota_multiplier,
            Decimal::from(10)
        );
    }

    #[test]
    fn overrides_replace_only_what_they_name() {
        let base = Policy::shipped().unwrap();
        let o: PolicyOverrides =
            serde_json::from_str(r#"{"self_cert_max_days": 5, "leave_days_per_year": 20}"#)
                .unwrap();
        let p = base.with_overrides(&o);
        assert_eq!(p.self_cert_max_days, 5);
        assert_eq!(p.leave_days_per_year, Decimal::from(20));
        assert_eq!(p.self_cert_max_occurrences, base.self_cert_max_occurrences);
        assert!(serde_json::from_str::<PolicyOverrides>(r#"{"bogus": 1}"#).is_err());
    }

    #[test]
    fn overrides_beyond_sense_are_named_and_sane_ones_pass() {
        let o: PolicyOverrides = serde_json::from_str(
            r#"{"self_cert_min_weeks": 53, "leave_days_per_year": "-1",
                "child_sick_days_per_year": "366", "child_sick_young_child_age": 19,
                "sole_carer_quota_multiplier": "0.5", "long_sickness_days": 0}"#,
        )
        .unwrap();
        assert_eq!(
            o.out_of_range(),
            vec![
                ("self_cert_min_weeks", "must be at most 52 weeks"),
                ("leave_days_per_year", "must be between 0 and 366 days"),
                (
                    "child_sick_young_child_age",
                    "must be between 0 and 18 years"
                ),
                ("sole_carer_quota_multiplier", "must be between 1 and 10"),
                ("long_sickness_days", "must be between 1 and 366 days"),
            ]
        );
        let sane: PolicyOverrides = serde_json::from_str(
            r#"{"self_cert_min_weeks": 0, "self_cert_max_days": 5, "leave_days_per_year": "20",
                "sole_carer_quota_multiplier": "2", "child_sick_young_child_age": 12}"#,
        )
        .unwrap();
        assert!(sane.out_of_range().is_empty());
        assert!(PolicyOverrides::default().out_of_range().is_empty());
    }
}
