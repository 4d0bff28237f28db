//! Transports: how bytes cross a socket. One file per kind of socket: it
//! creates the listening socket (with socket2), accepts, and moves bytes;
//! nothing above it knows which kind a connection is.
//!
//! The state machine sees a connection's socket only as a
//! [`Stream`](crate::state_machine::Stream); the driver sees a [`Listener`]
//! and a [`Stream`] only as mio event sources. A stream is an enum of the
//! kinds, not a `Box<dyn>`: one predictable branch per read or write, no
//! allocation per connection.

use std::io::{self, Read, Write};

use mio::event::Source;
use mio::{Interest, Registry, Token};

use crate::addr::{Addr, PeerCred};

pub(crate) mod tcp;
#[cfg(feature = "tls")]
pub(crate) mod tls;
#[cfg(unix)]
pub(crate) mod unix;

/// An accepted connection's socket.
#[derive(Debug)]
pub(crate) enum Stream {
    /// A TCP connection.
    Tcp(mio::net::TcpStream),
    /// A Unix-domain stream connection.
    #[cfg(unix)]
    Unix(mio::net::UnixStream),
    /// TLS over one of the others (boxed: a rustls session is large).
    #[cfg(feature = "tls")]
    Tls(Box<tls::TlsStream<Stream>>),
}

impl Stream {
    /// The most handshakes in progress a worker takes for this connection's
    /// listener, if the connection has a handshake (TLS).
    pub(crate) fn max_handshakes(&self) -> Option<usize> {
        match self {
            #[cfg(feature = "tls")]
            Stream::Tls(s) => Some(s.max_handshakes()),
            _ => None,
        }
    }
}

impl Read for Stream {
    #[inline]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            #[cfg(unix)]
            Stream::Unix(s) => s.read(buf),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    #[inline]
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        match self {
            // std sends with MSG_NOSIGNAL on Linux.
            Stream::Tcp(s) => s.write(data),
            #[cfg(unix)]
            Stream::Unix(s) => unix::send(s, data),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.write(data),
        }
    }

    /// Sends what a TLS session holds; nothing to do for a plain socket.
    fn flush(&mut self) -> io::Result<()> {
        match self {
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.flush(),
            _ => Ok(()),
        }
    }
}

impl crate::state_machine::Stream for Stream {
    fn shutdown_write(&mut self) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.shutdown(std::net::Shutdown::Write),
            #[cfg(unix)]
            Stream::Unix(s) => s.shutdown(std::net::Shutdown::Write),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.shutdown_write(),
        }
    }

    /// `setsockopt(SO_LINGER, 0)`: `close` then resets the connection.
    fn abort(&mut self) -> io::Result<()> {
        let zero = Some(std::time::Duration::ZERO);
        match self {
            Stream::Tcp(s) => socket2::SockRef::from(&*s).set_linger(zero),
            // A Unix socket has no RST: closing with unread data makes the
            // peer's next read fail with ECONNRESET all the same.
            #[cfg(unix)]
            Stream::Unix(_) => Ok(()),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.abort(),
        }
    }

    fn peek(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.peek(buf),
            #[cfg(unix)]
            Stream::Unix(s) => unix::peek(s, buf),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.peek(buf),
        }
    }

    fn consume_peeked(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.consume_peeked(buf),
            _ => self.read(buf),
        }
    }

    fn handshake(&mut self) -> io::Result<bool> {
        match self {
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.handshake(),
            _ => Ok(true),
        }
    }

    fn handshake_timeout(&self) -> Option<std::time::Duration> {
        match self {
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.handshake_timeout(),
            _ => None,
        }
    }

    fn tls_info(&self) -> Option<Box<crate::tls_info::TlsInfo>> {
        match self {
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.tls_info(),
            _ => None,
        }
    }

    #[inline]
    fn wants_write(&self) -> bool {
        match self {
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.wants_write(),
            _ => false,
        }
    }

    #[inline]
    fn has_buffered_input(&self) -> bool {
        match self {
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.has_buffered_input(),
            _ => false,
        }
    }

    fn closes_with_message(&self) -> bool {
        match self {
            #[cfg(feature = "tls")]
            Stream::Tls(_) => true,
            _ => false,
        }
    }
}

#[cfg(unix)]
impl std::os::fd::AsFd for Stream {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        match self {
            Stream::Tcp(s) => s.as_fd(),
            Stream::Unix(s) => s.as_fd(),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.get_ref().as_fd(),
        }
    }
}

impl Source for Stream {
    fn register(
        &mut self,
        registry: &Registry,
        token: Token,
        interest: Interest,
    ) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.register(registry, token, interest),
            #[cfg(unix)]
            Stream::Unix(s) => s.register(registry, token, interest),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.get_mut().register(registry, token, interest),
        }
    }

    fn reregister(
        &mut self,
        registry: &Registry,
        token: Token,
        interest: Interest,
    ) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.reregister(registry, token, interest),
            #[cfg(unix)]
            Stream::Unix(s) => s.reregister(registry, token, interest),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.get_mut().reregister(registry, token, interest),
        }
    }

    fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.deregister(registry),
            #[cfg(unix)]
            Stream::Unix(s) => s.deregister(registry),
            #[cfg(feature = "tls")]
            Stream::Tls(s) => s.get_mut().deregister(registry),
        }
    }
}

/// A connection just accepted, with what the handler will learn of it.
#[derive(Debug)]
pub(crate) struct Accepted {
    pub(crate) stream: Stream,
    pub(crate) peer: Addr,
    pub(crate) local: Addr,
    pub(crate) peer_cred: Option<PeerCred>,
}

/// The kinds of listening socket.
#[derive(Debug)]
enum Kind {
    Tcp(mio::net::TcpListener),
    #[cfg(unix)]
    Unix(mio::net::UnixListener),
}

/// A listening socket, non-blocking, with its address and the options its
/// connections get.
#[derive(Debug)]
pub(crate) struct Listener {
    /// The socket file to remove at stop, if the server created it. Held for
    /// its `Drop`, which runs before the socket closes (fields drop in
    /// order): while the socket is open its file's inode cannot be reused,
    /// so the dev/inode check cannot mistake another file for ours.
    #[cfg(unix)]
    file: Option<unix::SocketFile>,
    kind: Kind,
    addr: Addr,
    /// `TCP_NODELAY` on accepted connections.
    nodelay: bool,
    /// TLS on every connection, when set.
    #[cfg(feature = "tls")]
    tls: Option<tls::TlsAcceptor>,
}

impl Listener {
    /// A TCP listener from a bound, listening std socket; made non-blocking.
    pub(crate) fn tcp(listener: std::net::TcpListener, nodelay: bool) -> io::Result<Self> {
        listener.set_nonblocking(true)?;
        let addr = Addr::Tcp(listener.local_addr()?);
        Ok(Listener {
            kind: Kind::Tcp(mio::net::TcpListener::from_std(listener)),
            addr,
            nodelay,
            #[cfg(unix)]
            file: None,
            #[cfg(feature = "tls")]
            tls: None,
        })
    }

    /// A Unix-domain listener from a bound, listening std socket; made
    /// non-blocking. `file` is the socket file to remove at stop (`None` for
    /// a socket handed in: its owner removes it). `addr` overrides the
    /// address the socket reports (which may be relative or cut short).
    #[cfg(unix)]
    pub(crate) fn unix(
        listener: std::os::unix::net::UnixListener,
        file: Option<unix::SocketFile>,
        addr: Option<Addr>,
    ) -> io::Result<Self> {
        listener.set_nonblocking(true)?;
        let addr = match addr {
            Some(addr) => addr,
            None => Addr::Unix(unix::addr_of(&listener.local_addr()?)),
        };
        Ok(Listener {
            kind: Kind::Unix(mio::net::UnixListener::from_std(listener)),
            addr,
            nodelay: false,
            file,
            #[cfg(feature = "tls")]
            tls: None,
        })
    }

    /// Speaks TLS on every connection of this listener.
    #[cfg(feature = "tls")]
    pub(crate) fn with_tls(mut self, acceptor: tls::TlsAcceptor) -> Self {
        self.tls = Some(acceptor);
        self
    }

    /// A second descriptor for the listening socket (close-on-exec), to hand
    /// to a successor process.
    #[cfg(unix)]
    pub(crate) fn dup(&self) -> io::Result<std::os::fd::OwnedFd> {
        use std::os::fd::AsFd;
        self.as_fd().try_clone_to_owned()
    }

    /// Another process serves this socket now: closing it must not remove
    /// its socket file.
    #[cfg(unix)]
    pub(crate) fn keep_socket_file(&mut self) {
        if let Some(file) = &mut self.file {
            file.keep = true;
        }
    }

    /// The address it listens on (with the real port when port 0 was asked).
    pub(crate) fn local_addr(&self) -> &Addr {
        &self.addr
    }

    /// Accepts one connection and sets its options; under TLS, starts its
    /// session (the handshake runs on its worker, after any PROXY header).
    pub(crate) fn accept(&self) -> io::Result<Accepted> {
        let accepted = self.accept_plain()?;
        #[cfg(feature = "tls")]
        if let Some(acceptor) = &self.tls {
            let Accepted {
                stream,
                peer,
                local,
                peer_cred,
            } = accepted;
            return Ok(Accepted {
                stream: Stream::Tls(Box::new(acceptor.accept(stream)?)),
                peer,
                local,
                peer_cred,
            });
        }
        Ok(accepted)
    }

    fn accept_plain(&self) -> io::Result<Accepted> {
        match &self.kind {
            Kind::Tcp(listener) => {
                let (stream, peer) = listener.accept()?;
                if let Err(e) = tcp::configure_accepted(&stream, self.nodelay) {
                    log::debug!("failed to set options on the connection from {peer}: {e}");
                }
                let local = match self.addr {
                    Addr::Tcp(addr) if addr.ip().is_unspecified() => {
                        Addr::Tcp(stream.local_addr().unwrap_or(addr))
                    }
                    _ => self.addr.clone(),
                };
                Ok(Accepted {
                    stream: Stream::Tcp(stream),
                    peer: Addr::Tcp(peer),
                    local,
                    peer_cred: None,
                })
            }
            #[cfg(unix)]
            Kind::Unix(listener) => {
                let (stream, peer) = listener.accept()?;
                let peer_cred = unix::peer_cred(&stream);
                Ok(Accepted {
                    stream: Stream::Unix(stream),
                    peer: Addr::Unix(unix::addr_of(&peer)),
                    local: self.addr.clone(),
                    peer_cred,
                })
            }
        }
    }
}

#[cfg(unix)]
impl std::os::fd::AsFd for Listener {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        match &self.kind {
            Kind::Tcp(l) => l.as_fd(),
            Kind::Unix(l) => l.as_fd(),
        }
    }
}

impl Source for Listener {
    fn register(
        &mut self,
        registry: &Registry,
        token: Token,
        interest: Interest,
    ) -> io::Result<()> {
        match &mut self.kind {
            Kind::Tcp(l) => l.register(registry, token, interest),
            #[cfg(unix)]
            Kind::Unix(l) => l.register(registry, token, interest),
        }
    }

    fn reregister(
        &mut self,
        registry: &Registry,
        token: Token,
        interest: Interest,
    ) -> io::Result<()> {
        match &mut self.kind {
            Kind::Tcp(l) => l.reregister(registry, token, interest),
            #[cfg(unix)]
            Kind::Unix(l) => l.reregister(registry, token, interest),
        }
    }

    fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        match &mut self.kind {
            Kind::Tcp(l) => l.deregister(registry),
            #[cfg(unix)]
            Kind::Unix(l) => l.deregister(registry),
        }
    }
}

/// The socket options TCP listeners and UDP sockets share, set before
/// `bind` (where `IPV6_V6ONLY` and `SO_REUSEPORT` must be). `at` names the
/// socket in the errors.
pub(crate) struct SharedOptions {
    pub(crate) only_v6: Option<bool>,
    pub(crate) reuse_port: bool,
    pub(crate) recv_buffer_size: Option<usize>,
    pub(crate) send_buffer_size: Option<usize>,
}

impl SharedOptions {
    /// Sets each option asked for on `socket`, bound next to `at`.
    pub(crate) fn apply(&self, socket: &socket2::Socket, at: &Addr) -> crate::error::Result<()> {
        let option_err = |option: &'static str| {
            move |source: io::Error| crate::error::Error::SocketOption {
                option,
                addr: at.clone(),
                source,
            }
        };
        let ipv6 = at
            .as_tcp()
            .or_else(|| at.as_udp())
            .is_some_and(|a| a.is_ipv6());
        if ipv6 {
            if let Some(only) = self.only_v6 {
                socket.set_only_v6(only).map_err(option_err("only_v6"))?;
            }
        }
        #[cfg(all(unix, not(any(target_os = "solaris", target_os = "illumos"))))]
        if self.reuse_port {
            socket
                .set_reuse_port(true)
                .map_err(option_err("reuse_port"))?;
        }
        if let Some(size) = self.recv_buffer_size {
            socket
                .set_recv_buffer_size(size)
                .map_err(option_err("recv_buffer_size"))?;
        }
        if let Some(size) = self.send_buffer_size {
            socket
                .set_send_buffer_size(size)
                .map_err(option_err("send_buffer_size"))?;
        }
        Ok(())
    }
}
