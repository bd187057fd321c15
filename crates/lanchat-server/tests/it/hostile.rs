//! The hostile-input catalogue (`shared/security/HOSTILE-INPUTS.md`), one
//! test per item that applies: floods, idle hordes, slowloris, churn, resets
//! in the middle of a frame. Every loop here is bounded in count and time,
//! and runs only against the in-process server on loopback.

use std::time::Duration;

use lanchat_proto::{encode, ClientFrame, LeaveReason, ServerFrame};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::support::{bye, join, message, Client, TestServer, PATIENCE};

/// Reads frames until one satisfies `pred`, skipping the rest.
async fn until(c: &mut Client, pred: impl Fn(&ServerFrame) -> bool) -> ServerFrame {
    loop {
        let f = c.recv().await;
        if pred(&f) {
            return f;
        }
    }
}

/// How many sockets this process holds open on the server side of `port`
/// (accepted connections, not the listener). Only this test's server
/// listens on its port, so sockets of tests running beside it are never
/// counted.
fn server_sockets(port: u16) -> usize {
    let local_port = format!(":{port:04X}");
    let mut inodes = std::collections::HashSet::new();
    for table in ["/proc/self/net/tcp", "/proc/self/net/tcp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // local address, state (0A: listening), inode
            if let (Some(local), Some(state), Some(inode)) =
                (fields.get(1), fields.get(3), fields.get(9))
            {
                if local.ends_with(&local_port) && *state != "0A" && *inode != "0" {
                    inodes.insert(format!("socket:[{inode}]"));
                }
            }
        }
    }
    std::fs::read_dir("/proc/self/fd")
        .map(|dir| {
            dir.filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
                .filter(|target| inodes.contains(target.to_string_lossy().as_ref()))
                .count()
        })
        .unwrap_or(0)
}

#[tokio::test(start_paused = true)]
async fn a_flooder_is_slowed_then_kicked_while_others_are_served() {
    let server = TestServer::with_config(|c| {
        c.rate_limit = 5.0;
        c.rate_burst = 10;
        c.flood_kick_after = Duration::from_millis(600);
    })
    .await;
    let mut alice = server.join("alice").await;
    let mut bob = server.join("bob").await;
    let mut flooder = server.join("flooder").await;
    // 10,000 messages written as fast as the socket takes them.
    let mut burst = Vec::new();
    for i in 0..10_000 {
        let line = ClientFrame::Input {
            text: format!("spam {i}"),
            label: None,
        };
        burst.extend_from_slice(&encode(&line).unwrap());
    }
    let flood = tokio::spawn(async move {
        let _ = flooder.stream.write_all(&burst).await;
        flooder.until_closed().await
    });
    // Bob is heard by alice in the middle of the flood.
    bob.say("can you hear me?").await;
    until(&mut alice, |f| *f == message("bob", "can you hear me?")).await;
    // The flooder got its burst through, then was thrown out.
    let left = until(&mut alice, |f| matches!(f, ServerFrame::Left { .. })).await;
    assert_eq!(
        left,
        ServerFrame::Left {
            id: 0,
            ts: String::new(),
            name: "flooder".into(),
            reason: LeaveReason::Kicked
        }
    );
    let frames = tokio::time::timeout(PATIENCE, flood)
        .await
        .unwrap()
        .unwrap();
    assert!(frames.contains(&bye("flood", "flooding")));
    let relayed = frames
        .iter()
        .filter(|f| matches!(f, ServerFrame::Message { .. }))
        .count();
    assert!(
        relayed < 100,
        "only the burst and a trickle get through, not {relayed}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_paste_within_the_burst_arrives_whole_in_order_without_errors() {
    let server = TestServer::start().await;
    let (mut alice, mut bob) = server.alice_and_bob().await;
    for i in 0..15 {
        bob.say(&format!("pasted line {i}")).await;
    }
    for i in 0..15 {
        assert_eq!(
            alice.recv().await,
            message("bob", &format!("pasted line {i}"))
        );
    }
    server.shutdown().await;
}

#[tokio::test]
async fn two_thousand_connections_from_one_address_are_capped_and_chat_goes_on() {
    let server = TestServer::start().await; // default: 32 per address
    let (mut alice, mut bob) = server.alice_and_bob().await;
    let mut horde = Vec::new();
    let mut refused = 0;
    for _ in 0..2000 {
        let mut s = TcpStream::connect(server.addr).await.unwrap();
        if Client::admitted(&mut s).await {
            horde.push(s);
        } else {
            refused += 1;
        }
    }
    assert_eq!(horde.len(), 30, "32 per address, alice and bob included");
    assert_eq!(refused, 1970);
    bob.say("still chatting").await;
    assert_eq!(alice.recv().await, message("bob", "still chatting"));
    drop(horde);
    // Places are given back: a newcomer can join again.
    let mut carol = server.connect().await;
    carol.send(&join("carol")).await;
    assert!(matches!(carol.recv().await, ServerFrame::Welcome { .. }));
    server.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn two_thousand_idle_connections_do_not_slow_the_room_and_are_reaped() {
    let server = TestServer::with_config(|c| {
        c.max_per_ip = 5000;
        c.max_clients = 5000;
        c.register_timeout = Duration::from_secs(2);
    })
    .await;
    let (mut alice, mut bob) = server.alice_and_bob().await;
    let mut idle = Vec::new();
    for _ in 0..2000 {
        idle.push(TcpStream::connect(server.addr).await.unwrap());
    }
    bob.say("not slowed").await;
    assert_eq!(alice.recv().await, message("bob", "not slowed"));
    // They never register, so the server closes every one of them.
    for s in &mut idle {
        let mut sink = Vec::new();
        let read = tokio::io::AsyncReadExt::read_to_end(s, &mut sink);
        tokio::time::timeout(PATIENCE, read).await.unwrap().unwrap();
        assert!(sink.ends_with(
            b"{\"type\":\"bye\",\"code\":\"timeout\",\"reason\":\"registration timed out\"}\n"
        ));
    }
    server.shutdown().await;
}

#[tokio::test]
async fn the_room_full_refusal_is_clear() {
    let server = TestServer::with_config(|c| c.max_clients = 2).await;
    let _a = server.join("a").await;
    let _b = server.join("b").await;
    let mut s = TcpStream::connect(server.addr).await.unwrap();
    let mut sink = Vec::new();
    tokio::io::AsyncReadExt::read_to_end(&mut s, &mut sink)
        .await
        .unwrap();
    let text = String::from_utf8(sink).unwrap();
    assert!(text.starts_with("{\"lanchat\":1"), "{text}");
    assert!(
        text.ends_with(
            "{\"type\":\"bye\",\"code\":\"room_full\",\"reason\":\"the room is full\"}\n"
        ),
        "{text}"
    );
    server.shutdown().await;
}

/// A whole, valid join frame, one byte every 25 ms: its last byte (the
/// newline) comes after the deadline, so the trickle never registers. On a
/// paused clock, so the timing is exact and costs no real time.
#[tokio::test(start_paused = true)]
async fn a_slowloris_is_closed_at_the_deadline_measured_from_accept() {
    let deadline = Duration::from_millis(400);
    let server = TestServer::with_config(|c| c.register_timeout = deadline).await;
    let mut slow = server.connect().await;
    let trickle = b"{\"type\":\"join\",\"name\":\"slow\"}\n";
    let gap = Duration::from_millis(25);
    assert!(gap * trickle.len() as u32 > deadline * 3 / 2);
    for byte in trickle {
        slow.send_raw(&[*byte]).await;
        tokio::time::sleep(gap).await;
    }
    let frames = slow.until_closed().await;
    // The timeout and nothing else: no welcome, though the frame was
    // complete by the end.
    let timeout = ServerFrame::Error {
        code: "timeout".into(),
        text: "no name was registered in time".into(),
        label: None,
    };
    assert_eq!(frames, [timeout, bye("timeout", "registration timed out")]);
    server.shutdown().await;
}

#[tokio::test]
async fn a_reset_in_the_middle_of_a_frame_drops_the_line_and_announces_once() {
    let server = TestServer::start().await;
    let (mut alice, mut bob) = server.alice_and_bob().await;
    bob.send_raw(b"{\"type\":\"input\",\"text\":\"half a mes")
        .await;
    bob.reset();
    alice.expect_left("bob", LeaveReason::Dropped).await;
    alice.expect_users(&["alice"]).await;
    server.shutdown().await;
}

#[tokio::test]
async fn connect_and_disconnect_churn_leaks_nothing() {
    let server = TestServer::with_config(|c| c.rate_limit = 0.0).await;
    let mut alice = server.join("alice").await;
    let port = server.addr.port();
    let before = server_sockets(port);
    assert_eq!(before, 1, "alice's connection");
    for round in 0..300 {
        let mut c = server.connect().await;
        if round % 2 == 0 {
            c.send(&join(format!("churn{round}"))).await;
            let _ = c.recv().await;
        }
        drop(c);
    }
    // Every join was followed by a departure; the room is back to alice.
    let mut joined = 0;
    let mut left = 0;
    while joined < 150 || left < 150 {
        match alice.recv().await {
            ServerFrame::Joined { .. } => joined += 1,
            ServerFrame::Left { .. } => left += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    alice.expect_users(&["alice"]).await;
    // Server-side sockets are closed too (same process, so same fd table).
    let mut after = server_sockets(port);
    for _ in 0..50 {
        if after <= before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        after = server_sockets(port);
    }
    assert_eq!(
        after, before,
        "server sockets before {before}, after {after}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn nul_and_bom_are_handled() {
    let server = TestServer::start().await;
    let mut alice = server.join("alice").await;
    alice.say("a\u{0}b").await;
    assert_eq!(alice.recv().await, message("alice", "a␀b"));
    let mut bom = server.connect().await;
    bom.send_raw("\u{feff}{\"type\":\"join\",\"name\":\"x\"}\n".as_bytes())
        .await;
    let frames = bom.until_closed().await;
    assert!(matches!(frames.first(), Some(ServerFrame::Error { code, .. }) if code == "bad_frame"));
    server.shutdown().await;
}

/// Blank lines and pongs make no frame the rate limit counts, but every
/// byte read is metered: a connection pouring them in is slowed, then
/// kicked, and the room is served meanwhile.
#[tokio::test(start_paused = true)]
async fn free_frames_are_metered_and_their_flooder_kicked() {
    let server = TestServer::with_config(|c| {
        c.rate_limit = 5.0;
        c.rate_burst = 10;
        c.flood_kick_after = Duration::from_millis(600);
    })
    .await;
    let (mut alice, mut bob) = server.alice_and_bob().await;
    // Blank lines are metered by their bytes; pongs nobody asked for are
    // bad frames as well.
    let cases = [
        (&b"\n"[..], bye("flood", "flooding")),
        (
            b"{\"type\":\"pong\",\"token\":0}\n",
            bye("bad_frames", "too many malformed frames"),
        ),
    ];
    for (junk, goodbye) in cases {
        let mut flooder = server.join("flooder").await;
        let _ = alice.recv().await;
        let _ = bob.recv().await;
        // 16 MiB of it, written as fast as the socket takes it (bounded:
        // the server stops reading, and the test stops at the kick).
        let burst: Vec<u8> = junk.iter().copied().cycle().take(16 << 20).collect();
        let flood = tokio::spawn(async move {
            let _ = flooder.stream.write_all(&burst).await;
            flooder.until_closed().await
        });
        bob.say("still here").await;
        until(&mut alice, |f| *f == message("bob", "still here")).await;
        let left = until(&mut alice, |f| matches!(f, ServerFrame::Left { .. })).await;
        assert!(
            matches!(&left, ServerFrame::Left { name, reason: LeaveReason::Kicked, .. } if name == "flooder"),
            "{left:?}"
        );
        let frames = tokio::time::timeout(PATIENCE, flood)
            .await
            .unwrap()
            .unwrap();
        assert!(frames.contains(&goodbye), "{frames:?}");
        until(&mut bob, |f| matches!(f, ServerFrame::Left { .. })).await;
    }
    server.shutdown().await;
}

/// Reconnecting in a loop from one address gets the connect rate and no
/// more: past the burst, connections are turned away with a reason, and
/// closing them does not give the budget back. Others are not affected.
#[tokio::test]
async fn reconnect_churn_meets_the_connect_rate() {
    let server = TestServer::with_config(|c| c.max_connects_per_minute = 30).await;
    let mut admitted = 0;
    let mut refused = 0;
    for _ in 0..40 {
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        if Client::admitted(&mut stream).await {
            admitted += 1;
        } else {
            refused += 1;
        }
        drop(stream);
    }
    assert_eq!((admitted, refused), (30, 10));
    server.shutdown().await;
}

/// Reconnecting does not buy a fresh burst: a connection from the same
/// address continues the frame budget the last one left. On a paused
/// clock: the second burst's lines come back at the rate, not at once.
#[tokio::test(start_paused = true)]
async fn reconnecting_does_not_buy_a_fresh_burst() {
    let server = TestServer::with_config(|c| {
        c.rate_limit = 5.0;
        c.rate_burst = 20;
    })
    .await;
    let burst = |n: usize| {
        let mut bytes = Vec::new();
        for i in 0..n {
            let say = ClientFrame::Say {
                text: format!("line {i}"),
                label: None,
            };
            bytes.extend_from_slice(&encode(&say).unwrap());
        }
        bytes
    };
    for (round, name) in ["first", "second"].into_iter().enumerate() {
        let mut c = server.join(name).await;
        let started = tokio::time::Instant::now();
        c.send_raw(&burst(20)).await;
        for _ in 0..20 {
            assert!(matches!(c.recv().await, ServerFrame::Message { .. }));
        }
        let took = started.elapsed();
        if round == 0 {
            assert!(
                took < Duration::from_secs(1),
                "the first burst is free: {took:?}"
            );
        } else {
            // 20 lines at 5 a second, less what refilled meanwhile.
            assert!(took >= Duration::from_secs(3), "a fresh burst: {took:?}");
        }
        c.say("/x").await;
        let _ = c.until_closed().await;
    }
    server.shutdown().await;
}
