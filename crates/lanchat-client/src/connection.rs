//! Reaching a server and talking to it.
//!
//! [`Connection::connect`] resolves the address, connects with a timeout and
//! checks the greeting before anything else: an HTTP server, a silent
//! listener or any other service on the port is reported as "not a lanchat
//! server" within a few seconds, never waited on forever. After that,
//! [`FrameReader`] and [`FrameWriter`] carry frames in each direction, so a
//! front end can read and write from different tasks.

use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use lanchat_proto::limits::DEFAULT_PORT;
use lanchat_proto::pake::{self, Pake, Side};
use lanchat_proto::Fingerprint;
use lanchat_proto::{
    encode, ClientFrame, DecodeError, Greeting, GreetingCheck, GreetingError, Limits, LineDecoder,
    ServerFrame,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{lookup_host, TcpStream};
use tokio::time::{timeout, Instant};

use crate::log_limit::{excerpt, LogLimit};

use crate::error::ClientError;
use crate::tls;
use crate::trust::{Trust, Verdict};

/// How long to wait for a TCP connection, and then for the greeting.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// An open connection to a verified lanchat server.
#[derive(Debug)]
pub struct Connection {
    /// What the server said about itself.
    pub greeting: Greeting,
    /// The address we reached, as `ip:port`.
    pub addr: String,
    /// The server's key, as the TLS handshake showed it.
    pub fingerprint: Fingerprint,
    /// How that key stands with the pins.
    pub verdict: Verdict,
    /// What this connection trusted; reconnects trust the same.
    pub trust: Arc<Trust>,
    /// Frames from the server.
    pub reader: FrameReader,
    /// Frames to the server.
    pub writer: FrameWriter,
}

/// The reading half: yields frames from the server.
pub struct FrameReader {
    half: Box<dyn AsyncRead + Send + Unpin>,
    buf: BytesMut,
    decoder: LineDecoder,
    /// Skipped frames are logged at most once a second.
    skip_log: LogLimit,
}

/// The writing half: sends frames to the server.
pub struct FrameWriter {
    half: Box<dyn AsyncWrite + Send + Unpin>,
}

impl std::fmt::Debug for FrameReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameReader")
            .field("buffered", &self.buf.len())
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for FrameWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FrameWriter")
    }
}

/// The outcome of asking for a name.
#[derive(Debug, Clone, PartialEq)]
pub enum Registration {
    /// We are in.
    Welcome {
        name: String,
        room: String,
        /// Everyone else, gathered from all the frames of a split list.
        users: Vec<String>,
        /// What the server offers (empty from a revision 1 server).
        caps: Vec<String>,
        /// The server's limits (none from a revision 1 server).
        limits: Option<Limits>,
    },
    /// The name cannot be used; the reason is for the user.
    Rejected { reason: String },
}

impl Connection {
    /// Connects to `server` (`host`, `host:port`, `ip`, `[v6]:port`; the
    /// port defaults to 8081) and checks that it is a lanchat server.
    pub async fn connect(server: &str, trust: &Arc<Trust>) -> Result<Connection, ClientError> {
        let (host, port) = split_host_port(server);
        let addrs: Vec<_> = lookup_host((host, port))
            .await
            .map_err(|source| ClientError::Resolve {
                host: host.to_owned(),
                cause: source,
            })?
            .collect();
        let mut last = None;
        for addr in addrs {
            match Self::connect_addr(&addr.to_string(), trust).await {
                Ok(conn) => return Ok(conn),
                Err(e @ (ClientError::Connect { .. } | ClientError::ConnectTimeout { .. })) => {
                    last = Some(e)
                }
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| ClientError::Resolve {
            host: host.to_owned(),
            cause: std::io::ErrorKind::NotFound.into(),
        }))
    }

    /// Connects to one socket address, checks the server's key against
    /// `trust` and the greeting, and proves the passphrase if the room has
    /// one.
    pub async fn connect_addr(addr: &str, trust: &Arc<Trust>) -> Result<Connection, ClientError> {
        Self::connect_addr_within(addr, CONNECT_TIMEOUT, trust, None).await
    }

    /// Like [`Connection::connect_addr`], giving up on the TCP connect after
    /// `limit` (for a quick check of a server that may be gone); `announced`
    /// is the fingerprint a discovery answer gave for the room, if any.
    pub async fn connect_addr_within(
        addr: &str,
        limit: Duration,
        trust: &Arc<Trust>,
        announced: Option<&str>,
    ) -> Result<Connection, ClientError> {
        let secs = limit.as_secs().max(1);
        let stream = match timeout(limit, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(source)) => {
                return Err(ClientError::Connect {
                    addr: addr.to_owned(),
                    cause: source,
                })
            }
            Err(_) => {
                return Err(ClientError::ConnectTimeout {
                    addr: addr.to_owned(),
                    secs,
                })
            }
        };
        let _ = stream.set_nodelay(true);
        let secured = secure(stream, addr).await?;
        let (read, write) = tokio::io::split(secured.stream);
        let mut read: Box<dyn AsyncRead + Send + Unpin> = Box::new(read);
        let (greeting, rest) = read_greeting(&mut read, addr).await?;
        let verdict = trust.check(addr, &greeting.room, secured.fingerprint, announced)?;
        let mut conn = Connection {
            greeting,
            addr: addr.to_owned(),
            reader: FrameReader {
                half: read,
                buf: rest,
                decoder: LineDecoder::default(),
                skip_log: LogLimit::new(Duration::from_secs(1)),
            },
            writer: FrameWriter {
                half: Box::new(write),
            },
            fingerprint: secured.fingerprint,
            verdict,
            trust: trust.clone(),
        };
        if conn.greeting.passphrase {
            let prove = conn.prove_passphrase(&secured.binding);
            match tokio::time::timeout(ANSWER_TIMEOUT, prove).await {
                Ok(proved) => proved?,
                Err(_) => {
                    return Err(ClientError::NoAnswer {
                        secs: ANSWER_TIMEOUT.as_secs(),
                    })
                }
            }
        }
        trust.pin(addr, &conn.greeting.room, conn.fingerprint);
        Ok(conn)
    }

    /// The passphrase exchange (see [`lanchat_proto::pake`]): the server
    /// must prove it knows the passphrase before we prove we do.
    async fn prove_passphrase(&mut self, binding: &[u8]) -> Result<(), ClientError> {
        let room = self.greeting.room.clone();
        let passphrase = self
            .trust
            .passphrase(&room)
            .ok_or_else(|| ClientError::PassphraseNeeded { room: room.clone() })?;
        let (state, ours) = Pake::start(passphrase.expose(), &room);
        self.writer
            .send(&ClientFrame::Pake {
                msg: pake::to_hex(&ours),
            })
            .await?;
        let addr = self.addr.clone();
        let fake = || ClientError::FakeRoom {
            addr: addr.clone(),
            room: room.clone(),
        };
        let ServerFrame::Pake { msg, proof } = self.pake_answer(&room, true).await? else {
            return Err(fake());
        };
        let theirs = pake::from_hex(&msg, pake::MAX_MESSAGE_LEN).ok_or_else(fake)?;
        let proof = pake::from_hex(&proof, pake::BINDING_LEN).ok_or_else(fake)?;
        let mine = state.finish(&theirs, binding).map_err(|_| fake())?;
        if !mine.check(Side::Server, &proof) {
            return Err(fake());
        }
        self.writer
            .send(&ClientFrame::PakeProof {
                proof: pake::to_hex(&mine.prove(Side::Client)),
            })
            .await?;
        self.pake_answer(&room, false).await.map(drop)
    }

    /// The server's `pake` frame (`first`) or its `pake_ok`, answering
    /// pings meanwhile; a refusal is an error.
    async fn pake_answer(&mut self, room: &str, first: bool) -> Result<ServerFrame, ClientError> {
        loop {
            match self.reader.next().await? {
                None => return Err(ClientError::Closed),
                Some(frame @ ServerFrame::Pake { .. }) if first => return Ok(frame),
                Some(frame @ ServerFrame::PakeOk) if !first => return Ok(frame),
                Some(ServerFrame::Ping { token }) => {
                    self.writer.send(&ClientFrame::Pong { token }).await?
                }
                Some(ServerFrame::Error { code, .. }) if code == "wrong_passphrase" => {
                    let room = room.to_owned();
                    return Err(ClientError::WrongPassphrase { room });
                }
                Some(ServerFrame::Bye { reason, .. }) => {
                    return Err(ClientError::Disconnected(reason))
                }
                Some(_) => {}
            }
        }
    }

    /// Asks to enter the room as `name`, answering pings while waiting, for
    /// at most [`ANSWER_TIMEOUT`]: a server that greets and then never
    /// answers is an error, not a hang.
    pub async fn register(&mut self, name: &str) -> Result<Registration, ClientError> {
        self.ask(ClientFrame::Join {
            name: name.to_owned(),
            caps: CLIENT_CAPS.iter().map(|c| (*c).to_owned()).collect(),
            label: None,
        })
        .await
    }

    /// Asks to come back after a connection loss with `token`, having
    /// seen the room's events up to `last_id`: `Welcome` (what was missed
    /// follows), or `Rejected` when the server has nothing to resume (join
    /// afresh then).
    pub async fn resume(&mut self, token: &str, last_id: u64) -> Result<Registration, ClientError> {
        self.ask(ClientFrame::Resume {
            token: token.to_owned(),
            last_id,
            caps: CLIENT_CAPS.iter().map(|c| (*c).to_owned()).collect(),
            label: None,
        })
        .await
    }

    /// Sends `join` or `resume` and waits for the answer, at most
    /// [`ANSWER_TIMEOUT`].
    async fn ask(&mut self, frame: ClientFrame) -> Result<Registration, ClientError> {
        let asked = async {
            self.writer.send(&frame).await?;
            self.registration().await
        };
        match tokio::time::timeout(ANSWER_TIMEOUT, asked).await {
            Ok(answer) => answer,
            Err(_) => Err(ClientError::NoAnswer {
                secs: ANSWER_TIMEOUT.as_secs(),
            }),
        }
    }

    /// Waits for the answer to `join` or `resume`.
    async fn registration(&mut self) -> Result<Registration, ClientError> {
        loop {
            match self.reader.next().await? {
                None => return Err(ClientError::Closed),
                Some(ServerFrame::Welcome {
                    name,
                    room,
                    mut users,
                    more,
                    caps,
                    limits,
                    ..
                }) => {
                    if more {
                        self.rest_of_users(&mut users).await?;
                    }
                    return Ok(Registration::Welcome {
                        name,
                        room,
                        users,
                        caps,
                        limits,
                    });
                }
                Some(ServerFrame::NameRejected { reason, .. }) => {
                    return Ok(Registration::Rejected { reason })
                }
                Some(ServerFrame::Error { code, text, .. }) if code == "cannot_resume" => {
                    return Ok(Registration::Rejected { reason: text })
                }
                Some(ServerFrame::Ping { token }) => {
                    self.writer.send(&ClientFrame::Pong { token }).await?
                }
                Some(ServerFrame::Bye { reason, .. }) => {
                    return Err(ClientError::Disconnected(reason))
                }
                Some(_) => {}
            }
        }
    }

    /// Reads the `users` frames that continue a split list, up to the one
    /// without `more`. A hostile server cannot make this grow without
    /// bound: it stops at [`MAX_USERS`].
    async fn rest_of_users(&mut self, users: &mut Vec<String>) -> Result<(), ClientError> {
        loop {
            match self.reader.next().await? {
                None => return Err(ClientError::Closed),
                Some(ServerFrame::Users {
                    users: more_users,
                    more,
                    ..
                }) => {
                    let room = MAX_USERS.saturating_sub(users.len());
                    users.extend(more_users.into_iter().take(room));
                    if !more {
                        return Ok(());
                    }
                }
                Some(ServerFrame::Ping { token }) => {
                    self.writer.send(&ClientFrame::Pong { token }).await?
                }
                Some(ServerFrame::Bye { reason, .. }) => {
                    return Err(ClientError::Disconnected(reason))
                }
                Some(_) => {}
            }
        }
    }
}

/// How long to wait before the first attempt to come back after a lost
/// connection, and at most between two (the wait doubles).
pub const RECONNECT_FIRST: Duration = Duration::from_millis(250);
pub const RECONNECT_MAX: Duration = Duration::from_secs(5);

/// How long to keep trying to come back, from the grace period the server
/// gave (capped: a hostile server cannot keep a client trying for days).
pub fn resume_window(grace_secs: u64) -> Duration {
    Duration::from_secs(grace_secs.min(86_400))
}

/// One attempt to come back to the room at `addr` after a lost connection:
/// resume with `token` (having seen events up to `last_id`), or, if the
/// server has nothing to resume, join afresh as `me`. `Some((conn, fresh))`
/// once back in the room.
pub async fn come_back(
    trust: &Arc<Trust>,
    addr: &str,
    token: &str,
    last_id: u64,
    me: &str,
) -> Option<(Connection, bool)> {
    let mut conn = Connection::connect_addr(addr, trust).await.ok()?;
    match conn.resume(token, last_id).await {
        Ok(Registration::Welcome { .. }) => Some((conn, false)),
        Ok(Registration::Rejected { .. }) => match conn.register(me).await {
            Ok(Registration::Welcome { .. }) => Some((conn, true)),
            _ => None,
        },
        Err(_) => None,
    }
}

/// After this much silence from the server, the client pings it (a
/// working server pings every 10 s of silence itself).
pub const ASK_AFTER: Duration = Duration::from_secs(15);

/// After this much silence, the connection is taken as lost (as the server
/// does, by default, for a silent client).
pub const GONE_AFTER: Duration = Duration::from_secs(25);

/// The client's side of keepalive: when it last heard from the server,
/// and whether it has asked.
#[derive(Debug, Clone, Copy)]
pub struct Heard {
    last: Instant,
    asked: bool,
}

/// What a silence calls for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Silence {
    Fine,
    /// Ping the server with this token.
    Ask(u64),
    /// The connection is gone.
    Gone,
}

impl Heard {
    pub fn new(now: Instant) -> Heard {
        Heard {
            last: now,
            asked: false,
        }
    }

    /// Passes `frame` through, noting that the server was heard.
    pub fn got<T>(&mut self, frame: T, now: Instant) -> T {
        self.last = now;
        self.asked = false;
        frame
    }

    /// When to look at the silence next.
    pub fn next_check(&self) -> Instant {
        self.last + if self.asked { GONE_AFTER } else { ASK_AFTER }
    }

    /// What the silence calls for at `now`.
    pub fn check(&mut self, now: Instant) -> Silence {
        let silent = now.saturating_duration_since(self.last);
        if silent >= GONE_AFTER {
            Silence::Gone
        } else if silent >= ASK_AFTER && !self.asked {
            self.asked = true;
            Silence::Ask(silent.as_secs())
        } else {
            Silence::Fine
        }
    }
}

/// How long a server may take to answer `join` (its own registration
/// deadline is 10 s from the connection, and a working one answers at
/// once).
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(15);

/// What this client understands, announced in `join`.
pub const CLIENT_CAPS: &[&str] = &["stamps", "labels", "split_users", "history", "resume"];

/// The most names a client keeps in its user list.
pub const MAX_USERS: usize = 100_000;

impl FrameReader {
    /// The next frame, or `None` when the server closed the connection.
    /// Frames we cannot parse are skipped (a newer server may send them).
    pub async fn next(&mut self) -> Result<Option<ServerFrame>, ClientError> {
        loop {
            match self.decoder.next_frame::<ServerFrame>(&mut self.buf) {
                Ok(Some(frame)) => return Ok(Some(frame)),
                Ok(None) => {}
                Err(DecodeError::TooLong { .. }) => return Err(ClientError::FrameTooLong),
                Err(error) => {
                    if let Some(suppressed) = self.skip_log.allow(Instant::now()) {
                        let error = excerpt(&error.to_string());
                        tracing::warn!(%error, suppressed, "skipping a frame from the server");
                    }
                    continue;
                }
            }
            self.buf.reserve(4096);
            match self.half.read_buf(&mut self.buf).await {
                Ok(0) => return Ok(None),
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return Ok(None),
                Err(e) => return Err(e.into()),
            }
        }
    }
}

impl FrameWriter {
    /// Sends one frame.
    pub async fn send(&mut self, frame: &ClientFrame) -> Result<(), ClientError> {
        let bytes = encode(frame).map_err(|e| ClientError::Encode(e.to_string()))?;
        self.half.write_all(&bytes).await?;
        // TLS may keep records it could not send yet: push them out.
        self.half.flush().await?;
        Ok(())
    }

    /// Closes our direction of the connection.
    pub async fn close(&mut self) {
        let _ = self.half.shutdown().await;
    }
}

/// How long a server that has started answering gets to finish the
/// handshake and greet: on a lossy wifi a lost packet costs a second or
/// more, so this is longer than [`CONNECT_TIMEOUT`], which is for a server
/// that says nothing at all.
pub const SLOW_LINK_TIMEOUT: Duration = Duration::from_secs(10);

/// The TLS handshake: a server silent for [`CONNECT_TIMEOUT`] is not one,
/// one that answers gets [`SLOW_LINK_TIMEOUT`]. If it fails, what the
/// server sent says why: a plaintext greeting (an older lanchat), another
/// service's banner, or nothing at all.
async fn secure(stream: TcpStream, addr: &str) -> Result<tls::Secured, ClientError> {
    let seen = tls::Seen::default();
    let handshake = tls::handshake(stream, seen.clone());
    tokio::pin!(handshake);
    let started = Instant::now();
    let error = loop {
        match timeout(CONNECT_TIMEOUT, &mut handshake).await {
            Ok(Ok(secured)) => return Ok(secured),
            Ok(Err(error)) => break error,
            Err(_) if !seen.bytes().is_empty() && started.elapsed() < SLOW_LINK_TIMEOUT => {}
            Err(_) => {
                return Err(ClientError::Silent {
                    addr: addr.to_owned(),
                    secs: started.elapsed().as_secs(),
                })
            }
        }
    };
    let first = seen.bytes();
    let addr = addr.to_owned();
    // Closed on us before a byte: at once (EOF), or after our ClientHello
    // reached a socket already closed (a reset).
    let closed = matches!(
        error.kind(),
        std::io::ErrorKind::UnexpectedEof
            | std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::BrokenPipe
    );
    if first.is_empty() && closed {
        return Err(ClientError::NoGreeting { addr });
    }
    if first.is_empty() || first[0] == 0x15 || first[0] == 0x16 {
        // Nothing, or TLS records: a TLS server that is not ours, or a
        // handshake that failed.
        let why = error.to_string();
        return Err(ClientError::Tls { addr, why });
    }
    if first.starts_with(lanchat_proto::greeting::MAGIC) {
        // A lanchat server that greets in plaintext: one that turned us
        // away before TLS (its goodbye says why), or an older one.
        return Err(match refusal(&first) {
            Some(reason) => ClientError::Disconnected(reason),
            None => ClientError::Plaintext { addr },
        });
    }
    Err(not_lanchat(&addr, &first))
}

/// The reason in a plaintext greeting followed by a goodbye.
fn refusal(bytes: &[u8]) -> Option<String> {
    let mut lines = bytes.split(|&b| b == b'\n');
    Greeting::parse(lines.next()?).ok()?;
    match lanchat_proto::codec::decode::<ServerFrame>(lines.next()?).ok()? {
        ServerFrame::Bye { reason, .. } => Some(reason),
        _ => None,
    }
}

/// Reads the first line and checks it is a lanchat greeting. Fails fast on
/// the first byte that rules it out, so an HTTP server or a service that
/// talks first is reported at once; over TLS the server has answered
/// already, so it gets [`SLOW_LINK_TIMEOUT`] to greet.
async fn read_greeting(
    read: &mut (impl AsyncRead + Unpin),
    addr: &str,
) -> Result<(Greeting, BytesMut), ClientError> {
    let deadline = Instant::now() + SLOW_LINK_TIMEOUT;
    let mut buf = BytesMut::with_capacity(512);
    loop {
        match Greeting::check(&buf) {
            GreetingCheck::Done { greeting, len } => {
                let _ = buf.split_to(len);
                return Ok((greeting, buf));
            }
            GreetingCheck::Rejected(e @ GreetingError::Version { .. }) => {
                return Err(ClientError::Version {
                    addr: addr.to_owned(),
                    detail: e.to_string(),
                })
            }
            GreetingCheck::Rejected(GreetingError::NotLanchat) => {
                return Err(not_lanchat(addr, &buf))
            }
            GreetingCheck::Incomplete => {}
        }
        let read_more = read.read_buf(&mut buf);
        match tokio::time::timeout_at(deadline, read_more).await {
            Err(_) => {
                return Err(ClientError::Silent {
                    addr: addr.to_owned(),
                    secs: SLOW_LINK_TIMEOUT.as_secs(),
                })
            }
            Ok(Ok(0)) if buf.is_empty() => {
                return Err(ClientError::NoGreeting {
                    addr: addr.to_owned(),
                })
            }
            Ok(Ok(0)) => return Err(not_lanchat(addr, &buf)),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                return Err(ClientError::Connect {
                    addr: addr.to_owned(),
                    cause: e,
                })
            }
        }
    }
}

fn not_lanchat(addr: &str, bytes: &[u8]) -> ClientError {
    let shown: String = bytes
        .iter()
        .take(40)
        .flat_map(|b| b.escape_ascii())
        .map(char::from)
        .collect();
    let more = if bytes.len() > 40 { "…" } else { "" };
    ClientError::NotLanchat {
        addr: addr.to_owned(),
        sample: format!("\"{shown}{more}\""),
    }
}

/// Splits `host`, `host:port`, `ip`, `v6`, `[v6]` or `[v6]:port` into the
/// host and the port, if one is given. A port that is not a number from 1
/// to 65535 is an error, with the text that was not a port.
pub fn parse_server(server: &str) -> Result<(&str, Option<u16>), String> {
    let server = server.trim();
    let port = |p: &str| match p.parse::<u16>() {
        Ok(port) if port > 0 => Ok(Some(port)),
        _ => Err(format!("'{p}' is not a port (1 to 65535)")),
    };
    if let Some(rest) = server.strip_prefix('[') {
        return match rest.split_once(']') {
            Some((host, "")) => Ok((host, None)),
            Some((host, tail)) => match tail.strip_prefix(':') {
                Some(p) => Ok((host, port(p)?)),
                None => Err(format!("'{tail}' after ']' is not ':PORT'")),
            },
            None => Err("an IPv6 address in '[' has no ']'".to_owned()),
        };
    }
    match server.rsplit_once(':') {
        // One colon: host and port. More: a bare IPv6 address.
        Some((host, p)) if !host.contains(':') => Ok((host, port(p)?)),
        _ => Ok((server, None)),
    }
}

/// The host and port of `server`, the port defaulting to 8081 (and to
/// 8081 too when it is malformed: callers validate with [`parse_server`]).
pub fn split_host_port(server: &str) -> (&str, u16) {
    match parse_server(server) {
        Ok((host, port)) => (host, port.unwrap_or(DEFAULT_PORT)),
        Err(_) => (server.trim(), DEFAULT_PORT),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server that greets and then says nothing more: registration ends
    /// with a clear error at the deadline instead of hanging.
    #[tokio::test]
    async fn a_server_that_never_answers_join_is_an_error() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let dir = std::env::temp_dir().join(format!("lanchat-conn-{}", std::process::id()));
        let identity = lanchat_server::tls::Identity::load_or_create(&dir.join("id.pem")).unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(identity.server_config().unwrap());
        let server = tokio::spawn(async move {
            let (socket, _) = listener.accept().await.unwrap();
            let mut socket = acceptor.accept(socket).await.unwrap();
            let greeting = lanchat_proto::Greeting::new("lab", "pc");
            let bytes = lanchat_proto::encode(&greeting).unwrap();
            tokio::io::AsyncWriteExt::write_all(&mut socket, &bytes)
                .await
                .unwrap();
            // Then silence, while holding the connection open.
            tokio::time::sleep(ANSWER_TIMEOUT * 10).await;
        });
        let trust = Arc::new(Trust::new(None));
        let mut conn = Connection::connect_addr(&addr, &trust).await.unwrap();
        // The handshake ran in real time; the wait for an answer is timed
        // on a paused clock.
        tokio::time::pause();
        let started = Instant::now();
        let err = conn.register("alice").await.unwrap_err();
        assert!(matches!(err, ClientError::NoAnswer { secs: 15 }), "{err}");
        // To the millisecond (the timer wheel's grain, and the clock was
        // paused between two of them).
        let waited = started.elapsed();
        assert!(waited >= ANSWER_TIMEOUT, "{waited:?}");
        assert!(
            waited <= ANSWER_TIMEOUT + Duration::from_millis(1),
            "{waited:?}"
        );
        server.abort();
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn host_and_port_forms() {
        assert_eq!(split_host_port("10.0.0.5"), ("10.0.0.5", 8081));
        assert_eq!(split_host_port("host:9000"), ("host", 9000));
        assert_eq!(split_host_port("::1"), ("::1", 8081));
        assert_eq!(split_host_port("[::1]:9000"), ("::1", 9000));
        assert_eq!(split_host_port("[fe80::1]"), ("fe80::1", 8081));
        assert_eq!(parse_server("host"), Ok(("host", None)));
        assert_eq!(parse_server("[::1]:9"), Ok(("::1", Some(9))));
        for bad in ["127.0.0.1:abc", "h:99999", "h:0", "h:", "[::1]x", "[::1"] {
            assert!(parse_server(bad).is_err(), "{bad}");
        }
    }
}

#[cfg(test)]
mod heard_tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_silent_server_is_asked_then_given_up() {
        let mut heard = Heard::new(Instant::now());
        assert_eq!(heard.next_check(), Instant::now() + ASK_AFTER);
        tokio::time::advance(ASK_AFTER).await;
        assert!(matches!(heard.check(Instant::now()), Silence::Ask(_)));
        assert_eq!(heard.check(Instant::now()), Silence::Fine, "asked once");
        tokio::time::advance(GONE_AFTER - ASK_AFTER).await;
        assert_eq!(heard.check(Instant::now()), Silence::Gone);
        // Hearing anything starts over.
        heard.got((), Instant::now());
        assert_eq!(heard.check(Instant::now()), Silence::Fine);
        assert_eq!(heard.next_check(), Instant::now() + ASK_AFTER);
    }
}
