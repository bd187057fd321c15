//! What each command costs the room task, beside an ordinary message: no
//! command a member can send may cost more than a few messages, or one
//! member could stall everyone (the room is one task). Parsing included,
//! as the lanchat door does it. Run with `cargo bench -p lanchat-core
//! --bench commands`.

use divan::black_box;
use lanchat_core::{typed, MemberId, Output, Room, RoomId};

fn main() {
    divan::main();
}

/// A room of 100 members; returns it and the first member's id.
fn room() -> (Room, MemberId) {
    let mut room = Room::new(RoomId::MAIN, "bench", 4096);
    let mut out = Vec::new();
    let first = room.join("alice", None, 0, &mut out).expect("a name");
    for i in 0..99 {
        room.join(&format!("member{i}"), None, 0, &mut out)
            .expect("a name");
    }
    (room, first)
}

/// The line sent for each case.
fn line(case: &str) -> String {
    match case {
        "message" => "x".repeat(64),
        "message, 4 KiB" => "x".repeat(4000),
        "whisper" => format!("/w member42 {}", "x".repeat(64)),
        "whisper to a missing name" => format!("/w nobody {}", "x".repeat(64)),
        // The red-team line: 1,330 copies of U+FDFA (3 bytes; NFKC makes
        // each 18 characters) as the whisper target.
        "whisper to a huge look-alike name" => format!("/w {} hi", "\u{FDFA}".repeat(1330)),
        "list" => "/list".to_owned(),
        "commands" => "/commands".to_owned(),
        "unknown command, 4 KiB" => format!("/{}", "x".repeat(4000)),
        other => unreachable!("no case {other}"),
    }
}

const CASES: &[&str] = &[
    "message",
    "message, 4 KiB",
    "whisper",
    "whisper to a missing name",
    "whisper to a huge look-alike name",
    "list",
    "commands",
    "unknown command, 4 KiB",
];

#[divan::bench(args = CASES)]
fn apply(bencher: divan::Bencher, case: &str) {
    let (mut room, alice) = room();
    let line = line(case);
    let mut out: Vec<Output> = Vec::new();
    bencher.bench_local(|| {
        out.clear();
        if let Ok(command) = typed::parse(black_box(&line)) {
            room.apply(alice, command, None, 1, &mut out);
        }
        black_box(&out);
    });
}
