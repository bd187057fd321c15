//! `lanchat serve`: bind, then run the server until Ctrl-C or SIGTERM.

use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use std::sync::Arc;

use anyhow::{bail, Context};
use lanchat_discovery::interfaces::local_nets;
use lanchat_discovery::mdns::Advertiser;
use lanchat_discovery::responder::{Responder, ResponderConfig};
use lanchat_discovery::PeerFilter;
use lanchat_proto::discovery::Reply;
use lanchat_server::Config;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::cli::{LimitArgs, ServeArgs};
use crate::usage::usage;

/// Starts the server again in place (the same process, arguments and
/// everything else) with [`lanchat_server::GLIBC_TUNABLES`] added to the
/// environment, once: glibc reads its tunables only when a process
/// starts. Returns if they are already set (a user's own setting of the
/// same tunable is kept), if this is the restarted process (marked by
/// `LANCHAT_RESTARTED`: glibc may drop the variable, e.g. for a setuid
/// binary, and that must not make a loop), or if the restart fails; the
/// defaults then only cost more memory. Call it first, before any thread
/// starts.
pub fn restart_with_tunables() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use std::os::unix::process::CommandExt;

        const VAR: &str = "GLIBC_TUNABLES";
        const MARK: &str = "LANCHAT_RESTARTED";
        if std::env::var_os(MARK).is_some() {
            return;
        }
        let ours = lanchat_server::GLIBC_TUNABLES;
        let name = ours.split('=').next().unwrap_or(ours);
        let current = std::env::var_os(VAR).unwrap_or_default();
        if current
            .to_string_lossy()
            .split(':')
            .any(|t| t.split('=').next() == Some(name))
        {
            return;
        }
        let Ok(exe) = std::env::current_exe() else {
            return;
        };
        // The user's own value kept as it is, bytes and all.
        let mut value = current;
        if !value.is_empty() {
            value.push(":");
        }
        value.push(ours);
        let mut args = std::env::args_os();
        let mut command = std::process::Command::new(exe);
        if let Some(arg0) = args.next() {
            command.arg0(arg0);
        }
        // Returns only if the restart failed.
        let _ = command.args(args).env(VAR, value).env(MARK, "1").exec();
    }
}

/// The longest room name, in characters.
const MAX_ROOM_CHARS: usize = 64;

pub async fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    let room = args.room.clone().unwrap_or_else(|| host.clone());
    check_room_name(&room)?;
    let addr = SocketAddr::new(args.bind, args.port);
    let listener = match listen(addr) {
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
    let irc = match &args.irc {
        Some(spec) => Some(bind_irc(spec, args.bind, "--irc")?),
        None => None,
    };
    let irc_tls = match &args.irc_tls {
        Some(spec) => Some(bind_irc(spec, args.bind, "--irc-tls")?),
        None => None,
    };
    let identity = identity(&args)?;
    let tls = lanchat_server::tls::Tls::new(&identity)
        .map_err(|e| anyhow::anyhow!("the server identity {}: {e}", identity.path.display()))?;
    let fingerprint = tls.fingerprint;
    let passphrase_asked = args.passphrase_file.is_some() || args.ask_passphrase;
    if passphrase_asked && (args.irc.is_some() || args.irc_tls.is_some()) {
        return Err(usage(
            "a room with a passphrase cannot open an IRC door: IRC clients cannot prove the passphrase, so they would get in without it",
        ));
    }
    let web = bind_web(&args, local, passphrase_asked);
    let passphrase = if let Some(path) = &args.passphrase_file {
        Some(crate::secrets::from_file(path)?)
    } else if args.ask_passphrase {
        let asked = crate::secrets::ask("room passphrase (joining will take it): ");
        Some(asked.ok_or_else(|| usage("--ask-passphrase needs a terminal and a passphrase"))?)
    } else {
        None
    };
    let mut config = config(room.clone(), host.clone(), &args.limits)?;
    config.topic = args.topic.clone().unwrap_or_default();
    config.topic_locked = args.topic_locked;
    config.history = args.history;
    config.whois_address = args.whois_shows_address;
    config.tls = Some(tls);
    config.allow_plaintext = args.allow_plaintext;
    config.passphrase = passphrase;
    config.resume_grace = Duration::try_from_secs_f64(args.resume_grace)
        .map_err(|_| usage("--resume-grace must be 0 (off) or a positive number of seconds"))?;
    let store = open_store(&args, &room, local.port())?;
    raise_open_file_limit(config.max_clients);
    let filter = Arc::new(PeerFilter::new(args.allow.clone(), args.allow_any));
    let check = filter.clone();
    config.peer_check = Some(lanchat_server::PeerCheck(Arc::new(move |ip| {
        check.allows(ip)
    })));

    // The responder follows the bind address: bound to loopback it opens a
    // loopback socket only, so it answers this machine and nobody else.
    let stop_announcing = CancellationToken::new();
    let responder = if args.no_announce {
        None
    } else {
        let answers = ResponderConfig {
            bind: args.bind,
            port: local.port(),
            reply: Reply {
                fingerprint: Some(fingerprint.to_string()),
                ..Reply::new(&room, &host, local.port())
            },
        };
        match Responder::bind(&answers) {
            Ok(responder) => Some(tokio::spawn(responder.run(filter, stop_announcing.clone()))),
            Err(error) => {
                tracing::warn!(%error, port = local.port(), "not answering discovery on UDP");
                None
            }
        }
    };
    let advertiser = if args.no_announce || args.bind.is_loopback() {
        None
    } else {
        let fp = fingerprint.to_string();
        Advertiser::start(
            &room,
            &host,
            args.bind,
            local.port(),
            &local_nets(),
            Some(&fp),
        )
        .unwrap_or_else(|error| {
            tracing::warn!(%error, "not advertising over mDNS");
            None
        })
    };
    let announcing = if args.no_announce {
        "not announcing (--no-announce)"
    } else if args.bind.is_loopback() {
        "answering discovery on loopback only"
    } else {
        "answering discovery on UDP and mDNS"
    };
    eprintln!("lanchat: serving room '{room}' on {local} (Ctrl-C to stop); {announcing}");
    eprintln!("lanchat: {}", how_to_join(local, args.no_announce));
    let made = if identity.created {
        "new identity"
    } else {
        "identity"
    };
    eprintln!(
        "lanchat: encrypted (TLS 1.3); {made} {}: fingerprint {}",
        identity.path.display(),
        fingerprint
    );
    eprintln!(
        "lanchat: to compare aloud: {}   (clients pin it on first use)",
        fingerprint.spoken()
    );
    if args.allow_plaintext {
        eprintln!("lanchat: also admitting clients that do not encrypt (--allow-plaintext)");
    }
    if config.passphrase.is_some() {
        eprintln!("lanchat: joining takes the room passphrase");
    }
    let irc = match irc {
        Some(irc) => {
            let at = irc.local_addr().context("reading the IRC door's address")?;
            let channel = lanchat_proto::irc::channel(&room);
            eprintln!(
                "lanchat: IRC door on {at}: in irssi or weechat, /connect {} {}, then /join {channel}",
                at.ip(),
                at.port()
            );
            Some(irc)
        }
        None => None,
    };
    if let Some(irc_tls) = &irc_tls {
        let at = irc_tls
            .local_addr()
            .context("reading the IRC TLS door's address")?;
        eprintln!(
            "lanchat: IRC door over TLS on {at}: /connect -tls {} {} (the certificate is self-signed: its fingerprint is the one above)",
            at.ip(),
            at.port()
        );
    }
    if let Some(web) = &web {
        let at = web.local_addr().context("reading the web page's address")?;
        print_web(at);
    }
    match &store {
        Some(store) if store.path() != lanchat_server::store::MEMORY => {
            eprintln!("lanchat: history is kept in {}", store.path());
        }
        Some(_) => eprintln!("lanchat: history is kept in memory only (--db :memory:)"),
        None => eprintln!("lanchat: no history is kept (--history 0)"),
    }
    let listeners = lanchat_server::Listeners {
        lanchat: listener,
        irc,
        irc_tls,
        web,
    };
    lanchat_server::run_doors(listeners, config, store, shutdown_signal()).await;
    stop_announcing.cancel();
    if let Some(responder) = responder {
        let _ = responder.await;
    }
    drop(advertiser);
    eprintln!("lanchat: server stopped");
    Ok(ExitCode::SUCCESS)
}

/// Opens the history database (`--db`, or the room's file in the XDG data
/// directory), unless history is off. One that cannot be read is an error
/// naming the file.
fn open_store(
    args: &ServeArgs,
    room: &str,
    port: u16,
) -> anyhow::Result<Option<lanchat_server::store::Store>> {
    use lanchat_server::store::{Retention, Store, MEMORY};
    if args.history == 0 {
        return Ok(None);
    }
    let path = match &args.db {
        Some(path) => path.clone(),
        None => match lanchat_client::memory::data_dir() {
            Some(dir) => {
                let dir = dir.join("history");
                std::fs::create_dir_all(&dir)
                    .with_context(|| format!("could not create {}", dir.display()))?;
                let file: String = room
                    .chars()
                    .map(|c| {
                        if c.is_alphanumeric() || c == '-' {
                            c
                        } else {
                            '_'
                        }
                    })
                    .collect();
                dir.join(format!("{file}-{port}.sqlite"))
                    .display()
                    .to_string()
            }
            None => {
                tracing::warn!("no data directory (neither XDG_DATA_HOME nor HOME): history is kept in memory only");
                MEMORY.to_owned()
            }
        },
    };
    let retention = Retention {
        max_age: Duration::from_secs(u64::from(args.keep) * 86_400),
        max_rows: args.keep_rows,
    };
    Ok(Some(Store::open(&path, retention)?))
}

/// How many connections may wait to be accepted (the kernel caps it at
/// `net.core.somaxconn`). A crowd connecting at once (a join storm, a class
/// opening their laptops) must not overflow the queue: every connection
/// the kernel turns away waits a second before it tries again. The usual
/// default, 128, made 200 clients connecting together take a second.
const LISTEN_BACKLOG: u32 = 4096;

/// Listens on `addr` with a deep accept queue ([`LISTEN_BACKLOG`]).
fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    // As std and tokio do: a restarted server may bind at once, though
    // connections of the last one linger in TIME_WAIT.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Binds an IRC door (`flag` is `--irc` or `--irc-tls`): `PORT` (at
/// `bind`) or `ADDR:PORT`.
fn bind_irc(spec: &str, bind: IpAddr, flag: &str) -> anyhow::Result<TcpListener> {
    let addr = match spec.parse::<u16>() {
        Ok(port) => SocketAddr::new(bind, port),
        Err(_) => spec.parse::<SocketAddr>().map_err(|_| {
            usage(format!(
                "{flag} takes a port or ADDR:PORT (such as 6667 or 0.0.0.0:6667), not '{spec}'"
            ))
        })?,
    };
    listen(addr).with_context(|| {
        format!("could not open the IRC door on {addr} (choose another port with {flag})")
    })
}

/// Binds the web page's port (`--web-port`, or the room's port + 1; any
/// free one when the room's port was 0), unless `--no-web`. A port that
/// cannot be had is a warning, not a failure: the room runs without it.
/// A room with a passphrase serves no page: the page cannot prove it.
fn bind_web(args: &ServeArgs, local: SocketAddr, passphrase: bool) -> Option<TcpListener> {
    if args.no_web {
        return None;
    }
    if passphrase {
        eprintln!("lanchat: no web page: a room with a passphrase is joined with lanchat only");
        return None;
    }
    let port = match (args.web_port, args.port) {
        (Some(port), _) => port,
        (None, 0) => 0,
        (None, _) => local.port().wrapping_add(1),
    };
    let addr = SocketAddr::new(args.bind, port);
    match listen(addr) {
        Ok(listener) => Some(listener),
        Err(error) => {
            eprintln!("lanchat: no web page: could not listen on {addr} ({error}); choose a port with --web-port");
            None
        }
    }
}

/// The addresses others reach a socket bound to `at` at: every usable LAN
/// address for an unspecified one, else that one.
fn reachable_at(at: SocketAddr) -> Vec<IpAddr> {
    if at.ip().is_unspecified() {
        local_nets()
            .iter()
            .filter(|n| n.usable())
            .map(|n| IpAddr::V4(n.addr))
            .collect()
    } else {
        vec![at.ip()]
    }
}

/// Says where the web page is: a URL for each address, and a QR code of
/// the first for phones.
fn print_web(at: SocketAddr) {
    let urls: Vec<String> = reachable_at(at)
        .iter()
        .map(|ip| format!("http://{}/", SocketAddr::new(*ip, at.port())))
        .collect();
    match urls.first() {
        None => eprintln!(
            "lanchat: web page on port {} (no network address to show)",
            at.port()
        ),
        Some(first) => {
            eprintln!("lanchat: phones and browsers join at {}", urls.join(" or "));
            if let Ok(code) = qrcode::QrCode::new(first.as_bytes()) {
                let art = code
                    .render::<qrcode::render::unicode::Dense1x2>()
                    .quiet_zone(true)
                    .build();
                eprintln!("{art}");
            }
        }
    }
}

/// The server's identity: `--identity`, or `identity.pem` in the XDG data
/// directory; made there on first start.
fn identity(args: &ServeArgs) -> anyhow::Result<lanchat_server::tls::Identity> {
    let path = match &args.identity {
        Some(path) => path.clone(),
        None => lanchat_client::memory::data_dir()
            .context("no data directory for the server identity (neither XDG_DATA_HOME nor HOME is set): choose a file with --identity PATH")?
            .join("identity.pem"),
    };
    Ok(lanchat_server::tls::Identity::load_or_create(&path)?)
}

fn config(room: String, host: String, limits: &LimitArgs) -> anyhow::Result<Config> {
    let secs = |name: &str, value: f64| {
        Duration::try_from_secs_f64(value)
            .ok()
            .filter(|d| !d.is_zero())
            .ok_or_else(|| usage(format!("--{name} must be a positive number of seconds")))
    };
    if !(1..=lanchat_proto::limits::MAX_TEXT_LEN).contains(&limits.max_message_bytes) {
        return Err(usage(format!(
            "--max-message-bytes must be between 1 and {} (clients accept no more)",
            lanchat_proto::limits::MAX_TEXT_LEN
        )));
    }
    if limits.max_frame_bytes < 1024 {
        return Err(usage("--max-frame-bytes must be at least 1024"));
    }
    if !(limits.rate_limit >= 0.0 && limits.rate_limit.is_finite()) {
        return Err(usage("--rate-limit must be 0 (off) or a positive number"));
    }
    let mut config = Config::new(room, host);
    config.max_text_len = limits.max_message_bytes;
    config.max_frame_len = limits.max_frame_bytes;
    config.register_timeout = secs("register-timeout", limits.register_timeout)?;
    config.ping_interval = secs("ping-interval", limits.ping_interval)?;
    config.ping_timeout = secs("ping-timeout", limits.ping_timeout)?;
    config.rate_limit = limits.rate_limit;
    config.rate_burst = limits.rate_burst;
    config.flood_kick_after = secs("flood-kick-after", limits.flood_kick_after)?;
    config.max_clients = limits.max_clients;
    config.max_per_ip = limits.max_per_ip;
    config.max_connects_per_minute = limits.max_connects_per_minute;
    config.max_queue_bytes = limits.max_queue_bytes;
    Ok(config)
}

/// Each client holds a file descriptor: raises the soft limit to the hard
/// one, and warns if even that is below what `--max-clients` allows (past
/// it, accepting fails and the server backs off until someone leaves).
fn raise_open_file_limit(max_clients: usize) {
    // The listener, discovery sockets, the event queue, stdio and logs.
    const SPARE: u64 = 64;
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) if limit < max_clients as u64 + SPARE => tracing::warn!(
            limit,
            max_clients,
            "the open-file limit is below --max-clients; raise it (ulimit -n) or lower --max-clients"
        ),
        Ok(_) => {}
        Err(error) => tracing::warn!(%error, "could not raise the open-file limit"),
    }
}

/// What the host should tell the others: `lanchat` finds the room by
/// itself (unless it is not announced), and `--server` with each address
/// this server can be reached at works everywhere.
fn how_to_join(local: SocketAddr, no_announce: bool) -> String {
    let servers: Vec<String> = reachable_at(local)
        .iter()
        .map(|ip| {
            let addr = SocketAddr::new(*ip, local.port());
            if local.port() == lanchat_proto::limits::DEFAULT_PORT {
                format!("lanchat --server {}", addr.ip())
            } else {
                format!("lanchat --server {addr}")
            }
        })
        .collect();
    let searching = !no_announce && !local.ip().is_loopback();
    match (searching, servers.is_empty()) {
        (true, true) => "others can join with: lanchat".to_owned(),
        (true, false) => format!(
            "others can join with: lanchat  (or {})",
            servers.join(", or ")
        ),
        (false, true) => "no network address to give others: bind one with --bind".to_owned(),
        (false, false) => format!("others can join with: {}", servers.join(", or ")),
    }
}

fn check_room_name(room: &str) -> anyhow::Result<()> {
    if room.trim().is_empty() {
        return Err(usage("the room name is empty"));
    }
    if room.chars().count() > MAX_ROOM_CHARS {
        return Err(usage(format!(
            "the room name is longer than {MAX_ROOM_CHARS} characters"
        )));
    }
    if room.chars().any(char::is_control) {
        return Err(usage("the room name contains control characters"));
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{how_to_join, listen};

    /// A crowd connecting at once all waits in the accept queue. With the
    /// usual backlog of 128 the kernel turned the rest away, and each of
    /// them waited a second or more to try again (so the deadline below
    /// is missed, not just approached).
    #[tokio::test]
    async fn a_crowd_connecting_at_once_is_queued() {
        let listener = listen("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = listener.local_addr().unwrap();
        let crowd = tokio::task::spawn_blocking(move || {
            (0..300)
                .map(|_| std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5)))
                .collect::<Result<Vec<_>, _>>()
        });
        // Nobody is accepted until all are connected.
        let crowd = crowd.await.unwrap();
        assert!(crowd.is_ok(), "{:?}", crowd.err());
        drop(listener);
    }

    #[test]
    fn the_host_is_told_what_to_tell_others() {
        let at = |s: &str| s.parse().unwrap();
        assert_eq!(
            how_to_join(at("127.0.0.1:18600"), false),
            "others can join with: lanchat --server 127.0.0.1:18600"
        );
        assert_eq!(
            how_to_join(at("10.0.0.5:8081"), false),
            "others can join with: lanchat  (or lanchat --server 10.0.0.5)"
        );
        assert_eq!(
            how_to_join(at("10.0.0.5:9000"), true),
            "others can join with: lanchat --server 10.0.0.5:9000"
        );
    }
}
