//! `lanchat-bench`: a load generator that measures a chat server on
//! loopback, speaking lanchat's protocol or plain IRC, so that lanchat and
//! the IRC servers people would run instead are measured by one tool.
//!
//! `-c` clients join; `-s` of them send `-m` messages each. Every message
//! carries its sender, a sequence number and the send time, so each
//! receiver can count what it got and measure latency. `-w` keeps each
//! sender at most W messages ahead of its slowest receiver, so queues stay
//! bounded and latency is not just queueing. Every run stops by itself
//! (`--max-secs`). The last line on stdout is one JSON object.

mod proc_stats;
mod protocol;
mod report;
mod run;
mod ws;

use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, ValueEnum};

/// Load generator for lanchat and IRC servers (loopback only).
#[derive(Debug, Clone, Parser)]
#[command(name = "lanchat-bench", version)]
pub struct Args {
    /// The server, as HOST:PORT; must be a loopback address.
    #[arg(long, default_value = "127.0.0.1:8081")]
    pub server: SocketAddr,
    /// The protocol to speak.
    #[arg(long, value_enum, default_value = "lanchat")]
    pub proto: Proto,
    /// Clients that join the room.
    #[arg(short = 'c', long, default_value_t = 100)]
    pub clients: usize,
    /// How many of them send.
    #[arg(short = 's', long, default_value_t = 10)]
    pub senders: usize,
    /// Messages each sender sends.
    #[arg(short = 'm', long, default_value_t = 1000)]
    pub messages: u64,
    /// Total messages per second across all senders; 0 = as fast as possible.
    #[arg(short = 'r', long, default_value_t = 0.0)]
    pub rate: f64,
    /// Each sender stays at most this many messages ahead of its slowest
    /// receiver; 0 = no window.
    #[arg(short = 'w', long, default_value_t = 100)]
    pub window: u64,
    /// Message size in bytes (at least 40).
    #[arg(long, default_value_t = 64)]
    pub size: usize,
    /// The server's PID, to read its CPU time and memory from /proc.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Hard limit on the whole run, in seconds.
    #[arg(long, default_value_t = 120.0)]
    pub max_secs: f64,
    /// Connections opened at once while joining.
    #[arg(long, default_value_t = 200)]
    pub connect_batch: usize,
    /// lanchat only: ask for event ids and times (the `stamps`
    /// capability), as the lanchat client does. Without it the server
    /// sends revision 1 frames, like an IRC server without `server-time`.
    #[arg(long)]
    pub stamps: bool,
    /// Speak TLS (any certificate is taken: this measures the server's
    /// encryption, not its identity).
    #[arg(long)]
    pub tls: bool,
    /// The IRC channel to use.
    #[arg(long, default_value = "#lanchat")]
    pub channel: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Proto {
    Lanchat,
    Irc,
    /// lanchat's protocol over the web door's WebSocket (`--server` is the
    /// web port).
    Ws,
}

/// The protocol of the lines exchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lines {
    Lanchat,
    Irc,
}

impl Proto {
    /// The web door carries lanchat's lines.
    pub fn lines(self) -> Lines {
        match self {
            Proto::Lanchat | Proto::Ws => Lines::Lanchat,
            Proto::Irc => Lines::Irc,
        }
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("lanchat-bench: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        args.server.ip().is_loopback(),
        "the server must be on loopback (got {}): load tests never leave this machine",
        args.server
    );
    anyhow::ensure!(args.senders <= args.clients, "-s must not exceed -c");
    anyhow::ensure!(args.clients >= 1, "-c must be at least 1");
    anyhow::ensure!(args.size >= 40, "--size must be at least 40");
    anyhow::ensure!(args.max_secs > 0.0, "--max-secs must be positive");
    // One descriptor per client, plus a few of our own.
    let files = rlimit::increase_nofile_limit(u64::MAX).context("raising the open-file limit")?;
    anyhow::ensure!(
        files >= args.clients as u64 + 32,
        "-c {} needs about {} open files, but the limit is {files}: raise the hard limit (ulimit -Hn)",
        args.clients,
        args.clients + 32
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(run::run(&args))?;
    report.print(&args);
    Ok(if report.lost == 0 && !report.timed_out {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
