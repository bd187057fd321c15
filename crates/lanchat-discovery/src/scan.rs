//! The original design's port scanner, done fast: connect to every host
//! address of a range at once (a bounded number in flight), each with a
//! short timeout, and count a host only once its greeting checks out. An
//! HTTP server, a silent listener or a near-miss greeting is never
//! reported.
//!
//! An absent host on a LAN costs an ARP timeout (about 3 s by default) and
//! most such connects never fail fast (the kernel rate-limits its "host
//! unreachable" messages), so the connect timeout, not the kernel, decides
//! how long a scan takes.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use lanchat_proto::{Greeting, GreetingCheck};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::{timeout, Instant};

use crate::found::{Found, Via};

/// How many connects may be in flight at once.
pub const IN_FLIGHT: usize = 256;

/// How long one connect may take. LAN round trips are a millisecond or two;
/// anything slower is an absent host waiting on ARP.
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(400);

/// How long a host that accepted may take to send its greeting.
pub const GREETING_TIMEOUT: Duration = Duration::from_millis(1000);

/// Scans `hosts` on `port`, reporting each verified room as soon as it is
/// verified. Returns when every host has answered or timed out.
pub async fn scan(hosts: Vec<Ipv4Addr>, port: u16, started: Instant, found: mpsc::Sender<Found>) {
    let mut pending = hosts.into_iter();
    let mut in_flight = JoinSet::new();
    loop {
        while in_flight.len() < IN_FLIGHT {
            let Some(ip) = pending.next() else { break };
            in_flight.spawn(probe(SocketAddr::from((ip, port))));
        }
        let Some(done) = in_flight.join_next().await else {
            return;
        };
        if let Ok(Some((addr, greeting))) = done {
            let f = Found {
                room: greeting.room,
                server: greeting.server,
                addr,
                via: Via::Scan,
                fingerprint: greeting.fingerprint.clone(),
                after: started.elapsed(),
            };
            if found.send(f).await.is_err() {
                return;
            }
        }
    }
}

/// Connects and checks the greeting: `Some` only for a real lanchat server.
pub async fn probe(addr: SocketAddr) -> Option<(SocketAddr, Greeting)> {
    let mut stream = timeout(CONNECT_TIMEOUT, TcpStream::connect(addr))
        .await
        .ok()?
        .ok()?;
    let deadline = Instant::now() + GREETING_TIMEOUT;
    // A TLS server waits a moment for a client to start TLS before it
    // greets in plaintext; any other first byte gets the greeting at once.
    let _ = stream.try_write(b"\n");
    let mut buf = Vec::with_capacity(256);
    loop {
        match Greeting::check(&buf) {
            GreetingCheck::Done { greeting, .. } => return Some((addr, greeting)),
            GreetingCheck::Rejected(_) => return None,
            GreetingCheck::Incomplete => {}
        }
        let read = tokio::time::timeout_at(deadline, stream.read_buf(&mut buf));
        match read.await {
            Ok(Ok(n)) if n > 0 => {}
            _ => return None,
        }
    }
}
