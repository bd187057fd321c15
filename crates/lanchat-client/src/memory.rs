//! What the client remembers between runs: the last room it joined, so
//! that it can try that one first next time, and the last name it used,
//! offered as the default at the name prompt.

use std::path::PathBuf;

use lanchat_proto::Greeting;

fn path() -> Option<PathBuf> {
    Some(dir()?.join("last-server"))
}

fn dir() -> Option<PathBuf> {
    xdg("XDG_CONFIG_HOME", ".config")
}

/// `$VAR/lanchat`, or `~/FALLBACK/lanchat`, by the XDG rules (a relative
/// `$VAR` is ignored).
fn xdg(var: &str, fallback: &str) -> Option<PathBuf> {
    let base = std::env::var_os(var)
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(fallback)))?;
    Some(base.join("lanchat"))
}

/// `$XDG_DATA_HOME/lanchat` (or `~/.local/share/lanchat`): where a server
/// keeps its rooms' history.
pub fn data_dir() -> Option<PathBuf> {
    xdg("XDG_DATA_HOME", ".local/share")
}

/// The last name a server accepted from us, if any.
pub fn last_name() -> Option<String> {
    let text = std::fs::read_to_string(dir()?.join("last-name")).ok()?;
    let name = text.trim();
    // Whatever is in the file is only a suggestion: the server decides.
    (!name.is_empty() && name.chars().count() <= 64 && !name.chars().any(char::is_control))
        .then(|| name.to_owned())
}

/// Remembers `name` as the last name used.
pub fn remember_name(name: &str) {
    keep_line("last-name", name);
}

/// Writes one line to the config file `file`. Failing to is not an error
/// worth bothering the user with.
fn keep_line(file: &str, line: &str) {
    let Some(dir) = dir() else { return };
    let saved = std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(dir.join(file), format!("{line}\n")));
    if let Err(error) = saved {
        tracing::debug!(%error, file, "could not keep a setting");
    }
}

/// The last room joined: where, and what it said it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastRoom {
    /// `ip:port`.
    pub addr: String,
    /// The room's and the server's names from its greeting (absent in a
    /// file written by an older client).
    pub room: Option<String>,
    pub server: Option<String>,
}

impl LastRoom {
    /// Whether a greeting from `addr` today is the room remembered: the
    /// same room and server names (and, once servers have keys, the same
    /// key). Anything else at that address is not rejoined blindly.
    pub fn is_same(&self, greeting: &Greeting) -> bool {
        self.room.as_deref() == Some(greeting.room.as_str())
            && self.server.as_deref() == Some(greeting.server.as_str())
    }
}

/// The last room joined, if any.
pub fn last_room() -> Option<LastRoom> {
    let text = std::fs::read_to_string(path()?).ok()?;
    let mut lines = text.lines().map(str::trim);
    let addr = lines.next()?;
    if addr.is_empty() || addr.len() >= 256 {
        return None;
    }
    let mut name = || {
        lines
            .next()
            .filter(|l| !l.is_empty() && l.len() < 256)
            .map(str::to_owned)
    };
    Some(LastRoom {
        addr: addr.to_owned(),
        room: name(),
        server: name(),
    })
}

/// Remembers the room at `addr` as the last one joined. Failing to is not
/// an error worth bothering the user with.
pub fn remember(addr: &str, greeting: &Greeting) {
    let Some(path) = path() else { return };
    // One name a line: a name with a line break in it is not kept.
    let clean = |s: &str| s.replace(['\n', '\r'], " ");
    let text = format!(
        "{addr}\n{}\n{}\n",
        clean(&greeting.room),
        clean(&greeting.server)
    );
    let saved = path
        .parent()
        .map(std::fs::create_dir_all)
        .transpose()
        .and_then(|_| std::fs::write(&path, text));
    if let Err(error) = saved {
        tracing::debug!(%error, path = %path.display(), "could not remember the server");
    }
}

/// Where the client keeps its state (XDG state): the TUI's log and input
/// history.
pub fn state_dir() -> Option<PathBuf> {
    xdg("XDG_STATE_HOME", ".local/state")
}

/// The most lines of input history kept, and the longest.
const HISTORY_LINES: usize = 500;
const HISTORY_LINE_BYTES: usize = 4096;

/// The input history of earlier runs, oldest first.
pub fn history() -> Vec<String> {
    state_dir().map_or_else(Vec::new, |d| history_in(&d))
}

fn history_in(dir: &std::path::Path) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(dir.join("history")) else {
        return Vec::new();
    };
    let lines: Vec<String> = text
        .lines()
        .filter(|l| !l.trim().is_empty() && l.len() <= HISTORY_LINE_BYTES)
        .map(str::to_owned)
        .collect();
    let skip = lines.len().saturating_sub(HISTORY_LINES);
    lines.into_iter().skip(skip).collect()
}

/// Keeps the input history for the next run (a multi-line entry is kept
/// as its lines).
pub fn save_history(lines: &[String]) {
    if let Some(dir) = state_dir() {
        save_history_in(&dir, lines);
    }
}

fn save_history_in(dir: &std::path::Path, lines: &[String]) {
    let skip = lines.len().saturating_sub(HISTORY_LINES);
    let text: String = lines
        .iter()
        .skip(skip)
        .flat_map(|l| l.lines())
        .filter(|l| l.len() <= HISTORY_LINE_BYTES)
        .map(|l| format!("{l}\n"))
        .collect();
    let saved =
        std::fs::create_dir_all(dir).and_then(|()| std::fs::write(dir.join("history"), text));
    if let Err(error) = saved {
        tracing::debug!(%error, "could not keep the input history");
    }
}

/// The `/bell` setting of earlier runs, as `/bell` takes it.
pub fn bell() -> Option<String> {
    let text = std::fs::read_to_string(dir()?.join("bell")).ok()?;
    Some(text.trim().to_owned())
}

/// Keeps the `/bell` setting.
pub fn save_bell(setting: &str) {
    keep_line("bell", setting);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_history_is_kept_bounded_and_line_by_line() {
        let dir = std::env::temp_dir().join(format!("lanchat-history-{}", std::process::id()));
        let mut lines: Vec<String> = (0..600).map(|i| format!("line {i}")).collect();
        lines.push("two\nlines".into());
        lines.push("x".repeat(HISTORY_LINE_BYTES + 1));
        save_history_in(&dir, &lines);
        let back = history_in(&dir);
        assert!(back.len() <= HISTORY_LINES, "{}", back.len());
        assert_eq!(back.last().map(String::as_str), Some("lines"));
        assert!(back.iter().all(|l| l.len() <= HISTORY_LINE_BYTES));
        assert_eq!(history_in(&dir.join("nowhere")), Vec::<String>::new());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
