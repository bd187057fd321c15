//! The fast path, server side: answer discovery queries with the room's
//! name and port, by unicast to the asker, and only to askers the access
//! rule admits.
//!
//! Which sockets it opens follows the server's bind address, so nothing is
//! ever sent on an interface the server was not asked to serve:
//!
//! - unspecified (`0.0.0.0` or `::`): one socket on `0.0.0.0:port`, which
//!   hears unicast and broadcast queries, joined to the multicast group on
//!   every usable interface;
//! - one address: a socket on that address, one on its subnet's broadcast
//!   address and one on the multicast group joined on that interface only;
//! - loopback: a socket on that loopback address, nothing else.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::time::Duration;

use lanchat_proto::discovery::{Query, Reply, MAX_DATAGRAM, MULTICAST_GROUP};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::access::PeerFilter;
use crate::interfaces::local_nets;

/// At most this many answers a second, so a flood of queries with forged
/// source addresses cannot turn the server into a traffic amplifier.
const MAX_REPLIES_PER_SEC: u32 = 200;

/// Answers a second to any one asking address: one host cannot use up
/// the budget everyone else needs (a client asks a handful of times).
const MAX_REPLIES_PER_ADDRESS_PER_SEC: u32 = 10;

/// What the responder says and where it listens.
#[derive(Debug, Clone)]
pub struct ResponderConfig {
    /// The server's bind address.
    pub bind: IpAddr,
    /// The UDP port to listen on (the room's TCP port number).
    pub port: u16,
    /// The answer.
    pub reply: Reply,
}

/// Bound discovery sockets, ready to answer.
#[derive(Debug)]
pub struct Responder {
    reply_socket: Arc<UdpSocket>,
    extra: Vec<UdpSocket>,
    reply: Vec<u8>,
}

impl Responder {
    /// Opens the sockets `config.bind` calls for. Must be called within a
    /// tokio runtime.
    pub fn bind(config: &ResponderConfig) -> io::Result<Responder> {
        let (reply_socket, extra) = open(config.bind, config.port)?;
        Ok(Responder {
            reply_socket: Arc::new(reply_socket),
            extra,
            reply: config.reply.encode(),
        })
    }

    /// Answers queries until `shutdown` is cancelled.
    pub async fn run(self, filter: Arc<PeerFilter>, shutdown: CancellationToken) {
        let mut tasks = tokio::task::JoinSet::new();
        let sockets =
            std::iter::once(self.reply_socket.clone()).chain(self.extra.into_iter().map(Arc::new));
        for socket in sockets {
            tasks.spawn(listen(
                socket,
                self.reply_socket.clone(),
                self.reply.clone(),
                filter.clone(),
                shutdown.clone(),
            ));
        }
        while tasks.join_next().await.is_some() {}
    }
}

async fn listen(
    socket: Arc<UdpSocket>,
    reply_socket: Arc<UdpSocket>,
    reply: Vec<u8>,
    filter: Arc<PeerFilter>,
    shutdown: CancellationToken,
) {
    let mut buf = [0u8; MAX_DATAGRAM];
    let mut window = Instant::now();
    let mut sent = 0u32;
    // Answers this second, per asking address; at most one entry per
    // answer, so at most MAX_REPLIES_PER_SEC entries.
    let mut per_address: HashMap<IpAddr, u32> = HashMap::new();
    loop {
        let (len, from) = tokio::select! {
            _ = shutdown.cancelled() => return,
            received = socket.recv_from(&mut buf) => match received {
                Ok(r) => r,
                Err(error) => {
                    tracing::debug!(%error, "discovery socket error");
                    continue;
                }
            },
        };
        if Query::decode(&buf[..len]).is_none() || !filter.allows(from.ip()) {
            continue;
        }
        if window.elapsed() >= Duration::from_secs(1) {
            window = Instant::now();
            sent = 0;
            per_address.clear();
        }
        if sent >= MAX_REPLIES_PER_SEC {
            continue;
        }
        let asked = per_address.entry(from.ip()).or_insert(0);
        if *asked >= MAX_REPLIES_PER_ADDRESS_PER_SEC {
            continue;
        }
        *asked += 1;
        sent += 1;
        if let Err(error) = reply_socket.send_to(&reply, from).await {
            tracing::debug!(%error, %from, "discovery reply not sent");
        }
    }
}

/// Opens the sockets for `bind`: the one replies go out of, and any extra
/// ones that only listen.
fn open(bind: IpAddr, port: u16) -> io::Result<(UdpSocket, Vec<UdpSocket>)> {
    let v4 = match bind {
        IpAddr::V4(v4) => v4,
        IpAddr::V6(v6) if v6.is_unspecified() => Ipv4Addr::UNSPECIFIED,
        IpAddr::V6(v6) if v6.is_loopback() => Ipv4Addr::LOCALHOST,
        IpAddr::V6(_) => {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "discovery answers on IPv4 only; bind an IPv4 address or 0.0.0.0",
            ))
        }
    };
    if v4.is_loopback() {
        return Ok((udp(SocketAddrV4::new(v4, port))?, Vec::new()));
    }
    let nets = local_nets();
    if v4.is_unspecified() {
        let socket = udp(SocketAddrV4::new(v4, port))?;
        for net in nets.iter().filter(|n| n.usable()) {
            if let Err(error) = socket.join_multicast_v4(MULTICAST_GROUP, net.addr) {
                tracing::debug!(%error, iface = %net.name, "multicast join failed");
            }
        }
        return Ok((socket, Vec::new()));
    }
    let main = udp(SocketAddrV4::new(v4, port))?;
    let mut extra = Vec::new();
    if let Some(net) = nets.iter().find(|n| n.addr == v4) {
        match udp(SocketAddrV4::new(net.broadcast(), port)) {
            Ok(s) => extra.push(s),
            Err(error) => tracing::debug!(%error, "no broadcast listener"),
        }
        match udp(SocketAddrV4::new(MULTICAST_GROUP, port))
            .and_then(|s| s.join_multicast_v4(MULTICAST_GROUP, v4).map(|()| s))
        {
            Ok(s) => extra.push(s),
            Err(error) => tracing::debug!(%error, "no multicast listener"),
        }
    }
    Ok((main, extra))
}

/// A UDP socket bound with SO_REUSEADDR, so several listeners (and several
/// rooms on one machine) can share the port.
fn udp(addr: SocketAddrV4) -> io::Result<UdpSocket> {
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&SocketAddr::V4(addr).into())?;
    UdpSocket::from_std(socket.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One asking address gets its share of answers a second and no more;
    /// another address is still answered. On loopback only.
    #[tokio::test]
    async fn one_asker_cannot_use_up_the_answers() {
        let port = 30_000 + (std::process::id() % 20_000) as u16;
        let bind: IpAddr = "127.0.0.61".parse().unwrap();
        let config = ResponderConfig {
            bind,
            port,
            reply: Reply::new("lab", "pc", port),
        };
        let responder = Responder::bind(&config).expect("bind on loopback");
        let stop = CancellationToken::new();
        let task =
            tokio::spawn(responder.run(Arc::new(PeerFilter::new(vec![], false)), stop.clone()));
        let answers = |from: &'static str, asks: usize| async move {
            let query = Query::default().encode();
            let socket = UdpSocket::bind((from, 0)).await.unwrap();
            for _ in 0..asks {
                socket.send_to(&query, ("127.0.0.61", port)).await.unwrap();
            }
            let mut got = 0;
            let mut buf = [0u8; MAX_DATAGRAM];
            let window = tokio::time::sleep(Duration::from_millis(300));
            tokio::pin!(window);
            loop {
                tokio::select! {
                    _ = &mut window => return got,
                    r = socket.recv_from(&mut buf) => {
                        if r.is_ok() { got += 1; }
                    }
                }
            }
        };
        let greedy = answers("127.0.0.62", 50).await;
        assert_eq!(greedy, MAX_REPLIES_PER_ADDRESS_PER_SEC as usize);
        let other = answers("127.0.0.63", 1).await;
        assert_eq!(other, 1);
        stop.cancel();
        let _ = task.await;
    }
}
