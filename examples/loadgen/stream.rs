//! What the client connects to, and the client's socket: TCP or a Unix-domain stream.
//!
//! An enum rather than a `Box<dyn>`: one branch per read or write, nothing allocated.

use std::fmt;
use std::io::{self, IoSlice, Read, Write};
use std::net::SocketAddr;
#[cfg(unix)]
use std::path::PathBuf;
#[cfg(feature = "tls")]
use std::sync::Arc;

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

/// What a TLS client needs: its configuration and the name it asks the server for.
#[cfg(feature = "tls")]
#[derive(Debug, Clone)]
pub struct Tls {
    pub config: Arc<netecho::rustls::ClientConfig>,
    pub server_name: netecho::rustls::pki_types::ServerName<'static>,
}

/// Without the `tls` feature there is no TLS client: `Option<Tls>` is always `None`.
#[cfg(not(feature = "tls"))]
#[derive(Debug, Clone)]
pub enum Tls {}

/// One client connection's socket, non-blocking; with the `tls` feature, possibly
/// under TLS (rustls), behind the same non-blocking contract: a read decrypts until
/// the buffer is full or the socket is empty, a write encrypts and sends until the
/// socket is full, and records rustls still holds go out on the next writable event
/// (`flush`). The handshake runs inside those calls.
#[derive(Debug)]
pub enum Stream {
    Tcp(TcpStream),
    #[cfg(unix)]
    Unix(UnixStream),
    #[cfg(feature = "tls")]
    Tls(Box<TlsClient>),
}

impl Stream {
    /// `self` as is, or under a new TLS session when `tls` is given.
    pub fn with_tls(self, tls: Option<&Tls>) -> io::Result<Stream> {
        match tls {
            None => Ok(self),
            #[cfg(feature = "tls")]
            Some(tls) => {
                let conn = netecho::rustls::ClientConnection::new(
                    Arc::clone(&tls.config),
                    tls.server_name.clone(),
                )
                .map_err(io::Error::other)?;
                Ok(Stream::Tls(Box::new(TlsClient { sock: self, conn })))
            }
            #[cfg(not(feature = "tls"))]
            Some(never) => match *never {},
        }
    }

    /// The pending socket error (`SO_ERROR`), such as a refused connect.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        match self {
            Stream::Tcp(s) => s.take_error(),
            #[cfg(unix)]
            Stream::Unix(s) => s.take_error(),
            #[cfg(feature = "tls")]
            Stream::Tls(t) => t.sock.take_error(),
        }
    }

    /// Whether a non-blocking connect has completed: the socket has a peer.
    pub fn is_connected(&self) -> io::Result<bool> {
        let peer = match self {
            Stream::Tcp(s) => s.peer_addr().map(drop),
            #[cfg(unix)]
            Stream::Unix(s) => s.peer_addr().map(drop),
            #[cfg(feature = "tls")]
            Stream::Tls(t) => return t.sock.is_connected(),
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
            #[cfg(feature = "tls")]
            Stream::Tls(t) => t.read(buf),
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
            #[cfg(feature = "tls")]
            Stream::Tls(t) => t.write_vectored(&[IoSlice::new(data)]),
        }
    }

    #[inline]
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write_vectored(bufs),
            #[cfg(unix)]
            Stream::Unix(s) => s.write_vectored(bufs),
            #[cfg(feature = "tls")]
            Stream::Tls(t) => t.write_vectored(bufs),
        }
    }

    /// Sends what TLS still holds, as far as the socket takes it.
    fn flush(&mut self) -> io::Result<()> {
        match self {
            #[cfg(feature = "tls")]
            Stream::Tls(t) => t.push().map(|_| ()),
            _ => Ok(()),
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
            Stream::Tls(t) => t.sock.register(registry, token, interest),
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
            Stream::Tls(t) => t.sock.reregister(registry, token, interest),
        }
    }

    fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.deregister(registry),
            #[cfg(unix)]
            Stream::Unix(s) => s.deregister(registry),
            #[cfg(feature = "tls")]
            Stream::Tls(t) => t.sock.deregister(registry),
        }
    }
}

/// A rustls client session over a non-blocking socket.
#[cfg(feature = "tls")]
#[derive(Debug)]
pub struct TlsClient {
    sock: Stream,
    conn: netecho::rustls::ClientConnection,
}

#[cfg(feature = "tls")]
impl TlsClient {
    /// Writes held records: `Ok(true)` once all are out, `Ok(false)` if the socket is full.
    fn push(&mut self) -> io::Result<bool> {
        while self.conn.wants_write() {
            match self.conn.write_tls(&mut self.sock) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut filled = 0;
        loop {
            match self.conn.reader().read(&mut buf[filled..]) {
                Ok(0) => return Ok(filled),
                Ok(n) => {
                    filled += n;
                    if filled == buf.len() {
                        return Ok(filled);
                    }
                    continue;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                // Said again by the next read.
                Err(_) if filled > 0 => return Ok(filled),
                Err(e) => return Err(e),
            }
            let got = match self.conn.read_tls(&mut self.sock) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && filled > 0 => {
                    return Ok(filled);
                }
                Err(e) => return Err(e),
            };
            self.conn
                .process_new_packets()
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            // Handshake replies; a full socket never stops the read.
            self.push()?;
            if got == 0 && filled > 0 {
                return Ok(filled);
            }
        }
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let mut taken = 0;
        let blocked = |taken: usize| {
            if taken > 0 {
                Ok(taken)
            } else {
                Err(io::ErrorKind::WouldBlock.into())
            }
        };
        for buf in bufs {
            let mut off = 0;
            while off < buf.len() {
                if !self.push()? {
                    return blocked(taken);
                }
                match self.conn.writer().write(&buf[off..])? {
                    // rustls' buffer is full (before the handshake ends): wait.
                    0 => return blocked(taken),
                    n => {
                        off += n;
                        taken += n;
                    }
                }
            }
        }
        self.push()?;
        Ok(taken)
    }
}
