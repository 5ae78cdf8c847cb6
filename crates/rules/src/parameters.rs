//! Dated parameters: grunnbeløp, the annual G factor, the under-25 fraction and the
//! child supplement rate, each a table of values by effective date with its source.
//!
//! The shipped defaults live in `parameters/norway.json`; a deployment overlays
//! values registered at run time (a new G every 1 May) with [`DatedTable::with_entry`].
//! Loading validates every table: dates strictly increasing (no two entries for one
//! date, none out of order), values non-negative decimals within an upper bound of
//! sense ([`upper_bound`]), and names the field at fault.

use std::fmt;

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use time::Date;
use time::macros::format_description;

use crate::bounds;
use crate::decimal;

/// The largest value of sense for each dated table and for `hours_per_day`
/// ([`bounds`]): far above any real value (G is about 130 000 kr, the factor
/// about 2, the child supplement under 40 kr a day), low enough that no
/// month's arithmetic can overflow, so that a typing error is refused at the
/// edge instead of failing a close.
pub fn upper_bound(name: &str) -> Option<Decimal> {
    bounds::parameter(name)
}

/// The parameter file shipped with the crate.
pub const SHIPPED_PARAMETERS: &str = include_str!("../parameters/norway.json");

/// Why a parameter set was refused; `field` names the table or value at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("parameters.{field}: {message}")]
pub struct ParameterError {
    /// The parameter (and entry) at fault, e.g. `g.2021-05-01`.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl ParameterError {
    fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// A value that changes on effective dates: the value of the latest entry on or
/// before a day is the one in force on that day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DatedTable {
    /// `(effective date, value)`, dates strictly increasing.
    entries: Vec<(Date, Decimal)>,
    /// Where the values come from (law, circular, decision).
    source: Option<String>,
}

impl DatedTable {
    /// Builds a table, refusing unsorted or duplicate dates and negative values.
    pub fn new(
        name: &str,
        entries: Vec<(Date, Decimal)>,
        source: Option<String>,
    ) -> Result<Self, ParameterError> {
        if entries.is_empty() {
            return Err(ParameterError::new(name, "the table has no entries"));
        }
        for pair in entries.windows(2) {
            let (earlier, later) = (pair[0].0, pair[1].0);
            if later == earlier {
                return Err(ParameterError::new(
                    format!("{name}.{later}"),
                    "two entries take effect on the same date (overlapping)",
                ));
            }
            if later < earlier {
                return Err(ParameterError::new(
                    format!("{name}.{later}"),
                    format!("entries must be in date order, but {later} follows {earlier}"),
                ));
            }
        }
        if let Some((date, value)) = entries.iter().find(|(_, v)| v.is_sign_negative()) {
            return Err(ParameterError::new(
                format!("{name}.{date}"),
                format!("{value} is negative"),
            ));
        }
        if let Some(max) = upper_bound(name)
            && let Some((date, value)) = entries.iter().find(|(_, v)| *v > max)
        {
            return Err(ParameterError::new(
                format!("{name}.{date}"),
                format!("{value} is above {max}, the largest value of sense"),
            ));
        }
        Ok(Self { entries, source })
    }

    /// The value in force on `date`, if the table reaches back that far.
    pub fn at(&self, date: Date) -> Option<Decimal> {
        let idx = self.entries.partition_point(|(from, _)| *from <= date);
        idx.checked_sub(1).map(|i| self.entries[i].1)
    }

    /// The value in force on `date` and the date the next entry takes effect
    /// (`Date::MAX` when none does): the value holds for every day before it.
    pub fn in_force(&self, date: Date) -> Option<(Decimal, Date)> {
        let idx = self.entries.partition_point(|(from, _)| *from <= date);
        let value = self.entries[..idx].last()?.1;
        let until = self.entries.get(idx).map_or(Date::MAX, |(from, _)| *from);
        Some((value, until))
    }

    /// The entries, in date order.
    pub fn entries(&self) -> &[(Date, Decimal)] {
        &self.entries
    }

    /// The source note of the table.
    pub fn source(&self) -> Option<&str> {
        self.source.as_deref()
    }

    /// True when some entry takes effect on or after `date`.
    pub fn has_entry_on_or_after(&self, date: Date) -> bool {
        self.entries.last().is_some_and(|(last, _)| *last >= date)
    }

    /// The table with `value` in force from `date`, replacing an entry of that date:
    /// how a value registered at run time overlays the shipped defaults.
    /// The table `name` (its bound applies) with `value` from `date` on.
    pub fn with_entry(
        &self,
        name: &str,
        date: Date,
        value: Decimal,
    ) -> Result<Self, ParameterError> {
        let mut entries: Vec<_> = self
            .entries
            .iter()
            .copied()
            .filter(|(d, _)| *d != date)
            .collect();
        let at = entries.partition_point(|(d, _)| *d < date);
        entries.insert(at, (date, value));
        Self::new(name, entries, self.source.clone())
    }
}

/// An exact fraction such as the under-25 factor 2/3 (R2, "exact means exact").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Fraction {
    /// Numerator.
    pub numerator: Decimal,
    /// Denominator, positive.
    pub denominator: Decimal,
}

impl Fraction {
    /// Parses `"2/3"` or a plain decimal such as `"1"`.
    pub fn parse(text: &str) -> Option<Self> {
        let (numerator, denominator) = match text.split_once('/') {
            Some((n, d)) => (decimal::parse_exact(n)?, decimal::parse_exact(d)?),
            None => (decimal::parse_exact(text)?, Decimal::ONE),
        };
        (denominator > Decimal::ZERO).then_some(Self {
            numerator,
            denominator,
        })
    }
}

impl fmt::Display for Fraction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.denominator == Decimal::ONE {
            write!(f, "{}", self.numerator.normalize())
        } else {
            write!(
                f,
                "{}/{}",
                self.numerator.normalize(),
                self.denominator.normalize()
            )
        }
    }
}

/// The complete parameter set the month calculation needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Parameters {
    /// Grunnbeløpet (G) in kroner by effective date (R1).
    pub g: DatedTable,
    /// The annual G factor by effective date (R1).
    pub annual_g_factor: DatedTable,
    /// The fraction of the annual amount before the 25th birthday (R2).
    pub under_25_factor: Fraction,
    /// Child supplement per child per weekday in kroner by effective date (R13).
    pub child_supplement_per_day: DatedTable,
    /// Hours in a full programme day (37.5 a week ÷ 5).
    pub hours_per_day: Decimal,
    /// The age from which the full rate applies (R2).
    pub full_rate_from_age: i32,
    /// The age up to which a child gives the supplement (R13).
    pub child_supplement_until_age: i32,
}

impl Parameters {
    /// The parameters shipped with the crate (`parameters/norway.json`).
    pub fn shipped() -> Result<Self, ParameterError> {
        let file = ParameterFile::parse(SHIPPED_PARAMETERS)?;
        file.complete()
    }

    /// Parses a complete parameter file.
    pub fn from_json(text: &str) -> Result<Self, ParameterError> {
        ParameterFile::parse(text)?.complete()
    }

    /// This set with the values of `overlay` in place of its own: how a case
    /// file's parameters replace the defaults.
    pub fn overlaid(&self, overlay: ParameterOverlay) -> Result<Self, ParameterError> {
        overlay.0.over(self.clone())
    }
}

/// A parameter file in which every field is optional: the fields present replace
/// those of a base set ([`Parameters::overlaid`]). Entries keep the order written.
#[derive(Debug, Default, Deserialize)]
#[serde(transparent)]
pub struct ParameterOverlay(ParameterFile);

/// The parameter file as written: every field optional so that a file can also
/// be an overlay.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ParameterFile {
    g: Option<TableSpec>,
    annual_g_factor: Option<TableSpec>,
    under_25_factor: Option<ScalarSpec>,
    child_supplement_per_day: Option<TableSpec>,
    hours_per_day: Option<ScalarSpec>,
    full_rate_from_age: Option<ScalarSpec>,
    child_supplement_until_age: Option<ScalarSpec>,
}

impl ParameterFile {
    fn parse(text: &str) -> Result<Self, ParameterError> {
        let mut de = serde_json::Deserializer::from_str(text);
        serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            ParameterError::new(
                if path == "." { String::new() } else { path },
                e.inner().to_string(),
            )
        })
    }

    fn complete(self) -> Result<Parameters, ParameterError> {
        let missing = |name: &str| ParameterError::new(name, "is missing");
        let ages = |spec: Option<ScalarSpec>, name: &str| -> Result<i32, ParameterError> {
            let value = spec.ok_or_else(|| missing(name))?.decimal(name)?;
            age(name, value)
        };
        Ok(Parameters {
            g: self.g.ok_or_else(|| missing("g"))?.table("g")?,
            annual_g_factor: self
                .annual_g_factor
                .ok_or_else(|| missing("annual_g_factor"))?
                .table("annual_g_factor")?,
            under_25_factor: self
                .under_25_factor
                .ok_or_else(|| missing("under_25_factor"))?
                .fraction("under_25_factor")?,
            child_supplement_per_day: self
                .child_supplement_per_day
                .ok_or_else(|| missing("child_supplement_per_day"))?
                .table("child_supplement_per_day")?,
            hours_per_day: positive(
                "hours_per_day",
                self.hours_per_day
                    .ok_or_else(|| missing("hours_per_day"))?
                    .decimal("hours_per_day")?,
            )?,
            full_rate_from_age: ages(self.full_rate_from_age, "full_rate_from_age")?,
            child_supplement_until_age: ages(
                self.child_supplement_until_age,
                "child_supplement_until_age",
            )?,
        })
    }

    fn over(self, mut base: Parameters) -> Result<Parameters, ParameterError> {
        if let Some(spec) = self.g {
            base.g = spec.table("g")?;
        }
        if let Some(spec) = self.annual_g_factor {
            base.annual_g_factor = spec.table("annual_g_factor")?;
        }
        if let Some(spec) = self.under_25_factor {
            base.under_25_factor = spec.fraction("under_25_factor")?;
        }
        if let Some(spec) = self.child_supplement_per_day {
            base.child_supplement_per_day = spec.table("child_supplement_per_day")?;
        }
        if let Some(spec) = self.hours_per_day {
            base.hours_per_day = positive("hours_per_day", spec.decimal("hours_per_day")?)?;
        }
        if let Some(spec) = self.full_rate_from_age {
            base.full_rate_from_age =
                age("full_rate_from_age", spec.decimal("full_rate_from_age")?)?;
        }
        if let Some(spec) = self.child_supplement_until_age {
            let name = "child_supplement_until_age";
            base.child_supplement_until_age = age(name, spec.decimal(name)?)?;
        }
        Ok(base)
    }
}

fn positive(name: &str, value: Decimal) -> Result<Decimal, ParameterError> {
    if let Some(max) = upper_bound(name)
        && value > max
    {
        return Err(ParameterError::new(
            name,
            format!("{value} is above {max}, the largest value of sense"),
        ));
    }
    if value > Decimal::ZERO {
        Ok(value)
    } else {
        Err(ParameterError::new(
            name,
            format!("{value} must be positive"),
        ))
    }
}

/// An age in whole years, 1 to [`bounds::AGE_MAX`]. `25.00000000` is 25: the
/// value, not its mantissa, is the age; `25.5` and `1e30` are refused.
fn age(name: &str, value: Decimal) -> Result<i32, ParameterError> {
    let in_range = value >= Decimal::ONE && value <= Decimal::from(bounds::AGE_MAX);
    let whole = (in_range && value.fract().is_zero())
        .then(|| value.trunc().to_i32())
        .flatten();
    whole.ok_or_else(|| {
        ParameterError::new(
            name,
            format!(
                "{value} is not an age in whole years from 1 to {}",
                bounds::AGE_MAX
            ),
        )
    })
}

/// A dated table as written: `{date: value, …}` or `{"source": …, "values": {date: value, …}}`,
/// entries kept in the order written so that disorder and duplicates are seen.
#[derive(Debug, Default)]
struct TableSpec {
    source: Option<String>,
    entries: Vec<(String, serde_json::Value)>,
}

impl TableSpec {
    fn table(self, name: &str) -> Result<DatedTable, ParameterError> {
        let iso = format_description!("[year]-[month]-[day]");
        let mut entries = Vec::with_capacity(self.entries.len());
        for (key, value) in self.entries {
            let date = Date::parse(&key, &iso).map_err(|_| {
                ParameterError::new(
                    format!("{name}.{key}"),
                    "is not a date of the form YYYY-MM-DD",
                )
            })?;
            let value = decimal::from_value(&value)
                .map_err(|m| ParameterError::new(format!("{name}.{key}"), m))?;
            entries.push((date, value));
        }
        DatedTable::new(name, entries, self.source)
    }
}

impl<'de> Deserialize<'de> for TableSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Ordered;
        impl<'de> Visitor<'de> for Ordered {
            type Value = TableSpec;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a table of values by effective date")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TableSpec, A::Error> {
                let mut spec = TableSpec::default();
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "source" => spec.source = Some(map.next_value()?),
                        "values" => spec.entries = map.next_value::<OrderedEntries>()?.0,
                        _ => spec.entries.push((key, map.next_value()?)),
                    }
                }
                Ok(spec)
            }
        }
        deserializer.deserialize_map(Ordered)
    }
}

/// A JSON object's entries in the order written, duplicates kept.
struct OrderedEntries(Vec<(String, serde_json::Value)>);

impl<'de> Deserialize<'de> for OrderedEntries {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries;
        impl<'de> Visitor<'de> for Entries {
            type Value = OrderedEntries;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of values by effective date")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<OrderedEntries, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry::<String, serde_json::Value>()? {
                    entries.push(entry);
                }
                Ok(OrderedEntries(entries))
            }
        }
        deserializer.deserialize_map(Entries)
    }
}

/// A single value as written: `value` or `{"source": …, "value": value}`.
#[derive(Debug)]
struct ScalarSpec(serde_json::Value);

impl ScalarSpec {
    fn decimal(&self, name: &str) -> Result<Decimal, ParameterError> {
        decimal::from_value(&self.0).map_err(|m| ParameterError::new(name, m))
    }

    fn fraction(&self, name: &str) -> Result<Fraction, ParameterError> {
        let text = match &self.0 {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Number(n) => n.to_string(),
            other => {
                return Err(ParameterError::new(
                    name,
                    format!("expected a fraction such as \"2/3\", found {other}"),
                ));
            }
        };
        let fraction = Fraction::parse(&text).ok_or_else(|| {
            ParameterError::new(name, format!("`{text}` is not a fraction such as \"2/3\""))
        })?;
        if fraction.numerator <= Decimal::ZERO || fraction.numerator > fraction.denominator {
            return Err(ParameterError::new(
                name,
                format!("{text} must lie in (0, 1]"),
            ));
        }
        if fraction.denominator > bounds::FRACTION_DENOMINATOR_MAX {
            return Err(ParameterError::new(
                name,
                format!(
                    "the denominator of {text} is above {}, the largest of sense",
                    bounds::FRACTION_DENOMINATOR_MAX
                ),
            ));
        }
        Ok(fraction)
    }
}

impl<'de> Deserialize<'de> for ScalarSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(deserializer)?;
        match value {
            serde_json::Value::Object(mut object) => object
                .remove("value")
                .map(ScalarSpec)
                .ok_or_else(|| de::Error::custom("expected `value` beside `source`")),
            plain => Ok(ScalarSpec(plain)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn the_shipped_file_loads_with_its_sources() {
        let p = Parameters::shipped().unwrap();
        assert_eq!(p.g.at(date!(2025 - 04 - 30)), Some(Decimal::from(124_028)));
        assert_eq!(p.g.at(date!(2025 - 05 - 01)), Some(Decimal::from(130_160)));
        assert_eq!(
            p.annual_g_factor.at(date!(2024 - 06 - 30)),
            Some(Decimal::from(2))
        );
        assert_eq!(
            p.annual_g_factor.at(date!(2024 - 07 - 01)),
            Some(Decimal::new(2041, 3))
        );
        assert_eq!(p.under_25_factor.to_string(), "2/3");
        assert_eq!(p.hours_per_day, Decimal::new(75, 1));
        assert_eq!(
            (p.full_rate_from_age, p.child_supplement_until_age),
            (25, 18)
        );
        assert!(p.g.source().unwrap().contains("1 May"));
        assert_eq!(p.g.at(date!(2019 - 04 - 30)), None);
    }

    #[test]
    fn an_unsorted_table_is_refused_naming_the_entry() {
        let text = SHIPPED_PARAMETERS.replace("\"2019-05-01\": 99858", "\"2030-05-01\": 99858");
        let err = Parameters::from_json(&text).unwrap_err();
        assert_eq!(err.field, "g.2020-05-01");
        assert!(err.message.contains("date order"), "{err}");
    }

    #[test]
    fn two_entries_for_one_date_are_refused_as_overlapping() {
        let text = SHIPPED_PARAMETERS.replace("\"2020-05-01\": 101351", "\"2019-05-01\": 101351");
        let err = Parameters::from_json(&text).unwrap_err();
        assert_eq!(err.field, "g.2019-05-01");
        assert!(err.message.contains("overlapping"), "{err}");
    }

    #[test]
    fn malformed_values_and_dates_are_refused() {
        let text = SHIPPED_PARAMETERS.replace("\"2.041\"", "\"two\"");
        let err = Parameters::from_json(&text).unwrap_err();
        assert_eq!(
            err.to_string(),
            "parameters.annual_g_factor.2024-07-01: `two` is not a decimal number"
        );

        let text = SHIPPED_PARAMETERS.replace("\"2025-01-01\": \"37\"", "\"2025-13-01\": \"37\"");
        let err = Parameters::from_json(&text).unwrap_err();
        assert_eq!(err.field, "child_supplement_per_day.2025-13-01");

        let text = SHIPPED_PARAMETERS.replace("\"2/3\"", "\"3/2\"");
        let err = Parameters::from_json(&text).unwrap_err();
        assert_eq!(err.field, "under_25_factor");

        let err = Parameters::from_json("{\"g\": {}, \"bogus\": 1}").unwrap_err();
        assert!(err.message.contains("bogus"), "{err}");

        let err = Parameters::from_json("{\"g\": {\"2020-01-01\": -5}}").unwrap_err();
        assert_eq!(err.field, "g.2020-01-01");
    }

    #[test]
    fn a_registered_g_overlays_the_defaults() {
        let p = Parameters::shipped().unwrap();
        let g =
            p.g.with_entry("g", date!(2027 - 05 - 01), Decimal::from(140_000))
                .unwrap();
        assert_eq!(g.at(date!(2027 - 06 - 01)), Some(Decimal::from(140_000)));
        assert_eq!(g.at(date!(2027 - 04 - 30)), Some(Decimal::from(136_549)));
        let replaced = g
            .with_entry("g", date!(2027 - 05 - 01), Decimal::from(141_000))
            .unwrap();
        assert_eq!(replaced.entries().len(), g.entries().len());
        assert_eq!(
            replaced.at(date!(2027 - 05 - 01)),
            Some(Decimal::from(141_000))
        );
    }

    /// The shipped file with one value replaced, as JSON text.
    fn shipped_with(pointer: &str, value: serde_json::Value) -> String {
        let mut document: serde_json::Value = serde_json::from_str(SHIPPED_PARAMETERS).unwrap();
        *document.pointer_mut(pointer).unwrap() = value;
        document.to_string()
    }

    #[test]
    fn values_beyond_sense_are_refused_naming_the_entry() {
        for (pointer, value, field) in [
            ("/g/values/2025-05-01", "10000000.01", "g.2025-05-01"),
            (
                "/annual_g_factor/values/2024-07-01",
                "10.5",
                "annual_g_factor.2024-07-01",
            ),
            (
                "/child_supplement_per_day/values/2026-01-14",
                "79228162514264337593543950335",
                "child_supplement_per_day.2026-01-14",
            ),
            ("/hours_per_day/value", "24.25", "hours_per_day"),
        ] {
            let text = shipped_with(pointer, serde_json::Value::String(value.into()));
            let err = Parameters::from_json(&text).unwrap_err();
            assert_eq!(err.field, field);
            assert!(err.message.contains("the largest value of sense"), "{err}");
        }
        // The bounds themselves are allowed.
        let text = shipped_with("/g/values/2025-05-01", serde_json::json!(10_000_000));
        assert!(Parameters::from_json(&text).is_ok());
        let p = Parameters::shipped().unwrap();
        let err =
            p.g.with_entry("g", date!(2027 - 05 - 01), Decimal::from(10_000_001))
                .unwrap_err();
        assert_eq!(err.field, "g.2027-05-01");
    }

    #[test]
    fn an_age_with_trailing_decimals_is_that_age() {
        let text = shipped_with(
            "/full_rate_from_age/value",
            serde_json::Value::String("25.00000000".into()),
        );
        assert_eq!(Parameters::from_json(&text).unwrap().full_rate_from_age, 25);
        let text = shipped_with(
            "/child_supplement_until_age/value",
            serde_json::Value::String("18.000000000000000000".into()),
        );
        assert_eq!(
            Parameters::from_json(&text)
                .unwrap()
                .child_supplement_until_age,
            18
        );
        let text = shipped_with(
            "/full_rate_from_age/value",
            serde_json::from_str("2.5e1").unwrap(),
        );
        assert_eq!(Parameters::from_json(&text).unwrap().full_rate_from_age, 25);
    }

    #[test]
    fn ages_that_are_no_whole_years_of_a_life_are_refused_never_wrapped() {
        for (value, message) in [
            ("25.5", "25.5 is not an age in whole years from 1 to 100"),
            ("101", "101 is not an age in whole years from 1 to 100"),
            ("0", "0 is not an age in whole years from 1 to 100"),
            ("-25", "-25 is not an age in whole years from 1 to 100"),
            (
                "4294967321",
                "4294967321 is not an age in whole years from 1 to 100",
            ),
            ("1e30", "`1e30` is not a decimal number"),
        ] {
            let text = shipped_with(
                "/full_rate_from_age/value",
                serde_json::Value::String(value.into()),
            );
            let err = Parameters::from_json(&text).unwrap_err();
            assert_eq!(
                (err.field.as_str(), err.message.as_str()),
                ("full_rate_from_age", message)
            );
            // The same in an overlay, as a case file gives it.
            let overlay: ParameterOverlay =
                serde_json::from_str(&format!("{{\"child_supplement_until_age\": \"{value}\"}}"))
                    .unwrap();
            let err = Parameters::shipped()
                .unwrap()
                .overlaid(overlay)
                .unwrap_err();
            assert_eq!(err.field, "child_supplement_until_age");
        }
        let text = shipped_with("/full_rate_from_age/value", serde_json::json!(100));
        assert_eq!(
            Parameters::from_json(&text).unwrap().full_rate_from_age,
            100
        );
    }

    #[test]
    fn a_fraction_with_a_denominator_beyond_sense_is_refused() {
        for text in [
            "1/1001",
            "10000000000000000000000000000/10000000000000000000000000000",
        ] {
            let file = shipped_with(
                "/under_25_factor/value",
                serde_json::Value::String(text.into()),
            );
            let err = Parameters::from_json(&file).unwrap_err();
            assert_eq!(err.field, "under_25_factor");
            assert!(err.message.contains("above 1000"), "{err}");
        }
        let file = shipped_with(
            "/under_25_factor/value",
            serde_json::Value::String("667/1000".into()),
        );
        assert_eq!(
            Parameters::from_json(&file)
                .unwrap()
                .under_25_factor
                .to_string(),
            "667/1000"
        );
    }
}
