//! Running the discovery layers together.
//!
//! The fast path (UDP query and mDNS browse) starts at once. If it has
//! found nothing after [`Options::fallback_after`], the subnet scan starts.
//! Each room is reported once, by whichever layer found it first, the
//! moment it is found. Discovery ends at the timeout, when every layer is
//! done, or (for a client about to join) a short while after the first
//! room, so that a second room on the LAN still makes it onto the list.

use std::collections::HashSet;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use ipnet::Ipv4Net;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::{sleep_until, Instant};

use crate::found::{Found, Via};
use crate::interfaces::{self, hosts, local_nets, LocalNet};

/// What to search, how, and for how long.
#[derive(Debug, Clone)]
pub struct Options {
    /// The room port (TCP, and UDP for queries).
    pub port: u16,
    /// Ranges to scan instead of the local subnets (loopback is scanned
    /// only when named here).
    pub scan_ranges: Vec<Ipv4Net>,
    /// The layers to use; empty means all.
    pub via: Vec<Via>,
    /// The longest discovery may take.
    pub timeout: Duration,
    /// Search virtual and VPN interfaces too.
    pub include_virtual: bool,
    /// When set, stop this long after the first room is found (zero: at
    /// the first room).
    pub settle: Option<Duration>,
    /// Start the scan if the fast path found nothing by then (with the
    /// scan as the only layer, it starts at once).
    pub fallback_after: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            port: lanchat_proto::limits::DEFAULT_PORT,
            scan_ranges: Vec::new(),
            via: Vec::new(),
            timeout: Duration::from_secs(3),
            include_virtual: false,
            settle: None,
            fallback_after: Duration::from_secs(1),
        }
    }
}

/// Everything discovery did, for the user when it found nothing.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// The rooms, in the order found.
    pub found: Vec<Found>,
    /// This machine's networks, with the reason any was skipped.
    pub nets: Vec<LocalNet>,
    /// The layers that ran.
    pub layers: Vec<Via>,
    /// The ranges the scan covered (empty if it did not run).
    pub scanned: Vec<Ipv4Net>,
    /// Notes on what was limited or skipped, and why.
    pub notes: Vec<String>,
    /// How long discovery took.
    pub elapsed: Duration,
}

impl Options {
    fn uses(&self, via: Via) -> bool {
        self.via.is_empty() || self.via.contains(&via)
    }
}

/// How long the UDP layer listens for answers.
const UDP_WINDOW: Duration = Duration::from_millis(1000);

/// Runs discovery, calling `on_found` for each new room as it is found.
pub async fn discover(options: &Options, mut on_found: impl FnMut(&Found)) -> Report {
    let started = Instant::now();
    let deadline = started + options.timeout;
    let mut nets = local_nets();
    if options.include_virtual {
        for n in nets.iter_mut().filter(|n| !n.net.addr().is_link_local()) {
            n.skip = None;
        }
    }
    let plan = interfaces::scan_plan(&nets, &options.scan_ranges);
    let mut report = Report {
        nets: nets.clone(),
        notes: plan.notes.clone(),
        ..Report::default()
    };
    let (tx, mut rx) = mpsc::channel::<Found>(64);
    let mut layers = JoinSet::new();
    let explicit: Vec<Ipv4Addr> = options.scan_ranges.iter().flat_map(hosts).collect();
    // Named ranges mean "look here only": broadcast, multicast and mDNS go
    // out only on interfaces whose whole subnet lies inside a named range
    // (a loopback range: none, so no packet leaves loopback).
    let nets: Vec<LocalNet> = if options.scan_ranges.is_empty() {
        nets
    } else {
        nets.into_iter()
            .filter(|n| options.scan_ranges.iter().any(|r| r.contains(&n.net)))
            .collect()
    };

    if options.uses(Via::Udp) {
        report.layers.push(Via::Udp);
        let (nets, tx) = (nets.clone(), tx.clone());
        let unicast = explicit.clone();
        let port = options.port;
        let until = deadline.min(started + UDP_WINDOW);
        layers.spawn(
            async move { crate::udp::query(&nets, &unicast, port, started, until, tx).await },
        );
    }
    if options.uses(Via::Mdns) {
        report.layers.push(Via::Mdns);
        let (nets, tx) = (nets.clone(), tx.clone());
        layers.spawn(async move { crate::mdns::browse(&nets, started, deadline, tx).await });
    }
    let scan_only = options.via == [Via::Scan];
    let mut scan_at = options.uses(Via::Scan).then(|| {
        if scan_only {
            started
        } else {
            started + options.fallback_after
        }
    });
    let mut settle_at: Option<Instant> = None;
    let mut seen = HashSet::new();
    loop {
        let layers_done = layers.is_empty() && scan_at.is_none();
        if layers_done {
            // Drain what finished layers left in the channel, then stop.
            while let Ok(f) = rx.try_recv() {
                record(&mut report, &mut seen, f, &mut on_found);
            }
            break;
        }
        tokio::select! {
            _ = sleep_until(deadline) => break,
            _ = sleep_until(settle_at.unwrap_or(deadline)), if settle_at.is_some() => break,
            _ = sleep_until(scan_at.unwrap_or(deadline)), if scan_at.is_some() => {
                scan_at = None;
                if report.found.is_empty() {
                    report.layers.push(Via::Scan);
                    report.scanned = plan.ranges.clone();
                    let targets: Vec<Ipv4Addr> = plan.ranges.iter().flat_map(hosts).collect();
                    let (port, tx) = (options.port, tx.clone());
                    layers.spawn(async move { crate::scan::scan(targets, port, started, tx).await });
                }
            }
            Some(_) = layers.join_next(), if !layers.is_empty() => {}
            Some(f) = rx.recv() => {
                if record(&mut report, &mut seen, f, &mut on_found) && settle_at.is_none() {
                    if options.settle == Some(Duration::ZERO) {
                        // The first room is all that was asked for.
                        break;
                    }
                    settle_at = options.settle.map(|s| Instant::now() + s);
                }
            }
        }
    }
    // Dropping the set aborts any layer still running.
    layers.shutdown().await;
    report.elapsed = started.elapsed();
    report
}

/// The most rooms one discovery lists: a flood of answers cannot make the
/// list (or its memory) grow without end.
pub const MAX_ROOMS: usize = 64;

/// Adds a room unless it was already found (or the list is full); returns
/// whether it was new.
fn record(
    report: &mut Report,
    seen: &mut HashSet<SocketAddr>,
    found: Found,
    on_found: &mut impl FnMut(&Found),
) -> bool {
    if seen.len() >= MAX_ROOMS || !seen.insert(found.addr) {
        return false;
    }
    on_found(&found);
    report.found.push(found);
    true
}

impl Report {
    /// A human explanation of what was tried, for when nothing was found.
    pub fn diagnosis(&self, port: u16) -> String {
        let mut out = String::new();
        let layers: Vec<String> = self.layers.iter().map(|v| v.to_string()).collect();
        out.push_str(&format!(
            "no lanchat room found on port {port} (searched for {:.1} s with: {})\n",
            self.elapsed.as_secs_f64(),
            layers.join(", ")
        ));
        if self.nets.is_empty() {
            out.push_str("  this machine has no network interface that is up (besides loopback)\n");
        }
        for n in &self.nets {
            match n.skip {
                None => out.push_str(&format!(
                    "  searched {} on {} ({})\n",
                    n.net, n.name, n.addr
                )),
                Some(why) => out.push_str(&format!("  skipped {} on {}: {why}\n", n.net, n.name)),
            }
        }
        if !self.scanned.is_empty() {
            let ranges: Vec<String> = self.scanned.iter().map(|r| r.to_string()).collect();
            out.push_str(&format!(
                "  scanned TCP port {port} on {}\n",
                ranges.join(", ")
            ));
        }
        for note in &self.notes {
            out.push_str(&format!("  note: {note}\n"));
        }
        out.push_str(
            "common causes:\n\
             \x20 - the server is not running, or uses another port (try --port)\n\
             \x20 - guest wifi or a hotspot with client isolation: devices cannot see each other\n\
             \x20 - a firewall on the server blocks UDP or TCP on the room port\n\
             \x20 - a VPN is routing your traffic elsewhere\n\
             \x20 - the server is on a different subnet (another wifi, a wired LAN)\n\
             if you know the server's address, join it directly: lanchat --server HOST[:PORT]",
        );
        out
    }
}
