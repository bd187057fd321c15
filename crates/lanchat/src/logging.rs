//! Logging setup: `tracing` to stderr, filtered by `RUST_LOG`.

use std::fs::File;
use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;

use tracing_subscriber::EnvFilter;

/// Installs the subscriber; `default` applies when `RUST_LOG` is unset.
pub fn init(default: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .try_init();
}

/// Logs to a file instead, for the TUI, which owns the screen:
/// `$XDG_STATE_HOME/lanchat/client.log` (or `~/.local/state/...`). Without
/// a usable place, logs are dropped rather than drawn over the UI.
pub fn init_file(default: &str) {
    let dir = lanchat_client::memory::state_dir();
    let file = dir.and_then(|d| {
        std::fs::create_dir_all(&d).ok()?;
        CappedLog::open(d.join("client.log")).ok()
    });
    let Some(file) = file else { return };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::sync::Mutex::new(file))
        .with_ansi(false)
        .try_init();
}

/// The size at which the client log is rotated; one old file is kept, so
/// the log never takes more than about twice this on disk, whatever a
/// hostile server makes the client log.
const MAX_LOG_BYTES: u64 = 1 << 20;

/// The longest single log line; longer ones are cut.
const MAX_LINE_BYTES: usize = 2048;

/// A log file that rotates itself at [`MAX_LOG_BYTES`] (to `client.log.1`)
/// and cuts lines at [`MAX_LINE_BYTES`].
struct CappedLog {
    path: PathBuf,
    file: File,
    written: u64,
}

impl CappedLog {
    fn open(path: PathBuf) -> io::Result<CappedLog> {
        let file = File::options().create(true).append(true).open(&path)?;
        let written = file.metadata()?.len();
        Ok(CappedLog {
            path,
            file,
            written,
        })
    }

    fn rotate(&mut self) -> io::Result<()> {
        let mut old = self.path.clone().into_os_string();
        old.push(".1");
        std::fs::rename(&self.path, old)?;
        *self = CappedLog::open(self.path.clone())?;
        Ok(())
    }
}

impl Write for CappedLog {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let cut = buf.len() > MAX_LINE_BYTES;
        let kept = &buf[..buf.len().min(MAX_LINE_BYTES)];
        let size = (kept.len() + if cut { 4 } else { 0 }) as u64;
        if self.written + size > MAX_LOG_BYTES && self.written > 0 {
            self.rotate()?;
        }
        self.file.write_all(kept)?;
        if cut {
            self.file.write_all("…\n".as_bytes())?;
        }
        self.written += size;
        // All of it counts as written: the rest is dropped on purpose.
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_rotates_and_cuts_long_lines() {
        let dir = std::env::temp_dir().join(format!("lanchat-log-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("client.log");
        let mut log = CappedLog::open(path.clone()).unwrap();
        let line = format!("{}\n", "x".repeat(10_000));
        for _ in 0..5_000 {
            log.write_all(line.as_bytes()).unwrap();
        }
        log.flush().unwrap();
        let size = |p: &std::path::Path| std::fs::metadata(p).map_or(0, |m| m.len());
        assert!(size(&path) <= MAX_LOG_BYTES);
        assert!(size(&dir.join("client.log.1")) <= MAX_LOG_BYTES);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.lines().all(|l| l.len() <= MAX_LINE_BYTES + 3));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
