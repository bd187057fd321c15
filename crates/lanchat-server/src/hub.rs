//! The hub: the one task that owns the [`Room`], applies every join, line
//! and departure in the order it receives them, and fans the results out to
//! the connections' outboxes.
//!
//! Connections talk to it through a [`HubHandle`]. Registrations and typed
//! lines go through a bounded channel, so a flooding client waits (and
//! stops reading its socket) instead of growing a queue. Departures go
//! through an unbounded one, sent from a drop guard, so that a connection
//! that ends in any way, even by panicking, is announced and its name freed.

use std::collections::HashMap;
use std::task::Waker;

use bytes::Bytes;
use lanchat_core::{LeaveReason, MemberId, NameError, Output, Room, Target};
use lanchat_proto::{encode, ServerFrame};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::convert::frame_of;
use crate::memory;
use crate::outbox::{concat, Outbox};

/// How many requests may wait for the hub before senders are held back.
const REQUEST_QUEUE: usize = 1024;

/// At most this many waiting requests are applied in one step before their
/// frames are handed to the connections.
const STEP: usize = 64;

/// Frames for everyone are gathered into runs of at most this many bytes
/// (and at most a quarter of a connection's queue), so that one run never
/// fills a queue that is keeping up.
const MAX_RUN_BYTES: usize = 16 * 1024;

/// The connections' way in to the hub. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct HubHandle {
    requests: mpsc::Sender<Request>,
    departures: mpsc::UnboundedSender<(MemberId, LeaveReason)>,
}

/// The hub has stopped: the server is shutting down.
#[derive(Debug)]
pub(crate) struct HubGone;

/// A member's place in the room, held by their connection. Dropping it
/// takes them out of the room (a no-op if the room already removed them).
#[derive(Debug)]
pub(crate) struct Membership {
    id: MemberId,
    reason: LeaveReason,
    departures: mpsc::UnboundedSender<(MemberId, LeaveReason)>,
}

impl Membership {
    /// Sets the reason announced when this membership is dropped.
    pub(crate) fn set_reason(&mut self, reason: LeaveReason) {
        self.reason = reason;
    }
}

impl Drop for Membership {
    fn drop(&mut self) {
        // Fails only when the hub is gone, and then there is no room left
        // to leave.
        let _ = self.departures.send((self.id, self.reason));
    }
}

enum Request {
    Register {
        name: String,
        outbox: Outbox,
        reply: oneshot::Sender<Result<MemberId, NameError>>,
    },
    Input {
        id: MemberId,
        text: String,
    },
}

impl HubHandle {
    /// Asks to enter the room as `name`; frames for the new member will be
    /// pushed to `outbox`.
    pub(crate) async fn register(
        &self,
        name: String,
        outbox: Outbox,
    ) -> Result<Result<Membership, NameError>, HubGone> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(Request::Register {
                name,
                outbox,
                reply,
            })
            .await
            .map_err(|_| HubGone)?;
        Ok(answer.await.map_err(|_| HubGone)?.map(|id| Membership {
            id,
            reason: LeaveReason::Dropped,
            departures: self.departures.clone(),
        }))
    }

    /// Hands the hub one typed line. Waits while the hub is busy, which is
    /// the backpressure that slows a flooder down.
    pub(crate) async fn input(&self, member: &Membership, text: String) -> Result<(), HubGone> {
        let request = Request::Input {
            id: member.id,
            text,
        };
        match self.requests.try_send(request) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(request)) => {
                // Boxed: only a backed-up hub needs the waiting future, and
                // inline it would make every connection's task bigger.
                Box::pin(self.requests.send(request))
                    .await
                    .map_err(|_| HubGone)
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Err(HubGone),
        }
    }
}

/// Starts the hub on `tracker`. It runs until `shutdown` is cancelled (or
/// every handle is dropped), then says goodbye to everyone.
pub(crate) fn spawn(
    config: &Config,
    tracker: &TaskTracker,
    shutdown: CancellationToken,
) -> HubHandle {
    let (requests, request_rx) = mpsc::channel(REQUEST_QUEUE);
    let (departures, departure_rx) = mpsc::unbounded_channel();
    let hub = Hub {
        room: Room::new(config.room.clone()).with_max_text_len(config.max_text_len),
        max_run_bytes: MAX_RUN_BYTES.min(config.max_queue_bytes / 4),
        run_bytes: 0,
        sessions: HashMap::new(),
        out: Vec::new(),
        too_slow: Vec::new(),
        queued_since_trim: 0,
        wake: Vec::new(),
        run: Vec::new(),
    };
    tracker.spawn(hub.run(request_rx, departure_rx, shutdown));
    HubHandle {
        requests,
        departures,
    }
}

struct Hub {
    room: Room,
    /// The outbox of every member in the room, by id.
    sessions: HashMap<MemberId, Outbox>,
    /// Outputs of the current step, reused to avoid allocating per message.
    out: Vec<Output>,
    /// Members whose outbox overflowed during the current fan-out.
    too_slow: Vec<MemberId>,
    /// Bytes queued (once per recipient) since memory was last given back.
    queued_since_trim: usize,
    /// Connections to wake once the current step is queued.
    wake: Vec<Waker>,
    /// Encoded frames for everyone, gathered to be queued as one.
    run: Vec<Bytes>,
    run_bytes: usize,
    max_run_bytes: usize,
}

impl Hub {
    async fn run(
        mut self,
        mut requests: mpsc::Receiver<Request>,
        mut departures: mpsc::UnboundedReceiver<(MemberId, LeaveReason)>,
        shutdown: CancellationToken,
    ) {
        loop {
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
                Some((id, reason)) = departures.recv() => {
                    self.room.leave(id, reason, &mut self.out);
                }
                request = requests.recv() => match request {
                    Some(request) => {
                        self.handle(request);
                        // Apply what else is already waiting in the same
                        // step: its frames batch up, and each connection is
                        // woken once for all of them.
                        for _ in 1..STEP {
                            let Ok(request) = requests.try_recv() else { break };
                            if matches!(request, Request::Register { .. }) {
                                // A newcomer must not get what was said
                                // before they joined.
                                self.deliver();
                            }
                            self.handle(request);
                        }
                    }
                    None => break,
                },
                // Only after a burst, and once the room has gone quiet.
                _ = tokio::time::sleep(memory::QUIET), if self.queued_since_trim >= memory::BURST_BYTES => {
                    memory::release_free_pages();
                    self.queued_since_trim = 0;
                }
            }
            self.deliver();
        }
        self.goodbye();
    }

    fn handle(&mut self, request: Request) {
        match request {
            Request::Register {
                name,
                outbox,
                reply,
            } => {
                match self.room.join(&name, &mut self.out) {
                    Ok(id) => {
                        tracing::info!(member = id.get(), %name, "joined");
                        self.sessions.insert(id, outbox);
                        if reply.send(Ok(id)).is_err() {
                            // The connection ended while waiting; take the
                            // name back at once.
                            self.room.leave(id, LeaveReason::Dropped, &mut self.out);
                        }
                    }
                    Err(e) => {
                        let _ = reply.send(Err(e));
                    }
                }
            }
            Request::Input { id, text } => self.room.input(id, &text, &mut self.out),
        }
    }

    /// Carries out the outputs of the last step, including the departures
    /// of anyone found too slow while doing so, then wakes the connections
    /// that have something new to write.
    fn deliver(&mut self) {
        self.queue_outputs();
        for waker in self.wake.drain(..) {
            waker.wake();
        }
    }

    fn queue_outputs(&mut self) {
        while !self.out.is_empty() {
            let mut outputs = std::mem::take(&mut self.out);
            for output in outputs.drain(..) {
                match output {
                    // Consecutive messages to everyone go out together.
                    Output::Send {
                        to: Target::All,
                        event,
                    } => {
                        let frame = encode(&frame_of(event));
                        if self.run_bytes + frame.len() > self.max_run_bytes {
                            self.send_run();
                        }
                        self.run_bytes += frame.len();
                        self.run.push(frame);
                    }
                    Output::Send { to, event } => {
                        self.send_run();
                        self.send(to, &encode(&frame_of(event)));
                    }
                    Output::Close(id) => {
                        self.send_run();
                        if let Some(outbox) = self.sessions.remove(&id) {
                            outbox.close();
                        }
                    }
                }
            }
            self.send_run();
            // Hand the (now empty) allocation back for the next step.
            self.out = outputs;
            for id in std::mem::take(&mut self.too_slow) {
                if let Some(outbox) = self.sessions.remove(&id) {
                    tracing::info!(member = id.get(), "dropping a client that is not reading");
                    outbox.abort();
                }
                self.room.leave(id, LeaveReason::TooSlow, &mut self.out);
            }
        }
    }

    /// Sends the frames gathered for everyone as one buffer: each member
    /// gets one queue entry for the whole run instead of one per frame.
    fn send_run(&mut self) {
        if self.run.is_empty() {
            return;
        }
        let bytes = concat(&self.run);
        self.run.clear();
        self.run_bytes = 0;
        self.send(Target::All, &bytes);
    }

    /// Queues the same bytes for every recipient.
    fn send(&mut self, to: Target, bytes: &Bytes) {
        let mut push = |id: MemberId, outbox: &Outbox| {
            self.queued_since_trim += bytes.len();
            if outbox.push_deferred(bytes.clone(), &mut self.wake).is_err() {
                self.too_slow.push(id);
            }
        };
        match to {
            Target::One(id) => {
                if let Some(outbox) = self.sessions.get(&id) {
                    push(id, outbox);
                }
            }
            Target::All => self.sessions.iter().for_each(|(id, o)| push(*id, o)),
            Target::AllBut(except) => self
                .sessions
                .iter()
                .filter(|(id, _)| **id != except)
                .for_each(|(id, o)| push(*id, o)),
        }
    }

    /// Tells every member the server is going away and closes their queues
    /// so their connections flush and end.
    fn goodbye(&mut self) {
        let notice: Bytes = encode(&ServerFrame::Notice {
            text: "the server is shutting down".into(),
        });
        let bye: Bytes = encode(&ServerFrame::Bye {
            reason: "server shutting down".into(),
        });
        for (_, outbox) in self.sessions.drain() {
            let _ = outbox.push(notice.clone());
            let _ = outbox.push(bye.clone());
            outbox.close();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hub of its own, and the way to stop it.
    struct TestHub {
        hub: HubHandle,
        tracker: TaskTracker,
        shutdown: CancellationToken,
    }

    impl TestHub {
        fn start() -> Self {
            let tracker = TaskTracker::new();
            let shutdown = CancellationToken::new();
            let hub = spawn(&Config::new("lab", "host"), &tracker, shutdown.clone());
            TestHub {
                hub,
                tracker,
                shutdown,
            }
        }

        /// Joins as `name`, with a roomy outbox of their own.
        async fn join(&self, name: &str) -> (Membership, Outbox) {
            let outbox = Outbox::new(1 << 20);
            let member = self.hub.register(name.into(), outbox.clone()).await;
            (member.unwrap().unwrap(), outbox)
        }

        async fn stop(self) {
            self.shutdown.cancel();
            self.tracker.close();
            self.tracker.wait().await;
        }
    }

    /// The frames queued in `outbox`, one line each.
    fn texts(outbox: &Outbox) -> Vec<String> {
        let mut queued = Vec::new();
        outbox.drain_into(&mut queued);
        queued
            .iter()
            .flat_map(|f| {
                String::from_utf8_lossy(f)
                    .lines()
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// Messages to everyone in one step are queued together, and a whisper
    /// among them keeps its place for its recipient and no one else.
    #[tokio::test(flavor = "current_thread")]
    async fn a_step_of_messages_keeps_everyones_order() {
        let test = TestHub::start();
        let (alice, alice_out) = test.join("alice").await;
        let (_bob, bob_out) = test.join("bob").await;
        let (_carol, carol_out) = test.join("carol").await;
        tokio::task::yield_now().await;
        for outbox in [&alice_out, &bob_out, &carol_out] {
            texts(outbox);
        }
        // Not yielding in between: the hub sees all four in one step.
        for line in ["one", "two", "/w bob psst", "three"] {
            test.hub.input(&alice, line.into()).await.unwrap();
        }
        tokio::task::yield_now().await;
        let said = |outbox: &Outbox| -> Vec<String> {
            texts(outbox)
                .iter()
                .filter_map(|f| {
                    f.split(r#""text":""#)
                        .nth(1)
                        .map(|t| t.trim_end_matches("\"}").to_owned())
                })
                .collect()
        };
        assert_eq!(said(&bob_out), ["one", "two", "psst", "three"]);
        assert_eq!(said(&carol_out), ["one", "two", "three"]);
        assert_eq!(said(&alice_out), ["one", "two", "psst", "three"]);
        test.stop().await;
    }

    /// Requests that wait together are applied in one step; a join among
    /// them still splits what came before it from what came after.
    #[tokio::test(flavor = "current_thread")]
    async fn a_newcomer_in_a_busy_step_gets_only_what_follows_their_join() {
        let test = TestHub::start();
        let hub = &test.hub;
        let (alice, alice_out) = test.join("alice").await;
        texts(&alice_out);
        // On this single thread the hub cannot run until we wait, so
        // "before" and bob's join are waiting together when it does.
        hub.input(&alice, "before".into()).await.unwrap();
        let bob_out = Outbox::new(1 << 20);
        let register = hub.register("bob".into(), bob_out.clone());
        let after = async {
            tokio::task::yield_now().await;
            hub.input(&alice, "after".into()).await.unwrap();
        };
        let (bob, ()) = tokio::join!(register, after);
        let _bob = bob.unwrap().unwrap();
        tokio::task::yield_now().await;
        let bob_saw = texts(&bob_out).concat();
        assert!(!bob_saw.contains("before"), "{bob_saw}");
        assert!(bob_saw.contains("after"), "{bob_saw}");
        let alice_saw = texts(&alice_out).concat();
        let order: Vec<usize> = ["before", "bob", "after"]
            .iter()
            .filter_map(|t| alice_saw.find(t))
            .collect();
        assert_eq!(order.len(), 3, "{alice_saw}");
        assert!(order.is_sorted(), "{alice_saw}");
        test.stop().await;
    }

    /// The drop guard is what keeps the room right when a connection task
    /// dies in any way, a panic included: only that task dies, and its
    /// departure is announced.
    #[tokio::test]
    async fn a_panicking_connection_task_still_leaves_the_room() {
        let test = TestHub::start();
        let (_alice, watcher) = test.join("alice").await;
        let (doomed, _) = test.join("doomed").await;
        let task = tokio::spawn(async move {
            let _membership = doomed;
            panic!("a bug in one connection");
        });
        assert!(task.await.unwrap_err().is_panic());
        let mut frames = Vec::new();
        while !frames
            .iter()
            .any(|f: &Bytes| f.starts_with(b"{\"type\":\"left\""))
        {
            watcher.ready().await;
            watcher.drain_into(&mut frames);
        }
        let left = frames.last().unwrap();
        assert_eq!(
            &left[..],
            b"{\"type\":\"left\",\"name\":\"doomed\",\"reason\":\"dropped\"}\n"
        );
        test.stop().await;
    }
}
