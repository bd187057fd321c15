//! The little of each protocol the generator needs: log in, send a
//! message, recognise a delivered message and a ping. Parsing is by byte
//! search, not a full parser, so the generator stays cheap per delivery.

use crate::{Lines, Proto};

/// Bytes to send right after connecting. With `stamps`, a lanchat client
/// asks for event ids and times, as the lanchat client does.
pub fn login(proto: Proto, name: &str, stamps: bool) -> Vec<u8> {
    match proto.lines() {
        Lines::Lanchat if stamps => {
            format!("{{\"type\":\"join\",\"name\":\"{name}\",\"caps\":[\"stamps\"]}}\n")
                .into_bytes()
        }
        Lines::Lanchat => format!("{{\"type\":\"join\",\"name\":\"{name}\"}}\n").into_bytes(),
        Lines::Irc => format!("NICK {name}\r\nUSER {name} 0 * :bench\r\n").into_bytes(),
    }
}

/// What to send when registration succeeds: IRC servers refuse a JOIN
/// before the 001 welcome.
pub fn after_registration(proto: Proto, line: &[u8], channel: &str) -> Option<Vec<u8>> {
    match proto.lines() {
        Lines::Irc if irc_command(line) == Some(b"001") => {
            Some(format!("JOIN {channel}\r\n").into_bytes())
        }
        _ => None,
    }
}

/// Whether this line completes the login (we are in the room).
pub fn is_in(proto: Proto, line: &[u8]) -> bool {
    match proto.lines() {
        Lines::Lanchat => contains(line, b"\"type\":\"welcome\""),
        // 366: end of the NAMES list, sent after a successful JOIN.
        Lines::Irc => irc_command(line) == Some(b"366"),
    }
}

/// Whether this line says we were refused or thrown out.
pub fn is_refusal(proto: Proto, line: &[u8]) -> bool {
    match proto.lines() {
        Lines::Lanchat => {
            contains(line, b"\"type\":\"bye\"") || contains(line, b"\"type\":\"name_rejected\"")
        }
        Lines::Irc => line.starts_with(b"ERROR") || irc_command(line) == Some(b"433"),
    }
}

/// One chat message carrying `payload`.
pub fn message(proto: Proto, payload: &str, channel: &str, out: &mut Vec<u8>) {
    out.clear();
    match proto.lines() {
        Lines::Lanchat => {
            out.extend_from_slice(b"{\"type\":\"input\",\"text\":\"");
            out.extend_from_slice(payload.as_bytes());
            out.extend_from_slice(b"\"}\n");
        }
        Lines::Irc => {
            out.extend_from_slice(b"PRIVMSG ");
            out.extend_from_slice(channel.as_bytes());
            out.extend_from_slice(b" :");
            out.extend_from_slice(payload.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }
}

/// The payload of a delivered chat message, if the line is one. This is
/// the generator's hot path (once per delivery), so it walks the known
/// shape of the line with `memchr` instead of searching it generally.
pub fn delivered(proto: Proto, line: &[u8]) -> Option<&[u8]> {
    match proto.lines() {
        Lines::Lanchat => {
            // Revision 2 puts `id` and `ts` between the type and the sender.
            const HEAD: &[u8] = b"{\"type\":\"message\",";
            const TEXT: &[u8] = b"\"text\":\"";
            let rest = line.strip_prefix(HEAD)?;
            let payload = &rest[find(rest, TEXT)? + TEXT.len()..];
            let end = memchr::memchr(b'"', payload)?;
            Some(&payload[..end])
        }
        Lines::Irc => {
            let at = memchr::memmem::find(line, b" PRIVMSG ")?;
            let colon = memchr::memmem::find(&line[at..], b" :")? + at + 2;
            Some(trim_cr(&line[colon..]))
        }
    }
}

/// The answer to a keepalive ping, if the line is one.
pub fn pong(proto: Proto, line: &[u8]) -> Option<Vec<u8>> {
    match proto.lines() {
        Lines::Lanchat => {
            if !line.starts_with(b"{\"type\":\"ping\"") {
                return None;
            }
            let token = &line[find(line, b"\"token\":")? + 8..];
            let end = token
                .iter()
                .position(|b| !b.is_ascii_digit())
                .unwrap_or(token.len());
            let mut out = b"{\"type\":\"pong\",\"token\":".to_vec();
            out.extend_from_slice(&token[..end]);
            out.extend_from_slice(b"}\n");
            Some(out)
        }
        Lines::Irc => {
            let rest = line.strip_prefix(b"PING")?;
            let mut out = b"PONG".to_vec();
            out.extend_from_slice(trim_cr(rest));
            out.extend_from_slice(b"\r\n");
            Some(out)
        }
    }
}

/// The command (or numeric) of an IRC line, after the optional prefix.
fn irc_command(line: &[u8]) -> Option<&[u8]> {
    let mut words = line.split(|&b| b == b' ').filter(|w| !w.is_empty());
    let first = words.next()?;
    if first.starts_with(b":") {
        words.next()
    } else {
        Some(first)
    }
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(haystack, needle)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    find(haystack, needle).is_some()
}

/// A payload: `sender.seq.send_ns.` padded with `x` to `size` bytes.
pub fn payload(sender: usize, seq: u64, sent_ns: u64, size: usize) -> String {
    let mut p = format!("{sender}.{seq}.{sent_ns}.");
    while p.len() < size {
        p.push('x');
    }
    p
}

/// Reads back (sender, seq, send_ns) from a payload.
pub fn parse_payload(p: &[u8]) -> Option<(usize, u64, u64)> {
    let mut rest = p;
    let mut number = || {
        let end = memchr::memchr(b'.', rest)?;
        let digits = &rest[..end];
        rest = &rest[end + 1..];
        if digits.is_empty() || digits.len() > 19 {
            return None;
        }
        digits.iter().try_fold(0u64, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + u64::from(d - b'0'))
        })
    };
    let sender = number()? as usize;
    let seq = number()?;
    let sent = number()?;
    Some((sender, seq, sent))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lanchat_and_irc_lines() {
        let p = payload(3, 17, 123456, 40);
        assert_eq!(p.len(), 40);
        let line = format!("{{\"type\":\"message\",\"from\":\"b3\",\"text\":\"{p}\"}}");
        let got = delivered(Proto::Lanchat, line.as_bytes()).unwrap();
        assert_eq!(parse_payload(got), Some((3, 17, 123456)));
        let v2 = format!(
            "{{\"type\":\"message\",\"id\":9,\"ts\":\"2026-11-30T09:00:00.000Z\",\"from\":\"b3\",\"text\":\"{p}\"}}"
        );
        let got = delivered(Proto::Lanchat, v2.as_bytes()).unwrap();
        assert_eq!(parse_payload(got), Some((3, 17, 123456)));
        let irc = format!(":b3!b3@localhost PRIVMSG #lanchat :{p}\r");
        let got = delivered(Proto::Irc, irc.as_bytes()).unwrap();
        assert_eq!(parse_payload(got), Some((3, 17, 123456)));
        assert_eq!(
            pong(Proto::Lanchat, b"{\"type\":\"ping\",\"token\":42}").unwrap(),
            b"{\"type\":\"pong\",\"token\":42}\n"
        );
        assert_eq!(pong(Proto::Irc, b"PING :srv\r").unwrap(), b"PONG :srv\r\n");
        assert!(!is_refusal(Proto::Irc, b":srv 251 b5 :There are 433 users"));
        assert!(is_refusal(
            Proto::Irc,
            b":srv 433 * b5 :Nickname already in use"
        ));
        assert!(is_in(
            Proto::Irc,
            b":srv 366 b5 #lanchat :End of NAMES list"
        ));
    }
}
