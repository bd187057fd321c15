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
//! socket to become readable and only then allocates, which keeps an idle
//! connection cheap.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use lanchat_core::LeaveReason;
use lanchat_proto::{encode, ClientFrame, DecodeError, LineDecoder, ServerFrame};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::{sleep_until, Instant};
use tokio_util::sync::CancellationToken;

use crate::admission::Ticket;
use crate::config::Config;
use crate::hub::{HubHandle, Membership};
use crate::outbox::{Outbox, SHRINK_ABOVE};
use crate::rate::TokenBucket;

/// How many bytes to make room for before each read.
const READ_CHUNK: usize = 4096;

/// After this many malformed frames from a registered client, it is dropped.
const MAX_BAD_FRAMES: u32 = 10;

/// Serves one connection until it ends, for whatever reason.
pub(crate) async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    hub: HubHandle,
    config: Arc<Config>,
    greeting: Bytes,
    shutdown: CancellationToken,
    _ticket: Ticket,
) {
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
        config,
    };
    match conn.run(&shutdown).await {
        Ok(()) => tracing::debug!(%peer, "connection closed"),
        Err(error) => tracing::debug!(%peer, %error, "connection lost"),
    }
    // `conn.member` is dropped here, which tells the hub we left, and the
    // ticket, which frees our place for the next connection.
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
}

impl Connection {
    async fn run(&mut self, shutdown: &CancellationToken) -> io::Result<()> {
        let register_deadline = Instant::now() + self.config.register_timeout;
        let mut last_heard = Instant::now();
        let mut next_ping = last_heard + self.config.ping_interval;
        let mut ping_token = 0u64;
        let mut batch = Vec::new();
        loop {
            if self.flush(&mut batch).await? {
                let _ = self.stream.shutdown().await;
                return Ok(());
            }
            let registered = self.member.is_some();
            let throttled = self.throttled_until;
            tokio::select! {
                // Registered members are told of shutdown by the hub, which
                // closes their outbox after the notice.
                _ = shutdown.cancelled(), if !registered => {
                    self.say_bye("server shutting down");
                }
                _ = self.outbox.changed() => {}
                _ = sleep_until(register_deadline), if !registered => {
                    self.error("timeout", "no name was registered in time");
                    self.say_bye("registration timed out");
                }
                _ = sleep_until(next_ping) => {
                    if last_heard.elapsed() >= self.config.ping_timeout {
                        self.set_leave_reason(LeaveReason::TimedOut);
                        return Err(io::Error::new(io::ErrorKind::TimedOut, "ping timeout"));
                    }
                    if last_heard.elapsed() >= self.config.ping_interval {
                        ping_token += 1;
                        self.send(&ServerFrame::Ping { token: ping_token });
                    }
                    next_ping = Instant::now() + self.config.ping_interval;
                }
                _ = sleep_until(throttled.unwrap_or_else(Instant::now)), if throttled.is_some() => {
                    self.throttled_until = None;
                    self.process().await;
                }
                readable = self.stream.readable(), if throttled.is_none() => {
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
                match self.hub.register(name.clone(), self.outbox.clone()).await {
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

    /// Writes everything queued, as one batch. Returns whether the outbox
    /// is closed and empty, i.e. the connection should end.
    async fn flush(&mut self, batch: &mut Vec<Bytes>) -> io::Result<bool> {
        let closed = self.outbox.drain_into(batch);
        if !batch.is_empty() {
            let write = write_batch(&mut self.stream, batch);
            match tokio::time::timeout(self.config.write_timeout, write).await {
                Ok(result) => result?,
                Err(_) => {
                    self.set_leave_reason(LeaveReason::TooSlow);
                    return Err(io::Error::new(io::ErrorKind::TimedOut, "write timed out"));
                }
            }
            batch.clear();
            if batch.capacity() > SHRINK_ABOVE {
                *batch = Vec::new();
            }
        }
        Ok(closed)
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

/// Writes the frames as one buffer: for small frames, one copy and one
/// system call beat a vectored write (measured: writev of 64 slices of
/// ~100 bytes cost more server CPU per delivery).
async fn write_batch(stream: &mut TcpStream, batch: &[Bytes]) -> io::Result<()> {
    if let [one] = batch {
        return stream.write_all(one).await;
    }
    let len = batch.iter().map(Bytes::len).sum();
    let mut joined = BytesMut::with_capacity(len);
    for frame in batch {
        joined.extend_from_slice(frame);
    }
    stream.write_all(&joined).await
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
