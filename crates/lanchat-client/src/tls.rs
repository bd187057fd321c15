//! The client's side of TLS: a handshake that accepts the server's
//! self-signed certificate *for now*, and hands back its fingerprint for
//! [`crate::trust`] to judge against the pins, before a single lanchat
//! frame is read.
//!
//! There is no certificate authority on a LAN, so the certificate's chain
//! is not checked; what is checked is that the server holds the
//! certificate's key (rustls verifies the handshake signature with it),
//! so a fingerprint cannot be borrowed by someone who only saw it.

use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use lanchat_proto::{pake, Fingerprint};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

/// Accepts any certificate whose key signs the handshake; trust is
/// decided afterwards, by fingerprint.
#[derive(Debug)]
struct Pinned {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        // Only TLS 1.3 is offered (see `connector`).
        Err(rustls::Error::General("TLS 1.2 is not offered".into()))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.provider.signature_verification_algorithms;
        verify_tls13_signature(message, cert, dss, algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// One client configuration for the whole process (TLS 1.3 only), which
/// takes any certificate whose key signs the handshake: the caller judges
/// the fingerprint.
pub fn connector() -> Result<TlsConnector, rustls::Error> {
    static CONFIG: OnceLock<Result<Arc<rustls::ClientConfig>, rustls::Error>> = OnceLock::new();
    let config = CONFIG.get_or_init(|| {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Pinned { provider }))
            .with_no_client_auth();
        Ok(Arc::new(config))
    });
    config.clone().map(TlsConnector::from)
}

/// The first bytes the server sent, kept to explain a failed handshake.
#[derive(Clone, Default)]
pub struct Seen(Arc<std::sync::Mutex<Vec<u8>>>);

/// How many of the server's first bytes are kept: enough for a plaintext
/// greeting and the goodbye after it (a refusal).
const SEEN_BYTES: usize = 1024;

impl Seen {
    /// What was seen.
    pub fn bytes(&self) -> Vec<u8> {
        self.0.lock().map(|b| b.clone()).unwrap_or_default()
    }
}

/// A stream that notes the first bytes read from it.
pub struct Noting<S> {
    inner: S,
    seen: Seen,
    /// Enough was noted: later reads (the whole chat) take no lock.
    full: bool,
}

impl<S: AsyncRead + Unpin> AsyncRead for Noting<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if !self.full {
            let this = &mut *self;
            if let Ok(mut seen) = this.seen.0.lock() {
                let room = SEEN_BYTES.saturating_sub(seen.len());
                let new = &buf.filled()[before..];
                seen.extend_from_slice(&new[..new.len().min(room)]);
                this.full = seen.len() >= SEEN_BYTES;
            }
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Noting<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// The stream under TLS.
pub type Stream = TlsStream<Noting<TcpStream>>;

/// The name sent in SNI. It is not checked (see `Pinned`).
pub fn server_name() -> ServerName<'static> {
    ServerName::from(std::net::Ipv4Addr::LOCALHOST)
}

/// What the handshake established.
pub struct Secured {
    pub stream: Stream,
    /// The server certificate's fingerprint.
    pub fingerprint: Fingerprint,
    /// The session's exporter value, for the passphrase proofs.
    pub binding: Vec<u8>,
}

/// Runs the TLS handshake on `stream` (the caller bounds it in time),
/// noting the server's first bytes in `seen`.
pub async fn handshake(stream: TcpStream, seen: Seen) -> std::io::Result<Secured> {
    let stream = Noting {
        inner: stream,
        seen,
        full: false,
    };
    let connector = connector().map_err(std::io::Error::other)?;
    let stream = connector.connect(server_name(), stream).await?;
    let (_, session) = stream.get_ref();
    let fingerprint = session
        .peer_certificates()
        .and_then(|certs| certs.first())
        .map(|cert| Fingerprint::of_certificate(cert))
        .ok_or_else(|| std::io::Error::other("the server sent no certificate"))?;
    let binding = session
        .export_keying_material([0u8; pake::BINDING_LEN], pake::EXPORTER_LABEL, None)
        .map_err(std::io::Error::other)?
        .to_vec();
    Ok(Secured {
        stream,
        fingerprint,
        binding,
    })
}
