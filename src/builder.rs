//! [`TcpServerBuilder`]: the server's configuration, validated at `bind`.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use crate::config::{
    Config, DEFAULT_BACKLOG, DEFAULT_MAX_CONNECTIONS, DEFAULT_SHUTDOWN_TIMEOUT,
    DEFAULT_WRITE_BUFFER_LIMIT, DEFAULT_WRITE_TIMEOUT, Scheduling, TcpOptions,
};
use crate::error::{Error, Result};
use crate::handler::{Echo, Factory, Handler};
use crate::listener::Listener;
use crate::server::{ServerHandle, TcpServer};

/// Configures a [`TcpServer`]: address, socket options, workers, limits and
/// the handler. Made by [`TcpServer::builder`].
///
/// Every setter has a documented default; nothing is checked until
/// [`bind`](TcpServerBuilder::bind), which returns an [`Error`] for a
/// configuration that cannot work.
///
/// # Examples
///
/// ```
/// use netecho::TcpServer;
/// use std::time::Duration;
///
/// # fn main() -> Result<(), netecho::Error> {
/// let server = TcpServer::builder()
///     .host([127, 0, 0, 1])
///     .port(0)
///     .workers(2)
///     .backlog(128)
///     .shutdown_timeout(Duration::from_secs(1))
///     .bind()?;
/// assert_ne!(server.local_addr().port(), 0);
/// # Ok(())
/// # }
/// ```
#[must_use]
pub struct TcpServerBuilder {
    host: IpAddr,
    port: u16,
    addr: Option<SocketAddr>,
    /// `host`, `port` or `addr` was called.
    addr_set: bool,
    listeners: Vec<Listener>,
    /// Tell systemd READY=1 and STOPPING=1.
    notify: bool,
    reuse_address: bool,
    reuse_port: bool,
    nodelay: bool,
    backlog: u32,
    only_v6: Option<bool>,
    keepalive: Option<Duration>,
    recv_buffer_size: Option<usize>,
    send_buffer_size: Option<usize>,
    workers: Option<usize>,
    scheduling: Scheduling,
    shutdown_timeout: Duration,
    write_buffer_limit: usize,
    max_connections: usize,
    idle_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
    factory: Factory,
}

impl fmt::Debug for TcpServerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpServerBuilder")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("addr", &self.addr)
            .field("listeners", &self.listeners)
            .field("notify", &self.notify)
            .field("reuse_address", &self.reuse_address)
            .field("reuse_port", &self.reuse_port)
            .field("nodelay", &self.nodelay)
            .field("backlog", &self.backlog)
            .field("only_v6", &self.only_v6)
            .field("keepalive", &self.keepalive)
            .field("recv_buffer_size", &self.recv_buffer_size)
            .field("send_buffer_size", &self.send_buffer_size)
            .field("workers", &self.workers)
            .field("scheduling", &self.scheduling)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .field("write_buffer_limit", &self.write_buffer_limit)
            .field("max_connections", &self.max_connections)
            .field("idle_timeout", &self.idle_timeout)
            .field("write_timeout", &self.write_timeout)
            .finish_non_exhaustive()
    }
}

impl Default for TcpServerBuilder {
    fn default() -> Self {
        TcpServerBuilder {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            addr: None,
            addr_set: false,
            listeners: Vec::new(),
            notify: false,
            reuse_address: cfg!(unix),
            reuse_port: false,
            nodelay: true,
            backlog: DEFAULT_BACKLOG,
            only_v6: None,
            keepalive: None,
            recv_buffer_size: None,
            send_buffer_size: None,
            workers: None,
            scheduling: Scheduling::default(),
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            write_buffer_limit: DEFAULT_WRITE_BUFFER_LIMIT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            idle_timeout: None,
            write_timeout: Some(DEFAULT_WRITE_TIMEOUT),
            factory: Arc::new(|| Box::new(Echo)),
        }
    }
}

impl TcpServer {
    /// A builder with the defaults: `127.0.0.1`, any free port, one worker per
    /// CPU, the [`Echo`](crate::Echo) handler.
    pub fn builder() -> TcpServerBuilder {
        TcpServerBuilder::default()
    }
}

impl TcpServerBuilder {
    /// The IP address to listen on. Default: `127.0.0.1`; the server never
    /// listens on all interfaces unless asked (`[0, 0, 0, 0]` or `"::"`).
    pub fn host(mut self, host: impl Into<IpAddr>) -> Self {
        self.host = host.into();
        self.addr_set = true;
        self
    }

    /// The port to listen on. Default: 0, any free port; ask
    /// [`TcpServer::local_addr`] for the one chosen.
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self.addr_set = true;
        self
    }

    /// The whole address to listen on, instead of [`host`](Self::host) and
    /// [`port`](Self::port).
    pub fn addr(mut self, addr: SocketAddr) -> Self {
        self.addr = Some(addr);
        self.addr_set = true;
        self
    }

    /// Adds a listener: a TCP address, a Unix socket, a socket handed in, or
    /// a UDP address (see [`Listener`]; a [`SocketAddr`], a std listener or
    /// a [`UdpServerBuilder`](crate::UdpServerBuilder) converts). Call it
    /// once per listener; connections learn theirs from
    /// [`Conn::listener`](crate::Conn::listener), its index among the stream
    /// listeners in the order given (UDP listeners come after them in
    /// [`local_addrs`](TcpServer::local_addrs)).
    ///
    /// The address of [`host`](Self::host)/[`port`](Self::port)/[`addr`](Self::addr)
    /// is listener 0 when one of those was called, or when no listener is
    /// added; otherwise the server listens only on the listeners added (a
    /// server of UDP listeners only has no TCP listener).
    ///
    /// # Examples
    ///
    /// IPv4 and IPv6 at once:
    ///
    /// ```
    /// use netecho::{Listener, TcpServer};
    /// use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
    ///
    /// # fn main() -> Result<(), netecho::Error> {
    /// let server = TcpServer::builder()
    ///     .listener(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
    ///     .listener(Listener::tcp((Ipv6Addr::LOCALHOST, 0)))
    /// #   ;
    /// # // IPv6 may be missing on the machine that runs the doc test.
    /// # let server = if std::net::TcpListener::bind("[::1]:0").is_ok() { server } else {
    /// #     TcpServer::builder().listener(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
    /// #         .listener(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))) };
    /// # let server = server
    ///     .bind()?;
    /// assert_eq!(server.local_addrs().len(), 2);
    /// # Ok(())
    /// # }
    /// ```
    pub fn listener(mut self, listener: impl Into<Listener>) -> Self {
        self.listeners.push(listener.into());
        self
    }

    /// Tells the service manager `READY=1` once the server serves and
    /// `STOPPING=1` when its shutdown begins, when `NOTIFY_SOCKET` is set (a
    /// systemd `Type=notify` service); see [`systemd`](crate::systemd).
    /// Default: off, since only the application knows when all of it is
    /// ready.
    #[cfg(all(unix, feature = "systemd"))]
    pub fn systemd_notify(mut self, on: bool) -> Self {
        self.notify = on;
        self
    }

    /// `SO_REUSEADDR`: bind even while connections of a previous server on the
    /// same port sit in `TIME_WAIT`, so a restart is immediate. Default: on
    /// (Unix); on other systems it is left as the system has it.
    pub fn reuse_address(mut self, on: bool) -> Self {
        self.reuse_address = on;
        self
    }

    /// `SO_REUSEPORT`: let several sockets (in this or other processes) bind the
    /// same port, the kernel spreading connections among them. Default: off.
    /// Unix only; asking for it elsewhere is an error at bind.
    pub fn reuse_port(mut self, on: bool) -> Self {
        self.reuse_port = on;
        self
    }

    /// `TCP_NODELAY` on every accepted connection: send small writes at once
    /// instead of waiting to coalesce them (Nagle). Default: on, as an echo or
    /// request/response server wants.
    pub fn nodelay(mut self, on: bool) -> Self {
        self.nodelay = on;
        self
    }

    /// The `listen` backlog: connections the kernel queues before they are
    /// accepted. Default: 1024 (the kernel may cap it, see `somaxconn`).
    /// Zero is valid and asks for the smallest queue the system allows (on
    /// Linux, one connection waiting to be accepted).
    pub fn backlog(mut self, backlog: u32) -> Self {
        self.backlog = backlog;
        self
    }

    /// `IPV6_V6ONLY` for an IPv6 address: `true` serves IPv6 only, `false` also
    /// IPv4-mapped addresses. Default: the system's. Ignored for IPv4.
    pub fn only_v6(mut self, on: bool) -> Self {
        self.only_v6 = Some(on);
        self
    }

    /// `SO_KEEPALIVE` with the given idle time before the first probe
    /// (`TCP_KEEPIDLE`), inherited by accepted connections. Default: off.
    pub fn keepalive(mut self, idle: impl Into<Option<Duration>>) -> Self {
        self.keepalive = idle.into();
        self
    }

    /// `SO_RCVBUF`, inherited by accepted connections. Default: the system's.
    pub fn recv_buffer_size(mut self, bytes: usize) -> Self {
        self.recv_buffer_size = Some(bytes);
        self
    }

    /// `SO_SNDBUF`, inherited by accepted connections. Default: the system's.
    pub fn send_buffer_size(mut self, bytes: usize) -> Self {
        self.send_buffer_size = Some(bytes);
        self
    }

    /// Worker threads. Default: the number of CPUs. Zero is an error at bind.
    /// How they share the connections is [`scheduling`](Self::scheduling).
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = Some(workers);
        self
    }

    /// How the workers share the connections. Default:
    /// [`Scheduling::Shared`], any worker serves any ready connection, so no
    /// connection waits for one busy or descheduled worker;
    /// [`Scheduling::PerWorker`] keeps each connection on one worker (the
    /// thread-per-core model, for dedicated cores).
    ///
    /// # Examples
    ///
    /// ```
    /// use netecho::{Scheduling, TcpServer};
    ///
    /// # fn main() -> netecho::Result<()> {
    /// let server = TcpServer::builder()
    ///     .port(0)
    ///     .workers(4)
    ///     .scheduling(Scheduling::PerWorker)
    ///     .spawn()?;
    /// server.shutdown();
    /// server.join()?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn scheduling(mut self, scheduling: Scheduling) -> Self {
        self.scheduling = scheduling;
        self
    }

    /// How long a shutdown waits for connections to write out what is pending
    /// and close before it closes them by force. Default: 5 seconds.
    ///
    /// Zero is valid and means no grace: at shutdown, connections with
    /// nothing left to do close gracefully and every other one is closed by
    /// force at once ([`CloseReason::ShutdownTimeout`](crate::CloseReason::ShutdownTimeout)),
    /// its pending output dropped.
    pub fn shutdown_timeout(mut self, timeout: Duration) -> Self {
        self.shutdown_timeout = timeout;
        self
    }

    /// Output a connection may have pending before the server stops reading
    /// from it; reading resumes when half of it has drained. Default: 64 KiB.
    /// Output is never dropped: this bounds what a peer that does not read can
    /// make the server hold (the limit plus one read's worth of output).
    pub fn write_buffer_limit(mut self, bytes: usize) -> Self {
        self.write_buffer_limit = bytes;
        self
    }

    /// Connections open at once. At the limit the server stops accepting (new
    /// clients wait in the kernel's backlog) and resumes when one closes.
    /// Default: 10,000, which fits the usual descriptor limits once raised.
    pub fn max_connections(mut self, max: usize) -> Self {
        self.max_connections = max;
        self
    }

    /// Tell the handler (default: close) when a peer sent nothing for this
    /// long. Default: off, since a library cannot know how quiet a protocol is;
    /// the `echo` example turns it on. The silence counts only while the
    /// server is reading: not while reading is paused (backpressure or
    /// [`Conn::pause_reading`](crate::Conn::pause_reading)), nor after the
    /// peer's EOF, nor while the connection is closing.
    pub fn idle_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.idle_timeout = timeout.into();
        self
    }

    /// Close a connection whose peer read none of its pending output for this
    /// long, so a peer that never reads cannot pin a connection and its buffers
    /// forever. Default: 30 seconds; `None` turns it off.
    pub fn write_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.write_timeout = timeout.into();
        self
    }

    /// The handler factory, called once per connection on the worker that
    /// serves it. Default: [`Echo`].
    pub fn handler<F, H>(mut self, factory: F) -> Self
    where
        F: Fn() -> H + Send + Sync + 'static,
        H: Handler + 'static,
    {
        self.factory = Arc::new(move || Box::new(factory()));
        self
    }

    /// Validates the configuration, creates the listening sockets with their
    /// options and binds them (and takes over the sockets handed in). The
    /// server does not serve until [`run`](TcpServer::run) or
    /// [`spawn`](TcpServer::spawn).
    ///
    /// All or nothing: if any listener fails (UDP ones included), those
    /// already bound are closed (and their socket files removed) before the
    /// error returns.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] for a configuration that cannot work: zero
    /// `workers`, `write_buffer_limit` or `max_connections`; a zero
    /// `idle_timeout`, `write_timeout` or `keepalive` (pass `None` to turn
    /// them off); a `backlog` over `i32::MAX`; `reuse_port` off Unix; a
    /// `mode` for a listener that has no socket file; a UDP listener's own
    /// invalid configuration (see
    /// [`UdpServerBuilder::bind`](crate::UdpServerBuilder::bind)), a stream
    /// setting (`handler`, `proxy_protocol`) on a UDP listener or a UDP one
    /// (`guard`, `datagram_handler`) on a stream listener. A zero `backlog` or
    /// `shutdown_timeout` is valid (see their setters). [`Error::SocketOption`]
    /// when an option is refused, [`Error::Bind`] with the address that failed
    /// when it is taken or cannot be bound (a live Unix socket or a file that
    /// is not a socket at a Unix listener's path included).
    pub fn bind(self) -> Result<TcpServer> {
        let (config, options) = self.config()?;
        let mut listeners = self.listeners;
        if self.addr_set || listeners.is_empty() {
            let addr = self
                .addr
                .unwrap_or_else(|| SocketAddr::new(self.host, self.port));
            listeners.insert(0, Listener::tcp(addr));
        }
        TcpServer::bind(config, options, listeners, self.factory, self.notify)
    }

    /// Binds as [`bind`](Self::bind) does and serves on background threads.
    ///
    /// # Errors
    ///
    /// As [`bind`](Self::bind), and [`Error::Spawn`] or [`Error::EventLoop`]
    /// when a worker cannot start.
    pub fn spawn(self) -> Result<ServerHandle> {
        self.bind()?.spawn()
    }

    pub(crate) fn config(&self) -> Result<(Config, TcpOptions)> {
        let invalid = |reason: &str| {
            Err(Error::InvalidConfig {
                reason: reason.to_owned(),
            })
        };
        let workers = match self.workers {
            Some(n) => n,
            None => std::thread::available_parallelism().map_or(1, |n| n.get()),
        };
        if workers == 0 {
            return invalid("workers must be at least 1");
        }
        let Ok(backlog) = i32::try_from(self.backlog) else {
            return invalid("backlog must be at most i32::MAX");
        };
        if self.write_buffer_limit == 0 {
            return invalid("write_buffer_limit must be at least 1 byte");
        }
        if self.max_connections == 0 {
            return invalid("max_connections must be at least 1");
        }
        if self.idle_timeout == Some(Duration::ZERO) {
            return invalid("idle_timeout must be more than zero (use None to turn it off)");
        }
        if self.write_timeout == Some(Duration::ZERO) {
            return invalid("write_timeout must be more than zero (use None to turn it off)");
        }
        if self.keepalive == Some(Duration::ZERO) {
            return invalid("keepalive must be more than zero (use None to turn it off)");
        }
        if self.reuse_port && !cfg!(unix) {
            return invalid("reuse_port is only supported on Unix");
        }
        let config = Config {
            workers,
            scheduling: self.scheduling,
            shutdown_timeout: self.shutdown_timeout,
            write_buffer_limit: self.write_buffer_limit,
            max_connections: self.max_connections,
            idle_timeout: self.idle_timeout,
            write_timeout: self.write_timeout,
        };
        let options = TcpOptions {
            reuse_address: self.reuse_address,
            reuse_port: self.reuse_port,
            nodelay: self.nodelay,
            backlog,
            only_v6: self.only_v6,
            keepalive: self.keepalive,
            recv_buffer_size: self.recv_buffer_size,
            send_buffer_size: self.send_buffer_size,
        };
        Ok((config, options))
    }
}
