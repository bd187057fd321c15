//! This machine's IPv4 networks, read from the interface list (never by
//! the "connect a UDP socket to 8.8.8.8" trick, which fails without a
//! default route, returns a VPN address behind a VPN, and knows no netmask).

use std::net::{IpAddr, Ipv4Addr};

use ipnet::{IpNet, Ipv4Net};

/// The largest subnet scanned whole; bigger ones are scanned as the /24
/// around our own address.
pub const MAX_SCAN_PREFIX: u8 = 22;

/// The most hosts one explicit `--scan-range` may hold.
pub const MAX_EXPLICIT_HOSTS: usize = 1 << 16;

/// One IPv4 address of an up, non-loopback interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalNet {
    /// The interface name, e.g. `wlan0`.
    pub name: String,
    /// Our address on it.
    pub addr: Ipv4Addr,
    /// The subnet, with its real prefix length.
    pub net: Ipv4Net,
    /// Why it is not searched by default, if it is not.
    pub skip: Option<&'static str>,
}

impl LocalNet {
    /// Whether discovery searches it by default.
    pub fn usable(&self) -> bool {
        self.skip.is_none()
    }

    /// The directed broadcast address (`ip | !mask`). Computed, because the
    /// interface list reports the address itself when none is configured.
    pub fn broadcast(&self) -> Ipv4Addr {
        self.net.broadcast()
    }
}

/// Set to `1` to make discovery ignore every interface and search only the
/// ranges named with `--scan-range`. The test suite sets it, so that no
/// test outside a network namespace of its own can ever send a query onto
/// a real network.
pub const NO_INTERFACES_ENV: &str = "LANCHAT_NO_INTERFACES";

/// Every up, non-loopback IPv4 address of this machine, each marked with
/// why it is skipped by default, if it is.
pub fn local_nets() -> Vec<LocalNet> {
    if std::env::var_os(NO_INTERFACES_ENV).is_some_and(|v| v == "1") {
        return Vec::new();
    }
    let Ok(ifaces) = if_addrs::get_if_addrs() else {
        return Vec::new();
    };
    ifaces
        .into_iter()
        .filter(|i| !i.is_loopback() && i.is_oper_up())
        .filter_map(|i| match &i.addr {
            if_addrs::IfAddr::V4(v4) => {
                let net = Ipv4Net::new(v4.ip, v4.prefixlen).ok()?.trunc();
                let skip = skip_reason(&i.name, v4.ip, v4.prefixlen, i.is_p2p());
                Some(LocalNet {
                    name: i.name,
                    addr: v4.ip,
                    net,
                    skip,
                })
            }
            if_addrs::IfAddr::V6(_) => None,
        })
        .collect()
}

/// Every subnet (IPv4 and IPv6) this machine has an address in, loopback
/// included: the networks the server's access rule admits.
pub fn all_prefixes() -> Vec<IpNet> {
    let Ok(ifaces) = if_addrs::get_if_addrs() else {
        return Vec::new();
    };
    ifaces
        .into_iter()
        .filter_map(|i| {
            let (ip, len) = match i.addr {
                if_addrs::IfAddr::V4(v4) => (IpAddr::V4(v4.ip), v4.prefixlen),
                if_addrs::IfAddr::V6(v6) => (IpAddr::V6(v6.ip), v6.prefixlen),
            };
            IpNet::new(ip, len).ok().map(|n| n.trunc())
        })
        .collect()
}

/// Interfaces that are obviously not the LAN people share: container and VM
/// bridges, VPN tunnels, point-to-point links, link-local addresses.
fn skip_reason(name: &str, ip: Ipv4Addr, prefix: u8, p2p: bool) -> Option<&'static str> {
    const VIRTUAL: &[&str] = &[
        "docker", "br-", "veth", "virbr", "vboxnet", "vmnet", "lxc", "lxd", "cni", "flannel",
        "cali", "podman", "kube",
    ];
    const VPN: &[&str] = &[
        "tun",
        "tap",
        "wg",
        "tailscale",
        "zt",
        "utun",
        "ppp",
        "ipsec",
        "nordlynx",
        "proton",
    ];
    if ip.is_link_local() {
        Some("link-local address")
    } else if VIRTUAL.iter().any(|p| name.starts_with(p)) {
        Some("virtual (container or VM) interface")
    } else if VPN.iter().any(|p| name.starts_with(p)) || p2p || prefix >= 31 {
        Some("VPN or point-to-point link")
    } else {
        None
    }
}

/// Whether an address is in a private range (RFC 1918). Only these are
/// scanned unless the user names a range explicitly.
pub fn is_private(ip: Ipv4Addr) -> bool {
    ip.is_private()
}

/// What a subnet scan covers, and why it covers less than everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanPlan {
    pub ranges: Vec<Ipv4Net>,
    pub notes: Vec<String>,
}

/// Decides the ranges to scan: the explicit ones if any were given,
/// otherwise each usable interface's subnet, capped at a /22 (larger subnets
/// are scanned as the /24 around our address) and private ranges only.
pub fn scan_plan(nets: &[LocalNet], explicit: &[Ipv4Net]) -> ScanPlan {
    let mut plan = ScanPlan::default();
    if !explicit.is_empty() {
        for range in explicit {
            if host_count(range) > MAX_EXPLICIT_HOSTS {
                plan.notes.push(format!(
                    "{range} has more than {MAX_EXPLICIT_HOSTS} addresses; not scanned"
                ));
            } else {
                plan.ranges.push(*range);
            }
        }
        return plan;
    }
    for n in nets.iter().filter(|n| n.usable()) {
        if !is_private(n.addr) {
            plan.notes.push(format!(
                "{} ({}) is not a private network; scan it only with --scan-range",
                n.net, n.name
            ));
            continue;
        }
        let range = if n.net.prefix_len() < MAX_SCAN_PREFIX {
            let around = Ipv4Net::new(n.addr, 24).map(|r| r.trunc()).unwrap_or(n.net);
            plan.notes.push(format!(
                "{} ({}) is larger than a /{MAX_SCAN_PREFIX}; scanning only {around} around this machine",
                n.net, n.name
            ));
            around
        } else {
            n.net
        };
        if !plan.ranges.contains(&range) {
            plan.ranges.push(range);
        }
    }
    plan
}

/// The host addresses of a range: all of them for a /31 or /32, otherwise
/// all but the network and broadcast addresses.
pub fn hosts(range: &Ipv4Net) -> Vec<Ipv4Addr> {
    range.hosts().collect()
}

fn host_count(range: &Ipv4Net) -> usize {
    1usize << (32 - u32::from(range.prefix_len())).min(31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(name: &str, cidr: &str) -> LocalNet {
        let n: Ipv4Net = cidr.parse().unwrap();
        LocalNet {
            name: name.into(),
            addr: n.addr(),
            net: n.trunc(),
            skip: skip_reason(name, n.addr(), n.prefix_len(), false),
        }
    }

    #[test]
    fn plans_cap_big_subnets_and_skip_virtual_public_and_vpn() {
        let nets = [
            net("wlan0", "10.1.2.3/16"),
            net("eth0", "10.77.7.20/23"),
            net("docker0", "10.88.0.1/16"),
            net("wg0", "10.9.0.2/32"),
            net("eth1", "8.8.4.10/24"),
        ];
        let plan = scan_plan(&nets, &[]);
        let ranges: Vec<String> = plan.ranges.iter().map(|r| r.to_string()).collect();
        assert_eq!(ranges, ["10.1.2.0/24", "10.77.6.0/23"]);
        assert_eq!(plan.notes.len(), 2, "{:?}", plan.notes);
    }

    #[test]
    fn explicit_ranges_win_and_hosts_exclude_network_and_broadcast() {
        let lo: Ipv4Net = "127.0.0.0/24".parse().unwrap();
        let plan = scan_plan(&[net("eth0", "10.0.0.5/24")], &[lo]);
        assert_eq!(plan.ranges, [lo]);
        let h = hosts(&lo);
        assert_eq!(h.len(), 254);
        assert_eq!(h[0], Ipv4Addr::new(127, 0, 0, 1));
        let single: Ipv4Net = "127.0.0.57/32".parse().unwrap();
        assert_eq!(hosts(&single), [Ipv4Addr::new(127, 0, 0, 57)]);
    }
}
