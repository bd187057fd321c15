//! The command line: `lanchat [join] ...` and `lanchat serve ...`.

use std::net::IpAddr;

use clap::{Args, Parser, Subcommand, ValueEnum};
use ipnet::{IpNet, Ipv4Net};
use lanchat_proto::limits::DEFAULT_PORT;
use lanchat_server::Config;

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
    /// List the rooms on the local network.
    Discover(DiscoverCmd),
    /// Forget a room's pinned key (after its host replaced it), by the
    /// room's name or its ADDRESS:PORT as `known_rooms` lists it.
    Forget {
        /// The room's name, or its address as in known_rooms.
        room: String,
    },
    /// Print shell completions: `lanchat completions bash > ~/.local/share/bash-completion/completions/lanchat`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff): `lanchat man > ~/.local/share/man/man1/lanchat.1`.
    Man,
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
    /// Also admit peers from this range (repeatable). By default only this
    /// machine's own subnets and loopback may join.
    #[arg(long, value_name = "CIDR")]
    pub allow: Vec<IpNet>,
    /// Admit peers from any network.
    #[arg(long)]
    pub allow_any: bool,
    /// The room's topic, shown to everyone who joins.
    #[arg(long, value_name = "TEXT")]
    pub topic: Option<String>,
    /// Only this command line sets the topic: `/topic TEXT` is refused.
    #[arg(long)]
    pub topic_locked: bool,
    /// How many of the last messages newcomers are shown as earlier
    /// conversation (0 turns history off).
    #[arg(long, default_value_t = defaults().history, value_name = "N")]
    pub history: usize,
    /// Where history is stored, so it survives a restart: an SQLite file,
    /// or :memory: to keep it in memory only [default: the XDG data
    /// directory, lanchat/history/ROOM-PORT.sqlite].
    #[arg(long, value_name = "PATH")]
    pub db: Option<String>,
    /// Seconds the name of somebody whose connection dropped is kept for
    /// them to resume (0: no resuming; the departure is announced at once).
    #[arg(long, default_value_t = defaults().resume_grace.as_secs_f64(), value_name = "SECS")]
    pub resume_grace: f64,
    /// `/whois` also shows the address each member connects from (never by
    /// default).
    #[arg(long)]
    pub whois_shows_address: bool,
    /// Days stored history is kept.
    #[arg(long, default_value_t = 7, value_name = "DAYS")]
    pub keep: u32,
    /// The most messages stored (the newest are kept).
    #[arg(long, default_value_t = 100_000, value_name = "N")]
    pub keep_rows: u64,
    /// Also open an IRC door on this port (6667 is IRC's usual one), at the
    /// --bind address or at ADDR: irssi, weechat and other IRC clients join
    /// the room as the channel #ROOM.
    #[arg(long, value_name = "[ADDR:]PORT")]
    pub irc: Option<String>,
    /// Also open an IRC door over TLS on this port (6697 is IRC's usual
    /// one), with the server's identity, at the --bind address or at ADDR.
    #[arg(long, value_name = "[ADDR:]PORT")]
    pub irc_tls: Option<String>,
    /// The server's identity (TLS key and certificate, PEM), made on first
    /// start [default: the XDG data directory, lanchat/identity.pem].
    #[arg(long, value_name = "PATH")]
    pub identity: Option<std::path::PathBuf>,
    /// Also admit clients that do not encrypt (lanchat protocol v1, or nc
    /// by hand). Everything they send and receive can be read on the LAN.
    #[arg(long)]
    pub allow_plaintext: bool,
    /// Joining takes the passphrase in the first line of this file (checked
    /// with a PAKE: it never crosses the network).
    #[arg(long, value_name = "PATH", conflicts_with = "ask_passphrase")]
    pub passphrase_file: Option<std::path::PathBuf>,
    /// Joining takes a passphrase, typed now at the terminal.
    #[arg(long)]
    pub ask_passphrase: bool,
    /// The port of the web page, where phones and browsers join
    /// [default: the room's port + 1].
    #[arg(long, value_name = "PORT", conflicts_with = "no_web")]
    pub web_port: Option<u16>,
    /// Do not serve the web page.
    #[arg(long)]
    pub no_web: bool,
    /// Do not answer discovery queries or advertise over mDNS.
    #[arg(long)]
    pub no_announce: bool,
    /// Worker threads; 0 means one per CPU core.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub threads: usize,
    #[command(flatten)]
    pub limits: LimitArgs,
}

/// The server's defaults, the one source of the limits' default values.
fn defaults() -> Config {
    Config::new("", "")
}

/// Limits that protect the room from floods, slow readers and bad input.
#[derive(Debug, Args)]
#[command(next_help_heading = "Limits")]
pub struct LimitArgs {
    /// Longest chat message, in bytes (at most the default); longer ones are refused
    /// with an error.
    #[arg(long, default_value_t = defaults().max_text_len, value_name = "BYTES")]
    pub max_message_bytes: usize,
    /// Longest protocol frame, in bytes; a client sending more is disconnected.
    #[arg(long, default_value_t = defaults().max_frame_len, value_name = "BYTES")]
    pub max_frame_bytes: usize,
    /// Seconds a new connection has to choose a name.
    #[arg(long, default_value_t = defaults().register_timeout.as_secs_f64(), value_name = "SECS")]
    pub register_timeout: f64,
    /// Seconds of silence before a client is pinged.
    #[arg(long, default_value_t = defaults().ping_interval.as_secs_f64(), value_name = "SECS")]
    pub ping_interval: f64,
    /// Seconds of silence before a client is dropped as gone (a wifi drop).
    #[arg(long, default_value_t = defaults().ping_timeout.as_secs_f64(), value_name = "SECS")]
    pub ping_timeout: f64,
    /// Messages per second each client may send on average; 0 turns the
    /// limit off. Over it, the server stops reading from that client.
    #[arg(long, default_value_t = defaults().rate_limit, value_name = "MSGS_PER_SEC")]
    pub rate_limit: f64,
    /// Messages a client may send at once before the rate limit applies.
    #[arg(long, default_value_t = defaults().rate_burst, value_name = "MSGS")]
    pub rate_burst: u32,
    /// Seconds a client may stay over the rate limit before it is
    /// disconnected as a flooder.
    #[arg(long, default_value_t = defaults().flood_kick_after.as_secs_f64(), value_name = "SECS")]
    pub flood_kick_after: f64,
    /// Most connections at once.
    #[arg(long, default_value_t = defaults().max_clients, value_name = "N")]
    pub max_clients: usize,
    /// Most connections at once from one address (an IPv6 /64; loopback
    /// included).
    #[arg(long, default_value_t = defaults().max_per_ip, value_name = "N")]
    pub max_per_ip: usize,
    /// Connections one address may open a minute, also the burst; 0 turns
    /// the limit off.
    #[arg(long, default_value_t = defaults().max_connects_per_minute, value_name = "N")]
    pub max_connects_per_minute: u32,
    /// Bytes queued for one client before the room holds the senders back
    /// while that client catches up; a client that stops reading is
    /// dropped at four times this, or when a write has been stuck for
    /// 10 s.
    #[arg(long, default_value_t = defaults().max_queue_bytes, value_name = "BYTES")]
    pub max_queue_bytes: usize,
}

#[derive(Debug, Args)]
pub struct JoinArgs {
    /// The server to join, as HOST or HOST:PORT (port 8081 if omitted).
    /// Without it, the room is found on the LAN.
    #[arg(long, short, value_name = "HOST[:PORT]")]
    pub server: Option<String>,
    /// Join the discovered room with this name.
    #[arg(long, value_name = "NAME")]
    pub room: Option<String>,
    /// The name to use in the room; asked for if omitted or taken.
    #[arg(long, short, value_name = "NAME")]
    pub name: Option<String>,
    /// Line-based mode for scripts, pipes and screen readers: one event per
    /// line on stdout, diagnostics on stderr.
    #[arg(long)]
    pub plain: bool,
    /// Append the conversation to FILE as plain text, one line per event
    /// with the server's time. Off by default.
    #[arg(long, value_name = "FILE")]
    pub log: Option<std::path::PathBuf>,
    /// Only join a server with this key (the full fingerprint, or the 20
    /// letters read aloud), and pin it.
    #[arg(long, value_name = "FP")]
    pub fingerprint: Option<String>,
    /// The room's passphrase, in the first line of this file (for scripts;
    /// otherwise it is asked for when the room has one).
    #[arg(long, value_name = "PATH")]
    pub passphrase_file: Option<std::path::PathBuf>,
    /// How times are shown, as a strftime format such as %H:%M:%S, in the
    /// local time zone [TUI default: %H:%M]; with --plain, each line then
    /// starts with its time.
    #[arg(long, value_name = "FORMAT")]
    pub timestamps: Option<String>,
    #[command(flatten)]
    pub discovery: DiscoverArgs,
}

/// `lanchat discover`: the search options, and when to stop.
#[derive(Debug, Args)]
pub struct DiscoverCmd {
    /// Stop at the first room found. Without it, discovery stops a second
    /// after the first room (every other room on the LAN answers within
    /// that), when every layer is done, or at the timeout.
    #[arg(long)]
    pub first: bool,
    #[command(flatten)]
    pub search: DiscoverArgs,
}

/// How to look for rooms.
#[derive(Debug, Args, Clone)]
#[command(next_help_heading = "Discovery")]
pub struct DiscoverArgs {
    /// The room port to look for, or to join on `--server` when that
    /// names no port [default: 8081].
    #[arg(long, value_name = "PORT", value_parser = clap::value_parser!(u16).range(1..))]
    pub port: Option<u16>,
    /// Search only this range (repeatable): it is scanned instead of the
    /// local subnets, and UDP and mDNS queries go out only on interfaces
    /// whose subnet lies inside it. Loopback is searched only when named,
    /// e.g. 127.0.0.0/24.
    #[arg(long, value_name = "CIDR")]
    pub scan_range: Vec<Ipv4Net>,
    /// Use only this discovery layer (repeatable) [default: all].
    #[arg(long, value_enum, value_name = "LAYER")]
    pub via: Vec<ViaArg>,
    /// Give up after this many milliseconds.
    #[arg(long, default_value_t = 3000, value_name = "MS")]
    pub timeout: u64,
    /// Also search virtual (container, VM) and VPN interfaces, which are
    /// skipped by default.
    #[arg(long)]
    pub include_virtual: bool,
}

impl DiscoverArgs {
    /// The room port: `--port`, or the default.
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(DEFAULT_PORT)
    }
}

/// A discovery layer, as named on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ViaArg {
    /// UDP broadcast and multicast query.
    Udp,
    /// DNS-SD over mDNS (`_lanchat._tcp`).
    Mdns,
    /// TCP scan of the subnet, with the greeting verified.
    Scan,
}
