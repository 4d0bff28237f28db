//! TLS helpers: certificates made fresh by each test run with rcgen (a CA, a
//! server certificate for `localhost`, a client certificate, an untrusted
//! one), rustls clients over blocking sockets, and `openssl` when present.

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use netecho::rustls::pki_types::pem::PemObject;
use netecho::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use netecho::rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};

use super::{TIMEOUT, connect};

/// A blocking TLS client over TCP.
pub type TlsClient = StreamOwned<ClientConnection, TcpStream>;

/// PEM text of a certificate and its key.
#[derive(Clone)]
pub struct Identity {
    pub cert: String,
    pub key: String,
}

/// A CA, a server identity it signed for `localhost` and 127.0.0.1, a
/// client identity it signed, and a self-signed client identity it did not.
pub struct Pki {
    pub ca: String,
    pub server: Identity,
    pub client: Identity,
    pub untrusted: Identity,
    /// Signed by the CA, but expired in 2001.
    pub expired: Identity,
}

impl Pki {
    pub fn new() -> Result<Self, rcgen::Error> {
        let ca_key = KeyPair::generate()?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "netecho test CA");
        let ca_cert = ca_params.self_signed(&ca_key)?;
        let issuer = Issuer::new(ca_params, ca_key);
        let leaf = |names: Vec<String>| -> Result<Identity, rcgen::Error> {
            let key = KeyPair::generate()?;
            let cert = CertificateParams::new(names)?.signed_by(&key, &issuer)?;
            Ok(Identity {
                cert: cert.pem(),
                key: key.serialize_pem(),
            })
        };
        let server = leaf(vec!["localhost".into(), "127.0.0.1".into()])?;
        let expired_key = KeyPair::generate()?;
        let mut expired_params = CertificateParams::new(vec!["client.test".to_string()])?;
        expired_params.not_before = rcgen::date_time_ymd(2000, 1, 1);
        expired_params.not_after = rcgen::date_time_ymd(2001, 1, 1);
        let expired = Identity {
            cert: expired_params.signed_by(&expired_key, &issuer)?.pem(),
            key: expired_key.serialize_pem(),
        };
        let client = leaf(vec!["client.test".into()])?;
        let untrusted_key = KeyPair::generate()?;
        let untrusted_cert =
            CertificateParams::new(vec!["client.test".to_string()])?.self_signed(&untrusted_key)?;
        Ok(Pki {
            ca: ca_cert.pem(),
            server,
            client,
            untrusted: Identity {
                cert: untrusted_cert.pem(),
                key: untrusted_key.serialize_pem(),
            },
            expired,
        })
    }

    /// The server's [`netecho::TlsConfig`], from PEM bytes.
    pub fn server_config(&self) -> netecho::TlsConfig {
        netecho::TlsConfig::from_pem(self.server.cert.clone(), self.server.key.clone())
    }

    /// A client configuration that trusts the CA, offers `alpn`, and
    /// presents `identity` if given.
    pub fn client_config(
        &self,
        alpn: &[&str],
        identity: Option<&Identity>,
    ) -> Result<Arc<ClientConfig>, Box<dyn std::error::Error>> {
        let mut roots = RootCertStore::empty();
        roots.add(CertificateDer::from_pem_slice(self.ca.as_bytes())?)?;
        let provider = Arc::new(netecho::rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots);
        let mut config = match identity {
            Some(id) => {
                let chain = CertificateDer::pem_slice_iter(id.cert.as_bytes())
                    .collect::<Result<Vec<_>, _>>()?;
                let key = PrivateKeyDer::from_pem_slice(id.key.as_bytes())?;
                builder.with_client_auth_cert(chain, key)?
            }
            None => builder.with_no_client_auth(),
        };
        config.alpn_protocols = alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
        Ok(Arc::new(config))
    }

    /// The client certificate's DER bytes.
    pub fn client_der(&self) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
        Ok(CertificateDer::from_pem_slice(self.client.cert.as_bytes())?.to_vec())
    }
}

/// A TLS client connected to `addr` for `server_name`; the handshake runs
/// with the first read or write (or [`handshake`]).
pub fn tls_connect(
    addr: SocketAddr,
    config: Arc<ClientConfig>,
    server_name: &str,
) -> Result<TlsClient, Box<dyn std::error::Error>> {
    let name = ServerName::try_from(server_name.to_owned())?;
    let conn = ClientConnection::new(config, name)?;
    Ok(StreamOwned::new(conn, connect(addr)?))
}

/// Runs the handshake of `client` to its end.
pub fn handshake(client: &mut TlsClient) -> io::Result<()> {
    while client.conn.is_handshaking() {
        client.conn.complete_io(&mut client.sock)?;
    }
    Ok(())
}

/// A fresh temporary directory (removed when dropped) to write PEM files in.
pub struct TempDir(tempfile::TempDir);

impl TempDir {
    pub fn new() -> io::Result<Self> {
        super::temp_dir().map(TempDir)
    }

    pub fn path(&self) -> &Path {
        self.0.path()
    }

    /// Writes `text` to `name` in the directory; returns its path.
    pub fn write(&self, name: &str, text: &str) -> io::Result<PathBuf> {
        let path = self.0.path().join(name);
        std::fs::write(&path, text)?;
        Ok(path)
    }
}

/// The `openssl` command, if it is installed (Debian's `openssl` package);
/// else `None` after saying so on stderr, for the test to skip.
pub fn openssl(test: &str) -> Option<&'static str> {
    const PATH: &str = "openssl";
    match std::process::Command::new(PATH)
        .arg("version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
    {
        Ok(status) if status.success() => Some(PATH),
        _ => {
            eprintln!("SKIPPED {test}: `openssl` is not installed (apt-get install openssl)");
            None
        }
    }
}

/// Reads from `client` until the server's close_notify (`Ok(0)`), returning
/// what came.
pub fn read_to_close(client: &mut TlsClient) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        match io::Read::read(client, &mut buf)? {
            0 => return Ok(out),
            n => out.extend_from_slice(&buf[..n]),
        }
    }
}

/// How long a test waits for anything: the same bound as plain tests.
pub const TLS_TIMEOUT: std::time::Duration = TIMEOUT;

/// A builder with no listener yet (so no plain one is added): give it TLS
/// listeners with [`TlsBuilderExt::tls`].
pub fn builder() -> netecho::TcpServerBuilder {
    netecho::TcpServer::builder()
}

/// A TLS listener on 127.0.0.1, any free port, for a builder.
pub trait TlsBuilderExt {
    fn tls(self, config: netecho::TlsConfig) -> Self;
}

impl TlsBuilderExt for netecho::TcpServerBuilder {
    fn tls(self, config: netecho::TlsConfig) -> Self {
        let addr = SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, 0));
        self.listener(netecho::Listener::tcp(addr).tls(config))
    }
}
