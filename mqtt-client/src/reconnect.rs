//! Reconnect policy: exponential back-off with jitter drawn from the
//! machine's seeded PRNG.

use std::time::Duration;

use crate::rng::Rng;

/// Exponential back-off between reconnect attempts. Attempt `n` (from 0)
/// waits a uniformly random time in `[d/2, d]`, where
/// `d = min(max, initial × 2ⁿ)` ("equal jitter"), so clients that lost a
/// broker together do not come back together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Backoff {
    /// The wait before the first attempt (upper bound).
    pub initial: Duration,
    /// The longest wait.
    pub max: Duration,
}

impl Default for Backoff {
    /// 1 s doubling up to 60 s.
    fn default() -> Self {
        Self {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(60),
        }
    }
}

impl Backoff {
    /// A back-off from `initial` doubling up to `max`.
    #[must_use]
    pub fn new(initial: Duration, max: Duration) -> Self {
        Self { initial, max }
    }

    /// The upper bound of the wait before attempt `attempt`.
    #[must_use]
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let factor = 1u32 << attempt.min(20);
        self.initial.saturating_mul(factor).min(self.max)
    }

    pub(crate) fn delay(&self, attempt: u32, rng: &mut Rng) -> Duration {
        let d = self.ceiling(attempt);
        let half = d / 2;
        let span = u64::try_from((d - half).as_micros()).unwrap_or(u64::MAX);
        half + Duration::from_micros(rng.below(span.saturating_add(1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_max_and_stay_in_the_jitter_band() {
        let b = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
        let mut rng = Rng::new(3);
        for attempt in 0..40 {
            let ceil = b.ceiling(attempt);
            let d = b.delay(attempt, &mut rng);
            assert!(
                d >= ceil / 2 && d <= ceil,
                "attempt {attempt}: {d:?} vs {ceil:?}"
            );
        }
        assert_eq!(b.ceiling(0), Duration::from_millis(100));
        assert_eq!(b.ceiling(3), Duration::from_millis(800));
        assert_eq!(b.ceiling(4), Duration::from_secs(1));
    }

    #[test]
    fn jitter_differs_between_seeds() {
        let b = Backoff::default();
        let a: Vec<Duration> = (0..5).map(|i| b.delay(i, &mut Rng::new(1))).collect();
        let c: Vec<Duration> = (0..5).map(|i| b.delay(i, &mut Rng::new(2))).collect();
        assert_ne!(a, c);
    }
}
