//! What the client remembers between runs: the last room it joined, so
//! that it can try that one first next time, and the last name it used,
//! offered as the default at the name prompt.

use std::path::PathBuf;

use lanchat_proto::Greeting;

fn path() -> Option<PathBuf> {
    Some(dir()?.join("last-server"))
}

fn dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("lanchat"))
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
    let Some(dir) = dir() else { return };
    let saved = std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(dir.join("last-name"), format!("{name}\n")));
    if let Err(error) = saved {
        tracing::debug!(%error, "could not remember the name");
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
