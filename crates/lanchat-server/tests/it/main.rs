//! Integration tests: the real server on `127.0.0.1:0`, real TCP clients
//! speaking raw frames. One binary, one module per area.

mod chat;
mod faults;
mod history;
mod hostile;
mod irc;
mod passphrase;
mod resume;
mod support;
mod v2;
