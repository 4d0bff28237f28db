//! Counters and latency histogram of a run, per worker thread and merged.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

/// Keep this many error messages as examples.
const ERROR_SAMPLES: usize = 5;

/// Live totals for the progress line, shared by all workers (updated once per poll round).
#[derive(Debug, Default)]
pub struct Progress {
    pub requests: AtomicU64,
    pub errors: AtomicU64,
}

impl Progress {
    pub fn add(&self, requests: u64, errors: u64) {
        if requests > 0 {
            self.requests.fetch_add(requests, Ordering::Relaxed);
        }
        if errors > 0 {
            self.errors.fetch_add(errors, Ordering::Relaxed);
        }
    }
}

/// What one worker counted; merged into the final [`Report`].
#[derive(Debug)]
pub struct Tally {
    /// Echoes completing before this instant are warm-up and not counted.
    measure_from: Instant,
    pub requests: u64,
    pub latency: Histogram<u64>,
    pub errors: u64,
    pub error_samples: Vec<String>,
    /// Measured echoes per connection (or per slot in connect mode).
    pub per_conn: Vec<u64>,
}

impl Tally {
    pub fn new(measure_from: Instant, conns: usize) -> Tally {
        Tally {
            measure_from,
            requests: 0,
            latency: new_histogram(),
            errors: 0,
            error_samples: Vec::new(),
            per_conn: vec![0; conns],
        }
    }

    /// Counts one echo of connection `conn` that completed at `now`.
    pub fn echo(&mut self, conn: usize, now: Instant, latency: Duration) {
        if now < self.measure_from {
            return;
        }
        self.requests += 1;
        self.per_conn[conn] += 1;
        let nanos = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
        self.latency.saturating_record(nanos.max(1));
    }

    pub fn error(&mut self, what: String) {
        self.errors += 1;
        if self.error_samples.len() < ERROR_SAMPLES {
            self.error_samples.push(what);
        }
    }
}

/// The merged result of a run.
#[derive(Debug)]
pub struct Report {
    /// Length of the measured window (after warm-up).
    pub elapsed: Duration,
    pub size: usize,
    /// Echoes completed in the measured window (connections in connect mode).
    pub requests: u64,
    /// Latency in nanoseconds.
    pub latency: Histogram<u64>,
    pub errors: u64,
    pub error_samples: Vec<String>,
    pub per_conn: Vec<u64>,
}

impl Report {
    pub fn empty(size: usize) -> Report {
        Report {
            elapsed: Duration::ZERO,
            size,
            requests: 0,
            latency: new_histogram(),
            errors: 0,
            error_samples: Vec::new(),
            per_conn: Vec::new(),
        }
    }

    pub fn merge(&mut self, t: Tally) {
        self.requests += t.requests;
        // Same bounds on both sides, so adding cannot fail.
        let _ = self.latency.add(&t.latency);
        self.errors += t.errors;
        let room = ERROR_SAMPLES.saturating_sub(self.error_samples.len());
        self.error_samples
            .extend(t.error_samples.into_iter().take(room));
        self.per_conn.extend(t.per_conn);
    }

    pub fn requests_per_sec(&self) -> f64 {
        per_sec(self.requests as f64, self.elapsed)
    }

    /// Payload megabytes (10^6) echoed per second, one direction.
    pub fn mb_per_sec(&self) -> f64 {
        per_sec(self.requests as f64 * self.size as f64 / 1e6, self.elapsed)
    }

    /// Latency at quantile `q` (0..=1).
    pub fn latency_at(&self, q: f64) -> Duration {
        Duration::from_nanos(self.latency.value_at_quantile(q))
    }

    pub fn latency_max(&self) -> Duration {
        Duration::from_nanos(self.latency.max())
    }

    /// Fewest and most echoes of any connection in the measured window.
    pub fn min_max_per_conn(&self) -> (u64, u64) {
        let min = self.per_conn.iter().copied().min().unwrap_or(0);
        let max = self.per_conn.iter().copied().max().unwrap_or(0);
        (min, max)
    }
}

fn per_sec(x: f64, d: Duration) -> f64 {
    if d.is_zero() {
        0.0
    } else {
        x / d.as_secs_f64()
    }
}

/// Nanoseconds from 1 ns to 100 s at 3 significant figures.
fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 100_000_000_000, 3).expect("constant bounds are valid")
}
