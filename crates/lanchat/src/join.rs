//! `lanchat` / `lanchat join`: find the room (or take `--server`), connect
//! and chat, in the terminal UI or, with `--plain` or without a terminal,
//! line by line.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use lanchat_client::chat_log::ChatLog;
use lanchat_client::connection::CONNECT_TIMEOUT;
use lanchat_client::display::inert;
use lanchat_client::plain::{self, PlainOptions};
use lanchat_client::tui::{self, Start, TuiOptions};
use lanchat_client::{memory, ClientError, Connection, Trust, Verdict};
use lanchat_discovery::{discover, Found};
use tokio::sync::mpsc;

use crate::cli::{DiscoverArgs, JoinArgs};
use crate::discover as cli_discover;

/// After the first room is found, wait this long for others.
const SETTLE: Duration = Duration::from_millis(400);

/// How long the remembered server gets to answer before we search instead.
const LAST_SERVER_TIMEOUT: Duration = Duration::from_millis(700);

/// Whether to open the terminal UI: not with `--plain`, and only when both
/// ends are a terminal.
pub fn wants_tui(args: &JoinArgs) -> bool {
    !args.plain && std::io::stdin().is_terminal() && std::io::stdout().is_terminal()
}

pub async fn run(mut args: JoinArgs, tui: bool) -> anyhow::Result<ExitCode> {
    if let Some(server) = &args.server {
        args.server = Some(crate::usage::server_address(server, args.discovery.port)?);
    }
    if let Some(format) = &args.timestamps {
        lanchat_client::clock::check_format(format)
            .map_err(|why| crate::usage::usage(format!("--timestamps: {why}")))?;
    }
    // Opened first, so a log that cannot be written is said before anything
    // else happens.
    let log = args
        .log
        .as_deref()
        .map(|path| {
            ChatLog::open(path)
                .with_context(|| format!("could not open the log {}", path.display()))
        })
        .transpose()?;
    let trust = crate::secrets::trust(&args)?;
    if tui {
        return run_tui(args, log, trust).await;
    }
    // Nothing reads stdin until the room is joined: a room with a
    // passphrase asks for it on the terminal meanwhile, and a reader
    // already waiting there would take the passphrase as a chat line.
    let conn = match &args.server {
        Some(server) => Connection::connect(server, &trust).await?,
        None => match remembered(&args, &trust).await? {
            Some(conn) => conn,
            None => {
                eprintln!("lanchat: looking for rooms on the local network...");
                let rooms = search(args.discovery.clone(), args.room.clone())
                    .await
                    .map_err(anyhow::Error::msg)?;
                let chosen = if rooms.len() == 1 {
                    rooms.into_iter().next().context("no room")?
                } else {
                    choose(rooms, &trust).await?
                };
                let addr = chosen.addr.to_string();
                let announced = chosen.fingerprint.as_deref();
                Connection::connect_addr_within(&addr, CONNECT_TIMEOUT, &trust, announced)
                    .await
                    .with_context(|| format!("joining room '{}'", inert(&chosen.room)))?
            }
        },
    };
    let input = stdin_lines();
    memory::remember(&conn.addr, &conn.greeting);
    if conn.verdict == Verdict::New {
        eprintln!(
            "lanchat: new room, fingerprint {} (say it aloud: {}); pinned in {}",
            conn.fingerprint,
            conn.fingerprint.spoken(),
            known_rooms_name(&conn.trust),
        );
    }
    eprintln!(
        "lanchat: connected to room '{}' at {} (server {}), {}",
        inert(&conn.greeting.room),
        conn.addr,
        inert(&conn.greeting.server),
        if conn.verdict == Verdict::New {
            "encrypted".to_owned()
        } else {
            conn.verdict.describe(&conn.fingerprint)
        },
    );
    let stdout = std::io::stdout();
    let options = PlainOptions {
        name: args.name,
        color: stdout.is_terminal() && std::env::var_os("NO_COLOR").is_none(),
        log,
        timestamps: args.timestamps,
    };
    plain::run(
        conn,
        options,
        input,
        &mut stdout.lock(),
        &mut std::io::stderr(),
    )
    .await?;
    Ok(ExitCode::SUCCESS)
}

async fn run_tui(
    args: JoinArgs,
    log: Option<ChatLog>,
    trust: Arc<Trust>,
) -> anyhow::Result<ExitCode> {
    let start = match &args.server {
        Some(server) => Start::Connected(Box::new(Connection::connect(server, &trust).await?)),
        None => match remembered(&args, &trust).await? {
            Some(conn) => Start::Connected(Box::new(conn)),
            None => {
                let (discovery, room) = (args.discovery.clone(), args.room.clone());
                let listing = trust.clone();
                Start::Find(Box::pin(async move {
                    let rooms = search(discovery, room).await?;
                    Ok(rooms
                        .iter()
                        .map(|f| {
                            (
                                cli_discover::line(f, &listing),
                                f.addr.to_string(),
                                f.fingerprint.clone(),
                            )
                        })
                        .collect())
                }))
            }
        },
    };
    tui::run(
        start,
        TuiOptions {
            name: args.name,
            log,
            timestamps: args.timestamps,
            trust: {
                // From here the terminal is the TUI's: it asks in its own
                // input line.
                trust.stop_asking();
                trust
            },
        },
    )
    .await?;
    Ok(ExitCode::SUCCESS)
}

fn known_rooms_name(trust: &Trust) -> String {
    match &trust.file {
        Some(file) => file.display().to_string(),
        None => "memory (no data directory)".to_owned(),
    }
}

/// `lanchat forget ROOM`: removes the room's pins from `known_rooms`.
pub fn forget(room: &str) -> anyhow::Result<ExitCode> {
    let trust = Trust::default();
    let Some(file) = &trust.file else {
        bail!("no data directory (neither XDG_DATA_HOME nor HOME), so nothing is pinned");
    };
    let gone = lanchat_client::trust::forget(file, room)?;
    if gone.is_empty() {
        eprintln!(
            "lanchat: nothing pinned for '{}' in {}",
            inert(room),
            file.display()
        );
        return Ok(ExitCode::FAILURE);
    }
    for pin in gone {
        eprintln!(
            "lanchat: forgot {} {} ('{}'), line {} of {}",
            pin.addr,
            pin.fingerprint,
            inert(&pin.room),
            pin.line,
            file.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Whether an error is about trust (a key, a pin, a passphrase): those
/// are said, never passed over by searching elsewhere.
fn is_about_trust(error: &ClientError) -> bool {
    matches!(
        error,
        ClientError::KeyChanged(_)
            | ClientError::NotTheGivenKey { .. }
            | ClientError::Spoofed { .. }
            | ClientError::KnownRooms { .. }
            | ClientError::PassphraseNeeded { .. }
            | ClientError::WrongPassphrase { .. }
            | ClientError::FakeRoom { .. }
    )
}

/// The last server joined, if it still answers and nothing else was asked
/// for (a room by name, or a particular way of searching).
async fn remembered(
    args: &JoinArgs,
    trust: &Arc<Trust>,
) -> Result<Option<Connection>, ClientError> {
    let searching_differently = args.room.is_some()
        || !args.discovery.scan_range.is_empty()
        || !args.discovery.via.is_empty();
    if searching_differently {
        return Ok(None);
    }
    let Some(last) = memory::last_room() else {
        return Ok(None);
    };
    let conn =
        match Connection::connect_addr_within(&last.addr, LAST_SERVER_TIMEOUT, trust, None).await {
            Ok(conn) => conn,
            Err(e) if is_about_trust(&e) => return Err(e),
            Err(_) => return Ok(None),
        };
    if !last.is_same(&conn.greeting) {
        // Another room (or an impostor) at that address now: search, so
        // the user chooses, rather than join it blindly.
        eprintln!(
            "lanchat: {} is not the room you used last time any more; looking for rooms",
            last.addr
        );
        return Ok(None);
    }
    eprintln!("lanchat: rejoining the last room you used (--room NAME to pick another)");
    Ok(Some(conn))
}

/// Finds rooms, keeping only the one named `room` if given. An empty
/// result is an error that explains what was tried.
async fn search(args: DiscoverArgs, room: Option<String>) -> Result<Vec<Found>, String> {
    let options = cli_discover::options(&args, Some(SETTLE));
    let report = discover(&options, |_| {}).await;
    let mut rooms = report.found.clone();
    if let Some(want) = &room {
        let want = want.to_lowercase();
        rooms.retain(|f| f.room.to_lowercase() == want);
        if rooms.is_empty() && !report.found.is_empty() {
            let names: Vec<String> = report
                .found
                .iter()
                .map(|f| inert(&f.room).into_owned())
                .collect();
            return Err(format!(
                "no room named '{}' was found; found: {}",
                inert(&want),
                names.join(", ")
            ));
        }
    }
    if rooms.is_empty() {
        return Err(report.diagnosis(args.port()));
    }
    Ok(rooms)
}

/// Lists several rooms and reads the user's choice, a number, from input.
async fn choose(rooms: Vec<Found>, trust: &Trust) -> anyhow::Result<Found> {
    let mut err = std::io::stderr();
    let _ = writeln!(err, "lanchat: found {} rooms:", rooms.len());
    for (i, f) in rooms.iter().enumerate() {
        let _ = writeln!(err, "  {}) {}", i + 1, cli_discover::line(f, trust));
    }
    loop {
        let _ = write!(err, "room number (1-{}): ", rooms.len());
        let _ = err.flush();
        // One line, read here and not by the chat's reader, which starts
        // only once the room is joined. Lines after it stay in stdin's
        // buffer for the chat.
        let answer = tokio::task::spawn_blocking(|| {
            let mut line = String::new();
            match std::io::stdin().lock().read_line(&mut line) {
                Ok(0) | Err(_) => None,
                Ok(_) => Some(line),
            }
        })
        .await
        .ok()
        .flatten();
        let Some(answer) = answer else {
            bail!("no room was chosen");
        };
        match answer.trim().parse::<usize>() {
            Ok(n) if (1..=rooms.len()).contains(&n) => return Ok(rooms[n - 1].clone()),
            _ => {
                let _ = writeln!(
                    err,
                    "lanchat: '{}' is not one of the numbers above",
                    inert(answer.trim())
                );
            }
        }
    }
}

/// Reads stdin line by line on a dedicated thread. A blocking read on stdin
/// cannot be cancelled, so this thread is not joined: it ends at end of
/// input, when the receiver is dropped, or with the process.
fn stdin_lines() -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel(64);
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin().lock();
        let mut line = Vec::new();
        loop {
            line.clear();
            match stdin.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            let text = String::from_utf8_lossy(&line);
            let text = text.trim_end_matches(['\n', '\r']).to_owned();
            if tx.blocking_send(text).is_err() {
                break;
            }
        }
    });
    rx
}
