//! Metrics through the [`metrics`](https://docs.rs/metrics) facade (cargo
//! feature `metrics`): connections, bytes, durations, errors, timeouts and
//! panics, for the exporter the application installs (Prometheus, StatsD,
//! ...). [`Stats`](crate::Stats) stays as it is, without this feature.
//!
//! Install the recorder (the exporter) **before** binding the server: each
//! worker resolves its metric handles when it starts.
//!
//! # Metrics
//!
//! | name | kind | labels | what |
//! |---|---|---|---|
//! | `netecho_connections_opened_total` | counter | `listener` | connections accepted and handed to a worker |
//! | `netecho_connections_active` | gauge | `listener` | connections open now |
//! | `netecho_connections_closed_total` | counter | `listener`, `reason` | connections closed, by reason (below) |
//! | `netecho_connection_duration_seconds` | histogram | `listener` | how long each connection was open |
//! | `netecho_bytes_read_total` | counter | | bytes read from peers (PROXY headers included) |
//! | `netecho_bytes_written_total` | counter | | bytes written to peers |
//! | `netecho_accept_errors_total` | counter | | errors from `accept` |
//! | `netecho_idle_timeouts_total` | counter | | idle timeouts told to handlers |
//! | `netecho_write_timeouts_total` | counter | | connections closed by the write timeout |
//! | `netecho_handler_panics_total` | counter | | handler callbacks (and factories) that panicked |
//! | `netecho_proxy_headers_total` | counter | | PROXY protocol headers taken |
//! | `netecho_proxy_rejected_total` | counter | `cause` | connections closed before their handler for their PROXY header: `untrusted`, `malformed`, `timeout` |
//!
//! `listener` is the listener's address as the server prints it
//! (`127.0.0.1:7007`, `unix:/run/echo.sock`). `reason` is one of
//! `peer_closed`, `handler`, `reset`, `error`, `idle_timeout`,
//! `write_timeout`, `aborted`, `shutdown`, `shutdown_timeout`,
//! `proxy_rejected`, `proxy_timeout`, `panicked`.
//!
//! # Cost
//!
//! Nothing is recorded per message. Per connection: the opened counter and
//! the gauge when it opens; the closed counter, the gauge and one histogram
//! sample when it closes. Bytes, errors, timeouts and panics are the
//! per-worker counters that [`Stats`](crate::Stats) already keeps, handed to
//! the facade as deltas by each worker at most once a second (and when it
//! stops); a worker with nothing new sleeps as before.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use metrics::{Counter, Gauge, Histogram, SharedString};

use crate::addr::Addr;
use crate::handler::CloseReason;
use crate::stats::Counters;

/// `netecho_connections_opened_total`.
pub const CONNECTIONS_OPENED: &str = "netecho_connections_opened_total";
/// `netecho_connections_active`.
pub const CONNECTIONS_ACTIVE: &str = "netecho_connections_active";
/// `netecho_connections_closed_total`.
pub const CONNECTIONS_CLOSED: &str = "netecho_connections_closed_total";
/// `netecho_connection_duration_seconds`.
pub const CONNECTION_DURATION: &str = "netecho_connection_duration_seconds";
/// `netecho_bytes_read_total`.
pub const BYTES_READ: &str = "netecho_bytes_read_total";
/// `netecho_bytes_written_total`.
pub const BYTES_WRITTEN: &str = "netecho_bytes_written_total";
/// `netecho_accept_errors_total`.
pub const ACCEPT_ERRORS: &str = "netecho_accept_errors_total";
/// `netecho_idle_timeouts_total`.
pub const IDLE_TIMEOUTS: &str = "netecho_idle_timeouts_total";
/// `netecho_write_timeouts_total`.
pub const WRITE_TIMEOUTS: &str = "netecho_write_timeouts_total";
/// `netecho_handler_panics_total`.
pub const HANDLER_PANICS: &str = "netecho_handler_panics_total";
/// `netecho_proxy_headers_total`.
pub const PROXY_HEADERS: &str = "netecho_proxy_headers_total";
/// `netecho_proxy_rejected_total`.
pub const PROXY_REJECTED: &str = "netecho_proxy_rejected_total";

/// How often a worker hands its counters' deltas to the facade, at most.
const FLUSH_EVERY: Duration = Duration::from_secs(1);

/// The `reason` label of a close (`None`: a handler panic).
fn reason_label(reason: Option<CloseReason>) -> &'static str {
    match reason {
        None => "panicked",
        Some(CloseReason::PeerClosed) => "peer_closed",
        Some(CloseReason::Handler) => "handler",
        Some(CloseReason::Reset) => "reset",
        Some(CloseReason::Error(_)) => "error",
        Some(CloseReason::IdleTimeout) => "idle_timeout",
        Some(CloseReason::WriteTimeout) => "write_timeout",
        Some(CloseReason::Aborted) => "aborted",
        Some(CloseReason::Shutdown) => "shutdown",
        Some(CloseReason::ShutdownTimeout) => "shutdown_timeout",
        Some(CloseReason::ProxyRejected) => "proxy_rejected",
        Some(CloseReason::ProxyTimeout) => "proxy_timeout",
        Some(CloseReason::Truncated) => "truncated",
        Some(CloseReason::HandshakeFailed) => "handshake_failed",
        Some(CloseReason::HandshakeTimeout) => "handshake_timeout",
    }
}

/// One listener's handles.
struct PerListener {
    label: SharedString,
    opened: Counter,
    active: Gauge,
    duration: Histogram,
}

/// The counters a worker flushes, with the values last flushed.
struct Deltas {
    handles: [Counter; 10],
    last: [u64; 10],
}

/// One worker's metric handles, resolved when it starts.
pub(crate) struct WorkerMetrics {
    listeners: Vec<PerListener>,
    deltas: Deltas,
    last_flush: Instant,
}

impl WorkerMetrics {
    pub(crate) fn new(listeners: &[Addr], now: Instant) -> Self {
        let listeners = listeners
            .iter()
            .map(|addr| {
                let label = SharedString::from_shared(Arc::<str>::from(addr.to_string()));
                PerListener {
                    opened: metrics::counter!(CONNECTIONS_OPENED, "listener" => label.clone()),
                    active: metrics::gauge!(CONNECTIONS_ACTIVE, "listener" => label.clone()),
                    duration: metrics::histogram!(CONNECTION_DURATION, "listener" => label.clone()),
                    label,
                }
            })
            .collect();
        let deltas = Deltas {
            handles: [
                metrics::counter!(BYTES_READ),
                metrics::counter!(BYTES_WRITTEN),
                metrics::counter!(ACCEPT_ERRORS),
                metrics::counter!(IDLE_TIMEOUTS),
                metrics::counter!(WRITE_TIMEOUTS),
                metrics::counter!(HANDLER_PANICS),
                metrics::counter!(PROXY_HEADERS),
                metrics::counter!(PROXY_REJECTED, "cause" => "untrusted"),
                metrics::counter!(PROXY_REJECTED, "cause" => "malformed"),
                metrics::counter!(PROXY_REJECTED, "cause" => "timeout"),
            ],
            last: [0; 10],
        };
        WorkerMetrics {
            listeners,
            deltas,
            last_flush: now,
        }
    }

    /// A connection of `listener` opened.
    pub(crate) fn opened(&self, listener: usize) {
        if let Some(l) = self.listeners.get(listener) {
            l.opened.increment(1);
            l.active.increment(1.0);
        }
    }

    /// A connection of `listener`, open since `since`, closed.
    pub(crate) fn closed(
        &self,
        listener: usize,
        reason: Option<CloseReason>,
        since: Instant,
        now: Instant,
    ) {
        if let Some(l) = self.listeners.get(listener) {
            l.active.decrement(1.0);
            l.duration
                .record(now.saturating_duration_since(since).as_secs_f64());
            metrics::counter!(
                CONNECTIONS_CLOSED,
                "listener" => l.label.clone(),
                "reason" => reason_label(reason)
            )
            .increment(1);
        }
    }

    fn values(counters: &Counters) -> [u64; 10] {
        [
            counters.bytes_read.load(Relaxed),
            counters.bytes_written.load(Relaxed),
            counters.accept_errors.load(Relaxed),
            counters.idle_timeouts.load(Relaxed),
            counters.write_timeouts.load(Relaxed),
            counters.handler_panics.load(Relaxed),
            counters.proxy_headers.load(Relaxed),
            counters.proxy_untrusted.load(Relaxed),
            counters.proxy_malformed.load(Relaxed),
            counters.proxy_timeouts.load(Relaxed),
        ]
    }

    /// When the worker must wake to flush: a second after the last flush,
    /// if its counters moved since; `None` if nothing is waiting.
    pub(crate) fn due(&self, counters: &Counters) -> Option<Instant> {
        (Self::values(counters) != self.deltas.last).then_some(self.last_flush + FLUSH_EVERY)
    }

    /// Hands the counters' deltas to the facade, at most once per
    /// [`FLUSH_EVERY`] unless `force`.
    pub(crate) fn flush(&mut self, counters: &Counters, now: Instant, force: bool) {
        if !force && now.saturating_duration_since(self.last_flush) < FLUSH_EVERY {
            return;
        }
        self.last_flush = now;
        let values = Self::values(counters);
        for ((handle, last), value) in self
            .deltas
            .handles
            .iter()
            .zip(self.deltas.last.iter_mut())
            .zip(values)
        {
            if value != *last {
                handle.increment(value.wrapping_sub(*last));
                *last = value;
            }
        }
    }
}
