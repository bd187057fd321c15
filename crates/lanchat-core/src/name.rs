//! Names: what a member may call themselves, and when two names count as
//! the same one.
//!
//! # Policy
//!
//! A name is 1 to [`MAX_NAME_CHARS`] characters after trimming, with:
//!
//! - no whitespace, no control characters (C0, DEL, C1) and no invisible
//!   format characters (bidi controls, zero-width characters, soft hyphen,
//!   BOM, tag characters), which could hide or reorder text;
//! - no leading `/`, which would read as a command;
//! - at most [`MAX_MARKS`] combining marks in a row (no "Zalgo" names);
//! - one script only (digits, `_`, `-` and other common characters go with
//!   any script), so `аlice` with a Cyrillic `а` is refused while `José`,
//!   `Дмитрий` and `李雷` are welcome;
//! - none of a few reserved words that would let a member pass for the
//!   server.
//!
//! Two names are the same if they share a [`Name::keys`] entry. Keys are
//! computed from the NFKC form (which also folds fullwidth letters), so:
//! the case-folded form (`Alice` = `alice` = `Ａｌｉｃｅ`), and the Unicode
//! TR39 confusable skeleton of both the original and the folded form, so
//! that names that merely look alike (`alice` and `aIice` with a capital
//! i, or an all-Cyrillic look-alike) collide too.

use std::fmt;

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;
use unicode_security::confusable_detection::skeleton;
use unicode_security::MixedScript;

/// The longest name, in characters.
pub const MAX_NAME_CHARS: usize = 32;

/// The most combining marks allowed in a row in a name.
pub const MAX_MARKS: usize = 2;

/// Names nobody may take, compared by key.
const RESERVED: &[&str] = &[
    "server", "system", "admin", "lanchat", "everyone", "all", "root",
];

/// The keys of every reserved word, in lower and upper case (the
/// look-alikes of `I` and `l` differ by case).
fn reserved_keys() -> &'static [String] {
    static KEYS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        RESERVED
            .iter()
            .flat_map(|r| [lookup_keys(r), lookup_keys(&r.to_uppercase())])
            .flatten()
            .collect()
    })
}

/// Characters that draw nothing but are not whitespace or format
/// characters by their category: the Hangul fillers, the braille blank,
/// the Arabic and Egyptian format signs, variation selectors and the other
/// default-ignorable code points. A name made of them would look blank,
/// and inside a name they hide what it is, so names may not contain them.
pub fn is_blank_glyph(c: char) -> bool {
    matches!(c,
        '\u{034F}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}'
        | '\u{0600}'..='\u{0605}' | '\u{06DD}' | '\u{070F}' | '\u{0890}' | '\u{0891}' | '\u{08E2}'
        | '\u{2800}' | '\u{3164}' | '\u{FFA0}'
        | '\u{FE00}'..='\u{FE0F}' | '\u{FFF0}'..='\u{FFF8}'
        | '\u{110BD}' | '\u{110CD}'
        | '\u{13430}'..='\u{1345F}'
        | '\u{1BCA0}'..='\u{1BCA3}'
        | '\u{1D173}'..='\u{1D17A}'
        | '\u{E0100}'..='\u{E01EF}')
}

/// Marks skeleton keys, so they are only ever compared with each other.
/// A NUL can never appear in a valid name.
const SKELETON_PREFIX: char = '\0';

/// A validated name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name {
    display: String,
    keys: Vec<String>,
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
    #[error("the name would look blank")]
    Blank,
    #[error("the name starts with '/', which is for commands")]
    LeadingSlash,
    #[error("the name has too many combining marks in a row")]
    TooManyMarks,
    #[error("the name mixes letters from different scripts")]
    MixedScript,
    #[error("'{0}' is reserved")]
    Reserved(String),
    #[error("'{0}' is already taken in this room (or looks too much like a name that is)")]
    Taken(String),
}

impl NameError {
    /// A short stable code for the wire.
    pub fn code(&self) -> &'static str {
        match self {
            NameError::Taken(_) => "taken",
            NameError::Reserved(_) => "reserved",
            NameError::Empty => "empty",
            NameError::TooLong => "too_long",
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
        if display
            .chars()
            .any(|c| is_invisible(c) || is_blank_glyph(c))
        {
            return Err(NameError::Invisible);
        }
        if unicode_width::UnicodeWidthStr::width(display) == 0 {
            return Err(NameError::Blank);
        }
        if display.starts_with('/') {
            return Err(NameError::LeadingSlash);
        }
        if max_marks_in_a_row(display) > MAX_MARKS {
            return Err(NameError::TooManyMarks);
        }
        let nfkc: String = display.nfkc().collect();
        if !nfkc.as_str().is_single_script() {
            return Err(NameError::MixedScript);
        }
        let folded = fold(&nfkc);
        let keys = keys_of(&nfkc, folded);
        // By every key, so that `ЅҮЅТЕМ`, `adrnin` or `r00t` are reserved
        // as much as `system`, `admin` and `root`.
        if keys.iter().any(|k| reserved_keys().contains(k)) {
            return Err(NameError::Reserved(display.to_owned()));
        }
        Ok(Name {
            display: display.to_owned(),
            keys,
        })
    }

    /// The name as its owner typed it.
    pub fn as_str(&self) -> &str {
        &self.display
    }

    /// The keys that decide uniqueness: two names clash if they share one.
    pub fn keys(&self) -> &[String] {
        &self.keys
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display)
    }
}

/// The case-insensitive form of any typed name, valid or not: NFKC,
/// lowercase and trim, repeated until stable (each step can produce
/// characters another step changes), so that `fold(fold(x)) == fold(x)`.
pub fn fold(name: &str) -> String {
    let mut current = name.to_owned();
    for _ in 0..8 {
        let next = current.nfkc().collect::<String>().to_lowercase();
        let next = next.trim();
        if next == current {
            break;
        }
        current = next.to_owned();
    }
    current
}

/// The keys of a name given its NFKC form and its folded form: the
/// folded form, and the look-alike skeleton of each. Registration stores
/// these and lookup tries these, so the two can never disagree.
fn keys_of(nfkc: &str, folded: String) -> Vec<String> {
    let mut keys = vec![skeleton_key(nfkc), skeleton_key(&folded), folded];
    keys.sort();
    keys.dedup();
    keys
}

/// The keys under which a typed name (valid or not) is looked up: the same
/// keys a registered name is stored under.
pub fn lookup_keys(typed: &str) -> Vec<String> {
    let nfkc: String = typed.nfkc().collect();
    let folded = fold(&nfkc);
    keys_of(&nfkc, folded)
}

/// The key under which a typed name may be found by its look-alike form.
pub fn skeleton_key(name: &str) -> String {
    let skel: String = skeleton(name).collect();
    std::iter::once(SKELETON_PREFIX)
        .chain(skel.to_lowercase().chars())
        .collect()
}

/// Control characters (C0, DEL, C1, and the Unicode line and paragraph
/// separators, which line-splitting consumers treat as newlines) and the
/// format characters that are invisible or reorder text: bidi controls,
/// zero-width characters, the soft hyphen, the BOM and the tag block.
pub fn is_invisible(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{2028}' | '\u{2029}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{E0000}'..='\u{E007F}')
}

/// The longest run of combining marks in `text`.
pub fn max_marks_in_a_row(text: &str) -> usize {
    let mut run = 0;
    let mut max = 0;
    for c in text.chars() {
        if is_combining_mark(c) {
            run += 1;
            max = max.max(run);
        } else {
            run = 0;
        }
    }
    max
}
