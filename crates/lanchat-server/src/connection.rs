//! One TCP connection, from greeting to goodbye.
//!
//! A single task per connection reads frames, hands typed lines to the hub,
//! and writes whatever the hub queued in its outbox, in batches. It owns
//! the deadlines and limits that protect the server:
//!
//! - registration must finish within `register_timeout` of accept;
//! - a silent client is pinged, then dropped after `ping_timeout`;
//! - a write that blocks for `write_timeout` ends the connection;
//! - frames are rate-limited by a token bucket. Over the limit, the
//!   connection simply stops reading its socket until a token is due, so
//!   TCP pushes back on the sender; a client that stays over the limit for
//!   `flood_kick_after` is disconnected.
//!
//! It does not hold a read buffer while the peer is idle: it waits for the
//! socket to become readable and only then allocates. It waits on socket
//! readiness and on its outbox through small `poll_fn`s, and keeps one
//! timer for all its deadlines, so an idle connection's task stays small
//! (about 1 kB) and a wake-up costs no timer re-arming.

use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Buf, Bytes, BytesMut};
use lanchat_core::LeaveReason;
use lanchat_proto::{encode, ClientFrame, DecodeError, LineDecoder, ServerFrame};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::{sleep_until, Instant};
use tokio_util::sync::CancellationToken;

use crate::admission::Ticket;
use crate::config::Config;
use crate::hub::{HubHandle, Membership};
use crate::outbox::{concat, Outbox, SHRINK_ABOVE};
use crate::rate::TokenBucket;

/// How many bytes to make room for before each read.
const READ_CHUNK: usize = 4096;

/// After this many malformed frames from a registered client, it is dropped.
const MAX_BAD_FRAMES: u32 = 10;

/// Serves one connection until it ends, for whatever reason.
///
/// Not an `async fn`: its arguments would be kept in the task next to the
/// [`Connection`] they were moved into, for the connection's whole life.
pub(crate) fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    hub: HubHandle,
    config: Arc<Config>,
    greeting: Bytes,
    shutdown: CancellationToken,
    ticket: Ticket,
) -> impl std::future::Future<Output = ()> {
    let outbox = Outbox::new(config.max_queue_bytes);
    let _ = outbox.push(greeting);
    let now = Instant::now();
    let mut conn = Connection {
        stream,
        hub,
        outbox,
        member: None,
        decoder: LineDecoder::new(config.max_frame_len),
        buf: BytesMut::new(),
        bad_frames: 0,
        bucket: TokenBucket::new(config.rate_limit, config.rate_burst, now),
        pending: None,
        throttled_until: None,
        throttled_since: None,
        unsent: Bytes::new(),
        write_deadline: None,
        closing: false,
        config,
    };
    async move {
        match conn.run(&shutdown).await {
            Ok(()) => tracing::debug!(%peer, "connection closed"),
            Err(error) => tracing::debug!(%peer, %error, "connection lost"),
        }
        // `conn.member` is dropped here, which tells the hub we left, and
        // the ticket, which frees our place for the next connection.
        drop(ticket);
    }
}

struct Connection {
    stream: TcpStream,
    hub: HubHandle,
    outbox: Outbox,
    config: Arc<Config>,
    /// Set once a name is registered; dropping it leaves the room.
    member: Option<Membership>,
    decoder: LineDecoder,
    /// Bytes read but not yet cut into frames. Empty, with no allocation,
    /// while the peer is idle.
    buf: BytesMut,
    bad_frames: u32,
    bucket: TokenBucket,
    /// A frame decoded but held back by the rate limit.
    pending: Option<ClientFrame>,
    /// While set, nothing is read until this instant.
    throttled_until: Option<Instant>,
    /// When this client started being held back without a break.
    throttled_since: Option<Instant>,
    /// Bytes taken from the outbox and not yet taken by the socket.
    unsent: Bytes,
    /// Set while `unsent` waits for a full socket; the peer must have read
    /// enough for it to go out by then.
    write_deadline: Option<Instant>,
    /// The outbox was seen closed: no need to watch it any more.
    closing: bool,
}

impl Connection {
    async fn run(&mut self, shutdown: &CancellationToken) -> io::Result<()> {
        let register_deadline = Instant::now() + self.config.register_timeout;
        let mut last_heard = Instant::now();
        let mut next_ping = last_heard + self.config.ping_interval;
        let mut ping_token = 0u64;
        let mut batch = Vec::new();
        // One timer for every deadline, moved only when the earliest one
        // changes: re-arming a timer on each wake-up would cost every
        // delivery a trip through the timer wheel.
        let timer = sleep_until(register_deadline.min(next_ping));
        tokio::pin!(timer);
        loop {
            if self.write(&mut batch)? {
                let _ = self.stream.shutdown().await;
                return Ok(());
            }
            let registered = self.member.is_some();
            let throttled = self.throttled_until;
            let writing = !self.unsent.is_empty();
            let closing = self.closing;
            let mut deadline = next_ping;
            if !registered {
                deadline = deadline.min(register_deadline);
            }
            for until in [throttled, self.write_deadline].into_iter().flatten() {
                deadline = deadline.min(until);
            }
            if timer.deadline() != deadline {
                timer.as_mut().reset(deadline);
            }
            tokio::select! {
                // Registered members are told of shutdown by the hub, which
                // closes their outbox after the notice.
                _ = shutdown.cancelled(), if !registered => {
                    self.say_bye("server shutting down");
                }
                // While a write waits for the socket, new frames wait in
                // the outbox (and batch up); only closing matters.
                _ = poll_fn(|cx| self.outbox.poll_ready(cx, !writing)), if !closing => {
                    self.closing = self.outbox.is_closed();
                }
                _ = poll_fn(|cx| self.stream.poll_write_ready(cx)), if writing => {}
                _ = &mut timer => {
                    let now = Instant::now();
                    if self.write_deadline.is_some_and(|until| now >= until) {
                        self.set_leave_reason(LeaveReason::TooSlow);
                        return Err(io::Error::new(io::ErrorKind::TimedOut, "write timed out"));
                    }
                    if !registered && now >= register_deadline {
                        self.error("timeout", "no name was registered in time");
                        self.say_bye("registration timed out");
                    }
                    if throttled.is_some_and(|until| now >= until) {
                        self.throttled_until = None;
                        self.process().await;
                    }
                    if now >= next_ping {
                        if last_heard.elapsed() >= self.config.ping_timeout {
                            self.set_leave_reason(LeaveReason::TimedOut);
                            return Err(io::Error::new(io::ErrorKind::TimedOut, "ping timeout"));
                        }
                        if last_heard.elapsed() >= self.config.ping_interval {
                            ping_token += 1;
                            self.send(&ServerFrame::Ping { token: ping_token });
                        }
                        next_ping = now + self.config.ping_interval;
                    }
                }
                readable = poll_fn(|cx| self.stream.poll_read_ready(cx)), if throttled.is_none() => {
                    readable?;
                    if self.read()? {
                        last_heard = Instant::now();
                        self.process().await;
                    }
                }
            }
        }
    }

    /// Reads what is available. Returns whether any bytes arrived; end of
    /// stream is an error.
    fn read(&mut self) -> io::Result<bool> {
        self.buf.reserve(READ_CHUNK);
        let result = match self.stream.try_read_buf(&mut self.buf) {
            Ok(0) => Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(_) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(false),
            Err(e) => Err(e),
        };
        if self.buf.is_empty() {
            // A wake-up with nothing to read (readiness can be stale): do
            // not keep the buffer just reserved for an idle peer.
            self.buf = BytesMut::new();
        }
        result
    }

    /// Handles buffered frames until the buffer is empty, the rate limit
    /// holds us back, or the connection is closing.
    async fn process(&mut self) {
        loop {
            if self.outbox.is_closed() {
                self.decoder.reset(&mut self.buf);
                break;
            }
            let (frame, waited) = match self.pending.take() {
                Some(frame) => (frame, true),
                None => match self.decoder.next_frame::<ClientFrame>(&mut self.buf) {
                    Ok(Some(frame)) => (frame, false),
                    Ok(None) => break,
                    Err(e @ DecodeError::TooLong { .. }) => {
                        self.error("frame_too_long", &e.to_string());
                        self.say_bye("frame too long");
                        continue;
                    }
                    Err(e) => {
                        self.bad_frame(&e);
                        continue;
                    }
                },
            };
            if !matches!(frame, ClientFrame::Pong { .. }) && !self.admit_by_rate(&frame, waited) {
                self.pending = Some(frame);
                return;
            }
            self.handle(frame).await;
        }
        if self.buf.is_empty() {
            // Give the allocation back while the peer is quiet.
            self.buf = BytesMut::new();
        }
    }

    /// Applies the rate limit to `frame` (`waited` if it was already held
    /// back once): true if it may be handled now.
    fn admit_by_rate(&mut self, frame: &ClientFrame, waited: bool) -> bool {
        let now = Instant::now();
        match self.bucket.take(now) {
            Ok(()) => {
                if !waited {
                    // A fresh frame found a token: the client is within its
                    // rate again.
                    self.throttled_since = None;
                }
                true
            }
            Err(when) => {
                let since = *self.throttled_since.get_or_insert(now);
                if now.duration_since(since) >= self.config.flood_kick_after {
                    tracing::info!(?frame, "disconnecting a flooding client");
                    self.set_leave_reason(LeaveReason::Kicked);
                    self.error("flood", "you are sending faster than the room allows");
                    self.say_bye("flooding");
                    return true;
                }
                self.throttled_until = Some(when);
                false
            }
        }
    }

    async fn handle(&mut self, frame: ClientFrame) {
        if self.outbox.is_closed() {
            return;
        }
        match (frame, &self.member) {
            (ClientFrame::Join { name }, None) => {
                // Boxed: it happens once per connection, and kept inline it
                // would make every connection's task bigger for its whole
                // life.
                let register = Box::pin(self.hub.register(name.clone(), self.outbox.clone()));
                match register.await {
                    Ok(Ok(member)) => self.member = Some(member),
                    Ok(Err(e)) => self.send(&ServerFrame::NameRejected {
                        name,
                        reason: e.to_string(),
                    }),
                    Err(_) => self.say_bye("server shutting down"),
                }
            }
            (ClientFrame::Join { .. }, Some(_)) => {
                self.error("already_joined", "you are already in the room");
            }
            (ClientFrame::Input { text }, Some(member)) => {
                if self.hub.input(member, text).await.is_err() {
                    self.say_bye("server shutting down");
                }
            }
            (ClientFrame::Input { .. }, None) => {
                self.error("not_joined", "choose a name first (a join frame)");
            }
            (ClientFrame::Ping { token }, _) => self.send(&ServerFrame::Pong { token }),
            (ClientFrame::Pong { .. }, _) => {}
            (ClientFrame::Unknown, _) => self.error("unknown_frame", "unknown frame type"),
        }
    }

    /// A frame we could not parse. Before registration it means the peer is
    /// not a lanchat client at all (an HTTP request, a TLS hello, noise), so
    /// it is closed at once; after, a few mistakes are tolerated.
    fn bad_frame(&mut self, e: &DecodeError) {
        self.error("bad_frame", &e.to_string());
        self.bad_frames += 1;
        if self.member.is_none() {
            self.say_bye("this is a lanchat server; that was not a lanchat frame");
        } else if self.bad_frames > MAX_BAD_FRAMES {
            self.set_leave_reason(LeaveReason::Kicked);
            self.say_bye("too many malformed frames");
        }
    }

    fn set_leave_reason(&mut self, reason: LeaveReason) {
        if let Some(member) = &mut self.member {
            member.set_reason(reason);
        }
    }

    /// Writes what the socket takes now, without waiting: what is left of
    /// the last batch, then everything queued since, as one batch. Returns
    /// whether the connection should end (outbox closed, all written).
    fn write(&mut self, batch: &mut Vec<Bytes>) -> io::Result<bool> {
        loop {
            if self.unsent.is_empty() {
                // Each batch gets its own deadline, so a slow reader that
                // keeps making progress is not cut off.
                self.write_deadline = None;
                let closed = self.outbox.drain_into(batch);
                if batch.is_empty() {
                    return Ok(closed);
                }
                // One copy and one system call beat a vectored write for
                // small frames (measured: writev of 64 slices of ~100 bytes
                // cost more server CPU per delivery).
                self.unsent = concat(batch);
                batch.clear();
                if batch.capacity() > SHRINK_ABOVE {
                    *batch = Vec::new();
                }
            }
            match self.stream.try_write(&self.unsent) {
                Ok(n) if n == self.unsent.len() => {
                    // Not advanced to empty: that would keep the buffer.
                    self.unsent = Bytes::new();
                }
                Ok(n) => self.unsent.advance(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.write_deadline
                        .get_or_insert_with(|| Instant::now() + self.config.write_timeout);
                    return Ok(false);
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn send(&self, frame: &ServerFrame) {
        // Our own replies are tiny; if even they overflow, the hub will
        // find the queue full on its next push and drop the client.
        let _ = self.outbox.push(encode(frame));
    }

    fn error(&self, code: &str, text: &str) {
        self.send(&ServerFrame::Error {
            code: code.into(),
            text: text.into(),
        });
    }

    /// Queues a goodbye and closes the outbox, so the connection ends once
    /// it is written.
    fn say_bye(&mut self, reason: &str) {
        self.send(&ServerFrame::Bye {
            reason: reason.into(),
        });
        self.outbox.close();
    }
}

/// Turns a connection away before any state exists for it: the greeting
/// (so the client knows it reached lanchat) and a goodbye with the reason,
/// written without waiting, then closed.
pub(crate) fn refuse(stream: TcpStream, greeting: &Bytes, reason: &str) {
    let bye = encode(&ServerFrame::Bye {
        reason: reason.into(),
    });
    let mut out = Vec::with_capacity(greeting.len() + bye.len());
    out.extend_from_slice(greeting);
    out.extend_from_slice(&bye);
    let _ = stream.try_write(&out);
}
