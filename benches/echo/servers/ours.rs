//! The crate under test, started the way its example starts it (default options but
//! `workers`): on `127.0.0.1:0`, or with `unix` on a Unix socket file (`Listener::unix`),
//! or over TLS from the certificate and key files when given (`Listener::tls`).

use std::net::Ipv4Addr;
use std::path::Path;

use netecho::{Listener, TcpServer};

pub fn run(
    workers: usize,
    unix: Option<&Path>,
    tls: Option<(&Path, &Path)>,
    announce: &mut dyn FnMut(&str),
) -> Result<(), String> {
    let builder = TcpServer::builder().workers(workers);
    let builder = match (unix, tls) {
        (Some(path), None) => builder.listener(Listener::unix(path)),
        (None, None) => builder.host(Ipv4Addr::LOCALHOST).port(0),
        #[cfg(feature = "tls")]
        (None, Some((cert, key))) => builder.listener(
            Listener::tcp((Ipv4Addr::LOCALHOST, 0))
                .tls(netecho::TlsConfig::from_pem_files(cert, key)),
        ),
        _ => return Err("netecho: this TLS/Unix combination is not a scenario".into()),
    };
    let server = builder.bind().map_err(|e| format!("netecho: bind: {e}"))?;
    let addrs: Vec<String> = server
        .local_addrs()
        .iter()
        .map(ToString::to_string)
        .collect();
    if let [addr] = addrs.as_slice() {
        announce(addr);
    } else {
        return Err(format!("netecho: bound {addrs:?}, expected one listener"));
    }
    server.run().map_err(|e| format!("netecho: {e}"))
}
