//! The IRC door: raw IRC lines over real TCP, in the same room as lanchat
//! clients.

use std::net::SocketAddr;
use std::time::Duration;

use lanchat_proto::{ClientFrame, LeaveReason, LineDecoder, ServerFrame};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::support::{message, read_line, TestServer};

/// A raw IRC client.
struct Irc {
    stream: TcpStream,
    buf: bytes::BytesMut,
    decoder: LineDecoder,
}

impl Irc {
    async fn connect(addr: SocketAddr) -> Irc {
        Irc {
            stream: TcpStream::connect(addr).await.unwrap(),
            buf: bytes::BytesMut::new(),
            decoder: LineDecoder::new(16 * 1024),
        }
    }

    /// Connects and registers as `nick`, reading up to the end of the
    /// channel's names; returns every line read.
    async fn register(addr: SocketAddr, nick: &str, caps: &[&str]) -> (Irc, Vec<String>) {
        let mut irc = Irc::connect(addr).await;
        if !caps.is_empty() {
            irc.send(&format!("CAP LS 302\r\nCAP REQ :{}", caps.join(" ")))
                .await;
        }
        irc.send(&format!("NICK {nick}\r\nUSER {nick} 0 * :{nick} here"))
            .await;
        if !caps.is_empty() {
            irc.send("CAP END").await;
        }
        let lines = irc.until(" 366 ").await;
        (irc, lines)
    }

    /// Sends one line (CR-LF added).
    async fn send(&mut self, line: &str) {
        let _ = self
            .stream
            .write_all(format!("{line}\r\n").as_bytes())
            .await;
    }

    /// The next line, or `None` once the server closed the connection.
    async fn try_line(&mut self) -> Option<String> {
        let line = read_line(&mut self.stream, &mut self.buf, &mut self.decoder).await?;
        Some(String::from_utf8(line).expect("UTF-8 from the server"))
    }

    /// The next line other than a server PING.
    async fn line(&mut self) -> String {
        loop {
            let line = self.try_line().await.expect("connection closed");
            if !line.starts_with("PING ") {
                return line;
            }
        }
    }

    /// Lines up to and including the first that contains `needle`.
    async fn until(&mut self, needle: &str) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            let line = self.line().await;
            let done = line.contains(needle);
            lines.push(line);
            if done {
                return lines;
            }
        }
    }

    /// Every line until the server closes the connection.
    async fn until_closed(&mut self) -> Vec<String> {
        let mut lines = Vec::new();
        while let Some(line) = self.try_line().await {
            lines.push(line);
        }
        lines
    }
}

fn whisper(from: &str, to: &str, text: &str) -> ServerFrame {
    ServerFrame::Whisper {
        id: 0,
        ts: String::new(),
        label: None,
        from: from.into(),
        to: to.into(),
        text: text.into(),
    }
}

fn joined(name: &str) -> ServerFrame {
    ServerFrame::Joined {
        id: 0,
        ts: String::new(),
        name: name.into(),
    }
}

#[tokio::test]
async fn registration_tells_the_truth_and_puts_the_client_in_the_channel() {
    let server = TestServer::start().await;
    let mut alice = server.join("alice").await;
    let (_bob, lines) = Irc::register(server.irc, "bob", &[]).await;
    let codes: Vec<&str> = lines.iter().filter_map(|l| l.split(' ').nth(1)).collect();
    assert_eq!(
        codes,
        [
            "001", "002", "003", "004", "005", "375", "372", "372", "372", "376", "JOIN", "353",
            "366"
        ],
        "{lines:#?}"
    );
    assert!(
        lines[0].starts_with(":lanchat 001 bob :Welcome"),
        "{}",
        lines[0]
    );
    let isupport = &lines[4];
    for token in [
        "CASEMAPPING=rfc8265",
        "NICKLEN=32",
        "CHANTYPES=#",
        "NETWORK=lab",
    ] {
        assert!(isupport.contains(token), "{token} in {isupport}");
    }
    assert_eq!(lines[10], ":bob!u@lanchat JOIN #lab");
    assert_eq!(lines[11], ":lanchat 353 bob = #lab :alice bob");
    assert_eq!(lines[12], ":lanchat 366 bob #lab :End of /NAMES list");
    // The lanchat user sees an ordinary join.
    assert_eq!(alice.recv().await, joined("bob"));
    server.shutdown().await;
}

#[tokio::test]
async fn irc_and_lanchat_users_chat_both_ways_without_echo_unless_asked() {
    let server = TestServer::start().await;
    let mut alice = server.join("alice").await;
    let (mut bob, _) = Irc::register(server.irc, "bob", &[]).await;
    assert_eq!(alice.recv().await, joined("bob"));

    bob.send("PRIVMSG #lab :hello from irc").await;
    assert_eq!(alice.recv().await, message("bob", "hello from irc"));
    alice.say("hello from lanchat").await;
    // Bob's own line is not echoed to him: the next line is alice's.
    assert_eq!(
        bob.line().await,
        ":alice!u@lanchat PRIVMSG #lab :hello from lanchat"
    );

    // With echo-message and the tags, it is, with the event's id and time.
    let (mut carol, _) = Irc::register(
        server.irc,
        "carol",
        &["echo-message", "server-time", "message-tags"],
    )
    .await;
    // A newcomer is played the earlier conversation, at its own times.
    let earlier = carol.until("End of the earlier conversation").await;
    assert_eq!(earlier.len(), 4, "{earlier:#?}");
    assert!(
        earlier[0].starts_with(":lanchat NOTICE #lab :Earlier conversation, 20"),
        "{earlier:#?}"
    );
    assert!(
        earlier[1].starts_with("@time=20")
            && earlier[1].ends_with(":bob!u@lanchat PRIVMSG #lab :hello from irc"),
        "{earlier:#?}"
    );
    assert!(
        earlier[2].ends_with(":alice!u@lanchat PRIVMSG #lab :hello from lanchat"),
        "{earlier:#?}"
    );
    carol.send("PRIVMSG #lab :tagged").await;
    let echo = carol.line().await;
    assert!(echo.starts_with("@time=20"), "{echo}");
    assert!(echo.contains(";msgid="), "{echo}");
    assert!(
        echo.ends_with(" :carol!u@lanchat PRIVMSG #lab :tagged"),
        "{echo}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn whispers_go_both_ways_and_nowhere_else() {
    let server = TestServer::start().await;
    let mut alice = server.join("alice").await;
    let mut dave = server.join("dave").await;
    let (mut bob, _) = Irc::register(server.irc, "bob", &[]).await;
    assert_eq!(alice.recv().await, joined("dave"));
    assert_eq!(alice.recv().await, joined("bob"));
    assert_eq!(dave.recv().await, joined("bob"));

    bob.send("PRIVMSG alice :psst from irc").await;
    assert_eq!(alice.recv().await, whisper("bob", "alice", "psst from irc"));
    alice.say("/w bob psst back").await;
    assert_eq!(alice.recv().await, whisper("alice", "bob", "psst back"));
    assert_eq!(bob.line().await, ":alice!u@lanchat PRIVMSG bob :psst back");
    // Dave saw neither: the next thing he sees is the room's next line.
    alice.say("public").await;
    assert_eq!(dave.recv().await, message("alice", "public"));
    // A whisper to nobody gets 401.
    bob.send("PRIVMSG nobody :hello?").await;
    assert_eq!(bob.line().await, ":alice!u@lanchat PRIVMSG #lab :public");
    let line = bob.line().await;
    assert!(line.starts_with(":lanchat 401 bob nobody :"), "{line}");
    server.shutdown().await;
}

#[tokio::test]
async fn a_taken_or_look_alike_nick_gets_433_and_registration_goes_on() {
    let server = TestServer::start().await;
    let _alice = server.join("alice").await;
    let mut bob = Irc::connect(server.irc).await;
    bob.send("NICK ALICE\r\nUSER x 0 * :x").await;
    let line = bob.line().await;
    assert!(line.starts_with(":lanchat 433 * ALICE :"), "{line}");
    // A capital I for the l: a look-alike, refused the same way.
    bob.send("NICK aIice").await;
    let line = bob.line().await;
    assert!(line.starts_with(":lanchat 433 * aIice :"), "{line}");
    bob.send("NICK /bad").await;
    let line = bob.line().await;
    assert!(line.starts_with(":lanchat 432 * /bad :"), "{line}");
    bob.send("NICK bob").await;
    let line = bob.line().await;
    assert!(line.starts_with(":lanchat 001 bob "), "{line}");
    server.shutdown().await;
}

#[tokio::test]
async fn unknown_commands_and_long_lines_get_numerics_and_keep_the_connection() {
    let server = TestServer::start().await;
    let mut bob = Irc::connect(server.irc).await;
    bob.send("WHATEVER").await;
    assert_eq!(bob.line().await, ":lanchat 451 * :You have not registered");
    bob.send("NICK bob\r\nUSER bob 0 * :b").await;
    bob.until(" 366 ").await;
    bob.send("FROBNICATE now").await;
    assert_eq!(
        bob.line().await,
        ":lanchat 421 bob FROBNICATE :Unknown command"
    );
    bob.send(&format!("PRIVMSG #lab :{}", "x".repeat(600)))
        .await;
    assert_eq!(
        bob.line().await,
        ":lanchat 417 bob :Input line was too long"
    );
    bob.send("PING :still-here").await;
    assert_eq!(bob.line().await, ":lanchat PONG lanchat :still-here");
    server.shutdown().await;
}

#[tokio::test]
async fn a_client_that_never_registers_is_closed_with_a_reason() {
    let server = TestServer::with_config(|c| c.register_timeout = Duration::from_millis(300)).await;
    let mut idle = Irc::connect(server.irc).await;
    idle.send("NICK halfway").await;
    let lines = idle.until_closed().await;
    assert_eq!(
        lines,
        [
            ":lanchat NOTICE halfway :no name was registered in time",
            "ERROR :Closing link: registration timed out"
        ]
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_flooding_irc_client_is_kicked_like_any_other() {
    let server = TestServer::with_config(|c| {
        c.rate_limit = 5.0;
        c.rate_burst = 5;
        c.flood_kick_after = Duration::from_millis(300);
    })
    .await;
    let mut alice = server.join("alice").await;
    let (mut bob, _) = Irc::register(server.irc, "bob", &[]).await;
    assert_eq!(alice.recv().await, joined("bob"));
    let flood: String = (0..2000)
        .map(|i| format!("PRIVMSG #lab :{i}\r\n"))
        .collect();
    let _ = bob.stream.write_all(flood.as_bytes()).await;
    let lines = bob.until_closed().await;
    assert_eq!(
        lines.last().map(String::as_str),
        Some("ERROR :Closing link: flooding"),
        "{lines:?}"
    );
    // Alice saw the burst's first few, then the kick; never all of it.
    let mut said = 0;
    loop {
        match alice.recv().await {
            ServerFrame::Message { .. } => said += 1,
            left => {
                assert_eq!(
                    left,
                    ServerFrame::Left {
                        id: 0,
                        ts: String::new(),
                        name: "bob".into(),
                        reason: LeaveReason::Kicked
                    }
                );
                break;
            }
        }
    }
    assert!(said < 100, "{said} messages got through");
    server.shutdown().await;
}

#[tokio::test]
async fn irc_formatting_is_stripped_and_actions_are_actions() {
    let server = TestServer::start().await;
    let mut alice = server.join("alice").await;
    let (mut bob, _) = Irc::register(server.irc, "bob", &[]).await;
    let _ = alice.recv().await;
    bob.send("PRIVMSG #lab :\u{2}bold\u{2} \u{3}04,12red\u{3} \u{1b}[31mraw")
        .await;
    assert_eq!(alice.recv().await, message("bob", "bold red ␛[31mraw"));
    bob.send("PRIVMSG #lab :\u{1}ACTION waves\u{1}").await;
    let action = alice.recv().await;
    assert!(
        matches!(&action, ServerFrame::Message { from, text, action: true, .. } if from == "bob" && text == "waves"),
        "{action:?}"
    );
    alice.say("/me waves back").await;
    assert_eq!(
        bob.line().await,
        ":alice!u@lanchat PRIVMSG #lab :\u{1}ACTION waves back\u{1}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn nick_quit_part_and_join_map_to_the_room() {
    let server = TestServer::start().await;
    let mut alice = server.join("alice").await;
    let (mut bob, _) = Irc::register(server.irc, "bob", &[]).await;
    let _ = alice.recv().await;
    alice.say("/nick alicia").await;
    assert_eq!(bob.line().await, ":alice!u@lanchat NICK :alicia");
    let _own = alice.recv().await;
    bob.send("NICK robert").await;
    assert_eq!(bob.line().await, ":bob!u@lanchat NICK :robert");
    let renamed = alice.recv().await;
    assert!(
        matches!(&renamed, ServerFrame::Renamed { from, to, .. } if from == "bob" && to == "robert"),
        "{renamed:?}"
    );
    bob.send("PART #lab").await;
    assert_eq!(bob.line().await, ":robert!u@lanchat PART #lab");
    alice.expect_left("robert", LeaveReason::Quit).await;
    bob.send("PRIVMSG #lab :not in").await;
    let line = bob.line().await;
    assert!(line.starts_with(":lanchat 442 robert #lab :"), "{line}");
    bob.send("JOIN #lab").await;
    assert_eq!(bob.line().await, ":robert!u@lanchat JOIN #lab");
    assert_eq!(
        bob.line().await,
        ":lanchat 353 robert = #lab :alicia robert"
    );
    assert_eq!(alice.recv().await, joined("robert"));
    assert_eq!(
        bob.line().await,
        ":lanchat 366 robert #lab :End of /NAMES list"
    );
    bob.send("JOIN #elsewhere").await;
    let line = bob.line().await;
    assert!(
        line.starts_with(":lanchat 403 robert #elsewhere :"),
        "{line}"
    );
    bob.send("QUIT :see you").await;
    let lines = bob.until_closed().await;
    assert_eq!(lines, ["ERROR :Closing link: goodbye"]);
    alice.expect_left("robert", LeaveReason::Quit).await;
    server.shutdown().await;
}

#[tokio::test]
async fn names_irc_cannot_carry_are_shown_with_look_alikes_that_reach_them() {
    let server = TestServer::start().await;
    let mut odd = server.join("a!b").await;
    let (mut bob, lines) = Irc::register(server.irc, "bob", &[]).await;
    let _ = odd.recv().await;
    assert!(
        lines.contains(&":lanchat 353 bob = #lab :a！b bob".to_owned()),
        "{lines:#?}"
    );
    bob.send("PRIVMSG a！b :found you").await;
    assert_eq!(odd.recv().await, whisper("bob", "a!b", "found you"));
    odd.say("hi").await;
    assert_eq!(bob.line().await, ":a！b!u@lanchat PRIVMSG #lab :hi");
    server.shutdown().await;
}

#[tokio::test]
async fn a_long_lanchat_message_reaches_irc_in_lines_under_512_bytes() {
    let server = TestServer::start().await;
    let mut alice = server.join("alice").await;
    let (mut bob, _) = Irc::register(server.irc, "bob", &[]).await;
    let _ = alice.recv().await;
    let words: Vec<String> = (0..700).map(|i| format!("w{i}")).collect();
    let text = format!("{} é漢字", words.join(" "));
    alice.say(&text).await;
    let mut got = String::new();
    while got.len() < text.len() {
        let line = bob.line().await;
        assert!(line.len() + 2 <= 512, "{} bytes: {line}", line.len());
        let body = line
            .strip_prefix(":alice!u@lanchat PRIVMSG #lab :")
            .unwrap_or_else(|| panic!("{line}"));
        got.push_str(body);
    }
    assert_eq!(got, text);
    server.shutdown().await;
}

#[tokio::test]
async fn whois_away_and_who_answer_in_numerics() {
    let server = TestServer::start().await;
    let mut alice = server.join("alice").await;
    let (mut bob, _) = Irc::register(server.irc, "bob", &["away-notify"]).await;
    let _ = alice.recv().await;
    alice.say("/away lunch").await;
    assert_eq!(bob.line().await, ":alice!u@lanchat AWAY :lunch");
    bob.send("WHOIS alice").await;
    let lines = bob.until(" 318 ").await;
    let codes: Vec<&str> = lines.iter().filter_map(|l| l.split(' ').nth(1)).collect();
    assert_eq!(codes, ["311", "319", "301", "317", "318"], "{lines:#?}");
    assert!(
        lines[0].ends_with(":joined through the terminal door"),
        "{}",
        lines[0]
    );
    bob.send("PRIVMSG alice :you there?").await;
    assert_eq!(bob.line().await, ":lanchat 301 bob alice :lunch");
    bob.send("AWAY :brb").await;
    assert_eq!(
        bob.line().await,
        ":lanchat 306 bob :You have been marked as being away"
    );
    let _own = alice.recv().await;
    assert_eq!(alice.recv().await, whisper("bob", "alice", "you there?"));
    let away = alice.recv().await;
    assert!(
        matches!(&away, ServerFrame::Away { name, reason: Some(r), .. } if name == "bob" && r == "brb"),
        "{away:?}"
    );
    bob.send("WHO #lab").await;
    let lines = bob.until(" 315 ").await;
    assert_eq!(lines.len(), 3, "{lines:#?}");
    assert!(
        lines[0].starts_with(":lanchat 352 bob #lab u lanchat lanchat alice H"),
        "{}",
        lines[0]
    );
    // A lanchat client's list shows the IRC user like anyone else.
    alice.send(&ClientFrame::List { label: None }).await;
    let users = alice.recv().await;
    assert!(
        matches!(&users, ServerFrame::Users { users, .. } if users == &["alice", "bob"]),
        "{users:?}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn the_irc_door_obeys_the_same_admission_limits() {
    let server = TestServer::with_config(|c| c.max_per_ip = 1).await;
    let _alice = server.join("alice").await;
    // Alice's connection is the address's one: an IRC client from the
    // same address is refused, in IRC, with the reason.
    let mut bob = Irc::connect(server.irc).await;
    let lines = bob.until_closed().await;
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].starts_with("ERROR :Closing link: "), "{lines:?}");
    assert!(lines[0].contains("connections"), "{lines:?}");
    server.shutdown().await;
}

#[tokio::test]
async fn one_join_line_is_answered_for_a_few_channels_only() {
    let server = TestServer::start().await;
    let (mut bob, _) = Irc::register(server.irc, "bob", &[]).await;
    let many: Vec<String> = (0..100).map(|i| format!("#c{i}")).collect();
    bob.send(&format!("JOIN {}", many.join(","))).await;
    bob.send("PING :after").await;
    let lines = bob.until("PONG").await;
    let refused = lines.iter().filter(|l| l.contains(" 403 ")).count();
    assert_eq!(refused, 8, "{lines:#?}");
    server.shutdown().await;
}
