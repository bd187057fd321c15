//! `lanchat` / `lanchat join`: find the room (or take `--server`), connect
//! and chat.

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use lanchat_client::display::inert;
use lanchat_client::plain::{self, PlainOptions};
use lanchat_client::Connection;
use lanchat_discovery::{discover, Found};
use tokio::sync::mpsc;

use crate::cli::JoinArgs;
use crate::{discover as cli_discover, memory};

/// After the first room is found, wait this long for others.
const SETTLE: Duration = Duration::from_millis(400);

/// How long the remembered server gets to answer before we search instead.
const LAST_SERVER_TIMEOUT: Duration = Duration::from_millis(700);

pub async fn run(args: JoinArgs) -> anyhow::Result<ExitCode> {
    let mut input = stdin_lines();
    let conn = match &args.server {
        Some(server) => Connection::connect(server).await?,
        None => find_room(&args, &mut input).await?,
    };
    memory::remember(&conn.addr);
    eprintln!(
        "lanchat: connected to room '{}' at {} (server {})",
        inert(&conn.greeting.room),
        conn.addr,
        inert(&conn.greeting.server),
    );
    let stdout = std::io::stdout();
    let options = PlainOptions {
        name: args.name,
        color: stdout.is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    };
    // Until the TUI lands, the interactive client is the plain one too.
    let _ = args.plain;
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

/// Finds the room to join: the last server if it still answers (unless a
/// room or a way of searching was asked for), otherwise whatever discovery
/// finds, asking the user to choose when there are several.
async fn find_room(
    args: &JoinArgs,
    input: &mut mpsc::Receiver<String>,
) -> anyhow::Result<Connection> {
    let searching_differently = args.room.is_some()
        || !args.discovery.scan_range.is_empty()
        || !args.discovery.via.is_empty();
    if !searching_differently {
        if let Some(last) = memory::last_server() {
            if let Ok(conn) = Connection::connect_addr_within(&last, LAST_SERVER_TIMEOUT).await {
                eprintln!(
                    "lanchat: rejoining the last room you used (--room NAME to pick another)"
                );
                return Ok(conn);
            }
        }
    }
    eprintln!("lanchat: looking for rooms on the local network...");
    let options = cli_discover::options(&args.discovery, Some(SETTLE));
    let report = discover(&options, |_| {}).await;
    let mut rooms: Vec<Found> = report.found.clone();
    if let Some(want) = &args.room {
        rooms.retain(|f| {
            f.room.eq_ignore_ascii_case(want) || f.room.to_lowercase() == want.to_lowercase()
        });
        if rooms.is_empty() && !report.found.is_empty() {
            let names: Vec<String> = report
                .found
                .iter()
                .map(|f| inert(&f.room).into_owned())
                .collect();
            bail!(
                "no room named '{}' was found; found: {}",
                inert(want),
                names.join(", ")
            );
        }
    }
    let chosen = match rooms.len() {
        0 => bail!("{}", report.diagnosis(args.discovery.port)),
        1 => rooms.remove(0),
        _ => choose(rooms, input).await?,
    };
    Connection::connect_addr(&chosen.addr.to_string())
        .await
        .with_context(|| format!("joining room '{}'", inert(&chosen.room)))
}

/// Lists several rooms and reads the user's choice, a number, from input.
async fn choose(rooms: Vec<Found>, input: &mut mpsc::Receiver<String>) -> anyhow::Result<Found> {
    let mut err = std::io::stderr();
    let _ = writeln!(err, "lanchat: found {} rooms:", rooms.len());
    for (i, f) in rooms.iter().enumerate() {
        let _ = writeln!(err, "  {}) {}", i + 1, cli_discover::line(f));
    }
    loop {
        let _ = write!(err, "room number (1-{}): ", rooms.len());
        let _ = err.flush();
        let Some(answer) = input.recv().await else {
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
