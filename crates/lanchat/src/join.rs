//! `lanchat` / `lanchat join`: connect to a room and chat.

use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;

use anyhow::bail;
use lanchat_client::plain::{self, PlainOptions};
use lanchat_client::Connection;
use tokio::sync::mpsc;

use crate::cli::JoinArgs;

pub async fn run(args: JoinArgs) -> anyhow::Result<ExitCode> {
    let Some(server) = args.server else {
        bail!(
            "no server given: use --server HOST[:PORT] \
             (finding the room automatically is not built yet)"
        );
    };
    let conn = Connection::connect(&server).await?;
    eprintln!(
        "lanchat: connected to room '{}' at {} (server {})",
        lanchat_client::display::inert(&conn.greeting.room),
        conn.addr,
        lanchat_client::display::inert(&conn.greeting.server),
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
        stdin_lines(),
        &mut stdout.lock(),
        &mut std::io::stderr(),
    )
    .await?;
    Ok(ExitCode::SUCCESS)
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
