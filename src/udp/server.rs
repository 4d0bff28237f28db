//! [`UdpServer`] (bound, not yet serving) and [`UdpServerHandle`] (serving).

use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::Ordering::{AcqRel, Acquire, Release};
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError};

use mio::{Poll, Waker};

use crate::addr::Addr;
use crate::error::{Error, Result, WorkerThreads, join_workers};
use crate::udp::builder::{DatagramFactory, UdpConfig, UdpServerBuilder};
use crate::udp::socket::{self, Transport};
use crate::udp::stats::{UdpCounters, UdpStats};
use crate::udp::worker::{UdpSeed, WAKER};

/// What the workers and handles of one UDP server share.
pub(crate) struct UdpShared {
    pub(crate) config: UdpConfig,
    pub(crate) factory: DatagramFactory,
    pub(crate) local_addr: SocketAddr,
    pub(crate) counters: Box<[UdpCounters]>,
    pub(crate) shutdown: AtomicBool,
    /// Its workers were started (`run`, `spawn`): `done` will be set.
    started: AtomicBool,
    wakers: Vec<Waker>,
    running: AtomicUsize,
    done: Mutex<bool>,
    done_cv: Condvar,
    threads: WorkerThreads,
    /// Called once when a shutdown begins: a server with other listeners
    /// stops them too (a worker that failed stops the whole server).
    on_begin_shutdown: OnceLock<Box<dyn Fn() + Send + Sync>>,
}

impl fmt::Debug for UdpShared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpShared")
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

impl UdpShared {
    fn begin_shutdown(&self) {
        if !self.shutdown.swap(true, AcqRel) {
            log::debug!("shutdown requested for udp:{}", self.local_addr);
            for (i, waker) in self.wakers.iter().enumerate() {
                if let Err(e) = waker.wake() {
                    log::warn!("failed to wake udp worker {i} for shutdown: {e}");
                }
            }
            if let Some(hook) = self.on_begin_shutdown.get() {
                hook();
            }
        }
    }

    fn worker_exited(&self) {
        if self.running.fetch_sub(1, AcqRel) == 1 {
            log::info!("stopped serving on udp:{}", self.local_addr);
            *self.done.lock().unwrap_or_else(PoisonError::into_inner) = true;
            self.done_cv.notify_all();
        }
    }
}

/// Shuts the server down when the last owner goes away.
struct Owner(Arc<UdpShared>);

impl Drop for Owner {
    fn drop(&mut self) {
        self.0.begin_shutdown();
    }
}

/// A bound UDP server, ready to [`run`](UdpServer::run) or
/// [`spawn`](UdpServer::spawn). Its default handler,
/// [`DatagramEcho`](crate::DatagramEcho), answers every datagram with
/// itself (RFC 862), behind the [guard](crate::GuardPolicy).
///
/// # Examples
///
/// ```
/// use netecho::UdpServer;
/// use std::net::UdpSocket;
/// use std::time::Duration;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = UdpServer::builder().port(0).spawn()?;
/// let client = UdpSocket::bind("127.0.0.1:0")?;
/// client.set_read_timeout(Some(Duration::from_secs(10)))?;
/// client.send_to(b"ping", server.local_addr())?;
/// let mut buf = [0; 16];
/// let (n, from) = client.recv_from(&mut buf)?;
/// assert_eq!((&buf[..n], from), (&b"ping"[..], server.local_addr()));
/// server.shutdown();
/// server.join()?;
/// assert_eq!(server.stats().answered, 1);
/// # Ok(())
/// # }
/// ```
pub struct UdpServer {
    shared: Arc<UdpShared>,
    owner: Arc<Owner>,
    workers: Vec<UdpSeed>,
}

impl fmt::Debug for UdpServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpServer")
            .field("local_addr", &self.shared.local_addr)
            .field("workers", &self.workers.len())
            .finish_non_exhaustive()
    }
}

impl UdpServer {
    /// A builder with the defaults: `127.0.0.1`, any free port, one worker,
    /// the standard guard, the [`DatagramEcho`](crate::DatagramEcho) handler.
    pub fn builder() -> UdpServerBuilder {
        UdpServerBuilder::default()
    }

    pub(crate) fn bind(config: UdpConfig, factory: DatagramFactory) -> Result<Self> {
        let first = socket::bind(&config, config.addr)?;
        let local_addr = first.local_addr().map_err(|source| Error::Bind {
            addr: Addr::Udp(config.addr),
            source,
        })?;
        let mut sockets = vec![first];
        for _ in 1..config.workers {
            sockets.push(socket::bind(&config, local_addr)?);
        }
        let mut workers = Vec::with_capacity(config.workers);
        let mut wakers = Vec::with_capacity(config.workers);
        for (index, socket) in sockets.into_iter().enumerate() {
            let event_loop = |source| Error::EventLoop {
                worker: index,
                source,
            };
            let poll = Poll::new().map_err(event_loop)?;
            wakers.push(Waker::new(poll.registry(), WAKER).map_err(event_loop)?);
            let transport = Transport::new(socket).map_err(|source| Error::SocketOption {
                option: "udp offloads",
                addr: Addr::Udp(local_addr),
                source,
            })?;
            workers.push(UdpSeed {
                index,
                poll,
                transport,
            });
        }
        let shared = Arc::new(UdpShared {
            counters: (0..config.workers)
                .map(|_| UdpCounters::default())
                .collect(),
            running: AtomicUsize::new(config.workers),
            config,
            factory,
            local_addr,
            shutdown: AtomicBool::new(false),
            started: AtomicBool::new(false),
            wakers,
            done: Mutex::new(false),
            done_cv: Condvar::new(),
            threads: Mutex::new(Vec::new()),
            on_begin_shutdown: OnceLock::new(),
        });
        Ok(UdpServer {
            owner: Arc::new(Owner(Arc::clone(&shared))),
            shared,
            workers,
        })
    }

    /// The address the server serves on, with the real port when port 0 was
    /// asked for.
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.local_addr
    }

    /// Calls `hook` once when this server's shutdown begins, whoever starts
    /// it (a handle, the last owner gone, a failed worker). For a server
    /// that runs UDP listeners beside others: `hook` must not hold an owner
    /// of this server.
    pub(crate) fn on_begin_shutdown(&self, hook: Box<dyn Fn() + Send + Sync>) {
        let _ = self.shared.on_begin_shutdown.set(hook);
    }

    /// What starts this server's shutdown, without keeping it running.
    pub(crate) fn stopper(&self) -> impl Fn() + Send + Sync + 'static {
        let shared = Arc::clone(&self.shared);
        move || shared.begin_shutdown()
    }

    /// A handle to shut the server down from another thread while
    /// [`run`](UdpServer::run) blocks this one.
    pub fn handle(&self) -> UdpServerHandle {
        UdpServerHandle {
            shared: Arc::clone(&self.shared),
            _owner: Arc::clone(&self.owner),
        }
    }

    /// Serves on this thread plus `workers - 1` threads until shut down.
    ///
    /// # Errors
    ///
    /// [`Error::Spawn`] if a worker thread cannot start, [`Error::EventLoop`]
    /// if polling fails or the socket keeps failing,
    /// [`Error::WorkerPanicked`] for a bug in this crate.
    pub fn run(self) -> Result<()> {
        let UdpServer {
            shared,
            owner,
            mut workers,
        } = self;
        let first = workers.remove(0);
        spawn_workers(&shared, workers)?;
        log::info!(
            "listening on udp:{} with {} workers",
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

    /// Serves on `workers` background threads and returns a handle; dropping
    /// the last handle shuts the server down.
    ///
    /// # Errors
    ///
    /// [`Error::Spawn`] if a worker thread cannot start (the others are shut
    /// down first).
    pub fn spawn(self) -> Result<UdpServerHandle> {
        let handle = self.start()?;
        log::info!(
            "listening on udp:{} with {} workers",
            handle.shared.local_addr,
            handle.shared.config.workers
        );
        Ok(handle)
    }

    /// [`spawn`](Self::spawn) without the log line, for a server that logs
    /// all its listeners at once.
    pub(crate) fn start(self) -> Result<UdpServerHandle> {
        let UdpServer {
            shared,
            owner,
            workers,
        } = self;
        spawn_workers(&shared, workers)?;
        Ok(UdpServerHandle {
            shared,
            _owner: owner,
        })
    }
}

fn spawn_workers(shared: &Arc<UdpShared>, workers: Vec<UdpSeed>) -> Result<()> {
    shared.started.store(true, Release);
    for worker in workers {
        let index = worker.index;
        let for_thread = Arc::clone(shared);
        let spawned = std::thread::Builder::new()
            .name(format!("netecho-udp-{index}"))
            .spawn(move || {
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

fn join_threads(shared: &UdpShared) -> Result<()> {
    join_workers(&shared.threads)
}

/// A handle to a running UDP server: its address, statistics, shutdown and
/// join. Cheap to clone; dropping the last one shuts the server down.
#[derive(Clone)]
#[must_use = "dropping the last UdpServerHandle shuts the server down at once"]
pub struct UdpServerHandle {
    shared: Arc<UdpShared>,
    _owner: Arc<Owner>,
}

impl fmt::Debug for UdpServerHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpServerHandle")
            .field("local_addr", &self.shared.local_addr)
            .field("shutdown", &self.shared.shutdown.load(Acquire))
            .field("finished", &self.is_finished())
            .finish_non_exhaustive()
    }
}

impl UdpServerHandle {
    /// The address the server serves on.
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.local_addr
    }

    /// Stops the server and returns at once: each worker sends the replies
    /// it has queued (without waiting for a full send buffer) and closes its
    /// socket. Calling it again does nothing.
    pub fn shutdown(&self) {
        self.shared.begin_shutdown();
    }

    /// Waits until every worker has stopped; it does not start a shutdown.
    ///
    /// # Errors
    ///
    /// The first error a worker stopped with, for the first caller of a
    /// spawned server's `join`.
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

    /// [`join`](Self::join), or `Ok` at once for a server never started
    /// (whose `join` would wait forever).
    pub(crate) fn join_started(&self) -> Result<()> {
        if self.shared.started.load(Acquire) {
            self.join()
        } else {
            Ok(())
        }
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
    pub fn stats(&self) -> UdpStats {
        UdpStats::sum(self.shared.counters.iter())
    }

    /// Each worker's counters, for a server that sums several UDP listeners.
    pub(crate) fn counters(&self) -> &[UdpCounters] {
        &self.shared.counters
    }
}
