//! The door API: how a way into the room (the lanchat TCP door today; TLS,
//! IRC and WebSocket next) talks to it.
//!
//! A door is a thin adapter. For each connection it:
//!
//! 1. drives a [`Session`] (the sans-IO rules every connection obeys:
//!    registration deadline, rate limit, keepalive, bad-frame budget) with
//!    what it reads and the time;
//! 2. parses its wire format into typed [`Command`]s and hands them to the
//!    [`Hub`] with [`Hub::join`] and [`Hub::command`];
//! 3. writes whatever the hub queued in the connection's [`Outbox`], which
//!    the hub fills by calling the door's [`WireFormat`].
//!
//! The hub encodes each event once per wire format per step, whatever the
//! number of recipients, so doors cost nothing on the fan-out path but
//! their own encoding.

use bytes::Bytes;
use lanchat_core::{Event, RoomId, Stamp};

pub use crate::hub::{CannotResume, Hub, HubGone, JoinRequest, Membership, Offered, ResumeRequest};
pub use crate::outbox::{Outbox, Overflow};
pub use crate::session::{Admit, Due, Fault, Session, SessionLimits};
pub use lanchat_core::{Command, Label, LeaveReason, MemberId, NameError};

/// One event as a door encodes it.
#[derive(Debug, Clone, Copy)]
pub struct EventRef<'a> {
    pub room: RoomId,
    pub event: &'a Event,
    /// The event's id and time, on room events.
    pub stamp: Option<Stamp>,
    /// The label of the request that caused it, on the asker's copy only.
    pub label: Option<&'a str>,
    /// The name of the member this copy is for, when it is for one member
    /// only (replies, whispers); `None` on copies for many.
    pub recipient: Option<&'a str>,
}

/// A door's wire format: how events become bytes on its connections.
///
/// `encode` appends one or more complete frames to `out`; the hub gathers
/// consecutive frames into one buffer per step. It must never write a
/// partial frame, and each frame must respect the door's own size limit
/// (a long user list is split over several frames, not sent as one).
pub trait WireFormat: Send + Sync + 'static {
    fn encode(&self, event: EventRef<'_>, out: &mut Vec<u8>);

    /// The encoding as one buffer of its own.
    fn encode_one(&self, event: EventRef<'_>) -> Bytes {
        let mut out = Vec::new();
        self.encode(event, &mut out);
        Bytes::from(out)
    }
}
