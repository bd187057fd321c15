//! Arbitrary bytes, cut at an arbitrary point, through the frame decoder
//! for both directions and the greeting check: nothing may panic, and the
//! buffer never grows past the cap.
#![no_main]

use bytes::BytesMut;
use lanchat_proto::{ClientFrame, DecodeError, Greeting, LineDecoder, ServerFrame};
use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;

/// Decodes like a transport does: skip bad frames, and on an over-long one
/// drop the buffer (the transport closes the connection).
fn drain<T: DeserializeOwned>(data: &[u8], split: usize) {
    let mut decoder = LineDecoder::new(1024);
    let mut buf = BytesMut::new();
    for chunk in [&data[..split], &data[split..]] {
        buf.extend_from_slice(chunk);
        loop {
            match decoder.next_frame::<T>(&mut buf) {
                Ok(Some(_)) | Err(DecodeError::NotUtf8 | DecodeError::Malformed(_)) => {}
                Ok(None) => break,
                Err(DecodeError::TooLong { .. }) => {
                    decoder.reset(&mut buf);
                    break;
                }
            }
        }
        assert!(buf.len() < 1024);
    }
}

fuzz_target!(|data: &[u8]| {
    let split = data.first().map_or(0, |&b| usize::from(b)).min(data.len());
    drain::<ClientFrame>(data, split);
    drain::<ServerFrame>(data, split);
    let _ = Greeting::parse(data);
});
