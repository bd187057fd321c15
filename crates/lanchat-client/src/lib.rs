//! The lanchat client library: reach a server, make sure it really is a
//! lanchat server, register a name and exchange frames; plus the line-based
//! front end (`--plain`).
//!
//! # Layout
//!
//! - [`connection`]: connecting, checking the greeting, reading and writing
//!   frames, registering a name.
//! - [`display`]: making text from the network safe to print.
//! - [`plain`]: the line-based front end for scripts, pipes and screen
//!   readers.
//! - [`tui`]: the terminal UI.
//! - [`error`]: the error type, [`ClientError`].
//! - [`gather`]: a user list split over several frames, made whole.
//! - [`memory`]: the last server joined, remembered between runs.
//! - [`tls`]: the TLS handshake, which yields the server's fingerprint.
//! - [`trust`]: `known_rooms`, the pins checked on every connection, and
//!   the room passphrase.
//! - [`clock`]: times in the local zone, in the format the user chose.
//!
//! Nothing here trusts the server: every string it sends is made inert
//! before it reaches a terminal.

pub mod chat_log;
pub mod clock;
pub mod connection;
pub mod display;
pub mod error;
pub mod gather;
pub mod log_limit;
pub mod memory;
pub mod pacer;
pub mod plain;
pub mod tls;
pub mod trust;
pub mod tui;

pub use connection::{Connection, FrameReader, FrameWriter, Registration};
pub use error::ClientError;
pub use trust::{Trust, Verdict};
