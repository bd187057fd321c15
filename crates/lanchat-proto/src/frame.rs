//! The frames of the protocol: what a client may send and what a server may
//! send. Each frame is one JSON object with a `"type"` field.
//!
//! Both enums end with an `Unknown` variant so that a peer which is newer
//! than us (sending a type we do not know) is tolerated rather than
//! disconnected; unknown fields are ignored for the same reason. Every
//! field added in protocol revision 2 has a default, so frames from a
//! revision 1 peer still parse.

use serde::{Deserialize, Serialize};

/// A client's tag on a request, echoed in what the request causes for that
/// client (IRCv3 labeled-response). At most [`crate::limits::MAX_LABEL_LEN`]
/// bytes.
pub type Label = Option<String>;

/// A frame sent by a client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    /// Asks to enter the room under `name`. Answered by
    /// [`ServerFrame::Welcome`] or [`ServerFrame::NameRejected`]. `caps`
    /// lists what the client understands; unknown ones are ignored.
    Join {
        name: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        caps: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        label: Label,
    },
    /// Come back after a connection loss, instead of `join`: `token` is
    /// the last `resumable` one, `last_id` the id of the last room event
    /// received (0 if none).
    Resume {
        token: String,
        #[serde(default)]
        last_id: u64,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        caps: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        label: Label,
    },
    /// One line as the user typed it: chat text, or a `/command`. The server
    /// interprets it, so every client gets every command for free.
    Input {
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        label: Label,
    },
    /// A message to the room, taken as it is (no slash commands).
    Say {
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        label: Label,
    },
    /// A whisper to the member called `to`.
    Whisper {
        to: String,
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        label: Label,
    },
    /// Asks who is here.
    List {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        label: Label,
    },
    /// Asks the peer to answer with a [`ServerFrame::Pong`] carrying `token`.
    Ping { token: u64 },
    /// The answer to a [`ServerFrame::Ping`].
    Pong { token: u64 },
    /// In a room with a passphrase, before `join`: the client's SPAKE2
    /// message, in hex (see [`crate::pake`]). Answered by
    /// [`ServerFrame::Pake`].
    Pake { msg: String },
    /// The client's passphrase proof, in hex, once the server's checked
    /// out. Answered by [`ServerFrame::PakeOk`], or an error and goodbye.
    PakeProof { proof: String },
    /// A frame type this build does not know.
    #[serde(other)]
    Unknown,
}

impl ClientFrame {
    /// The request's label, if it has one.
    pub fn label(&self) -> Option<&str> {
        match self {
            ClientFrame::Join { label, .. }
            | ClientFrame::Resume { label, .. }
            | ClientFrame::Input { label, .. }
            | ClientFrame::Say { label, .. }
            | ClientFrame::Whisper { label, .. }
            | ClientFrame::List { label } => label.as_deref(),
            ClientFrame::Ping { .. }
            | ClientFrame::Pong { .. }
            | ClientFrame::Pake { .. }
            | ClientFrame::PakeProof { .. }
            | ClientFrame::Unknown => None,
        }
    }
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

/// The server's limits, in the welcome, so a client never has to guess.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Limits {
    /// The longest message text, in bytes of UTF-8.
    pub text: usize,
    /// The longest name, in characters.
    pub name: usize,
    /// The longest frame the server accepts, newline included.
    pub frame_in: usize,
    /// The longest frame the server sends, newline included.
    pub frame_out: usize,
    /// Frames per second allowed on average (0: no limit).
    pub rate: f64,
    /// Frames allowed at once before the rate applies.
    pub burst: u32,
    /// The longest label, in bytes.
    pub label: usize,
}

pub(crate) fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A frame sent by a server (after the [`crate::Greeting`]).
///
/// Room events (`joined`, `left`, `message`, `whisper`, `notice`) carry an
/// `id`, room-wide and strictly increasing, and `ts`, the server's time
/// (RFC 3339, UTC, milliseconds). Both are 0 and empty from a revision 1
/// server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// You are in: your name as registered, the room, who else is here.
    /// In a big room `users` holds the first names only and `more` is
    /// set: the rest follow in `users` frames, the last without `more`.
    Welcome {
        name: String,
        room: String,
        users: Vec<String>,
        #[serde(default, skip_serializing_if = "is_false")]
        more: bool,
        #[serde(default)]
        caps: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limits: Option<Limits>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        label: Label,
    },
    /// The requested name cannot be used; ask the user for another. `code`
    /// is `taken`, `invalid`, `reserved`, `empty`, `too_long`, or a newer
    /// one.
    NameRejected {
        name: String,
        #[serde(default)]
        code: String,
        reason: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        label: Label,
    },
    /// Somebody entered the room.
    Joined {
        #[serde(default, skip_serializing_if = "is_zero")]
        id: u64,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        ts: String,
        name: String,
    },
    /// Somebody left the room.
    Left {
        #[serde(default, skip_serializing_if = "is_zero")]
        id: u64,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        ts: String,
        name: String,
        reason: LeaveReason,
    },
    /// A message to the whole room (the sender receives it too, as the
    /// acknowledgement that it went out, in the room's order).
    Message {
        #[serde(default, skip_serializing_if = "is_zero")]
        id: u64,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        ts: String,
        from: String,
        text: String,
        /// A `/me` action: shown as `* from text`. A revision 1 client,
        /// which does not know the field, shows it as a message.
        #[serde(default, skip_serializing_if = "is_false")]
        action: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        label: Label,
    },
    /// Whom the client ignores: the answer to `/ignore` and `/unignore`.
    Ignoring {
        names: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        label: Label,
    },
    /// The answer to `/whois`: here since `since` (RFC 3339), through
    /// `door` (`terminal`, `irc`, `web`), and away with `away` if so.
    Whois {
        name: String,
        since: String,
        door: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        away: Option<String>,
        /// Where they connect from, only when the server shows it
        /// (`serve --whois-shows-address`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        address: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        label: Label,
    },
    /// The room's topic (empty: none) and who set it; to everyone when it
    /// changes, to one client after its welcome or its `/topic`.
    Topic {
        #[serde(default, skip_serializing_if = "is_zero")]
        id: u64,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        ts: String,
        topic: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        label: Label,
    },
    /// `name` is away, and why (`/away`), or back (no `reason`). Sent to
    /// everyone when it changes, and to one client after its welcome, its
    /// `/list`, or a whisper to somebody away.
    Away {
        #[serde(default, skip_serializing_if = "is_zero")]
        id: u64,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        ts: String,
        name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        label: Label,
    },
    /// Somebody lost their connection; their name is kept for them to come
    /// back (`resume`).
    Held {
        #[serde(default, skip_serializing_if = "is_zero")]
        id: u64,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        ts: String,
        name: String,
    },
    /// Somebody came back after losing their connection.
    Back {
        #[serde(default, skip_serializing_if = "is_zero")]
        id: u64,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        ts: String,
        name: String,
    },
    /// For a client that announced `resume`, after its welcome: the secret
    /// to come back with after a connection loss, within `grace` seconds.
    /// Every resume gives a new one.
    Resumable { token: String, grace: u64 },
    /// Everything the room said up to the event `id` is stored on the
    /// server's disk, so it survives even the server being killed: sent to
    /// a client that said something since the last `stored` it got, once
    /// the history writer has committed it. A client may treat its own
    /// lines with ids up to `id` as durable. Never sent by a server that
    /// keeps no history on disk.
    Stored { id: u64 },
    /// The server's SPAKE2 message and its passphrase proof, in hex.
    Pake { msg: String, proof: String },
    /// The client's passphrase proof checked out: `join` may follow.
    PakeOk,
    /// Somebody changed name (`/nick`).
    Renamed {
        #[serde(default, skip_serializing_if = "is_zero")]
        id: u64,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        ts: String,
        from: String,
        to: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        label: Label,
    },
    /// A private message. Both the sender (as confirmation) and the
    /// recipient receive it; nobody else does.
    Whisper {
        #[serde(default, skip_serializing_if = "is_zero")]
        id: u64,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        ts: String,
        from: String,
        to: String,
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        label: Label,
    },
    /// The answer to `/list`, or the rest of the welcome's list. `more`
    /// means another `users` frame follows with more names.
    Users {
        users: Vec<String>,
        #[serde(default, skip_serializing_if = "is_false")]
        more: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        label: Label,
    },
    /// The earlier conversation, for a client that announced the
    /// `history` capability: right after its welcome, the room's last
    /// messages, actions and whispers (its own only), oldest first, each a
    /// `message` or `whisper` frame with its original `id` and `ts`.
    /// `more` means another `history` frame follows.
    History {
        events: Vec<ServerFrame>,
        #[serde(default, skip_serializing_if = "is_false")]
        more: bool,
    },
    /// The answer to `/commands`.
    Commands {
        commands: Vec<CommandHelp>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        label: Label,
    },
    /// Something the client asked for failed; only that client sees it.
    Error {
        code: String,
        text: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        label: Label,
    },
    /// A notice from the server itself, e.g. that it is shutting down.
    Notice {
        #[serde(default, skip_serializing_if = "is_zero")]
        id: u64,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        ts: String,
        text: String,
    },
    /// The server is about to close this connection: `code` says why for a
    /// program, `reason` for a person.
    Bye {
        #[serde(default)]
        code: String,
        reason: String,
    },
    /// Asks the client to answer with a [`ClientFrame::Pong`].
    Ping { token: u64 },
    /// The answer to a [`ClientFrame::Ping`].
    Pong { token: u64 },
    /// A frame type this build does not know.
    #[serde(other)]
    Unknown,
}

impl ServerFrame {
    /// The room event's id, or 0 for a frame that is not one (or from a
    /// revision 1 server).
    pub fn id(&self) -> u64 {
        self.stamp().map_or(0, |(id, _)| id)
    }

    /// The room event's time as sent, if it has one.
    pub fn ts(&self) -> Option<&str> {
        self.stamp().map(|(_, ts)| ts).filter(|ts| !ts.is_empty())
    }

    /// The id and time fields of a room event (one list of the stamped
    /// frames for both).
    fn stamp(&self) -> Option<(u64, &str)> {
        match self {
            ServerFrame::Joined { id, ts, .. }
            | ServerFrame::Left { id, ts, .. }
            | ServerFrame::Held { id, ts, .. }
            | ServerFrame::Back { id, ts, .. }
            | ServerFrame::Message { id, ts, .. }
            | ServerFrame::Renamed { id, ts, .. }
            | ServerFrame::Away { id, ts, .. }
            | ServerFrame::Topic { id, ts, .. }
            | ServerFrame::Whisper { id, ts, .. }
            | ServerFrame::Notice { id, ts, .. } => Some((*id, ts.as_str())),
            _ => None,
        }
    }

    /// The label echoed from the request that caused this frame.
    pub fn label(&self) -> Option<&str> {
        match self {
            ServerFrame::Welcome { label, .. }
            | ServerFrame::NameRejected { label, .. }
            | ServerFrame::Message { label, .. }
            | ServerFrame::Renamed { label, .. }
            | ServerFrame::Away { label, .. }
            | ServerFrame::Topic { label, .. }
            | ServerFrame::Whois { label, .. }
            | ServerFrame::Ignoring { label, .. }
            | ServerFrame::Whisper { label, .. }
            | ServerFrame::Users { label, .. }
            | ServerFrame::Commands { label, .. }
            | ServerFrame::Error { label, .. } => label.as_deref(),
            _ => None,
        }
    }

    /// The frame without its id, time and label: what it says, for
    /// comparing in tests.
    pub fn unstamped(mut self) -> ServerFrame {
        match &mut self {
            ServerFrame::Joined { id, ts, .. }
            | ServerFrame::Left { id, ts, .. }
            | ServerFrame::Held { id, ts, .. }
            | ServerFrame::Back { id, ts, .. }
            | ServerFrame::Notice { id, ts, .. } => {
                *id = 0;
                ts.clear();
            }
            ServerFrame::Message { id, ts, label, .. }
            | ServerFrame::Renamed { id, ts, label, .. }
            | ServerFrame::Away { id, ts, label, .. }
            | ServerFrame::Topic { id, ts, label, .. }
            | ServerFrame::Whisper { id, ts, label, .. } => {
                *id = 0;
                ts.clear();
                *label = None;
            }
            ServerFrame::Whois { label, .. }
            | ServerFrame::Ignoring { label, .. }
            | ServerFrame::Welcome { label, .. }
            | ServerFrame::NameRejected { label, .. }
            | ServerFrame::Users { label, .. }
            | ServerFrame::Commands { label, .. }
            | ServerFrame::Error { label, .. } => *label = None,
            ServerFrame::History { events, .. } => {
                *events = std::mem::take(events)
                    .into_iter()
                    .map(ServerFrame::unstamped)
                    .collect();
            }
            ServerFrame::Bye { .. }
            | ServerFrame::Resumable { .. }
            | ServerFrame::Stored { .. }
            | ServerFrame::Pake { .. }
            | ServerFrame::PakeOk
            | ServerFrame::Ping { .. }
            | ServerFrame::Pong { .. }
            | ServerFrame::Unknown => {}
        }
        self
    }
}
