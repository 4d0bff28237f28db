//! [`TcpServer`] (bound, not yet serving) and [`ServerHandle`] (serving).

use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::Ordering::{AcqRel, Acquire};
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;

use mio::{Interest, Poll, Waker};

use crate::builder::{Config, Factory, TcpServerBuilder};
use crate::error::{Error, Result};
use crate::socket;
use crate::stats::{Counters, Stats};
use crate::worker::{LISTENER, Msg, Seed, WAKER};

/// How other threads reach one worker.
pub(crate) struct Remote {
    pub(crate) tx: Sender<Msg>,
    pub(crate) waker: Arc<Waker>,
}

/// What the workers and handles of one server share.
pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) factory: Factory,
    pub(crate) local_addr: SocketAddr,
    pub(crate) remotes: Vec<Remote>,
    pub(crate) counters: Box<[Counters]>,
    /// Connections open now, for `max_connections`.
    pub(crate) active: AtomicUsize,
    /// Set once, by `shutdown` or by dropping the last handle.
    pub(crate) shutdown: AtomicBool,
    /// Set by worker 0 once the listener is closed and nothing more is sent.
    pub(crate) acceptor_closed: AtomicBool,
    /// Workers still running; the last one out sets `done`.
    running: AtomicUsize,
    done: Mutex<bool>,
    done_cv: Condvar,
    threads: Mutex<Vec<(usize, JoinHandle<Result<()>>)>>,
}

impl Shared {
    fn begin_shutdown(&self) {
        if !self.shutdown.swap(true, AcqRel) {
            log::debug!("shutdown requested for {}", self.local_addr);
            for (i, remote) in self.remotes.iter().enumerate() {
                if let Err(e) = remote.waker.wake() {
                    log::warn!("failed to wake worker {i} for shutdown: {e}");
                }
            }
        }
    }

    fn worker_exited(&self) {
        if self.running.fetch_sub(1, AcqRel) == 1 {
            log::info!("stopped serving on {}", self.local_addr);
            *self.done.lock().unwrap_or_else(PoisonError::into_inner) = true;
            self.done_cv.notify_all();
        }
    }

    fn stats(&self) -> Stats {
        Stats::sum(self.counters.iter(), self.active.load(Acquire) as u64)
    }
}

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
}

impl fmt::Debug for TcpServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpServer")
            .field("local_addr", &self.shared.local_addr)
            .field("workers", &self.workers.len())
            .finish_non_exhaustive()
    }
}

impl TcpServer {
    /// A builder with the defaults: `127.0.0.1`, any free port, one worker per
    /// CPU, the [`Echo`](crate::Echo) handler.
    pub fn builder() -> TcpServerBuilder {
        TcpServerBuilder::default()
    }

    pub(crate) fn bind(config: Config, factory: Factory) -> Result<Self> {
        let std_listener = socket::listen(&config)?;
        let local_addr = std_listener.local_addr().map_err(|source| Error::Bind {
            addr: config.addr,
            source,
        })?;
        let mut listener = mio::net::TcpListener::from_std(std_listener);
        let mut polls = Vec::with_capacity(config.workers);
        let mut remotes = Vec::with_capacity(config.workers);
        let mut inboxes = Vec::with_capacity(config.workers);
        for worker in 0..config.workers {
            let event_loop = |source| Error::EventLoop { worker, source };
            let poll = Poll::new().map_err(event_loop)?;
            let waker = Waker::new(poll.registry(), WAKER).map_err(event_loop)?;
            let (tx, rx) = mpsc::channel();
            polls.push(poll);
            remotes.push(Remote {
                tx,
                waker: Arc::new(waker),
            });
            inboxes.push(rx);
        }
        polls[0]
            .registry()
            .register(&mut listener, LISTENER, Interest::READABLE)
            .map_err(|source| Error::EventLoop { worker: 0, source })?;
        let shared = Arc::new(Shared {
            counters: (0..config.workers).map(|_| Counters::default()).collect(),
            running: AtomicUsize::new(config.workers),
            config,
            factory,
            local_addr,
            remotes,
            active: AtomicUsize::new(0),
            shutdown: AtomicBool::new(false),
            acceptor_closed: AtomicBool::new(false),
            done: Mutex::new(false),
            done_cv: Condvar::new(),
            threads: Mutex::new(Vec::new()),
        });
        let mut listener = Some(listener);
        let workers = polls
            .into_iter()
            .zip(inboxes)
            .enumerate()
            .map(|(index, (poll, inbox))| Seed {
                index,
                poll,
                inbox,
                listener: listener.take(),
            })
            .collect();
        Ok(TcpServer {
            owner: Arc::new(Owner(Arc::clone(&shared))),
            shared,
            workers,
        })
    }

    /// The address the server listens on, with the real port when port 0 was
    /// asked for.
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.local_addr
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
        } = self;
        let first = workers.remove(0);
        spawn_workers(&shared, workers)?;
        log::info!(
            "listening on {} with {} workers",
            shared.local_addr,
            shared.config.workers
        );
        let result = first.run(Arc::clone(&shared));
        shared.worker_exited();
        if result.is_err() {
            shared.begin_shutdown();
        }
        let others = join_threads(&shared);
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
        } = self;
        spawn_workers(&shared, workers)?;
        log::info!(
            "listening on {} with {} workers",
            shared.local_addr,
            shared.config.workers
        );
        Ok(ServerHandle {
            shared,
            _owner: owner,
        })
    }
}

/// Starts each worker on a thread of its own; on failure, shuts down and
/// joins those already started.
fn spawn_workers(shared: &Arc<Shared>, workers: Vec<Seed>) -> Result<()> {
    for worker in workers {
        let index = worker.index;
        let name = format!("netecho-worker-{index}");
        let for_thread = Arc::clone(shared);
        let spawned = std::thread::Builder::new().name(name).spawn(move || {
            let result = worker.run(Arc::clone(&for_thread));
            for_thread.worker_exited();
            if result.is_err() {
                for_thread.begin_shutdown();
            }
            result
        });
        match spawned {
            Ok(thread) => shared
                .threads
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push((index, thread)),
            Err(source) => {
                shared.begin_shutdown();
                let _ = join_threads(shared);
                return Err(Error::Spawn {
                    worker: index,
                    source,
                });
            }
        }
    }
    Ok(())
}

/// Joins the worker threads not joined yet; the first error wins.
fn join_threads(shared: &Shared) -> Result<()> {
    let threads = std::mem::take(
        &mut *shared
            .threads
            .lock()
            .unwrap_or_else(PoisonError::into_inner),
    );
    let mut result = Ok(());
    for (worker, thread) in threads {
        let joined = thread
            .join()
            .unwrap_or(Err(Error::WorkerPanicked { worker }));
        if result.is_ok() {
            result = joined;
        }
    }
    result
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
            .field("local_addr", &self.shared.local_addr)
            .field("shutdown", &self.shared.shutdown.load(Acquire))
            .field("finished", &self.is_finished())
            .finish_non_exhaustive()
    }
}

impl ServerHandle {
    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.local_addr
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
        let result = join_threads(&self.shared);
        let mut done = self
            .shared
            .done
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        while !*done {
            done = self
                .shared
                .done_cv
                .wait(done)
                .unwrap_or_else(PoisonError::into_inner);
        }
        result
    }

    /// Whether the server has stopped.
    pub fn is_finished(&self) -> bool {
        *self
            .shared
            .done
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// A snapshot of the server's counters.
    pub fn stats(&self) -> Stats {
        self.shared.stats()
    }
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}
