//! TCP: creating a listening socket with its options (all through socket2)
//! and the per-connection options of accepted sockets.

use std::io;
use std::net::{SocketAddr, TcpListener};

use socket2::{Domain, Protocol, SockRef, Socket, TcpKeepalive, Type};

use crate::config::TcpOptions;
use crate::error::{Error, Result};

/// Creates the listening socket for `addr` with `config`: `socket`, the
/// options, `bind`, `listen`, non-blocking.
pub(crate) fn listen(addr: SocketAddr, config: &TcpOptions) -> Result<TcpListener> {
    let bind_err = |source: io::Error| Error::Bind {
        addr: addr.into(),
        source,
    };
    let socket = configured_socket(addr, config)?;
    socket.bind(&addr.into()).map_err(bind_err)?;
    socket.listen(config.backlog).map_err(bind_err)?;
    Ok(socket.into())
}

/// Creates a socket for `addr` and sets every option on it, before `bind`
/// (where `SO_REUSEADDR`, `SO_REUSEPORT` and `IPV6_V6ONLY` must be).
fn configured_socket(addr: SocketAddr, config: &TcpOptions) -> Result<Socket> {
    let bind_err = |source: io::Error| Error::Bind {
        addr: addr.into(),
        source,
    };
    let option_err = |option: &'static str| {
        move |source: io::Error| Error::SocketOption {
            option,
            addr: addr.into(),
            source,
        }
    };

    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))
        .map_err(bind_err)?;
    #[cfg(unix)]
    socket
        .set_reuse_address(config.reuse_address)
        .map_err(option_err("reuse_address"))?;
    super::SharedOptions {
        only_v6: config.only_v6,
        reuse_port: config.reuse_port,
        recv_buffer_size: config.recv_buffer_size,
        send_buffer_size: config.send_buffer_size,
    }
    .apply(&socket, &addr.into())?;
    if let Some(idle) = config.keepalive {
        socket
            .set_keepalive(true)
            .map_err(option_err("keepalive"))?;
        socket
            .set_tcp_keepalive(&TcpKeepalive::new().with_time(idle))
            .map_err(option_err("keepalive"))?;
    }
    socket
        .set_tcp_nodelay(config.nodelay)
        .map_err(option_err("nodelay"))?;
    socket.set_nonblocking(true).map_err(bind_err)?;
    Ok(socket)
}

/// Sets the per-connection options on an accepted socket (`TCP_NODELAY`).
/// Options set on the listener (keepalive, buffer sizes) are inherited; on
/// Linux `TCP_NODELAY` is too, which saves a `setsockopt` per connection.
pub(crate) fn configure_accepted(stream: &mio::net::TcpStream, nodelay: bool) -> io::Result<()> {
    if nodelay && !cfg!(target_os = "linux") {
        SockRef::from(stream).set_tcp_nodelay(true)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};
    use std::time::Duration;

    /// Skips the calling test, visibly; on CI (`CI` set), where every test
    /// must run, fails instead.
    fn skip(reason: &str) -> io::Result<()> {
        if std::env::var("CI").is_ok_and(|v| !matches!(v.as_str(), "" | "0" | "false")) {
            return Err(io::Error::other(format!(
                "would skip, but CI must run every test: {reason}"
            )));
        }
        eprintln!("SKIPPED: {reason}");
        Ok(())
    }

    const LOCAL_V4: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 0);

    #[test]
    fn listener_options_read_back() -> io::Result<()> {
        let cfg = TcpOptions {
            reuse_address: true,
            reuse_port: true,
            nodelay: true,
            keepalive: Some(Duration::from_secs(42)),
            recv_buffer_size: Some(64 * 1024),
            send_buffer_size: Some(96 * 1024),
            ..TcpOptions::default()
        };
        let listener = listen(LOCAL_V4, &cfg).map_err(io::Error::other)?;
        let sock = SockRef::from(&listener);
        assert!(sock.reuse_address()?);
        assert!(sock.reuse_port()?);
        assert!(sock.tcp_nodelay()?);
        assert!(sock.keepalive()?);
        assert_eq!(sock.tcp_keepalive_time()?, Duration::from_secs(42));
        // Linux doubles the value asked for, to leave room for bookkeeping.
        assert!(sock.recv_buffer_size()? >= 64 * 1024);
        assert!(sock.send_buffer_size()? >= 96 * 1024);
        assert!(sock.is_listener()?);
        Ok(())
    }

    #[test]
    fn listener_options_off_read_back() -> io::Result<()> {
        let cfg = TcpOptions {
            reuse_address: false,
            reuse_port: false,
            nodelay: false,
            ..TcpOptions::default()
        };
        let listener = listen(LOCAL_V4, &cfg).map_err(io::Error::other)?;
        let sock = SockRef::from(&listener);
        assert!(!sock.reuse_address()?);
        assert!(!sock.reuse_port()?);
        assert!(!sock.tcp_nodelay()?);
        assert!(!sock.keepalive()?);
        Ok(())
    }

    #[test]
    fn backlog_reaches_listen() -> io::Result<()> {
        // The backlog cannot be read back portably; on Linux /proc/net/tcp
        // does not show it either, so check that a small one is accepted and a
        // listener results.
        let cfg = TcpOptions {
            backlog: 7,
            ..TcpOptions::default()
        };
        let listener = listen(LOCAL_V4, &cfg).map_err(io::Error::other)?;
        assert!(SockRef::from(&listener).is_listener()?);
        Ok(())
    }

    #[test]
    fn only_v6_reads_back() -> io::Result<()> {
        for only in [true, false] {
            let cfg = TcpOptions {
                only_v6: Some(only),
                ..TcpOptions::default()
            };
            // Read back before bind: Linux forces IPV6_V6ONLY on when a
            // socket binds a specific IPv6 address such as ::1.
            let addr = SocketAddr::new(Ipv6Addr::LOCALHOST.into(), 0);
            let socket = match configured_socket(addr, &cfg) {
                Ok(s) => s,
                // No IPv6 at all on this machine: nothing to check. Any
                // other error is a failure.
                Err(Error::Bind { source, .. })
                    if source.raw_os_error() == Some(libc::EAFNOSUPPORT) =>
                {
                    return skip(&format!("no IPv6 on this machine ({source})"));
                }
                Err(e) => return Err(io::Error::other(e)),
            };
            assert_eq!(socket.only_v6()?, only);
        }
        Ok(())
    }

    fn accept_one(nodelay: bool) -> io::Result<bool> {
        let cfg = TcpOptions {
            nodelay,
            ..TcpOptions::default()
        };
        let listener = listen(LOCAL_V4, &cfg).map_err(io::Error::other)?;
        let _client = std::net::TcpStream::connect(listener.local_addr()?)?;
        listener.set_nonblocking(false)?;
        let (accepted, _) = listener.accept()?;
        let accepted = mio::net::TcpStream::from_std(accepted);
        configure_accepted(&accepted, nodelay)?;
        SockRef::from(&accepted).tcp_nodelay()
    }

    #[test]
    fn accepted_socket_gets_nodelay() -> io::Result<()> {
        assert!(accept_one(true)?);
        Ok(())
    }

    #[test]
    fn accepted_socket_without_nodelay_stays_without() -> io::Result<()> {
        assert!(!accept_one(false)?);
        Ok(())
    }
}
