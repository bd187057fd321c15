//! Log lines a peer can cause, limited in rate: a hostile server sending
//! a flood of malformed frames must not fill the disk with the client's
//! log. At most one line per period is written, saying how many were
//! left out since the last.

use std::time::Duration;

use tokio::time::Instant;

/// The longest excerpt of peer-controlled text a log line may hold.
pub const MAX_LOGGED_CHARS: usize = 200;

/// Allows one log line per `every`.
#[derive(Debug, Clone)]
pub struct LogLimit {
    every: Duration,
    last: Option<Instant>,
    suppressed: u64,
}

impl LogLimit {
    pub const fn new(every: Duration) -> Self {
        LogLimit {
            every,
            last: None,
            suppressed: 0,
        }
    }

    /// Whether to log now; if so, how many lines were left out before it.
    pub fn allow(&mut self, now: Instant) -> Option<u64> {
        match self.last {
            Some(last) if now.duration_since(last) < self.every => {
                self.suppressed += 1;
                None
            }
            _ => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.suppressed))
            }
        }
    }
}

/// At most [`MAX_LOGGED_CHARS`] characters of `text`, marked if cut.
pub fn excerpt(text: &str) -> String {
    lanchat_core::text::excerpt(text, MAX_LOGGED_CHARS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_period_with_a_count_of_the_rest() {
        let t0 = Instant::now();
        let mut limit = LogLimit::new(Duration::from_secs(1));
        assert_eq!(limit.allow(t0), Some(0));
        for i in 1..=100_000u64 {
            let now = t0 + Duration::from_micros(i * 5);
            assert_eq!(limit.allow(now), None);
        }
        assert_eq!(limit.allow(t0 + Duration::from_secs(1)), Some(100_000));
        assert_eq!(
            excerpt(&"x".repeat(10_000)).chars().count(),
            MAX_LOGGED_CHARS + 1
        );
    }
}
