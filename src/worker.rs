//! The mio driver: one event loop per worker thread. It owns the sockets, the
//! poll, the timers and (on worker 0) the listener; connections and handlers
//! live in [`Connection`], which this file only drives.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io;
use std::net::SocketAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::Ordering::{AcqRel, Acquire, Release};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use slab::Slab;

use crate::conn::Conn;
use crate::connection::{Connection, Io, Step, panic_message};
use crate::error::{Error, Result};
use crate::handler::CloseReason;
use crate::push::{Push, Route};
use crate::server::Shared;
use crate::socket;
use crate::stats::bump;
use crate::stream::NetStream;
#[cfg(feature = "tls")]
use std::sync::atomic::Ordering::Relaxed;

/// The token of each worker's waker.
pub(crate) const WAKER: Token = Token(usize::MAX);
/// The token of the listener, on worker 0.
pub(crate) const LISTENER: Token = Token(usize::MAX - 1);

/// The one read buffer of a worker, shared by all its connections.
const READ_BUFFER: usize = 64 * 1024;
/// Connections accepted for one readiness event before serving others.
const ACCEPT_BUDGET: usize = 256;
/// First pause after running out of descriptors (or memory) on accept.
const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(5);
/// Longest pause after running out of descriptors on accept.
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);
/// At most one accept-error warning per this long.
const ACCEPT_WARN_EVERY: Duration = Duration::from_secs(1);

/// What other threads send a worker.
pub(crate) enum Msg {
    /// A connection accepted by worker 0 for this worker to serve.
    Conn(TcpStream, SocketAddr),
    /// A command from a connection's handle.
    Push(Push),
}

/// A connection and the driver's bookkeeping for it.
struct Entry {
    conn: Connection<NetStream>,
    /// The deadline of this connection's newest entry in the timer heap.
    timer_at: Option<Instant>,
}

/// Worker 0's listener and the state of accepting.
struct Acceptor {
    listener: TcpListener,
    next_worker: usize,
    /// Accepting paused after a resource error, until then.
    paused_until: Option<Instant>,
    backoff: Duration,
    /// Accepting paused because `max_connections` are open.
    at_limit: bool,
    /// The last accept returned with connections possibly left in the backlog.
    more: bool,
    last_warn: Option<Instant>,
    suppressed: u64,
}

/// What a worker starts from: `Send`, unlike the worker itself (its
/// handlers need not be), so it can move to the worker's thread.
pub(crate) struct Seed {
    pub(crate) index: usize,
    pub(crate) poll: Poll,
    pub(crate) inbox: Receiver<Msg>,
    pub(crate) listener: Option<TcpListener>,
}

impl Seed {
    /// Runs the worker's event loop on this thread until the server stops.
    pub(crate) fn run(self, shared: Arc<Shared>) -> Result<()> {
        let acceptor = self.listener.is_some();
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
    inbox: Receiver<Msg>,
    shared: Arc<Shared>,
    acceptor: Option<Acceptor>,
    conns: Slab<Entry>,
    timers: BinaryHeap<Reverse<(Instant, usize, u64)>>,
    /// The timer entries [`fire_timers`](Worker::fire_timers) is handling,
    /// kept for its allocation.
    due: Vec<(Instant, usize, u64)>,
    more: Vec<(usize, u64)>,
    next_id: u64,
    buf: Box<[u8]>,
    scratch: Conn,
    shutdown_deadline: Option<Instant>,
}

impl Worker {
    fn new(seed: Seed, shared: Arc<Shared>) -> Self {
        let Seed {
            index,
            poll,
            inbox,
            listener,
        } = seed;
        let scratch = Conn::new(
            shared.local_addr,
            Route {
                tx: shared.remotes[index].tx.clone(),
                waker: Some(Arc::clone(&shared.remotes[index].waker)),
            },
            shared.config.write_buffer_limit,
            Instant::now(),
        );
        Worker {
            index,
            poll,
            inbox,
            shared,
            acceptor: listener.map(|listener| Acceptor {
                listener,
                next_worker: 0,
                paused_until: None,
                backoff: ACCEPT_BACKOFF_MIN,
                at_limit: false,
                more: false,
                last_warn: None,
                suppressed: 0,
            }),
            conns: Slab::new(),
            timers: BinaryHeap::new(),
            due: Vec::new(),
            more: Vec::new(),
            next_id: 0,
            buf: vec![0; READ_BUFFER].into_boxed_slice(),
            scratch,
            shutdown_deadline: None,
        }
    }

    /// Runs the event loop until the server is shut down and every
    /// connection of this worker is closed.
    fn run(mut self) -> Result<()> {
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
                match event.token() {
                    WAKER => {}
                    LISTENER => self.accept(now),
                    Token(key) => {
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
                }
            }
            while let Ok(msg) = self.inbox.try_recv() {
                self.receive(msg, now);
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
            if let Some(deadline) = self.shutdown_deadline {
                if now >= deadline {
                    self.force_close_all();
                }
                if self.conns.is_empty() && self.shared.acceptor_closed.load(Acquire) {
                    // The acceptor closed after its last send: anything still
                    // in the inbox is here now.
                    match self.inbox.try_recv() {
                        Ok(msg) => self.receive(msg, now),
                        Err(_) => return Ok(()),
                    }
                }
            }
        }
    }

    fn receive(&mut self, msg: Msg, now: Instant) {
        match msg {
            Msg::Conn(stream, peer) => self.register(stream, peer, now),
            Msg::Push(Push { key, id, command }) => {
                if self.conns.get(key).is_some_and(|e| e.conn.id() == id) {
                    self.drive(key, now, |conn, io| conn.command(command, io));
                }
            }
        }
    }

    fn poll_timeout(&self, now: Instant) -> Option<Duration> {
        if !self.more.is_empty() || self.acceptor.as_ref().is_some_and(|a| a.more) {
            return Some(Duration::ZERO);
        }
        let mut at = self.shutdown_deadline;
        let mut earliest = |t: Option<Instant>| {
            if let Some(t) = t {
                at = Some(at.map_or(t, |a| a.min(t)));
            }
        };
        earliest(self.timers.peek().map(|Reverse((t, _, _))| *t));
        earliest(self.acceptor.as_ref().and_then(|a| a.paused_until));
        at.map(|t| t.saturating_duration_since(now))
    }

    /// Runs `f` on connection `key` with this worker's buffers, then acts on
    /// the step it returns.
    fn drive(
        &mut self,
        key: usize,
        now: Instant,
        f: impl FnOnce(&mut Connection<NetStream>, &mut Io<'_>) -> Step,
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
        let pending_before = entry.conn.pending_len();
        let step = f(&mut entry.conn, &mut io);
        let pending_after = entry.conn.pending_len();
        if pending_after != pending_before {
            let change = (pending_after as u64).wrapping_sub(pending_before as u64);
            bump(&self.shared.counters[self.index].buffered_bytes, change);
        }
        entry.conn.publish(step);
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
        if let Some(at) = entry.conn.deadline(&self.shared.config) {
            if entry.timer_at.is_none_or(|t| at < t) {
                entry.timer_at = Some(at);
                self.timers.push(Reverse((at, key, entry.conn.id())));
            }
        }
    }

    /// Runs `on_timer` for the connections whose deadline has passed.
    ///
    /// Only the entries due when it starts: a deadline that a callback sets
    /// already due (a zero timer set in `on_timer`) waits for the next turn
    /// of the loop, after the other connections' events, instead of looping
    /// here for ever.
    fn fire_timers(&mut self, now: Instant) {
        let mut due = std::mem::take(&mut self.due);
        while let Some(&Reverse(entry)) = self.timers.peek() {
            if entry.0 > now {
                break;
            }
            self.timers.pop();
            due.push(entry);
        }
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
        self.due = due;
    }

    /// Removes a connection; tells its handler unless it panicked.
    fn close(&mut self, key: usize, reason: Option<CloseReason>) {
        let Some(entry) = self.conns.try_remove(key) else {
            return;
        };
        let peer = entry.conn.peer_addr();
        let dropped = entry.conn.pending_len() as u64;
        {
            let counters = &self.shared.counters[self.index];
            if dropped > 0 {
                bump(&counters.buffered_bytes, dropped.wrapping_neg());
            }
            bump(&counters.closed, 1);
        }
        // Counters first, so that what `on_close` tells (a test, say) is
        // already in the stats.
        self.release_slot();
        let counters = &self.shared.counters[self.index];
        match reason {
            Some(reason) => {
                log::debug!("connection from {peer} closed: {reason:?}");
                entry.conn.finish(reason, counters);
            }
            None => log::debug!("connection from {peer} closed after a handler panic"),
        }
    }

    /// One connection fewer: wakes the acceptor if it waits at the limit.
    fn release_slot(&mut self) {
        let before = self.shared.active.fetch_sub(1, AcqRel);
        if before >= self.shared.config.max_connections && self.index != 0 {
            if let Err(e) = self.shared.remotes[0].waker.wake() {
                log::warn!("failed to wake the acceptor: {e}");
            }
        }
    }

    fn accept(&mut self, now: Instant) {
        let Some(acc) = self.acceptor.as_mut() else {
            return;
        };
        acc.more = false;
        if acc.paused_until.is_some() || acc.at_limit {
            return;
        }
        let shared = Arc::clone(&self.shared);
        let counters = &shared.counters[self.index];
        let workers = shared.remotes.len();
        let mut wake = vec![false; workers];
        let mut budget_spent = true;
        for _ in 0..ACCEPT_BUDGET {
            let Some(acc) = self.acceptor.as_mut() else {
                return;
            };
            if shared.active.load(Acquire) >= shared.config.max_connections {
                acc.at_limit = true;
                bump(&counters.deferred_at_limit, 1);
                log::debug!(
                    "{} connections open, the limit: accepting paused",
                    shared.config.max_connections
                );
                budget_spent = false;
                break;
            }
            match acc.listener.accept() {
                Ok((stream, peer)) => {
                    acc.backoff = ACCEPT_BACKOFF_MIN;
                    shared.active.fetch_add(1, AcqRel);
                    bump(&counters.accepted, 1);
                    let target = acc.next_worker;
                    acc.next_worker = (target + 1) % workers;
                    if target == self.index {
                        self.register(stream, peer, now);
                    } else {
                        match shared.remotes[target].tx.send(Msg::Conn(stream, peer)) {
                            Ok(()) => wake[target] = true,
                            // The worker is gone (it only leaves at shutdown).
                            Err(_) => {
                                bump(&counters.closed, 1);
                                self.release_slot();
                            }
                        }
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    budget_spent = false;
                    break;
                }
                Err(e) if is_transient_accept_error(&e) => {
                    bump(&counters.accept_errors, 1);
                    log::debug!("accept failed for one connection: {e}");
                }
                Err(e) => {
                    bump(&counters.accept_errors, 1);
                    acc.paused_until = Some(now + acc.backoff);
                    let pause = acc.backoff;
                    acc.backoff = (acc.backoff * 2).min(ACCEPT_BACKOFF_MAX);
                    if acc
                        .last_warn
                        .is_none_or(|t| now.duration_since(t) >= ACCEPT_WARN_EVERY)
                    {
                        log::warn!(
                            "accept failed on {}: {e}; pausing accepts for {pause:?} ({} more like it not logged)",
                            shared.local_addr,
                            acc.suppressed
                        );
                        acc.last_warn = Some(now);
                        acc.suppressed = 0;
                    } else {
                        acc.suppressed += 1;
                    }
                    budget_spent = false;
                    break;
                }
            }
        }
        if let Some(acc) = self.acceptor.as_mut() {
            acc.more = budget_spent;
        }
        for (target, _) in wake.iter().enumerate().filter(|(_, w)| **w) {
            if let Err(e) = shared.remotes[target].waker.wake() {
                log::warn!("failed to wake worker {target}: {e}");
            }
        }
    }

    /// Accepts again once a back-off has passed or a slot has freed up. The
    /// listener is edge-triggered, so connections left in the backlog raise no
    /// new event: accept now.
    fn resume_accepting(&mut self, now: Instant) {
        let max = self.shared.config.max_connections;
        let active = self.shared.active.load(Acquire);
        let Some(acc) = self.acceptor.as_mut() else {
            return;
        };
        let mut go = acc.more;
        if acc.paused_until.is_some_and(|t| now >= t) {
            acc.paused_until = None;
            go = true;
        }
        if acc.at_limit && active < max {
            acc.at_limit = false;
            log::debug!("below the connection limit again: accepting");
            go = true;
        }
        if go {
            self.accept(now);
        }
    }

    /// Takes a new connection: options, registration, handler, `on_open`.
    fn register(&mut self, tcp: TcpStream, peer: SocketAddr, now: Instant) {
        let shared = Arc::clone(&self.shared);
        let counters = &shared.counters[self.index];
        let Some(mut stream) = self.wrap(tcp, peer) else {
            bump(&counters.closed, 1);
            self.release_slot();
            return;
        };
        let stream_ref = stream.tcp();
        if let Err(e) = socket::configure_accepted(stream_ref, &shared.config) {
            log::debug!("failed to set options on the connection from {peer}: {e}");
        }
        let local = if shared.local_addr.ip().is_unspecified() {
            stream_ref.local_addr().unwrap_or(shared.local_addr)
        } else {
            shared.local_addr
        };
        let handler = match catch_unwind(AssertUnwindSafe(|| (shared.factory)())) {
            Ok(handler) => handler,
            Err(panic) => {
                bump(&counters.handler_panics, 1);
                log::warn!(
                    "handler factory panicked for the connection from {peer}: {}",
                    panic_message(&*panic).escape_debug()
                );
                bump(&counters.closed, 1);
                self.release_slot();
                return;
            }
        };
        let slot = self.conns.vacant_entry();
        let key = slot.key();
        let interest = Interest::READABLE | Interest::WRITABLE;
        if let Err(e) = self
            .poll
            .registry()
            .register(&mut stream, Token(key), interest)
        {
            log::warn!("failed to register the connection from {peer}: {e}");
            bump(&counters.closed, 1);
            self.release_slot();
            return;
        }
        let id = self.next_id;
        self.next_id += 1;
        slot.insert(Entry {
            conn: Connection::new(stream, peer, local, handler, now, key, id),
            timer_at: None,
        });
        log::debug!("connection from {peer} opened on worker {}", self.index);
        let shutting_down = self.shutdown_deadline.is_some();
        self.drive(key, now, |conn, io| match conn.open(io) {
            Step::Open if shutting_down => conn.shutdown(io),
            step => step,
        });
    }

    /// The connection's stream: TLS over the socket if the server speaks
    /// TLS; `None` (the socket closes) when this worker already has its
    /// cap of handshakes in progress.
    #[cfg_attr(not(feature = "tls"), allow(clippy::unused_self, unused_variables))]
    fn wrap(&self, tcp: TcpStream, peer: SocketAddr) -> Option<NetStream> {
        #[cfg(feature = "tls")]
        if let Some(acceptor) = &self.shared.config.tls {
            let counters = &self.shared.counters[self.index];
            let handshaking = counters.tls_handshaking.load(Relaxed);
            if handshaking >= acceptor.max_handshakes as u64 {
                bump(&counters.tls_refused, 1);
                log::debug!(
                    "refused the tls connection from {peer}: {handshaking} handshakes in progress"
                );
                return None;
            }
            return match acceptor.accept(tcp) {
                Ok(tls) => Some(NetStream::Tls(Box::new(tls))),
                Err(e) => {
                    log::warn!("cannot start tls for {peer}: {e}");
                    None
                }
            };
        }
        Some(NetStream::Tcp(tcp))
    }

    /// Stops accepting (closing the port) and closes every connection
    /// gracefully, with the shutdown timeout as the deadline.
    fn begin_shutdown(&mut self, now: Instant) {
        self.shutdown_deadline = Some(now + self.shared.config.shutdown_timeout);
        if let Some(mut acc) = self.acceptor.take() {
            if let Err(e) = self.poll.registry().deregister(&mut acc.listener) {
                log::debug!("failed to deregister the listener: {e}");
            }
            drop(acc);
            log::info!("stopped accepting on {}", self.shared.local_addr);
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

/// Accept errors that concern one connection only: skip it and go on.
/// Linux's accept(2) says to treat these like `EAGAIN` and retry.
fn is_transient_accept_error(e: &io::Error) -> bool {
    use io::ErrorKind::*;
    const EPROTO: i32 = 71;
    matches!(
        e.kind(),
        ConnectionAborted
            | ConnectionReset
            | Interrupted
            | PermissionDenied
            | HostUnreachable
            | NetworkUnreachable
            | NetworkDown
    ) || (cfg!(target_os = "linux") && e.raw_os_error() == Some(EPROTO))
}
