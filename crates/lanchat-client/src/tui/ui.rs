//! Drawing: a pure function of [`App`]. Nothing here changes state or does
//! IO, so the same state always draws the same screen (and render tests
//! are snapshots).
//!
//! ```text
//! ┌ messages ─────────────────────────────┐┌ users ──┐
//! │12:01 <alice> hi                       ││ alice   │
//! │12:01 ── bob joined                    ││ bob     │
//! └───────────────────────────────────────┘└─────────┘
//!  lab │ 10.0.0.5:8081 │ you: alice │ connected
//! > typed text_
//! ```

use ratatui::layout::{Constraint, Layout, Position, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};
use ratatui::Frame;
use unicode_segmentation::UnicodeSegmentation;
use unicode_width::UnicodeWidthStr;

use crate::clock::{self, Moment};
use crate::display::inert;
use crate::tui::app::{App, Link, Mode};
use crate::tui::search::{self, Search};
use crate::tui::transcript::{Entry, Kind};
pub use crate::tui::wrap::wrap;
use crate::tui::wrap::{cut, wrap_indented};

/// The user list's width when there is room for it.
const USERS_WIDTH: u16 = 20;

/// Below this width the user list is hidden.
const USERS_MIN_TOTAL: u16 = 50;

const NOTICE: Style = Style::new()
    .fg(Color::DarkGray)
    .add_modifier(Modifier::ITALIC);
const ERROR: Style = Style::new().fg(Color::Red).add_modifier(Modifier::BOLD);
const WHISPER: Style = Style::new().fg(Color::Magenta);
const TIME: Style = Style::new().fg(Color::DarkGray);

/// Draws the whole screen.
pub fn render(app: &App, frame: &mut Frame) {
    let area = frame.area();
    if area.height < 3 || area.width < 8 {
        render_input(app, frame, area);
        return;
    }
    let [main, status, input] = Layout::vertical([
        Constraint::Min(1),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    if app.select {
        // Select mode: the conversation alone, edge to edge, so what the
        // mouse selects is text and nothing else.
        render_transcript(app, frame, main);
    } else if area.width >= USERS_MIN_TOTAL {
        let [messages, users] =
            Layout::horizontal([Constraint::Min(10), Constraint::Length(USERS_WIDTH)]).areas(main);
        render_messages(app, frame, messages);
        render_users(app, frame, users);
    } else {
        render_messages(app, frame, main);
    }
    render_status(app, frame, status);
    render_input(app, frame, input);
}

/// A stable colour for a name, so each person always looks the same.
pub fn name_color(name: &str) -> Color {
    const PALETTE: [Color; 10] = [
        Color::Cyan,
        Color::Green,
        Color::Yellow,
        Color::Blue,
        Color::LightRed,
        Color::LightGreen,
        Color::LightBlue,
        Color::LightCyan,
        Color::LightYellow,
        Color::Rgb(255, 135, 0),
    ];
    let hash = name.bytes().fold(0x811c9dc5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x01000193)
    });
    PALETTE[hash as usize % PALETTE.len()]
}

fn name_span(name: &str) -> Span<'static> {
    Span::styled(
        inert(name).into_owned(),
        Style::new()
            .fg(name_color(name))
            .add_modifier(Modifier::BOLD),
    )
}

/// A search match on the line the search is on.
const FOUND: Style = Style::new().fg(Color::Black).bg(Color::Yellow);

/// A search match elsewhere.
const ALSO_FOUND: Style = Style::new()
    .add_modifier(Modifier::UNDERLINED)
    .add_modifier(Modifier::BOLD);

/// An entry's spans (see `entry_spans`) with the matches of the
/// search under way highlighted in its text.
fn highlighted(
    mut spans: Vec<Span<'static>>,
    entry: &Entry,
    search: &Search,
) -> Vec<Span<'static>> {
    let Some(last) = spans.pop() else {
        return spans;
    };
    let found = if search.at == entry.seq {
        FOUND
    } else {
        ALSO_FOUND
    };
    let text = last.content.as_ref();
    let mut at = 0;
    for (start, end) in search::matches(text, &search.query) {
        if start > at {
            spans.push(Span::styled(text[at..start].to_owned(), last.style));
        }
        spans.push(Span::styled(
            text[start..end].to_owned(),
            last.style.patch(found),
        ));
        at = end;
    }
    if at < text.len() {
        spans.push(Span::styled(text[at..].to_owned(), last.style));
    }
    spans
}

/// The spans of one entry: the time, how it is marked, then its text
/// (always the last span).
fn entry_spans(app: &App, entry: &Entry) -> Vec<Span<'static>> {
    let format = if app.full_times {
        clock::FULL_FORMAT
    } else {
        &app.time_format
    };
    let time = clock::show(entry.at, app.offset, format);
    let mut spans = vec![Span::styled(format!("{} ", inert(&time)), TIME)];
    let text = entry.text.clone();
    match &entry.kind {
        Kind::Message { from, mention, .. } => {
            let body = if *mention {
                Style::new().fg(Color::Black).bg(Color::Yellow)
            } else {
                Style::new()
            };
            spans.push(Span::raw("<"));
            spans.push(name_span(from));
            spans.push(Span::raw("> "));
            spans.push(Span::styled(text, body));
        }
        Kind::Action { from } => {
            spans.push(Span::raw("* "));
            spans.push(name_span(from));
            spans.push(Span::raw(" "));
            spans.push(Span::styled(
                text,
                Style::new().add_modifier(Modifier::ITALIC),
            ));
        }
        Kind::WhisperIn { from } => {
            spans.push(Span::styled("[whisper from ", WHISPER));
            spans.push(name_span(from));
            spans.push(Span::styled("] ", WHISPER));
            spans.push(Span::styled(text, WHISPER));
        }
        Kind::WhisperOut { to } => {
            spans.push(Span::styled("[whisper to ", WHISPER));
            spans.push(name_span(to));
            spans.push(Span::styled("] ", WHISPER));
            spans.push(Span::styled(text, WHISPER));
        }
        Kind::Notice => {
            spans.push(Span::styled("── ", NOTICE));
            spans.push(Span::styled(text, NOTICE));
        }
        // Drawn as a rule across the view: see `rule`.
        Kind::Separator => spans.push(Span::styled(text, NOTICE)),
        Kind::Error => {
            spans.push(Span::styled("!! ", ERROR));
            spans.push(Span::styled(text, ERROR));
        }
    }
    spans
}

fn render_messages(app: &App, frame: &mut Frame, area: Rect) {
    let title = match &app.mode {
        Mode::ChooseRoom { .. } => " choose a room ".to_owned(),
        _ if app.room.is_empty() => " lanchat ".to_owned(),
        _ => format!(" {} ", app.room),
    };
    let block = Block::default().borders(Borders::ALL).title(title);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    render_transcript(app, frame, inner);
}

/// The conversation (or the room chooser) in `inner`, without a frame.
fn render_transcript(app: &App, frame: &mut Frame, inner: Rect) {
    if inner.width == 0 || inner.height == 0 {
        return;
    }
    let width = usize::from(inner.width);
    let height = usize::from(inner.height);
    let mut rows: Vec<Line<'static>> = Vec::new();
    if let Mode::ChooseRoom { rooms, selected } = &app.mode {
        for (i, room) in rooms.iter().enumerate() {
            let style = if i == *selected {
                Style::new().add_modifier(Modifier::REVERSED)
            } else {
                Style::new()
            };
            let label = format!(
                "{} {}) {}",
                if i == *selected { "▶" } else { " " },
                i + 1,
                inert(room)
            );
            rows.extend(wrap(&[Span::styled(label, style)], width));
        }
        rows.push(Line::default());
        let keys = "↑/↓ choose · Enter join · 1–9 pick by number · Esc leave";
        rows.extend(wrap(&[Span::styled(keys, NOTICE)], width));
    } else {
        // Newest at the bottom: wrap entries from the newest back until the
        // pane is full, skipping those scrolled past.
        let mut stack: Vec<Line<'static>> = Vec::new();
        let mut entries = app.transcript.newest_first().skip(app.scroll).peekable();
        while let Some(entry) = entries.next() {
            // Continuation rows line up under the text, after the time
            // and the name.
            let plain = entry_spans(app, entry);
            let indent = plain[..plain.len().saturating_sub(1)]
                .iter()
                .map(Span::width)
                .sum();
            let spans = match &app.search {
                Some(search) => highlighted(plain, entry, search),
                None => plain,
            };
            let mut lines = match entry.kind {
                Kind::Separator => vec![rule(&inert(&entry.text), width, NOTICE)],
                _ => wrap_indented(&spans, width, indent),
            };
            if app.marker == Some(entry.seq) {
                lines.insert(0, marker_line(width));
            }
            for line in lines.into_iter().rev() {
                stack.push(line);
            }
            // A new day starts with this entry: say which, above it.
            let day = |at: Moment| at.at(app.offset).map(|t| t.date_naive());
            if let Some(older) = entries.peek() {
                if day(older.at) != day(entry.at) {
                    stack.push(day_line(app, entry.at, width));
                }
            }
            if stack.len() >= height {
                break;
            }
        }
        stack.truncate(height);
        // Anchor at the bottom, next to the input line, like every chat.
        stack.resize(height, Line::default());
        stack.reverse();
        rows = stack;
    }
    frame.render_widget(Paragraph::new(rows), inner);
}

/// A line across the view with `label` in its middle.
fn rule(label: &str, width: usize, style: Style) -> Line<'static> {
    let label = format!(" {label} ");
    let used = label.width();
    let side = width.saturating_sub(used) / 2;
    let text = format!(
        "{}{label}{}",
        "─".repeat(side),
        "─".repeat(width.saturating_sub(side + used))
    );
    let (line, _) = cut(&[Span::styled(text, style)], width);
    line
}

/// The separator above the first line of a day: `── Monday 30 November 2026 ──`.
fn day_line(app: &App, at: Moment, width: usize) -> Line<'static> {
    rule(&clock::show(at, app.offset, "%A %-d %B %Y"), width, NOTICE)
}

/// Where the lines not yet seen start.
fn marker_line(width: usize) -> Line<'static> {
    rule("new", width, Style::new().fg(Color::Red))
}

fn render_users(app: &App, frame: &mut Frame, area: Rect) {
    let block = Block::default()
        .borders(Borders::ALL)
        .title(format!(" users ({}) ", app.users.len()));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let width = usize::from(inner.width);
    // Only what fits is drawn: a frame costs the same in a room of ten
    // thousand.
    let lines: Vec<Line<'static>> = app
        .users
        .iter()
        .take(usize::from(inner.height))
        .map(|u| {
            let mut spans = vec![name_span(u)];
            if app.away.contains_key(u) {
                spans.push(Span::styled(" (away)", NOTICE));
            }
            if app.me.as_deref() == Some(u) {
                spans.push(Span::styled(" (you)", NOTICE));
            }
            let (first, more) = cut(&spans, width);
            // A name too long for the column ends in `…`, not mid-glyph.
            if more {
                ellipsize(first, width)
            } else {
                first
            }
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), inner);
}

/// `line` cut to leave room for a final `…` within `width` columns.
fn ellipsize(line: Line<'static>, width: usize) -> Line<'static> {
    let mut room = width.saturating_sub(1);
    let mut spans = Vec::new();
    for span in line.spans {
        let mut kept = String::new();
        for c in span.content.chars() {
            let w = crate::tui::editor::char_width(c);
            if w > room {
                room = 0;
                break;
            }
            room -= w;
            kept.push(c);
        }
        spans.push(Span::styled(kept, span.style));
        if room == 0 {
            break;
        }
    }
    spans.push(Span::styled("…", NOTICE));
    Line::from(spans)
}

fn render_status(app: &App, frame: &mut Frame, area: Rect) {
    let (state, state_style) = match &app.link {
        Link::Connecting => ("connecting".to_owned(), Style::new().fg(Color::Yellow)),
        Link::Connected if app.badge.is_empty() => {
            ("connected".to_owned(), Style::new().fg(Color::Green))
        }
        // Encrypted implies connected: the badge alone keeps the bar short.
        Link::Connected => (app.badge.clone(), Style::new().fg(Color::Green)),
        Link::Reconnecting(attempt) => (
            format!("reconnecting (attempt {attempt})…"),
            Style::new().fg(Color::Yellow),
        ),
        Link::Lost(why) => (
            format!("disconnected: {}", inert(why)),
            Style::new().fg(Color::Red),
        ),
    };
    let sep = Span::raw(" │ ");
    // The unread badge comes first, so a narrow terminal still shows it.
    let mut spans = Vec::new();
    if app.select {
        spans.push(Span::styled(
            " select mode: drag to copy · Alt-M returns ",
            Style::new().fg(Color::Black).bg(Color::Cyan),
        ));
    }
    if let Some(search) = &app.search {
        spans.push(Span::styled(
            format!(
                " search \"{}\": {} of {} · Ctrl-R older · Ctrl-S newer · Esc ends ",
                inert(&search.query),
                search.index,
                search.total
            ),
            Style::new().fg(Color::Black).bg(Color::Yellow),
        ));
    } else if app.unread > 0 {
        spans.push(Span::styled(
            format!(" ↓ {} new (PgDn) ", app.unread),
            Style::new().fg(Color::Black).bg(Color::Yellow),
        ));
    } else if app.scroll > 0 {
        spans.push(Span::styled(
            " scrolled up (PgDn) ",
            Style::new().fg(Color::Yellow),
        ));
    }
    spans.push(Span::styled(
        " lanchat",
        Style::new().add_modifier(Modifier::BOLD),
    ));
    if !app.room.is_empty() {
        spans.extend([sep.clone(), Span::raw(format!("room {}", app.room))]);
    }
    if let Some(me) = &app.me {
        spans.extend([sep.clone(), Span::raw("you: "), name_span(me)]);
    }
    if !app.server.is_empty() {
        spans.extend([sep.clone(), Span::raw(app.server.clone())]);
    }
    spans.extend([sep.clone(), Span::styled(state, state_style)]);
    // Last: a long topic is what a narrow terminal cuts.
    if !app.topic.is_empty() {
        spans.extend([sep, Span::raw(format!("topic: {}", app.topic))]);
    }
    let width = usize::from(area.width);
    let (line, _) = cut(&spans, width);
    frame.render_widget(
        Paragraph::new(line).style(Style::new().bg(Color::Rgb(40, 40, 40))),
        area,
    );
}

fn render_input(app: &App, frame: &mut Frame, area: Rect) {
    let area = Rect {
        height: area.height.min(1),
        y: area.bottom().saturating_sub(1),
        ..area
    };
    let prompt = match app.mode {
        Mode::AskName => "name: ",
        Mode::AskPassphrase => "passphrase: ",
        Mode::ChooseRoom { .. } => "",
        _ => "> ",
    };
    let prompt_width = prompt.width() as u16;
    let room = usize::from(area.width.saturating_sub(prompt_width));
    let (shown, cursor) = if app.mode == Mode::AskPassphrase {
        // Only how many characters were typed, never what.
        let typed = app.editor.text().graphemes(true).count();
        ("•".repeat(typed.min(room)), typed.min(room))
    } else {
        app.editor.view(room)
    };
    let line = Line::from(vec![
        Span::styled(
            prompt,
            Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD),
        ),
        Span::raw(shown),
    ]);
    frame.render_widget(Paragraph::new(line), area);
    if !matches!(app.mode, Mode::ChooseRoom { .. }) {
        let x = area.x + (prompt_width + cursor as u16).min(area.width.saturating_sub(1));
        frame.set_cursor_position(Position::new(x, area.y));
    }
}
