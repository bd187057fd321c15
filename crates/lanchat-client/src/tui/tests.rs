//! TUI tests: key handling by feeding events to the [`App`], and whole
//! screens rendered with ratatui's `TestBackend` and compared with
//! snapshot files (`src/tui/snapshots/`).

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers, MouseEvent, MouseEventKind};
use lanchat_proto::{LeaveReason, ServerFrame};
use ratatui::backend::TestBackend;
use ratatui::Terminal;

use super::app::{App, Bell, Effect, Exit, Mode, COMMANDS_LABEL};
use super::editor::Editor;
use super::event::Event;
use super::ui;
use crate::clock::Moment;

/// 2026-11-27 12:34 UTC (the app shows UTC until told its zone).
const NOW: Moment = Moment(1_795_782_840_000);

fn key(code: KeyCode) -> Event {
    Event::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn ctrl(c: char) -> Event {
    Event::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL))
}

fn server(frame: ServerFrame) -> Event {
    Event::Server(frame)
}

/// An app connected to room "lab" as alice, with bob and 李雷 present.
/// Tells `app` it reached `room` at `addr` (the name is not chosen yet).
fn connect(app: &mut App, room: &str, addr: &str) {
    app.handle(
        Event::Connected {
            room: room.into(),
            addr: addr.into(),
            security: "encrypted, key verified".into(),
            badge: "encrypted, verified".into(),
        },
        NOW,
    );
}

fn in_room() -> App {
    let mut app = App::new();
    connect(&mut app, "lab", "10.0.0.5:8081");
    app.handle(
        server(ServerFrame::Welcome {
            more: false,
            caps: vec![],
            limits: None,
            label: None,
            name: "alice".into(),
            room: "lab".into(),
            users: vec!["bob".into(), "李雷".into()],
        }),
        NOW,
    );
    app
}

fn type_text(app: &mut App, text: &str) -> Vec<Effect> {
    let mut effects = Vec::new();
    for c in text.chars() {
        effects.extend(app.handle(key(KeyCode::Char(c)), NOW));
    }
    effects
}

fn enter(app: &mut App) -> Vec<Effect> {
    app.handle(key(KeyCode::Enter), NOW)
}

fn message(from: &str, text: &str) -> Event {
    server(ServerFrame::Message {
        id: 0,
        ts: String::new(),
        action: false,
        label: None,
        from: from.into(),
        text: text.into(),
    })
}

#[test]
fn typing_and_enter_sends_the_line() {
    let mut app = in_room();
    type_text(&mut app, "hello");
    assert_eq!(enter(&mut app), [Effect::Send("hello".into())]);
    assert!(app.editor.is_empty());
    assert_eq!(enter(&mut app), [], "an empty line sends nothing");
}

#[test]
fn line_editing_keys() {
    let mut app = in_room();
    type_text(&mut app, "one two three");
    app.handle(ctrl('w'), NOW);
    assert_eq!(app.editor.text(), "one two ");
    app.handle(key(KeyCode::Home), NOW);
    type_text(&mut app, ">");
    app.handle(key(KeyCode::End), NOW);
    type_text(&mut app, "!");
    assert_eq!(app.editor.text(), ">one two !");
    app.handle(key(KeyCode::Left), NOW);
    app.handle(key(KeyCode::Backspace), NOW);
    assert_eq!(app.editor.text(), ">one two!");
    app.handle(ctrl('u'), NOW);
    assert_eq!(app.editor.text(), "!");
}

#[test]
fn ctrl_c_clears_then_asks_then_leaves() {
    let mut app = in_room();
    type_text(&mut app, "half a thought");
    assert_eq!(app.handle(ctrl('c'), NOW), []);
    assert!(app.editor.is_empty());
    assert_eq!(
        app.handle(ctrl('c'), NOW),
        [],
        "the first one on an empty line warns"
    );
    assert_eq!(app.handle(ctrl('c'), NOW), [Effect::Send("/x".into())]);
    assert!(app.quitting);
    app.handle(
        server(ServerFrame::Bye {
            code: String::new(),
            reason: "goodbye".into(),
        }),
        NOW,
    );
    assert_eq!(app.exit, Some(Exit::Quit));
}

#[test]
fn slash_x_leaves_and_server_loss_is_an_error_exit() {
    let mut app = in_room();
    type_text(&mut app, "/x");
    assert_eq!(enter(&mut app), [Effect::Send("/x".into())]);
    app.handle(Event::Lost("the server closed the connection".into()), NOW);
    assert_eq!(app.exit, Some(Exit::Quit));

    let mut app = in_room();
    app.handle(
        server(ServerFrame::Bye {
            code: String::new(),
            reason: "server shutting down".into(),
        }),
        NOW,
    );
    assert_eq!(app.exit, Some(Exit::Lost("server shutting down".into())));
}

#[test]
fn up_and_down_walk_the_history_and_keep_the_draft() {
    let mut app = in_room();
    for line in ["first", "second"] {
        type_text(&mut app, line);
        enter(&mut app);
    }
    type_text(&mut app, "draft");
    app.handle(key(KeyCode::Up), NOW);
    assert_eq!(app.editor.text(), "second");
    app.handle(key(KeyCode::Up), NOW);
    app.handle(key(KeyCode::Up), NOW);
    assert_eq!(app.editor.text(), "first");
    app.handle(key(KeyCode::Down), NOW);
    assert_eq!(app.editor.text(), "second");
    app.handle(key(KeyCode::Down), NOW);
    assert_eq!(app.editor.text(), "draft");
}

/// Clears the input, types `typed` and presses Tab; returns the input.
fn complete(app: &mut App, typed: &str) -> String {
    app.handle(ctrl('u'), NOW);
    type_text(app, typed);
    app.handle(key(KeyCode::Tab), NOW);
    app.editor.text().to_owned()
}

#[test]
fn tab_completes_names_and_commands_and_cycles() {
    let mut app = in_room();
    app.handle(
        server(ServerFrame::Joined {
            id: 0,
            ts: String::new(),
            name: "Bobby".into(),
        }),
        NOW,
    );
    assert_eq!(complete(&mut app, "b"), "bob: ");
    // Tab again cycles to the next match.
    app.handle(key(KeyCode::Tab), NOW);
    assert_eq!(app.editor.text(), "Bobby: ");
    assert_eq!(complete(&mut app, "/w 李"), "/w 李雷 ");
    // Commands come from the server's answer to the labelled request made
    // at welcome, which is not shown.
    assert_eq!(complete(&mut app, "/li"), "/li");
    let shown = app.transcript.len();
    let usage = |u: &str| lanchat_proto::CommandHelp {
        usage: u.into(),
        help: "h".into(),
    };
    app.handle(
        server(ServerFrame::Commands {
            commands: vec![usage("/w NAME text"), usage("/list"), usage("//text")],
            label: Some(COMMANDS_LABEL.into()),
        }),
        NOW,
    );
    assert_eq!(app.transcript.len(), shown, "the answer is not shown");
    assert_eq!(complete(&mut app, "/li"), "/list ");
    assert_eq!(complete(&mut app, "/b"), "/bell ");
    assert_eq!(complete(&mut app, "//"), "//");
}

#[test]
fn a_server_with_labels_is_asked_for_its_commands_at_welcome() {
    let mut app = App::new();
    let effects = app.handle(
        server(ServerFrame::Welcome {
            more: false,
            caps: vec!["labels".into()],
            limits: None,
            label: None,
            name: "me".into(),
            room: "lab".into(),
            users: vec![],
        }),
        NOW,
    );
    assert_eq!(effects, [Effect::FetchCommands]);
}

#[test]
fn a_multi_line_paste_is_one_input_sent_as_grouped_lines() {
    let mut app = in_room();
    app.handle(
        Event::Paste("line one\r\nline two\n\nline three\n".into()),
        NOW,
    );
    assert_eq!(app.editor.text(), "line one\nline two\n\nline three");
    assert_eq!(
        enter(&mut app),
        [
            Effect::Send("line one".into()),
            Effect::Send("line two".into()),
            Effect::Send("line three".into()),
        ]
    );
}

#[test]
fn mentions_and_whispers_ring_the_bell_as_configured() {
    let mut app = in_room();
    assert_eq!(app.handle(message("bob", "hi all"), NOW), []);
    assert_eq!(
        app.handle(message("bob", "hey Alice, look"), NOW),
        [Effect::Bell]
    );
    assert_eq!(app.handle(message("bob", "malice aforethought"), NOW), []);
    let whisper = || {
        server(ServerFrame::Whisper {
            id: 0,
            ts: String::new(),
            label: None,
            from: "bob".into(),
            to: "alice".into(),
            text: "psst".into(),
        })
    };
    assert_eq!(app.handle(whisper(), NOW), [Effect::Bell]);
    type_text(&mut app, "/bell all");
    assert_eq!(enter(&mut app), [], "/bell is handled by the client");
    assert_eq!(app.bell, Bell::All);
    assert_eq!(app.handle(message("bob", "anything"), NOW), [Effect::Bell]);
    assert_eq!(app.handle(message("alice", "my own"), NOW), []);
    type_text(&mut app, "/bell off");
    enter(&mut app);
    assert_eq!(app.handle(whisper(), NOW), []);
    // Alone, /bell says how it is set, and changes nothing.
    type_text(&mut app, "/bell");
    enter(&mut app);
    assert_eq!(app.bell, Bell::Off);
    let said = app.transcript.last().map(|e| e.text.clone());
    assert_eq!(
        said.as_deref(),
        Some("The bell never rings (/bell off|mentions|all).")
    );
}

#[test]
fn the_user_list_follows_joins_and_departures() {
    let mut app = in_room();
    assert_eq!(app.users, ["alice", "bob", "李雷"]);
    app.handle(
        server(ServerFrame::Joined {
            id: 0,
            ts: String::new(),
            name: "Carol".into(),
        }),
        NOW,
    );
    app.handle(
        server(ServerFrame::Left {
            id: 0,
            ts: String::new(),
            name: "bob".into(),
            reason: LeaveReason::Dropped,
        }),
        NOW,
    );
    assert_eq!(app.users, ["alice", "Carol", "李雷"]);
}

#[test]
fn a_rename_updates_the_list_in_place_and_our_own_name() {
    let mut app = in_room();
    let renamed = |from: &str, to: &str| {
        server(ServerFrame::Renamed {
            id: 0,
            ts: String::new(),
            from: from.into(),
            to: to.into(),
            label: None,
        })
    };
    app.handle(renamed("bob", "Zed"), NOW);
    app.handle(renamed("alice", "alicia"), NOW);
    assert_eq!(app.users, ["alicia", "Zed", "李雷"]);
    assert_eq!(app.me.as_deref(), Some("alicia"));
}

#[test]
fn away_users_are_marked_in_the_list_until_back() {
    let mut app = in_room();
    let away = |reason: Option<&str>| {
        server(ServerFrame::Away {
            id: 0,
            ts: String::new(),
            name: "bob".into(),
            reason: reason.map(String::from),
            label: None,
        })
    };
    app.handle(away(Some("lunch")), NOW);
    assert_eq!(app.away.get("bob").map(String::as_str), Some("lunch"));
    let shown = format!("{:?}", screen(&app, 80, 20).buffer());
    assert!(shown.contains("(away)"), "the list marks bob");
    app.handle(away(None), NOW);
    assert!(app.away.is_empty());
}

/// A server announcing users without end: each join costs O(log n), a
/// frame draws only what fits, and past the cap the client says the
/// server is broken and leaves.
#[test]
fn a_flood_of_joins_neither_freezes_nor_grows_without_end() {
    let mut app = in_room();
    let joined = |i: usize| {
        server(ServerFrame::Joined {
            id: 0,
            ts: String::new(),
            name: format!("u{i}"),
        })
    };
    let room = crate::connection::MAX_USERS - app.users.len();
    for i in 0..room {
        app.handle(joined(i), NOW);
    }
    assert_eq!(app.users.len(), crate::connection::MAX_USERS);
    assert_eq!(app.exit, None);
    let _ = screen(&app, 80, 20);
    app.handle(joined(room), NOW);
    assert!(
        matches!(&app.exit, Some(Exit::Lost(why)) if why.contains("broken")),
        "{:?}",
        app.exit
    );
}

#[test]
fn scrolling_up_counts_unread_and_holds_the_view() {
    let mut app = in_room();
    for i in 0..50 {
        app.handle(message("bob", &format!("line {i}")), NOW);
    }
    app.handle(key(KeyCode::PageUp), NOW);
    let scrolled = app.scroll;
    assert!(scrolled > 0);
    app.handle(message("bob", "while you were away"), NOW);
    assert_eq!(app.unread, 1);
    assert_eq!(app.scroll, scrolled + 1, "the view stays on the same lines");
    app.handle(
        Event::Mouse(MouseEvent {
            kind: MouseEventKind::ScrollDown,
            column: 0,
            row: 0,
            modifiers: KeyModifiers::NONE,
        }),
        NOW,
    );
    assert_eq!(app.scroll, scrolled - 2);
    app.handle(key(KeyCode::PageDown), NOW);
    app.handle(key(KeyCode::PageDown), NOW);
    assert_eq!((app.scroll, app.unread), (0, 0));
}

#[test]
fn scrollback_is_bounded() {
    let mut app = in_room();
    for i in 0..12_000 {
        app.handle(message("bob", &format!("{i}")), NOW);
    }
    assert_eq!(app.transcript.len(), super::transcript::CAPACITY);
    assert_eq!(
        app.transcript.last().map(|e| e.text.as_str()),
        Some("11999")
    );
}

#[test]
fn a_refused_name_asks_again_and_room_choice_picks_by_key() {
    let mut app = App::new();
    app.handle(Event::Rooms(vec!["lab".into(), "attic".into()]), NOW);
    app.handle(key(KeyCode::Down), NOW);
    assert_eq!(app.handle(key(KeyCode::Enter), NOW), [Effect::PickRoom(1)]);
    connect(&mut app, "attic", "10.0.0.9:8081");
    app.ask_name(NOW, None);
    type_text(&mut app, "bob");
    assert_eq!(enter(&mut app), [Effect::Join("bob".into())]);
    app.handle(
        server(ServerFrame::NameRejected {
            code: String::new(),
            label: None,
            name: "bob".into(),
            reason: "'bob' is already taken in this room".into(),
        }),
        NOW,
    );
    assert_eq!(app.mode, Mode::AskName);
    type_text(&mut app, "bob2");
    assert_eq!(enter(&mut app), [Effect::Join("bob2".into())]);
}

/// The passphrase prompt shows dots, never the text, and the passphrase is
/// not kept in the input history.
#[test]
fn a_passphrase_is_typed_unseen_and_not_remembered() {
    let mut app = App::new();
    app.ask_passphrase(NOW, "attic", None);
    assert_eq!(app.mode, Mode::AskPassphrase);
    type_text(&mut app, "open sesame");
    let screen = format!("{:?}", screen(&app, 60, 8).buffer());
    assert!(screen.contains("passphrase: •••••••••••"), "{screen}");
    assert!(!screen.contains("sesame"), "{screen}");
    assert_eq!(enter(&mut app), [Effect::Passphrase("open sesame".into())]);
    assert!(app.history.is_empty());
}

#[test]
fn the_cursor_respects_wide_characters_and_combining_marks() {
    let mut e = Editor::default();
    e.insert_str("a你e\u{301}b");
    e.left();
    assert_eq!(&e.text()[e.cursor()..], "b");
    e.left();
    assert_eq!(
        &e.text()[e.cursor()..],
        "e\u{301}b",
        "never between e and its accent"
    );
    e.backspace();
    assert_eq!(e.text(), "ae\u{301}b");
    let (shown, col) = e.view(10);
    assert_eq!((shown.as_str(), col), ("ae\u{301}b", 1));
    e.set("你好世界你好世界".into());
    let (shown, col) = e.view(7);
    assert_eq!(
        (shown.as_str(), col),
        ("好世界", 6),
        "scrolled so the cursor shows"
    );
}

/// Renders `app` on a `width` × `height` test terminal.
fn screen(app: &App, width: u16, height: u16) -> TestBackend {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test terminal");
    terminal.draw(|f| ui::render(app, f)).expect("draw");
    terminal.backend().clone()
}

fn busy_room() -> App {
    let mut app = in_room();
    app.handle(message("bob", "hello alice, how is the LAN party?"), NOW);
    app.handle(message("李雷", "你好！大家好 🎉🎉"), NOW);
    app.handle(
        server(ServerFrame::Whisper {
            id: 0,
            ts: String::new(),
            label: None,
            from: "bob".into(),
            to: "alice".into(),
            text: "psst: pizza at 8".into(),
        }),
        NOW,
    );
    app.handle(
        message("bob", "\u{1b}[2J\u{1b}]0;pwned\u{7} nothing to see"),
        NOW,
    );
    app.handle(
        server(ServerFrame::Joined {
            id: 0,
            ts: String::new(),
            name: "carol".into(),
        }),
        NOW,
    );
    type_text(&mut app, "see you 👋");
    app
}

#[test]
fn render_80x20() {
    insta::assert_snapshot!(screen(&busy_room(), 80, 20));
}

#[test]
fn render_40x12_hides_the_user_list_and_wraps() {
    insta::assert_snapshot!(screen(&busy_room(), 40, 12));
}

#[test]
fn render_tiny_terminals_do_not_panic() {
    for (w, h) in [(1, 1), (5, 2), (8, 3), (12, 4), (3, 30), (200, 2)] {
        let _ = screen(&busy_room(), w, h);
    }
    insta::assert_snapshot!(screen(&busy_room(), 16, 4));
}

#[test]
fn render_scrolled_up_shows_the_unread_count_then_the_marker() {
    let mut app = busy_room();
    app.handle(
        Event::Resize {
            width: 60,
            height: 14,
        },
        NOW,
    );
    for i in 0..30 {
        app.handle(message("bob", &format!("filler {i}")), NOW);
    }
    app.handle(key(KeyCode::PageUp), NOW);
    app.handle(message("carol", "are you there?"), NOW);
    app.handle(message("carol", "hello?"), NOW);
    insta::assert_snapshot!("scrolled_with_unread", screen(&app, 60, 14));
    app.handle(key(KeyCode::PageDown), NOW);
    app.handle(key(KeyCode::PageDown), NOW);
    insta::assert_snapshot!("back_at_the_bottom_with_the_marker", screen(&app, 60, 14));
}

#[test]
fn render_room_choice_and_name_prompt() {
    let mut app = App::new();
    app.handle(Event::Searching, NOW);
    app.handle(
        Event::Rooms(vec![
            "lab  10.0.0.5:8081  via udp  0.6 ms  (server pc-1)".into(),
            "attic  10.0.0.9:8081  via udp  0.8 ms  (server pc-2)".into(),
        ]),
        NOW,
    );
    insta::assert_snapshot!("room_choice", screen(&app, 70, 8));
    let mut app = App::new();
    connect(&mut app, "lab", "10.0.0.5:8081");
    app.ask_name(NOW, None);
    type_text(&mut app, "dana");
    insta::assert_snapshot!("name_prompt", screen(&app, 70, 8));
}

/// irssi and readline keys: Alt-b and Alt-f (and Ctrl-Left, Ctrl-Right)
/// move by word; Ctrl-K cuts to the end and Ctrl-Y puts it back.
#[test]
fn word_moves_kill_and_yank() {
    let mut app = in_room();
    type_text(&mut app, "hello big world");
    let alt = |c| Event::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::ALT));
    app.handle(alt('b'), NOW);
    assert_eq!(app.editor.cursor(), "hello big ".len());
    app.handle(
        Event::Key(KeyEvent::new(KeyCode::Left, KeyModifiers::CONTROL)),
        NOW,
    );
    assert_eq!(app.editor.cursor(), "hello ".len());
    app.handle(ctrl('k'), NOW);
    assert_eq!(app.editor.text(), "hello ");
    app.handle(key(KeyCode::Home), NOW);
    app.handle(alt('f'), NOW);
    assert_eq!(app.editor.cursor(), "hello".len());
    app.handle(key(KeyCode::End), NOW);
    app.handle(ctrl('y'), NOW);
    assert_eq!(app.editor.text(), "hello big world");
}

/// `/clear` empties the local view and tells the room nothing.
#[test]
fn clear_empties_the_local_view_only() {
    let mut app = in_room();
    assert!(!app.transcript.is_empty());
    type_text(&mut app, "/clear");
    let effects = enter(&mut app);
    assert!(effects.is_empty(), "{effects:?}");
    assert!(app.transcript.is_empty());
}

/// A name too long for the user list ends in `…`.
#[test]
fn long_names_in_the_user_list_end_in_an_ellipsis() {
    let mut app = in_room();
    app.handle(
        server(ServerFrame::Joined {
            id: 0,
            ts: String::new(),
            name: "a_very_long_name_of_32_characters".into(),
        }),
        NOW,
    );
    let shown = format!("{:?}", screen(&app, 80, 20).buffer());
    assert!(shown.contains("a_very_long"), "the name is shown");
    assert!(shown.contains('…'), "and ends in an ellipsis");
}

/// `/commands` is shown as a table: every description starts in the same
/// column.
#[test]
fn commands_are_shown_aligned() {
    let mut app = in_room();
    let help = |usage: &str, help: &str| lanchat_proto::CommandHelp {
        usage: usage.into(),
        help: help.into(),
    };
    app.handle(
        server(ServerFrame::Commands {
            commands: vec![help("/w NAME text", "whisper"), help("/x", "leave")],
            label: None,
        }),
        NOW,
    );
    let rows: Vec<String> = app
        .transcript
        .newest_first()
        .take(4)
        .map(|e| e.text.clone())
        .collect();
    let column = |row: &str, word: &str| row.find(word).expect("the description");
    let whisper = rows.iter().find(|r| r.contains("whisper")).unwrap();
    let leave = rows.iter().find(|r| r.contains("leave")).unwrap();
    assert_eq!(
        column(whisper, "whisper"),
        column(leave, "leave"),
        "{rows:#?}"
    );
}

/// The room chooser says which keys it takes.
#[test]
fn the_room_chooser_shows_its_keys() {
    let mut app = App::new();
    app.handle(Event::Rooms(vec!["lab".into(), "attic".into()]), NOW);
    let shown = format!("{:?}", screen(&app, 80, 20).buffer());
    assert!(shown.contains("Enter join"), "{shown}");
    assert!(shown.contains("Esc leave"), "{shown}");
}

/// The last name used is offered at the name prompt, ready for Enter.
#[test]
fn the_name_prompt_offers_the_last_name() {
    let mut app = App::new();
    app.default_name = Some("erin".into());
    connect(&mut app, "lab", "10.0.0.5:8081");
    app.ask_name(NOW, None);
    assert_eq!(app.editor.text(), "erin");
    assert_eq!(enter(&mut app), [Effect::Join("erin".into())]);
}

/// Flags, skin tones and ZWJ families keep two columns each, and a view
/// that scrolls under them is drawn exactly as a fresh screen would be:
/// no cell of an earlier frame is left behind.
#[test]
fn emoji_sequences_keep_their_width_and_leave_no_ghost_cells() {
    let family = "👨\u{200d}👩\u{200d}👧";
    let mut app = in_room();
    app.handle(
        message("bob", &format!("family {family} flag 🇫🇷 thumbs 👍🏽 done")),
        NOW,
    );
    app.handle(
        message("李雷", &format!("{family}{family}{family} 🇯🇵🇯🇵")),
        NOW,
    );
    insta::assert_snapshot!("emoji_sequences", screen(&app, 50, 8));

    // The same terminal, drawn again after the view scrolled by one line:
    // what ratatui sends is a diff, so a width we got wrong would leave a
    // stale cell here that a fresh screen does not have.
    let mut terminal = Terminal::new(TestBackend::new(50, 8)).expect("test terminal");
    terminal.draw(|f| ui::render(&app, f)).expect("draw");
    app.handle(message("bob", "one more 🇫🇷 line"), NOW);
    terminal.draw(|f| ui::render(&app, f)).expect("draw");
    let fresh = screen(&app, 50, 8);
    assert_eq!(visible(terminal.backend()), visible(&fresh));
}

/// What a terminal shows of each row: the cells a wide character covers
/// are not shown (whatever a backend keeps in them).
fn visible(backend: &TestBackend) -> Vec<String> {
    let buffer = backend.buffer();
    let width = usize::from(buffer.area.width);
    buffer
        .content
        .chunks(width)
        .map(|row| {
            let mut shown = String::new();
            let mut covered = 0;
            for cell in row {
                if covered > 0 {
                    covered -= 1;
                    continue;
                }
                shown.push_str(cell.symbol());
                covered = unicode_width::UnicodeWidthStr::width(cell.symbol()).saturating_sub(1);
            }
            shown
        })
        .collect()
}

fn alt_key(c: char) -> Event {
    Event::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::ALT))
}

/// Alt-M: select mode lets the mouse go (so the terminal selects) and
/// draws the conversation alone, without borders or the user list; again,
/// it takes the mouse back.
#[test]
fn select_mode_shows_only_the_conversation_and_frees_the_mouse() {
    let mut app = busy_room();
    assert_eq!(app.handle(alt_key('m'), NOW), [Effect::MouseCapture(false)]);
    let screen = screen(&app, 60, 10);
    insta::assert_snapshot!("select_mode", screen);
    let text = format!("{screen:?}");
    assert!(!text.contains("users (") && !text.contains('┌'), "{text}");
    assert_eq!(app.handle(alt_key('m'), NOW), [Effect::MouseCapture(true)]);
    assert!(!app.select);
}

/// Ctrl-L asks for a clean redraw and changes nothing else.
#[test]
fn ctrl_l_redraws() {
    let mut app = busy_room();
    let before = app.editor.text().to_owned();
    assert_eq!(app.handle(ctrl('l'), NOW), [Effect::Redraw]);
    assert_eq!(app.editor.text(), before);
}

/// The window title names the room, and counts what arrives while the
/// window is not focused, until it is again.
#[test]
fn the_title_counts_unseen_lines_while_unfocused() {
    let mut app = in_room();
    assert_eq!(app.title(), "lanchat: lab");
    app.handle(Event::Focus(false), NOW);
    app.handle(message("bob", "one"), NOW);
    app.handle(message("bob", "two"), NOW);
    assert_eq!(app.title(), "(2) lanchat: lab");
    app.handle(Event::Focus(true), NOW);
    assert_eq!(app.title(), "lanchat: lab");
    app.handle(message("bob", "three"), NOW);
    assert_eq!(app.title(), "lanchat: lab");
}

/// `/search TEXT` shows the newest line containing it, highlighted; Ctrl-R
/// steps to older ones and Ctrl-S back; Esc ends the search at the bottom.
#[test]
fn search_finds_highlights_and_steps_through_matches() {
    let mut app = in_room();
    app.handle(message("bob", "Pizza at 8?"), NOW);
    for i in 0..30 {
        app.handle(message("bob", &format!("filler {i}")), NOW);
    }
    app.handle(message("李雷", "pizza sounds good"), NOW);
    app.handle(message("bob", "see you"), NOW);
    type_text(&mut app, "/search PIZZA");
    app.handle(key(KeyCode::Enter), NOW);
    let search = app.search.clone().expect("a search");
    assert_eq!((search.index, search.total), (2, 2));
    assert_eq!(app.scroll, 1);
    let shown = screen(&app, 60, 10);
    insta::assert_snapshot!("search_newest_match", shown);
    // The match itself is highlighted (black on yellow), and only it.
    let yellow: String = shown
        .buffer()
        .content
        .iter()
        .take(60 * 8)
        .filter(|c| c.bg == ratatui::style::Color::Yellow)
        .map(|c| c.symbol())
        .collect();
    assert_eq!(yellow, "pizza");

    app.handle(ctrl('r'), NOW);
    assert_eq!(app.search.as_ref().map(|s| s.index), Some(1));
    let older = format!("{:?}", screen(&app, 60, 10));
    assert!(older.contains("Pizza at 8?"), "{older}");
    // No older match: it stays.
    app.handle(ctrl('r'), NOW);
    assert_eq!(app.search.as_ref().map(|s| s.index), Some(1));
    app.handle(ctrl('s'), NOW);
    assert_eq!(app.search.as_ref().map(|s| s.index), Some(2));

    app.handle(key(KeyCode::Esc), NOW);
    assert_eq!((app.search.clone(), app.scroll), (None, 0));

    // Ctrl-R on an empty line starts typing a search; nothing found says so.
    app.handle(ctrl('r'), NOW);
    assert_eq!(app.editor.text(), "/search ");
    type_text(&mut app, "nowhere");
    app.handle(key(KeyCode::Enter), NOW);
    assert!(app.search.is_none());
    let last = app.transcript.last().map(|e| e.text.clone());
    assert_eq!(last.as_deref(), Some("No line contains \"nowhere\"."));
}

fn message_at(from: &str, text: &str, ts: &str) -> Event {
    server(ServerFrame::Message {
        id: 1,
        ts: ts.into(),
        action: false,
        label: None,
        from: from.into(),
        text: text.into(),
    })
}

/// Lines show the server's time in the chosen format; a new day gets a
/// separator; Alt-T shows every line's full time, and again hides it.
#[test]
fn timestamps_follow_the_format_and_days_are_separated() {
    let mut app = in_room();
    app.time_format = "%H:%M:%S".into();
    app.handle(message_at("bob", "late", "2026-11-27T23:59:58.000Z"), NOW);
    app.handle(message_at("bob", "early", "2026-11-28T00:00:03.250Z"), NOW);
    let shown = format!("{:?}", screen(&app, 70, 12));
    assert!(shown.contains("23:59:58 <bob> late"), "{shown}");
    assert!(shown.contains("00:00:03 <bob> early"), "{shown}");
    insta::assert_snapshot!("day_separator", screen(&app, 70, 12));

    app.handle(alt_key('t'), NOW);
    let full = format!("{:?}", screen(&app, 70, 12));
    assert!(
        full.contains("2026-11-28 00:00:03.250 +00:00 <bob> early"),
        "{full}"
    );
    app.handle(alt_key('t'), NOW);
    assert!(!format!("{:?}", screen(&app, 70, 12)).contains(".250"));
}

/// The earlier conversation is shown at its own times, above a separator,
/// and rings no bell even when it mentions us.
#[test]
fn earlier_conversation_sits_above_a_separator() {
    let mut app = in_room();
    let said = |id, ts: &str, from: &str, text: &str| ServerFrame::Message {
        id,
        ts: ts.into(),
        action: false,
        label: None,
        from: from.into(),
        text: text.into(),
    };
    let effects = app.handle(
        server(ServerFrame::History {
            events: vec![
                said(3, "2026-11-27T11:58:00.000Z", "bob", "lunch, alice?"),
                said(4, "2026-11-27T12:01:00.000Z", "李雷", "yes!"),
            ],
            more: false,
        }),
        NOW,
    );
    assert_eq!(effects, []);
    app.handle(message("bob", "live again"), NOW);
    insta::assert_snapshot!("earlier_conversation", screen(&app, 60, 12));
}

/// While it reconnects, the status bar says so, with the attempt; once
/// back, a line says so and the status is connected again.
#[test]
fn reconnecting_shows_in_the_status_bar() {
    let mut app = in_room();
    app.handle(Event::Reconnecting { attempt: 1 }, NOW);
    app.handle(Event::Reconnecting { attempt: 3 }, NOW);
    let shown = format!("{:?}", screen(&app, 100, 10));
    assert!(shown.contains("reconnecting (attempt 3)…"), "{shown}");
    assert!(
        shown.contains("Connection lost; reconnecting..."),
        "{shown}"
    );
    app.handle(
        Event::Reconnected {
            fresh: false,
            delayed: 2,
        },
        NOW,
    );
    let shown = format!("{:?}", screen(&app, 100, 10));
    assert!(
        shown.contains("Reconnected; back in the room.") && shown.contains("connected"),
        "{shown}"
    );
    assert!(app.exit.is_none());
}

/// The input line moves and deletes by grapheme cluster: a flag or a ZWJ
/// family is one step and two columns, never split.
#[test]
fn the_input_line_keeps_emoji_sequences_whole() {
    let family = "👨\u{200d}👩\u{200d}👧";
    let mut e = Editor::default();
    e.insert_str(&format!("a{family}🇫🇷"));
    assert_eq!(e.view(20), (format!("a{family}🇫🇷"), 5));
    e.left();
    assert_eq!(e.view(20).1, 3, "one step over the flag");
    e.backspace();
    assert_eq!(e.text(), "a🇫🇷", "the family went whole");
    e.left();
    e.delete();
    assert_eq!(e.text(), "🇫🇷", "delete takes one cluster");
}
