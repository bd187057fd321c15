//! Protocol revision 2 as a client sees it on the wire: a revision 1
//! client still works unchanged, and the revision 2 additions (ids, times,
//! labels, structured frames) behave as docs/PROTOCOL.md says.

use lanchat_proto::time::parse_ms;
use lanchat_proto::{ClientFrame, ServerFrame};
use serde_json::{json, Value};

use crate::support::{message, Client, TestServer};

/// Asserts that `got` holds every field of `want` with the same value
/// (a revision 2 server may add fields; a revision 1 client ignores them).
fn assert_superset(got: &Value, want: &Value) {
    let (Some(got_map), Some(want_map)) = (got.as_object(), want.as_object()) else {
        panic!("not objects: {got} / {want}");
    };
    for (key, value) in want_map {
        assert_eq!(
            got_map.get(key),
            Some(value),
            "field {key:?}: got {got}, want {want}"
        );
    }
}

/// The example session from docs/PROTOCOL.md, sent byte for byte as a
/// revision 1 client would, with bob already in the room.
#[tokio::test]
async fn v1_example_session_still_works() {
    let server = TestServer::start().await;
    let mut bob = server.join("bob").await;

    let mut alice = Client::connect(server.addr).await;
    // What the greeting said, as raw JSON, is checked through the parsed
    // greeting: version 1, the room and a server name.
    assert_eq!(alice.greeting.lanchat, 1);
    assert_eq!(alice.greeting.room, "lab");
    assert!(!alice.greeting.server.is_empty());

    let steps: [(&str, Value); 3] = [
        (
            r#"{"type":"join","name":"alice"}"#,
            json!({"type":"welcome","name":"alice","room":"lab","users":["bob"]}),
        ),
        (
            r#"{"type":"input","text":"hi bob"}"#,
            json!({"type":"message","from":"alice","text":"hi bob"}),
        ),
        (
            r#"{"type":"input","text":"/w bob lunch?"}"#,
            json!({"type":"whisper","from":"alice","to":"bob","text":"lunch?"}),
        ),
    ];
    for (i, (sent, want)) in steps.into_iter().enumerate() {
        alice.send_raw(format!("{sent}\n").as_bytes()).await;
        let got = alice.try_recv_json().await.expect("an answer");
        if i == 0 {
            // The welcome gains the server's capabilities and limits.
            assert_superset(&got, &want);
        } else {
            // A client that asked for no stamps gets revision 1 room
            // events, exactly.
            assert_eq!(got, want);
        }
    }
    alice
        .send_raw(b"{\"type\":\"input\",\"text\":\"/x\"}\n")
        .await;
    let got = alice.try_recv_json().await.expect("a bye");
    assert_superset(&got, &json!({"type":"bye","reason":"goodbye"}));
    // And then nothing: the connection closes.
    assert_eq!(alice.try_recv_json().await, None);

    // Bob saw alice arrive, her message, her whisper, her leaving.
    assert_eq!(
        bob.recv().await,
        ServerFrame::Joined {
            id: 0,
            ts: String::new(),
            name: "alice".into()
        }
    );
    assert_eq!(bob.recv().await, message("alice", "hi bob"));
    assert!(
        matches!(bob.recv().await, ServerFrame::Whisper { to, text, .. } if to == "bob" && text == "lunch?")
    );
    bob.expect_left("alice", lanchat_proto::LeaveReason::Quit)
        .await;
    server.shutdown().await;
}

/// Every room event carries an id that only grows and a parseable time;
/// a label comes back on the asker's copy only.
#[tokio::test]
async fn events_are_stamped_and_labels_reach_only_the_asker() {
    let server = TestServer::start().await;
    let mut bob = server.join("bob").await;
    let mut alice = server.join("alice").await;

    let mut last_id = match bob.recv_stamped().await {
        ServerFrame::Joined { id, ts, name } => {
            assert_eq!(name, "alice");
            assert!(parse_ms(&ts).is_some(), "{ts}");
            id
        }
        other => panic!("{other:?}"),
    };
    assert!(last_id > 0);

    alice
        .send(&ClientFrame::Say {
            text: "/not a command".into(),
            label: Some("a1".into()),
        })
        .await;
    let mine = alice.recv_stamped().await;
    let theirs = bob.recv_stamped().await;
    // A structured say is taken as it is: no slash parsing.
    assert_eq!(mine.clone().unstamped(), message("alice", "/not a command"));
    assert_eq!(mine.label(), Some("a1"));
    assert_eq!(theirs.label(), None);
    assert_eq!(mine.id(), theirs.id());
    assert_eq!(mine.ts(), theirs.ts());
    assert!(mine.id() > last_id);
    last_id = mine.id();

    alice
        .send(&ClientFrame::Whisper {
            to: "BOB".into(),
            text: "psst".into(),
            label: Some("a2".into()),
        })
        .await;
    let mine = alice.recv_stamped().await;
    let theirs = bob.recv_stamped().await;
    assert!(
        matches!(&mine, ServerFrame::Whisper { to, text, .. } if to == "bob" && text == "psst")
    );
    assert_eq!(mine.label(), Some("a2"));
    assert_eq!(theirs.label(), None);
    assert_eq!(mine.id(), theirs.id());
    assert!(mine.id() > last_id);

    alice
        .send(&ClientFrame::List {
            label: Some("a3".into()),
        })
        .await;
    let users = alice.recv_stamped().await;
    assert_eq!(users.label(), Some("a3"));
    assert!(
        matches!(users, ServerFrame::Users { users, more: false, .. } if users == ["alice", "bob"])
    );

    // An error names the request it answers.
    alice
        .send(&ClientFrame::Whisper {
            to: "zed".into(),
            text: "hi".into(),
            label: Some("a4".into()),
        })
        .await;
    match alice.recv_stamped().await {
        ServerFrame::Error { code, label, .. } => {
            assert_eq!(code, "no_such_user");
            assert_eq!(label.as_deref(), Some("a4"));
        }
        other => panic!("{other:?}"),
    }

    // Bob saw nothing of alice's list or her failed whisper: his next frame
    // is what he asks for himself.
    bob.send(&ClientFrame::List { label: None }).await;
    assert!(matches!(
        bob.recv_stamped().await,
        ServerFrame::Users { label: None, .. }
    ));
    server.shutdown().await;
}

/// The welcome advertises the server's capabilities and limits, so a
/// client never guesses a lowered message size.
#[tokio::test]
async fn welcome_advertises_caps_and_limits() {
    let server = TestServer::with_config(|c| c.max_text_len = 100).await;
    let mut alice = server.connect().await;
    assert_eq!(alice.greeting.protocol, 2);
    alice
        .send(&ClientFrame::Join {
            name: "alice".into(),
            caps: vec!["no-such-cap".into()],
            label: Some("j".into()),
        })
        .await;
    match alice.recv_stamped().await {
        ServerFrame::Welcome {
            caps,
            limits,
            label,
            ..
        } => {
            for cap in ["stamps", "labels", "structured", "split_users"] {
                assert!(caps.iter().any(|c| c == cap), "{cap} missing from {caps:?}");
            }
            let limits = limits.expect("limits");
            assert_eq!(limits.text, 100);
            assert!(limits.frame_in > 0 && limits.frame_out > 0 && limits.rate > 0.0);
            assert_eq!(label.as_deref(), Some("j"));
        }
        other => panic!("{other:?}"),
    }
    // Over the advertised text limit: an error, and the connection stays.
    alice.say(&"x".repeat(101)).await;
    assert!(matches!(alice.recv().await, ServerFrame::Error { .. }));
    alice.say("fits").await;
    assert_eq!(alice.recv().await, message("alice", "fits"));
    server.shutdown().await;
}

/// A big room with the longest names in bytes: 1,000 members named with
/// 32 four-byte characters. Joining, and `/list`, still work: the lists
/// come split over frames, none over the frame limit, and whole.
#[tokio::test]
async fn a_thousand_members_with_long_four_byte_names_fit_the_frame_limit() {
    let server = TestServer::with_config(|c| {
        c.max_per_ip = 2000;
        c.max_clients = 2000;
        c.rate_limit = 0.0;
    })
    .await;
    // 32 CJK Extension B characters (4 bytes each), one script, all unique.
    let name = |i: u32| -> String {
        (0..32)
            .map(|k| char::from_u32(0x20000 + i * 32 + k).unwrap())
            .collect()
    };
    let mut members = Vec::new();
    for i in 0..1000 {
        members.push(server.join(&name(i)).await);
    }
    let mut last = server.connect().await;
    last.send(&crate::support::join(name(1000))).await;
    // The welcome and the `users` frames that continue it.
    let mut raw = until_no_more(&mut last).await;
    last.send(&ClientFrame::List { label: None }).await;
    let list_start = raw.len();
    raw.extend(until_no_more(&mut last).await);
    let limit = lanchat_proto::limits::MAX_FRAME_LEN;
    for frame in &raw {
        let size = serde_json::to_vec(frame).unwrap().len() + 1;
        assert!(size <= limit, "a frame of {size} bytes");
    }
    let names = |frames: &[Value]| -> Vec<String> {
        frames
            .iter()
            .flat_map(|f| f["users"].as_array().cloned().unwrap_or_default())
            .map(|u| u.as_str().unwrap().to_owned())
            .collect()
    };
    let welcomed = names(&raw[..list_start]);
    let listed = names(&raw[list_start..]);
    assert!(list_start > 1, "the welcome's list was split");
    assert_eq!(welcomed.len(), 1000, "everyone else");
    assert_eq!(listed.len(), 1001, "everyone");
    drop(members);
    server.shutdown().await;
}

/// Frames up to and including the first without `"more":true`.
async fn until_no_more(client: &mut Client) -> Vec<Value> {
    let mut frames = Vec::new();
    loop {
        let frame = client.try_recv_json().await.expect("a frame");
        let more = frame["more"] == json!(true);
        frames.push(frame);
        if !more {
            return frames;
        }
    }
}

/// A revision 1 client, which knows nothing of `/me`, sees an action as a
/// message from its sender (the `action` field it ignores says the rest).
#[tokio::test]
async fn a_v1_client_sees_an_action_as_a_message() {
    let server = TestServer::start().await;
    let mut old = Client::connect(server.addr).await;
    old.send_raw(b"{\"type\":\"join\",\"name\":\"old\"}\n")
        .await;
    let _welcome = old.try_recv_json().await.expect("a welcome");
    let mut alice = server.join("alice").await;
    let _joined = old.try_recv_json().await.expect("alice joined");
    alice.say("/me waves").await;
    let got = old.try_recv_json().await.expect("the action");
    assert_eq!(
        got,
        json!({"type":"message","from":"alice","text":"waves","action":true})
    );
    server.shutdown().await;
}
