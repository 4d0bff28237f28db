//! [`Plan`]: which faults a [`Faults`](super::Faults) set injects, as plain data.

use std::time::Duration;

/// How finely bandwidth is paced: output goes out in pieces of what the rate
/// allows in this long.
pub(crate) const BANDWIDTH_TICK: Duration = Duration::from_millis(10);

/// What ends a connection's output once it has written a number of bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cut {
    /// Close gracefully: the peer reads EOF.
    Close,
    /// Abort: the peer gets a reset.
    Reset,
    /// Stop reading and writing; the socket stays open.
    Blackhole,
}

/// The faults of a set. Zero (or `None`) turns each off.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Plan {
    pub(crate) latency: Duration,
    pub(crate) jitter: Duration,
    /// Output bytes per second.
    pub(crate) bandwidth: u64,
    pub(crate) slice: usize,
    pub(crate) slice_delay: Duration,
    pub(crate) close_after: Option<u64>,
    pub(crate) reset_after: Option<u64>,
    pub(crate) blackhole_after: Option<u64>,
    pub(crate) reset_after_time: Option<Duration>,
    pub(crate) blackhole_timeout: Option<Duration>,
    pub(crate) slow_close: Duration,
    pub(crate) refuse: bool,
    /// Input bytes per second.
    pub(crate) input_bandwidth: u64,
}

impl Plan {
    /// The byte-count fault that comes first, and after how many bytes.
    pub(crate) fn cut(&self) -> Option<(u64, Cut)> {
        [
            (self.reset_after, Cut::Reset),
            (self.close_after, Cut::Close),
            (self.blackhole_after, Cut::Blackhole),
        ]
        .into_iter()
        .filter_map(|(n, cut)| n.map(|n| (n, cut)))
        .min_by_key(|&(n, _)| n)
    }

    /// Whether output is held back at all (delayed, paced or sliced).
    pub(crate) fn shapes_output(&self) -> bool {
        !self.latency.is_zero() || !self.jitter.is_zero() || self.bandwidth > 0 || self.slice > 0
    }

    /// The largest piece output is cut into, if it is cut.
    pub(crate) fn piece(&self) -> Option<usize> {
        let slice = (self.slice > 0).then_some(self.slice);
        let paced = (self.bandwidth > 0).then(|| {
            let per_tick = self.bandwidth as u128 * BANDWIDTH_TICK.as_nanos() / 1_000_000_000;
            usize::try_from(per_tick).unwrap_or(usize::MAX).max(1)
        });
        match (slice, paced) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// How long `bytes` take at `rate` bytes per second.
pub(crate) fn transfer_time(bytes: usize, rate: u64) -> Duration {
    if rate == 0 {
        return Duration::ZERO;
    }
    let nanos = bytes as u128 * 1_000_000_000 / rate as u128;
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_smallest_byte_count_wins() {
        let plan = Plan {
            close_after: Some(10),
            blackhole_after: Some(5),
            ..Plan::default()
        };
        assert_eq!(plan.cut(), Some((5, Cut::Blackhole)));
        assert_eq!(Plan::default().cut(), None);
    }

    #[test]
    fn pieces_follow_slice_and_rate() {
        let mut plan = Plan::default();
        assert_eq!(plan.piece(), None);
        plan.bandwidth = 100_000;
        assert_eq!(plan.piece(), Some(1_000));
        plan.slice = 10;
        assert_eq!(plan.piece(), Some(10));
        plan.bandwidth = 1;
        assert_eq!(plan.piece(), Some(1));
        assert_eq!(
            transfer_time(256 * 1024, 256 * 1024),
            Duration::from_secs(1)
        );
        assert_eq!(transfer_time(5, 0), Duration::ZERO);
    }
}

/// What every connection of a set reads: the plan, toxicity and seed.
#[derive(Debug, Clone)]
pub(crate) struct Setup {
    pub(crate) plan: Plan,
    pub(crate) toxicity: f64,
    pub(crate) seed: u64,
}
