//! The one event type the app handles: terminal input, resizes and
//! everything from the network, in the order they happened.

use crossterm::event::{KeyEvent, MouseEvent};
use lanchat_proto::ServerFrame;

/// Something that happened.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A key press.
    Key(KeyEvent),
    /// Text pasted into the terminal (bracketed paste), possibly many lines.
    Paste(String),
    /// A mouse event (only the wheel is used).
    Mouse(MouseEvent),
    /// The terminal window gained (`true`) or lost the focus.
    Focus(bool),
    /// The terminal is now `width` × `height`.
    Resize { width: u16, height: u16 },
    /// Discovery is running.
    Searching,
    /// Discovery found these rooms (labels to show); the user must choose.
    Rooms(Vec<String>),
    /// Connected to a server (greeting verified).
    Connected {
        room: String,
        addr: String,
        /// How the server's key stands (encrypted and verified, or new).
        security: String,
        /// The same in a few words, for the status bar.
        badge: String,
    },
    /// A frame from the server.
    Server(ServerFrame),
    /// The connection is gone, and why.
    Lost(String),
    /// The connection was lost; trying to come back (this attempt).
    Reconnecting { attempt: u32 },
    /// Back in the room after a connection loss: resumed, or (`fresh`)
    /// joined afresh because the room had let the name go; `delayed` lines
    /// typed meanwhile are being sent.
    Reconnected { fresh: bool, delayed: usize },
    /// A SIGTERM or SIGHUP arrived.
    Terminate,
}
