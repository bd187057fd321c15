//! The lanchat door's connection: JSON lines over a byte stream (plain TCP
//! today, TLS next), from greeting to goodbye.
//!
//! One task per connection reads frames, turns them into typed commands for
//! the hub, and writes whatever the hub queued in its outbox, in batches.
//! Every rule it obeys (deadlines, rate limit, keepalive, bad frames) is
//! the [`Session`]'s; this file is only the IO around it and the lanchat
//! frames. It is generic over the stream, so TLS wraps the same loop.
//!
//! It does not hold a read buffer while the peer is idle: it reads into a
//! buffer on its stack and keeps only what it could not use yet. It waits
//! on its stream and its outbox through small `poll_fn`s, and keeps one
//! timer for all its deadlines, so an idle connection's task stays small
//! (about 1 kB) and a wake-up costs no timer re-arming.

use std::future::{poll_fn, Future};
use std::io;
use std::mem::MaybeUninit;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use bytes::{Buf, Bytes, BytesMut};
use lanchat_core::{typed, Command, Label};
use lanchat_proto::limits::MAX_LABEL_LEN;
use lanchat_proto::{ClientFrame, DecodeError, LineDecoder, ServerFrame};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{sleep_until, Instant};
use tokio_util::sync::CancellationToken;

use crate::admission::Ticket;
use crate::config::Config;
use crate::door::{Admit, Fault, Hub, JoinRequest, Membership, Session, SessionLimits};
use crate::json_format::JsonLines;
use crate::outbox::{concat, Outbox, SHRINK_ABOVE};

/// The most bytes read in one go.
const READ_CHUNK: usize = 4096;

/// The longest requested name quoted back in a refusal, in characters.
const MAX_NAME_SHOWN: usize = 64;

/// What every connection of the door shares.
pub(crate) struct Door {
    pub hub: Hub,
    pub config: Arc<Config>,
    /// Room events with `id` and `ts`, for clients with the `stamps`
    /// capability.
    pub format: Arc<JsonLines>,
    /// Room events without them, for the others (revision 1 clients).
    pub unstamped: Arc<JsonLines>,
    pub greeting: Bytes,
    pub shutdown: CancellationToken,
}

/// Serves one connection until it ends, for whatever reason.
///
/// Not an `async fn`: its arguments would be kept in the task next to the
/// [`Connection`] they were moved into, for the connection's whole life.
pub(crate) fn serve<S>(
    stream: S,
    peer: SocketAddr,
    door: Arc<Door>,
    mut ticket: Ticket,
) -> impl Future<Output = ()>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let outbox = Outbox::new(door.config.max_queue_bytes);
    let _ = outbox.push(door.greeting.clone());
    let now = Instant::now();
    let mut session = Session::new(SessionLimits::of(&door.config), now);
    if let Some((tokens, at)) = ticket.frame_budget() {
        session.resume_budget(tokens, at);
    }
    let mut conn = Connection {
        stream,
        outbox,
        member: None,
        decoder: LineDecoder::new(door.config.max_frame_len),
        buf: BytesMut::new(),
        session,
        pending: None,
        unsent: Bytes::new(),
        closing: false,
        door,
    };
    async move {
        match conn.run().await {
            Ok(()) => tracing::debug!(%peer, "connection closed"),
            Err(error) => tracing::debug!(%peer, %error, "connection lost"),
        }
        // What is left of the frame budget goes to the address's next
        // connection, so reconnecting does not buy a fresh burst.
        let now = Instant::now();
        ticket.leave_frame_budget(conn.session.budget(now), now);
        // `conn.member` is dropped here, which tells the hub we left, and
        // the ticket, which frees our place for the next connection.
        drop(conn);
        drop(ticket);
    }
}

/// What the stream did.
enum Io {
    Wrote(usize),
    Read(usize),
}

struct Connection<S> {
    stream: S,
    outbox: Outbox,
    door: Arc<Door>,
    /// Set once a name is registered; dropping it leaves the room.
    member: Option<Membership>,
    decoder: LineDecoder,
    /// Bytes read but not yet cut into frames. Empty, with no allocation,
    /// while the peer is idle.
    buf: BytesMut,
    session: Session,
    /// A frame decoded but held back by the rate limit.
    pending: Option<ClientFrame>,
    /// Bytes taken from the outbox and not yet taken by the stream.
    unsent: Bytes,
    /// The outbox was seen closed: no need to watch it any more.
    closing: bool,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Connection<S> {
    async fn run(&mut self) -> io::Result<()> {
        let mut batch = Vec::new();
        // One timer for every deadline, moved only when the earliest one
        // changes: re-arming a timer on each wake-up would cost every
        // delivery a trip through the timer wheel.
        let timer = sleep_until(self.session.deadline());
        tokio::pin!(timer);
        let shutdown = self.door.shutdown.clone();
        loop {
            if self.write(&mut batch)? {
                let _ = poll_fn(|cx| Pin::new(&mut self.stream).poll_shutdown(cx)).await;
                return Ok(());
            }
            let registered = self.session.is_registered();
            let throttled = self.session.is_throttled();
            let writing = !self.unsent.is_empty();
            let closing = self.closing;
            let deadline = self.session.deadline();
            if timer.deadline() != deadline {
                timer.as_mut().reset(deadline);
            }
            tokio::select! {
                // Registered members are told of shutdown by the hub, which
                // closes their outbox after the notice.
                _ = shutdown.cancelled(), if !registered => {
                    self.say_bye("shutdown", "server shutting down");
                }
                // While a write waits for the stream, new frames wait in
                // the outbox (and batch up); only closing matters.
                _ = poll_fn(|cx| self.outbox.poll_ready(cx, !writing)), if !closing => {
                    self.closing = self.outbox.is_closed();
                }
                io = poll_fn(|cx| poll_io(cx, &mut self.stream, &self.unsent, &mut self.buf, !throttled)), if writing || !throttled => match io? {
                    Io::Wrote(n) => self.wrote(n)?,
                    Io::Read(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                    Io::Read(n) => {
                        if let Some(fault) = self.session.read(Instant::now(), n) {
                            if self.fault(fault) {
                                return Err(io::Error::other("flooding"));
                            }
                        }
                        self.process().await;
                    }
                },
                _ = &mut timer => {
                    let due = self.session.due(Instant::now());
                    if let Some(fault) = due.close {
                        if self.fault(fault) {
                            return Err(io::Error::new(io::ErrorKind::TimedOut, "stopped answering"));
                        }
                    }
                    if let Some(token) = due.ping {
                        self.send(&ServerFrame::Ping { token });
                    }
                    if due.resume {
                        self.process().await;
                    }
                }
            }
        }
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
                        self.error("frame_too_long", &e.to_string(), None);
                        self.fault(Fault::FrameTooLong);
                        continue;
                    }
                    Err(e) => {
                        self.bad_frame(&e.to_string(), None);
                        continue;
                    }
                },
            };
            match self.session.admit(Instant::now(), waited) {
                Admit::Now => self.handle(frame).await,
                Admit::Later => {
                    self.pending = Some(frame);
                    return;
                }
                Admit::Close(fault) => {
                    tracing::info!("disconnecting a flooding client");
                    self.fault(fault);
                }
            }
        }
        if self.buf.is_empty() {
            // Give the allocation back while the peer is quiet.
            self.buf = BytesMut::new();
        }
    }

    async fn handle(&mut self, frame: ClientFrame) {
        if self.outbox.is_closed() {
            return;
        }
        let label = match frame.label() {
            Some(label) if label.len() > MAX_LABEL_LEN => {
                let text = format!("a label is at most {MAX_LABEL_LEN} bytes");
                return self.bad_frame(&text, None);
            }
            label => label.map(Label::from),
        };
        let command = match frame {
            ClientFrame::Join { name, caps, .. } => {
                let stamps = caps.iter().any(|c| c == "stamps");
                return self.join(name, stamps, label).await;
            }
            ClientFrame::Ping { token } => return self.send(&ServerFrame::Pong { token }),
            ClientFrame::Pong { token } => {
                if let Err(Some(fault)) = self.session.pong(token) {
                    self.fault(fault);
                }
                return;
            }
            ClientFrame::Unknown => {
                return self.error("unknown_frame", "unknown frame type", None);
            }
            ClientFrame::Input { text, .. } => match typed::parse(&text) {
                Ok(command) => command,
                Err(e) => return self.error(e.code(), &e.to_string(), label.as_deref()),
            },
            ClientFrame::Say { text, .. } => Command::Say { text },
            ClientFrame::Whisper { to, text, .. } => Command::Whisper { to, text },
            ClientFrame::List { .. } => Command::List,
        };
        let Some(member) = &self.member else {
            let text = "choose a name first (a join frame)";
            return self.error("not_joined", text, label.as_deref());
        };
        if self.door.hub.command(member, command, label).await.is_err() {
            self.say_bye("shutdown", "server shutting down");
        }
    }

    async fn join(&mut self, name: String, stamps: bool, label: Option<Label>) {
        if self.member.is_some() {
            let text = "you are already in the room";
            return self.error("already_joined", text, label.as_deref());
        }
        let request = JoinRequest {
            door: lanchat_core::room::DEFAULT_DOOR,
            room: lanchat_core::RoomId::MAIN,
            name: name.clone(),
            label: label.clone(),
            outbox: self.outbox.clone(),
            format: if stamps {
                self.door.format.clone()
            } else {
                self.door.unstamped.clone()
            },
        };
        // Boxed: it happens once per connection, and kept inline it would
        // make every connection's task bigger for its whole life.
        match Box::pin(self.door.hub.join(request)).await {
            Ok(Ok(member)) => {
                self.member = Some(member);
                self.session.registered();
            }
            Ok(Err(e)) => self.send(&ServerFrame::NameRejected {
                name: lanchat_core::text::excerpt(&name, MAX_NAME_SHOWN),
                code: e.code().into(),
                reason: e.to_string(),
                label: label.map(|l| l.to_string()),
            }),
            Err(_) => self.say_bye("shutdown", "server shutting down"),
        }
    }

    /// A frame we could not parse.
    fn bad_frame(&mut self, text: &str, label: Option<&str>) {
        self.error("bad_frame", &lanchat_core::text::excerpt(text, 200), label);
        if let Some(fault) = self.session.bad_frame() {
            self.fault(fault);
        }
    }

    /// Ends the connection for `fault`: says why if the peer can still be
    /// told, and sets the departure's reason. Returns true when the peer
    /// cannot be told, and the connection should end at once.
    fn fault(&mut self, fault: Fault) -> bool {
        if let Some(member) = &mut self.member {
            member.set_reason(fault.leave_reason());
        }
        if let Some((code, text)) = fault.error() {
            self.error(code, text, None);
        }
        match fault.bye() {
            Some((code, reason)) => {
                self.say_bye(code, reason);
                false
            }
            None => true,
        }
    }

    /// Writes what the stream takes now, without waiting: what is left of
    /// the last batch, then everything queued since, as one batch. Returns
    /// whether the connection should end (outbox closed, all written).
    fn write(&mut self, batch: &mut Vec<Bytes>) -> io::Result<bool> {
        let mut cx = Context::from_waker(Waker::noop());
        loop {
            if self.unsent.is_empty() {
                self.session.write_done();
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
            match Pin::new(&mut self.stream).poll_write(&mut cx, &self.unsent) {
                Poll::Ready(written) => self.wrote(written?)?,
                Poll::Pending => {
                    // Each batch gets its own deadline, so a slow reader
                    // that keeps making progress is not cut off.
                    self.session.write_blocked(Instant::now());
                    return Ok(false);
                }
            }
        }
    }

    /// Takes `n` written bytes off the unsent batch.
    fn wrote(&mut self, n: usize) -> io::Result<()> {
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        if n >= self.unsent.len() {
            // Not advanced to empty: that would keep the buffer.
            self.unsent = Bytes::new();
        } else {
            self.unsent.advance(n);
        }
        Ok(())
    }

    fn send(&self, frame: &ServerFrame) {
        let mut out = Vec::new();
        self.door.format.push(frame, &mut out);
        // Our own replies are tiny; if even they overflow, the hub will
        // find the queue full on its next push and drop the client.
        let _ = self.outbox.push(Bytes::from(out));
    }

    fn error(&self, code: &str, text: &str, label: Option<&str>) {
        self.send(&ServerFrame::Error {
            code: code.into(),
            text: text.into(),
            label: label.map(str::to_owned),
        });
    }

    /// Queues a goodbye and closes the outbox, so the connection ends once
    /// it is written.
    fn say_bye(&mut self, code: &str, reason: &str) {
        self.send(&ServerFrame::Bye {
            code: code.into(),
            reason: reason.into(),
        });
        self.outbox.close();
    }
}

/// Waits for the stream to take some of `unsent` (if any) or to deliver
/// bytes into `buf` (if `reading`), whichever comes first.
fn poll_io<S: AsyncRead + AsyncWrite + Unpin>(
    cx: &mut Context<'_>,
    stream: &mut S,
    unsent: &Bytes,
    buf: &mut BytesMut,
    reading: bool,
) -> Poll<io::Result<Io>> {
    if !unsent.is_empty() {
        if let Poll::Ready(written) = Pin::new(&mut *stream).poll_write(cx, unsent) {
            return Poll::Ready(written.map(Io::Wrote));
        }
    }
    if reading {
        if let Poll::Ready(read) = poll_read_into(stream, cx, buf) {
            return Poll::Ready(read.map(Io::Read));
        }
    }
    Poll::Pending
}

/// Reads what the stream has into `buf`, through a buffer on the stack so
/// that an idle connection keeps no read buffer of its own.
fn poll_read_into<S: AsyncRead + Unpin>(
    stream: &mut S,
    cx: &mut Context<'_>,
    buf: &mut BytesMut,
) -> Poll<io::Result<usize>> {
    let mut chunk = [MaybeUninit::<u8>::uninit(); READ_CHUNK];
    let mut read = ReadBuf::uninit(&mut chunk);
    match Pin::new(stream).poll_read(cx, &mut read) {
        Poll::Ready(Ok(())) => {
            buf.extend_from_slice(read.filled());
            Poll::Ready(Ok(read.filled().len()))
        }
        Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
        Poll::Pending => Poll::Pending,
    }
}

/// Turns a connection away before any state exists for it: the greeting
/// (so the client knows it reached lanchat) and a goodbye with the reason,
/// written without waiting, then closed.
pub(crate) fn refuse(stream: tokio::net::TcpStream, door: &Door, code: &str, reason: &str) {
    let mut out = door.greeting.to_vec();
    let bye = ServerFrame::Bye {
        code: code.into(),
        reason: reason.into(),
    };
    door.format.push(&bye, &mut out);
    let _ = stream.try_write(&out);
}
