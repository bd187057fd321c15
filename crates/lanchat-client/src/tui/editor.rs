//! The input line: a string and a cursor, edited by keys and measured in
//! display columns, so wide characters (CJK, emoji) and combining marks
//! never put the cursor in the wrong place.
//!
//! The cursor moves by grapheme cluster (unicode-segmentation), and widths
//! are measured per cluster as the transcript measures them, so it never
//! splits a base letter from its combining marks, nor a flag, a skin-toned
//! emoji or a ZWJ family.

use unicode_segmentation::UnicodeSegmentation;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// How a newline (from a multi-line paste) is shown in the input line.
pub const NEWLINE_GLYPH: char = '↵';

/// Display width of one grapheme cluster as shown in the input line (a
/// newline shows as one column).
fn cluster_width(g: &str) -> usize {
    if g.contains('\n') {
        1
    } else {
        g.width()
    }
}

/// The line being typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Editor {
    text: String,
    /// Byte offset of the cursor in `text`.
    cursor: usize,
}

/// Display width of one character as shown in the input line.
pub fn char_width(c: char) -> usize {
    if c == '\n' {
        1
    } else {
        c.width().unwrap_or(0)
    }
}

impl Editor {
    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// The cursor's byte offset.
    pub fn cursor(&self) -> usize {
        self.cursor
    }

    /// Replaces the text, with the cursor at the end.
    pub fn set(&mut self, text: String) {
        self.cursor = text.len();
        self.text = text;
    }

    /// Takes the text, leaving the line empty.
    pub fn take(&mut self) -> String {
        self.cursor = 0;
        std::mem::take(&mut self.text)
    }

    pub fn insert(&mut self, c: char) {
        self.text.insert(self.cursor, c);
        self.cursor += c.len_utf8();
    }

    pub fn insert_str(&mut self, s: &str) {
        self.text.insert_str(self.cursor, s);
        self.cursor += s.len();
    }

    /// Where the grapheme cluster before the cursor starts.
    fn prev_boundary(&self) -> usize {
        self.text[..self.cursor]
            .grapheme_indices(true)
            .next_back()
            .map_or(0, |(i, _)| i)
    }

    /// Where the grapheme cluster after the cursor ends.
    fn next_boundary(&self) -> usize {
        let next = self.text[self.cursor..].graphemes(true).next();
        self.cursor + next.map_or(0, str::len)
    }

    pub fn left(&mut self) {
        self.cursor = self.prev_boundary();
    }

    pub fn right(&mut self) {
        self.cursor = self.next_boundary();
    }

    pub fn home(&mut self) {
        self.cursor = 0;
    }

    pub fn end(&mut self) {
        self.cursor = self.text.len();
    }

    pub fn backspace(&mut self) {
        let from = self.prev_boundary();
        self.text.replace_range(from..self.cursor, "");
        self.cursor = from;
    }

    pub fn delete(&mut self) {
        let to = self.next_boundary();
        self.text.replace_range(self.cursor..to, "");
    }

    /// Ctrl-W: deletes the word before the cursor (and spaces after it).
    pub fn delete_word(&mut self) {
        let before = &self.text[..self.cursor];
        let trimmed = before.trim_end();
        let start = trimmed
            .char_indices()
            .rev()
            .find(|(_, c)| c.is_whitespace())
            .map(|(i, c)| i + c.len_utf8())
            .unwrap_or(0);
        self.text.replace_range(start..self.cursor, "");
        self.cursor = start;
    }

    /// Alt-b, Ctrl-Left: to the start of the word before the cursor.
    pub fn word_left(&mut self) {
        let before = self.text[..self.cursor].trim_end();
        self.cursor = before
            .char_indices()
            .rev()
            .find(|(_, c)| c.is_whitespace())
            .map_or(0, |(i, c)| i + c.len_utf8());
    }

    /// Alt-f, Ctrl-Right: to the end of the word after the cursor.
    pub fn word_right(&mut self) {
        let after = &self.text[self.cursor..];
        let skipped = after.len() - after.trim_start().len();
        let word = after[skipped..]
            .char_indices()
            .find(|(_, c)| c.is_whitespace())
            .map_or(after.len() - skipped, |(i, _)| i);
        self.cursor += skipped + word;
    }

    /// Ctrl-K: cuts everything from the cursor to the end; returns it.
    pub fn kill_to_end(&mut self) -> String {
        self.text.split_off(self.cursor)
    }

    /// Ctrl-U: deletes everything before the cursor.
    pub fn clear_to_start(&mut self) {
        self.text.replace_range(..self.cursor, "");
        self.cursor = 0;
    }

    /// The word the cursor is at the end of, and where it starts.
    pub fn word_before_cursor(&self) -> (usize, &str) {
        let before = &self.text[..self.cursor];
        let start = before
            .char_indices()
            .rev()
            .find(|(_, c)| c.is_whitespace())
            .map(|(i, c)| i + c.len_utf8())
            .unwrap_or(0);
        (start, &before[start..])
    }

    /// Replaces the text from byte `start` to the cursor with `with`.
    pub fn replace_before_cursor(&mut self, start: usize, with: &str) {
        let start = start.min(self.cursor);
        if !self.text.is_char_boundary(start) {
            return;
        }
        self.text.replace_range(start..self.cursor, with);
        self.cursor = start + with.len();
    }

    /// What fits in `width` columns, scrolled so the cursor is visible, and
    /// the cursor's column within it. Newlines show as [`NEWLINE_GLYPH`].
    pub fn view(&self, width: usize) -> (String, usize) {
        if width == 0 {
            return (String::new(), 0);
        }
        let before: Vec<&str> = self.text[..self.cursor].graphemes(true).collect();
        // Drop clusters from the left until the cursor fits, keeping one
        // column for the cursor itself.
        let mut start = 0;
        let mut col: usize = before.iter().map(|g| cluster_width(g)).sum();
        while col + 1 > width && start < before.len() {
            col -= cluster_width(before[start]);
            start += 1;
        }
        let mut out = String::new();
        let mut used = 0;
        for g in before[start..]
            .iter()
            .copied()
            .chain(self.text[self.cursor..].graphemes(true))
        {
            let w = cluster_width(g);
            if used + w > width {
                break;
            }
            used += w;
            if g.contains('\n') {
                out.push(NEWLINE_GLYPH);
            } else {
                out.push_str(g);
            }
        }
        (out, col)
    }
}
