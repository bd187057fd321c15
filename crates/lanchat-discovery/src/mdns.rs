//! DNS-SD over mDNS: rooms are advertised as `_lanchat._tcp` with the room
//! name and protocol version in TXT, so any mDNS browser (avahi-browse,
//! dns-sd, Bonjour) sees them, and the client browses for them.
//!
//! mdns-sd runs its own thread. Its IPv6 side is turned off on both ends: a
//! dual-stack browser sometimes resolved a service with only an IPv6
//! address and never the IPv4 one, and lanchat's discovery is IPv4.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use lanchat_proto::discovery::MDNS_SERVICE_TYPE;
use lanchat_proto::limits::PROTOCOL_VERSION;
use mdns_sd::{IfKind, ServiceDaemon, ServiceEvent, ServiceInfo};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::found::{Found, Via};
use crate::interfaces::LocalNet;

/// Why mDNS could not be used.
#[derive(Debug, thiserror::Error)]
#[error("mDNS: {0}")]
pub struct MdnsError(#[from] mdns_sd::Error);

/// A running advertisement; it is withdrawn when dropped.
pub struct Advertiser {
    daemon: ServiceDaemon,
}

impl std::fmt::Debug for Advertiser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Advertiser")
    }
}

impl Advertiser {
    /// Advertises the room on the interfaces `bind` covers: all usable ones
    /// for an unspecified address, that address's interface otherwise.
    /// Returns `None` for loopback, where there is nobody to tell.
    pub fn start(
        room: &str,
        server_name: &str,
        bind: IpAddr,
        port: u16,
        nets: &[LocalNet],
        fingerprint: Option<&str>,
    ) -> Result<Option<Advertiser>, MdnsError> {
        if bind.is_loopback() {
            return Ok(None);
        }
        let addrs: Vec<IpAddr> = if bind.is_unspecified() {
            nets.iter()
                .filter(|n| n.usable())
                .map(|n| IpAddr::V4(n.addr))
                .collect()
        } else {
            vec![bind]
        };
        if addrs.is_empty() {
            return Ok(None);
        }
        let daemon = ServiceDaemon::new()?;
        daemon.disable_interface(IfKind::All)?;
        daemon.enable_interface(addrs.iter().map(|a| IfKind::Addr(*a)).collect::<Vec<_>>())?;
        let host = format!("{}.local.", host_label(server_name, addrs[0]));
        let instance = format!("{room} on {server_name}");
        let version = PROTOCOL_VERSION.to_string();
        let mut txt = vec![
            ("room", room),
            ("server", server_name),
            ("version", version.as_str()),
        ];
        if let Some(fingerprint) = fingerprint {
            txt.push(("fp", fingerprint));
        }
        let info = ServiceInfo::new(
            MDNS_SERVICE_TYPE,
            &instance,
            &host,
            &addrs[..],
            port,
            &txt[..],
        )?;
        daemon.register(info)?;
        Ok(Some(Advertiser { daemon }))
    }
}

impl Drop for Advertiser {
    fn drop(&mut self) {
        let _ = self.daemon.shutdown();
    }
}

/// Browses for rooms on the usable interfaces until `until`.
pub async fn browse(
    nets: &[LocalNet],
    started: Instant,
    until: Instant,
    found: mpsc::Sender<Found>,
) {
    let usable: Vec<IfKind> = nets
        .iter()
        .filter(|n| n.usable())
        .map(|n| IfKind::Addr(IpAddr::V4(n.addr)))
        .collect();
    if usable.is_empty() {
        return;
    }
    let daemon = match ServiceDaemon::new() {
        Ok(d) => d,
        Err(error) => {
            tracing::debug!(%error, "mDNS unavailable");
            return;
        }
    };
    let _stop = Shutdown(&daemon);
    let events = daemon
        .disable_interface(IfKind::All)
        .and_then(|()| daemon.enable_interface(usable))
        .and_then(|()| daemon.browse(MDNS_SERVICE_TYPE));
    let events = match events {
        Ok(events) => events,
        Err(error) => {
            tracing::debug!(%error, "mDNS browse failed");
            return;
        }
    };
    let mut seen: HashMap<SocketAddr, ()> = HashMap::new();
    loop {
        let event = tokio::select! {
            _ = tokio::time::sleep_until(until) => return,
            event = events.recv_async() => match event {
                Ok(event) => event,
                Err(_) => return,
            },
        };
        let ServiceEvent::ServiceResolved(service) = event else {
            continue;
        };
        let room = service
            .get_property_val_str("room")
            .unwrap_or(service.get_fullname())
            .to_owned();
        let server = service
            .get_property_val_str("server")
            .unwrap_or("")
            .to_owned();
        let fingerprint = service.get_property_val_str("fp").map(str::to_owned);
        let version = service.get_property_val_str("version");
        if version != Some(PROTOCOL_VERSION.to_string().as_str()) {
            continue;
        }
        for ip in service.get_addresses_v4() {
            // Only an address on a network we browsed: a record naming
            // 127.0.0.1 or an address off the LAN is a spoof.
            let on_lan = nets.iter().any(|n| n.usable() && n.net.contains(&ip));
            if !on_lan || seen.len() >= MAX_RECORDS {
                continue;
            }
            let addr = SocketAddr::new(IpAddr::V4(ip), service.get_port());
            if seen.insert(addr, ()).is_some() {
                continue;
            }
            let f = Found {
                room: room.clone(),
                server: server.clone(),
                addr,
                via: Via::Mdns,
                fingerprint: fingerprint.clone(),
                after: started.elapsed(),
            };
            if found.send(f).await.is_err() {
                return;
            }
        }
    }
}

/// The most rooms one browse reports: a flood of records cannot grow it.
const MAX_RECORDS: usize = 256;

/// Stops the daemon's thread when the browse ends, however it ends.
struct Shutdown<'a>(&'a ServiceDaemon);

impl Drop for Shutdown<'_> {
    fn drop(&mut self) {
        let _ = self.0.shutdown();
    }
}

/// The host name the room's address records go under: the machine's name
/// and its address. Machines often share a name (two laptops called
/// "ubuntu" at one party, or test namespaces on one host), and two servers
/// claiming one host name must probe, rename and probe again before
/// anyone sees their room; with the address in it, every server's is its
/// own. (What people see is the `server` property, the name alone.)
fn host_label(server_name: &str, addr: IpAddr) -> String {
    let addr = dns_label(&addr.to_string());
    let name: String = dns_label(server_name)
        .chars()
        .take(63 - 1 - addr.len())
        .collect();
    format!("{name}-{addr}")
}

/// A host name usable as one DNS label.
fn dns_label(name: &str) -> String {
    let label: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .take(63)
        .collect();
    if label.is_empty() {
        "lanchat".into()
    } else {
        label
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_server_has_a_host_name_of_its_own_and_a_valid_one() {
        let a = host_label("ubuntu", "127.0.0.5".parse().unwrap());
        let b = host_label("ubuntu", "127.0.0.6".parse().unwrap());
        assert_eq!(a, "ubuntu-127-0-0-5");
        assert_ne!(a, b);
        let long = host_label(&"x".repeat(100), "127.100.200.201".parse().unwrap());
        assert_eq!(long.len(), 63);
        assert!(long.ends_with("-127-100-200-201"));
        assert_eq!(
            host_label("é é", "127.0.0.5".parse().unwrap()),
            "----127-0-0-5"
        );
    }
}
