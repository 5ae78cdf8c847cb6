//! The service's clock. Every instant the service records or compares
//! (received and accepted times, decision dates, key validity, "the month
//! has ended", audit timestamps) comes from [`now`].
//!
//! It is the system clock, except in the sandbox (`kvp-payroll sandbox`),
//! where an integrator's test moves "today" forward to close a month
//! without waiting for it to end. The sandbox is a process of its own, so
//! the clock is one per process; outside the sandbox it cannot be moved.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

use time::{Date, Duration, OffsetDateTime};

/// Days the clock is ahead of the system's.
static AHEAD_DAYS: AtomicI64 = AtomicI64::new(0);
/// Whether the clock may be moved (the sandbox only).
static MOVABLE: AtomicBool = AtomicBool::new(false);

/// How far ahead of the real date the sandbox's clock may go: its
/// certificates and tokens are valid well beyond that.
pub const MAX_AHEAD_DAYS: i64 = 5 * 366;

/// Now, by the service's clock.
pub fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc() + Duration::days(AHEAD_DAYS.load(Ordering::Relaxed))
}

/// Today's date in Norway, by the service's clock.
pub fn today() -> Date {
    kvp_rules::calendar::date_in_norway(now())
}

/// Lets the clock be moved, for the rest of the process (the sandbox).
pub fn make_movable() {
    MOVABLE.store(true, Ordering::Relaxed);
}

/// Whether the clock may be moved (the sandbox).
pub fn is_movable() -> bool {
    MOVABLE.load(Ordering::Relaxed)
}

/// Why the clock was not moved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClockError {
    /// Not in the sandbox.
    #[error("the clock is the system's outside the sandbox")]
    Fixed,
    /// Time runs forward only: what was recorded must stay in the past.
    #[error("the clock only moves forward: today is already {today}")]
    Backwards {
        /// Today, by the clock.
        today: Date,
    },
    /// Beyond what the sandbox's certificates and tokens cover.
    #[error("at most {MAX_AHEAD_DAYS} days ahead of the real date ({latest} at the latest)")]
    TooFar {
        /// The latest date allowed.
        latest: Date,
    },
}

/// Moves the clock forward so that today (in Norway) is `date`; the time of
/// day keeps running. Returns the new today.
pub fn move_to(date: Date) -> Result<Date, ClockError> {
    if !is_movable() {
        return Err(ClockError::Fixed);
    }
    let current = today();
    if date < current {
        return Err(ClockError::Backwards { today: current });
    }
    let real = kvp_rules::calendar::date_in_norway(OffsetDateTime::now_utc());
    let ahead = (date - real).whole_days();
    if ahead > MAX_AHEAD_DAYS {
        return Err(ClockError::TooFar {
            latest: real + Duration::days(MAX_AHEAD_DAYS),
        });
    }
    AHEAD_DAYS.store(ahead, Ordering::Relaxed);
    Ok(today())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outside_the_sandbox_the_clock_is_the_systems() {
        // The unit tests never make it movable: this process is not a sandbox.
        assert_eq!(move_to(today()), Err(ClockError::Fixed));
        let before = OffsetDateTime::now_utc();
        let now = now();
        assert!(
            now >= before && now - before < Duration::seconds(5),
            "{now}"
        );
    }
}
