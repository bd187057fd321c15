use bytes::BytesMut;

use super::*;
use crate::{ClientFrame, Greeting, GreetingError, ServerFrame};

fn lines(input: &[&[u8]], max: usize) -> Vec<Result<Option<String>, DecodeError>> {
    let mut dec = LineDecoder::new(max);
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for chunk in input {
        buf.extend_from_slice(chunk);
        loop {
            let r = dec.next_line(&mut buf);
            let stop = !matches!(r, Ok(Some(_)));
            out.push(r.map(|o| o.map(|l| String::from_utf8_lossy(&l).into_owned())));
            if stop {
                break;
            }
        }
    }
    out
}

#[test]
fn crlf_lf_and_byte_at_a_time_give_the_same_lines() {
    let whole = lines(&[b"a\r\nb\n"], 64);
    let bytewise: Vec<&[u8]> = b"a\r\nb\n".chunks(1).collect();
    let split = lines(&bytewise, 64);
    let got = |v: Vec<Result<Option<String>, DecodeError>>| {
        v.into_iter()
            .filter_map(|r| r.ok().flatten())
            .collect::<Vec<_>>()
    };
    assert_eq!(got(whole), ["a", "b"]);
    assert_eq!(got(split), ["a", "b"]);
}

#[test]
fn an_unterminated_line_past_the_cap_is_an_error() {
    let out = lines(&[&[b'x'; 10]], 8);
    assert_eq!(out.last(), Some(&Err(DecodeError::TooLong { max: 8 })));
}

#[test]
fn a_line_exactly_at_the_cap_is_accepted() {
    let out = lines(&[b"1234567\n"], 8);
    assert_eq!(out[0], Ok(Some("1234567".into())));
}

#[test]
fn frames_round_trip() {
    let frame = ServerFrame::Whisper {
        id: 0,
        ts: String::new(),
        label: None,
        from: "alice".into(),
        to: "bob".into(),
        text: "hi \u{1b}[2J".into(),
    };
    let bytes = encode(&frame).unwrap();
    assert!(bytes.ends_with(b"\n"));
    let mut buf = BytesMut::from(&bytes[..]);
    let back: ServerFrame = LineDecoder::default()
        .next_frame(&mut buf)
        .unwrap()
        .unwrap();
    assert_eq!(back, frame);
}

#[test]
fn unknown_types_and_fields_are_tolerated() {
    let f: ClientFrame = decode(br#"{"type":"teleport","to":"mars"}"#).unwrap();
    assert_eq!(f, ClientFrame::Unknown);
    let f: ClientFrame = decode(br#"{"type":"input","text":"hi","extra":1}"#).unwrap();
    assert_eq!(
        f,
        ClientFrame::Input {
            text: "hi".into(),
            label: None
        }
    );
}

#[test]
fn bad_bytes_are_errors_not_panics() {
    assert_eq!(
        decode::<ClientFrame>(b"\xff\xfe"),
        Err(DecodeError::NotUtf8)
    );
    assert!(matches!(
        decode::<ClientFrame>(b"GET / HTTP/1.1"),
        Err(DecodeError::Malformed(_))
    ));
}

#[test]
fn blank_lines_are_skipped() {
    let mut buf = BytesMut::from(&b"\r\n  \n{\"type\":\"ping\",\"token\":7}\n"[..]);
    let f: Option<ClientFrame> = LineDecoder::default().next_frame(&mut buf).unwrap();
    assert_eq!(f, Some(ClientFrame::Ping { token: 7 }));
}

#[test]
fn greeting_starts_with_magic_and_round_trips() {
    let g = Greeting::new("lab", "host1");
    let bytes = encode(&g).unwrap();
    assert!(bytes.starts_with(crate::greeting::MAGIC));
    assert_eq!(Greeting::parse(&bytes[..bytes.len() - 1]), Ok(g));
}

#[test]
fn near_miss_greetings_are_refused() {
    for bad in [
        &b"HTTP/1.1 400 Bad Request"[..],
        b"{\"lanchat\":1}",
        b"{\"lanchat\":1,\"type\":\"nope\",\"room\":\"r\",\"server\":\"s\",\"software\":\"x\"}",
        b"{\"lanchatX\":1}",
        b"",
    ] {
        assert_eq!(
            Greeting::parse(bad),
            Err(GreetingError::NotLanchat),
            "{bad:?}"
        );
    }
    let future = br#"{"lanchat":9,"type":"hello","room":"r","server":"s","software":"x"}"#;
    assert_eq!(
        Greeting::parse(future),
        Err(GreetingError::Version { server: 9 })
    );
}

mod properties {
    use bytes::BytesMut;
    use proptest::prelude::*;

    use crate::{ClientFrame, DecodeError, LineDecoder, ServerFrame};

    /// Decodes like a transport does: skip bad frames, and on an over-long
    /// one drop the buffer (the transport closes the connection).
    fn drain<T: serde::de::DeserializeOwned>(dec: &mut LineDecoder, buf: &mut BytesMut) {
        loop {
            match dec.next_frame::<T>(buf) {
                Ok(Some(_)) | Err(DecodeError::NotUtf8 | DecodeError::Malformed(_)) => {}
                Ok(None) => break,
                Err(DecodeError::TooLong { .. }) => {
                    dec.reset(buf);
                    break;
                }
            }
        }
    }

    proptest! {
        #[test]
        fn the_decoder_never_panics_on_arbitrary_bytes(
            chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..20)
        ) {
            let mut client = LineDecoder::new(512);
            let mut server = LineDecoder::new(512);
            let mut a = BytesMut::new();
            let mut b = BytesMut::new();
            for chunk in chunks {
                a.extend_from_slice(&chunk);
                b.extend_from_slice(&chunk);
                drain::<ClientFrame>(&mut client, &mut a);
                drain::<ServerFrame>(&mut server, &mut b);
                prop_assert!(a.len() < 512 && b.len() < 512);
            }
        }

        #[test]
        fn any_input_frame_round_trips(text in any::<String>()) {
            let frame = ClientFrame::Input { text, label: None };
            let bytes = crate::encode(&frame).unwrap();
            let back: ClientFrame = crate::codec::decode(&bytes[..bytes.len() - 1]).unwrap();
            prop_assert_eq!(back, frame);
        }
    }
}

#[test]
fn greeting_check_decides_as_early_as_it_can() {
    use crate::GreetingCheck;
    let g = encode(&Greeting::new("lab", "h")).unwrap();
    assert_eq!(Greeting::check(&g[..5]), GreetingCheck::Incomplete);
    assert_eq!(
        Greeting::check(b"HTTP/1.1"),
        GreetingCheck::Rejected(GreetingError::NotLanchat)
    );
    let mut with_more = g.to_vec();
    with_more.extend_from_slice(b"{\"type\":\"ping\"");
    assert_eq!(
        Greeting::check(&with_more),
        GreetingCheck::Done {
            greeting: Greeting::new("lab", "h"),
            len: g.len()
        }
    );
}
