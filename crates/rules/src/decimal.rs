//! Reading decimals exactly and writing amounts and hours in the vectors' format.

use std::fmt;
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
    Kroner(amount).to_string()
}

/// An amount written as [`format_amount`] writes it, into any formatter.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Kroner(pub Decimal);

impl fmt::Display for Kroner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rounded = if self.0.scale() > 2 {
            round_to_ore(self.0)
        } else {
            self.0
        };
        rounded.rescale(2);
        // Whole øre as an integer: kroner and two digits. A negated zero has
        // mantissa 0 and reads "0.00".
        match (rounded.scale(), i64::try_from(rounded.mantissa())) {
            (2, Ok(ore)) => {
                // Digits from the right: two decimals, the point, the kroner.
                let mut text = [0_u8; 24];
                let mut at = text.len();
                let mut rest = ore.unsigned_abs();
                let mut digits = 0;
                while digits < 3 || rest > 0 {
                    if digits == 2 {
                        at -= 1;
                        text[at] = b'.';
                    }
                    at -= 1;
                    text[at] = b'0' + (rest % 10) as u8;
                    rest /= 10;
                    digits += 1;
                }
                if ore < 0 {
                    at -= 1;
                    text[at] = b'-';
                }
                f.write_str(std::str::from_utf8(&text[at..]).map_err(|_| fmt::Error)?)
            }
            // Beyond 10^16 kroner, or beyond what two decimals can hold:
            // as rust_decimal writes it.
            _ if rounded.is_zero() => f.write_str("0.00"),
            _ => write!(f, "{rounded}"),
        }
    }
}

/// `numerator ÷ denominator` rounded to øre, half away from zero, computed
/// exactly in integers; `None` when they cannot hold it (or the denominator
/// is zero), for the caller to divide as decimals.
pub(crate) fn ratio_to_ore(numerator: Decimal, denominator: Decimal) -> Option<Decimal> {
    // n / 10^s ÷ (d / 10^t) in øre is n × 10^(t + 2) ÷ (d × 10^s).
    let scale = |exponent: u32| 10_i128.checked_pow(exponent);
    let n = numerator
        .mantissa()
        .checked_mul(scale(denominator.scale() + 2)?)?;
    let d = denominator
        .mantissa()
        .checked_mul(scale(numerator.scale())?)?;
    if d == 0 {
        return None;
    }
    let (quotient, remainder) = (n / d, n % d);
    // Half away from zero: the remainder is at least half the divisor.
    let (remainder, divisor) = (remainder.unsigned_abs(), d.unsigned_abs());
    let away = remainder >= divisor - remainder;
    let ore = if away {
        quotient + if (n < 0) == (d < 0) { 1 } else { -1 }
    } else {
        quotient
    };
    Decimal::try_from_i128_with_scale(ore, 2).ok()
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
        assert_eq!(format_amount(Decimal::new(-5, 2)), "-0.05");
        assert_eq!(format_amount(Decimal::new(-4, 3)), "0.00");
        assert_eq!(format_amount(Decimal::new(12345, 4)), "1.23");
        assert_eq!(format_amount(Decimal::new(-12355, 4)), "-1.24");
    }

    #[test]
    fn amounts_read_as_rust_decimal_writes_them_rounded_to_ore() {
        for amount in [
            Decimal::new(1, 28),
            Decimal::new(-99_999_999, 3),
            Decimal::new(987_654_321_012, 2),
            Decimal::from(i64::MAX),
            Decimal::MAX,
            Decimal::MIN,
            Decimal::new(-1, 0),
        ] {
            let mut expected = round_to_ore(amount);
            expected.rescale(2);
            let expected = if amount.is_zero() || expected.is_zero() {
                "0.00".to_owned()
            } else {
                expected.to_string()
            };
            assert_eq!(format_amount(amount), expected, "{amount}");
        }
    }

    #[test]
    fn ratios_round_to_ore_as_dividing_decimals_does() {
        let cases = [
            (Decimal::new(682745, 3), Decimal::ONE),
            (Decimal::new(-682745, 3), Decimal::ONE),
            (Decimal::new(1, 0), Decimal::new(3, 0)),
            (Decimal::new(2, 0), Decimal::new(-3, 0)),
            (Decimal::new(39_048_000, 0), Decimal::new(15_525, 1)),
            (Decimal::new(5, 3), Decimal::new(1, 0)),
            (Decimal::new(-5, 3), Decimal::new(1, 0)),
            (Decimal::new(1_234_567_891, 4), Decimal::new(7_654_321, 5)),
        ];
        for (numerator, denominator) in cases {
            assert_eq!(
                ratio_to_ore(numerator, denominator),
                Some(round_to_ore(numerator / denominator)),
                "{numerator} / {denominator}"
            );
        }
        assert_eq!(ratio_to_ore(Decimal::ONE, Decimal::ZERO), None);
        assert_eq!(ratio_to_ore(Decimal::MAX, Decimal::new(1, 28)), None);
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
