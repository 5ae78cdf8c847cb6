//! Reading decimals exactly and writing amounts and hours in the vectors' format.

use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Deserializer};

/// Parses a decimal from its text form exactly (plain or scientific notation).
pub(crate) fn parse_exact(text: &str) -> Option<Decimal> {
    let text = text.trim();
    if text.contains(['e', 'E']) {
        Decimal::from_scientific(text).ok()
    } else {
        Decimal::from_str_exact(text)
            .or_else(|_| Decimal::from_str(text))
            .ok()
    }
}

/// Deserializes a decimal from a JSON number or string without passing through a
/// float: with serde_json's `arbitrary_precision` a number keeps its original text.
pub(crate) fn exact<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Decimal, D::Error> {
    let value = serde_json::Value::deserialize(deserializer)?;
    from_value(&value).map_err(serde::de::Error::custom)
}

/// Like [`exact`], for an optional field.
pub(crate) fn exact_opt<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Decimal>, D::Error> {
    let value = Option::<serde_json::Value>::deserialize(deserializer)?;
    value
        .map(|v| from_value(&v))
        .transpose()
        .map_err(serde::de::Error::custom)
}

/// Like [`exact_opt`], for a whole number: `3` and `3.0` alike, as JSON
/// Schema's `integer` reads them, never `3.5` or text.
pub(crate) fn whole_opt<'de, D: Deserializer<'de>, T: TryFrom<i64>>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    let value = Option::<serde_json::Value>::deserialize(deserializer)?;
    value
        .map(|value| {
            // Refused values are not quoted: a client may have put anything
            // there, an identity number included.
            let serde_json::Value::Number(number) = &value else {
                return Err("expected a whole number");
            };
            let exact = parse_exact(&number.to_string())
                .filter(|d| d.fract().is_zero())
                .ok_or("expected a whole number")?;
            i64::try_from(exact)
                .ok()
                .and_then(|whole| T::try_from(whole).ok())
                .ok_or("is out of range")
        })
        .transpose()
        .map_err(serde::de::Error::custom)
}

/// Converts a JSON number or numeric string into a decimal, naming what was wrong.
pub(crate) fn from_value(value: &serde_json::Value) -> Result<Decimal, String> {
    let text = match value {
        serde_json::Value::Number(n) => n.to_string(),
        serde_json::Value::String(s) => s.clone(),
        other => return Err(format!("expected a decimal number, found {other}")),
    };
    parse_exact(&text).ok_or_else(|| format!("`{text}` is not a decimal number"))
}

/// Rounds to øre, half away from zero: the one rounding of R15.
pub(crate) fn round_to_ore(amount: Decimal) -> Decimal {
    amount.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

/// Formats an amount in kroner with exactly two decimals (`"0.00"`, `"-251.52"`),
/// rounded to øre half away from zero: the form of the vectors and every API.
pub fn format_amount(amount: Decimal) -> String {
    // A negated zero keeps its sign bit in rust_decimal; an amount of zero is "0.00".
    let amount = if amount.is_zero() {
        Decimal::ZERO
    } else {
        amount
    };
    let mut rounded = round_to_ore(amount);
    rounded.rescale(2);
    rounded.to_string()
}

/// Formats hours in their shortest form (`"0"`, `"2.5"`, `"3.75"`).
pub fn format_hours(hours: Decimal) -> String {
    if hours.is_zero() {
        return "0".to_owned();
    }
    hours.normalize().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_have_two_decimals_and_no_negative_zero() {
        assert_eq!(format_amount(Decimal::ZERO), "0.00");
        assert_eq!(format_amount(-Decimal::ZERO), "0.00");
        assert_eq!(format_amount(Decimal::new(-25152, 2)), "-251.52");
        assert_eq!(format_amount(Decimal::new(20, 0)), "20.00");
    }

    #[test]
    fn hours_are_shortest() {
        assert_eq!(format_hours(Decimal::new(750, 2)), "7.5");
        assert_eq!(format_hours(Decimal::new(300, 2)), "3");
        assert_eq!(format_hours(Decimal::new(375, 2)), "3.75");
        assert_eq!(format_hours(Decimal::ZERO), "0");
    }

    #[test]
    fn half_ore_rounds_away_from_zero() {
        assert_eq!(
            round_to_ore(Decimal::new(682745, 3)),
            Decimal::new(68275, 2)
        );
        assert_eq!(
            round_to_ore(Decimal::new(-682745, 3)),
            Decimal::new(-68275, 2)
        );
    }

    #[test]
    fn json_numbers_are_read_without_floats() {
        let v: serde_json::Value = serde_json::from_str("0.1").unwrap();
        assert_eq!(from_value(&v).unwrap(), Decimal::new(1, 1));
        let v: serde_json::Value = serde_json::from_str("1e3").unwrap();
        assert_eq!(from_value(&v).unwrap(), Decimal::new(1000, 0));
        let v: serde_json::Value = serde_json::from_str("\"abc\"").unwrap();
        assert!(from_value(&v).unwrap_err().contains("abc"));
    }
}
