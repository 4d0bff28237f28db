//! [`TcpServer`] (bound, not yet serving) and [`ServerHandle`] (serving).

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering::Acquire;
use std::time::Instant;

use crate::addr::Addr;
use crate::config::{Config, TcpOptions};
use crate::driver::{self, AddrList, Seed, Shared};
use crate::error::Result;
use crate::handler::Factory;
use crate::listener::Listener;
use crate::stats::Stats;

/// Shuts the server down when the last owner (the bound [`TcpServer`], a
/// running `run`, or the last [`ServerHandle`]) goes away.
struct Owner(Arc<Shared>);

impl Drop for Owner {
    fn drop(&mut self) {
        self.0.begin_shutdown();
    }
}

/// A bound TCP server, ready to [`run`](TcpServer::run) or
/// [`spawn`](TcpServer::spawn).
///
/// Binding first means the errors (a taken port, a bad option) and the real
/// port are known before serving.
///
/// # Examples
///
/// ```
/// use netecho::TcpServer;
/// use std::io::{Read, Write};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = TcpServer::builder().port(0).bind()?;
/// let addr = server.local_addr();
/// let handle = server.handle();
/// let serving = std::thread::spawn(move || server.run());
///
/// let mut client = std::net::TcpStream::connect(addr)?;
/// client.write_all(b"ping")?;
/// let mut reply = [0; 4];
/// client.read_exact(&mut reply)?;
/// assert_eq!(&reply, b"ping");
///
/// handle.shutdown();
/// serving.join().expect("server thread")?;
/// # Ok(())
/// # }
/// ```
pub struct TcpServer {
    shared: Arc<Shared>,
    owner: Arc<Owner>,
    workers: Vec<Seed>,
    /// Tell systemd READY=1 once serving.
    notify: bool,
}

impl fmt::Debug for TcpServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpServer")
            .field("local_addrs", &self.shared.local_addrs)
            .field("workers", &self.workers.len())
            .finish_non_exhaustive()
    }
}

impl TcpServer {
    pub(crate) fn bind(
        config: Config,
        options: TcpOptions,
        listeners: Vec<Listener>,
        factory: Factory,
        notify: bool,
    ) -> Result<Self> {
        let several = listeners.len() > 1;
        let mut bound = Vec::with_capacity(listeners.len());
        let mut factories = Vec::with_capacity(listeners.len());
        let mut proxies = Vec::with_capacity(listeners.len());
        for listener in listeners {
            // On error, `bound` is dropped: nothing stays bound.
            let opened = listener.open(&options, several)?;
            bound.push(opened.listener);
            factories.push(opened.factory.unwrap_or_else(|| Arc::clone(&factory)));
            proxies.push(opened.proxy.map(Arc::new));
        }
        let on_shutdown = notify.then(stopping_hook).flatten();
        let (shared, workers) = driver::prepare(config, bound, factories, proxies, on_shutdown)?;
        Ok(TcpServer {
            owner: Arc::new(Owner(Arc::clone(&shared))),
            shared,
            workers,
            notify,
        })
    }

    /// The address of the server's first TCP listener, with the real port
    /// when port 0 was asked for.
    ///
    /// # Panics
    ///
    /// If the server has no TCP listener (only Unix sockets): use
    /// [`local_addrs`](Self::local_addrs) then.
    pub fn local_addr(&self) -> SocketAddr {
        first_tcp(&self.shared)
    }

    /// Every listener's address, in the order the listeners were given (the
    /// index a connection's [`Conn::listener`](crate::Conn::listener) tells).
    pub fn local_addrs(&self) -> &[Addr] {
        &self.shared.local_addrs
    }

    /// A handle to shut the server down from another thread (a signal
    /// handler, say) while [`run`](TcpServer::run) blocks this one.
    pub fn handle(&self) -> ServerHandle {
        ServerHandle {
            shared: Arc::clone(&self.shared),
            _owner: Arc::clone(&self.owner),
        }
    }

    /// Serves on this thread plus `workers - 1` threads, until shut down and
    /// every connection is closed.
    ///
    /// # Errors
    ///
    /// [`Error::Spawn`] if a worker thread cannot start (the others are shut
    /// down first), [`Error::EventLoop`] if polling fails,
    /// [`Error::WorkerPanicked`] for a bug in this crate.
    pub fn run(self) -> Result<()> {
        let TcpServer {
            shared,
            owner,
            mut workers,
            notify,
        } = self;
        let first = workers.remove(0);
        shared.spawn_workers(workers)?;
        log::info!(
            "listening on {} with {} workers",
            AddrList(&shared.local_addrs),
            shared.config.workers
        );
        if notify {
            ready();
        }
        let result = shared.run_here(first);
        let others = shared.join_threads();
        drop(owner);
        result.and(others)
    }

    /// Serves on `workers` background threads and returns a handle.
    ///
    /// Dropping the last handle shuts the server down (without waiting); keep
    /// one for as long as the server should run.
    ///
    /// # Errors
    ///
    /// [`Error::Spawn`] if a worker thread cannot start (the others are shut
    /// down first).
    pub fn spawn(self) -> Result<ServerHandle> {
        let TcpServer {
            shared,
            owner,
            workers,
            notify,
        } = self;
        shared.spawn_workers(workers)?;
        log::info!(
            "listening on {} with {} workers",
            AddrList(&shared.local_addrs),
            shared.config.workers
        );
        if notify {
            ready();
        }
        Ok(ServerHandle {
            shared,
            _owner: owner,
        })
    }
}

/// Tells systemd the server serves (`READY=1`).
fn ready() {
    #[cfg(all(unix, feature = "systemd"))]
    crate::systemd::ready();
}

/// What tells systemd the server stops (`STOPPING=1`), where there is one.
fn stopping_hook() -> Option<Box<dyn Fn() + Send + Sync>> {
    #[cfg(all(unix, feature = "systemd"))]
    return Some(Box::new(crate::systemd::stopping));
    #[cfg(not(all(unix, feature = "systemd")))]
    None
}

/// The address of the first TCP listener.
fn first_tcp(shared: &Shared) -> SocketAddr {
    match shared.local_addrs.iter().find_map(Addr::as_tcp) {
        Some(addr) => addr,
        None => panic!(
            "local_addr: the server has no TCP listener (it listens on {}); use local_addrs",
            AddrList(&shared.local_addrs)
        ),
    }
}

/// A handle to a running server: its address, its statistics, shutdown and
/// join. Cheap to clone; usable from any thread.
///
/// Dropping the last handle of a [spawned](TcpServer::spawn) server shuts it
/// down, without waiting, so a server started in a test stops with the test.
///
/// # Examples
///
/// ```
/// use netecho::TcpServer;
///
/// # fn main() -> Result<(), netecho::Error> {
/// let handle = TcpServer::builder().port(0).spawn()?;
/// println!("echoing on {}", handle.local_addr());
/// handle.shutdown();
/// handle.join()?;
/// assert!(handle.is_finished());
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
#[must_use = "dropping the last ServerHandle shuts the server down at once: keep it in a variable (`let _server = ...`), not `let _ = ...`"]
pub struct ServerHandle {
    shared: Arc<Shared>,
    /// Held only to keep the server running while a handle exists.
    _owner: Arc<Owner>,
}

impl fmt::Debug for ServerHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerHandle")
            .field("local_addrs", &self.shared.local_addrs)
            .field("shutdown", &self.shared.shutdown.load(Acquire))
            .field("finished", &self.is_finished())
            .finish_non_exhaustive()
    }
}

impl ServerHandle {
    /// The address of the server's first TCP listener.
    ///
    /// # Panics
    ///
    /// If the server has no TCP listener (only Unix sockets): use
    /// [`local_addrs`](Self::local_addrs) then.
    pub fn local_addr(&self) -> SocketAddr {
        first_tcp(&self.shared)
    }

    /// Every listener's address, in the order the listeners were given.
    pub fn local_addrs(&self) -> &[Addr] {
        &self.shared.local_addrs
    }

    /// Starts a graceful shutdown and returns at once: the listener closes
    /// (new connections are refused), each connection writes out what is
    /// pending and closes, and what is left at the shutdown timeout is closed
    /// by force. Calling it again does nothing.
    pub fn shutdown(&self) {
        self.shared.begin_shutdown();
    }

    /// Waits until the server has stopped: every worker finished and every
    /// connection closed. It does not start a shutdown.
    ///
    /// # Errors
    ///
    /// The first error a worker stopped with ([`Error::EventLoop`],
    /// [`Error::WorkerPanicked`]), given to the first caller of `join` on a
    /// spawned server; later callers, and callers while
    /// [`run`](TcpServer::run) serves, get `Ok` once the server stopped (`run`
    /// returns the error itself).
    pub fn join(&self) -> Result<()> {
        let result = self.shared.join_threads();
        self.shared.wait_finished();
        result
    }

    /// Whether the server has stopped.
    pub fn is_finished(&self) -> bool {
        self.shared.is_finished()
    }

    /// A snapshot of the server's counters.
    pub fn stats(&self) -> Stats {
        self.shared.stats()
    }

    /// Stops accepting: the listening sockets stay bound and open, so new
    /// connections wait in the kernel's backlog (and are refused or dropped
    /// by the kernel once it is full) until [`resume`](Self::resume).
    /// Connections already open are served as usual. Returns at once; the
    /// acceptor follows within one turn of its event loop.
    ///
    /// A paused port still completes TCP handshakes (the kernel does), so a
    /// balancer's plain TCP health check still passes: to take a server out
    /// of rotation, fail its health check another way first (see
    /// [`drain`](Self::drain)).
    pub fn pause(&self) {
        self.shared.set_paused(true);
    }

    /// Accepts again after [`pause`](Self::pause), starting with the
    /// connections that waited in the backlog.
    pub fn resume(&self) {
        self.shared.set_paused(false);
    }

    /// Whether accepting is paused ([`pause`](Self::pause), [`drain`](Self::drain)).
    pub fn is_paused(&self) -> bool {
        self.shared.paused.load(Acquire)
    }

    /// Stops accepting (as [`pause`](Self::pause)) and waits until every
    /// connection has closed on its own or `deadline` has passed, whichever
    /// comes first; says which. Connections are not told anything: they
    /// finish their work (a long transfer completes byte for byte). Call
    /// [`shutdown`](Self::shutdown) afterwards to close what is left and
    /// stop, or [`resume`](Self::resume) to serve again.
    ///
    /// The rolling restart behind a load balancer, one instance at a time:
    ///
    /// 1. take the instance out of rotation: fail its health check (a
    ///    health endpoint that answers "down", HAProxy's `agent-check`, or
    ///    `set server BACKEND/NAME state drain` on its admin socket), and
    ///    wait for the balancer to notice (its check interval times its
    ///    `fall` count);
    /// 2. `drain(Instant::now() + grace)`: no new connections, the open ones
    ///    finish;
    /// 3. `shutdown()` then `join()`; start the new version; it passes its
    ///    health check and takes traffic again.
    ///
    /// To replace the process without a gap at all, see
    /// `ServerHandle::upgrade` (Unix, feature `systemd`).
    ///
    /// # Examples
    ///
    /// ```
    /// use netecho::{Drained, TcpServer};
    /// use std::io::{Read, Write};
    /// use std::time::{Duration, Instant};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = TcpServer::builder().port(0).spawn()?;
    /// let mut client = std::net::TcpStream::connect(server.local_addr())?;
    /// client.write_all(b"hi")?;
    /// client.read_exact(&mut [0; 2])?;
    /// // The client stays: the deadline passes with it open.
    /// let soon = Instant::now() + Duration::from_millis(50);
    /// assert_eq!(server.drain(soon), Drained::DeadlinePassed { open: 1 });
    /// drop(client);
    /// let later = Instant::now() + Duration::from_secs(10);
    /// assert_eq!(server.drain(later), Drained::AllClosed);
    /// server.shutdown();
    /// server.join()?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn drain(&self, deadline: Instant) -> Drained {
        self.pause();
        match self.shared.wait_idle(deadline) {
            0 => Drained::AllClosed,
            open => Drained::DeadlinePassed { open },
        }
    }

    /// Connections open now, per listener, in the listeners' order (as
    /// [`local_addrs`](Self::local_addrs)); their sum is
    /// [`Stats::active`].
    pub fn listener_connections(&self) -> Vec<usize> {
        self.shared
            .listener_active
            .iter()
            .map(|n| n.load(Acquire))
            .collect()
    }
}

#[cfg(all(unix, feature = "systemd"))]
impl ServerHandle {
    /// Upgrades in place: starts `command` (the new binary, or this one
    /// again) with this server's listening sockets, the very same sockets
    /// with their accept queues, and waits until it says it serves; then
    /// returns its [`Child`](std::process::Child). Unix, feature `systemd`.
    ///
    /// The successor takes the sockets with
    /// [`systemd::listeners`](crate::systemd::listeners) and must say it is
    /// ready with [`systemd_notify(true)`](crate::TcpServerBuilder::systemd_notify)
    /// (`READY=1` on the `NOTIFY_SOCKET` this sets for it). Both processes
    /// accept from the one queue until this one stops: then finish with
    /// [`drain`](Self::drain) (connections open here finish here) and
    /// [`shutdown`](Self::shutdown). Not a connection is refused or reset on
    /// the way, which `SO_REUSEPORT` alone cannot promise (Linux resets what
    /// waits in a closed listener's own queue). Socket files of Unix
    /// listeners are left to the successor when this server stops.
    ///
    /// The `echo` example does this on `SIGUSR2`, as nginx does.
    ///
    /// # Errors
    ///
    /// [`Error::Upgrade`](crate::Error::Upgrade) if the sockets cannot be
    /// handed over, the command cannot start, or it exits or stays silent
    /// for `timeout` (it is then killed). This server goes on serving either
    /// way.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use netecho::TcpServer;
    /// use std::process::Command;
    /// use std::time::{Duration, Instant};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = TcpServer::builder().port(7007).spawn()?;
    /// // ... on SIGUSR2:
    /// let mut successor = Command::new(std::env::current_exe()?);
    /// successor.args(std::env::args_os().skip(1));
    /// let child = server.upgrade(successor, Duration::from_secs(30))?;
    /// println!("successor pid {}", child.id());
    /// server.drain(Instant::now() + Duration::from_secs(60));
    /// server.shutdown();
    /// server.join()?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn upgrade(
        &self,
        command: std::process::Command,
        timeout: std::time::Duration,
    ) -> Result<std::process::Child> {
        crate::upgrade::start_successor(&self.shared, command, timeout)
    }
}

/// How [`ServerHandle::drain`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Drained {
    /// Every connection closed before the deadline.
    AllClosed,
    /// The deadline passed with connections still open.
    DeadlinePassed {
        /// How many were open then.
        open: usize,
    },
}
