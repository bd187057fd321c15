//! The original design's behaviour, over real TCP.

use lanchat_proto::{LeaveReason, ServerFrame};

use crate::support::{bye, join, message, TestServer};

#[tokio::test]
async fn greeting_identifies_the_room() {
    let server = TestServer::start().await;
    let c = server.connect().await;
    assert_eq!(c.greeting.lanchat, 1);
    assert_eq!(c.greeting.room, "lab");
    assert_eq!(c.greeting.server, "testhost");
    server.shutdown().await;
}

#[tokio::test]
async fn welcome_names_the_room_and_who_is_in_it_and_joins_are_announced() {
    let server = TestServer::start().await;
    let mut bob = server.join("bob").await;
    let mut alice = server.connect().await;
    alice.send(&join("alice")).await;
    assert_eq!(
        alice.recv().await,
        ServerFrame::Welcome {
            more: false,
            caps: lanchat_proto::limits::SERVER_CAPS
                .iter()
                .map(|c| (*c).to_owned())
                .collect(),
            limits: Some(lanchat_proto::Limits {
                text: 4096,
                name: 32,
                frame_in: 16384,
                frame_out: 16384,
                rate: 5.0,
                burst: 20,
                label: 64,
            }),
            label: None,
            name: "alice".into(),
            room: "lab".into(),
            users: vec!["bob".into()],
        }
    );
    assert_eq!(
        bob.recv().await,
        ServerFrame::Joined {
            id: 0,
            ts: String::new(),
            name: "alice".into()
        }
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_taken_name_is_refused_case_insensitively_and_another_can_be_tried() {
    let server = TestServer::start().await;
    let _alice = server.join("Alice").await;
    let mut c = server.connect().await;
    c.send(&join("aLiCe")).await;
    match c.recv().await {
        ServerFrame::NameRejected { reason, .. } => assert!(reason.contains("taken"), "{reason}"),
        other => panic!("expected a rejection, got {other:?}"),
    }
    c.send(&join("bad name")).await;
    match c.recv().await {
        ServerFrame::NameRejected { reason, .. } => {
            assert!(reason.contains("whitespace"), "{reason}")
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
    c.send(&join("alice2")).await;
    assert!(matches!(c.recv().await, ServerFrame::Welcome { .. }));
    server.shutdown().await;
}

#[tokio::test]
async fn two_clients_racing_for_one_name_exactly_one_wins() {
    let server = TestServer::start().await;
    for round in 0..20 {
        let name = format!("racer{round}");
        let mut a = server.connect().await;
        let mut b = server.connect().await;
        let join = join(name.clone());
        let (ra, rb) = tokio::join!(
            async {
                a.send(&join).await;
                a.recv().await
            },
            async {
                b.send(&join).await;
                b.recv().await
            }
        );
        let wins = [&ra, &rb]
            .iter()
            .filter(|f| matches!(f, ServerFrame::Welcome { .. }))
            .count();
        assert_eq!(wins, 1, "round {round}: {ra:?} / {rb:?}");
    }
    server.shutdown().await;
}

#[tokio::test]
async fn messages_reach_everyone_with_the_senders_name_in_order() {
    let server = TestServer::with_config(|c| c.rate_limit = 0.0).await;
    let mut alice = server.join("alice").await;
    let mut receivers = Vec::new();
    for name in ["bob", "carol", "dave"] {
        receivers.push(server.join(name).await);
        let _ = alice.recv().await; // the join announcement
    }
    // Earlier receivers also saw later joins; drain those.
    for (i, r) in receivers.iter_mut().enumerate() {
        for _ in i + 1..3 {
            assert!(matches!(r.recv().await, ServerFrame::Joined { .. }));
        }
    }
    const N: usize = 1000;
    let sender = tokio::spawn(async move {
        for i in 0..N {
            alice.say(&format!("message {i}")).await;
        }
        alice
    });
    for r in &mut receivers {
        for i in 0..N {
            assert_eq!(r.recv().await, message("alice", &format!("message {i}")));
        }
    }
    let mut alice = sender.await.unwrap();
    // The sender gets its own lines back, in the same order, as the receipt.
    for i in 0..N {
        assert_eq!(
            alice.recv().await,
            message("alice", &format!("message {i}"))
        );
    }
    server.shutdown().await;
}

#[tokio::test]
async fn a_whisper_reaches_only_its_recipient() {
    let server = TestServer::start().await;
    let mut alice = server.join("alice").await;
    let mut bob = server.join("bob").await;
    let mut carol = server.join("carol").await;
    let _ = alice.recv().await;
    let _ = alice.recv().await;
    let _ = bob.recv().await;
    alice.say("/w BOB meet at noon").await;
    let whisper = ServerFrame::Whisper {
        id: 0,
        ts: String::new(),
        label: None,
        from: "alice".into(),
        to: "bob".into(),
        text: "meet at noon".into(),
    };
    assert_eq!(bob.recv().await, whisper);
    assert_eq!(
        alice.recv().await,
        whisper,
        "the sender gets a confirmation"
    );
    // Carol's next frame is the public message sent after the whisper: she
    // never saw the whisper.
    alice.say("hello all").await;
    assert_eq!(carol.recv().await, message("alice", "hello all"));
    server.shutdown().await;
}

#[tokio::test]
async fn command_errors_go_to_the_sender_only() {
    let server = TestServer::start().await;
    let (mut alice, mut bob) = server.alice_and_bob().await;
    for (line, code) in [
        ("/w nobody hi", "no_such_user"),
        ("/dance", "unknown_command"),
        ("/w", "usage"),
        ("   ", "empty"),
    ] {
        alice.say(line).await;
        match alice.recv().await {
            ServerFrame::Error { code: got, .. } => assert_eq!(got, code, "{line:?}"),
            other => panic!("{line:?}: expected an error, got {other:?}"),
        }
    }
    alice.say("after the errors").await;
    assert_eq!(bob.recv().await, message("alice", "after the errors"));
    server.shutdown().await;
}

#[tokio::test]
async fn list_and_commands_answer_the_asker() {
    let server = TestServer::start().await;
    let mut alice = server.join("alice").await;
    let _bob = server.join("Bob").await;
    let _ = alice.recv().await;
    alice.expect_users(&["alice", "Bob"]).await;
    for ask in ["/commands", "/help"] {
        alice.say(ask).await;
        match alice.recv().await {
            ServerFrame::Commands {
                label: None,
                commands,
            } => {
                let usages: Vec<_> = commands.iter().map(|c| c.usage.as_str()).collect();
                for want in ["/w NAME text", "/list", "/commands", "/x"] {
                    assert!(usages.contains(&want), "{usages:?}");
                }
            }
            other => panic!("expected the command list, got {other:?}"),
        }
    }
    server.shutdown().await;
}

#[tokio::test]
async fn quitting_is_announced_and_frees_the_name() {
    let server = TestServer::start().await;
    let mut alice = server.join("alice").await;
    let mut bob = server.join("bob").await;
    bob.say("/x").await;
    assert_eq!(bob.until_closed().await, [bye("quit", "goodbye")]);
    let _ = alice.recv().await; // bob joined
    alice.expect_left("bob", LeaveReason::Quit).await;
    let _bob_again = server.join("bob").await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_dropped_connection_is_announced_once_and_frees_the_name() {
    let server = TestServer::start().await;
    let mut alice = server.join("alice").await;
    let bob = server.join("bob").await;
    let carol = server.join("carol").await;
    let _ = alice.recv().await;
    let _ = alice.recv().await;
    #[allow(deprecated)] // Blocking on drop is what we want: an immediate RST.
    bob.stream
        .set_linger(Some(std::time::Duration::ZERO))
        .unwrap();
    drop(bob);
    alice.expect_left("bob", LeaveReason::Dropped).await;
    let _bob_again = server.join("bob").await;
    assert_eq!(
        alice.recv().await,
        ServerFrame::Joined {
            id: 0,
            ts: String::new(),
            name: "bob".into()
        },
        "exactly one departure was announced"
    );
    drop(carol);
    alice.expect_left("carol", LeaveReason::Dropped).await;
    alice.expect_users(&["alice", "bob"]).await;
    server.shutdown().await;
}

#[tokio::test]
async fn shutdown_tells_everyone_and_closes() {
    let server = TestServer::start().await;
    let mut alice = server.join("alice").await;
    let mut lurker = server.connect().await; // never registers
    server.shutdown().await;
    assert_eq!(
        alice.until_closed().await,
        [
            ServerFrame::Notice {
                id: 0,
                ts: String::new(),
                text: "the server is shutting down".into()
            },
            bye("shutdown", "server shutting down")
        ]
    );
    assert_eq!(
        lurker.until_closed().await,
        [bye("shutdown", "server shutting down")]
    );
}

/// A client that sends its lines and closes at once (a bot, `nc`, a script
/// piping into `--plain`) is heard before it is announced as gone: every
/// complete frame read before the close is applied before the departure.
#[tokio::test]
async fn last_words_arrive_before_the_departure() {
    let server = TestServer::with_config(|c| c.rate_limit = 0.0).await;
    let mut watcher = server.join("watcher").await;
    const BOTS: usize = 20;
    for i in 0..BOTS {
        let mut bot = server.connect().await;
        let mut bytes = lanchat_proto::encode(&join(format!("bot{i}")))
            .unwrap()
            .to_vec();
        for line in ["first words", "last words"] {
            let say = lanchat_proto::ClientFrame::Input {
                text: format!("{line} from bot{i}"),
                label: None,
            };
            bytes.extend_from_slice(&lanchat_proto::encode(&say).unwrap());
        }
        bot.send_raw(&bytes).await;
        // Close our side at once, without reading anything.
        drop(bot);
    }
    for i in 0..BOTS {
        let name = format!("bot{i}");
        let want = [
            ServerFrame::Joined {
                id: 0,
                ts: String::new(),
                name: name.clone(),
            },
            message(&name, &format!("first words from {name}")),
            message(&name, &format!("last words from {name}")),
        ];
        for frame in want {
            assert_eq!(watcher.recv().await, frame);
        }
        let left = watcher.recv().await;
        assert!(
            matches!(&left, ServerFrame::Left { name: n, .. } if *n == name),
            "{left:?}"
        );
    }
    server.shutdown().await;
}
