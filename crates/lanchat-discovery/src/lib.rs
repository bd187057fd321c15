//! Finding lanchat rooms on the local network, and being found.
//!
//! # Layout
//!
//! - [`interfaces`]: this machine's IPv4 networks, which ones are worth
//!   searching, and which ranges a scan covers.
//! - [`udp`]: the fast path. A client broadcasts and multicasts a query;
//!   a server's [`responder`] answers by unicast.
//! - [`mdns`]: DNS-SD over mDNS (`_lanchat._tcp`), so standard tools such as
//!   avahi-browse see rooms too: [`mdns::Advertiser`] and [`mdns::browse`].
//! - [`scan`]: the original design's port scanner, done fast: many connects
//!   in flight, short timeouts, and a verified greeting before a hit counts.
//! - [`discover`](mod@discover): runs the layers together and reports what
//!   it found, or why it may have found nothing.
//! - [`found`]: what every layer reports, a [`Found`] room and its [`Via`].
//! - [`access`]: the server's "same network only" rule.
//!
//! **Safety invariant:** nothing here sends a packet on an interface the
//! caller did not ask for. A server bound to one address answers and
//! announces only on that address's interface; bound to loopback, it sends
//! nothing beyond loopback.

pub mod access;
pub mod discover;
pub mod found;
pub mod interfaces;
pub mod mdns;
pub mod responder;
pub mod scan;
pub mod udp;

pub use access::PeerFilter;
pub use discover::{discover, Options, Report};
pub use found::{Found, Via};
pub use interfaces::LocalNet;
