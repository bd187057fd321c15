//! The command line: `lanchat [join] ...` and `lanchat serve ...`.

use std::net::IpAddr;

use clap::{Args, Parser, Subcommand};
use lanchat_proto::limits::DEFAULT_PORT;

/// A chatroom for everyone on the same local network.
///
/// Run `lanchat serve` on one machine; everyone else runs `lanchat`.
#[derive(Debug, Parser)]
#[command(name = "lanchat", version, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// With no subcommand, `lanchat` joins a room.
    #[command(flatten)]
    pub join: JoinArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the room's server.
    Serve(ServeArgs),
    /// Join a room (what bare `lanchat` does).
    Join(JoinArgs),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The address to listen on.
    #[arg(long, default_value = "0.0.0.0", value_name = "ADDR")]
    pub bind: IpAddr,
    /// The TCP port to listen on.
    #[arg(long, short, default_value_t = DEFAULT_PORT, value_name = "PORT")]
    pub port: u16,
    /// The room's name [default: this machine's host name].
    #[arg(long, value_name = "NAME")]
    pub room: Option<String>,
    #[command(flatten)]
    pub limits: LimitArgs,
}

/// Limits that protect the room from floods, slow readers and bad input.
#[derive(Debug, Args)]
#[command(next_help_heading = "Limits")]
pub struct LimitArgs {
    /// Longest chat message, in bytes (at most 4096); longer ones are refused
    /// with an error.
    #[arg(long, default_value_t = 4096, value_name = "BYTES")]
    pub max_message_bytes: usize,
    /// Longest protocol frame, in bytes; a client sending more is disconnected.
    #[arg(long, default_value_t = 16384, value_name = "BYTES")]
    pub max_frame_bytes: usize,
    /// Seconds a new connection has to choose a name.
    #[arg(long, default_value_t = 10.0, value_name = "SECS")]
    pub register_timeout: f64,
    /// Seconds of silence before a client is pinged.
    #[arg(long, default_value_t = 10.0, value_name = "SECS")]
    pub ping_interval: f64,
    /// Seconds of silence before a client is dropped as gone (a wifi drop).
    #[arg(long, default_value_t = 25.0, value_name = "SECS")]
    pub ping_timeout: f64,
    /// Messages per second each client may send on average; 0 turns the
    /// limit off. Over it, the server stops reading from that client.
    #[arg(long, default_value_t = 5.0, value_name = "MSGS_PER_SEC")]
    pub rate_limit: f64,
    /// Messages a client may send at once before the rate limit applies.
    #[arg(long, default_value_t = 20, value_name = "MSGS")]
    pub rate_burst: u32,
    /// Seconds a client may stay over the rate limit before it is
    /// disconnected as a flooder.
    #[arg(long, default_value_t = 15.0, value_name = "SECS")]
    pub flood_kick_after: f64,
    /// Most connections at once.
    #[arg(long, default_value_t = 1000, value_name = "N")]
    pub max_clients: usize,
    /// Most connections at once from one address (loopback included).
    #[arg(long, default_value_t = 32, value_name = "N")]
    pub max_per_ip: usize,
    /// Bytes queued for one client before it counts as too slow and is
    /// dropped.
    #[arg(long, default_value_t = 262144, value_name = "BYTES")]
    pub max_queue_bytes: usize,
}

#[derive(Debug, Args)]
pub struct JoinArgs {
    /// The server to join, as HOST or HOST:PORT (port 8081 if omitted).
    #[arg(long, short, value_name = "HOST[:PORT]")]
    pub server: Option<String>,
    /// The name to use in the room; asked for if omitted or taken.
    #[arg(long, short, value_name = "NAME")]
    pub name: Option<String>,
    /// Line-based mode for scripts, pipes and screen readers: one event per
    /// line on stdout, diagnostics on stderr.
    #[arg(long)]
    pub plain: bool,
}
