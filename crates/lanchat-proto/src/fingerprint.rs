//! A server's identity as people see it: the SHA-256 of its TLS
//! certificate, written in base32.
//!
//! The full form (`sha256:` and 52 base32 letters) is what `known_rooms`
//! stores and what discovery carries. The spoken form is its first 20
//! letters in five groups of four: 100 bits, which nobody can match by
//! making keys until one fits, and short enough to read out across a room.
//! `--fingerprint` accepts either (any prefix of at least 20 letters).

use std::fmt;

use sha2::{Digest, Sha256};

/// The alphabet of RFC 4648 base32, lower case (no 0/1/8/9 to misread).
const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// The letters in the spoken form, and the fewest a user may give.
pub const SPOKEN_LETTERS: usize = 20;

/// The letters in the full form (256 bits, 5 bits a letter).
const FULL_LETTERS: usize = 52;

/// What the full form starts with.
const PREFIX: &str = "sha256:";

/// The SHA-256 of a server certificate (DER).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint([u8; 32]);

/// Why some text is not a fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FingerprintError {
    #[error(
        "a fingerprint is written in the letters a-z and the digits 2-7; '{0}' is not one of them"
    )]
    Letter(char),
    #[error(
        "a fingerprint needs at least {SPOKEN_LETTERS} letters (the spoken form), this has {0}"
    )]
    TooShort(usize),
    #[error("a fingerprint has at most {FULL_LETTERS} letters, this has {0}")]
    TooLong(usize),
}

impl Fingerprint {
    /// The fingerprint of a certificate.
    pub fn of_certificate(der: &[u8]) -> Fingerprint {
        Fingerprint(Sha256::digest(der).into())
    }

    /// The full form's letters, without the prefix.
    fn letters(&self) -> String {
        let mut out = String::with_capacity(FULL_LETTERS);
        let (mut acc, mut bits) = (0u32, 0u32);
        for &byte in &self.0 {
            acc = (acc << 8) | u32::from(byte);
            bits += 8;
            while bits >= 5 {
                bits -= 5;
                out.push(ALPHABET[((acc >> bits) & 31) as usize] as char);
            }
        }
        if bits > 0 {
            out.push(ALPHABET[((acc << (5 - bits)) & 31) as usize] as char);
        }
        out
    }

    /// The spoken form: `ABCD EFGH IJKL MNOP QRST`.
    pub fn spoken(&self) -> String {
        let letters = self.letters().to_ascii_uppercase();
        letters.as_bytes()[..SPOKEN_LETTERS]
            .chunks(4)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Whether `expected` (a full form or a prefix of it, see
    /// [`Expected`]) names this fingerprint.
    pub fn matches(&self, expected: &Expected) -> bool {
        self.letters().starts_with(&expected.0)
    }

    /// Parses the full form (as [`fmt::Display`] writes it).
    pub fn parse(text: &str) -> Option<Fingerprint> {
        let expected = Expected::parse(text).ok()?;
        if expected.0.len() != FULL_LETTERS {
            return None;
        }
        let (mut acc, mut bits, mut out, mut n) = (0u32, 0u32, [0u8; 32], 0);
        for c in expected.0.bytes() {
            let v = ALPHABET.iter().position(|&a| a == c)? as u32;
            acc = (acc << 5) | v;
            bits += 5;
            if bits >= 8 {
                bits -= 8;
                if n < 32 {
                    out[n] = (acc >> bits) as u8;
                }
                n += 1;
            }
        }
        let fp = Fingerprint(out);
        (fp.letters() == expected.0).then_some(fp)
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{PREFIX}{}", self.letters())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A fingerprint as a user gave it: the full form or the spoken one (any
/// case, spaces and dashes ignored), kept as lower-case letters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected(String);

impl Expected {
    /// Reads a fingerprint a user typed.
    pub fn parse(text: &str) -> Result<Expected, FingerprintError> {
        let text = text.trim();
        let text = match text.get(..PREFIX.len()) {
            Some(head) if head.eq_ignore_ascii_case(PREFIX) => &text[PREFIX.len()..],
            _ => text,
        };
        let mut letters = String::with_capacity(FULL_LETTERS);
        for c in text.chars() {
            match c.to_ascii_lowercase() {
                ' ' | '-' | ':' => {}
                c @ ('a'..='z' | '2'..='7') => letters.push(c),
                c => return Err(FingerprintError::Letter(c)),
            }
        }
        match letters.len() {
            n if n < SPOKEN_LETTERS => Err(FingerprintError::TooShort(n)),
            n if n > FULL_LETTERS => Err(FingerprintError::TooLong(n)),
            _ => Ok(Expected(letters)),
        }
    }
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_and_spoken_forms_name_the_same_key() {
        let fp = Fingerprint::of_certificate(b"a certificate");
        let full = fp.to_string();
        assert!(full.starts_with("sha256:"));
        assert_eq!(full.len(), PREFIX.len() + FULL_LETTERS);
        assert_eq!(Fingerprint::parse(&full), Some(fp));
        assert_eq!(Fingerprint::parse(&full.to_uppercase()), Some(fp));
        let spoken = fp.spoken();
        assert_eq!(spoken.len(), 24);
        assert!(fp.matches(&Expected::parse(&spoken).unwrap()));
        assert!(fp.matches(&Expected::parse(&spoken.replace(' ', "-")).unwrap()));
        let other = Fingerprint::of_certificate(b"another certificate");
        assert!(!other.matches(&Expected::parse(&spoken).unwrap()));
        assert!(!other.matches(&Expected::parse(&full).unwrap()));
    }

    #[test]
    fn bad_fingerprints_are_refused_with_a_reason() {
        assert_eq!(Expected::parse("abcd"), Err(FingerprintError::TooShort(4)));
        assert_eq!(
            Expected::parse("abcd efgh ijkl mnop qrs1"),
            Err(FingerprintError::Letter('1'))
        );
        assert_eq!(
            Expected::parse(&"a".repeat(60)),
            Err(FingerprintError::TooLong(60))
        );
        assert_eq!(Fingerprint::parse("sha256:abcd efgh ijkl mnop qrst"), None);
        assert_eq!(
            Fingerprint::parse(&format!("sha256:{}", "b".repeat(52))),
            None
        );
    }
}
