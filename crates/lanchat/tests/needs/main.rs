//! End-to-end tests that need something a machine may lack: root and
//! iproute2 for the simulated LAN of network namespaces, tmux for the
//! terminal UI, irssi and weechat for the IRC door, tcpdump and avahi for the packet and interoperability
//! checks.
//!
//! A harness of our own (libtest-mimic), so that a skip cannot pass for a
//! success: a test whose needs are not met here is reported as `ignored`,
//! counted in the summary line, with the reason printed above it. Where the
//! test is required (`CI=true`, or `LANCHAT_REQUIRE_NETNS=1` /
//! `LANCHAT_REQUIRE_TMUX=1`) an unmet need fails the test instead.

use std::process::{Command, ExitCode, Stdio};

use libtest_mimic::{Arguments, Failed, Trial};

mod irc_clients;
mod lan;
#[allow(dead_code)] // Shared with the `it` binary, which uses other parts.
#[path = "../it/support.rs"]
mod support;
mod tui;
mod web;

/// Something a test needs from the machine.
#[derive(Debug, Clone, Copy)]
pub enum Need {
    /// Root and `ip`: to build network namespaces.
    Netns,
    /// A program that answers `flag` (e.g. `--version`) successfully.
    /// `require` names the environment variable that makes it mandatory.
    Tool {
        name: &'static str,
        flag: &'static str,
        require: &'static str,
    },
}

impl Need {
    pub const fn tool(name: &'static str, flag: &'static str, require: &'static str) -> Need {
        Need::Tool {
            name,
            flag,
            require,
        }
    }

    /// Why this need is not met here, or `None` when it is.
    fn unmet(&self) -> Option<String> {
        match *self {
            Need::Netns if !is_root() => Some("network namespaces need root".into()),
            Need::Netns => Need::tool("ip", "-V", "").unmet(),
            Need::Tool { name, flag, .. } => {
                let runs = Command::new(name)
                    .arg(flag)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success());
                (!runs).then(|| format!("{name} is not installed"))
            }
        }
    }

    /// Whether this environment insists the need be met.
    fn required(&self) -> bool {
        let var = match *self {
            Need::Netns => "LANCHAT_REQUIRE_NETNS",
            Need::Tool { require, .. } => require,
        };
        std::env::var("CI").is_ok_and(|v| v == "true") || std::env::var_os(var).is_some()
    }
}

/// One test: its name, its body (which panics to fail), and its needs.
pub struct Test {
    pub name: &'static str,
    pub run: fn(),
    pub needs: &'static [Need],
}

pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false)
}

/// A test as a trial: ignored (with the reason shown) when a need is unmet
/// and not required, failed when it is required, run otherwise.
fn trial(module: &str, test: &Test, skipped: &mut Vec<String>) -> Trial {
    let name = format!("{module}::{}", test.name);
    let unmet: Vec<(String, bool)> = test
        .needs
        .iter()
        .filter_map(|n| n.unmet().map(|why| (why, n.required())))
        .collect();
    if let Some((why, _)) = unmet.iter().find(|(_, required)| *required) {
        let why = format!("{why}, and this environment requires the test to run");
        return Trial::test(name, move || Err(Failed::from(why)));
    }
    if let Some((why, _)) = unmet.first() {
        skipped.push(format!("skipped {name}: {why}"));
        return Trial::test(name, || Ok(())).with_ignored_flag(true);
    }
    let run = test.run;
    Trial::test(name, move || {
        run();
        Ok(())
    })
}

/// Every module's tests must be listed in its `TESTS`; a `pub fn` at the
/// top of a test module that is not listed would never run.
fn every_test_is_listed() -> Result<(), Failed> {
    for (source, tests, module) in [
        (include_str!("lan.rs"), lan::TESTS, "lan"),
        (
            include_str!("irc_clients.rs"),
            irc_clients::TESTS,
            "irc_clients",
        ),
        (include_str!("tui.rs"), tui::TESTS, "tui"),
        (include_str!("web.rs"), web::TESTS, "web"),
    ] {
        for line in source.lines() {
            let Some(rest) = line.strip_prefix("pub fn ") else {
                continue;
            };
            let name = rest.split('(').next().unwrap_or(rest);
            if !tests.iter().any(|t| t.name == name) {
                return Err(format!("{module}::{name} is not listed in {module}::TESTS").into());
            }
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = Arguments::from_args();
    let mut trials = vec![Trial::test("every_test_is_listed", every_test_is_listed)];
    let mut skipped = Vec::new();
    for (module, tests) in [
        ("lan", lan::TESTS),
        ("tui", tui::TESTS),
        ("irc_clients", irc_clients::TESTS),
        ("web", web::TESTS),
    ] {
        trials.extend(tests.iter().map(|t| trial(module, t, &mut skipped)));
    }
    let conclusion = libtest_mimic::run(&args, trials);
    // The clients' config and data directories of this run.
    let _ = std::fs::remove_dir_all(support::config_home());
    // Said again after the run, beside the summary's "ignored" count.
    for line in &skipped {
        eprintln!("{line}");
    }
    conclusion.exit_code()
}
