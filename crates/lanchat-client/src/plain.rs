//! The line-based front end (`lanchat --plain`): a contract for scripts,
//! pipes and screen readers.
//!
//! - Each input line is sent exactly as a user would type it.
//! - Each event is printed as one line, starting with a marker that chat
//!   text cannot forge: `<name> text` for room messages, `[whisper from
//!   NAME]` and `[whisper to NAME]` for whispers, `***` for notices from the
//!   room and server, `!!!` for errors.
//! - Prompts and diagnostics go to stderr, never stdout.
//! - End of input leaves the room cleanly, like `/x`.

use std::collections::VecDeque;
use std::io::Write;
use std::time::Duration;

use lanchat_proto::{ClientFrame, Limits, ServerFrame};
use tokio::sync::mpsc;
use tokio::time::{sleep_until, Instant};

use crate::chat_log::ChatLog;
use crate::clock::{self, Moment};
use crate::connection::{
    come_back, resume_window, Connection, Heard, Registration, Silence, RECONNECT_FIRST,
    RECONNECT_MAX,
};
use crate::display::{departure, held, inert};
use crate::error::ClientError;
use crate::gather::Gather;
use crate::pacer::Pacer;

/// How long to wait for the server's goodbye after `/x` before leaving anyway.
const QUIT_GRACE: Duration = Duration::from_secs(1);

/// How the plain front end behaves.
#[derive(Debug, Default)]
pub struct PlainOptions {
    /// The name to try first; without it, the user is asked.
    pub name: Option<String>,
    /// Whether to colour names and markers (only for a terminal, and never
    /// with `NO_COLOR`).
    pub color: bool,
    /// Where to append the conversation (`--log`), if anywhere.
    pub log: Option<ChatLog>,
    /// When set (`--timestamps`, already checked), every line starts with
    /// its time in this strftime format: the server's, else its arrival.
    pub timestamps: Option<String>,
}

/// Registers a name, then relays lines between `input` and the room until
/// the user quits (`Ok`) or the server goes away (`Err`).
pub async fn run(
    conn: Connection,
    options: PlainOptions,
    mut input: mpsc::Receiver<String>,
    out: &mut dyn Write,
    diag: &mut dyn Write,
) -> Result<(), ClientError> {
    let style = Style {
        color: options.color,
    };
    let joined = choose_name(conn, options.name, &mut input, diag).await?;
    print(
        out,
        &welcome_line(&joined.me, &joined.room, &joined.users, &style),
    );
    let pacer = Pacer::new(joined.limits.as_ref(), Instant::now());
    let mut log = options.log;
    let addr = joined.conn.addr.clone();
    if let Some(log) = &mut log {
        let welcome = welcome_line(
            &joined.me,
            &joined.room,
            &joined.users,
            &Style { color: false },
        );
        let _ = log.line(None, &welcome);
    }
    let show = Show {
        me: &joined.me,
        style: &style,
        timestamps: options.timestamps.as_deref(),
    };
    let mut relay = Relay {
        pacer,
        input,
        log,
        input_open: true,
        waiting: VecDeque::new(),
        sent: 0,
        quit_deadline: None,
        resume: None,
        last_id: 0,
        trust: joined.conn.trust.clone(),
    };
    let mut conn = joined.conn;
    let chatted = loop {
        let lost = match relay.chat(&mut conn, &show, out).await {
            Err(e @ (ClientError::Closed | ClientError::Io(_))) => e,
            done => break done,
        };
        // The connection is lost, not closed by anybody: come back if the
        // server said we may.
        let Some(resume) = relay.resume.clone() else {
            break Err(lost);
        };
        match relay
            .reconnect(&addr, &resume, &joined.me, &style, out)
            .await
        {
            Comeback::Back(again) => conn = *again,
            Comeback::Left => break Ok(()),
            Comeback::GaveUp => break Err(lost),
        }
    };
    if let Err(e) = &chatted {
        // The contract: losing the server is always said on stdout, once
        // (a `bye` has said it already).
        if !matches!(e, ClientError::Disconnected(_)) {
            let why = crate::error::describe(e);
            print(
                out,
                &format!("{} disconnected: {}", style.notice(), inert(&why)),
            );
        }
    }
    chatted
}

/// How the relay shows what arrives: to whom, in colour or not, and with
/// times or not.
struct Show<'a> {
    me: &'a str,
    style: &'a Style,
    timestamps: Option<&'a str>,
}

/// The relay between `input` and the room, kept across reconnections:
/// lines typed while the connection is down wait here.
struct Relay {
    pacer: Pacer,
    input: mpsc::Receiver<String>,
    log: Option<ChatLog>,
    input_open: bool,
    /// Lines read and not yet sent: a paste goes out at the server's pace.
    /// Input is read only while few wait, so a pipe feels the pace too.
    waiting: VecDeque<String>,
    /// Lines sent, for their labels.
    sent: u64,
    quit_deadline: Option<Instant>,
    /// The token to come back with, and for how long, if the server gave
    /// one.
    resume: Option<(String, Duration)>,
    /// The id of the last room event received.
    last_id: u64,
    /// What the first connection trusted; reconnects are held to it.
    trust: std::sync::Arc<crate::Trust>,
}

impl Relay {
    /// Relays lines between the input and the room until the user quits
    /// (`Ok`) or the connection ends (`Err`).
    async fn chat(
        &mut self,
        conn: &mut Connection,
        show: &Show<'_>,
        out: &mut dyn Write,
    ) -> Result<(), ClientError> {
        let &Show {
            me,
            style,
            timestamps,
        } = show;
        let mut list = Gather::default();
        let mut heard = Heard::new(Instant::now());
        loop {
            let send_at = self.pacer.ready_at(Instant::now());
            let quit_deadline = self.quit_deadline;
            tokio::select! {
                // A server that went silent (a link that died without a
                // word) is asked; one that stays silent is gone.
                _ = sleep_until(heard.next_check()) => {
                    match heard.check(Instant::now()) {
                        Silence::Ask(token) => conn.writer.send(&ClientFrame::Ping { token }).await?,
                        Silence::Gone => return Err(ClientError::Closed),
                        Silence::Fine => {}
                    }
                }
                line = self.input.recv(), if self.input_open && self.waiting.len() < MAX_WAITING => {
                    self.take(line);
                }
                _ = sleep_until(send_at), if quit_deadline.is_none() && !self.waiting.is_empty() => {
                    let Some(text) = self.waiting.pop_front() else { continue };
                    if is_quit(&text) {
                        self.quit_deadline = Some(Instant::now() + QUIT_GRACE);
                    }
                    // Labelled, so the server's echo of it is known to be ours.
                    self.sent += 1;
                    let label = Some(format!("p{}", self.sent));
                    self.pacer.sent(Instant::now());
                    if let Err(e) = conn.writer.send(&ClientFrame::Input { text: text.clone(), label }).await {
                        // Not sent: it goes first once we are back.
                        self.waiting.push_front(text);
                        return Err(e);
                    }
                }
                frame = conn.reader.next() => match heard.got(frame?, Instant::now()) {
                    None if quit_deadline.is_some() => return Ok(()),
                    None => return Err(ClientError::Closed),
                    Some(ServerFrame::Ping { token }) => {
                        conn.writer.send(&ClientFrame::Pong { token }).await?;
                    }
                    Some(ServerFrame::Bye { .. }) if quit_deadline.is_some() => return Ok(()),
                    // A restart: wait for the server to be back.
                    Some(ServerFrame::Bye { code, .. }) if code == "shutdown" && self.resume.is_some() => {
                        print(out, &format!("{} the server is shutting down; waiting for it to come back", style.notice()));
                        return Err(ClientError::Closed);
                    }
                    Some(ServerFrame::Bye { reason, .. }) => {
                        print(out, &format!("{} disconnected: {}", style.notice(), inert(&reason)));
                        return Err(ClientError::Disconnected(reason));
                    }
                    Some(ServerFrame::Resumable { token, grace }) => {
                        self.resume = Some((token, resume_window(grace)));
                    }
                    Some(ServerFrame::History { mut events, .. }) => {
                        // Back after a restart: what we saw already is
                        // not shown twice.
                        events.retain(|e| e.id() > self.last_id);
                        for line in earlier(&events, me, style, timestamps) {
                            print(out, &line);
                        }
                    }
                    Some(frame) => {
                        self.last_id = self.last_id.max(frame.id());
                        let Some(frame) = list.gather(frame) else { continue };
                        if let Some(file) = &mut self.log {
                            if let Err(error) = file.record(&frame, me) {
                                tracing::warn!(%error, "the chat log could not be written; going on without it");
                                self.log = None;
                            }
                        }
                        if let Some(line) = render(&frame, me, style) {
                            match timestamps {
                                Some(format) => {
                                    let at = frame.ts().and_then(Moment::from_ts);
                                    let at = at.unwrap_or_else(Moment::now);
                                    let time = clock::show(at, clock::local_offset(), format);
                                    print(out, &format!("{} {line}", inert(&time)));
                                }
                                None => print(out, &line),
                            }
                        }
                    }
                },
                _ = sleep_until(quit_deadline.unwrap_or_else(Instant::now)), if quit_deadline.is_some() => {
                    return Ok(());
                }
            }
        }
    }

    /// One line from the input (or its end).
    fn take(&mut self, line: Option<String>) {
        match line {
            Some(line) if line.trim().is_empty() => {}
            Some(line) => self.waiting.push_back(line),
            None => {
                self.input_open = false;
                self.waiting.push_back("/x".to_owned());
            }
        }
    }

    /// Comes back to the room at `addr` after losing the connection:
    /// attempts with backoff, each said on a `***` line, until the grace
    /// period is over. Lines typed meanwhile wait, and are sent once back.
    /// With the token refused (the name was let go), joins afresh as `me`.
    async fn reconnect(
        &mut self,
        addr: &str,
        (token, grace): &(String, Duration),
        me: &str,
        style: &Style,
        out: &mut dyn Write,
    ) -> Comeback {
        let notice = style.notice();
        let give_up = Instant::now() + *grace;
        let mut pause = RECONNECT_FIRST;
        for attempt in 1u32.. {
            if Instant::now() >= give_up {
                return Comeback::GaveUp;
            }
            print(
                out,
                &format!("{notice} connection lost; reconnecting (attempt {attempt})..."),
            );
            let wake = Instant::now() + pause;
            // Typing goes on while we wait; `/x` or the end of input stops.
            while Instant::now() < wake {
                tokio::select! {
                    line = self.input.recv(), if self.input_open && self.waiting.len() < MAX_WAITING => {
                        self.take(line);
                        if self.waiting.back().is_some_and(|l| is_quit(l)) {
                            return Comeback::Left;
                        }
                    }
                    _ = sleep_until(wake) => {}
                }
            }
            pause = (pause * 2).min(RECONNECT_MAX);
            let Some((conn, fresh)) = come_back(&self.trust, addr, token, self.last_id, me).await
            else {
                continue;
            };
            self.resume = None;
            let how = if fresh {
                "reconnected; joined the room again (the server had let the name go)"
            } else {
                "reconnected; back in the room"
            };
            print(out, &format!("{notice} {how}"));
            if !self.waiting.is_empty() {
                let n = self.waiting.len();
                print(
                    out,
                    &format!("{notice} sending {n} delayed line(s) typed while disconnected"),
                );
            }
            return Comeback::Back(Box::new(conn));
        }
        Comeback::GaveUp
    }
}

/// How a reconnection ended.
enum Comeback {
    /// Back in the room, on this connection.
    Back(Box<Connection>),
    /// The user left meanwhile (`/x`, or the end of input).
    Left,
    /// The grace period is over.
    GaveUp,
}

/// In the room: the connection, our name, the room's, who else is here and
/// the server's limits.
struct Joined {
    conn: Connection,
    me: String,
    room: String,
    users: Vec<String>,
    limits: Option<Limits>,
}

/// Lines read from the input and waiting to be sent, at most.
const MAX_WAITING: usize = 64;

/// Tries names until one is accepted: first `first`, then lines from
/// `input`. Prints the welcome. If the server closed the connection while
/// the user was thinking (registration has a deadline), reconnects once.
async fn choose_name(
    mut conn: Connection,
    first: Option<String>,
    input: &mut mpsc::Receiver<String>,
    diag: &mut dyn Write,
) -> Result<Joined, ClientError> {
    let mut candidate = first;
    let mut reconnected = false;
    let last = crate::memory::last_name();
    loop {
        let name = match candidate.take() {
            Some(name) => name,
            None => {
                // The last name used is the default: Enter takes it.
                match &last {
                    Some(last) => write!(diag, "name [{}]: ", inert(last)),
                    None => write!(diag, "name: "),
                }
                .ok();
                let _ = diag.flush();
                let typed = input.recv().await.ok_or(ClientError::NoName)?;
                match &last {
                    Some(last) if typed.trim().is_empty() => last.clone(),
                    _ => typed,
                }
            }
        };
        match conn.register(&name).await {
            Ok(Registration::Welcome {
                name,
                room,
                users,
                limits,
                ..
            }) => {
                crate::memory::remember_name(&name);
                return Ok(Joined {
                    conn,
                    me: name,
                    room,
                    users,
                    limits,
                });
            }
            Ok(Registration::Rejected { reason }) => {
                let _ = writeln!(
                    diag,
                    "lanchat: can't use that name: {reason}; choose another"
                );
                reconnected = false;
            }
            Err(ClientError::Closed | ClientError::Disconnected(_)) if !reconnected => {
                conn = Connection::connect_addr(&conn.addr, &conn.trust.clone()).await?;
                candidate = Some(name);
                reconnected = true;
            }
            Err(e) => return Err(e),
        }
    }
}

pub(crate) fn welcome_line(name: &str, room: &str, users: &[String], style: &Style) -> String {
    let others = if users.is_empty() {
        "nobody else yet".to_owned()
    } else {
        users
            .iter()
            .map(|u| style.name(u))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "{} Welcome to {}, {}! In the room: {}. Type /commands to see what you can do.",
        style.notice(),
        inert(room),
        style.name(name),
        others
    )
}

fn print(out: &mut dyn Write, line: &str) {
    // A closed stdout (e.g. `| head`) must not kill the session's goodbye.
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Whether a typed line is a request to leave (`/x`, `/quit`, `/exit`).
/// Both front ends use it to know that the goodbye that follows is ours.
pub fn is_quit(line: &str) -> bool {
    let word = line.split_whitespace().next().unwrap_or("");
    ["/x", "/quit", "/exit"].contains(&word.to_ascii_lowercase().as_str())
}

/// The earlier conversation (a `history` frame), one line per event, each
/// marked `[earlier TIME] ` with its original time (in the `--timestamps`
/// format, or `%H:%M`).
pub fn earlier(
    events: &[ServerFrame],
    me: &str,
    style: &Style,
    timestamps: Option<&str>,
) -> Vec<String> {
    let format = timestamps.unwrap_or(clock::DEFAULT_FORMAT);
    events
        .iter()
        .filter_map(|event| {
            let line = render(event, me, style)?;
            let time = match event.ts().and_then(Moment::from_ts) {
                Some(at) => clock::show(at, clock::local_offset(), format),
                None => "?".to_owned(),
            };
            Some(format!("[earlier {}] {line}", inert(&time)))
        })
        .collect()
}

/// One event as one line, or `None` for frames that print nothing.
pub fn render(frame: &ServerFrame, me: &str, style: &Style) -> Option<String> {
    let n = |name: &str| style.name(name);
    let t = |text: &str| inert(text).into_owned();
    let notice = style.notice();
    Some(match frame {
        // Several lines: see `earlier`.
        ServerFrame::History { .. } => return None,
        // For the connection, not for people.
        ServerFrame::Resumable { .. }
        | ServerFrame::Stored { .. }
        | ServerFrame::Pake { .. }
        | ServerFrame::PakeOk => return None,
        ServerFrame::Held { name, .. } => format!("{notice} {}", held(&n(name), false)),
        ServerFrame::Back { name, .. } => format!("{notice} {}", held(&n(name), true)),
        ServerFrame::Message {
            from,
            text,
            action: true,
            ..
        } => format!("* {} {}", n(from), t(text)),
        ServerFrame::Message { from, text, .. } => format!("<{}> {}", n(from), t(text)),
        ServerFrame::Ignoring { names, .. } => {
            format!("{} {}", style.notice(), crate::display::ignoring(names))
        }
        ServerFrame::Whois {
            name,
            since,
            door,
            away,
            address,
            ..
        } => format!(
            "{} {}",
            style.notice(),
            crate::display::whois(&n(name), since, door, address.as_deref(), away.as_deref())
        ),
        ServerFrame::Topic { topic, .. } if topic.is_empty() => {
            format!("{} no topic is set", style.notice())
        }
        ServerFrame::Topic {
            topic,
            by: Some(by),
            ..
        } => format!("{} {} set the topic: {}", style.notice(), n(by), t(topic)),
        ServerFrame::Topic { topic, .. } => format!("{} topic: {}", style.notice(), t(topic)),
        ServerFrame::Away {
            name,
            reason: Some(reason),
            ..
        } => format!("{} {} is away: {}", style.notice(), n(name), t(reason)),
        ServerFrame::Away { name, .. } => format!("{} {} is back", style.notice(), n(name)),
        ServerFrame::Renamed { from, to, .. } => {
            format!("{} {} is now known as {}", style.notice(), n(from), n(to))
        }
        // Our own whisper comes back with our label (from a revision 2
        // server), or at least with our name.
        ServerFrame::Whisper {
            from,
            to,
            text,
            label,
            ..
        } if label.is_some() || from == me => {
            format!("[whisper to {}] {}", n(to), t(text))
        }
        ServerFrame::Whisper { from, text, .. } => {
            format!("[whisper from {}] {}", n(from), t(text))
        }
        ServerFrame::Joined { name, .. } => format!("{notice} {} joined", n(name)),
        ServerFrame::Left { name, reason, .. } => {
            format!("{notice} {} {}", n(name), departure(*reason))
        }
        ServerFrame::Users { users, .. } => {
            let list: Vec<String> = users.iter().map(|u| n(u)).collect();
            let noun = if users.len() == 1 { "user" } else { "users" };
            format!("{notice} {} {noun}: {}", users.len(), list.join(", "))
        }
        ServerFrame::Commands { commands, .. } => {
            let list: Vec<String> = commands
                .iter()
                .map(|c| format!("{} - {}", t(&c.usage), t(&c.help)))
                .collect();
            format!("{notice} commands: {}", list.join("; "))
        }
        ServerFrame::Error { text, .. } => format!("{} {}", style.error(), t(text)),
        ServerFrame::Notice { text, .. } => format!("{notice} server: {}", t(text)),
        ServerFrame::NameRejected { reason, .. } => format!("{} {}", style.error(), t(reason)),
        ServerFrame::Welcome { .. }
        | ServerFrame::Bye { .. }
        | ServerFrame::Ping { .. }
        | ServerFrame::Pong { .. }
        | ServerFrame::Unknown => return None,
    })
}

/// Whether and how to colour output.
#[derive(Debug, Clone, Copy, Default)]
pub struct Style {
    pub color: bool,
}

impl Style {
    /// A name, made inert, in its own stable colour.
    pub fn name(&self, name: &str) -> String {
        let name = inert(name);
        if !self.color {
            return name.into_owned();
        }
        // FNV-1a: stable across runs and builds, unlike the std hasher.
        let hash = name.bytes().fold(0x811c9dc5u32, |h, b| {
            (h ^ u32::from(b)).wrapping_mul(0x01000193)
        });
        const COLOURS: [u8; 6] = [31, 32, 33, 34, 35, 36];
        format!(
            "\x1b[1;{}m{name}\x1b[0m",
            COLOURS[hash as usize % COLOURS.len()]
        )
    }

    fn notice(&self) -> &'static str {
        if self.color {
            "\x1b[2m***\x1b[0m"
        } else {
            "***"
        }
    }

    fn error(&self) -> &'static str {
        if self.color {
            "\x1b[1;31m!!!\x1b[0m"
        } else {
            "!!!"
        }
    }
}
