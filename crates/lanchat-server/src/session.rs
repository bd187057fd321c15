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

/// When a session moves its clock's zero (see [`Session::due`]): half
/// way to where a `u32` of milliseconds runs out, about 24 days.
const REBASE_AT: u32 = 1 << 31;

/// How far back the clock's zero is put then: about 12 days, far longer
/// than any timeout, so a time from before it (clamped to it) is as good
/// as its real value.
const REBASE_KEEP: u32 = 1 << 30;

/// One connection's rules and timers.
///
/// Its times are milliseconds since `epoch` (`u32`), not `Instant`s: a
/// connection keeps seven of them, and at 4 bytes instead of 16 that
/// makes every idle connection about 100 bytes smaller. The API still
/// speaks `Instant`s; they are converted on the way in and out.
#[derive(Debug, Clone)]
pub struct Session {
    /// Shared by every connection of a door: one copy, not one each.
    limits: Arc<SessionLimits>,
    /// The zero of the session's clock: its start, moved on (rarely) by
    /// [`REBASE_KEEP`] less than the time so far.
    epoch: Instant,
    registered: bool,
    bad_frames: u32,
    last_heard: u32,
    /// When to look at the silence next: `ping_interval` after the last
    /// frame heard, moved lazily (a frame does not re-arm the timer; the
    /// check finds it and moves on), then every `ping_interval` while the
    /// peer stays silent, and at `ping_timeout` of silence at the latest.
    next_check: u32,
    /// The last ping token sent, and the last one answered.
    pings_sent: u32,
    pings_answered: u32,
    bucket: TokenBucket,
    throttled_until: Mark,
    /// The byte meter, and when its debt is paid if it is in debt.
    bytes: TokenBucket,
    bytes_until: Mark,
    throttled_since: Mark,
    write_deadline: Mark,
}

/// A time that may be unset, in the session's milliseconds and 4 bytes
/// (an `Option<u32>` takes 8): `u32::MAX`, which the session's clock
/// never reaches (see [`REBASE_AT`]), means unset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Mark(u32);

impl Mark {
    const UNSET: Mark = Mark(u32::MAX);

    fn at(time: u32) -> Mark {
        Mark(time.min(u32::MAX - 1))
    }

    fn get(self) -> Option<u32> {
        (self != Mark::UNSET).then_some(self.0)
    }

    fn is_set(self) -> bool {
        self != Mark::UNSET
    }

    /// Set, and reached at `now`.
    fn is_due(self, now: u32) -> bool {
        self.get().is_some_and(|at| now >= at)
    }
}

/// A duration in whole milliseconds, as the session counts them.
fn ms(d: Duration) -> u32 {
    u32::try_from(d.as_millis()).unwrap_or(u32::MAX)
}

impl Session {
    /// A session starting at `now`.
    pub fn new(limits: impl Into<Arc<SessionLimits>>, now: Instant) -> Self {
        let limits: Arc<SessionLimits> = limits.into();
        Session {
            epoch: now,
            registered: false,
            last_heard: 0,
            next_check: ms(limits.ping_interval),
            pings_sent: 0,
            pings_answered: 0,
            bucket: TokenBucket::new(limits.rate, limits.burst, 0),
            throttled_until: Mark::UNSET,
            bytes: TokenBucket::new(
                limits.rate * limits.bytes_per_frame as f64,
                limits
                    .burst
                    .saturating_mul(limits.bytes_per_frame.min(u32::MAX as usize) as u32),
                0,
            ),
            bytes_until: Mark::UNSET,
            throttled_since: Mark::UNSET,
            write_deadline: Mark::UNSET,
            bad_frames: 0,
            limits,
        }
    }

    /// `at` on the session's clock (times before its zero count as zero).
    fn tick(&self, at: Instant) -> u32 {
        ms(at.saturating_duration_since(self.epoch))
    }

    /// A time on the session's clock as an `Instant`.
    fn instant(&self, tick: u32) -> Instant {
        self.epoch + Duration::from_millis(tick.into())
    }

    /// Continues the frame budget of an earlier connection from the same
    /// address (`tokens` counted at `at`), so reconnecting does not start
    /// with a fresh burst.
    pub fn resume_budget(&mut self, tokens: f64, at: Instant) {
        let ago = self.epoch.saturating_duration_since(at).as_secs_f64();
        self.bucket.resume(tokens, ago, 0);
    }

    /// The frame budget left at `now`, for the address's next connection.
    pub fn budget(&mut self, now: Instant) -> f64 {
        self.bucket.tokens(self.tick(now))
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
        self.last_heard = self.tick(now);
    }

    /// `n` bytes were read from the peer at `now`: heard, and metered.
    /// `Some` means close (held back without a break for too long).
    pub fn read(&mut self, now: Instant, n: usize) -> Option<Fault> {
        let now = self.tick(now);
        self.last_heard = now;
        if let Err(paid) = self.bytes.charge(now, n as f64) {
            self.bytes_until = Mark::at(paid);
            return self.held_back(now);
        }
        None
    }

    /// Held back by the rate limit at `now`: `Some` when that has lasted
    /// without a break for too long.
    fn held_back(&mut self, now: u32) -> Option<Fault> {
        let since = self.throttled_since.get().unwrap_or(now);
        self.throttled_since = Mark::at(since);
        (now.saturating_sub(since) >= ms(self.limits.flood_kick_after)).then_some(Fault::Flood)
    }

    /// Whether reading is paused by the rate limit.
    pub fn is_throttled(&self) -> bool {
        self.throttled_until.is_set() || self.bytes_until.is_set()
    }

    /// Offers one frame to the rate limit. `waited` is true when the frame
    /// was already held back once ([`Admit::Later`]).
    pub fn admit(&mut self, now: Instant, waited: bool) -> Admit {
        let now = self.tick(now);
        match self.bucket.take(now) {
            Ok(()) => {
                if !waited {
                    // A fresh frame found a token: within the rate again.
                    self.throttled_since = Mark::UNSET;
                }
                self.throttled_until = Mark::UNSET;
                Admit::Now
            }
            Err(when) => {
                if let Some(fault) = self.held_back(now) {
                    return Admit::Close(fault);
                }
                self.throttled_until = Mark::at(when);
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
        match u32::try_from(token) {
            Ok(token) if token > self.pings_answered && token <= self.pings_sent => {
                self.pings_answered = token;
                Ok(())
            }
            _ => Err(self.bad_frame()),
        }
    }

    /// A write could not finish now: it must by the write deadline.
    pub fn write_blocked(&mut self, now: Instant) {
        if !self.write_deadline.is_set() {
            let now = self.tick(now);
            self.write_deadline = Mark::at(now.saturating_add(ms(self.limits.write_timeout)));
        }
    }

    /// Everything written so far went out.
    pub fn write_done(&mut self) {
        self.write_deadline = Mark::UNSET;
    }

    /// When [`Session::due`] should next be called.
    pub fn deadline(&self) -> Instant {
        let mut at = self.next_check;
        if !self.registered {
            at = at.min(self.register_deadline());
        }
        for until in [self.throttled_until, self.bytes_until, self.write_deadline]
            .into_iter()
            .filter_map(Mark::get)
        {
            at = at.min(until);
        }
        self.instant(at)
    }

    /// Registration must be done by then. The clock's zero is its start
    /// until long after that (see [`REBASE_AT`]).
    fn register_deadline(&self) -> u32 {
        ms(self.limits.register_timeout)
    }

    /// What is due at `now`.
    pub fn due(&mut self, now: Instant) -> Due {
        let mut tick = self.tick(now);
        if tick >= REBASE_AT {
            self.rebase(tick - REBASE_KEEP);
            tick = REBASE_KEEP;
        }
        let now = tick;
        let mut due = Due::default();
        if self.write_deadline.is_due(now) {
            due.close = Some(Fault::WriteTimeout);
            return due;
        }
        if !self.registered && now >= self.register_deadline() {
            due.close = Some(Fault::RegisterTimeout);
            return due;
        }
        if self.is_throttled() {
            // Held back by the rate limit: the peer is sending, we are the
            // ones not reading. That is not silence.
            self.last_heard = self.last_heard.max(now);
        }
        if self.throttled_until.is_due(now) {
            self.throttled_until = Mark::UNSET;
            due.resume = true;
        }
        if self.bytes_until.is_due(now) {
            self.bytes_until = Mark::UNSET;
            due.resume = true;
        }
        if now >= self.next_check {
            let (interval, timeout) = (ms(self.limits.ping_interval), ms(self.limits.ping_timeout));
            let silent = now.saturating_sub(self.last_heard);
            if silent >= timeout {
                due.close = Some(Fault::PingTimeout);
                return due;
            }
            let give_up = self.last_heard.saturating_add(timeout);
            if silent >= interval {
                self.pings_sent = self.pings_sent.saturating_add(1);
                due.ping = Some(self.pings_sent.into());
                self.next_check = now.saturating_add(interval).min(give_up);
            } else {
                self.next_check = self.last_heard.saturating_add(interval);
            }
        }
        due
    }

    /// Moves the clock's zero `by` milliseconds later, before its
    /// milliseconds run out: a connection may stay for months.
    fn rebase(&mut self, by: u32) {
        self.epoch += Duration::from_millis(by.into());
        self.last_heard = self.last_heard.saturating_sub(by);
        self.next_check = self.next_check.saturating_sub(by);
        for time in [
            &mut self.throttled_until,
            &mut self.bytes_until,
            &mut self.throttled_since,
            &mut self.write_deadline,
        ] {
            if let Some(at) = time.get() {
                *time = Mark::at(at.saturating_sub(by));
            }
        }
        self.bucket.rebase(by);
        self.bytes.rebase(by);
    }

    /// Until when a frame is held back by the rate limit, if it is.
    #[cfg(test)]
    fn throttled_until(&self) -> Option<Instant> {
        self.throttled_until.get().map(|t| self.instant(t))
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
                    t = s.throttled_until().expect("held back until a token");
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

    /// The session counts milliseconds in a `u32`, which runs out after
    /// 49 days: a member who stays for months is still pinged, timed and
    /// rate limited as on the first day.
    #[test]
    fn a_connection_that_stays_for_months_keeps_its_deadlines() {
        let t0 = t0();
        let day = 24.0 * 3600.0;
        let mut s = Session::new(limits(), t0);
        s.registered();
        // Talking, and answering pings, every 9 s for 120 days, with a
        // check whenever one is due.
        let mut now = t0;
        let end = t0 + secs(120.0 * day);
        let mut next_talk = t0;
        while now < end {
            if now >= next_talk {
                s.heard(now);
                next_talk = now + secs(9.0);
            }
            let due = s.due(now);
            assert_eq!(due.close, None, "at {:?}", now - t0);
            assert_eq!(due.ping, None, "at {:?}", now - t0);
            assert!(
                s.deadline() > now,
                "a deadline in the past at {:?}",
                now - t0
            );
            now = s.deadline().min(next_talk);
        }
        // Then silence: pinged after 10 s, dropped after 25, as on day one.
        s.heard(now);
        let heard = now;
        let mut pinged = None;
        let closed = loop {
            now = s.deadline();
            let due = s.due(now);
            if due.ping.is_some() && pinged.is_none() {
                pinged = Some(now - heard);
            }
            if due.close.is_some() {
                break now - heard;
            }
        };
        assert_eq!(pinged, Some(secs(10.0)));
        assert_eq!(closed, secs(25.0));
        // And the rate limit still counts: a burst, then held back.
        for _ in 0..20 {
            assert_eq!(s.admit(now, false), Admit::Now);
        }
        assert_eq!(s.admit(now, false), Admit::Later);
        assert_eq!(s.throttled_until(), Some(now + secs(0.2)));
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
