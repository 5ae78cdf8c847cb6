//! Retrying a call the service could not take (UNAVAILABLE: restarting,
//! overloaded, a connection dropped). Every call of the contract is
//! idempotent (a timesheet on its payload's digest, a close on municipality
//! and month, a confirmation on run and participant), so a retry after a lost
//! answer gets the first answer again and never pays twice.

use std::future::Future;
use std::time::Duration;

use tonic::{Code, Status};

/// How often and how patiently a call is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    /// Attempts in all, the first included (1: no retry).
    pub attempts: u32,
    /// The pause before the first retry; each following pause doubles.
    pub first_pause: Duration,
    /// The longest pause.
    pub longest_pause: Duration,
}

impl Default for Retry {
    /// Six attempts over about six seconds: long enough for a restart
    /// behind a load balancer, short enough for a caller to see the outage.
    fn default() -> Self {
        Self {
            attempts: 6,
            first_pause: Duration::from_millis(200),
            longest_pause: Duration::from_secs(2),
        }
    }
}

impl Retry {
    /// No retries.
    pub const NONE: Self = Self {
        attempts: 1,
        first_pause: Duration::ZERO,
        longest_pause: Duration::ZERO,
    };

    /// The pause after failed attempt `attempt` (1-based).
    pub fn pause(&self, attempt: u32) -> Duration {
        let doubling = 2u32.saturating_pow(attempt.saturating_sub(1));
        self.first_pause
            .saturating_mul(doubling)
            .min(self.longest_pause)
    }

    /// Runs `call` until it succeeds, fails with anything but UNAVAILABLE,
    /// or has been attempted `attempts` times; the last answer is returned.
    pub async fn run<T, F, Fut>(&self, mut call: F) -> Result<T, Status>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Status>>,
    {
        let mut attempt = 1;
        loop {
            match call().await {
                Err(status) if status.code() == Code::Unavailable && attempt < self.attempts => {
                    tokio::time::sleep(self.pause(attempt)).await;
                    attempt += 1;
                }
                answer => return answer,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_double_up_to_the_longest() {
        let retry = Retry {
            attempts: 10,
            first_pause: Duration::from_millis(100),
            longest_pause: Duration::from_millis(500),
        };
        let pauses: Vec<u128> = (1..=5).map(|a| retry.pause(a).as_millis()).collect();
        assert_eq!(pauses, [100, 200, 400, 500, 500]);
    }
}
