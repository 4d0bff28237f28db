//! One client thread: a single mio `Poll` driving a share of the connections.
//!
//! Life cycle: open and register the connections (bounded by the setup deadline), tell the
//! coordinator we are ready, wait for the common start instant, then run until the end of
//! the measured window, the hard deadline, or cancellation, whichever comes first.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token};

use super::Mode;
use super::conn::Conn;
use super::dial::Dialer;
use super::stats::{Progress, Tally};
use super::stream::{Target, Tls};
use super::tape::Tape;

/// At most this many connects in progress at once during setup.
const MAX_CONNECTING: usize = 128;
/// Longest single wait in `poll`, so cancellation is noticed promptly.
const MAX_WAIT: Duration = Duration::from_millis(200);
/// Shared read buffer.
const READ_BUF: usize = 64 * 1024;

/// Everything one worker needs.
#[derive(Debug)]
pub struct Job {
    pub addr: Target,
    pub mode: Mode,
    pub depth: u64,
    /// Connection numbers `first_id..first_id + count` (slots, in connect mode).
    pub first_id: u64,
    pub count: usize,
    pub tape: Arc<Tape>,
    pub progress: Arc<Progress>,
    pub cancel: Arc<AtomicBool>,
    pub setup_deadline: Instant,
    pub hard_deadline: Instant,
    pub warmup: Duration,
    pub duration: Duration,
    /// Speak TLS with this client configuration.
    pub tls: Option<Tls>,
}

/// The coordinator's go signal: the common start instant, or `None` to abort.
pub type Start = Option<Instant>;

struct Loop {
    poll: Poll,
    events: Events,
    buf: Vec<u8>,
    conns: Vec<Option<Conn>>,
    dialer: Dialer,
    echoes: u64,
}

/// Runs one worker; returns its tally, or the reason it could not start.
pub fn run(job: Job, ready: Sender<Result<(), String>>, start: Receiver<Start>) -> Tally {
    let mut lp = match Loop::new(job.count, job.first_id as u32) {
        Ok(lp) => lp,
        Err(e) => return abort(&job, &ready, format!("cannot create poll: {e}")),
    };
    if job.mode != Mode::Connect {
        if let Err(e) = lp.setup(&job) {
            return abort(&job, &ready, e);
        }
    }
    let _ = ready.send(Ok(()));
    let wait = job.hard_deadline.saturating_duration_since(Instant::now());
    let Ok(Some(t0)) = start.recv_timeout(wait) else {
        return Tally::new(job.hard_deadline, job.count);
    };
    let measure_from = t0 + job.warmup;
    let end = (measure_from + job.duration).min(job.hard_deadline);
    let mut tally = Tally::new(measure_from, job.count);
    match job.mode {
        Mode::Connect => lp.churn(&job, end, &mut tally),
        Mode::PingPong | Mode::Pipeline => {
            let now = Instant::now();
            for i in 0..lp.conns.len() {
                lp.kick(i, now, &job, &mut tally);
            }
            lp.stream(&job, end, &mut tally);
        }
        Mode::Idle => lp.stream(&job, end, &mut tally),
    }
    tally
}

fn abort(job: &Job, ready: &Sender<Result<(), String>>, why: String) -> Tally {
    let _ = ready.send(Err(why));
    Tally::new(job.hard_deadline, job.count)
}

impl Loop {
    fn new(count: usize, seed: u32) -> io::Result<Loop> {
        Ok(Loop {
            poll: Poll::new()?,
            events: Events::with_capacity(1024),
            buf: vec![0; READ_BUF],
            conns: (0..count).map(|_| None).collect(),
            dialer: Dialer::new(seed),
            echoes: 0,
        })
    }

    fn open(&mut self, job: &Job, slot: usize, id: u64, limit: u64) -> io::Result<()> {
        let now = Instant::now();
        let mut stream = self.dialer.connect(&job.addr)?;
        let interest = Interest::READABLE | Interest::WRITABLE;
        self.poll
            .registry()
            .register(&mut stream, Token(slot), interest)?;
        let depth = if job.mode == Mode::Pipeline {
            job.depth
        } else {
            1
        };
        let conn = Conn::new(stream.with_tls(job.tls.as_ref())?, id, depth, limit);
        let conn = if job.mode == Mode::Connect {
            conn.with_first_start(now)
        } else {
            conn
        };
        self.conns[slot] = Some(conn);
        Ok(())
    }

    /// Opens every connection; in idle mode each also echoes its one byte.
    fn setup(&mut self, job: &Job) -> Result<(), String> {
        let limit = if job.mode == Mode::Idle { 1 } else { 0 };
        let mut ready = vec![false; job.count];
        let (mut opened, mut n_ready) = (0, 0);
        while n_ready < job.count {
            while opened < job.count && opened - n_ready < MAX_CONNECTING {
                let id = job.first_id + opened as u64;
                self.open(job, opened, id, limit)
                    .map_err(|e| format!("connect to {} failed: {e}", job.addr))?;
                opened += 1;
            }
            let now = Instant::now();
            if now >= job.setup_deadline || job.cancel.load(Ordering::Relaxed) {
                return Err(format!(
                    "only {n_ready} of {} connections ready in time",
                    job.count
                ));
            }
            let wait = job
                .setup_deadline
                .saturating_duration_since(now)
                .min(MAX_WAIT);
            match self.poll.poll(&mut self.events, Some(wait)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(format!("poll: {e}")),
            }
            for ev in self.events.iter() {
                let i = ev.token().0;
                let Some(conn) = self.conns.get_mut(i).and_then(Option::as_mut) else {
                    continue;
                };
                let readable = ev.is_readable() || ev.is_read_closed() || ev.is_error();
                conn.on_event(
                    readable,
                    ev.is_writable(),
                    now,
                    &job.tape,
                    &mut self.buf,
                    &mut |_| {},
                )
                .map_err(|e| format!("connection {i} failed during setup: {e}"))?;
                let done = if limit == 0 {
                    conn.is_connected()
                } else {
                    conn.is_done()
                };
                if done && !ready[i] {
                    ready[i] = true;
                    n_ready += 1;
                }
            }
        }
        Ok(())
    }

    /// Lets connection `i` send without limit and starts its first writes.
    fn kick(&mut self, i: usize, now: Instant, job: &Job, tally: &mut Tally) {
        let Some(conn) = self.conns[i].as_mut() else {
            return;
        };
        conn.set_limit(u64::MAX);
        if let Err(e) = conn.pump(now, &job.tape) {
            tally.error(format!("connection {}: {e}", job.first_id + i as u64));
            self.conns[i] = None;
        }
    }

    /// Ping-pong, pipeline and idle: fixed connections until `end`.
    fn stream(&mut self, job: &Job, end: Instant, tally: &mut Tally) {
        while let Some(wait) = remaining(job, end) {
            if let Err(e) = self.poll.poll(&mut self.events, Some(wait)) {
                if e.kind() != io::ErrorKind::Interrupted {
                    tally.error(format!("poll: {e}"));
                    return;
                }
            }
            let (mut reqs, errs) = (self.echoes, tally.errors);
            for ev in self.events.iter() {
                let i = ev.token().0;
                let Some(conn) = self.conns.get_mut(i).and_then(Option::as_mut) else {
                    continue;
                };
                let now = Instant::now();
                let readable = ev.is_readable() || ev.is_read_closed() || ev.is_error();
                let mut on_echo = |lat| {
                    reqs += 1;
                    tally.echo(i, now, lat);
                };
                let res = conn.on_event(
                    readable,
                    ev.is_writable(),
                    now,
                    &job.tape,
                    &mut self.buf,
                    &mut on_echo,
                );
                if let Err(e) = res {
                    tally.error(format!("connection {}: {e}", job.first_id + i as u64));
                    self.conns[i] = None;
                }
            }
            job.progress.add(reqs - self.echoes, tally.errors - errs);
            self.echoes = reqs;
        }
    }

    /// Connect mode: each slot connects, echoes one message, closes, and starts over.
    fn churn(&mut self, job: &Job, end: Instant, tally: &mut Tally) {
        let mut serial = 0u64;
        let mut next_id = |slot: usize| {
            serial += 1;
            (job.first_id + slot as u64) << 32 | serial
        };
        while let Some(wait) = remaining(job, end) {
            let errs = tally.errors;
            for slot in 0..self.conns.len() {
                if self.conns[slot].is_none() {
                    if let Err(e) = self.open(job, slot, next_id(slot), 1) {
                        tally.error(format!("connect: {e}"));
                    }
                }
            }
            if let Err(e) = self.poll.poll(&mut self.events, Some(wait)) {
                if e.kind() != io::ErrorKind::Interrupted {
                    tally.error(format!("poll: {e}"));
                    return;
                }
            }
            let mut reqs = self.echoes;
            for ev in self.events.iter() {
                let slot = ev.token().0;
                let Some(conn) = self.conns.get_mut(slot).and_then(Option::as_mut) else {
                    continue;
                };
                let now = Instant::now();
                let readable = ev.is_readable() || ev.is_read_closed() || ev.is_error();
                let mut on_echo = |lat| {
                    reqs += 1;
                    tally.echo(slot, now, lat);
                };
                match conn.on_event(
                    readable,
                    ev.is_writable(),
                    now,
                    &job.tape,
                    &mut self.buf,
                    &mut on_echo,
                ) {
                    // Closing the socket also removes it from the epoll set.
                    Ok(()) if conn.is_done() => self.conns[slot] = None,
                    Ok(()) => {}
                    Err(e) => {
                        tally.error(format!("connect-mode connection: {e}"));
                        self.conns[slot] = None;
                    }
                }
            }
            job.progress.add(reqs - self.echoes, tally.errors - errs);
            self.echoes = reqs;
        }
    }
}

/// How long the next `poll` may wait, or `None` when the run is over.
fn remaining(job: &Job, end: Instant) -> Option<Duration> {
    let now = Instant::now();
    if now >= end || job.cancel.load(Ordering::Relaxed) {
        return None;
    }
    Some(end.saturating_duration_since(now).min(MAX_WAIT))
}
