//! Real IRC clients in the room: irssi and weechat in tmux, with no
//! configuration beyond `/connect` and `/join`, chatting with a `--plain`
//! lanchat user in both directions.
//!
//! Needs tmux, irssi and weechat (see [`crate::Need`]): where one is
//! missing the harness reports these tests as ignored, or fails them where
//! required (`CI=true`, `LANCHAT_REQUIRE_IRC_CLIENTS=1`).

use crate::support::{config_home, Proc, Server};
use crate::tui::Tmux;
use crate::{Need, Test};

/// A server with an IRC door; returns it and the door's port.
fn server_with_irc() -> (Server, u16) {
    let mut server = Server::start_with(&["--room", "lab", "--irc", "0"]);
    let line = server.proc.expect_err("IRC door on");
    let port = line
        .split("IRC door on ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|addr| addr.trim_end_matches(':').rsplit(':').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("a port in {line:?}"));
    (server, port)
}

/// A fresh home directory for a client, so no user configuration is read.
fn fresh_home(name: &str) -> String {
    let dir = config_home().join(format!("irc-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a home for the client");
    dir.display().to_string()
}

/// What every IRC client is put through once it is in `#lab` as `nick`,
/// with `alice` on `--plain`: chat both ways, the names, a join and a
/// leave, whispers both ways, and quitting. `names` is what the client
/// shows for `/names`.
fn chat_with_alice(
    tmux: &Tmux,
    session: &str,
    nick: &str,
    names: &str,
    (server, mut alice): (&Server, Proc),
) {
    alice.expect_line(&format!("*** {nick} joined"));

    tmux.type_line(session, &format!("hello from {session}"));
    alice.expect_line(&format!("<{nick}> hello from {session}"));
    alice.send("hello back from lanchat");
    alice.expect_line("<alice> hello back from lanchat");
    tmux.wait_for(session, "hello back from lanchat");

    tmux.type_line(session, "/names");
    tmux.wait_for(session, names);

    // Joins and leaves show up in the client.
    let mut carol = server.join("carol");
    tmux.wait_for(session, "carol");
    tmux.wait_for(session, "has joined #lab");
    alice.expect_line("*** carol joined");
    carol.send("/x");
    tmux.wait_for(session, "has quit");
    alice.expect_line("*** carol left");

    // Whispers both ways: private messages in the client.
    tmux.type_line(session, &format!("/msg alice psst from {session}"));
    alice.expect_line(&format!("[whisper from {nick}] psst from {session}"));
    alice.send(&format!("/w {nick} psst back"));
    alice.expect_line(&format!("[whisper to {nick}] psst back"));
    tmux.type_line(session, "/query alice");
    tmux.wait_for(session, "psst back");

    tmux.type_line(session, "/quit");
    alice.expect_line(&format!("*** {nick} left"));
}

pub fn irssi_chats_with_a_lanchat_user() {
    let (server, port) = server_with_irc();
    let alice = server.join("alice");
    let tmux = Tmux::new();
    let home = fresh_home("irssi");
    tmux.run(
        "irssi",
        120,
        30,
        // IRCNICK is irssi's own way to pick the nick (it is otherwise the
        // login name, and root is a name lanchat reserves).
        &format!("env TERM=screen-256color HOME={home} IRCNICK=bob irssi --home={home}/.irssi"),
    );
    tmux.wait_for("irssi", "[(status)]");
    tmux.type_line("irssi", &format!("/connect 127.0.0.1 {port}"));
    tmux.wait_for("irssi", "End of /MOTD");
    tmux.type_line("irssi", "/join #lab");
    tmux.wait_for("irssi", "bob [u@lanchat] has joined #lab");
    let names = "Total of 2 nicks";
    chat_with_alice(&tmux, "irssi", "bob", names, (&server, alice));
}

pub fn weechat_chats_with_a_lanchat_user() {
    let (server, port) = server_with_irc();
    let alice = server.join("alice");
    let tmux = Tmux::new();
    let home = fresh_home("weechat");
    tmux.run(
        "weechat",
        120,
        30,
        &format!("env TERM=screen-256color HOME={home} weechat --dir {home}/.weechat"),
    );
    tmux.wait_for("weechat", "Plugins loaded");
    let add = format!("/server add lab 127.0.0.1/{port} -notls -nicks=dave");
    tmux.type_line("weechat", &add);
    tmux.type_line("weechat", "/connect lab");
    // The room puts the client in the channel; /join is what a user types
    // anyway, and changes nothing.
    tmux.wait_for("weechat", "dave (u@lanchat) has joined #lab");
    tmux.type_line("weechat", "/join #lab");
    let names = "Nicks #lab: [alice dave]";
    chat_with_alice(&tmux, "weechat", "dave", names, (&server, alice));
}

const CLIENTS: &[Need] = &[
    Need::tool("tmux", "-V", "LANCHAT_REQUIRE_TMUX"),
    Need::tool("irssi", "--version", "LANCHAT_REQUIRE_IRC_CLIENTS"),
    Need::tool("weechat", "--version", "LANCHAT_REQUIRE_IRC_CLIENTS"),
];

pub const TESTS: &[Test] = &[
    Test {
        name: "irssi_chats_with_a_lanchat_user",
        run: irssi_chats_with_a_lanchat_user,
        needs: CLIENTS,
    },
    Test {
        name: "weechat_chats_with_a_lanchat_user",
        run: weechat_chats_with_a_lanchat_user,
        needs: CLIENTS,
    },
];
