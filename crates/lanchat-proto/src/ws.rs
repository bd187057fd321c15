//! WebSocket frames (RFC 6455), sans-IO: the header both ends read, the
//! frame both ends write, and the handshake's accept key. The server's
//! stream adapter and the load generator's client are built on these.

/// Opcodes.
pub const OP_CONTINUATION: u8 = 0x0;
pub const OP_TEXT: u8 = 0x1;
pub const OP_CLOSE: u8 = 0x8;
pub const OP_PING: u8 = 0x9;
pub const OP_PONG: u8 = 0xA;

/// The largest control frame payload (RFC 6455, 5.5).
pub const MAX_CONTROL: u64 = 125;

/// A frame's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub fin: bool,
    pub opcode: u8,
    /// The payload's length.
    pub len: u64,
    /// The masking key, for a masked frame (every client frame).
    pub mask: Option<[u8; 4]>,
    /// The header's own length, in bytes.
    pub size: usize,
}

/// Why bytes are not a frame we take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("websocket extension bits set")]
    Extension,
}

/// Reads a frame header from the front of `raw`; `Ok(None)` until enough
/// bytes are there.
pub fn header(raw: &[u8]) -> Result<Option<Header>, FrameError> {
    let (Some(&b0), Some(&b1)) = (raw.first(), raw.get(1)) else {
        return Ok(None);
    };
    if b0 & 0x70 != 0 {
        return Err(FrameError::Extension);
    }
    let (len, at) = match b1 & 0x7F {
        126 => match raw.get(2..4) {
            Some(b) => (u64::from(u16::from_be_bytes([b[0], b[1]])), 4),
            None => return Ok(None),
        },
        127 => match raw.get(2..10) {
            Some(b) => {
                let mut be = [0u8; 8];
                be.copy_from_slice(b);
                (u64::from_be_bytes(be), 10)
            }
            None => return Ok(None),
        },
        n => (u64::from(n), 2),
    };
    let (mask, size) = if b1 & 0x80 != 0 {
        match raw.get(at..at + 4) {
            Some(m) => (Some([m[0], m[1], m[2], m[3]]), at + 4),
            None => return Ok(None),
        }
    } else {
        (None, at)
    };
    Ok(Some(Header {
        fin: b0 & 0x80 != 0,
        opcode: b0 & 0x0F,
        len,
        mask,
        size,
    }))
}

/// Appends a whole frame (final) with `opcode` and `payload`, masked with
/// `mask` if given (a client's frames must be, a server's must not).
pub fn frame(out: &mut Vec<u8>, opcode: u8, payload: &[u8], mask: Option<[u8; 4]>) {
    let masked = if mask.is_some() { 0x80 } else { 0 };
    out.push(0x80 | opcode);
    match payload.len() {
        n if n < 126 => out.push(masked | n as u8),
        n if n <= usize::from(u16::MAX) => {
            out.push(masked | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(masked | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    match mask {
        Some(mask) => {
            out.extend_from_slice(&mask);
            out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        }
        None => out.extend_from_slice(payload),
    }
}

/// The `Sec-WebSocket-Accept` answer to a client's key.
pub fn accept_key(key: &str) -> String {
    use sha1::{Digest, Sha1};
    const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    let digest = Sha1::digest(format!("{}{GUID}", key.trim()).as_bytes());
    base64(&digest)
}

/// Standard base64 with padding.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_accept_key_is_rfc_6455s_example() {
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn frames_round_trip_through_the_header() {
        for len in [0usize, 5, 125, 126, 300, 70_000] {
            let payload = vec![b'x'; len];
            for mask in [None, Some([1, 2, 3, 4])] {
                let mut out = Vec::new();
                frame(&mut out, OP_TEXT, &payload, mask);
                let h = header(&out).unwrap().unwrap();
                assert_eq!(
                    (h.fin, h.opcode, h.len, h.mask),
                    (true, OP_TEXT, len as u64, mask)
                );
                assert_eq!(out.len(), h.size + len);
                // Any prefix shorter than the header asks for more.
                assert_eq!(header(&out[..h.size - 1]).unwrap(), None);
            }
        }
        assert_eq!(header(&[0xC1, 0x00]), Err(FrameError::Extension));
    }
}
