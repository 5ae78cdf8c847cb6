//! Amounts of money in kroner, exact to the øre.
//!
//! Money is a [`Decimal`] inside a newtype, never a float. Amounts that come
//! in (household costs and income, the net stipend, the norm rates) must
//! already be whole øre; the one computed amount, a proposal, is rounded once,
//! to øre, half away from zero ([`Kroner::round_to_ore`]). On the wire and in
//! JSON an amount is a decimal string with two decimals (`"6200.00"`).

use std::fmt;
use std::iter::Sum;
use std::ops::{Add, Neg, Sub};
use std::str::FromStr;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An amount in Norwegian kroner with at most two decimals (whole øre).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Kroner(Decimal);

/// Why a text is not an amount of kroner.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AmountError {
    /// Not a decimal number at all.
    #[error("is not a decimal amount such as \"9000.00\"")]
    NotDecimal,
    /// More than two decimals: finer than an øre.
    #[error("has more than two decimals (amounts are whole øre)")]
    FinerThanOre,
    /// Below zero where only zero or more makes sense.
    #[error("must not be negative")]
    Negative,
    /// Larger than any monthly amount this service handles.
    #[error("is larger than {max} kr")]
    TooLarge {
        /// The largest amount accepted.
        max: Kroner,
    },
}

impl Kroner {
    /// Zero kroner.
    pub const ZERO: Self = Self(Decimal::ZERO);

    /// The largest monthly amount accepted from outside (10 million kroner):
    /// anything above is a typing error, not a household.
    pub const MAX_MONTHLY: Self = Self(Decimal::from_parts(1_000_000_000, 0, 0, false, 2));

    /// An amount that is already whole øre; `None` for a finer one.
    pub fn from_decimal(value: Decimal) -> Option<Self> {
        let normalized = value.normalize();
        (normalized.scale() <= 2).then(|| Self(with_two_decimals(value)))
    }

    /// Rounds an exact result to øre, half away from zero. The service
    /// rounds a computed amount with this exactly once.
    pub fn round_to_ore(value: Decimal) -> Self {
        Self(with_two_decimals(value.round_dp_with_strategy(
            2,
            RoundingStrategy::MidpointAwayFromZero,
        )))
    }

    /// Parses a decimal text that must be whole øre, zero or more and at most
    /// [`Kroner::MAX_MONTHLY`].
    pub fn parse_non_negative(text: &str) -> Result<Self, AmountError> {
        let amount: Self = text.parse()?;
        if amount < Self::ZERO {
            return Err(AmountError::Negative);
        }
        if amount > Self::MAX_MONTHLY {
            return Err(AmountError::TooLarge {
                max: Self::MAX_MONTHLY,
            });
        }
        Ok(amount)
    }

    /// The exact value.
    pub fn value(self) -> Decimal {
        self.0
    }

    /// The larger of this amount and zero.
    #[must_use]
    pub fn floored_at_zero(self) -> Self {
        if self < Self::ZERO { Self::ZERO } else { self }
    }
}

/// Sets the scale to two decimals (exact for values with at most two).
fn with_two_decimals(mut value: Decimal) -> Decimal {
    value.rescale(2);
    value
}

impl FromStr for Kroner {
    type Err = AmountError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        // Only plain decimal notation: no exponent, no thousands separator,
        // no surrounding space.
        let plain = !text.is_empty()
            && text
                .chars()
                .enumerate()
                .all(|(i, c)| c.is_ascii_digit() || c == '.' || (i == 0 && c == '-'));
        if !plain {
            return Err(AmountError::NotDecimal);
        }
        let value = Decimal::from_str_exact(text).map_err(|_| AmountError::NotDecimal)?;
        Self::from_decimal(value).ok_or(AmountError::FinerThanOre)
    }
}

impl fmt::Display for Kroner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl Add for Kroner {
    type Output = Self;
    fn add(self, rhs: Self) -> Self {
        Self(self.0 + rhs.0)
    }
}

impl Sub for Kroner {
    type Output = Self;
    fn sub(self, rhs: Self) -> Self {
        Self(self.0 - rhs.0)
    }
}

impl Neg for Kroner {
    type Output = Self;
    fn neg(self) -> Self {
        // Zero stays "0.00", never "-0.00" in an explanation.
        if self.0.is_zero() {
            return Self(self.0.abs());
        }
        Self(-self.0)
    }
}

impl Sum for Kroner {
    fn sum<I: Iterator<Item = Self>>(iter: I) -> Self {
        iter.fold(Self::ZERO, Add::add)
    }
}

impl Serialize for Kroner {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Kroner {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse()
            .map_err(|e| serde::de::Error::custom(format!("`{text}` {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kr(text: &str) -> Kroner {
        text.parse().unwrap()
    }

    #[test]
    fn amounts_keep_two_decimals() {
        assert_eq!(kr("9000").to_string(), "9000.00");
        assert_eq!(kr("0.5").to_string(), "0.50");
        assert_eq!(kr("-14500.25").to_string(), "-14500.25");
    }

    #[test]
    fn finer_than_ore_exponents_and_spaces_are_refused() {
        assert_eq!("1.005".parse::<Kroner>(), Err(AmountError::FinerThanOre));
        assert_eq!("1e3".parse::<Kroner>(), Err(AmountError::NotDecimal));
        assert_eq!(" 1".parse::<Kroner>(), Err(AmountError::NotDecimal));
        assert_eq!("".parse::<Kroner>(), Err(AmountError::NotDecimal));
        assert_eq!("1,5".parse::<Kroner>(), Err(AmountError::NotDecimal));
        // Trailing zeros beyond the øre are still whole øre.
        assert_eq!(kr("1.500").to_string(), "1.50");
    }

    #[test]
    fn rounding_is_half_away_from_zero_to_ore() {
        let round = |t: &str| Kroner::round_to_ore(Decimal::from_str_exact(t).unwrap());
        assert_eq!(round("0.005").to_string(), "0.01");
        assert_eq!(round("-0.005").to_string(), "-0.01");
        assert_eq!(round("2.004").to_string(), "2.00");
        assert_eq!(round("7").to_string(), "7.00");
    }

    #[test]
    fn non_negative_amounts_are_bounded() {
        assert_eq!(Kroner::parse_non_negative("-1"), Err(AmountError::Negative));
        assert!(matches!(
            Kroner::parse_non_negative("10000000.01"),
            Err(AmountError::TooLarge { .. })
        ));
        assert_eq!(
            Kroner::parse_non_negative("10000000").unwrap(),
            Kroner::MAX_MONTHLY
        );
    }
}
