//! The server's settings: the room's identity and every limit and timer.

use std::time::Duration;

/// Everything [`crate::run`] needs to know. Build it with
/// [`Config::new`] and adjust fields.
#[derive(Debug, Clone)]
pub struct Config {
    /// The room's name, sent in the greeting and the welcome.
    pub room: String,
    /// This machine's name, sent in the greeting.
    pub server_name: String,
    /// How long a new connection has, from accept, to register a name.
    pub register_timeout: Duration,
    /// After this long without hearing from a client, ping it.
    pub ping_interval: Duration,
    /// After this long without hearing from a client, drop it (a half-open
    /// connection after a wifi drop). Somewhat over two ping intervals, so
    /// one lost ping is tolerated.
    pub ping_timeout: Duration,
    /// The most bytes queued for one client before it counts as too slow and
    /// is dropped.
    pub max_queue_bytes: usize,
    /// How long one write to a client may block before it counts as too slow.
    pub write_timeout: Duration,
    /// How long shutdown waits for queues to flush.
    pub shutdown_grace: Duration,
}

impl Config {
    /// Defaults for a room called `room` on a machine called `server_name`.
    pub fn new(room: impl Into<String>, server_name: impl Into<String>) -> Self {
        Config {
            room: room.into(),
            server_name: server_name.into(),
            register_timeout: Duration::from_secs(10),
            ping_interval: Duration::from_secs(10),
            ping_timeout: Duration::from_secs(25),
            max_queue_bytes: 256 * 1024,
            write_timeout: Duration::from_secs(10),
            shutdown_grace: Duration::from_millis(1500),
        }
    }
}
