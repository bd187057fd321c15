//! A connection's outbound queue: encoded frames waiting to be written,
//! bounded in bytes.
//!
//! The hub pushes without awaiting; the connection's task drains everything
//! queued in one go and writes it as one batch. A push that would pass the
//! byte cap fails, and the hub then drops that client, which is how a client
//! that stops reading is kept from growing the server's memory.
//!
//! The connection's waker is kept under the queue's own lock, so checking
//! for frames and registering to be woken are one step, and a push wakes
//! the connection only when the queue goes from empty to not empty.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use bytes::{Bytes, BytesMut};

/// Queues and batches bigger than this many frames are freed once empty.
pub const SHRINK_ABOVE: usize = 4;

/// A handle to one connection's queue; clones share it.
#[derive(Debug, Clone)]
pub struct Outbox {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    max_bytes: usize,
}

#[derive(Debug, Default)]
struct State {
    queue: VecDeque<Bytes>,
    bytes: usize,
    /// No more pushes are accepted; the connection closes once drained.
    closed: bool,
    /// The connection's task, waiting for frames.
    waker: Option<Waker>,
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

    /// Queues `frame`. Pushing to a closed outbox silently does nothing.
    pub fn push(&self, frame: Bytes) -> Result<(), Overflow> {
        if let Some(waker) = self.enqueue(frame)? {
            waker.wake();
        }
        Ok(())
    }

    /// Queues `frame` like [`Outbox::push`], but adds the connection's
    /// waker (if it needs waking) to `wake` for the caller to wake later:
    /// the hub wakes everyone once a whole step is queued, so each
    /// connection finds all of it in one batch.
    pub fn push_deferred(&self, frame: Bytes, wake: &mut Vec<Waker>) -> Result<(), Overflow> {
        wake.extend(self.enqueue(frame)?);
        Ok(())
    }

    /// Queues `frame`; returns the waker to wake, if any.
    fn enqueue(&self, frame: Bytes) -> Result<Option<Waker>, Overflow> {
        let mut state = self.lock();
        if state.closed {
            return Ok(None);
        }
        if state.bytes + frame.len() > self.shared.max_bytes {
            return Err(Overflow);
        }
        state.bytes += frame.len();
        let was_empty = state.queue.is_empty();
        state.queue.push_back(frame);
        // The connection drains everything each time it wakes, so it only
        // needs waking when the queue goes from empty to not empty.
        Ok(if was_empty { state.waker.take() } else { None })
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
        batch.extend(state.queue.drain(..));
        state.bytes = 0;
        // A burst (everyone joining at once) can grow the queue; give the
        // memory back so an idle connection stays small.
        if state.queue.capacity() > SHRINK_ABOVE {
            state.queue = VecDeque::new();
        }
        state.closed
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

/// The frames as one buffer; a single frame is shared, not copied.
pub fn concat(frames: &[Bytes]) -> Bytes {
    if let [one] = frames {
        return one.clone();
    }
    let mut joined = BytesMut::with_capacity(frames.iter().map(Bytes::len).sum());
    frames.iter().for_each(|f| joined.extend_from_slice(f));
    joined.freeze()
}
