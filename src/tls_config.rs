//! [`TlsConfig`]: a TLS listener's certificate, key, ALPN protocols, client
//! certificates and handshake limits, checked and turned into a rustls
//! `ServerConfig` at bind.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::{Error, Result};

/// The default [`TlsConfig::handshake_timeout`]: 5 seconds.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// The default [`TlsConfig::max_handshakes`]: 1024 per worker.
pub const DEFAULT_MAX_HANDSHAKES: usize = 1024;

/// How a TLS listener authenticates itself and what it negotiates: a
/// certificate chain and its private key (PEM files or PEM bytes), ALPN
/// protocols, client certificates, and limits on handshakes. Or a rustls
/// `ServerConfig` you built, for everything else.
///
/// Nothing is read or checked until the server binds: then a missing or
/// unreadable file, a file without a certificate or key, or a key that does
/// not match the certificate is an [`Error::Tls`] that names the file.
///
/// The crypto provider is rustls' *ring*: it builds with the Rust toolchain
/// and a C compiler, nothing else. Its defaults: TLS 1.3 and 1.2, the safe
/// cipher suites, session resumption by tickets in memory.
///
/// # Examples
///
/// In production: `TlsConfig::from_pem_files("cert.pem", "key.pem")`. In a
/// test, a self-signed certificate made on the spot
/// ([`self_signed`](TlsConfig::self_signed)), and a rustls client that
/// trusts it:
///
/// ```
/// use std::io::{Read, Write};
/// use std::sync::Arc;
/// use netecho::rustls::{self, pki_types::ServerName};
/// use netecho::{Listener, TcpServer, TlsConfig};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let (tls, cert) = TlsConfig::self_signed(["localhost"])?;
/// let tls = tls.alpn("echo");
/// let server = TcpServer::builder()
///     .listener(Listener::tcp(([127, 0, 0, 1], 0)).tls(tls))
///     .spawn()?;
///
/// let mut roots = rustls::RootCertStore::empty();
/// roots.add(rustls::pki_types::CertificateDer::from(cert))?;
/// let provider = Arc::new(rustls::crypto::ring::default_provider());
/// let mut config = rustls::ClientConfig::builder_with_provider(provider)
///     .with_safe_default_protocol_versions()?
///     .with_root_certificates(roots)
///     .with_no_client_auth();
/// config.alpn_protocols = vec![b"echo".to_vec()];
/// let conn = rustls::ClientConnection::new(Arc::new(config), ServerName::try_from("localhost")?)?;
/// let tcp = std::net::TcpStream::connect(server.local_addr())?;
/// let mut client = rustls::StreamOwned::new(conn, tcp);
///
/// client.write_all(b"hello")?;
/// let mut reply = [0; 5];
/// client.read_exact(&mut reply)?;
/// assert_eq!(&reply, b"hello");
/// assert_eq!(client.conn.alpn_protocol(), Some(&b"echo"[..]));
/// drop(client);
/// server.shutdown();
/// server.join()?;
/// # Ok(())
/// # }
/// ```
#[must_use]
#[derive(Clone)]
pub struct TlsConfig {
    identity: Identity,
    alpn: Vec<Vec<u8>>,
    client_ca: Option<Pem>,
    client_auth_optional: bool,
    handshake_timeout: Duration,
    max_handshakes: usize,
}

/// Where the server's certificate and key come from.
#[derive(Clone)]
enum Identity {
    Pem { cert: Pem, key: Pem },
    Rustls(Arc<ServerConfig>),
}

/// PEM text, in a file or in memory.
#[derive(Clone)]
enum Pem {
    File(PathBuf),
    Bytes(Vec<u8>),
}

impl Pem {
    /// The PEM text, and how to name where it came from in an error.
    fn load(&self, what: &str) -> Result<(std::borrow::Cow<'_, [u8]>, String)> {
        match self {
            Pem::File(path) => {
                let origin = format!("{what} file {}", path.display());
                let bytes = std::fs::read(path).map_err(|source| Error::Tls {
                    context: format!("cannot read the {origin}"),
                    source,
                })?;
                Ok((bytes.into(), origin))
            }
            Pem::Bytes(bytes) => Ok((bytes.as_slice().into(), format!("{what} PEM"))),
        }
    }

    fn describe(&self) -> String {
        match self {
            Pem::File(path) => path.display().to_string(),
            Pem::Bytes(bytes) => format!("<{} bytes of PEM>", bytes.len()),
        }
    }
}

impl fmt::Debug for TlsConfig {
    /// Shows where the certificate and key come from, never the key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("TlsConfig");
        match &self.identity {
            Identity::Pem { cert, key } => d
                .field("cert", &cert.describe())
                .field("key", &key.describe()),
            Identity::Rustls(_) => d.field("rustls", &"ServerConfig"),
        };
        d.field(
            "alpn",
            &self
                .alpn
                .iter()
                .map(|p| String::from_utf8_lossy(p))
                .collect::<Vec<_>>(),
        )
        .field("client_ca", &self.client_ca.as_ref().map(Pem::describe))
        .field("client_auth_optional", &self.client_auth_optional)
        .field("handshake_timeout", &self.handshake_timeout)
        .field("max_handshakes", &self.max_handshakes)
        .finish()
    }
}

impl TlsConfig {
    fn new(identity: Identity) -> Self {
        TlsConfig {
            identity,
            alpn: Vec::new(),
            client_ca: None,
            client_auth_optional: false,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            max_handshakes: DEFAULT_MAX_HANDSHAKES,
        }
    }

    /// The server's certificate chain (leaf first, then intermediates) and
    /// its private key (PKCS#8, PKCS#1 or SEC1), from PEM files read at bind.
    pub fn from_pem_files(cert: impl AsRef<Path>, key: impl AsRef<Path>) -> Self {
        TlsConfig::new(Identity::Pem {
            cert: Pem::File(cert.as_ref().to_owned()),
            key: Pem::File(key.as_ref().to_owned()),
        })
    }

    /// The server's certificate chain and private key as PEM text, for
    /// certificates that are not in files (a secret store, a test).
    pub fn from_pem(cert: impl Into<Vec<u8>>, key: impl Into<Vec<u8>>) -> Self {
        TlsConfig::new(Identity::Pem {
            cert: Pem::Bytes(cert.into()),
            key: Pem::Bytes(key.into()),
        })
    }

    /// A certificate made on the spot for `names` (DNS names such as
    /// `"localhost"`, or IP addresses such as `"127.0.0.1"`), signed by
    /// itself: for tests, where a TLS client needs a server it can trust.
    /// Returns the configuration and the certificate, DER-encoded, for the
    /// client's root store. Uses `rcgen` on the same ring provider as the
    /// server.
    ///
    /// # Errors
    ///
    /// [`Error::Tls`](crate::Error::Tls) if a name is not a valid DNS name
    /// or IP address, or the key cannot be made.
    pub fn self_signed<I, S>(names: I) -> crate::Result<(Self, Vec<u8>)>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let names: Vec<String> = names.into_iter().map(Into::into).collect();
        let made =
            rcgen::generate_simple_self_signed(names.clone()).map_err(|e| crate::Error::Tls {
                context: format!("making a self-signed certificate for {names:?}"),
                source: std::io::Error::other(e),
            })?;
        let der = made.cert.der().to_vec();
        let config = TlsConfig::from_pem(made.cert.pem(), made.signing_key.serialize_pem());
        Ok((config, der))
    }

    /// A rustls `ServerConfig` you built: the escape hatch for what this type
    /// does not offer (several certificates chosen by SNI, OCSP stapling,
    /// another crypto provider, your own client verifier). It is used as it
    /// is: [`alpn`](Self::alpn) and the client certificate settings must be
    /// set on it, and setting them here as well makes bind fail. The
    /// handshake limits apply.
    ///
    /// rustls is re-exported as [`netecho::rustls`](crate::rustls), so the
    /// versions match.
    pub fn from_rustls(config: Arc<ServerConfig>) -> Self {
        TlsConfig::new(Identity::Rustls(config))
    }

    /// Offers `protocol` in ALPN (e.g. `"h2"`, `"echo"`); call once per
    /// protocol, in the server's order of preference. A client that offers
    /// ALPN but none of these is refused (rustls' `no_application_protocol`
    /// alert). Default: no ALPN.
    pub fn alpn(mut self, protocol: impl Into<Vec<u8>>) -> Self {
        self.alpn.push(protocol.into());
        self
    }

    /// Requires a client certificate signed by one of the CA certificates in
    /// this PEM file (read at bind); a client without one, or with an
    /// untrusted or expired one, fails the handshake. See
    /// [`client_auth_optional`](Self::client_auth_optional).
    pub fn client_ca_file(mut self, path: impl AsRef<Path>) -> Self {
        self.client_ca = Some(Pem::File(path.as_ref().to_owned()));
        self
    }

    /// Like [`client_ca_file`](Self::client_ca_file), from PEM text.
    pub fn client_ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.client_ca = Some(Pem::Bytes(pem.into()));
        self
    }

    /// With a client CA set: also let in clients that send no certificate
    /// (those that send one must still send a valid one). The handler tells
    /// them apart with [`TlsInfo::peer_certificates`](crate::TlsInfo::peer_certificates).
    /// Default: `false`, a certificate is required.
    pub fn client_auth_optional(mut self, optional: bool) -> Self {
        self.client_auth_optional = optional;
        self
    }

    /// How long a client has from connecting to finishing the handshake;
    /// then the connection closes (the handler never saw it). Default:
    /// [`DEFAULT_HANDSHAKE_TIMEOUT`], 5 seconds.
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// The most handshakes in progress per worker (under
    /// [`Scheduling::Shared`](crate::Scheduling::Shared), where any worker
    /// may finish a handshake, the server takes this times its workers); a
    /// connection that arrives when that many are in progress is closed at
    /// once (counted in
    /// [`Stats::tls_refused`](crate::Stats::tls_refused)). With
    /// [`handshake_timeout`](Self::handshake_timeout) it bounds what a flood
    /// of silent clients can hold. Default: [`DEFAULT_MAX_HANDSHAKES`].
    pub fn max_handshakes(mut self, max: usize) -> Self {
        self.max_handshakes = max;
        self
    }

    pub(crate) fn handshake_limits(&self) -> (Duration, usize) {
        (self.handshake_timeout, self.max_handshakes)
    }

    /// Reads and checks the files, and builds the rustls configuration.
    ///
    /// # Errors
    ///
    /// [`Error::Tls`]: a file cannot be read, holds no certificate or no
    /// key, the key does not match the certificate, the client CA file holds
    /// no usable CA; ALPN or client certificates set with
    /// [`from_rustls`](Self::from_rustls); a zero handshake timeout or cap.
    pub(crate) fn build(&self) -> Result<Arc<ServerConfig>> {
        if self.handshake_timeout.is_zero() || self.max_handshakes == 0 {
            return Err(Error::InvalidConfig {
                reason: "tls handshake_timeout and max_handshakes must not be zero".into(),
            });
        }
        let (cert, key) = match &self.identity {
            Identity::Rustls(config) => {
                if !self.alpn.is_empty() || self.client_ca.is_some() {
                    return Err(Error::InvalidConfig {
                        reason: "tls: with a rustls ServerConfig, set alpn and client \
                                 certificates on it, not on TlsConfig"
                            .into(),
                    });
                }
                return Ok(Arc::clone(config));
            }
            Identity::Pem { cert, key } => (cert, key),
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let (chain, cert_origin) = load_certs(cert, "certificate")?;
        let (key_pem, key_origin) = key.load("private key")?;
        let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| Error::Tls {
            context: format!("no usable private key in the {key_origin}"),
            source: pem_error(e),
        })?;
        let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Tls {
                context: "the crypto provider supports no protocol version".into(),
                source: io::Error::other(e),
            })?;
        let builder = match &self.client_ca {
            None => builder.with_no_client_auth(),
            Some(ca) => builder.with_client_cert_verifier(self.client_verifier(ca, &provider)?),
        };
        let mut config = builder
            .with_single_cert(chain, key)
            .map_err(|e| Error::Tls {
                context: format!("the {key_origin} does not fit the {cert_origin}"),
                source: io::Error::new(io::ErrorKind::InvalidData, e),
            })?;
        config.alpn_protocols = self.alpn.clone();
        Ok(Arc::new(config))
    }

    fn client_verifier(
        &self,
        ca: &Pem,
        provider: &Arc<CryptoProvider>,
    ) -> Result<Arc<dyn rustls::server::danger::ClientCertVerifier>> {
        let (certs, origin) = load_certs(ca, "client CA")?;
        let mut roots = rustls::RootCertStore::empty();
        for cert in certs {
            roots.add(cert).map_err(|e| Error::Tls {
                context: format!("a certificate in the {origin} is not a usable CA"),
                source: io::Error::new(io::ErrorKind::InvalidData, e),
            })?;
        }
        let mut verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), Arc::clone(provider));
        if self.client_auth_optional {
            verifier = verifier.allow_unauthenticated();
        }
        verifier.build().map_err(|e| Error::Tls {
            context: format!("cannot verify clients with the {origin}"),
            source: io::Error::other(e),
        })
    }
}

/// The certificates in `pem`, at least one, and where they came from.
fn load_certs(pem: &Pem, what: &str) -> Result<(Vec<CertificateDer<'static>>, String)> {
    let (bytes, origin) = pem.load(what)?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::Tls {
            context: format!("bad PEM in the {origin}"),
            source: pem_error(e),
        })?;
    if certs.is_empty() {
        return Err(Error::Tls {
            context: format!("no certificate in the {origin}"),
            source: io::Error::new(io::ErrorKind::InvalidData, "no CERTIFICATE section"),
        });
    }
    Ok((certs, origin))
}

fn pem_error(e: rustls_pki_types::pem::Error) -> io::Error {
    match e {
        rustls_pki_types::pem::Error::Io(e) => e,
        e => io::Error::new(io::ErrorKind::InvalidData, e),
    }
}
