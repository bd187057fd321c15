//! The hub: the one task that owns the [`Room`], applies every join,
//! command and departure in the order it receives them, and fans the
//! resulting events out to the connections' outboxes, encoded by each
//! connection's door.
//!
//! Doors talk to it through a [`Hub`] handle. Registrations and commands go
//! through a bounded channel, so a flooding client waits (and stops reading
//! its socket) instead of growing a queue. Departures go through an
//! unbounded one, sent from a drop guard ([`Membership`]), so that a
//! connection that ends in any way, even by panicking, is announced and its
//! name freed.
//!
//! Each event is encoded once per wire format in use, whatever the number
//! of recipients. Consecutive events for everyone are encoded into one
//! buffer per format (a *run*), so each member gets one queue entry per run
//! and each connection is woken once per step.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use lanchat_core::{
    Command, Delivery, Event, Label, LeaveReason, MemberId, NameError, Output, Room, RoomId, Stamp,
    Target,
};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{sleep_until, Instant};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::door::{EventRef, WireFormat};
use crate::memory;
use crate::outbox::{Flush, Outbox};
use crate::resume::Resume;
use crate::store::{Recorder, Store};

/// How many requests may wait for the hub before senders are held back.
const REQUEST_QUEUE: usize = 1024;

/// At most this many waiting requests are applied in one step before their
/// frames are handed to the connections.
const STEP: usize = 64;

/// Frames for everyone are gathered into runs of at most this many bytes
/// (and at most a quarter of a connection's queue), so that one run never
/// fills a queue that is keeping up.
const MAX_RUN_BYTES: usize = 16 * 1024;

/// Joins and departures for everyone wait up to this long to go out
/// together, unless something else said needs the run sooner. In a join
/// storm each member is then written once per this time, however many
/// people join, instead of once per newcomer.
const ANNOUNCE_WAIT: Duration = Duration::from_millis(100);

/// A door's way in to the room. Cheap to clone.
#[derive(Clone)]
pub struct Hub {
    requests: mpsc::Sender<Request>,
    departures: mpsc::UnboundedSender<Departure>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Hub")
    }
}

/// The hub has stopped: the server is shutting down.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the server is shutting down")]
pub struct HubGone;

/// A member's place in the room, held by their connection. Dropping it
/// takes them out of the room (a no-op if the room already removed them).
#[derive(Debug)]
pub struct Membership {
    id: MemberId,
    /// Which attachment of the member this is: a departure from an older
    /// connection (replaced by a resume) is ignored.
    generation: u64,
    /// The secret to resume with, if the member may.
    token: Option<String>,
    reason: LeaveReason,
    keep_open: bool,
    departures: mpsc::UnboundedSender<Departure>,
}

impl Membership {
    /// The member's id in the room.
    pub fn id(&self) -> MemberId {
        self.id
    }

    /// The secret to resume with after a connection loss, if the member
    /// may (see [`JoinRequest::resume`]).
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// Sets the reason announced when this membership is dropped.
    pub fn set_reason(&mut self, reason: LeaveReason) {
        self.reason = reason;
    }

    /// Leaves the room (as having quit) but keeps the connection: the
    /// member's outbox stays open, for a door whose clients may leave and
    /// come back on one connection (IRC's PART and JOIN).
    pub fn part(mut self) {
        self.reason = LeaveReason::Quit;
        self.keep_open = true;
    }
}

/// A member leaving, sent when their [`Membership`] is dropped.
#[derive(Debug)]
struct Departure {
    id: MemberId,
    generation: u64,
    reason: LeaveReason,
    /// Leave the member's outbox open (see [`Membership::part`]).
    keep_open: bool,
}

impl Drop for Membership {
    fn drop(&mut self) {
        // Fails only when the hub is gone, and then there is no room left
        // to leave.
        let _ = self.departures.send(Departure {
            id: self.id,
            generation: self.generation,
            reason: self.reason,
            keep_open: self.keep_open,
        });
    }
}

/// Asking to enter a room.
pub struct JoinRequest {
    pub room: RoomId,
    pub name: String,
    pub label: Option<Label>,
    /// Where the member's frames go.
    pub outbox: Outbox,
    /// How the member's door encodes events. Doors should share one
    /// `Arc` per format: events are encoded once per distinct `Arc`.
    pub format: Arc<dyn WireFormat>,
    /// The door, as `/whois` names it: `terminal`, `irc`, `web`.
    pub door: &'static str,
    /// Whether the newcomer is told the earlier conversation after its
    /// welcome ([`Event::History`]).
    pub history: bool,
    /// Whether the member may resume after losing its connection: it is
    /// given a token ([`Membership::token`]).
    pub resume: bool,
    /// Where the member connects from (`/whois` shows it only when the
    /// server is set to).
    pub peer: Option<std::net::IpAddr>,
}

/// Asking to come back after a connection loss, with the token the last
/// membership had, and the id of the last room event received.
pub struct ResumeRequest {
    pub token: String,
    pub last_id: u64,
    pub label: Option<Label>,
    pub outbox: Outbox,
    pub format: Arc<dyn WireFormat>,
}

/// A resume that could not be done: the token is unknown, used, or its
/// grace period is over. The client should join afresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("there is nothing to resume (the token is unknown or its grace period is over)")]
pub struct CannotResume;

/// What the hub answers a join or a resume.
struct Joined {
    id: MemberId,
    generation: u64,
    token: Option<String>,
}

enum Request {
    Join {
        join: JoinRequest,
        reply: oneshot::Sender<Result<Joined, NameError>>,
    },
    Resume {
        resume: ResumeRequest,
        reply: oneshot::Sender<Result<Joined, CannotResume>>,
    },
    Command {
        id: MemberId,
        command: Command,
        label: Option<Label>,
    },
}

/// What became of a command offered to the hub ([`Hub::offer`]).
pub enum Offered<'a> {
    /// Taken (or the hub is gone).
    Taken(Result<(), HubGone>),
    /// The hub is backed up: this completes once it takes the command.
    Waiting(Pin<Box<dyn Future<Output = Result<(), HubGone>> + Send + 'a>>),
}

impl Hub {
    /// Asks to enter the room; on success, events for the new member will
    /// be encoded with `join.format` and pushed to `join.outbox`.
    pub async fn join(&self, join: JoinRequest) -> Result<Result<Membership, NameError>, HubGone> {
        let answer = self.ask(|reply| Request::Join { join, reply }).await?;
        Ok(answer.map(|j| self.membership(j)))
    }

    /// Asks to come back as the member `resume.token` was given to; on
    /// success the member is welcomed again and told every room event
    /// after `resume.last_id` it should have had, then what follows.
    pub async fn resume(
        &self,
        resume: ResumeRequest,
    ) -> Result<Result<Membership, CannotResume>, HubGone> {
        let answer = self.ask(|reply| Request::Resume { resume, reply }).await?;
        Ok(answer.map(|j| self.membership(j)))
    }

    /// Sends the request `make` builds around a reply channel, and waits
    /// for the answer.
    async fn ask<T>(&self, make: impl FnOnce(oneshot::Sender<T>) -> Request) -> Result<T, HubGone> {
        let (reply, answer) = oneshot::channel();
        self.requests.send(make(reply)).await.map_err(|_| HubGone)?;
        answer.await.map_err(|_| HubGone)
    }

    fn membership(&self, joined: Joined) -> Membership {
        Membership {
            id: joined.id,
            generation: joined.generation,
            token: joined.token,
            reason: LeaveReason::Dropped,
            keep_open: false,
            departures: self.departures.clone(),
        }
    }

    /// Hands the hub one command. Waits while the hub is busy, which is
    /// the backpressure that slows a flooder down.
    pub async fn command(
        &self,
        member: &Membership,
        command: Command,
        label: Option<Label>,
    ) -> Result<(), HubGone> {
        match self.offer(member, command, label) {
            Offered::Taken(taken) => taken,
            Offered::Waiting(waiting) => waiting.await,
        }
    }

    /// Offers the hub one command at once, without waiting. Only a
    /// backed-up hub needs a waiting future, which is boxed: held inline,
    /// it would sit in every connection's task for the connection's whole
    /// life.
    pub fn offer(
        &self,
        member: &Membership,
        command: Command,
        label: Option<Label>,
    ) -> Offered<'_> {
        let request = Request::Command {
            id: member.id,
            command,
            label,
        };
        match self.requests.try_send(request) {
            Ok(()) => Offered::Taken(Ok(())),
            Err(mpsc::error::TrySendError::Full(request)) => {
                Offered::Waiting(Box::pin(async move {
                    self.requests.send(request).await.map_err(|_| HubGone)
                }))
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Offered::Taken(Err(HubGone)),
        }
    }
}

/// The most message text applied in one step, in bytes.
const STEP_BYTES: usize = 32 * 1024;

/// The most sockets the hub writes to itself after one step (see
/// [`Flush::run_all`]); beyond, connections are woken to write for
/// themselves, spread over the worker threads. About 0.3 ms of writing.
const WRITE_THROUGH_PER_STEP: usize = 128;

/// How often a held-back hub looks again at the queues holding it back.
const PAUSE_TICK: Duration = Duration::from_millis(5);

/// Queues `bytes` for one member, noting a queue over its soft cap
/// (pressure) and one over its hard cap (to drop).
fn push_to(
    id: MemberId,
    member: &Member,
    bytes: Bytes,
    wake: &mut Vec<Flush>,
    too_slow: &mut Vec<MemberId>,
    pressed: &mut Vec<MemberId>,
) {
    match member.outbox.push_deferred(bytes, wake) {
        Ok(false) => {}
        Ok(true) => {
            if !pressed.contains(&id) {
                pressed.push(id);
            }
        }
        Err(_) => too_slow.push(id),
    }
}

/// Starts the hub on `tracker`. It runs until `shutdown` is cancelled (or
/// every handle is dropped), then says goodbye to everyone.
pub(crate) fn spawn(
    config: &Config,
    tracker: &TaskTracker,
    shutdown: CancellationToken,
    store: Option<Store>,
) -> Hub {
    let (requests, request_rx) = mpsc::channel(REQUEST_QUEUE);
    let (departures, departure_rx) = mpsc::unbounded_channel();
    let mut room = Room::new(RoomId::MAIN, config.room.clone(), config.max_text_len);
    room.set_topic(&config.topic);
    room.lock_topic(config.topic_locked);
    room.keep_history(config.history);
    // The stored conversation comes back, and ids go on after it.
    let (recorder, stored) = match store {
        Some(store) if config.history > 0 => match store.load(config.history) {
            Ok((pasts, last)) => {
                room.restore(pasts);
                room.continue_after(last);
                let (recorder, stored) = store.start(tracker);
                (Some(recorder), Some(stored))
            }
            Err(error) => {
                tracing::warn!(%error, "history is kept in memory only");
                (None, None)
            }
        },
        _ => (None, None),
    };
    let hub = HubTask {
        room,
        resume: Resume::new(config.resume_grace, config.max_clients),
        next_generation: 1,
        show_address: config.whois_address,
        recorder,
        awaiting_store: VecDeque::new(),
        max_run_bytes: MAX_RUN_BYTES.min(config.max_queue_bytes / 4),
        members: HashMap::new(),
        formats: Vec::new(),
        runs_urgent: false,
        runs_since: None,
        out: Vec::new(),
        too_slow: Vec::new(),
        pressed: Vec::new(),
        queued_since_trim: 0,
        wake: Vec::new(),
    };
    tracker.spawn(hub.run(request_rx, departure_rx, stored, shutdown));
    Hub {
        requests,
        departures,
    }
}

/// A member as the hub sees it: where their frames go, in which format.
///
/// The hub's map holds one per member: the index and the offset are
/// `u32`s (a run is at most [`MAX_RUN_BYTES`] and one event), which makes
/// every entry of it 8 bytes smaller.
struct Member {
    outbox: Outbox,
    /// See [`Membership`]'s.
    generation: u64,
    /// Its format's index in the hub's.
    format: u32,
    /// Where this member's part of its format's pending run begins: a
    /// newcomer gets only what was gathered after it joined, and not its
    /// own announcement.
    run_start: u32,
}

impl Member {
    fn new(outbox: Outbox, generation: u64, format: usize, run_start: usize) -> Member {
        let mut member = Member {
            outbox,
            generation,
            // A handful of formats.
            format: u32::try_from(format).unwrap_or(u32::MAX),
            run_start: 0,
        };
        member.start_run_at(run_start);
        member
    }

    fn format(&self) -> usize {
        self.format as usize
    }

    fn run_start(&self) -> usize {
        self.run_start as usize
    }

    fn start_run_at(&mut self, at: usize) {
        self.run_start = u32::try_from(at).unwrap_or(u32::MAX);
    }
}

/// A wire format in use, with the run being gathered for it.
struct Format {
    wire: Arc<dyn WireFormat>,
    members: usize,
    run: Vec<u8>,
}

struct HubTask {
    room: Room,
    /// Tokens, held names and recent events, for resuming.
    resume: Resume,
    /// The next member attachment's generation.
    next_generation: u64,
    /// `/whois` shows where members connect from.
    show_address: bool,
    /// Where the conversation is stored, if anywhere.
    recorder: Option<Recorder>,
    /// Events not yet committed, oldest first, with who said them: each is
    /// told `stored` once the store has it. Consecutive events of one
    /// member are one entry (the latest id).
    awaiting_store: VecDeque<(u64, MemberId)>,
    members: HashMap<MemberId, Member>,
    formats: Vec<Format>,
    /// The runs hold something other than joins and departures, so they go
    /// out at the end of the step.
    runs_urgent: bool,
    /// When the first event of the pending runs was gathered; `None` while
    /// every run is empty.
    runs_since: Option<Instant>,
    /// Outputs of the current step, reused to avoid allocating per message.
    out: Vec<Output>,
    /// Members whose outbox overflowed during the current fan-out.
    too_slow: Vec<MemberId>,
    /// Members whose queue went over its soft cap: while one of them is
    /// still draining it, the hub takes no new requests.
    pressed: Vec<MemberId>,
    /// Bytes queued (once per recipient) since memory was last given back.
    queued_since_trim: usize,
    /// Connections to wake, or to write to, once the current step is
    /// queued.
    wake: Vec<Flush>,
    max_run_bytes: usize,
}

/// The most events (or runs of one member's events) awaiting the store.
const MAX_AWAITING_STORE: usize = 65_536;

/// The next commit of the store, if it has one; never, without a store.
async fn store_progress(stored: &mut Option<watch::Receiver<u64>>) -> Option<u64> {
    match stored {
        Some(rx) => match rx.changed().await {
            Ok(()) => Some(*rx.borrow_and_update()),
            Err(_) => None,
        },
        None => std::future::pending().await,
    }
}

/// Milliseconds since the Unix epoch, for event stamps.
fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl HubTask {
    async fn run(
        mut self,
        mut requests: mpsc::Receiver<Request>,
        mut departures: mpsc::UnboundedReceiver<Departure>,
        mut stored: Option<watch::Receiver<u64>>,
        shutdown: CancellationToken,
    ) {
        loop {
            // A reader that keeps up, but more slowly than a burst arrives,
            // holds the senders back (their requests wait, their sockets
            // fill), rather than being dropped for it.
            let paused = self.pressing();
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
                Some(Departure { id, generation, reason, keep_open }) = departures.recv() => {
                    // Last words first: a connection hands over every
                    // frame it read before its membership is dropped, so
                    // whatever waits in the request queue now was said
                    // before this departure and is applied before it.
                    while self.apply_waiting(&mut requests, STEP) == STEP {
                        self.deliver();
                    }
                    self.depart(id, generation, reason, keep_open);
                }
                _ = sleep_until(self.resume.next_expiry().unwrap_or_else(Instant::now)), if self.resume.next_expiry().is_some() => {
                    for (id, why) in self.resume.expired(Instant::now()) {
                        tracing::info!(member = id.get(), "the grace period is over");
                        self.room.leave(id, why, now_ms(), &mut self.out);
                    }
                }
                _ = tokio::time::sleep(PAUSE_TICK), if paused => {}
                // Gathered announcements are due (`deliver` sends them).
                _ = sleep_until(self.runs_since.map_or_else(Instant::now, |t| t + ANNOUNCE_WAIT)), if self.runs_since.is_some() => {}
                committed = store_progress(&mut stored) => match committed {
                    Some(up_to) => self.acknowledge(up_to),
                    // The writer is gone: nothing more will be stored.
                    None => {
                        stored = None;
                        self.recorder = None;
                        self.awaiting_store.clear();
                    }
                },
                request = requests.recv(), if !paused => match request {
                    Some(request) => {
                        self.handle(request);
                        // Apply what else is already waiting in the same
                        // step: its frames batch up, and each connection is
                        // woken once for all of them.
                        self.apply_waiting(&mut requests, STEP - 1);
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

    /// Whether a queue over its soft cap is still being drained by its
    /// reader; forgets the members whose queues are back under it.
    fn pressing(&mut self) -> bool {
        if self.pressed.is_empty() {
            return false;
        }
        let members = &self.members;
        self.pressed
            .retain(|id| members.get(id).is_some_and(|m| m.outbox.is_over_soft()));
        let now = std::time::Instant::now();
        self.pressed
            .iter()
            .any(|id| members.get(id).is_some_and(|m| m.outbox.presses(now)))
    }

    /// Applies up to `limit` requests already waiting, without waiting for
    /// more; returns how many it applied.
    fn apply_waiting(&mut self, requests: &mut mpsc::Receiver<Request>, limit: usize) -> usize {
        let mut text_bytes = 0;
        for applied in 0..limit {
            // A step is capped by bytes too: 64 long lines would otherwise
            // land in every queue at once.
            if text_bytes >= STEP_BYTES {
                return limit;
            }
            let Ok(request) = requests.try_recv() else {
                return applied;
            };
            match &request {
                // A newcomer must not get what was said before they joined:
                // what the step produced so far is encoded into the runs
                // first, and the newcomer's part of the runs starts after
                // it (its run start).
                Request::Join { .. } | Request::Resume { .. } => self.queue_outputs(),
                Request::Command { command, .. } => text_bytes += command.text_len(),
            }
            self.handle(request);
        }
        limit
    }

    fn handle(&mut self, request: Request) {
        match request {
            Request::Join { join, reply } => {
                if join.room != self.room.id() {
                    let _ = reply.send(Err(NameError::Taken(join.name)));
                    return;
                }
                let now = now_ms();
                let label = join.label.clone();
                match self.room.join(&join.name, join.label, now, &mut self.out) {
                    Ok(id) => {
                        if join.history {
                            self.room.tell_history(id, label, &mut self.out);
                        }
                        self.room.set_door(id, join.door);
                        if let (true, Some(peer)) = (self.show_address, join.peer) {
                            self.room.set_address(id, peer.to_string());
                        }
                        let name = self.room.name_of(id).unwrap_or_default();
                        tracing::info!(member = id.get(), %name, "joined");
                        let generation = self.attach(id, join.outbox, join.format);
                        let token = match join.resume && self.resume.is_on() {
                            true => self.resume.issue(id),
                            false => None,
                        };
                        let joined = Joined {
                            id,
                            generation,
                            token,
                        };
                        if reply.send(Ok(joined)).is_err() {
                            // The connection ended while waiting; take the
                            // name back at once.
                            self.room
                                .leave(id, LeaveReason::Dropped, now, &mut self.out);
                        }
                    }
                    Err(e) => {
                        let _ = reply.send(Err(e));
                    }
                }
            }
            Request::Resume { resume, reply } => self.come_back(resume, reply),
            Request::Command { id, command, label } => {
                let before = self.out.len();
                self.room.apply(id, command, label, now_ms(), &mut self.out);
                if self.recorder.is_some() {
                    self.await_store(id, before);
                }
            }
        }
    }

    /// Notes the events `id`'s command recorded (the outputs from `from`
    /// on), to tell them `stored` once the store commits them.
    fn await_store(&mut self, id: MemberId, from: usize) {
        for output in &self.out[from..] {
            let Output::Record(past) = output else {
                continue;
            };
            match self.awaiting_store.back_mut() {
                Some((last, member)) if *member == id => *last = past.stamp.id,
                _ => {
                    if self.awaiting_store.len() >= MAX_AWAITING_STORE {
                        // A store that fell this far behind has stopped
                        // taking events: the oldest are not acknowledged.
                        self.awaiting_store.pop_front();
                    }
                    self.awaiting_store.push_back((past.stamp.id, id));
                }
            }
        }
    }

    /// The store committed everything up to `up_to`: tells each member who
    /// said something in it, once.
    fn acknowledge(&mut self, up_to: u64) {
        let mut told = Vec::new();
        while let Some(&(id, member)) = self.awaiting_store.front() {
            if id > up_to {
                break;
            }
            self.awaiting_store.pop_front();
            told.push(member);
        }
        told.sort_unstable();
        told.dedup();
        let (room, event) = (self.room.id(), Event::Stored { id: up_to });
        for member in told {
            if self.members.contains_key(&member) {
                self.send_one(member, room, &event, None);
            }
        }
    }

    /// Gives member `id` an outbox and a format; returns the attachment's
    /// generation.
    fn attach(&mut self, id: MemberId, outbox: Outbox, format: Arc<dyn WireFormat>) -> u64 {
        let format = self.format_index(format);
        self.formats[format].members += 1;
        let generation = self.next_generation;
        self.next_generation += 1;
        let member = Member::new(outbox, generation, format, self.formats[format].run.len());
        self.members.insert(id, member);
        generation
    }

    /// A connection ended (`generation` is the attachment it was). A
    /// member who may resume and lost the connection is held; everyone
    /// else leaves.
    fn depart(&mut self, id: MemberId, generation: u64, reason: LeaveReason, keep_open: bool) {
        match self.members.get(&id) {
            // An older connection of a member who resumed since.
            Some(member) if member.generation != generation => return,
            // Held already, or gone.
            None if self.resume.is_held(id) || self.room.name_of(id).is_none() => return,
            _ => {}
        }
        let lost = matches!(reason, LeaveReason::Dropped | LeaveReason::TimedOut);
        if lost && !keep_open && self.resume.can_hold(id) {
            self.deliver_now();
            self.remove_member(id);
            self.resume.hold(id, Instant::now(), reason);
            tracing::info!(member = id.get(), "connection lost; holding the name");
            self.room.hold(id, now_ms(), &mut self.out);
            return;
        }
        if keep_open {
            // Out of the hub's members first, so the room's goodbye finds
            // no outbox to close.
            self.deliver_now();
            self.remove_member(id);
        }
        self.resume.forget(id);
        self.room.leave(id, reason, now_ms(), &mut self.out);
    }

    /// A resume: the member is attached to the new connection, welcomed
    /// again, and told what it missed, exactly once.
    fn come_back(
        &mut self,
        resume: ResumeRequest,
        reply: oneshot::Sender<Result<Joined, CannotResume>>,
    ) {
        let Some(id) = self.resume.take(&resume.token) else {
            let _ = reply.send(Err(CannotResume));
            return;
        };
        // Still attached: the client noticed the loss before we did. The
        // old connection is let go, and nobody else is told anything.
        let was_held = match self.remove_member(id) {
            Some(old) => {
                old.abort();
                false
            }
            None => true,
        };
        let generation = self.attach(id, resume.outbox, resume.format);
        let now = now_ms();
        self.room
            .back(id, resume.label, was_held, now, &mut self.out);
        // The welcome first; then what was missed, sent to this member
        // directly (it is kept already, and must not be kept twice).
        self.deliver_now();
        let (missed, gap) = self.resume.replay(id, resume.last_id);
        let room = self.room.id();
        if gap {
            let text = "some of what was said while you were away could not be kept".into();
            let notice = Event::Notice { text };
            self.send_one(id, room, &notice, None);
        }
        for recent in &missed {
            self.send_one(id, room, &recent.event, Some(recent.stamp));
        }
        let token = self.resume.issue(id);
        let name = self.room.name_of(id).unwrap_or_default();
        tracing::info!(member = id.get(), %name, "resumed");
        let joined = Joined {
            id,
            generation,
            token,
        };
        if reply.send(Ok(joined)).is_err() {
            self.remove_member(id);
            self.resume.forget(id);
            self.room
                .leave(id, LeaveReason::Dropped, now, &mut self.out);
        }
    }

    /// The index of `wire` among the formats in use, adding it if new.
    fn format_index(&mut self, wire: Arc<dyn WireFormat>) -> usize {
        let same = |f: &Format| std::ptr::addr_eq(Arc::as_ptr(&f.wire), Arc::as_ptr(&wire));
        if let Some(i) = self.formats.iter().position(same) {
            return i;
        }
        self.formats.push(Format {
            wire,
            members: 0,
            run: Vec::new(),
        });
        self.formats.len() - 1
    }

    fn remove_member(&mut self, id: MemberId) -> Option<Outbox> {
        let member = self.members.remove(&id)?;
        self.formats[member.format()].members -= 1;
        Some(member.outbox)
    }

    /// Carries out the outputs of the last step, including the departures
    /// of anyone found too slow while doing so, then sees to the
    /// connections that have something new to write (wakes them, or
    /// writes to their sockets). Gathered joins and departures may wait
    /// for [`ANNOUNCE_WAIT`].
    fn deliver(&mut self) {
        self.carry_out(false);
    }

    /// As [`HubTask::deliver`], with every gathered run sent now: before a
    /// member's connection is let go or replaced.
    fn deliver_now(&mut self) {
        self.carry_out(true);
    }

    fn carry_out(&mut self, now: bool) {
        loop {
            self.queue_outputs();
            if !(now
                || self.runs_urgent
                || self
                    .runs_since
                    .is_some_and(|t| t.elapsed() >= ANNOUNCE_WAIT))
            {
                break;
            }
            self.send_runs();
            if self.too_slow.is_empty() {
                break;
            }
        }
        Flush::run_all(&mut self.wake, WRITE_THROUGH_PER_STEP);
    }

    /// Queues the outputs gathered so far (events for everyone into the
    /// runs), and takes out anyone found too slow on the way.
    fn queue_outputs(&mut self) {
        loop {
            let mut outputs = std::mem::take(&mut self.out);
            for output in outputs.drain(..) {
                match output {
                    Output::Send(delivery) => {
                        if let Event::Left { name, reason } = &delivery.event {
                            // Every departure, whatever ended it, with the
                            // name and why; never any message text.
                            tracing::info!(%name, ?reason, "left");
                        }
                        self.queue(delivery)
                    }
                    Output::Record(past) => {
                        if let Some(recorder) = &self.recorder {
                            recorder.record(past);
                        }
                    }
                    Output::Close(id) => {
                        self.catch_up(id);
                        if let Some(outbox) = self.remove_member(id) {
                            outbox.close();
                        }
                    }
                }
            }
            // Hand the (now empty) allocation back for the next step.
            self.out = outputs;
            if self.too_slow.is_empty() {
                return;
            }
            for id in std::mem::take(&mut self.too_slow) {
                if let Some(outbox) = self.remove_member(id) {
                    tracing::info!(member = id.get(), "dropping a client that is not reading");
                    outbox.abort();
                }
                self.resume.forget(id);
                self.room
                    .leave(id, LeaveReason::TooSlow, now_ms(), &mut self.out);
            }
        }
    }

    /// Queues member `id`'s part of the pending run now (a copy of at most
    /// one run), so that what comes next for them alone, or for everyone
    /// but them, keeps its place without sending everyone's runs early.
    fn catch_up(&mut self, id: MemberId) {
        let Some(member) = self.members.get_mut(&id) else {
            return;
        };
        let run = &self.formats[member.format()].run;
        if member.run_start() >= run.len() {
            return;
        }
        let part = Bytes::copy_from_slice(&run[member.run_start()..]);
        member.start_run_at(run.len());
        self.queued_since_trim += part.len();
        let (wake, too_slow, pressed) = (&mut self.wake, &mut self.too_slow, &mut self.pressed);
        push_to(id, member, part, wake, too_slow, pressed);
    }

    fn queue(&mut self, d: Delivery) {
        self.resume.remember(&d);
        let event = |label| EventRef {
            room: d.room,
            event: &d.event,
            stamp: d.stamp,
            label,
            recipient: None,
        };
        match (d.to, &d.label) {
            // Consecutive events for everyone go out together, in one run
            // per format; an event for all but one member goes in the run
            // too, that member's part starting after it.
            (Target::All, None) => self.gather(event(None), None, &d.event),
            (Target::AllBut(but), None) => {
                self.catch_up(but);
                self.gather(event(None), Some(but), &d.event);
            }
            // The asker's copy carries their label; everyone else's is the
            // same for all.
            (Target::All, Some((asker, label))) => {
                self.catch_up(*asker);
                self.gather(event(None), Some(*asker), &d.event);
                self.send(Target::One(*asker), event(Some(label)));
            }
            // Those who ignore the sender are left out; the asker's copy
            // carries their label.
            (Target::AllExcept(except), Some((asker, label))) => {
                self.send_runs();
                let mut except = except.to_vec();
                except.push(*asker);
                self.send(Target::AllExcept(except.into()), event(None));
                self.send(Target::One(*asker), event(Some(label)));
            }
            (Target::One(id), label) => {
                self.catch_up(id);
                let label = label.as_ref().map(|(_, l)| &**l);
                self.send(Target::One(id), event(label));
            }
            (to, label) => {
                self.send_runs();
                let label = label.as_ref().map(|(_, l)| &**l);
                self.send(to, event(label));
            }
        }
    }

    /// Adds an event for everyone (but `but`, if given) to each format's
    /// run, sending the runs when one is full.
    fn gather(&mut self, event: EventRef<'_>, but: Option<MemberId>, what: &Event) {
        let mut full = false;
        for format in self.formats.iter_mut().filter(|f| f.members > 0) {
            format.wire.encode(event, &mut format.run);
            full |= format.run.len() >= self.max_run_bytes;
        }
        if let Some(member) = but.and_then(|id| self.members.get_mut(&id)) {
            member.start_run_at(self.formats[member.format()].run.len());
        }
        self.runs_urgent |= !matches!(what, Event::Joined { .. } | Event::Left { .. });
        self.runs_since.get_or_insert_with(Instant::now);
        if full {
            self.send_runs();
        }
    }

    /// Sends each format's gathered run as one buffer: each member gets one
    /// queue entry for the whole run (from where their part starts)
    /// instead of one per frame.
    fn send_runs(&mut self) {
        self.runs_urgent = false;
        if self.runs_since.take().is_none() {
            return;
        }
        let runs: Vec<Bytes> = self
            .formats
            .iter_mut()
            .map(|f| Bytes::from(std::mem::take(&mut f.run)))
            .collect();
        for (id, member) in &mut self.members {
            let run = &runs[member.format()];
            let start = member.run_start();
            member.start_run_at(0);
            if start >= run.len() {
                continue;
            }
            self.queued_since_trim += run.len() - start;
            let (wake, too_slow, pressed) = (&mut self.wake, &mut self.too_slow, &mut self.pressed);
            push_to(*id, member, run.slice(start..), wake, too_slow, pressed);
        }
    }

    /// Sends one event to one member, outside the room's order (a replay).
    fn send_one(&mut self, id: MemberId, room: RoomId, event: &Event, stamp: Option<Stamp>) {
        self.catch_up(id);
        let event = EventRef {
            room,
            event,
            stamp,
            label: None,
            recipient: None,
        };
        self.send(Target::One(id), event);
    }

    /// Encodes `event` once for each format among the recipients and
    /// queues it for each of them.
    fn send(&mut self, to: Target, event: EventRef<'_>) {
        // A copy for one member is addressed to them by name, for the
        // wire formats that say whom a reply is for (IRC numerics).
        let recipient = match &to {
            Target::One(id) => self.room.name_of(*id),
            _ => None,
        };
        let event = EventRef { recipient, ..event };
        let mut encoded: Vec<Option<Bytes>> = vec![None; self.formats.len()];
        let mut push = |id: MemberId, member: &Member| {
            let bytes = encoded[member.format()]
                .get_or_insert_with(|| self.formats[member.format()].wire.encode_one(event));
            self.queued_since_trim += bytes.len();
            let (wake, too_slow, pressed) = (&mut self.wake, &mut self.too_slow, &mut self.pressed);
            push_to(id, member, bytes.clone(), wake, too_slow, pressed);
        };
        match to {
            Target::One(id) => {
                if let Some(member) = self.members.get(&id) {
                    push(id, member);
                }
            }
            Target::All => self.members.iter().for_each(|(id, m)| push(*id, m)),
            Target::AllBut(except) => self
                .members
                .iter()
                .filter(|(id, _)| **id != except)
                .for_each(|(id, m)| push(*id, m)),
            Target::AllExcept(except) => self
                .members
                .iter()
                .filter(|(id, _)| !except.contains(id))
                .for_each(|(id, m)| push(*id, m)),
        }
    }

    /// Tells every member the server is going away and closes their queues
    /// so their connections flush and end.
    fn goodbye(&mut self) {
        self.deliver_now();
        self.room.notice(
            "the server is shutting down".into(),
            now_ms(),
            &mut self.out,
        );
        self.queue_outputs();
        self.send_runs();
        let bye = Event::Bye {
            code: "shutdown",
            reason: "server shutting down".into(),
        };
        self.send(
            Target::All,
            EventRef {
                room: self.room.id(),
                event: &bye,
                stamp: None,
                label: None,
                recipient: None,
            },
        );
        for (_, member) in self.members.drain() {
            member.outbox.close();
        }
        Flush::run_all(&mut self.wake, WRITE_THROUGH_PER_STEP);
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::json_format::JsonLines;

    fn format() -> Arc<dyn WireFormat> {
        let config = Config::new("lab", "host");
        Arc::new(JsonLines::new(crate::advertised_limits(&config)))
    }

    /// A hub of its own, and the way to stop it.
    struct TestHub {
        hub: Hub,
        format: Arc<dyn WireFormat>,
        tracker: TaskTracker,
        shutdown: CancellationToken,
    }

    impl TestHub {
        fn start() -> Self {
            let tracker = TaskTracker::new();
            let shutdown = CancellationToken::new();
            let hub = spawn(
                &Config::new("lab", "host"),
                &tracker,
                shutdown.clone(),
                None,
            );
            TestHub {
                hub,
                format: format(),
                tracker,
                shutdown,
            }
        }

        /// Joins as `name`, with a roomy outbox of their own.
        async fn join(&self, name: &str) -> (Membership, Outbox) {
            let outbox = Outbox::new(1 << 20);
            let member = self.hub.join(self.request(name, &outbox)).await;
            (member.unwrap().unwrap(), outbox)
        }

        fn request(&self, name: &str, outbox: &Outbox) -> JoinRequest {
            JoinRequest {
                history: false,
                resume: false,
                peer: None,
                door: "terminal",
                room: RoomId::MAIN,
                name: name.into(),
                label: None,
                outbox: outbox.clone(),
                format: self.format.clone(),
            }
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
            let command = lanchat_core::typed::parse(line).unwrap();
            test.hub.command(&alice, command, None).await.unwrap();
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
        let say = |text: &str| Command::Say { text: text.into() };
        hub.command(&alice, say("before"), None).await.unwrap();
        let bob_out = Outbox::new(1 << 20);
        let register = hub.join(test.request("bob", &bob_out));
        let after = async {
            tokio::task::yield_now().await;
            hub.command(&alice, say("after"), None).await.unwrap();
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

    /// A crowd joining one by one is announced together: each member
    /// already there gets the joins in one queue entry, after a short wait,
    /// and each newcomer gets only the joins after its own. Something said
    /// sends what waits at once, and keeps its place after the joins.
    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn a_crowd_joining_is_announced_together() {
        let test = TestHub::start();
        let (alice, alice_out) = test.join("alice").await;
        tokio::task::yield_now().await;
        texts(&alice_out);
        let mut crowd = Vec::new();
        for name in ["bob", "carol", "dave"] {
            crowd.push(test.join(name).await);
            // Each join in a step of its own.
            tokio::task::yield_now().await;
        }
        let mut queued = Vec::new();
        alice_out.drain_into(&mut queued);
        assert!(queued.is_empty(), "announced before the wait: {queued:?}");
        tokio::time::sleep(ANNOUNCE_WAIT).await;
        tokio::task::yield_now().await;
        alice_out.drain_into(&mut queued);
        assert_eq!(queued.len(), 1, "{queued:?}");
        let joined = |outbox: &Outbox| -> Vec<String> {
            texts(outbox)
                .iter()
                .filter_map(|f| serde_json::from_str::<serde_json::Value>(f).ok())
                .filter(|f| f["type"] == "joined")
                .filter_map(|f| f["name"].as_str().map(str::to_owned))
                .collect()
        };
        let lines = String::from_utf8_lossy(&queued[0]).into_owned();
        assert_eq!(lines.matches(r#""type":"joined""#).count(), 3, "{lines}");
        let [(_, bob_out), (_, carol_out), (_, dave_out)] = &crowd[..] else {
            unreachable!()
        };
        assert_eq!(joined(bob_out), ["carol", "dave"]);
        assert_eq!(joined(carol_out), ["dave"]);
        assert_eq!(joined(dave_out), Vec::<String>::new());
        // A join, then a message at once: both arrive now, in that order.
        let (_erin, _) = test.join("erin").await;
        let say = Command::Say { text: "hi".into() };
        test.hub.command(&alice, say, None).await.unwrap();
        tokio::task::yield_now().await;
        let seen = texts(&alice_out).concat();
        let (erin, hi) = (seen.find("erin"), seen.find(r#""text":"hi""#));
        assert!(erin.is_some() && hi.is_some() && erin < hi, "{seen}");
        test.stop().await;
    }

    /// A crowd leaving at once costs each member left one write, not one
    /// per departure.
    #[tokio::test(flavor = "current_thread", start_paused = true)]
    async fn a_crowd_leaving_is_announced_together() {
        let test = TestHub::start();
        let (_alice, alice_out) = test.join("alice").await;
        let mut crowd = Vec::new();
        for i in 0..50 {
            crowd.push(test.join(&format!("c{i}")).await);
        }
        tokio::time::sleep(ANNOUNCE_WAIT).await;
        tokio::task::yield_now().await;
        texts(&alice_out);
        drop(crowd);
        tokio::task::yield_now().await;
        tokio::time::sleep(ANNOUNCE_WAIT).await;
        tokio::task::yield_now().await;
        let mut queued = Vec::new();
        alice_out.drain_into(&mut queued);
        let lines: String = queued.iter().map(|b| String::from_utf8_lossy(b)).collect();
        assert_eq!(lines.matches(r#""type":"left""#).count(), 50, "{lines}");
        assert_eq!(queued.len(), 1, "{lines}");
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
        // Announcements come in runs: read lines, not queue entries.
        let mut seen = String::new();
        let read = async {
            while !seen.contains(r#"{"type":"left""#) {
                watcher.ready().await;
                let mut frames = Vec::new();
                watcher.drain_into(&mut frames);
                seen.extend(frames.iter().map(|f| String::from_utf8_lossy(f)));
            }
        };
        // A deadline, so that a departure never announced fails the test
        // instead of hanging it.
        let announced = tokio::time::timeout(Duration::from_secs(10), read).await;
        assert!(announced.is_ok(), "no departure announced: {seen}");
        let left = seen
            .lines()
            .find(|l| l.starts_with(r#"{"type":"left""#))
            .unwrap_or_default();
        assert!(
            left.contains(r#""name":"doomed","reason":"dropped"}"#),
            "{left}"
        );
        test.stop().await;
    }
}
