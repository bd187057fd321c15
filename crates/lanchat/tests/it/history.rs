//! History that survives a restart: the real server with `--db`, stopped
//! and started again, and a database it must refuse.

use crate::support::{config_home, lanchat, Proc, Server};

/// A database file private to this test.
fn db_file(name: &str) -> String {
    let dir = config_home().join("db");
    std::fs::create_dir_all(&dir).expect("a directory for the database");
    let path = dir.join(name);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    path.display().to_string()
}

#[test]
fn history_survives_a_restart() {
    let db = db_file("restart.sqlite");
    let mut server = Server::start_with(&["--room", "lab", "--db", &db]);
    server.proc.expect_err(&format!("history is kept in {db}"));
    let mut alice = server.join("alice");
    alice.send("remember me");
    alice.expect_line("<alice> remember me");
    alice.send("/x");
    assert_eq!(alice.wait().code(), Some(0));
    server.proc.signal("-TERM");
    assert_eq!(server.proc.wait().code(), Some(0));

    let server = Server::start_with(&["--room", "lab", "--db", &db]);
    let mut bob = server.join("bob");
    let line = bob.expect_out("history", |l| l.starts_with("[earlier "));
    assert!(line.ends_with("] <alice> remember me"), "{line}");
    bob.send("and now");
    bob.expect_line("<bob> and now");
}

#[test]
fn an_unreadable_database_is_an_error_naming_it_and_is_left_alone() {
    let db = db_file("notes.sqlite");
    let notes = b"these are my notes, not a database\n".repeat(300);
    std::fs::write(&db, &notes).expect("write the file");
    let mut cmd = lanchat();
    cmd.args(["serve", "--bind", "127.0.0.1", "--port", "0", "--db", &db]);
    let mut server = Proc::spawn(cmd);
    let error = server.expect_err("history database");
    assert!(
        error.contains(&db) && error.contains("unreadable"),
        "{error}"
    );
    assert_eq!(server.wait().code(), Some(1));
    assert_eq!(std::fs::read(&db).expect("the file"), notes);
}

/// The server restarts: a `--plain` client waits for it, joins again by
/// itself, is not shown again what it saw, and nothing stored is lost.
#[test]
fn clients_come_back_after_a_server_restart_and_nothing_stored_is_lost() {
    let db = db_file("restarted.sqlite");
    let mut server = Server::start_with(&["--room", "lab", "--db", &db]);
    let port = server.port().to_string();
    let (mut alice, mut bob) = server.alice_and_bob();
    bob.send("before the restart");
    bob.expect_line("<bob> before the restart");
    alice.expect_line("<bob> before the restart");
    server.proc.signal("-TERM");
    assert_eq!(server.proc.wait().code(), Some(0));
    alice.skip_out_to("waiting", |l| {
        l == "*** the server is shutting down; waiting for it to come back"
    });

    let server = Server::start_on(
        "127.0.0.1",
        port.parse().unwrap_or(0),
        &["--room", "lab", "--db", &db],
    );
    let back = alice.skip_out_to("reconnected", |l| l.starts_with("*** reconnected"));
    assert_eq!(
        back,
        "*** reconnected; joined the room again (the server had let the name go)"
    );
    // Not shown twice: nothing earlier comes before what is live (bob
    // may come back first, or not).
    let mut carol = server.join("carol");
    let mut seen = Vec::new();
    loop {
        let line = alice.skip_out_to("carol", |_| true);
        assert!(!line.starts_with("[earlier "), "{line}: {seen:#?}");
        if line == "*** carol joined" {
            break;
        }
        seen.push(line);
    }
    // A newcomer sees everything that was stored.
    let earlier = carol.expect_out("history", |l| l.starts_with("[earlier "));
    assert!(earlier.ends_with("] <bob> before the restart"), "{earlier}");
}

/// A protocol client over plain TCP (the server runs `--allow-plaintext`),
/// reading JSON frames line by line.
struct Raw {
    write: std::net::TcpStream,
    read: std::io::BufReader<std::net::TcpStream>,
}

impl Raw {
    fn join(addr: &str, name: &str, caps: &[&str]) -> Raw {
        let stream = std::net::TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(crate::support::PATIENCE))
            .expect("a read timeout");
        let read = std::io::BufReader::new(stream.try_clone().expect("a second handle"));
        let mut raw = Raw {
            write: stream,
            read,
        };
        raw.send(&serde_json::json!({"type": "join", "name": name, "caps": caps}));
        while raw.next()["type"] != "welcome" {}
        raw
    }

    fn send(&mut self, frame: &serde_json::Value) {
        use std::io::Write;
        let line = format!("{frame}\n");
        self.write.write_all(line.as_bytes()).expect("send");
    }

    /// The next frame (the greeting too).
    fn next(&mut self) -> serde_json::Value {
        use std::io::BufRead;
        let mut line = String::new();
        let n = self.read.read_line(&mut line).expect("a frame in time");
        assert!(n > 0, "the server closed the connection");
        serde_json::from_str(&line).expect("a JSON frame")
    }
}

/// The server is killed (SIGKILL, no goodbye) while someone is talking,
/// and started again: every line it had acknowledged as stored (`stored`)
/// is in the history a newcomer sees, in order, and a `--plain` client in
/// the room comes back by itself.
#[test]
fn a_killed_server_keeps_everything_it_acknowledged() {
    let db = db_file("killed.sqlite");
    let args = [
        "--room",
        "lab",
        "--db",
        &db,
        "--history",
        "1000",
        "--allow-plaintext",
        "--rate-limit",
        "0",
    ];
    let mut server = Server::start_with(&args);
    let port = server.port();
    let mut alice = server.join("alice");
    let mut bob = Raw::join(&server.addr, "bob", &["stamps"]);
    for i in 0..300 {
        bob.send(&serde_json::json!({"type": "say", "text": format!("line {i}")}));
    }
    // Read until the server says line 150 is stored, then kill it at once.
    let (mut echoed, mut stored) = (Vec::<(u64, String)>::new(), 0u64);
    while echoed.len() <= 150 || stored < echoed[150].0 {
        let frame = bob.next();
        match frame["type"].as_str() {
            Some("message") if frame["from"] == "bob" => {
                let id = frame["id"].as_u64().expect("an id");
                echoed.push((id, frame["text"].as_str().unwrap_or_default().to_owned()));
            }
            Some("stored") => stored = stored.max(frame["id"].as_u64().expect("an id")),
            _ => {}
        }
    }
    server.proc.signal("-KILL");
    let _ = server.proc.wait();

    let server = Server::start_on("127.0.0.1", port, &args);
    let back = alice.skip_out_to("reconnected", |l| l.starts_with("*** reconnected"));
    assert_eq!(
        back,
        "*** reconnected; joined the room again (the server had let the name go)"
    );
    let mut carol = Raw::join(&server.addr, "carol", &["stamps", "history"]);
    let mut history = Vec::new();
    loop {
        let frame = carol.next();
        if frame["type"] != "history" {
            continue;
        }
        for event in frame["events"].as_array().expect("events") {
            let id = event["id"].as_u64().expect("an id");
            history.push((id, event["text"].as_str().unwrap_or_default().to_owned()));
        }
        if frame["more"] != true {
            break;
        }
    }
    let acknowledged: Vec<_> = echoed.into_iter().filter(|(id, _)| *id <= stored).collect();
    assert!(
        acknowledged.len() > 150,
        "{} acknowledged",
        acknowledged.len()
    );
    let kept: Vec<_> = history
        .into_iter()
        .filter(|(id, _)| *id <= stored)
        .collect();
    assert_eq!(kept, acknowledged, "the stored history, in order");
}
