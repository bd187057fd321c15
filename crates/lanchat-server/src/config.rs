//! The server's settings: the room's identity and every limit and timer.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

/// Decides which peer addresses may connect (the "same network only"
/// rule). The server does not know what a network is; the caller does.
#[derive(Clone)]
pub struct PeerCheck(pub Arc<dyn Fn(IpAddr) -> bool + Send + Sync>);

impl fmt::Debug for PeerCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PeerCheck")
    }
}

/// Everything [`crate::run`] needs to know. Build it with
/// [`Config::new`] and adjust fields.
#[derive(Debug, Clone)]
pub struct Config {
    /// The room's name, sent in the greeting and the welcome.
    pub room: String,
    /// This machine's name, sent in the greeting.
    pub server_name: String,
    /// The software and version named in the greeting.
    pub software: String,
    /// How long a new connection has, from accept, to register a name.
    pub register_timeout: Duration,
    /// After this long without hearing from a client, ping it.
    pub ping_interval: Duration,
    /// After this long without hearing from a client, drop it (a half-open
    /// connection after a wifi drop). Somewhat over two ping intervals, so
    /// one lost ping is tolerated.
    pub ping_timeout: Duration,
    /// The soft cap on bytes queued for one client: past it, while the
    /// client is still reading, the room holds the senders back; at four
    /// times it (the hard cap) the client is dropped as too slow.
    pub max_queue_bytes: usize,
    /// How long one write to a client may block before it counts as too slow.
    pub write_timeout: Duration,
    /// How long shutdown waits for queues to flush.
    pub shutdown_grace: Duration,
    /// The largest frame accepted, newline included; past it the
    /// connection is closed.
    pub max_frame_len: usize,
    /// The largest message text accepted, in bytes; longer gets an error.
    pub max_text_len: usize,
    /// Frames per second each client may send on average; 0 means no limit.
    pub rate_limit: f64,
    /// How many frames a client may send at once before the rate applies
    /// (a person pasting a few lines).
    pub rate_burst: u32,
    /// A client held back by the rate limit for this long without a break
    /// is disconnected as a flooder.
    pub flood_kick_after: Duration,
    /// Malformed frames tolerated from a registered client before it is
    /// dropped.
    pub max_bad_frames: u32,
    /// The most connections at once.
    pub max_clients: usize,
    /// The most connections at once from one IP address (an IPv6 /64).
    pub max_per_ip: usize,
    /// The room's topic at start (empty: none).
    pub topic: String,
    /// Only the server sets the topic: members' `/topic TEXT` is refused.
    pub topic_locked: bool,
    /// How many connections one address may open a minute (also the
    /// burst); 0 turns the limit off.
    pub max_connects_per_minute: u32,
    /// Which peers may connect; everyone when `None`. Others get a refusal.
    pub peer_check: Option<PeerCheck>,
    /// How many of the last messages a newcomer is shown (0: none; no
    /// history is kept then).
    pub history: usize,
    /// How long the name of a member whose connection dropped is kept for
    /// them to resume (zero: no resuming).
    pub resume_grace: Duration,
    /// `/whois` shows where members connect from (off: never).
    pub whois_address: bool,
    /// The identity the lanchat door speaks TLS with; plaintext only when
    /// `None`.
    pub tls: Option<crate::tls::Tls>,
    /// With `tls`, still admit clients that do not speak it (protocol v1).
    pub allow_plaintext: bool,
    /// Joining takes this passphrase, checked by a PAKE over TLS.
    pub passphrase: Option<lanchat_proto::pake::Passphrase>,
}

impl Config {
    /// Defaults for a room called `room` on a machine called `server_name`.
    pub fn new(room: impl Into<String>, server_name: impl Into<String>) -> Self {
        Config {
            room: room.into(),
            server_name: server_name.into(),
            software: concat!("lanchat ", env!("CARGO_PKG_VERSION")).to_owned(),
            register_timeout: Duration::from_secs(10),
            ping_interval: Duration::from_secs(10),
            ping_timeout: Duration::from_secs(25),
            max_queue_bytes: 256 * 1024,
            write_timeout: Duration::from_secs(10),
            shutdown_grace: Duration::from_millis(1500),
            max_frame_len: lanchat_proto::limits::MAX_FRAME_LEN,
            max_text_len: lanchat_proto::limits::MAX_TEXT_LEN,
            rate_limit: 5.0,
            rate_burst: 20,
            flood_kick_after: Duration::from_secs(15),
            max_bad_frames: 10,
            max_clients: 1000,
            max_per_ip: 32,
            max_connects_per_minute: 60,
            topic: String::new(),
            topic_locked: false,
            peer_check: None,
            history: 100,
            resume_grace: Duration::from_secs(120),
            whois_address: false,
            tls: None,
            allow_plaintext: false,
            passphrase: None,
        }
    }
}
