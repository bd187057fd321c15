//! A connection's byte stream, and the one kind the hub may write to
//! itself: plain TCP, where bytes written to the socket arrive as they are.
//!
//! At a conversation's pace most deliveries find their connection idle,
//! with nothing in hand. Waking its task only for it to take the frame and
//! make one `write(2)` cost more than the write: so the hub writes such a
//! frame to the socket itself ([`crate::outbox::Flush`]), and the task is
//! woken only for what the socket would not take. For that, the socket is
//! shared between the connection and its outbox; the outbox's lock and its
//! "the task holds a batch" flag keep the two writers in order.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// What a connection reads and writes; says whether it is a socket the hub
/// may also write to.
pub(crate) trait Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static {
    /// The socket under the stream, if what is written to it arrives as it
    /// is (no record layer, no framing): plain TCP only.
    fn socket(&self) -> Option<Arc<TcpStream>> {
        None
    }
}

impl Stream for tokio_rustls::server::TlsStream<TcpStream> {}

/// A plain TCP connection whose socket its outbox shares.
pub(crate) struct PlainTcp(Arc<TcpStream>);

impl PlainTcp {
    pub(crate) fn new(stream: TcpStream) -> PlainTcp {
        PlainTcp(Arc::new(stream))
    }
}

impl Stream for PlainTcp {
    fn socket(&self) -> Option<Arc<TcpStream>> {
        Some(self.0.clone())
    }
}

impl AsyncRead for PlainTcp {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            ready!(self.0.poll_read_ready(cx))?;
            match self.0.try_read(buf.initialize_unfilled()) {
                Ok(n) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                // The readiness was stale; `try_read` cleared it.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl AsyncWrite for PlainTcp {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        loop {
            ready!(self.0.poll_write_ready(cx))?;
            match self.0.try_write(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                written => return Poll::Ready(written),
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    /// Sends the end of the stream. The connection detaches its outbox
    /// first, so the socket is its alone by then; if it were not, closing
    /// the socket when the last handle goes still ends the stream.
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match Arc::get_mut(&mut self.0) {
            Some(stream) => Pin::new(stream).poll_shutdown(cx),
            None => Poll::Ready(Ok(())),
        }
    }
}
