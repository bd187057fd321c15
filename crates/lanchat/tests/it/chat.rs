//! Three people in three terminals, using every command.

use crate::support::{lanchat, Proc, Server};

#[test]
fn three_people_use_every_command() {
    let server = Server::start();
    let mut alice = server.join("alice");
    let mut bob = server.client(&["--name", "Bob"]);
    bob.expect_line(
        "*** Welcome to lab, Bob! In the room: alice. Type /commands to see what you can do.",
    );
    alice.expect_line("*** Bob joined");
    let mut carol = server.join("carol");
    alice.expect_line("*** carol joined");
    bob.expect_line("*** carol joined");

    alice.send("hello everyone");
    bob.expect_line("<alice> hello everyone");
    carol.expect_line("<alice> hello everyone");
    alice.expect_line("<alice> hello everyone");

    alice.send("/w bob see you at lunch");
    bob.expect_line("[whisper from alice] see you at lunch");
    alice.expect_line("[whisper to Bob] see you at lunch");
    // Carol's next line is the message sent after the whisper: she never
    // saw the whisper (each expect reads the very next line).
    alice.send("public again");
    carol.expect_line("<alice> public again");
    bob.expect_line("<alice> public again");
    alice.expect_line("<alice> public again");

    carol.send("/list");
    carol.expect_line("*** 3 users: alice, Bob, carol");
    carol.send("/commands");
    let help = carol.expect_out("commands", |l| l.starts_with("*** commands:"));
    for cmd in ["/w NAME text", "/list", "/commands", "/x"] {
        assert!(help.contains(cmd), "{help}");
    }
    carol.send("/w nobody hi");
    carol.expect_line("!!! no user named 'nobody' is here");
    carol.send("/dance");
    carol.expect_line("!!! unknown command '/dance'; type /commands to see them all");

    bob.send("/x");
    assert_eq!(bob.wait().code(), Some(0));
    alice.expect_line("*** Bob left");
    carol.expect_line("*** Bob left");

    // Carol's list, help and errors went to carol only: alice's next line
    // is carol's message.
    carol.send("bye all");
    alice.expect_line("<carol> bye all");
    carol.expect_line("<carol> bye all");
}

#[test]
fn a_killed_client_is_announced_and_its_name_is_free_again() {
    // Without resuming, a lost connection is a departure at once.
    let server = Server::start_with(&["--room", "lab", "--resume-grace", "0"]);
    let (mut alice, mut bob) = server.alice_and_bob();
    bob.child.kill().expect("SIGKILL bob");
    let _ = bob.wait();
    alice.expect_line("*** bob dropped (connection lost)");
    let _bob_again = server.join("bob");
    alice.expect_line("*** bob joined");

    // With it (the default), the name is held for bob to come back.
    let server = Server::start();
    let (mut alice, mut bob) = server.alice_and_bob();
    bob.child.kill().expect("SIGKILL bob");
    let _ = bob.wait();
    alice.expect_line("*** bob lost connection; holding the name");
}

#[test]
fn a_taken_name_is_explained_and_the_next_line_is_tried() {
    let server = Server::start();
    let _alice = server.join("alice");
    let mut other = server.client(&["--name", "ALICE"]);
    other.expect_err("already taken");
    other.send("alice2");
    other.expect_out("welcome", |l| l.starts_with("*** Welcome to lab, alice2!"));
}

#[test]
fn without_a_name_the_client_asks_for_one() {
    let server = Server::start();
    let mut p = server.client(&[]);
    p.send("bad name");
    p.expect_err("whitespace");
    p.send("dana");
    p.expect_out("welcome", |l| l.starts_with("*** Welcome to lab, dana!"));
}

#[test]
fn end_of_input_sends_what_was_piped_and_leaves_cleanly() {
    let server = Server::start();
    let mut alice = server.join("alice");
    let mut bot = server.client(&["--name", "bot"]);
    bot.send("status: all green");
    bot.close_stdin();
    assert_eq!(bot.wait().code(), Some(0));
    alice.expect_line("*** bot joined");
    alice.expect_line("<bot> status: all green");
    alice.expect_line("*** bot left");
}

#[test]
fn escape_sequences_arrive_inert() {
    let server = Server::start();
    let (mut alice, mut bob) = server.alice_and_bob();
    bob.send("\u{1b}[2J\u{1b}]0;owned\u{7}hi");
    alice.expect_line("<bob> ␛[2J␛]0;owned␇hi");
}

#[test]
fn sigterm_and_sigint_tell_clients_and_exit_zero() {
    for signal in ["-TERM", "-INT"] {
        // A server that offers no resuming: its clients end with it.
        let mut server = Server::start_with(&["--room", "lab", "--resume-grace", "0"]);
        let mut alice = server.join("alice");
        server.proc.signal(signal);
        alice.expect_line("*** server: the server is shutting down");
        alice.expect_line("*** disconnected: server shutting down");
        assert_eq!(alice.wait().code(), Some(1), "{signal}");
        assert_eq!(server.proc.wait().code(), Some(0), "{signal}");
    }
    // One that does: its clients wait for it to come back, until told to
    // leave.
    let mut server = Server::start();
    let mut alice = server.join("alice");
    server.proc.signal("-TERM");
    alice.expect_line("*** server: the server is shutting down");
    alice.expect_line("*** the server is shutting down; waiting for it to come back");
    alice.expect_line("*** connection lost; reconnecting (attempt 1)...");
    alice.send("/x");
    assert_eq!(alice.wait().code(), Some(0));
    assert_eq!(server.proc.wait().code(), Some(0));
}

#[test]
fn the_interactive_default_is_join() {
    let server = Server::start();
    let mut cmd = lanchat();
    cmd.args(["--server", &server.addr, "--name", "eve"]);
    let mut eve = Proc::spawn(cmd);
    eve.expect_out("welcome", |l| l.starts_with("*** Welcome to lab, eve!"));
    eve.send("/quit");
    assert_eq!(eve.wait().code(), Some(0));
}

/// The server's log names every arrival and departure with its reason,
/// and never contains what anyone said.
#[test]
fn the_server_log_names_departures_and_never_holds_message_text() {
    let mut server = Server::start_with(&["--room", "lab", "--resume-grace", "0"]);
    let (mut alice, mut bob) = server.alice_and_bob();
    bob.send("secret words");
    alice.expect_line("<bob> secret words");
    bob.send("/w alice whispered words");
    alice.expect_line("[whisper from bob] whispered words");
    bob.send("/x");
    assert_eq!(bob.wait().code(), Some(0));
    alice.expect_line("*** bob left");
    alice.child.kill().expect("SIGKILL alice");
    let _ = alice.wait();
    server.proc.signal("-TERM");
    assert_eq!(server.proc.wait().code(), Some(0));
    let log = server.proc.rest_of_stderr();
    let has = |words: &[&str]| log.iter().any(|l| words.iter().all(|w| l.contains(w)));
    assert!(has(&["joined", "bob"]), "{log:#?}");
    assert!(has(&["left", "bob", "Quit"]), "{log:#?}");
    assert!(has(&["left", "alice", "Dropped"]), "{log:#?}");
    // Everything that arrived, read to the end: no line holds a message.
    for line in &log {
        assert!(
            !line.contains("secret") && !line.contains("whispered"),
            "{line}"
        );
    }
}

/// A long paste piped into `--plain` is sent at the pace the server
/// advertised: all of it arrives, in order, and its sender is never
/// kicked as a flooder (here the server kicks after 1 s over its rate,
/// and the paste needs more than 2 s at that rate).
#[test]
fn a_long_paste_is_paced_not_kicked() {
    let server = Server::start_with(&[
        "--room",
        "lab",
        "--rate-limit",
        "50",
        "--rate-burst",
        "5",
        "--flood-kick-after",
        "1",
    ]);
    let mut alice = server.join("alice");
    let mut bot = server.client(&["--name", "bot"]);
    for i in 0..120 {
        bot.send(&format!("line {i}"));
    }
    bot.close_stdin();
    alice.expect_line("*** bot joined");
    for i in 0..120 {
        alice.expect_line(&format!("<bot> line {i}"));
    }
    alice.expect_line("*** bot left");
    assert_eq!(bot.wait().code(), Some(0));
}

/// `/me` is an action, shown as `* NAME action` to everyone, the sender
/// included; without an action it is a usage error to the sender only.
#[test]
fn me_shows_an_action_to_everyone() {
    let server = Server::start();
    let (mut alice, mut bob) = server.alice_and_bob();
    alice.send("/me waves at everyone");
    bob.expect_line("* alice waves at everyone");
    alice.expect_line("* alice waves at everyone");
    alice.send("/me");
    alice.expect_line("!!! usage: /me action");
    bob.send("back to words");
    alice.expect_line("<bob> back to words");
    bob.expect_line("<bob> back to words");
}

/// `/reply` (and `/r`) whispers back to whoever whispered last; nobody
/// else sees either whisper.
#[test]
fn reply_answers_the_last_whisper() {
    let server = Server::start();
    let (mut alice, mut bob) = server.alice_and_bob();
    let mut carol = server.join("carol");
    alice.expect_line("*** carol joined");
    bob.expect_line("*** carol joined");
    bob.send("/w alice lunch?");
    alice.expect_line("[whisper from bob] lunch?");
    bob.expect_line("[whisper to alice] lunch?");
    alice.send("/r yes, at noon");
    bob.expect_line("[whisper from alice] yes, at noon");
    alice.expect_line("[whisper to bob] yes, at noon");
    // Carol saw neither: her next line is the next public one.
    bob.send("see you all");
    carol.expect_line("<bob> see you all");
}

/// `/nick` renames: everyone is told, the new name is the one others
/// whisper to, and the TUI-less `--plain` shows it as a server line.
#[test]
fn nick_renames_and_everyone_is_told() {
    let server = Server::start();
    let (mut alice, mut bob) = server.alice_and_bob();
    alice.send("/nick alicia");
    alice.expect_line("*** alice is now known as alicia");
    bob.expect_line("*** alice is now known as alicia");
    bob.send("/w alicia welcome back");
    alice.expect_line("[whisper from bob] welcome back");
    bob.expect_line("[whisper to alicia] welcome back");
    alice.send("/nick again");
    alice.expect_line("!!! you can change your name once every 10 s");
    alice.send("hello as alicia");
    bob.expect_line("<alicia> hello as alicia");
    alice.expect_line("<alicia> hello as alicia");
}

/// `/away` and `/back` are announced, and a whisper to somebody away
/// tells its sender why.
#[test]
fn away_and_back_are_announced_and_whisperers_told() {
    let server = Server::start();
    let (mut alice, mut bob) = server.alice_and_bob();
    bob.send("/away at lunch");
    alice.expect_line("*** bob is away: at lunch");
    bob.expect_line("*** bob is away: at lunch");
    alice.send("/w bob coffee?");
    alice.expect_line("[whisper to bob] coffee?");
    alice.expect_line("*** bob is away: at lunch");
    bob.expect_line("[whisper from alice] coffee?");
    bob.send("/back");
    alice.expect_line("*** bob is back");
    bob.expect_line("*** bob is back");
}

/// The topic: set by the server (`--topic`), told to whoever joins, set by
/// anyone with `/topic TEXT` unless `--topic-locked`.
#[test]
fn the_topic_is_told_to_newcomers_and_set_by_anyone_unless_locked() {
    let server = Server::start_with(&["--room", "lab", "--topic", "LAN party rules: be nice"]);
    let mut alice = server.join("alice");
    alice.expect_line("*** topic: LAN party rules: be nice");
    alice.send("/topic pizza at 6");
    alice.expect_line("*** alice set the topic: pizza at 6");
    let mut bob = server.join("bob");
    bob.expect_line("*** topic: pizza at 6");
    alice.expect_line("*** bob joined");

    let locked = Server::start_with(&["--room", "lab", "--topic", "fixed", "--topic-locked"]);
    let mut carol = locked.join("carol");
    carol.expect_line("*** topic: fixed");
    carol.send("/topic mine");
    carol.expect_line("!!! only the server sets the topic here");
    bob.send("/x");
    assert_eq!(bob.wait().code(), Some(0));
}

/// `/whois NAME` answers the asker: since when, through which door, and
/// whether away.
#[test]
fn whois_says_since_when_how_and_whether_away() {
    let server = Server::start();
    let (mut alice, mut bob) = server.alice_and_bob();
    bob.send("/away lunch");
    bob.expect_line("*** bob is away: lunch");
    alice.expect_line("*** bob is away: lunch");
    alice.send("/whois bob");
    let line = alice.expect_out("whois", |l| l.starts_with("*** bob has been here since "));
    assert!(line.ends_with("(via terminal), away: lunch"), "{line}");
    // Only alice asked: bob's next line is his own message.
    bob.send("back soon");
    bob.expect_line("<bob> back soon");
}

/// `/whois` shows where somebody connects from only when the server is
/// set to (`--whois-shows-address`); never by default (above).
#[test]
fn whois_shows_the_address_only_when_the_server_allows_it() {
    let server = Server::start_with(&["--room", "lab", "--whois-shows-address"]);
    let (mut alice, _bob) = server.alice_and_bob();
    alice.send("/whois bob");
    let line = alice.expect_out("whois", |l| l.starts_with("*** bob has been here since "));
    assert!(line.ends_with("(via terminal), from 127.0.0.1"), "{line}");
}

/// `/ignore NAME` hides NAME's lines from the ignorer, enforced by the
/// server; NAME is not told; `/unignore` ends it.
#[test]
fn ignore_hides_someone_from_the_ignorer_only() {
    let server = Server::start();
    let (mut alice, mut bob) = server.alice_and_bob();
    alice.send("/ignore bob");
    alice.expect_line("*** you ignore: bob");
    bob.send("can you hear me?");
    bob.expect_line("<bob> can you hear me?");
    bob.send("/w alice psst");
    bob.expect_line("[whisper to alice] psst");
    alice.send("/unignore bob");
    alice.expect_line("*** you ignore nobody");
    bob.send("now?");
    // Nothing of bob's reached alice while ignored: her next line is this.
    alice.expect_line("<bob> now?");
    bob.expect_line("<bob> now?");
}

/// `--log FILE` appends the conversation as plain text, one line per
/// event, each with the server's time.
#[test]
fn log_appends_the_conversation_with_server_times() {
    let server = Server::start();
    let path = std::env::temp_dir().join(format!("lanchat-chat-{}.log", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let mut alice = server.client(&["--name", "alice", "--log", path.to_str().unwrap()]);
    alice.expect_out("welcome", |l| l.starts_with("*** Welcome to lab, alice!"));
    let mut bob = server.join("bob");
    alice.expect_line("*** bob joined");
    bob.send("hello alice");
    alice.expect_line("<bob> hello alice");
    alice.send("/x");
    assert_eq!(alice.wait().code(), Some(0));
    let log = std::fs::read_to_string(&path).expect("the log");
    let lines: Vec<&str> = log.lines().collect();
    let texts: Vec<&str> = lines
        .iter()
        .map(|l| l.split_once(' ').map_or("", |(_, rest)| rest))
        .collect();
    assert_eq!(
        texts[..3],
        [
            "*** Welcome to lab, alice! In the room: nobody else yet. Type /commands to see what you can do.",
            "*** bob joined",
            "<bob> hello alice",
        ]
    );
    for line in &lines {
        let ts = line.split(' ').next().unwrap_or("");
        assert!(lanchat_proto::time::parse_ms(ts).is_some(), "{line}");
    }
    let _ = std::fs::remove_file(&path);
}

/// The last name used is offered at the name prompt; Enter takes it.
#[test]
fn the_last_name_used_is_the_default() {
    let server = Server::start();
    let home = std::env::temp_dir().join(format!("lanchat-names-{}", std::process::id()));
    let run = |args: &[&str]| {
        let mut cmd = lanchat();
        cmd.env("XDG_CONFIG_HOME", &home)
            .args(["join", "--plain", "--server", &server.addr])
            .args(args);
        Proc::spawn(cmd)
    };
    let mut first = run(&["--name", "erin"]);
    first.expect_out("welcome", |l| l.starts_with("*** Welcome to lab, erin!"));
    first.send("/x");
    assert_eq!(first.wait().code(), Some(0));
    let mut again = run(&[]);
    again.send("");
    again.expect_out("welcome", |l| l.starts_with("*** Welcome to lab, erin!"));
    again.send("/x");
    assert_eq!(again.wait().code(), Some(0));
    let diagnostics = again.rest_of_stderr().join("\n");
    assert!(diagnostics.contains("name [erin]: "), "{diagnostics:?}");
    let _ = std::fs::remove_dir_all(&home);
}

/// `--timestamps FORMAT` starts every `--plain` line with its time (the
/// server's for room events) in that format; a format that is not one is
/// a usage error.
#[test]
fn plain_timestamps_follow_the_format() {
    let server = Server::start();
    let mut alice = server.client(&["--name", "alice", "--timestamps", "[%H:%M:%S]"]);
    alice.expect_out("welcome", |l| l.starts_with("*** Welcome to lab, alice!"));
    let mut bob = server.join("bob");
    let is_time = |t: &str| {
        t.len() == 10
            && t.starts_with('[')
            && t.ends_with(']')
            && t[1..9].chars().filter(|c| c.is_ascii_digit()).count() == 6
    };
    let joined = alice.expect_out("bob joined", |l| l.ends_with(" *** bob joined"));
    assert!(is_time(&joined[..10]), "{joined}");
    bob.send("hello alice");
    let said = alice.expect_out("bob's line", |l| l.ends_with(" <bob> hello alice"));
    assert!(is_time(&said[..10]), "{said}");
    alice.send("/x");
    assert_eq!(alice.wait().code(), Some(0));

    let mut bad = server.client(&["--name", "carol", "--timestamps", "%Q"]);
    bad.expect_err("--timestamps");
    assert_eq!(bad.wait().code(), Some(2), "a usage error");
}

/// Every alias `/commands` lists does what its command does, end to end in
/// `--plain`: `/msg`, `/whisper`, `/reply`, `/users`, `/names`, `/help` and
/// `/exit`.
#[test]
fn every_alias_works_in_plain() {
    let server = Server::start();
    let (mut alice, mut bob) = server.alice_and_bob();
    alice.send("/msg bob one");
    alice.expect_line("[whisper to bob] one");
    bob.expect_line("[whisper from alice] one");
    alice.send("/whisper bob two");
    alice.expect_line("[whisper to bob] two");
    bob.expect_line("[whisper from alice] two");
    bob.send("/reply three");
    bob.expect_line("[whisper to alice] three");
    alice.expect_line("[whisper from bob] three");
    for list in ["/users", "/names", "/who", "/list"] {
        alice.send(list);
        alice.expect_line("*** 2 users: alice, bob");
    }
    alice.send("/help");
    let help = alice.expect_out("commands", |l| l.starts_with("*** commands:"));
    for alias in [
        "/msg", "/whisper", "/users", "/names", "/exit", "/reply", "/r ",
    ] {
        assert!(help.contains(alias), "{alias} in {help}");
    }
    bob.send("/exit");
    assert_eq!(bob.wait().code(), Some(0));
    alice.expect_line("*** bob left");
}

/// A newcomer sees the earlier conversation after the welcome, each line
/// marked `[earlier HH:MM] `; `serve --history 0` shows none.
#[test]
fn newcomers_see_the_earlier_conversation_marked() {
    let server = Server::start();
    let mut alice = server.join("alice");
    alice.send("before you came");
    alice.expect_line("<alice> before you came");
    alice.send("/me waves");
    alice.expect_line("* alice waves");
    let mut bob = server.join("bob");
    let first = bob.expect_out("history", |l| l.starts_with("[earlier "));
    assert!(first.ends_with("] <alice> before you came"), "{first}");
    let time = &first["[earlier ".len()..first.find(']').unwrap_or(0)];
    assert!(time.len() == 5 && time.as_bytes()[2] == b':', "{first}");
    let second = bob.expect_out("history", |l| l.starts_with("[earlier "));
    assert!(second.ends_with("] * alice waves"), "{second}");
    alice.send("now live");
    bob.expect_line("<alice> now live");

    let server = Server::start_with(&["--room", "lab", "--history", "0"]);
    let mut alice = server.join("alice");
    alice.send("forgotten");
    alice.expect_line("<alice> forgotten");
    let mut bob = server.join("bob");
    alice.send("live");
    bob.expect_line("<alice> live");
}
