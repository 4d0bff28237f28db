//! Opening non-blocking client connections, over TCP or to a Unix socket file.
//!
//! For an IPv4 loopback server every connection gets its own source address in
//! 127.1.0.0/16 (all of 127.0.0.0/8 is local on Linux). Each closed client connection
//! holds its port in TIME_WAIT, and one source address only has ~28k ephemeral ports,
//! so with a single source address connection churn tops out near 14k connections/s,
//! whatever the server. Other addresses use a plain connect, and so do Unix sockets
//! (which have no ports and no TIME_WAIT).

use std::io;
use std::net::{Ipv4Addr, SocketAddr};

use mio::net::TcpStream;
use socket2::{Domain, Protocol, Socket, Type};

use super::stream::{Stream, Target};

/// Source addresses used in turn: 127.1.x.y with y in 1..=254.
const SOURCES: u32 = 256 * 254;

#[derive(Debug)]
pub struct Dialer {
    next: u32,
}

impl Dialer {
    /// Dialers with different `seed`s start at different source addresses.
    pub fn new(seed: u32) -> Dialer {
        Dialer {
            next: seed.wrapping_mul(4099) % SOURCES,
        }
    }

    /// Starts connecting to `target`; the connection completes (or fails) asynchronously.
    /// A Unix socket connects at once, or fails at once (`WouldBlock` when the server's
    /// backlog is full).
    pub fn connect(&mut self, target: &Target) -> io::Result<Stream> {
        match target {
            Target::Tcp(addr) => self.connect_tcp(*addr).map(Stream::Tcp),
            #[cfg(unix)]
            Target::Unix(path) => mio::net::UnixStream::connect(path).map(Stream::Unix),
        }
    }

    fn connect_tcp(&mut self, addr: SocketAddr) -> io::Result<TcpStream> {
        let SocketAddr::V4(v4) = addr else {
            return TcpStream::connect(addr);
        };
        if !v4.ip().is_loopback() {
            return TcpStream::connect(addr);
        }
        let n = self.next;
        self.next = (self.next + 1) % SOURCES;
        let source = Ipv4Addr::new(127, 1, (n / 254) as u8, (n % 254 + 1) as u8);
        let socket = Socket::new(
            Domain::IPV4,
            Type::STREAM.nonblocking(),
            Some(Protocol::TCP),
        )?;
        socket.bind(&SocketAddr::from((source, 0)).into())?;
        match socket.connect(&addr.into()) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
            Err(e) => return Err(e),
        }
        Ok(TcpStream::from_std(socket.into()))
    }
}
