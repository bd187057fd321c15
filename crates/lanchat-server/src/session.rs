//! [`Session`]: the rules every connection obeys, whatever its door, as a
//! state machine with no IO and no clock of its own.
//!
//! A door's IO loop tells it what happened (bytes heard, a frame to admit,
//! a bad frame, a pong, a write that could not finish) and when, asks it
//! for the next [`Session::deadline`], and calls [`Session::due`] when that
//! time comes. The session answers with what to do: ping, resume reading,
//! or close with a [`Fault`]. Because the time is always passed in, tests
//! drive it with instants of their choosing instead of sleeping.
//!
//! The rules:
//!
//! - registration must finish within `register_timeout` of the start;
//! - a silent peer is pinged after `ping_interval` and closed after
//!   `ping_timeout`; a pong nobody asked for is a bad frame;
//! - every frame takes a token from a bucket (`rate`, `burst`); without
//!   one, the door stops reading until [`Admit::Later`], so TCP pushes back,
//!   and a peer held back without a break for `flood_kick_after` is closed;
//! - a bad frame before registration closes the connection (the peer does
//!   not speak the protocol); after, `max_bad_frames` are tolerated;
//! - a write that cannot finish within `write_timeout` closes it.

use std::sync::Arc;
use std::time::Duration;

use lanchat_core::LeaveReason;
use tokio::time::Instant;

use crate::config::Config;
use crate::rate::TokenBucket;

/// The numbers a [`Session`] enforces.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SessionLimits {
    pub register_timeout: Duration,
    pub ping_interval: Duration,
    pub ping_timeout: Duration,
    pub write_timeout: Duration,
    pub rate: f64,
    pub burst: u32,
    pub flood_kick_after: Duration,
    pub max_bad_frames: u32,
    /// What one frame's token is worth in bytes read: everything read is
    /// metered too (blank lines, pongs, partial frames), at `rate` times
    /// this a second with a burst of `burst` times this.
    pub bytes_per_frame: usize,
}

impl SessionLimits {
    /// The limits a server's configuration sets.
    pub fn of(config: &Config) -> Self {
        SessionLimits {
            register_timeout: config.register_timeout,
            ping_interval: config.ping_interval,
            ping_timeout: config.ping_timeout,
            write_timeout: config.write_timeout,
            rate: config.rate_limit,
            burst: config.rate_burst,
            flood_kick_after: config.flood_kick_after,
            max_bad_frames: config.max_bad_frames,
            bytes_per_frame: config.max_frame_len,
        }
    }
}

/// Why a session must end. Doors tell the peer (when it can still be told)
/// and announce the departure with [`Fault::leave_reason`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// No name was registered in time.
    RegisterTimeout,
    /// The peer stopped answering.
    PingTimeout,
    /// The peer stopped reading.
    WriteTimeout,
    /// Over the rate limit for too long.
    Flood,
    /// Too many malformed frames.
    BadFrames,
    /// A frame longer than the limit.
    FrameTooLong,
    /// The first frame was not the door's protocol at all.
    NotProtocol,
}

impl Fault {
    /// The error sent before the goodbye, if any: (code, text).
    pub fn error(self) -> Option<(&'static str, &'static str)> {
        Some(match self {
            Fault::RegisterTimeout => ("timeout", "no name was registered in time"),
            Fault::Flood => ("flood", "you are sending faster than the room allows"),
            Fault::PingTimeout | Fault::WriteTimeout => return None,
            Fault::BadFrames | Fault::FrameTooLong | Fault::NotProtocol => return None,
        })
    }

    /// The goodbye's code and reason, or `None` when the peer can no longer
    /// be told anything (it stopped answering or reading).
    pub fn bye(self) -> Option<(&'static str, &'static str)> {
        Some(match self {
            Fault::RegisterTimeout => ("timeout", "registration timed out"),
            Fault::Flood => ("flood", "flooding"),
            Fault::BadFrames => ("bad_frames", "too many malformed frames"),
            Fault::FrameTooLong => ("frame_too_long", "frame too long"),
            Fault::NotProtocol => (
                "not_lanchat",
                "this is a lanchat server; that was not a lanchat frame",
            ),
            Fault::PingTimeout | Fault::WriteTimeout => return None,
        })
    }

    /// How the room announces the departure of a registered member.
    pub fn leave_reason(self) -> LeaveReason {
        match self {
            Fault::PingTimeout => LeaveReason::TimedOut,
            Fault::WriteTimeout => LeaveReason::TooSlow,
            Fault::RegisterTimeout => LeaveReason::Dropped,
            Fault::Flood | Fault::BadFrames | Fault::FrameTooLong | Fault::NotProtocol => {
                LeaveReason::Kicked
            }
        }
    }
}

/// Whether a frame may be handled now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// Handle it.
    Now,
    /// Keep it, stop reading, and offer it again at [`Session::deadline`].
    Later,
    /// Close the connection.
    Close(Fault),
}

/// What is due when the timer fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Due {
    /// Close the connection (everything else is moot).
    pub close: Option<Fault>,
    /// Send a ping with this token.
    pub ping: Option<u64>,
    /// The rate limit has a token again: offer the held frame, read again.
    pub resume: bool,
}

/// One connection's rules and timers.
#[derive(Debug, Clone)]
pub struct Session {
    /// Shared by every connection of a door: one copy, not one each.
    limits: Arc<SessionLimits>,
    registered: bool,
    register_deadline: Instant,
    last_heard: Instant,
    /// When to look at the silence next: `ping_interval` after the last
    /// frame heard, moved lazily (a frame does not re-arm the timer; the
    /// check finds it and moves on), then every `ping_interval` while the
    /// peer stays silent, and at `ping_timeout` of silence at the latest.
    next_check: Instant,
    /// The last ping token sent, and the last one answered.
    pings_sent: u64,
    pings_answered: u64,
    bucket: TokenBucket,
    throttled_until: Option<Instant>,
    /// The byte meter, and when its debt is paid if it is in debt.
    bytes: TokenBucket,
    bytes_until: Option<Instant>,
    throttled_since: Option<Instant>,
    write_deadline: Option<Instant>,
    bad_frames: u32,
}

impl Session {
    /// A session starting at `now`.
    pub fn new(limits: impl Into<Arc<SessionLimits>>, now: Instant) -> Self {
        let limits: Arc<SessionLimits> = limits.into();
        Session {
            registered: false,
            register_deadline: now + limits.register_timeout,
            last_heard: now,
            next_check: now + limits.ping_interval,
            pings_sent: 0,
            pings_answered: 0,
            bucket: TokenBucket::new(limits.rate, limits.burst, now),
            throttled_until: None,
            bytes: TokenBucket::new(
                limits.rate * limits.bytes_per_frame as f64,
                limits
                    .burst
                    .saturating_mul(limits.bytes_per_frame.min(u32::MAX as usize) as u32),
                now,
            ),
            bytes_until: None,
            throttled_since: None,
            write_deadline: None,
            bad_frames: 0,
            limits,
        }
    }

    /// Continues the frame budget of an earlier connection from the same
    /// address (`tokens` counted at `at`), so reconnecting does not start
    /// with a fresh burst.
    pub fn resume_budget(&mut self, tokens: f64, at: Instant) {
        self.bucket.resume(tokens, at);
    }

    /// The frame budget left at `now`, for the address's next connection.
    pub fn budget(&mut self, now: Instant) -> f64 {
        self.bucket.tokens(now)
    }

    /// The peer has a name in the room now.
    pub fn registered(&mut self) {
        self.registered = true;
    }

    pub fn is_registered(&self) -> bool {
        self.registered
    }

    /// Bytes arrived from the peer.
    pub fn heard(&mut self, now: Instant) {
        self.last_heard = now;
    }

    /// `n` bytes were read from the peer at `now`: heard, and metered.
    /// `Some` means close (held back without a break for too long).
    pub fn read(&mut self, now: Instant, n: usize) -> Option<Fault> {
        self.heard(now);
        if let Err(paid) = self.bytes.charge(now, n as f64) {
            self.bytes_until = Some(paid);
            let since = *self.throttled_since.get_or_insert(now);
            if now.duration_since(since) >= self.limits.flood_kick_after {
                return Some(Fault::Flood);
            }
        }
        None
    }

    /// Whether reading is paused by the rate limit.
    pub fn is_throttled(&self) -> bool {
        self.throttled_until.is_some() || self.bytes_until.is_some()
    }

    /// Offers one frame to the rate limit. `waited` is true when the frame
    /// was already held back once ([`Admit::Later`]).
    pub fn admit(&mut self, now: Instant, waited: bool) -> Admit {
        match self.bucket.take(now) {
            Ok(()) => {
                if !waited {
                    // A fresh frame found a token: within the rate again.
                    self.throttled_since = None;
                }
                self.throttled_until = None;
                Admit::Now
            }
            Err(when) => {
                let since = *self.throttled_since.get_or_insert(now);
                if now.duration_since(since) >= self.limits.flood_kick_after {
                    return Admit::Close(Fault::Flood);
                }
                self.throttled_until = Some(when);
                Admit::Later
            }
        }
    }

    /// A frame could not be parsed. `Some` means close.
    pub fn bad_frame(&mut self) -> Option<Fault> {
        self.bad_frames += 1;
        if !self.registered {
            Some(Fault::NotProtocol)
        } else if self.bad_frames > self.limits.max_bad_frames {
            Some(Fault::BadFrames)
        } else {
            None
        }
    }

    /// A pong arrived. One that answers no ping we sent is a bad frame.
    pub fn pong(&mut self, token: u64) -> Result<(), Option<Fault>> {
        if token > self.pings_answered && token <= self.pings_sent {
            self.pings_answered = token;
            Ok(())
        } else {
            Err(self.bad_frame())
        }
    }

    /// A write could not finish now: it must by the write deadline.
    pub fn write_blocked(&mut self, now: Instant) {
        self.write_deadline
            .get_or_insert(now + self.limits.write_timeout);
    }

    /// Everything written so far went out.
    pub fn write_done(&mut self) {
        self.write_deadline = None;
    }

    /// When [`Session::due`] should next be called.
    pub fn deadline(&self) -> Instant {
        let mut at = self.next_check;
        if !self.registered {
            at = at.min(self.register_deadline);
        }
        for until in [self.throttled_until, self.bytes_until, self.write_deadline]
            .into_iter()
            .flatten()
        {
            at = at.min(until);
        }
        at
    }

    /// What is due at `now`.
    pub fn due(&mut self, now: Instant) -> Due {
        let mut due = Due::default();
        if self.write_deadline.is_some_and(|until| now >= until) {
            due.close = Some(Fault::WriteTimeout);
            return due;
        }
        if !self.registered && now >= self.register_deadline {
            due.close = Some(Fault::RegisterTimeout);
            return due;
        }
        if self.is_throttled() {
            // Held back by the rate limit: the peer is sending, we are the
            // ones not reading. That is not silence.
            self.last_heard = self.last_heard.max(now);
        }
        if self.throttled_until.is_some_and(|until| now >= until) {
            self.throttled_until = None;
            due.resume = true;
        }
        if self.bytes_until.is_some_and(|until| now >= until) {
            self.bytes_until = None;
            due.resume = true;
        }
        if now >= self.next_check {
            let silent = now.saturating_duration_since(self.last_heard);
            if silent >= self.limits.ping_timeout {
                due.close = Some(Fault::PingTimeout);
                return due;
            }
            let give_up = self.last_heard + self.limits.ping_timeout;
            if silent >= self.limits.ping_interval {
                self.pings_sent += 1;
                due.ping = Some(self.pings_sent);
                self.next_check = (now + self.limits.ping_interval).min(give_up);
            } else {
                self.next_check = self.last_heard + self.limits.ping_interval;
            }
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> SessionLimits {
        SessionLimits {
            register_timeout: Duration::from_secs(10),
            ping_interval: Duration::from_secs(10),
            ping_timeout: Duration::from_secs(25),
            write_timeout: Duration::from_secs(10),
            rate: 5.0,
            burst: 20,
            flood_kick_after: Duration::from_secs(15),
            max_bad_frames: 10,
            bytes_per_frame: 1000,
        }
    }

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    /// A start instant; every other instant is an offset from it.
    fn t0() -> Instant {
        Instant::now()
    }

    #[test]
    fn no_name_in_time_closes_at_the_deadline() {
        let t0 = t0();
        let mut s = Session::new(limits(), t0);
        assert_eq!(s.deadline(), t0 + secs(10.0));
        s.heard(t0 + secs(9.0));
        assert_eq!(s.due(t0 + secs(9.9)), Due::default());
        assert_eq!(s.due(t0 + secs(10.0)).close, Some(Fault::RegisterTimeout));
        let mut s = Session::new(limits(), t0);
        s.registered();
        assert_eq!(s.due(t0 + secs(10.0)).close, None);
    }

    #[test]
    fn a_silent_peer_is_pinged_then_closed_and_a_talking_one_is_not() {
        let t0 = t0();
        let mut s = Session::new(limits(), t0);
        s.registered();
        assert_eq!(s.due(t0 + secs(10.0)).ping, Some(1));
        assert_eq!(s.deadline(), t0 + secs(20.0));
        // One lost ping is tolerated: a second one, then the timeout at
        // exactly `ping_timeout` of silence.
        assert_eq!(s.due(t0 + secs(20.0)).ping, Some(2));
        assert_eq!(s.deadline(), t0 + secs(25.0));
        assert_eq!(s.due(t0 + secs(24.9)).close, None);
        assert_eq!(s.due(t0 + secs(25.0)).close, Some(Fault::PingTimeout));

        let mut s = Session::new(limits(), t0);
        s.registered();
        for t in 1..100 {
            s.heard(t0 + secs(f64::from(t) * 5.0));
            let due = s.due(t0 + secs(f64::from(t) * 5.0));
            assert_eq!(due.close, None, "at {t}");
            assert_eq!(due.ping, None, "at {t}");
        }
    }

    /// The ping comes `ping_interval` after the last frame heard, and the
    /// drop `ping_timeout` after it, whatever the phase of the timer.
    #[test]
    fn silence_is_timed_from_the_last_frame_heard() {
        let t0 = t0();
        for heard in [0.5, 3.0, 9.9] {
            let mut s = Session::new(limits(), t0);
            s.registered();
            s.heard(t0 + secs(heard));
            // The first check finds the frame and moves on, without a ping.
            assert_eq!(s.due(s.deadline()), Due::default(), "heard at {heard}");
            assert_eq!(s.deadline(), t0 + secs(heard + 10.0));
            assert_eq!(s.due(s.deadline()).ping, Some(1), "heard at {heard}");
            let mut now = s.deadline();
            while s.due(now).close.is_none() {
                now = s.deadline();
            }
            assert_eq!(now, t0 + secs(heard + 25.0), "heard at {heard}");
        }
    }

    #[test]
    fn a_peer_held_back_by_the_rate_limit_is_not_pinged() {
        let t0 = t0();
        let mut s = Session::new(limits(), t0);
        s.registered();
        for _ in 0..20 {
            assert_eq!(s.admit(t0, false), Admit::Now);
        }
        // Held back from now on, answering each resume with another frame
        // that is held back again, for 12 s: longer than the ping interval.
        let mut now = t0;
        while now < t0 + secs(12.0) {
            assert_eq!(s.admit(now, true), Admit::Later);
            now = s.deadline();
            let due = s.due(now);
            assert_eq!(due.ping, None, "pinged at {:?}", now - t0);
            assert_eq!(due.close, None);
            // Take the token that the resume made available.
            let _ = s.admit(now, true);
        }
    }

    /// Bytes are metered whether or not they make frames (blank lines):
    /// a burst's worth, then the rate, then a kick for holding on.
    #[test]
    fn every_byte_read_is_metered() {
        let t0 = t0();
        let mut s = Session::new(limits(), t0);
        s.registered();
        // 20 frames' worth at once is the burst.
        assert_eq!(s.read(t0, 20_000), None);
        assert!(!s.is_throttled());
        assert_eq!(s.read(t0, 5_000), None);
        assert!(s.is_throttled());
        // 5,000 bytes of debt at 5,000 bytes a second: a second.
        assert_eq!(s.deadline(), t0 + secs(1.0));
        assert!(s.due(t0 + secs(1.0)).resume);
        assert!(!s.is_throttled());
        // Keeping the pipe full past the kick: closed as a flood.
        let mut now = t0 + secs(1.0);
        let mut fault = None;
        while fault.is_none() && now < t0 + secs(60.0) {
            fault = s.read(now, 10_000);
            now = s.deadline();
            s.due(now);
        }
        assert_eq!(fault, Some(Fault::Flood));
        assert!(now <= t0 + secs(17.0), "kicked late: {:?}", now - t0);
    }

    #[test]
    fn pongs_must_answer_a_ping() {
        let t0 = t0();
        let mut s = Session::new(limits(), t0);
        s.registered();
        assert_eq!(s.pong(1), Err(None), "no ping was sent: a bad frame");
        let ping = s.due(t0 + secs(10.0)).ping.unwrap();
        assert_eq!(s.pong(ping), Ok(()));
        assert_eq!(s.pong(ping), Err(None), "answered twice");
        assert_eq!(s.bad_frames, 2);
    }

    #[test]
    fn a_burst_then_the_rate_then_a_kick_for_holding_on() {
        let t0 = t0();
        let mut s = Session::new(limits(), t0);
        s.registered();
        for _ in 0..20 {
            assert_eq!(s.admit(t0, false), Admit::Now);
        }
        assert_eq!(s.admit(t0, false), Admit::Later);
        assert!(s.is_throttled());
        assert_eq!(s.deadline(), t0 + secs(0.2));
        assert!(s.due(t0 + secs(0.2)).resume);
        assert_eq!(s.admit(t0 + secs(0.2), true), Admit::Now);
        // Always over the rate: each fresh frame is held back, offered
        // again when a token is due, and the next one is already waiting.
        let mut t = t0 + secs(0.2);
        let verdict = loop {
            match s.admit(t, false) {
                Admit::Now => {}
                Admit::Later => {
                    t = s.throttled_until.expect("held back until a token");
                    assert_eq!(s.admit(t, true), Admit::Now);
                }
                Admit::Close(fault) => break fault,
            }
        };
        let t = (t - t0).as_secs_f64();
        assert_eq!(verdict, Fault::Flood);
        assert!(t >= 15.0, "kicked after {t} s");
    }

    #[test]
    fn bad_frames_close_at_once_before_a_name_and_after_the_budget() {
        let t0 = t0();
        let mut s = Session::new(limits(), t0);
        assert_eq!(s.bad_frame(), Some(Fault::NotProtocol));
        let mut s = Session::new(limits(), t0);
        s.registered();
        for _ in 0..10 {
            assert_eq!(s.bad_frame(), None);
        }
        assert_eq!(s.bad_frame(), Some(Fault::BadFrames));
    }

    #[test]
    fn a_blocked_write_has_a_deadline_and_progress_clears_it() {
        let t0 = t0();
        let mut s = Session::new(limits(), t0);
        s.registered();
        s.write_blocked(t0 + secs(1.0));
        s.write_blocked(t0 + secs(5.0));
        assert_eq!(s.deadline(), t0 + secs(10.0), "the ping comes first");
        s.write_done();
        assert_eq!(s.due(t0 + secs(11.0)).close, None);
        s.write_blocked(t0 + secs(12.0));
        assert_eq!(s.due(t0 + secs(22.0)).close, Some(Fault::WriteTimeout));
    }
}
