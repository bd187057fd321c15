//! Discovery on a simulated LAN built from Linux network namespaces: a
//! bridge in a namespace of its own, hosts on veth pairs in 10.203.0.0/24,
//! and hosts on 10.204.0.0/24 standing for "another wifi". Everything is
//! created by the test and deleted when it ends; no real interface is ever
//! touched.
//!
//! These tests need root (see [`crate::Need`]): where they cannot run,
//! the harness reports them as ignored, or fails them where required.

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::support::{config_home, Proc};
use crate::{Need, Test};

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A LAN of namespaces, deleted on drop.
pub struct Lan {
    prefix: String,
    namespaces: Vec<String>,
    hosts: Vec<String>,
}

/// Runs `ip` with `args`; true on success.
fn ip(args: &[&str]) -> bool {
    Command::new("ip")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[track_caller]
fn must(args: &[&str]) {
    assert!(ip(args), "ip {} failed", args.join(" "));
}

impl Lan {
    /// A bridge and no hosts yet.
    pub fn new() -> Lan {
        let prefix = format!(
            "lc{}x{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let bridge = format!("{prefix}b");
        must(&["netns", "add", &bridge]);
        let lan = Lan {
            prefix,
            namespaces: vec![bridge.clone()],
            hosts: Vec::new(),
        };
        // Two wires: br0 is the LAN most tests use; br1 is another network
        // a host can also be plugged into.
        for name in ["br0", "br1"] {
            must(&["-n", &bridge, "link", "add", name, "type", "bridge"]);
            must(&[
                "-n",
                &bridge,
                "link",
                "set",
                name,
                "type",
                "bridge",
                "stp_state",
                "0",
                "mcast_snooping",
                "0",
            ]);
            must(&["-n", &bridge, "link", "set", name, "up"]);
        }
        lan
    }

    /// Adds a host with `cidr` on eth0 (e.g. `10.203.0.5/24`) on the main
    /// wire; returns its index.
    pub fn host(&mut self, cidr: &str) -> usize {
        self.host_on("br0", cidr)
    }

    /// Adds a host with `cidr` on eth0, plugged into wire `bridge`.
    pub fn host_on(&mut self, bridge: &str, cidr: &str) -> usize {
        let i = self.hosts.len();
        let ns = format!("{}h{i}", self.prefix);
        must(&["netns", "add", &ns]);
        self.namespaces.push(ns.clone());
        let sysctl = |key: &str| {
            let ok = Command::new("ip")
                .args(["netns", "exec", &ns, "sysctl", "-qw", key])
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "sysctl {key} in {ns}");
        };
        sysctl("net.ipv6.conf.all.disable_ipv6=1");
        sysctl("net.ipv6.conf.default.disable_ipv6=1");
        must(&["-n", &ns, "link", "set", "lo", "up"]);
        self.hosts.push(ns);
        self.plug(i, bridge, "eth0", cidr);
        i
    }

    /// Plugs host `i` into wire `bridge` with a new interface `ifname`
    /// holding `cidr`.
    pub fn plug(&self, i: usize, bridge: &str, ifname: &str, cidr: &str) {
        let ns = &self.hosts[i];
        let wire = &self.namespaces[0];
        let port = format!("p{i}{ifname}");
        must(&[
            "-n", wire, "link", "add", &port, "type", "veth", "peer", "name", ifname, "netns", ns,
        ]);
        must(&["-n", wire, "link", "set", &port, "master", bridge, "up"]);
        must(&["-n", ns, "addr", "add", cidr, "dev", ifname]);
        must(&["-n", ns, "link", "set", ifname, "up"]);
    }

    /// Routes `net` straight out of eth0 on host `i` (hosts of two subnets
    /// sharing one wire).
    pub fn route(&self, i: usize, net: &str) {
        must(&["-n", &self.hosts[i], "route", "add", net, "dev", "eth0"]);
    }

    /// A command run inside host `i`.
    pub fn cmd(&self, i: usize, program: &str) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.hosts[i], program]);
        cmd
    }

    /// `lanchat` inside host `i`, free to use that host's interfaces.
    pub fn lanchat(&self, i: usize) -> Command {
        let mut cmd = self.cmd(i, env!("CARGO_BIN_EXE_lanchat"));
        cmd.env_remove("RUST_LOG")
            .env_remove("LANCHAT_NO_INTERFACES")
            .env("NO_COLOR", "1")
            .env("XDG_CONFIG_HOME", config_home().join(&self.hosts[i]))
            .env(
                "XDG_DATA_HOME",
                config_home().join(&self.hosts[i]).join("data"),
            );
        cmd
    }

    /// `lanchat serve` on host `i` (all interfaces, port 8081), running.
    pub fn serve(&self, i: usize, room: &str, extra: &[&str]) -> Proc {
        let mut cmd = self.lanchat(i);
        cmd.args(["serve", "--room", room]).args(extra);
        // Each test's room starts empty: no history from an earlier one.
        if !extra.contains(&"--db") {
            cmd.args(["--db", ":memory:"]);
        }
        let mut p = Proc::spawn(cmd);
        p.expect_err("serving room");
        p
    }

    /// A `--plain` client on host `i` in the room "lab" on host 0
    /// (10.203.0.1) as `name`, once welcomed.
    pub fn join_lab(&self, i: usize, name: &str) -> Proc {
        self.join_at(i, "10.203.0.1", name)
    }

    /// A `--plain` client on host `i` in the room "lab" at `server`, as
    /// `name`, once welcomed.
    pub fn join_at(&self, i: usize, server: &str, name: &str) -> Proc {
        let mut p = Proc::spawn({
            let mut c = self.lanchat(i);
            c.args(["--plain", "--server", server, "--name", name]);
            c
        });
        p.expect_out("welcome", |l| {
            l.starts_with(&format!("*** Welcome to lab, {name}!"))
        });
        p
    }

    /// A Python one-off service on host `i`, port 8081, once it is ready.
    pub fn decoy(&self, i: usize, body: &str) -> Proc {
        let script = format!(
            "import socket,sys,time\n\
             s=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n\
             s.bind(('0.0.0.0',8081));s.listen(64);print('ready',flush=True)\n\
             {body}\n"
        );
        let mut cmd = self.cmd(i, "python3");
        cmd.args(["-c", &script]);
        let mut p = Proc::spawn(cmd);
        p.expect_out("ready", |l| l == "ready");
        p
    }
}

/// A tcpdump of what one host sends out of one interface.
pub struct Capture(Proc);

impl Lan {
    /// Starts capturing packets host `i` sends on `iface` that match
    /// `filter` (the test needs tcpdump).
    pub fn capture_out(&self, i: usize, iface: &str, filter: &[&str]) -> Capture {
        let mut p = Proc::spawn({
            let mut c = self.cmd(i, "tcpdump");
            // Immediate mode: packets are handed over one by one, not in
            // blocks that a SIGINT could leave unread.
            c.args(["-i", iface, "-Q", "out", "-n", "-l", "--immediate-mode"])
                .args(filter);
            c
        });
        p.expect_err(&format!("listening on {iface}"));
        Capture(p)
    }
}

impl Lan {
    /// Starts capturing whole packets, both directions, on host `i`'s
    /// `iface` that match `filter`, printed with their payload (`-A`).
    pub fn capture_all(&self, i: usize, iface: &str, filter: &[&str]) -> Capture {
        let mut p = Proc::spawn({
            let mut c = self.cmd(i, "tcpdump");
            c.args(["-i", iface, "-n", "-l", "-A", "-s", "0", "--immediate-mode"])
                .args(filter);
            c
        });
        p.expect_err(&format!("listening on {iface}"));
        Capture(p)
    }
}

impl Capture {
    /// Stops the capture; returns one line per packet seen.
    pub fn finish(mut self) -> Vec<String> {
        self.0.signal("-INT");
        let _ = self.0.wait();
        self.0
            .rest_of_stdout()
            .into_iter()
            .filter(|l| !l.trim().is_empty())
            .collect()
    }
}

impl Drop for Lan {
    fn drop(&mut self) {
        for ns in self.namespaces.iter().rev() {
            ip(&["netns", "del", ns]);
        }
    }
}

/// A LAN with `n` hosts at 10.203.0.1, .2, ...
fn lan(n: usize) -> Lan {
    let mut lan = Lan::new();
    for i in 0..n {
        lan.host(&format!("10.203.0.{}/24", i + 1));
    }
    lan
}

fn found_lines(mut p: Proc) -> Vec<String> {
    assert_eq!(p.wait().code(), Some(0), "discover found nothing");
    let mut lines = p.rest_of_stdout();
    lines.sort();
    lines
}

pub fn the_scan_finds_both_rooms_among_254_addresses_and_no_decoy() {
    let lan = lan(6);
    let _lab = lan.serve(0, "lab", &[]);
    let _attic = lan.serve(1, "attic", &[]);
    // An HTTP server, a silent listener, and a near miss of the greeting.
    let _http = lan.decoy(
        2,
        "while True:\n c,_=s.accept();c.recv(1024);c.sendall(b'HTTP/1.0 200 OK\\r\\n\\r\\nhi');c.close()",
    );
    let _silent = lan.decoy(3, "time.sleep(60)");
    let _near = lan.decoy(
        4,
        "while True:\n c,_=s.accept();c.sendall(b'{\"lanchat\":1,\"type\":\"hullo\"}\\n');c.close()",
    );
    let mut cmd = lan.lanchat(5);
    cmd.args(["discover", "--via", "scan"]);
    let lines = found_lines(Proc::spawn(cmd));
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[0].starts_with("attic  10.203.0.2:8081  via scan"),
        "{lines:?}"
    );
    assert!(
        lines[1].starts_with("lab  10.203.0.1:8081  via scan"),
        "{lines:?}"
    );
}

/// Two servers and a client; the client finds both rooms using only `via`.
fn both_rooms_are_found_via(via: &str) {
    let lan = lan(3);
    let _lab = lan.serve(0, "lab", &[]);
    let _attic = lan.serve(1, "attic", &[]);
    let mut cmd = lan.lanchat(2);
    cmd.args(["discover", "--via", via, "--timeout", "4000"]);
    let lines = found_lines(Proc::spawn(cmd));
    assert_eq!(lines.len(), 2, "{lines:?}");
    let attic = format!("attic  10.203.0.2:8081  via {via}");
    let lab = format!("lab  10.203.0.1:8081  via {via}");
    assert!(lines[0].starts_with(&attic), "{lines:?}");
    assert!(lines[1].starts_with(&lab), "{lines:?}");
}

pub fn broadcast_and_multicast_find_both_rooms() {
    both_rooms_are_found_via("udp");
}

pub fn mdns_finds_both_rooms() {
    both_rooms_are_found_via("mdns");
}

/// `discover` lists every room and then stops, a moment after the rooms
/// answered, not at its timeout (here a minute, longer than the test
/// waits for any process); `--first` stops at the first room.
pub fn discover_stops_soon_after_the_rooms_answer() {
    let lan = lan(3);
    let _lab = lan.serve(0, "lab", &[]);
    let _attic = lan.serve(1, "attic", &[]);
    let mut all = lan.lanchat(2);
    all.args(["discover", "--timeout", "60000"]);
    let lines = found_lines(Proc::spawn(all));
    assert_eq!(lines.len(), 2, "{lines:?}");
    let mut first = lan.lanchat(2);
    first.args(["discover", "--first", "--timeout", "60000"]);
    let lines = found_lines(Proc::spawn(first));
    assert_eq!(lines.len(), 1, "{lines:?}");
}

pub fn a_client_with_no_arguments_joins_the_room() {
    let lan = lan(3);
    let _lab = lan.serve(0, "lab", &[]);
    let mut alice = Proc::spawn({
        let mut c = lan.lanchat(1);
        c.args(["--plain", "--name", "alice"]);
        c
    });
    alice.expect_out("welcome", |l| l.starts_with("*** Welcome to lab, alice!"));
    let mut bob = Proc::spawn({
        let mut c = lan.lanchat(2);
        c.args(["--plain", "--name", "bob"]);
        c
    });
    bob.expect_out("welcome", |l| l.starts_with("*** Welcome to lab, bob!"));
    alice.expect_line("*** bob joined");
}

/// Three people chat, whisper and list across the LAN while the server's
/// link is captured whole: none of their words or names is on the wire,
/// though the capture holds their TLS handshakes.
pub fn an_eavesdropper_on_the_lan_reads_no_chat() {
    let lan = lan(3);
    let capture = lan.capture_all(0, "eth0", &["tcp", "port", "8081"]);
    let _lab = lan.serve(0, "lab", &[]);
    let mut alice = lan.join_lab(1, "alicewonder");
    let mut bob = lan.join_lab(2, "bobbuilder");
    alice.expect_line("*** bobbuilder joined");
    alice.send("the eagle lands at noon");
    bob.expect_line("<alicewonder> the eagle lands at noon");
    alice.expect_line("<alicewonder> the eagle lands at noon");
    bob.send("/w alicewonder xyzzy plugh whisper");
    alice.expect_line("[whisper from bobbuilder] xyzzy plugh whisper");
    bob.expect_line("[whisper to alicewonder] xyzzy plugh whisper");
    alice.send("/list");
    alice.expect_out("the list", |l| l.contains("bobbuilder"));
    alice.send("/x");
    assert_eq!(alice.wait().code(), Some(0));
    bob.expect_line("*** alicewonder left");
    drop(bob);
    // Every line tcpdump printed: headers, and payloads as ASCII.
    let wire = capture.finish();
    let packets = wire.iter().filter(|l| l.contains(".8081")).count();
    assert!(packets > 20, "the capture saw the chat's packets: {wire:?}");
    let wire = wire.join("\n");
    for secret in [
        "eagle",
        "xyzzy",
        "plugh",
        "alicewonder",
        "bobbuilder",
        "welcome",
        "whisper",
    ] {
        assert!(!wire.contains(secret), "'{secret}' is readable on the LAN");
    }
}

/// A protocol client in Python on host `i`: joins as `name` with `caps`,
/// says `lines` lines at once, and prints what matters of what it gets:
/// `echo ID TEXT` for its own lines, `stored ID`, and `history ID TEXT`
/// for each earlier event (then `history end`).
fn python_client(lan: &Lan, i: usize, name: &str, caps: &[&str], lines: usize) -> Proc {
    let script = format!(
        r#"
import json, socket
s = socket.create_connection(("10.203.0.1", 8081))
f = s.makefile("rb")
s.sendall((json.dumps({{"type": "join", "name": "{name}", "caps": {caps:?}}}) + "\n").encode())
s.sendall("".join(json.dumps({{"type": "say", "text": "line %d" % i}}) + "\n" for i in range({lines})).encode())
for raw in f:
    m = json.loads(raw)
    t = m.get("type")
    if t == "message" and m.get("from") == "{name}":
        print("echo", m["id"], m["text"], flush=True)
    elif t == "stored":
        print("stored", m["id"], flush=True)
    elif t == "history":
        for e in m["events"]:
            print("history", e["id"], e["text"], flush=True)
        if not m.get("more"):
            print("history end", flush=True)
"#
    );
    let mut cmd = lan.cmd(i, "python3");
    cmd.args(["-c", &script]);
    Proc::spawn(cmd)
}

/// The server is killed (SIGKILL) while someone is talking, and started
/// again: the `--plain` client on the LAN comes back by itself, and a
/// newcomer's history holds every line the server acknowledged as stored,
/// in order.
pub fn a_killed_server_restarts_and_keeps_what_it_acknowledged() {
    let lan = lan(4);
    let db = config_home().join(format!("{}-killed.sqlite", lan.hosts[0]));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    let db = db.display().to_string();
    let args = [
        "--db",
        &db,
        "--history",
        "1000",
        "--allow-plaintext",
        "--rate-limit",
        "0",
    ];
    let mut server = lan.serve(0, "lab", &args);
    let mut alice = lan.join_lab(1, "alice");
    let mut bob = python_client(&lan, 2, "bob", &["stamps"], 300);
    let (mut echoed, mut stored) = (Vec::<(u64, String)>::new(), 0u64);
    while echoed.len() <= 150 || stored < echoed[150].0 {
        let line = bob.expect_out("echo or stored", |_| true);
        let mut words = line.splitn(3, ' ');
        let (kind, id) = (words.next(), words.next().and_then(|w| w.parse().ok()));
        match (kind, id) {
            (Some("echo"), Some(id)) => echoed.push((id, words.next().unwrap_or("").to_owned())),
            (Some("stored"), Some(id)) => stored = stored.max(id),
            _ => panic!("unexpected: {line}"),
        }
    }
    server.signal("-KILL");
    let _ = server.wait();
    drop(bob);

    let _server = lan.serve(0, "lab", &args);
    let back = alice.skip_out_to("reconnected", |l| l.starts_with("*** reconnected"));
    assert_eq!(
        back,
        "*** reconnected; joined the room again (the server had let the name go)"
    );
    let mut carol = python_client(&lan, 3, "carol", &["stamps", "history"], 0);
    let mut kept = Vec::new();
    loop {
        let line = carol.expect_out("history", |l| l.starts_with("history "));
        if line == "history end" {
            break;
        }
        let mut words = line.splitn(3, ' ').skip(1);
        let id: u64 = words.next().and_then(|w| w.parse().ok()).expect("an id");
        if id <= stored {
            kept.push((id, words.next().unwrap_or("").to_owned()));
        }
    }
    let acknowledged: Vec<_> = echoed.into_iter().filter(|(id, _)| *id <= stored).collect();
    assert!(
        acknowledged.len() > 150,
        "{} acknowledged",
        acknowledged.len()
    );
    assert_eq!(kept, acknowledged, "the stored history, in order");
}

pub fn a_client_on_another_subnet_is_refused_unless_allowed() {
    let mut lan = lan(2);
    let far = lan.host("10.204.0.7/24");
    lan.route(far, "10.203.0.0/24");
    lan.route(0, "10.204.0.0/24");
    lan.route(1, "10.204.0.0/24");
    let _strict = lan.serve(0, "strict", &[]);
    let _open = lan.serve(1, "open", &["--allow", "10.204.0.0/24"]);

    let mut refused = Proc::spawn({
        let mut c = lan.lanchat(far);
        c.args(["join", "--plain", "--server", "10.203.0.1", "--name", "far"]);
        c
    });
    refused.expect_err("only admits computers on the server's own network");
    assert_eq!(refused.wait().code(), Some(1));

    // A broadcast or multicast answer from off the asking subnet is not
    // taken (it could be anyone's, from anywhere).
    let mut cmd = lan.lanchat(far);
    cmd.args(["discover", "--via", "udp", "--timeout", "1500"]);
    assert_eq!(
        Proc::spawn(cmd).wait().code(),
        Some(1),
        "an off-subnet answer"
    );
    // Asked by name (a range), discovery answers come only from the
    // server that allows it.
    let mut cmd = lan.lanchat(far);
    cmd.args([
        "discover",
        "--via",
        "udp",
        "--scan-range",
        "10.203.0.0/30",
        "--timeout",
        "1500",
    ]);
    let lines = found_lines(Proc::spawn(cmd));
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with("open  10.203.0.2:8081  via udp"),
        "{lines:?}"
    );

    let mut welcome = Proc::spawn({
        let mut c = lan.lanchat(far);
        c.args(["join", "--plain", "--server", "10.203.0.2", "--name", "far"]);
        c
    });
    welcome.expect_out("welcome", |l| l.starts_with("*** Welcome to open, far!"));
}

pub fn with_no_server_the_client_explains_what_it_tried() {
    let lan = lan(2);
    let mut cmd = lan.lanchat(1);
    cmd.args(["discover"]);
    let mut p = Proc::spawn(cmd);
    assert_eq!(p.wait().code(), Some(1));
    let err = p.rest_of_stderr().join("\n");
    for expected in [
        "no lanchat room found on port 8081",
        "udp, mdns, scan",
        "searched 10.203.0.0/24 on eth0 (10.203.0.2)",
        "scanned TCP port 8081 on 10.203.0.0/24",
        "client isolation",
        "--server",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in:\n{err}");
    }
}

pub fn a_server_bound_to_loopback_sends_nothing_on_the_lan() {
    let lan = lan(2);
    let capture = lan.capture_out(0, "eth0", &["not", "arp"]);
    let _hidden = lan.serve(0, "hidden", &["--bind", "127.0.0.1"]);
    for via in ["udp", "mdns"] {
        let mut cmd = lan.lanchat(1);
        cmd.args(["discover", "--via", via, "--timeout", "1500"]);
        let mut p = Proc::spawn(cmd);
        assert_eq!(p.wait().code(), Some(1), "nothing may answer over {via}");
    }
    let sent = capture.finish();
    assert!(sent.is_empty(), "host 0 sent packets: {sent:#?}");
}

/// A named range means "look here only": with a loopback range, no
/// query (UDP broadcast, multicast or mDNS) leaves loopback, so the room
/// on the LAN is not found and nothing is sent on eth0.
pub fn a_named_loopback_range_keeps_discovery_on_loopback() {
    let lan = lan(2);
    let _lab = lan.serve(1, "lab", &[]);
    let capture = lan.capture_out(0, "eth0", &["not", "arp"]);
    let mut cmd = lan.lanchat(0);
    cmd.args([
        "discover",
        "--scan-range",
        "127.0.0.0/24",
        "--timeout",
        "1500",
    ]);
    let mut p = Proc::spawn(cmd);
    assert_eq!(p.wait().code(), Some(1), "only loopback may be searched");
    let sent = capture.finish();
    assert!(sent.is_empty(), "discovery left the named range: {sent:#?}");
}

pub fn a_server_bound_to_one_address_announces_only_on_that_network() {
    let mut lan = lan(2);
    // Host 0 is on both wires; its server is bound to the first one only.
    lan.plug(0, "br1", "eth1", "10.204.0.1/24");
    let other = lan.host_on("br1", "10.204.0.2/24");
    // IGMP is left out: mdns-sd joins the mDNS group on every interface
    // when its daemon starts, before it can be told to use only one, so
    // the kernel reports that membership on eth1. No lanchat datagram and
    // no mDNS record goes there.
    let filter = ["not", "arp", "and", "not", "igmp"];
    let capture = lan.capture_out(0, "eth1", &filter);
    let _lab = lan.serve(0, "lab", &["--bind", "10.203.0.1"]);
    for via in ["udp", "mdns"] {
        let mut near = lan.lanchat(1);
        near.args(["discover", "--via", via, "--timeout", "3000"]);
        let lines = found_lines(Proc::spawn(near));
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(
            lines[0].starts_with(&format!("lab  10.203.0.1:8081  via {via}")),
            "{lines:?}"
        );
        let mut far = lan.lanchat(other);
        far.args(["discover", "--via", via, "--timeout", "1500"]);
        let mut p = Proc::spawn(far);
        assert_eq!(
            p.wait().code(),
            Some(1),
            "nothing answers on the other network over {via}"
        );
    }
    let sent = capture.finish();
    assert!(
        sent.is_empty(),
        "the server sent on the other network: {sent:#?}"
    );
}

pub fn avahi_browse_sees_the_room() {
    let lan = lan(2);
    let _lab = lan.serve(0, "lab", &[]);
    // avahi-daemon runs only inside host 1's namespace, with a private
    // D-Bus and a private /run/avahi-daemon (a mount namespace of its own),
    // so nothing of it exists outside the test LAN.
    let dir = config_home().join(format!("avahi-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("avahi dir");
    let bus = dir.join("bus");
    std::fs::write(
        dir.join("dbus.conf"),
        format!(
            r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><type>system</type><listen>unix:path={}</listen><auth>EXTERNAL</auth>
<policy context="default"><allow user="*"/><allow own="*"/><allow send_destination="*"/><allow receive_sender="*"/></policy>
</busconfig>"#,
            bus.display()
        ),
    )
    .expect("dbus config");
    std::fs::write(
        dir.join("avahi.conf"),
        "[server]\nhost-name=lanchat-test\nuse-ipv4=yes\nuse-ipv6=no\nallow-interfaces=eth0\n\
         [publish]\npublish-addresses=no\npublish-hinfo=no\npublish-workstation=no\npublish-domain=no\n",
    )
    .expect("avahi config");
    let script = format!(
        "mkdir -p /run/avahi-daemon && mount -t tmpfs tmpfs /run/avahi-daemon || exit 3\n\
         dbus-daemon --config-file={dir}/dbus.conf --nofork --nopidfile 2>/dev/null & D=$!\n\
         sleep 0.3\n\
         export DBUS_SYSTEM_BUS_ADDRESS=unix:path={bus}\n\
         avahi-daemon --no-drop-root --no-chroot --no-rlimits -f {dir}/avahi.conf >/dev/null 2>&1 & A=$!\n\
         sleep 2\n\
         avahi-browse -rpt _lanchat._tcp\n\
         kill $A $D\n",
        dir = dir.display(),
        bus = bus.display(),
    );
    let mut browse = Proc::spawn({
        let mut c = lan.cmd(1, "unshare");
        c.args(["-m", "sh", "-c", &script]);
        c
    });
    // avahi-browse lists a service ("+") before it resolves it ("=").
    let line = browse.skip_out_to("a resolved _lanchat._tcp record", |l| {
        l.starts_with("=;eth0;IPv4;")
    });
    assert!(line.contains(";10.203.0.1;8081;"), "{line}");
    for txt in ["\"room=lab\"", "\"version=1\""] {
        assert!(line.contains(txt), "{line}");
    }
    let _ = browse.wait();
    let _ = std::fs::remove_dir_all(&dir);
}

/// The wifi drops for 30 s in the middle of a conversation: for the user
/// it is a status line, then the missed messages, each once; the room saw
/// one line for the drop and one for the return, and no departure.
pub fn a_30_second_link_drop_is_a_status_line_then_the_missed_messages() {
    let lan = lan(3);
    // The server notices silence after 10 s here (25 s by default), so
    // that each wait in this test is short.
    let _lab = lan.serve(0, "lab", &["--ping-interval", "4", "--ping-timeout", "10"]);
    let mut alice = lan.join_lab(1, "alice");
    let mut bob = lan.join_lab(2, "bob");
    alice.expect_line("*** bob joined");
    bob.send("before the drop");
    bob.expect_line("<bob> before the drop");
    alice.expect_line("<bob> before the drop");

    must(&["-n", &lan.hosts[1], "link", "set", "eth0", "down"]);
    let down = std::time::Instant::now();
    // The server notices the silence (its ping timeout) and holds the name.
    bob.expect_line("*** alice lost connection; holding the name");
    bob.send("said during the drop");
    bob.expect_line("<bob> said during the drop");
    // Down for 30 s in all (bounded: one sleep for what is left).
    let left = Duration::from_secs(30).saturating_sub(down.elapsed());
    std::thread::sleep(left);
    must(&["-n", &lan.hosts[1], "link", "set", "eth0", "up"]);

    alice.expect_line("*** connection lost; reconnecting (attempt 1)...");
    let back = alice.skip_out_to("reconnected", |l| l.starts_with("*** reconnected"));
    assert_eq!(back, "*** reconnected; back in the room");
    alice.expect_line("<bob> said during the drop");
    bob.expect_line("*** alice is back");
    bob.send("and after");
    alice.expect_line("<bob> and after");
}

/// A relay on 127.0.0.1:9000 of host `i` to `upstream`, holding every
/// chunk 100 ms ± 50 ms, in order: the delay and jitter a busy wifi adds
/// (this kernel has no netem).
const DELAY_RELAY: &str = r#"
import random, socket, sys, threading, time, queue
up = (sys.argv[1], int(sys.argv[2]))
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(('127.0.0.1', 9000)); ls.listen(4); print('ready', flush=True)
def pump(a, b):
    q = queue.Queue(maxsize=4096)
    def later():
        due = 0.0
        while True:
            item = q.get()
            if item is None:
                break
            when, data = item
            due = max(due, when)
            time.sleep(max(0.0, due - time.monotonic()))
            try:
                b.sendall(data)
            except OSError:
                break
        try:
            b.shutdown(socket.SHUT_WR)
        except OSError:
            pass
    threading.Thread(target=later, daemon=True).start()
    while True:
        try:
            data = a.recv(16384)
        except OSError:
            data = b''
        if not data:
            q.put(None)
            return
        q.put((time.monotonic() + random.uniform(0.05, 0.15), data))
for _ in range(4):
    c, _ = ls.accept()
    s = socket.create_connection(up)
    threading.Thread(target=pump, args=(c, s), daemon=True).start()
    threading.Thread(target=pump, args=(s, c), daemon=True).start()
time.sleep(120)
"#;

/// 5 % of packets lost both ways on host 1's link, and every chunk delayed
/// 100 ms ± 50 ms: the chat works, nothing is lost, order is kept.
pub fn chat_survives_loss_and_delay() {
    let lan = lan(3);
    let _lab = lan.serve(0, "lab", &[]);
    let mut relay = Proc::spawn({
        let mut c = lan.cmd(1, "python3");
        c.args(["-c", DELAY_RELAY, "10.203.0.1", "8081"]);
        c
    });
    relay.expect_out("ready", |l| l == "ready");

    // Alice's link is lossy from the start: she joins over it too (a
    // server that answers gets 10 s for the handshake and the greeting).
    let host = &lan.hosts[1];
    let nft = |rule: &str| {
        let ok = Command::new("ip")
            .args(["netns", "exec", host, "nft", rule])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "nft {rule} in {host}");
    };
    nft("add table inet lossy");
    nft("add chain inet lossy out { type filter hook output priority 0 ; }");
    nft("add chain inet lossy in { type filter hook input priority 0 ; }");
    nft("add rule inet lossy out oifname \"eth0\" numgen random mod 100 < 5 drop");
    nft("add rule inet lossy in iifname \"eth0\" numgen random mod 100 < 5 drop");
    let mut alice = lan.join_at(1, "127.0.0.1:9000", "alice");
    let mut bob = lan.join_at(2, "10.203.0.1", "bob");
    alice.expect_line("*** bob joined");
    // Bounded: 15 lines each way, at the pace the server allows.
    for i in 0..15 {
        bob.send(&format!("from bob {i}"));
        alice.send(&format!("from alice {i}"));
    }
    let mut from_bob = Vec::new();
    let mut from_alice = Vec::new();
    while from_bob.len() < 15 {
        let line = alice.skip_out_to("bob's lines", |l| l.starts_with("<bob> "));
        from_bob.push(line);
    }
    while from_alice.len() < 15 {
        let line = bob.skip_out_to("alice's lines", |l| l.starts_with("<alice> "));
        from_alice.push(line);
    }
    let want = |who: &str| {
        (0..15)
            .map(|i| format!("<{who}> from {who} {i}"))
            .collect::<Vec<_>>()
    };
    assert_eq!(from_bob, want("bob"));
    assert_eq!(from_alice, want("alice"));
}

const NETNS: &[Need] = &[Need::Netns];
const NETNS_NFT: &[Need] = &[
    Need::Netns,
    Need::tool("nft", "--version", "LANCHAT_REQUIRE_NETNS"),
    Need::tool("python3", "--version", "LANCHAT_REQUIRE_NETNS"),
];
const NETNS_PYTHON: &[Need] = &[
    Need::Netns,
    Need::tool("python3", "--version", "LANCHAT_REQUIRE_NETNS"),
];
const NETNS_TCPDUMP: &[Need] = &[
    Need::Netns,
    Need::tool("tcpdump", "--version", "LANCHAT_REQUIRE_NETNS"),
];
const NETNS_AVAHI: &[Need] = &[
    Need::Netns,
    Need::tool("avahi-daemon", "--version", "LANCHAT_REQUIRE_NETNS"),
    Need::tool("avahi-browse", "--version", "LANCHAT_REQUIRE_NETNS"),
    Need::tool("dbus-daemon", "--version", "LANCHAT_REQUIRE_NETNS"),
];

/// Every test here, with what it needs.
pub const TESTS: &[Test] = &[
    Test {
        name: "a_killed_server_restarts_and_keeps_what_it_acknowledged",
        run: a_killed_server_restarts_and_keeps_what_it_acknowledged,
        needs: NETNS_PYTHON,
    },
    Test {
        name: "an_eavesdropper_on_the_lan_reads_no_chat",
        run: an_eavesdropper_on_the_lan_reads_no_chat,
        needs: NETNS_TCPDUMP,
    },
    Test {
        name: "chat_survives_loss_and_delay",
        run: chat_survives_loss_and_delay,
        needs: NETNS_NFT,
    },
    Test {
        name: "a_30_second_link_drop_is_a_status_line_then_the_missed_messages",
        run: a_30_second_link_drop_is_a_status_line_then_the_missed_messages,
        needs: NETNS,
    },
    Test {
        name: "the_scan_finds_both_rooms_among_254_addresses_and_no_decoy",
        run: the_scan_finds_both_rooms_among_254_addresses_and_no_decoy,
        needs: NETNS,
    },
    Test {
        name: "broadcast_and_multicast_find_both_rooms",
        run: broadcast_and_multicast_find_both_rooms,
        needs: NETNS,
    },
    Test {
        name: "mdns_finds_both_rooms",
        run: mdns_finds_both_rooms,
        needs: NETNS,
    },
    Test {
        name: "discover_stops_soon_after_the_rooms_answer",
        run: discover_stops_soon_after_the_rooms_answer,
        needs: NETNS,
    },
    Test {
        name: "a_client_with_no_arguments_joins_the_room",
        run: a_client_with_no_arguments_joins_the_room,
        needs: NETNS,
    },
    Test {
        name: "a_client_on_another_subnet_is_refused_unless_allowed",
        run: a_client_on_another_subnet_is_refused_unless_allowed,
        needs: NETNS,
    },
    Test {
        name: "with_no_server_the_client_explains_what_it_tried",
        run: with_no_server_the_client_explains_what_it_tried,
        needs: NETNS,
    },
    Test {
        name: "a_server_bound_to_loopback_sends_nothing_on_the_lan",
        run: a_server_bound_to_loopback_sends_nothing_on_the_lan,
        needs: NETNS_TCPDUMP,
    },
    Test {
        name: "a_server_bound_to_one_address_announces_only_on_that_network",
        run: a_server_bound_to_one_address_announces_only_on_that_network,
        needs: NETNS_TCPDUMP,
    },
    Test {
        name: "a_named_loopback_range_keeps_discovery_on_loopback",
        run: a_named_loopback_range_keeps_discovery_on_loopback,
        needs: NETNS_TCPDUMP,
    },
    Test {
        name: "avahi_browse_sees_the_room",
        run: avahi_browse_sees_the_room,
        needs: NETNS_AVAHI,
    },
];
