//! The terminal UI: a message pane, the live user list, a status bar and an
//! input line that incoming messages never scramble.
//!
//! # Layout (Elm-like, after ratatui's templates)
//!
//! - [`event`]: [`Event`], the one enum for terminal input, ticks and the
//!   network.
//! - [`app`]: [`App`], the state. `App::handle` maps an event to changes
//!   and returns [`Effect`]s (IO requests); it does no IO itself.
//! - [`editor`]: the input line, measured in display columns.
//! - [`transcript`]: the bounded scrollback.
//! - [`search`]: finding text in it.
//! - [`ui`]: rendering, a pure function of `&App`.
//! - [`wrap`]: styled text into rows, by grapheme cluster and word.
//! - [`terminal`]: entering and always restoring the terminal.
//! - [`runner`]: the IO loop that feeds events in and carries effects out.
//!
//! **Invariant:** nothing from the network reaches the terminal without
//! `display::inert`, and the UI writes only through ratatui (plus the bell).

pub mod app;
pub mod editor;
pub mod event;
pub mod runner;
pub mod search;
pub mod terminal;
pub mod transcript;
pub mod ui;
pub mod users;
pub mod wrap;

pub use app::{App, Effect, Exit};
pub use event::Event;
pub use runner::{run, Start, TuiOptions};

#[cfg(test)]
mod tests;
