//! The TUI's IO loop: terminal input, the network and timers become
//! [`Event`]s for the [`App`]; the app's [`Effect`]s become network writes,
//! connections and the bell. Redraws are coalesced to at most one per
//! frame interval however fast messages arrive.

use std::future::Future;
use std::io::Write;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use crossterm::event::{Event as TermEvent, EventStream};
use futures_util::StreamExt;
use lanchat_proto::{ClientFrame, Limits, ServerFrame};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::{sleep_until, Instant, MissedTickBehavior};

use crate::chat_log::ChatLog;
use crate::clock::{self, Moment};
use crate::connection::{
    come_back, resume_window, Connection, FrameReader, FrameWriter, Heard, Silence, ANSWER_TIMEOUT,
    CLIENT_CAPS, RECONNECT_FIRST, RECONNECT_MAX,
};
use crate::error::ClientError;
use crate::gather::Gather;
use crate::pacer::Pacer;
use crate::trust::Trust;
use crate::tui::app::{App, Bell, Effect, Exit, Link, COMMANDS_LABEL};
use crate::tui::event::Event;
use crate::tui::{terminal, ui};
use lanchat_proto::pake::Passphrase;

/// The shortest time between two redraws (about 60 a second).
const FRAME: Duration = Duration::from_millis(16);

/// How long to wait for the server's goodbye after leaving.
const QUIT_GRACE: Duration = Duration::from_secs(1);

/// How long a best-effort goodbye may take when we are killed.
const SIGNAL_GRACE: Duration = Duration::from_millis(200);

/// Most network events applied before a redraw gets its turn.
const BATCH: usize = 2000;

/// A list of rooms as (label to show, address to connect to, fingerprint
/// the discovery answer announced), or why there are none.
pub type Rooms = Result<Vec<(String, String, Option<String>)>, String>;

/// How the session begins.
pub enum Start {
    /// Already connected (`--server`, or the remembered server answered).
    Connected(Box<Connection>),
    /// Rooms must be found first; the future finds them.
    Find(Pin<Box<dyn Future<Output = Rooms> + Send>>),
}

/// Options for the TUI.
#[derive(Debug)]
pub struct TuiOptions {
    /// The name to try first; without it, the user is asked in the TUI.
    pub name: Option<String>,
    /// Where to append the conversation (`--log`), if anywhere.
    pub log: Option<ChatLog>,
    /// How times are shown (`--timestamps`, already checked).
    pub timestamps: Option<String>,
    /// The pins and the passphrase every connection is held to.
    pub trust: Arc<Trust>,
}

/// The most lines kept while reconnecting.
const MAX_DELAYED: usize = 1000;

/// What the background tasks report.
enum Incoming {
    App(Event),
    Connected(Result<Connection, ClientError>),
    Found(Rooms),
    /// The connection ended, and why (the runner may come back).
    Lost(String),
    /// Back after a loss, on this connection (resumed, or joined afresh).
    Resumed {
        conn: Connection,
        fresh: bool,
    },
}

/// Runs the TUI until the user leaves (`Ok`) or the connection is lost or
/// cannot be made (`Err`). The terminal is restored before it returns.
pub async fn run(start: Start, options: TuiOptions) -> Result<(), ClientError> {
    let (mut terminal, guard) = terminal::enter()?;
    let mut session = Session::new(options);
    let result = session.run(&mut terminal, start).await;
    drop(guard);
    result
}

struct Session {
    app: App,
    tx: mpsc::Sender<Incoming>,
    rx: mpsc::Receiver<Incoming>,
    tasks: JoinSet<()>,
    writer: Option<Writer>,
    rooms: Vec<(String, String, Option<String>)>,
    addr: Option<String>,
    /// A name to send as soon as we are connected.
    pending_name: Option<String>,
    /// Lines sent so far, for their labels.
    sent: u64,
    /// The conversation log (`--log`), while it can be written.
    log: Option<ChatLog>,
    /// Ends the session if a `join` goes unanswered (a server that greets
    /// and then says nothing must not leave the user waiting forever).
    answer_timer: Option<tokio::task::AbortHandle>,
    /// Ctrl-L: clear the terminal before the next draw.
    clear: bool,
    /// The token to come back with after a connection loss, and for how
    /// long, while the server offers it.
    resume: Option<(String, Duration)>,
    /// The id of the last room event received.
    last_id: u64,
    /// Lines typed while reconnecting, sent once back.
    delayed: Vec<ClientFrame>,
    /// The window title last set.
    title: String,
    /// The pins and passphrase every connection is held to.
    trust: Arc<Trust>,
    /// The key the discovery answer for `addr` announced, if any.
    announced: Option<String>,
}

impl Session {
    fn new(options: TuiOptions) -> Self {
        let (tx, rx) = mpsc::channel(4096);
        let mut app = App::new();
        app.default_name = crate::memory::last_name();
        app.history = crate::memory::history();
        if let Some(bell) = crate::memory::bell().as_deref().and_then(Bell::parse) {
            app.bell = bell;
        }
        if let Some(format) = options.timestamps {
            app.time_format = format;
        }
        app.offset = clock::local_offset();
        Session {
            app,
            tx,
            rx,
            tasks: JoinSet::new(),
            writer: None,
            rooms: Vec::new(),
            addr: None,
            pending_name: options.name,
            sent: 0,
            answer_timer: None,
            log: options.log,
            clear: false,
            title: String::new(),
            resume: None,
            last_id: 0,
            delayed: Vec::new(),
            trust: options.trust,
            announced: None,
        }
    }

    async fn run(&mut self, terminal: &mut terminal::Tui, start: Start) -> Result<(), ClientError> {
        let mut input = EventStream::new();
        let mut frames = tokio::time::interval(FRAME);
        frames.set_missed_tick_behavior(MissedTickBehavior::Skip);
        let mut signals = Signals::new();
        if let Ok(size) = terminal.size() {
            self.apply(Event::Resize {
                width: size.width,
                height: size.height,
            })
            .await;
        }
        match start {
            Start::Connected(conn) => self.attach(*conn).await,
            Start::Find(find) => {
                self.apply(Event::Searching).await;
                let tx = self.tx.clone();
                self.tasks.spawn(async move {
                    let _ = tx.send(Incoming::Found(find.await)).await;
                });
            }
        }
        let mut dirty = true;
        let mut quit_deadline: Option<Instant> = None;
        loop {
            if let Some(exit) = self.app.exit.clone() {
                return self.finish(exit).await;
            }
            if self.app.quitting && quit_deadline.is_none() {
                quit_deadline = Some(Instant::now() + QUIT_GRACE);
            }
            tokio::select! {
                event = input.next() => match event {
                    Some(Ok(event)) => {
                        if let Some(event) = from_terminal(event) {
                            self.apply(event).await;
                            dirty = true;
                        }
                    }
                    // The terminal is gone (closed window): leave.
                    Some(Err(_)) | None => self.app.exit = Some(Exit::Quit),
                },
                Some(incoming) = self.rx.recv() => {
                    self.incoming(incoming).await?;
                    // Apply what else is waiting before drawing once.
                    for _ in 0..BATCH {
                        match self.rx.try_recv() {
                            Ok(more) => self.incoming(more).await?,
                            Err(_) => break,
                        }
                    }
                    dirty = true;
                }
                _ = frames.tick(), if dirty => {
                    if std::mem::take(&mut self.clear) {
                        terminal.clear()?;
                    }
                    terminal.draw(|f| ui::render(&self.app, f))?;
                    let title = self.app.title();
                    if title != self.title {
                        terminal::set_title(&title);
                        self.title = title;
                    }
                    dirty = false;
                }
                _ = signals.next() => self.apply(Event::Terminate).await,
                _ = sleep_until(quit_deadline.unwrap_or_else(Instant::now)), if quit_deadline.is_some() => {
                    self.app.exit = Some(Exit::Quit);
                }
            }
        }
    }

    async fn incoming(&mut self, incoming: Incoming) -> Result<(), ClientError> {
        match incoming {
            Incoming::App(event) => self.apply(event).await,
            Incoming::Connected(Ok(conn)) => self.attach(conn).await,
            Incoming::Connected(Err(ClientError::PassphraseNeeded { room })) => {
                self.app.ask_passphrase(Moment::now(), &room, None);
            }
            Incoming::Connected(Err(
                e @ (ClientError::FakeRoom { .. } | ClientError::WrongPassphrase { .. }),
            )) => {
                self.trust.set_passphrase(None);
                let room = match &e {
                    ClientError::FakeRoom { room, .. } | ClientError::WrongPassphrase { room } => {
                        room.clone()
                    }
                    _ => String::new(),
                };
                self.app
                    .ask_passphrase(Moment::now(), &room, Some(&e.to_string()));
            }
            Incoming::Connected(Err(e)) => return Err(e),
            Incoming::Found(Ok(rooms)) if rooms.len() == 1 => {
                self.rooms = rooms;
                self.connect(0);
            }
            Incoming::Found(Ok(rooms)) if !rooms.is_empty() => {
                let labels = rooms.iter().map(|(label, ..)| label.clone()).collect();
                self.rooms = rooms;
                self.apply(Event::Rooms(labels)).await;
            }
            Incoming::Lost(why) => self.lost(why),
            Incoming::Resumed { conn, fresh } => {
                let Connection { reader, writer, .. } = conn;
                self.start_io(reader, writer);
                let delayed = self.delayed.len();
                self.apply(Event::Reconnected { fresh, delayed }).await;
                for frame in std::mem::take(&mut self.delayed) {
                    self.send(frame).await;
                }
            }
            Incoming::Found(Ok(_)) => return Err(ClientError::NothingFound(String::new())),
            Incoming::Found(Err(why)) => return Err(ClientError::NothingFound(why)),
        }
        Ok(())
    }

    /// Hands an event to the app and carries out what it asks for.
    async fn apply(&mut self, event: Event) {
        if let (Event::Server(frame), Some(log)) = (&event, &mut self.log) {
            let me = self.app.me.clone().unwrap_or_default();
            if let Err(error) = log.record(frame, &me) {
                tracing::warn!(%error, "the chat log could not be written; going on without it");
                self.log = None;
            }
        }
        if let Event::Server(ServerFrame::Welcome { name, .. }) = &event {
            crate::memory::remember_name(name);
        }
        // A restart: the connection's end brings the reconnection; the
        // app is not told the server said goodbye.
        if let Event::Server(ServerFrame::Bye { code, .. }) = &event {
            if code == "shutdown" && self.resume.is_some() && !self.app.quitting {
                return;
            }
        }
        let mut event = event;
        // Back after a restart: what we saw already is not shown twice.
        if let Event::Server(ServerFrame::History { events, .. }) = &mut event {
            events.retain(|e| e.id() > self.last_id);
        }
        if let Event::Server(frame) = &event {
            self.last_id = self.last_id.max(frame.id());
            if let ServerFrame::Resumable { token, grace } = frame {
                let grace = resume_window(*grace);
                self.resume = Some((token.clone(), grace));
            }
        }
        if let (Event::Server(ServerFrame::Welcome { limits, .. }), Some(writer)) =
            (&event, &self.writer)
        {
            let _ = writer.limits.send(*limits);
        }
        if matches!(
            event,
            Event::Server(ServerFrame::Welcome { .. } | ServerFrame::NameRejected { .. })
        ) {
            if let Some(timer) = self.answer_timer.take() {
                timer.abort();
            }
        }
        self.app.offset = clock::local_offset();
        for effect in self.app.handle(event, Moment::now()) {
            match effect {
                Effect::Send(text) => {
                    // Labelled, so the server's echo of it is known to be ours.
                    self.sent += 1;
                    let label = Some(format!("t{}", self.sent));
                    self.send(ClientFrame::Input { text, label }).await
                }
                Effect::FetchCommands => {
                    let text = "/commands".into();
                    let label = Some(COMMANDS_LABEL.to_owned());
                    self.send(ClientFrame::Input { text, label }).await
                }
                Effect::Join(name) => {
                    if self.app.link == Link::Connected && self.writer.is_some() {
                        self.send_join(name).await;
                    } else if let Some(addr) = self.addr.clone() {
                        self.pending_name = Some(name);
                        self.spawn_connect(addr, None);
                    }
                }
                Effect::PickRoom(i) => self.connect(i),
                Effect::Passphrase(text) => {
                    let passphrase = Passphrase::from_file_text(text.as_bytes());
                    self.trust.set_passphrase(passphrase);
                    if let Some(addr) = self.addr.clone() {
                        let announced = self.announced.clone();
                        self.spawn_connect(addr, announced);
                    }
                }
                Effect::Bell => {
                    let mut out = std::io::stdout();
                    let _ = out.write_all(b"\x07");
                    let _ = out.flush();
                }
                Effect::Redraw => self.clear = true,
                Effect::MouseCapture(on) => terminal::mouse_capture(on),
            }
        }
    }

    /// Asks for `name`, and gives the server [`ANSWER_TIMEOUT`] to answer.
    async fn send_join(&mut self, name: String) {
        self.send(join(name)).await;
        if let Some(timer) = self.answer_timer.take() {
            timer.abort();
        }
        let tx = self.tx.clone();
        let timer = self.tasks.spawn(async move {
            tokio::time::sleep(ANSWER_TIMEOUT).await;
            let why = format!(
                "the server did not answer within {} s",
                ANSWER_TIMEOUT.as_secs()
            );
            let _ = tx.send(Incoming::App(Event::Lost(why))).await;
        });
        self.answer_timer = Some(timer);
    }

    async fn send(&mut self, frame: ClientFrame) {
        if self.app.link != Link::Connected && matches!(frame, ClientFrame::Input { .. }) {
            // Reconnecting: sent once back, in order.
            if let Link::Reconnecting(_) = self.app.link {
                if self.delayed.len() < MAX_DELAYED {
                    self.delayed.push(frame);
                }
                return;
            }
        }
        if let Some(writer) = &self.writer {
            match frame {
                ClientFrame::Input { .. } => {
                    let _ = writer.paced.send(frame);
                }
                frame => {
                    let _ = writer.urgent.send(frame).await;
                }
            }
        }
    }

    fn connect(&mut self, i: usize) {
        if let Some((_, addr, announced)) = self.rooms.get(i).cloned() {
            self.spawn_connect(addr, announced);
        }
    }

    fn spawn_connect(&mut self, addr: String, announced: Option<String>) {
        self.addr = Some(addr.clone());
        self.announced = announced.clone();
        let (tx, trust) = (self.tx.clone(), self.trust.clone());
        self.tasks.spawn(async move {
            let limit = crate::connection::CONNECT_TIMEOUT;
            let conn =
                Connection::connect_addr_within(&addr, limit, &trust, announced.as_deref()).await;
            let _ = tx.send(Incoming::Connected(conn)).await;
        });
    }

    /// Starts reading and writing on a new connection, and registers the
    /// pending name or asks for one.
    async fn attach(&mut self, conn: Connection) {
        let Connection {
            greeting,
            addr,
            reader,
            writer,
            fingerprint,
            verdict,
            ..
        } = conn;
        crate::memory::remember(&addr, &greeting);
        self.addr = Some(addr.clone());
        self.start_io(reader, writer);
        self.apply(Event::Connected {
            room: greeting.room,
            addr,
            security: verdict.describe(&fingerprint),
            badge: verdict.badge(&fingerprint),
        })
        .await;
        match self.pending_name.take() {
            Some(name) => self.send_join(name).await,
            None if self.app.me.is_none() => {
                self.app.ask_name(Moment::now(), None);
            }
            None => {}
        }
    }

    /// The connection was lost: come back if the server said we may (and
    /// we are in the room, and not leaving), else say so.
    fn lost(&mut self, why: String) {
        let resume = self.resume.take();
        let (Some((token, grace)), Some(addr), Some(me)) =
            (resume, self.addr.clone(), self.app.me.clone())
        else {
            return self.queue_event(Event::Lost(why));
        };
        if self.app.quitting || self.app.exit.is_some() {
            return self.queue_event(Event::Lost(why));
        }
        self.writer = None;
        let (tx, last_id, trust) = (self.tx.clone(), self.last_id, self.trust.clone());
        self.tasks.spawn(async move {
            let report = |event| {
                let tx = tx.clone();
                async move { tx.send(Incoming::App(event)).await.is_ok() }
            };
            let give_up = Instant::now() + grace;
            let mut pause = RECONNECT_FIRST;
            for attempt in 1u32.. {
                if Instant::now() >= give_up || !report(Event::Reconnecting { attempt }).await {
                    break;
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(RECONNECT_MAX);
                if let Some((conn, fresh)) = come_back(&trust, &addr, &token, last_id, &me).await {
                    let _ = tx.send(Incoming::Resumed { conn, fresh }).await;
                    return;
                }
            }
            let _ = report(Event::Lost(why)).await;
        });
    }

    /// Hands `event` to the app on the next turn of the loop.
    fn queue_event(&mut self, event: Event) {
        let tx = self.tx.clone();
        self.tasks.spawn(async move {
            let _ = tx.send(Incoming::App(event)).await;
        });
    }

    /// Starts the reader and writer tasks of a connection.
    fn start_io(&mut self, mut reader: FrameReader, mut writer: FrameWriter) {
        let (urgent, mut urgent_rx) = mpsc::channel::<ClientFrame>(256);
        let (paced, mut paced_rx) = mpsc::unbounded_channel::<ClientFrame>();
        let (limits, mut limits_rx) = watch::channel::<Option<Limits>>(None);
        self.tasks.spawn(async move {
            // Typed lines go out at the server's pace (a long paste is
            // never held back long enough to be kicked); pongs, joins and
            // goodbyes go at once, ahead of them.
            let mut pacer = Pacer::new(None, Instant::now());
            let mut next: Option<ClientFrame> = None;
            loop {
                let send_at = pacer.ready_at(Instant::now());
                let frame = tokio::select! {
                    biased;
                    frame = urgent_rx.recv() => match frame {
                        Some(frame) => frame,
                        None => break,
                    },
                    Ok(()) = limits_rx.changed() => {
                        pacer = Pacer::new(limits_rx.borrow().as_ref(), Instant::now());
                        continue;
                    }
                    _ = sleep_until(send_at), if next.is_some() => {
                        pacer.sent(Instant::now());
                        match next.take() {
                            Some(frame) => frame,
                            None => continue,
                        }
                    }
                    frame = paced_rx.recv(), if next.is_none() => match frame {
                        Some(frame) => {
                            next = Some(frame);
                            continue;
                        }
                        None => break,
                    },
                };
                if writer.send(&frame).await.is_err() {
                    break;
                }
            }
            writer.close().await;
        });
        let wtx = Writer {
            urgent,
            paced,
            limits,
        };
        let (tx, pong) = (self.tx.clone(), wtx.urgent.clone());
        self.tasks.spawn(async move {
            let mut gather = Gather::default();
            let mut heard = Heard::new(Instant::now());
            let lost = loop {
                let frame = tokio::select! {
                    frame = reader.next() => heard.got(frame, Instant::now()),
                    // A server that went silent is asked; one that stays
                    // silent is gone (a link that died without a word).
                    _ = sleep_until(heard.next_check()) => match heard.check(Instant::now()) {
                        Silence::Ask(token) => {
                            let _ = pong.send(ClientFrame::Ping { token }).await;
                            continue;
                        }
                        Silence::Gone => break "the server stopped answering".to_owned(),
                        Silence::Fine => continue,
                    },
                };
                match frame {
                    Ok(Some(ServerFrame::Ping { token })) => {
                        let _ = pong.send(ClientFrame::Pong { token }).await;
                    }
                    Ok(Some(frame)) => {
                        let Some(frame) = gather.gather(frame) else {
                            continue;
                        };
                        if tx.send(Incoming::App(Event::Server(frame))).await.is_err() {
                            return;
                        }
                    }
                    Ok(None) => break "the server closed the connection".to_owned(),
                    Err(e) => break crate::error::describe(&e),
                }
            };
            let _ = tx.send(Incoming::Lost(lost)).await;
        });
        self.writer = Some(wtx);
    }

    /// Leaves: a best-effort goodbye if we were killed, then the result.
    async fn finish(&mut self, exit: Exit) -> Result<(), ClientError> {
        // Kept for the next run.
        crate::memory::save_history(&self.app.history);
        crate::memory::save_bell(self.app.bell.as_str());
        if !self.app.quitting && self.app.link == Link::Connected {
            if let Some(writer) = &self.writer {
                let bye = writer.urgent.send(ClientFrame::Input {
                    text: "/x".into(),
                    label: None,
                });
                let _ = tokio::time::timeout(SIGNAL_GRACE, bye).await;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        self.tasks.abort_all();
        match exit {
            Exit::Quit => Ok(()),
            Exit::Lost(reason) => Err(ClientError::Disconnected(reason)),
        }
    }
}

/// The way to the connection's writer task.
struct Writer {
    /// Frames sent at once (pongs, joins, goodbyes).
    urgent: mpsc::Sender<ClientFrame>,
    /// Typed lines, sent at the server's pace.
    paced: mpsc::UnboundedSender<ClientFrame>,
    /// The server's limits, once the welcome says them.
    limits: watch::Sender<Option<Limits>>,
}

/// A `join` frame announcing what this client understands.
fn join(name: String) -> ClientFrame {
    ClientFrame::Join {
        name,
        caps: CLIENT_CAPS.iter().map(|c| (*c).to_owned()).collect(),
        label: None,
    }
}

fn from_terminal(event: TermEvent) -> Option<Event> {
    Some(match event {
        TermEvent::Key(key) => Event::Key(key),
        TermEvent::Paste(text) => Event::Paste(text),
        TermEvent::Mouse(mouse) => Event::Mouse(mouse),
        TermEvent::Resize(width, height) => Event::Resize { width, height },
        TermEvent::FocusGained => Event::Focus(true),
        TermEvent::FocusLost => Event::Focus(false),
    })
}

/// SIGTERM and SIGHUP (a closed terminal window), as one stream.
struct Signals {
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    hup: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn new() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Signals {
                term: signal(SignalKind::terminate()).ok(),
                hup: signal(SignalKind::hangup()).ok(),
            }
        }
        #[cfg(not(unix))]
        Signals {}
    }

    async fn next(&mut self) {
        #[cfg(unix)]
        {
            let term = async {
                match &mut self.term {
                    Some(s) => s.recv().await,
                    None => std::future::pending().await,
                }
            };
            let hup = async {
                match &mut self.hup {
                    Some(s) => s.recv().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = term => {}
                _ = hup => {}
            }
        }
        #[cfg(not(unix))]
        std::future::pending::<()>().await
    }
}
