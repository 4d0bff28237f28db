//! The acceptor: worker 0's listeners, the accept loop, the back-off after
//! resource errors, and the pause at `max_connections`.
//!
//! Listeners are edge-triggered: an event says "maybe more", and only an
//! accept that returns `WouldBlock` says "no more". So each listener keeps a
//! `ready` flag from its event until that `WouldBlock`; while accepting is
//! paused the flag waits, and accepting resumes from it.

use std::io;
use std::sync::atomic::Ordering::{AcqRel, Acquire};
use std::time::{Duration, Instant};

use mio::{Interest, Registry, Token};

use crate::driver::{AddrList, NewConn, Shared};
use crate::stats::bump;
use crate::transport::Listener;

/// Connections accepted from one listener for one call before serving others.
const ACCEPT_BUDGET: usize = 256;
/// First pause after running out of descriptors (or memory) on accept.
const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(5);
/// Longest pause after running out of descriptors on accept.
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);
/// At most one accept-error warning per this long.
const ACCEPT_WARN_EVERY: Duration = Duration::from_secs(1);

/// Listener `i` has the token `LISTENER_BASE - i`, far from the connections'
/// slab keys.
const LISTENER_BASE: usize = usize::MAX - 1;

/// Where listeners wait for connections: a worker's mio registry, or the
/// pool's shared epoll set.
pub(crate) trait Registrar {
    /// Registers listener `i`: readable, edge-triggered.
    fn add(&self, listener: &mut Listener, i: usize) -> io::Result<()>;
    /// Deregisters a listener.
    fn remove(&self, listener: &mut Listener) -> io::Result<()>;
}

impl Registrar for Registry {
    fn add(&self, listener: &mut Listener, i: usize) -> io::Result<()> {
        self.register(listener, Token(LISTENER_BASE - i), Interest::READABLE)
    }

    fn remove(&self, listener: &mut Listener) -> io::Result<()> {
        self.deregister(listener)
    }
}

/// The listeners of a server and the state of accepting.
pub(crate) struct Acceptor {
    listeners: Vec<Listener>,
    /// Per listener: connections may be waiting in its backlog.
    ready: Vec<bool>,
    next_worker: usize,
    /// Accepting paused after a resource error, until then.
    paused_until: Option<Instant>,
    backoff: Duration,
    /// Accepting paused because `max_connections` are open.
    at_limit: bool,
    last_warn: Option<Instant>,
    suppressed: u64,
    /// Accepting paused by [`Shared::paused`]: the listeners are
    /// deregistered, their backlogs fill.
    paused: bool,
}

impl Acceptor {
    pub(crate) fn new(listeners: Vec<Listener>) -> Self {
        Acceptor {
            ready: vec![false; listeners.len()],
            listeners,
            next_worker: 0,
            paused_until: None,
            backoff: ACCEPT_BACKOFF_MIN,
            at_limit: false,
            last_warn: None,
            suppressed: 0,
            paused: false,
        }
    }

    /// Registers every listener with `registry`, readable, edge-triggered.
    pub(crate) fn register(&mut self, registry: &impl Registrar) -> io::Result<()> {
        for (i, listener) in self.listeners.iter_mut().enumerate() {
            registry.add(listener, i)?;
        }
        Ok(())
    }

    /// Deregisters and closes every listener (a Unix socket file the server
    /// created is removed).
    pub(crate) fn close(mut self, registry: &impl Registrar, shared: &Shared) {
        #[cfg(unix)]
        {
            // The copies kept for a successor go with the listeners.
            shared
                .handover
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clear();
            if shared.handed_over.load(Acquire) {
                self.listeners
                    .iter_mut()
                    .for_each(Listener::keep_socket_file);
            }
        }
        #[cfg(not(unix))]
        let _ = shared;
        if !self.paused {
            for listener in &mut self.listeners {
                if let Err(e) = registry.remove(listener) {
                    log::debug!("failed to deregister a listener: {e}");
                }
            }
        }
    }

    /// How many listeners there are.
    pub(crate) fn len(&self) -> usize {
        self.listeners.len()
    }

    /// The listener a token belongs to, if it is a listener's.
    pub(crate) fn listener_of(&self, token: Token) -> Option<usize> {
        let i = LISTENER_BASE.checked_sub(token.0)?;
        (i < self.listeners.len()).then_some(i)
    }

    /// Listener `i` has connections waiting.
    pub(crate) fn readable(&mut self, i: usize) {
        if let Some(ready) = self.ready.get_mut(i) {
            *ready = true;
        }
    }

    /// Whether an accept should run without waiting for an event.
    pub(crate) fn wants_to_run(&self) -> bool {
        self.paused_until.is_none()
            && !self.at_limit
            && !self.paused
            && self.ready.iter().any(|r| *r)
    }

    /// Follows [`Shared::paused`]: deregisters the listeners when paused (the
    /// ports stay bound; new connections wait in the backlogs), registers
    /// them again on resume and accepts what waited.
    pub(crate) fn follow_pause(&mut self, registry: &impl Registrar, shared: &Shared) {
        let paused = shared.paused.load(Acquire);
        if paused == self.paused {
            return;
        }
        self.paused = paused;
        for (i, listener) in self.listeners.iter_mut().enumerate() {
            let result = if paused {
                registry.remove(listener)
            } else {
                registry.add(listener, i)
            };
            if let Err(e) = result {
                log::warn!(
                    "failed to (de)register the listener on {}: {e}",
                    listener.local_addr()
                );
            }
        }
        shared.pause_followed(paused);
        if paused {
            log::info!("paused accepting on {}", self.describe(shared));
        } else {
            // Edge-triggered: what waited raised its event while deregistered.
            self.ready.iter_mut().for_each(|r| *r = true);
            log::info!("resumed accepting on {}", self.describe(shared));
        }
    }

    /// When a back-off pause ends.
    pub(crate) fn paused_until(&self) -> Option<Instant> {
        self.paused_until
    }

    /// Lifts a pause whose reason has gone (the back-off passed, a slot
    /// freed up); returns whether accepting should run now.
    pub(crate) fn resume(&mut self, now: Instant, shared: &Shared) -> bool {
        if self.paused_until.is_some_and(|t| now >= t) {
            self.paused_until = None;
        }
        if self.at_limit && shared.active.load(Acquire) < shared.config.max_connections {
            self.at_limit = false;
            log::debug!("below the connection limit again: accepting");
        }
        self.wants_to_run()
    }

    /// Accepts from every ready listener, up to a budget each, and hands each
    /// connection to `deliver` with the worker that is to serve it (in turn).
    /// `deliver` returns `false` if that worker is gone; the slot is then
    /// given back through `release`.
    pub(crate) fn accept(
        &mut self,
        now: Instant,
        shared: &Shared,
        worker: usize,
        mut deliver: impl FnMut(usize, NewConn) -> bool,
        mut release: impl FnMut(),
    ) {
        let counters = &shared.counters[worker];
        let workers = shared.remotes.len();
        for i in 0..self.listeners.len() {
            if !self.ready[i] {
                continue;
            }
            for _ in 0..ACCEPT_BUDGET {
                if self.paused_until.is_some() || self.at_limit || self.paused {
                    return;
                }
                if shared.active.load(Acquire) >= shared.config.max_connections {
                    self.at_limit = true;
                    bump(&counters.deferred_at_limit, 1);
                    log::debug!(
                        "{} connections open, the limit: accepting paused",
                        shared.config.max_connections
                    );
                    return;
                }
                match self.listeners[i].accept() {
                    Ok(accepted) => {
                        self.backoff = ACCEPT_BACKOFF_MIN;
                        shared.active.fetch_add(1, AcqRel);
                        shared.listener_active[i].fetch_add(1, AcqRel);
                        bump(&counters.accepted, 1);
                        let target = self.next_worker;
                        self.next_worker = (target + 1) % workers;
                        let conn = NewConn {
                            accepted,
                            listener: i,
                        };
                        if !deliver(target, conn) {
                            bump(&counters.closed, 1);
                            shared.listener_active[i].fetch_sub(1, AcqRel);
                            release();
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        self.ready[i] = false;
                        break;
                    }
                    Err(e) if is_transient_accept_error(&e) => {
                        bump(&counters.accept_errors, 1);
                        log::debug!("accept failed for one connection: {e}");
                    }
                    Err(e) => {
                        bump(&counters.accept_errors, 1);
                        self.paused_until = Some(now + self.backoff);
                        let pause = self.backoff;
                        self.backoff = (self.backoff * 2).min(ACCEPT_BACKOFF_MAX);
                        if self
                            .last_warn
                            .is_none_or(|t| now.duration_since(t) >= ACCEPT_WARN_EVERY)
                        {
                            log::warn!(
                                "accept failed on {}: {e}; pausing accepts for {pause:?} ({} more like it not logged)",
                                self.listeners[i].local_addr(),
                                self.suppressed
                            );
                            self.last_warn = Some(now);
                            self.suppressed = 0;
                        } else {
                            self.suppressed += 1;
                        }
                        return;
                    }
                }
            }
        }
    }

    /// The addresses, for the log.
    pub(crate) fn describe<'a>(&self, shared: &'a Shared) -> AddrList<'a> {
        AddrList(&shared.local_addrs)
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
