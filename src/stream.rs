//! [`NetStream`]: an accepted connection's socket, plain or under TLS.
//!
//! An enum, not a `Box<dyn>`: one predictable branch per read or write, no
//! allocation for a plain connection. (The `listeners` branch grows this
//! into a transport layer; TLS becomes one variant of its stream there.)

use std::io::{self, Read, Write};
use std::time::Duration;

use mio::event::Source;
use mio::net::TcpStream;
use mio::{Interest, Registry, Token};

use crate::connection::Stream;
use crate::tls_info::TlsInfo;
#[cfg(feature = "tls")]
use crate::tls_transport::TlsStream;

/// An accepted connection's socket.
#[derive(Debug)]
pub(crate) enum NetStream {
    /// Plain TCP.
    Tcp(TcpStream),
    /// TLS over TCP (boxed: a rustls session is large).
    #[cfg(feature = "tls")]
    Tls(Box<TlsStream<TcpStream>>),
}

impl NetStream {
    /// The TCP socket under any protocol.
    pub(crate) fn tcp(&self) -> &TcpStream {
        match self {
            NetStream::Tcp(s) => s,
            #[cfg(feature = "tls")]
            NetStream::Tls(s) => s.get_ref(),
        }
    }

    fn tcp_mut(&mut self) -> &mut TcpStream {
        match self {
            NetStream::Tcp(s) => s,
            #[cfg(feature = "tls")]
            NetStream::Tls(s) => s.get_mut(),
        }
    }
}

/// Forwards to the variant's method.
macro_rules! each {
    ($self:expr, $s:ident => $e:expr) => {
        match $self {
            NetStream::Tcp($s) => $e,
            #[cfg(feature = "tls")]
            NetStream::Tls($s) => $e,
        }
    };
}

impl Read for NetStream {
    #[inline]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        each!(self, s => s.read(buf))
    }
}

impl Write for NetStream {
    #[inline]
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        each!(self, s => s.write(data))
    }

    fn flush(&mut self) -> io::Result<()> {
        each!(self, s => s.flush())
    }
}

impl Stream for NetStream {
    fn shutdown_write(&mut self) -> io::Result<()> {
        each!(self, s => s.shutdown_write())
    }

    fn abort(&mut self) -> io::Result<()> {
        each!(self, s => s.abort())
    }

    fn handshake(&mut self) -> io::Result<bool> {
        each!(self, s => s.handshake())
    }

    fn handshake_timeout(&self) -> Option<Duration> {
        each!(self, s => s.handshake_timeout())
    }

    fn tls_info(&self) -> Option<Box<TlsInfo>> {
        each!(self, s => s.tls_info())
    }

    #[inline]
    fn wants_write(&self) -> bool {
        each!(self, s => s.wants_write())
    }

    #[inline]
    fn has_buffered_input(&self) -> bool {
        each!(self, s => s.has_buffered_input())
    }

    fn closes_with_message(&self) -> bool {
        each!(self, s => s.closes_with_message())
    }
}

impl Source for NetStream {
    fn register(
        &mut self,
        registry: &Registry,
        token: Token,
        interest: Interest,
    ) -> io::Result<()> {
        self.tcp_mut().register(registry, token, interest)
    }

    fn reregister(
        &mut self,
        registry: &Registry,
        token: Token,
        interest: Interest,
    ) -> io::Result<()> {
        self.tcp_mut().reregister(registry, token, interest)
    }

    fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        self.tcp_mut().deregister(registry)
    }
}
