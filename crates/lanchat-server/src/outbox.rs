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

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

/// Queues and batches bigger than this many frames are freed once empty.
pub const SHRINK_ABOVE: usize = 4;

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
    /// The soft cap.
    max_bytes: usize,
    hard_bytes: usize,
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
                hard_bytes: max_bytes.saturating_mul(HARD_FACTOR),
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

    /// Queues `frame`. Pushing to a closed outbox silently does nothing.
    pub fn push(&self, frame: Bytes) -> Result<(), Overflow> {
        if let (Some(waker), _) = self.enqueue(frame)? {
            waker.wake();
        }
        Ok(())
    }

    /// Queues `frame` like [`Outbox::push`], but adds the connection's
    /// waker (if it needs waking) to `wake` for the caller to wake later:
    /// the hub wakes everyone once a whole step is queued, so each
    /// connection finds all of it in one batch. Returns whether the queue
    /// is now over its soft cap.
    pub fn push_deferred(&self, frame: Bytes, wake: &mut Vec<Waker>) -> Result<bool, Overflow> {
        let (waker, over) = self.enqueue(frame)?;
        wake.extend(waker);
        Ok(over)
    }

    /// Queues `frame`; returns the waker to wake, if any, and whether the
    /// queue is over its soft cap.
    fn enqueue(&self, frame: Bytes) -> Result<(Option<Waker>, bool), Overflow> {
        let mut state = self.lock();
        // Nothing to send (a format with nothing to say, such as IRC
        // without echo-message for the sender's own line) is never queued:
        // a write of nothing would read as a closed stream.
        if state.closed || frame.is_empty() {
            return Ok((None, false));
        }
        if state.bytes + frame.len() > self.shared.hard_bytes {
            return Err(Overflow);
        }
        state.bytes += frame.len();
        let was_empty = state.queue.is_empty();
        state.queue.push_back(frame);
        let over = state.bytes > self.shared.max_bytes;
        // The connection drains everything each time it wakes, so it only
        // needs waking when the queue goes from empty to not empty.
        Ok((if was_empty { state.waker.take() } else { None }, over))
    }

    /// Whether this queue should hold the hub back at `now`: over its soft
    /// cap, open, and drained by its connection within
    /// [`PROGRESS_WINDOW`] (a reader that stopped is not waited for).
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
    rest: VecDeque<Bytes>,
}

impl Frames {
    fn is_empty(&self) -> bool {
        self.first.is_none()
    }

    fn push_back(&mut self, frame: Bytes) {
        match self.first {
            None => self.first = Some(frame),
            Some(_) => self.rest.push_back(frame),
        }
    }

    /// Empties the queue and frees its memory.
    fn clear(&mut self) {
        *self = Frames::default();
    }

    fn drain_into(&mut self, batch: &mut Vec<Bytes>) {
        batch.extend(self.first.take());
        batch.extend(self.rest.drain(..));
        // A burst (everyone joining at once) can grow the queue; give the
        // memory back so an idle connection stays small.
        if self.rest.capacity() > SHRINK_ABOVE {
            self.rest = VecDeque::new();
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

    use super::{Outbox, Overflow, PROGRESS_WINDOW};

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
        wake.into_iter().for_each(Waker::wake);
        assert_eq!(wakes(&count), 1);
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
