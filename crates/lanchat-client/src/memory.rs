//! What the client remembers between runs: the last server it joined, so
//! that it can try that one first next time.

use std::path::PathBuf;

fn path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("lanchat").join("last-server"))
}

/// The last server joined, as `ip:port`, if any.
pub fn last_server() -> Option<String> {
    let text = std::fs::read_to_string(path()?).ok()?;
    let addr = text.trim();
    (!addr.is_empty() && addr.len() < 256).then(|| addr.to_owned())
}

/// Remembers `addr` as the last server joined. Failing to is not an error
/// worth bothering the user with.
pub fn remember(addr: &str) {
    let Some(path) = path() else { return };
    let saved = path
        .parent()
        .map(std::fs::create_dir_all)
        .transpose()
        .and_then(|_| std::fs::write(&path, format!("{addr}\n")));
    if let Err(error) = saved {
        tracing::debug!(%error, path = %path.display(), "could not remember the server");
    }
}
