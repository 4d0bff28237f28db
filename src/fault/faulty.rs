//! [`Faulty`]: a handler wrapped in a set of faults.
//!
//! The wrapper calls its inner handler with the connection's own [`Conn`],
//! then takes what the inner handler wrote and asked for out of it before the
//! server sees it: output goes into a [`Schedule`] when it must wait, and
//! the inner handler's timer, close, pause and drain requests are kept here
//! and passed on when (and as) the faults allow. The connection has one
//! timer; the wrapper sets it to the earliest of its own deadlines and the
//! inner handler's, and calls the inner `on_timer` at the inner deadline.

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use super::control::Switch;
use super::plan::Cut;
use super::plan::Setup;
use super::rng::SplitMix64;
use super::schedule::{Schedule, What};
use crate::context::{Conn, TimerRequest};
use crate::handler::{CloseReason, Handler};

/// A handler wrapped in a set of [`Faults`](super::Faults): made by
/// [`Faults::wrap`](super::Faults::wrap) or [`Faults::factory`](super::Faults::factory).
///
/// It is a [`Handler`]: serve it, drive it in the
/// [test kit](crate::testing), or wrap it again.
///
/// # Memory
///
/// Output a fault holds back (latency, bandwidth, slices) is kept here until
/// it goes out, and counts against the
/// [write buffer limit](crate::TcpServerBuilder::write_buffer_limit): while
/// more than the limit is held, the connection stops reading from the peer
/// (and the inner handler's `on_drain` waits), so a slow fault cannot grow
/// memory without bound. A connection holding nothing holds no buffer.
///
/// At server shutdown, output still held back is dropped. Writes through a
/// [`ConnHandle`](crate::ConnHandle) go straight to the connection: the
/// faults see only what the handler writes in its callbacks.
pub struct Faulty<H> {
    inner: H,
    setup: Arc<Setup>,
    switch: Arc<Switch>,
    index: u64,
    picked: bool,
    rng: SplitMix64,
    schedule: Schedule,
    /// Inner output bytes counted, from the connection's start.
    written: u64,
    /// The byte-count fault is queued (nothing more goes out).
    cut: bool,
    inner_timer: Option<Instant>,
    /// The deadline the connection's timer is set to, by this wrapper.
    armed: Option<Instant>,
    inner_paused: bool,
    paused: bool,
    /// Held output went over the write buffer limit (until half of it).
    held_over: bool,
    inner_write_closed: bool,
    inner_close: bool,
    inner_drain: bool,
    abort_on_drain: bool,
    blackholed: bool,
    /// The connection is aborted (or refused): nothing more to do.
    done: bool,
    refused: bool,
    /// Reading is paused for the input bandwidth until then.
    input_until: Option<Instant>,
    abort_at: Option<Instant>,
    close_at: Option<Instant>,
}

impl<H> fmt::Debug for Faulty<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Faulty")
            .field("index", &self.index)
            .field("picked", &self.picked)
            .field("written", &self.written)
            .field("held", &self.schedule.held())
            .field("blackholed", &self.blackholed)
            .field("aborted", &self.done)
            .finish_non_exhaustive()
    }
}

impl<H> Faulty<H> {
    pub(crate) fn new(
        inner: H,
        setup: Arc<Setup>,
        switch: Arc<Switch>,
        index: u64,
        picked: bool,
        rng: SplitMix64,
    ) -> Self {
        Faulty {
            inner,
            setup,
            switch,
            index,
            picked,
            rng,
            schedule: Schedule::default(),
            written: 0,
            cut: false,
            inner_timer: None,
            armed: None,
            inner_paused: false,
            paused: false,
            held_over: false,
            inner_write_closed: false,
            inner_close: false,
            inner_drain: false,
            abort_on_drain: false,
            blackholed: false,
            done: false,
            refused: false,
            input_until: None,
            abort_at: None,
            close_at: None,
        }
    }

    /// The connection's index in its set: 0 for the first wrapped, and so on.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// Whether toxicity picked this connection for the faults.
    pub fn is_picked(&self) -> bool {
        self.picked
    }

    /// The wrapped handler.
    pub fn inner(&self) -> &H {
        &self.inner
    }

    /// The wrapped handler, mutably.
    pub fn inner_mut(&mut self) -> &mut H {
        &mut self.inner
    }

    /// Whether faults apply to this event: picked, and switched on.
    fn active(&self) -> bool {
        self.picked && self.switch.is_enabled()
    }
}

impl<H: Handler> Faulty<H> {
    /// Calls the inner handler, takes what it wrote and asked for, and acts.
    /// What an outer handler wrote before calling this one is not the inner
    /// handler's output: it is set aside and goes out first, untouched.
    fn run(&mut self, conn: &mut Conn, call: impl FnOnce(&mut H, &mut Conn)) {
        // The inner handler's output must all be in the output buffer, to be
        // cut, held or shaped (none of it sent from the input uncopied).
        let outer = conn.enter_inner();
        self.run_inner(conn, call);
        conn.leave_inner(outer);
    }

    fn run_inner(&mut self, conn: &mut Conn, call: impl FnOnce(&mut H, &mut Conn)) {
        let now = conn.now();
        let write_closed = conn.is_write_closed();
        if self.inner_write_closed {
            conn.set_write_closed(true);
        }
        call(&mut self.inner, conn);
        let asked = conn.take_requests(write_closed);
        match asked.timer {
            TimerRequest::Keep => {}
            TimerRequest::Set(after) => self.inner_timer = now.checked_add(after),
            TimerRequest::Cancel => self.inner_timer = None,
        }
        if let Some(paused) = asked.reading {
            self.inner_paused = paused;
        }
        if asked.drain {
            self.inner_drain = true;
        }
        if asked.abort {
            self.abort(conn);
            return;
        }
        let active = self.active();
        self.admit(conn, now, active);
        if !self.cut {
            if asked.close && !self.inner_close {
                self.inner_close = true;
                self.inner_write_closed = true;
                let delay = self.slow_close(active);
                self.schedule.push_end(What::Close, now, delay);
            } else if asked.shutdown_write && !self.inner_write_closed {
                self.inner_write_closed = true;
                let delay = self.slow_close(active);
                self.schedule.push_end(What::ShutdownWrite, now, delay);
            }
        }
        self.pump(conn, now, asked.reading == Some(false));
    }

    fn slow_close(&self, active: bool) -> std::time::Duration {
        if active {
            self.setup.plan.slow_close
        } else {
            std::time::Duration::ZERO
        }
    }

    /// Takes the inner handler's output of this callback: drops what comes
    /// after a cut, holds what must wait, leaves the rest to go out now.
    fn admit(&mut self, conn: &mut Conn, now: Instant, active: bool) {
        let plan = &self.setup.plan;
        let out = conn.output_mut();
        if self.cut || self.blackholed {
            out.clear();
            return;
        }
        if active {
            if let Some((limit, _)) = plan.cut() {
                let room = limit.saturating_sub(self.written);
                if out.len() as u64 > room {
                    out.truncate(usize::try_from(room).unwrap_or(usize::MAX));
                }
            }
        }
        self.written += out.len() as u64;
        let shaped = active && plan.shapes_output();
        if !out.is_empty() && (shaped || !self.schedule.is_empty()) {
            self.schedule
                .push_bytes(out, now, plan, shaped, &mut self.rng);
            out.clear();
        }
        if let (true, Some((limit, cut))) = (active, plan.cut()) {
            if self.written >= limit {
                self.cut = true;
                self.schedule
                    .push_end(What::Cut(cut), now, std::time::Duration::ZERO);
            }
        }
    }

    /// Releases what is due, then sets the connection's reading, drain and
    /// timer requests from the state. `resume` passes on the inner handler's
    /// `resume_reading`.
    fn pump(&mut self, conn: &mut Conn, now: Instant, resume: bool) {
        if self.done {
            return;
        }
        if self.abort_at.is_some_and(|t| t <= now) {
            self.abort(conn);
            return;
        }
        let mut out = std::mem::take(conn.output_mut());
        while let Some(what) = self.schedule.pop_due(now, &mut out) {
            match what {
                What::Bytes(_) => {}
                What::Close => conn.close(),
                What::ShutdownWrite => conn.shutdown_write(),
                What::Cut(Cut::Close) => {
                    conn.output_mut().append(&mut out);
                    conn.close();
                }
                What::Cut(Cut::Reset) => {
                    conn.output_mut().append(&mut out);
                    self.schedule.clear();
                    if conn.pending_write() > 0 {
                        // Send what came before the fault first.
                        self.abort_on_drain = true;
                        conn.notify_on_drain();
                    } else {
                        self.abort(conn);
                        return;
                    }
                }
                What::Cut(Cut::Blackhole) => {
                    self.blackholed = true;
                    self.schedule.clear();
                    if let Some(after) = self.setup.plan.blackhole_timeout {
                        self.close_at = now.checked_add(after);
                    }
                }
            }
        }
        // Output released in order after what the callback left: `out`
        // started as that, so put it back with the released bytes after it.
        let out_slot = conn.output_mut();
        if out_slot.is_empty() {
            *out_slot = out;
        } else {
            out_slot.append(&mut out);
        }
        if self.close_at.is_some_and(|t| t <= now) {
            self.close_at = None;
            conn.close();
        }
        if self.input_until.is_some_and(|t| t <= now) {
            self.input_until = None;
        }
        let limit = conn.write_buffer_limit();
        let held = self.schedule.held();
        if held > limit {
            self.held_over = true;
        } else if held <= limit / 2 {
            self.held_over = false;
        }
        let pause = self.inner_paused
            || self.blackholed
            || self.abort_on_drain
            || self.held_over
            || self.input_until.is_some();
        if pause {
            conn.pause_reading();
        } else if self.paused || resume {
            conn.resume_reading();
        }
        self.paused = pause;
        if self.inner_drain && self.schedule.is_empty() {
            conn.notify_on_drain();
        }
        let want = [
            self.inner_timer,
            self.schedule.next_at(),
            self.abort_at,
            self.close_at,
            self.input_until,
        ]
        .into_iter()
        .flatten()
        .min();
        if want != self.armed {
            match want {
                Some(at) => conn.set_timer(at.saturating_duration_since(now)),
                None => conn.cancel_timer(),
            }
            self.armed = want;
        }
    }

    fn abort(&mut self, conn: &mut Conn) {
        self.done = true;
        self.schedule.clear();
        conn.abort();
    }
}

impl<H: Handler> Handler for Faulty<H> {
    fn on_open(&mut self, conn: &mut Conn) {
        if self.active() {
            if self.setup.plan.refuse {
                self.refused = true;
                self.abort(conn);
                return;
            }
            if let Some(after) = self.setup.plan.reset_after_time {
                self.abort_at = conn.now().checked_add(after);
            }
        }
        self.run(conn, |h, c| h.on_open(c));
    }

    fn on_data(&mut self, conn: &mut Conn, data: &[u8]) {
        if self.done || self.blackholed || self.abort_on_drain {
            // Read after the fault paused reading, in the same event: lost,
            // as the fault means.
            return;
        }
        let rate = self.setup.plan.input_bandwidth;
        if rate > 0 && self.active() {
            let now = conn.now();
            let from = self.input_until.map_or(now, |t| t.max(now));
            self.input_until = from.checked_add(super::plan::transfer_time(data.len(), rate));
        }
        self.run(conn, |h, c| h.on_data(c, data));
    }

    fn on_read_closed(&mut self, conn: &mut Conn) {
        if self.done || self.blackholed {
            return;
        }
        self.run(conn, |h, c| h.on_read_closed(c));
    }

    fn on_idle_timeout(&mut self, conn: &mut Conn) {
        if self.done {
            return;
        }
        self.run(conn, |h, c| h.on_idle_timeout(c));
    }

    fn on_drain(&mut self, conn: &mut Conn) {
        if self.abort_on_drain {
            self.abort(conn);
            return;
        }
        if self.done {
            return;
        }
        if self.inner_drain && self.schedule.is_empty() {
            self.inner_drain = false;
            self.run(conn, |h, c| h.on_drain(c));
        } else {
            let now = conn.now();
            self.pump(conn, now, false);
        }
    }

    fn on_timer(&mut self, conn: &mut Conn) {
        // The connection's timer fired, so it is no longer set.
        self.armed = None;
        if self.done {
            return;
        }
        let now = conn.now();
        if self.inner_timer.is_some_and(|t| t <= now) {
            self.inner_timer = None;
            self.run(conn, |h, c| h.on_timer(c));
        } else {
            self.pump(conn, now, false);
        }
    }

    fn on_close(&mut self, reason: CloseReason) {
        if !self.refused {
            self.inner.on_close(reason);
        }
    }
}
