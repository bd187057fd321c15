//! Typed lines (`/w bob hi`, `hello`, `//etc`) into [`Command`]s: the one
//! place slash syntax is understood. The lanchat text door uses it for
//! `input` frames, and so will any door whose users type lines (the web
//! page); doors with commands of their own (IRC) build [`Command`]s
//! directly.
//!
//! A line that starts with `/` is a command; anything else is chat. `//`
//! sends a line that starts with a slash, as in IRC clients. Parsing is
//! linear in the line and allocates only the command it returns.

use crate::command::Command;

const WHISPER_USAGE: &str = "/w NAME text";
const ME_USAGE: &str = "/me action";
const REPLY_USAGE: &str = "/reply text";
const NICK_USAGE: &str = "/nick NAME";
const WHOIS_USAGE: &str = "/whois NAME";
const UNIGNORE_USAGE: &str = "/unignore NAME";

/// Why a typed line is not a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TypedError {
    /// A known command typed wrongly.
    #[error("usage: {0}")]
    Usage(&'static str),
    /// A `/word` that is not a command.
    #[error("unknown command '/{0}'; type /commands to see them all")]
    Unknown(String),
}

impl TypedError {
    /// The stable error code sent to the member.
    pub fn code(&self) -> &'static str {
        match self {
            TypedError::Usage(_) => "usage",
            TypedError::Unknown(_) => "unknown_command",
        }
    }
}

/// The longest command word quoted back in an error.
const MAX_WORD_SHOWN: usize = 32;

/// Parses one line as typed.
pub fn parse(line: &str) -> Result<Command, TypedError> {
    let Some(rest) = line.strip_prefix('/') else {
        return Ok(Command::Say { text: line.into() });
    };
    if rest.starts_with('/') {
        return Ok(Command::Say { text: rest.into() });
    }
    let (word, args) = match rest.split_once(char::is_whitespace) {
        Some((w, a)) => (w, a.trim_start()),
        None => (rest, ""),
    };
    // No command word is long: do not fold a long one.
    let lower = if word.len() <= MAX_WORD_SHOWN {
        word.to_ascii_lowercase()
    } else {
        String::new()
    };
    match lower.as_str() {
        "w" | "whisper" | "msg" => {
            let (to, text) = match args.split_once(char::is_whitespace) {
                Some((to, text)) => (to, text.trim_start()),
                None => (args, ""),
            };
            if to.is_empty() || text.trim().is_empty() {
                Err(TypedError::Usage(WHISPER_USAGE))
            } else {
                Ok(Command::Whisper {
                    to: to.into(),
                    text: text.into(),
                })
            }
        }
        "reply" | "r" if args.trim().is_empty() => Err(TypedError::Usage(REPLY_USAGE)),
        "reply" | "r" => Ok(Command::Reply { text: args.into() }),
        "away" => Ok(Command::Away {
            reason: Some(match args.trim() {
                "" => "away".into(),
                reason => reason.into(),
            }),
        }),
        "back" => Ok(Command::Away { reason: None }),
        "topic" => Ok(Command::Topic {
            text: Some(args.trim())
                .filter(|t| !t.is_empty())
                .map(String::from),
        }),
        "ignore" => Ok(Command::Ignore {
            name: Some(args.trim())
                .filter(|n| !n.is_empty())
                .map(String::from),
        }),
        "unignore" if args.trim().is_empty() => Err(TypedError::Usage(UNIGNORE_USAGE)),
        "unignore" => Ok(Command::Unignore {
            name: args.trim().into(),
        }),
        "whois" if args.trim().is_empty() => Err(TypedError::Usage(WHOIS_USAGE)),
        "whois" => Ok(Command::Whois {
            name: args.trim().into(),
        }),
        "nick" if args.trim().is_empty() => Err(TypedError::Usage(NICK_USAGE)),
        "nick" => Ok(Command::Nick {
            name: args.trim().into(),
        }),
        "me" if args.trim().is_empty() => Err(TypedError::Usage(ME_USAGE)),
        "me" => Ok(Command::Me { text: args.into() }),
        "list" | "users" | "who" | "names" => Ok(Command::List),
        "commands" | "help" => Ok(Command::Help),
        "x" | "quit" | "exit" => Ok(Command::Quit),
        _ => Err(TypedError::Unknown(shown(word))),
    }
}

/// At most [`MAX_WORD_SHOWN`] characters of `word`, marked if cut.
fn shown(word: &str) -> String {
    crate::text::excerpt(word, MAX_WORD_SHOWN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_commands_and_escapes() {
        assert_eq!(parse("hi"), Ok(Command::Say { text: "hi".into() }));
        assert_eq!(parse("//x"), Ok(Command::Say { text: "/x".into() }));
        assert_eq!(
            parse("/W bob  hi there"),
            Ok(Command::Whisper {
                to: "bob".into(),
                text: "hi there".into()
            })
        );
        assert_eq!(parse("/msg bob"), Err(TypedError::Usage(WHISPER_USAGE)));
        assert_eq!(parse("/names"), Ok(Command::List));
        assert_eq!(parse("/EXIT"), Ok(Command::Quit));
        assert_eq!(parse("/frob"), Err(TypedError::Unknown("frob".into())));
    }

    #[test]
    fn a_long_unknown_word_is_cut_when_quoted() {
        let word = "a".repeat(5000);
        let Err(TypedError::Unknown(shown)) = parse(&format!("/{word}")) else {
            panic!("not unknown");
        };
        assert_eq!(shown.chars().count(), MAX_WORD_SHOWN + 1);
    }

    /// Every alias the parser accepts is listed by `/commands`.
    #[test]
    fn every_alias_is_listed() {
        let listed: Vec<&str> = crate::COMMANDS
            .iter()
            .filter_map(|c| c.usage.split_whitespace().next())
            .collect();
        for alias in [
            "/w",
            "/whisper",
            "/msg",
            "/list",
            "/users",
            "/who",
            "/names",
            "/commands",
            "/help",
            "/x",
            "/quit",
            "/exit",
        ] {
            assert!(listed.contains(&alias), "{alias} is not listed");
            assert!(parse(&format!("{alias} a b")).is_ok(), "{alias}");
        }
    }
}
