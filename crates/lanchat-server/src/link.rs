//! One connection's IO, whatever its door: read, meter, write in batches,
//! keep the deadlines. What the bytes *mean* is the door's [`Dialect`].
//!
//! One task per connection reads frames, hands them to its dialect (which
//! turns them into typed commands for the hub), and writes whatever the
//! hub queued in its outbox, in batches. Every rule it obeys (deadlines,
//! rate limit, keepalive, bad frames) is the [`Session`]'s; this file is
//! the IO around it. It is generic over the stream, so TLS wraps the same
//! loop, and over the dialect, so every door gets the same rules.
//!
//! It does not hold a read buffer while the peer is idle: it reads into a
//! buffer on its stack and keeps only what it could not use yet. It waits
//! for whatever comes first (shutdown, timer, stream, outbox) through one
//! small `poll_fn`, and keeps one timer for all its deadlines, so an idle
//! connection's task stays small (640 bytes on plain TCP, tokio's own
//! header included) and a wake-up costs no timer re-arming.

use std::future::{poll_fn, Future};
use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{sleep_until, Instant, Sleep};
use tokio_util::sync::CancellationToken;
use tokio_util::sync::WaitForCancellationFutureOwned;

use crate::admission::Ticket;
use crate::door::{
    Admit, Command, Fault, Hub, HubGone, Label, Membership, Offered, Session, SessionLimits,
};
use crate::outbox::Outbox;
use crate::plain::Stream;

/// The most bytes read in one go.
const READ_CHUNK: usize = 4096;

/// What a frame leaves waiting on the hub (a join, a resume, a command to
/// a backed-up hub), boxed: a dialect handles the rest at once, so the
/// wait is not held inline in every connection's task for its whole life.
pub(crate) type Waiting<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// What a dialect found at the front of the read buffer.
pub(crate) enum Next<F> {
    /// One frame, to offer to the rate limit and then handle.
    Frame(F),
    /// A line that was dealt with already (a bad one, answered): look on.
    Skip,
    /// Nothing complete yet.
    More,
}

/// A door's language on one connection: how frames are cut from the read
/// buffer and handled, and how the link's own messages are said.
pub(crate) trait Dialect: Send {
    type Frame: Send;

    /// Cuts the next frame off `link.buf`. Errors are the dialect's to
    /// answer (and to count with [`Link::bad_frame`]).
    fn next_frame(&mut self, link: &mut Link) -> Next<Self::Frame>;

    /// Handles one admitted frame at once, and returns only what must
    /// still wait on the hub (see [`Waiting`]).
    fn handle<'a>(&'a mut self, link: &'a mut Link, frame: Self::Frame) -> Option<Waiting<'a>>;

    /// Forgets any partial frame (the connection is closing).
    fn discard(&mut self, buf: &mut BytesMut);

    /// A keepalive ping carrying `token`.
    fn ping(&self, token: u64) -> Bytes;

    /// An error the link found (`code` is lanchat's, `text` for people).
    fn error(&self, code: &str, text: &str) -> Bytes;

    /// The goodbye before the link closes.
    fn bye(&self, code: &str, reason: &str) -> Bytes;
}

/// The state of a connection a dialect may touch.
pub(crate) struct Link {
    pub outbox: Outbox,
    /// Set once a name is registered; dropping it leaves the room.
    pub member: Option<Membership>,
    pub session: Session,
    /// Bytes read but not yet cut into frames. Empty, with no allocation,
    /// while the peer is idle.
    pub buf: BytesMut,
}

impl Link {
    /// A new connection's state, its session starting now.
    pub fn new(outbox: Outbox, limits: Arc<SessionLimits>) -> Link {
        Link {
            outbox,
            member: None,
            session: Session::new(limits, Instant::now()),
            buf: BytesMut::new(),
        }
    }

    /// Hands the hub a command from this member: taken at once, or, when
    /// the hub is backed up, what waits for it to be (boxed). A hub that
    /// is gone ends the connection with a goodbye. Nothing happens before
    /// a name is registered: each door checks that first, and says so in
    /// its own words.
    pub fn command<'a, D: Dialect + Sync>(
        &'a mut self,
        dialect: &'a D,
        hub: &'a Hub,
        command: Command,
        label: Option<Label>,
    ) -> Option<Waiting<'a>> {
        let member = self.member.as_ref()?;
        let waiting = match hub.offer(member, command, label) {
            Offered::Taken(Ok(())) => return None,
            Offered::Taken(Err(HubGone)) => {
                self.say_bye(dialect, "shutdown", "server shutting down");
                return None;
            }
            Offered::Waiting(waiting) => waiting,
        };
        Some(Box::pin(async move {
            if waiting.await.is_err() {
                self.say_bye(dialect, "shutdown", "server shutting down");
            }
        }))
    }

    /// Queues bytes for the peer. Our own replies are tiny; if even they
    /// overflow, the hub will find the queue full on its next push and
    /// drop the client.
    pub fn push(&self, bytes: Bytes) {
        let _ = self.outbox.push(bytes);
    }

    /// Ends the connection for `fault`: says why if the peer can still be
    /// told, and sets the departure's reason. Returns true when the peer
    /// cannot be told, and the connection should end at once.
    pub fn fault(&mut self, dialect: &impl Dialect, fault: Fault) -> bool {
        if let Some(member) = &mut self.member {
            member.set_reason(fault.leave_reason());
        }
        if let Some((code, text)) = fault.error() {
            self.push(dialect.error(code, text));
        }
        match fault.bye() {
            Some((code, reason)) => {
                self.say_bye(dialect, code, reason);
                false
            }
            None => true,
        }
    }

    /// Counts a frame that could not be parsed (already answered), and
    /// closes the connection if that was one too many.
    pub fn bad_frame(&mut self, dialect: &impl Dialect) {
        if let Some(fault) = self.session.bad_frame() {
            self.fault(dialect, fault);
        }
    }

    /// Queues a goodbye and closes the outbox, so the connection ends once
    /// it is written.
    pub fn say_bye(&mut self, dialect: &impl Dialect, code: &str, reason: &str) {
        self.push(dialect.bye(code, reason));
        self.outbox.close();
    }
}

/// Serves one connection until it ends, for whatever reason.
///
/// Not an `async fn`: its arguments would be kept in the task next to the
/// connection they were moved into, for the connection's whole life.
pub(crate) fn serve<S, D>(
    stream: S,
    link: Link,
    dialect: D,
    shutdown: CancellationToken,
    ticket: Ticket,
) -> impl Future<Output = ()>
where
    S: Stream,
    D: Dialect + 'static,
{
    if let Some(socket) = stream.socket() {
        link.outbox.attach(socket);
    }
    let mut conn = Connection {
        stream,
        link,
        dialect,
        pending: None,
        unsent: Bytes::new(),
        flushing: false,
        closing: false,
        // Only a connection still choosing a name waits for the shutdown
        // itself (the hub tells its members). Boxed, and dropped once the
        // name is registered, so a member's task does not carry the wait.
        shutdown: Some(Box::pin(shutdown.cancelled_owned())),
    };
    if let Some((tokens, at)) = ticket.frame_budget(Instant::now()) {
        conn.link.session.resume_budget(tokens, at);
    }
    async move {
        let ended = conn.run().await;
        // The hub writes to this socket no more, and closes it now, not
        // when it gets round to our departure.
        conn.link.outbox.detach();
        match ended {
            // The address, not the whole peer: a copy of it in every
            // connection's task would be 32 bytes kept for one log line.
            Ok(()) => tracing::debug!(peer = %ticket.ip(), "connection closed"),
            Err(error) => tracing::debug!(peer = %ticket.ip(), %error, "connection lost"),
        }
        // What is left of the frame budget goes to the address's next
        // connection, so reconnecting does not buy a fresh burst.
        let now = Instant::now();
        let budget = conn.link.session.budget(now);
        // `conn.link.member` is dropped here, which tells the hub we left;
        // then the ticket goes, which frees our place for the next
        // connection.
        drop(conn);
        ticket.leave_frame_budget(budget, now);
    }
}

/// What woke the connection.
enum Woke {
    Shutdown,
    Timer,
    Io(io::Result<Io>),
    Outbox,
}

/// What handling a frame left to do.
enum Step<'a> {
    /// Await this, then handle the next frame.
    Wait(Waiting<'a>),
    /// Handle the next frame.
    Next,
    /// Nothing more to handle now.
    Done,
}

/// What the stream did.
enum Io {
    Wrote(usize),
    Flushed,
    Read(usize),
}

struct Connection<S, D: Dialect> {
    stream: S,
    link: Link,
    dialect: D,
    /// A frame decoded but held back by the rate limit (boxed: rare, and
    /// inline it would make every connection bigger by a whole frame).
    pending: Option<Box<D::Frame>>,
    /// Bytes taken from the outbox and not yet taken by the stream.
    unsent: Bytes,
    /// The stream took every byte but may hold some of them (TLS keeps
    /// records it could not send yet): it must be flushed before the
    /// batch counts as written.
    flushing: bool,
    /// The outbox was seen closed: no need to watch it any more.
    closing: bool,
    /// The server's shutdown, while no name is registered.
    shutdown: Option<Pin<Box<WaitForCancellationFutureOwned>>>,
}

impl<S: AsyncRead + AsyncWrite + Unpin, D: Dialect> Connection<S, D> {
    async fn run(&mut self) -> io::Result<()> {
        // One timer for every deadline, moved only when the earliest one
        // changes: re-arming a timer on each wake-up would cost every
        // delivery a trip through the timer wheel.
        let timer = sleep_until(self.link.session.deadline());
        tokio::pin!(timer);
        loop {
            if self.write()? {
                // The stream's end goes after the hub's last write.
                self.link.outbox.detach();
                let _ = poll_fn(|cx| Pin::new(&mut self.stream).poll_shutdown(cx)).await;
                return Ok(());
            }
            if self.link.session.is_registered() {
                self.shutdown = None;
            }
            {
                let deadline = self.link.session.deadline();
                if timer.deadline() != deadline {
                    timer.as_mut().reset(deadline);
                }
            }
            // One small future for whatever comes first (a `select!` would
            // keep one per branch in the task, the whole time it waits).
            let woke = poll_fn(|cx| self.poll_woke(cx, timer.as_mut())).await;
            // Decided before awaiting, so that nothing of the match is kept
            // in the task while frames are handled.
            if self.woke(woke)? {
                loop {
                    // Bound first, so that the task keeps only the wait.
                    let waiting = match self.process() {
                        Step::Wait(waiting) => waiting,
                        Step::Next => continue,
                        Step::Done => break,
                    };
                    waiting.await;
                }
            }
        }
    }

    /// Acts on what woke the connection; returns whether frames are to be
    /// handled (bytes were read, or the rate limit lets them through).
    fn woke(&mut self, woke: Woke) -> io::Result<bool> {
        match woke {
            Woke::Shutdown => {
                self.link
                    .say_bye(&self.dialect, "shutdown", "server shutting down");
            }
            Woke::Outbox => self.closing = self.link.outbox.is_closed(),
            Woke::Io(io) => match io? {
                Io::Wrote(n) => self.wrote(n)?,
                Io::Flushed => self.flushing = false,
                Io::Read(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Io::Read(n) => {
                    if let Some(fault) = self.link.session.read(Instant::now(), n) {
                        if self.link.fault(&self.dialect, fault) {
                            return Err(io::Error::other("flooding"));
                        }
                    }
                    return Ok(true);
                }
            },
            Woke::Timer => {
                let due = self.link.session.due(Instant::now());
                if let Some(fault) = due.close {
                    if self.link.fault(&self.dialect, fault) {
                        return Err(io::Error::new(io::ErrorKind::TimedOut, "stopped answering"));
                    }
                }
                if let Some(token) = due.ping {
                    self.link.push(self.dialect.ping(token));
                }
                return Ok(due.resume);
            }
        }
        Ok(false)
    }

    /// Waits for the first of: the shutdown (only while no name is
    /// registered: the hub tells its members), the timer, the stream (a
    /// write taken, a flush done, or bytes read, unless the rate limit
    /// holds reading back), the outbox (frames, unless a write is waiting
    /// for the stream, when they wait and batch up; or its closing).
    ///
    /// Polled in that order: the timer before the stream, so that a peer
    /// that never stops sending cannot keep its deadlines from being
    /// looked at; the outbox last, as every turn of the loop writes what
    /// it holds anyway.
    fn poll_woke(&mut self, cx: &mut Context<'_>, timer: Pin<&mut Sleep>) -> Poll<Woke> {
        if let Some(cancelled) = &mut self.shutdown {
            if cancelled.as_mut().poll(cx).is_ready() {
                self.shutdown = None;
                return Poll::Ready(Woke::Shutdown);
            }
        }
        if timer.poll(cx).is_ready() {
            return Poll::Ready(Woke::Timer);
        }
        let writing = !self.unsent.is_empty() || self.flushing;
        let reading = !self.link.session.is_throttled();
        if writing || reading {
            let (stream, link) = (&mut self.stream, &mut self.link);
            if let Poll::Ready(io) = poll_io(
                cx,
                stream,
                &self.unsent,
                self.flushing,
                &mut link.buf,
                reading,
            ) {
                return Poll::Ready(Woke::Io(io));
            }
        }
        if !self.closing && self.link.outbox.poll_ready(cx, !writing).is_ready() {
            return Poll::Ready(Woke::Outbox);
        }
        Poll::Pending
    }

    /// Handles the next buffered frame, unless the buffer is empty, the
    /// rate limit holds it back, or the connection is closing. What waits
    /// on the hub (a join, a command to a backed-up hub) is returned, for
    /// the caller to await before the next frame: a plain function and
    /// one boxed future keep the task smaller than an `async fn` would.
    fn process(&mut self) -> Step<'_> {
        if self.link.outbox.is_closed() {
            self.dialect.discard(&mut self.link.buf);
            return self.processed();
        }
        let (frame, waited) = match self.pending.take() {
            Some(frame) => (*frame, true),
            None => match self.dialect.next_frame(&mut self.link) {
                Next::Frame(frame) => (frame, false),
                Next::Skip => return Step::Next,
                Next::More => return self.processed(),
            },
        };
        match self.link.session.admit(Instant::now(), waited) {
            Admit::Now => {
                if self.link.outbox.is_closed() {
                    return Step::Next;
                }
                match self.dialect.handle(&mut self.link, frame) {
                    Some(waiting) => Step::Wait(waiting),
                    None => Step::Next,
                }
            }
            Admit::Later => {
                self.pending = Some(Box::new(frame));
                Step::Done
            }
            Admit::Close(fault) => {
                tracing::info!("disconnecting a flooding client");
                self.link.fault(&self.dialect, fault);
                Step::Next
            }
        }
    }

    /// Every buffered frame handled.
    fn processed(&mut self) -> Step<'static> {
        if self.link.buf.is_empty() {
            // Give the allocation back while the peer is quiet.
            self.link.buf = BytesMut::new();
        }
        Step::Done
    }

    /// Writes what the stream takes now, without waiting: what is left of
    /// the last batch, then everything queued since, as one batch. Returns
    /// whether the connection should end (outbox closed, all written).
    fn write(&mut self) -> io::Result<bool> {
        let mut cx = Context::from_waker(Waker::noop());
        loop {
            if self.unsent.is_empty() && self.flushing {
                match Pin::new(&mut self.stream).poll_flush(&mut cx) {
                    Poll::Ready(flushed) => {
                        flushed?;
                        self.flushing = false;
                    }
                    Poll::Pending => {
                        self.link.session.write_blocked(Instant::now());
                        return Ok(false);
                    }
                }
            }
            if self.unsent.is_empty() {
                self.link.session.write_done();
                // One copy and one system call beat a vectored write for
                // small frames (measured: writev of 64 slices of ~100 bytes
                // cost more server CPU per delivery).
                let (frames, closed) = self.link.outbox.take_batch();
                if frames.is_empty() {
                    return Ok(closed);
                }
                self.unsent = frames;
            }
            match Pin::new(&mut self.stream).poll_write(&mut cx, &self.unsent) {
                Poll::Ready(written) => self.wrote(written?)?,
                Poll::Pending => {
                    // Each batch gets its own deadline, so a slow reader
                    // that keeps making progress is not cut off.
                    self.link.session.write_blocked(Instant::now());
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
            self.flushing = true;
        } else {
            self.unsent.advance(n);
        }
        Ok(())
    }
}

/// Waits for the stream to take some of `unsent` (if any), to finish
/// sending what it took (if `flushing`), or to deliver bytes into `buf`
/// (if `reading`), whichever comes first.
fn poll_io<S: AsyncRead + AsyncWrite + Unpin>(
    cx: &mut Context<'_>,
    stream: &mut S,
    unsent: &Bytes,
    flushing: bool,
    buf: &mut BytesMut,
    reading: bool,
) -> Poll<io::Result<Io>> {
    if !unsent.is_empty() {
        if let Poll::Ready(written) = Pin::new(&mut *stream).poll_write(cx, unsent) {
            return Poll::Ready(written.map(Io::Wrote));
        }
    } else if flushing {
        if let Poll::Ready(flushed) = Pin::new(&mut *stream).poll_flush(cx) {
            return Poll::Ready(flushed.map(|()| Io::Flushed));
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
