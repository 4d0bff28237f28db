//! A client connection's socket: plain TCP, or TLS (rustls) over it with the `tls`
//! feature, behind the same non-blocking `Read`/`Write` contract as the socket.
//!
//! The TLS side keeps that contract for an edge-triggered loop: a read decrypts until
//! the buffer is full or the socket is empty; a write encrypts and sends until the
//! socket is full (a short count means full, as on TCP); records rustls still holds go
//! out on the next writable event ([`ClientStream::flush`]). The handshake runs inside
//! those calls: writes before it ends are buffered by rustls and sent after it.

use std::io::{self, IoSlice, Read, Write};
#[cfg(feature = "tls")]
use std::sync::Arc;

use mio::net::TcpStream;

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

#[derive(Debug)]
pub enum ClientStream {
    Plain(TcpStream),
    #[cfg(feature = "tls")]
    Tls(Box<TlsClient>),
}

impl ClientStream {
    /// `stream` as is, or under a new TLS session when `tls` is given.
    pub fn new(stream: TcpStream, tls: Option<&Tls>) -> io::Result<ClientStream> {
        match tls {
            None => Ok(ClientStream::Plain(stream)),
            #[cfg(feature = "tls")]
            Some(tls) => {
                let conn = netecho::rustls::ClientConnection::new(
                    Arc::clone(&tls.config),
                    tls.server_name.clone(),
                )
                .map_err(io::Error::other)?;
                Ok(ClientStream::Tls(Box::new(TlsClient {
                    sock: stream,
                    conn,
                })))
            }
            #[cfg(not(feature = "tls"))]
            Some(never) => match *never {},
        }
    }

    pub fn tcp(&self) -> &TcpStream {
        match self {
            ClientStream::Plain(s) => s,
            #[cfg(feature = "tls")]
            ClientStream::Tls(t) => &t.sock,
        }
    }
}

impl Read for ClientStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            ClientStream::Plain(s) => s.read(buf),
            #[cfg(feature = "tls")]
            ClientStream::Tls(t) => t.read(buf),
        }
    }
}

impl Write for ClientStream {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.write_vectored(&[IoSlice::new(data)])
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match self {
            ClientStream::Plain(s) => s.write_vectored(bufs),
            #[cfg(feature = "tls")]
            ClientStream::Tls(t) => t.write_vectored(bufs),
        }
    }

    /// Sends what TLS still holds, as far as the socket takes it.
    fn flush(&mut self) -> io::Result<()> {
        match self {
            ClientStream::Plain(_) => Ok(()),
            #[cfg(feature = "tls")]
            ClientStream::Tls(t) => t.push().map(|_| ()),
        }
    }
}

/// A rustls client session over a non-blocking socket.
#[cfg(feature = "tls")]
#[derive(Debug)]
pub struct TlsClient {
    sock: TcpStream,
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
