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
