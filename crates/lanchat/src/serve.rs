//! `lanchat serve`: bind, then run the server until Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::{bail, Context};
use lanchat_server::Config;
use tokio::net::TcpListener;

use crate::cli::ServeArgs;

/// The longest room name, in characters.
const MAX_ROOM_CHARS: usize = 64;

pub async fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    let room = args.room.unwrap_or_else(|| host.clone());
    check_room_name(&room)?;
    let addr = SocketAddr::new(args.bind, args.port);
    let listener = match TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => bail!(
            "port {} on {} is already in use (is another lanchat server running?); \
             stop it or choose another port with --port",
            args.port,
            args.bind
        ),
        Err(e) => return Err(e).with_context(|| format!("could not listen on {addr}")),
    };
    let local = listener.local_addr().context("reading the bound address")?;
    eprintln!("lanchat: serving room '{room}' on {local} (Ctrl-C to stop)");
    lanchat_server::run(listener, Config::new(room, host), shutdown_signal()).await;
    eprintln!("lanchat: server stopped");
    Ok(ExitCode::SUCCESS)
}

fn check_room_name(room: &str) -> anyhow::Result<()> {
    if room.trim().is_empty() {
        bail!("the room name is empty");
    }
    if room.chars().count() > MAX_ROOM_CHARS {
        bail!("the room name is longer than {MAX_ROOM_CHARS} characters");
    }
    if room.chars().any(char::is_control) {
        bail!("the room name contains control characters");
    }
    Ok(())
}

/// Completes on Ctrl-C (SIGINT) or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::warn!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
