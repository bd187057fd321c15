//! Admission control: how many connections the server holds in total and
//! per source address. Checked in the accept loop, before any per-connection
//! state exists, so a flood of connections costs almost nothing.
//!
//! Loopback is not exempt: a test from 127.0.0.1 meets the same limits as a
//! laptop on the wifi.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};

/// The shared counters. Clones share them.
#[derive(Debug, Clone)]
pub(crate) struct Admission {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    max_total: usize,
    max_per_ip: usize,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

/// A place among the admitted connections; dropping it frees the place.
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
}

impl Refusal {
    /// The goodbye's machine-readable code.
    pub(crate) fn code(self) -> &'static str {
        match self {
            Refusal::Full => "room_full",
            Refusal::TooManyFromIp => "too_many_from_address",
        }
    }

    pub(crate) fn reason(self) -> &'static str {
        match self {
            Refusal::Full => "the room is full",
            Refusal::TooManyFromIp => "too many connections from your address",
        }
    }
}

impl Admission {
    pub(crate) fn new(max_total: usize, max_per_ip: usize) -> Self {
        Admission {
            shared: Arc::new(Shared {
                max_total,
                max_per_ip,
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

    pub(crate) fn admit(&self, ip: IpAddr) -> Result<Ticket, Refusal> {
        let mut state = self.lock();
        if state.total >= self.shared.max_total {
            return Err(Refusal::Full);
        }
        let from_ip = state.per_ip.entry(ip).or_insert(0);
        if *from_ip >= self.shared.max_per_ip {
            return Err(Refusal::TooManyFromIp);
        }
        *from_ip += 1;
        state.total += 1;
        Ok(Ticket {
            admission: self.clone(),
            ip,
        })
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
    use super::*;

    #[test]
    fn limits_apply_and_places_are_given_back() {
        let a = Admission::new(3, 2);
        let one: IpAddr = "10.0.0.1".parse().unwrap();
        let two: IpAddr = "10.0.0.2".parse().unwrap();
        let t1 = a.admit(one).unwrap();
        let _t2 = a.admit(one).unwrap();
        assert_eq!(a.admit(one).unwrap_err(), Refusal::TooManyFromIp);
        let _t3 = a.admit(two).unwrap();
        assert_eq!(a.admit(two).unwrap_err(), Refusal::Full);
        drop(t1);
        assert!(a.admit(one).is_ok());
        assert!(a.lock().per_ip.len() <= 2);
    }
}
