//! The crate under test, started the way its example starts it (default options but
//! `workers`; TLS from the certificate and key files when given).

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;

pub fn run(
    workers: usize,
    tls: Option<(&Path, &Path)>,
    announce: &mut dyn FnMut(SocketAddr),
) -> Result<(), String> {
    let builder = netecho::TcpServer::builder().workers(workers);
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    let builder = match tls {
        None => builder.addr(addr),
        #[cfg(feature = "tls")]
        Some((cert, key)) => builder.listener(
            netecho::Listener::tcp(addr).tls(netecho::TlsConfig::from_pem_files(cert, key)),
        ),
        #[cfg(not(feature = "tls"))]
        Some(_) => return Err("netecho: TLS needs the `tls` feature".into()),
    };
    let server = builder
        .bind()
        .map_err(|e| format!("netecho: bind: {}", e.report()))?;
    announce(server.local_addr());
    server.run().map_err(|e| format!("netecho: {e}"))
}
