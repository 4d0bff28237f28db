//! UDP server statistics: per-worker counters, summed on demand into
//! [`UdpStats`].

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// A snapshot of a UDP server's counters, from
/// [`UdpServerHandle::stats`](crate::UdpServerHandle::stats).
///
/// Counters start at zero when the server is bound and only grow. Each worker
/// counts its own (no shared write per datagram); a snapshot sums them, each
/// read on its own, so it is not one atomic instant. Every datagram received
/// ends up in exactly one of `answered`, `unanswered` (the handler chose not
/// to reply), `send_errors`, `handler_panics` or a `dropped_*` counter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct UdpStats {
    /// Datagrams received.
    pub received: u64,
    /// Bytes received (payload only).
    pub bytes_received: u64,
    /// Datagrams answered (a reply handed to the kernel).
    pub answered: u64,
    /// Bytes sent (payload only).
    pub bytes_sent: u64,
    /// Datagrams the handler chose not to answer.
    pub unanswered: u64,
    /// Dropped: a source that cannot be a client (unspecified, multicast,
    /// broadcast, port 0, ...).
    pub dropped_invalid_source: u64,
    /// Dropped: a blocked source port (a service that answers back).
    pub dropped_blocked_port: u64,
    /// Dropped: the server's own port as the source (a loop).
    pub dropped_own_port: u64,
    /// Dropped: the sender's address was over the per-source rate.
    pub dropped_source_rate: u64,
    /// Dropped: the server was over the global rate.
    pub dropped_global_rate: u64,
    /// Replies that could not be sent (unreachable peer, too large, ...).
    pub send_errors: u64,
    /// Errors from receiving (an ICMP error reported for an earlier reply,
    /// ...); the server carries on.
    pub recv_errors: u64,
    /// Datagrams that may have been cut short by a too small buffer and
    /// were dropped rather than echoed truncated. The buffers are as large
    /// as the largest datagram, so this stays zero.
    pub dropped_truncated: u64,
    /// Handler calls that panicked (each cost its datagram's reply).
    pub handler_panics: u64,
}

impl UdpStats {
    /// Datagrams the guard dropped, all reasons together.
    pub fn dropped(&self) -> u64 {
        self.dropped_invalid_source
            + self.dropped_blocked_port
            + self.dropped_own_port
            + self.dropped_source_rate
            + self.dropped_global_rate
    }

    /// Sums the workers' counters.
    pub(crate) fn sum<'a>(workers: impl IntoIterator<Item = &'a UdpCounters>) -> Self {
        let mut s = UdpStats::default();
        for c in workers {
            let get = |a: &AtomicU64| a.load(Relaxed);
            s.received += get(&c.received);
            s.bytes_received += get(&c.bytes_received);
            s.answered += get(&c.answered);
            s.bytes_sent += get(&c.bytes_sent);
            s.unanswered += get(&c.unanswered);
            s.dropped_invalid_source += get(&c.dropped[0]);
            s.dropped_blocked_port += get(&c.dropped[1]);
            s.dropped_own_port += get(&c.dropped[2]);
            s.dropped_source_rate += get(&c.dropped[3]);
            s.dropped_global_rate += get(&c.dropped[4]);
            s.send_errors += get(&c.send_errors);
            s.recv_errors += get(&c.recv_errors);
            s.dropped_truncated += get(&c.dropped_truncated);
            s.handler_panics += get(&c.handler_panics);
        }
        s
    }
}

/// One worker's counters; only that worker writes them.
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct UdpCounters {
    pub(crate) received: AtomicU64,
    pub(crate) bytes_received: AtomicU64,
    pub(crate) answered: AtomicU64,
    pub(crate) bytes_sent: AtomicU64,
    pub(crate) unanswered: AtomicU64,
    /// By `DropReason`, in declaration order.
    pub(crate) dropped: [AtomicU64; 5],
    pub(crate) send_errors: AtomicU64,
    pub(crate) recv_errors: AtomicU64,
    pub(crate) dropped_truncated: AtomicU64,
    pub(crate) handler_panics: AtomicU64,
}
