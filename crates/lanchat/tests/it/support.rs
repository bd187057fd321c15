//! Spawning the real binary and talking to it line by line.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// Upper bound on any single wait, so a bug fails a test instead of hanging
/// it. Not a performance threshold.
pub const PATIENCE: Duration = Duration::from_secs(15);

/// The `lanchat` binary, for use on this machine (not in a test LAN). It
/// can never search real networks (`LANCHAT_NO_INTERFACES`), and it keeps
/// its memory in a directory of the test run's own.
pub fn lanchat() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lanchat"));
    cmd.env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .env("LANCHAT_NO_INTERFACES", "1")
        .env("XDG_CONFIG_HOME", config_home())
        .env("XDG_DATA_HOME", config_home().join("data"));
    cmd
}

/// A config directory private to this test process.
pub fn config_home() -> std::path::PathBuf {
    static HOME: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();
    HOME.get_or_init(|| {
        // Not the PID alone: PIDs are reused, and what an earlier test
        // process left there (a last name used, pinned keys) would change
        // what this one sees. The start time makes it this process's own.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        std::env::temp_dir().join(format!("lanchat-test-{}-{nanos}", std::process::id()))
    })
    .clone()
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

    /// Waits for the next stdout line, which must satisfy `pred`, and
    /// returns it. Nothing is skipped: a line the test did not expect (a
    /// leaked whisper, a stray error) fails it.
    #[track_caller]
    pub fn expect_out(&mut self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let line = next_line(&self.out, &mut self.seen, what);
        assert!(
            pred(&line),
            "expected {what:?} next, got {line:?}; saw {:#?}",
            self.seen
        );
        line
    }

    /// Waits for the next stdout line, which must be exactly `line`.
    #[track_caller]
    pub fn expect_line(&mut self, line: &str) {
        self.expect_out(line, |l| l == line);
    }

    /// Skips stdout lines until one satisfies `pred`, for output whose
    /// interleaving is not the point of the test (e.g. discovery tests).
    #[track_caller]
    pub fn skip_out_to(&mut self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        loop {
            let line = next_line(&self.out, &mut self.seen, what);
            if pred(&line) {
                return line;
            }
        }
    }

    /// Waits for a stderr line containing `needle`; other diagnostics
    /// before it are skipped.
    #[track_caller]
    pub fn expect_err(&mut self, needle: &str) -> String {
        loop {
            let line = next_line(&self.err, &mut self.seen, needle);
            if line.contains(needle) {
                return line;
            }
        }
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

    /// Every stdout line from now until the process exits.
    pub fn rest_of_stdout(&mut self) -> Vec<String> {
        self.out.iter().collect()
    }

    /// Every stderr line from now until the process exits.
    pub fn rest_of_stderr(&mut self) -> Vec<String> {
        self.err.iter().collect()
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

/// The next line from `rx`, recorded in `seen`; panics after
/// [`PATIENCE`] or when the stream ends.
#[track_caller]
fn next_line(rx: &Receiver<String>, seen: &mut Vec<String>, what: &str) -> String {
    match rx.recv_timeout(PATIENCE) {
        Ok(line) => {
            seen.push(line.clone());
            line
        }
        Err(RecvTimeoutError::Timeout) => {
            panic!("no line while waiting for {what:?}; saw {seen:#?}")
        }
        Err(RecvTimeoutError::Disconnected) => {
            panic!("stream ended while waiting for {what:?}; saw {seen:#?}")
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
        Self::start_on("127.0.0.1", 0, extra)
    }

    /// A server bound to `bind:port` (port 0 for any free one).
    pub fn start_on(bind: &str, port: u16, extra: &[&str]) -> Server {
        let mut cmd = lanchat();
        cmd.args(["serve", "--bind", bind, "--port", &port.to_string()])
            .args(extra);
        Self::spawn(cmd)
    }

    /// Runs a prepared `lanchat serve` command and waits for its banner.
    pub fn spawn(cmd: Command) -> Server {
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

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.addr
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("a port")
    }

    /// A `--plain` client that has joined as `name` (and read its welcome).
    pub fn join(&self, name: &str) -> Proc {
        let mut p = self.client(&["--name", name]);
        p.expect_out("welcome", |l| l.starts_with("*** Welcome to "));
        p
    }

    /// Alice and bob in the room, alice having seen bob arrive.
    pub fn alice_and_bob(&self) -> (Proc, Proc) {
        let mut alice = self.join("alice");
        let bob = self.join("bob");
        alice.expect_line("*** bob joined");
        (alice, bob)
    }

    /// A `--plain` client with extra arguments, not waited on.
    pub fn client(&self, extra: &[&str]) -> Proc {
        let mut cmd = lanchat();
        cmd.args(["join", "--plain", "--server", &self.addr])
            .args(extra);
        Proc::spawn(cmd)
    }
}

/// A fake service on a TCP address, for a discovery scan to reject. It
/// accepts connections until dropped and treats each with `serve`.
pub struct Decoy {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Decoy {
    pub fn start(addr: &str, serve: fn(std::net::TcpStream)) -> Decoy {
        use std::sync::atomic::{AtomicBool, Ordering};
        let listener = std::net::TcpListener::bind(addr).expect("bind decoy");
        listener.set_nonblocking(true).expect("nonblocking");
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut held = Vec::new();
            let deadline = Instant::now() + PATIENCE * 4;
            while !flag.load(Ordering::Relaxed) && Instant::now() < deadline {
                match listener.accept() {
                    Ok((s, _)) => {
                        let _ = s.set_nonblocking(false);
                        if let Ok(copy) = s.try_clone() {
                            held.push(copy);
                        }
                        serve(s);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Decoy {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Decoy {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A TCP relay on loopback to `upstream` whose connections can all be cut
/// at once (a link going down), while new ones still get through.
pub struct Relay {
    pub addr: String,
    open: std::sync::Arc<std::sync::Mutex<Vec<std::net::TcpStream>>>,
}

impl Relay {
    pub fn to(upstream: &str) -> Relay {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the relay");
        let addr = listener.local_addr().expect("its address").to_string();
        let open = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (upstream, streams) = (upstream.to_owned(), open.clone());
        std::thread::spawn(move || {
            // Bounded: a test makes a handful of connections.
            for client in listener.incoming().take(16) {
                let Ok(client) = client else { continue };
                let Ok(server) = std::net::TcpStream::connect(&upstream) else {
                    continue;
                };
                if let Ok(mut streams) = streams.lock() {
                    for s in [&client, &server] {
                        if let Ok(clone) = s.try_clone() {
                            streams.push(clone);
                        }
                    }
                }
                pipe(&client, &server);
                pipe(&server, &client);
            }
        });
        Relay { addr, open }
    }

    /// Cuts every connection through the relay.
    pub fn cut(&self) {
        if let Ok(mut streams) = self.open.lock() {
            for s in streams.drain(..) {
                let _ = s.shutdown(std::net::Shutdown::Both);
            }
        }
    }
}

/// Copies `from` into `to` on a thread of its own until either ends.
fn pipe(from: &std::net::TcpStream, to: &std::net::TcpStream) {
    let (Ok(mut from), Ok(mut to)) = (from.try_clone(), to.try_clone()) else {
        return;
    };
    std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        while let Ok(n) = std::io::Read::read(&mut from, &mut buf) {
            if n == 0 || std::io::Write::write_all(&mut to, &buf[..n]).is_err() {
                break;
            }
        }
        let _ = to.shutdown(std::net::Shutdown::Both);
    });
}
