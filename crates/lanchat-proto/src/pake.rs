//! The room passphrase check: SPAKE2, then a proof from each side bound to
//! the TLS session.
//!
//! Both ends start SPAKE2 with the passphrase and the room's name, swap one
//! message each, and derive a key. Only when both knew the same passphrase
//! do the keys agree, and the messages tell an eavesdropper nothing it could
//! test guesses against. Each side then proves its key with an HMAC over
//! the TLS exporter value of *its own* TLS session: a man in the middle
//! who terminated TLS sits in two sessions with two exporter values, so
//! even relaying the SPAKE2 messages untouched, it cannot make either
//! proof check out. The server proves first, so a client learns that a
//! room is fake before it gives anything away; every attempt costs an
//! attacker one connection and one guess.
//!
//! Sans-IO: the caller carries the messages (hex in `pake` frames) and
//! supplies the exporter value.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use spake2::{Ed25519Group, Identity, Password, Spake2};

/// The TLS exporter label both ends use for the binding.
pub const EXPORTER_LABEL: &[u8] = b"EXPORTER-lanchat-passphrase";

/// The length of the exporter value, and of each proof.
pub const BINDING_LEN: usize = 32;

/// The longest SPAKE2 message accepted (ours are 33 bytes).
pub const MAX_MESSAGE_LEN: usize = 64;

type HmacSha256 = Hmac<Sha256>;

/// A room passphrase, kept out of logs and debug output.
#[derive(Clone, PartialEq, Eq)]
pub struct Passphrase(std::sync::Arc<[u8]>);

impl Passphrase {
    /// The passphrase in the first line of a file's contents (a trailing
    /// newline is not part of it); `None` when that line is empty.
    pub fn from_file_text(text: &[u8]) -> Option<Passphrase> {
        let line = text.split(|&b| b == b'\n').next().unwrap_or_default();
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        (!line.is_empty()).then(|| Passphrase(line.into()))
    }

    /// The passphrase's bytes.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Passphrase(hidden)")
    }
}

/// Which end is proving.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Server,
    Client,
}

impl Side {
    fn label(self) -> &'static [u8] {
        match self {
            Side::Server => b"lanchat passphrase proof: server",
            Side::Client => b"lanchat passphrase proof: client",
        }
    }
}

/// Why the exchange failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PakeError {
    #[error("the passphrase exchange message is malformed")]
    Malformed,
}

/// One side's exchange, between sending its message and reading the peer's.
pub struct Pake {
    state: Spake2<Ed25519Group>,
}

impl std::fmt::Debug for Pake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pake")
    }
}

impl Pake {
    /// Starts the exchange for `room` with `passphrase`; the bytes are the
    /// message for the peer.
    pub fn start(passphrase: &[u8], room: &str) -> (Pake, Vec<u8>) {
        let identity = Identity::new(format!("lanchat room {room}").as_bytes());
        let (state, message) =
            Spake2::<Ed25519Group>::start_symmetric(&Password::new(passphrase), &identity);
        (Pake { state }, message)
    }

    /// Reads the peer's message; `binding` is this end's TLS exporter value.
    pub fn finish(self, theirs: &[u8], binding: &[u8]) -> Result<Proofs, PakeError> {
        if theirs.len() > MAX_MESSAGE_LEN {
            return Err(PakeError::Malformed);
        }
        let key = self
            .state
            .finish(theirs)
            .map_err(|_| PakeError::Malformed)?;
        Ok(Proofs {
            key,
            binding: binding.to_vec(),
        })
    }
}

/// The agreed key (if the passphrases matched) and the session it is bound to.
pub struct Proofs {
    key: Vec<u8>,
    binding: Vec<u8>,
}

impl std::fmt::Debug for Proofs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Proofs")
    }
}

impl Proofs {
    fn mac(&self, side: Side) -> HmacSha256 {
        // HMAC takes a key of any length.
        let mut mac = match HmacSha256::new_from_slice(&self.key) {
            Ok(mac) => mac,
            Err(_) => unreachable!("HMAC accepts keys of any length"),
        };
        mac.update(side.label());
        mac.update(&self.binding);
        mac
    }

    /// This side's proof, for the peer.
    pub fn prove(&self, side: Side) -> Vec<u8> {
        self.mac(side).finalize().into_bytes().to_vec()
    }

    /// Checks the peer's proof (in constant time).
    pub fn check(&self, side: Side, proof: &[u8]) -> bool {
        self.mac(side).verify_slice(proof).is_ok()
    }
}

/// Lower-case hex, for carrying the bytes in JSON.
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 15)] as char);
    }
    out
}

/// Reads hex of at most `max` bytes.
pub fn from_hex(text: &str, max: usize) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || text.len() > max * 2 {
        return None;
    }
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    text.as_bytes()
        .chunks(2)
        .map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exchange(
        client_pass: &[u8],
        server_pass: &[u8],
        client_binding: &[u8],
        server_binding: &[u8],
    ) -> (Proofs, Proofs) {
        let (client, to_server) = Pake::start(client_pass, "lab");
        let (server, to_client) = Pake::start(server_pass, "lab");
        let server = server.finish(&to_server, server_binding).unwrap();
        let client = client.finish(&to_client, client_binding).unwrap();
        (client, server)
    }

    #[test]
    fn the_same_passphrase_on_the_same_session_proves_both_ways() {
        let (client, server) = exchange(b"open sesame", b"open sesame", &[7; 32], &[7; 32]);
        assert!(client.check(Side::Server, &server.prove(Side::Server)));
        assert!(server.check(Side::Client, &client.prove(Side::Client)));
        // A proof is for one direction only: a reflected proof fails.
        assert!(!server.check(Side::Client, &server.prove(Side::Server)));
    }

    #[test]
    fn a_wrong_passphrase_fails_on_both_sides() {
        let (client, server) = exchange(b"open sesame", b"open sesame!", &[7; 32], &[7; 32]);
        assert!(!client.check(Side::Server, &server.prove(Side::Server)));
        assert!(!server.check(Side::Client, &client.prove(Side::Client)));
    }

    #[test]
    fn a_relay_between_two_tls_sessions_fails_even_with_the_right_passphrase() {
        // The SPAKE2 messages are relayed untouched; only the sessions differ.
        let (client, server) = exchange(b"open sesame", b"open sesame", &[1; 32], &[2; 32]);
        assert!(!client.check(Side::Server, &server.prove(Side::Server)));
        assert!(!server.check(Side::Client, &client.prove(Side::Client)));
    }

    #[test]
    fn another_room_name_fails() {
        let (client, to_server) = Pake::start(b"pw", "lab");
        let (server, to_client) = Pake::start(b"pw", "kitchen");
        let server = server.finish(&to_server, &[0; 32]).unwrap();
        let client = client.finish(&to_client, &[0; 32]).unwrap();
        assert!(!client.check(Side::Server, &server.prove(Side::Server)));
    }

    #[test]
    fn a_passphrase_file_is_its_first_line_and_never_printed() {
        let p = Passphrase::from_file_text(b"open sesame\r\nsecond line").unwrap();
        assert_eq!(p.expose(), b"open sesame");
        assert_eq!(format!("{p:?}"), "Passphrase(hidden)");
        assert_eq!(Passphrase::from_file_text(b"\nx"), None);
    }

    #[test]
    fn malformed_messages_and_hex_are_refused() {
        let (pake, _) = Pake::start(b"pw", "lab");
        assert_eq!(
            pake.finish(&[0; 200], &[]).err(),
            Some(PakeError::Malformed)
        );
        let (pake, _) = Pake::start(b"pw", "lab");
        assert_eq!(pake.finish(b"short", &[]).err(), Some(PakeError::Malformed));
        assert_eq!(from_hex("0aff", 8), Some(vec![10, 255]));
        assert_eq!(from_hex("0g", 8), None);
        assert_eq!(from_hex("abc", 8), None);
        assert_eq!(from_hex(&"00".repeat(9), 8), None);
        assert_eq!(to_hex(&[10, 255]), "0aff");
    }
}
