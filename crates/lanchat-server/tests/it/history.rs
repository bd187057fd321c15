//! History: a newcomer that asks (the `history` capability) is told the
//! earlier conversation after its welcome.

use lanchat_proto::{ClientFrame, ServerFrame};

use crate::support::{join_with, message, TestServer};

fn join_with_history(name: &str) -> ClientFrame {
    join_with(name, &["history"])
}

#[tokio::test]
async fn a_newcomer_who_asks_is_told_the_conversation_and_only_its_own_whispers() {
    let server = TestServer::start().await;
    let (mut alice, mut bob) = server.alice_and_bob().await;
    alice.say("hello bob").await;
    bob.say("/w alice just for you").await;
    bob.say("/me waves").await;
    // Everything said has reached both before anyone new arrives.
    for _ in 0..3 {
        let _ = alice.recv().await;
    }
    for _ in 0..3 {
        let _ = bob.recv().await;
    }

    let mut carol = server.connect().await;
    carol.send(&join_with_history("carol")).await;
    assert!(matches!(carol.recv().await, ServerFrame::Welcome { .. }));
    let ServerFrame::History { events, more } = carol.recv_stamped().await else {
        panic!("no history")
    };
    assert!(!more);
    // Original ids and times, in order.
    let ids: Vec<u64> = events.iter().map(ServerFrame::id).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]) && ids[0] > 0, "{ids:?}");
    assert!(events.iter().all(|e| e.ts().is_some_and(|t| !t.is_empty())));
    let said: Vec<ServerFrame> = events.into_iter().map(ServerFrame::unstamped).collect();
    let mut waves = message("bob", "waves");
    if let ServerFrame::Message { action, .. } = &mut waves {
        *action = true;
    }
    assert_eq!(said, [message("alice", "hello bob"), waves]);

    // Alice, back under her name, sees her whisper too.
    drop(alice);
    let _ = bob.recv().await;
    let _ = carol.recv().await;
    let mut alice = server.connect().await;
    alice.send(&join_with_history("alice")).await;
    assert!(matches!(alice.recv().await, ServerFrame::Welcome { .. }));
    let ServerFrame::History { events, .. } = alice.recv().await else {
        panic!("no history")
    };
    assert_eq!(events.len(), 3, "{events:#?}");
    assert!(matches!(&events[1], ServerFrame::Whisper { text, .. } if text == "just for you"));

    // A client that does not ask gets none: the next thing it sees is live.
    let mut dave = server.join("dave").await;
    alice.say("live").await;
    assert_eq!(dave.recv().await, message("alice", "live"));
    server.shutdown().await;
}

#[tokio::test]
async fn a_long_history_is_split_under_the_frame_limit_and_can_be_off() {
    let server = TestServer::with_config(|c| c.rate_limit = 0.0).await;
    let mut alice = server.join("alice").await;
    let long = "x".repeat(4000);
    for _ in 0..100 {
        alice.say(&long).await;
        let _ = alice.recv().await;
    }
    let mut bob = server.connect().await;
    bob.send(&join_with_history("bob")).await;
    assert!(matches!(bob.recv().await, ServerFrame::Welcome { .. }));
    let mut total = 0;
    loop {
        let line = bob.try_recv_json().await.expect("a frame");
        assert!(line.to_string().len() < 16 * 1024);
        let frame: ServerFrame = serde_json::from_value(line).expect("a frame");
        let ServerFrame::History { events, more } = frame else {
            panic!("{frame:?}")
        };
        total += events.len();
        if !more {
            break;
        }
    }
    assert_eq!(total, 100);
    server.shutdown().await;

    let server = TestServer::with_config(|c| c.history = 0).await;
    let mut alice = server.join("alice").await;
    alice.say("gone").await;
    let _ = alice.recv().await;
    let mut bob = server.connect().await;
    bob.send(&join_with_history("bob")).await;
    assert!(matches!(bob.recv().await, ServerFrame::Welcome { .. }));
    alice.say("live").await;
    assert_eq!(bob.recv().await, message("alice", "live"));
    server.shutdown().await;
}

/// With a store, whoever said something is told when it is stored, and
/// nobody else is.
#[tokio::test]
async fn stored_goes_to_those_who_spoke_once_the_store_has_it() {
    use lanchat_server::store::{Retention, Store, MEMORY};
    let retention = Retention {
        max_age: std::time::Duration::from_secs(86_400),
        max_rows: 1000,
    };
    let store = Store::open(MEMORY, retention).unwrap();
    let server = TestServer::with_store(|_| {}, Some(store)).await;
    let (mut alice, mut bob) = server.alice_and_bob().await;
    for text in ["one", "two", "three"] {
        alice.say(text).await;
    }
    let mut last_echo = 0;
    let stored = loop {
        match alice.recv_stamped().await {
            ServerFrame::Message { id, .. } => last_echo = id,
            ServerFrame::Stored { id } if id >= last_echo && last_echo > 0 => break id,
            ServerFrame::Stored { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    };
    assert!(stored >= last_echo);
    // Bob, who said nothing, was told nothing about it: his next frames
    // are the three messages, then his own whisper and its `stored`.
    bob.send(&ClientFrame::Whisper {
        to: "alice".into(),
        text: "psst".into(),
        label: None,
    })
    .await;
    let kinds: Vec<&str> = [
        bob.recv().await,
        bob.recv().await,
        bob.recv().await,
        bob.recv().await,
        bob.recv().await,
    ]
    .iter()
    .map(|f| match f {
        ServerFrame::Message { .. } => "message",
        ServerFrame::Whisper { .. } => "whisper",
        ServerFrame::Stored { .. } => "stored",
        _ => "other",
    })
    .collect();
    assert_eq!(
        kinds,
        ["message", "message", "message", "whisper", "stored"]
    );
    server.shutdown().await;
}
