//! Admission control: how many connections the server holds in total and
//! per source address. Checked in the accept loop, before any per-connection
//! state exists, so a flood of connections costs almost nothing.
//!
//! Loopback is not exempt: a test from 127.0.0.1 meets the same limits as a
//! laptop on the wifi.
//!
//! An "address" is an IPv4 address or an IPv6 /64 (the block one machine
//! usually gets, as in Ergo): 40 addresses of one /64 are one address here.
//! Besides the number of connections held, each address may connect only
//! so often (a token bucket, like Ergo's connection throttle), and that
//! state is kept after its connections close, so reconnecting in a loop
//! does not start afresh.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::time::Instant;

/// The shared counters. Clones share them.
#[derive(Debug, Clone)]
pub(crate) struct Admission {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    max_total: usize,
    max_per_ip: usize,
    /// Connections an address may open a minute (0: no limit); also the
    /// burst.
    connects_per_minute: u32,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
    /// Each address's connect budget: tokens left, and when counted.
    connects: HashMap<IpAddr, (f64, Instant)>,
    /// The frame budget each address's last connection left: the next one
    /// continues from it.
    frames: HashMap<IpAddr, (f64, Instant)>,
    /// Each address's passphrase guesses left, and when counted.
    guesses: HashMap<IpAddr, (f64, Instant)>,
}

/// How long an address's frame budget is remembered after its last
/// connection closed (by then any bucket is full again).
const FRAMES_REMEMBERED: std::time::Duration = std::time::Duration::from_secs(60);

/// The most addresses whose connect budget is remembered; past it, the
/// ones whose budget is full again are forgotten first.
const MAX_REMEMBERED: usize = 65_536;

/// The key under which an address is counted: itself for IPv4 (including
/// IPv4-mapped IPv6), its /64 for IPv6.
pub(crate) fn address_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let mut octets = v6.octets();
            octets[8..].fill(0);
            IpAddr::V6(Ipv6Addr::from(octets))
        }
        v4 => v4,
    }
}

/// A place among the admitted connections; dropping it frees the place.
/// It lives as long as its connection, so it keeps nothing that only the
/// connection's start or end needs (the frame budget is read from, and
/// left in, the address's entry).
#[derive(Debug)]
pub(crate) struct Ticket {
    admission: Admission,
    ip: IpAddr,
}

/// Why a connection is turned away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    Full,
    TooManyFromIp,
    TooOften,
}

impl Refusal {
    /// The goodbye's machine-readable code.
    pub(crate) fn code(self) -> &'static str {
        match self {
            Refusal::Full => "room_full",
            Refusal::TooManyFromIp => "too_many_from_address",
            Refusal::TooOften => "connecting_too_often",
        }
    }

    pub(crate) fn reason(self) -> &'static str {
        match self {
            Refusal::Full => "the room is full",
            Refusal::TooManyFromIp => "too many connections from your address",
            Refusal::TooOften => "your address connects too often; wait a moment",
        }
    }
}

impl Admission {
    pub(crate) fn new(max_total: usize, max_per_ip: usize, connects_per_minute: u32) -> Self {
        Admission {
            shared: Arc::new(Shared {
                max_total,
                max_per_ip,
                connects_per_minute,
                state: Mutex::new(State::default()),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every method leaves the counters consistent before it can panic.
        self.shared
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn admit(&self, ip: IpAddr, now: Instant) -> Result<Ticket, Refusal> {
        let ip = address_key(ip);
        let mut state = self.lock();
        if state.total >= self.shared.max_total {
            return Err(Refusal::Full);
        }
        if state.per_ip.get(&ip).copied().unwrap_or(0) >= self.shared.max_per_ip {
            return Err(Refusal::TooManyFromIp);
        }
        if !self.take_connect(&mut state, ip, now) {
            return Err(Refusal::TooOften);
        }
        *state.per_ip.entry(ip).or_insert(0) += 1;
        state.total += 1;
        Ok(Ticket {
            admission: self.clone(),
            ip,
        })
    }
}

impl Admission {
    /// Takes one connect from `ip`'s budget, if there is one.
    fn take_connect(&self, state: &mut State, ip: IpAddr, now: Instant) -> bool {
        take(
            &mut state.connects,
            ip,
            self.shared.connects_per_minute,
            now,
        )
    }

    /// Takes one passphrase guess from `ip`'s budget, if there is one.
    /// Every attempt takes one (an attacker who checks the server's proof
    /// and hangs up has guessed too); a right passphrase gives it back.
    pub(crate) fn take_guess(&self, ip: IpAddr, now: Instant) -> bool {
        take(
            &mut self.lock().guesses,
            address_key(ip),
            GUESSES_PER_MINUTE,
            now,
        )
    }

    /// Gives back the guess a right passphrase took.
    pub(crate) fn give_back_guess(&self, ip: IpAddr) {
        if let Some((tokens, _)) = self.lock().guesses.get_mut(&address_key(ip)) {
            *tokens = (*tokens + 1.0).min(f64::from(GUESSES_PER_MINUTE));
        }
    }
}

/// Passphrase attempts one address may make a minute (also the burst).
pub(crate) const GUESSES_PER_MINUTE: u32 = 5;

/// Takes one token from `ip`'s bucket in `buckets` (refilled at
/// `per_minute`, holding as many; 0: no limit), if it has one.
fn take(
    buckets: &mut HashMap<IpAddr, (f64, Instant)>,
    ip: IpAddr,
    per_minute: u32,
    now: Instant,
) -> bool {
    if per_minute == 0 {
        return true;
    }
    let (burst, rate) = (f64::from(per_minute), f64::from(per_minute) / 60.0);
    let refilled = |(tokens, at): (f64, Instant)| {
        (tokens + now.saturating_duration_since(at).as_secs_f64() * rate).min(burst)
    };
    if buckets.len() >= MAX_REMEMBERED && !buckets.contains_key(&ip) {
        // Forget the addresses whose budget is whole again.
        buckets.retain(|_, b| refilled(*b) < burst);
        if buckets.len() >= MAX_REMEMBERED {
            return false;
        }
    }
    let budget = buckets.entry(ip).or_insert((burst, now));
    let tokens = refilled(*budget);
    if tokens < 1.0 {
        *budget = (tokens, now);
        return false;
    }
    *budget = (tokens - 1.0, now);
    true
}

impl Ticket {
    /// The address this connection came from.
    pub(crate) fn ip(&self) -> IpAddr {
        self.ip
    }

    /// The frame budget the address's last connection left, if it left it
    /// less than `FRAMES_REMEMBERED` before `now`.
    pub(crate) fn frame_budget(&self, now: Instant) -> Option<(f64, Instant)> {
        self.admission
            .lock()
            .frames
            .get(&self.ip)
            .copied()
            .filter(|(_, at)| now.saturating_duration_since(*at) < FRAMES_REMEMBERED)
    }

    /// Leaves what this connection has left of its frame budget to the
    /// address's next connection, and frees the place.
    pub(crate) fn leave_frame_budget(self, tokens: f64, at: Instant) {
        let mut state = self.admission.lock();
        if state.frames.len() >= MAX_REMEMBERED && !state.frames.contains_key(&self.ip) {
            state
                .frames
                .retain(|_, (_, when)| at.saturating_duration_since(*when) < FRAMES_REMEMBERED);
        }
        if state.frames.len() < MAX_REMEMBERED || state.frames.contains_key(&self.ip) {
            state.frames.insert(self.ip, (tokens, at));
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut state = self.admission.lock();
        state.total = state.total.saturating_sub(1);
        if let Some(n) = state.per_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                state.per_ip.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn limits_apply_and_places_are_given_back() {
        let now = Instant::now();
        let a = Admission::new(3, 2, 0);
        let one: IpAddr = "10.0.0.1".parse().unwrap();
        let two: IpAddr = "10.0.0.2".parse().unwrap();
        let t1 = a.admit(one, now).unwrap();
        let _t2 = a.admit(one, now).unwrap();
        assert_eq!(a.admit(one, now).unwrap_err(), Refusal::TooManyFromIp);
        let _t3 = a.admit(two, now).unwrap();
        assert_eq!(a.admit(two, now).unwrap_err(), Refusal::Full);
        drop(t1);
        assert!(a.admit(one, now).is_ok());
        assert!(a.lock().per_ip.len() <= 2);
    }

    /// One /64 is one address: 40 addresses of it do not get 40 places.
    #[test]
    fn an_ipv6_64_is_one_address() {
        let now = Instant::now();
        let a = Admission::new(1000, 2, 0);
        let mut held = Vec::new();
        let mut refused = 0;
        for i in 1..=40u16 {
            let ip = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 7, 0, 0, 0, i));
            match a.admit(ip, now) {
                Ok(t) => held.push(t),
                Err(r) => {
                    assert_eq!(r, Refusal::TooManyFromIp);
                    refused += 1;
                }
            }
        }
        assert_eq!((held.len(), refused), (2, 38));
        let other = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 8, 0, 0, 0, 1));
        assert!(a.admit(other, now).is_ok());
    }

    /// Connecting too often is refused, and closing the connections does
    /// not reset the budget: reconnect churn gets the rate, not more.
    #[test]
    fn reconnecting_in_a_loop_meets_the_connect_rate() {
        let t0 = Instant::now();
        let a = Admission::new(1000, 1000, 60);
        let ip: IpAddr = "10.0.0.9".parse().unwrap();
        for _ in 0..60 {
            drop(a.admit(ip, t0).unwrap());
        }
        assert_eq!(a.admit(ip, t0).unwrap_err(), Refusal::TooOften);
        // One a second after that.
        assert!(a.admit(ip, t0 + Duration::from_millis(1000)).is_ok());
        assert_eq!(
            a.admit(ip, t0 + Duration::from_millis(1500)).unwrap_err(),
            Refusal::TooOften
        );
        // Other addresses are not affected.
        assert!(a.admit("10.0.0.10".parse().unwrap(), t0).is_ok());
    }

    /// What a connection leaves of its frame budget, the address's next
    /// connection starts from (for a minute).
    #[test]
    fn the_frame_budget_outlives_the_connection() {
        let t0 = Instant::now();
        let a = Admission::new(1000, 1000, 0);
        let ip: IpAddr = "10.0.0.9".parse().unwrap();
        let first = a.admit(ip, t0).unwrap();
        assert_eq!(first.frame_budget(t0), None);
        first.leave_frame_budget(0.5, t0);
        let second = a.admit(ip, t0).unwrap();
        assert_eq!(second.frame_budget(t0), Some((0.5, t0)));
        drop(second);
        let t1 = t0 + Duration::from_secs(61);
        let later = a.admit(ip, t1).unwrap();
        assert_eq!(later.frame_budget(t1), None);
    }

    /// Passphrase guesses are limited per address, and a right one is
    /// given back.
    #[test]
    fn passphrase_guesses_are_limited_per_address() {
        let t0 = Instant::now();
        let a = Admission::new(1000, 1000, 0);
        let ip: IpAddr = "127.0.0.9".parse().unwrap();
        for _ in 0..GUESSES_PER_MINUTE {
            assert!(a.take_guess(ip, t0));
        }
        assert!(!a.take_guess(ip, t0));
        assert!(a.take_guess("127.0.0.10".parse().unwrap(), t0));
        a.give_back_guess(ip);
        assert!(a.take_guess(ip, t0));
        assert!(a.take_guess(ip, t0 + Duration::from_secs(12)));
        assert!(!a.take_guess(ip, t0 + Duration::from_secs(12)));
    }
}
