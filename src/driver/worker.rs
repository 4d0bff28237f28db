//! One worker: a mio event loop on its own thread. It owns its connections'
//! sockets, the poll, the timers and (on worker 0) the [`Acceptor`];
//! connections and handlers live in [`Connection`], which this file only
//! drives.

use std::io;
use std::sync::Arc;
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token};
use slab::Slab;

use crate::context::Conn;
use crate::driver::acceptor::Acceptor;
use crate::driver::entry::{self, Entry, Timers};
use crate::driver::{NewConn, Shared, WAKER};
use crate::error::{Error, Result};
use crate::handle::{Push, Route};
use crate::handler::CloseReason;
use crate::state_machine::{Connection, Io, Step};
use crate::transport::Stream;

/// The one read buffer of a worker, shared by all its connections.
const READ_BUFFER: usize = 64 * 1024;

/// What a worker starts from: `Send`, unlike the worker itself (its
/// handlers need not be), so it can move to the worker's thread.
pub(crate) struct WorkerSeed {
    pub(crate) index: usize,
    pub(crate) poll: Poll,
    pub(crate) conns: Receiver<NewConn>,
    pub(crate) pushes: Receiver<Push>,
    pub(crate) acceptor: Option<Acceptor>,
}

impl WorkerSeed {
    /// Runs the worker's event loop on this thread until the server stops.
    pub(crate) fn run(self, shared: Arc<Shared>) -> Result<()> {
        let acceptor = self.acceptor.is_some();
        let result = Worker::new(self, Arc::clone(&shared)).run();
        if acceptor && !shared.acceptor_closed.swap(true, AcqRel) {
            // Worker 0 failed before closing the listener in a shutdown: the
            // others must not wait for connections from it.
            for remote in &shared.remotes {
                let _ = remote.waker.wake();
            }
        }
        result
    }
}

/// One worker: a poll, its connections and timers.
pub(crate) struct Worker {
    index: usize,
    poll: Poll,
    conns_rx: Receiver<NewConn>,
    pushes: Receiver<Push>,
    shared: Arc<Shared>,
    acceptor: Option<Acceptor>,
    conns: Slab<Entry>,
    timers: Timers,
    more: Vec<(usize, u64)>,
    /// Which workers to wake after an accept batch (kept to save allocating).
    wake: Vec<bool>,
    next_id: u64,
    buf: Box<[u8]>,
    scratch: Conn,
    shutdown_deadline: Option<Instant>,
    #[cfg(feature = "metrics")]
    metrics: crate::metrics::WorkerMetrics,
}

impl Worker {
    fn new(seed: WorkerSeed, shared: Arc<Shared>) -> Self {
        let WorkerSeed {
            index,
            poll,
            conns,
            pushes,
            acceptor,
        } = seed;
        let waker = Arc::clone(&shared.remotes[index].waker);
        let scratch = Conn::new(
            Route {
                tx: shared.remotes[index].pushes.clone(),
                waker: Some(waker),
            },
            shared.config.write_buffer_limit,
            Instant::now(),
        );
        Worker {
            index,
            poll,
            conns_rx: conns,
            pushes,
            wake: vec![false; shared.remotes.len()],
            shared: Arc::clone(&shared),
            acceptor,
            conns: Slab::new(),
            timers: Timers::default(),
            more: Vec::new(),
            next_id: 0,
            buf: vec![0; READ_BUFFER].into_boxed_slice(),
            scratch,
            shutdown_deadline: None,
            #[cfg(feature = "metrics")]
            metrics: crate::metrics::WorkerMetrics::new(&shared.local_addrs, Instant::now()),
        }
    }

    /// Runs the event loop until the server is shut down and every
    /// connection of this worker is closed.
    fn run(mut self) -> Result<()> {
        if let Some(acc) = self.acceptor.as_mut() {
            self.shared.worker_started();
            // Paused before serving: no accept, even in the first batch.
            acc.follow_pause(self.poll.registry(), &self.shared);
        }
        let mut events = Events::with_capacity(1024);
        let mut now = Instant::now();
        loop {
            let timeout = self.poll_timeout(now);
            if let Err(source) = self.poll.poll(&mut events, timeout) {
                if source.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(Error::EventLoop {
                    worker: self.index,
                    source,
                });
            }
            now = Instant::now();
            for event in events.iter() {
                let token = event.token();
                if token == WAKER {
                    continue;
                }
                if let Some(acc) = self.acceptor.as_mut() {
                    if let Some(i) = acc.listener_of(token) {
                        acc.readable(i);
                        self.accept(now);
                        continue;
                    }
                }
                let Token(key) = token;
                let writable = event.is_writable() || event.is_error();
                let hup = event.is_read_closed() || event.is_error();
                let readable = event.is_readable() || hup;
                self.drive(key, now, |conn, io| {
                    if hup {
                        conn.hang_up_announced();
                    }
                    let mut step = Step::Open;
                    if writable {
                        step = conn.writable(io);
                    }
                    if readable && matches!(step, Step::Open | Step::Yield) {
                        step = conn.readable(io);
                    }
                    step
                });
            }
            while let Ok(conn) = self.conns_rx.try_recv() {
                self.register(conn, now);
            }
            while let Ok(push) = self.pushes.try_recv() {
                self.receive(push, now);
            }
            if self.shutdown_deadline.is_none() && self.shared.shutdown.load(Acquire) {
                self.begin_shutdown(now);
            }
            self.resume_accepting(now);
            for (key, id) in std::mem::take(&mut self.more) {
                if self.conns.get(key).is_some_and(|e| e.conn.id() == id) {
                    self.drive(key, now, |conn, io| conn.resume(io));
                }
            }
            self.fire_timers(now);
            #[cfg(feature = "metrics")]
            self.metrics
                .flush(&self.shared.counters[self.index], now, false);
            if let Some(deadline) = self.shutdown_deadline {
                if now >= deadline {
                    self.force_close_all();
                }
                if self.conns.is_empty() && self.shared.acceptor_closed.load(Acquire) {
                    // The acceptor closed after its last send: any connection
                    // still in the inbox is here now.
                    match self.conns_rx.try_recv() {
                        Ok(conn) => self.register(conn, now),
                        Err(_) => {
                            #[cfg(feature = "metrics")]
                            self.metrics
                                .flush(&self.shared.counters[self.index], now, true);
                            return Ok(());
                        }
                    }
                }
            }
        }
    }

    fn receive(&mut self, push: Push, now: Instant) {
        let Push { key, id, command } = push;
        if self.conns.get(key).is_some_and(|e| e.conn.id() == id) {
            self.drive(key, now, |conn, io| conn.command(command, io));
        }
    }

    fn poll_timeout(&self, now: Instant) -> Option<Duration> {
        if !self.more.is_empty() || self.acceptor.as_ref().is_some_and(Acceptor::wants_to_run) {
            return Some(Duration::ZERO);
        }
        let mut at = self.shutdown_deadline;
        let mut earliest = |t: Option<Instant>| {
            if let Some(t) = t {
                at = Some(at.map_or(t, |a| a.min(t)));
            }
        };
        earliest(self.timers.next());
        earliest(self.acceptor.as_ref().and_then(Acceptor::paused_until));
        #[cfg(feature = "metrics")]
        earliest(self.metrics.due(&self.shared.counters[self.index]));
        at.map(|t| t.saturating_duration_since(now))
    }

    /// Runs `f` on connection `key` with this worker's buffers, then acts on
    /// the step it returns.
    fn drive(
        &mut self,
        key: usize,
        now: Instant,
        f: impl FnOnce(&mut Connection<Stream>, &mut Io<'_>) -> Step,
    ) {
        let Some(entry) = self.conns.get_mut(key) else {
            return;
        };
        let mut io = Io {
            buf: &mut self.buf,
            conn: &mut self.scratch,
            now,
            config: &self.shared.config,
            counters: &self.shared.counters[self.index],
        };
        let step = entry.step(&mut io, f);
        match step {
            Step::Open => self.schedule(key),
            Step::Yield => {
                let id = entry.conn.id();
                self.more.push((key, id));
                self.schedule(key);
            }
            Step::Close(reason) => self.close(key, Some(reason)),
            Step::Panicked => self.close(key, None),
        }
    }

    /// Puts the connection's next deadline in the timer heap, unless an
    /// earlier entry for it is already there.
    fn schedule(&mut self, key: usize) {
        let Some(entry) = self.conns.get_mut(key) else {
            return;
        };
        if let Some(at) = entry.reschedule(&self.shared) {
            self.timers.push(at, key, entry.conn.id());
        }
    }

    /// Runs `on_timer` for the connections whose deadline has passed.
    fn fire_timers(&mut self, now: Instant) {
        let mut due = self.timers.take_due(now);
        for (at, key, id) in due.drain(..) {
            let Some(entry) = self.conns.get_mut(key) else {
                continue;
            };
            if entry.conn.id() != id || entry.timer_at != Some(at) {
                continue;
            }
            entry.timer_at = None;
            self.drive(key, now, |conn, io| conn.on_timer(io));
        }
        self.timers.done(due);
    }

    /// Removes a connection; tells its handler unless it panicked.
    fn close(&mut self, key: usize, reason: Option<CloseReason>) {
        let Some(entry) = self.conns.try_remove(key) else {
            return;
        };
        let closing = entry.closed(
            &self.shared,
            &self.shared.counters[self.index],
            reason,
            #[cfg(feature = "metrics")]
            &mut self.metrics,
        );
        self.release_slot();
        closing.finish(&self.shared.counters[self.index]);
    }

    /// One connection fewer: wakes the acceptor if it waits at the limit.
    fn release_slot(&mut self) {
        self.shared.release_slot(self.index == 0);
    }

    /// Accepts what the ready listeners have, registering the connections
    /// for this worker and sending the others theirs.
    fn accept(&mut self, now: Instant) {
        let Some(mut acc) = self.acceptor.take() else {
            return;
        };
        let shared = Arc::clone(&self.shared);
        let mut wake = std::mem::take(&mut self.wake);
        let mut released = 0;
        acc.accept(
            now,
            &shared,
            self.index,
            |target, conn| {
                if target == self.index {
                    self.register(conn, now);
                    true
                } else if shared.remotes[target]
                    .conns
                    .as_ref()
                    .is_some_and(|tx| tx.send(conn).is_ok())
                {
                    wake[target] = true;
                    true
                } else {
                    // The worker is gone (it only leaves at shutdown).
                    false
                }
            },
            || released += 1,
        );
        self.acceptor = Some(acc);
        for _ in 0..released {
            self.release_slot();
        }
        for (target, w) in wake.iter_mut().enumerate() {
            if std::mem::take(w) {
                if let Err(e) = shared.remotes[target].waker.wake() {
                    log::warn!("failed to wake worker {target}: {e}");
                }
            }
        }
        self.wake = wake;
    }

    /// Accepts again once a back-off has passed or a slot has freed up, or
    /// when a listener's budget ran out with connections left: listeners are
    /// edge-triggered, so connections left in a backlog raise no new event.
    fn resume_accepting(&mut self, now: Instant) {
        let shared = Arc::clone(&self.shared);
        if let Some(acc) = self.acceptor.as_mut() {
            acc.follow_pause(self.poll.registry(), &shared);
        }
        if self
            .acceptor
            .as_mut()
            .is_some_and(|acc| acc.resume(now, &shared))
        {
            self.accept(now);
        }
    }

    /// Takes a new connection: registration, handler, `on_open`.
    fn register(&mut self, new: NewConn, now: Instant) {
        let shared = Arc::clone(&self.shared);
        let counters = &shared.counters[self.index];
        // The cap is per worker: this worker's handshakes.
        let handshaking = || counters.tls_handshaking.load(Relaxed);
        let Some(mut admitted) = entry::admit(&shared, counters, new, handshaking, 1) else {
            self.release_slot();
            return;
        };
        let slot = self.conns.vacant_entry();
        let key = slot.key();
        let interest = Interest::READABLE | Interest::WRITABLE;
        if let Err(e) =
            self.poll
                .registry()
                .register(&mut admitted.accepted.stream, Token(key), interest)
        {
            admitted.unregistered(&shared, counters, &e);
            self.release_slot();
            return;
        }
        let id = self.next_id;
        self.next_id += 1;
        let listener = admitted.listener;
        slot.insert(admitted.into_entry(&shared, now, key, id, self.index));
        #[cfg(feature = "metrics")]
        self.metrics.opened(listener);
        #[cfg(not(feature = "metrics"))]
        let _ = listener;
        let shutting_down = self.shutdown_deadline.is_some();
        self.drive(key, now, |conn, io| match conn.open(io) {
            Step::Open if shutting_down => conn.shutdown(io),
            step => step,
        });
    }

    /// Stops accepting (closing the port) and closes every connection
    /// gracefully, with the shutdown timeout as the deadline.
    fn begin_shutdown(&mut self, now: Instant) {
        self.shutdown_deadline = Some(now + self.shared.config.shutdown_timeout);
        if let Some(acc) = self.acceptor.take() {
            let shared = Arc::clone(&self.shared);
            let addrs = acc.describe(&shared).to_string();
            acc.close(self.poll.registry(), &shared);
            log::info!("stopped accepting on {addrs}");
            self.shared.acceptor_closed.store(true, Release);
            for (i, remote) in self.shared.remotes.iter().enumerate() {
                if i != self.index {
                    if let Err(e) = remote.waker.wake() {
                        log::warn!("failed to wake worker {i}: {e}");
                    }
                }
            }
        }
        let keys: Vec<usize> = self.conns.iter().map(|(key, _)| key).collect();
        for key in keys {
            self.drive(key, now, |conn, io| conn.shutdown(io));
        }
    }

    fn force_close_all(&mut self) {
        let keys: Vec<usize> = self.conns.iter().map(|(key, _)| key).collect();
        if !keys.is_empty() {
            log::debug!(
                "shutdown timeout: closing {} connections by force",
                keys.len()
            );
        }
        for key in keys {
            self.close(key, Some(CloseReason::ShutdownTimeout));
        }
    }
}
