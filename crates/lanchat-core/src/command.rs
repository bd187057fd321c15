//! [`Command`]: what a member asks the room to do, already typed.
//!
//! Every door builds these: the lanchat text door from typed lines (see
//! [`crate::typed`]) or from structured frames, an IRC door from `PRIVMSG`
//! and `NAMES`, a web door from its own messages. The room never sees slash
//! text or a wire format.

/// One request to the room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Chat to the whole room.
    Say { text: String },
    /// An action, shown as `* alice waves`.
    Me { text: String },
    /// A whisper to whoever whispered to us last.
    Reply { text: String },
    /// Take another name.
    Nick { name: String },
    /// Mark oneself away (with a reason), or back (`None`).
    Away { reason: Option<String> },
    /// Set the room's topic, or (`None`) ask what it is.
    Topic { text: Option<String> },
    /// Who is `name`: since when here, away or not, through which door.
    Whois { name: String },
    /// Stop seeing `name`'s messages, actions and whispers; or (`None`)
    /// list whom we ignore.
    Ignore { name: Option<String> },
    /// See `name`'s lines again.
    Unignore { name: String },
    /// A private message to the member called `to`.
    Whisper { to: String, text: String },
    /// Who is here.
    List,
    /// What can be typed.
    Help,
    /// Leave.
    Quit,
}

impl Command {
    /// The bytes of text it carries (what it costs to relay).
    pub fn text_len(&self) -> usize {
        match self {
            Command::Say { text }
            | Command::Me { text }
            | Command::Reply { text }
            | Command::Whisper { text, .. } => text.len(),
            Command::Nick { name } | Command::Whois { name } | Command::Unignore { name } => {
                name.len()
            }
            Command::Ignore { name } => name.as_ref().map_or(0, String::len),
            Command::Away { reason } | Command::Topic { text: reason } => {
                reason.as_ref().map_or(0, String::len)
            }
            Command::List | Command::Help | Command::Quit => 0,
        }
    }
}

/// One command's entry in the `/commands` listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandInfo {
    pub usage: &'static str,
    pub help: &'static str,
}

/// Every command and alias, in the order `/commands` lists them.
pub const COMMANDS: &[CommandInfo] = &[
    CommandInfo {
        usage: "/w NAME text",
        help: "whisper: send text to NAME only",
    },
    CommandInfo {
        usage: "/whisper NAME text",
        help: "the same as /w",
    },
    CommandInfo {
        usage: "/msg NAME text",
        help: "the same as /w",
    },
    CommandInfo {
        usage: "/reply text",
        help: "whisper to whoever whispered to you last",
    },
    CommandInfo {
        usage: "/r text",
        help: "the same as /reply",
    },
    CommandInfo {
        usage: "/me action",
        help: "say what you are doing: shown as '* NAME action'",
    },
    CommandInfo {
        usage: "/nick NAME",
        help: "take another name (once every 10 s)",
    },
    CommandInfo {
        usage: "/away [reason]",
        help: "say you are away; whoever whispers to you is told why",
    },
    CommandInfo {
        usage: "/back",
        help: "say you are back",
    },
    CommandInfo {
        usage: "/topic [text]",
        help: "see the room's topic, or set it",
    },
    CommandInfo {
        usage: "/whois NAME",
        help: "since when NAME is here, whether away, and how connected",
    },
    CommandInfo {
        usage: "/ignore [NAME]",
        help: "hide NAME's messages and whispers (they are not told); alone, list whom you ignore",
    },
    CommandInfo {
        usage: "/unignore NAME",
        help: "see NAME's lines again",
    },
    CommandInfo {
        usage: "/list",
        help: "list everyone in the room",
    },
    CommandInfo {
        usage: "/users",
        help: "the same as /list",
    },
    CommandInfo {
        usage: "/who",
        help: "the same as /list",
    },
    CommandInfo {
        usage: "/names",
        help: "the same as /list",
    },
    CommandInfo {
        usage: "/commands",
        help: "show this list of commands",
    },
    CommandInfo {
        usage: "/help",
        help: "the same as /commands",
    },
    CommandInfo {
        usage: "/x",
        help: "leave the room",
    },
    CommandInfo {
        usage: "/quit",
        help: "the same as /x",
    },
    CommandInfo {
        usage: "/exit",
        help: "the same as /x",
    },
    CommandInfo {
        usage: "//text",
        help: "send a message that starts with '/'",
    },
];
