//! IRC messages, sans-IO: one line in (RFC 1459/2812 framing with IRCv3
//! message tags), parsed into its parts; and the few rules both ends of
//! the IRC door share (line limits, which nicks IRC can carry).
//!
//! This is only the wire format. What a message *means* for the room is
//! the IRC door's business (in `lanchat-server`).

/// The most bytes of a line without its tags, CR-LF included (RFC 1459).
pub const MAX_LINE: usize = 512;

/// The most bytes of a line's tags section, `@` and the space included
/// (IRCv3 message-tags: 4,094 for a client's tags, plus the server's).
pub const MAX_TAGS: usize = 8191;

/// The longest line read from a client, tags included.
pub const MAX_READ: usize = MAX_TAGS + MAX_LINE;

/// The most parameters in one message (RFC 2812: 14 middle, one trailing).
pub const MAX_PARAMS: usize = 15;

/// One parsed message, borrowing from its line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message<'a> {
    /// The tags section without its `@`, unparsed (the door reads none).
    pub tags: Option<&'a str>,
    /// The source (`nick!user@host`), which a client should not send.
    pub source: Option<&'a str>,
    /// The command, as sent (compare with `eq_ignore_ascii_case`).
    pub command: &'a str,
    pub params: Vec<&'a str>,
}

/// Why a line is not an IRC message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("the line has no command")]
    NoCommand,
    #[error("the line holds a NUL byte")]
    Nul,
    #[error("the line is longer than {MAX_LINE} bytes")]
    TooLong,
}

impl<'a> Message<'a> {
    /// Parses one line, without its line ending.
    pub fn parse(line: &'a str) -> Result<Self, ParseError> {
        if line.contains('\0') {
            return Err(ParseError::Nul);
        }
        let mut rest = line.trim_start_matches(' ');
        let mut tags = None;
        if let Some(after) = rest.strip_prefix('@') {
            let (t, r) = after.split_once(' ').unwrap_or((after, ""));
            tags = Some(t);
            rest = r.trim_start_matches(' ');
        }
        // The limit is on the message without its tags, CR-LF included.
        if rest.len() + 2 > MAX_LINE {
            return Err(ParseError::TooLong);
        }
        let mut source = None;
        if let Some(after) = rest.strip_prefix(':') {
            let (s, r) = after.split_once(' ').unwrap_or((after, ""));
            source = Some(s);
            rest = r.trim_start_matches(' ');
        }
        let (command, mut rest) = rest.split_once(' ').unwrap_or((rest, ""));
        if command.is_empty() {
            return Err(ParseError::NoCommand);
        }
        let mut params = Vec::new();
        loop {
            rest = rest.trim_start_matches(' ');
            if rest.is_empty() {
                break;
            }
            if let Some(trailing) = rest.strip_prefix(':') {
                params.push(trailing);
                break;
            }
            if params.len() + 1 == MAX_PARAMS {
                // The last parameter takes the rest of the line.
                params.push(rest);
                break;
            }
            let (p, r) = rest.split_once(' ').unwrap_or((rest, ""));
            params.push(p);
            rest = r;
        }
        Ok(Message {
            tags,
            source,
            command,
            params,
        })
    }

    /// The `i`th parameter, if there is one.
    pub fn param(&self, i: usize) -> Option<&'a str> {
        self.params.get(i).copied()
    }
}

/// The longest start of `text` of at most `max` bytes that ends on a
/// character boundary.
pub fn cut(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The characters a nick may not contain anywhere (Modern IRC), with the
/// look-alike lanchat shows IRC clients instead: its fullwidth form, which
/// lanchat's name rules fold back to the same name, so the two can never
/// belong to two different members.
const NICK_FORBIDDEN: &[(char, char)] = &[
    ('!', '！'),
    ('@', '＠'),
    (',', '，'),
    ('*', '＊'),
    ('?', '？'),
];

/// The characters a nick may not start with, and their stand-ins.
const NICK_FORBIDDEN_FIRST: &[(char, char)] = &[
    (':', '：'),
    ('#', '＃'),
    ('&', '＆'),
    ('$', '＄'),
    ('+', '＋'),
    ('~', '～'),
    ('%', '％'),
];

/// A lanchat name as an IRC nick: the characters IRC cannot carry there
/// are replaced by their fullwidth look-alikes (`a!b` is shown as `a！b`).
/// The nick is the same name to lanchat, so a whisper to it reaches the
/// member.
pub fn nick(name: &str) -> std::borrow::Cow<'_, str> {
    let bad = |i: usize, c: char| {
        NICK_FORBIDDEN.iter().any(|(b, _)| *b == c)
            || (i == 0 && NICK_FORBIDDEN_FIRST.iter().any(|(b, _)| *b == c))
    };
    if !name.char_indices().any(|(i, c)| bad(i, c)) {
        return std::borrow::Cow::Borrowed(name);
    }
    let mut out = String::with_capacity(name.len() + 8);
    for (i, c) in name.char_indices() {
        let swap = NICK_FORBIDDEN
            .iter()
            .chain(if i == 0 { NICK_FORBIDDEN_FIRST } else { &[] })
            .find(|(b, _)| *b == c);
        out.push(swap.map_or(c, |(_, s)| *s));
    }
    std::borrow::Cow::Owned(out)
}

/// The room as an IRC channel: `#` and the room's name, with what a
/// channel name cannot hold (space, comma, colon, BEL and other controls)
/// replaced by `-`.
pub fn channel(room: &str) -> String {
    let mut out = String::with_capacity(room.len() + 1);
    out.push('#');
    out.extend(room.chars().map(|c| match c {
        ' ' | ',' | ':' => '-',
        c if c.is_control() => '-',
        c => c,
    }));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tags_source_command_and_params() {
        let m = Message::parse("@time=x;+a=b :nick!u@h PRIVMSG #room :hello there").unwrap();
        assert_eq!(m.tags, Some("time=x;+a=b"));
        assert_eq!(m.source, Some("nick!u@h"));
        assert_eq!(m.command, "PRIVMSG");
        assert_eq!(m.params, ["#room", "hello there"]);
        let m = Message::parse("USER  bob 0 *  :Bob B").unwrap();
        assert_eq!(m.params, ["bob", "0", "*", "Bob B"]);
        let m = Message::parse("NICK bob").unwrap();
        assert_eq!(m.params, ["bob"]);
        let m = Message::parse("PRIVMSG #r ::-)").unwrap();
        assert_eq!(m.params, ["#r", ":-)"]);
        let m = Message::parse("PRIVMSG #r :").unwrap();
        assert_eq!(m.params, ["#r", ""]);
    }

    #[test]
    fn refuses_what_is_not_a_message() {
        assert_eq!(Message::parse(""), Err(ParseError::NoCommand));
        assert_eq!(Message::parse(":src"), Err(ParseError::NoCommand));
        assert_eq!(Message::parse("@a=b"), Err(ParseError::NoCommand));
        assert_eq!(Message::parse("NICK a\0b"), Err(ParseError::Nul));
        let long = format!("PRIVMSG #r :{}", "x".repeat(500));
        assert_eq!(Message::parse(&long), Err(ParseError::TooLong));
        // Tags do not count towards the 512 bytes.
        let tagged = format!("@+t={} PRIVMSG #r :hi", "y".repeat(2000));
        assert!(Message::parse(&tagged).is_ok());
    }

    #[test]
    fn a_sixteenth_parameter_is_part_of_the_fifteenth() {
        let line = format!(
            "CMD {}",
            (1..=17)
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join(" ")
        );
        let m = Message::parse(&line).unwrap();
        assert_eq!(m.params.len(), MAX_PARAMS);
        assert_eq!(m.params[14], "15 16 17");
    }

    #[test]
    fn names_irc_cannot_carry_are_shown_with_look_alikes() {
        assert_eq!(nick("alice"), "alice");
        assert_eq!(nick("a!b@c"), "a！b＠c");
        assert_eq!(nick("#x#"), "＃x#");
        assert_eq!(nick(":)"), "：)");
        assert_eq!(nick("José"), "José");
    }

    #[test]
    fn a_room_name_becomes_a_valid_channel() {
        assert_eq!(channel("lab"), "#lab");
        assert_eq!(channel("my room, 2:a\x07"), "#my-room--2-a-");
    }
}
