//! What the room tells its members. Doors turn these into their own wire
//! formats; nothing here knows how.

use std::sync::Arc;

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

/// A room event's identity: a room-wide, strictly increasing number, and
/// the server time it happened, in milliseconds since the Unix epoch (never
/// earlier than the event before it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Stamp {
    pub id: u64,
    pub ms: u64,
}

/// An opaque tag a client put on a request, echoed on what the request
/// causes (to that client only) so a client that pipelines can match
/// replies and errors to requests. Doors cap its length.
pub type Label = Arc<str>;

/// One thing to tell one or more members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// You are in, under `name`; `users` is everyone else, sorted. Names
    /// are shared with the room, not copied: a newcomer's list is as long
    /// as the room.
    Welcome {
        name: String,
        room: String,
        users: Vec<Arc<str>>,
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
    /// Whom the asker ignores (the answer to `/ignore` and `/unignore`).
    Ignoring {
        names: Vec<String>,
    },
    /// The answer to `/whois`: `name` has been here since `since_ms`,
    /// through `door`, and is away with `away` (if so).
    Whois {
        name: String,
        since_ms: u64,
        door: String,
        away: Option<String>,
        /// Where they connect from, when the server shows it.
        address: Option<String>,
    },
    /// The room's topic (empty: none), and who set it (`None` when it is
    /// only being told).
    Topic {
        topic: String,
        by: Option<String>,
    },
    /// `name` is away (with why), or back (`None`).
    Away {
        name: String,
        reason: Option<String>,
    },
    /// `name` lost their connection; the room keeps their name for a
    /// while, in case they come back.
    Held {
        name: String,
    },
    /// `name` came back after losing their connection.
    Back {
        name: String,
    },
    /// `from` is now called `to`.
    Renamed {
        from: String,
        to: String,
    },
    /// `/me`: what `from` is doing.
    Action {
        from: String,
        text: String,
    },
    Whisper {
        from: String,
        to: String,
        text: String,
    },
    /// A message from the server itself.
    Notice {
        text: String,
    },
    Users {
        users: Vec<Arc<str>>,
    },
    /// The earlier conversation a newcomer may see, oldest first, each
    /// event with its original stamp.
    History {
        events: Vec<crate::history::Past>,
    },
    Commands {
        commands: &'static [CommandInfo],
    },
    /// A request failed. `code` is stable and machine-readable.
    Error {
        code: &'static str,
        text: String,
    },
    /// Everything the room said up to the event `id` is stored durably
    /// (it survives the server being killed). Sent by the server, not the
    /// room, to members who said something since the last one.
    Stored {
        id: u64,
    },
    /// Goodbye: the door should close this member's connection after
    /// delivering it. `code` is stable and machine-readable.
    Bye {
        code: &'static str,
        reason: String,
    },
}

impl Event {
    /// Whether this is a room event, which gets a [`Stamp`] (what happened
    /// in the room), rather than a reply to one member.
    pub fn is_room_event(&self) -> bool {
        matches!(
            self,
            Event::Joined { .. }
                | Event::Left { .. }
                | Event::Message { .. }
                | Event::Action { .. }
                | Event::Renamed { .. }
                | Event::Held { .. }
                | Event::Back { .. }
                | Event::Away { .. }
                | Event::Topic { .. }
                | Event::Whisper { .. }
                | Event::Notice { .. }
        )
    }
}
