//! The listening socket every baseline starts from.
//!
//! Made with socket2 the way netecho makes its own (`SO_REUSEADDR`, backlog 1024) and with
//! `TCP_NODELAY` set on the listener: Linux copies it to every accepted socket, so the
//! baselines, like netecho, pay no `setsockopt` per connection. The benchmark reads `/proc`
//! and runs on Linux only; elsewhere accepted sockets may not inherit the option.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};

use socket2::{Domain, Protocol, Socket, Type};

/// The `listen` backlog, netecho's default.
const BACKLOG: i32 = 1024;

/// A blocking listener on `127.0.0.1:0` with `TCP_NODELAY` set.
pub fn bind() -> io::Result<TcpListener> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_tcp_nodelay(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    Ok(socket.into())
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::net::TcpStream;

    use socket2::SockRef;

    #[test]
    fn accepted_sockets_inherit_nodelay() -> std::io::Result<()> {
        let listener = super::bind()?;
        let _client = TcpStream::connect(listener.local_addr()?)?;
        let (accepted, _) = listener.accept()?;
        assert!(SockRef::from(&listener).tcp_nodelay()?);
        assert!(
            accepted.nodelay()?,
            "TCP_NODELAY not inherited by the accepted socket"
        );
        Ok(())
    }
}
