//! [`Room`]: the members of one chat room and the routing of what they ask.
//!
//! Every method is synchronous and appends what should happen to an
//! `&mut Vec<Output>`; the caller (the hub) delivers it. Because one caller
//! applies steps one at a time, the order of joins, leaves and messages is
//! simply the order of calls, and "check the name is free, then take it" is
//! atomic. The caller passes the time, so the room stays pure and tests
//! choose the clock.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use crate::command::{Command, COMMANDS};
use crate::event::{Event, Label, LeaveReason, Stamp};
use crate::history::{self, History, Past};
use crate::name::{fold, lookup_keys, Name, NameError, MAX_NAME_CHARS};
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

/// Which room a command, event or door is about. A server hosts one room
/// today ([`RoomId::MAIN`]); naming it everywhere means more rooms will
/// not change the door API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct RoomId(pub u32);

impl RoomId {
    /// The server's one room.
    pub const MAIN: RoomId = RoomId(0);
}

/// Who a [`Delivery`] goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// One member.
    One(MemberId),
    /// Every member.
    All,
    /// Every member but one.
    AllBut(MemberId),
    /// Every member but these (those who `/ignore` the sender).
    AllExcept(Arc<[MemberId]>),
}

/// An event for some members of a room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub room: RoomId,
    pub to: Target,
    pub event: Event,
    /// Set on room events (see [`Event::is_room_event`]).
    pub stamp: Option<Stamp>,
    /// The label of the request that caused this, for the member who sent
    /// it (only their copy carries it).
    pub label: Option<(MemberId, Label)>,
}

/// One thing the caller must do after a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Deliver an event.
    Send(Delivery),
    /// Close this member's connection once what was sent to it is delivered.
    /// The member is already out of the room.
    Close(MemberId),
    /// Keep this part of the conversation (a server stores it), once per
    /// event whatever the number of copies delivered. Only while history
    /// is kept ([`Room::keep_history`]).
    Record(Past),
}

/// A member in the room, as the room keeps them: one entry of one map.
#[derive(Debug)]
struct Present {
    /// The name as shown, shared with the user list (`order`).
    name: Arc<str>,
    /// When they joined.
    since_ms: u64,
    /// The door they came through: an index into the room's `doors`.
    door: u8,
}

/// One chat room.
#[derive(Debug)]
pub struct Room {
    id: RoomId,
    name: String,
    /// Everyone here: name as shown (shared with `order`), when they
    /// joined, and through which door. (A name's keys are worked out again
    /// when it is let go: kept, they would cost every member a vector and
    /// a string per key.)
    members: HashMap<MemberId, Present>,
    /// Every name's keys (see [`Name::keys`]), for uniqueness and lookup.
    by_key: HashMap<Box<str>, MemberId>,
    /// Everyone's name in display order (folded, then as typed), kept
    /// sorted as people come and go, so a `/list` costs a copy, not a sort.
    order: BTreeSet<(String, Arc<str>)>,
    /// Who last whispered to each member, for `/reply`.
    replies: HashMap<MemberId, MemberId>,
    /// When each member last changed name: once every [`NICK_EVERY_MS`].
    renamed: HashMap<MemberId, u64>,
    /// Who is away, and why.
    away: HashMap<MemberId, String>,
    /// Whom each member ignores, by id: an ignore follows its target
    /// through `/nick` and ends when the target leaves the room.
    ignores: HashMap<MemberId, HashSet<MemberId>>,
    /// The doors members came through, by name (a handful: the first is
    /// [`DEFAULT_DOOR`]); a member keeps an index into it.
    doors: Vec<&'static str>,
    /// Where members connect from, for `/whois`, when the server shows it.
    addresses: HashMap<MemberId, String>,
    /// The topic (empty: none), and whether members may change it.
    topic: String,
    topic_locked: bool,
    next_member: u64,
    /// The last event's stamp (id 0 before the first).
    last: Stamp,
    /// The recent conversation, shown to newcomers who ask for it.
    history: History,
    max_text_len: usize,
}

/// The request being applied: who asked, with what label, and when.
struct Asker {
    id: MemberId,
    label: Option<Label>,
}

impl Room {
    /// An empty room called `name` that relays messages of up to
    /// `max_text_len` bytes.
    pub fn new(id: RoomId, name: impl Into<String>, max_text_len: usize) -> Self {
        Room {
            id,
            name: name.into(),
            members: HashMap::new(),
            by_key: HashMap::new(),
            order: BTreeSet::new(),
            replies: HashMap::new(),
            renamed: HashMap::new(),
            away: HashMap::new(),
            doors: vec![DEFAULT_DOOR],
            addresses: HashMap::new(),
            ignores: HashMap::new(),
            topic: String::new(),
            topic_locked: false,
            next_member: 1,
            last: Stamp { id: 0, ms: 0 },
            history: History::new(0),
            max_text_len,
        }
    }

    /// Keeps the last `capacity` events of the conversation (0: none), to
    /// show newcomers and to [`Output::Record`].
    pub fn keep_history(&mut self, capacity: usize) {
        self.history = History::new(capacity);
    }

    /// Takes back a stored conversation (oldest first), after a restart:
    /// it is shown to newcomers, and ids go on after the last of it.
    pub fn restore(&mut self, pasts: Vec<Past>) {
        for past in pasts {
            self.last = self.last.max(past.stamp);
            self.history.push(past);
        }
    }

    /// The kept conversation.
    pub fn history(&self) -> &History {
        &self.history
    }

    /// Continues ids and times after `last` (the last stored event).
    pub fn continue_after(&mut self, last: Stamp) {
        self.last = self.last.max(last);
    }

    /// The welcome a member is given (on joining, and on coming back):
    /// their name, the room, who else is here, the topic and who is away.
    fn welcome(&self, asker: &Asker, name: &str, users: Vec<Arc<str>>, out: &mut Vec<Output>) {
        let welcome = Event::Welcome {
            name: name.to_owned(),
            room: self.name.clone(),
            users,
        };
        self.reply(asker, welcome, out);
        if !self.topic.is_empty() {
            let topic = Event::Topic {
                topic: self.topic.clone(),
                by: None,
            };
            self.reply(asker, topic, out);
        }
        self.tell_who_is_away(asker, out);
    }

    /// Member `id` lost their connection: their name is kept (they stay
    /// in the room) and the others are told, once.
    pub fn hold(&mut self, id: MemberId, now_ms: u64, out: &mut Vec<Output>) {
        let Some(name) = self.name_of(id) else {
            return;
        };
        let name = name.to_string();
        self.broadcast(Target::AllBut(id), Event::Held { name }, None, now_ms, out);
    }

    /// Member `id` is back on a new connection: welcomed again (with
    /// `label`), and the others are told. `was_held`: the others had been
    /// told they were gone.
    pub fn back(
        &mut self,
        id: MemberId,
        label: Option<Label>,
        was_held: bool,
        now_ms: u64,
        out: &mut Vec<Output>,
    ) {
        let Some(name) = self.name_of(id).map(|n| n.to_string()) else {
            return;
        };
        let users = self
            .order
            .iter()
            .map(|(_, n)| n.clone())
            .filter(|n| **n != *name)
            .collect();
        self.welcome(&Asker { id, label }, &name, users, out);
        if was_held {
            self.broadcast(Target::AllBut(id), Event::Back { name }, None, now_ms, out);
        }
    }

    /// Tells member `id` the earlier conversation they may see, if any
    /// is kept (after their welcome, for doors whose clients want it).
    pub fn tell_history(&self, id: MemberId, label: Option<Label>, out: &mut Vec<Output>) {
        let Some(name) = self.name_of(id) else {
            return;
        };
        let events = self.history.for_member(name);
        if events.is_empty() {
            return;
        }
        let asker = Asker { id, label };
        self.reply(&asker, Event::History { events }, out);
    }

    /// Records which door `id` came through (`/whois` says it).
    pub fn set_door(&mut self, id: MemberId, door: &'static str) {
        let index = self.doors.iter().position(|d| *d == door).or_else(|| {
            // A server has a handful of doors; past 256 kinds, a door is
            // shown as the default.
            (self.doors.len() <= usize::from(u8::MAX)).then(|| {
                self.doors.push(door);
                self.doors.len() - 1
            })
        });
        if let Some(present) = self.members.get_mut(&id) {
            present.door = index.and_then(|i| u8::try_from(i).ok()).unwrap_or(0);
        }
    }

    /// Records where `id` connects from; `/whois` then shows it (the
    /// server calls this only when it is set to show addresses).
    pub fn set_address(&mut self, id: MemberId, address: String) {
        if self.members.contains_key(&id) {
            self.addresses.insert(id, address);
        }
    }

    /// Only the server sets the topic from now on (`--topic-locked`).
    pub fn lock_topic(&mut self, locked: bool) {
        self.topic_locked = locked;
    }

    /// Sets the topic as the server (not a member).
    pub fn set_topic(&mut self, topic: &str) {
        self.topic = text::clean(topic, MAX_TOPIC_LEN)
            .map(|t| t.into_owned())
            .unwrap_or_default();
    }

    /// This room's id.
    pub fn id(&self) -> RoomId {
        self.id
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

    /// The stamp of the last room event.
    pub fn last_stamp(&self) -> Stamp {
        self.last
    }

    /// Everyone's name, sorted case-insensitively.
    pub fn names(&self) -> Vec<Arc<str>> {
        self.order.iter().map(|(_, name)| name.clone()).collect()
    }

    /// The name of a member, if they are in the room.
    pub fn name_of(&self, id: MemberId) -> Option<&str> {
        self.members.get(&id).map(|present| &*present.name)
    }

    /// Admits a new member under `raw_name`, or says why not. On success the
    /// newcomer is welcomed (with `label`) and everyone else is told.
    pub fn join(
        &mut self,
        raw_name: &str,
        label: Option<Label>,
        now_ms: u64,
        out: &mut Vec<Output>,
    ) -> Result<MemberId, NameError> {
        let name = Name::parse(raw_name)?;
        if name
            .keys()
            .iter()
            .any(|k| self.by_key.contains_key(k.as_str()))
        {
            return Err(NameError::Taken(name.as_str().to_owned()));
        }
        let id = MemberId(self.next_member);
        self.next_member += 1;
        let users = self.names();
        for key in name.keys() {
            self.by_key.insert(key.as_str().into(), id);
        }
        let asker = Asker { id, label };
        self.welcome(&asker, name.as_str(), users, out);
        self.broadcast(
            Target::AllBut(id),
            Event::Joined {
                name: name.as_str().to_owned(),
            },
            None,
            now_ms,
            out,
        );
        let display: Arc<str> = name.as_str().into();
        self.order.insert(order_key(&display));
        let present = Present {
            name: display,
            since_ms: now_ms,
            door: 0,
        };
        self.members.insert(id, present);
        Ok(id)
    }

    /// Applies one command from `id`. Commands from somebody no longer in
    /// the room are ignored.
    pub fn apply(
        &mut self,
        id: MemberId,
        command: Command,
        label: Option<Label>,
        now_ms: u64,
        out: &mut Vec<Output>,
    ) {
        let Some(me) = self.name_of(id) else {
            return;
        };
        let me = me.to_string();
        let asker = Asker { id, label };
        match command {
            Command::Say { text } => {
                let message = |from, text| Event::Message { from, text };
                self.relay(asker, me, &text, message, now_ms, out);
            }
            Command::Me { text } => {
                let action = |from, text| Event::Action { from, text };
                self.relay(asker, me, &text, action, now_ms, out);
            }
            Command::Whisper { to, text } => {
                let target = self.find(&to).ok_or_else(|| no_such_user(&to));
                self.whisper(asker, me, target, &text, now_ms, out);
            }
            Command::Nick { name } => self.rename(asker, &name, now_ms, out),
            Command::Reply { text } => {
                let target = match self.replies.get(&id) {
                    None => Err("nobody has whispered to you yet".to_owned()),
                    Some(t) if self.members.contains_key(t) => Ok(*t),
                    Some(_) => Err("whoever whispered to you last has left".to_owned()),
                };
                self.whisper(asker, me, target, &text, now_ms, out);
            }
            Command::List => {
                let users = self.names();
                self.reply(&asker, Event::Users { users }, out);
                self.tell_who_is_away(&asker, out);
            }
            Command::Away { reason } => self.set_away(asker, me, reason, now_ms, out),
            Command::Ignore { name: None } => self.tell_ignoring(&asker, out),
            Command::Ignore { name: Some(name) } => match self.find(&name) {
                Some(t) if t == id => {
                    let text = "you can't ignore yourself".into();
                    self.error(&asker, "ignore_self", text, out);
                }
                Some(t) => {
                    self.ignores.entry(id).or_default().insert(t);
                    self.tell_ignoring(&asker, out);
                }
                None => {
                    let text = no_such_user(&name);
                    self.error(&asker, "no_such_user", text, out);
                }
            },
            Command::Unignore { name } => {
                if let (Some(t), Some(ignored)) = (self.find(&name), self.ignores.get_mut(&id)) {
                    ignored.remove(&t);
                    if ignored.is_empty() {
                        self.ignores.remove(&id);
                    }
                }
                self.tell_ignoring(&asker, out);
            }
            Command::Whois { name } => match self.find(&name) {
                Some(t) => {
                    let present = &self.members[&t];
                    let door = self.doors.get(usize::from(present.door));
                    let event = Event::Whois {
                        name: present.name.to_string(),
                        since_ms: present.since_ms,
                        door: door.copied().unwrap_or(DEFAULT_DOOR).to_owned(),
                        away: self.away.get(&t).cloned(),
                        address: self.addresses.get(&t).cloned(),
                    };
                    self.reply(&asker, event, out);
                }
                None => {
                    let text = no_such_user(&name);
                    self.error(&asker, "no_such_user", text, out);
                }
            },
            Command::Topic { text: None } => {
                let topic = Event::Topic {
                    topic: self.topic.clone(),
                    by: None,
                };
                self.reply(&asker, topic, out);
            }
            Command::Topic { text: Some(_) } if self.topic_locked => {
                let text = "only the server sets the topic here".into();
                self.error(&asker, "topic_locked", text, out);
            }
            Command::Topic { text: Some(text) } => match text::clean(&text, MAX_TOPIC_LEN) {
                Ok(topic) => {
                    self.topic = topic.into_owned();
                    let label = asker.label.map(|l| (id, l));
                    let event = Event::Topic {
                        topic: self.topic.clone(),
                        by: Some(me),
                    };
                    self.broadcast(Target::All, event, label, now_ms, out);
                }
                Err(e) => self.error(&asker, text_code(&e), e.to_string(), out),
            },
            Command::Help => self.reply(&asker, Event::Commands { commands: COMMANDS }, out),
            Command::Quit => {
                self.reply(
                    &asker,
                    Event::Bye {
                        code: "quit",
                        reason: "goodbye".into(),
                    },
                    out,
                );
                self.leave(id, LeaveReason::Quit, now_ms, out);
            }
        }
    }

    /// Removes `id` from the room, frees their name at once and tells
    /// everyone else. Does nothing if they already left, so each departure
    /// is announced exactly once.
    pub fn leave(&mut self, id: MemberId, reason: LeaveReason, now_ms: u64, out: &mut Vec<Output>) {
        let Some(Present { name, .. }) = self.members.remove(&id) else {
            return;
        };
        self.forget_keys(id, &name);
        self.order.remove(&order_key(&name));
        self.replies.remove(&id);
        self.renamed.remove(&id);
        self.away.remove(&id);
        self.addresses.remove(&id);
        // Ignores of them end, and theirs with them.
        self.ignores.remove(&id);
        self.ignores.retain(|_, ignored| {
            ignored.remove(&id);
            !ignored.is_empty()
        });
        out.push(Output::Close(id));
        let event = Event::Left {
            name: name.to_string(),
            reason,
        };
        self.broadcast(Target::AllBut(id), event, None, now_ms, out);
    }

    /// A notice from the server to everyone.
    pub fn notice(&mut self, text: String, now_ms: u64, out: &mut Vec<Output>) {
        self.broadcast(Target::All, Event::Notice { text }, None, now_ms, out);
    }
}

impl Room {
    /// The next stamp: one more than the last id, and never earlier than
    /// the last time (the wall clock may step back).
    fn stamp(&mut self, now_ms: u64) -> Stamp {
        self.last = Stamp {
            id: self.last.id + 1,
            ms: now_ms.max(self.last.ms),
        };
        self.last
    }

    fn delivery(
        &self,
        to: Target,
        event: Event,
        stamp: Option<Stamp>,
        label: Option<(MemberId, Label)>,
    ) -> Output {
        Output::Send(Delivery {
            room: self.id,
            to,
            event,
            stamp,
            label,
        })
    }

    /// A stamped room event.
    fn broadcast(
        &mut self,
        to: Target,
        event: Event,
        label: Option<(MemberId, Label)>,
        now_ms: u64,
        out: &mut Vec<Output>,
    ) {
        let stamp = self.stamp(now_ms);
        self.record(stamp, &event, out);
        out.push(self.delivery(to, event, Some(stamp), label));
    }

    /// Keeps `event` in the history and asks for it to be stored, when it
    /// is part of the conversation and history is kept.
    fn record(&mut self, stamp: Stamp, event: &Event, out: &mut Vec<Output>) {
        if !self.history.is_on() || !history::is_kept(event) {
            return;
        }
        let past = Past {
            stamp,
            event: event.clone(),
        };
        self.history.push(past.clone());
        out.push(Output::Record(past));
    }

    /// An answer to the asker alone, with their label.
    fn reply(&self, asker: &Asker, event: Event, out: &mut Vec<Output>) {
        let label = asker.label.clone().map(|l| (asker.id, l));
        out.push(self.delivery(Target::One(asker.id), event, None, label));
    }

    fn error(&self, asker: &Asker, code: &'static str, text: String, out: &mut Vec<Output>) {
        self.reply(asker, Event::Error { code, text }, out);
    }

    /// Whispers `text` from `asker` (called `from`) to `target`, or tells
    /// the asker why not; the target can `/reply` to it.
    fn whisper(
        &mut self,
        asker: Asker,
        from: String,
        target: Result<MemberId, String>,
        text: &str,
        now_ms: u64,
        out: &mut Vec<Output>,
    ) {
        let id = asker.id;
        match (target, text::clean(text, self.max_text_len)) {
            (_, Err(e)) => self.error(&asker, text_code(&e), e.to_string(), out),
            (Err(why), _) => self.error(&asker, "no_such_user", why, out),
            (Ok(t), _) if t == id => self.error(
                &asker,
                "whisper_self",
                "you can't whisper to yourself".into(),
                out,
            ),
            (Ok(t), Ok(text)) => {
                let event = Event::Whisper {
                    from,
                    to: self.members[&t].name.to_string(),
                    text: text.into_owned(),
                };
                // One event, one stamp: both copies are the same event in
                // the room's history.
                let stamp = self.stamp(now_ms);
                self.record(stamp, &event, out);
                // Somebody who ignores the sender does not get it, and the
                // sender is not told.
                if !self.ignores.get(&t).is_some_and(|i| i.contains(&id)) {
                    out.push(self.delivery(Target::One(t), event.clone(), Some(stamp), None));
                }
                let label = asker.label.clone().map(|l| (id, l));
                out.push(self.delivery(Target::One(id), event, Some(stamp), label));
                self.replies.insert(t, id);
                if let Some(reason) = self.away.get(&t) {
                    let away = Event::Away {
                        name: self.members[&t].name.to_string(),
                        reason: Some(reason.clone()),
                    };
                    self.reply(&asker, away, out);
                }
            }
        }
    }

    /// Gives `asker` the name `raw`, under the same rules as at join, and
    /// tells everyone; or tells the asker why not.
    fn rename(&mut self, asker: Asker, raw: &str, now_ms: u64, out: &mut Vec<Output>) {
        let id = asker.id;
        if let Some(last) = self.renamed.get(&id) {
            if now_ms.saturating_sub(*last) < NICK_EVERY_MS {
                let text = format!(
                    "you can change your name once every {} s",
                    NICK_EVERY_MS / 1000
                );
                return self.error(&asker, "too_soon", text, out);
            }
        }
        let name = match Name::parse(raw) {
            Ok(name) => name,
            Err(e) => return self.error(&asker, e.code(), e.to_string(), out),
        };
        // Taken by somebody else (a change of case of one's own name is
        // not taken).
        if name
            .keys()
            .iter()
            .any(|k| self.by_key.get(k.as_str()).is_some_and(|o| *o != id))
        {
            let e = NameError::Taken(name.as_str().to_owned());
            return self.error(&asker, e.code(), e.to_string(), out);
        }
        let display: Arc<str> = name.as_str().into();
        let Some(present) = self.members.get_mut(&id) else {
            return;
        };
        let old = std::mem::replace(&mut present.name, display.clone());
        self.forget_keys(id, &old);
        self.order.remove(&order_key(&old));
        for key in name.keys() {
            self.by_key.insert(key.as_str().into(), id);
        }
        self.order.insert(order_key(&display));
        let event = Event::Renamed {
            from: old.to_string(),
            to: name.as_str().to_owned(),
        };
        self.renamed.insert(id, now_ms);
        let label = asker.label.map(|l| (id, l));
        self.broadcast(Target::All, event, label, now_ms, out);
    }

    /// Marks `asker` away with `reason` (cleaned like a message), or back,
    /// and tells everyone.
    fn set_away(
        &mut self,
        asker: Asker,
        name: String,
        reason: Option<String>,
        now_ms: u64,
        out: &mut Vec<Output>,
    ) {
        let id = asker.id;
        let reason = match reason {
            None => None,
            Some(r) => match text::clean(&r, MAX_AWAY_LEN) {
                Ok(r) => Some(r.into_owned()),
                Err(e) => return self.error(&asker, text_code(&e), e.to_string(), out),
            },
        };
        match &reason {
            Some(r) => self.away.insert(id, r.clone()),
            None => self.away.remove(&id),
        };
        let label = asker.label.map(|l| (id, l));
        self.broadcast(
            Target::All,
            Event::Away { name, reason },
            label,
            now_ms,
            out,
        );
    }

    /// Everyone, or everyone but those who ignore `sender`.
    fn all_but_ignorers_of(&self, sender: MemberId) -> Target {
        if self.ignores.is_empty() {
            return Target::All;
        }
        let ignorers: Vec<MemberId> = self
            .ignores
            .iter()
            .filter(|(_, ignored)| ignored.contains(&sender))
            .map(|(m, _)| *m)
            .collect();
        if ignorers.is_empty() {
            Target::All
        } else {
            Target::AllExcept(ignorers.into())
        }
    }

    /// Tells `asker` whom they ignore.
    fn tell_ignoring(&self, asker: &Asker, out: &mut Vec<Output>) {
        let mut names: Vec<String> = self
            .ignores
            .get(&asker.id)
            .into_iter()
            .flatten()
            .filter_map(|m| self.name_of(*m).map(|n| n.to_string()))
            .collect();
        names.sort();
        self.reply(asker, Event::Ignoring { names }, out);
    }

    /// Tells `asker` who is away (after a welcome or a `/list`).
    fn tell_who_is_away(&self, asker: &Asker, out: &mut Vec<Output>) {
        let mut away: Vec<(&str, &String)> = self
            .away
            .iter()
            .filter_map(|(m, r)| Some((self.name_of(*m)?, r)))
            .collect();
        away.sort();
        for (name, reason) in away {
            let event = Event::Away {
                name: name.to_owned(),
                reason: Some(reason.clone()),
            };
            self.reply(asker, event, out);
        }
    }

    /// Cleans `text` and tells everyone, as the event `make` builds from
    /// the sender's name and the text; or tells the asker why not.
    fn relay(
        &mut self,
        asker: Asker,
        from: String,
        text: &str,
        make: fn(String, String) -> Event,
        now_ms: u64,
        out: &mut Vec<Output>,
    ) {
        match text::clean(text, self.max_text_len) {
            Ok(text) => {
                let label = asker.label.map(|l| (asker.id, l));
                let event = make(from, text.into_owned());
                let to = self.all_but_ignorers_of(asker.id);
                self.broadcast(to, event, label, now_ms, out);
            }
            Err(e) => self.error(&asker, text_code(&e), e.to_string(), out),
        }
    }

    /// Frees the keys of `display`, a name member `id` had.
    fn forget_keys(&mut self, id: MemberId, display: &str) {
        match Name::parse(display) {
            Ok(name) => {
                for key in name.keys() {
                    self.by_key.remove(key.as_str());
                }
            }
            // It was parsed to get in, so this cannot happen; if it did,
            // none of its keys may stay taken.
            Err(_) => self.by_key.retain(|_, owner| *owner != id),
        }
    }

    /// The member a typed name refers to: by its folded form, or failing
    /// that by its look-alike form.
    fn find(&self, typed: &str) -> Option<MemberId> {
        // A name has at most MAX_NAME_CHARS characters after NFKC, which
        // can compose a few characters into one but not many: anything far
        // longer cannot match, and is not worth folding.
        if typed.chars().nth(4 * MAX_NAME_CHARS).is_some() {
            return None;
        }
        // The folded form first: an exact name wins over a look-alike.
        let folded = fold(typed);
        if let Some(id) = self.by_key.get(folded.as_str()) {
            return Some(*id);
        }
        lookup_keys(typed)
            .iter()
            .find_map(|key| self.by_key.get(key.as_str()))
            .copied()
    }
}

/// The door a member came through, unless the server says otherwise.
pub const DEFAULT_DOOR: &str = "terminal";

/// The longest topic, in bytes.
pub const MAX_TOPIC_LEN: usize = 300;

/// The longest away reason, in bytes.
pub const MAX_AWAY_LEN: usize = 200;

/// How often a member may change name: a rename is announced to
/// everyone, so it must not be a way to spam the room.
pub const NICK_EVERY_MS: u64 = 10_000;

/// Where a name sorts in the user list.
fn order_key(display: &Arc<str>) -> (String, Arc<str>) {
    (fold(display), display.clone())
}

/// The error for a name nobody here has, quoting what was typed cut to a
/// name's length.
fn no_such_user(typed: &str) -> String {
    format!(
        "no user named '{}' is here",
        text::excerpt(typed, MAX_NAME_CHARS)
    )
}

fn text_code(e: &TextError) -> &'static str {
    match e {
        TextError::Empty => "empty",
        TextError::TooLong { .. } => "too_long",
    }
}
