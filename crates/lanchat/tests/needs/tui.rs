//! The terminal UI, end to end: the real `lanchat` binary in tmux, typed
//! into with `send-keys` and read with `capture-pane`, as a person would.
//!
//! Needs tmux (see [`crate::Need`]): where it is missing, the harness
//! reports these tests as ignored, or fails them where required.

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::support::{config_home, Relay, Server, PATIENCE};
use crate::{Need, Test};

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A private tmux server (its own socket), killed on drop.
pub struct Tmux {
    socket: String,
}

impl Tmux {
    pub fn new() -> Tmux {
        let socket = format!(
            "lc{}x{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        Tmux { socket }
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .expect("run tmux");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Where the exit status of the program in `session` is written.
    fn status_file(&self, session: &str) -> std::path::PathBuf {
        config_home().join(format!("{}-{session}.status", self.socket))
    }

    /// Starts `lanchat ARGS` in a new `width` × `height` session. A shell
    /// around it records its exit status in a file once it ends.
    fn start(&self, session: &str, width: u16, height: u16, args: &[&str]) {
        let bin = env!("CARGO_BIN_EXE_lanchat");
        let home = config_home().join(session);
        let status = self.status_file(session);
        let _ = std::fs::create_dir_all(config_home());
        let _ = std::fs::remove_file(&status);
        let command = format!(
            "env LANCHAT_NO_INTERFACES=1 XDG_CONFIG_HOME={home} XDG_STATE_HOME={home} XDG_DATA_HOME={home}/data \
             TERM=xterm-256color {bin} {}; echo $? > {status}",
            args.join(" "),
            home = home.display(),
            status = status.display(),
        );
        self.run(session, width, height, &command);
    }

    /// Starts the shell command line `command` in a new `width` × `height`
    /// session.
    pub fn run(&self, session: &str, width: u16, height: u16, command: &str) {
        self.tmux(&[
            "new-session",
            "-d",
            "-s",
            session,
            "-x",
            &width.to_string(),
            "-y",
            &height.to_string(),
        ]);
        self.tmux(&["set-option", "-t", session, "remain-on-exit", "on"]);
        self.tmux(&["respawn-pane", "-k", "-t", session, command]);
    }

    pub fn screen(&self, session: &str) -> String {
        self.tmux(&["capture-pane", "-p", "-t", session])
    }

    /// The screen plus what scrolled off its top.
    fn screen_and_history(&self, session: &str) -> String {
        self.tmux(&["capture-pane", "-p", "-S", "-100", "-t", session])
    }

    /// Waits until the screen shows `needle`; returns the screen.
    #[track_caller]
    pub fn wait_for(&self, session: &str, needle: &str) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let screen = self.screen(session);
            if screen.contains(needle) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "{session}: {needle:?} never appeared; screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until the screen satisfies `done`; returns the screen.
    #[track_caller]
    pub fn wait_until(&self, session: &str, done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let screen = self.screen(session);
            if done(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "{session}: never as expected; screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Types `text` and presses Enter.
    pub fn type_line(&self, session: &str, text: &str) {
        self.tmux(&["send-keys", "-t", session, "-l", text]);
        self.tmux(&["send-keys", "-t", session, "Enter"]);
    }

    fn keys(&self, session: &str, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", session];
        args.extend_from_slice(keys);
        self.tmux(&args);
    }

    fn resize(&self, session: &str, width: u16, height: u16) {
        self.tmux(&[
            "resize-window",
            "-t",
            session,
            "-x",
            &width.to_string(),
            "-y",
            &height.to_string(),
        ]);
    }

    /// Waits for the program to exit; returns its exit status.
    #[track_caller]
    fn exit_status(&self, session: &str) -> i32 {
        let deadline = Instant::now() + PATIENCE;
        let file = self.status_file(session);
        loop {
            if let Ok(text) = std::fs::read_to_string(&file) {
                if let Ok(status) = text.trim().parse() {
                    return status;
                }
            }
            assert!(
                Instant::now() < deadline,
                "{session} did not exit; screen:\n{}",
                self.screen(session)
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.tmux(&["kill-server"]);
    }
}

pub fn two_people_chat_in_the_tui() {
    let tmux = Tmux::new();
    // No resuming: losing the server ends the session (the comeback has
    // a test of its own).
    let server = Server::start_with(&["--room", "lab", "--resume-grace", "0"]);
    let addr = server.addr.clone();
    // Alice has never been here: her status bar says so, with the key.
    let _ = std::fs::remove_dir_all(config_home().join("alice").join("data"));
    tmux.start("alice", 100, 20, &["--server", &addr, "--name", "alice"]);
    let screen = tmux.wait_for("alice", "Welcome to lab, alice!");
    assert!(screen.contains("│ new room, fingerprint "), "{screen}");
    assert!(screen.contains(": encrypted; new room,"), "{screen}");
    tmux.start("bob", 100, 20, &["--server", &addr, "--name", "bob"]);
    tmux.wait_for("bob", "Welcome to lab, bob!");

    // The user list updates the moment bob joins, without /list.
    let screen = tmux.wait_for("alice", "bob joined");
    assert!(screen.contains("users (2)"), "{screen}");
    assert!(screen.contains("│bob "), "{screen}");

    tmux.type_line("bob", "hello from bob 你好 🎉");
    tmux.wait_for("alice", "<bob> hello from bob 你好 🎉");

    // Emoji sequences leave nothing behind when the view scrolls away and
    // back: the screen is the same as before. (Skin-tone modifiers are
    // left out here: tmux itself drops them when a cell is redrawn.)
    tmux.type_line("bob", "flags 🇫🇷🇯🇵 family 👨‍👩‍👧 done");
    let before = tmux.wait_for("alice", "family");
    tmux.keys("alice", &["PageUp"]);
    tmux.wait_for("alice", "scrolled up");
    tmux.keys("alice", &["PageDown"]);
    let after = tmux.wait_until("alice", |screen| !screen.contains("scrolled up"));
    assert_eq!(after, before);

    tmux.type_line("alice", "/w bob the secret is 42");
    tmux.wait_for("bob", "[whisper from alice] the secret is 42");
    tmux.wait_for("alice", "[whisper to bob] the secret is 42");

    // Escape sequences from anyone arrive inert: shown, never obeyed.
    let mut prankster = server.join("prankster");
    prankster.send("\u{1b}[2J\u{1b}]0;pwned\u{7}\u{1b}]52;c;aGk=\u{7}boo");
    tmux.wait_for("alice", "<prankster> ␛[2J␛]0;pwned␇␛]52;c;aGk=␇boo");
    let title = tmux.tmux(&["display-message", "-p", "-t", "alice", "#{pane_title}"]);
    assert!(
        !title.contains("pwned"),
        "the title was changed to {title:?}"
    );
    // The window title is the room's (with an unread count while the
    // window is not focused: see the app's tests).
    assert_eq!(title.trim(), "lanchat: lab");
    prankster.send("/x");

    // Typing is never scrambled by incoming messages.
    tmux.keys("alice", &["-l", "half typed"]);
    tmux.type_line("bob", "interruption!");
    let screen = tmux.wait_for("alice", "<bob> interruption!");
    assert!(screen.contains("> half typed"), "{screen}");
    tmux.keys("alice", &["C-u"]);

    // A small terminal hides the user list but keeps the conversation.
    tmux.resize("alice", 40, 10);
    let screen = tmux.wait_for("alice", "interruption!");
    assert!(!screen.contains("users ("), "{screen}");
    tmux.resize("alice", 100, 20);
    tmux.wait_for("alice", "users (2)");

    // /x leaves cleanly with exit code 0, and alice sees it.
    tmux.type_line("bob", "/x");
    assert_eq!(tmux.exit_status("bob"), 0);
    tmux.wait_for("alice", "bob left");
    let screen = tmux.wait_for("alice", "users (1)");
    assert!(!screen.contains("│bob "), "{screen}");

    // Losing the server restores the terminal and says why, exit code 1.
    server.proc.signal("-TERM");
    assert_eq!(tmux.exit_status("alice"), 1);
    let screen = tmux.screen_and_history("alice");
    assert!(
        screen.contains("lanchat: disconnected: server shutting down"),
        "{screen}"
    );
    assert!(
        !screen.contains("users ("),
        "the alternate screen was left:\n{screen}"
    );
}

pub fn the_tui_asks_for_a_name_and_ctrl_c_twice_leaves() {
    let tmux = Tmux::new();
    let server = Server::start();
    let _alice = server.join("alice");
    tmux.start("new", 100, 16, &["--server", &server.addr]);
    tmux.wait_for("new", "Choose a name");
    tmux.type_line("new", "ALICE");
    tmux.wait_for("new", "Can't use that name");
    tmux.type_line("new", "dana");
    tmux.wait_for("new", "Welcome to lab, dana!");
    tmux.keys("new", &["C-c"]);
    tmux.wait_for("new", "Press Ctrl-C again");
    tmux.keys("new", &["C-c"]);
    assert_eq!(tmux.exit_status("new"), 0);
}

/// The link to the server is cut (a wifi blink): the TUI says it is
/// reconnecting, comes back by itself, shows what was said meanwhile, and
/// sends what was typed meanwhile.
pub fn the_tui_comes_back_after_its_link_is_cut() {
    let tmux = Tmux::new();
    let server = Server::start();
    let relay = Relay::to(&server.addr);
    let mut bob = server.join("bob");
    tmux.start(
        "erin",
        100,
        16,
        &["--server", &relay.addr, "--name", "erin"],
    );
    tmux.wait_for("erin", "Welcome to lab, erin!");
    bob.expect_line("*** erin joined");

    relay.cut();
    bob.expect_line("*** erin lost connection; holding the name");
    bob.send("said while you were away");
    bob.expect_line("<bob> said while you were away");
    tmux.wait_for("erin", "<bob> said while you were away");
    tmux.wait_for("erin", "Reconnected; back in the room.");
    bob.expect_line("*** erin is back");
    tmux.type_line("erin", "hello again");
    bob.expect_line("<erin> hello again");
}

const TMUX: &[Need] = &[Need::tool("tmux", "-V", "LANCHAT_REQUIRE_TMUX")];

/// Every test here, with what it needs.
/// A room with a passphrase: the TUI (and `--plain`) ask for it on the
/// terminal, without echoing it, before joining; a wrong one is refused.
pub fn the_passphrase_is_asked_for_on_the_terminal() {
    let tmux = Tmux::new();
    let pass = config_home().join("tui-passphrase");
    let _ = std::fs::create_dir_all(config_home());
    std::fs::write(&pass, "open sesame\n").expect("write the passphrase file");
    let pass = pass.display().to_string();
    let server = Server::start_with(&["--room", "lab", "--passphrase-file", &pass]);
    let addr = server.addr.clone();

    tmux.start("erin", 100, 20, &["--server", &addr, "--name", "erin"]);
    tmux.wait_for("erin", "passphrase for room 'lab':");
    tmux.type_line("erin", "open sesame");
    tmux.wait_for("erin", "Welcome to lab, erin!");
    // The prompt was on the terminal's main screen, which the TUI covers
    // and gives back when it ends: the line must hold no passphrase.
    tmux.type_line("erin", "/x");
    assert_eq!(tmux.exit_status("erin"), 0);
    let screen = tmux.screen_and_history("erin");
    assert!(screen.contains("passphrase for room 'lab':"), "{screen}");
    assert!(!screen.contains("open sesame"), "echoed: {screen}");

    tmux.start(
        "mallory",
        100,
        20,
        &["--plain", "--server", &addr, "--name", "mallory"],
    );
    tmux.wait_for("mallory", "passphrase for room 'lab':");
    tmux.type_line("mallory", "open says me");
    let screen = tmux.wait_for("mallory", "the passphrase did not match");
    assert!(!screen.contains("open says me"), "echoed: {screen}");
    assert_eq!(tmux.exit_status("mallory"), 1);

    // A room found by searching is joined inside the TUI, which asks in
    // its own input line, and again after a wrong one.
    let port = server.port().to_string();
    let find = [
        "--via",
        "scan",
        "--scan-range",
        "127.0.0.1/32",
        "--port",
        &port,
        "--name",
        "fay",
    ];
    tmux.start("fay", 100, 20, &find);
    tmux.wait_for("fay", "has a passphrase: type it and press Enter");
    // While typed, it shows as dots (as many as characters), never itself.
    tmux.keys("fay", &["-l", "open says me"]);
    let screen = tmux.wait_for("fay", "passphrase: ••••••••••••");
    assert!(!screen.contains("open says me"), "shown: {screen}");
    tmux.keys("fay", &["Enter"]);
    tmux.wait_for("fay", "the passphrase did not match");
    tmux.keys("fay", &["-l", "open sesame"]);
    let screen = tmux.wait_for("fay", "passphrase: •••••••••••");
    assert!(!screen.contains("open sesame"), "shown: {screen}");
    tmux.keys("fay", &["Enter"]);
    tmux.wait_for("fay", "Welcome to lab, fay!");
}

pub const TESTS: &[Test] = &[
    Test {
        name: "the_passphrase_is_asked_for_on_the_terminal",
        run: the_passphrase_is_asked_for_on_the_terminal,
        needs: TMUX,
    },
    Test {
        name: "two_people_chat_in_the_tui",
        run: two_people_chat_in_the_tui,
        needs: TMUX,
    },
    Test {
        name: "the_tui_asks_for_a_name_and_ctrl_c_twice_leaves",
        run: the_tui_asks_for_a_name_and_ctrl_c_twice_leaves,
        needs: TMUX,
    },
    Test {
        name: "the_tui_comes_back_after_its_link_is_cut",
        run: the_tui_comes_back_after_its_link_is_cut,
        needs: TMUX,
    },
];
