//! The sans-IO datagram API: [`DatagramHandler`], its [`Reply`], and the
//! default [`DatagramEcho`]. No socket or mio type here.

use std::fmt;
use std::net::SocketAddr;

/// The largest UDP payload over IPv4: 65,535 minus the IPv4 (20) and UDP (8)
/// headers.
pub const MAX_DATAGRAM_V4: usize = 65_507;
/// The largest UDP payload over IPv6 (without jumbograms): 65,535 minus the
/// UDP header; the IPv6 header is not counted in its payload length.
pub const MAX_DATAGRAM_V6: usize = 65_527;

/// What a UDP server does with each datagram that passed its
/// [guard](crate::GuardPolicy): the datagram's counterpart of
/// [`Handler`](crate::Handler). The default, [`DatagramEcho`], answers each
/// datagram with itself (RFC 862).
///
/// Each worker makes one handler with the factory given to
/// [`UdpServerBuilder::handler`](crate::UdpServerBuilder::handler) and calls
/// it for every datagram that worker receives, in arrival order, on the
/// worker's thread.
///
/// # Rules
///
/// - Never block: a worker serves every datagram of its socket on one
///   thread.
/// - A panic costs the datagram (no reply), is counted in
///   [`UdpStats::handler_panics`](crate::UdpStats::handler_panics) and
///   logged at `warn`; the handler is used again for the next one.
///
/// # Examples
///
/// A handler that answers with the datagram in upper case, tested without a
/// socket:
///
/// ```
/// use netecho::{DatagramHandler, Reply};
/// use std::net::SocketAddr;
///
/// struct Upper;
///
/// impl DatagramHandler for Upper {
///     fn on_datagram(&mut self, data: &[u8], _peer: SocketAddr, reply: &mut Reply<'_>) {
///         reply.send(&data.to_ascii_uppercase());
///     }
/// }
///
/// let peer: SocketAddr = "127.0.0.1:40000".parse()?;
/// let mut out = Vec::new();
/// let mut reply = Reply::new(&mut out);
/// Upper.on_datagram(b"hi", peer, &mut reply);
/// assert!(!reply.is_echo());
/// assert_eq!(out, b"HI");
/// # Ok::<(), std::net::AddrParseError>(())
/// ```
pub trait DatagramHandler: Send {
    /// Called with each datagram (`data`, possibly empty) and its sender.
    /// Leave `reply` alone to answer nothing, call [`Reply::echo`] to answer
    /// with the datagram itself (without a copy), or [`Reply::send`] to
    /// answer with other bytes.
    fn on_datagram(&mut self, data: &[u8], peer: SocketAddr, reply: &mut Reply<'_>);
}

/// The RFC 862 datagram echo: every datagram is answered with itself, whole
/// and alone.
///
/// # Examples
///
/// ```
/// use netecho::{DatagramEcho, DatagramHandler, Reply};
///
/// let mut out = Vec::new();
/// let mut reply = Reply::new(&mut out);
/// DatagramEcho.on_datagram(b"ping", "127.0.0.1:40000".parse()?, &mut reply);
/// assert!(reply.is_echo());
/// # Ok::<(), std::net::AddrParseError>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct DatagramEcho;

impl DatagramHandler for DatagramEcho {
    #[inline]
    fn on_datagram(&mut self, _data: &[u8], _peer: SocketAddr, reply: &mut Reply<'_>) {
        reply.echo();
    }
}

/// The answer to one datagram, filled in by
/// [`DatagramHandler::on_datagram`]: nothing (the default), the datagram
/// itself, or bytes of the handler's.
pub struct Reply<'a> {
    out: &'a mut Vec<u8>,
    start: usize,
    kind: ReplyKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReplyKind {
    Nothing,
    Echo,
    Bytes,
}

impl fmt::Debug for Reply<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reply")
            .field("kind", &self.kind)
            .field("len", &(self.out.len() - self.start))
            .finish()
    }
}

impl<'a> Reply<'a> {
    /// A reply whose [`send`](Self::send) bytes are appended to `out`: for
    /// testing a handler without a socket (the server makes its own).
    pub fn new(out: &'a mut Vec<u8>) -> Self {
        let start = out.len();
        Reply {
            out,
            start,
            kind: ReplyKind::Nothing,
        }
    }

    /// Answer with the datagram itself, whole; it replaces anything sent.
    pub fn echo(&mut self) {
        self.out.truncate(self.start);
        self.kind = ReplyKind::Echo;
    }

    /// Answer with `bytes` (one datagram; more calls append to it). A reply
    /// larger than the largest datagram ([`MAX_DATAGRAM_V4`] over IPv4) is
    /// not sent and is counted in
    /// [`UdpStats::send_errors`](crate::UdpStats::send_errors).
    pub fn send(&mut self, bytes: &[u8]) {
        if self.kind != ReplyKind::Bytes {
            self.out.truncate(self.start);
            self.kind = ReplyKind::Bytes;
        }
        self.out.extend_from_slice(bytes);
    }

    /// Answer nothing after all; forgets an [`echo`](Self::echo) or
    /// [`send`](Self::send).
    pub fn none(&mut self) {
        self.out.truncate(self.start);
        self.kind = ReplyKind::Nothing;
    }

    /// Whether the reply is the datagram itself.
    pub fn is_echo(&self) -> bool {
        self.kind == ReplyKind::Echo
    }

    /// Whether there is no reply.
    pub fn is_none(&self) -> bool {
        self.kind == ReplyKind::Nothing
    }

    /// The bytes given to [`send`](Self::send) (empty for an echo or none).
    pub fn bytes(&self) -> &[u8] {
        &self.out[self.start..]
    }

    pub(crate) fn kind(&self) -> ReplyKind {
        self.kind
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_kinds_replace_each_other() {
        let mut out = b"earlier".to_vec();
        let mut r = Reply::new(&mut out);
        assert!(r.is_none());
        r.send(b"ab");
        r.send(b"cd");
        assert_eq!(r.bytes(), b"abcd");
        r.echo();
        assert!(r.is_echo());
        assert_eq!(r.bytes(), b"");
        r.send(b"x");
        r.none();
        assert!(r.is_none());
        assert_eq!(out, b"earlier");
    }
}
