//! The room's recent conversation: what a newcomer is shown as earlier
//! conversation, and what a server may store (see [`crate::Output::Record`]).
//!
//! It keeps the last messages, actions and whispers, each with its stamp.
//! A whisper is shown only to its two participants, by name (compared as
//! names are: folded), when that name comes back.

use std::collections::VecDeque;

use crate::event::{Event, Stamp};
use crate::name::fold;

/// One event of the conversation, as it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Past {
    pub stamp: Stamp,
    /// A [`Event::Message`], [`Event::Action`] or [`Event::Whisper`].
    pub event: Event,
}

impl Past {
    /// Whether a member called `name` may see it.
    fn visible_to(&self, name: &str) -> bool {
        match &self.event {
            Event::Whisper { from, to, .. } => {
                let me = fold(name);
                fold(from) == me || fold(to) == me
            }
            _ => true,
        }
    }
}

/// Whether an event is part of the conversation kept as history.
pub fn is_kept(event: &Event) -> bool {
    matches!(
        event,
        Event::Message { .. } | Event::Action { .. } | Event::Whisper { .. }
    )
}

/// The last `capacity` events of the conversation (0: none kept).
#[derive(Debug, Clone, Default)]
pub struct History {
    entries: VecDeque<Past>,
    capacity: usize,
}

impl History {
    pub fn new(capacity: usize) -> Self {
        History {
            entries: VecDeque::with_capacity(capacity.min(1024)),
            capacity,
        }
    }

    pub fn is_on(&self) -> bool {
        self.capacity > 0
    }

    /// Keeps `past`, forgetting the oldest when full.
    pub fn push(&mut self, past: Past) {
        if self.capacity == 0 {
            return;
        }
        if self.entries.len() == self.capacity {
            self.entries.pop_front();
        }
        self.entries.push_back(past);
    }

    /// What a member called `name` is shown, oldest first.
    pub fn for_member(&self, name: &str) -> Vec<Past> {
        self.entries
            .iter()
            .filter(|p| p.visible_to(name))
            .cloned()
            .collect()
    }

    /// Everything kept, whispers included, oldest first.
    pub fn all(&self) -> Vec<Past> {
        self.entries.iter().cloned().collect()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn past(id: u64, event: Event) -> Past {
        Past {
            stamp: Stamp { id, ms: id * 1000 },
            event,
        }
    }

    fn said(id: u64, from: &str, text: &str) -> Past {
        let (from, text) = (from.into(), text.into());
        past(id, Event::Message { from, text })
    }

    fn whispered(id: u64, from: &str, to: &str) -> Past {
        let (from, to, text) = (from.into(), to.into(), "psst".into());
        past(id, Event::Whisper { from, to, text })
    }

    #[test]
    fn keeps_the_last_entries_and_shows_whispers_to_their_two_only() {
        let mut h = History::new(3);
        h.push(said(1, "alice", "one"));
        h.push(whispered(2, "alice", "Bob"));
        h.push(said(3, "bob", "three"));
        h.push(said(4, "carol", "four"));
        assert_eq!(h.len(), 3);
        let ids = |name| {
            h.for_member(name)
                .iter()
                .map(|p| p.stamp.id)
                .collect::<Vec<_>>()
        };
        assert_eq!(ids("BOB"), [2, 3, 4]);
        assert_eq!(ids("alice"), [2, 3, 4]);
        assert_eq!(ids("carol"), [3, 4]);
    }

    #[test]
    fn a_capacity_of_zero_keeps_nothing() {
        let mut h = History::new(0);
        h.push(said(1, "alice", "one"));
        assert!(h.is_empty() && !h.is_on());
    }
}
