//! Names: what a member may call themselves, and when two names count as
//! the same one.
//!
//! Uniqueness is decided on a [`Name::key`]: the name case-folded, so
//! `Alice` and `alice` cannot both be in a room. A name is 1 to
//! [`MAX_NAME_CHARS`] characters with no whitespace, no control or format
//! characters (which could hide or reorder text), no leading `/` (which would
//! read as a command) and none of a few reserved words that would let a
//! member pass for the server.

use std::fmt;

/// The longest name, in characters.
pub const MAX_NAME_CHARS: usize = 32;

/// Names nobody may take, compared by key.
const RESERVED: &[&str] = &[
    "server", "system", "admin", "lanchat", "everyone", "all", "root",
];

/// A validated name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name {
    display: String,
    key: String,
}

/// Why a name cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("the name is empty")]
    Empty,
    #[error("the name is longer than {MAX_NAME_CHARS} characters")]
    TooLong,
    #[error("the name contains whitespace")]
    Whitespace,
    #[error("the name contains a control or invisible character")]
    Invisible,
    #[error("the name starts with '/', which is for commands")]
    LeadingSlash,
    #[error("'{0}' is reserved")]
    Reserved(String),
    #[error("'{0}' is already taken in this room")]
    Taken(String),
}

impl NameError {
    /// A short stable code for the wire.
    pub fn code(&self) -> &'static str {
        match self {
            NameError::Taken(_) => "taken",
            _ => "invalid",
        }
    }
}

impl Name {
    /// Validates `raw` as typed (surrounding whitespace is trimmed).
    pub fn parse(raw: &str) -> Result<Name, NameError> {
        let display = raw.trim();
        if display.is_empty() {
            return Err(NameError::Empty);
        }
        if display.chars().count() > MAX_NAME_CHARS {
            return Err(NameError::TooLong);
        }
        if display.chars().any(char::is_whitespace) {
            return Err(NameError::Whitespace);
        }
        if display.chars().any(is_invisible) {
            return Err(NameError::Invisible);
        }
        if display.starts_with('/') {
            return Err(NameError::LeadingSlash);
        }
        let key = fold(display);
        if RESERVED.contains(&key.as_str()) {
            return Err(NameError::Reserved(display.to_owned()));
        }
        Ok(Name {
            display: display.to_owned(),
            key,
        })
    }

    /// The name as its owner typed it.
    pub fn as_str(&self) -> &str {
        &self.display
    }

    /// The form that decides uniqueness and lookups.
    pub fn key(&self) -> &str {
        &self.key
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display)
    }
}

/// The lookup key for any typed name, valid or not (used to find the target
/// of `/w`).
pub fn fold(name: &str) -> String {
    name.trim().to_lowercase()
}

/// Control characters (C0, DEL, C1) and the format characters that are
/// invisible or reorder text: bidi controls, zero-width characters, the
/// soft hyphen, the BOM and the tag block.
pub fn is_invisible(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{00AD}' | '\u{061C}' | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{E0000}'..='\u{E007F}')
}
