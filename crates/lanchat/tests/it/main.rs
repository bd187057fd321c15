//! End-to-end tests of the real `lanchat` binary: a server process and
//! `--plain` client processes, driven through stdin and read on stdout and
//! stderr, exactly as a script or a user would.

mod chat;
mod discovery;
mod errors;
mod history;
mod resume;
#[allow(dead_code)] // Shared with the `needs` binary, which uses other parts.
mod support;
mod tls;
