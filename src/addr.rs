//! [`Addr`]: a transport-neutral socket address (TCP or Unix), and
//! [`PeerCred`], the credentials of a Unix-socket peer. Plain data.

use std::fmt;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::Path;
use std::sync::Arc;

/// The address of one end of a connection, or of a listener: a TCP socket
/// address or a Unix-domain socket address.
///
/// It prints as the `echo` example's `--bind` flag takes it: `127.0.0.1:7`,
/// `[::1]:7`, `unix:/run/echo.sock`, `unix:@name` (a Linux abstract name).
/// TCP code keeps using [`SocketAddr`] through [`as_tcp`](Addr::as_tcp), and
/// an `Addr` compares equal to the `SocketAddr` it holds.
///
/// # Examples
///
/// ```
/// use netecho::Addr;
/// use std::net::SocketAddr;
///
/// let tcp: SocketAddr = "127.0.0.1:7".parse().unwrap();
/// let addr = Addr::from(tcp);
/// assert_eq!(addr, tcp);
/// assert_eq!(addr.as_tcp(), Some(tcp));
/// assert_eq!(addr.to_string(), "127.0.0.1:7");
///
/// let unix = Addr::unix_path("/run/echo.sock");
/// assert_eq!(unix.to_string(), "unix:/run/echo.sock");
/// assert_eq!(unix.as_tcp(), None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Addr {
    /// A TCP address.
    Tcp(SocketAddr),
    /// A Unix-domain socket address.
    Unix(UnixAddr),
}

/// A Unix-domain socket address: a path, a Linux abstract name, or unnamed
/// (a client that did not bind, which is the usual case for a peer).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum UnixAddr {
    /// A socket file at this path.
    Path(Arc<Path>),
    /// A Linux abstract name (no file; written `@name`), without the leading
    /// NUL byte.
    Abstract(Arc<[u8]>),
    /// No address: the peer did not bind its socket.
    Unnamed,
}

impl Addr {
    /// A Unix-domain address for a socket file at `path`.
    pub fn unix_path(path: impl AsRef<Path>) -> Self {
        Addr::Unix(UnixAddr::Path(Arc::from(path.as_ref())))
    }

    /// A Linux abstract Unix-domain address (`@name`); `name` is without the
    /// leading NUL byte.
    pub fn unix_abstract(name: impl AsRef<[u8]>) -> Self {
        Addr::Unix(UnixAddr::Abstract(Arc::from(name.as_ref())))
    }

    /// The TCP address, if this is one.
    pub fn as_tcp(&self) -> Option<SocketAddr> {
        match self {
            Addr::Tcp(addr) => Some(*addr),
            Addr::Unix(_) => None,
        }
    }

    /// The Unix-domain address, if this is one.
    pub fn as_unix(&self) -> Option<&UnixAddr> {
        match self {
            Addr::Unix(addr) => Some(addr),
            Addr::Tcp(_) => None,
        }
    }

    /// Whether this is a Unix-domain address.
    pub fn is_unix(&self) -> bool {
        matches!(self, Addr::Unix(_))
    }
}

impl UnixAddr {
    /// The path of the socket file, if the address is one.
    pub fn as_path(&self) -> Option<&Path> {
        match self {
            UnixAddr::Path(path) => Some(path),
            _ => None,
        }
    }

    /// The abstract name (without its leading NUL byte), if the address is one.
    pub fn as_abstract(&self) -> Option<&[u8]> {
        match self {
            UnixAddr::Abstract(name) => Some(name),
            _ => None,
        }
    }
}

impl From<SocketAddr> for Addr {
    fn from(addr: SocketAddr) -> Self {
        Addr::Tcp(addr)
    }
}

impl From<UnixAddr> for Addr {
    fn from(addr: UnixAddr) -> Self {
        Addr::Unix(addr)
    }
}

impl PartialEq<SocketAddr> for Addr {
    fn eq(&self, other: &SocketAddr) -> bool {
        self.as_tcp() == Some(*other)
    }
}

impl PartialEq<Addr> for SocketAddr {
    fn eq(&self, other: &Addr) -> bool {
        other == self
    }
}

/// Resolves to the TCP address; a Unix address is an error
/// (`InvalidInput`), so `TcpStream::connect(&addr)` works for TCP.
impl ToSocketAddrs for Addr {
    type Iter = std::option::IntoIter<SocketAddr>;

    fn to_socket_addrs(&self) -> io::Result<Self::Iter> {
        match self {
            Addr::Tcp(addr) => Ok(Some(*addr).into_iter()),
            Addr::Unix(addr) => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{addr} is not a TCP address"),
            )),
        }
    }
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Addr::Tcp(addr) => addr.fmt(f),
            Addr::Unix(addr) => addr.fmt(f),
        }
    }
}

impl fmt::Display for UnixAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UnixAddr::Path(path) => write!(f, "unix:{}", path.display()),
            UnixAddr::Abstract(name) => write!(f, "unix:@{}", name.escape_ascii()),
            UnixAddr::Unnamed => f.write_str("unix:(unnamed)"),
        }
    }
}

/// The credentials of the process at the other end of a Unix-domain
/// connection, as the kernel recorded them when it connected
/// (`SO_PEERCRED` on Linux and Android).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct PeerCred {
    /// The peer's process id, where the platform tells it.
    pub pid: Option<i32>,
    /// The peer's effective user id.
    pub uid: u32,
    /// The peer's effective group id.
    pub gid: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_matches_the_bind_syntax() {
        let v6: SocketAddr = "[::1]:7".parse().unwrap();
        assert_eq!(Addr::from(v6).to_string(), "[::1]:7");
        assert_eq!(Addr::unix_abstract("echo").to_string(), "unix:@echo");
        assert_eq!(Addr::Unix(UnixAddr::Unnamed).to_string(), "unix:(unnamed)");
    }

    #[test]
    fn unix_addr_is_not_a_socket_addr() {
        let err = Addr::unix_path("/tmp/x.sock").to_socket_addrs().err();
        assert_eq!(err.map(|e| e.kind()), Some(io::ErrorKind::InvalidInput));
    }
}
