//! The client's error type. Messages are written for the person at the
//! keyboard: what happened, and what it means.

use std::io;

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
    #[error("disconnected: {0}")]
    Disconnected(String),
    #[error("the server sent a frame longer than the protocol allows")]
    FrameTooLong,
    #[error("no name was given")]
    NoName,
    #[error("no room was found{}", if .0.is_empty() { String::new() } else { format!(": {}", .0) })]
    NothingFound(String),
    #[error("{0}")]
    Encode(String),
    // The cause is the source, printed by whoever prints the chain; in
    // the message too it would be printed twice.
    #[error("connection error")]
    Io(#[from] io::Error),
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
