//! [`TlsInfo`]: what a TLS handshake settled, as a handler sees it.

/// What the TLS handshake of a connection negotiated: the ALPN protocol,
/// the server name the client asked for (SNI) and the client's certificate
/// chain. From [`Conn::tls`](crate::Conn::tls), in every callback from
/// [`on_open`](crate::Handler::on_open) on; `None` there on a connection
/// without TLS.
///
/// Plain data, no rustls type: certificates are DER bytes, which any X.509
/// parser reads (`x509-parser`, `webpki`, rustls' `CertificateDer::from`).
///
/// # Examples
///
/// A handler that greets with the protocol the client chose (copied out
/// first: `tls()` borrows the `Conn` that `write` needs):
///
/// ```
/// use netecho::{Conn, Handler};
///
/// struct Hello;
/// impl Handler for Hello {
///     fn on_open(&mut self, conn: &mut Conn) {
///         let alpn = conn.tls().and_then(|tls| tls.alpn_protocol()).map(<[u8]>::to_vec);
///         conn.write(alpn.as_deref().unwrap_or(b"no alpn"));
///         conn.write(b"\n");
///     }
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsInfo {
    pub(crate) alpn_protocol: Option<Vec<u8>>,
    pub(crate) server_name: Option<String>,
    pub(crate) peer_certificates: Option<Vec<Vec<u8>>>,
    pub(crate) protocol_version: &'static str,
    pub(crate) cipher_suite: &'static str,
}

impl TlsInfo {
    /// The application protocol both sides agreed on (ALPN), e.g. `b"h2"`;
    /// `None` if the client offered none or the server has none configured.
    pub fn alpn_protocol(&self) -> Option<&[u8]> {
        self.alpn_protocol.as_deref()
    }

    /// The host name the client asked for (SNI), if it sent one.
    pub fn server_name(&self) -> Option<&str> {
        self.server_name.as_deref()
    }

    /// The client's certificate chain, DER-encoded, its own certificate
    /// first; `None` if it sent none (the listener does not ask for one, or
    /// it is optional and the client had none).
    ///
    /// The chain was verified against the listener's client CA during the
    /// handshake.
    pub fn peer_certificates(&self) -> Option<&[Vec<u8>]> {
        self.peer_certificates.as_deref()
    }

    /// The TLS version, as rustls names it: `"TLSv1_3"` or `"TLSv1_2"`.
    pub fn protocol_version(&self) -> &str {
        self.protocol_version
    }

    /// The cipher suite, as rustls names it, e.g.
    /// `"TLS13_AES_128_GCM_SHA256"`.
    pub fn cipher_suite(&self) -> &str {
        self.cipher_suite
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accessors_return_the_fields() {
        let info = TlsInfo {
            alpn_protocol: Some(b"h2".to_vec()),
            server_name: Some("example.test".into()),
            peer_certificates: Some(vec![vec![1, 2, 3]]),
            protocol_version: "TLSv1_3",
            cipher_suite: "TLS13_AES_128_GCM_SHA256",
        };
        assert_eq!(info.alpn_protocol(), Some(&b"h2"[..]));
        assert_eq!(info.server_name(), Some("example.test"));
        assert_eq!(info.peer_certificates(), Some(&[vec![1, 2, 3]][..]));
        assert_eq!(info.protocol_version(), "TLSv1_3");
        assert_eq!(info.cipher_suite(), "TLS13_AES_128_GCM_SHA256");
    }
}
