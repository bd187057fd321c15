//! Parsing one typed line into a [`Command`].
//!
//! A line that starts with `/` is a command; anything else is chat. `//`
//! sends a line that starts with a slash, as in IRC clients.

/// What a typed line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command<'a> {
    /// Chat to the whole room.
    Say(&'a str),
    /// `/w NAME text`: a private message.
    Whisper { to: &'a str, text: &'a str },
    /// `/list`: who is here.
    List,
    /// `/commands` or `/help`: what can be typed.
    Help,
    /// `/x` or `/quit`: leave.
    Quit,
    /// A known command typed wrongly; the string is its usage.
    Usage(&'static str),
    /// A `/word` that is not a command.
    Unknown(&'a str),
}

/// One command's entry in the `/commands` listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandInfo {
    pub usage: &'static str,
    pub help: &'static str,
}

/// Every command, in the order `/commands` lists them.
pub const COMMANDS: &[CommandInfo] = &[
    CommandInfo {
        usage: "/w NAME text",
        help: "whisper: send text to NAME only",
    },
    CommandInfo {
        usage: "/list",
        help: "list everyone in the room",
    },
    CommandInfo {
        usage: "/commands",
        help: "show this list of commands (also /help)",
    },
    CommandInfo {
        usage: "/x",
        help: "leave the room (also /quit)",
    },
    CommandInfo {
        usage: "//text",
        help: "send a message that starts with '/'",
    },
];

const WHISPER_USAGE: &str = "/w NAME text";

impl<'a> Command<'a> {
    /// Parses one line as typed.
    pub fn parse(line: &'a str) -> Command<'a> {
        let Some(rest) = line.strip_prefix('/') else {
            return Command::Say(line);
        };
        if rest.starts_with('/') {
            return Command::Say(rest);
        }
        let (word, args) = match rest.split_once(char::is_whitespace) {
            Some((w, a)) => (w, a.trim_start()),
            None => (rest, ""),
        };
        match word.to_ascii_lowercase().as_str() {
            "w" | "whisper" | "msg" => {
                let (to, text) = match args.split_once(char::is_whitespace) {
                    Some((to, text)) => (to, text.trim_start()),
                    None => (args, ""),
                };
                if to.is_empty() || text.trim().is_empty() {
                    Command::Usage(WHISPER_USAGE)
                } else {
                    Command::Whisper { to, text }
                }
            }
            "list" | "users" | "who" => Command::List,
            "commands" | "help" => Command::Help,
            "x" | "quit" | "exit" => Command::Quit,
            _ => Command::Unknown(word),
        }
    }
}
