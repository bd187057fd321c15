//! What the user sees when something is wrong: not a lanchat server, no
//! server at all, a taken port, garbage on the wire.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};

use crate::support::{config_home, lanchat, Proc, Server};

/// A one-connection TCP service on loopback that behaves like `serve`.
fn fake_service(
    serve: impl FnOnce(TcpStream) + Send + 'static,
) -> (String, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let thread = std::thread::spawn(move || {
        if let Ok((s, _)) = listener.accept() {
            serve(s);
        }
    });
    (addr, thread)
}

/// A one-connection lanchat-like service over TLS, with the key the real
/// servers of this test process have (so pins made by other tests of
/// room "lab" hold).
fn fake_tls_service(
    serve: impl FnOnce(&mut dyn ReadWrite) + Send + 'static,
) -> (String, std::thread::JoinHandle<()>) {
    let path = config_home().join("data/lanchat/identity.pem");
    let identity = lanchat_server::tls::Identity::load_or_create(&path).unwrap();
    let config = identity.server_config().unwrap();
    fake_service(move |s| {
        let Ok(conn) = rustls::ServerConnection::new(config) else {
            return;
        };
        let mut tls = rustls::StreamOwned::new(conn, s);
        serve(&mut tls);
        tls.conn.send_close_notify();
        let _ = tls.flush();
    })
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

fn join(addr: &str) -> Proc {
    let mut cmd = lanchat();
    cmd.args(["join", "--plain", "--server", addr, "--name", "x"]);
    Proc::spawn(cmd)
}

#[test]
fn a_service_that_talks_first_is_not_lanchat() {
    let (addr, service) = fake_service(|mut s| {
        let _ = s.write_all(b"SSH-2.0-OpenSSH_9.2\r\n");
        let mut sink = [0u8; 64];
        let _ = s.read(&mut sink);
    });
    let mut p = join(&addr);
    p.expect_err("is not a lanchat server: it sent \"SSH-2.0-OpenSSH_9.2");
    assert_eq!(p.wait().code(), Some(1));
    drop(p);
    let _ = service.join();
}

#[test]
fn an_http_server_is_not_lanchat() {
    // An HTTP server answers the TLS ClientHello as a bad request.
    let (addr, service) = fake_service(|mut s| {
        let mut req = [0u8; 1024];
        if let Ok(n) = s.read(&mut req) {
            if n > 0 {
                let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n");
            }
        }
    });
    let mut p = join(&addr);
    p.expect_err("is not a lanchat server: it sent \"HTTP/1.1 400 Bad Request");
    assert_eq!(p.wait().code(), Some(1));
    drop(p);
    let _ = service.join();
}

#[test]
fn a_listener_that_hangs_up_is_not_lanchat() {
    let (addr, service) = fake_service(drop);
    let mut p = join(&addr);
    p.expect_err("closed the connection without a greeting");
    assert_eq!(p.wait().code(), Some(1));
    let _ = service.join();
}

#[test]
fn nothing_listening_is_a_clear_error() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut p = join(&format!("127.0.0.1:{port}"));
    p.expect_err("could not connect to 127.0.0.1");
    assert_eq!(p.wait().code(), Some(1));
}

#[test]
fn a_taken_port_is_reported_and_the_server_exits_nonzero() {
    let first = Server::start();
    let port = first.addr.rsplit(':').next().unwrap().to_owned();
    let mut cmd = lanchat();
    cmd.args(["serve", "--bind", "127.0.0.1", "--port", &port]);
    let mut second = Proc::spawn(cmd);
    second.expect_err("already in use");
    assert_eq!(second.wait().code(), Some(1));
}

#[test]
fn garbage_on_the_wire_does_not_disturb_the_room() {
    let server = Server::start();
    let (mut alice, mut bob) = server.alice_and_bob();
    for junk in [
        &b"GET / HTTP/1.1\r\n\r\n"[..],
        b"\xff\xfe\x00garbage\n",
        &[b'z'; 100_000],
    ] {
        let mut s = TcpStream::connect(&server.addr).unwrap();
        let _ = s.write_all(junk);
        let mut sink = Vec::new();
        let _ = s.read_to_end(&mut sink); // the server closes on us
    }
    bob.send("still works");
    alice.expect_line("<bob> still works");
}

#[test]
fn a_bad_room_name_is_refused() {
    let mut cmd = lanchat();
    cmd.args(["serve", "--bind", "127.0.0.1", "--port", "0", "--room", " "]);
    let mut p = Proc::spawn(cmd);
    p.expect_err("the room name is empty");
    assert_eq!(p.wait().code(), Some(2), "a usage error");
}

#[test]
fn a_client_over_the_per_address_limit_is_told_why() {
    let server = Server::start_with(&["--room", "lab", "--max-per-ip", "1"]);
    let _alice = server.join("alice");
    let mut bob = server.client(&["--name", "bob"]);
    bob.expect_err("disconnected: too many connections from your address");
    assert_eq!(bob.wait().code(), Some(1));
}

#[test]
fn nonsense_limits_are_refused() {
    for bad in [
        &["--rate-limit=-1"][..],
        &["--ping-interval", "0"],
        &["--max-message-bytes", "100000"],
    ] {
        let mut cmd = lanchat();
        cmd.args(["serve", "--bind", "127.0.0.1", "--port", "0"])
            .args(bad);
        let mut p = Proc::spawn(cmd);
        let flag = bad[0].split('=').next().unwrap_or_default();
        p.expect_err(flag);
        assert_eq!(p.wait().code(), Some(2), "a usage error: {bad:?}");
    }
}

/// `--port` says which port `--server` is on when `--server` names none;
/// naming two different ports, or a port that is not one, is a usage
/// error (exit 2), as every bad argument is.
#[test]
fn server_and_port_work_together_and_bad_ones_are_usage_errors() {
    let server = Server::start();
    let port = server.port().to_string();
    let mut cmd = lanchat();
    cmd.args([
        "join",
        "--plain",
        "--server",
        "127.0.0.1",
        "--port",
        &port,
        "--name",
        "eve",
    ]);
    let mut eve = Proc::spawn(cmd);
    eve.expect_out("welcome", |l| l.starts_with("*** Welcome to lab, eve!"));
    eve.send("/quit");
    assert_eq!(eve.wait().code(), Some(0));

    let other = if port == "9" { "10" } else { "9" };
    let conflicting = format!("127.0.0.1:{port}");
    for (args, why) in [
        (vec!["--server", "127.0.0.1:abc"], "'abc' is not a port"),
        (vec!["--server", &conflicting, "--port", other], "give one"),
    ] {
        let mut cmd = lanchat();
        cmd.args(["join", "--plain", "--name", "eve"]).args(&args);
        let mut p = Proc::spawn(cmd);
        p.expect_err(why);
        assert_eq!(p.wait().code(), Some(2), "{args:?}");
    }
}

/// A server that goes away mid-chat: stdout says so (the plain contract's
/// `*** disconnected:` line), stderr says why once, and the exit code is 1.
#[test]
fn losing_the_server_is_said_on_stdout_and_once_on_stderr() {
    let (addr, service) = fake_tls_service(|s| {
        let _ =
            s.write_all(b"{\"lanchat\":1,\"type\":\"hello\",\"room\":\"lab\",\"server\":\"pc\",\"software\":\"fake\"}\n");
        let mut join = [0u8; 256];
        let _ = s.read(&mut join);
        let _ =
            s.write_all(b"{\"type\":\"welcome\",\"name\":\"x\",\"room\":\"lab\",\"users\":[]}\n");
        // Then the server goes away.
    });
    let mut p = join(&addr);
    p.expect_out("welcome", |l| l.starts_with("*** Welcome to lab, x!"));
    p.expect_line("*** disconnected: the server closed the connection");
    assert_eq!(p.wait().code(), Some(1));
    let errors: Vec<String> = p
        .rest_of_stderr()
        .into_iter()
        .filter(|l| l.contains("closed the connection"))
        .collect();
    assert_eq!(errors, ["lanchat: the server closed the connection"]);
    assert!(p.rest_of_stdout().is_empty());
    let _ = service.join();
}

/// The host is told what others should type to join.
#[test]
fn serve_says_what_others_should_type() {
    let mut server = Server::start();
    let line = server.proc.expect_err("others can join with:");
    assert!(
        line.ends_with(&format!("lanchat --server {}", server.addr)),
        "{line}"
    );
}

/// Completions and the man page come from the same definitions as the
/// parser.
#[test]
fn completions_and_the_man_page_are_printed() {
    for (args, want) in [
        (&["completions", "bash"][..], "_lanchat()"),
        (&["completions", "zsh"], "#compdef lanchat"),
        (&["completions", "fish"], "complete -c lanchat"),
        (&["man"], ".TH lanchat 1"),
    ] {
        let out = lanchat().args(args).output().expect("run lanchat");
        assert!(out.status.success(), "{args:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(want), "{args:?}");
        assert!(text.contains("serve"), "{args:?} names the subcommands");
    }
}

/// A hostile server's words reach the terminal inert: escape sequences in
/// its room name and in its goodbye are shown, not obeyed.
#[test]
fn a_hostile_servers_goodbye_cannot_drive_the_terminal() {
    let (addr, service) = fake_tls_service(|s| {
        let _ = s.write_all(
            b"{\"lanchat\":1,\"type\":\"hello\",\"room\":\"lab\",\"server\":\"pc\",\"software\":\"fake\"}\n",
        );
        let mut join = [0u8; 256];
        let _ = s.read(&mut join);
        let _ = s.write_all(
            b"{\"type\":\"welcome\",\"name\":\"x\",\"room\":\"lab\",\"users\":[]}\n\
              {\"type\":\"bye\",\"reason\":\"bye \\u001b]0;pwned\\u0007 \\u001b[2J\"}\n",
        );
    });
    let mut p = join(&addr);
    assert_eq!(p.wait().code(), Some(1));
    let all = [p.rest_of_stdout(), p.rest_of_stderr()].concat().join("\n");
    assert!(all.contains("disconnected: bye "), "{all}");
    assert!(!all.contains('\u{1b}') && !all.contains('\u{7}'), "{all:?}");
    let _ = service.join();
}

/// The server starts itself again in place with glibc's tunables set (the
/// same process: its PID is the one started), once: it keeps a user's own
/// setting of the same tunable, a restarted server never restarts again,
/// and it serves either way.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[test]
fn the_server_runs_with_its_allocator_tunables() {
    // The server's variables that say how it was started.
    let environ = |server: &Server| {
        let raw = std::fs::read(format!("/proc/{}/environ", server.proc.pid())).unwrap();
        raw.split(|b| *b == 0)
            .filter_map(|v| std::str::from_utf8(v).ok())
            .filter(|v| v.starts_with("GLIBC_TUNABLES=") || v.starts_with("LANCHAT_RESTARTED="))
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let serve = || {
        let mut cmd = lanchat();
        cmd.args([
            "serve",
            "--bind",
            "127.0.0.1",
            "--port",
            "0",
            "--room",
            "lab",
        ]);
        cmd
    };
    let server = Server::start();
    assert_eq!(
        environ(&server),
        [
            "GLIBC_TUNABLES=glibc.malloc.tcache_max=256",
            "LANCHAT_RESTARTED=1"
        ]
    );
    let mut alice = server.join("alice");
    alice.send("hello");
    alice.expect_line("<alice> hello");

    let mut cmd = serve();
    cmd.env(
        "GLIBC_TUNABLES",
        "glibc.malloc.check=0:glibc.malloc.tcache_max=128",
    );
    let server = Server::spawn(cmd);
    // Not restarted with ours added. (glibc rewrites the variable in
    // place as it reads it, so the rest is not compared.)
    let env = environ(&server);
    assert!(
        env.iter()
            .all(|v| !v.contains("tcache_max=256") && !v.starts_with("LANCHAT_RESTARTED")),
        "{env:?}"
    );
    let mut bob = server.join("bob");
    bob.send("hi");
    bob.expect_line("<bob> hi");

    // Already restarted once (as when glibc dropped the variable): no
    // second restart, so no loop.
    let mut cmd = serve();
    cmd.env("LANCHAT_RESTARTED", "1");
    let server = Server::spawn(cmd);
    assert_eq!(environ(&server), ["LANCHAT_RESTARTED=1"]);
    let mut carol = server.join("carol");
    carol.send("hey");
    carol.expect_line("<carol> hey");
}
