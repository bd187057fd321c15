//! Making text from the network safe to print.
//!
//! The server already cleans what it relays, but a client must not trust
//! that: a hostile or buggy server could send escape sequences that clear
//! the screen, set the window title, write the clipboard (OSC 52) or make
//! the terminal answer back with keystrokes. So every string is passed
//! through [`inert`] before display: control characters become visible
//! Unicode control pictures (`ESC` is shown as `␛`), C1 controls become
//! `�`, and invisible format characters (bidi overrides, zero-width
//! spaces, tag characters) are shown as `<U+202E>`-style markers, so they
//! can neither hide text nor reorder the line.

use std::borrow::Cow;
use std::fmt::Write;

/// Returns `text` with nothing a terminal would interpret.
pub fn inert(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\u{0}'..='\u{1F}' => out.push(char::from_u32(0x2400 + c as u32).unwrap_or('?')),
            '\u{7F}' => out.push('\u{2421}'),
            '\u{80}'..='\u{9F}' => out.push('\u{FFFD}'),
            c if needs_escape(c) => {
                let _ = write!(out, "<U+{:04X}>", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// The server's own table of invisible characters, less the joiners,
/// which emoji need and which hide nothing.
fn needs_escape(c: char) -> bool {
    lanchat_core::name::is_invisible(c) && !lanchat_core::text::is_joiner(c)
}

/// Whom we ignore, as a sentence (names made inert).
pub fn ignoring(names: &[String]) -> String {
    if names.is_empty() {
        return "you ignore nobody".to_owned();
    }
    let names: Vec<String> = names.iter().map(|n| inert(n).into_owned()).collect();
    format!("you ignore: {}", names.join(", "))
}

/// A `/whois` answer as a sentence, whatever the front end: `name` is
/// given as it should be shown (made inert, styled); the rest is made
/// inert here.
pub fn whois(
    name: &str,
    since: &str,
    door: &str,
    address: Option<&str>,
    away: Option<&str>,
) -> String {
    let address = address
        .map(|a| format!(", from {}", inert(a)))
        .unwrap_or_default();
    let away = away
        .map(|a| format!(", away: {}", inert(a)))
        .unwrap_or_default();
    format!(
        "{name} has been here since {} (via {}){address}{away}",
        inert(since),
        inert(door)
    )
}

/// How somebody losing their connection (held) or coming back is said,
/// whatever the front end; `name` is already made inert (and styled).
pub fn held(name: &str, back: bool) -> String {
    if back {
        format!("{name} is back")
    } else {
        format!("{name} lost connection; holding the name")
    }
}

/// How a departure is described to people, whatever the front end.
pub fn departure(reason: lanchat_proto::LeaveReason) -> &'static str {
    use lanchat_proto::LeaveReason;
    match reason {
        LeaveReason::Quit | LeaveReason::Other => "left",
        LeaveReason::Dropped => "dropped (connection lost)",
        LeaveReason::TimedOut => "dropped (timed out)",
        LeaveReason::TooSlow => "dropped (too slow to keep up)",
        LeaveReason::Kicked => "was removed by the server",
    }
}

#[cfg(test)]
mod tests {
    use super::inert;

    #[test]
    fn escapes_and_controls_are_shown_not_obeyed() {
        assert_eq!(inert("plain"), "plain");
        assert_eq!(inert("\u{1b}[2J\u{1b}]0;pwned\u{7}"), "␛[2J␛]0;pwned␇");
        assert_eq!(inert("a\u{9b}31mb\rc\u{8}"), "a�31mb␍c␈");
        assert_eq!(inert("\u{202E}txt.exe"), "<U+202E>txt.exe");
        assert_eq!(inert("👨\u{200D}👩"), "👨\u{200D}👩");
        // Line and paragraph separators and NEL: no line a consumer could
        // split off as if the server had sent it.
        assert_eq!(
            inert("a\u{2028}*** server: b\u{2029}c\u{85}d"),
            "a<U+2028>*** server: b<U+2029>c�d"
        );
    }
}
