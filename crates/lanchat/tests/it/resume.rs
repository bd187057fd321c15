//! Coming back after the wifi blinks, end to end: a `--plain` client
//! reaches the server through a relay of the test's own, the relay cuts
//! every connection, and the client resumes by itself.

use crate::support::{Relay, Server};

#[test]
fn a_plain_client_resumes_after_its_link_is_cut_and_misses_nothing() {
    let server = Server::start();
    let relay = Relay::to(&server.addr);
    let mut bob = server.join("bob");
    let mut alice = {
        let mut cmd = crate::support::lanchat();
        cmd.args([
            "join",
            "--plain",
            "--server",
            &relay.addr,
            "--name",
            "alice",
        ]);
        crate::support::Proc::spawn(cmd)
    };
    alice.expect_out("welcome", |l| l.starts_with("*** Welcome to "));
    bob.expect_line("*** alice joined");
    bob.send("before");
    bob.expect_line("<bob> before");
    alice.expect_line("<bob> before");

    relay.cut();
    // Bob is told once; no departure.
    bob.expect_line("*** alice lost connection; holding the name");
    bob.send("while you were away");
    bob.expect_line("<bob> while you were away");
    bob.send("/w alice psst");
    bob.expect_line("[whisper to alice] psst");

    // Alice says so, comes back, and gets what she missed exactly once.
    alice.expect_line("*** connection lost; reconnecting (attempt 1)...");
    let back = alice.skip_out_to("reconnected", |l| l.starts_with("*** reconnected"));
    assert_eq!(back, "*** reconnected; back in the room");
    alice.expect_line("<bob> while you were away");
    alice.expect_line("[whisper from bob] psst");
    bob.expect_line("*** alice is back");
    alice.send("I'm back");
    bob.expect_line("<alice> I'm back");
    alice.expect_line("<alice> I'm back");
    alice.send("/x");
    assert_eq!(alice.wait().code(), Some(0));
    bob.expect_line("*** alice left");
}

/// A laptop lid closed for longer than the grace period: the room saw one
/// departure, and the client, once awake, joins afresh by itself.
#[test]
fn a_client_back_after_the_grace_period_joins_afresh() {
    let server = Server::start_with(&[
        "--room",
        "lab",
        "--ping-interval",
        "0.3",
        "--ping-timeout",
        "0.8",
        "--resume-grace",
        "0.5",
    ]);
    let (mut alice, mut bob) = server.alice_and_bob();
    // The lid closes: the process stops, its connection goes silent.
    alice.signal("-STOP");
    bob.expect_line("*** alice lost connection; holding the name");
    bob.expect_line("*** alice dropped (timed out)");
    alice.signal("-CONT");
    let back = alice.skip_out_to("reconnected", |l| l.starts_with("*** reconnected"));
    assert_eq!(
        back,
        "*** reconnected; joined the room again (the server had let the name go)"
    );
    bob.expect_line("*** alice joined");
    alice.send("I'm awake");
    bob.expect_line("<alice> I'm awake");
}
