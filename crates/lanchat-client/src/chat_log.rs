//! `--log FILE`: the conversation appended to a file as plain text, one
//! line per event, each with the server's time (or the local time, from a
//! server that sends none). The lines are the `--plain` contract's, so one
//! reader understands both.

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use lanchat_proto::time::format_ms;
use lanchat_proto::ServerFrame;

use crate::plain::{render, welcome_line, Style};

/// An open chat log.
#[derive(Debug)]
pub struct ChatLog {
    file: File,
}

impl ChatLog {
    /// Opens `path` for appending (creating it if needed).
    pub fn open(path: &Path) -> io::Result<ChatLog> {
        let file = File::options().create(true).append(true).open(path)?;
        Ok(ChatLog { file })
    }

    /// Appends `frame` as the plain client would print it, if it prints
    /// anything. A failed write is reported once by the caller's choice:
    /// the chat goes on without the log rather than stop.
    pub fn record(&mut self, frame: &ServerFrame, me: &str) -> io::Result<()> {
        let plain = Style { color: false };
        let line = match frame {
            ServerFrame::Welcome {
                name, room, users, ..
            } => welcome_line(name, room, users, &plain),
            frame => match render(frame, me, &plain) {
                Some(line) => line,
                None => return Ok(()),
            },
        };
        self.line(frame.ts(), &line)
    }

    /// Appends one line with its time.
    pub fn line(&mut self, ts: Option<&str>, line: &str) -> io::Result<()> {
        let now = || {
            let ms = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64);
            format_ms(ms)
        };
        let ts = ts.map_or_else(now, str::to_owned);
        writeln!(self.file, "{ts} {line}")
    }
}
