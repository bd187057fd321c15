//! The client's error type. Messages are written for the person at the
//! keyboard: what happened, and what it means.

use std::io;

use crate::display::inert;

/// Why the client could not go on.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("could not resolve '{host}': {cause}")]
    Resolve { host: String, cause: io::Error },
    #[error("could not connect to {addr}: {cause}")]
    Connect { addr: String, cause: io::Error },
    #[error("could not connect to {addr}: no answer within {secs} s")]
    ConnectTimeout { addr: String, secs: u64 },
    #[error("{addr} is not a lanchat server: it sent nothing within {secs} s")]
    Silent { addr: String, secs: u64 },
    #[error("{addr} is not a lanchat server: it sent {sample}")]
    NotLanchat { addr: String, sample: String },
    #[error("{addr} closed the connection without a greeting: it is not a lanchat server, or it refused us")]
    NoGreeting { addr: String },
    #[error("{addr} is a lanchat server, but {detail}")]
    Version { addr: String, detail: String },
    #[error("the server closed the connection")]
    Closed,
    #[error("the server did not answer within {secs} s")]
    NoAnswer { secs: u64 },
    // Everything a server (or a discovery answer) chose is made inert
    // here, where the message is made: it is printed by whoever prints the
    // error, which may be a terminal.
    #[error("disconnected: {}", inert(.0))]
    Disconnected(String),
    #[error("the server sent a frame longer than the protocol allows")]
    FrameTooLong,
    #[error("no name was given")]
    NoName,
    #[error("no room was found{}", if .0.is_empty() { String::new() } else { format!(": {}", .0) })]
    NothingFound(String),
    #[error("{0}")]
    Encode(String),
    #[error("could not set up an encrypted connection to {addr}: {why}")]
    Tls { addr: String, why: String },
    #[error(
        "{addr} is an older lanchat server that does not encrypt: ask its host to update lanchat"
    )]
    Plaintext { addr: String },
    #[error("{0}")]
    KeyChanged(Box<KeyChange>),
    #[error("the server at {addr} shows the key {shown}, not the one given with --fingerprint ({given})")]
    NotTheGivenKey {
        addr: String,
        given: String,
        shown: String,
    },
    #[error("a discovery answer said room '{}' at {addr} has the key {}, but the server there shows {shown}: someone may be answering for the room; not joining", inert(room), inert(announced))]
    Spoofed {
        addr: String,
        room: String,
        announced: String,
        shown: String,
    },
    #[error("{file} line {line}: {why}")]
    KnownRooms {
        file: String,
        line: usize,
        why: String,
    },
    #[error("room '{}' has a passphrase: give it with --passphrase-file FILE, or join in a terminal to be asked", inert(room))]
    PassphraseNeeded { room: String },
    #[error("wrong passphrase for room '{}'", inert(room))]
    WrongPassphrase { room: String },
    #[error("the passphrase did not match: either it is wrong, or the server at {addr} is not the real room '{}' (it could not prove it knows the passphrase); not joining", inert(room))]
    FakeRoom { addr: String, room: String },
    // The cause is the source, printed by whoever prints the chain; in
    // the message too it would be printed twice.
    #[error("connection error")]
    Io(#[from] io::Error),
}

/// A server key that is not the pinned one.
#[derive(Debug)]
pub struct KeyChange {
    pub addr: String,
    pub room: String,
    pub old: String,
    pub new: String,
    pub file: String,
    pub line: usize,
    pub pinned_room: String,
    pub pinned_addr: String,
}

impl std::fmt::Display for KeyChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let KeyChange {
            addr,
            room,
            old,
            new,
            file,
            line,
            pinned_room,
            pinned_addr,
        } = self;
        let (room, pinned_room) = (inert(room), inert(pinned_room));
        write!(
            f,
            "the server at {addr} (room '{room}') shows a different key than the one pinned \
             for '{pinned_room}' at {pinned_addr}:\n  pinned:  {old}  ({file} line {line})\n  \
             now:     {new}\nsomeone may be pretending to be the room, or its key was replaced. \
             if you know it was replaced, run `lanchat forget {pinned_room}` and join again"
        )
    }
}

/// The error with its causes, for one line on screen.
pub fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
