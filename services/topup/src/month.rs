//! A calendar month, `YYYY-MM`, the period a stipend is paid for and a
//! proposal is made for.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::Date;

/// A calendar month of a year (1000–9999).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    year: i32,
    month: time::Month,
}

/// The text is not a month `YYYY-MM`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("is not a month \"YYYY-MM\"")]
pub struct MonthError;

impl Month {
    /// The month of a year; `None` outside the years 1000–9999.
    pub fn new(year: i32, month: time::Month) -> Option<Self> {
        (1000..=9999)
            .contains(&year)
            .then_some(Self { year, month })
    }

    /// The month a date falls in; `None` outside the years 1000–9999.
    pub fn containing(date: Date) -> Option<Self> {
        Self::new(date.year(), date.month())
    }

    /// The first day of the month.
    pub fn first_day(self) -> Date {
        // The year is in 1000–9999 and every month has a first day.
        Date::from_calendar_date(self.year, self.month, 1).unwrap_or(Date::MIN)
    }

    /// The last day of the month.
    pub fn last_day(self) -> Date {
        let days = self.month.length(self.year);
        Date::from_calendar_date(self.year, self.month, days).unwrap_or(Date::MAX)
    }
}

impl FromStr for Month {
    type Err = MonthError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bytes = text.as_bytes();
        let shaped = bytes.len() == 7
            && bytes[4] == b'-'
            && bytes
                .iter()
                .enumerate()
                .all(|(i, b)| i == 4 || b.is_ascii_digit());
        if !shaped {
            return Err(MonthError);
        }
        let year: i32 = text[..4].parse().map_err(|_| MonthError)?;
        let month: u8 = text[5..].parse().map_err(|_| MonthError)?;
        let month = time::Month::try_from(month).map_err(|_| MonthError)?;
        Self::new(year, month).ok_or(MonthError)
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, u8::from(self.month))
    }
}

impl Serialize for Month {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Month {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse()
            .map_err(|e| serde::de::Error::custom(format!("`{text}` {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn a_month_round_trips_and_knows_its_days() {
        let month: Month = "2024-02".parse().unwrap();
        assert_eq!(month.to_string(), "2024-02");
        assert_eq!(month.first_day(), date!(2024 - 02 - 01));
        assert_eq!(month.last_day(), date!(2024 - 02 - 29));
    }

    #[test]
    fn malformed_months_are_refused() {
        for text in [
            "2024-13", "2024-00", "2024-1", "24-01", "2024/01", "+024-01", "",
        ] {
            assert_eq!(text.parse::<Month>(), Err(MonthError), "{text}");
        }
    }
}
