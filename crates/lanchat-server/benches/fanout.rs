//! Routing one message to everyone in a room of 1,000: the room's decision,
//! encoding it once in the lanchat wire format, and queueing the same bytes
//! for each member (what the hub does per message). Run with
//! `cargo bench -p lanchat-server`.

use divan::Bencher;
use lanchat_core::{Command, Output, Room, RoomId, Target};
use lanchat_server::bench_api::Outbox;
use lanchat_server::door::{EventRef, WireFormat};
use lanchat_server::json_format::JsonLines;
use lanchat_server::{advertised_limits, Config};

fn main() {
    divan::main();
}

#[divan::bench(args = [100, 1000])]
fn route_one_message(bencher: Bencher, members: usize) {
    let format = JsonLines::new(advertised_limits(&Config::new("bench", "host")));
    let mut room = Room::new(RoomId::MAIN, "bench", 4096);
    let mut out = Vec::new();
    let mut ids = Vec::new();
    for i in 0..members {
        let id = room.join(&format!("user{i}"), None, 0, &mut out);
        ids.push(id.expect("join"));
    }
    let outboxes: Vec<Outbox> = (0..members).map(|_| Outbox::new(usize::MAX)).collect();
    let mut drained = Vec::new();
    let mut now = 1_795_767_861_123;
    bencher.bench_local(|| {
        out.clear();
        now += 1;
        let text = "the quick brown fox jumps over the lazy dog".into();
        room.apply(ids[0], Command::Say { text }, None, now, &mut out);
        for output in out.drain(..) {
            if let Output::Send(d) = output {
                if d.to == Target::All {
                    let bytes = format.encode_one(EventRef {
                        room: d.room,
                        event: &d.event,
                        stamp: d.stamp,
                        label: None,
                        recipient: None,
                    });
                    for outbox in &outboxes {
                        let _ = outbox.push(bytes.clone());
                    }
                }
            }
        }
        // Empty the queues as the connections would, outside the hub.
        for outbox in &outboxes {
            outbox.drain_into(&mut drained);
            drained.clear();
        }
    });
}
