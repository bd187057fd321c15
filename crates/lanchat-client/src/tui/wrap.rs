//! Wrapping styled text into rows of a given width.
//!
//! Text is cut into grapheme clusters (unicode-segmentation, extended
//! clusters) and each cluster is measured with unicode-width, exactly as
//! ratatui measures what it draws. So a flag (two regional indicators), a
//! skin-toned emoji or a ZWJ family is one cell pair that never straddles
//! a row end, and the rows we compute are the rows ratatui draws: no cell
//! is left over ("ghost") when the view scrolls.
//!
//! Rows break after a space where the row has one (a word longer than a
//! row is cut), and continuation rows are indented under the text column.

use ratatui::style::Style;
use ratatui::text::{Line, Span};
use unicode_segmentation::UnicodeSegmentation;
use unicode_width::UnicodeWidthStr;

/// One grapheme cluster to place.
struct Cell<'a> {
    text: &'a str,
    width: usize,
    style: Style,
}

/// Rows of at most `width` columns, without indentation.
pub fn wrap(spans: &[Span<'static>], width: usize) -> Vec<Line<'static>> {
    wrap_indented(spans, width, 0)
}

/// Rows of at most `width` columns, broken after a space where possible;
/// rows after the first start with `indent` spaces (none when that would
/// leave less than half the width for text).
pub fn wrap_indented(spans: &[Span<'static>], width: usize, indent: usize) -> Vec<Line<'static>> {
    let width = width.max(1);
    let indent = if indent * 2 <= width { indent } else { 0 };
    let cells: Vec<Cell<'_>> = spans
        .iter()
        .flat_map(|span| {
            span.content.graphemes(true).map(move |g| Cell {
                text: g,
                width: g.width(),
                style: span.style,
            })
        })
        .collect();
    let mut rows = Vec::new();
    let mut i = 0;
    loop {
        let lead = if rows.is_empty() { 0 } else { indent };
        let room = width - lead;
        let start = i;
        let mut used = 0;
        // Where the row may end: just after its last space.
        let mut after_space = None;
        while i < cells.len() {
            let w = shown_width(&cells[i], room);
            if used + w > room {
                break;
            }
            used += w;
            i += 1;
            if cells[i - 1].text == " " {
                after_space = Some(i);
            }
        }
        let mut end = i;
        if i < cells.len() {
            if cells[i].text == " " {
                // The row is full at a word's end: the space is the break.
                i += 1;
            } else if let Some(at) = after_space {
                end = at;
                i = at;
            }
        }
        rows.push(row(&cells[start..end], lead, room));
        if i >= cells.len() {
            return rows;
        }
    }
}

/// The first `width` columns of the spans, cut anywhere (a status bar, a
/// name in a column), and whether anything was left out.
pub fn cut(spans: &[Span<'static>], width: usize) -> (Line<'static>, bool) {
    let width = width.max(1);
    let mut cells = spans.iter().flat_map(|span| {
        span.content.graphemes(true).map(move |g| Cell {
            text: g,
            width: g.width(),
            style: span.style,
        })
    });
    let mut kept = Vec::new();
    let mut used = 0;
    for cell in cells.by_ref() {
        let w = shown_width(&cell, width);
        if used + w > width {
            return (row(&kept, 0, width), true);
        }
        used += w;
        kept.push(cell);
    }
    (row(&kept, 0, width), false)
}

/// A cluster's width in a row of `room` columns: one wider than the row
/// is shown as `?`.
fn shown_width(cell: &Cell<'_>, room: usize) -> usize {
    if cell.width > room {
        1
    } else {
        cell.width
    }
}

/// One row: `lead` spaces, then the cells, in runs of one style.
fn row(cells: &[Cell<'_>], lead: usize, room: usize) -> Line<'static> {
    let mut spans: Vec<Span<'static>> = Vec::new();
    if lead > 0 {
        spans.push(Span::raw(" ".repeat(lead)));
    }
    let mut run = String::new();
    let mut style = None;
    for cell in cells {
        if style.is_some_and(|s| s != cell.style) {
            spans.push(Span::styled(
                std::mem::take(&mut run),
                style.unwrap_or_default(),
            ));
        }
        style = Some(cell.style);
        run.push_str(if cell.width > room { "?" } else { cell.text });
    }
    if let Some(style) = style {
        spans.push(Span::styled(run, style));
    }
    Line::from(spans)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(lines: &[Line<'_>]) -> Vec<String> {
        lines.iter().map(|l| l.to_string()).collect()
    }

    #[test]
    fn rows_break_at_spaces_and_continue_under_the_text() {
        let spans = [
            Span::raw("12:01 <alice> "),
            Span::raw("the quick brown fox jumps over the lazy dog"),
        ];
        assert_eq!(
            texts(&wrap_indented(&spans, 30, 14)),
            [
                "12:01 <alice> the quick brown ",
                "              fox jumps over ",
                "              the lazy dog"
            ]
        );
    }

    #[test]
    fn a_word_longer_than_a_row_is_cut() {
        let spans = [Span::raw("abcdefghijklmnop qr")];
        assert_eq!(texts(&wrap(&spans, 6)), ["abcdef", "ghijkl", "mnop ", "qr"]);
        // Full at a word's end: the next space is the break, not shown.
        assert_eq!(
            texts(&wrap(&[Span::raw("abc def ghi")], 7)),
            ["abc def", "ghi"]
        );
    }

    #[test]
    fn a_wide_indent_is_dropped_for_narrow_rows() {
        let spans = [Span::raw("0123456789 "), Span::raw("aaaa bbbb cccc")];
        let rows = texts(&wrap_indented(&spans, 12, 11));
        assert_eq!(rows, ["0123456789 ", "aaaa bbbb ", "cccc"]);
    }

    /// Flags, skin tones and ZWJ families are one cluster each, two
    /// columns wide, and never cut or counted as several.
    #[test]
    fn emoji_sequences_keep_their_width() {
        let family = "👨\u{200d}👩\u{200d}👧";
        let flag = "🇫🇷";
        let thumbs = "👍🏽";
        for g in [family, flag, thumbs] {
            assert_eq!(g.graphemes(true).count(), 1, "{g:?}");
            assert_eq!(g.width(), 2, "{g:?}");
        }
        let text = format!("{family}{flag}{thumbs}漢");
        let rows = wrap(&[Span::raw(text)], 4);
        assert_eq!(
            texts(&rows),
            [format!("{family}{flag}"), format!("{thumbs}漢")]
        );
        for row in &rows {
            assert!(row.width() <= 4, "{row:?}");
        }
        // Wider than the row: shown as `?`, never overflowing.
        assert_eq!(texts(&wrap(&[Span::raw(flag)], 1)), ["?"]);
    }

    #[test]
    fn cut_keeps_what_fits_and_says_if_more_was_left() {
        let spans = [Span::raw("lanchat │ room lab")];
        assert_eq!(cut(&spans, 12).0.to_string(), "lanchat │ ro");
        assert!(cut(&spans, 12).1);
        assert!(!cut(&spans, 40).1);
        // A wide character that does not fit is left out whole.
        let (line, more) = cut(&[Span::raw("ab漢")], 3);
        assert_eq!((line.to_string().as_str(), more), ("ab", true));
    }

    #[test]
    fn styles_survive_wrapping() {
        let bold = Style::new().add_modifier(ratatui::style::Modifier::BOLD);
        let spans = [Span::styled("ab ", bold), Span::raw("cd ef")];
        let rows = wrap(&spans, 6);
        assert_eq!(texts(&rows), ["ab cd ", "ef"]);
        assert_eq!(rows[0].spans[0].style, bold);
        assert_eq!(rows[0].spans[0].content, "ab ");
        assert_eq!(rows[0].spans[1].content, "cd ");
    }
}
