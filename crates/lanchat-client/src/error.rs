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
    #[error("disconnected: {0}")]
    Disconnected(String),
    #[error("the server sent a frame longer than the protocol allows")]
    FrameTooLong,
    #[error("no name was given")]
    NoName,
    #[error("no room was found{}", if .0.is_empty() { String::new() } else { format!(": {}", .0) })]
    NothingFound(String),
    #[error("connection error: {0}")]
    Io(#[from] io::Error),
}
