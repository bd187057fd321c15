//! Trust on first use, as ssh does it: the first time a room is reached
//! its server's fingerprint is pinned in `known_rooms`; afterwards a
//! different key at that address, or under that room's name, is refused
//! loudly, never re-pinned in silence.
//!
//! `known_rooms` (in the XDG data directory) is a text file people can
//! read and edit, one room per line:
//!
//! ```text
//! ADDRESS FINGERPRINT ROOM
//! 127.0.0.20:8081 sha256:… kitchen
//! ```
//!
//! A pin is looked up both by address and by room name: a spoofed
//! discovery answer that sends a client to another address, under the
//! name of a room it pinned, meets the pin all the same.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use lanchat_proto::pake::Passphrase;
use lanchat_proto::{Expected, Fingerprint};

use crate::error::{ClientError, KeyChange};

/// The file's name in the data directory.
pub const FILE_NAME: &str = "known_rooms";

/// The most lines read from `known_rooms` (a bigger file is an error).
const MAX_PINS: usize = 10_000;

const HEADER: &str = "# lanchat known rooms: servers whose keys this computer trusts.
# One per line: ADDRESS FINGERPRINT ROOM. A changed key is refused, never
# re-pinned; `lanchat forget ROOM-OR-ADDRESS` removes a line.
";

/// Asks the user for a room's passphrase (the room's name is given).
pub type AskPassphrase = Arc<dyn Fn(&str) -> Option<Passphrase> + Send + Sync>;

/// One pinned room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    /// Where it is in the file, from 1.
    pub line: usize,
    pub addr: String,
    pub fingerprint: Fingerprint,
    pub room: String,
}

/// How an announced key stands with the pins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// Pinned at this address.
    Pinned,
    /// The room's pinned key, at another address than pinned.
    Moved,
    /// Another key than the one pinned for this address or room name.
    Differs,
    /// Nothing pinned for this address or room name.
    New,
}

/// How a server's key stands with the pins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Never seen: pinned now.
    New,
    /// Pinned before, and the same.
    Known,
    /// The one named with `--fingerprint`.
    Given,
}

impl Verdict {
    /// For the status bar and `--plain`'s stderr.
    pub fn describe(self, fingerprint: &Fingerprint) -> String {
        match self {
            Verdict::New => format!(
                "encrypted; new room, fingerprint {} (pinned on first use)",
                fingerprint.spoken()
            ),
            Verdict::Known => "encrypted, key verified".to_owned(),
            Verdict::Given => "encrypted, key verified (--fingerprint)".to_owned(),
        }
    }

    /// The few words for a status bar.
    pub fn badge(self, fingerprint: &Fingerprint) -> String {
        match self {
            Verdict::New => format!("new room, fingerprint {}", fingerprint.spoken()),
            Verdict::Known | Verdict::Given => "encrypted, verified".to_owned(),
        }
    }
}

/// What a client trusts, and how it proves itself to a passphrase room.
/// Shared by every connection of the process (reconnects included).
pub struct Trust {
    /// `known_rooms`; `None` keeps pins for this run only.
    pub file: Option<PathBuf>,
    /// `--fingerprint`: only a server with this key is accepted.
    pub expected: Option<Expected>,
    /// The room passphrase, once known.
    passphrase: Mutex<Option<Passphrase>>,
    /// How to ask for it when a room wants one and none was given.
    ask: Mutex<Option<AskPassphrase>>,
    /// Pins made this run, in case the file could not be written.
    this_run: Mutex<Vec<Pin>>,
}

impl std::fmt::Debug for Trust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trust")
            .field("file", &self.file)
            .field("expected", &self.expected)
            .finish_non_exhaustive()
    }
}

impl Default for Trust {
    fn default() -> Self {
        Trust::new(crate::memory::data_dir().map(|d| d.join(FILE_NAME)))
    }
}

impl Trust {
    /// Pins kept in `file` (`None`: in memory, for this run).
    pub fn new(file: Option<PathBuf>) -> Trust {
        Trust {
            file,
            expected: None,
            passphrase: Mutex::new(None),
            ask: Mutex::new(None),
            this_run: Mutex::new(Vec::new()),
        }
    }

    /// Asks with `ask` when a room wants a passphrase and none was given.
    pub fn with_ask(self, ask: AskPassphrase) -> Trust {
        *self.ask.lock().unwrap_or_else(|p| p.into_inner()) = Some(ask);
        self
    }

    /// Stops asking (the terminal now belongs to the TUI, which asks in
    /// its own way).
    pub fn stop_asking(&self) {
        *self.ask.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// Sets the passphrase to prove to a passphrase room.
    pub fn with_passphrase(self, passphrase: Option<Passphrase>) -> Trust {
        *self.passphrase.lock().unwrap_or_else(|p| p.into_inner()) = passphrase;
        self
    }

    /// Replaces the passphrase (one typed in the TUI; `None` forgets a
    /// wrong one).
    pub fn set_passphrase(&self, passphrase: Option<Passphrase>) {
        *self.passphrase.lock().unwrap_or_else(|p| p.into_inner()) = passphrase;
    }

    /// The passphrase for `room`: given, or asked for (and then kept for
    /// reconnects).
    pub fn passphrase(&self, room: &str) -> Option<Passphrase> {
        let mut held = self.passphrase.lock().unwrap_or_else(|p| p.into_inner());
        if held.is_none() {
            let ask = self.ask.lock().unwrap_or_else(|p| p.into_inner()).clone();
            *held = ask.and_then(|ask| ask(room));
        }
        held.clone()
    }

    /// Judges the server at `addr`, of room `room`, that showed
    /// `fingerprint`; `announced` is what a discovery answer said it
    /// would be. Pins nothing: [`Trust::pin`] does, once the room has
    /// also proved its passphrase (if it has one), so a fake room that
    /// cannot is never pinned.
    pub fn check(
        &self,
        addr: &str,
        room: &str,
        fingerprint: Fingerprint,
        announced: Option<&str>,
    ) -> Result<Verdict, ClientError> {
        if let Some(expected) = &self.expected {
            if !fingerprint.matches(expected) {
                return Err(ClientError::NotTheGivenKey {
                    addr: addr.to_owned(),
                    given: expected.to_string(),
                    shown: fingerprint.to_string(),
                });
            }
        }
        if let Some(announced) = announced {
            if Fingerprint::parse(announced) != Some(fingerprint) {
                return Err(ClientError::Spoofed {
                    addr: addr.to_owned(),
                    room: room.to_owned(),
                    announced: announced.chars().take(80).collect(),
                    shown: fingerprint.to_string(),
                });
            }
        }
        let mut pins = self.pins()?;
        pins.extend(
            self.this_run
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .iter()
                .cloned(),
        );
        let relevant: Vec<&Pin> = pins
            .iter()
            .filter(|p| p.addr == addr || p.room.to_lowercase() == room.to_lowercase())
            .collect();
        let same = relevant.iter().any(|p| p.fingerprint == fingerprint);
        if let (false, Some(old)) = (same, relevant.first()) {
            if self.expected.is_none() {
                return Err(ClientError::KeyChanged(Box::new(KeyChange {
                    addr: addr.to_owned(),
                    room: room.to_owned(),
                    old: old.fingerprint.to_string(),
                    new: fingerprint.to_string(),
                    file: self.file_name(),
                    line: old.line,
                    pinned_room: old.room.clone(),
                    pinned_addr: old.addr.clone(),
                })));
            }
        }
        Ok(match (&self.expected, same) {
            (Some(_), _) => Verdict::Given,
            (None, true) => Verdict::Known,
            (None, false) => Verdict::New,
        })
    }

    /// How a room a discovery answer announced, with `fingerprint`,
    /// stands with the pins (for `lanchat discover`).
    pub fn standing(&self, addr: &str, room: &str, fingerprint: &Fingerprint) -> Standing {
        let Ok(pins) = self.pins() else {
            return Standing::New;
        };
        let relevant: Vec<&Pin> = pins
            .iter()
            .filter(|p| p.addr == addr || p.room.to_lowercase() == room.to_lowercase())
            .collect();
        let same_key = |p: &&&Pin| p.fingerprint == *fingerprint;
        if relevant.iter().filter(same_key).any(|p| p.addr == addr) {
            Standing::Pinned
        } else if relevant.iter().any(|p| p.fingerprint == *fingerprint) {
            Standing::Moved
        } else if relevant.is_empty() {
            Standing::New
        } else {
            Standing::Differs
        }
    }

    fn file_name(&self) -> String {
        match &self.file {
            Some(file) => file.display().to_string(),
            None => "(this run only)".to_owned(),
        }
    }

    /// The pins in the file (none if there is no file yet).
    pub fn pins(&self) -> Result<Vec<Pin>, ClientError> {
        let Some(file) = &self.file else {
            return Ok(Vec::new());
        };
        match fs::read_to_string(file) {
            Ok(text) => parse(&text).map_err(|(line, why)| ClientError::KnownRooms {
                file: file.display().to_string(),
                line,
                why,
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(ClientError::KnownRooms {
                file: file.display().to_string(),
                line: 0,
                why: e.to_string(),
            }),
        }
    }

    /// Pins `fingerprint` for `room` at `addr`, unless that is pinned
    /// already: in the file if it can be written, and for this run.
    pub fn pin(&self, addr: &str, room: &str, fingerprint: Fingerprint) {
        let known = |p: &Pin| p.fingerprint == fingerprint && p.addr == addr;
        let in_file = self.pins().is_ok_and(|pins| pins.iter().any(known));
        let this_run = self
            .this_run
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .any(known);
        if in_file || this_run {
            return;
        }
        let pin = Pin {
            line: 0,
            addr: addr.to_owned(),
            fingerprint,
            room: room.to_owned(),
        };
        if let Some(file) = &self.file {
            if let Err(error) = append(file, &pin) {
                tracing::warn!(file = %file.display(), %error, "could not pin the room's key");
            }
        }
        self.this_run
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(pin);
    }
}

/// Room names may hold anything; in the file they are kept on one line.
fn one_line(room: &str) -> String {
    room.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn append(file: &Path, pin: &Pin) -> io::Result<()> {
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
    }
    let fresh = !file.exists();
    let mut out = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(file)?;
    let mut text = String::new();
    if fresh {
        text.push_str(HEADER);
    }
    text.push_str(&format!(
        "{} {} {}\n",
        pin.addr,
        pin.fingerprint,
        one_line(&pin.room)
    ));
    out.write_all(text.as_bytes())
}

/// Reads `known_rooms`; a line that is not a pin is an error naming it.
pub fn parse(text: &str) -> Result<Vec<Pin>, (usize, String)> {
    let mut pins = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if pins.len() >= MAX_PINS {
            return Err((line_no, format!("more than {MAX_PINS} rooms")));
        }
        let mut parts = line.splitn(3, ' ');
        let (Some(addr), Some(fp)) = (parts.next(), parts.next()) else {
            return Err((line_no, "expected ADDRESS FINGERPRINT ROOM".to_owned()));
        };
        let Some(fingerprint) = Fingerprint::parse(fp) else {
            return Err((line_no, format!("'{fp}' is not a fingerprint")));
        };
        pins.push(Pin {
            line: line_no,
            addr: addr.to_owned(),
            fingerprint,
            room: parts.next().unwrap_or_default().trim().to_owned(),
        });
    }
    Ok(pins)
}

/// Removes the pins of `what` (a room's name or an address) from `file`;
/// returns the ones removed.
pub fn forget(file: &Path, what: &str) -> Result<Vec<Pin>, ClientError> {
    let error = |line, why: String| ClientError::KnownRooms {
        file: file.display().to_string(),
        line,
        why,
    };
    let text = match fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(error(0, e.to_string())),
    };
    let pins = parse(&text).map_err(|(line, why)| error(line, why))?;
    let gone: Vec<Pin> = pins
        .into_iter()
        .filter(|p| p.addr == what || p.room.to_lowercase() == what.to_lowercase())
        .collect();
    if gone.is_empty() {
        return Ok(gone);
    }
    let kept: String = text
        .lines()
        .enumerate()
        .filter(|(i, _)| !gone.iter().any(|p| p.line == i + 1))
        .map(|(_, l)| format!("{l}\n"))
        .collect();
    let tmp = file.with_extension("new");
    fs::write(&tmp, kept)
        .and_then(|()| fs::rename(&tmp, file))
        .map_err(|e| error(0, e.to_string()))?;
    Ok(gone)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fp(seed: &[u8]) -> Fingerprint {
        Fingerprint::of_certificate(seed)
    }

    fn temp_file(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("lanchat-trust-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir.join("lanchat").join(FILE_NAME)
    }

    #[test]
    fn the_file_format_round_trips_and_bad_lines_are_named() {
        let a = fp(b"a");
        let text = format!("{HEADER}\n127.0.0.5:8081 {a} the kitchen\n");
        let pins = parse(&text).unwrap();
        assert_eq!(pins.len(), 1);
        assert_eq!(pins[0].addr, "127.0.0.5:8081");
        assert_eq!(pins[0].room, "the kitchen");
        assert_eq!(pins[0].fingerprint, a);
        assert_eq!(pins[0].line, 5);
        let bad = parse("127.0.0.5:8081 sha256:nope lab\n").unwrap_err();
        assert_eq!(bad.0, 1);
        assert!(bad.1.contains("not a fingerprint"), "{}", bad.1);
        assert_eq!(parse("lonely\n").unwrap_err().0, 1);
    }

    #[test]
    fn first_use_pins_then_the_same_key_passes_and_another_is_refused() {
        let file = temp_file("tofu");
        let trust = Trust::new(Some(file.clone()));
        let (a, b) = (fp(b"a"), fp(b"b"));
        assert_eq!(
            trust.check("127.0.0.5:8081", "lab", a, None).unwrap(),
            Verdict::New
        );
        // Nothing is pinned until the connection is accepted.
        assert_eq!(
            trust.check("127.0.0.5:8081", "lab", a, None).unwrap(),
            Verdict::New
        );
        trust.pin("127.0.0.5:8081", "lab", a);
        assert_eq!(
            trust.check("127.0.0.5:8081", "lab", a, None).unwrap(),
            Verdict::Known
        );
        // A fresh process reads the pin from the file.
        let again = Trust::new(Some(file.clone()));
        assert_eq!(
            again.check("127.0.0.5:8081", "lab", a, None).unwrap(),
            Verdict::Known
        );
        let refused = again.check("127.0.0.5:8081", "lab", b, None).unwrap_err();
        let text = refused.to_string();
        assert!(
            text.contains(&a.to_string()) && text.contains(&b.to_string()),
            "{text}"
        );
        assert!(
            text.contains(&format!("{} line 4", file.display())),
            "{text}"
        );
        // The same room's name at another address (a spoofed answer) is
        // refused too; the same key at a new address (DHCP) is not.
        assert!(again.check("127.0.0.66:8081", "LAB", b, None).is_err());
        assert_eq!(
            again.check("127.0.0.9:8081", "lab", a, None).unwrap(),
            Verdict::Known
        );
        again.pin("127.0.0.9:8081", "lab", a);
        // What `lanchat discover` says of announced keys.
        assert_eq!(
            again.standing("127.0.0.5:8081", "lab", &a),
            Standing::Pinned
        );
        assert_eq!(again.standing("127.0.0.7:8081", "lab", &a), Standing::Moved);
        assert_eq!(
            again.standing("127.0.0.7:8081", "lab", &b),
            Standing::Differs
        );
        assert_eq!(again.standing("127.0.0.7:8081", "den", &b), Standing::New);
        // Nothing was re-pinned by the refusals.
        let pins = again.pins().unwrap();
        assert!(pins.iter().all(|p| p.fingerprint == a), "{pins:?}");
        // Forgetting removes the room's lines, and the new key is pinned.
        assert_eq!(forget(&file, "lab").unwrap().len(), 2);
        assert_eq!(again.pins().unwrap(), vec![]);
        let fresh = Trust::new(Some(file.clone()));
        assert_eq!(
            fresh.check("127.0.0.5:8081", "lab", b, None).unwrap(),
            Verdict::New
        );
        let _ = fs::remove_dir_all(file.parent().unwrap().parent().unwrap());
    }

    #[test]
    fn a_given_fingerprint_and_a_discovery_answer_must_match_the_key() {
        let (a, b) = (fp(b"a"), fp(b"b"));
        let mut trust = Trust::new(None);
        trust.expected = Some(Expected::parse(&a.spoken()).unwrap());
        assert_eq!(trust.check("h:1", "lab", a, None).unwrap(), Verdict::Given);
        assert!(matches!(
            trust.check("h:1", "lab", b, None),
            Err(ClientError::NotTheGivenKey { .. })
        ));
        let trust = Trust::new(None);
        assert!(matches!(
            trust.check("h:1", "lab", a, Some(&b.to_string())),
            Err(ClientError::Spoofed { .. })
        ));
        assert_eq!(
            trust.check("h:1", "lab", a, Some(&a.to_string())).unwrap(),
            Verdict::New
        );
    }
}
