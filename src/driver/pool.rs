//! Shared readiness ([`Scheduling::Shared`](crate::Scheduling::Shared),
//! Linux): every worker of a server waits on one epoll set, so a ready
//! connection is served by whichever worker is free, and no connection waits
//! for one worker that waits for a CPU.
//!
//! The kernel does the leader/followers part: each readiness event wakes one
//! of the workers waiting in `epoll_wait` (they wait exclusively), and a
//! worker takes at most [`BATCH`] events per wait, so a worker that loses its
//! CPU holds few connections back.
//!
//! A connection is a [`Slot`]: its state behind a mutex that a worker takes
//! with `try_lock` (never waits for it), and a `pending` word where a worker
//! that found it taken leaves what happened (readable, a timer, a command,
//! the shutdown). The owner looks at `pending` after it unlocks and serves it
//! again if something came, so nothing is lost and no worker waits:
//!
//! - notifier: `pending |= what`, then `try_lock` (it may serve it itself);
//! - owner: unlock, fence, then read `pending`.
//!
//! With both orders sequentially consistent, either the owner sees the bits
//! after unlocking, or the notifier's `try_lock` comes after the unlock and
//! succeeds (or a third worker took the lock, and it looks in turn).
//!
//! On the uncontended path a message costs one `try_lock`, one unlock and one
//! load of the connection's own words: no lock or atomic shared between
//! connections. Timers live in a heap per worker (the worker that last moved
//! a connection's deadline earlier holds its entry); commands from handles
//! come through one channel, each to its connection's inbox. The listeners
//! are in the same epoll set and the acceptor behind a mutex taken with
//! `try_lock` the same way: the worker that accepts a connection opens it, so
//! a TLS handshake starts on the thread that accepted it.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release, SeqCst};
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU32, AtomicU64, AtomicUsize, fence};
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError, TryLockError};
use std::time::{Duration, Instant};

use rustix::buffer::spare_capacity;
use rustix::event::{EventfdFlags, Timespec, epoll, eventfd};
use slab::Slab;

use crate::context::Conn;
use crate::driver::acceptor::{Acceptor, Registrar};
use crate::driver::entry::{self, Entry, Timers};
use crate::driver::{NewConn, Shared};
use crate::error::{Error, Result};
use crate::handle::{Command, Push, Route, Wake};
use crate::handler::CloseReason;
use crate::state_machine::{Io, Step};
use crate::transport::Listener;

/// The one read buffer of a worker, shared by all the connections it serves.
const READ_BUFFER: usize = 64 * 1024;
/// Events taken per wait. What a worker has not served yet of its batch is on
/// its [`Board`], where idle workers take it, so a long callback or a lost
/// CPU holds back no other connection for long.
const BATCH: usize = 64;

/// How often a worker that watches the poller looks whether it is stuck (in
/// a long callback, or without a CPU) while it serves: the longest a ready
/// connection waits for a stuck poller.
const WATCH: Duration = Duration::from_millis(1);

/// Event data of the wake-up eventfd.
const WAKE: u64 = u64::MAX;
/// Event data of the stop eventfd.
const STOP: u64 = u64::MAX - 1;
/// Event data of listener `i`: `LISTENER_BASE - i`.
const LISTENER_BASE: u64 = u64::MAX - 2;
/// Connections' keys stay below this, so their event data (the low 32 bits
/// of the id above the key) never reaches the listeners' values.
const MAX_KEY: usize = 0xFFFF_0000;

/// What a connection's `pending` word (and a call to serve it) carries.
mod bits {
    /// The socket may be readable.
    pub(super) const READ: u16 = 1;
    /// The socket may be writable.
    pub(super) const WRITE: u16 = 1 << 1;
    /// The peer closed (or the socket failed): read until EOF.
    pub(super) const HUP: u16 = 1 << 2;
    /// A timer entry for it came due.
    pub(super) const TIMER: u16 = 1 << 3;
    /// Its inbox has commands from handles.
    pub(super) const COMMAND: u16 = 1 << 4;
    /// It yielded with work left (its read budget ran out).
    pub(super) const RESUME: u16 = 1 << 5;
    /// The server is shutting down: close gracefully.
    pub(super) const SHUTDOWN: u16 = 1 << 6;
    /// The shutdown timeout passed: close now.
    pub(super) const FORCE: u16 = 1 << 7;
    /// Just registered: open it.
    pub(super) const OPEN: u16 = 1 << 8;
}

/// An eventfd that wakes one waiting worker per write.
pub(crate) struct EventFd(OwnedFd);

impl EventFd {
    fn new() -> io::Result<Self> {
        Ok(EventFd(eventfd(
            0,
            EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK,
        )?))
    }
}

impl Wake for EventFd {
    fn wake(&self) -> io::Result<()> {
        match rustix::io::write(&self.0, &1u64.to_ne_bytes()) {
            // The counter is full: it is readable already.
            Ok(_) | Err(rustix::io::Errno::AGAIN) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// What the workers of a pool share besides [`Shared`].
pub(crate) struct Pool {
    epoll: OwnedFd,
    /// Edge-triggered: each write wakes one waiting worker (handles' pushes,
    /// the shutdown, a pause, a slot freed at the connection limit).
    pub(crate) wake: Arc<EventFd>,
    /// Level-triggered, written once when the server is done: wakes every
    /// worker, for good.
    stop: EventFd,
    table: Mutex<Slab<Arc<Slot>>>,
    next_id: AtomicU64,
    /// `None` once closed (at shutdown).
    acceptor: Mutex<Option<Acceptor>>,
    /// Per listener: an event came while another worker held the acceptor.
    listener_ready: Box<[AtomicBool]>,
    /// The acceptor has something to look at (a listener event, a pause, a
    /// freed slot) that its holder may not have seen.
    accept_pending: AtomicBool,
    pushes: Mutex<Receiver<Push>>,
    /// The shutdown's deadline, set by the worker that begins it.
    shutdown_at: OnceLock<Instant>,
    forced: AtomicBool,
    finished: AtomicBool,
    /// One per worker.
    boards: Box<[Board]>,
    /// A worker holds the poller's role: it waits for events (the others
    /// wait for it).
    poller: AtomicBool,
    /// The poller is in `epoll_wait`.
    waiting: AtomicBool,
    /// The poller's last wait filled its batch: more may be ready.
    full: AtomicBool,
    /// Bumped each time the poller returns from `epoll_wait`.
    progress: AtomicU64,
    /// A worker watches the poller (see [`PoolWorker::park`]).
    watched: AtomicBool,
    /// Workers parked with nothing to do.
    parked: AtomicUsize,
    /// Parked workers wait here for a turn to watch, their timers or the end.
    park: Mutex<u64>,
    park_cv: Condvar,
}

/// A worker's batch of readiness events, served in order by the worker and
/// taken by other workers before they wait: each event is claimed once, by
/// a compare-and-swap on `state`.
///
/// `state` is `generation << 32 | head << 16 | len`: events `head..len` are
/// unclaimed. Only the owner writes the events, and only once every event of
/// the last batch is claimed (`head == len`); it then bumps the generation.
/// A claimer reads event `head` before its swap, and uses it only if the
/// swap succeeds: `state` had not moved, so the owner had not started
/// writing a new batch (it only starts after `head` reached `len`, and a new
/// generation never equals the old).
struct Board {
    state: AtomicU64,
    data: [AtomicU64; BATCH],
    flags: [AtomicU32; BATCH],
}

impl Board {
    fn new() -> Self {
        Board {
            state: AtomicU64::new(0),
            data: std::array::from_fn(|_| AtomicU64::new(0)),
            flags: std::array::from_fn(|_| AtomicU32::new(0)),
        }
    }

    /// Posts a new batch (owner only, once the last is all claimed).
    fn post(&self, events: &[(u64, u32)]) {
        let n = events.len().min(BATCH);
        for (i, &(data, flags)) in events[..n].iter().enumerate() {
            self.data[i].store(data, Relaxed);
            self.flags[i].store(flags, Relaxed);
        }
        let generation = (self.state.load(Relaxed) >> 32).wrapping_add(1);
        self.state.store((generation << 32) | n as u64, Release);
    }

    /// Claims the next unclaimed event, if any.
    fn claim(&self) -> Option<(u64, u32)> {
        let mut state = self.state.load(Acquire);
        loop {
            let head = ((state >> 16) & 0xFFFF) as usize;
            let len = (state & 0xFFFF) as usize;
            if head >= len || head >= BATCH {
                return None;
            }
            let data = self.data[head].load(Relaxed);
            let flags = self.flags[head].load(Relaxed);
            match self
                .state
                .compare_exchange_weak(state, state + (1 << 16), AcqRel, Acquire)
            {
                Ok(_) => return Some((data, flags)),
                Err(now) => state = now,
            }
        }
    }
}

/// One connection of a pool.
struct Slot {
    key: usize,
    id: u64,
    /// `None` once closed.
    entry: Mutex<Option<Entry>>,
    /// What happened while another worker served it ([`bits`]).
    pending: AtomicU16,
    /// Commands from handles, in order, for whoever serves it next.
    inbox: Mutex<Vec<Command>>,
}

/// The pool's epoll set, for the acceptor's listeners.
struct Listeners<'a>(&'a OwnedFd);

impl Registrar for Listeners<'_> {
    fn add(&self, listener: &mut Listener, i: usize) -> io::Result<()> {
        epoll::add(
            self.0,
            listener.as_fd(),
            epoll::EventData::new_u64(LISTENER_BASE - i as u64),
            epoll::EventFlags::IN | epoll::EventFlags::ET,
        )?;
        Ok(())
    }

    fn remove(&self, listener: &mut Listener) -> io::Result<()> {
        epoll::delete(self.0, listener.as_fd())?;
        Ok(())
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Takes `m` if nobody holds it, never waiting. A poisoned lock is taken
/// too (handler panics are caught inside, so none should poison it).
fn try_take<T>(m: &Mutex<T>) -> Option<MutexGuard<'_, T>> {
    match m.try_lock() {
        Ok(guard) => Some(guard),
        Err(TryLockError::Poisoned(p)) => Some(p.into_inner()),
        Err(TryLockError::WouldBlock) => None,
    }
}

impl Pool {
    /// The epoll set with the listeners in it, and the wake-ups.
    pub(crate) fn new(
        workers: usize,
        mut acceptor: Acceptor,
        pushes: Receiver<Push>,
    ) -> io::Result<Self> {
        let epoll = epoll::create(epoll::CreateFlags::CLOEXEC)?;
        let wake = EventFd::new()?;
        let stop = EventFd::new()?;
        epoll::add(
            &epoll,
            &wake.0,
            epoll::EventData::new_u64(WAKE),
            epoll::EventFlags::IN | epoll::EventFlags::ET,
        )?;
        epoll::add(
            &epoll,
            &stop.0,
            epoll::EventData::new_u64(STOP),
            epoll::EventFlags::IN,
        )?;
        acceptor.register(&Listeners(&epoll))?;
        Ok(Pool {
            epoll,
            wake: Arc::new(wake),
            stop,
            table: Mutex::new(Slab::new()),
            next_id: AtomicU64::new(0),
            listener_ready: (0..acceptor.len())
                .map(|_| AtomicBool::new(false))
                .collect(),
            acceptor: Mutex::new(Some(acceptor)),
            accept_pending: AtomicBool::new(true),
            pushes: Mutex::new(pushes),
            shutdown_at: OnceLock::new(),
            forced: AtomicBool::new(false),
            finished: AtomicBool::new(false),
            boards: (0..workers).map(|_| Board::new()).collect(),
            poller: AtomicBool::new(false),
            waiting: AtomicBool::new(false),
            full: AtomicBool::new(false),
            progress: AtomicU64::new(0),
            watched: AtomicBool::new(false),
            parked: AtomicUsize::new(0),
            park: Mutex::new(0),
            park_cv: Condvar::new(),
        })
    }

    /// Wakes every worker for good: the server is done.
    fn finish(&self) {
        if !self.finished.swap(true, AcqRel) {
            if let Err(e) = self.stop.wake() {
                log::warn!("failed to stop the workers: {e}");
            }
            self.unpark(true);
        }
    }

    /// Wakes one parked worker (to watch), or all (to stop).
    fn unpark(&self, all: bool) {
        let mut token = lock(&self.park);
        *token = token.wrapping_add(1);
        if all {
            self.park_cv.notify_all();
        } else {
            self.park_cv.notify_one();
        }
    }
}

/// One worker of a pool.
pub(crate) struct PoolWorker {
    index: usize,
    /// This worker holds the poller's role.
    poller: bool,
    /// Its last wait filled the batch (as the poller).
    full: bool,
    shared: Arc<Shared>,
    pool: Arc<Pool>,
    /// The slots this worker has served, by key: looking one up takes no
    /// lock unless the key is new here or was reused.
    cache: Vec<Option<Arc<Slot>>>,
    timers: Timers,
    /// Connections that yielded with work left.
    more: Vec<Arc<Slot>>,
    /// The acceptor wants to run again without an event (its budget ran out).
    accept_again: bool,
    /// The acceptor's back-off ends then (as this worker last saw it).
    accept_at: Option<Instant>,
    accepted: Vec<NewConn>,
    /// Connections with new commands in their inboxes.
    woken: Vec<Arc<Slot>>,
    events: Vec<epoll::Event>,
    /// This wait's connection events, for the board.
    batch: Vec<(u64, u32)>,
    shutdown_deadline: Option<Instant>,
    buf: Box<[u8]>,
    scratch: Conn,
    #[cfg(feature = "metrics")]
    metrics: crate::metrics::WorkerMetrics,
}

impl PoolWorker {
    pub(crate) fn new(index: usize, shared: Arc<Shared>, pool: Arc<Pool>) -> Self {
        let remote = &shared.remotes[index];
        let scratch = Conn::new(
            Route {
                tx: remote.pushes.clone(),
                waker: Some(Arc::clone(&remote.waker)),
            },
            shared.config.write_buffer_limit,
            Instant::now(),
        );
        PoolWorker {
            index,
            poller: false,
            full: false,
            #[cfg(feature = "metrics")]
            metrics: crate::metrics::WorkerMetrics::new(&shared.local_addrs, Instant::now()),
            shared,
            pool,
            cache: Vec::new(),
            timers: Timers::default(),
            more: Vec::new(),
            accept_again: true,
            accept_at: None,
            accepted: Vec::new(),
            woken: Vec::new(),
            events: Vec::with_capacity(BATCH),
            batch: Vec::with_capacity(BATCH),
            shutdown_deadline: None,
            buf: vec![0; READ_BUFFER].into_boxed_slice(),
            scratch,
        }
    }

    /// Runs the event loop until the server is done.
    pub(crate) fn run(mut self) -> Result<()> {
        self.shared.worker_started();
        let mut now = Instant::now();
        loop {
            if self.pool.finished.load(Acquire) {
                self.exit(now);
                return Ok(());
            }
            if !self.poller && !self.pool.poller.swap(true, AcqRel) {
                self.poller = true;
            }
            // The poller waits; the others look (they wait in `park`).
            let timeout = if self.poller {
                self.timeout(now)
            } else {
                Some(Timespec {
                    tv_sec: 0,
                    tv_nsec: 0,
                })
            };
            self.events.clear();
            if self.poller {
                self.pool.waiting.store(true, SeqCst);
            }
            let waited = epoll::wait(
                &self.pool.epoll,
                spare_capacity(&mut self.events),
                timeout.as_ref(),
            );
            if self.poller {
                self.pool.waiting.store(false, SeqCst);
                self.pool.progress.fetch_add(1, SeqCst);
                let full = self.events.len() == BATCH;
                if full != self.full {
                    self.full = full;
                    self.pool.full.store(full, SeqCst);
                }
            }
            if self.poller || !self.events.is_empty() {
                // About to serve (and maybe stay in a callback for long):
                // someone must watch meanwhile.
                self.ensure_watched();
            }
            match waited {
                Ok(_) => {}
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => {
                    if self.poller {
                        // Another worker takes the role.
                        self.pool.poller.store(false, SeqCst);
                        self.pool.unpark(true);
                    }
                    return Err(Error::EventLoop {
                        worker: self.index,
                        source: e.into(),
                    });
                }
            }
            now = Instant::now();
            let mut woken = false;
            let mut accept = std::mem::take(&mut self.accept_again);
            for i in 0..self.events.len() {
                let event = self.events[i];
                let data = event.data.u64();
                match data {
                    WAKE => woken = true,
                    STOP => {}
                    _ if data <= LISTENER_BASE
                        && data > LISTENER_BASE - self.pool.listener_ready.len() as u64 =>
                    {
                        let i = (LISTENER_BASE - data) as usize;
                        self.pool.listener_ready[i].store(true, SeqCst);
                        accept = true;
                    }
                    _ => {
                        let flags = event.flags;
                        self.batch.push((data, flags.bits()));
                    }
                }
            }
            self.pool.boards[self.index].post(&self.batch);
            self.batch.clear();
            while let Some((data, flags)) = self.pool.boards[self.index].claim() {
                self.ready(data, flags, now);
            }
            if woken {
                // A pause, a resume or a freed slot may be what woke us.
                accept = true;
                self.take_pushes(now);
            }
            if self.shutdown_deadline.is_none() && self.shared.shutdown.load(Acquire) {
                self.begin_shutdown(now);
            }
            if self.accept_at.is_some_and(|t| now >= t) {
                self.accept_at = None;
                accept = true;
            }
            if accept {
                self.pool.accept_pending.store(true, SeqCst);
                self.accept(now);
            }
            for slot in std::mem::take(&mut self.more) {
                self.serve(&slot, bits::RESUME, now);
            }
            self.fire_timers(now);
            if let Some(deadline) = self.shutdown_deadline {
                if now >= deadline && !self.pool.forced.swap(true, AcqRel) {
                    self.force_close_all(now);
                }
                self.finish_if_done();
            }
            #[cfg(feature = "metrics")]
            self.metrics
                .flush(&self.shared.counters[self.index], now, false);
            let stole = self.steal();
            let idle =
                self.events.is_empty() && !stole && self.more.is_empty() && !self.accept_again;
            if !self.poller && idle {
                self.park(now);
                now = Instant::now();
            }
        }
    }

    /// Wakes a parked worker to watch the poller if nobody does.
    fn ensure_watched(&self) {
        if !self.pool.watched.load(SeqCst) && self.pool.parked.load(SeqCst) > 0 {
            self.pool.unpark(false);
        }
    }

    /// A worker that is not the poller and found nothing to do waits. One at
    /// a time watches the poller: every [`WATCH`] it looks whether the poller
    /// is stuck (no return from its callbacks since the last look) or
    /// overloaded (its batches fill up), and then goes to serve (the caller's
    /// loop); it stops watching once the poller has waited a whole tick for
    /// events. The others wait until they are needed (the poller comes back
    /// from a wait and nobody watches), their next timer or the end.
    fn park(&mut self, now: Instant) {
        let own = self.timeout_at();
        let pool = Arc::clone(&self.pool);
        if !pool.watched.swap(true, SeqCst) {
            let mut progress = pool.progress.load(SeqCst);
            let mut now = now;
            loop {
                let tick = now + WATCH;
                let until = own.map_or(tick, |t| t.min(tick));
                let token = lock(&pool.park);
                if !pool.finished.load(Acquire) {
                    let _ = pool
                        .park_cv
                        .wait_timeout(token, until.saturating_duration_since(now));
                }
                now = Instant::now();
                let seen = pool.progress.load(SeqCst);
                if pool.finished.load(Acquire) || own.is_some_and(|t| now >= t) {
                    // The end, or this worker's own timer.
                    pool.watched.store(false, SeqCst);
                    return;
                }
                if seen == progress && !pool.waiting.load(SeqCst) {
                    // Stuck (a long callback, or no CPU): serve what it
                    // left, in the caller's loop.
                    pool.watched.store(false, SeqCst);
                    return;
                }
                if seen != progress && pool.full.load(SeqCst) {
                    // Busy and more is ready than it takes at a time: help.
                    pool.watched.store(false, SeqCst);
                    return;
                }
                if seen == progress {
                    // Quiet: the poller waited all along. Stop watching,
                    // unless it came back meanwhile (it saw us watching and
                    // woke nobody): then watch on.
                    pool.watched.store(false, SeqCst);
                    let again = pool.progress.load(SeqCst);
                    if again == progress || pool.watched.swap(true, SeqCst) {
                        break;
                    }
                    progress = again;
                    continue;
                }
                progress = seen;
            }
        }
        let mut token = lock(&pool.park);
        let seen = *token;
        pool.parked.fetch_add(1, SeqCst);
        while *token == seen && !pool.finished.load(Acquire) {
            // A poller that came back found nobody watching and no one
            // parked yet: look again before waiting.
            if !pool.watched.load(SeqCst) && !pool.waiting.load(SeqCst) {
                break;
            }
            match own {
                Some(t) => {
                    let left = t.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    token = pool
                        .park_cv
                        .wait_timeout(token, left)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                }
                None => {
                    token = pool
                        .park_cv
                        .wait(token)
                        .unwrap_or_else(PoisonError::into_inner);
                }
            }
        }
        pool.parked.fetch_sub(1, SeqCst);
    }

    /// Serves what other workers have left on their boards (they are busy
    /// with one connection, or lost their CPU), before waiting.
    fn steal(&mut self) -> bool {
        let workers = self.pool.boards.len();
        let index = self.index;
        let mut stole = false;
        for other in (1..workers).map(|i| (index + i) % workers) {
            if let Some((data, flags)) = self.pool.boards[other].claim() {
                stole = true;
                self.ensure_watched();
                let now = Instant::now();
                self.ready(data, flags, now);
                while let Some((data, flags)) = self.pool.boards[other].claim() {
                    self.ready(data, flags, now);
                }
            }
        }
        stole
    }

    fn exit(&mut self, now: Instant) {
        #[cfg(feature = "metrics")]
        self.metrics
            .flush(&self.shared.counters[self.index], now, true);
        let _ = now;
    }

    fn timeout(&self, now: Instant) -> Option<Timespec> {
        if !self.more.is_empty() || self.accept_again {
            return Some(Timespec {
                tv_sec: 0,
                tv_nsec: 0,
            });
        }
        self.timeout_at().map(|t| {
            Timespec::try_from(t.saturating_duration_since(now)).unwrap_or(Timespec {
                tv_sec: i64::MAX,
                tv_nsec: 0,
            })
        })
    }

    /// When this worker must run next without an event: its first timer, the
    /// acceptor's back-off, the shutdown deadline, the metrics.
    fn timeout_at(&self) -> Option<Instant> {
        let mut at = self
            .shutdown_deadline
            .filter(|_| !self.pool.forced.load(Relaxed));
        let mut earliest = |t: Option<Instant>| {
            if let Some(t) = t {
                at = Some(at.map_or(t, |a| a.min(t)));
            }
        };
        earliest(self.timers.next());
        earliest(self.accept_at);
        #[cfg(feature = "metrics")]
        earliest(self.metrics.due(&self.shared.counters[self.index]));
        at
    }

    /// A readiness event of connection `data` (its key and the low bits of
    /// its id).
    fn ready(&mut self, data: u64, flags: u32, now: Instant) {
        use epoll::EventFlags as F;
        let flags = F::from_bits_retain(flags);
        let key = (data & 0xFFFF_FFFF) as usize;
        let id_low = (data >> 32) as u32;
        let Some(slot) = self.slot(key, |s| s.id as u32 == id_low) else {
            return;
        };
        let error = flags.contains(F::ERR);
        let hup =
            error || flags.contains(F::HUP) || (flags.contains(F::IN) && flags.contains(F::RDHUP));
        let mut what = 0;
        if flags.intersects(F::OUT) || error {
            what |= bits::WRITE;
        }
        if flags.intersects(F::IN | F::PRI) || hup {
            what |= bits::READ;
        }
        if hup {
            what |= bits::HUP;
        }
        self.serve(&slot, what, now);
        self.put_back(slot);
    }

    /// The slot of `key` if `matches` says it is the one meant, from the
    /// cache (taken out: give it back with [`put_back`](Self::put_back)) or
    /// else from the table.
    fn slot(&mut self, key: usize, matches: impl Fn(&Slot) -> bool) -> Option<Arc<Slot>> {
        if let Some(cached) = self.cache.get_mut(key) {
            if cached.as_deref().is_some_and(&matches) {
                return cached.take();
            }
        }
        let slot = lock(&self.pool.table)
            .get(key)
            .filter(|s| matches(s))
            .cloned()?;
        Some(slot)
    }

    fn put_back(&mut self, slot: Arc<Slot>) {
        let key = slot.key;
        if self.cache.len() <= key {
            self.cache.resize_with(key + 1, || None);
        }
        self.cache[key] = Some(slot);
    }

    /// Serves `slot` with `what` unless another worker serves it now; then
    /// leaves `what` in its `pending`, for that worker.
    fn serve(&mut self, slot: &Arc<Slot>, what: u16, now: Instant) {
        if let Some(guard) = try_take(&slot.entry) {
            self.serve_locked(slot, guard, what, now);
            return;
        }
        slot.pending.fetch_or(what, SeqCst);
        if let Some(guard) = try_take(&slot.entry) {
            self.serve_locked(slot, guard, 0, now);
        }
    }

    /// Serves the slot whose lock is held, then again as long as other
    /// workers left something in its `pending`.
    fn serve_locked<'s>(
        &mut self,
        slot: &'s Arc<Slot>,
        mut guard: MutexGuard<'s, Option<Entry>>,
        mut what: u16,
        now: Instant,
    ) {
        loop {
            if slot.pending.load(Relaxed) != 0 {
                what |= slot.pending.swap(0, SeqCst);
            }
            let Some(entry) = guard.as_mut() else {
                return;
            };
            match self.apply(slot, entry, what, now) {
                step @ (Step::Open | Step::Yield) => {
                    if let Some(at) = entry.reschedule(&self.shared) {
                        self.timers.push(at, slot.key, slot.id);
                    }
                    if step == Step::Yield {
                        self.more.push(Arc::clone(slot));
                    }
                }
                Step::Close(reason) => {
                    let entry = guard.take();
                    drop(guard);
                    if let Some(entry) = entry {
                        self.remove(slot, entry, Some(reason));
                    }
                    return;
                }
                Step::Panicked => {
                    let entry = guard.take();
                    drop(guard);
                    if let Some(entry) = entry {
                        self.remove(slot, entry, None);
                    }
                    return;
                }
            }
            drop(guard);
            fence(SeqCst);
            if slot.pending.load(SeqCst) == 0 {
                return;
            }
            guard = match try_take(&slot.entry) {
                Some(guard) => guard,
                None => return,
            };
            what = 0;
        }
    }

    /// Runs what `what` says on the connection; the first step that is not
    /// `Open` or `Yield` ends it.
    fn apply(&mut self, slot: &Slot, entry: &mut Entry, what: u16, now: Instant) -> Step {
        if what & bits::FORCE != 0 {
            return Step::Close(CloseReason::ShutdownTimeout);
        }
        let mut io = Io {
            buf: &mut self.buf,
            conn: &mut self.scratch,
            now,
            config: &self.shared.config,
            counters: &self.shared.counters[self.index],
        };
        let mut yielded = false;
        // Runs one call; a step that ends the connection ends `apply`.
        macro_rules! run {
            ($f:expr) => {
                match entry.step(&mut io, $f) {
                    Step::Open => {}
                    Step::Yield => yielded = true,
                    done => return done,
                }
            };
        }
        if what & bits::OPEN != 0 {
            let shutting_down =
                self.shutdown_deadline.is_some() || self.pool.shutdown_at.get().is_some();
            run!(|conn, io| match conn.open(io) {
                Step::Open if shutting_down => conn.shutdown(io),
                step => step,
            });
        }
        if what & bits::COMMAND != 0 {
            let commands = std::mem::take(&mut *lock(&slot.inbox));
            for command in commands {
                run!(|conn, io| conn.command(command, io));
            }
        }
        if what & (bits::READ | bits::WRITE | bits::HUP) != 0 {
            run!(|conn, io| {
                if what & bits::HUP != 0 {
                    conn.hang_up_announced();
                }
                let mut step = Step::Open;
                if what & bits::WRITE != 0 {
                    step = conn.writable(io);
                }
                if what & bits::READ != 0 && matches!(step, Step::Open | Step::Yield) {
                    step = conn.readable(io);
                }
                step
            });
        }
        if what & bits::RESUME != 0 {
            run!(|conn, io| conn.resume(io));
        }
        if what & bits::TIMER != 0 && entry.timer_at.is_some_and(|t| t <= now) {
            entry.timer_at = None;
            run!(|conn, io| conn.on_timer(io));
        }
        if what & bits::SHUTDOWN != 0 {
            run!(|conn, io| conn.shutdown(io));
        }
        if yielded { Step::Yield } else { Step::Open }
    }

    /// Removes a closed connection; tells its handler unless it panicked.
    fn remove(&mut self, slot: &Slot, entry: Entry, reason: Option<CloseReason>) {
        {
            let mut table = lock(&self.pool.table);
            if table.get(slot.key).is_some_and(|s| s.id == slot.id) {
                table.remove(slot.key);
            }
        }
        lock(&slot.inbox).clear();
        let counters = &self.shared.counters[self.index];
        let closing = entry.closed(
            &self.shared,
            counters,
            reason,
            #[cfg(feature = "metrics")]
            &mut self.metrics,
        );
        self.shared.release_slot(false);
        closing.finish(counters);
        if self.shutdown_deadline.is_some() {
            self.finish_if_done();
        }
    }

    /// During a shutdown: once the listeners are closed and no connection is
    /// left, the server is done.
    fn finish_if_done(&self) {
        if self.shared.acceptor_closed.load(Acquire) && self.shared.active.load(Acquire) == 0 {
            self.pool.finish();
        }
    }

    /// Runs `on_timer` for the connections whose deadline has passed.
    fn fire_timers(&mut self, now: Instant) {
        let mut due = self.timers.take_due(now);
        for (_, key, id) in due.drain(..) {
            if let Some(slot) = self.slot(key, |s| s.id == id) {
                self.serve(&slot, bits::TIMER, now);
                self.put_back(slot);
            }
        }
        self.timers.done(due);
    }

    /// Moves the handles' commands into their connections' inboxes and
    /// serves those connections.
    fn take_pushes(&mut self, now: Instant) {
        let mut woken = std::mem::take(&mut self.woken);
        {
            // Held while the commands go to the inboxes: two workers that
            // drain at once keep each connection's commands in order.
            let pool = Arc::clone(&self.pool);
            let pushes = lock(&pool.pushes);
            for Push { key, id, command } in pushes.try_iter() {
                if let Some(slot) = self.slot(key, |s| s.id == id) {
                    lock(&slot.inbox).push(command);
                    woken.push(Arc::clone(&slot));
                    self.put_back(slot);
                }
            }
        }
        for slot in woken.drain(..) {
            self.serve(&slot, bits::COMMAND, now);
        }
        self.woken = woken;
    }

    /// Runs the acceptor unless another worker runs it (which then looks
    /// again, as `accept_pending` says), and opens what it accepted.
    fn accept(&mut self, now: Instant) {
        let shared = Arc::clone(&self.shared);
        let mut released = 0;
        loop {
            let Some(mut guard) = try_take(&self.pool.acceptor) else {
                break;
            };
            self.pool.accept_pending.store(false, SeqCst);
            let Some(acc) = guard.as_mut() else {
                break;
            };
            for (i, ready) in self.pool.listener_ready.iter().enumerate() {
                if ready.swap(false, SeqCst) {
                    acc.readable(i);
                }
            }
            acc.follow_pause(&Listeners(&self.pool.epoll), &shared);
            if acc.resume(now, &shared) {
                let accepted = &mut self.accepted;
                acc.accept(
                    now,
                    &shared,
                    self.index,
                    |_, conn| {
                        accepted.push(conn);
                        true
                    },
                    || released += 1,
                );
            }
            self.accept_again = acc.wants_to_run();
            self.accept_at = acc.paused_until();
            drop(guard);
            fence(SeqCst);
            if !self.pool.accept_pending.load(SeqCst) {
                break;
            }
        }
        for _ in 0..released {
            shared.release_slot(false);
        }
        let mut accepted = std::mem::take(&mut self.accepted);
        for conn in accepted.drain(..) {
            self.register(conn, now);
        }
        self.accepted = accepted;
    }

    /// Takes a new connection: the table, the epoll set, `on_open`.
    fn register(&mut self, new: NewConn, now: Instant) {
        let shared = Arc::clone(&self.shared);
        let counters = &shared.counters[self.index];
        // The cap is per worker, so the pool's is that times the workers.
        let handshaking = || entry::handshakes_in_progress(&shared);
        let Some(admitted) =
            entry::admit(&shared, counters, new, handshaking, shared.config.workers)
        else {
            shared.release_slot(false);
            return;
        };
        let id = self.pool.next_id.fetch_add(1, Relaxed);
        let mut table = lock(&self.pool.table);
        let vacant = table.vacant_entry();
        let key = vacant.key();
        if key >= MAX_KEY {
            drop(table);
            let e = io::Error::other("too many connections for one server");
            admitted.unregistered(&shared, counters, &e);
            shared.release_slot(false);
            return;
        }
        let slot = Arc::new(Slot {
            key,
            id,
            entry: Mutex::new(None),
            pending: AtomicU16::new(0),
            inbox: Mutex::new(Vec::new()),
        });
        // Held from before the connection can raise an event: a worker that
        // gets one meanwhile leaves it in `pending`.
        let mut guard = lock(&slot.entry);
        vacant.insert(Arc::clone(&slot));
        drop(table);
        let data = (u64::from(id as u32) << 32) | key as u64;
        let added = epoll::add(
            &self.pool.epoll,
            admitted.accepted.stream.as_fd(),
            epoll::EventData::new_u64(data),
            epoll::EventFlags::IN
                | epoll::EventFlags::OUT
                | epoll::EventFlags::RDHUP
                | epoll::EventFlags::ET,
        );
        if let Err(e) = added {
            lock(&self.pool.table).remove(key);
            drop(guard);
            admitted.unregistered(&shared, counters, &e.into());
            shared.release_slot(false);
            return;
        }
        #[cfg(feature = "metrics")]
        self.metrics.opened(admitted.listener);
        *guard = Some(admitted.into_entry(&shared, now, key, id, self.index));
        self.serve_locked(&slot, guard, bits::OPEN, now);
        self.put_back(slot);
    }

    /// Closes the listeners and closes every connection gracefully, once for
    /// the pool; every worker learns the deadline.
    fn begin_shutdown(&mut self, now: Instant) {
        let mut first = false;
        let deadline = *self.pool.shutdown_at.get_or_init(|| {
            first = true;
            now + self.shared.config.shutdown_timeout
        });
        self.shutdown_deadline = Some(deadline);
        if !first {
            return;
        }
        let acceptor = lock(&self.pool.acceptor).take();
        if let Some(acc) = acceptor {
            let addrs = acc.describe(&self.shared).to_string();
            acc.close(&Listeners(&self.pool.epoll), &self.shared);
            log::info!("stopped accepting on {addrs}");
        }
        self.shared.acceptor_closed.store(true, Release);
        self.each_connection(bits::SHUTDOWN, now);
        self.finish_if_done();
    }

    fn force_close_all(&mut self, now: Instant) {
        let open = self.shared.active.load(Acquire);
        if open > 0 {
            log::debug!("shutdown timeout: closing {open} connections by force");
        }
        self.each_connection(bits::FORCE, now);
    }

    /// Serves every connection with `what` (or leaves it to its server).
    fn each_connection(&mut self, what: u16, now: Instant) {
        let slots: Vec<Arc<Slot>> = lock(&self.pool.table)
            .iter()
            .map(|(_, s)| Arc::clone(s))
            .collect();
        for slot in slots {
            self.serve(&slot, what, now);
        }
    }
}
