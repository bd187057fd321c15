//! The lanchat wire format: room events as JSON lines
//! ([`lanchat_proto::ServerFrame`]), converted by hand so that the room
//! stays free of any wire format.

use std::sync::Arc;

use lanchat_core::{Event, LeaveReason, Past};
use lanchat_proto::codec::encode_into;
use lanchat_proto::limits::SERVER_CAPS;
use lanchat_proto::{frame, time, CommandHelp, Limits, ServerFrame, UserListFrame};
use serde::Serialize;

use crate::door::{EventRef, WireFormat};

/// Encodes events as lanchat JSON lines, none longer than `max_frame`.
#[derive(Debug, Clone)]
pub struct JsonLines {
    limits: Limits,
    /// Room events carry `id` and `ts`: for clients that announced the
    /// `stamps` capability. Others get revision 1 frames, byte for byte,
    /// and every byte saved is saved once per recipient.
    stamps: bool,
}

impl JsonLines {
    /// The format for a server with these limits (sent in the welcome),
    /// with stamps on room events.
    pub fn new(limits: Limits) -> Self {
        JsonLines {
            limits,
            stamps: true,
        }
    }

    /// The same format without `id` and `ts`, for clients that did not
    /// ask for them.
    pub fn without_stamps(limits: Limits) -> Self {
        JsonLines {
            limits,
            stamps: false,
        }
    }

    /// Appends one frame. A frame that cannot be encoded, or that would be
    /// longer than the limit, is replaced by an error frame: nothing ever
    /// sends a frame the client must refuse.
    pub fn push(&self, frame: &impl Serialize, out: &mut Vec<u8>) {
        let start = out.len();
        let written = encode_into(frame, out).is_ok();
        if written && out.len() - start <= self.limits.frame_out {
            return;
        }
        out.truncate(start);
        tracing::error!("a frame could not be encoded within the limit; sent an error instead");
        let _ = encode_into(
            &ServerFrame::Error {
                code: "internal".into(),
                text: "the server could not send a reply".into(),
                label: None,
            },
            out,
        );
    }

    /// A user list as frames of at most the frame limit: the first is
    /// made by `first` (the welcome or a `users` frame), the rest are
    /// `users` frames; every frame but the last says `more`. The names are
    /// encoded where they are, never copied.
    fn push_users<'a>(
        &self,
        users: &'a [Arc<str>],
        label: Option<&'a str>,
        first: impl FnOnce(&'a [Arc<str>], bool) -> UserListFrame<'a, Arc<str>>,
        out: &mut Vec<u8>,
    ) {
        // Room for the frame's other fields; a name encodes to at most
        // twice its bytes (escapes) plus quotes and a comma.
        let budget = self.limits.frame_out.saturating_sub(2048).max(1024);
        let mut first = Some(first);
        let mut rest = users;
        loop {
            let mut size = 0;
            let mut take = 0;
            for user in rest {
                let cost = 2 * user.len() + 3;
                if size + cost > budget && take > 0 {
                    break;
                }
                size += cost;
                take += 1;
            }
            let (chunk, after) = rest.split_at(take);
            let more = !after.is_empty();
            let frame = match first.take() {
                Some(make) => make(chunk, more),
                None => UserListFrame::Users {
                    users: chunk,
                    more,
                    label,
                },
            };
            self.push(&frame, out);
            if !more {
                return;
            }
            rest = after;
        }
    }
}

impl WireFormat for JsonLines {
    fn encode(&self, e: EventRef<'_>, out: &mut Vec<u8>) {
        match e.event {
            Event::Welcome { name, room, users } => {
                let make = |users, more| UserListFrame::Welcome {
                    name,
                    room,
                    users,
                    more,
                    caps: SERVER_CAPS,
                    limits: Some(self.limits),
                    label: e.label,
                };
                self.push_users(users, e.label, make, out)
            }
            Event::Users { users } => {
                let make = |users, more| UserListFrame::Users {
                    users,
                    more,
                    label: e.label,
                };
                self.push_users(users, e.label, make, out)
            }
            Event::History { events } => self.push_history(events, out),
            event => {
                let (id, ts) = match e.stamp {
                    Some(s) if self.stamps => (s.id, time::format_ms(s.ms)),
                    _ => (0, String::new()),
                };
                if let Some(frame) = self.frame(event, id, ts, e.label) {
                    self.push(&frame, out);
                }
            }
        }
    }
}

impl JsonLines {
    /// The earlier conversation as `history` frames, each under the frame
    /// limit, every one but the last saying `more`. Its events always
    /// carry their ids and times.
    fn push_history(&self, events: &[Past], out: &mut Vec<u8>) {
        let budget = self.limits.frame_out.saturating_sub(1024).max(1024);
        let mut chunks: Vec<Vec<ServerFrame>> = vec![Vec::new()];
        let mut size = 0;
        for past in events {
            let ts = time::format_ms(past.stamp.ms);
            let Some(frame) = self.frame(&past.event, past.stamp.id, ts, None) else {
                continue;
            };
            // What the frame costs at most, without encoding it twice: the
            // room made every control character visible, so a string
            // encodes to at most twice its bytes; the rest is fields.
            let strings = match &past.event {
                Event::Message { from, text } | Event::Action { from, text } => {
                    from.len() + text.len()
                }
                Event::Whisper { from, to, text } => from.len() + to.len() + text.len(),
                _ => 0,
            };
            let cost = 2 * strings + 160;
            let last = chunks.len() - 1;
            if size + cost > budget && !chunks[last].is_empty() {
                chunks.push(Vec::new());
                size = 0;
            }
            size += cost;
            let last = chunks.len() - 1;
            chunks[last].push(frame);
        }
        let count = chunks.len();
        for (i, events) in chunks.into_iter().enumerate() {
            let more = i + 1 < count;
            self.push(&ServerFrame::History { events, more }, out);
        }
    }

    /// The one frame of an event that is not a list (`None` for a list).
    fn frame(
        &self,
        event: &Event,
        id: u64,
        ts: String,
        label: Option<&str>,
    ) -> Option<ServerFrame> {
        let label = || label.map(str::to_owned);
        Some(match event {
            Event::Joined { name } => ServerFrame::Joined {
                id,
                ts,
                name: name.clone(),
            },
            Event::Left { name, reason } => ServerFrame::Left {
                id,
                ts,
                name: name.clone(),
                reason: leave_reason(*reason),
            },
            Event::Message { from, text } | Event::Action { from, text } => ServerFrame::Message {
                id,
                ts,
                from: from.clone(),
                text: text.clone(),
                action: matches!(event, Event::Action { .. }),
                label: label(),
            },
            Event::Stored { id } => ServerFrame::Stored { id: *id },
            Event::Ignoring { names } => ServerFrame::Ignoring {
                names: names.clone(),
                label: label(),
            },
            Event::Whois {
                name,
                since_ms,
                door,
                away,
                address,
            } => ServerFrame::Whois {
                name: name.clone(),
                since: time::format_ms(*since_ms),
                door: door.clone(),
                away: away.clone(),
                address: address.clone(),
                label: label(),
            },
            Event::Topic { topic, by } => ServerFrame::Topic {
                id,
                ts,
                topic: topic.clone(),
                by: by.clone(),
                label: label(),
            },
            Event::Away { name, reason } => ServerFrame::Away {
                id,
                ts,
                name: name.clone(),
                reason: reason.clone(),
                label: label(),
            },
            Event::Held { name } => ServerFrame::Held {
                id,
                ts,
                name: name.clone(),
            },
            Event::Back { name } => ServerFrame::Back {
                id,
                ts,
                name: name.clone(),
            },
            Event::Renamed { from, to } => ServerFrame::Renamed {
                id,
                ts,
                from: from.clone(),
                to: to.clone(),
                label: label(),
            },
            Event::Whisper { from, to, text } => ServerFrame::Whisper {
                id,
                ts,
                from: from.clone(),
                to: to.clone(),
                text: text.clone(),
                label: label(),
            },
            Event::Notice { text } => ServerFrame::Notice {
                id,
                ts,
                text: text.clone(),
            },
            Event::Commands { commands } => ServerFrame::Commands {
                commands: commands
                    .iter()
                    .map(|c| CommandHelp {
                        usage: c.usage.to_owned(),
                        help: c.help.to_owned(),
                    })
                    .collect(),
                label: label(),
            },
            Event::Error { code, text } => ServerFrame::Error {
                code: (*code).to_owned(),
                text: text.clone(),
                label: label(),
            },
            Event::Bye { code, reason } => ServerFrame::Bye {
                code: (*code).to_owned(),
                reason: reason.clone(),
            },
            // Lists are several frames: see `encode`.
            Event::Welcome { .. } | Event::Users { .. } | Event::History { .. } => return None,
        })
    }
}

fn leave_reason(reason: LeaveReason) -> frame::LeaveReason {
    match reason {
        LeaveReason::Quit => frame::LeaveReason::Quit,
        LeaveReason::Dropped => frame::LeaveReason::Dropped,
        LeaveReason::TimedOut => frame::LeaveReason::TimedOut,
        LeaveReason::TooSlow => frame::LeaveReason::TooSlow,
        LeaveReason::Kicked => frame::LeaveReason::Kicked,
    }
}

#[cfg(test)]
mod tests {
    use lanchat_core::{RoomId, Stamp};
    use lanchat_proto::limits::MAX_FRAME_LEN;

    use super::*;

    fn format() -> JsonLines {
        JsonLines::new(Limits {
            text: 4096,
            name: 32,
            frame_in: MAX_FRAME_LEN,
            frame_out: MAX_FRAME_LEN,
            rate: 5.0,
            burst: 20,
            label: 64,
        })
    }

    fn lines(event: &Event, stamp: Option<Stamp>, label: Option<&str>) -> Vec<String> {
        let mut out = Vec::new();
        format().encode(
            EventRef {
                room: RoomId::MAIN,
                event,
                stamp,
                label,
                recipient: None,
            },
            &mut out,
        );
        String::from_utf8(out)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn room_events_carry_id_and_time_and_the_askers_label() {
        let event = Event::Message {
            from: "alice".into(),
            text: "hi".into(),
        };
        let stamp = Some(Stamp {
            id: 7,
            ms: 1_795_767_861_123,
        });
        assert_eq!(
            lines(&event, stamp, Some("x1")),
            [
                r#"{"type":"message","id":7,"ts":"2026-11-27T08:24:21.123Z","from":"alice","text":"hi","label":"x1"}"#
            ]
        );
    }

    /// 1,000 members with 32 four-byte characters each: about 128 KB of
    /// names, split so that no frame passes the limit.
    #[test]
    fn a_huge_user_list_is_split_under_the_frame_limit() {
        let users: Vec<String> = (0..1000)
            .map(|i| format!("{}{i:04}", "𝔸".repeat(28)))
            .collect();
        let welcome = Event::Welcome {
            name: "me".into(),
            room: "lab".into(),
            users: users.iter().map(|u| u.as_str().into()).collect(),
        };
        for event in [
            welcome,
            Event::Users {
                users: users.iter().map(|u| u.as_str().into()).collect(),
            },
        ] {
            let got = lines(&event, None, None);
            assert!(got.len() > 8, "{}", got.len());
            let mut names = Vec::new();
            for (i, line) in got.iter().enumerate() {
                assert!(line.len() < MAX_FRAME_LEN, "frame {i}: {}", line.len());
                let frame: ServerFrame = serde_json::from_str(line).unwrap();
                let (ServerFrame::Welcome { users, more, .. }
                | ServerFrame::Users { users, more, .. }) = frame
                else {
                    panic!("{line}")
                };
                assert_eq!(more, i + 1 < got.len());
                names.extend(users);
            }
            assert_eq!(names, users);
        }
    }
}
