//! The fast path, client side: ask every LAN at once over UDP and collect
//! the answers.
//!
//! For each usable interface a socket bound to our address there sends the
//! query to the directed broadcast address (`ip | !mask`, which needs
//! `SO_BROADCAST`) and to the multicast group (with `IP_MULTICAST_IF` set to
//! that interface and TTL 1, because without a default route a multicast
//! send fails with ENETUNREACH). Wifi loses packets, so the query goes out
//! in a short burst. Explicit ranges (`--scan-range`) get unicast queries
//! instead, which also makes the path testable on loopback.

use std::collections::HashSet;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

use ipnet::Ipv4Net;
use lanchat_proto::discovery::{Query, Reply, MAX_DATAGRAM, MULTICAST_GROUP};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::{sleep_until, Instant};

use crate::found::{Found, Via};
use crate::interfaces::LocalNet;

/// When, after the start, each copy of the query is sent.
const BURST: [Duration; 3] = [
    Duration::ZERO,
    Duration::from_millis(100),
    Duration::from_millis(300),
];

/// Queries every usable interface (broadcast and multicast) and every
/// unicast target, and reports each answering room until `until`.
pub async fn query(
    nets: &[LocalNet],
    unicast: &[Ipv4Addr],
    port: u16,
    started: Instant,
    until: Instant,
    found: mpsc::Sender<Found>,
) {
    let mut sockets = Vec::new();
    for net in nets.iter().filter(|n| n.usable()) {
        match lan_socket(net.addr) {
            Ok(socket) => {
                let targets = vec![
                    SocketAddr::from((net.broadcast(), port)),
                    SocketAddr::from((MULTICAST_GROUP, port)),
                ];
                sockets.push((socket, targets, Accept::Net(net.net)));
            }
            Err(error) => tracing::debug!(%error, iface = %net.name, "no UDP socket"),
        }
    }
    if !unicast.is_empty() {
        match UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).await {
            Ok(socket) => {
                let targets = unicast
                    .iter()
                    .map(|ip| SocketAddr::from((*ip, port)))
                    .collect();
                let hosts = unicast.iter().copied().collect();
                sockets.push((socket, targets, Accept::Hosts(hosts)));
            }
            Err(error) => tracing::debug!(%error, "no UDP socket for unicast queries"),
        }
    }
    let mut tasks = tokio::task::JoinSet::new();
    for (socket, targets, accept) in sockets {
        tasks.spawn(ask(socket, targets, accept, started, until, found.clone()));
    }
    while tasks.join_next().await.is_some() {}
}

/// Whose answers count on a socket: anyone on the subnet the query went
/// out on, or only the hosts asked. Anything else is a stranger (or a
/// spoof from off the LAN) and is ignored.
enum Accept {
    Net(Ipv4Net),
    Hosts(HashSet<Ipv4Addr>),
}

impl Accept {
    fn accepts(&self, from: IpAddr) -> bool {
        let IpAddr::V4(v4) = from.to_canonical() else {
            return false;
        };
        match self {
            Accept::Net(net) => net.contains(&v4),
            Accept::Hosts(hosts) => hosts.contains(&v4),
        }
    }
}

/// Sends the burst on one socket and reads answers until `until`.
async fn ask(
    socket: UdpSocket,
    targets: Vec<SocketAddr>,
    accept: Accept,
    started: Instant,
    until: Instant,
    found: mpsc::Sender<Found>,
) {
    let query = Query::default().encode();
    let mut sends = BURST.len();
    let mut buf = [0u8; MAX_DATAGRAM];
    loop {
        let send_at = BURST.get(BURST.len() - sends).map(|d| started + *d);
        tokio::select! {
            _ = sleep_until(until) => return,
            _ = sleep_until(send_at.unwrap_or(until)), if send_at.is_some() => {
                sends -= 1;
                for target in &targets {
                    if let Err(error) = socket.send_to(&query, target).await {
                        tracing::debug!(%error, %target, "query not sent");
                    }
                }
            }
            received = socket.recv_from(&mut buf) => {
                let Ok((len, from)) = received else { continue };
                if !accept.accepts(from.ip()) {
                    continue;
                }
                let Some(reply) = Reply::decode(&buf[..len]) else { continue };
                let room = Found {
                    room: reply.room,
                    server: reply.server,
                    addr: SocketAddr::new(from.ip(), reply.port),
                    via: Via::Udp,
                    fingerprint: reply.fingerprint,
                    after: started.elapsed(),
                };
                if found.send(room).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// A socket bound to our address on one interface, allowed to broadcast,
/// and sending multicast out of that interface only, with TTL 1.
fn lan_socket(addr: Ipv4Addr) -> io::Result<UdpSocket> {
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_broadcast(true)?;
    socket.set_multicast_if_v4(&addr)?;
    socket.set_multicast_ttl_v4(1)?;
    socket.set_nonblocking(true)?;
    socket.bind(&SocketAddrV4::new(addr, 0).into())?;
    UdpSocket::from_std(socket.into())
}
