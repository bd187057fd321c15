//! The lanchat door: JSON lines over a byte stream (TLS, or plain TCP when
//! the room allows it), from greeting to goodbye, with the room's
//! passphrase check before the join when it has one. The IO and the rules are the
//! [`crate::link`]'s; this file is the lanchat frames: how they are cut
//! from the stream and what each one asks of the hub.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use lanchat_core::{typed, Command, Label};
use lanchat_proto::limits::MAX_LABEL_LEN;
use lanchat_proto::pake::{self, Pake, Proofs, Side};
use lanchat_proto::{ClientFrame, DecodeError, LineDecoder, ServerFrame};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::admission::{Admission, Ticket};
use crate::config::Config;
use crate::door::{Fault, Hub, JoinRequest, Membership, ResumeRequest, SessionLimits};
use crate::json_format::JsonLines;
use crate::link::{self, Dialect, Link, Next, Waiting};
use crate::outbox::Outbox;

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
    /// Counts passphrase guesses per address.
    pub admission: Admission,
    /// Every connection's rules, shared.
    pub limits: Arc<SessionLimits>,
}

/// Where a connection stands with the room's passphrase. (Boxed states:
/// only rooms with a passphrase use them, and only until it is proved.)
enum Gate {
    /// The room has none, or it was proved.
    Open,
    /// Not proved yet; `binding` is the TLS session's exporter value.
    Closed { binding: Box<[u8]> },
    /// The server's proof went out; the client's is awaited.
    Proving(Box<Proofs>),
}

/// How a connection reached the lanchat door.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Arrival {
    /// The TLS exporter value, on an encrypted connection.
    pub binding: Option<[u8; pake::BINDING_LEN]>,
    /// The door members see in `/whois`.
    pub door: Entry,
}

/// Which door a lanchat-protocol connection came through, as `/whois`
/// shows it (one byte in every connection, where its name would take 16).
/// Not the server's listeners (`Via` in `lib.rs`): it says only which of
/// them carried the lanchat protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Entry {
    /// The lanchat port: the terminal client, or a bot.
    Terminal,
    /// The web page's WebSocket.
    Web,
}

impl Entry {
    fn name(self) -> &'static str {
        match self {
            Entry::Terminal => lanchat_core::room::DEFAULT_DOOR,
            Entry::Web => "web",
        }
    }
}

impl Arrival {
    /// Straight to the lanchat port, over TLS (`binding`) or not.
    pub(crate) fn direct(binding: Option<[u8; pake::BINDING_LEN]>) -> Arrival {
        Arrival {
            binding,
            door: Entry::Terminal,
        }
    }
}

/// Serves one lanchat connection until it ends, for whatever reason.
pub(crate) fn serve<S>(
    stream: S,
    peer: SocketAddr,
    door: Arc<Door>,
    ticket: Ticket,
    arrival: Arrival,
) -> impl Future<Output = ()>
where
    S: crate::plain::Stream,
{
    let outbox = Outbox::new(door.config.max_queue_bytes);
    let _ = outbox.push(door.greeting.clone());
    let link = Link::new(outbox, door.limits.clone());
    let shutdown = door.shutdown.clone();
    let gate = match &door.config.passphrase {
        Some(_) => Gate::Closed {
            binding: arrival.binding.map(Box::from).unwrap_or_default(),
        },
        None => Gate::Open,
    };
    let dialect = Lanchat {
        decoder: LineDecoder::new(door.config.max_frame_len),
        door,
        peer: peer.ip(),
        gate,
        entry: arrival.door,
    };
    link::serve(stream, link, dialect, shutdown, ticket)
}

/// What a client announced it understands, of what matters here.
#[derive(Debug, Clone, Copy)]
struct Caps {
    stamps: bool,
    history: bool,
    resume: bool,
}

impl Caps {
    fn of(caps: &[String]) -> Caps {
        let has = |cap: &str| caps.iter().any(|c| c == cap);
        Caps {
            stamps: has("stamps"),
            history: has("history"),
            resume: has("resume"),
        }
    }
}

/// The lanchat frames on one connection.
struct Lanchat {
    door: Arc<Door>,
    decoder: LineDecoder,
    /// Where the connection comes from (for `/whois`, if shown).
    peer: std::net::IpAddr,
    gate: Gate,
    /// Which door this is, for `/whois`.
    entry: Entry,
}

impl Drop for Lanchat {
    fn drop(&mut self) {
        // A client whose passphrase was wrong sees it first (our proof does
        // not check out) and hangs up without proving anything.
        if let Gate::Proving(_) = self.gate {
            tracing::info!(peer = %self.peer, "wrong passphrase (the client hung up without proving it)");
        }
    }
}

impl Dialect for Lanchat {
    type Frame = ClientFrame;

    fn next_frame(&mut self, link: &mut Link) -> Next<ClientFrame> {
        match self.decoder.next_frame::<ClientFrame>(&mut link.buf) {
            Ok(Some(frame)) => Next::Frame(frame),
            Ok(None) => Next::More,
            Err(e @ DecodeError::TooLong { .. }) => {
                self.error_to(link, "frame_too_long", &e.to_string(), None);
                link.fault(self, Fault::FrameTooLong);
                Next::Skip
            }
            Err(e) => {
                self.bad_frame(link, &e.to_string(), None);
                Next::Skip
            }
        }
    }

    fn handle<'a>(&'a mut self, link: &'a mut Link, frame: ClientFrame) -> Option<Waiting<'a>> {
        self.handle_frame(link, frame)
    }

    fn discard(&mut self, buf: &mut BytesMut) {
        self.decoder.reset(buf);
    }

    fn ping(&self, token: u64) -> Bytes {
        self.encode(&ServerFrame::Ping { token })
    }

    fn error(&self, code: &str, text: &str) -> Bytes {
        self.encode(&ServerFrame::Error {
            code: code.into(),
            text: text.into(),
            label: None,
        })
    }

    fn bye(&self, code: &str, reason: &str) -> Bytes {
        self.encode(&ServerFrame::Bye {
            code: code.into(),
            reason: reason.into(),
        })
    }
}

impl Lanchat {
    /// Handles one frame at once, and returns what must still wait (a
    /// join or resume, which the hub answers, or a command to a backed-up
    /// hub), boxed: it is rare, and inline its future would stay in the
    /// connection's task for good.
    fn handle_frame<'a>(
        &'a mut self,
        link: &'a mut Link,
        frame: ClientFrame,
    ) -> Option<Waiting<'a>> {
        let label = match frame.label() {
            Some(label) if label.len() > MAX_LABEL_LEN => {
                let text = format!("a label is at most {MAX_LABEL_LEN} bytes");
                self.bad_frame(link, &text, None);
                return None;
            }
            label => label.map(Label::from),
        };
        let command = match frame {
            ClientFrame::Pake { msg } => {
                self.pake(link, &msg);
                return None;
            }
            ClientFrame::PakeProof { proof } => {
                self.pake_proof(link, &proof);
                return None;
            }
            ClientFrame::Join { .. } | ClientFrame::Resume { .. }
                if !matches!(self.gate, Gate::Open) =>
            {
                let why = "this room has a passphrase: join with a lanchat that asks for it";
                self.error_to(link, "passphrase_required", why, label.as_deref());
                link.say_bye(self, "passphrase_required", why);
                return None;
            }
            ClientFrame::Join { name, caps, .. } => {
                return Some(Box::pin(self.join(link, name, Caps::of(&caps), label)));
            }
            ClientFrame::Resume {
                token,
                last_id,
                caps,
                ..
            } => {
                let caps = Caps::of(&caps);
                return Some(Box::pin(self.resume(link, token, last_id, caps, label)));
            }
            ClientFrame::Ping { token } => {
                link.push(self.encode(&ServerFrame::Pong { token }));
                return None;
            }
            ClientFrame::Pong { token } => {
                if let Err(Some(fault)) = link.session.pong(token) {
                    link.fault(self, fault);
                }
                return None;
            }
            ClientFrame::Unknown => {
                self.error_to(link, "unknown_frame", "unknown frame type", None);
                return None;
            }
            ClientFrame::Input { text, .. } => match typed::parse(&text) {
                Ok(command) => command,
                Err(e) => {
                    self.error_to(link, e.code(), &e.to_string(), label.as_deref());
                    return None;
                }
            },
            ClientFrame::Say { text, .. } => Command::Say { text },
            ClientFrame::Whisper { to, text, .. } => Command::Whisper { to, text },
            ClientFrame::List { .. } => Command::List,
        };
        if link.member.is_none() {
            let text = "choose a name first (a join frame)";
            self.error_to(link, "not_joined", text, label.as_deref());
            return None;
        }
        let this: &'a Lanchat = self;
        link.command(this, &this.door.hub, command, label)
    }

    /// The client's SPAKE2 message: answer with ours and our proof.
    fn pake(&mut self, link: &mut Link, msg: &str) {
        let (Gate::Closed { binding }, Some(passphrase)) =
            (&self.gate, &self.door.config.passphrase)
        else {
            return self.bad_frame(link, "no passphrase exchange was expected", None);
        };
        if !self.door.admission.take_guess(self.peer, Instant::now()) {
            let why = "too many passphrase attempts from your address; wait a minute";
            self.error_to(link, "too_many_guesses", why, None);
            return link.say_bye(self, "too_many_guesses", why);
        }
        let Some(theirs) = pake::from_hex(msg, pake::MAX_MESSAGE_LEN) else {
            return self.bad_frame(link, "the passphrase message is not hex", None);
        };
        let (state, ours) = Pake::start(passphrase.expose(), &self.door.config.room);
        match state.finish(&theirs, binding) {
            Ok(proofs) => {
                link.push(self.encode(&ServerFrame::Pake {
                    msg: pake::to_hex(&ours),
                    proof: pake::to_hex(&proofs.prove(Side::Server)),
                }));
                self.gate = Gate::Proving(Box::new(proofs));
            }
            Err(e) => self.bad_frame(link, &e.to_string(), None),
        }
    }

    /// The client's passphrase proof: in, or out with the reason.
    fn pake_proof(&mut self, link: &mut Link, proof: &str) {
        let Gate::Proving(proofs) = &self.gate else {
            return self.bad_frame(link, "no passphrase proof was expected", None);
        };
        let proof = pake::from_hex(proof, pake::BINDING_LEN).unwrap_or_default();
        if proofs.check(Side::Client, &proof) {
            self.gate = Gate::Open;
            self.door.admission.give_back_guess(self.peer);
            link.push(self.encode(&ServerFrame::PakeOk));
        } else {
            tracing::info!(peer = %self.peer, "wrong passphrase");
            let why = "wrong passphrase";
            self.error_to(link, "wrong_passphrase", why, None);
            link.say_bye(self, "wrong_passphrase", why);
        }
    }

    /// Joins as `name`, with the capabilities the client announced.
    async fn join(&mut self, link: &mut Link, name: String, caps: Caps, label: Option<Label>) {
        if link.member.is_some() {
            let text = "you are already in the room";
            return self.error_to(link, "already_joined", text, label.as_deref());
        }
        let request = JoinRequest {
            door: self.entry.name(),
            history: caps.history,
            resume: caps.resume,
            peer: Some(self.peer),
            room: lanchat_core::RoomId::MAIN,
            name: name.clone(),
            label: label.clone(),
            outbox: link.outbox.clone(),
            format: self.format(caps),
        };
        // Boxed: it happens once per connection, and kept inline it would
        // make every connection's task bigger for its whole life.
        match Box::pin(self.door.hub.join(request)).await {
            Ok(Ok(member)) => self.admitted(link, member),
            Ok(Err(e)) => link.push(self.encode(&ServerFrame::NameRejected {
                name: lanchat_core::text::excerpt(&name, MAX_NAME_SHOWN),
                code: e.code().into(),
                reason: e.to_string(),
                label: label.map(|l| l.to_string()),
            })),
            Err(_) => link.say_bye(self, "shutdown", "server shutting down"),
        }
    }

    /// Comes back as the member `token` was given to, after a connection
    /// loss; or says why not (the client then joins afresh).
    async fn resume(
        &mut self,
        link: &mut Link,
        token: String,
        last_id: u64,
        caps: Caps,
        label: Option<Label>,
    ) {
        if link.member.is_some() {
            let text = "you are already in the room";
            return self.error_to(link, "already_joined", text, label.as_deref());
        }
        let request = ResumeRequest {
            token,
            last_id,
            label: label.clone(),
            outbox: link.outbox.clone(),
            format: self.format(caps),
        };
        match Box::pin(self.door.hub.resume(request)).await {
            Ok(Ok(member)) => self.admitted(link, member),
            Ok(Err(e)) => self.error_to(link, "cannot_resume", &e.to_string(), label.as_deref()),
            Err(_) => link.say_bye(self, "shutdown", "server shutting down"),
        }
    }

    /// In the room: registered, and told its resume token if it has one.
    fn admitted(&self, link: &mut Link, member: Membership) {
        if let Some(token) = member.token() {
            link.push(self.encode(&ServerFrame::Resumable {
                token: token.to_owned(),
                // Whole seconds, rounded up: never less than promised.
                grace: self.door.config.resume_grace.as_millis().div_ceil(1000) as u64,
            }));
        }
        link.member = Some(member);
        link.session.registered();
    }

    /// The format for a client with `caps`.
    fn format(&self, caps: Caps) -> Arc<dyn crate::door::WireFormat> {
        if caps.stamps {
            self.door.format.clone()
        } else {
            self.door.unstamped.clone()
        }
    }

    /// A frame we could not parse.
    fn bad_frame(&mut self, link: &mut Link, text: &str, label: Option<&str>) {
        let text = lanchat_core::text::excerpt(text, 200);
        self.error_to(link, "bad_frame", &text, label);
        link.bad_frame(self);
    }

    fn encode(&self, frame: &ServerFrame) -> Bytes {
        let mut out = Vec::new();
        self.door.format.push(frame, &mut out);
        Bytes::from(out)
    }

    fn error_to(&self, link: &Link, code: &str, text: &str, label: Option<&str>) {
        link.push(self.encode(&ServerFrame::Error {
            code: code.into(),
            text: text.into(),
            label: label.map(str::to_owned),
        }));
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
