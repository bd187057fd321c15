//! The IRC wire format: room events as IRC lines, for one set of IRCv3
//! capabilities.
//!
//! Room events (a message, a join, a rename) read the same for every IRC
//! client with the same capabilities, so the hub encodes them once per
//! format, as for any door. Replies (numerics) name their recipient, which
//! the hub gives on copies for one member ([`EventRef::recipient`]).
//!
//! The IRC door puts a label on every command it hands the hub (see
//! `Ask`): it marks the asker's own copy of what the command
//! caused, and says what the command was, so that a user list answers
//! `NAMES` or `WHO` and a refused name answers `NICK` with 432 or 433.
//!
//! No line is longer than 512 bytes without its tags: long text is split
//! over several messages, at a space where there is one.

use std::fmt::Write as _;
use std::sync::Arc;

use bytes::Bytes;
use lanchat_core::{Event, LeaveReason, Past, Stamp};
use lanchat_proto::irc::{cut, nick, MAX_LINE};
use lanchat_proto::time;

use super::{Ask, Caps, SERVER};
use crate::door::{EventRef, WireFormat};

/// The user and host parts of every member's IRC source.
const USER_HOST: &str = "!u@lanchat";

/// What the room says about itself, shared by every IRC format.
#[derive(Debug)]
pub(crate) struct Room {
    /// `#` and the room's name, valid for IRC.
    pub channel: String,
    /// The room's name, as people know it.
    pub name: String,
    /// The 005 tokens, already split into lines' worth.
    pub isupport: Vec<String>,
    /// The server's version, for 002 and 004.
    pub version: String,
}

/// Room events as IRC lines, for clients with `caps`.
#[derive(Debug)]
pub struct IrcLines {
    caps: Caps,
    room: std::sync::Arc<Room>,
}

impl IrcLines {
    pub(crate) fn new(caps: Caps, room: std::sync::Arc<Room>) -> Self {
        IrcLines { caps, room }
    }
}

/// One line being written: `out` from `start`, with the length of its
/// tags (which do not count towards the 512 bytes).
struct Line<'a> {
    out: &'a mut Vec<u8>,
    start: usize,
    tags: usize,
}

impl<'a> Line<'a> {
    fn new(out: &'a mut Vec<u8>) -> Self {
        let start = out.len();
        Line {
            out,
            start,
            tags: 0,
        }
    }

    /// The room event's tags, as far as the client asked for them.
    fn tags(mut self, caps: Caps, stamp: Option<Stamp>) -> Self {
        let Some(stamp) = stamp else { return self };
        let mut tags = String::new();
        if caps.has(Caps::SERVER_TIME) {
            tags.push_str("time=");
            tags.push_str(&time::format_ms(stamp.ms));
        }
        if caps.has(Caps::MESSAGE_TAGS) {
            if !tags.is_empty() {
                tags.push(';');
            }
            let _ = write!(tags, "msgid={}", stamp.id);
        }
        if !tags.is_empty() {
            self.out.push(b'@');
            self.out.extend_from_slice(tags.as_bytes());
            self.out.push(b' ');
            self.tags = tags.len() + 2;
        }
        self
    }

    fn push(self, s: &str) -> Self {
        self.out.extend_from_slice(s.as_bytes());
        self
    }

    /// A member's source, `:nick!u@lanchat `.
    fn from(self, name: &str) -> Self {
        self.push(":").push(&nick(name)).push(USER_HOST).push(" ")
    }

    /// The server's source and a numeric for `to` (`*` before a client
    /// has a nick).
    fn numeric(self, code: &str, to: &str) -> Self {
        let line = self.push(":").push(SERVER).push(" ").push(code).push(" ");
        if to == "*" {
            line.push(to)
        } else {
            line.push(&nick(to))
        }
    }

    /// How many bytes the last parameter may have.
    fn room_left(&self) -> usize {
        let used = self.out.len() - self.start - self.tags;
        // ` :` before it, CR-LF after it.
        MAX_LINE.saturating_sub(used + 4)
    }

    /// Ends the line with `text` as its last parameter, cut to fit.
    fn last(self, text: &str) -> Self {
        let room = self.room_left();
        let text = cut(text, room);
        self.push(" :").push(text)
    }

    fn end(self) {
        self.out.extend_from_slice(b"\r\n");
    }
}

/// `text` in pieces of at most `max` bytes, cut at the last space of a
/// piece when there is one in its second half.
fn pieces(text: &str, max: usize) -> Vec<&str> {
    let max = max.max(8);
    let mut out = Vec::new();
    let mut rest = text;
    while rest.len() > max {
        let head = cut(rest, max);
        let at = match head.rfind(' ') {
            Some(i) if i >= head.len() / 2 => i + 1,
            _ => head.len(),
        };
        out.push(&rest[..at]);
        rest = &rest[at..];
    }
    out.push(rest);
    out
}

/// A reply from the server: `:lanchat CODE TO PARAMS… :TEXT` (no text
/// parameter when `text` is empty).
pub(crate) fn numeric(code: &str, to: &str, params: &[&str], text: &str) -> Bytes {
    let mut out = Vec::new();
    let mut line = Line::new(&mut out).numeric(code, to);
    for param in params {
        line = line.push(" ").push(param);
    }
    if !text.is_empty() {
        line = line.last(text);
    }
    line.end();
    Bytes::from(out)
}

/// The last line before the server closes a connection.
pub(crate) fn closing(reason: &str) -> Bytes {
    let mut out = Vec::new();
    Line::new(&mut out)
        .push("ERROR")
        .last(&format!("Closing link: {reason}"))
        .end();
    Bytes::from(out)
}

/// One line per piece of `text` (at most `room` bytes each): `head`,
/// `pre`, the piece, `post`.
fn repeat(out: &mut Vec<u8>, head: &[u8], room: usize, text: &str, pre: &str, post: &str) {
    for piece in pieces(text, room) {
        out.extend_from_slice(head);
        out.extend_from_slice(pre.as_bytes());
        out.extend_from_slice(piece.as_bytes());
        out.extend_from_slice(post.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
}

/// The numeric for a nick the room refused, by lanchat's code: 433 when
/// somebody (or the server) has it, so that clients try another one by
/// themselves; 432 when it breaks the name rules.
pub(crate) fn nick_refused(code: &str) -> &'static str {
    match code {
        "taken" | "reserved" => "433",
        _ => "432",
    }
}

/// How a departure reads in a QUIT message.
fn quit_reason(reason: LeaveReason) -> &'static str {
    match reason {
        LeaveReason::Quit => "Quit",
        LeaveReason::Dropped => "Connection closed",
        LeaveReason::TimedOut => "Ping timeout",
        LeaveReason::TooSlow => "Too slow: could not keep up with the room",
        LeaveReason::Kicked => "Kicked: broke the room's rules",
    }
}

impl IrcLines {
    /// A chat line from `from` to `target` (the channel or a nick), split
    /// over several messages if long; `action` wraps it as CTCP ACTION.
    fn privmsg(
        &self,
        out: &mut Vec<u8>,
        stamp: Option<Stamp>,
        from: &str,
        target: &str,
        text: &str,
        action: bool,
    ) {
        let mut head = Vec::new();
        let line = Line::new(&mut head).tags(self.caps, stamp).from(from);
        let room = line.push("PRIVMSG ").push(target).room_left();
        if action {
            repeat(out, &head, room - 9, text, " :\u{1}ACTION ", "\u{1}");
        } else {
            repeat(out, &head, room, text, " :", "");
        }
    }

    /// The earlier conversation, between two notices, each line with its
    /// original time and id for clients that asked for the tags (others
    /// see the time in the notices' frame only).
    fn playback(&self, out: &mut Vec<u8>, events: &[Past]) {
        let channel = &self.room.channel;
        let (Some(first), Some(last)) = (events.first(), events.last()) else {
            return;
        };
        let at = |ms: u64| time::format_ms(ms);
        let start = format!(
            "Earlier conversation, {} to {} (UTC):",
            at(first.stamp.ms),
            at(last.stamp.ms)
        );
        self.notice(out, channel, &start);
        for past in events {
            let stamp = Some(past.stamp);
            match &past.event {
                Event::Message { from, text } => {
                    self.privmsg(out, stamp, from, channel, text, false)
                }
                Event::Action { from, text } => self.privmsg(out, stamp, from, channel, text, true),
                Event::Whisper { from, to, text } => {
                    self.privmsg(out, stamp, from, &nick(to), text, false)
                }
                _ => {}
            }
        }
        self.notice(out, channel, "End of the earlier conversation.");
    }

    /// Whether the asker's own copy of a chat line is sent back.
    fn echo(&self, label: Option<&str>) -> bool {
        label.is_none() || self.caps.has(Caps::ECHO_MESSAGE)
    }

    /// The user list as NAMES (353, 366), or as WHO (352, 315) filtered
    /// to `who` when it names somebody.
    fn names(&self, out: &mut Vec<u8>, to: &str, users: &[Arc<str>], ask: Ask<'_>) {
        let channel = &self.room.channel;
        if let Ask::Who(mask) = ask {
            let wanted = |u: &&Arc<str>| mask.is_none_or(|m| nick(u).eq_ignore_ascii_case(m));
            for user in users.iter().filter(wanted) {
                let n = nick(user);
                Line::new(out)
                    .numeric("352", to)
                    .push(" ")
                    .push(channel)
                    .push(" u lanchat ")
                    .push(SERVER)
                    .push(" ")
                    .push(&n)
                    .push(" H")
                    .last(&format!("0 {n}"))
                    .end();
            }
            let end = Line::new(out).numeric("315", to).push(" ");
            end.push(mask.unwrap_or(channel))
                .last("End of WHO list")
                .end();
            return;
        }
        let mut head = Vec::new();
        let line = Line::new(&mut head).numeric("353", to).push(" = ");
        let room = line.push(channel).room_left();
        head.extend_from_slice(b" :");
        let mut line = String::new();
        for user in users {
            let n = nick(user);
            if !line.is_empty() && line.len() + 1 + n.len() > room {
                repeat(out, &head, room, &line, "", "");
                line.clear();
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(&n);
        }
        if !line.is_empty() {
            repeat(out, &head, room, &line, "", "");
        }
        Line::new(out)
            .numeric("366", to)
            .push(" ")
            .push(channel)
            .last("End of /NAMES list")
            .end();
    }

    /// 001 to 005 and the message of the day.
    fn welcome(&self, out: &mut Vec<u8>, me: &str) {
        let room = &self.room;
        let lines = [
            (
                "001",
                format!("Welcome to the lanchat room '{}', {me}", room.name),
            ),
            (
                "002",
                format!("Your host is {SERVER}, running lanchat {}", room.version),
            ),
            ("003", "This room was made for the local network".to_owned()),
        ];
        for (code, text) in lines {
            Line::new(out).numeric(code, me).last(&text).end();
        }
        Line::new(out)
            .numeric("004", me)
            .push(" ")
            .push(SERVER)
            .push(" lanchat-")
            .push(&room.version)
            .push(" i nt")
            .end();
        for tokens in &room.isupport {
            Line::new(out)
                .numeric("005", me)
                .push(" ")
                .push(tokens)
                .last("are supported by this server")
                .end();
        }
        self.motd(out, me);
    }

    /// The message of the day: where the conversation is.
    pub(crate) fn motd(&self, out: &mut Vec<u8>, me: &str) {
        let room = &self.room;
        let text = [
            format!("This is the lanchat room '{}'.", room.name),
            format!(
                "Everyone here is in one channel, {}: you are in it already.",
                room.channel
            ),
            "Terminal users join with `lanchat`; whispers are private messages.".to_owned(),
        ];
        Line::new(out)
            .numeric("375", me)
            .last(&format!("- {SERVER} Message of the day -"))
            .end();
        for line in text {
            Line::new(out)
                .numeric("372", me)
                .last(&format!("- {line}"))
                .end();
        }
        Line::new(out)
            .numeric("376", me)
            .last("End of /MOTD command")
            .end();
    }

    /// Joining the channel: the JOIN and the names.
    fn join(&self, out: &mut Vec<u8>, me: &str, users: &[Arc<str>]) {
        Line::new(out)
            .from(me)
            .push("JOIN ")
            .push(&self.room.channel)
            .end();
        let mut all = users.to_vec();
        all.push(me.into());
        self.names(out, me, &all, Ask::Names);
    }

    /// A server notice to `to`.
    fn notice(&self, out: &mut Vec<u8>, to: &str, text: &str) {
        let mut head = Vec::new();
        let line = Line::new(&mut head).push(":").push(SERVER);
        let room = line.push(" NOTICE ").push(to).room_left();
        repeat(out, &head, room, text, " :", "");
    }

    /// A refusal, as the numeric the command calls for.
    fn error(&self, out: &mut Vec<u8>, to: &str, code: &str, text: &str, ask: Ask<'_>) {
        let numeric = |out: &mut Vec<u8>, n: &str, param: &str| {
            Line::new(out)
                .numeric(n, to)
                .push(" ")
                .push(param)
                .last(text)
                .end()
        };
        match (ask, code) {
            // Nothing ever answers a NOTICE (RFC 2812), not even an error.
            (Ask::Notice, _) => {}
            (Ask::Nick(wanted), "taken" | "reserved" | "invalid" | "empty" | "too_long") => {
                numeric(out, nick_refused(code), wanted)
            }
            (Ask::Whisper(to_whom), "no_such_user") => numeric(out, "401", to_whom),
            (Ask::Whois(whom), "no_such_user") => {
                numeric(out, "401", whom);
                Line::new(out)
                    .numeric("318", to)
                    .push(" ")
                    .push(whom)
                    .last("End of /WHOIS list")
                    .end();
            }
            (_, "topic_locked") => numeric(out, "482", &self.room.channel),
            _ => self.notice(out, &nick(to), text),
        }
    }
}

impl WireFormat for IrcLines {
    fn encode(&self, e: EventRef<'_>, out: &mut Vec<u8>) {
        let ask = Ask::from_label(e.label);
        let to = e.recipient.unwrap_or("*");
        let channel = &self.room.channel;
        match e.event {
            Event::Welcome { name, users, .. } => {
                if ask == Ask::Register {
                    self.welcome(out, name);
                }
                self.join(out, name, users);
            }
            Event::Users { users } => self.names(out, to, users, ask),
            Event::History { events } => self.playback(out, events),
            Event::Joined { name } => Line::new(out)
                .tags(self.caps, e.stamp)
                .from(name)
                .push("JOIN ")
                .push(channel)
                .end(),
            Event::Left { name, reason } => Line::new(out)
                .tags(self.caps, e.stamp)
                .from(name)
                .push("QUIT")
                .last(quit_reason(*reason))
                .end(),
            Event::Message { from, text } | Event::Action { from, text } => {
                if self.echo(e.label) {
                    let action = matches!(e.event, Event::Action { .. });
                    self.privmsg(out, e.stamp, from, channel, text, action);
                }
            }
            Event::Whisper { from, to, text } => {
                if self.echo(e.label) {
                    self.privmsg(out, e.stamp, from, &nick(to), text, false);
                }
            }
            Event::Renamed { from, to } => Line::new(out)
                .tags(self.caps, e.stamp)
                .from(from)
                .push("NICK")
                .last(&nick(to))
                .end(),
            Event::Topic {
                topic,
                by: Some(by),
            } => Line::new(out)
                .tags(self.caps, e.stamp)
                .from(by)
                .push("TOPIC ")
                .push(channel)
                .last(topic)
                .end(),
            Event::Topic { topic, by: None } if topic.is_empty() => Line::new(out)
                .numeric("331", to)
                .push(" ")
                .push(channel)
                .last("No topic is set")
                .end(),
            Event::Topic { topic, by: None } => Line::new(out)
                .numeric("332", to)
                .push(" ")
                .push(channel)
                .last(topic)
                .end(),
            Event::Away { name, reason } => match (e.stamp, e.label, reason) {
                // The asker's own change.
                (Some(_), Some(_), None) => Line::new(out)
                    .numeric("305", to)
                    .last("You are no longer marked as being away")
                    .end(),
                (Some(_), Some(_), Some(_)) => Line::new(out)
                    .numeric("306", to)
                    .last("You have been marked as being away")
                    .end(),
                // Somebody else's, for clients that follow them.
                (Some(_), None, reason) => {
                    if self.caps.has(Caps::AWAY_NOTIFY) {
                        let line = Line::new(out).tags(self.caps, e.stamp).from(name);
                        match reason {
                            Some(reason) => line.push("AWAY").last(reason).end(),
                            None => line.push("AWAY").end(),
                        }
                    }
                }
                // Told to somebody who whispered to an away member.
                (None, _, Some(reason)) if matches!(ask, Ask::Whisper(_)) => Line::new(out)
                    .numeric("301", to)
                    .push(" ")
                    .push(&nick(name))
                    .last(reason)
                    .end(),
                // Who is away, after a welcome or a list: IRC clients ask
                // with WHO when they want to know.
                (None, _, _) => {}
            },
            Event::Notice { text } => self.notice(out, channel, text),
            Event::Held { name } => {
                let text = format!("{} lost connection; holding the name", nick(name));
                self.notice(out, channel, &text);
            }
            Event::Back { name } => {
                self.notice(out, channel, &format!("{} is back", nick(name)));
            }
            Event::Whois {
                name,
                since_ms,
                door,
                away,
                address,
            } => {
                let n = nick(name);
                Line::new(out)
                    .numeric("311", to)
                    .push(" ")
                    .push(&n)
                    .push(" u lanchat *")
                    .last(&format!("joined through the {door} door"))
                    .end();
                Line::new(out)
                    .numeric("319", to)
                    .push(" ")
                    .push(&n)
                    .last(channel)
                    .end();
                if let Some(address) = address {
                    Line::new(out)
                        .numeric("378", to)
                        .push(" ")
                        .push(&n)
                        .last(&format!("is connecting from *@{address} {address}"))
                        .end();
                }
                if let Some(reason) = away {
                    Line::new(out)
                        .numeric("301", to)
                        .push(" ")
                        .push(&n)
                        .last(reason)
                        .end();
                }
                let since = (since_ms / 1000).to_string();
                Line::new(out)
                    .numeric("317", to)
                    .push(" ")
                    .push(&n)
                    .push(" 0 ")
                    .push(&since)
                    .last("seconds idle, signon time")
                    .end();
                Line::new(out)
                    .numeric("318", to)
                    .push(" ")
                    .push(&n)
                    .last("End of /WHOIS list")
                    .end();
            }
            Event::Ignoring { names } => {
                let text = if names.is_empty() {
                    "You ignore nobody".to_owned()
                } else {
                    let names: Vec<_> = names.iter().map(|n| nick(n)).collect();
                    format!("You ignore: {}", names.join(", "))
                };
                self.notice(out, &nick(to), &text);
            }
            Event::Commands { commands } => {
                for c in *commands {
                    let text = format!("{} - {}", c.usage, c.help);
                    self.notice(out, &nick(to), &text);
                }
            }
            Event::Error { code, text } => self.error(out, to, code, text, ask),
            Event::Bye { reason, .. } => out.extend_from_slice(&closing(reason)),
            // IRC has no word for it; nothing is sent.
            Event::Stored { .. } => {}
        }
    }
}
