//! The frames of the protocol: what a client may send and what a server may
//! send. Each frame is one JSON object with a `"type"` field.
//!
//! Both enums end with an `Unknown` variant so that a peer which is newer
//! than us (sending a type we do not know) is tolerated rather than
//! disconnected; unknown fields are ignored for the same reason.

use serde::{Deserialize, Serialize};

/// A frame sent by a client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    /// Asks to enter the room under `name`. Answered by
    /// [`ServerFrame::Welcome`] or [`ServerFrame::NameRejected`].
    Join { name: String },
    /// One line as the user typed it: chat text, or a `/command`. The server
    /// interprets it, so every client gets every command for free.
    Input { text: String },
    /// Asks the peer to answer with a [`ServerFrame::Pong`] carrying `token`.
    Ping { token: u64 },
    /// The answer to a [`ServerFrame::Ping`].
    Pong { token: u64 },
    /// A frame type this build does not know.
    #[serde(other)]
    Unknown,
}

/// Why somebody left the room.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeaveReason {
    /// They left on purpose (`/x`).
    Quit,
    /// Their connection was lost or closed without a goodbye.
    Dropped,
    /// They stopped answering pings (a half-open connection).
    TimedOut,
    /// The server dropped them because they could not keep up.
    TooSlow,
    /// The server dropped them for breaking a rule (flooding, bad frames).
    Kicked,
    /// A reason this build does not know.
    #[serde(other)]
    Other,
}

/// One entry of the `/commands` listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandHelp {
    /// How to type it, e.g. `/w NAME text`.
    pub usage: String,
    /// What it does, in one line.
    pub help: String,
}

/// A frame sent by a server (after the [`crate::Greeting`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// You are in: your name as registered, the room, who else is here.
    Welcome {
        name: String,
        room: String,
        users: Vec<String>,
    },
    /// The requested name cannot be used; ask the user for another.
    NameRejected { name: String, reason: String },
    /// Somebody entered the room.
    Joined { name: String },
    /// Somebody left the room.
    Left { name: String, reason: LeaveReason },
    /// A message to the whole room (the sender receives it too, as the
    /// acknowledgement that it went out, in the room's order).
    Message { from: String, text: String },
    /// A private message. Both the sender (as confirmation) and the
    /// recipient receive it; nobody else does.
    Whisper {
        from: String,
        to: String,
        text: String,
    },
    /// The answer to `/list`.
    Users { users: Vec<String> },
    /// The answer to `/commands`.
    Commands { commands: Vec<CommandHelp> },
    /// Something the client asked for failed; only that client sees it.
    Error { code: String, text: String },
    /// A notice from the server itself, e.g. that it is shutting down.
    Notice { text: String },
    /// The server is about to close this connection, and why.
    Bye { reason: String },
    /// Asks the client to answer with a [`ClientFrame::Pong`].
    Ping { token: u64 },
    /// The answer to a [`ClientFrame::Ping`].
    Pong { token: u64 },
    /// A frame type this build does not know.
    #[serde(other)]
    Unknown,
}
