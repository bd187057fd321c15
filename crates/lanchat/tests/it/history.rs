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
