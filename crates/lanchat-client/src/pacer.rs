//! Pacing what we send to the rate the server advertised, so that a long
//! paste (or a script piping lines in) goes out as fast as the room allows
//! and is never held back long enough to be kicked as a flood. The server
//! meters frames with a token bucket (`limits.rate` a second, a burst of
//! `limits.burst`); the client keeps a bucket of its own a little inside
//! it.

use std::time::Duration;

use lanchat_proto::Limits;
use tokio::time::Instant;

/// The share of the advertised rate and burst the client uses: timing on
/// the two machines differs a little, and a margin keeps the server's
/// bucket from ever running dry.
const MARGIN: f64 = 0.9;

/// A token bucket on the sending side.
#[derive(Debug, Clone)]
pub struct Pacer {
    /// Lines a second; 0 means no pacing.
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl Pacer {
    /// A pacer for the server's advertised limits; without limits (a
    /// revision 1 server) or with no rate limit, it never waits.
    pub fn new(limits: Option<&Limits>, now: Instant) -> Self {
        let (rate, burst) = match limits {
            Some(l) if l.rate > 0.0 => (l.rate * MARGIN, (f64::from(l.burst) * MARGIN).max(1.0)),
            _ => (0.0, 1.0),
        };
        Pacer {
            rate,
            burst,
            tokens: burst,
            last: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.last = now;
    }

    /// When the next line may be sent (now, or later).
    pub fn ready_at(&mut self, now: Instant) -> Instant {
        if self.rate <= 0.0 {
            return now;
        }
        self.refill(now);
        if self.tokens >= 1.0 {
            now
        } else {
            now + Duration::from_secs_f64((1.0 - self.tokens) / self.rate)
        }
    }

    /// A line was sent at `now`.
    pub fn sent(&mut self, now: Instant) {
        if self.rate > 0.0 {
            self.refill(now);
            self.tokens -= 1.0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(rate: f64, burst: u32) -> Limits {
        Limits {
            text: 4096,
            name: 32,
            frame_in: 16384,
            frame_out: 16384,
            rate,
            burst,
            label: 64,
        }
    }

    /// A 120-line paste, sent as the pacer allows, never runs the server's
    /// own bucket dry, so it is never held back, let alone kicked.
    #[test]
    fn a_paste_stays_inside_the_servers_bucket() {
        let t0 = Instant::now();
        let mut pacer = Pacer::new(Some(&limits(5.0, 20)), t0);
        let (mut server_tokens, mut server_last) = (20.0_f64, t0);
        let mut now = t0;
        for _ in 0..120 {
            now = pacer.ready_at(now);
            pacer.sent(now);
            let elapsed = now.duration_since(server_last).as_secs_f64();
            server_tokens = (server_tokens + elapsed * 5.0).min(20.0);
            server_last = now;
            assert!(server_tokens >= 1.0, "the server would hold a line back");
            server_tokens -= 1.0;
        }
        // And it is not slower than it must be: 120 lines at 4.5 a second
        // after a burst of 18.
        assert!(now.duration_since(t0) < Duration::from_secs(23));
    }

    #[test]
    fn no_limits_means_no_waiting() {
        let t0 = Instant::now();
        let mut pacer = Pacer::new(None, t0);
        for _ in 0..1000 {
            assert_eq!(pacer.ready_at(t0), t0);
            pacer.sent(t0);
        }
    }
}
