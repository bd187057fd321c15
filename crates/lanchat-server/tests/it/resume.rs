//! Resuming after a connection loss: the name is held for the grace
//! period, the client comes back with its token and the id of the last
//! event it saw, and gets everything it missed exactly once.

use std::time::Duration;

use lanchat_proto::{ClientFrame, LeaveReason, ServerFrame};

use crate::support::{join_with, message, Client, TestServer};

/// Joins as `name` asking to be able to resume; returns the client and
/// its token.
async fn join_resumable(server: &TestServer, name: &str) -> (Client, String) {
    let mut c = server.connect().await;
    c.send(&join_with(name, &["resume"])).await;
    assert!(matches!(c.recv().await, ServerFrame::Welcome { .. }));
    let token = expect_token(&mut c).await;
    (c, token)
}

async fn expect_token(c: &mut Client) -> String {
    match c.recv().await {
        ServerFrame::Resumable { token, grace } => {
            assert!(grace > 0);
            token
        }
        other => panic!("no token: {other:?}"),
    }
}

/// The default grace period, in seconds.
fn server_grace() -> u64 {
    lanchat_server::Config::new("", "").resume_grace.as_secs()
}

fn resume(token: &str, last_id: u64) -> ClientFrame {
    ClientFrame::Resume {
        token: token.into(),
        last_id,
        caps: vec!["stamps".into(), "labels".into()],
        label: None,
    }
}

fn held(name: &str) -> ServerFrame {
    ServerFrame::Held {
        id: 0,
        ts: String::new(),
        name: name.into(),
    }
}

fn back(name: &str) -> ServerFrame {
    ServerFrame::Back {
        id: 0,
        ts: String::new(),
        name: name.into(),
    }
}

#[tokio::test]
async fn a_dropped_member_is_held_and_comes_back_missing_nothing_twice() {
    let server = TestServer::start().await;
    let (mut alice, token) = join_resumable(&server, "alice").await;
    let mut bob = server.join("bob").await;
    let _ = alice.recv().await; // bob joined
                                // The default grace period, as promised.
    assert_eq!(server_grace(), 120);
    bob.say("before").await;
    let last_seen = alice.recv_stamped().await.id();
    let _ = bob.recv().await;

    // Alice's wifi drops: bob is told once, and no departure.
    alice.reset();
    assert_eq!(bob.recv().await, held("alice"));
    bob.say("while you were away").await;
    assert_eq!(bob.recv().await, message("bob", "while you were away"));
    bob.say("/w alice psst").await;
    let _ = bob.recv().await;

    let mut alice = server.connect().await;
    alice.send(&resume(&token, last_seen)).await;
    let ServerFrame::Welcome { name, users, .. } = alice.recv().await else {
        panic!("no welcome")
    };
    assert_eq!((name.as_str(), users), ("alice", vec!["bob".to_owned()]));
    // What she missed, once each, in order; not what she had seen.
    assert_eq!(alice.recv().await, message("bob", "while you were away"));
    let whisper = alice.recv().await;
    assert!(
        matches!(&whisper, ServerFrame::Whisper { text, .. } if text == "psst"),
        "{whisper:?}"
    );
    let new_token = expect_token(&mut alice).await;
    assert_ne!(new_token, token);
    assert_eq!(bob.recv().await, back("alice"));
    // Then live, once.
    bob.say("welcome back").await;
    assert_eq!(alice.recv().await, message("bob", "welcome back"));

    // The old token is used up.
    let mut thief = server.connect().await;
    thief.send(&resume(&token, 0)).await;
    let refused = thief.recv().await;
    assert!(
        matches!(&refused, ServerFrame::Error { code, .. } if code == "cannot_resume"),
        "{refused:?}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_client_that_notices_first_takes_over_without_announcements() {
    let server = TestServer::start().await;
    let (mut old, token) = join_resumable(&server, "alice").await;
    let mut bob = server.join("bob").await;
    let _ = old.recv().await;
    bob.say("one").await;
    let seen = old.recv_stamped().await.id();
    bob.say("two").await;
    let _ = bob.recv().await;
    let _ = bob.recv().await;

    // The server still thinks `old` is fine; the client knows better.
    let mut alice = server.connect().await;
    alice.send(&resume(&token, seen)).await;
    assert!(matches!(alice.recv().await, ServerFrame::Welcome { .. }));
    assert_eq!(alice.recv().await, message("bob", "two"));
    let _ = expect_token(&mut alice).await;
    // The old connection is closed; bob saw no departure and no return.
    let _ = old.until_closed().await;
    bob.say("three").await;
    assert_eq!(bob.recv().await, message("bob", "three"));
    assert_eq!(alice.recv().await, message("bob", "three"));
    server.shutdown().await;
}

#[tokio::test]
async fn after_the_grace_period_the_departure_is_announced_and_the_name_is_free() {
    let server = TestServer::with_config(|c| c.resume_grace = Duration::from_millis(200)).await;
    let (alice, token) = join_resumable(&server, "alice").await;
    let mut bob = server.join("bob").await;
    alice.reset();
    assert_eq!(bob.recv().await, held("alice"));
    bob.expect_left("alice", LeaveReason::Dropped).await;
    let mut late = server.connect().await;
    late.send(&resume(&token, 0)).await;
    let refused = late.recv().await;
    assert!(
        matches!(&refused, ServerFrame::Error { code, .. } if code == "cannot_resume"),
        "{refused:?}"
    );
    // The name is free again.
    let _carol = server.join("alice").await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_client_that_does_not_ask_leaves_as_before() {
    let server = TestServer::start().await;
    let (alice, bob) = server.alice_and_bob().await;
    drop(bob);
    let mut alice = alice;
    alice.expect_left("bob", LeaveReason::Dropped).await;
    server.shutdown().await;
}
