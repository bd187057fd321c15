//! Bad input and broken peers: each one costs at most its own connection,
//! and everyone else keeps chatting.

use std::time::Duration;

use lanchat_proto::limits::MAX_FRAME_LEN;
use lanchat_proto::{ClientFrame, LeaveReason, ServerFrame};

use crate::support::{message, Client, TestServer, PATIENCE};

/// Alice and bob are chatting; `check` proves they still are.
async fn still_chatting(alice: &mut Client, bob: &mut Client, text: &str) {
    alice.say(text).await;
    assert_eq!(bob.recv().await, message("alice", text));
    assert_eq!(alice.recv().await, message("alice", text));
}

async fn pair(server: &TestServer) -> (Client, Client) {
    let mut alice = server.join("alice").await;
    let bob = server.join("bob").await;
    let _ = alice.recv().await;
    (alice, bob)
}

fn bye_reason(frames: &[ServerFrame]) -> Option<&str> {
    frames.iter().find_map(|f| match f {
        ServerFrame::Bye { reason, .. } => Some(reason.as_str()),
        _ => None,
    })
}

#[tokio::test]
async fn an_http_request_gets_an_error_and_is_closed() {
    let server = TestServer::start().await;
    let (mut alice, mut bob) = pair(&server).await;
    let mut web = server.connect().await;
    web.send_raw(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    let frames = web.until_closed().await;
    assert!(
        matches!(frames.first(), Some(ServerFrame::Error { code, .. }) if code == "bad_frame"),
        "{frames:?}"
    );
    still_chatting(&mut alice, &mut bob, "still here").await;
    server.shutdown().await;
}

#[tokio::test]
async fn garbage_and_invalid_utf8_never_stop_the_server() {
    let server = TestServer::start().await;
    let (mut alice, mut bob) = pair(&server).await;
    for junk in [
        &b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\n"[..],
        b"\xff\xfe\xfd\n",
        b"\xc0\xaf\n",
        b"\xed\xa0\x80\n",
        b"{\"type\":\n",
        b"\x00\x00\x00\n",
    ] {
        let mut rogue = server.connect().await;
        rogue.send_raw(junk).await;
        let frames = rogue.until_closed().await;
        assert!(bye_reason(&frames).is_some(), "{junk:?}: {frames:?}");
    }
    still_chatting(&mut alice, &mut bob, "unbothered").await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_registered_client_survives_a_malformed_frame_with_an_error() {
    let server = TestServer::start().await;
    let (mut alice, mut bob) = pair(&server).await;
    alice
        .send_raw(b"{\"type\":\"input\",\"text\":\xff}\n")
        .await;
    assert!(matches!(alice.recv().await, ServerFrame::Error { code, .. } if code == "bad_frame"));
    still_chatting(&mut alice, &mut bob, "recovered").await;
    server.shutdown().await;
}

#[tokio::test]
async fn an_oversized_frame_closes_only_that_connection() {
    let server = TestServer::start().await;
    let (mut alice, mut bob) = pair(&server).await;
    let mut carol = server.join("carol").await;
    let _ = alice.recv().await;
    let _ = bob.recv().await;
    // A megabyte with no newline.
    let blob = vec![b'a'; 1 << 20];
    carol.send_raw(&blob).await;
    let frames = carol.until_closed().await;
    assert_eq!(bye_reason(&frames), Some("frame too long"), "{frames:?}");
    assert!(matches!(
        alice.recv().await,
        ServerFrame::Left { name, .. } if name == "carol"
    ));
    let _ = bob.recv().await;
    still_chatting(&mut alice, &mut bob, "fine").await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_message_over_the_text_limit_is_refused_but_the_connection_stays() {
    let server = TestServer::start().await;
    let (mut alice, mut bob) = pair(&server).await;
    let long = "é".repeat(3000); // 6000 bytes: under the frame cap, over the text cap
    assert!(long.len() < MAX_FRAME_LEN);
    alice.say(&long).await;
    assert!(matches!(alice.recv().await, ServerFrame::Error { code, .. } if code == "too_long"));
    still_chatting(&mut alice, &mut bob, "short one").await;
    server.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_client_that_never_registers_is_closed_at_the_deadline() {
    let server = TestServer::with_config(|c| c.register_timeout = Duration::from_millis(300)).await;
    let mut idle = server.connect().await;
    let frames = idle.until_closed().await;
    assert_eq!(bye_reason(&frames), Some("registration timed out"));
    server.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_silent_member_is_pinged_then_dropped_as_timed_out() {
    let server = TestServer::with_config(|c| {
        c.ping_interval = Duration::from_millis(100);
        c.ping_timeout = Duration::from_millis(250);
    })
    .await;
    let mut alice = server.join("alice").await;
    let mut ghost = server.join("ghost").await;
    assert!(matches!(alice.recv().await, ServerFrame::Joined { .. }));
    // Alice answers pings; the ghost never does.
    let answered = async {
        loop {
            match alice.try_recv().await {
                Some(ServerFrame::Ping { token }) => alice.send(&ClientFrame::Pong { token }).await,
                Some(other) => return other,
                None => panic!("alice was dropped"),
            }
        }
    };
    let left = answered.await.unstamped();
    assert_eq!(
        left,
        ServerFrame::Left {
            id: 0,
            ts: String::new(),
            name: "ghost".into(),
            reason: LeaveReason::TimedOut
        }
    );
    let frames = ghost.until_closed().await;
    assert!(frames.iter().any(|f| matches!(f, ServerFrame::Ping { .. })));
    server.shutdown().await;
}

/// Alice and Bob, who read, and "stalled", who never reads again; and the
/// frame that announces stalled's drop.
async fn with_a_stalled_reader(server: &TestServer) -> (Client, Client, Client, ServerFrame) {
    let (mut alice, mut bob) = pair(server).await;
    let stalled = server.join("stalled").await;
    let _ = alice.recv().await;
    let _ = bob.recv().await;
    let gone = ServerFrame::Left {
        id: 0,
        ts: String::new(),
        name: "stalled".into(),
        reason: LeaveReason::TooSlow,
    };
    (alice, bob, stalled, gone)
}

/// Alice says `text`; both read up to their copy of it. Returns what else
/// they saw on the way.
async fn say_and_read(alice: &mut Client, bob: &mut Client, text: &str) -> Vec<ServerFrame> {
    alice.say(text).await;
    let mut others = Vec::new();
    for who in [bob, alice] {
        loop {
            match who.recv().await {
                ServerFrame::Message { text: got, .. } if got == text => break,
                other => others.push(other),
            }
        }
    }
    others
}

#[tokio::test]
async fn a_client_that_stops_reading_is_dropped_and_others_are_not_delayed() {
    let server = TestServer::with_config(|c| {
        c.max_queue_bytes = 64 * 1024;
        c.rate_limit = 0.0;
    })
    .await;
    let (mut alice, mut bob, stalled, gone) = with_a_stalled_reader(&server).await;
    let text = "x".repeat(1000);
    // Enough to fill the stalled client's socket buffers and its queue.
    // Both others must see every message, and then the stalled one's drop.
    let mut departures = Vec::new();
    for _ in 0..20_000 {
        departures.extend(say_and_read(&mut alice, &mut bob, &text).await);
        if departures.len() == 2 {
            break;
        }
    }
    assert_eq!(departures, [gone.clone(), gone]);
    still_chatting(&mut alice, &mut bob, "after the drop").await;
    drop(stalled);
    server.shutdown().await;
}

/// A queue big enough never to overflow: what ends the stalled client is
/// the write deadline, once its socket is full.
#[tokio::test(start_paused = true)]
async fn a_client_whose_socket_stays_full_is_dropped_at_the_write_deadline() {
    let server = TestServer::with_config(|c| {
        c.max_queue_bytes = 64 << 20;
        c.write_timeout = Duration::from_millis(300);
        c.rate_limit = 0.0;
    })
    .await;
    let (mut alice, mut bob, stalled, gone) = with_a_stalled_reader(&server).await;
    let text = "y".repeat(4000);
    // 12 MB: more than the stalled client's socket buffers hold, so its
    // write blocks; then only the deadline can end it.
    let mut departures = Vec::new();
    for _ in 0..3_000 {
        departures.extend(say_and_read(&mut alice, &mut bob, &text).await);
    }
    if departures.is_empty() {
        departures.push(bob.recv().await);
        departures.push(alice.recv().await);
    }
    assert_eq!(departures, [gone.clone(), gone]);
    still_chatting(&mut alice, &mut bob, "after the drop").await;
    drop(stalled);
    server.shutdown().await;
}

#[tokio::test]
async fn client_pings_are_answered() {
    let server = TestServer::start().await;
    let mut c = server.connect().await;
    c.send(&ClientFrame::Ping { token: 42 }).await;
    assert_eq!(c.recv().await, ServerFrame::Pong { token: 42 });
    server.shutdown().await;
}

/// Readers that keep up are never dropped as too slow, however fast the
/// senders burst: past a queue's soft cap the senders are held back, not
/// the readers dropped. Here 8 senders burst 40 lines of 4 KB each (1.3 MB
/// for every reader: more than the hard cap of a queue) at readers that
/// read all the time.
#[tokio::test]
async fn readers_that_keep_up_are_never_dropped_by_a_burst() {
    let server = TestServer::with_config(|c| {
        c.rate_limit = 0.0;
        c.max_queue_bytes = 64 * 1024;
    })
    .await;
    const SENDERS: usize = 8;
    const LINES: usize = 40;
    let mut readers = Vec::new();
    for r in 0..3 {
        let mut reader = server.join(&format!("reader{r}")).await;
        readers.push(tokio::spawn(async move {
            // Everything that arrives, until every line has.
            let mut messages = 0;
            let mut departures = Vec::new();
            while messages < SENDERS * LINES {
                match reader.recv().await {
                    ServerFrame::Message { .. } => messages += 1,
                    ServerFrame::Left { name, reason, .. } => departures.push((name, reason)),
                    _ => {}
                }
            }
            (reader, departures)
        }));
    }
    let mut senders = Vec::new();
    for s in 0..SENDERS {
        senders.push(server.join(&format!("sender{s}")).await);
    }
    let line = "y".repeat(4000);
    let mut burst = Vec::new();
    for _ in 0..LINES {
        let say = ClientFrame::Say {
            text: line.clone(),
            label: None,
        };
        burst.extend_from_slice(&lanchat_proto::encode(&say).unwrap());
    }
    for sender in &mut senders {
        sender.send_raw(&burst).await;
    }
    // The senders read too (their own echoes), so that they stay.
    let drains: Vec<_> = senders
        .into_iter()
        .map(|mut s| tokio::spawn(async move { while s.try_recv().await.is_some() {} }))
        .collect();
    for reader in readers {
        let (_reader, departures) = tokio::time::timeout(PATIENCE, reader)
            .await
            .expect("every line arrived")
            .unwrap();
        assert!(departures.is_empty(), "{departures:?}");
    }
    server.shutdown().await;
    for d in drains {
        let _ = d.await;
    }
}
