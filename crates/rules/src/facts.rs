//! The facts a month is computed from: participant, programme, timesheet coverage,
//! day entries, sanction decisions and other benefits.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::{Date, Month};

/// A calendar month, written `YYYY-MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct YearMonth {
    year: i32,
    month: Month,
}

impl YearMonth {
    /// The month `month` of `year`.
    pub fn new(year: i32, month: Month) -> Self {
        Self { year, month }
    }

    /// The month a date lies in.
    pub fn of(date: Date) -> Self {
        Self::new(date.year(), date.month())
    }

    /// The calendar year.
    pub fn year(self) -> i32 {
        self.year
    }

    /// The month of the year.
    pub fn month(self) -> Month {
        self.month
    }

    /// The first day of the month.
    pub fn first_day(self) -> Date {
        // Day 1 exists in every month of every representable year.
        Date::from_calendar_date(self.year, self.month, 1).unwrap_or(Date::MIN)
    }

    /// The last day of the month.
    pub fn last_day(self) -> Date {
        let days = self.month.length(self.year);
        Date::from_calendar_date(self.year, self.month, days).unwrap_or(Date::MAX)
    }

    /// Every day of the month, in order.
    pub fn days(self) -> impl Iterator<Item = Date> {
        let last = self.last_day();
        std::iter::successors(Some(self.first_day()), move |d| {
            d.next_day().filter(|n| *n <= last)
        })
    }

    /// The following month.
    pub fn next(self) -> Self {
        match self.month {
            Month::December => Self::new(self.year + 1, Month::January),
            m => Self::new(self.year, m.next()),
        }
    }

    /// The preceding month.
    pub fn previous(self) -> Self {
        match self.month {
            Month::January => Self::new(self.year - 1, Month::December),
            m => Self::new(self.year, m.previous()),
        }
    }
}

impl fmt::Display for YearMonth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, u8::from(self.month))
    }
}

/// Why a text is not a `YYYY-MM` month.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a month of the form YYYY-MM")]
pub struct YearMonthError(pub String);

impl FromStr for YearMonth {
    type Err = YearMonthError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let err = || YearMonthError(text.to_owned());
        let (year, month) = text.split_once('-').ok_or_else(err)?;
        if year.len() != 4 || month.len() != 2 {
            return Err(err());
        }
        let year: i32 = year.parse().map_err(|_| err())?;
        let month: u8 = month.parse().map_err(|_| err())?;
        let month = Month::try_from(month).map_err(|_| err())?;
        Ok(Self::new(year, month))
    }
}

impl Serialize for YearMonth {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for YearMonth {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A range of dates including both ends; `to = None` is open-ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DateRange {
    /// First day of the range.
    pub from: Date,
    /// Last day of the range, or `None` when it has no end yet.
    #[serde(default)]
    pub to: Option<Date>,
}

impl DateRange {
    /// True when `date` lies in the range.
    pub fn contains(&self, date: Date) -> bool {
        date >= self.from && self.to.is_none_or(|to| date <= to)
    }

    /// True when the two ranges share at least one day.
    pub fn overlaps(&self, other: &DateRange) -> bool {
        let ends_after = |range: &DateRange, date: Date| range.to.is_none_or(|to| to >= date);
        ends_after(self, other.from) && ends_after(other, self.from)
    }
}

/// What a participant did, or why they were away, for some hours of a day (R5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AbsenceKind {
    /// Took part in the programme: paid.
    Attended,
    /// Paid work during programme time (R4): deducted hour for hour.
    PaidWork,
    /// Own sickness, self-certified (egenmelding): paid within R6.
    SickSelf,
    /// Own sickness with a doctor's certificate: paid; R9.
    SickCertified,
    /// A child's sickness: paid within R8.
    ChildSick,
    /// Compelling welfare reasons (tvingende velferdsgrunner): paid.
    Welfare,
    /// Permitted leave or holiday: paid within R7.
    Leave,
    /// Approved absence without stipend: deducted hour for hour.
    ApprovedUnpaid,
    /// Absence without valid reason (§ 36): deducted only when sanctioned.
    Unexcused,
}

impl AbsenceKind {
    /// The name used in files and APIs (`SICK_SELF`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Attended => "ATTENDED",
            Self::PaidWork => "PAID_WORK",
            Self::SickSelf => "SICK_SELF",
            Self::SickCertified => "SICK_CERTIFIED",
            Self::ChildSick => "CHILD_SICK",
            Self::Welfare => "WELFARE",
            Self::Leave => "LEAVE",
            Self::ApprovedUnpaid => "APPROVED_UNPAID",
            Self::Unexcused => "UNEXCUSED",
        }
    }

    /// Every kind, in the order of R5.
    pub const ALL: [AbsenceKind; 9] = [
        Self::Attended,
        Self::PaidWork,
        Self::SickSelf,
        Self::SickCertified,
        Self::ChildSick,
        Self::Welfare,
        Self::Leave,
        Self::ApprovedUnpaid,
        Self::Unexcused,
    ];
}

impl FromStr for AbsenceKind {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == text)
            // The text is not echoed: an error may reach a client or a log,
            // and what was sent could be anything, an identity number too.
            .ok_or_else(|| {
                let kinds: Vec<&str> = Self::ALL.iter().map(|k| k.as_str()).collect();
                format!("is not an absence kind (one of {})", kinds.join(", "))
            })
    }
}

/// A caseworker's sanction decision (vedtak om trekk) on unexcused hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Decision {
    /// The deduction is decided: the hours are deducted.
    Approved,
    /// The deduction is refused: the hours are paid.
    Rejected,
}

/// One entry of a day: `hours` of `kind`, with the sanction decision if any.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayEntry {
    /// The day.
    pub date: Date,
    /// What the hours were.
    pub kind: AbsenceKind,
    /// How many hours (0–24).
    #[serde(deserialize_with = "crate::decimal::exact")]
    pub hours: Decimal,
    /// The sanction decision, for hours that are or become unexcused; `None` is pending.
    #[serde(default)]
    pub decision: Option<Decision>,
}

/// Kinds of pause in a programme (R3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PauseKind {
    /// Midlertidig avbrudd: a temporary interruption.
    Interrupted,
    /// Stans under § 34.
    Stopped,
}

/// A pause in the programme: no entitlement on its days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pause {
    /// First day of the pause.
    pub from: Date,
    /// Last day of the pause; `None` while it is open-ended.
    #[serde(default)]
    pub to: Option<Date>,
    /// Interruption or stop.
    pub kind: PauseKind,
}

impl Pause {
    /// The days of the pause as a range.
    pub fn range(&self) -> DateRange {
        DateRange {
            from: self.from,
            to: self.to,
        }
    }
}

/// The programme decision: the period and its pauses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Programme {
    /// First day of the programme.
    pub start: Date,
    /// Last day of the programme, if decided.
    #[serde(default)]
    pub end: Option<Date>,
    /// Interruptions and stops.
    #[serde(default)]
    pub pauses: Vec<Pause>,
}

impl Programme {
    /// The programme's days as a range.
    pub fn period(&self) -> DateRange {
        DateRange {
            from: self.start,
            to: self.end,
        }
    }

    /// R3: inside the programme period and not inside a pause.
    pub fn is_entitled_on(&self, date: Date) -> bool {
        self.period().contains(date) && !self.pauses.iter().any(|p| p.range().contains(date))
    }
}

/// R3: a day is entitled when one of the participant's programme periods
/// entitles it (they never overlap, so at most one does).
pub fn is_entitled_on(programmes: &[Programme], date: Date) -> bool {
    programmes.iter().any(|p| p.is_entitled_on(date))
}

/// R6: the latest programme period that started on or before `date`.
pub fn latest_started_by(programmes: &[Programme], date: Date) -> Option<&Programme> {
    programmes
        .iter()
        .filter(|p| p.start <= date)
        .max_by_key(|p| p.start)
}

/// R3: the first two periods (by position) that share a day, if any.
pub fn first_overlap(programmes: &[Programme]) -> Option<(usize, usize)> {
    (0..programmes.len()).find_map(|i| {
        (0..i)
            .find(|j| programmes[*j].period().overlaps(&programmes[i].period()))
            .map(|j| (j, i))
    })
}

/// A child of the participant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Child {
    /// The child's birth date.
    pub birth_date: Date,
}

/// The participant facts the rules use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Participant {
    /// Birth date (R2: the under-25 rate until the 25th birthday).
    pub birth_date: Date,
    /// Children, for the child supplement (R13) and the child's-sickness quota (R8).
    pub children: Vec<Child>,
    /// Periods in which the participant is a sole carer (R8 doubles the quota).
    pub sole_carer: Vec<DateRange>,
}

impl Participant {
    /// True when the participant is a sole carer on `date`.
    pub fn is_sole_carer_on(&self, date: Date) -> bool {
        self.sole_carer.iter().any(|r| r.contains(date))
    }
}

/// Kinds of other livelihood benefits that reduce the stipend krone for krone (R11).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OffsetKind {
    /// Sickness benefit.
    Sykepenger,
    /// Unemployment benefit.
    Dagpenger,
    /// Parental benefit.
    Foreldrepenger,
    /// Any other livelihood benefit.
    OtherLivelihood,
}

impl OffsetKind {
    /// Every kind.
    pub const ALL: [OffsetKind; 4] = [
        Self::Sykepenger,
        Self::Dagpenger,
        Self::Foreldrepenger,
        Self::OtherLivelihood,
    ];

    /// The name used in files and APIs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sykepenger => "SYKEPENGER",
            Self::Dagpenger => "DAGPENGER",
            Self::Foreldrepenger => "FORELDREPENGER",
            Self::OtherLivelihood => "OTHER_LIVELIHOOD",
        }
    }
}

impl FromStr for OffsetKind {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == text)
            // The text is not echoed, as for an absence kind.
            .ok_or_else(|| {
                let kinds: Vec<&str> = Self::ALL.iter().map(|k| k.as_str()).collect();
                format!("is not a benefit kind (one of {})", kinds.join(", "))
            })
    }
}

/// Another livelihood benefit received for the month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Offset {
    /// Which benefit.
    pub kind: OffsetKind,
    /// The amount for the month, in kroner.
    #[serde(deserialize_with = "crate::decimal::exact")]
    pub amount: Decimal,
}

/// Everything one participant's month is computed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonthFacts {
    /// The month to compute.
    pub month: YearMonth,
    /// The participant.
    pub participant: Participant,
    /// The programme periods (R3): never overlapping, each with its pauses.
    pub programmes: Vec<Programme>,
    /// Date ranges covered by accepted timesheets (R12).
    pub covered: Vec<DateRange>,
    /// Day entries, including history before the month (the quotas count it).
    pub days: Vec<DayEntry>,
    /// Other livelihood benefits for the month (R11).
    pub offsets: Vec<Offset>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn months_parse_print_and_step() {
        let m: YearMonth = "2024-12".parse().unwrap();
        assert_eq!(m.to_string(), "2024-12");
        assert_eq!(m.next().to_string(), "2025-01");
        assert_eq!(m.previous().to_string(), "2024-11");
        assert_eq!(m.days().count(), 31);
        assert!("2024-13".parse::<YearMonth>().is_err());
        assert!("2024-1".parse::<YearMonth>().is_err());
    }

    #[test]
    fn open_ranges_contain_everything_after_their_start() {
        let open = DateRange {
            from: date!(2025 - 01 - 10),
            to: None,
        };
        assert!(open.contains(date!(2099 - 01 - 01)));
        assert!(!open.contains(date!(2025 - 01 - 09)));
        let closed = DateRange {
            from: date!(2024 - 12 - 01),
            to: Some(date!(2025 - 01 - 10)),
        };
        assert!(open.overlaps(&closed));
        let before = DateRange {
            from: date!(2024 - 12 - 01),
            to: Some(date!(2025 - 01 - 09)),
        };
        assert!(!open.overlaps(&before));
    }
}
