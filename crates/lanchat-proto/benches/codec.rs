//! Frame encode and decode. Run with `cargo bench -p lanchat-proto`.

use bytes::BytesMut;
use divan::{black_box, Bencher};
use lanchat_proto::{encode, ClientFrame, LineDecoder, ServerFrame};

fn main() {
    divan::main();
}

fn message() -> ServerFrame {
    ServerFrame::Message {
        id: 123_456,
        ts: "2026-11-27T08:24:21.123Z".into(),
        action: false,
        label: None,
        from: "alice".into(),
        text: "the quick brown fox jumps over the lazy dog, 64 bytes of text..".into(),
    }
}

/// Encoding one room message (done once per message, not per recipient).
#[divan::bench]
fn encode_message() -> Option<bytes::Bytes> {
    encode(black_box(&message())).ok()
}

/// Decoding one typed line from a client (done once per message).
#[divan::bench]
fn decode_input(bencher: Bencher) {
    let line = encode(&ClientFrame::Input {
        text: "the quick brown fox jumps over the lazy dog, 64 bytes of text..".into(),
        label: None,
    })
    .unwrap_or_default();
    let mut decoder = LineDecoder::default();
    bencher.bench_local(|| {
        let mut buf = BytesMut::from(&line[..]);
        decoder.next_frame::<ClientFrame>(&mut buf)
    });
}

/// Decoding a room message on the client.
#[divan::bench]
fn decode_message(bencher: Bencher) {
    let line = encode(&message()).unwrap_or_default();
    let mut decoder = LineDecoder::default();
    bencher.bench_local(|| {
        let mut buf = BytesMut::from(&line[..]);
        decoder.next_frame::<ServerFrame>(&mut buf)
    });
}
