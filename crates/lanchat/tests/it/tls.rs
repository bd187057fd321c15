//! Encryption as a user meets it: a new room is pinned and later joins are
//! silent, a changed key is refused loudly (and `lanchat forget` clears
//! it), `--fingerprint`, the room passphrase, plaintext clients, a man in
//! the middle with its own key, and spoofed discovery answers.
//!
//! Each test keeps its client's `known_rooms` in a directory of its own,
//! and its servers' identities in files of its own, so tests running at
//! once never see each other's pins.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::support::{config_home, lanchat, Proc, Server, PATIENCE};

/// A fresh directory for one test.
fn home(test: &str) -> PathBuf {
    let dir = config_home().join("tls").join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `lanchat serve` on `bind:port` for room `room` with the identity at
/// `identity`, plus `extra`.
fn serve(bind: &str, port: u16, room: &str, identity: &Path, extra: &[&str]) -> Server {
    let identity = identity.display().to_string();
    let mut args = vec!["--room", room, "--identity", &identity];
    args.extend_from_slice(extra);
    Server::start_on(bind, port, &args)
}

/// The spoken fingerprint the server printed at start.
fn spoken(server: &mut Server) -> String {
    let line = server.proc.expect_err("to compare aloud:");
    let after = line.split("to compare aloud: ").nth(1).unwrap();
    after.split("   ").next().unwrap().to_owned()
}

/// A `--plain` client whose data directory (and so `known_rooms`) is `home`.
fn client(home: &Path, args: &[&str]) -> Proc {
    let mut cmd = lanchat();
    cmd.env("XDG_DATA_HOME", home.join("data"))
        .args(["join", "--plain"])
        .args(args);
    Proc::spawn(cmd)
}

fn known_rooms(home: &Path) -> String {
    std::fs::read_to_string(home.join("data/lanchat/known_rooms")).unwrap_or_default()
}

/// Joins as `name`, says one line, leaves; returns stderr.
fn visit(home: &Path, addr: &str, name: &str, extra: &[&str]) -> Vec<String> {
    let mut args = vec!["--server", addr, "--name", name];
    args.extend_from_slice(extra);
    let mut p = client(home, &args);
    p.expect_out("welcome", |l| l.starts_with("*** Welcome to "));
    p.send("/x");
    assert_eq!(p.wait().code(), Some(0));
    p.rest_of_stderr()
}

/// A client that must be refused: exit 1, nothing on stdout; its stderr.
fn refused(mut p: Proc) -> Vec<String> {
    assert_eq!(p.wait().code(), Some(1));
    assert_eq!(p.rest_of_stdout(), Vec::<String>::new());
    p.rest_of_stderr()
}

#[test]
fn a_new_room_is_pinned_later_joins_are_silent_and_a_changed_key_is_refused() {
    let home = home("tofu");
    let mut server = serve("127.0.0.1", 0, "tofu", &home.join("a.pem"), &[]);
    let spoken_a = spoken(&mut server);
    let addr = server.addr.clone();

    // First use: told, and pinned.
    let mut first = client(&home, &["--server", &addr, "--name", "ann"]);
    let new = first.expect_err("new room, fingerprint sha256:");
    assert!(new.contains(&spoken_a), "{new}");
    first.expect_out("welcome", |l| l.starts_with("*** Welcome to tofu, ann!"));
    first.send("/x");
    assert_eq!(first.wait().code(), Some(0));
    let pins = known_rooms(&home);
    let pin = pins
        .lines()
        .find(|l| !l.starts_with('#'))
        .unwrap()
        .to_owned();
    assert!(
        pin.starts_with(&format!("{addr} sha256:")) && pin.ends_with(" tofu"),
        "{pin}"
    );

    // Second use: nothing about keys but "verified".
    let errors = visit(&home, &addr, "ann", &[]);
    assert!(errors.iter().all(|l| !l.contains("new room")), "{errors:?}");
    assert!(
        errors.iter().any(|l| l.contains("key verified")),
        "{errors:?}"
    );

    // The host's key changes (same address, same room): refused loudly.
    drop(server);
    let port = addr.rsplit(':').next().unwrap().parse().unwrap();
    let mut server_b = serve("127.0.0.1", port, "tofu", &home.join("b.pem"), &[]);
    let spoken_b = spoken(&mut server_b);
    let errors = refused(client(&home, &["--server", &addr, "--name", "ann"])).join("\n");
    let old = pin.split(' ').nth(1).unwrap();
    assert!(errors.contains("shows a different key"), "{errors}");
    assert!(errors.contains(old), "names the pinned key: {errors}");
    assert!(
        errors.contains("known_rooms line 4"),
        "names the file line: {errors}"
    );
    assert!(errors.contains("lanchat forget tofu"), "{errors}");
    assert_ne!(spoken_a, spoken_b);
    assert_eq!(known_rooms(&home), pins, "never re-pinned");

    // Forgetting the pin lets the new key in, as a new room.
    let mut forget = lanchat();
    forget
        .env("XDG_DATA_HOME", home.join("data"))
        .args(["forget", "tofu"]);
    let mut forget = Proc::spawn(forget);
    forget.expect_err(&format!("forgot {addr} {old}"));
    assert_eq!(forget.wait().code(), Some(0));
    let errors = visit(&home, &addr, "ann", &[]);
    assert!(
        errors
            .iter()
            .any(|l| l.contains("new room") && l.contains(&spoken_b)),
        "{errors:?}"
    );
}

#[test]
fn fingerprint_admits_only_that_key() {
    let home = home("fingerprint");
    let mut server = serve("127.0.0.1", 0, "fp", &home.join("a.pem"), &[]);
    let spoken = spoken(&mut server);

    let wrong = "AAAA BBBB CCCC DDDD EEEE";
    let p = client(
        &home,
        &[
            "--server",
            &server.addr,
            "--name",
            "ann",
            "--fingerprint",
            wrong,
        ],
    );
    let errors = refused(p).join("\n");
    assert!(
        errors.contains("not the one given with --fingerprint"),
        "{errors}"
    );
    assert_eq!(known_rooms(&home), "", "nothing pinned");

    let errors = visit(&home, &server.addr, "ann", &["--fingerprint", &spoken]);
    assert!(
        errors.iter().any(|l| l.contains("(--fingerprint)")),
        "{errors:?}"
    );
    assert!(known_rooms(&home).contains(" fp\n"), "pinned");

    let mut typo = client(&home, &["--server", &server.addr, "--fingerprint", "ABC1"]);
    typo.expect_err("--fingerprint:");
    assert_eq!(typo.wait().code(), Some(2), "a usage error");
}

#[test]
fn a_passphrase_room_admits_the_right_passphrase_only() {
    let home = home("passphrase");
    let (right, wrong) = (home.join("right"), home.join("wrong"));
    std::fs::write(&right, "correct horse battery staple\n").unwrap();
    std::fs::write(&wrong, "correct horse battery stapler\n").unwrap();
    let mut server = serve(
        "127.0.0.1",
        0,
        "secret",
        &home.join("a.pem"),
        &["--passphrase-file", right.to_str().unwrap()],
    );
    let wrong_args = [
        "--server",
        &server.addr,
        "--name",
        "eve",
        "--passphrase-file",
    ];
    let mut args = wrong_args.to_vec();
    args.push(wrong.to_str().unwrap());
    let errors = refused(client(&home, &args)).join("\n");
    assert!(errors.contains("the passphrase did not match"), "{errors}");
    assert_eq!(
        known_rooms(&home),
        "",
        "a room that failed its proof is not pinned"
    );

    let right_arg = ["--passphrase-file", right.to_str().unwrap()];
    let errors = visit(&home, &server.addr, "ann", &right_arg);
    assert!(errors.iter().any(|l| l.contains("new room")), "{errors:?}");
    assert!(known_rooms(&home).contains(" secret\n"));
    // Nothing the server printed holds the passphrase.
    server.proc.signal("-TERM");
    let log = server.proc.rest_of_stderr().join("\n");
    assert!(log.contains("wrong passphrase"), "{log}");
    assert!(!log.contains("horse"), "{log}");
}

/// What a plaintext (protocol v1) client reads from `addr` after sending
/// `lines`, until the server closes or goes quiet.
fn plaintext(addr: &str, lines: &[&str]) -> Vec<String> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let mut reader = BufReader::new(s.try_clone().unwrap());
    let mut got = Vec::new();
    let mut line = String::new();
    // The greeting comes first (after the server's wait for TLS).
    reader.read_line(&mut line).unwrap();
    got.push(line.trim_end().to_owned());
    for l in lines {
        let _ = s.write_all(format!("{l}\n").as_bytes());
    }
    let deadline = Instant::now() + PATIENCE;
    while Instant::now() < deadline {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => got.push(line.trim_end().to_owned()),
        }
    }
    got
}

#[test]
fn plaintext_clients_are_refused_unless_allowed() {
    let home = home("plaintext");
    let server = serve("127.0.0.1", 0, "plain", &home.join("a.pem"), &[]);
    let got = plaintext(&server.addr, &[r#"{"type":"join","name":"old"}"#]);
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(
        got[0].starts_with(r#"{"lanchat":1,"type":"hello""#),
        "{got:?}"
    );
    assert!(got[0].contains(r#""fingerprint":"sha256:"#), "{got:?}");
    assert!(got[1].contains(r#""code":"tls_required""#), "{got:?}");
    assert!(got[1].contains("--allow-plaintext"), "{got:?}");

    let server = serve(
        "127.0.0.1",
        0,
        "plain",
        &home.join("a.pem"),
        &["--allow-plaintext"],
    );
    let mut alice = client(&home, &["--server", &server.addr, "--name", "alice"]);
    alice.expect_out("welcome", |l| l.starts_with("*** Welcome to plain, alice!"));
    let got = plaintext(
        &server.addr,
        &[
            r#"{"type":"join","name":"old"}"#,
            r#"{"type":"input","text":"hi from v1"}"#,
            r#"{"type":"input","text":"/x"}"#,
        ],
    );
    assert!(got[1].contains(r#""type":"welcome""#), "{got:?}");
    assert!(got.iter().any(|l| l.contains("hi from v1")), "{got:?}");
    alice.expect_line("*** old joined");
    alice.expect_line("<old> hi from v1");
}

/// A man in the middle: terminates TLS with its own key at a new address
/// and relays to `upstream` over TLS, reading everything.
struct Mitm {
    addr: String,
    _runtime: tokio::runtime::Runtime,
}

impl Mitm {
    fn start(upstream: &str, identity: &Path) -> Mitm {
        let identity = lanchat_server::tls::Identity::load_or_create(identity).unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(identity.server_config().unwrap());
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let upstream = upstream.to_owned();
        runtime.spawn(async move {
            while let Ok((victim, _)) = listener.accept().await {
                let (acceptor, upstream) = (acceptor.clone(), upstream.clone());
                tokio::spawn(async move {
                    let Ok(mut victim) = acceptor.accept(victim).await else {
                        return;
                    };
                    let Ok(server) = tokio::net::TcpStream::connect(&upstream).await else {
                        return;
                    };
                    let seen = lanchat_client::tls::Seen::default();
                    let Ok(server) = lanchat_client::tls::handshake(server, seen).await else {
                        return;
                    };
                    let mut server = server.stream;
                    let _ = tokio::io::copy_bidirectional(&mut victim, &mut server).await;
                });
            }
        });
        Mitm {
            addr,
            _runtime: runtime,
        }
    }
}

#[test]
fn a_man_in_the_middle_is_caught_by_the_pin_and_by_the_passphrase() {
    let home = home("mitm");
    let pass = home.join("pass");
    std::fs::write(&pass, "open sesame\n").unwrap();
    let pass_arg = ["--passphrase-file", pass.to_str().unwrap()];

    // A pinned client: the pin catches it.
    let server = serve("127.0.0.1", 0, "mitm", &home.join("real.pem"), &[]);
    visit(&home, &server.addr, "ann", &[]);
    let mitm = Mitm::start(&server.addr, &home.join("mitm.pem"));
    let errors = refused(client(&home, &["--server", &mitm.addr, "--name", "ann"])).join("\n");
    assert!(errors.contains("shows a different key"), "{errors}");

    // A first-time client of a passphrase room: the PAKE catches it, even
    // with the right passphrase, and nothing is pinned.
    let fresh = self::home("mitm-fresh");
    let server = serve(
        "127.0.0.1",
        0,
        "mitm2",
        &home.join("real.pem"),
        &["--passphrase-file", pass.to_str().unwrap()],
    );
    let mitm = Mitm::start(&server.addr, &home.join("mitm.pem"));
    let mut args = vec!["--server", mitm.addr.as_str(), "--name", "bob"];
    args.extend_from_slice(&pass_arg);
    let errors = refused(client(&fresh, &args)).join("\n");
    assert!(errors.contains("is not the real room"), "{errors}");
    assert_eq!(known_rooms(&fresh), "");
    // Straight to the room, the same client and passphrase get in.
    visit(&fresh, &server.addr, "bob", &pass_arg);
}

/// Answers discovery queries on `addr` (UDP) with `reply`, until dropped.
struct FakeResponder {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeResponder {
    fn start(addr: SocketAddr, reply: String) -> FakeResponder {
        let socket = UdpSocket::bind(addr).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 1024];
            // Bounded: at most 200 answers, and only until dropped.
            let mut answers = 0;
            while !stopping.load(std::sync::atomic::Ordering::Relaxed) && answers < 200 {
                if let Ok((n, from)) = socket.recv_from(&mut buf) {
                    if buf[..n].starts_with(b"{\"lanchat\":") {
                        let _ = socket.send_to(reply.as_bytes(), from);
                        answers += 1;
                    }
                }
            }
        });
        FakeResponder {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for FakeResponder {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A free TCP port on `ip`.
fn free_port(ip: &str) -> u16 {
    TcpListener::bind((ip, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn a_spoofed_discovery_answer_never_redirects_a_pinned_client() {
    let home = home("spoof");
    // The real room, pinned by its user.
    let mut real = serve(
        "127.0.0.1",
        0,
        "spoofed",
        &home.join("real.pem"),
        &["--no-announce"],
    );
    let real_fp = {
        let line = real.proc.expect_err("fingerprint sha256:");
        line.rsplit(' ').next().unwrap().to_owned()
    };
    visit(&home, &real.addr, "ann", &[]);

    // An impostor at another address, with its own key, calling itself
    // by the same name, and answering discovery for it.
    let port = free_port("127.0.0.2");
    let _impostor = serve(
        "127.0.0.2",
        port,
        "spoofed",
        &home.join("fake.pem"),
        &["--no-announce"],
    );
    let find = [
        "--via",
        "udp",
        "--scan-range",
        "127.0.0.2/32",
        "--port",
        &port.to_string(),
        "--name",
        "ann",
    ];
    for (claim, why) in [
        // Claiming the real room's key: the handshake shows another.
        (real_fp.as_str(), "someone may be answering for the room"),
        // Honest about its own key: the room's name is pinned to another.
        ("", "shows a different key"),
    ] {
        let fingerprint = if claim.is_empty() {
            String::new()
        } else {
            format!(r#","fingerprint":"{claim}""#)
        };
        let reply = format!(
            r#"{{"lanchat":1,"type":"room","room":"spoofed","server":"evil","port":{port}{fingerprint}}}"#
        );
        let responder = FakeResponder::start(format!("127.0.0.2:{port}").parse().unwrap(), reply);
        let errors = refused(client(&home, &find)).join("\n");
        assert!(errors.contains(why), "{errors}");
        if claim.is_empty() {
            continue;
        }
        // `lanchat discover` shows the claim and how it stands: the room's
        // pinned key, at an address it was never pinned at.
        let mut discover = lanchat();
        discover
            .env("XDG_DATA_HOME", home.join("data"))
            .args(["discover"])
            .args(&find[..6]);
        let mut discover = Proc::spawn(discover);
        let line = discover.expect_out("the room", |l| l.starts_with("spoofed  127.0.0.2"));
        assert!(
            line.contains("(pinned key, new address: checked on joining)"),
            "{line}"
        );
        drop(responder);
    }
    assert!(
        !known_rooms(&home).contains("127.0.0.2"),
        "the impostor is not pinned"
    );
}

#[test]
fn irc_clients_can_come_in_over_tls_with_the_rooms_identity() {
    let home = home("irc-tls");
    let mut server = serve(
        "127.0.0.1",
        0,
        "irctls",
        &home.join("a.pem"),
        &["--irc-tls", "0"],
    );
    let full = {
        let line = server.proc.expect_err("fingerprint sha256:");
        line.rsplit(' ').next().unwrap().to_owned()
    };
    // "IRC door over TLS on 127.0.0.1:PORT: /connect -tls ..."
    let line = server.proc.expect_err("IRC door over TLS on ");
    let after = line.split(" on ").nth(1).unwrap();
    let door = after
        .split_whitespace()
        .next()
        .unwrap()
        .trim_end_matches(':');
    let mut alice = client(&home, &["--server", &server.addr, "--name", "alice"]);
    alice.expect_out("welcome", |l| {
        l.starts_with("*** Welcome to irctls, alice!")
    });

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let shown = runtime.block_on(async {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
        let tcp = tokio::net::TcpStream::connect(door).await.unwrap();
        let seen = lanchat_client::tls::Seen::default();
        let tls = lanchat_client::tls::handshake(tcp, seen).await.unwrap();
        let shown = tls.fingerprint;
        let (read, mut write) = tokio::io::split(tls.stream);
        write
            .write_all(b"NICK ircy\r\nUSER ircy 0 * :IRC user\r\n")
            .await
            .unwrap();
        let mut lines = tokio::io::BufReader::new(read).lines();
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let line = tokio::time::timeout_at(deadline, lines.next_line())
                .await
                .expect("registered in time")
                .unwrap()
                .expect("a line");
            if line.contains(" 366 ") {
                break;
            }
        }
        write
            .write_all(b"PRIVMSG #irctls :hello over tls\r\n")
            .await
            .unwrap();
        shown
    });
    assert_eq!(
        shown.to_string(),
        full,
        "the door shows the room's identity"
    );
    alice.expect_line("*** ircy joined");
    alice.expect_line("<ircy> hello over tls");
}

#[test]
fn a_passphrase_room_opens_no_irc_door() {
    let home = home("irc-passphrase");
    let pass = home.join("pass");
    std::fs::write(&pass, "open sesame\n").unwrap();
    let mut cmd = lanchat();
    cmd.args(["serve", "--bind", "127.0.0.1", "--port", "0", "--irc", "0"])
        .arg("--passphrase-file")
        .arg(&pass);
    let mut p = Proc::spawn(cmd);
    p.expect_err("a room with a passphrase cannot open an IRC door");
    assert_eq!(p.wait().code(), Some(2));
}
