//! The web door in a real browser: Chromium driven by Playwright
//! (`web_check.py`), beside a `--plain` client. Screenshots at phone and
//! desktop size are left in `target/web-screenshots/`.

use std::process::Command;

use crate::support::{config_home, Server, PATIENCE};
use crate::{Need, Test};

pub fn the_page_chats_with_terminals_in_chromium() {
    let mut server = Server::start_with(&["--room", "lab"]);
    let line = server.proc.expect_err("phones and browsers join at ");
    let url = line
        .split("join at ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("a URL")
        .to_owned();
    let web_port = url
        .trim_end_matches('/')
        .rsplit(':')
        .next()
        .expect("a port")
        .to_owned();
    let bin = env!("CARGO_BIN_EXE_lanchat");
    let serve = [
        bin,
        "serve",
        "--bind",
        "127.0.0.1",
        "--port",
        &server.port().to_string(),
        "--web-port",
        &web_port,
        "--room",
        "lab",
    ];
    let shots =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/web-screenshots");
    std::fs::create_dir_all(&shots).expect("a directory for the screenshots");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/needs/web_check.py");
    let mut check = Command::new("timeout");
    check
        .arg(format!("{}", PATIENCE.as_secs() * 8))
        .args(["python3", script])
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .env("LANCHAT_NO_INTERFACES", "1")
        .env("XDG_CONFIG_HOME", config_home().join("web"))
        .env("XDG_DATA_HOME", config_home().join("data"))
        .env("LANCHAT_WEB_URL", &url)
        .env("LANCHAT_ADDR", &server.addr)
        .env("LANCHAT_BIN", bin)
        .env("LANCHAT_SHOTS", &shots)
        .env("LANCHAT_SERVER_PID", server.proc.pid().to_string())
        .env(
            "LANCHAT_SERVE",
            serde_json::to_string(&serve).expect("json"),
        );
    let out = check.output().expect("run python3");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "the browser check failed:\n{said}");
    assert!(said.contains("web check passed"), "{said}");
    for shot in ["phone-390x844.png", "desktop-1280x800.png"] {
        assert!(shots.join(shot).exists(), "no screenshot {shot}");
    }
}

const BROWSER: &[Need] = &[
    Need::tool("chromium", "--version", "LANCHAT_REQUIRE_BROWSER"),
    Need::tool("playwright", "--version", "LANCHAT_REQUIRE_BROWSER"),
];

/// Every test here, with what it needs.
pub const TESTS: &[Test] = &[Test {
    name: "the_page_chats_with_terminals_in_chromium",
    run: the_page_chats_with_terminals_in_chromium,
    needs: BROWSER,
}];
