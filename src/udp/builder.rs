//! [`UdpServerBuilder`]: a UDP server's configuration, validated at `bind`.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::udp::guard::GuardPolicy;
use crate::udp::handler::{DatagramEcho, DatagramHandler};
use crate::udp::server::{UdpServer, UdpServerHandle};

/// Makes one datagram handler per worker.
pub(crate) type DatagramFactory = Arc<dyn Fn() -> Box<dyn DatagramHandler> + Send + Sync>;

/// The validated configuration a UDP server runs with.
#[derive(Debug, Clone)]
pub(crate) struct UdpConfig {
    pub(crate) addr: SocketAddr,
    pub(crate) reuse_address: bool,
    pub(crate) reuse_port: bool,
    pub(crate) only_v6: Option<bool>,
    pub(crate) recv_buffer_size: Option<usize>,
    pub(crate) send_buffer_size: Option<usize>,
    pub(crate) workers: usize,
    pub(crate) guard: GuardPolicy,
}

/// Configures a [`UdpServer`]: address, socket options, workers, the guard
/// and the handler. Made by [`UdpServer::builder`].
///
/// Every setter has a documented default; nothing is checked until
/// [`bind`](UdpServerBuilder::bind).
///
/// # Examples
///
/// ```
/// use netecho::{GuardPolicy, UdpServer};
///
/// # fn main() -> Result<(), netecho::Error> {
/// let server = UdpServer::builder()
///     .host([127, 0, 0, 1])
///     .port(0)
///     .recv_buffer_size(1 << 20)
///     .guard(GuardPolicy::strict())
///     .bind()?;
/// assert_ne!(server.local_addr().port(), 0);
/// # Ok(())
/// # }
/// ```
#[must_use]
pub struct UdpServerBuilder {
    host: IpAddr,
    port: u16,
    addr: Option<SocketAddr>,
    reuse_address: bool,
    reuse_port: bool,
    only_v6: Option<bool>,
    recv_buffer_size: Option<usize>,
    send_buffer_size: Option<usize>,
    workers: usize,
    guard: GuardPolicy,
    factory: DatagramFactory,
}

impl fmt::Debug for UdpServerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpServerBuilder")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("addr", &self.addr)
            .field("reuse_address", &self.reuse_address)
            .field("reuse_port", &self.reuse_port)
            .field("only_v6", &self.only_v6)
            .field("recv_buffer_size", &self.recv_buffer_size)
            .field("send_buffer_size", &self.send_buffer_size)
            .field("workers", &self.workers)
            .field("guard", &self.guard)
            .finish_non_exhaustive()
    }
}

impl Default for UdpServerBuilder {
    fn default() -> Self {
        UdpServerBuilder {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            addr: None,
            reuse_address: false,
            reuse_port: false,
            only_v6: None,
            recv_buffer_size: None,
            send_buffer_size: None,
            workers: 1,
            guard: GuardPolicy::default(),
            factory: Arc::new(|| Box::new(DatagramEcho)),
        }
    }
}

impl UdpServerBuilder {
    /// The IP address to serve on. Default: `127.0.0.1`; the server never
    /// serves all interfaces unless asked (`[0, 0, 0, 0]` or `"::"`).
    pub fn host(mut self, host: impl Into<IpAddr>) -> Self {
        self.host = host.into();
        self
    }

    /// The port to serve on. Default: 0, any free port; ask
    /// [`UdpServer::local_addr`] for the one chosen.
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// The whole address to serve on, instead of [`host`](Self::host) and
    /// [`port`](Self::port).
    pub fn addr(mut self, addr: SocketAddr) -> Self {
        self.addr = Some(addr);
        self
    }

    /// `SO_REUSEADDR`. Default: off (for UDP it lets another socket bind the
    /// same address, which is rarely wanted).
    pub fn reuse_address(mut self, on: bool) -> Self {
        self.reuse_address = on;
        self
    }

    /// `SO_REUSEPORT`: let other sockets (of the same user) bind the same
    /// port, the kernel spreading datagrams among them by source. Default:
    /// off; always on when [`workers`](Self::workers) is more than one, which
    /// is how the workers share the port. Unix only.
    pub fn reuse_port(mut self, on: bool) -> Self {
        self.reuse_port = on;
        self
    }

    /// `IPV6_V6ONLY` for an IPv6 address. Default: the system's.
    pub fn only_v6(mut self, on: bool) -> Self {
        self.only_v6 = Some(on);
        self
    }

    /// `SO_RCVBUF`: how many bytes of datagrams the kernel queues before it
    /// drops new ones. Default: the system's (on Linux `net.core.rmem_default`,
    /// often 208 KiB); raise it for bursts.
    pub fn recv_buffer_size(mut self, bytes: usize) -> Self {
        self.recv_buffer_size = Some(bytes);
        self
    }

    /// `SO_SNDBUF`. Default: the system's.
    pub fn send_buffer_size(mut self, bytes: usize) -> Self {
        self.send_buffer_size = Some(bytes);
        self
    }

    /// Worker threads, each with its own socket on the same port
    /// (`SO_REUSEPORT`, Unix only), the kernel spreading senders among them.
    /// Default: 1, since one socket is one queue and one worker keeps up
    /// with it; more help only under load from many senders. Zero is an
    /// error at bind.
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = workers;
        self
    }

    /// Which datagrams are dropped instead of answered. Default:
    /// [`GuardPolicy::default()`], the standard policy (see its docs).
    pub fn guard(mut self, policy: GuardPolicy) -> Self {
        self.guard = policy;
        self
    }

    /// The handler factory, called once per worker on its thread. Default:
    /// [`DatagramEcho`].
    pub fn handler<F, H>(mut self, factory: F) -> Self
    where
        F: Fn() -> H + Send + Sync + 'static,
        H: DatagramHandler + 'static,
    {
        self.factory = Arc::new(move || Box::new(factory()));
        self
    }

    /// Validates the configuration and binds the socket(s).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] for a configuration that cannot work (zero
    /// workers, a zero rate), [`Error::Bind`] when the address cannot be
    /// bound, [`Error::SocketOption`] when an option is refused,
    /// [`Error::EventLoop`] when a worker's poll cannot be created.
    pub fn bind(self) -> Result<UdpServer> {
        let config = self.config()?;
        UdpServer::bind(config, self.factory)
    }

    /// Binds as [`bind`](Self::bind) does and serves on background threads.
    ///
    /// # Errors
    ///
    /// As [`bind`](Self::bind), and [`Error::Spawn`] when a worker thread
    /// cannot start.
    pub fn spawn(self) -> Result<UdpServerHandle> {
        self.bind()?.spawn()
    }

    pub(crate) fn config(&self) -> Result<UdpConfig> {
        let invalid = |reason: &str| {
            Err(Error::InvalidConfig {
                reason: reason.to_owned(),
            })
        };
        if self.workers == 0 {
            return invalid("workers must be at least 1");
        }
        if (self.reuse_port || self.workers > 1) && !cfg!(unix) {
            return invalid(
                "reuse_port (and so more than one UDP worker) is only supported on Unix",
            );
        }
        if let Err(reason) = self.guard.validate() {
            return invalid(reason);
        }
        Ok(UdpConfig {
            addr: self
                .addr
                .unwrap_or_else(|| SocketAddr::new(self.host, self.port)),
            reuse_address: self.reuse_address,
            reuse_port: self.reuse_port || self.workers > 1,
            only_v6: self.only_v6,
            recv_buffer_size: self.recv_buffer_size,
            send_buffer_size: self.send_buffer_size,
            workers: self.workers,
            guard: self.guard.clone(),
        })
    }
}
