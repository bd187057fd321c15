//! [`Room`]: the members of one chat room and the routing of what they type.
//!
//! Every method is synchronous and appends what should happen to an
//! `&mut Vec<Output>`; the caller (a transport's owner task) delivers it.
//! Because one caller applies steps one at a time, the order of joins,
//! leaves and messages is simply the order of calls, and "check the name is
//! free, then take it" is atomic.

use std::collections::HashMap;

use crate::command::{Command, COMMANDS};
use crate::event::{Event, LeaveReason};
use crate::name::{fold, skeleton_key, Name, NameError};
use crate::text::{self, TextError};

/// A member's identity for as long as they are connected. Ids are never
/// reused, so a stale id can only ever miss, never hit somebody else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MemberId(u64);

impl MemberId {
    /// The raw number, for logs.
    pub fn get(self) -> u64 {
        self.0
    }
}

/// Who an [`Output::Send`] goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// One member.
    One(MemberId),
    /// Every member.
    All,
    /// Every member but one.
    AllBut(MemberId),
}

/// One thing the caller must do after a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Deliver `event` to `to`.
    Send { to: Target, event: Event },
    /// Close this member's connection once what was sent to it is delivered.
    /// The member is already out of the room.
    Close(MemberId),
}

/// One chat room.
#[derive(Debug)]
pub struct Room {
    name: String,
    members: HashMap<MemberId, Name>,
    by_key: HashMap<String, MemberId>,
    next_id: u64,
    max_text_len: usize,
}

impl Room {
    /// An empty room called `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Room {
            name: name.into(),
            members: HashMap::new(),
            by_key: HashMap::new(),
            next_id: 1,
            max_text_len: text::MAX_TEXT_LEN,
        }
    }

    /// Sets the longest message accepted, in bytes.
    pub fn with_max_text_len(mut self, max: usize) -> Self {
        self.max_text_len = max;
        self
    }

    /// The room's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How many members are in the room.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether the room is empty.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Everyone's name, sorted case-insensitively.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<&Name> = self.members.values().collect();
        names.sort_by_cached_key(|n| (fold(n.as_str()), n.as_str().to_owned()));
        names.into_iter().map(|n| n.as_str().to_owned()).collect()
    }

    /// The name of a member, if they are in the room.
    pub fn name_of(&self, id: MemberId) -> Option<&str> {
        self.members.get(&id).map(Name::as_str)
    }

    /// Admits a new member under `raw_name`, or says why not. On success the
    /// newcomer is welcomed and everyone else is told.
    pub fn join(&mut self, raw_name: &str, out: &mut Vec<Output>) -> Result<MemberId, NameError> {
        let name = Name::parse(raw_name)?;
        if name.keys().iter().any(|k| self.by_key.contains_key(k)) {
            return Err(NameError::Taken(name.as_str().to_owned()));
        }
        let id = MemberId(self.next_id);
        self.next_id += 1;
        let users = self.names();
        for key in name.keys() {
            self.by_key.insert(key.clone(), id);
        }
        out.push(Output::Send {
            to: Target::One(id),
            event: Event::Welcome {
                name: name.as_str().to_owned(),
                room: self.name.clone(),
                users,
            },
        });
        out.push(Output::Send {
            to: Target::AllBut(id),
            event: Event::Joined {
                name: name.as_str().to_owned(),
            },
        });
        self.members.insert(id, name);
        Ok(id)
    }

    /// Handles one line typed by `id`. Lines from somebody no longer in the
    /// room are ignored.
    pub fn input(&mut self, id: MemberId, line: &str, out: &mut Vec<Output>) {
        let Some(me) = self.members.get(&id) else {
            return;
        };
        let error = |code, text: String| Output::Send {
            to: Target::One(id),
            event: Event::Error { code, text },
        };
        match Command::parse(line) {
            Command::Say(text) => match text::clean(text, self.max_text_len) {
                Ok(text) => out.push(Output::Send {
                    to: Target::All,
                    event: Event::Message {
                        from: me.as_str().to_owned(),
                        text: text.into_owned(),
                    },
                }),
                Err(e) => out.push(error(text_code(&e), e.to_string())),
            },
            Command::Whisper { to, text } => {
                let target = self.find(to);
                match (target, text::clean(text, self.max_text_len)) {
                    (_, Err(e)) => out.push(error(text_code(&e), e.to_string())),
                    (None, _) => out.push(error(
                        "no_such_user",
                        format!("no user named '{to}' is here"),
                    )),
                    (Some(t), _) if t == id => out.push(error(
                        "whisper_self",
                        "you can't whisper to yourself".into(),
                    )),
                    (Some(t), Ok(text)) => {
                        let event = Event::Whisper {
                            from: me.as_str().to_owned(),
                            to: self.members[&t].as_str().to_owned(),
                            text: text.into_owned(),
                        };
                        out.push(Output::Send {
                            to: Target::One(t),
                            event: event.clone(),
                        });
                        out.push(Output::Send {
                            to: Target::One(id),
                            event,
                        });
                    }
                }
            }
            Command::List => out.push(Output::Send {
                to: Target::One(id),
                event: Event::Users {
                    users: self.names(),
                },
            }),
            Command::Help => out.push(Output::Send {
                to: Target::One(id),
                event: Event::Commands { commands: COMMANDS },
            }),
            Command::Quit => {
                out.push(Output::Send {
                    to: Target::One(id),
                    event: Event::Bye {
                        reason: "goodbye".into(),
                    },
                });
                self.leave(id, LeaveReason::Quit, out);
            }
            Command::Usage(usage) => out.push(error("usage", format!("usage: {usage}"))),
            Command::Unknown(word) => out.push(error(
                "unknown_command",
                format!("unknown command '/{word}'; type /commands to see them all"),
            )),
        }
    }

    /// Removes `id` from the room, frees their name at once and tells
    /// everyone else. Does nothing if they already left, so each departure
    /// is announced exactly once.
    pub fn leave(&mut self, id: MemberId, reason: LeaveReason, out: &mut Vec<Output>) {
        let Some(name) = self.members.remove(&id) else {
            return;
        };
        for key in name.keys() {
            self.by_key.remove(key);
        }
        out.push(Output::Close(id));
        out.push(Output::Send {
            to: Target::AllBut(id),
            event: Event::Left {
                name: name.as_str().to_owned(),
                reason,
            },
        });
    }
}

impl Room {
    /// The member a typed name refers to: by its folded form, or failing
    /// that by its look-alike form.
    fn find(&self, typed: &str) -> Option<MemberId> {
        let folded = fold(typed);
        self.by_key
            .get(&folded)
            .or_else(|| self.by_key.get(&skeleton_key(&folded)))
            .copied()
    }
}

fn text_code(e: &TextError) -> &'static str {
    match e {
        TextError::Empty => "empty",
        TextError::TooLong { .. } => "too_long",
    }
}
