//! Spawning the real binary and talking to it line by line.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// Upper bound on any single wait, so a bug fails a test instead of hanging
/// it. Not a performance threshold.
pub const PATIENCE: Duration = Duration::from_secs(15);

pub fn lanchat() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lanchat"));
    cmd.env_remove("RUST_LOG").env("NO_COLOR", "1");
    cmd
}

/// A child process whose stdout and stderr lines arrive on channels. It is
/// killed (by its own PID) when dropped.
pub struct Proc {
    pub child: Child,
    stdin: Option<ChildStdin>,
    out: Receiver<String>,
    err: Receiver<String>,
    /// Every line seen so far, for failure messages.
    seen: Vec<String>,
}

impl Proc {
    pub fn spawn(mut cmd: Command) -> Proc {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn lanchat");
        let out = lines(child.stdout.take().expect("stdout"));
        let err = lines(child.stderr.take().expect("stderr"));
        Proc {
            stdin: child.stdin.take(),
            child,
            out,
            err,
            seen: Vec::new(),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Types one line.
    pub fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin is open");
        writeln!(stdin, "{line}").expect("write to the client");
        stdin.flush().expect("flush");
    }

    /// Closes stdin (end of input).
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Waits for a stdout line satisfying `pred` and returns it.
    #[track_caller]
    pub fn expect_out(&mut self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        expect_line(&self.out, &mut self.seen, what, pred)
    }

    /// Waits for exactly this stdout line.
    #[track_caller]
    pub fn expect_line(&mut self, line: &str) {
        self.expect_out(line, |l| l == line);
    }

    /// Waits for a stderr line containing `needle`.
    #[track_caller]
    pub fn expect_err(&mut self, needle: &str) -> String {
        expect_line(&self.err, &mut self.seen, needle, |l| l.contains(needle))
    }

    /// Waits for the process to exit.
    #[track_caller]
    pub fn wait(&mut self) -> ExitStatus {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "process did not exit; saw {:#?}",
                self.seen
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends a signal by PID.
    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.pid().to_string()])
            .status()
            .expect("run kill")
            .success();
        assert!(ok, "kill {sig} failed");
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn lines(stream: impl std::io::Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

#[track_caller]
fn expect_line(
    rx: &Receiver<String>,
    seen: &mut Vec<String>,
    what: &str,
    pred: impl Fn(&str) -> bool,
) -> String {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                seen.push(line.clone());
                if pred(&line) {
                    return line;
                }
            }
            Err(RecvTimeoutError::Timeout) => panic!("no line matching {what:?}; saw {seen:#?}"),
            Err(RecvTimeoutError::Disconnected) => {
                panic!("stream ended before a line matching {what:?}; saw {seen:#?}")
            }
        }
    }
}

/// A `lanchat serve` process on a free loopback port.
pub struct Server {
    pub proc: Proc,
    pub addr: String,
}

impl Server {
    pub fn start() -> Server {
        Self::start_with(&["--room", "lab"])
    }

    pub fn start_with(extra: &[&str]) -> Server {
        let mut cmd = lanchat();
        cmd.args(["serve", "--bind", "127.0.0.1", "--port", "0"])
            .args(extra);
        let mut proc = Proc::spawn(cmd);
        let banner = proc.expect_err("serving room");
        let addr = banner
            .split(" on ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .expect("address in the banner")
            .to_owned();
        Server { proc, addr }
    }

    /// A `--plain` client that has joined as `name` (and read its welcome).
    pub fn join(&self, name: &str) -> Proc {
        let mut p = self.client(&["--name", name]);
        p.expect_out("welcome", |l| l.starts_with("*** Welcome to "));
        p
    }

    /// A `--plain` client with extra arguments, not waited on.
    pub fn client(&self, extra: &[&str]) -> Proc {
        let mut cmd = lanchat();
        cmd.args(["join", "--plain", "--server", &self.addr])
            .args(extra);
        Proc::spawn(cmd)
    }
}
