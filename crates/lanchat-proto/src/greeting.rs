//! The greeting: the line a server sends the moment a connection opens.
//!
//! It is the "specific code" of the original design. It begins with the
//! fixed bytes [`MAGIC`], so that a scanner can reject an unrelated service
//! after reading a few bytes, and it carries the protocol version so that a
//! client can refuse a server it cannot talk to. It proves nothing about who
//! runs the server: over TLS, the certificate's [`crate::Fingerprint`] does.

use serde::{Deserialize, Serialize};

use crate::limits::{MAX_GREETING_LEN, PROTOCOL_REVISION, PROTOCOL_VERSION};

/// The bytes every greeting starts with.
pub const MAGIC: &[u8] = b"{\"lanchat\":";

/// The server's first line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Greeting {
    /// The protocol version the server speaks. Serialized first, so that the
    /// encoded greeting starts with [`MAGIC`].
    pub lanchat: u32,
    /// Always `"hello"`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The room's name.
    pub room: String,
    /// The server machine's name.
    pub server: String,
    /// The server software and version, for humans.
    pub software: String,
    /// The protocol revision (see [`PROTOCOL_REVISION`]); 1 when absent.
    #[serde(default = "revision_1")]
    pub protocol: u32,
    /// The server's identity ([`crate::Fingerprint`], full form), also in
    /// the greeting that precedes TLS, so a scan can report it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// Joining takes the room's passphrase (see [`crate::pake`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub passphrase: bool,
}

fn revision_1() -> u32 {
    1
}

/// Why some bytes are not a usable greeting.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum GreetingError {
    /// The peer is not a lanchat server.
    #[error("not a lanchat greeting")]
    NotLanchat,
    /// A lanchat server, but one speaking a protocol we do not.
    #[error("server speaks lanchat protocol {server}, this client speaks {PROTOCOL_VERSION}")]
    Version { server: u32 },
}

impl Greeting {
    /// A greeting for this build's protocol version.
    pub fn new(room: impl Into<String>, server: impl Into<String>) -> Self {
        Greeting {
            lanchat: PROTOCOL_VERSION,
            kind: "hello".to_owned(),
            room: room.into(),
            server: server.into(),
            software: concat!("lanchat ", env!("CARGO_PKG_VERSION")).to_owned(),
            protocol: PROTOCOL_REVISION,
            fingerprint: None,
            passphrase: false,
        }
    }

    /// Names other server software in `software`.
    pub fn with_software(mut self, software: &str) -> Self {
        self.software = software.to_owned();
        self
    }

    /// Checks one line (without its newline) and parses it.
    pub fn parse(line: &[u8]) -> Result<Greeting, GreetingError> {
        if !line.starts_with(MAGIC) || line.len() > MAX_GREETING_LEN {
            return Err(GreetingError::NotLanchat);
        }
        let greeting: Greeting =
            serde_json::from_slice(line).map_err(|_| GreetingError::NotLanchat)?;
        if greeting.kind != "hello" {
            return Err(GreetingError::NotLanchat);
        }
        if greeting.lanchat != PROTOCOL_VERSION {
            return Err(GreetingError::Version {
                server: greeting.lanchat,
            });
        }
        Ok(greeting)
    }
}

/// The progress of checking the first bytes a peer sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GreetingCheck {
    /// Consistent with a greeting so far; read more.
    Incomplete,
    /// A valid greeting; `len` bytes (newline included) belong to it.
    Done { greeting: Greeting, len: usize },
    /// Not a usable greeting.
    Rejected(GreetingError),
}

impl Greeting {
    /// Checks the bytes received so far. Rejects as soon as a byte rules
    /// a greeting out, so a prober never waits on a service that talks.
    pub fn check(received: &[u8]) -> GreetingCheck {
        if let Some(end) = received.iter().position(|&b| b == b'\n') {
            let line = &received[..end];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            return match Greeting::parse(line) {
                Ok(greeting) => GreetingCheck::Done {
                    greeting,
                    len: end + 1,
                },
                Err(e) => GreetingCheck::Rejected(e),
            };
        }
        let seen = received.len().min(MAGIC.len());
        if received[..seen] != MAGIC[..seen] || received.len() >= MAX_GREETING_LEN {
            return GreetingCheck::Rejected(GreetingError::NotLanchat);
        }
        GreetingCheck::Incomplete
    }
}
