//! Encryption: the server's long-term identity (a key and a self-signed
//! certificate, made on first start) and the first bytes of a lanchat
//! connection, which tell TLS from a plaintext client on the same port.
//!
//! A TLS client speaks first: its ClientHello starts with the byte 0x16,
//! which no lanchat JSON line can. A plaintext (protocol v1) client waits
//! for the server's greeting. So the server waits up to [`SNIFF`] for a
//! first byte: 0x16 starts a TLS handshake, anything else (or silence) is
//! a plaintext client, which gets the greeting and then, unless the room
//! allows plaintext, a refusal that says why.

use std::fs::{self, OpenOptions};
use std::future::Future;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use lanchat_proto::{pake, Fingerprint};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_util::task::TaskTracker;

use crate::admission::Ticket;
use crate::connection::{self, Arrival, Door};
use crate::plain::PlainTcp;

/// How long a new connection has to start TLS before it counts as a
/// plaintext client.
pub const SNIFF: Duration = Duration::from_millis(700);

/// The first byte of a TLS handshake record.
const TLS_HANDSHAKE: u8 = 0x16;

/// Why the identity could not be used.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("could not read the server identity {}: {cause}", path.display())]
    Read { path: PathBuf, cause: io::Error },
    #[error("could not create the server identity {}: {cause}", path.display())]
    Write { path: PathBuf, cause: io::Error },
    #[error("the server identity {} is not a usable key and certificate ({why}); it was left alone: move it away to make a new one (clients that pinned the old one will refuse the new one)", path.display())]
    Corrupt { path: PathBuf, why: String },
    #[error("could not make a server identity: {0}")]
    Generate(String),
}

/// The server's key and certificate.
#[derive(Debug)]
pub struct Identity {
    cert: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
    /// Where it is kept.
    pub path: PathBuf,
    /// Whether it was made just now.
    pub created: bool,
}

impl Identity {
    /// Reads the identity at `path`, or makes one there (mode 0600, in a
    /// directory of mode 0700) if there is none. An identity that exists
    /// but cannot be read or used is an error, never replaced.
    pub fn load_or_create(path: &Path) -> Result<Identity, IdentityError> {
        match fs::read(path) {
            Ok(pem) => Self::parse(path, &pem),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Self::create(path),
            Err(cause) => Err(IdentityError::Read {
                path: path.to_owned(),
                cause,
            }),
        }
    }

    fn parse(path: &Path, pem: &[u8]) -> Result<Identity, IdentityError> {
        let corrupt = |why: &str| IdentityError::Corrupt {
            path: path.to_owned(),
            why: why.to_owned(),
        };
        let key = PrivateKeyDer::from_pem_slice(pem).map_err(|_| corrupt("no private key"))?;
        let cert = CertificateDer::pem_slice_iter(pem)
            .next()
            .ok_or_else(|| corrupt("no certificate"))?
            .map_err(|_| corrupt("a malformed certificate"))?;
        let identity = Identity {
            cert,
            key,
            path: path.to_owned(),
            created: false,
        };
        identity
            .server_config()
            .map_err(|e| corrupt(&e.to_string()))?;
        Ok(identity)
    }

    fn create(path: &Path) -> Result<Identity, IdentityError> {
        let made = rcgen::generate_simple_self_signed(vec!["lanchat".to_owned()])
            .map_err(|e| IdentityError::Generate(e.to_string()))?;
        let pem = format!("{}{}", made.key_pair.serialize_pem(), made.cert.pem());
        let write_err = |cause| IdentityError::Write {
            path: path.to_owned(),
            cause,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(write_err)?;
        }
        // Written whole to a file of our own, then linked into place: a
        // link never replaces a file, so two servers starting at once never
        // overwrite each other's key, and neither reads half of one. The
        // loser reads the winner's.
        let tmp = path.with_extension(format!("new.{}", std::process::id()));
        let written = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .and_then(|mut file| {
                file.write_all(pem.as_bytes())?;
                file.sync_all()
            });
        let linked = written.and_then(|()| fs::hard_link(&tmp, path));
        let _ = fs::remove_file(&tmp);
        match linked {
            Ok(()) => {
                let mut identity = Self::parse(path, pem.as_bytes())?;
                identity.created = true;
                Ok(identity)
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let pem = fs::read(path).map_err(|cause| IdentityError::Read {
                    path: path.to_owned(),
                    cause,
                })?;
                Self::parse(path, &pem)
            }
            Err(cause) => Err(write_err(cause)),
        }
    }

    /// The certificate's fingerprint: what clients pin.
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint::of_certificate(&self.cert)
    }

    /// A TLS 1.3 server configuration with this identity.
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, rustls::Error> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .with_no_client_auth()
            .with_single_cert(vec![self.cert.clone()], self.key.clone_key())?;
        Ok(Arc::new(config))
    }
}

/// The TLS settings of a server.
#[derive(Clone)]
pub struct Tls {
    pub(crate) acceptor: TlsAcceptor,
    /// What clients pin, also in the greeting.
    pub fingerprint: Fingerprint,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tls({})", self.fingerprint)
    }
}

impl Tls {
    /// TLS with `identity`.
    pub fn new(identity: &Identity) -> Result<Tls, rustls::Error> {
        Ok(Tls {
            acceptor: TlsAcceptor::from(identity.server_config()?),
            fingerprint: identity.fingerprint(),
        })
    }

    /// Completes a TLS handshake within `limit`, then has `serve` serve
    /// the connection in a task of its own on `tracker`, given the stream
    /// and the session's exporter value (what a passphrase proof is bound
    /// to). Awaited in the handshake's task instead, the connection would
    /// keep the handshake's result and that task's captures beside it for
    /// its whole life (3.4 kB a task instead of 2).
    pub(crate) async fn accept_then<F>(
        &self,
        stream: TcpStream,
        peer: SocketAddr,
        limit: Duration,
        tracker: &TaskTracker,
        serve: impl FnOnce(tokio_rustls::server::TlsStream<TcpStream>, [u8; 32]) -> F,
    ) where
        F: Future<Output = ()> + Send + 'static,
    {
        match self.accept(stream, limit).await {
            Some((stream, binding)) => {
                tracker.spawn(serve(stream, binding));
            }
            None => tracing::debug!(%peer, "tls handshake failed"),
        }
    }

    /// Completes a TLS handshake within `limit`; the connection and the
    /// session's exporter value.
    async fn accept(
        &self,
        stream: TcpStream,
        limit: Duration,
    ) -> Option<(tokio_rustls::server::TlsStream<TcpStream>, [u8; 32])> {
        let tls = tokio::time::timeout(limit, self.acceptor.accept(stream))
            .await
            .ok()?
            .ok()?;
        let binding = tls
            .get_ref()
            .1
            .export_keying_material([0u8; pake::BINDING_LEN], pake::EXPORTER_LABEL, None)
            .ok()?;
        Some((tls, binding))
    }
}

/// Waits up to [`SNIFF`] for the first byte: whether the client starts TLS.
async fn starts_tls(stream: &TcpStream) -> bool {
    let mut first = [0u8; 1];
    matches!(
        tokio::time::timeout(SNIFF, stream.peek(&mut first)).await,
        Ok(Ok(1)) if first[0] == TLS_HANDSHAKE
    )
}

/// Serves one connection to the lanchat door: over TLS if the server has
/// it and the client starts it, in plaintext if the room allows that.
///
/// Once the first byte tells which (and, over TLS, once the handshake is
/// done), the connection gets a task of its own on `tracker`, sized for
/// what it is, and this one ends: one task for both would be as big as a
/// TLS connection's for every connection, and keep the handshake's state.
pub(crate) async fn open(
    stream: TcpStream,
    peer: SocketAddr,
    door: Arc<Door>,
    ticket: Ticket,
    tracker: TaskTracker,
) {
    let plaintext = |stream, door, ticket| {
        tracker.spawn(connection::serve(
            PlainTcp::new(stream),
            peer,
            door,
            ticket,
            Arrival::direct(None),
        ))
    };
    let Some(tls) = door.config.tls.clone() else {
        plaintext(stream, door, ticket);
        return;
    };
    if starts_tls(&stream).await {
        let limit = door.config.register_timeout;
        tls.accept_then(stream, peer, limit, &tracker, |stream, binding| {
            connection::serve(stream, peer, door, ticket, Arrival::direct(Some(binding)))
        })
        .await;
    } else if door.config.passphrase.is_some() {
        let why = "this room has a passphrase, which needs an encrypted connection: update lanchat to join";
        connection::refuse(stream, &door, "tls_required", why);
    } else if door.config.allow_plaintext {
        plaintext(stream, door, ticket);
    } else {
        let why = "this room only takes encrypted connections: update lanchat to join (the host can admit older clients with --allow-plaintext)";
        connection::refuse(stream, &door, "tls_required", why);
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("lanchat-id-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn an_identity_is_made_once_private_and_then_kept() {
        let dir = temp_dir("kept");
        let path = dir.join("lanchat").join("identity.pem");
        let made = Identity::load_or_create(&path).unwrap();
        assert!(made.created);
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
        let again = Identity::load_or_create(&path).unwrap();
        assert!(!again.created);
        assert_eq!(again.fingerprint(), made.fingerprint());
        // Nothing but the identity is left in the directory.
        assert_eq!(fs::read_dir(path.parent().unwrap()).unwrap().count(), 1);
        let _ = fs::remove_dir_all(dir);
    }

    #[test]
    fn a_corrupt_identity_is_an_error_naming_it_and_is_left_alone() {
        let dir = temp_dir("corrupt");
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("identity.pem");
        fs::write(&path, "not a key\n").unwrap();
        let error = Identity::load_or_create(&path).unwrap_err().to_string();
        assert!(error.contains(&path.display().to_string()), "{error}");
        assert!(error.contains("left alone"), "{error}");
        assert_eq!(fs::read_to_string(&path).unwrap(), "not a key\n");
        let _ = fs::remove_dir_all(dir);
    }
}
