//! Arbitrary typed lines from two members of a room: parsing and routing
//! never panic, and nothing but a member's own quit closes anyone.
#![no_main]

use lanchat_core::{typed, Command, Output, Room, RoomId};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut room = Room::new(RoomId::MAIN, "fuzz", 4096);
    let mut out = Vec::new();
    let (Ok(a), Ok(b)) = (
        room.join("alice", None, 0, &mut out),
        room.join("bob", None, 0, &mut out),
    ) else {
        return;
    };
    for (i, line) in text.lines().enumerate() {
        let who = if i % 2 == 0 { a } else { b };
        let Ok(command) = typed::parse(line) else {
            continue;
        };
        let quits = command == Command::Quit;
        out.clear();
        room.apply(who, command, None, i as u64, &mut out);
        let closes = out.iter().any(|o| matches!(o, Output::Close(_)));
        assert!(!closes || quits, "{line:?} closed somebody");
    }
});
