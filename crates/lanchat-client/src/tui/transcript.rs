//! The scrollback: the last [`CAPACITY`] entries, oldest dropped first, so
//! a long session or a flood cannot grow the client's memory.

use std::collections::VecDeque;

use crate::clock::Moment;

/// The most entries kept.
pub const CAPACITY: usize = 10_000;

/// What kind of line an entry is; decides how it looks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A room message. `mine` if we sent it; `mention` if it names us.
    Message {
        from: String,
        mine: bool,
        mention: bool,
    },
    /// A `/me` action: `* from text`.
    Action { from: String },
    /// A whisper to us.
    WhisperIn { from: String },
    /// A whisper we sent.
    WhisperOut { to: String },
    /// A notice from the room or the client (joins, exits, lists).
    Notice,
    /// Something went wrong.
    Error,
    /// A line across the view with a label, such as the end of the
    /// earlier conversation shown on joining.
    Separator,
}

/// One line of the transcript.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Increases by one per entry, never reused; marks unread positions.
    pub seq: u64,
    /// When it happened: the server's time for room events, else when it
    /// arrived.
    pub at: Moment,
    pub kind: Kind,
    /// The text, already made inert.
    pub text: String,
}

/// The bounded list of entries.
#[derive(Debug, Clone, Default)]
pub struct Transcript {
    entries: VecDeque<Entry>,
    next_seq: u64,
}

impl Transcript {
    /// Appends an entry; returns its sequence number.
    pub fn push(&mut self, at: Moment, kind: Kind, text: String) -> u64 {
        if self.entries.len() == CAPACITY {
            self.entries.pop_front();
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.entries.push_back(Entry {
            seq,
            at,
            kind,
            text,
        });
        seq
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Forgets every entry (`/clear`); sequence numbers go on.
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Entries from the newest back.
    pub fn newest_first(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter().rev()
    }

    pub fn last(&self) -> Option<&Entry> {
        self.entries.back()
    }
}
