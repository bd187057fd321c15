//! A token bucket: a steady rate with a burst allowance, so a person can
//! paste a few lines at once but nobody can keep up more than the rate.
//!
//! Times are milliseconds on the owner's clock (a session counts from its
//! start): every connection keeps two buckets, and at 16 bytes each they
//! are a third of what they were with an `Instant` and `f64`s.

/// Tokens refill at `rate` per second up to `burst`; each frame takes one.
#[derive(Debug, Clone)]
pub(crate) struct TokenBucket {
    rate: f32,
    burst: f32,
    tokens: f32,
    /// When `tokens` was counted, in milliseconds.
    last: u32,
}

impl TokenBucket {
    /// A full bucket at `now` (milliseconds). A `rate` of 0 means no
    /// limit.
    pub(crate) fn new(rate: f64, burst: u32, now: u32) -> Self {
        let burst = burst.max(1) as f32;
        TokenBucket {
            rate: rate as f32,
            burst,
            tokens: burst,
            last: now,
        }
    }

    /// Takes a token if there is one. Otherwise returns when there will be
    /// (in milliseconds), and takes nothing.
    pub(crate) fn take(&mut self, now: u32) -> Result<(), u32> {
        if self.rate <= 0.0 {
            return Ok(());
        }
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(self.when(now, 1.0 - self.tokens))
        }
    }

    /// Charges `amount` for something already done (bytes already read):
    /// the bucket may go into debt, and then returns when the debt is paid.
    pub(crate) fn charge(&mut self, now: u32, amount: f64) -> Result<(), u32> {
        if self.rate <= 0.0 {
            return Ok(());
        }
        self.refill(now);
        self.tokens -= amount as f32;
        if self.tokens >= 0.0 {
            Ok(())
        } else {
            Err(self.when(now, -self.tokens))
        }
    }

    /// The tokens left at `now`, to carry over to a later bucket.
    pub(crate) fn tokens(&mut self, now: u32) -> f64 {
        self.refill(now);
        f64::from(self.tokens)
    }

    /// Continues from a saved state: `tokens` as counted `ago` seconds
    /// before `now`.
    pub(crate) fn resume(&mut self, tokens: f64, ago: f64, now: u32) {
        let refilled = tokens + ago.max(0.0) * f64::from(self.rate);
        self.tokens = (refilled as f32).min(self.burst);
        self.last = now;
    }

    /// The clock's zero moved `by` milliseconds later.
    pub(crate) fn rebase(&mut self, by: u32) {
        self.last = self.last.saturating_sub(by);
    }

    /// When `missing` tokens will have come, rounded up to the millisecond
    /// so that they have by then.
    fn when(&self, now: u32, missing: f32) -> u32 {
        let ms = (f64::from(missing) * 1000.0 / f64::from(self.rate)).ceil();
        now.saturating_add(ms.min(f64::from(u32::MAX)) as u32)
    }

    fn refill(&mut self, now: u32) {
        let elapsed = f64::from(now.saturating_sub(self.last)) / 1000.0;
        let tokens = f64::from(self.tokens) + elapsed * f64::from(self.rate);
        self.tokens = (tokens as f32).min(self.burst);
        self.last = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_steady_rate() {
        let mut b = TokenBucket::new(2.0, 3, 0);
        assert!((0..3).all(|_| b.take(0).is_ok()));
        let next = b.take(0).unwrap_err();
        assert_eq!(next, 500);
        assert!(b.take(next).is_ok());
        assert!(b.take(next).is_err());
    }

    #[test]
    fn a_charge_runs_into_debt_and_says_when_it_is_paid() {
        let mut b = TokenBucket::new(100.0, 1000, 0);
        assert!(b.charge(0, 600.0).is_ok());
        let paid = b.charge(0, 600.0).unwrap_err();
        assert_eq!(paid, 2000);
        assert!(b.charge(paid, 0.0).is_ok());
    }

    #[test]
    fn zero_means_unlimited() {
        let mut b = TokenBucket::new(0.0, 1, 0);
        assert!((0..10_000).all(|_| b.take(0).is_ok()));
    }

    #[test]
    fn a_saved_budget_refills_for_the_time_in_between() {
        let mut b = TokenBucket::new(2.0, 10, 0);
        // Left with 1 token 2 s ago: 5 now, not a fresh burst of 10.
        b.resume(1.0, 2.0, 0);
        assert_eq!(b.tokens(0), 5.0);
        b.resume(1.0, 3600.0, 0);
        assert_eq!(b.tokens(0), 10.0);
    }
}
