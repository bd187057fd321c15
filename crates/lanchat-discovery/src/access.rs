//! The server's "same network only" rule, the original design's "same wifi"
//! restriction: a peer is admitted if its address lies in one of this
//! machine's own subnets, is loopback, or is in an explicitly allowed range.

use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ipnet::IpNet;

use crate::interfaces::all_prefixes;

/// How often, at most, the interface list is re-read after a miss (wifi
/// addresses change when a laptop roams or renews its lease).
const REFRESH_AFTER: Duration = Duration::from_secs(1);

/// Decides which peers may connect or get discovery answers.
#[derive(Debug)]
pub struct PeerFilter {
    allow_any: bool,
    extra: Vec<IpNet>,
    local: Mutex<(Instant, Vec<IpNet>)>,
}

impl PeerFilter {
    /// A filter admitting this machine's subnets, loopback, and `extra`;
    /// or everyone, with `allow_any`.
    pub fn new(extra: Vec<IpNet>, allow_any: bool) -> Self {
        PeerFilter {
            allow_any,
            extra,
            local: Mutex::new((Instant::now(), all_prefixes())),
        }
    }

    /// Whether `peer` may connect.
    pub fn allows(&self, peer: IpAddr) -> bool {
        let peer = peer.to_canonical();
        if self.allow_any || peer.is_loopback() || self.extra.iter().any(|n| n.contains(&peer)) {
            return true;
        }
        let mut local = self.local.lock().unwrap_or_else(|p| p.into_inner());
        if local.1.iter().any(|n| n.contains(&peer)) {
            return true;
        }
        if local.0.elapsed() >= REFRESH_AFTER {
            *local = (Instant::now(), all_prefixes());
            return local.1.iter().any(|n| n.contains(&peer));
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_extra_and_any() {
        let f = PeerFilter::new(vec!["203.0.113.0/24".parse().unwrap()], false);
        assert!(f.allows("127.0.0.9".parse().unwrap()));
        assert!(f.allows("::ffff:127.0.0.1".parse().unwrap()));
        assert!(f.allows("203.0.113.77".parse().unwrap()));
        assert!(!f.allows("198.51.100.1".parse().unwrap()));
        assert!(PeerFilter::new(vec![], true).allows("198.51.100.1".parse().unwrap()));
    }
}
