//! The TLS scenarios' certificate: a self-signed one for `localhost`, made fresh by each
//! bench run (rcgen) into `<target>/echo-bench/tls/`, which every TLS server loads and
//! the client trusts. Same provider (ring) and cipher suite for every server: each is a
//! rustls server with the defaults, so the client's first offer (TLS 1.3,
//! TLS13_AES_256_GCM_SHA384) is what they all pick. The client resumes no session: every
//! connection of the connect scenario is a full handshake.

use std::path::PathBuf;
use std::sync::Arc;

use netecho::rustls;

use crate::client::Tls;
use crate::paths;

/// The certificate and key files, and the client configuration that trusts them.
#[derive(Debug, Clone)]
pub struct TlsSetup {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub client: Tls,
}

impl TlsSetup {
    pub fn create() -> Result<TlsSetup, String> {
        let made = rcgen::generate_simple_self_signed(vec!["localhost".to_string()])
            .map_err(|e| format!("tls: cannot make a certificate: {e}"))?;
        let dir = paths::results_dir().join("tls");
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        for (path, text) in [
            (&cert, made.cert.pem()),
            (&key, made.signing_key.serialize_pem()),
        ] {
            std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))?;
        }
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(made.cert.der().clone())
            .map_err(|e| format!("tls: {e}"))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("tls: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.resumption = rustls::client::Resumption::disabled();
        let server_name = rustls::pki_types::ServerName::try_from("localhost")
            .map_err(|e| format!("tls: {e}"))?;
        Ok(TlsSetup {
            cert,
            key,
            client: Tls {
                config: Arc::new(config),
                server_name,
            },
        })
    }
}
