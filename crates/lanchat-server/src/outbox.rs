//! A connection's outbound queue: encoded frames waiting to be written,
//! bounded in bytes.
//!
//! The hub pushes without awaiting; the connection's task drains everything
//! queued in one go and writes it as one batch. Two caps:
//!
//! - past the soft cap (`max_bytes`), a queue that its connection is still
//!   draining makes the hub hold back (it stops taking requests, so the
//!   senders' sockets fill and TCP slows them): a reader that keeps up,
//!   only more slowly than a burst arrives, is never dropped;
//! - past the hard cap ([`HARD_FACTOR`] times that) a push fails, and the
//!   hub drops that client: a reader that stopped reading cannot grow the
//!   server's memory, nor hold the room back (it is not draining, so it
//!   does not count as pressure).
//!
//! The connection's waker is kept under the queue's own lock, so checking
//! for frames and registering to be woken are one step, and a push wakes
//! the connection only when the queue goes from empty to not empty.
//!
//! On plain TCP the outbox also holds the connection's socket, and the hub
//! writes a step's frames to it itself when the connection's task holds
//! nothing unwritten ([`Flush::Write`]): the task is woken only for what
//! the socket did not take. Both writers take the queue under its lock,
//! and the task's batch in hand (`busy`) keeps the hub off the socket, so
//! bytes go out in the order they were queued.

use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use tokio::net::TcpStream;

/// Queues and batches bigger than this many frames are freed once empty.
pub const SHRINK_ABOVE: usize = 4;

/// The most bytes the hub writes to a connection's socket itself; more is
/// left to the connection's task. A small write costs little more than
/// the system call, which a wake-up would double; a big one is mostly
/// copying, which the connections' tasks share out over the worker
/// threads, where the hub, writing everyone's, would do it all on one.
pub const WRITE_THROUGH_MAX: usize = 2048;

/// The hard cap, as a multiple of the soft cap.
pub const HARD_FACTOR: usize = 4;

/// A queue over its soft cap counts as pressure only if its connection
/// drained it this recently: it is reading, and worth waiting for.
pub const PROGRESS_WINDOW: Duration = Duration::from_millis(250);

/// A handle to one connection's queue; clones share it.
#[derive(Debug, Clone)]
pub struct Outbox {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    /// The soft cap (the hard cap is worked out from it: one field less
    /// in every connection's outbox).
    max_bytes: usize,
}

impl Shared {
    fn hard_bytes(&self) -> usize {
        self.max_bytes.saturating_mul(HARD_FACTOR)
    }
}

#[derive(Debug, Default)]
struct State {
    queue: Frames,
    bytes: usize,
    /// No more pushes are accepted; the connection closes once drained.
    closed: bool,
    /// The connection's task, waiting for frames.
    waker: Option<Waker>,
    /// When the connection last took what was queued.
    drained: Option<Instant>,
    /// The connection's socket, if the hub may write to it (plain TCP).
    socket: Option<Arc<TcpStream>>,
    /// The connection's task holds a batch it took and has not finished
    /// writing: nobody else may write to the socket meanwhile.
    busy: bool,
}

/// A connection with new frames, to be seen to once the hub's step is
/// queued, so that it finds the whole step at once.
#[derive(Debug)]
pub enum Flush {
    /// Wake its task, which writes them.
    Wake(Waker),
    /// Its task is waiting with nothing in hand, on a socket the hub may
    /// write to: write them now, and wake the task only for what the
    /// socket does not take.
    Write(Outbox),
}

impl Flush {
    /// Sees to everything in `flush`, writing to at most `writes` sockets
    /// itself; the other connections are woken to write for themselves.
    /// Wake-ups go first, so that woken tasks write on the other worker
    /// threads while the caller writes its share: in a big room, one
    /// thread making every write would be slower than the wake-ups.
    pub fn run_all(flush: &mut Vec<Flush>, writes: usize) {
        let mut budget = writes;
        for flush in flush.iter() {
            match flush {
                Flush::Wake(waker) => waker.wake_by_ref(),
                Flush::Write(_) if budget > 0 => budget -= 1,
                Flush::Write(outbox) => outbox.wake_task(),
            }
        }
        let mut budget = writes;
        for flush in flush.drain(..) {
            if let Flush::Write(outbox) = flush {
                if budget == 0 {
                    break;
                }
                budget -= 1;
                outbox.write_through();
            }
        }
    }
}

/// What a connection needs after a push.
enum Need {
    Nothing,
    Wake(Waker),
    /// A write by whoever pushed (see [`Flush::Write`]).
    Write,
}

/// The queue is full: the client is not keeping up.
#[derive(Debug, PartialEq, Eq)]
pub struct Overflow;

impl Outbox {
    pub fn new(max_bytes: usize) -> Self {
        Outbox {
            shared: Arc::new(Shared {
                state: Mutex::new(State::default()),
                max_bytes,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the queue half
        // updated (each method makes one consistent change), so a poisoned
        // lock is safe to keep using.
        self.shared
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Lets the hub write to `socket` itself (see [`Flush::Write`]).
    pub(crate) fn attach(&self, socket: Arc<TcpStream>) {
        self.lock().socket = Some(socket);
    }

    /// Takes the socket back: once this returns, the hub is not writing to
    /// it and never will again.
    pub(crate) fn detach(&self) {
        let socket = self.lock().socket.take();
        drop(socket);
    }

    /// Queues `frame` and wakes the connection if it needs it (its own
    /// replies: the task writes them). Pushing to a closed outbox silently
    /// does nothing.
    pub fn push(&self, frame: Bytes) -> Result<(), Overflow> {
        if let (Need::Wake(waker), _) = self.enqueue(frame, false)? {
            waker.wake();
        }
        Ok(())
    }

    /// Queues `frame` like [`Outbox::push`], but adds what the connection
    /// then needs (a wake-up or a write) to `flush`, for the caller to run
    /// later: the hub does so once a whole step is queued, so each
    /// connection gets all of it at once. Returns whether the queue is now
    /// over its soft cap.
    pub fn push_deferred(&self, frame: Bytes, flush: &mut Vec<Flush>) -> Result<bool, Overflow> {
        let (need, over) = self.enqueue(frame, true)?;
        match need {
            Need::Nothing => {}
            Need::Wake(waker) => flush.push(Flush::Wake(waker)),
            Need::Write => flush.push(Flush::Write(self.clone())),
        }
        Ok(over)
    }

    /// Queues `frame`; returns what the connection needs (a write only if
    /// the caller can do it, `write_through`) and whether the queue is
    /// over its soft cap.
    fn enqueue(&self, frame: Bytes, write_through: bool) -> Result<(Need, bool), Overflow> {
        let mut state = self.lock();
        // Nothing to send (a format with nothing to say, such as IRC
        // without echo-message for the sender's own line) is never queued:
        // a write of nothing would read as a closed stream.
        if state.closed || frame.is_empty() {
            return Ok((Need::Nothing, false));
        }
        if state.bytes + frame.len() > self.shared.hard_bytes() {
            return Err(Overflow);
        }
        state.bytes += frame.len();
        let was_empty = state.queue.is_empty();
        state.queue.push_back(frame);
        let over = state.bytes > self.shared.max_bytes;
        // The connection drains everything each time it wakes (and the
        // hub writes everything queued), so it only needs seeing to when
        // the queue goes from empty to not empty.
        let need = if !was_empty {
            Need::Nothing
        } else if write_through && state.socket.is_some() && !state.busy && state.waker.is_some() {
            Need::Write
        } else {
            state.waker.take().map_or(Need::Nothing, Need::Wake)
        };
        Ok((need, over))
    }

    /// Wakes the connection's task, if it waits.
    fn wake_task(&self) {
        let waker = self.lock().waker.take();
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Writes what is queued to the socket, unless the connection's task
    /// took it meanwhile or holds a batch of its own; wakes the task for
    /// whatever the socket does not take now (it never waits here).
    fn write_through(&self) {
        let mut guard = self.lock();
        let state = &mut *guard;
        let Some(socket) = &state.socket else {
            return;
        };
        if state.busy || state.queue.is_empty() {
            return;
        }
        if state.bytes > WRITE_THROUGH_MAX {
            drop(guard);
            return self.wake_task();
        }
        let frames = std::mem::take(&mut state.queue).into_bytes();
        // Any failure is the task's to find on its own write, and to end
        // the connection for: what was not written stays queued for it.
        let written = socket.try_write(&frames).unwrap_or(0);
        if written >= frames.len() {
            state.bytes = 0;
            return;
        }
        state.queue.push_back(frames.slice(written..));
        state.bytes = frames.len() - written;
        drop(guard);
        self.wake_task();
    }

    /// Whether this queue should hold the hub back at `now`: over its soft
    /// cap, open, and drained by its connection within
    /// `PROGRESS_WINDOW` (a reader that stopped is not waited for).
    pub fn presses(&self, now: Instant) -> bool {
        let state = self.lock();
        !state.closed
            && state.bytes > self.shared.max_bytes
            && state
                .drained
                .is_some_and(|at| now.saturating_duration_since(at) < PROGRESS_WINDOW)
    }

    /// Whether the queue is still over its soft cap (and open).
    pub fn is_over_soft(&self) -> bool {
        let state = self.lock();
        !state.closed && state.bytes > self.shared.max_bytes
    }

    /// Accepts no more frames; what is queued is still written.
    pub fn close(&self) {
        self.shut(false);
    }

    /// Closes and throws away what is queued (the client is being dropped
    /// for not reading it).
    pub fn abort(&self) {
        self.shut(true);
    }

    fn shut(&self, discard: bool) {
        let mut state = self.lock();
        state.closed = true;
        if discard {
            state.queue.clear();
            state.bytes = 0;
        }
        let waker = state.waker.take();
        drop(state);
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Moves everything queued into `batch`; returns whether the outbox is
    /// closed.
    pub fn drain_into(&self, batch: &mut Vec<Bytes>) -> bool {
        let mut state = self.lock();
        if !state.queue.is_empty() {
            state.drained = Some(Instant::now());
        }
        state.queue.drain_into(batch);
        state.bytes = 0;
        state.closed
    }

    /// Takes everything queued as one buffer (a lone frame shared, several
    /// joined), and whether the outbox is closed. The queue's memory goes
    /// with what it held, so an idle connection keeps none; a lone frame
    /// never needed any (see `Frames`).
    pub fn take_batch(&self) -> (Bytes, bool) {
        let (frames, closed) = {
            let mut state = self.lock();
            if !state.queue.is_empty() {
                state.drained = Some(Instant::now());
            }
            state.bytes = 0;
            // Until it takes an empty batch, the task has bytes in hand:
            // the hub must not write past them.
            state.busy = !state.queue.is_empty();
            (std::mem::take(&mut state.queue), state.closed)
        };
        // Joined outside the lock: the hub may be pushing meanwhile.
        (frames.into_bytes(), closed)
    }

    /// Whether the outbox accepts no more frames.
    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }

    /// Ready when the outbox is closed or, if `want_frames`, holds frames;
    /// otherwise the task is woken when that changes.
    pub fn poll_ready(&self, cx: &mut Context<'_>, want_frames: bool) -> Poll<()> {
        let mut state = self.lock();
        if state.closed || (want_frames && !state.queue.is_empty()) {
            return Poll::Ready(());
        }
        match &mut state.waker {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            slot => *slot = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    /// Waits until the outbox holds frames or is closed (the connection
    /// polls [`Outbox::poll_ready`] inside its own `select!` instead).
    #[cfg(test)]
    pub async fn ready(&self) {
        std::future::poll_fn(|cx| self.poll_ready(cx, true)).await;
    }
}

/// Frames in order: the first inline, the rest on the heap. At a
/// conversation's pace a connection is woken for one frame at a time, and
/// that frame is queued and taken without allocating; an idle connection
/// holds no heap for its queue. (Invariant: `rest` is empty while `first`
/// is.)
#[derive(Debug, Default)]
struct Frames {
    first: Option<Bytes>,
    /// A `Vec`: frames are only ever added at the end and taken all at
    /// once, and it is 8 bytes smaller than a `VecDeque`.
    rest: Vec<Bytes>,
}

impl Frames {
    fn is_empty(&self) -> bool {
        self.first.is_none()
    }

    fn push_back(&mut self, frame: Bytes) {
        match self.first {
            None => self.first = Some(frame),
            Some(_) => self.rest.push(frame),
        }
    }

    /// Empties the queue and frees its memory.
    fn clear(&mut self) {
        *self = Frames::default();
    }

    fn drain_into(&mut self, batch: &mut Vec<Bytes>) {
        batch.extend(self.first.take());
        batch.append(&mut self.rest);
        // A burst (everyone joining at once) can grow the queue; give the
        // memory back so an idle connection stays small.
        if self.rest.capacity() > SHRINK_ABOVE {
            self.rest = Vec::new();
        }
    }

    /// The frames as one buffer; a single frame is shared, not copied.
    fn into_bytes(self) -> Bytes {
        match self.first {
            None => Bytes::new(),
            Some(first) if self.rest.is_empty() => first,
            Some(first) => {
                let len = first.len() + self.rest.iter().map(Bytes::len).sum::<usize>();
                let mut out = BytesMut::with_capacity(len);
                out.extend_from_slice(&first);
                for frame in &self.rest {
                    out.extend_from_slice(frame);
                }
                out.freeze()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::{Context, Poll, Wake, Waker};

    use bytes::Bytes;

    use std::time::Instant;

    use super::{Flush, Outbox, Overflow, PROGRESS_WINDOW, WRITE_THROUGH_MAX};

    /// A waker that counts its wakes.
    #[derive(Default)]
    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn counting() -> (Arc<Count>, Waker) {
        let count = Arc::new(Count::default());
        (count.clone(), Waker::from(count))
    }

    fn wakes(count: &Count) -> usize {
        count.0.load(Ordering::SeqCst)
    }

    fn drained(outbox: &Outbox) -> (Vec<Bytes>, bool) {
        let mut batch = Vec::new();
        let closed = outbox.drain_into(&mut batch);
        (batch, closed)
    }

    #[test]
    fn frames_come_out_in_order_and_the_caps_count_bytes_still_queued() {
        // A soft cap of 10 bytes: a hard cap of 40.
        let outbox = Outbox::new(10);
        let mut wake = Vec::new();
        assert_eq!(
            outbox.push_deferred(Bytes::from_static(b"abcd"), &mut wake),
            Ok(false)
        );
        assert_eq!(
            outbox.push_deferred(Bytes::from_static(b"efghij"), &mut wake),
            Ok(false)
        );
        // 10 queued: over the soft cap from here, which is only pressure.
        assert_eq!(
            outbox.push_deferred(Bytes::from_static(b"k"), &mut wake),
            Ok(true)
        );
        assert!(outbox.is_over_soft());
        outbox.push(Bytes::from(vec![b'x'; 29])).unwrap();
        // 40 queued: at the hard cap; one more byte does not fit, and the
        // refusal changes nothing.
        assert_eq!(outbox.push(Bytes::from_static(b"y")), Err(Overflow));
        let (batch, closed) = drained(&outbox);
        assert_eq!(batch.len(), 4);
        assert_eq!(batch[0], &b"abcd"[..]);
        assert!(!closed);
        // Draining frees the budget.
        assert!(!outbox.is_over_soft());
        outbox.push(Bytes::from(vec![b'z'; 40])).unwrap();
        assert_eq!(drained(&outbox).0.len(), 1);
    }

    #[test]
    fn only_a_queue_that_is_being_drained_presses() {
        let outbox = Outbox::new(10);
        let now = Instant::now();
        outbox.push(Bytes::from(vec![b'x'; 20])).unwrap();
        // Over the soft cap, but its connection never drained it: a reader
        // that stopped is not waited for.
        assert!(!outbox.presses(now));
        let _ = drained(&outbox);
        outbox.push(Bytes::from(vec![b'x'; 20])).unwrap();
        assert!(outbox.presses(Instant::now()));
        assert!(!outbox.presses(Instant::now() + PROGRESS_WINDOW * 2));
        outbox.close();
        assert!(!outbox.presses(Instant::now()));
    }

    #[test]
    fn a_push_wakes_the_connection_only_when_the_queue_was_empty() {
        let outbox = Outbox::new(100);
        let (count, waker) = counting();
        let mut cx = Context::from_waker(&waker);
        assert_eq!(outbox.poll_ready(&mut cx, true), Poll::Pending);
        outbox.push(Bytes::from_static(b"a")).unwrap();
        outbox.push(Bytes::from_static(b"b")).unwrap();
        assert_eq!(wakes(&count), 1);
        assert_eq!(outbox.poll_ready(&mut cx, true), Poll::Ready(()));
        assert_eq!(drained(&outbox).0.len(), 2);
        // Registered again after draining: the next push wakes once more.
        assert_eq!(outbox.poll_ready(&mut cx, true), Poll::Pending);
        outbox.push(Bytes::from_static(b"c")).unwrap();
        assert_eq!(wakes(&count), 2);
    }

    #[test]
    fn a_batch_is_taken_whole_and_leaves_nothing_behind() {
        let outbox = Outbox::new(100);
        let one = Bytes::from_static(b"one\n");
        outbox.push(one.clone()).unwrap();
        // A lone frame is shared, not copied.
        let (batch, closed) = outbox.take_batch();
        assert_eq!(batch.as_ptr(), one.as_ptr());
        assert!(!closed);
        outbox.push(Bytes::from_static(b"two\n")).unwrap();
        outbox.push(Bytes::from_static(b"three\n")).unwrap();
        assert_eq!(
            outbox.take_batch(),
            (Bytes::from_static(b"two\nthree\n"), false)
        );
        // Nothing is left, and the caps count from zero again.
        assert_eq!(outbox.take_batch(), (Bytes::new(), false));
        assert!(!outbox.is_over_soft());
        outbox.push(Bytes::from_static(b"bye\n")).unwrap();
        outbox.close();
        assert_eq!(outbox.take_batch(), (Bytes::from_static(b"bye\n"), true));
        assert_eq!(outbox.take_batch(), (Bytes::new(), true));
    }

    #[test]
    fn deferred_pushes_hand_the_waker_to_the_caller() {
        let outbox = Outbox::new(100);
        let (count, waker) = counting();
        let mut cx = Context::from_waker(&waker);
        assert_eq!(outbox.poll_ready(&mut cx, true), Poll::Pending);
        let mut wake = Vec::new();
        outbox
            .push_deferred(Bytes::from_static(b"a"), &mut wake)
            .unwrap();
        outbox
            .push_deferred(Bytes::from_static(b"b"), &mut wake)
            .unwrap();
        assert_eq!(wakes(&count), 0, "nobody woken before the step ends");
        assert_eq!(wake.len(), 1);
        run(wake);
        assert_eq!(wakes(&count), 1);
    }

    /// An outbox sharing one end of a connected pair of loopback sockets,
    /// as a plain connection's does; the socket, and the peer's end.
    async fn plain_outbox() -> (Outbox, Arc<tokio::net::TcpStream>, tokio::net::TcpStream) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let peer = tokio::net::TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (ours, _) = listener.accept().await.unwrap();
        // Writable once the reactor has seen it so.
        ours.writable().await.unwrap();
        let socket = Arc::new(ours);
        let outbox = Outbox::new(1 << 20);
        outbox.attach(socket.clone());
        (outbox, socket, peer)
    }

    /// The connection's task, waiting for frames: its wake count.
    fn task_waits(outbox: &Outbox) -> Arc<Count> {
        let (count, waker) = counting();
        let mut cx = Context::from_waker(&waker);
        assert_eq!(outbox.poll_ready(&mut cx, true), Poll::Pending);
        count
    }

    /// Pushes `frames` as a step of the hub's; what it leaves to do.
    fn step(outbox: &Outbox, frames: &[Bytes]) -> Vec<Flush> {
        let mut flush = Vec::new();
        for frame in frames {
            outbox.push_deferred(frame.clone(), &mut flush).unwrap();
        }
        flush
    }

    /// Sees to everything a step left, the hub's writes unlimited.
    fn run(mut flush: Vec<Flush>) {
        Flush::run_all(&mut flush, usize::MAX);
    }

    /// Reads exactly `n` bytes from the peer's side.
    async fn read_exactly(peer: &mut tokio::net::TcpStream, n: usize) -> Vec<u8> {
        use tokio::io::AsyncReadExt;
        let mut got = vec![0; n];
        peer.read_exact(&mut got).await.unwrap();
        got
    }

    #[tokio::test]
    async fn the_hub_writes_to_a_waiting_connection_itself_and_does_not_wake_it() {
        let (outbox, _socket, mut peer) = plain_outbox().await;
        let count = task_waits(&outbox);
        let flush = step(&outbox, &[Bytes::from("one\n"), Bytes::from("two\n")]);
        assert!(matches!(flush.as_slice(), [Flush::Write(_)]));
        run(flush);
        assert_eq!(read_exactly(&mut peer, 8).await, b"one\ntwo\n");
        // Nothing left for the task, which was not woken.
        assert_eq!(wakes(&count), 0);
        assert_eq!(outbox.take_batch(), (Bytes::new(), false));
    }

    #[tokio::test]
    async fn a_task_with_a_batch_in_hand_keeps_the_hub_off_its_socket() {
        let (outbox, socket, mut peer) = plain_outbox().await;
        outbox.push(Bytes::from("first\n")).unwrap();
        // The task takes a batch and has not written it yet.
        let (batch, _) = outbox.take_batch();
        let count = task_waits(&outbox);
        let flush = step(&outbox, &[Bytes::from("second\n")]);
        // The task is woken to write it after its own batch.
        assert!(matches!(flush.as_slice(), [Flush::Wake(_)]));
        run(flush);
        assert_eq!(wakes(&count), 1);
        socket.try_write(&batch).unwrap();
        let (rest, _) = outbox.take_batch();
        socket.try_write(&rest).unwrap();
        assert_eq!(read_exactly(&mut peer, 13).await, b"first\nsecond\n");
        // Its batch written and none taken, the task is idle again: the
        // hub may write for it.
        assert_eq!(outbox.take_batch(), (Bytes::new(), false));
        let _count = task_waits(&outbox);
        let flush = step(&outbox, &[Bytes::from("third\n")]);
        assert!(matches!(flush.as_slice(), [Flush::Write(_)]));
    }

    #[tokio::test]
    async fn what_the_socket_does_not_take_is_left_to_the_task_in_order() {
        let (outbox, socket, mut peer) = plain_outbox().await;
        // The peer reads nothing until the socket takes no more.
        let mut filled = 0;
        while let Ok(n) = socket.try_write(&[7; 4096]) {
            filled += n;
        }
        let count = task_waits(&outbox);
        run(step(&outbox, &[Bytes::from("late\n")]));
        assert_eq!(wakes(&count), 1, "the task is woken for the rest");
        assert_eq!(outbox.take_batch(), (Bytes::from("late\n"), false));
        assert_eq!(read_exactly(&mut peer, filled).await, vec![7; filled]);
    }

    #[tokio::test]
    async fn a_big_step_is_left_to_the_task() {
        let (outbox, _socket, _peer) = plain_outbox().await;
        let count = task_waits(&outbox);
        let big = Bytes::from(vec![b'x'; WRITE_THROUGH_MAX + 1]);
        run(step(&outbox, std::slice::from_ref(&big)));
        // Copying it is work the task can do on another thread.
        assert_eq!(wakes(&count), 1);
        assert_eq!(outbox.take_batch(), (big, false));
    }

    #[tokio::test]
    async fn past_its_budget_the_hub_wakes_connections_instead_of_writing() {
        let mut pairs = Vec::new();
        let mut flush = Vec::new();
        for _ in 0..3 {
            let (outbox, _socket, peer) = plain_outbox().await;
            let count = task_waits(&outbox);
            flush.extend(step(&outbox, &[Bytes::from("hi\n")]));
            pairs.push((outbox, count, peer));
        }
        Flush::run_all(&mut flush, 2);
        assert!(flush.is_empty());
        for (i, (outbox, count, peer)) in pairs.iter_mut().enumerate() {
            if i < 2 {
                assert_eq!(wakes(count), 0, "connection {i} was written to");
                assert_eq!(read_exactly(peer, 3).await, b"hi\n");
            } else {
                assert_eq!(wakes(count), 1, "connection {i} was woken");
                assert_eq!(outbox.take_batch(), (Bytes::from("hi\n"), false));
            }
        }
    }

    #[tokio::test]
    async fn a_detached_socket_is_never_written_to() {
        let (outbox, socket, _peer) = plain_outbox().await;
        outbox.detach();
        assert_eq!(Arc::strong_count(&socket), 1);
        let _count = task_waits(&outbox);
        let flush = step(&outbox, &[Bytes::from("a\n")]);
        assert!(matches!(flush.as_slice(), [Flush::Wake(_)]));
    }

    #[test]
    fn close_keeps_what_is_queued_and_abort_throws_it_away() {
        let outbox = Outbox::new(100);
        outbox.push(Bytes::from_static(b"last words")).unwrap();
        outbox.close();
        // After close, pushes are ignored, not errors: the hub may still be
        // fanning out a step when the connection goes.
        outbox.push(Bytes::from_static(b"late")).unwrap();
        assert!(outbox.is_closed());
        assert_eq!(
            drained(&outbox),
            (vec![Bytes::from_static(b"last words")], true)
        );

        let outbox = Outbox::new(100);
        outbox.push(Bytes::from_static(b"unread")).unwrap();
        outbox.abort();
        assert_eq!(drained(&outbox), (Vec::new(), true));
    }

    #[test]
    fn closing_wakes_a_connection_that_waits_for_nothing_but_the_end() {
        let outbox = Outbox::new(100);
        let (count, waker) = counting();
        let mut cx = Context::from_waker(&waker);
        // Not wanting frames (e.g. while a write is stuck), only the end.
        assert_eq!(outbox.poll_ready(&mut cx, false), Poll::Pending);
        outbox.push(Bytes::from_static(b"a")).unwrap();
        assert_eq!(outbox.poll_ready(&mut cx, false), Poll::Pending);
        outbox.close();
        assert!(wakes(&count) >= 1);
        assert_eq!(outbox.poll_ready(&mut cx, false), Poll::Ready(()));
    }
}
