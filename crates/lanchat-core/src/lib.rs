//! The room: who is in it, what their names are, and where each line a
//! member types should go. It is a plain state machine with no IO.
//!
//! # Layout
//!
//! - [`room`]: [`Room`], the state, and the [`Output`]s each step produces.
//! - [`event`]: [`Event`], what members are told.
//! - [`command`]: parsing a typed line into a [`Command`].
//! - [`name`]: validating names and the key that decides uniqueness.
//! - [`text`]: what message text may contain before it is relayed.
//!
//! **Architecture invariant:** this crate knows nothing about sockets, tasks,
//! JSON or any wire format. A transport (the TCP server today; IRC and
//! WebSocket later) owns the IO and converts [`Event`]s to its own frames.
//! Members are identified by a [`MemberId`] that never changes and is never
//! reused, so one member leaving can never change how another is addressed.

pub mod command;
pub mod event;
pub mod name;
pub mod room;
pub mod text;

pub use command::{Command, COMMANDS};
pub use event::{Event, LeaveReason};
pub use name::{Name, NameError};
pub use room::{MemberId, Output, Room, Target};

#[cfg(test)]
mod tests;
