//! Discovery on loopback, with no namespaces and no root: servers and
//! decoys on several 127.0.0.x addresses, found by an explicit
//! `--scan-range`. Nothing here can reach a real interface: every process
//! runs with `LANCHAT_NO_INTERFACES=1`.

use std::io::Write;

use crate::support::{lanchat, Decoy, Proc, Server};

fn discover(port: u16, extra: &[&str]) -> Proc {
    let mut cmd = lanchat();
    cmd.args(["discover", "--port", &port.to_string()])
        .args(extra);
    Proc::spawn(cmd)
}

/// Two rooms and three decoys on one port across 127.0.0.0/24.
struct LoopbackLan {
    lab: Server,
    attic: Server,
    _decoys: Vec<Decoy>,
}

fn loopback_lan(base: u8) -> LoopbackLan {
    let lab = Server::start_on(&format!("127.0.0.{base}"), 0, &["--room", "lab"]);
    let port = lab.port();
    let attic = Server::start_on(&format!("127.0.0.{}", base + 4), port, &["--room", "attic"]);
    let decoys = vec![
        // A silent listener.
        Decoy::start(&format!("127.0.0.{}:{port}", base + 1), |_| {}),
        // Something that talks first, like SSH or a banner-sending daemon.
        Decoy::start(&format!("127.0.0.{}:{port}", base + 2), |mut s| {
            let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n");
        }),
        // A near miss: the magic, but not a greeting.
        Decoy::start(&format!("127.0.0.{}:{port}", base + 3), |mut s| {
            let _ = s.write_all(b"{\"lanchat\":1,\"type\":\"nope\"}\n");
        }),
    ];
    LoopbackLan {
        lab,
        attic,
        _decoys: decoys,
    }
}

/// Runs `lanchat discover` with `extra` and expects exactly lab and attic
/// of `lan`, found via `via`.
fn finds_both(lan: &LoopbackLan, via: &str, range: &str) {
    let port = lan.lab.port();
    let mut p = discover(port, &["--via", via, "--scan-range", range]);
    assert_eq!(p.wait().code(), Some(0));
    let mut lines = p.rest_of_stdout();
    lines.sort();
    let attic = format!("attic  {}  via {via}  ", lan.attic.addr);
    let lab = format!("lab  {}  via {via}  ", lan.lab.addr);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0].starts_with(&attic), "{lines:?}");
    assert!(lines[1].starts_with(&lab), "{lines:?}");
}

#[test]
fn a_loopback_scan_finds_every_room_and_no_decoy() {
    finds_both(&loopback_lan(57), "scan", "127.0.0.0/24");
}

#[test]
fn unicast_udp_queries_find_rooms_on_loopback() {
    finds_both(&loopback_lan(77), "udp", "127.0.0.64/26");
}

#[test]
fn nothing_found_is_explained_and_exits_nonzero() {
    let unused = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut p = discover(
        unused,
        &["--scan-range", "127.0.0.96/28", "--timeout", "2000"],
    );
    assert_eq!(p.wait().code(), Some(1));
    let err = p.rest_of_stderr().join("\n");
    for expected in [
        "no lanchat room found",
        "scanned TCP port",
        "127.0.0.96/28",
        "client isolation",
        "firewall",
        "VPN",
        "different subnet",
        "--server",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in:\n{err}");
    }
}

#[test]
fn join_without_a_server_joins_the_only_room() {
    let lab = Server::start_on("127.0.0.101", 0, &["--room", "lab"]);
    let mut alice = lab.join("alice");
    let mut cmd = lanchat();
    let port = lab.port().to_string();
    cmd.args(["join", "--plain", "--name", "bob", "--port", &port])
        .args(["--via", "scan", "--scan-range", "127.0.0.100/30"]);
    let mut bob = Proc::spawn(cmd);
    bob.expect_out("welcome", |l| l.starts_with("*** Welcome to lab, bob!"));
    alice.expect_line("*** bob joined");
}

#[test]
fn with_several_rooms_the_user_chooses_by_number_or_by_name() {
    let lan = loopback_lan(117);
    let port = lan.lab.port().to_string();
    let search = [
        "--port",
        &port,
        "--via",
        "scan",
        "--scan-range",
        "127.0.0.112/28",
    ];

    let mut cmd = lanchat();
    cmd.args(["join", "--plain", "--name", "carol"])
        .args(search);
    let mut carol = Proc::spawn(cmd);
    carol.expect_err("found 2 rooms");
    let attic = carol.expect_err("attic  127.0.0.121");
    let number = attic.trim_start().split(')').next().unwrap().to_owned();
    carol.send("7");
    carol.expect_err("'7' is not one of the numbers above");
    carol.send(&number);
    carol.expect_out("welcome", |l| l.starts_with("*** Welcome to attic, carol!"));

    let mut cmd = lanchat();
    cmd.args(["join", "--plain", "--name", "dave", "--room", "LAB"])
        .args(search);
    let mut dave = Proc::spawn(cmd);
    dave.expect_out("welcome", |l| l.starts_with("*** Welcome to lab, dave!"));
}

#[test]
fn the_last_server_is_tried_first_next_time() {
    let lab = Server::start_on("127.0.0.1", 0, &["--room", "remembered"]);
    let home = std::env::temp_dir().join(format!("lanchat-memory-{}", std::process::id()));
    let run = |args: &[&str]| {
        let mut cmd = lanchat();
        cmd.env("XDG_CONFIG_HOME", &home).args(args);
        Proc::spawn(cmd)
    };
    let mut first = run(&["join", "--plain", "--name", "erin", "--server", &lab.addr]);
    first.expect_out("welcome", |l| l.starts_with("*** Welcome to remembered"));
    first.send("/x");
    assert_eq!(first.wait().code(), Some(0));
    // No --server and no interfaces to search: only memory can find it.
    let mut again = run(&["join", "--plain", "--name", "erin"]);
    again.expect_err("rejoining the last room you used");
    again.expect_out("welcome", |l| l.starts_with("*** Welcome to remembered"));
    again.send("/x");
    assert_eq!(again.wait().code(), Some(0));
    // Another room at the same address (or an impostor) is not joined
    // blindly: the client says so and searches instead.
    let port = lab.port();
    drop(lab);
    let _impostor = Server::start_on("127.0.0.1", port, &["--room", "impostor"]);
    let mut third = run(&["join", "--plain", "--name", "erin"]);
    third.expect_err("is not the room you used last time any more");
    assert_eq!(third.wait().code(), Some(1), "nothing else to find here");
    assert!(
        third.rest_of_stdout().is_empty(),
        "no welcome to the impostor"
    );
    let _ = std::fs::remove_dir_all(&home);
}
