//! Message text: what may be relayed, decided once on the server so that
//! no client has to trust another.
//!
//! Policy: text must be non-blank and at most the room's limit in bytes
//! of UTF-8 (the server's configuration, capped by the wire protocol's
//! `MAX_TEXT_LEN`). Tabs become a space.
//! Other control characters (C0, DEL) are replaced with their visible
//! Unicode "control picture" (`ESC` becomes `␛`), so an escape sequence
//! arrives as inert text; C1 controls become `�`. Bidi overrides and
//! invisible format characters are removed, except the zero-width joiner
//! and non-joiner, which emoji and several scripts need. Runs of combining
//! marks are cut to [`MAX_MARKS_IN_A_ROW`], so "Zalgo" text cannot smear
//! over neighbouring lines. Clients sanitize
//! again when they display, because a server can be hostile too.

use std::borrow::Cow;

use unicode_normalization::char::is_combining_mark;

/// The most combining marks kept in a row; more are dropped.
pub const MAX_MARKS_IN_A_ROW: usize = 4;

/// Why a message cannot be sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error("there is nothing to send")]
    Empty,
    #[error("the message is {len} bytes long; the limit is {max}")]
    TooLong { len: usize, max: usize },
}

/// Checks `text` against a limit of `max_len` bytes and returns the form
/// that is relayed.
pub fn clean(text: &str, max_len: usize) -> Result<Cow<'_, str>, TextError> {
    if text.len() > max_len {
        return Err(TextError::TooLong {
            len: text.len(),
            max: max_len,
        });
    }
    let needs_work = text.chars().any(crate::name::is_invisible)
        || crate::name::max_marks_in_a_row(text) > MAX_MARKS_IN_A_ROW;
    let out = if needs_work {
        let mut marks = 0;
        let kept = text.chars().filter(|&c| {
            marks = if is_combining_mark(c) { marks + 1 } else { 0 };
            marks <= MAX_MARKS_IN_A_ROW
        });
        Cow::Owned(kept.filter_map(replace).collect())
    } else {
        Cow::Borrowed(text)
    };
    if out.trim().is_empty() {
        return Err(TextError::Empty);
    }
    // Cleaning can grow text (DEL becomes `␡`, three bytes): the limit is
    // on what is relayed, so it is checked again.
    if out.len() > max_len {
        return Err(TextError::TooLong {
            len: out.len(),
            max: max_len,
        });
    }
    Ok(out)
}

/// At most `max` characters of `text`, marked with `…` if cut: how text
/// a peer controls is quoted back in errors and logs, within a bound.
pub fn excerpt(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

/// The zero-width joiner and non-joiner: invisible, but emoji sequences
/// and several scripts need them, so they are kept and shown as they are.
pub fn is_joiner(c: char) -> bool {
    matches!(c, '\u{200C}' | '\u{200D}')
}

fn replace(c: char) -> Option<char> {
    match c {
        '\t' => Some(' '),
        '\u{0}'..='\u{1F}' => char::from_u32(0x2400 + c as u32),
        '\u{7F}' => Some('\u{2421}'),
        '\u{80}'..='\u{9F}' => Some('\u{FFFD}'),
        // A line or paragraph separator would start a new line for a
        // consumer that splits like Python's `splitlines()`, where it could
        // forge a server line: shown as the newline symbol instead.
        '\u{2028}' | '\u{2029}' => Some('\u{2424}'),
        c if is_joiner(c) => Some(c),
        c if crate::name::is_invisible(c) => None,
        c => Some(c),
    }
}
