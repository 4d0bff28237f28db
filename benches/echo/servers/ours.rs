//! The crate under test, started the way its example starts it (default options but
//! `workers`).

use std::net::{Ipv4Addr, SocketAddr};

pub fn run(workers: usize, announce: &mut dyn FnMut(SocketAddr)) -> Result<(), String> {
    let server = netecho::TcpServer::builder()
        .host(Ipv4Addr::LOCALHOST)
        .port(0)
        .workers(workers)
        .bind()
        .map_err(|e| format!("netecho: bind: {e}"))?;
    announce(server.local_addr());
    server.run().map_err(|e| format!("netecho: {e}"))
}
