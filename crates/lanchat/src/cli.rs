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
