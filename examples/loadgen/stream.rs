//! What the client connects to, and the client's socket: TCP or a Unix-domain stream.
//!
//! An enum rather than a `Box<dyn>`: one branch per read or write, nothing allocated.

use std::fmt;
use std::io::{self, IoSlice, Read, Write};
use std::net::SocketAddr;
#[cfg(unix)]
use std::path::PathBuf;

use mio::event::Source;
use mio::net::TcpStream;
#[cfg(unix)]
use mio::net::UnixStream;
use mio::{Interest, Registry, Token};

/// The server under load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A TCP address.
    Tcp(SocketAddr),
    /// A Unix-domain stream socket file.
    #[cfg(unix)]
    Unix(PathBuf),
}

impl fmt::Display for Target {
    /// `127.0.0.1:7007`, or `unix:/path/to/socket` (the echo example's `--bind` syntax).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Tcp(addr) => addr.fmt(f),
            #[cfg(unix)]
            Target::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

/// One client connection's socket, non-blocking.
#[derive(Debug)]
pub enum Stream {
    Tcp(TcpStream),
    #[cfg(unix)]
    Unix(UnixStream),
}

impl Stream {
    /// The pending socket error (`SO_ERROR`), such as a refused connect.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        match self {
            Stream::Tcp(s) => s.take_error(),
            #[cfg(unix)]
            Stream::Unix(s) => s.take_error(),
        }
    }

    /// Whether a non-blocking connect has completed: the socket has a peer.
    pub fn is_connected(&self) -> io::Result<bool> {
        let peer = match self {
            Stream::Tcp(s) => s.peer_addr().map(drop),
            #[cfg(unix)]
            Stream::Unix(s) => s.peer_addr().map(drop),
        };
        match peer {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(false),
            Err(e) => Err(e),
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
        }
    }
}

impl Write for Stream {
    #[inline]
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(data),
            #[cfg(unix)]
            Stream::Unix(s) => s.write(data),
        }
    }

    #[inline]
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write_vectored(bufs),
            #[cfg(unix)]
            Stream::Unix(s) => s.write_vectored(bufs),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
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
        }
    }

    fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.deregister(registry),
            #[cfg(unix)]
            Stream::Unix(s) => s.deregister(registry),
        }
    }
}
