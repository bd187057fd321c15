//! The room: who is in it, what their names are, and where each command a
//! member gives should go. It is a plain state machine with no IO.
//!
//! # Layout
//!
//! - [`room`]: [`Room`], the state, and the [`Output`]s each step produces.
//! - [`command`]: [`Command`], what a member asks for, already typed.
//! - [`typed`]: typed lines (`/w bob hi`) into commands, for doors whose
//!   users type.
//! - [`event`]: [`Event`], what members are told, and the [`Stamp`] (id and
//!   time) every room event gets.
//! - [`history`]: the recent conversation, shown to newcomers and stored.
//! - [`name`]: validating names and the key that decides uniqueness.
//! - [`text`]: what message text may contain before it is relayed.
//!
//! **Architecture invariant:** this crate knows nothing about sockets, tasks,
//! clocks, JSON or any wire format. A door (the lanchat TCP door today; IRC
//! and WebSocket later) owns the IO, builds [`Command`]s and encodes
//! [`Event`]s into its own frames. Members are identified by a [`MemberId`]
//! that never changes and is never reused, so one member leaving can never
//! change how another is addressed.

pub mod command;
pub mod event;
pub mod history;
pub mod name;
pub mod room;
pub mod text;
pub mod typed;

pub use command::{Command, CommandInfo, COMMANDS};
pub use event::{Event, Label, LeaveReason, Stamp};
pub use history::{History, Past};
pub use name::{Name, NameError};
pub use room::{Delivery, MemberId, Output, Room, RoomId, Target};

#[cfg(test)]
mod tests;
