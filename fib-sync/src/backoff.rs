//! Retry back-off for routes the kernel rejects (sans-IO, deterministic).

use std::time::Duration;

/// Exponential back-off: `base * 2^(attempt-1)`, capped at `max`.
///
/// No jitter: retries of many routes are batched into one netlink burst anyway, and a
/// deterministic schedule keeps the tests exact.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// Delay after the first failure.
    pub base: Duration,
    /// Upper bound.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { base: Duration::from_millis(200), max: Duration::from_secs(30) }
    }
}

impl Backoff {
    /// Delay before retrying after `attempt` consecutive failures (`attempt >= 1`).
    pub fn delay(&self, attempt: u32) -> Duration {
        let shift = attempt.saturating_sub(1).min(20);
        self.base.saturating_mul(1u32 << shift).min(self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_then_caps() {
        let b = Backoff { base: Duration::from_millis(100), max: Duration::from_secs(1) };
        assert_eq!(b.delay(1), Duration::from_millis(100));
        assert_eq!(b.delay(2), Duration::from_millis(200));
        assert_eq!(b.delay(4), Duration::from_millis(800));
        assert_eq!(b.delay(5), Duration::from_secs(1));
        assert_eq!(b.delay(1000), Duration::from_secs(1));
        assert_eq!(b.delay(0), Duration::from_millis(100));
    }
}
