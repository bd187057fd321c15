//! What the room tells its members. Transports turn these into their own
//! frames; nothing here knows how.

use crate::command::CommandInfo;

/// Why a member left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaveReason {
    /// They typed `/x`.
    Quit,
    /// Their connection closed or broke.
    Dropped,
    /// They stopped answering pings.
    TimedOut,
    /// They could not keep up with the room's traffic.
    TooSlow,
    /// The transport threw them out for breaking a rule.
    Kicked,
}

/// One thing to tell one or more members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// You are in, under `name`; `users` is everyone else, sorted.
    Welcome {
        name: String,
        room: String,
        users: Vec<String>,
    },
    Joined {
        name: String,
    },
    Left {
        name: String,
        reason: LeaveReason,
    },
    Message {
        from: String,
        text: String,
    },
    Whisper {
        from: String,
        to: String,
        text: String,
    },
    Users {
        users: Vec<String>,
    },
    Commands {
        commands: &'static [CommandInfo],
    },
    /// A request failed. `code` is stable and machine-readable.
    Error {
        code: &'static str,
        text: String,
    },
    /// Goodbye: the transport should close this member's connection after
    /// delivering it.
    Bye {
        reason: String,
    },
}
