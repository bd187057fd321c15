//! The lanchat server: one task that owns the room (the hub), the door API
//! through which connections reach it, and the lanchat TCP door.
//!
//! # Layout
//!
//! - [`run`] (here): the accept loop and the shutdown sequence.
//! - [`config`]: every limit and timer, with defaults.
//! - [`door`]: the door API: [`door::Hub`], [`door::Session`],
//!   [`door::WireFormat`], [`door::Outbox`]. Every door is built on it.
//! - `hub`: the task that owns the [`lanchat_core::Room`] and fans events out.
//! - `session`: the sans-IO rules of every connection (deadlines, rate,
//!   keepalive, bad frames).
//! - `outbox`: each connection's bounded outbound queue.
//! - `admission`: limits on connections in total and per address.
//! - `rate`: the token bucket behind the per-client rate limit.
//! - `resume`: tokens, held names and recent events, for resuming after a
//!   connection loss.
//! - `link`: one connection's IO and rules, whatever the door, around the
//!   door's dialect.
//! - `connection`: the lanchat door: JSON lines, from greeting to goodbye,
//!   over any byte stream.
//! - [`json_format`]: room events as lanchat JSON lines.
//! - [`irc`]: the IRC door (registration, IRC commands, IRC lines).
//! - `memory`: giving the allocator's free pages back after a burst.
//! - [`store`]: the conversation on disk (SQLite), written off the hub.
//! - `web`: the web door: the page the room serves, and a WebSocket that
//!   carries the lanchat protocol to the lanchat door.
//! - [`tls`]: the server's identity, and telling TLS from plaintext on the
//!   lanchat door's port.
//!
//! **Architecture invariant:** the hub never waits on a connection. It
//! pushes encoded bytes into each recipient's `outbox` without awaiting,
//! and a connection whose queue overflows is dropped, so one slow socket
//! can't delay anyone else.
//!
//! **Architecture invariant:** every task is spawned on a `TaskTracker` and
//! ends when the shutdown token is cancelled; [`run`] returns only after they
//! are done or the grace period ran out.

mod admission;
pub mod config;
mod connection;
pub mod door;
mod hub;
pub mod irc;
pub mod json_format;
mod link;
mod memory;
mod outbox;
mod plain;
mod rate;
mod resume;
mod session;
pub mod store;
pub mod tls;
mod web;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use lanchat_proto::{encode, Greeting, Limits};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Internals exposed for the benchmarks in `benches/`, not a stable API.
#[doc(hidden)]
pub mod bench_api {
    pub use crate::outbox::Outbox;

    /// Writes `batch` in one transaction, as the history writer does.
    pub fn store_write(store: &mut crate::store::Store, batch: &[lanchat_core::Past]) -> bool {
        store.insert(batch).is_ok()
    }
}

use admission::Admission;
pub use config::{Config, PeerCheck};
use connection::Door;
use json_format::JsonLines;
pub use memory::{tune_allocator, GLIBC_TUNABLES};

/// The reason given to a peer outside the server's networks.
const NOT_ALLOWED: &str =
    "this room only admits computers on the server's own network (the server can allow more with --allow)";

/// The reason the IRC and web doors give in a room with a passphrase.
const PASSPHRASE_DOORS: &str =
    "this room has a passphrase: join with lanchat, which can prove it without sending it";

/// The limits a client is told in the welcome.
pub fn advertised_limits(config: &Config) -> Limits {
    Limits {
        text: config.max_text_len,
        name: lanchat_core::name::MAX_NAME_CHARS,
        frame_in: config.max_frame_len,
        frame_out: lanchat_proto::limits::MAX_FRAME_LEN,
        rate: config.rate_limit,
        burst: config.rate_burst,
        label: lanchat_proto::limits::MAX_LABEL_LEN,
    }
}

/// The listening sockets of the doors.
#[derive(Debug)]
pub struct Listeners {
    /// lanchat's own protocol.
    pub lanchat: TcpListener,
    /// IRC, when the server was asked to open it (`--irc`).
    pub irc: Option<TcpListener>,
    /// IRC over TLS (`--irc-tls`), with the server's identity
    /// ([`Config::tls`]; without it, the door stays shut).
    pub irc_tls: Option<TcpListener>,
    /// The web page and its WebSocket (`--web-port`).
    pub web: Option<TcpListener>,
}

/// Which door a connection came through.
#[derive(Debug, Clone, Copy)]
enum Via {
    Lanchat,
    Irc,
    IrcTls,
    Web,
}

/// Serves the room on `listener` until `shutdown` completes, then tells
/// everyone the server is going away, flushes their queues and returns.
pub async fn run(listener: TcpListener, config: Config, shutdown: impl Future<Output = ()>) {
    let listeners = Listeners {
        lanchat: listener,
        irc: None,
        irc_tls: None,
        web: None,
    };
    run_doors(listeners, config, None, shutdown).await
}

/// Accepts on `listener`, or waits forever when there is none.
async fn accept(
    listener: Option<&TcpListener>,
) -> std::io::Result<(tokio::net::TcpStream, std::net::SocketAddr)> {
    match listener {
        Some(listener) => listener.accept().await,
        None => std::future::pending().await,
    }
}

/// Serves the room through every door in `listeners` until `shutdown`
/// completes, then tells everyone the server is going away, flushes their
/// queues (and the history `store`, if any) and returns.
pub async fn run_doors(
    listeners: Listeners,
    config: Config,
    store: Option<store::Store>,
    shutdown: impl Future<Output = ()>,
) {
    let config = Arc::new(config);
    let token = CancellationToken::new();
    let tracker = TaskTracker::new();
    let hub = hub::spawn(&config, &tracker, token.clone(), store);
    let mut greeting =
        Greeting::new(&config.room, &config.server_name).with_software(&config.software);
    greeting.fingerprint = config.tls.as_ref().map(|t| t.fingerprint.to_string());
    greeting.passphrase = config.passphrase.is_some();
    let admission = Admission::new(
        config.max_clients,
        config.max_per_ip,
        config.max_connects_per_minute,
    );
    let irc = Arc::new(irc::IrcDoor::new(
        hub.clone(),
        config.clone(),
        token.clone(),
    ));
    let door = Arc::new(Door {
        hub,
        format: Arc::new(JsonLines::new(advertised_limits(&config))),
        unstamped: Arc::new(JsonLines::without_stamps(advertised_limits(&config))),
        // Our own greeting always encodes.
        greeting: encode(&greeting).unwrap_or_default(),
        shutdown: token.clone(),
        config: config.clone(),
        admission: admission.clone(),
        limits: Arc::new(door::SessionLimits::of(&config)),
    });
    let refuse = |stream, via, code: &str, reason: &str| match via {
        Via::Lanchat => connection::refuse(stream, &door, code, reason),
        Via::Irc | Via::IrcTls => irc::refuse(stream, reason),
        Via::Web => web::refuse(stream, reason),
    };
    let irc_tls = listeners.irc_tls.as_ref().filter(|_| config.tls.is_some());

    tokio::pin!(shutdown);
    let mut backoff = Duration::from_millis(5);
    loop {
        let accepted = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listeners.lanchat.accept() => accepted.map(|a| (a, Via::Lanchat)),
            accepted = accept(listeners.irc.as_ref()) => accepted.map(|a| (a, Via::Irc)),
            accepted = accept(irc_tls) => accepted.map(|a| (a, Via::IrcTls)),
            accepted = accept(listeners.web.as_ref()) => accepted.map(|a| (a, Via::Web)),
        };
        match accepted {
            Ok(((stream, peer), via)) => {
                backoff = Duration::from_millis(5);
                let allowed = config.peer_check.as_ref().is_none_or(|f| (f.0)(peer.ip()));
                if !allowed {
                    tracing::info!(%peer, "refused: not on this server's networks");
                    refuse(stream, via, "not_allowed", NOT_ALLOWED);
                    continue;
                }
                if config.passphrase.is_some() && !matches!(via, Via::Lanchat) {
                    // Only the lanchat door can prove a passphrase (a PAKE
                    // bound to its TLS session): the others stay shut.
                    refuse(stream, via, "passphrase_required", PASSPHRASE_DOORS);
                    continue;
                }
                let ticket = match admission.admit(peer.ip(), tokio::time::Instant::now()) {
                    Ok(ticket) => ticket,
                    Err(refusal) => {
                        tracing::debug!(%peer, reason = refusal.reason(), "refused");
                        refuse(stream, via, refusal.code(), refusal.reason());
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                match via {
                    Via::Lanchat => {
                        tracker.spawn(tls::open(
                            stream,
                            peer,
                            door.clone(),
                            ticket,
                            tracker.clone(),
                        ));
                    }
                    Via::Irc => {
                        tracker.spawn(irc::serve(
                            plain::PlainTcp::new(stream),
                            peer,
                            irc.clone(),
                            ticket,
                        ));
                    }
                    Via::Web => {
                        tracker.spawn(web::serve(stream, peer, door.clone(), ticket));
                    }
                    Via::IrcTls => {
                        let (irc, config) = (irc.clone(), config.clone());
                        let serving = tracker.clone();
                        tracker.spawn(async move {
                            let Some(tls) = &config.tls else { return };
                            let limit = config.register_timeout;
                            tls.accept_then(stream, peer, limit, &serving, |stream, _| {
                                irc::serve(stream, peer, irc, ticket)
                            })
                            .await;
                        });
                    }
                }
            }
            Err(error) => {
                // Typically EMFILE: back off instead of spinning, and keep
                // serving the connections we have.
                tracing::warn!(%error, "accept failed");
                tokio::select! {
                    _ = &mut shutdown => break,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(1));
            }
        }
    }
    tracing::info!("shutting down");
    drop(listeners);
    drop(door);
    drop(irc);
    token.cancel();
    tracker.close();
    if tokio::time::timeout(config.shutdown_grace, tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            remaining = tracker.len(),
            "some connections did not finish within the grace period"
        );
    }
}
