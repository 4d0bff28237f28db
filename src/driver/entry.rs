//! A connection as the drivers keep it, and what both of them do the same
//! way: opening one (the handshake cap, the handler from its factory),
//! stepping it (the buffered-bytes count, what its handles see) and closing
//! it (the counters, the log, `on_close`).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::Ordering::{AcqRel, Relaxed};
use std::time::Instant;

use crate::context::Endpoints;
use crate::driver::{NewConn, Shared};
use crate::handler::{CloseReason, Handler};
use crate::state_machine::{Connection, Io, Step, panic_message};
use crate::stats::{Counters, bump};
use crate::transport::{Accepted, Stream};

/// A connection and the driver's bookkeeping for it.
pub(crate) struct Entry {
    pub(crate) conn: Connection<Stream>,
    /// The deadline of this connection's newest entry in a timer heap.
    pub(crate) timer_at: Option<Instant>,
    /// When it opened, for the duration metric.
    #[cfg(feature = "metrics")]
    pub(crate) opened_at: Instant,
}

/// A new connection that passed [`admit`]: its handler is made.
pub(crate) struct Admitted {
    pub(crate) accepted: Accepted,
    pub(crate) listener: usize,
    pub(crate) handler: Box<dyn Handler>,
}

/// Takes a new connection or refuses it: the handshake cap (a flood of silent
/// TLS clients costs at most the cap in sessions), then the handler from the
/// listener's factory (a panic there refuses the connection).
///
/// `handshaking` is how many handshakes are in progress where the cap
/// applies, and `cap_scale` what the listener's per-worker cap is multiplied
/// by there. A refused connection is counted as closed and no longer counts
/// on its listener; the caller gives its slot back.
pub(crate) fn admit(
    shared: &Shared,
    counters: &Counters,
    new: NewConn,
    handshaking: impl FnOnce() -> u64,
    cap_scale: usize,
) -> Option<Admitted> {
    let NewConn { accepted, listener } = new;
    let peer = &accepted.peer;
    let refuse = || {
        bump(&counters.closed, 1);
        if let Some(count) = shared.listener_active.get(listener) {
            count.fetch_sub(1, AcqRel);
        }
    };
    if let Some(max) = accepted.stream.max_handshakes() {
        let handshaking = handshaking();
        if handshaking >= (max as u64).saturating_mul(cap_scale as u64) {
            bump(&counters.tls_refused, 1);
            log::debug!(
                "refused the tls connection from {peer}: {handshaking} handshakes in progress"
            );
            refuse();
            return None;
        }
    }
    let Some(factory) = shared.factories.get(listener) else {
        refuse();
        return None;
    };
    match catch_unwind(AssertUnwindSafe(|| factory())) {
        Ok(handler) => Some(Admitted {
            accepted,
            listener,
            handler,
        }),
        Err(panic) => {
            bump(&counters.handler_panics, 1);
            log::warn!(
                "handler factory panicked for the connection from {peer}: {}",
                panic_message(&*panic).escape_debug()
            );
            refuse();
            None
        }
    }
}

/// The sum of the workers' handshakes in progress: a handshake is counted by
/// the worker that started it and uncounted by the one that ended it.
pub(crate) fn handshakes_in_progress(shared: &Shared) -> u64 {
    shared.counters.iter().fold(0u64, |sum, c| {
        sum.wrapping_add(c.tls_handshaking.load(Relaxed))
    })
}

impl Admitted {
    /// The registration failed: counted as closed, no longer on its
    /// listener; the caller gives its slot back.
    pub(crate) fn unregistered(self, shared: &Shared, counters: &Counters, e: &std::io::Error) {
        log::warn!(
            "failed to register the connection from {}: {e}",
            self.accepted.peer
        );
        bump(&counters.closed, 1);
        if let Some(count) = shared.listener_active.get(self.listener) {
            count.fetch_sub(1, AcqRel);
        }
    }

    /// The connection, registered as `key` on `worker`.
    pub(crate) fn into_entry(
        self,
        shared: &Shared,
        now: Instant,
        key: usize,
        id: u64,
        worker: usize,
    ) -> Entry {
        let Admitted {
            accepted,
            listener,
            handler,
        } = self;
        log::debug!(
            "connection from {} to {} opened on worker {worker}",
            accepted.peer,
            accepted.local,
        );
        let endpoints = Endpoints {
            peer: accepted.peer,
            local: accepted.local,
            listener,
            peer_cred: accepted.peer_cred,
            tls: None,
            proxy: None,
        };
        let proxy = shared.proxies.get(listener).cloned().flatten();
        Entry {
            conn: Connection::new(accepted.stream, endpoints, handler, now, key, id)
                .with_proxy(proxy),
            timer_at: None,
            #[cfg(feature = "metrics")]
            opened_at: now,
        }
    }
}

impl Entry {
    /// Runs `f` on the connection, then keeps the buffered-bytes count and
    /// what the connection's handles see up to date.
    pub(crate) fn step(
        &mut self,
        io: &mut Io<'_>,
        f: impl FnOnce(&mut Connection<Stream>, &mut Io<'_>) -> Step,
    ) -> Step {
        let pending_before = self.conn.pending_len();
        let step = f(&mut self.conn, io);
        let pending_after = self.conn.pending_len();
        if pending_after != pending_before {
            let change = (pending_after as u64).wrapping_sub(pending_before as u64);
            bump(&io.counters.buffered_bytes, change);
        }
        self.conn.publish(step);
        step
    }

    /// Whether the connection's next deadline is earlier than its newest
    /// timer-heap entry: if so, records it and returns it, for the caller to
    /// push.
    pub(crate) fn reschedule(&mut self, shared: &Shared) -> Option<Instant> {
        let at = self.conn.deadline(&shared.config)?;
        if self.timer_at.is_none_or(|t| at < t) {
            self.timer_at = Some(at);
            Some(at)
        } else {
            None
        }
    }

    /// The connection is removed: counts it, tells its handler unless it
    /// panicked (`reason` is `None`). The caller gives its slot back first
    /// (through [`Shared::release_slot`]) so that what `on_close` tells is in
    /// the stats.
    pub(crate) fn closed(
        self,
        shared: &Shared,
        counters: &Counters,
        reason: Option<CloseReason>,
        #[cfg(feature = "metrics")] metrics: &mut crate::metrics::WorkerMetrics,
    ) -> Closing {
        let dropped = self.conn.pending_len() as u64;
        if dropped > 0 {
            bump(&counters.buffered_bytes, dropped.wrapping_neg());
        }
        bump(&counters.closed, 1);
        if let Some(count) = shared.listener_active.get(self.conn.listener()) {
            count.fetch_sub(1, AcqRel);
        }
        #[cfg(feature = "metrics")]
        metrics.closed(self.conn.listener(), reason, self.opened_at, Instant::now());
        Closing {
            conn: self.conn,
            reason,
        }
    }
}

/// A removed connection whose handler is still to be told.
pub(crate) struct Closing {
    conn: Connection<Stream>,
    reason: Option<CloseReason>,
}

impl Closing {
    /// Tells the handler (`on_close`) and drops the connection.
    pub(crate) fn finish(self, counters: &Counters) {
        let peer = self.conn.peer_addr();
        match self.reason {
            Some(reason) => {
                log::debug!("connection from {peer} closed: {reason:?}");
                self.conn.finish(reason, counters);
            }
            None => log::debug!("connection from {peer} closed after a handler panic"),
        }
    }
}

/// A timer entry: the deadline, the connection's key and id.
pub(crate) type Timer = (Instant, usize, u64);

/// A worker's timer heap, earliest first. An entry may be stale (its
/// connection closed, or its deadline moved): the caller checks.
#[derive(Default)]
pub(crate) struct Timers {
    heap: BinaryHeap<Reverse<Timer>>,
    /// The entries being fired, kept for the allocation.
    due: Vec<Timer>,
}

impl Timers {
    pub(crate) fn push(&mut self, at: Instant, key: usize, id: u64) {
        self.heap.push(Reverse((at, key, id)));
    }

    /// The earliest deadline.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((t, _, _))| *t)
    }

    /// Takes the entries due at `now`. Only those: a deadline a callback sets
    /// already due (a zero timer set in `on_timer`) waits for the next turn
    /// of the loop, after the other connections' events, instead of looping
    /// for ever. Give the list back with [`done`](Self::done).
    pub(crate) fn take_due(&mut self, now: Instant) -> Vec<Timer> {
        let mut due = std::mem::take(&mut self.due);
        while let Some(&Reverse(entry)) = self.heap.peek() {
            if entry.0 > now {
                break;
            }
            self.heap.pop();
            due.push(entry);
        }
        due
    }

    /// The list [`take_due`](Self::take_due) gave, emptied.
    pub(crate) fn done(&mut self, mut due: Vec<Timer>) {
        due.clear();
        self.due = due;
    }
}
