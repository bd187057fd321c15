//! Discovery datagrams: how a client asks "is there a lanchat room here?"
//! over UDP, and how a server answers.
//!
//! A client sends a [`Query`] to the subnet's broadcast address and to the
//! multicast group [`MULTICAST_GROUP`] (TTL 1, so it never leaves the LAN),
//! on the room port (8081 by default). Each server answers the sender by
//! unicast with a [`Reply`]. Both start with the same magic as the TCP
//! greeting, so a stray datagram is recognised after a few bytes.

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use crate::greeting::MAGIC;
use crate::limits::PROTOCOL_VERSION;

/// The multicast group queries are sent to (organisation-local scope; sent
/// with TTL 1 so routers never forward it).
pub const MULTICAST_GROUP: Ipv4Addr = Ipv4Addr::new(239, 255, 80, 81);

/// The largest datagram either side sends or accepts.
pub const MAX_DATAGRAM: usize = 1024;

/// The DNS-SD service type under which servers advertise over mDNS.
pub const MDNS_SERVICE_TYPE: &str = "_lanchat._tcp.local.";

/// "Is there a lanchat room here?"
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Query {
    /// The protocol version of the asker; serialized first, for the magic.
    pub lanchat: u32,
    /// Always `"discover"`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// "Yes: this room, on this TCP port."
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    /// The server's protocol version; serialized first, for the magic.
    pub lanchat: u32,
    /// Always `"room"`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The room's name.
    pub room: String,
    /// The server machine's name.
    pub server: String,
    /// The TCP port the room listens on.
    pub port: u16,
    /// The server's key ([`crate::Fingerprint`], full form), if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
}

impl Default for Query {
    fn default() -> Self {
        Query {
            lanchat: PROTOCOL_VERSION,
            kind: "discover".into(),
        }
    }
}

impl Query {
    /// The query as a datagram.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Parses a datagram as a query, if it is one.
    pub fn decode(datagram: &[u8]) -> Option<Query> {
        let q: Query = parse(datagram)?;
        (q.kind == "discover").then_some(q)
    }
}

impl Reply {
    /// A reply for a room of this protocol version.
    pub fn new(room: impl Into<String>, server: impl Into<String>, port: u16) -> Self {
        Reply {
            lanchat: PROTOCOL_VERSION,
            kind: "room".into(),
            room: room.into(),
            server: server.into(),
            port,
            fingerprint: None,
        }
    }

    /// The reply as a datagram.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Parses a datagram as a reply for our protocol version, if it is one.
    pub fn decode(datagram: &[u8]) -> Option<Reply> {
        let r: Reply = parse(datagram)?;
        (r.kind == "room" && r.lanchat == PROTOCOL_VERSION && r.port != 0).then_some(r)
    }
}

fn parse<T: serde::de::DeserializeOwned>(datagram: &[u8]) -> Option<T> {
    if datagram.len() > MAX_DATAGRAM || !datagram.starts_with(MAGIC) {
        return None;
    }
    serde_json::from_slice(datagram).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datagrams_round_trip_and_strangers_are_ignored() {
        let q = Query::default();
        assert_eq!(Query::decode(&q.encode()), Some(q));
        let r = Reply::new("lab", "pc", 8081);
        assert_eq!(Reply::decode(&r.encode()), Some(r.clone()));
        assert_eq!(Reply::decode(&Query::default().encode()), None);
        assert_eq!(Query::decode(&r.encode()), None);
        assert_eq!(Reply::decode(b"M-SEARCH * HTTP/1.1\r\n"), None);
        assert_eq!(Reply::decode(&[0xff; 2000]), None);
    }
}
