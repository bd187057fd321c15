//! Routing one message to everyone in a room of 1,000: the room's decision,
//! encoding it once, and queueing the same bytes for each member (what the
//! hub does per message). Run with `cargo bench -p lanchat-server`.

use divan::Bencher;
use lanchat_core::{Output, Room, Target};
use lanchat_proto::encode;
use lanchat_server::bench_api::{frame_of, Outbox};

fn main() {
    divan::main();
}

#[divan::bench(args = [100, 1000])]
fn route_one_message(bencher: Bencher, members: usize) {
    let mut room = Room::new("bench");
    let mut out = Vec::new();
    let mut ids = Vec::new();
    for i in 0..members {
        ids.push(room.join(&format!("user{i}"), &mut out).expect("join"));
    }
    let outboxes: Vec<Outbox> = (0..members).map(|_| Outbox::new(usize::MAX)).collect();
    let mut drained = Vec::new();
    bencher.bench_local(|| {
        out.clear();
        room.input(
            ids[0],
            "the quick brown fox jumps over the lazy dog",
            &mut out,
        );
        for output in out.drain(..) {
            if let Output::Send {
                to: Target::All,
                event,
            } = output
            {
                let bytes = encode(&frame_of(event));
                for outbox in &outboxes {
                    let _ = outbox.push(bytes.clone());
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
