//! The IRC door: irssi, weechat and any IRC client join the same room, as
//! one channel.
//!
//! - `dialect`: registration (CAP, NICK, USER) and the IRC commands, as
//!   typed commands for the hub.
//! - [`format`](mod@format): room events as IRC lines.
//!
//! Every rule (deadlines, rate limit, keepalive, bad lines, queue caps,
//! names) is the same as on the lanchat door: the `link` module and the
//! room apply them. The door only translates.

mod dialect;
pub mod format;

use std::net::SocketAddr;
use std::sync::Arc;

use lanchat_core::Label;
use tokio_util::sync::CancellationToken;

use crate::admission::Ticket;
use crate::config::Config;
use crate::door::{Hub, SessionLimits};
use crate::link::{self, Link};
use crate::outbox::Outbox;
use format::{IrcLines, Room};

/// The server's name in IRC sources and numerics.
pub(crate) const SERVER: &str = "lanchat";

/// The IRCv3 capabilities a client may ask for, as a bit set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Caps(u8);

impl Caps {
    pub const SERVER_TIME: Caps = Caps(1);
    pub const MESSAGE_TAGS: Caps = Caps(2);
    pub const ECHO_MESSAGE: Caps = Caps(4);
    pub const AWAY_NOTIFY: Caps = Caps(8);

    /// Every capability offered, with its name, in `CAP LS` order.
    pub const ALL: [(&'static str, Caps); 4] = [
        ("away-notify", Caps::AWAY_NOTIFY),
        ("echo-message", Caps::ECHO_MESSAGE),
        ("message-tags", Caps::MESSAGE_TAGS),
        ("server-time", Caps::SERVER_TIME),
    ];

    pub fn has(self, cap: Caps) -> bool {
        self.0 & cap.0 != 0
    }

    pub fn with(self, cap: Caps, on: bool) -> Caps {
        if on {
            Caps(self.0 | cap.0)
        } else {
            Caps(self.0 & !cap.0)
        }
    }

    /// The capability called `name`.
    pub fn named(name: &str) -> Option<Caps> {
        Caps::ALL.iter().find(|(n, _)| *n == name).map(|(_, c)| *c)
    }

    /// The names of the capabilities in the set.
    pub fn names(self) -> String {
        let on = Caps::ALL.iter().filter(|(_, c)| self.has(*c));
        on.map(|(n, _)| *n).collect::<Vec<_>>().join(" ")
    }
}

/// What an IRC command asked, carried as the label of the typed command
/// so that its answer is encoded the way IRC expects (see [`format`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ask<'a> {
    /// Not the asker's copy.
    Nobody,
    /// Registration: the welcome is 001 to 005, the MOTD and the JOIN.
    Register,
    /// JOIN after a PART: the welcome is the JOIN alone.
    Rejoin,
    Say,
    /// A NOTICE, which nothing may answer.
    Notice,
    Names,
    /// WHO, for one nick or (`None`) the channel.
    Who(Option<&'a str>),
    Nick(&'a str),
    Whois(&'a str),
    Whisper(&'a str),
    Other,
}

impl<'a> Ask<'a> {
    pub fn from_label(label: Option<&'a str>) -> Self {
        let Some(label) = label else {
            return Ask::Nobody;
        };
        match label.split_once(':') {
            Some(("who", mask)) => Ask::Who(Some(mask)),
            Some(("nick", name)) => Ask::Nick(name),
            Some(("whois", name)) => Ask::Whois(name),
            Some(("msg", name)) => Ask::Whisper(name),
            _ => match label {
                "reg" => Ask::Register,
                "join" => Ask::Rejoin,
                "say" => Ask::Say,
                "notice" => Ask::Notice,
                "names" => Ask::Names,
                "who" => Ask::Who(None),
                _ => Ask::Other,
            },
        }
    }

    pub fn label(self) -> Label {
        let text = match self {
            Ask::Nobody | Ask::Other => "other".to_owned(),
            Ask::Register => "reg".to_owned(),
            Ask::Rejoin => "join".to_owned(),
            Ask::Say => "say".to_owned(),
            Ask::Notice => "notice".to_owned(),
            Ask::Names => "names".to_owned(),
            Ask::Who(None) => "who".to_owned(),
            Ask::Who(Some(mask)) => format!("who:{mask}"),
            Ask::Nick(name) => format!("nick:{name}"),
            Ask::Whois(name) => format!("whois:{name}"),
            Ask::Whisper(name) => format!("msg:{name}"),
        };
        Label::from(text)
    }
}

/// What every connection of the IRC door shares.
pub(crate) struct IrcDoor {
    pub hub: Hub,
    pub config: Arc<Config>,
    pub room: Arc<Room>,
    /// One format per set of capabilities, so that clients asking for the
    /// same ones share their encodings.
    formats: Vec<Arc<IrcLines>>,
    pub shutdown: CancellationToken,
    /// Every connection's rules, shared.
    pub limits: Arc<SessionLimits>,
}

impl IrcDoor {
    pub fn new(hub: Hub, config: Arc<Config>, shutdown: CancellationToken) -> Self {
        let channel = lanchat_proto::irc::channel(&config.room);
        let room = Arc::new(Room {
            isupport: isupport(&channel),
            channel,
            name: config.room.clone(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
        });
        let formats = (0..16u8)
            .map(|bits| Arc::new(IrcLines::new(Caps(bits), room.clone())))
            .collect();
        IrcDoor {
            hub,
            limits: Arc::new(SessionLimits::of(&config)),
            config,
            room,
            formats,
            shutdown,
        }
    }

    /// The format for clients with `caps`.
    pub fn format(&self, caps: Caps) -> Arc<IrcLines> {
        self.formats[usize::from(caps.0 & 15)].clone()
    }
}

/// The 005 tokens, at most a dozen to a line.
fn isupport(channel: &str) -> Vec<String> {
    let network: String = channel[1..]
        .chars()
        .map(|c| if c == ' ' || c == '=' { '-' } else { c })
        .collect();
    let tokens = [
        format!("AWAYLEN={}", lanchat_core::room::MAX_AWAY_LEN),
        "CASEMAPPING=rfc8265".to_owned(),
        "CHANLIMIT=#:1".to_owned(),
        "CHANMODES=,,,nt".to_owned(),
        "CHANTYPES=#".to_owned(),
        format!("LINELEN={}", lanchat_proto::irc::MAX_LINE),
        format!("NETWORK={network}"),
        format!("NICKLEN={}", lanchat_core::name::MAX_NAME_CHARS),
        "PREFIX=".to_owned(),
        "TARGMAX=PRIVMSG:1,NOTICE:1,WHOIS:1".to_owned(),
        format!("TOPICLEN={}", lanchat_core::room::MAX_TOPIC_LEN),
        "UTF8ONLY".to_owned(),
    ];
    tokens.chunks(12).map(|c| c.join(" ")).collect()
}

/// Serves one IRC connection until it ends.
pub(crate) fn serve<S>(
    stream: S,
    peer: SocketAddr,
    door: Arc<IrcDoor>,
    ticket: Ticket,
) -> impl std::future::Future<Output = ()>
where
    S: crate::plain::Stream,
{
    let link = Link::new(
        Outbox::new(door.config.max_queue_bytes),
        door.limits.clone(),
    );
    let shutdown = door.shutdown.clone();
    link::serve(
        stream,
        link,
        dialect::Irc::new(door, peer.ip()),
        shutdown,
        ticket,
    )
}

/// Turns a connection away before any state exists for it.
pub(crate) fn refuse(stream: tokio::net::TcpStream, reason: &str) {
    let _ = stream.try_write(&format::closing(reason));
}
