//! The PROXY protocol (HAProxy's, versions 1 and 2), sans-IO: a listener's
//! settings ([`ProxyProtocol`], [`Cidr`]), what a header told
//! ([`ProxyHeader`]), and [`parse`], which the connection state machine
//! feeds with the bytes it peeked. Headers are decoded by the
//! [`ppp`](https://docs.rs/ppp) crate; this module decides when a header is
//! complete, too large or not one at all.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use crate::addr::{Addr, UnixAddr};
use crate::error::Error;

/// Default for [`ProxyProtocol::header_timeout`]: 5 seconds.
pub const DEFAULT_PROXY_HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// Default for [`ProxyProtocol::max_header_size`]: 4 KiB.
pub const DEFAULT_PROXY_MAX_HEADER: usize = 4096;

/// The longest version 1 header, `\r\n` included (the specification's 107).
const V1_MAX: usize = 107;
/// The version 2 signature, the first 12 bytes of every v2 header.
const V2_SIGNATURE: &[u8] = b"\r\n\r\n\0\r\nQUIT\n";
/// The version 1 start.
const V1_PREFIX: &[u8] = b"PROXY ";
/// The fixed part of a version 2 header.
const V2_FIXED: usize = 16;
/// The largest version 2 header the format allows.
const V2_MAX: usize = V2_FIXED + u16::MAX as usize;

/// TLV types of version 2 headers that [`ProxyHeader`] names.
const PP2_TYPE_ALPN: u8 = 0x01;
const PP2_TYPE_AUTHORITY: u8 = 0x02;
const PP2_TYPE_UNIQUE_ID: u8 = 0x05;

/// The PROXY protocol on a listener: every connection must start with a
/// header (version 1 or 2, told apart by their first bytes), sent by a load
/// balancer (HAProxy's `send-proxy`/`send-proxy-v2`, Envoy, AWS NLB...) to
/// carry the client's address. Set it with
/// [`Listener::proxy_protocol`](crate::Listener::proxy_protocol).
///
/// The handler's [`Conn::peer_addr`](crate::Conn::peer_addr) is then the
/// client's address from the header, and
/// [`Conn::proxied_by`](crate::Conn::proxied_by) the balancer's. A header
/// without addresses (a v2 `LOCAL` command, the balancer's own health check;
/// a v1 `UNKNOWN`) leaves the real peer's.
///
/// What the server does with each connection before its handler sees it:
///
/// - a peer outside the [trusted](ProxyProtocol::trust) networks is closed
///   at once, counted in [`Stats::proxy_untrusted`](crate::Stats::proxy_untrusted);
/// - bytes that are not a header, or a header larger than
///   [`max_header_size`](ProxyProtocol::max_header_size), close the
///   connection, counted in [`Stats::proxy_malformed`](crate::Stats::proxy_malformed);
/// - no complete header within [`header_timeout`](ProxyProtocol::header_timeout)
///   closes it, counted in [`Stats::proxy_timeouts`](crate::Stats::proxy_timeouts);
/// - a header that arrives in pieces is waited for; the bytes after it
///   reach the handler untouched.
///
/// None of these calls the handler (no `on_open`, no `on_close`).
///
/// # Implementation notes
///
/// The header is read with `recv(MSG_PEEK)` into the worker's shared read
/// buffer and consumed with one `read` of exactly its length once complete:
/// a connection never holds a buffer of its own for it, even while the
/// header is incomplete, and the bytes after it stay in the socket for the
/// handler (or for a TLS handshake) to read as usual.
///
/// # Examples
///
/// ```
/// use netecho::{Listener, ProxyProtocol, TcpServer};
/// use std::io::{Read, Write};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let proxy = ProxyProtocol::required().trust("127.0.0.0/8".parse()?);
/// let server = TcpServer::builder()
///     .listener(Listener::tcp(([127, 0, 0, 1], 0)).proxy_protocol(proxy))
///     .spawn()?;
/// let mut balancer = std::net::TcpStream::connect(server.local_addr())?;
/// balancer.write_all(b"PROXY TCP4 192.0.2.1 192.0.2.2 5555 7\r\nhello")?;
/// let mut reply = [0; 5];
/// balancer.read_exact(&mut reply)?;
/// assert_eq!(&reply, b"hello");
/// # drop(balancer);
/// # server.shutdown();
/// # server.join()?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyProtocol {
    /// `None`: every peer may send a header.
    trusted: Option<Vec<Cidr>>,
    header_timeout: Duration,
    max_header_size: usize,
}

impl ProxyProtocol {
    /// Every connection must start with a PROXY header; every peer may send
    /// one until [`trust`](ProxyProtocol::trust) names the balancers.
    pub fn required() -> Self {
        ProxyProtocol {
            trusted: None,
            header_timeout: DEFAULT_PROXY_HEADER_TIMEOUT,
            max_header_size: DEFAULT_PROXY_MAX_HEADER,
        }
    }

    /// Only peers in `network` (and the other networks trusted) may send a
    /// header; connections from anywhere else are closed, so a client cannot
    /// forge its address by talking to the port directly. Repeatable.
    /// Default: every peer is trusted.
    ///
    /// An IPv4-mapped IPv6 peer (`::ffff:10.0.0.1`, on a dual-stack socket)
    /// matches IPv4 networks. Peers on Unix-domain sockets have no IP
    /// address: they are always trusted (the socket file's permissions say
    /// who may connect).
    pub fn trust(mut self, network: Cidr) -> Self {
        self.trusted.get_or_insert_with(Vec::new).push(network);
        self
    }

    /// How long a connection may take to send a complete header before it is
    /// closed. Default: 5 seconds.
    pub fn header_timeout(mut self, timeout: Duration) -> Self {
        self.header_timeout = timeout;
        self
    }

    /// The largest header taken, in bytes, TLVs included; a larger one closes
    /// the connection. Default: 4096. A version 1 header is at most 107
    /// bytes whatever this says; at least 232 is needed for every version 2
    /// address family (Unix addresses take 216 bytes).
    pub fn max_header_size(mut self, bytes: usize) -> Self {
        self.max_header_size = bytes;
        self
    }

    /// The networks trusted, `None` when every peer is.
    pub fn trusted(&self) -> Option<&[Cidr]> {
        self.trusted.as_deref()
    }

    /// Whether `peer` may send a header.
    pub(crate) fn trusts(&self, peer: &Addr) -> bool {
        let Some(trusted) = &self.trusted else {
            return true;
        };
        let ip = match peer {
            Addr::Tcp(addr) => addr.ip(),
            Addr::Unix(_) => return true,
        };
        let mapped = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4),
            IpAddr::V4(_) => None,
        };
        trusted
            .iter()
            .any(|net| net.contains(ip) || mapped.is_some_and(|v4| net.contains(v4)))
    }

    pub(crate) fn timeout(&self) -> Duration {
        self.header_timeout
    }

    /// The most bytes to peek for a header.
    pub(crate) fn peek_limit(&self) -> usize {
        self.max_header_size.clamp(V2_FIXED, V2_MAX)
    }
}

/// An IP network in CIDR notation (`10.0.0.0/8`, `2001:db8::/32`), for
/// [`ProxyProtocol::trust`]. A bare address is a network of one.
///
/// # Examples
///
/// ```
/// use netecho::Cidr;
///
/// let net: Cidr = "10.0.0.0/8".parse()?;
/// assert!(net.contains([10, 1, 2, 3].into()));
/// assert!(!net.contains([192, 0, 2, 1].into()));
/// assert_eq!(net.to_string(), "10.0.0.0/8");
/// # Ok::<(), netecho::Error>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr(ipnet::IpNet);

impl Cidr {
    /// The network of `prefix_len` leading bits of `ip` (the rest is
    /// ignored: `10.1.2.3/8` is `10.0.0.0/8`).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] if `prefix_len` is longer than the address
    /// (32 bits for IPv4, 128 for IPv6).
    pub fn new(ip: IpAddr, prefix_len: u8) -> Result<Self, Error> {
        ipnet::IpNet::new(ip, prefix_len)
            .map(|net| Cidr(net.trunc()))
            .map_err(|_| Error::InvalidConfig {
                reason: format!("prefix length {prefix_len} is too long for {ip}"),
            })
    }

    /// Whether `ip` is in the network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.contains(&ip)
    }
}

impl FromStr for Cidr {
    type Err = Error;

    /// Parses `ADDR/LEN` or a bare `ADDR`.
    fn from_str(text: &str) -> Result<Self, Error> {
        let invalid = || Error::InvalidConfig {
            reason: format!("`{text}` is not a network such as 10.0.0.0/8 or 2001:db8::/32"),
        };
        if let Ok(net) = text.parse::<ipnet::IpNet>() {
            return Ok(Cidr(net.trunc()));
        }
        let ip: IpAddr = text.parse().map_err(|_| invalid())?;
        Ok(Cidr(ipnet::IpNet::from(ip)))
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Debug for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cidr({})", self.0)
    }
}

/// What a connection's PROXY protocol header said: from
/// [`Conn::proxy_header`](crate::Conn::proxy_header). Made (one allocation)
/// only for connections that sent one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyHeader {
    version: u8,
    source: Option<Addr>,
    destination: Option<Addr>,
    proxied_by: Addr,
    tlvs: Vec<(u8, Box<[u8]>)>,
}

impl ProxyHeader {
    /// The protocol version: 1 (text) or 2 (binary).
    pub fn version(&self) -> u8 {
        self.version
    }

    /// Whether the header carried no addresses (a v2 `LOCAL` command, a v1
    /// `UNKNOWN`, or a v2 address family this crate does not know): the
    /// connection keeps its real peer address.
    pub fn is_local(&self) -> bool {
        self.source.is_none()
    }

    /// The client's address as the balancer saw it, which the handler's
    /// [`Conn::peer_addr`](crate::Conn::peer_addr) also gives.
    pub fn source(&self) -> Option<&Addr> {
        self.source.as_ref()
    }

    /// The address the client connected to, on the balancer.
    pub fn destination(&self) -> Option<&Addr> {
        self.destination.as_ref()
    }

    /// The real peer of the connection: the balancer that sent the header.
    pub fn proxied_by(&self) -> &Addr {
        &self.proxied_by
    }

    /// The ALPN protocol the client negotiated with the balancer (v2 TLV
    /// `PP2_TYPE_ALPN`), e.g. `b"h2"`.
    pub fn alpn(&self) -> Option<&[u8]> {
        self.tlv(PP2_TYPE_ALPN)
    }

    /// The host name the client asked for (v2 TLV `PP2_TYPE_AUTHORITY`, TLS
    /// SNI usually), if it is UTF-8.
    pub fn authority(&self) -> Option<&str> {
        self.tlv(PP2_TYPE_AUTHORITY)
            .and_then(|v| std::str::from_utf8(v).ok())
    }

    /// The balancer's opaque id of the connection (v2 TLV
    /// `PP2_TYPE_UNIQUE_ID`, HAProxy's `unique-id`).
    pub fn unique_id(&self) -> Option<&[u8]> {
        self.tlv(PP2_TYPE_UNIQUE_ID)
    }

    /// The value of the first TLV of type `kind` (v2 only).
    pub fn tlv(&self, kind: u8) -> Option<&[u8]> {
        self.tlvs
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, v)| &**v)
    }

    /// Every TLV, in the order sent: `(type, value)`.
    pub fn tlvs(&self) -> impl Iterator<Item = (u8, &[u8])> {
        self.tlvs.iter().map(|(k, v)| (*k, &**v))
    }
}

/// What the bytes peeked so far are.
#[derive(Debug, PartialEq)]
pub(crate) enum Parsed {
    /// Could be the start of a header: wait for more.
    Incomplete,
    /// Not a header, or one over the size bound: close.
    Invalid(&'static str),
    /// A header of `len` bytes.
    Done { len: usize, header: ProxyHeader },
}

/// Decides what `input` (the bytes the peer sent so far, peeked) is:
/// `limit` is the size bound, `peer` the real peer (the balancer).
pub(crate) fn parse(input: &[u8], limit: usize, peer: &Addr) -> Parsed {
    if input.is_empty() {
        return Parsed::Incomplete;
    }
    if starts_as(input, V2_SIGNATURE) {
        parse_v2(input, limit, peer)
    } else if starts_as(input, V1_PREFIX) {
        parse_v1(input, limit, peer)
    } else {
        Parsed::Invalid("not a PROXY protocol header")
    }
}

/// Whether `input` and `prefix` agree on their common length.
fn starts_as(input: &[u8], prefix: &[u8]) -> bool {
    let n = input.len().min(prefix.len());
    input[..n] == prefix[..n]
}

fn parse_v1(input: &[u8], limit: usize, peer: &Addr) -> Parsed {
    let max = V1_MAX.min(limit);
    // ppp reads a header cut inside an address as a bad address: give it
    // only whole lines.
    let Some(lf) = input.iter().take(max).position(|&b| b == b'\n') else {
        return if input.len() >= max {
            Parsed::Invalid("PROXY v1 header too long")
        } else {
            Parsed::Incomplete
        };
    };
    let line = &input[..=lf];
    let header = match ppp::v1::Header::try_from(line) {
        Ok(header) => header,
        Err(_) => return Parsed::Invalid("malformed PROXY v1 header"),
    };
    let (source, destination) = match header.addresses {
        ppp::v1::Addresses::Tcp4(a) => (
            Some(SocketAddr::from((a.source_address, a.source_port))),
            Some(SocketAddr::from((
                a.destination_address,
                a.destination_port,
            ))),
        ),
        ppp::v1::Addresses::Tcp6(a) => (
            Some(SocketAddr::from((a.source_address, a.source_port))),
            Some(SocketAddr::from((
                a.destination_address,
                a.destination_port,
            ))),
        ),
        ppp::v1::Addresses::Unknown => (None, None),
    };
    Parsed::Done {
        len: line.len(),
        header: ProxyHeader {
            version: 1,
            source: source.map(Addr::Tcp),
            destination: destination.map(Addr::Tcp),
            proxied_by: peer.clone(),
            tlvs: Vec::new(),
        },
    }
}

fn parse_v2(input: &[u8], limit: usize, peer: &Addr) -> Parsed {
    if input.len() >= V2_FIXED {
        let len = V2_FIXED + usize::from(u16::from_be_bytes([input[14], input[15]]));
        if len > limit {
            return Parsed::Invalid("PROXY v2 header larger than the bound");
        }
    }
    let header = match ppp::v2::Header::try_from(input) {
        Ok(header) => header,
        Err(ppp::v2::ParseError::Incomplete(_) | ppp::v2::ParseError::Partial(..)) => {
            return Parsed::Incomplete;
        }
        Err(_) => return Parsed::Invalid("malformed PROXY v2 header"),
    };
    let mut tlvs = Vec::new();
    for tlv in header.tlvs() {
        match tlv {
            Ok(tlv) => tlvs.push((tlv.kind, Box::from(&*tlv.value))),
            Err(_) => return Parsed::Invalid("malformed PROXY v2 TLV"),
        }
    }
    let (source, destination) = match (header.command, header.addresses) {
        (ppp::v2::Command::Local, _) => (None, None),
        (ppp::v2::Command::Proxy, ppp::v2::Addresses::IPv4(a)) => (
            Some(Addr::Tcp(SocketAddr::from((
                a.source_address,
                a.source_port,
            )))),
            Some(Addr::Tcp(SocketAddr::from((
                a.destination_address,
                a.destination_port,
            )))),
        ),
        (ppp::v2::Command::Proxy, ppp::v2::Addresses::IPv6(a)) => (
            Some(Addr::Tcp(SocketAddr::from((
                a.source_address,
                a.source_port,
            )))),
            Some(Addr::Tcp(SocketAddr::from((
                a.destination_address,
                a.destination_port,
            )))),
        ),
        (ppp::v2::Command::Proxy, ppp::v2::Addresses::Unix(a)) => {
            (Some(unix_addr(&a.source)), Some(unix_addr(&a.destination)))
        }
        (ppp::v2::Command::Proxy, ppp::v2::Addresses::Unspecified) => (None, None),
    };
    Parsed::Done {
        len: header.len(),
        header: ProxyHeader {
            version: 2,
            source,
            destination,
            proxied_by: peer.clone(),
            tlvs,
        },
    }
}

/// A v2 Unix address: a NUL-padded path, or an abstract name (leading NUL).
fn unix_addr(raw: &[u8; 108]) -> Addr {
    match raw.split_first() {
        Some((0, name)) => {
            let end = name.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
            if end == 0 {
                Addr::Unix(UnixAddr::Unnamed)
            } else {
                Addr::Unix(UnixAddr::Abstract(Arc::from(&name[..end])))
            }
        }
        _ => {
            let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
            #[cfg(unix)]
            {
                use std::os::unix::ffi::OsStrExt;
                Addr::unix_path(std::ffi::OsStr::from_bytes(&raw[..end]))
            }
            #[cfg(not(unix))]
            {
                Addr::unix_path(String::from_utf8_lossy(&raw[..end]).as_ref())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer() -> Addr {
        Addr::Tcp("10.0.0.9:4000".parse().unwrap())
    }

    fn v2(command: u8, family: u8, addresses: &[u8], tlvs: &[u8]) -> Vec<u8> {
        let mut h = V2_SIGNATURE.to_vec();
        h.push(0x20 | command);
        h.push(family);
        let len = (addresses.len() + tlvs.len()) as u16;
        h.extend_from_slice(&len.to_be_bytes());
        h.extend_from_slice(addresses);
        h.extend_from_slice(tlvs);
        h
    }

    fn v4_addresses() -> Vec<u8> {
        let mut a = vec![192, 0, 2, 1, 192, 0, 2, 2];
        a.extend_from_slice(&5555u16.to_be_bytes());
        a.extend_from_slice(&7u16.to_be_bytes());
        a
    }

    fn done(parsed: Parsed) -> (usize, ProxyHeader) {
        match parsed {
            Parsed::Done { len, header } => (len, header),
            other => panic!("not a header: {other:?}"),
        }
    }

    #[test]
    fn v1_tcp4_with_data_after() {
        let input = b"PROXY TCP4 192.0.2.1 192.0.2.2 5555 7\r\nhello";
        let (len, h) = done(parse(input, 4096, &peer()));
        assert_eq!(&input[len..], b"hello");
        assert_eq!(h.version(), 1);
        assert_eq!(h.source().unwrap().to_string(), "192.0.2.1:5555");
        assert_eq!(h.destination().unwrap().to_string(), "192.0.2.2:7");
        assert_eq!(h.proxied_by(), &peer());
        assert!(!h.is_local());
    }

    #[test]
    fn v1_tcp6_and_unknown() {
        let (_, h) = done(parse(
            b"PROXY TCP6 2001:db8::1 2001:db8::2 1 2\r\n",
            4096,
            &peer(),
        ));
        assert_eq!(h.source().unwrap().to_string(), "[2001:db8::1]:1");
        let (len, h) = done(parse(b"PROXY UNKNOWN\r\nx", 4096, &peer()));
        assert_eq!(len, 15);
        assert!(h.is_local());
    }

    #[test]
    fn v1_every_split_point_is_incomplete() {
        let input = b"PROXY TCP4 192.0.2.1 192.0.2.2 5555 7\r\n";
        for cut in 0..input.len() {
            assert_eq!(
                parse(&input[..cut], 4096, &peer()),
                Parsed::Incomplete,
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn v2_every_split_point_is_incomplete() {
        let tlv = [PP2_TYPE_ALPN, 0, 2, b'h', b'2'];
        let input = v2(1, 0x11, &v4_addresses(), &tlv);
        for cut in 0..input.len() {
            assert_eq!(
                parse(&input[..cut], 4096, &peer()),
                Parsed::Incomplete,
                "cut at {cut}"
            );
        }
        let (len, h) = done(parse(&input, 4096, &peer()));
        assert_eq!(len, input.len());
        assert_eq!(h.alpn(), Some(&b"h2"[..]));
    }

    #[test]
    fn v2_tlvs_are_reachable() {
        let mut tlvs = vec![PP2_TYPE_AUTHORITY, 0, 11];
        tlvs.extend_from_slice(b"example.com");
        tlvs.extend_from_slice(&[PP2_TYPE_UNIQUE_ID, 0, 3, 1, 2, 3]);
        let (_, h) = done(parse(&v2(1, 0x11, &v4_addresses(), &tlvs), 4096, &peer()));
        assert_eq!(h.authority(), Some("example.com"));
        assert_eq!(h.unique_id(), Some(&[1, 2, 3][..]));
        assert_eq!(h.tlvs().count(), 2);
        assert_eq!(h.source().unwrap().to_string(), "192.0.2.1:5555");
    }

    #[test]
    fn v2_local_keeps_the_peer() {
        let (len, h) = done(parse(&v2(0, 0x00, &[], &[]), 4096, &peer()));
        assert_eq!(len, 16);
        assert!(h.is_local());
        // LOCAL with addresses: they are ignored.
        let (_, h) = done(parse(&v2(0, 0x11, &v4_addresses(), &[]), 4096, &peer()));
        assert!(h.is_local());
    }

    #[test]
    fn v2_unix_addresses() {
        let mut a = [0u8; 216];
        a[..9].copy_from_slice(b"/run/a.so");
        a[108] = 0;
        a[109..113].copy_from_slice(b"name");
        let (_, h) = done(parse(&v2(1, 0x31, &a, &[]), 4096, &peer()));
        assert_eq!(h.source().unwrap().to_string(), "unix:/run/a.so");
        assert_eq!(h.destination().unwrap().to_string(), "unix:@name");
    }

    #[test]
    fn malformed_and_oversized_are_invalid() {
        for bad in [
            &b"GET / HTTP/1.1\r\n"[..],
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",
            b"PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n",
            b"\r\n\r\n\0\r\nQUIT\n\x30\x11\0\0",
        ] {
            assert!(
                matches!(parse(bad, 4096, &peer()), Parsed::Invalid(_)),
                "{bad:?}"
            );
        }
        let long = [b"PROXY ".as_slice(), &[b'x'; 200]].concat();
        assert!(matches!(parse(&long, 4096, &peer()), Parsed::Invalid(_)));
        let big = v2(1, 0x11, &v4_addresses(), &[PP2_TYPE_ALPN, 0, 100]);
        assert!(matches!(parse(&big[..16], 20, &peer()), Parsed::Invalid(_)));
    }

    #[test]
    fn trust_lists() {
        let any = ProxyProtocol::required();
        assert!(any.trusts(&peer()));
        let lan = ProxyProtocol::required().trust("10.0.0.0/8".parse().unwrap());
        assert!(lan.trusts(&peer()));
        assert!(!lan.trusts(&Addr::Tcp("192.0.2.1:1".parse().unwrap())));
        assert!(lan.trusts(&Addr::Tcp("[::ffff:10.1.1.1]:1".parse().unwrap())));
        assert!(lan.trusts(&Addr::unix_path("/x")));
        let v6 = ProxyProtocol::required().trust("2001:db8::/32".parse().unwrap());
        assert!(v6.trusts(&Addr::Tcp("[2001:db8::5]:1".parse().unwrap())));
        assert!(!v6.trusts(&peer()));
    }

    #[test]
    fn cidr_parses() {
        assert_eq!(
            "10.1.2.3/8".parse::<Cidr>().unwrap().to_string(),
            "10.0.0.0/8"
        );
        assert_eq!("::1".parse::<Cidr>().unwrap().to_string(), "::1/128");
        assert!("10.0.0.0/33".parse::<Cidr>().is_err());
        assert!("nope".parse::<Cidr>().is_err());
        assert!(Cidr::new([10, 0, 0, 0].into(), 40).is_err());
    }
}
