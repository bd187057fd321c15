//! The TUI's state and how events change it. No IO happens here: what must
//! be done outside (send a line, ring the bell, connect) comes back as
//! [`Effect`]s for the runner.

use std::collections::HashMap;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseEvent, MouseEventKind};
use lanchat_proto::ServerFrame;

use crate::clock::{self, Moment};
use crate::connection::MAX_USERS;
use crate::display::{departure, held, ignoring, inert, whois};
use crate::plain::is_quit;
use crate::tui::editor::Editor;
use crate::tui::event::Event;
use crate::tui::search::{self, Search, Step};
use crate::tui::transcript::{Kind, Transcript};
use crate::tui::users::UserList;

/// Most lines kept in the input history.
const HISTORY: usize = 500;

/// Lines scrolled per mouse wheel step.
const WHEEL_STEP: usize = 3;

/// Commands of this client itself, offered by Tab completion beside the
/// server's (which it learns from the server's `commands` answer).
pub const LOCAL_COMMANDS: &[&str] = &["/bell", "/clear", "/search"];

/// The label on the request for the command list made at welcome: its
/// answer fills Tab completion and is not shown.
pub const COMMANDS_LABEL: &str = "commands";

/// What the app is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Looking for rooms on the LAN.
    Searching,
    /// Several rooms were found: the user picks one.
    ChooseRoom { rooms: Vec<String>, selected: usize },
    /// Connecting or waiting for the server's answer.
    Connecting,
    /// The user types a name.
    AskName,
    /// The user types the room's passphrase (not shown).
    AskPassphrase,
    /// In the room.
    Chat,
}

/// The state of the connection, for the status bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    Connecting,
    Connected,
    /// Lost, and coming back: this attempt.
    Reconnecting(u32),
    Lost(String),
}

/// When to ring the terminal bell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bell {
    Off,
    /// On a message that mentions you, and on a whisper to you.
    Mentions,
    /// On every message from somebody else.
    All,
}

impl Bell {
    /// The setting as `/bell` takes it (and as it is saved).
    pub fn as_str(self) -> &'static str {
        match self {
            Bell::Off => "off",
            Bell::Mentions => "mentions",
            Bell::All => "all",
        }
    }

    /// A setting as `/bell` takes it.
    pub fn parse(word: &str) -> Option<Bell> {
        match word.to_ascii_lowercase().as_str() {
            "off" => Some(Bell::Off),
            "mentions" => Some(Bell::Mentions),
            "all" => Some(Bell::All),
            _ => None,
        }
    }
}

/// IO the runner must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Send a typed line to the room.
    Send(String),
    /// Ask for this name (connecting again first if the server gave up
    /// waiting).
    Join(String),
    /// Connect to the room at this index of the list shown.
    PickRoom(usize),
    /// Connect again, proving this passphrase.
    Passphrase(String),
    /// Ring the terminal bell.
    Bell,
    /// Ask the server for its commands, labelled [`COMMANDS_LABEL`], to
    /// complete them.
    FetchCommands,
    /// Clear the terminal and draw everything again (Ctrl-L).
    Redraw,
    /// Capture the mouse (the wheel scrolls), or not (the terminal's own
    /// selection works: select mode).
    MouseCapture(bool),
}

/// Why the app ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exit {
    /// The user left (`/x`, Ctrl-C twice, end of the session).
    Quit,
    /// The connection was lost.
    Lost(String),
}

/// Up to 20 names, made inert, then how many more: a notice line stays a
/// line even in a room of thousands.
fn some_names(users: &[String]) -> String {
    const SHOWN: usize = 20;
    let mut text = users
        .iter()
        .take(SHOWN)
        .map(|u| inert(u).into_owned())
        .collect::<Vec<_>>()
        .join(", ");
    if users.len() > SHOWN {
        text.push_str(&format!(" and {} more", users.len() - SHOWN));
    }
    text
}

/// Tab completion in progress: the candidates and the one shown.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Completion {
    /// Where the completed word starts in the input.
    start: usize,
    candidates: Vec<String>,
    index: usize,
}

/// Everything the UI shows.
#[derive(Debug, Clone)]
pub struct App {
    pub mode: Mode,
    pub link: Link,
    /// The room's name, once known.
    pub room: String,
    /// The server's address, once known.
    pub server: String,
    /// How the server's key stands, said on connecting.
    pub security: String,
    /// The same in a few words, for the status bar.
    pub badge: String,
    /// Our name in the room, once registered.
    pub me: Option<String>,
    /// The server echoes our labels (revision 2): a labelled event is ours,
    /// and an unlabelled one is not, whatever its sender's name says.
    pub labels: bool,
    /// Everyone in the room, sorted case-insensitively.
    pub users: UserList,
    /// The room's topic (empty: none), shown in the status bar.
    pub topic: String,
    /// The name offered at the name prompt (the last one used).
    pub default_name: Option<String>,
    /// What Ctrl-K cut last, for Ctrl-Y.
    pub killed: String,
    /// Who is away, and why (marked in the user list).
    pub away: HashMap<String, String>,
    pub transcript: Transcript,
    pub editor: Editor,
    /// How many entries the view is scrolled up from the newest.
    pub scroll: usize,
    /// Entries that arrived while scrolled up.
    pub unread: usize,
    /// The first entry not yet seen, while there is one.
    pub marker: Option<u64>,
    pub bell: Bell,
    /// Set when the app should end.
    pub exit: Option<Exit>,
    /// The terminal's height, for page-sized scrolling.
    pub height: u16,
    /// Lines sent, oldest first (kept between runs by the runner).
    pub history: Vec<String>,
    history_pos: Option<usize>,
    draft: String,
    completion: Option<Completion>,
    /// What Tab completes after a `/`: the server's commands and ours.
    pub commands: Vec<String>,
    /// A first Ctrl-C on an empty line; a second one quits.
    ctrl_c_armed: bool,
    /// We asked to leave; the server's goodbye (or its closing) ends us.
    pub quitting: bool,
    /// Select mode (Alt-M): no mouse capture, and the conversation alone,
    /// without borders or the user list, so a mouse selection copies
    /// only text.
    pub select: bool,
    /// Whether the terminal window has the focus (as far as we were told).
    pub focused: bool,
    /// Lines that arrived while the window was not focused.
    pub unseen: usize,
    /// The scrollback search under way (`/search`, Ctrl-R).
    pub search: Option<Search>,
    /// The local time zone's offset from UTC (kept current by the runner).
    pub offset: chrono::FixedOffset,
    /// How times are shown (`--timestamps`, strftime).
    pub time_format: String,
    /// Alt-T: every line shows its full time (date, seconds, zone).
    pub full_times: bool,
}

impl App {
    pub fn new() -> Self {
        App {
            mode: Mode::Connecting,
            link: Link::Connecting,
            room: String::new(),
            server: String::new(),
            security: String::new(),
            badge: String::new(),
            me: None,
            labels: false,
            users: UserList::default(),
            away: HashMap::new(),
            topic: String::new(),
            killed: String::new(),
            default_name: None,
            transcript: Transcript::default(),
            editor: Editor::default(),
            scroll: 0,
            unread: 0,
            marker: None,
            bell: Bell::Mentions,
            exit: None,
            height: 24,
            history: Vec::new(),
            history_pos: None,
            draft: String::new(),
            completion: None,
            commands: LOCAL_COMMANDS.iter().map(|c| (*c).to_owned()).collect(),
            ctrl_c_armed: false,
            quitting: false,
            select: false,
            focused: true,
            unseen: 0,
            search: None,
            offset: chrono::Offset::fix(&chrono::Utc),
            time_format: clock::DEFAULT_FORMAT.to_owned(),
            full_times: false,
        }
    }

    /// The terminal window's title: the room, and while the window is not
    /// focused, how many lines arrived since (`(3) lanchat: lab`).
    pub fn title(&self) -> String {
        let room = if self.room.is_empty() {
            "lanchat".to_owned()
        } else {
            let name: String = self.room.chars().take(64).collect();
            format!("lanchat: {name}")
        };
        if self.unseen > 0 {
            format!("({}) {room}", self.unseen)
        } else {
            room
        }
    }

    /// Applies one event. `now` is the time to stamp new lines with.
    pub fn handle(&mut self, event: Event, now: Moment) -> Vec<Effect> {
        let mut effects = Vec::new();
        if self.exit.is_some() {
            // Already ending: the first reason is the one the user sees.
            return effects;
        }
        match event {
            Event::Key(key) if key.kind != KeyEventKind::Release => {
                self.key(key, now, &mut effects)
            }
            Event::Key(_) => {}
            Event::Paste(text) => self.paste(&text),
            Event::Mouse(mouse) => self.mouse(mouse),
            Event::Resize { height, .. } => self.height = height,
            Event::Focus(focused) => {
                self.focused = focused;
                if focused {
                    self.unseen = 0;
                }
            }
            Event::Searching => {
                self.mode = Mode::Searching;
                self.notice(now, "Looking for rooms on the local network...".into());
            }
            Event::Rooms(rooms) => {
                self.notice(
                    now,
                    format!(
                        "Found {} rooms: choose one with ↑/↓ and Enter.",
                        rooms.len()
                    ),
                );
                self.mode = Mode::ChooseRoom { rooms, selected: 0 };
            }
            Event::Connected {
                room,
                addr,
                security,
                badge,
            } => {
                self.room = inert(&room).into_owned();
                self.server = addr;
                self.security = security;
                self.badge = badge;
                self.link = Link::Connected;
                if self.mode != Mode::AskName {
                    self.mode = Mode::Connecting;
                }
                self.notice(
                    now,
                    format!(
                        "Connected to room {} at {}: {}.",
                        self.room, self.server, self.security
                    ),
                );
            }
            Event::Server(frame) => self.server_frame(frame, now, &mut effects),
            Event::Lost(reason) => self.lost(reason, now),
            Event::Reconnecting { attempt } => {
                if attempt == 1 {
                    self.notice(now, "Connection lost; reconnecting...".into());
                }
                self.link = Link::Reconnecting(attempt);
            }
            Event::Reconnected { fresh, delayed } => {
                self.link = Link::Connected;
                let text = if fresh {
                    "Reconnected; the room had let your name go, so you joined afresh."
                } else {
                    "Reconnected; back in the room."
                };
                self.notice(now, text.into());
                if delayed > 0 {
                    let text =
                        format!("Sending {delayed} delayed line(s) typed while disconnected.");
                    self.notice(now, text);
                }
            }
            Event::Terminate => self.exit = Some(Exit::Quit),
        }
        effects
    }

    /// Asks for the passphrase of `room` (`why`: the last one failed).
    pub fn ask_passphrase(&mut self, now: Moment, room: &str, why: Option<&str>) {
        self.mode = Mode::AskPassphrase;
        self.editor.take();
        if let Some(why) = why {
            self.error(now, inert(why).into_owned());
        }
        self.notice(
            now,
            format!(
                "Room {} has a passphrase: type it and press Enter (it is not shown).",
                inert(room)
            ),
        );
    }

    /// Asks for a name (shown when the user gave none, or it was refused).
    pub fn ask_name(&mut self, now: Moment, why: Option<&str>) {
        self.mode = Mode::AskName;
        // The last name used is offered, ready to accept with Enter.
        if why.is_none() && self.editor.is_empty() {
            if let Some(name) = &self.default_name {
                self.editor.set(name.clone());
            }
        }
        match why {
            Some(why) => self.error(
                now,
                format!("Can't use that name: {}. Choose another.", inert(why)),
            ),
            None => {
                self.notice(now, "Choose a name and press Enter.".into());
                // The server gives a name 10 s; past that, Enter connects
                // again, so the prompt never looks broken.
                self.notice(
                    now,
                    "(The room waits 10 s for it; after that, Enter connects again.)".into(),
                );
            }
        }
    }

    fn lost(&mut self, reason: String, now: Moment) {
        if matches!(self.link, Link::Lost(_)) {
            // A goodbye followed by the connection closing: one event.
            return;
        }
        self.link = Link::Lost(reason.clone());
        if self.quitting {
            self.exit = Some(Exit::Quit);
            return;
        }
        match self.mode {
            // The server gives up on a connection that takes too long to
            // pick a name; the next attempt reconnects.
            Mode::AskName | Mode::AskPassphrase | Mode::ChooseRoom { .. } | Mode::Searching => {
                self.notice(
                    now,
                    format!("The server closed the connection: {}", inert(&reason)),
                );
            }
            Mode::Connecting | Mode::Chat => self.exit = Some(Exit::Lost(reason)),
        }
    }

    fn server_frame(&mut self, frame: ServerFrame, now: Moment, effects: &mut Vec<Effect>) {
        // A room event is shown at the server's time when it says.
        let now = frame.ts().and_then(Moment::from_ts).unwrap_or(now);
        match frame {
            ServerFrame::History { events, more } => {
                // Shown as they were, at their own times, without bells.
                let mut quiet = Vec::new();
                for event in events {
                    self.server_frame(event, now, &mut quiet);
                }
                if !more {
                    self.push(now, Kind::Separator, "earlier conversation above".into());
                }
            }
            ServerFrame::Welcome {
                name,
                room,
                users,
                caps,
                ..
            } => {
                self.labels = caps.iter().any(|c| c == "labels");
                if self.labels {
                    effects.push(Effect::FetchCommands);
                }
                self.me = Some(name.clone());
                self.room = inert(&room).into_owned();
                let others = if users.is_empty() {
                    "nobody else yet".to_owned()
                } else {
                    some_names(&users)
                };
                self.away.clear();
                if self.users.replace(users).is_err() || self.users.insert(name.clone()).is_err() {
                    return self.too_many_users();
                }
                self.mode = Mode::Chat;
                self.notice(
                    now,
                    format!(
                        "Welcome to {}, {}! In the room: {others}. Type /commands to see what you can do.",
                        self.room,
                        inert(&name)
                    ),
                );
            }
            ServerFrame::NameRejected { reason, .. } => self.ask_name(now, Some(&reason)),
            ServerFrame::Resumable { .. }
            | ServerFrame::Stored { .. }
            | ServerFrame::Pake { .. }
            | ServerFrame::PakeOk => {}
            ServerFrame::Held { name, .. } => self.notice(now, held(&inert(&name), false)),
            ServerFrame::Back { name, .. } => self.notice(now, held(&inert(&name), true)),
            ServerFrame::Joined { name, .. } => {
                self.notice(now, format!("{} joined", inert(&name)));
                if self.users.insert(name).is_err() {
                    self.too_many_users();
                }
            }
            ServerFrame::Ignoring { names, .. } => self.notice(now, ignoring(&names)),
            ServerFrame::Whois {
                name,
                since,
                door,
                away,
                address,
                ..
            } => {
                let since = match Moment::from_ts(&since) {
                    Some(at) => clock::show(at, self.offset, &self.time_format),
                    None => since,
                };
                let (address, away) = (address.as_deref(), away.as_deref());
                let line = whois(&inert(&name), &since, &door, address, away);
                self.notice(now, line);
            }
            ServerFrame::Topic { topic, by, .. } => {
                let line = match (&by, topic.is_empty()) {
                    (_, true) => "no topic is set".to_owned(),
                    (Some(by), false) => format!("{} set the topic: {}", inert(by), inert(&topic)),
                    (None, false) => format!("topic: {}", inert(&topic)),
                };
                self.notice(now, line);
                self.topic = inert(&topic).into_owned();
            }
            ServerFrame::Away { name, reason, .. } => {
                let line = match &reason {
                    Some(why) => format!("{} is away: {}", inert(&name), inert(why)),
                    None => format!("{} is back", inert(&name)),
                };
                self.notice(now, line);
                match reason {
                    // Only names in the room are marked: the map stays as
                    // small as the list.
                    Some(why) if self.users.contains(&name) => {
                        self.away.insert(name, why);
                    }
                    _ => {
                        self.away.remove(&name);
                    }
                }
            }
            ServerFrame::Renamed { from, to, .. } => {
                if let Some(why) = self.away.remove(&from) {
                    self.away.insert(to.clone(), why);
                }
                self.notice(
                    now,
                    format!("{} is now known as {}", inert(&from), inert(&to)),
                );
                if self.me.as_deref() == Some(from.as_str()) {
                    self.me = Some(to.clone());
                }
                self.users.remove(&from);
                if self.users.insert(to).is_err() {
                    self.too_many_users();
                }
            }
            ServerFrame::Left { name, reason, .. } => {
                self.users.remove(&name);
                self.away.remove(&name);
                self.notice(now, format!("{} {}", inert(&name), departure(reason)));
            }
            ServerFrame::Message {
                from,
                text,
                action: true,
                ..
            } => {
                let text = inert(&text).into_owned();
                self.push(now, Kind::Action { from }, text);
            }
            ServerFrame::Message {
                from, text, label, ..
            } => {
                let mine = self.is_mine(&from, label.as_deref());
                let mention = !mine && self.me.as_deref().is_some_and(|me| mentions(&text, me));
                if !mine && (self.bell == Bell::All || (self.bell == Bell::Mentions && mention)) {
                    effects.push(Effect::Bell);
                }
                let text = inert(&text).into_owned();
                self.push(
                    now,
                    Kind::Message {
                        from,
                        mine,
                        mention,
                    },
                    text,
                );
            }
            ServerFrame::Whisper {
                from,
                to,
                text,
                label,
                ..
            } => {
                let text = inert(&text).into_owned();
                if self.is_mine(&from, label.as_deref()) {
                    self.push(now, Kind::WhisperOut { to }, text);
                } else {
                    if self.bell != Bell::Off {
                        effects.push(Effect::Bell);
                    }
                    self.push(now, Kind::WhisperIn { from }, text);
                }
            }
            ServerFrame::Users { users, .. } => {
                self.notice(
                    now,
                    format!("{} in the room: {}", users.len(), some_names(&users)),
                );
                if self.users.replace(users).is_err() {
                    self.too_many_users();
                }
            }
            ServerFrame::Commands { commands, label } => {
                self.commands = commands
                    .iter()
                    .filter_map(|c| c.usage.split_whitespace().next())
                    .filter(|w| w.starts_with('/') && !w.starts_with("//"))
                    .map(|w| inert(w).into_owned())
                    .chain(LOCAL_COMMANDS.iter().map(|c| (*c).to_owned()))
                    .take(256)
                    .collect();
                if label.as_deref() == Some(COMMANDS_LABEL) {
                    return;
                }
                // Aligned: the usages padded to the longest (in columns),
                // then what each does.
                let local = [
                    (
                        "/bell [off|mentions|all]",
                        "when to ring the bell (this client)",
                    ),
                    (
                        "/clear",
                        "clear your view of the conversation (this client)",
                    ),
                ];
                let rows: Vec<(String, String)> = commands
                    .iter()
                    .take(256)
                    .map(|c| (inert(&c.usage).into_owned(), inert(&c.help).into_owned()))
                    .chain(
                        local
                            .iter()
                            .map(|(u, h)| ((*u).to_owned(), (*h).to_owned())),
                    )
                    .collect();
                let widest = rows
                    .iter()
                    .map(|(u, _)| unicode_width::UnicodeWidthStr::width(u.as_str()))
                    .max()
                    .unwrap_or(0)
                    .min(32);
                self.notice(now, "Commands:".into());
                for (usage, help) in rows {
                    let pad = widest
                        .saturating_sub(unicode_width::UnicodeWidthStr::width(usage.as_str()));
                    self.notice(now, format!("  {usage}{}  {help}", " ".repeat(pad)));
                }
            }
            ServerFrame::Error { text, .. } => self.error(now, inert(&text).into_owned()),
            ServerFrame::Notice { text, .. } => {
                self.notice(now, format!("server: {}", inert(&text)))
            }
            ServerFrame::Bye { reason, .. } => {
                if self.quitting {
                    self.exit = Some(Exit::Quit);
                } else {
                    self.lost(reason, now);
                }
            }
            ServerFrame::Ping { .. } | ServerFrame::Pong { .. } | ServerFrame::Unknown => {}
        }
    }

    fn key(&mut self, key: KeyEvent, now: Moment, effects: &mut Vec<Effect>) {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let alt = key.modifiers.contains(KeyModifiers::ALT);
        if !(ctrl && key.code == KeyCode::Char('c')) {
            self.ctrl_c_armed = false;
        }
        if key.code != KeyCode::Tab {
            self.completion = None;
        }
        if let Mode::ChooseRoom { rooms, selected } = &mut self.mode {
            match key.code {
                KeyCode::Up => *selected = selected.saturating_sub(1),
                KeyCode::Down => *selected = (*selected + 1).min(rooms.len().saturating_sub(1)),
                KeyCode::Enter => {
                    effects.push(Effect::PickRoom(*selected));
                    self.mode = Mode::Connecting;
                }
                KeyCode::Char(c @ '1'..='9') => {
                    let i = c as usize - '1' as usize;
                    if i < rooms.len() {
                        effects.push(Effect::PickRoom(i));
                        self.mode = Mode::Connecting;
                    }
                }
                KeyCode::Char('c') if ctrl => self.exit = Some(Exit::Quit),
                KeyCode::Esc => self.exit = Some(Exit::Quit),
                _ => {}
            }
            return;
        }
        match key.code {
            KeyCode::Char('r') if ctrl => match &self.search {
                Some(_) => self.step_search(Step::Older),
                None if self.editor.is_empty() => self.editor.set("/search ".into()),
                None => {
                    let query = self.editor.take();
                    self.start_search(&query, now);
                }
            },
            KeyCode::Char('s') if ctrl && self.search.is_some() => self.step_search(Step::Newer),
            KeyCode::Esc if self.search.is_some() => {
                self.search = None;
                self.scroll_to_bottom();
            }
            KeyCode::Char('c') if ctrl => self.interrupt(now, effects),
            KeyCode::Char('w') if ctrl => self.editor.delete_word(),
            KeyCode::Char('k') if ctrl => {
                let cut = self.editor.kill_to_end();
                if !cut.is_empty() {
                    self.killed = cut;
                }
            }
            KeyCode::Char('y') if ctrl => {
                let text = self.killed.clone();
                self.editor.insert_str(&text);
            }
            KeyCode::Char('b') if alt => self.editor.word_left(),
            KeyCode::Char('f') if alt => self.editor.word_right(),
            KeyCode::Left if ctrl => self.editor.word_left(),
            KeyCode::Right if ctrl => self.editor.word_right(),
            KeyCode::Char('u') if ctrl => self.editor.clear_to_start(),
            KeyCode::Char('a') if ctrl => self.editor.home(),
            KeyCode::Char('e') if ctrl => self.editor.end(),
            KeyCode::Char('l') if ctrl => effects.push(Effect::Redraw),
            KeyCode::Char('t') if alt => self.full_times = !self.full_times,
            KeyCode::Char('m') if alt => {
                self.select = !self.select;
                effects.push(Effect::MouseCapture(!self.select));
            }
            KeyCode::Char(c) if !ctrl && !alt => self.editor.insert(c),
            KeyCode::Left => self.editor.left(),
            KeyCode::Right => self.editor.right(),
            KeyCode::Home => self.editor.home(),
            KeyCode::End => self.editor.end(),
            KeyCode::Backspace => self.editor.backspace(),
            KeyCode::Delete => self.editor.delete(),
            KeyCode::Up => self.history_prev(),
            KeyCode::Down => self.history_next(),
            KeyCode::PageUp => self.scroll_up(self.page()),
            KeyCode::PageDown => self.scroll_down(self.page()),
            KeyCode::Tab => self.complete(),
            KeyCode::Enter => self.submit(now, effects),
            _ => {}
        }
    }

    /// Ctrl-C: clears the line; on an empty line, a second one quits.
    fn interrupt(&mut self, now: Moment, effects: &mut Vec<Effect>) {
        if !self.editor.is_empty() {
            self.editor.take();
            self.history_pos = None;
            return;
        }
        if self.ctrl_c_armed || self.mode != Mode::Chat {
            self.leave(effects);
            return;
        }
        self.ctrl_c_armed = true;
        self.notice(now, "Press Ctrl-C again to leave (or type /x).".into());
    }

    fn leave(&mut self, effects: &mut Vec<Effect>) {
        if self.mode == Mode::Chat && self.link == Link::Connected {
            self.quitting = true;
            effects.push(Effect::Send("/x".into()));
        } else {
            self.exit = Some(Exit::Quit);
        }
    }

    fn submit(&mut self, now: Moment, effects: &mut Vec<Effect>) {
        let text = self.editor.take();
        self.history_pos = None;
        if text.trim().is_empty() {
            return;
        }
        if self.mode == Mode::AskName {
            self.mode = Mode::Connecting;
            effects.push(Effect::Join(text.trim().to_owned()));
            return;
        }
        if self.mode == Mode::AskPassphrase {
            // Never kept in the input history.
            self.mode = Mode::Connecting;
            effects.push(Effect::Passphrase(text));
            return;
        }
        if self.mode != Mode::Chat {
            self.editor.set(text);
            return;
        }
        if self.history.last() != Some(&text) {
            self.history.push(text.clone());
            if self.history.len() > HISTORY {
                self.history.remove(0);
            }
        }
        self.scroll_to_bottom();
        self.marker = None;
        let mut words = text.split_whitespace();
        if words
            .next()
            .is_some_and(|w| w.eq_ignore_ascii_case("/bell"))
        {
            // Handled here: the bell is this client's business, not the room's.
            self.set_bell(words.next(), now);
        } else if words_are(&text, "/search") {
            let query = text.trim_start()["/search".len()..].trim();
            self.start_search(query, now);
        } else if text.trim().eq_ignore_ascii_case("/clear") {
            // The local view only: the room is not told.
            self.transcript.clear();
            self.unread = 0;
        } else if is_quit(&text) {
            self.quitting = true;
            effects.push(Effect::Send(text));
        } else {
            // A multi-line paste goes out as consecutive lines, together.
            effects.extend(
                text.split('\n')
                    .filter(|l| !l.trim().is_empty())
                    .map(|l| Effect::Send(l.to_owned())),
            );
        }
    }

    fn set_bell(&mut self, arg: Option<&str>, now: Moment) {
        let changed = arg.is_some();
        self.bell = match arg.map(Bell::parse) {
            // Alone, `/bell` says how it is set.
            None => self.bell,
            Some(Some(bell)) => bell,
            Some(None) => {
                self.error(now, "usage: /bell [off|mentions|all]".into());
                return;
            }
        };
        let what = match self.bell {
            Bell::Off => "never rings",
            Bell::Mentions => "rings when you are mentioned or whispered to",
            Bell::All => "rings for every message",
        };
        let when = if changed { "now " } else { "" };
        self.notice(
            now,
            format!("The bell {when}{what} (/bell off|mentions|all)."),
        );
    }

    fn paste(&mut self, text: &str) {
        let clean: String = text
            .replace("\r\n", "\n")
            .chars()
            .map(|c| match c {
                '\r' => '\n',
                '\t' => ' ',
                c => c,
            })
            .filter(|c| *c == '\n' || !c.is_control())
            .collect();
        let clean = clean.trim_end_matches('\n');
        if matches!(
            self.mode,
            Mode::AskName | Mode::AskPassphrase | Mode::ChooseRoom { .. }
        ) {
            self.editor.insert_str(clean.lines().next().unwrap_or(""));
        } else {
            self.editor.insert_str(clean);
        }
    }

    fn mouse(&mut self, mouse: MouseEvent) {
        match mouse.kind {
            MouseEventKind::ScrollUp => self.scroll_up(WHEEL_STEP),
            MouseEventKind::ScrollDown => self.scroll_down(WHEEL_STEP),
            _ => {}
        }
    }

    fn page(&self) -> usize {
        usize::from(self.height.saturating_sub(4)).max(1)
    }

    fn scroll_up(&mut self, by: usize) {
        let max = self.transcript.len().saturating_sub(1);
        self.scroll = (self.scroll + by).min(max);
    }

    fn scroll_down(&mut self, by: usize) {
        self.scroll = self.scroll.saturating_sub(by);
        if self.scroll == 0 {
            self.unread = 0;
        }
    }

    /// Finds the newest line containing `query` and shows it.
    fn start_search(&mut self, query: &str, now: Moment) {
        if query.is_empty() {
            self.notice(now, "Type /search TEXT (or Ctrl-R, then the text).".into());
            return;
        }
        match search::find(&self.transcript, query, None, Step::Older) {
            Some((pos, seq)) => {
                self.search = Some(Search::new(&self.transcript, query, seq));
                self.scroll = pos;
            }
            None => {
                let shown = crate::display::inert(query).into_owned();
                self.notice(now, format!("No line contains \"{shown}\"."));
            }
        }
    }

    /// Moves the search to the next older or newer match, if there is one.
    fn step_search(&mut self, step: Step) {
        let Some(current) = &self.search else { return };
        let from = search::position(&self.transcript, current.at);
        if let Some((pos, seq)) = search::find(&self.transcript, &current.query, from, step) {
            self.scroll = pos;
            self.search = Some(Search::new(&self.transcript, &current.query, seq));
        }
    }

    fn scroll_to_bottom(&mut self) {
        self.scroll = 0;
        self.unread = 0;
    }

    fn history_prev(&mut self) {
        if self.history.is_empty() {
            return;
        }
        let pos = match self.history_pos {
            None => {
                self.draft = self.editor.text().to_owned();
                self.history.len() - 1
            }
            Some(p) => p.saturating_sub(1),
        };
        self.history_pos = Some(pos);
        self.editor.set(self.history[pos].clone());
    }

    fn history_next(&mut self) {
        let Some(pos) = self.history_pos else { return };
        if pos + 1 < self.history.len() {
            self.history_pos = Some(pos + 1);
            self.editor.set(self.history[pos + 1].clone());
        } else {
            self.history_pos = None;
            self.editor.set(std::mem::take(&mut self.draft));
        }
    }

    /// Tab: completes a command or a user name; pressed again, cycles
    /// through the candidates.
    fn complete(&mut self) {
        if let Some(c) = &mut self.completion {
            c.index = (c.index + 1) % c.candidates.len();
            let next = c.candidates[c.index].clone();
            self.editor.replace_before_cursor(c.start, &next);
            return;
        }
        let (start, word) = self.editor.word_before_cursor();
        if word.is_empty() {
            return;
        }
        let lower = word.to_lowercase();
        let candidates: Vec<String> = if word.starts_with('/') && start == 0 {
            self.commands
                .iter()
                .filter(|c| c.starts_with(&lower))
                .map(|c| format!("{c} "))
                .collect()
        } else {
            let at_start = start == 0;
            self.users
                .iter()
                .filter(|u| Some(*u) != self.me.as_deref())
                .filter(|u| u.to_lowercase().starts_with(&lower))
                .map(|u| {
                    if at_start {
                        format!("{u}: ")
                    } else {
                        format!("{u} ")
                    }
                })
                .collect()
        };
        if candidates.is_empty() {
            return;
        }
        self.editor.replace_before_cursor(start, &candidates[0]);
        if candidates.len() > 1 {
            self.completion = Some(Completion {
                start,
                candidates,
                index: 0,
            });
        }
    }

    /// Whether an event from `from` carrying `label` is our own. The
    /// server labels only the sender's own copy; a revision 1 server labels
    /// nothing, and then only the name can tell.
    fn is_mine(&self, from: &str, label: Option<&str>) -> bool {
        if self.labels {
            label.is_some()
        } else {
            self.me.as_deref() == Some(from)
        }
    }

    /// The server announced more users than any room holds: it is broken
    /// or hostile, and the client leaves it rather than grow without end.
    fn too_many_users(&mut self) {
        self.exit = Some(Exit::Lost(format!(
            "the server announced more than {MAX_USERS} users; it is broken"
        )));
    }

    fn push(&mut self, now: Moment, kind: Kind, text: String) {
        let seq = self.transcript.push(now, kind, text);
        if !self.focused {
            self.unseen += 1;
        }
        if self.scroll > 0 {
            // Keep the view still while new lines arrive below it.
            self.scroll = (self.scroll + 1).min(self.transcript.len().saturating_sub(1));
            self.unread += 1;
            self.marker.get_or_insert(seq);
        }
    }

    fn notice(&mut self, now: Moment, text: String) {
        self.push(now, Kind::Notice, text);
    }

    fn error(&mut self, now: Moment, text: String) {
        self.push(now, Kind::Error, text);
    }
}

impl Default for App {
    fn default() -> Self {
        App::new()
    }
}

/// Whether the line's first word is `command`, in any case.
fn words_are(text: &str, command: &str) -> bool {
    text.split_whitespace()
        .next()
        .is_some_and(|w| w.eq_ignore_ascii_case(command))
}

/// Whether `text` mentions `name` as a word, case-insensitively.
pub fn mentions(text: &str, name: &str) -> bool {
    let name = name.to_lowercase();
    let text = text.to_lowercase();
    text.match_indices(&name).any(|(i, m)| {
        let before = text[..i].chars().next_back();
        let after = text[i + m.len()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}
