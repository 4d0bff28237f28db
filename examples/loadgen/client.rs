//! Echo load client shared by the `loadgen` example and the `echo` bench.
//!
//! [`run`] splits the connections over `threads` worker threads (each one mio `Poll`),
//! waits until every connection is open, then starts all workers at one common instant
//! and reports warm-up end, progress and the end of the run to an observer callback.
//! Every echoed byte is checked against what was sent (see `tape.rs`).
//!
//! # Bounds
//!
//! Setup stops at `setup_timeout`; the run stops after `warmup + duration`; nothing
//! outlives `hard_timeout` from the call (in-flight messages are then abandoned).

#[path = "conn.rs"]
mod conn;
#[path = "dial.rs"]
mod dial;
#[path = "stats.rs"]
mod stats;
#[path = "stream.rs"]
mod stream;
#[path = "tape.rs"]
mod tape;
#[path = "worker.rs"]
mod worker;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

pub use stats::Report;
pub use stream::{Target, Tls};

use stats::Progress;
use tape::Tape;

/// What each connection does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Write one message, wait for its echo, repeat.
    PingPong,
    /// Keep `depth` messages in flight per connection.
    Pipeline,
    /// Connect, echo one message, close, repeat (measures connection rate).
    Connect,
    /// Open the connections, echo one byte on each, then hold them idle.
    Idle,
}

/// A load run.
#[derive(Debug, Clone)]
pub struct Config {
    /// The server: a TCP address or a Unix socket file.
    pub addr: Target,
    pub mode: Mode,
    /// Connections (concurrent connect loops in connect mode).
    pub connections: usize,
    /// Message size in bytes (idle mode always uses 1).
    pub size: usize,
    /// Messages in flight per connection (pipeline mode).
    pub depth: u64,
    pub threads: usize,
    pub warmup: Duration,
    pub duration: Duration,
    pub setup_timeout: Duration,
    pub hard_timeout: Duration,
    /// Set to stop the run early (e.g. from a Ctrl-C handler).
    pub cancel: Arc<AtomicBool>,
    /// Speak TLS (needs the `tls` feature to be `Some`).
    pub tls: Option<Tls>,
}

/// What the observer passed to [`run`] hears about, in order.
#[derive(Debug, Clone, Copy)]
pub enum Event {
    /// All connections are open (and, in idle mode, have echoed); traffic starts now.
    Started,
    /// Warm-up is over: the measured window starts now.
    Measuring,
    /// About once a second: echoes so far (warm-up included) and errors so far.
    Progress {
        elapsed: Duration,
        echoes: u64,
        errors: u64,
    },
    /// The measured window is over (or the run was cancelled).
    Finished,
}

/// Runs the load described by `cfg`.
///
/// # Errors
///
/// Returns a message when the connections cannot all be opened before the setup
/// timeout. Errors on established connections are counted in the [`Report`] instead.
pub fn run(cfg: &Config, observer: &mut dyn FnMut(Event)) -> Result<Report, String> {
    let called = Instant::now();
    let hard_deadline = called + cfg.hard_timeout;
    let size = if cfg.mode == Mode::Idle {
        1
    } else {
        cfg.size.max(1)
    };
    let tape = Arc::new(Tape::new(size));
    let progress = Arc::new(Progress::default());
    let threads = cfg.threads.clamp(1, cfg.connections.max(1));
    let (ready_tx, ready_rx) = mpsc::channel();
    let mut workers = Vec::with_capacity(threads);
    let mut first_id = 0;
    for t in 0..threads {
        let count = cfg.connections / threads + usize::from(t < cfg.connections % threads);
        let job = worker::Job {
            addr: cfg.addr.clone(),
            mode: cfg.mode,
            depth: cfg.depth.max(1),
            first_id,
            count,
            tape: Arc::clone(&tape),
            progress: Arc::clone(&progress),
            cancel: Arc::clone(&cfg.cancel),
            setup_deadline: called + cfg.setup_timeout,
            hard_deadline,
            warmup: cfg.warmup,
            duration: cfg.duration,
            tls: cfg.tls.clone(),
        };
        first_id += count as u64;
        let (start_tx, start_rx) = mpsc::channel();
        let ready_tx = ready_tx.clone();
        let handle = thread::Builder::new()
            .name(format!("loadgen-{t}"))
            .spawn(move || worker::run(job, ready_tx, start_rx))
            .map_err(|e| format!("cannot spawn worker thread: {e}"))?;
        workers.push((start_tx, handle));
    }
    drop(ready_tx);

    let setup = wait_ready(
        &ready_rx,
        threads,
        called + cfg.setup_timeout + Duration::from_secs(1),
    );
    let t0 = Instant::now();
    for (start_tx, _) in &workers {
        let _ = start_tx.send(setup.as_ref().ok().map(|()| t0));
    }
    let mut report = Report::empty(size);
    if setup.is_ok() {
        observer(Event::Started);
        report.elapsed = tick(cfg, t0, hard_deadline, &progress, observer);
    }
    for (_, handle) in workers {
        match handle.join() {
            Ok(tally) => report.merge(tally),
            Err(_) => report.errors += 1,
        }
    }
    setup.map(|()| report)
}

fn wait_ready(
    rx: &mpsc::Receiver<Result<(), String>>,
    n: usize,
    deadline: Instant,
) -> Result<(), String> {
    for _ in 0..n {
        let wait = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(wait) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err("workers did not get ready in time".to_string()),
        }
    }
    Ok(())
}

/// Sleeps through the run, telling the observer about phases and progress; returns the
/// length of the measured window.
fn tick(
    cfg: &Config,
    t0: Instant,
    hard: Instant,
    progress: &Progress,
    observer: &mut dyn FnMut(Event),
) -> Duration {
    let measure_from = t0 + cfg.warmup;
    let end = (measure_from + cfg.duration).min(hard);
    let mut measuring = false;
    let mut next_progress = t0 + Duration::from_secs(1);
    loop {
        let now = Instant::now();
        if !measuring && now >= measure_from {
            measuring = true;
            observer(Event::Measuring);
        }
        if now >= end || cfg.cancel.load(Ordering::Relaxed) {
            break;
        }
        if now >= next_progress {
            next_progress += Duration::from_secs(1);
            observer(Event::Progress {
                elapsed: now - t0,
                echoes: progress.requests.load(Ordering::Relaxed),
                errors: progress.errors.load(Ordering::Relaxed),
            });
        }
        let target = if measuring {
            end.min(next_progress)
        } else {
            measure_from
        };
        // Waking at most every 100 ms keeps cancellation responsive.
        thread::sleep(
            target
                .saturating_duration_since(now)
                .min(Duration::from_millis(100)),
        );
    }
    observer(Event::Finished);
    Instant::now()
        .min(end)
        .saturating_duration_since(measure_from)
}
