//! IRC on one connection: registration (CAP, NICK, USER), then each IRC
//! command as a typed command for the hub, or answered here when the room
//! has nothing to say about it (PING, MODE, an unknown command).
//!
//! Registration is joining: once NICK and USER are in (and CAP
//! negotiation, if begun, has ended), the nick is asked of the room under
//! the same name rules as everywhere, and the client is put in the
//! channel. PART leaves the room and keeps the connection; JOIN comes back.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use lanchat_core::{Command, Label};
use lanchat_proto::irc::{self, Message, ParseError};
use lanchat_proto::LineDecoder;

use super::format::{closing, nick_refused, numeric};
use super::{Ask, Caps, IrcDoor, SERVER};
use crate::door::{Fault, JoinRequest};
use crate::link::{Dialect, Link, Next, Waiting};

/// The most channels one JOIN is answered for.
const MAX_JOIN_TARGETS: usize = 8;

/// The door's name, as `/whois` shows it.
const DOOR: &str = "irc";

/// What a line leaves for the room to do.
enum Action {
    /// Nothing: it was answered here, or needs no answer.
    Done,
    /// A command for the hub, labelled with what the client asked.
    Ask(Command, Label),
    /// Join the room: registration is complete, or the client is back
    /// after a PART.
    Join { rejoin: bool },
}

/// One IRC connection's state.
pub(crate) struct Irc {
    door: Arc<IrcDoor>,
    /// Where the connection comes from (for `/whois`, if shown).
    peer: std::net::IpAddr,
    decoder: LineDecoder,
    /// The nick asked for; once registered, the one in use as far as this
    /// connection knows (a refused NICK leaves it stale until the next).
    nick: Option<String>,
    /// USER was given.
    user: bool,
    /// CAP LS or REQ came before registration: wait for CAP END.
    negotiating: bool,
    caps: Caps,
}

impl Irc {
    pub fn new(door: Arc<IrcDoor>, peer: std::net::IpAddr) -> Self {
        Irc {
            door,
            peer,
            decoder: LineDecoder::new(irc::MAX_READ),
            nick: None,
            user: false,
            negotiating: false,
            caps: Caps::default(),
        }
    }

    /// Whom numerics are for.
    fn me(&self) -> &str {
        self.nick.as_deref().unwrap_or("*")
    }

    fn reply(&self, link: &Link, code: &str, params: &[&str], text: &str) {
        link.push(numeric(code, self.me(), params, text));
    }

    fn raw(&self, link: &Link, line: String) {
        link.push(Bytes::from(line));
    }

    /// A command for the room, marked with what the IRC client asked; or,
    /// outside the room, why not.
    fn asking(&self, link: &Link, command: Command, ask: Ask<'_>) -> Action {
        if link.member.is_none() {
            let channel = &self.door.room.channel;
            let text = format!("You are not in {channel}: JOIN {channel} first");
            self.reply(link, "442", &[channel], &text);
            return Action::Done;
        }
        Action::Ask(command, ask.label())
    }

    /// Joins the room under the nick asked for, once registration is
    /// complete (or again after a PART).
    async fn join(&mut self, link: &mut Link, rejoin: bool) {
        let ask = if rejoin { Ask::Rejoin } else { Ask::Register };
        let Some(name) = self.nick.clone() else {
            return;
        };
        let request = JoinRequest {
            door: DOOR,
            // Played back after the channel's names, as IRC bouncers do.
            history: true,
            // IRC clients reconnect by joining again.
            resume: false,
            peer: Some(self.peer),
            room: lanchat_core::RoomId::MAIN,
            name: name.clone(),
            label: Some(ask.label()),
            outbox: link.outbox.clone(),
            format: self.door.format(self.caps),
        };
        // Boxed with the rest of the join (see `handle_line`).
        match self.door.hub.join(request).await {
            Ok(Ok(member)) => {
                link.member = Some(member);
                link.session.registered();
            }
            Ok(Err(e)) if ask == Ask::Rejoin => {
                let text = format!("You cannot come back as {name}: {e}");
                self.reply(link, "437", &[&self.door.room.channel], &text);
            }
            Ok(Err(e)) => {
                // Registration goes on: the client picks another nick.
                let code = nick_refused(e.code());
                let shown = lanchat_core::text::excerpt(&name, 64);
                self.nick = None;
                link.push(numeric(code, "*", &[&shown], &e.to_string()));
            }
            Err(_) => link.say_bye(self, "shutdown", "server shutting down"),
        }
    }

    /// Joining, if registration is complete.
    fn register_if_ready(&self, link: &Link) -> Action {
        if link.member.is_none()
            && !link.session.is_registered()
            && self.nick.is_some()
            && self.user
            && !self.negotiating
        {
            Action::Join { rejoin: false }
        } else {
            Action::Done
        }
    }

    fn cap(&mut self, link: &Link, msg: &Message<'_>) {
        let me = self.me().to_owned();
        let registered = link.session.is_registered();
        match msg.param(0).map(str::to_ascii_uppercase).as_deref() {
            Some("LS") => {
                self.negotiating |= !registered;
                let all = Caps::ALL.map(|(n, _)| n).join(" ");
                self.raw(link, format!(":{SERVER} CAP {me} LS :{all}\r\n"));
            }
            Some("LIST") => {
                let on = self.caps.names();
                self.raw(link, format!(":{SERVER} CAP {me} LIST :{on}\r\n"));
            }
            Some("REQ") => {
                self.negotiating |= !registered;
                let wanted = msg.param(1).unwrap_or("");
                let mut caps = self.caps;
                let mut known = !registered;
                for name in wanted.split(' ').filter(|n| !n.is_empty()) {
                    let (off, name) = match name.strip_prefix('-') {
                        Some(name) => (true, name),
                        None => (false, name),
                    };
                    match Caps::named(name) {
                        Some(cap) => caps = caps.with(cap, !off),
                        None => known = false,
                    }
                }
                // After registration the client's format is in use by the
                // room: capabilities are fixed by then.
                let answer = if known { "ACK" } else { "NAK" };
                if known {
                    self.caps = caps;
                }
                let wanted = irc::cut(wanted, 400);
                self.raw(link, format!(":{SERVER} CAP {me} {answer} :{wanted}\r\n"));
            }
            Some("END") => self.negotiating = false,
            _ => {
                let sub = msg.param(0).unwrap_or("");
                self.reply(link, "410", &[irc::cut(sub, 32)], "Invalid CAP command");
            }
        }
    }

    /// Handles one line at once, and returns only what must wait on the
    /// hub (a join, a command to a backed-up hub), boxed: held inline, the
    /// wait would sit in every connection's task for its whole life.
    fn handle_line<'a>(&'a mut self, link: &'a mut Link, line: String) -> Option<Waiting<'a>> {
        let action = self.read(link, &line);
        drop(line);
        match action {
            Action::Done => None,
            Action::Ask(command, label) => {
                let this: &'a Irc = self;
                link.command(this, &this.door.hub, command, Some(label))
            }
            Action::Join { rejoin } => Some(Box::pin(self.join(link, rejoin))),
        }
    }

    /// Reads one line: answers what can be answered here, and says what is
    /// left for the room.
    fn read(&mut self, link: &mut Link, line: &str) -> Action {
        let msg = match Message::parse(line) {
            Ok(msg) => msg,
            Err(ParseError::TooLong) => {
                self.reply(link, "417", &[], "Input line was too long");
                return Action::Done;
            }
            Err(e) => {
                link.push(numeric("NOTICE", self.me(), &[], &e.to_string()));
                link.bad_frame(self);
                return Action::Done;
            }
        };
        let command = msg.command.to_ascii_uppercase();
        let registered = link.session.is_registered();
        match command.as_str() {
            "CAP" => {
                self.cap(link, &msg);
                return self.register_if_ready(link);
            }
            "PASS" if !registered => {}
            "NICK" if !registered => match msg.param(0) {
                Some(nick) if !nick.is_empty() => {
                    self.nick = Some(irc::cut(nick, 256).to_owned());
                    return self.register_if_ready(link);
                }
                _ => self.reply(link, "431", &[], "No nickname given"),
            },
            "USER" if !registered => {
                if msg.params.len() < 4 {
                    self.reply(link, "461", &["USER"], "Not enough parameters");
                } else {
                    self.user = true;
                    return self.register_if_ready(link);
                }
            }
            "PASS" | "USER" => self.reply(link, "462", &[], "You may not reregister"),
            "PING" => {
                let token = irc::cut(msg.param(0).unwrap_or(SERVER), 64);
                self.raw(link, format!(":{SERVER} PONG {SERVER} :{token}\r\n"));
            }
            "PONG" => {
                let token = msg.params.last().and_then(|t| t.parse().ok());
                if let Err(Some(fault)) = link.session.pong(token.unwrap_or(0)) {
                    link.fault(self, fault);
                }
            }
            "QUIT" => {
                if link.member.is_some() {
                    return Action::Ask(Command::Quit, Ask::Other.label());
                }
                link.say_bye(self, "quit", "goodbye");
            }
            _ if !registered => self.reply(link, "451", &[], "You have not registered"),
            _ => return self.registered(link, &command, &msg),
        }
        Action::Done
    }

    /// A command from a registered client.
    fn registered(&mut self, link: &mut Link, command: &str, msg: &Message<'_>) -> Action {
        // The door, not its channel name, is copied per command (an Arc).
        let door = self.door.clone();
        let channel = door.room.channel.as_str();
        // Any case, without allocating: room names need not be ASCII.
        let is_channel = |t: &str| {
            t.len() <= 4 * channel.len()
                && t.chars()
                    .flat_map(char::to_lowercase)
                    .eq(channel.chars().flat_map(char::to_lowercase))
        };
        match command {
            "PRIVMSG" | "NOTICE" => {
                let notice = command == "NOTICE";
                let (Some(target), Some(text)) = (msg.param(0), msg.param(1)) else {
                    if !notice {
                        let (code, text) = match msg.param(0) {
                            None => ("411", "No recipient given (PRIVMSG)"),
                            Some(_) => ("412", "No text to send"),
                        };
                        self.reply(link, code, &[], text);
                    }
                    return Action::Done;
                };
                if target.contains(',') {
                    if !notice {
                        let t = irc::cut(target, 64);
                        self.reply(link, "407", &[t], "One target at a time");
                    }
                    return Action::Done;
                }
                let (action, text) = match ctcp(text) {
                    Some(("ACTION", body)) => (true, strip_formatting(body)),
                    // Other CTCP queries (VERSION, PING) go unanswered.
                    Some(_) => return Action::Done,
                    None => (false, strip_formatting(text)),
                };
                let ask = |a| if notice { Ask::Notice } else { a };
                if is_channel(target) {
                    let command = if action {
                        Command::Me { text }
                    } else {
                        Command::Say { text }
                    };
                    return self.asking(link, command, ask(Ask::Say));
                } else if target.starts_with(['#', '&']) {
                    if !notice {
                        let text = format!("No such channel: this room is {channel}");
                        self.reply(link, "403", &[irc::cut(target, 64)], &text);
                    }
                } else {
                    let text = if action { format!("* {text}") } else { text };
                    let to = irc::cut(target, 128);
                    let whisper = Command::Whisper {
                        to: to.to_owned(),
                        text,
                    };
                    return self.asking(link, whisper, ask(Ask::Whisper(to)));
                }
            }
            "JOIN" => {
                let mut rejoin = false;
                // At most a few channels a line: each refused one costs a
                // reply, and a line must not buy hundreds.
                for target in msg.param(0).unwrap_or("").split(',').take(MAX_JOIN_TARGETS) {
                    if target == "0" {
                        self.part(link);
                    } else if is_channel(target) {
                        rejoin = link.member.is_none();
                    } else {
                        let text = format!("No such channel: this room is {channel}");
                        self.reply(link, "403", &[irc::cut(target, 64)], &text);
                    }
                }
                if rejoin {
                    return Action::Join { rejoin: true };
                }
            }
            "PART" => match msg.param(0) {
                Some(target) if target.split(',').any(is_channel) => self.part(link),
                _ => self.reply(link, "442", &[channel], "You're not on that channel"),
            },
            "NAMES" => {
                if link.member.is_some() {
                    return self.asking(link, Command::List, Ask::Names);
                } else {
                    self.reply(link, "366", &[channel], "End of /NAMES list");
                }
            }
            "WHO" => {
                let mask = msg.param(0).filter(|m| !is_channel(m) && *m != "*");
                let mask = mask.map(|m| irc::cut(m, 128));
                return self.asking(link, Command::List, Ask::Who(mask));
            }
            "WHOIS" => match msg.params.last() {
                Some(name) => {
                    let name = irc::cut(name.split(',').next().unwrap_or(""), 128);
                    let whois = Command::Whois {
                        name: name.to_owned(),
                    };
                    return self.asking(link, whois, Ask::Whois(name));
                }
                None => self.reply(link, "431", &[], "No nickname given"),
            },
            "NICK" => match msg.param(0) {
                Some(nick) if !nick.is_empty() => {
                    let nick = irc::cut(nick, 128);
                    let command = Command::Nick {
                        name: nick.to_owned(),
                    };
                    let action = self.asking(link, command, Ask::Nick(nick));
                    if link.member.is_some() {
                        self.nick = Some(nick.to_owned());
                    }
                    return action;
                }
                _ => self.reply(link, "431", &[], "No nickname given"),
            },
            "AWAY" => {
                let reason = msg.param(0).filter(|r| !r.is_empty());
                let reason = reason.map(strip_formatting);
                return self.asking(link, Command::Away { reason }, Ask::Other);
            }
            "TOPIC" => match (msg.param(0), msg.param(1)) {
                (Some(target), text) if is_channel(target) => {
                    let text = text.map(strip_formatting);
                    return self.asking(link, Command::Topic { text }, Ask::Other);
                }
                _ => self.reply(link, "403", &[], "No such channel"),
            },
            "MODE" => self.mode(link, msg, channel),
            "MOTD" => {
                let mut out = Vec::new();
                self.door.format(self.caps).motd(&mut out, self.me());
                link.push(Bytes::from(out));
            }
            "HELP" => return self.asking(link, Command::Help, Ask::Other),
            "USERHOST" => {
                let me = self.me().to_owned();
                let mine = msg.params.iter().any(|p| p.eq_ignore_ascii_case(&me));
                let text = if mine {
                    format!("{me}=+u@lanchat")
                } else {
                    String::new()
                };
                self.reply(link, "302", &[], &text);
            }
            _ => {
                let shown = irc::cut(msg.command, 32);
                self.reply(link, "421", &[shown], "Unknown command");
            }
        }
        Action::Done
    }

    /// MODE: the channel's modes are fixed (`+nt`), and nobody is an
    /// operator; a user's own modes are `+i`.
    fn mode(&self, link: &Link, msg: &Message<'_>, channel: &str) {
        let me = self.me().to_owned();
        match (msg.param(0), msg.param(1)) {
            (Some(t), None) if t.eq_ignore_ascii_case(channel) => {
                self.reply(link, "324", &[channel, "+nt"], "");
            }
            (Some(t), Some(modes)) if t.eq_ignore_ascii_case(channel) => {
                if modes.trim_start_matches('+') == "b" {
                    self.reply(link, "368", &[channel], "End of channel ban list");
                } else {
                    self.reply(
                        link,
                        "482",
                        &[channel],
                        "Nobody is an operator in this room",
                    );
                }
            }
            (Some(t), _) if t.eq_ignore_ascii_case(&me) => {
                self.reply(link, "221", &["+i"], "");
            }
            (Some(t), _) if !t.starts_with('#') => {
                self.reply(link, "502", &[], "Can't change mode for other users");
            }
            _ => self.reply(link, "403", &[], "No such channel"),
        }
    }

    /// PART: leaves the room; the connection stays, and JOIN comes back.
    fn part(&self, link: &mut Link) {
        let Some(member) = link.member.take() else {
            return;
        };
        let me = irc::nick(self.me()).into_owned();
        let channel = &self.door.room.channel;
        self.raw(link, format!(":{me}!u@lanchat PART {channel}\r\n"));
        member.part();
    }
}

/// The CTCP command and body of `text`, if it is a CTCP message.
fn ctcp(text: &str) -> Option<(&str, &str)> {
    let inner = text.strip_prefix('\u{1}')?;
    let inner = inner.strip_suffix('\u{1}').unwrap_or(inner);
    Some(inner.split_once(' ').unwrap_or((inner, "")))
}

/// `text` without IRC formatting codes (bold, colours, italics, reset…):
/// lanchat shows text as it is, and would show them as control pictures.
fn strip_formatting(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{2}' | '\u{f}' | '\u{11}' | '\u{16}' | '\u{1d}' | '\u{1e}' | '\u{1f}' => {}
            // Colour: up to two digits, then optionally a comma and two.
            '\u{3}' => {
                let digits = |chars: &mut std::iter::Peekable<std::str::Chars<'_>>| {
                    for _ in 0..2 {
                        if chars.next_if(char::is_ascii_digit).is_none() {
                            break;
                        }
                    }
                };
                digits(&mut chars);
                let mut ahead = chars.clone();
                if ahead.next() == Some(',') && ahead.next().is_some_and(|c| c.is_ascii_digit()) {
                    chars.next();
                    digits(&mut chars);
                }
            }
            // Hex colour: six hex digits, then optionally a comma and six.
            '\u{4}' => {
                for _ in 0..6 {
                    chars.next_if(char::is_ascii_hexdigit);
                }
            }
            c => out.push(c),
        }
    }
    out
}

impl Dialect for Irc {
    type Frame = String;

    fn next_frame(&mut self, link: &mut Link) -> Next<String> {
        match self.decoder.next_line(&mut link.buf) {
            Ok(Some(line)) if line.iter().all(u8::is_ascii_whitespace) => Next::Skip,
            // A client in another charset still gets through, with its
            // other characters shown as U+FFFD (the server is UTF8ONLY).
            Ok(Some(line)) => Next::Frame(String::from_utf8_lossy(&line).into_owned()),
            Ok(None) => Next::More,
            Err(_) => {
                self.reply(link, "417", &[], "Input line was too long");
                link.fault(self, Fault::FrameTooLong);
                Next::Skip
            }
        }
    }

    fn handle<'a>(&'a mut self, link: &'a mut Link, line: String) -> Option<Waiting<'a>> {
        self.handle_line(link, line)
    }

    fn discard(&mut self, buf: &mut BytesMut) {
        self.decoder.reset(buf);
    }

    fn ping(&self, token: u64) -> Bytes {
        Bytes::from(format!("PING :{token}\r\n"))
    }

    fn error(&self, _code: &str, text: &str) -> Bytes {
        numeric("NOTICE", self.me(), &[], text)
    }

    fn bye(&self, _code: &str, reason: &str) -> Bytes {
        closing(reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting_codes_are_stripped() {
        assert_eq!(
            strip_formatting("\u{2}bold\u{2} \u{3}4,12red\u{3} x"),
            "bold red x"
        );
        assert_eq!(strip_formatting("\u{3}04a\u{3}1,b"), "a,b");
        assert_eq!(strip_formatting("\u{4}ff00AAhex\u{f}"), "hex");
        assert_eq!(strip_formatting("plain"), "plain");
    }

    #[test]
    fn ctcp_is_recognised() {
        assert_eq!(ctcp("\u{1}ACTION waves\u{1}"), Some(("ACTION", "waves")));
        assert_eq!(ctcp("\u{1}VERSION\u{1}"), Some(("VERSION", "")));
        assert_eq!(ctcp("hello"), None);
    }
}
