//! A token bucket: a steady rate with a burst allowance, so a person can
//! paste a few lines at once but nobody can keep up more than the rate.

use std::time::Duration;

use tokio::time::Instant;

/// Tokens refill at `rate` per second up to `burst`; each frame takes one.
#[derive(Debug, Clone)]
pub(crate) struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket. A `rate` of 0 means no limit.
    pub(crate) fn new(rate: f64, burst: u32, now: Instant) -> Self {
        let burst = f64::from(burst.max(1));
        TokenBucket {
            rate,
            burst,
            tokens: burst,
            last: now,
        }
    }

    /// Takes a token if there is one. Otherwise returns when there will be,
    /// and takes nothing.
    pub(crate) fn take(&mut self, now: Instant) -> Result<(), Instant> {
        if self.rate <= 0.0 {
            return Ok(());
        }
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - self.tokens) / self.rate;
            Err(now + Duration::from_secs_f64(wait))
        }
    }

    /// Charges `amount` for something already done (bytes already read):
    /// the bucket may go into debt, and then returns when the debt is paid.
    pub(crate) fn charge(&mut self, now: Instant, amount: f64) -> Result<(), Instant> {
        if self.rate <= 0.0 {
            return Ok(());
        }
        self.refill(now);
        self.tokens -= amount;
        if self.tokens >= 0.0 {
            Ok(())
        } else {
            Err(now + Duration::from_secs_f64(-self.tokens / self.rate))
        }
    }

    /// The tokens left at `now`, to carry over to a later bucket.
    pub(crate) fn tokens(&mut self, now: Instant) -> f64 {
        self.refill(now);
        self.tokens
    }

    /// Continues from a saved state: `tokens` as counted at `at`.
    pub(crate) fn resume(&mut self, tokens: f64, at: Instant) {
        self.tokens = tokens.min(self.burst);
        self.last = at;
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.last = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_steady_rate() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(2.0, 3, t0);
        assert!((0..3).all(|_| b.take(t0).is_ok()));
        let next = b.take(t0).unwrap_err();
        assert_eq!(next - t0, Duration::from_millis(500));
        assert!(b.take(next).is_ok());
        assert!(b.take(next).is_err());
    }

    #[test]
    fn a_charge_runs_into_debt_and_says_when_it_is_paid() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(100.0, 1000, t0);
        assert!(b.charge(t0, 600.0).is_ok());
        let paid = b.charge(t0, 600.0).unwrap_err();
        assert_eq!(paid - t0, Duration::from_secs(2));
        assert!(b.charge(paid, 0.0).is_ok());
    }

    #[test]
    fn zero_means_unlimited() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(0.0, 1, t0);
        assert!((0..10_000).all(|_| b.take(t0).is_ok()));
    }
}
