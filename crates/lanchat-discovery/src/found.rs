//! What discovery reports: a room found, and which layer found it. Its own
//! module because every layer produces these and the runner collects them;
//! neither side should import the other to share them.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

/// A discovery layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Via {
    /// UDP broadcast and multicast query (or unicast, for explicit ranges).
    Udp,
    /// DNS-SD over mDNS.
    Mdns,
    /// TCP connect scan with a verified greeting.
    Scan,
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Via::Udp => "udp",
            Via::Mdns => "mdns",
            Via::Scan => "scan",
        })
    }
}

/// One room found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The room's name.
    pub room: String,
    /// The server machine's name.
    pub server: String,
    /// Where to connect.
    pub addr: SocketAddr,
    /// Which layer found it.
    pub via: Via,
    /// How long after the start it was found.
    pub after: Duration,
    /// The server's key as the answer gave it (full form), if it did. A
    /// claim, not a proof: the client checks it against the TLS handshake.
    pub fingerprint: Option<String>,
}
