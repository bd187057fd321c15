//! Framing: each frame is one line of UTF-8 JSON ending in `\n` (a `\r`
//! before it is tolerated), at most [`MAX_FRAME_LEN`] bytes long.
//!
//! [`LineDecoder`] cuts lines out of a growing buffer and remembers how far
//! it has already searched, so a peer that trickles one byte at a time costs
//! linear, not quadratic, work. [`decode`] turns a line into a frame.

use bytes::{Buf, Bytes, BytesMut};
use serde::{de::DeserializeOwned, Serialize};

use crate::limits::MAX_FRAME_LEN;

/// Why bytes could not be turned into a frame.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    /// A line (or the unterminated tail of the buffer) is longer than the
    /// cap. The stream cannot be resynchronised cheaply, so the connection
    /// should be closed.
    #[error("frame longer than {max} bytes")]
    TooLong { max: usize },
    /// The line is not valid UTF-8.
    #[error("frame is not valid UTF-8")]
    NotUtf8,
    /// The line is UTF-8 but not a frame we understand.
    #[error("malformed frame: {0}")]
    Malformed(String),
}

/// Cuts newline-terminated lines out of a buffer, with a hard length cap.
#[derive(Debug, Clone)]
pub struct LineDecoder {
    max: usize,
    /// How many bytes at the front of the buffer are known to hold no `\n`.
    scanned: usize,
}

impl Default for LineDecoder {
    fn default() -> Self {
        LineDecoder::new(MAX_FRAME_LEN)
    }
}

impl LineDecoder {
    /// A decoder accepting lines of up to `max` bytes, newline included.
    pub fn new(max: usize) -> Self {
        LineDecoder { max, scanned: 0 }
    }

    /// Takes the next complete line off the front of `buf`, without its
    /// line ending. `Ok(None)` means more bytes are needed.
    pub fn next_line(&mut self, buf: &mut BytesMut) -> Result<Option<BytesMut>, DecodeError> {
        let limit = buf.len().min(self.max);
        let found = buf[self.scanned.min(limit)..limit]
            .iter()
            .position(|&b| b == b'\n')
            .map(|i| i + self.scanned);
        match found {
            Some(end) => {
                self.scanned = 0;
                let mut line = buf.split_to(end + 1);
                line.truncate(end);
                if line.last() == Some(&b'\r') {
                    line.truncate(end - 1);
                }
                Ok(Some(line))
            }
            None if buf.len() >= self.max => Err(DecodeError::TooLong { max: self.max }),
            None => {
                self.scanned = limit;
                Ok(None)
            }
        }
    }

    /// Takes the next complete frame off the front of `buf`. Blank lines are
    /// skipped, so a human typing into `nc` is not punished for Enter.
    pub fn next_frame<T: DeserializeOwned>(
        &mut self,
        buf: &mut BytesMut,
    ) -> Result<Option<T>, DecodeError> {
        loop {
            match self.next_line(buf)? {
                None => return Ok(None),
                Some(line) if line.iter().all(u8::is_ascii_whitespace) => continue,
                Some(line) => return decode(&line).map(Some),
            }
        }
    }

    /// Drops whatever partial line is buffered (used after an error).
    pub fn reset(&mut self, buf: &mut BytesMut) {
        self.scanned = 0;
        buf.advance(buf.len());
    }
}

/// Parses one line (without its newline) as a frame.
pub fn decode<T: DeserializeOwned>(line: &[u8]) -> Result<T, DecodeError> {
    let text = std::str::from_utf8(line).map_err(|_| DecodeError::NotUtf8)?;
    serde_json::from_str(text).map_err(|e| DecodeError::Malformed(e.to_string()))
}

/// A frame could not be encoded (a type whose `Serialize` can fail; none
/// of this crate's can).
#[derive(Debug, thiserror::Error)]
#[error("could not encode a frame: {0}")]
pub struct EncodeError(#[from] serde_json::Error);

/// Appends a frame to `out` as one line, newline included. On an error
/// nothing is appended.
pub fn encode_into<T: Serialize>(frame: &T, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let start = out.len();
    if let Err(e) = serde_json::to_writer(&mut *out, frame) {
        out.truncate(start);
        return Err(e.into());
    }
    out.push(b'\n');
    Ok(())
}

/// Encodes a frame as one line, newline included.
pub fn encode<T: Serialize>(frame: &T) -> Result<Bytes, EncodeError> {
    let mut out = serde_json::to_vec(frame)?;
    out.push(b'\n');
    Ok(Bytes::from(out))
}

#[cfg(test)]
mod tests;
