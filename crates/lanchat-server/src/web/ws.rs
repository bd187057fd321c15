//! WebSocket (RFC 6455) as a byte stream, so that the lanchat door runs
//! over it unchanged, as it runs over TLS: what browsers send in text
//! messages is read as bytes (each message carries whole JSON lines), and
//! what the door writes goes out as text messages.
//!
//! Reading streams each frame's payload straight through (unmasked) and
//! keeps only a header's worth of bytes of its own, so a frame of any
//! declared size costs no memory; the line decoder above caps the lines.
//! Pings are answered, pongs ignored, and a close is answered and read as
//! the end of the stream. Client frames must be masked and text or
//! continuation; anything else ends the connection.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, BytesMut};
use lanchat_proto::ws::{
    frame, header, MAX_CONTROL, OP_CLOSE, OP_CONTINUATION, OP_PING, OP_PONG, OP_TEXT,
};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

pub(crate) use lanchat_proto::ws::accept_key;

/// The most bytes read from the socket at once.
const READ_CHUNK: usize = 4096;

/// Past this many framed bytes waiting for the socket, writes wait.
const MAX_PENDING_OUT: usize = 256 * 1024;

/// Buffers bigger than this are given back once empty.
const KEEP: usize = 4096;

/// Control frames (pings, pongs) a client may send in a row without a
/// byte of data. They carry nothing the door meters, so past this they
/// end the connection: a browser sends none, and any client's answers to
/// the server's own pings are data, which resets the count.
const MAX_CONTROL_IN_A_ROW: u32 = 16;

/// The payload of a data frame still to be handed out.
#[derive(Debug, Clone, Copy)]
struct Data {
    left: u64,
    mask: [u8; 4],
    /// Where in the mask the next byte is.
    at: usize,
}

/// A WebSocket connection's server side, over `S`.
pub(crate) struct WsStream<S> {
    inner: S,
    /// Bytes read and not yet decoded: at most a header and a control
    /// frame's payload.
    raw: BytesMut,
    data: Option<Data>,
    /// Frames to write (ours, pongs, the close); `out[sent..]` is unsent.
    out: Vec<u8>,
    sent: usize,
    /// Control frames since the last data byte.
    controls: u32,
    /// A close was sent (in answer, or ours).
    close_sent: bool,
    /// The peer closed (or sent nonsense): reads are at their end.
    ended: bool,
}

fn bad(why: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, why)
}

impl<S> WsStream<S> {
    /// A WebSocket over `inner`, after the upgrade; `early` are bytes the
    /// client sent after its request, already read.
    pub(crate) fn new(inner: S, early: BytesMut) -> Self {
        WsStream {
            inner,
            raw: early,
            data: None,
            out: Vec::new(),
            sent: 0,
            controls: 0,
            close_sent: false,
            ended: false,
        }
    }

    /// Queues a close frame (once).
    fn close(&mut self, code: u16) {
        if !self.close_sent {
            self.close_sent = true;
            frame(&mut self.out, OP_CLOSE, &code.to_be_bytes(), None);
        }
    }

    /// Decodes what `raw` holds: data into `buf`, control frames handled.
    /// `Ok(true)` when it made progress.
    fn decode(&mut self, buf: &mut ReadBuf<'_>) -> io::Result<bool> {
        if let Some(mut data) = self.data {
            let n = (self.raw.len() as u64)
                .min(data.left)
                .min(buf.remaining() as u64) as usize;
            if data.left > 0 && n == 0 {
                return Ok(false);
            }
            let dst = buf.initialize_unfilled_to(n);
            for (i, (d, s)) in dst.iter_mut().zip(&self.raw[..n]).enumerate() {
                *d = s ^ data.mask[(data.at + i) % 4];
            }
            buf.advance(n);
            self.raw.advance(n);
            data.left -= n as u64;
            data.at = (data.at + n) % 4;
            self.data = (data.left > 0).then_some(data);
            if n > 0 {
                self.controls = 0;
            }
            return Ok(true);
        }
        let Some(h) = header(&self.raw).map_err(|_| bad("websocket extension bits set"))? else {
            return Ok(false);
        };
        let Some(mask) = h.mask else {
            return Err(bad("an unmasked websocket frame from a client"));
        };
        match h.opcode {
            OP_TEXT | OP_CONTINUATION => {
                self.raw.advance(h.size);
                self.data = Some(Data {
                    left: h.len,
                    mask,
                    at: 0,
                });
                Ok(true)
            }
            OP_CLOSE | OP_PING | OP_PONG => {
                if !h.fin || h.len > MAX_CONTROL {
                    return Err(bad("a websocket control frame too long or fragmented"));
                }
                self.controls += 1;
                if self.controls > MAX_CONTROL_IN_A_ROW {
                    return Err(bad("too many websocket control frames"));
                }
                let end = h.size + h.len as usize;
                if self.raw.len() < end {
                    return Ok(false);
                }
                let payload: Vec<u8> = self.raw[h.size..end]
                    .iter()
                    .enumerate()
                    .map(|(i, b)| b ^ mask[i % 4])
                    .collect();
                self.raw.advance(end);
                match h.opcode {
                    OP_PING => frame(&mut self.out, OP_PONG, &payload, None),
                    OP_CLOSE => {
                        self.close(1000);
                        self.ended = true;
                    }
                    _ => {}
                }
                Ok(true)
            }
            _ => Err(bad("a binary or unknown websocket frame")),
        }
    }
}

impl<S: AsyncWrite + Unpin> WsStream<S> {
    /// Writes what `out` holds; Ready once it is all sent.
    fn poll_out(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.sent < self.out.len() {
            match Pin::new(&mut self.inner).poll_write(cx, &self.out[self.sent..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => self.sent += n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        self.out.clear();
        self.sent = 0;
        // An idle connection keeps no buffer a burst (a big room's list)
        // left behind.
        if self.out.capacity() > KEEP {
            self.out = Vec::new();
        }
        Poll::Ready(Ok(()))
    }
}

/// Frames are wrapped on the way out: the hub never writes to the socket.
impl crate::plain::Stream for WsStream<tokio::net::TcpStream> {}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for WsStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            // Pongs and the answer to a close go out as soon as they can.
            if let Poll::Ready(Err(e)) = this.poll_out(cx) {
                return Poll::Ready(Err(e));
            }
            if this.ended {
                return Poll::Ready(Ok(()));
            }
            let before = buf.filled().len();
            match this.decode(buf) {
                Err(e) => {
                    this.close(1002);
                    this.ended = true;
                    let _ = this.poll_out(cx);
                    return Poll::Ready(Err(e));
                }
                Ok(true) if buf.filled().len() > before => return Poll::Ready(Ok(())),
                Ok(true) => continue,
                Ok(false) => {}
            }
            let mut chunk = [0u8; READ_CHUNK];
            let mut read = ReadBuf::new(&mut chunk);
            match Pin::new(&mut this.inner).poll_read(cx, &mut read) {
                Poll::Ready(Ok(())) if read.filled().is_empty() => {
                    this.ended = true;
                    return Poll::Ready(Ok(()));
                }
                Poll::Ready(Ok(())) => {
                    if this.raw.is_empty() && this.raw.capacity() > KEEP {
                        this.raw = BytesMut::new();
                    }
                    this.raw.extend_from_slice(read.filled())
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for WsStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.close_sent {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        if this.out.len() - this.sent > MAX_PENDING_OUT {
            match this.poll_out(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        // One message per write: the door writes whole lines.
        frame(&mut this.out, OP_TEXT, buf, None);
        let _ = this.poll_out(cx);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        match this.poll_out(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut this.inner).poll_flush(cx),
            other => other,
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        this.close(1000);
        match this.poll_out(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut this.inner).poll_shutdown(cx),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// A client frame: masked, as browsers send them; `fin` false makes it
    /// the first part of a fragmented message.
    fn client_frame(opcode: u8, fin: bool, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        frame(&mut out, opcode, payload, Some([0x12, 0x34, 0x56, 0x78]));
        if !fin {
            out[0] &= 0x7F;
        }
        out
    }

    /// Pings carry nothing the door meters: a run of them without data
    /// ends the connection instead of being answered for ever.
    #[tokio::test]
    async fn a_ping_flood_ends_the_connection() {
        let (mut browser, server) = tokio::io::duplex(1 << 16);
        let mut ws = WsStream::new(server, BytesMut::new());
        let mut pings = Vec::new();
        for _ in 0..=MAX_CONTROL_IN_A_ROW {
            pings.extend(client_frame(OP_PING, true, b"p"));
        }
        browser.write_all(&pings).await.unwrap();
        let mut buf = [0u8; 16];
        assert!(ws.read(&mut buf).await.is_err());
    }

    #[tokio::test]
    async fn text_frames_read_as_bytes_and_writes_become_frames() {
        let (mut browser, server) = tokio::io::duplex(1 << 16);
        let mut ws = WsStream::new(server, BytesMut::new());
        let long = "x".repeat(300);
        let mut sent = client_frame(OP_TEXT, false, b"{\"type\":");
        sent.extend(client_frame(OP_PING, true, b"hi"));
        sent.extend(client_frame(OP_CONTINUATION, true, b"\"list\"}\n"));
        sent.extend(client_frame(OP_TEXT, true, long.as_bytes()));
        browser.write_all(&sent).await.unwrap();
        let want = format!("{{\"type\":\"list\"}}\n{long}");
        let mut got = vec![0u8; want.len()];
        ws.read_exact(&mut got).await.unwrap();
        assert_eq!(got, want.as_bytes());
        ws.write_all(b"{\"type\":\"pong\"}\n").await.unwrap();
        ws.flush().await.unwrap();
        // The pong for the ping, then our text frame, unmasked.
        let mut answer = vec![0u8; 4 + 2 + 16];
        browser.read_exact(&mut answer).await.unwrap();
        assert_eq!(&answer[..4], &[0x8A, 2, b'h', b'i']);
        assert_eq!(&answer[4..6], &[0x81, 16]);
        assert_eq!(&answer[6..], b"{\"type\":\"pong\"}\n");
    }

    #[tokio::test]
    async fn a_close_is_answered_and_ends_the_stream() {
        let (mut browser, server) = tokio::io::duplex(1024);
        let mut ws = WsStream::new(server, BytesMut::new());
        browser
            .write_all(&client_frame(OP_CLOSE, true, &1001u16.to_be_bytes()))
            .await
            .unwrap();
        let mut buf = [0u8; 16];
        assert_eq!(ws.read(&mut buf).await.unwrap(), 0);
        let mut answer = [0u8; 4];
        browser.read_exact(&mut answer).await.unwrap();
        assert_eq!(answer, [0x88, 2, 0x03, 0xE8]);
    }

    #[tokio::test]
    async fn unmasked_and_binary_frames_end_the_connection() {
        for bad_frame in [
            vec![0x81, 0x02, b'h', b'i'],
            client_frame(0x2, true, b"\x00"),
        ] {
            let (mut browser, server) = tokio::io::duplex(1024);
            let mut ws = WsStream::new(server, BytesMut::new());
            browser.write_all(&bad_frame).await.unwrap();
            let mut buf = [0u8; 16];
            assert!(ws.read(&mut buf).await.is_err());
        }
    }
}
