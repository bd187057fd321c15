//! The client side of a WebSocket, as a byte stream: enough to drive the
//! web door with the lanchat protocol (`--proto ws`). Writes go out as
//! masked text frames, one per write; reads hand out the payloads of the
//! server's frames (never masked) and skip its control frames.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use lanchat_proto::ws::{frame, header, OP_CLOSE, OP_TEXT};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;

/// The masking key: the server unmasks whatever it is.
const MASK: [u8; 4] = [0x5a, 0xc3, 0x1e, 0x77];

/// Upgrades `stream` to a WebSocket at `/ws` on `host` (as a page from
/// that host would).
pub async fn upgrade(mut stream: TcpStream, host: &str) -> io::Result<Client> {
    let request = format!(
        "GET /ws HTTP/1.1\r\nHost: {host}\r\nOrigin: http://{host}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await?;
    let mut head = Vec::with_capacity(256);
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > 8192 || stream.read(&mut byte).await? == 0 {
            return Err(io::Error::other("no websocket upgrade"));
        }
        head.push(byte[0]);
    }
    if !head.starts_with(b"HTTP/1.1 101") {
        let status = String::from_utf8_lossy(&head[..head.len().min(40)]).into_owned();
        return Err(io::Error::other(format!("upgrade refused: {status}")));
    }
    Ok(Client {
        inner: stream,
        raw: Vec::new(),
        left: 0,
        skip: false,
        out: Vec::new(),
    })
}

/// A WebSocket client over TCP.
pub struct Client {
    inner: TcpStream,
    /// Bytes read and not yet decoded.
    raw: Vec<u8>,
    /// Payload bytes of the current frame still to come.
    left: u64,
    /// The current frame is a control frame: its payload is dropped.
    skip: bool,
    /// A framed write not yet taken by the socket.
    out: Vec<u8>,
}

impl AsyncRead for Client {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            if this.left > 0 && !this.raw.is_empty() {
                let n = (this.raw.len() as u64).min(this.left) as usize;
                let n = if this.skip { n } else { n.min(buf.remaining()) };
                if !this.skip {
                    buf.put_slice(&this.raw[..n]);
                }
                this.raw.drain(..n);
                this.left -= n as u64;
                if !this.skip {
                    return Poll::Ready(Ok(()));
                }
                continue;
            }
            if this.left == 0 {
                if let Ok(Some(h)) = header(&this.raw) {
                    this.raw.drain(..h.size);
                    this.left = h.len;
                    this.skip = h.opcode >= OP_CLOSE;
                    if h.opcode == OP_CLOSE {
                        return Poll::Ready(Ok(()));
                    }
                    continue;
                }
            }
            let mut chunk = [0u8; 16 * 1024];
            let mut read = ReadBuf::new(&mut chunk);
            match Pin::new(&mut this.inner).poll_read(cx, &mut read) {
                Poll::Ready(Ok(())) if read.filled().is_empty() => return Poll::Ready(Ok(())),
                Poll::Ready(Ok(())) => this.raw.extend_from_slice(read.filled()),
                other => return other,
            }
        }
    }
}

impl AsyncWrite for Client {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        // The last frame goes out whole before another is taken.
        match Pin::new(&mut *this).poll_flush(cx) {
            Poll::Ready(Ok(())) => {}
            other => return other.map(|r| r.map(|()| 0)),
        }
        frame(&mut this.out, OP_TEXT, buf, Some(MASK));
        // The frame is taken whole; a flush sends what the socket did not.
        match Pin::new(&mut *this).poll_flush(cx) {
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            _ => Poll::Ready(Ok(buf.len())),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        while !this.out.is_empty() {
            match Pin::new(&mut this.inner).poll_write(cx, &this.out) {
                Poll::Ready(Ok(n)) => {
                    this.out.drain(..n);
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
