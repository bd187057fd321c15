//! lanchat's wire format, with no IO: the frames a client and a server
//! exchange, how they are encoded, and how a byte stream is cut into them.
//!
//! # Layout
//!
//! - [`limits`]: protocol version, default port, size caps shared by both ends.
//! - [`frame`]: the frame types ([`ClientFrame`], [`ServerFrame`]).
//! - [`greeting`]: the server's first line, which identifies a lanchat server.
//! - [`codec`]: newline framing with a hard size cap, plus encode and decode.
//! - [`discovery`]: the UDP query and reply datagrams, and the mDNS type.
//! - [`irc`]: IRC lines (tags, source, command, parameters) and nick and
//!   channel mapping, for the IRC door.
//! - [`fingerprint`]: a server's identity (its certificate's SHA-256) as
//!   people read, type and compare it.
//! - [`pake`]: the room passphrase check (SPAKE2 bound to the TLS session).
//! - [`ws`]: WebSocket frame headers, frames and the handshake's key, for
//!   the web door and its load generator.
//! - [`time`]: the `ts` of room events (RFC 3339, UTC, milliseconds).
//!
//! The crate never touches a socket or a runtime; transports feed it bytes
//! and take bytes from it. The room logic (`lanchat-core`) does not depend on
//! it: the server converts between the two by hand, so that other transports
//! (IRC, WebSocket) can own their own wire formats.

pub mod codec;
pub mod discovery;
pub mod fingerprint;
pub mod frame;
pub mod greeting;
pub mod irc;
pub mod limits;
pub mod pake;
pub mod time;
pub mod user_list;
pub mod ws;

pub use codec::{encode, DecodeError, EncodeError, LineDecoder};
pub use fingerprint::{Expected, Fingerprint, FingerprintError};
pub use frame::{ClientFrame, CommandHelp, LeaveReason, Limits, ServerFrame};
pub use greeting::{Greeting, GreetingCheck, GreetingError};
pub use user_list::UserListFrame;
