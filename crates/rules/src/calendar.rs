//! Weekdays, Norwegian public holidays, anniversaries, and the date in Norway.
//!
//! Public holidays are weekdays for pay (the stipend is a fixed monthly amount);
//! they matter only for the adjacency of sickness dates (R6, R9).

use time::{Date, Duration, Month, OffsetDateTime, UtcOffset, Weekday};

use crate::facts::YearMonth;

/// The calendar date in Norway at an instant: Central European Time, and
/// summer time (UTC+2) from 01:00 UTC on the last Sunday of March to 01:00
/// UTC on the last Sunday of October (the EU rule Norway follows). Deadlines
/// and decision dates are Norwegian dates, not UTC ones.
pub fn date_in_norway(instant: OffsetDateTime) -> Date {
    let utc = instant.to_offset(UtcOffset::UTC);
    let last_sunday = |month: Month| {
        let mut day = Date::from_calendar_date(utc.year(), month, 31).unwrap_or(utc.date());
        while day.weekday() != Weekday::Sunday {
            day = day.previous_day().unwrap_or(day);
        }
        day.midnight().assume_utc() + Duration::hours(1)
    };
    let summer = utc >= last_sunday(Month::March) && utc < last_sunday(Month::October);
    let hours = if summer { 2 } else { 1 };
    (utc + Duration::hours(hours)).date()
}

/// Monday to Friday.
pub fn is_weekday(date: Date) -> bool {
    !matches!(date.weekday(), Weekday::Saturday | Weekday::Sunday)
}

/// W(M): the number of weekdays in a calendar month (20–23).
pub fn weekdays_in(month: YearMonth) -> u32 {
    // Four whole weeks hold 20; the days beyond them start on the first's weekday.
    let first = month.first_day().weekday().number_days_from_monday();
    let beyond = u32::from(month.last_day().day()) - 28;
    (0..beyond)
        .filter(|offset| (u32::from(first) + offset) % 7 < 5)
        .count() as u32
        + 20
}

/// Easter Sunday of a Gregorian year (the anonymous Gregorian algorithm).
pub fn easter_sunday(year: i32) -> Date {
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    let month = if month == 3 {
        Month::March
    } else {
        Month::April
    };
    // The algorithm yields 22 March to 25 April, always a valid date.
    Date::from_calendar_date(year, month, day as u8).unwrap_or(Date::MIN)
}

/// Norwegian public holidays (helligdager and 1 and 17 May) of RULES.md R6.
pub fn is_public_holiday(date: Date) -> bool {
    let (month, day) = (date.month(), date.day());
    let fixed = matches!(
        (month, day),
        (Month::January, 1) | (Month::May, 1) | (Month::May, 17) | (Month::December, 25 | 26)
    );
    if fixed {
        return true;
    }
    // The movable holidays lie from Maundy Thursday (19 March at the
    // earliest) to Whit Monday (14 June at the latest).
    if !matches!(
        month,
        Month::March | Month::April | Month::May | Month::June
    ) {
        return false;
    }
    let easter = easter_sunday(date.year());
    // Maundy Thursday, Good Friday, Easter Sunday and Monday, Ascension Day,
    // Whit Sunday and Whit Monday, as offsets from Easter Sunday.
    [-3, -2, 0, 1, 39, 49, 50]
        .iter()
        .any(|offset| easter + Duration::days(*offset) == date)
}

/// Saturdays, Sundays and public holidays: the days that may lie between two
/// dates of one sickness occurrence.
pub fn is_rest_day(date: Date) -> bool {
    !is_weekday(date) || is_public_holiday(date)
}

/// True when every date strictly between `earlier` and `later` is a rest day.
pub fn only_rest_days_between(earlier: Date, later: Date) -> bool {
    let mut day = earlier.next_day();
    while let Some(d) = day {
        if d >= later {
            return true;
        }
        if !is_rest_day(d) {
            return false;
        }
        day = d.next_day();
    }
    true
}

/// The same calendar date `years` later (or earlier, when negative); 29 February
/// falls on 28 February in years without it.
/// An anniversary beyond the calendar's range is its end (or its start).
pub fn anniversary(date: Date, years: i32) -> Date {
    let beyond = if years < 0 { Date::MIN } else { Date::MAX };
    let Some(year) = date.year().checked_add(years) else {
        return beyond;
    };
    Date::from_calendar_date(year, date.month(), date.day())
        .or_else(|_| Date::from_calendar_date(year, date.month(), date.day() - 1))
        .unwrap_or(beyond)
}

/// True when a person born on `birth_date` is younger than `age` years on `date`.
pub fn is_under(birth_date: Date, age: i32, date: Date) -> bool {
    date < anniversary(birth_date, age)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn the_date_in_norway_follows_central_european_and_summer_time() {
        use time::macros::date;
        // Summer time (UTC+2) from 01:00 UTC on the last Sunday of March (30
        // March 2025) to 01:00 UTC on the last Sunday of October (26 October).
        for (instant, date) in [
            (datetime!(2025-01-14 22:59:59 UTC), date!(2025 - 01 - 14)),
            (datetime!(2025-01-14 23:00:00 UTC), date!(2025 - 01 - 15)),
            (datetime!(2025-06-30 22:00:00 UTC), date!(2025 - 07 - 01)),
            (datetime!(2025-03-29 22:30:00 UTC), date!(2025 - 03 - 29)),
            (datetime!(2025-10-25 22:30:00 UTC), date!(2025 - 10 - 26)),
            (datetime!(2025-10-26 22:30:00 UTC), date!(2025 - 10 - 26)),
            (datetime!(2025-01-15 00:30:00 +01:00), date!(2025 - 01 - 15)),
        ] {
            assert_eq!(date_in_norway(instant), date, "{instant}");
        }
    }

    use time::macros::date;

    #[test]
    fn easter_dates_are_known_ones() {
        assert_eq!(easter_sunday(2024), date!(2024 - 03 - 31));
        assert_eq!(easter_sunday(2025), date!(2025 - 04 - 20));
        assert_eq!(easter_sunday(2026), date!(2026 - 04 - 05));
        assert_eq!(easter_sunday(2019), date!(2019 - 04 - 21));
    }

    #[test]
    fn norwegian_holidays_of_2025() {
        for holiday in [
            date!(2025 - 01 - 01),
            date!(2025 - 04 - 17),
            date!(2025 - 04 - 18),
            date!(2025 - 04 - 20),
            date!(2025 - 04 - 21),
            date!(2025 - 05 - 01),
            date!(2025 - 05 - 17),
            date!(2025 - 05 - 29),
            date!(2025 - 06 - 08),
            date!(2025 - 06 - 09),
            date!(2025 - 12 - 25),
            date!(2025 - 12 - 26),
        ] {
            assert!(is_public_holiday(holiday), "{holiday} is a holiday");
        }
        assert!(!is_public_holiday(date!(2025 - 04 - 16)));
        // Every day of two centuries, against the list of each year's holidays.
        for year in 1950..2150 {
            let easter = easter_sunday(year);
            let mut holidays: Vec<Date> = [-3, -2, 0, 1, 39, 49, 50]
                .iter()
                .map(|offset| easter + Duration::days(*offset))
                .collect();
            for (month, day) in [
                (Month::January, 1),
                (Month::May, 1),
                (Month::May, 17),
                (Month::December, 25),
                (Month::December, 26),
            ] {
                holidays.push(Date::from_calendar_date(year, month, day).unwrap());
            }
            let mut day = Date::from_calendar_date(year, Month::January, 1).unwrap();
            while day.year() == year {
                assert_eq!(is_public_holiday(day), holidays.contains(&day), "{day}");
                day = day.next_day().unwrap();
            }
        }
        assert!(!is_public_holiday(date!(2025 - 12 - 24)));
    }

    #[test]
    fn weekdays_per_month() {
        assert_eq!(weekdays_in(YearMonth::new(2025, Month::March)), 21);
        assert_eq!(weekdays_in(YearMonth::new(2024, Month::February)), 21);
        assert_eq!(weekdays_in(YearMonth::new(2025, Month::February)), 20);
        assert_eq!(weekdays_in(YearMonth::new(2025, Month::October)), 23);
        // Every month of four decades, against counting its days one by one.
        let mut month = YearMonth::new(2000, Month::January);
        while month.year() < 2040 {
            let counted = month.days().filter(|d| is_weekday(*d)).count() as u32;
            assert_eq!(weekdays_in(month), counted, "{month}");
            month = month.next();
        }
    }

    #[test]
    fn leap_day_anniversaries_fall_on_28_february() {
        assert_eq!(
            anniversary(date!(2000 - 02 - 29), 25),
            date!(2025 - 02 - 28)
        );
        assert_eq!(
            anniversary(date!(2000 - 02 - 29), 24),
            date!(2024 - 02 - 29)
        );
        assert_eq!(
            anniversary(date!(2025 - 03 - 01), -1),
            date!(2024 - 03 - 01)
        );
        assert!(is_under(date!(2000 - 02 - 29), 25, date!(2025 - 02 - 27)));
        assert!(!is_under(date!(2000 - 02 - 29), 25, date!(2025 - 02 - 28)));
    }

    #[test]
    fn a_weekend_and_easter_lie_between_sick_days() {
        // Friday to Monday: only the weekend between.
        assert!(only_rest_days_between(
            date!(2025 - 03 - 07),
            date!(2025 - 03 - 10)
        ));
        // Wednesday 16 April to Tuesday 22 April 2025: Easter lies between.
        assert!(only_rest_days_between(
            date!(2025 - 04 - 16),
            date!(2025 - 04 - 22)
        ));
        assert!(!only_rest_days_between(
            date!(2025 - 03 - 07),
            date!(2025 - 03 - 11)
        ));
    }
}
