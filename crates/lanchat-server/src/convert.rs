//! Room events to wire frames, by hand, so that the room stays free of any
//! wire format.

use lanchat_core::{Event, LeaveReason};
use lanchat_proto::{frame, CommandHelp, ServerFrame};

pub fn frame_of(event: Event) -> ServerFrame {
    match event {
        Event::Welcome { name, room, users } => ServerFrame::Welcome { name, room, users },
        Event::Joined { name } => ServerFrame::Joined { name },
        Event::Left { name, reason } => ServerFrame::Left {
            name,
            reason: leave_reason(reason),
        },
        Event::Message { from, text } => ServerFrame::Message { from, text },
        Event::Whisper { from, to, text } => ServerFrame::Whisper { from, to, text },
        Event::Users { users } => ServerFrame::Users { users },
        Event::Commands { commands } => ServerFrame::Commands {
            commands: commands
                .iter()
                .map(|c| CommandHelp {
                    usage: c.usage.to_owned(),
                    help: c.help.to_owned(),
                })
                .collect(),
        },
        Event::Error { code, text } => ServerFrame::Error {
            code: code.to_owned(),
            text,
        },
        Event::Bye { reason } => ServerFrame::Bye { reason },
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
