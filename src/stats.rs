//! Server statistics: per-worker counters, summed on demand into [`Stats`].

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// A snapshot of a server's counters, from [`ServerHandle::stats`](crate::ServerHandle::stats).
///
/// Counters start at zero when the server is bound and only grow, except
/// `active`, the connections open right now. Each worker counts its own, so
/// counting costs no shared write on the per-message path; a snapshot sums the
/// workers' counters, each read on its own, so it is not one atomic instant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Connections accepted.
    pub accepted: u64,
    /// Connections open now (accepted and not yet closed).
    pub active: u64,
    /// Connections closed, whatever the reason.
    pub closed: u64,
    /// Times the server stopped accepting because `max_connections` were open
    /// (newcomers wait in the kernel's backlog until a connection closes).
    pub deferred_at_limit: u64,
    /// Bytes read from peers.
    pub bytes_read: u64,
    /// Bytes written to peers.
    pub bytes_written: u64,
    /// Output held now because peers have not read it yet (the sum of every
    /// connection's pending output). Bounded per connection by the write
    /// buffer limit plus one read's worth of handler output.
    pub buffered_bytes: u64,
    /// Connections whose handler was told of an idle timeout.
    pub idle_timeouts: u64,
    /// Connections closed because the peer read none of the pending output
    /// for the write timeout.
    pub write_timeouts: u64,
    /// Handler callbacks that panicked (each cost its connection).
    pub handler_panics: u64,
    /// Errors from `accept` (out of file descriptors, aborted connections...).
    pub accept_errors: u64,
    /// TLS handshakes completed (the handler's `on_open` followed).
    pub tls_handshakes: u64,
    /// TLS handshakes in progress now.
    pub tls_handshaking: u64,
    /// TLS handshakes that failed: a plaintext client on a TLS port, garbage,
    /// a client certificate missing or not trusted, the peer gone early.
    pub tls_handshake_errors: u64,
    /// TLS handshakes not finished within the handshake timeout.
    pub tls_handshake_timeouts: u64,
    /// TLS connections closed at once because their worker already had
    /// `max_handshakes` handshakes in progress.
    pub tls_refused: u64,
    /// PROXY protocol headers taken (see [`ProxyProtocol`](crate::ProxyProtocol)).
    pub proxy_headers: u64,
    /// Connections closed before any header because the peer is not in the
    /// listener's trusted networks.
    pub proxy_untrusted: u64,
    /// Connections closed because they did not start with a valid PROXY
    /// header (not one, malformed, over the size bound, or cut short by the
    /// peer's EOF).
    pub proxy_malformed: u64,
    /// Connections closed because no complete PROXY header came within the
    /// header timeout.
    pub proxy_timeouts: u64,
}

/// One worker's counters. Only that worker writes them, so an update is a
/// plain load and store, not a read-modify-write; other threads only read.
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct Counters {
    pub(crate) accepted: AtomicU64,
    pub(crate) closed: AtomicU64,
    pub(crate) deferred_at_limit: AtomicU64,
    pub(crate) bytes_read: AtomicU64,
    pub(crate) bytes_written: AtomicU64,
    /// A gauge: `wrapping_add` of signed changes, so it reads right once summed.
    pub(crate) buffered_bytes: AtomicU64,
    pub(crate) idle_timeouts: AtomicU64,
    pub(crate) write_timeouts: AtomicU64,
    pub(crate) handler_panics: AtomicU64,
    pub(crate) accept_errors: AtomicU64,
    pub(crate) tls_handshakes: AtomicU64,
    /// A gauge, like `buffered_bytes`.
    pub(crate) tls_handshaking: AtomicU64,
    pub(crate) tls_handshake_errors: AtomicU64,
    pub(crate) tls_handshake_timeouts: AtomicU64,
    pub(crate) tls_refused: AtomicU64,
    pub(crate) proxy_headers: AtomicU64,
    pub(crate) proxy_untrusted: AtomicU64,
    pub(crate) proxy_malformed: AtomicU64,
    pub(crate) proxy_timeouts: AtomicU64,
}

/// Adds `n` to a counter that only the calling thread writes.
#[inline]
pub(crate) fn bump(counter: &AtomicU64, n: u64) {
    counter.store(counter.load(Relaxed).wrapping_add(n), Relaxed);
}

impl Stats {
    /// Sums the workers' counters; `active` is given by the caller.
    pub(crate) fn sum<'a>(workers: impl IntoIterator<Item = &'a Counters>, active: u64) -> Self {
        let mut s = Stats {
            active,
            ..Stats::default()
        };
        for c in workers {
            s.accepted += c.accepted.load(Relaxed);
            s.closed += c.closed.load(Relaxed);
            s.deferred_at_limit += c.deferred_at_limit.load(Relaxed);
            s.bytes_read += c.bytes_read.load(Relaxed);
            s.bytes_written += c.bytes_written.load(Relaxed);
            s.buffered_bytes = s
                .buffered_bytes
                .wrapping_add(c.buffered_bytes.load(Relaxed));
            s.idle_timeouts += c.idle_timeouts.load(Relaxed);
            s.write_timeouts += c.write_timeouts.load(Relaxed);
            s.handler_panics += c.handler_panics.load(Relaxed);
            s.accept_errors += c.accept_errors.load(Relaxed);
            s.tls_handshakes += c.tls_handshakes.load(Relaxed);
            s.tls_handshaking = s
                .tls_handshaking
                .wrapping_add(c.tls_handshaking.load(Relaxed));
            s.tls_handshake_errors += c.tls_handshake_errors.load(Relaxed);
            s.tls_handshake_timeouts += c.tls_handshake_timeouts.load(Relaxed);
            s.tls_refused += c.tls_refused.load(Relaxed);
            s.proxy_headers += c.proxy_headers.load(Relaxed);
            s.proxy_untrusted += c.proxy_untrusted.load(Relaxed);
            s.proxy_malformed += c.proxy_malformed.load(Relaxed);
            s.proxy_timeouts += c.proxy_timeouts.load(Relaxed);
        }
        s
    }
}
