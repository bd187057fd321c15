//! Passphrases from files and from the terminal, and the client's
//! [`Trust`]: what `known_rooms`, `--fingerprint` and `--passphrase-file`
//! ask of every connection.

use std::io::{BufRead, Write};
use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use lanchat_client::Trust;
use lanchat_proto::pake::Passphrase;
use lanchat_proto::Expected;

use crate::cli::JoinArgs;
use crate::usage::usage;

/// The largest passphrase file read.
const MAX_FILE: u64 = 4096;

/// The passphrase in the first line of `path`.
pub fn from_file(path: &Path) -> anyhow::Result<Passphrase> {
    use std::io::Read;
    let mut text = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_FILE).read_to_end(&mut text))
        .with_context(|| format!("could not read the passphrase file {}", path.display()))?;
    Passphrase::from_file_text(&text).ok_or_else(|| {
        usage(format!(
            "the passphrase file {} is empty (the first line is the passphrase)",
            path.display()
        ))
    })
}

/// Asks for a passphrase on the terminal, without echoing it; `None`
/// without a terminal or an answer.
pub fn ask(prompt: &str) -> Option<Passphrase> {
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .ok()?;
    let echo = Echo::off(&tty);
    let mut out = &tty;
    let _ = write!(out, "{prompt}");
    let _ = out.flush();
    let mut line = String::new();
    let read = std::io::BufReader::new(&tty).read_line(&mut line);
    drop(echo);
    let _ = writeln!(out);
    read.ok()?;
    Passphrase::from_file_text(line.as_bytes())
}

/// The terminal's echo, turned off until dropped.
struct Echo {
    fd: i32,
    saved: Option<libc::termios>,
}

impl Echo {
    fn off(tty: &std::fs::File) -> Echo {
        use std::os::fd::AsRawFd;
        let fd = tty.as_raw_fd();
        // SAFETY: `fd` is an open terminal for the life of `tty`, and
        // `termios` is plain data that tcgetattr fills in.
        let saved = unsafe {
            let mut t: libc::termios = std::mem::zeroed();
            (libc::tcgetattr(fd, &mut t) == 0).then_some(t)
        };
        if let Some(mut quiet) = saved {
            quiet.c_lflag &= !libc::ECHO;
            // SAFETY: as above; a failure leaves echo on, which is all.
            unsafe { libc::tcsetattr(fd, libc::TCSANOW, &quiet) };
        }
        Echo { fd, saved }
    }
}

impl Drop for Echo {
    fn drop(&mut self) {
        if let Some(saved) = self.saved {
            // SAFETY: restores what tcgetattr read from the same terminal.
            unsafe { libc::tcsetattr(self.fd, libc::TCSANOW, &saved) };
        }
    }
}

/// What this run trusts: the pins in `known_rooms`, `--fingerprint`, and
/// the passphrase (`--passphrase-file`, or asked for on the terminal when
/// a room wants one).
pub fn trust(args: &JoinArgs) -> anyhow::Result<Arc<Trust>> {
    let mut trust = Trust::default();
    if let Some(fp) = &args.fingerprint {
        trust.expected =
            Some(Expected::parse(fp).map_err(|e| usage(format!("--fingerprint: {e}")))?);
    }
    trust = trust.with_ask(Arc::new(|room: &str| {
        ask(&format!(
            "passphrase for room '{}': ",
            lanchat_client::display::inert(room)
        ))
    }));
    let passphrase = args.passphrase_file.as_deref().map(from_file).transpose()?;
    Ok(Arc::new(trust.with_passphrase(passphrase)))
}
