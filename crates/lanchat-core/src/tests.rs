//! Room behaviour, driven step by step and rendered as one line per output
//! so that each test reads like a transcript.

use std::collections::HashMap;

use crate::*;

const MAX_TEXT: usize = 4096;

/// A room plus the names tests use to refer to members.
struct World {
    room: Room,
    ids: HashMap<&'static str, MemberId>,
    /// The clock the tests pass in, in ms since the epoch.
    now: u64,
}

impl World {
    fn new() -> Self {
        World {
            room: Room::new(RoomId::MAIN, "lab", MAX_TEXT),
            ids: HashMap::new(),
            now: 1_000,
        }
    }

    fn join(&mut self, name: &'static str) -> Vec<String> {
        let mut out = Vec::new();
        let id = self
            .room
            .join(name, None, self.now, &mut out)
            .expect("join");
        self.ids.insert(name, id);
        self.render(out)
    }

    /// Types a line as the lanchat text door would: parse errors are the
    /// door's to answer, commands go to the room.
    fn input(&mut self, who: &str, line: &str) -> Vec<String> {
        match typed::parse(line) {
            Ok(command) => self.apply(who, command, None),
            Err(e) => vec![format!(
                "{who}: Error {{ code: {:?}, text: {:?} }}",
                e.code(),
                e.to_string()
            )],
        }
    }

    fn apply(&mut self, who: &str, command: Command, label: Option<&str>) -> Vec<String> {
        let out = self.outputs(who, command, label);
        self.render(out)
    }

    /// What one command from `who` produces.
    fn outputs(&mut self, who: &str, command: Command, label: Option<&str>) -> Vec<Output> {
        let mut out = Vec::new();
        let label = label.map(Label::from);
        self.room
            .apply(self.ids[who], command, label, self.now, &mut out);
        out
    }

    fn leave(&mut self, who: &str, reason: LeaveReason) -> Vec<String> {
        let mut out = Vec::new();
        self.room.leave(self.ids[who], reason, self.now, &mut out);
        self.render(out)
    }

    fn who(&self, id: MemberId) -> &str {
        self.ids
            .iter()
            .find(|(_, v)| **v == id)
            .map(|(k, _)| *k)
            .unwrap_or("?")
    }

    fn render(&self, out: Vec<Output>) -> Vec<String> {
        out.into_iter()
            .map(|o| match o {
                Output::Close(id) => format!("close {}", self.who(id)),
                Output::Record(past) => format!("record {}", past.stamp.id),
                Output::Send(Delivery { to, event, .. }) => {
                    let to = match to {
                        Target::One(id) => self.who(id).to_string(),
                        Target::All => "all".into(),
                        Target::AllBut(id) => format!("all-but-{}", self.who(id)),
                        Target::AllExcept(ids) => {
                            let names: Vec<&str> = ids.iter().map(|id| self.who(*id)).collect();
                            format!("all-except-{}", names.join("-"))
                        }
                    };
                    format!("{to}: {event:?}")
                }
            })
            .collect()
    }
}

#[track_caller]
fn check(got: Vec<String>, expected: &[&str]) {
    assert_eq!(got, expected, "\n got: {got:#?}");
}

#[test]
fn joining_welcomes_the_newcomer_and_tells_the_others() {
    let mut w = World::new();
    w.join("bob");
    check(
        w.join("alice"),
        &[
            r#"alice: Welcome { name: "alice", room: "lab", users: ["bob"] }"#,
            r#"all-but-alice: Joined { name: "alice" }"#,
        ],
    );
}

#[test]
fn names_are_unique_case_insensitively() {
    let mut w = World::new();
    w.join("Alice");
    let mut out = Vec::new();
    assert_eq!(
        w.room.join("alice", None, 0, &mut out),
        Err(NameError::Taken("alice".into()))
    );
    assert_eq!(
        w.room.join(" ALICE ", None, 0, &mut out),
        Err(NameError::Taken("ALICE".into()))
    );
    assert!(out.is_empty(), "a refused join tells nobody anything");
}

#[test]
fn invalid_names_get_a_reason() {
    let cases: &[(&str, NameError)] = &[
        ("", NameError::Empty),
        ("   ", NameError::Empty),
        ("a b", NameError::Whitespace),
        ("ab\u{1b}[31m", NameError::Invisible),
        ("\u{202E}ecila", NameError::Invisible),
        ("al\u{200B}ice", NameError::Invisible),
        ("/op", NameError::LeadingSlash),
        ("Server", NameError::Reserved("Server".into())),
        // Reserved words are reserved in their look-alikes too.
        ("ЅҮЅТЕМ", NameError::Reserved("ЅҮЅТЕМ".into())),
        ("ꜱerver", NameError::Reserved("ꜱerver".into())),
        ("admın", NameError::Reserved("admın".into())),
        ("adrnin", NameError::Reserved("adrnin".into())),
        ("ADMlN", NameError::Reserved("ADMlN".into())),
        ("r00t", NameError::Reserved("r00t".into())),
        // Names that would look blank, or hide a blank inside.
        ("\u{3164}", NameError::Invisible),
        ("\u{FFA0}", NameError::Invisible),
        ("\u{115F}", NameError::Invisible),
        ("\u{2800}", NameError::Invisible),
        ("\u{0600}", NameError::Invisible),
        ("\u{13430}", NameError::Invisible),
        ("al\u{3164}ice", NameError::Invisible),
        ("\u{301}\u{301}", NameError::Blank),
        ("abcdefghijabcdefghijabcdefghijabc", NameError::TooLong),
    ];
    for (raw, want) in cases {
        assert_eq!(Name::parse(raw).as_ref(), Err(want), "{raw:?}");
    }
    for ok in [
        "José",
        "Дмитрий",
        "李雷",
        "x",
        "abcdefghijabcdefghijabcdefghijab",
    ] {
        assert!(Name::parse(ok).is_ok(), "{ok:?}");
    }
}

#[test]
fn messages_go_to_everyone_with_the_senders_name() {
    let mut w = World::new();
    w.join("alice");
    w.join("bob");
    check(
        w.input("alice", "hello"),
        &[r#"all: Message { from: "alice", text: "hello" }"#],
    );
    check(
        w.input("alice", "//etc/passwd is a path"),
        &[r#"all: Message { from: "alice", text: "/etc/passwd is a path" }"#],
    );
}

#[test]
fn reply_whispers_to_whoever_whispered_last() {
    let mut w = World::new();
    w.join("alice");
    w.join("bob");
    w.join("carol");
    check(
        w.input("carol", "/r hello?"),
        &[r#"carol: Error { code: "no_such_user", text: "nobody has whispered to you yet" }"#],
    );
    w.input("bob", "/w alice lunch?");
    check(
        w.input("alice", "/r yes"),
        &[
            r#"bob: Whisper { from: "alice", to: "bob", text: "yes" }"#,
            r#"alice: Whisper { from: "alice", to: "bob", text: "yes" }"#,
        ],
    );
    w.leave("bob", LeaveReason::Quit);
    check(
        w.input("alice", "/reply still there?"),
        &[
            r#"alice: Error { code: "no_such_user", text: "whoever whispered to you last has left" }"#,
        ],
    );
}

/// `/nick` follows the join rules, is announced to everyone, frees the old
/// name at once, and may be used once every ten seconds.
#[test]
fn nick_renames_under_the_join_rules_and_not_too_often() {
    let mut w = World::new();
    w.join("alice");
    w.join("bob");
    check(
        w.input("alice", "/nick alicia"),
        &[r#"all: Renamed { from: "alice", to: "alicia" }"#],
    );
    check(
        w.input("alice", "/nick again"),
        &[r#"alice: Error { code: "too_soon", text: "you can change your name once every 10 s" }"#],
    );
    w.now += 10_000;
    check(
        w.input("alice", "/nick BOB"),
        &[
            r#"alice: Error { code: "taken", text: "'BOB' is already taken in this room (or looks too much like a name that is)" }"#,
        ],
    );
    check(
        w.input("alice", "/nick a b"),
        &[r#"alice: Error { code: "invalid", text: "the name contains whitespace" }"#],
    );
    // A change of case of one's own name is not taken.
    check(
        w.input("alice", "/nick Alicia"),
        &[r#"all: Renamed { from: "alicia", to: "Alicia" }"#],
    );
    // The new name is found, and the old one is free again.
    assert_eq!(w.input("bob", "/w ALICIA hi").len(), 2);
    w.join("alice2");
    let mut out = Vec::new();
    assert!(w.room.join("alice", None, w.now, &mut out).is_ok());
}

/// `/away` and `/back` are announced; a whisper to somebody away tells
/// the sender why; a newcomer and a `/list` learn who is away.
#[test]
fn away_is_announced_told_to_whisperers_and_listed() {
    let mut w = World::new();
    w.join("alice");
    w.join("bob");
    check(
        w.input("bob", "/away at lunch"),
        &[r#"all: Away { name: "bob", reason: Some("at lunch") }"#],
    );
    check(
        w.input("alice", "/w bob coffee?"),
        &[
            r#"bob: Whisper { from: "alice", to: "bob", text: "coffee?" }"#,
            r#"alice: Whisper { from: "alice", to: "bob", text: "coffee?" }"#,
            r#"alice: Away { name: "bob", reason: Some("at lunch") }"#,
        ],
    );
    check(
        w.input("alice", "/list"),
        &[
            r#"alice: Users { users: ["alice", "bob"] }"#,
            r#"alice: Away { name: "bob", reason: Some("at lunch") }"#,
        ],
    );
    let carol = w.join("carol");
    assert!(
        carol
            .iter()
            .any(|l| l == r#"carol: Away { name: "bob", reason: Some("at lunch") }"#),
        "{carol:?}"
    );
    check(
        w.input("bob", "/back"),
        &[r#"all: Away { name: "bob", reason: None }"#],
    );
    check(
        w.input("alice", "/w bob hi")
            .iter()
            .filter(|l| l.contains("Away"))
            .cloned()
            .collect::<Vec<_>>(),
        &[],
    );
}

/// `/topic` sets the topic for everyone (and newcomers are told it);
/// `/topic` alone says what it is; a locked topic is the server's.
#[test]
fn topic_is_set_announced_told_and_can_be_locked() {
    let mut w = World::new();
    w.join("alice");
    w.join("bob");
    check(
        w.input("bob", "/topic"),
        &[r#"bob: Topic { topic: "", by: None }"#],
    );
    check(
        w.input("alice", "/topic  pizza at 6 "),
        &[r#"all: Topic { topic: "pizza at 6", by: Some("alice") }"#],
    );
    let carol = w.join("carol");
    assert!(
        carol
            .iter()
            .any(|l| l == r#"carol: Topic { topic: "pizza at 6", by: None }"#),
        "{carol:?}"
    );
    w.room.lock_topic(true);
    check(
        w.input("bob", "/topic mine now"),
        &[r#"bob: Error { code: "topic_locked", text: "only the server sets the topic here" }"#],
    );
}

/// `/whois` says since when somebody is here, through which door, and
/// whether away; to the asker only.
#[test]
fn whois_answers_the_asker() {
    let mut w = World::new();
    w.join("alice");
    w.now = 5_000;
    w.join("bob");
    w.input("bob", "/away lunch");
    check(
        w.input("alice", "/whois BOB"),
        &[
            r#"alice: Whois { name: "bob", since_ms: 5000, door: "terminal", away: Some("lunch"), address: None }"#,
        ],
    );
    // With the address recorded (a server that shows it), it is told.
    let bob = w.ids["bob"];
    w.room.set_address(bob, "10.0.0.7".into());
    check(
        w.input("alice", "/whois bob"),
        &[
            r#"alice: Whois { name: "bob", since_ms: 5000, door: "terminal", away: Some("lunch"), address: Some("10.0.0.7") }"#,
        ],
    );
    check(
        w.input("alice", "/whois nobody"),
        &[r#"alice: Error { code: "no_such_user", text: "no user named 'nobody' is here" }"#],
    );
}

/// `/ignore` hides a member's messages, actions and whispers from the
/// ignorer, enforced by the room; the ignored member is not told; it
/// follows a `/nick` and ends when they leave.
#[test]
fn ignore_hides_a_member_from_the_ignorer_only() {
    let mut w = World::new();
    w.join("alice");
    w.join("bob");
    w.join("carol");
    check(
        w.input("alice", "/ignore BOB"),
        &[r#"alice: Ignoring { names: ["bob"] }"#],
    );
    check(
        w.input("bob", "spam"),
        &[r#"all-except-alice: Message { from: "bob", text: "spam" }"#],
    );
    // A whisper to the ignorer: the sender gets its copy, and no sign.
    check(
        w.input("bob", "/w alice psst"),
        &[r#"bob: Whisper { from: "bob", to: "alice", text: "psst" }"#],
    );
    // Through a rename too.
    w.input("bob", "/nick robert");
    check(
        w.input("bob", "/me waves"),
        &[r#"all-except-alice: Action { from: "robert", text: "waves" }"#],
    );
    check(
        w.input("alice", "/ignore"),
        &[r#"alice: Ignoring { names: ["robert"] }"#],
    );
    check(
        w.input("alice", "/unignore robert"),
        &[r#"alice: Ignoring { names: [] }"#],
    );
    check(
        w.input("bob", "hello again"),
        &[r#"all: Message { from: "robert", text: "hello again" }"#],
    );
    check(
        w.input("alice", "/ignore alice"),
        &[r#"alice: Error { code: "ignore_self", text: "you can't ignore yourself" }"#],
    );
}

#[test]
fn me_is_an_action_to_everyone_and_needs_one() {
    let mut w = World::new();
    w.join("alice");
    w.join("bob");
    check(
        w.input("alice", "/me waves \u{1b}[2J"),
        &[r#"all: Action { from: "alice", text: "waves ␛[2J" }"#],
    );
    check(
        w.input("alice", "/ME   "),
        &[r#"alice: Error { code: "usage", text: "usage: /me action" }"#],
    );
}

#[test]
fn control_characters_arrive_inert() {
    let mut w = World::new();
    w.join("alice");
    check(
        w.input("alice", "a\u{1b}[2Jb\u{7}\tc\u{9b}d\u{202E}e"),
        &[r#"all: Message { from: "alice", text: "a␛[2Jb␇ c�de" }"#],
    );
}

/// A line or paragraph separator (or NEL) must not start a new line for a
/// consumer that splits the way Python's `splitlines()` does: it could
/// forge a `*** server:` or `[whisper from …]` line.
#[test]
fn line_separators_cannot_forge_a_line() {
    let mut w = World::new();
    w.join("alice");
    check(
        w.input("alice", "hi\u{2028}*** server: x\u{2029}y\u{85}z"),
        &[r#"all: Message { from: "alice", text: "hi␤*** server: x␤y�z" }"#],
    );
    assert!(Name::parse("a\u{2028}b").is_err());
}

#[test]
fn blank_and_oversized_messages_are_refused_to_the_sender_only() {
    let mut w = World::new();
    w.join("alice");
    check(
        w.input("alice", "   "),
        &[r#"alice: Error { code: "empty", text: "there is nothing to send" }"#],
    );
    let long = "x".repeat(MAX_TEXT + 1);
    let got = w.input("alice", &long);
    assert_eq!(got.len(), 1);
    assert!(
        got[0].starts_with(r#"alice: Error { code: "too_long""#),
        "{got:?}"
    );
}

/// The limit is on what is relayed: a line within it that cleaning makes
/// longer (each DEL becomes a three-byte `␡`) is refused too.
#[test]
fn the_text_limit_holds_after_cleaning() {
    let mut w = World::new();
    w.join("alice");
    let dels = "\u{7f}".repeat(MAX_TEXT);
    let got = w.input("alice", &dels);
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(
        got[0].starts_with(r#"alice: Error { code: "too_long""#),
        "{got:?}"
    );
}

#[test]
fn whispers_reach_only_the_recipient_and_confirm_to_the_sender() {
    let mut w = World::new();
    w.join("alice");
    w.join("Bob");
    w.join("carol");
    check(
        w.input("alice", "/w bob psst  there"),
        &[
            r#"Bob: Whisper { from: "alice", to: "Bob", text: "psst  there" }"#,
            r#"alice: Whisper { from: "alice", to: "Bob", text: "psst  there" }"#,
        ],
    );
}

#[test]
fn whisper_mistakes_are_errors_to_the_sender_only() {
    let mut w = World::new();
    w.join("alice");
    check(
        w.input("alice", "/w zed hi"),
        &[r#"alice: Error { code: "no_such_user", text: "no user named 'zed' is here" }"#],
    );
    check(
        w.input("alice", "/w alice hi"),
        &[r#"alice: Error { code: "whisper_self", text: "you can't whisper to yourself" }"#],
    );
    for bad in ["/w", "/w alice", "/w alice   "] {
        check(
            w.input("alice", bad),
            &[r#"alice: Error { code: "usage", text: "usage: /w NAME text" }"#],
        );
    }
}

#[test]
fn list_help_and_unknown_commands_answer_only_the_asker() {
    let mut w = World::new();
    w.join("carol");
    w.join("Alice");
    w.join("bob");
    check(
        w.input("bob", "/list"),
        &[r#"bob: Users { users: ["Alice", "bob", "carol"] }"#],
    );
    let help = w.input("bob", "/HELP");
    assert_eq!(help.len(), 1);
    assert!(help[0].starts_with("bob: Commands"));
    assert_eq!(w.input("bob", "/commands"), help);
    check(
        w.input("bob", "/dance now"),
        &[
            r#"bob: Error { code: "unknown_command", text: "unknown command '/dance'; type /commands to see them all" }"#,
        ],
    );
}

#[test]
fn quitting_says_goodbye_closes_and_announces_once() {
    let mut w = World::new();
    w.join("alice");
    w.join("bob");
    check(
        w.input("alice", "/x"),
        &[
            r#"alice: Bye { code: "quit", reason: "goodbye" }"#,
            "close alice",
            r#"all-but-alice: Left { name: "alice", reason: Quit }"#,
        ],
    );
    check(w.leave("alice", LeaveReason::Dropped), &[]);
    check(w.input("alice", "still here?"), &[]);
}

#[test]
fn a_dropped_member_frees_their_name_and_nobody_elses_changes() {
    let mut w = World::new();
    w.join("alice");
    w.join("bob");
    w.join("carol");
    let bob = w.ids["bob"];
    check(
        w.leave("alice", LeaveReason::Dropped),
        &[
            "close alice",
            r#"all-but-alice: Left { name: "alice", reason: Dropped }"#,
        ],
    );
    assert_eq!(w.room.name_of(bob), Some("bob"));
    assert_eq!(
        w.room.names(),
        ["bob".into(), "carol".into()] as [std::sync::Arc<str>; 2]
    );
    let mut out = Vec::new();
    let again = w
        .room
        .join("ALICE", None, 0, &mut out)
        .expect("the name is free again");
    assert_ne!(Some(&again), w.ids.get("alice"), "ids are never reused");
}

#[test]
fn look_alike_names_collide() {
    let mut w = World::new();
    w.join("alice");
    let mut out = Vec::new();
    for clash in ["ALICE", "Ａｌｉｃｅ", "aIice", "ａｌｉｃｅ"] {
        assert_eq!(
            w.room.join(clash, None, 0, &mut out),
            Err(NameError::Taken(clash.into())),
            "{clash:?}"
        );
    }
    assert_eq!(
        w.room.join("аlice", None, 0, &mut out),
        Err(NameError::MixedScript)
    );
    assert_eq!(
        w.room.join("Аlice", None, 0, &mut out),
        Err(NameError::MixedScript)
    );
    w.room.join("a\u{301}b", None, 0, &mut out).unwrap();
    assert!(matches!(
        w.room.join("áb", None, 0, &mut out),
        Err(NameError::Taken(_))
    ));
    for ok in ["José", "Дмитрий", "李雷", "bob_2", "x-ray"] {
        assert!(w.room.join(ok, None, 0, &mut out).is_ok(), "{ok:?}");
    }
    assert!(out.iter().all(|o| !matches!(o, Output::Close(_))));
}

/// Leaving frees every key of a name (worked out again from the name:
/// the room keeps only the name itself), so a look-alike may join after.
#[test]
fn a_name_and_its_look_alikes_are_free_once_it_leaves() {
    let mut w = World::new();
    w.join("a\u{301}b");
    let mut out = Vec::new();
    assert!(matches!(
        w.room.join("áb", None, 0, &mut out),
        Err(NameError::Taken(_))
    ));
    w.leave("a\u{301}b", LeaveReason::Quit);
    assert!(w.room.join("áb", None, 0, &mut out).is_ok());
}

#[test]
fn a_whisper_finds_its_target_by_folded_or_look_alike_name() {
    let mut w = World::new();
    w.join("alice");
    w.join("Zoë");
    let got = w.input("alice", "/w ZOË hi");
    assert_eq!(got.len(), 2, "{got:?}");
    let got = w.input("Zoë", "/w ALICE hi");
    assert_eq!(got.len(), 2, "{got:?}");
    // A capital i for an l: registration clashes on it, so lookup finds
    // it too (the same keys both ways).
    for typed in ["aIice", "ａｌｉｃｅ"] {
        let got = w.input("Zoë", &format!("/w {typed} hi"));
        assert_eq!(got.len(), 2, "{typed}: {got:?}");
    }
}

#[test]
fn zalgo_is_trimmed_and_names_with_it_refused() {
    let mut w = World::new();
    w.join("alice");
    let zalgo = format!("a{}b", "\u{301}".repeat(50));
    let want = format!("a{}b", "\u{301}".repeat(text::MAX_MARKS_IN_A_ROW));
    check(
        w.input("alice", &zalgo),
        &[&format!(
            r#"all: Message {{ from: "alice", text: {want:?} }}"#
        )],
    );
    assert_eq!(
        Name::parse("a\u{301}\u{302}\u{303}"),
        Err(NameError::TooManyMarks)
    );
}

#[test]
fn room_events_get_strictly_increasing_ids_and_times_that_never_go_back() {
    let mut w = World::new();
    w.join("alice");
    w.join("bob");
    let mut stamps = Vec::new();
    for (now, line) in [(5_000, "one"), (4_000, "two"), (6_000, "/w bob three")] {
        w.now = now;
        let Ok(command) = typed::parse(line) else {
            panic!("{line}")
        };
        for output in w.outputs("alice", command, None) {
            if let Output::Send(d) = output {
                stamps.push(d.stamp.expect("a room event is stamped"));
            }
        }
    }
    let ids: Vec<u64> = stamps.iter().map(|s| s.id).collect();
    let times: Vec<u64> = stamps.iter().map(|s| s.ms).collect();
    // Both joins were events 1 and 2.
    assert_eq!(ids, [3, 4, 5, 5], "both copies of a whisper are one event");
    assert_eq!(
        times,
        [5_000, 5_000, 6_000, 6_000],
        "the clock stepped back"
    );
    assert_eq!(w.room.last_stamp().id, 5);
}

#[test]
fn replies_are_not_stamped_and_labels_reach_only_the_asker() {
    let mut w = World::new();
    w.join("alice");
    w.join("bob");
    let said = w.outputs("alice", Command::Say { text: "hi".into() }, Some("a1"));
    let [Output::Send(d)] = &said[..] else {
        panic!("{said:?}")
    };
    assert_eq!(d.to, Target::All);
    assert_eq!(d.label, Some((w.ids["alice"], Label::from("a1"))));
    let listed = w.outputs("bob", Command::List, Some("b7"));
    let [Output::Send(d)] = &listed[..] else {
        panic!("{listed:?}")
    };
    assert_eq!(d.stamp, None, "a reply is not a room event");
    assert_eq!(d.label, Some((w.ids["bob"], Label::from("b7"))));
    let whisper = Command::Whisper {
        to: "bob".into(),
        text: "psst".into(),
    };
    let labels: Vec<_> = w
        .outputs("alice", whisper, Some("a2"))
        .into_iter()
        .filter_map(|o| match o {
            Output::Send(d) => Some(d.label),
            Output::Close(_) | Output::Record(_) => None,
        })
        .collect();
    assert_eq!(labels, [None, Some((w.ids["alice"], Label::from("a2")))]);
}

#[test]
fn a_whisper_to_a_name_far_too_long_is_not_folded() {
    let mut w = World::new();
    w.join("alice");
    let to = "\u{FDFA}".repeat(1330);
    let got = w.apply(
        "alice",
        Command::Whisper {
            to,
            text: "hi".into(),
        },
        None,
    );
    assert_eq!(got.len(), 1);
    assert!(got[0].contains("no_such_user"), "{got:?}");
    assert!(got[0].chars().count() < 200, "the name is not echoed whole");
}

#[test]
fn a_notice_goes_to_everyone_as_a_room_event() {
    let mut w = World::new();
    w.join("alice");
    let mut out = Vec::new();
    w.room.notice("going down".into(), 9, &mut out);
    check(w.render(out), &[r#"all: Notice { text: "going down" }"#]);
}

mod properties {
    use proptest::prelude::*;

    use crate::name::fold;
    use crate::text::clean;
    use crate::typed;
    use crate::Name;

    proptest! {
        #[test]
        fn cleaned_text_has_no_controls(s in any::<String>()) {
            if let Ok(out) = clean(&s, usize::MAX) {
                prop_assert!(
                    !out.chars().any(|c| c.is_control()),
                    "{:?} -> {:?}", s, out
                );
            }
        }

        #[test]
        fn cleaned_text_of_terminal_junk_has_no_escape(
            parts in proptest::collection::vec(
                prop_oneof![
                    Just("\u{1b}[2J".to_string()),
                    Just("\u{1b}]52;c;aGk=\u{7}".to_string()),
                    Just("\u{9b}6n".to_string()),
                    Just("\u{202e}".to_string()),
                    "[ -~]{0,8}",
                ],
                1..20,
            )
        ) {
            let s = parts.concat();
            if let Ok(out) = clean(&s, usize::MAX) {
                let inert = !out.contains('\u{1b}') && !out.contains('\u{9b}');
                prop_assert!(inert, "{:?} -> {:?}", s, out);
            }
        }

        #[test]
        fn folding_is_idempotent(s in any::<String>()) {
            let once = fold(&s);
            prop_assert_eq!(fold(&once), once);
        }

        #[test]
        fn name_keys_are_stable(s in "\\PC{1,12}") {
            if let Ok(name) = Name::parse(&s) {
                let again = Name::parse(name.as_str()).expect("a valid name stays valid");
                prop_assert_eq!(again.keys(), name.keys());
            }
        }

        /// No accepted name renders empty: it has width, and no character
        /// that draws nothing.
        #[test]
        fn no_accepted_name_renders_empty(s in any::<String>()) {
            if let Ok(name) = Name::parse(&s) {
                let shown = name.as_str();
                prop_assert!(unicode_width::UnicodeWidthStr::width(shown) > 0, "{:?}", shown);
                prop_assert!(!shown.chars().any(crate::name::is_blank_glyph), "{:?}", shown);
            }
        }

        #[test]
        fn command_parsing_never_panics(s in any::<String>()) {
            let _ = typed::parse(&s);
        }
    }
}

/// With history kept, every message, action and whisper is recorded once
/// (a whisper's two copies are one event), and a newcomer who asks is told
/// the conversation, whispers only when they are one of the two.
#[test]
fn history_is_recorded_once_and_told_to_newcomers() {
    let mut room = Room::new(RoomId::MAIN, "lab", 4096);
    room.keep_history(10);
    let mut out = Vec::new();
    let alice = room.join("alice", None, 1, &mut out).unwrap();
    let bob = room.join("bob", None, 2, &mut out).unwrap();
    out.clear();
    room.apply(
        alice,
        Command::Say {
            text: "hi all".into(),
        },
        None,
        3,
        &mut out,
    );
    room.apply(
        bob,
        Command::Me {
            text: "waves".into(),
        },
        None,
        4,
        &mut out,
    );
    let whisper = Command::Whisper {
        to: "alice".into(),
        text: "psst".into(),
    };
    room.apply(bob, whisper, None, 5, &mut out);
    let recorded: Vec<u64> = out
        .iter()
        .filter_map(|o| match o {
            Output::Record(p) => Some(p.stamp.id),
            _ => None,
        })
        .collect();
    assert_eq!(recorded.len(), 3, "{out:?}");

    let told = |room: &Room, id| {
        let mut out = Vec::new();
        room.tell_history(id, None, &mut out);
        match out.pop() {
            Some(Output::Send(Delivery {
                event: Event::History { events },
                to: Target::One(to),
                ..
            })) if to == id => events.into_iter().map(|p| p.event).collect::<Vec<_>>(),
            None => Vec::new(),
            other => panic!("{other:?}"),
        }
    };
    let carol = room.join("carol", None, 6, &mut out).unwrap();
    assert_eq!(
        told(&room, carol),
        [
            Event::Message {
                from: "alice".into(),
                text: "hi all".into()
            },
            Event::Action {
                from: "bob".into(),
                text: "waves".into()
            },
        ]
    );
    // Alice comes back (under the same name, any case): her whisper too.
    room.leave(alice, LeaveReason::Quit, 7, &mut out);
    let alice = room.join("ALICE", None, 8, &mut out).unwrap();
    assert_eq!(told(&room, alice).len(), 3);

    // After a restart: the stored conversation is told, and ids go on.
    let stored: Vec<Past> = room.history().all();
    let mut again = Room::new(RoomId::MAIN, "lab", 4096);
    again.keep_history(10);
    again.restore(stored.clone());
    let dave = again.join("dave", None, 9, &mut out).unwrap();
    assert_eq!(told(&again, dave).len(), 2);
    out.clear();
    again.apply(
        dave,
        Command::Say {
            text: "back".into(),
        },
        None,
        10,
        &mut out,
    );
    let last = stored.iter().map(|p| p.stamp.id).max().unwrap();
    assert!(out
        .iter()
        .any(|o| matches!(o, Output::Record(p) if p.stamp.id > last)));
}
