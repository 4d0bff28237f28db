//! [`TcpServer`] (bound, not yet serving) and [`ServerHandle`] (serving).

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering::Acquire;

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
        for listener in listeners {
            // On error, `bound` is dropped: nothing stays bound.
            let (listener, own) = listener.open(&options, several)?;
            bound.push(listener);
            factories.push(own.unwrap_or_else(|| Arc::clone(&factory)));
        }
        let on_shutdown = notify.then(stopping_hook).flatten();
        let (shared, workers) = driver::prepare(config, bound, factories, on_shutdown)?;
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
}
