//! [`Listener`]: one listening socket of a server, to be created (a TCP
//! address, a Unix socket path or abstract name) or handed in (a std
//! listener, a systemd socket), with its own handler if it wants one.

use std::fmt;
use std::net::SocketAddr;
#[cfg(unix)]
use std::path::Path;
use std::sync::Arc;

use crate::addr::Addr;
#[cfg(unix)]
use crate::addr::UnixAddr;
use crate::config::TcpOptions;
use crate::error::{Error, Result};
use crate::handler::{Factory, Handler};
use crate::proxy::ProxyProtocol;
use crate::transport;

/// One listening socket of a server: where it listens, and optionally the
/// handler its connections get. Give one or more to
/// [`TcpServerBuilder::listener`](crate::TcpServerBuilder::listener); one
/// server serves them all with one worker pool, one connection limit and one
/// shutdown.
///
/// Sockets the server creates get the builder's socket options; sockets
/// handed in ([`from_tcp`](Listener::from_tcp),
/// [`from_unix`](Listener::from_unix), systemd's) are served as they are.
///
/// # Examples
///
/// Echo on a TCP port and on a Unix socket, discard on another port:
///
/// ```
/// use netecho::{Conn, Handler, Listener, TcpServer};
///
/// struct Discard;
/// impl Handler for Discard {
///     fn on_data(&mut self, _: &mut Conn, _: &[u8]) {}
/// }
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = std::env::temp_dir().join(format!("netecho-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let server = TcpServer::builder()
///     .listener(Listener::tcp(([127, 0, 0, 1], 0)))
///     .listener(Listener::unix(dir.join("echo.sock")).mode(0o600))
///     .listener(Listener::tcp(([127, 0, 0, 1], 0)).handler(|| Discard))
///     .spawn()?;
/// for addr in server.local_addrs() {
///     println!("listening on {addr}");
/// }
/// server.shutdown();
/// server.join()?;
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok(())
/// # }
/// ```
pub struct Listener {
    source: Source,
    #[cfg(unix)]
    mode: Option<u32>,
    factory: Option<Factory>,
    #[cfg(feature = "tls")]
    tls: Option<crate::tls_config::TlsConfig>,
    proxy: Option<ProxyProtocol>,
}

/// What [`Listener::open`] makes: the socket and what its connections get.
pub(crate) struct Opened {
    pub(crate) listener: transport::Listener,
    pub(crate) factory: Option<Factory>,
    pub(crate) proxy: Option<ProxyProtocol>,
}

enum Source {
    Tcp(SocketAddr),
    TcpStd(std::net::TcpListener),
    #[cfg(unix)]
    Unix(UnixAddr),
    #[cfg(unix)]
    UnixStd(std::os::unix::net::UnixListener, Option<Addr>),
}

impl fmt::Debug for Listener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Listener");
        match &self.source {
            Source::Tcp(addr) => d.field("tcp", addr),
            Source::TcpStd(l) => d.field("tcp_handed_in", l),
            #[cfg(unix)]
            Source::Unix(addr) => d.field("unix", addr),
            #[cfg(unix)]
            Source::UnixStd(l, _) => d.field("unix_handed_in", l),
        };
        #[cfg(unix)]
        d.field("mode", &self.mode);
        #[cfg(feature = "tls")]
        d.field("tls", &self.tls);
        d.field("handler", &self.factory.as_ref().map(|_| "custom"))
            .field("proxy", &self.proxy)
            .finish()
    }
}

impl Listener {
    fn new(source: Source) -> Self {
        Listener {
            source,
            #[cfg(unix)]
            mode: None,
            factory: None,
            #[cfg(feature = "tls")]
            tls: None,
            proxy: None,
        }
    }

    /// A TCP listener the server creates on `addr`, with the builder's socket
    /// options. Port 0 picks a free port; an IPv6 address gets `IPV6_V6ONLY`
    /// when the server has other listeners (so `0.0.0.0:P` and `[::]:P` can
    /// both be served), unless [`only_v6`](crate::TcpServerBuilder::only_v6)
    /// says otherwise.
    pub fn tcp(addr: impl Into<SocketAddr>) -> Self {
        Listener::new(Source::Tcp(addr.into()))
    }

    /// An already-bound, listening TCP socket, handed in (by a supervisor, a
    /// test, a previous process): served as it is, closed at shutdown.
    pub fn from_tcp(listener: std::net::TcpListener) -> Self {
        Listener::new(Source::TcpStd(listener))
    }

    /// A Unix-domain stream socket the server creates at `path`.
    ///
    /// A stale socket file at the path (nobody accepts on it) is removed
    /// first; a live one, or a file that is not a socket, makes
    /// [`bind`](crate::TcpServerBuilder::bind) fail and is left alone. The
    /// file is removed when the server stops, if it is still the one the
    /// server created. See [`mode`](Listener::mode) for its permissions.
    #[cfg(unix)]
    pub fn unix(path: impl AsRef<Path>) -> Self {
        Listener::new(Source::Unix(UnixAddr::Path(Arc::from(path.as_ref()))))
    }

    /// A Unix-domain stream socket with a Linux abstract name (`@name` in
    /// `ss -x`; no file, gone with the socket). `name` is without the leading
    /// NUL byte. On other systems [`bind`](crate::TcpServerBuilder::bind)
    /// fails.
    #[cfg(unix)]
    pub fn unix_abstract(name: impl AsRef<[u8]>) -> Self {
        Listener::new(Source::Unix(UnixAddr::Abstract(Arc::from(name.as_ref()))))
    }

    /// An already-bound, listening Unix-domain socket, handed in: served as
    /// it is; its socket file is never removed by the server.
    #[cfg(unix)]
    pub fn from_unix(listener: std::os::unix::net::UnixListener) -> Self {
        Listener::new(Source::UnixStd(listener, None))
    }

    /// The permissions of the socket file of a [`unix`](Listener::unix)
    /// listener, e.g. `0o660` so that only a group may connect. Default: what
    /// the umask leaves of `0o777`.
    ///
    /// The mode is set on the socket before `bind` creates the file and
    /// exactly after, so the file never has more permissions than asked, even
    /// for an instant. Linux only: elsewhere, and for any other kind of
    /// listener, [`bind`](crate::TcpServerBuilder::bind) fails.
    #[cfg(unix)]
    pub fn mode(mut self, mode: u32) -> Self {
        self.mode = Some(mode);
        self
    }

    /// Speaks TLS on this listener's connections, with this certificate and
    /// these options (TCP or Unix, created or handed in). The handler sees
    /// plaintext only, after the handshake, and learns what it negotiated
    /// from [`Conn::tls`](crate::Conn::tls). Needs the `tls` feature.
    ///
    /// The certificate and key are read and checked at
    /// [`bind`](crate::TcpServerBuilder::bind).
    ///
    /// # Examples
    ///
    /// A plain and a TLS port under one server; a missing certificate file
    /// fails `bind`, naming the file:
    ///
    /// ```
    /// use netecho::{Listener, TcpServer, TlsConfig};
    ///
    /// let tls = TlsConfig::from_pem_files("/nonexistent/cert.pem", "/nonexistent/key.pem");
    /// let err = TcpServer::builder()
    ///     .listener(Listener::tcp(([127, 0, 0, 1], 0)))
    ///     .listener(Listener::tcp(([127, 0, 0, 1], 0)).tls(tls))
    ///     .bind()
    ///     .unwrap_err();
    /// assert!(err.to_string().contains("/nonexistent/cert.pem"));
    /// ```
    #[cfg(feature = "tls")]
    pub fn tls(mut self, config: crate::tls_config::TlsConfig) -> Self {
        self.tls = Some(config);
        self
    }

    /// The handler factory for this listener's connections, instead of the
    /// builder's [`handler`](crate::TcpServerBuilder::handler).
    pub fn handler<F, H>(mut self, factory: F) -> Self
    where
        F: Fn() -> H + Send + Sync + 'static,
        H: Handler + 'static,
    {
        self.factory = Some(Arc::new(move || Box::new(factory())));
        self
    }

    /// Every connection must start with a PROXY protocol header (v1 or v2)
    /// from a load balancer: see [`ProxyProtocol`] for what is checked and
    /// what the handler sees. Default: off (no header expected; one sent is
    /// handed to the handler as data).
    ///
    /// With TLS the header comes first, before the handshake, as balancers
    /// send it.
    ///
    /// # Examples
    ///
    /// ```
    /// use netecho::{Listener, ProxyProtocol};
    /// use std::time::Duration;
    ///
    /// # fn main() -> Result<(), netecho::Error> {
    /// let listener = Listener::tcp(([127, 0, 0, 1], 0)).proxy_protocol(
    ///     ProxyProtocol::required()
    ///         .trust("10.0.0.0/8".parse()?)
    ///         .trust("fd00::/8".parse()?)
    ///         .header_timeout(Duration::from_secs(3)),
    /// );
    /// # let _ = listener;
    /// # Ok(())
    /// # }
    /// ```
    pub fn proxy_protocol(mut self, proxy: ProxyProtocol) -> Self {
        self.proxy = Some(proxy);
        self
    }

    /// Whether this is a Unix-domain socket listener (created or handed in).
    pub fn is_unix(&self) -> bool {
        match &self.source {
            Source::Tcp(_) | Source::TcpStd(_) => false,
            #[cfg(unix)]
            Source::Unix(_) | Source::UnixStd(..) => true,
        }
    }

    /// The address to name in an error about this listener.
    fn describe(&self) -> Addr {
        match &self.source {
            Source::Tcp(addr) => Addr::Tcp(*addr),
            Source::TcpStd(l) => l
                .local_addr()
                .map_or(Addr::Tcp(SocketAddr::from(([0, 0, 0, 0], 0))), Addr::Tcp),
            #[cfg(unix)]
            Source::Unix(addr) => Addr::Unix(addr.clone()),
            #[cfg(unix)]
            Source::UnixStd(l, addr) => addr.clone().unwrap_or_else(|| {
                Addr::Unix(
                    l.local_addr()
                        .map_or(UnixAddr::Unnamed, |a| transport::unix::addr_of(&a)),
                )
            }),
        }
    }

    /// Creates (or adopts) the socket: the listener and its factory, if it
    /// has its own.
    pub(crate) fn open(self, options: &TcpOptions, several: bool) -> Result<Opened> {
        let addr = self.describe();
        let bind_err = |source| Error::Bind {
            addr: addr.clone(),
            source,
        };
        #[cfg(unix)]
        if self.mode.is_some() && !matches!(&self.source, Source::Unix(UnixAddr::Path(_))) {
            return Err(Error::InvalidConfig {
                reason: format!("mode applies to Unix socket paths only, not to {addr}"),
            });
        }
        let listener = match self.source {
            Source::Tcp(tcp) => {
                let mut options = options.clone();
                if tcp.is_ipv6() && several && options.only_v6.is_none() {
                    options.only_v6 = Some(true);
                }
                let std = transport::tcp::listen(tcp, &options)?;
                transport::Listener::tcp(std, options.nodelay).map_err(bind_err)?
            }
            Source::TcpStd(std) => {
                transport::Listener::tcp(std, options.nodelay).map_err(bind_err)?
            }
            #[cfg(unix)]
            Source::Unix(unix) => {
                let (std, file) = transport::unix::listen(&unix, self.mode, options.backlog)?;
                transport::Listener::unix(std, file, Some(Addr::Unix(unix))).map_err(bind_err)?
            }
            #[cfg(unix)]
            Source::UnixStd(std, at) => {
                transport::Listener::unix(std, None, at).map_err(bind_err)?
            }
        };
        #[cfg(feature = "tls")]
        let listener = match &self.tls {
            Some(tls) => {
                let (handshake_timeout, max_handshakes) = tls.handshake_limits();
                listener.with_tls(transport::tls::TlsAcceptor {
                    config: tls.build()?,
                    handshake_timeout,
                    max_handshakes,
                })
            }
            None => listener,
        };
        Ok(Opened {
            listener,
            factory: self.factory,
            proxy: self.proxy,
        })
    }
}

impl From<SocketAddr> for Listener {
    fn from(addr: SocketAddr) -> Self {
        Listener::tcp(addr)
    }
}

impl From<std::net::TcpListener> for Listener {
    fn from(listener: std::net::TcpListener) -> Self {
        Listener::from_tcp(listener)
    }
}

#[cfg(unix)]
impl From<std::os::unix::net::UnixListener> for Listener {
    fn from(listener: std::os::unix::net::UnixListener) -> Self {
        Listener::from_unix(listener)
    }
}
