//! The driver: event loops that move bytes between transports and connection
//! state machines. Two, which [`Scheduling`] picks between:
//!
//! - [`pool`] (Linux, the default): the workers share one epoll set, the
//!   listeners and every connection; any free worker serves any ready
//!   connection;
//! - [`worker`] (mio: epoll, kqueue): a worker thread per event loop, each
//!   with its own connections, the listeners served by worker 0.
//!
//! Both open, step and close connections the same way ([`entry`]) and share
//! the [`acceptor`]. What the public server needs from a driver is small:
//! [`Shared`] (the state every worker and handle of one server shares),
//! [`Seed`]s to start the workers, and wake-ups. Another driver (io_uring)
//! fits behind these.

use std::fmt;
use std::sync::atomic::Ordering::{AcqRel, Acquire};
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use mio::{Poll, Token, Waker};

use crate::addr::Addr;
use crate::config::{Config, Scheduling};
use crate::error::{Error, Result, WorkerThreads, join_workers};
use crate::handle::{Push, Wake};
use crate::handler::Factory;
use crate::proxy::ProxyProtocol;
use crate::stats::{Counters, Stats};
use crate::transport::{Accepted, Listener};

pub(crate) mod acceptor;
pub(crate) mod entry;
#[cfg(target_os = "linux")]
pub(crate) mod pool;
pub(crate) mod worker;

/// The token of each worker's waker.
pub(crate) const WAKER: Token = Token(usize::MAX);

impl Wake for Waker {
    fn wake(&self) -> std::io::Result<()> {
        Waker::wake(self)
    }
}

/// A connection accepted by worker 0 for another worker to serve.
pub(crate) struct NewConn {
    pub(crate) accepted: Accepted,
    /// The index of the listener it came in on.
    pub(crate) listener: usize,
}

/// How other threads reach one worker (under shared scheduling: any
/// worker, through the pool's channel and wake-up).
pub(crate) struct Remote {
    /// New connections from the acceptor (per-worker scheduling only).
    pub(crate) conns: Option<Sender<NewConn>>,
    pub(crate) pushes: Sender<Push>,
    pub(crate) waker: Arc<dyn Wake>,
}

/// What a worker starts from: `Send`, so it can move to the worker's thread.
pub(crate) enum Seed {
    /// A worker with its own poll and connections.
    PerWorker(worker::WorkerSeed),
    /// A worker of a pool that shares one epoll set and every connection.
    #[cfg(target_os = "linux")]
    Pool { index: usize, pool: Arc<pool::Pool> },
}

impl Seed {
    /// The worker's index.
    pub(crate) fn index(&self) -> usize {
        match self {
            Seed::PerWorker(seed) => seed.index,
            #[cfg(target_os = "linux")]
            Seed::Pool { index, .. } => *index,
        }
    }

    /// Runs the worker's event loop on this thread until the server stops.
    pub(crate) fn run(self, shared: Arc<Shared>) -> Result<()> {
        match self {
            Seed::PerWorker(seed) => seed.run(shared),
            #[cfg(target_os = "linux")]
            Seed::Pool { index, pool } => pool::PoolWorker::new(index, shared, pool).run(),
        }
    }
}

/// What the workers and handles of one server share.
pub(crate) struct Shared {
    pub(crate) config: Config,
    /// One handler factory per listener, in the listeners' order.
    pub(crate) factories: Vec<Factory>,
    /// Per listener: the PROXY protocol settings, if it requires a header.
    pub(crate) proxies: Vec<Option<Arc<ProxyProtocol>>>,
    /// Every listener's address, in the listeners' order.
    pub(crate) local_addrs: Vec<Addr>,
    pub(crate) remotes: Vec<Remote>,
    pub(crate) counters: Box<[Counters]>,
    /// Connections open now, for `max_connections`.
    pub(crate) active: AtomicUsize,
    /// Per listener: connections open now. Written once per connection
    /// (accept, close), never per message.
    pub(crate) listener_active: Box<[AtomicUsize]>,
    /// Accepting paused ([`ServerHandle::pause`](crate::ServerHandle::pause)):
    /// worker 0 follows it.
    pub(crate) paused: AtomicBool,
    /// Per listener, a second descriptor of its socket, for a successor
    /// process ([`ServerHandle::upgrade`]); emptied when the acceptor closes
    /// the listeners.
    #[cfg(unix)]
    pub(crate) handover: Mutex<Vec<std::os::fd::OwnedFd>>,
    /// The listening sockets were handed to a successor: their socket files
    /// are its now.
    pub(crate) handed_over: AtomicBool,
    /// Threads waiting in [`wait_idle`](Shared::wait_idle): closes notify
    /// `idle_cv` only while there are some.
    idle_waiters: AtomicUsize,
    idle_lock: Mutex<()>,
    idle_cv: Condvar,
    /// Whether the acceptor has followed `paused` (deregistered its
    /// listeners), for `set_paused` to wait on.
    pause_followed: Mutex<bool>,
    pause_cv: Condvar,
    /// The threads that may run the acceptor (worker 0, or every worker of a
    /// pool), which must not wait for it.
    acceptor_threads: Mutex<Vec<ThreadId>>,
    /// Set once, by `shutdown` or by dropping the last handle.
    pub(crate) shutdown: AtomicBool,
    /// Set by worker 0 once the listeners are closed and nothing more is sent.
    pub(crate) acceptor_closed: AtomicBool,
    /// Workers still running; the last one out sets `done`.
    running: AtomicUsize,
    done: Mutex<bool>,
    done_cv: Condvar,
    threads: WorkerThreads,
    /// Called once when a shutdown begins (systemd's `STOPPING=1`).
    on_begin_shutdown: Option<Box<dyn Fn() + Send + Sync>>,
}

/// The listeners' addresses, for the log: `a, b, c`.
pub(crate) struct AddrList<'a>(pub(crate) &'a [Addr]);

impl fmt::Display for AddrList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, addr) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            addr.fmt(f)?;
        }
        Ok(())
    }
}

/// Creates the workers' polls and channels, and the state they share; the
/// listeners go to worker 0.
///
/// # Errors
///
/// [`Error::EventLoop`] when a poll or waker cannot be created or a listener
/// cannot be registered.
pub(crate) fn prepare(
    config: Config,
    listeners: Vec<Listener>,
    factories: Vec<Factory>,
    proxies: Vec<Option<Arc<ProxyProtocol>>>,
    on_begin_shutdown: Option<Box<dyn Fn() + Send + Sync>>,
) -> Result<(Arc<Shared>, Vec<Seed>)> {
    let local_addrs: Vec<Addr> = listeners.iter().map(|l| l.local_addr().clone()).collect();
    let local_addrs_len = local_addrs.len();
    #[cfg(unix)]
    let handover = listeners
        .iter()
        .map(Listener::dup)
        .collect::<std::io::Result<Vec<_>>>()
        .map_err(|source| Error::EventLoop { worker: 0, source })?;
    let acceptor = acceptor::Acceptor::new(listeners);
    let (remotes, seeds) = if cfg!(target_os = "linux") && config.scheduling == Scheduling::Shared {
        pool_seeds(config.workers, acceptor)?
    } else {
        per_worker_seeds(config.workers, acceptor)?
    };
    let shared = Arc::new(Shared {
        counters: (0..config.workers).map(|_| Counters::default()).collect(),
        running: AtomicUsize::new(config.workers),
        config,
        factories,
        proxies,
        local_addrs,
        remotes,
        active: AtomicUsize::new(0),
        listener_active: (0..local_addrs_len).map(|_| AtomicUsize::new(0)).collect(),
        paused: AtomicBool::new(false),
        #[cfg(unix)]
        handover: Mutex::new(handover),
        handed_over: AtomicBool::new(false),
        idle_waiters: AtomicUsize::new(0),
        idle_lock: Mutex::new(()),
        idle_cv: Condvar::new(),
        pause_followed: Mutex::new(false),
        pause_cv: Condvar::new(),
        acceptor_threads: Mutex::new(Vec::new()),
        shutdown: AtomicBool::new(false),
        acceptor_closed: AtomicBool::new(false),
        done: Mutex::new(false),
        done_cv: Condvar::new(),
        threads: Mutex::new(Vec::new()),
        on_begin_shutdown,
    });
    Ok((shared, seeds))
}

/// Per-worker scheduling: a poll per worker, the listeners on worker 0's.
fn per_worker_seeds(
    workers: usize,
    mut acceptor: acceptor::Acceptor,
) -> Result<(Vec<Remote>, Vec<Seed>)> {
    let mut remotes = Vec::with_capacity(workers);
    let mut seeds = Vec::with_capacity(workers);
    for index in 0..workers {
        let event_loop = |source| Error::EventLoop {
            worker: index,
            source,
        };
        let poll = Poll::new().map_err(event_loop)?;
        let waker = Waker::new(poll.registry(), WAKER).map_err(event_loop)?;
        let (conns, conns_rx) = mpsc::channel();
        let (pushes, pushes_rx) = mpsc::channel();
        remotes.push(Remote {
            conns: Some(conns),
            pushes,
            waker: Arc::new(waker),
        });
        seeds.push((index, poll, conns_rx, pushes_rx));
    }
    acceptor
        .register(seeds[0].1.registry())
        .map_err(|source| Error::EventLoop { worker: 0, source })?;
    let mut acceptor = Some(acceptor);
    let seeds = seeds
        .into_iter()
        .map(|(index, poll, conns, pushes)| {
            Seed::PerWorker(worker::WorkerSeed {
                index,
                poll,
                conns,
                pushes,
                acceptor: acceptor.take(),
            })
        })
        .collect();
    Ok((remotes, seeds))
}

/// Shared scheduling: one pool, one epoll set with the listeners in it.
#[cfg(target_os = "linux")]
fn pool_seeds(workers: usize, acceptor: acceptor::Acceptor) -> Result<(Vec<Remote>, Vec<Seed>)> {
    let (pushes, pushes_rx) = mpsc::channel();
    let pool = pool::Pool::new(workers, acceptor, pushes_rx)
        .map_err(|source| Error::EventLoop { worker: 0, source })?;
    let pool = Arc::new(pool);
    let remotes = (0..workers)
        .map(|_| Remote {
            conns: None,
            pushes: pushes.clone(),
            waker: Arc::clone(&pool.wake) as Arc<dyn Wake>,
        })
        .collect();
    let seeds = (0..workers)
        .map(|index| Seed::Pool {
            index,
            pool: Arc::clone(&pool),
        })
        .collect();
    Ok((remotes, seeds))
}

#[cfg(not(target_os = "linux"))]
fn pool_seeds(workers: usize, acceptor: acceptor::Acceptor) -> Result<(Vec<Remote>, Vec<Seed>)> {
    per_worker_seeds(workers, acceptor)
}

impl Shared {
    /// Starts a graceful shutdown, once: wakes every worker.
    pub(crate) fn begin_shutdown(&self) {
        if !self.shutdown.swap(true, AcqRel) {
            log::debug!("shutdown requested for {}", AddrList(&self.local_addrs));
            if let Some(hook) = &self.on_begin_shutdown {
                hook();
            }
            for (i, remote) in self.remotes.iter().enumerate() {
                if let Err(e) = remote.waker.wake() {
                    log::warn!("failed to wake worker {i} for shutdown: {e}");
                }
            }
        }
    }

    /// Pauses or resumes accepting, and waits until the acceptor has
    /// followed (unless called on the acceptor's own thread, from a handler,
    /// or once the acceptor is closed).
    pub(crate) fn set_paused(&self, paused: bool) {
        if self.paused.swap(paused, AcqRel) != paused {
            if let Err(e) = self.remotes[0].waker.wake() {
                log::warn!("failed to wake the acceptor: {e}");
            }
        }
        {
            let threads = self
                .acceptor_threads
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            // Not serving yet: the acceptor follows before its first accept.
            if threads.is_empty() || threads.contains(&std::thread::current().id()) {
                return;
            }
        }
        let mut followed = self
            .pause_followed
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        while *followed != paused && !self.acceptor_closed.load(Acquire) {
            // The timeout only covers an acceptor closing meanwhile.
            followed = self
                .pause_cv
                .wait_timeout(followed, Duration::from_millis(50))
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// A worker that may run the acceptor now runs on this thread.
    pub(crate) fn worker_started(&self) {
        self.acceptor_threads
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(std::thread::current().id());
    }

    /// The acceptor has followed `paused`.
    pub(crate) fn pause_followed(&self, paused: bool) {
        *self
            .pause_followed
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = paused;
        self.pause_cv.notify_all();
    }

    /// A connection closed and gives its slot back: wakes the acceptor if it
    /// waits at the connection limit (unless it runs on this thread, which
    /// looks before it waits) and the threads waiting for none to be open.
    pub(crate) fn release_slot(&self, acceptor_here: bool) {
        let before = self.active.fetch_sub(1, AcqRel);
        self.connection_closed();
        if before >= self.config.max_connections && !acceptor_here {
            if let Err(e) = self.remotes[0].waker.wake() {
                log::warn!("failed to wake the acceptor: {e}");
            }
        }
    }

    /// A connection closed: wakes the threads waiting for none to be open.
    pub(crate) fn connection_closed(&self) {
        if self.idle_waiters.load(Acquire) > 0 {
            // Taking the lock orders this with a waiter between its check
            // of `active` and its wait: no wake-up is lost.
            drop(
                self.idle_lock
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner),
            );
            self.idle_cv.notify_all();
        }
    }

    /// Waits until no connection is open or `deadline` passed; returns how
    /// many are open then.
    pub(crate) fn wait_idle(&self, deadline: Instant) -> usize {
        self.idle_waiters.fetch_add(1, AcqRel);
        let mut guard = self
            .idle_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let open = loop {
            let open = self.active.load(Acquire);
            let now = Instant::now();
            if open == 0 || now >= deadline {
                break open;
            }
            guard = self
                .idle_cv
                .wait_timeout(guard, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        };
        drop(guard);
        self.idle_waiters.fetch_sub(1, AcqRel);
        open
    }

    fn worker_exited(&self) {
        if self.running.fetch_sub(1, AcqRel) == 1 {
            log::info!("stopped serving on {}", AddrList(&self.local_addrs));
            *self.done.lock().unwrap_or_else(PoisonError::into_inner) = true;
            self.done_cv.notify_all();
        }
    }

    /// A snapshot of the counters.
    pub(crate) fn stats(&self) -> Stats {
        Stats::sum(self.counters.iter(), self.active.load(Acquire) as u64)
    }

    /// Whether every worker has exited.
    pub(crate) fn is_finished(&self) -> bool {
        *self.done.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until every worker has exited.
    pub(crate) fn wait_finished(&self) {
        let mut done = self.done.lock().unwrap_or_else(PoisonError::into_inner);
        while !*done {
            done = self
                .done_cv
                .wait(done)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Runs worker `seed` on this thread until the server stops.
    ///
    /// # Errors
    ///
    /// As [`Seed::run`].
    pub(crate) fn run_here(self: &Arc<Self>, seed: Seed) -> Result<()> {
        let result = seed.run(Arc::clone(self));
        self.worker_exited();
        if result.is_err() {
            self.begin_shutdown();
        }
        result
    }

    /// Starts each worker on a thread of its own; on failure, shuts down and
    /// joins those already started.
    ///
    /// # Errors
    ///
    /// [`Error::Spawn`] if a thread cannot start.
    pub(crate) fn spawn_workers(self: &Arc<Self>, seeds: Vec<Seed>) -> Result<()> {
        for seed in seeds {
            let index = seed.index();
            let name = format!("netecho-worker-{index}");
            let for_thread = Arc::clone(self);
            let spawned = std::thread::Builder::new()
                .name(name)
                .spawn(move || for_thread.run_here(seed));
            match spawned {
                Ok(thread) => self
                    .threads
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push((index, thread)),
                Err(source) => {
                    self.begin_shutdown();
                    let _ = self.join_threads();
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
    ///
    /// # Errors
    ///
    /// The first error a worker returned, or [`Error::WorkerPanicked`].
    pub(crate) fn join_threads(&self) -> Result<()> {
        join_workers(&self.threads)
    }
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("local_addrs", &self.local_addrs)
            .finish_non_exhaustive()
    }
}
