//! [`Schedule`]: output a fault holds back, and when each piece (or the end
//! of the stream) goes out.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::plan::{Cut, Plan, transfer_time};
use super::rng::SplitMix64;

/// What happens when a release falls due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum What {
    /// The next `n` held bytes go out.
    Bytes(usize),
    /// The inner handler's graceful close.
    Close,
    /// The inner handler's half-close.
    ShutdownWrite,
    /// A byte-count fault fires.
    Cut(Cut),
}

/// One release: `what` goes out at `at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Release {
    pub(crate) at: Instant,
    pub(crate) what: What,
}

/// Held output and its releases, in stream order.
///
/// Invariants: `held` holds exactly the bytes of the `Bytes` releases in
/// `queue`, in order; release times never decrease along `queue`; both are
/// empty (and hold no allocation worth keeping) when nothing is held.
#[derive(Debug, Default)]
pub(crate) struct Schedule {
    held: VecDeque<u8>,
    queue: VecDeque<Release>,
    /// The time of the newest release, kept after it went out: order and
    /// slice delays count from it.
    last_at: Option<Instant>,
    /// When the bandwidth allows the next byte.
    paced_until: Option<Instant>,
}

impl Schedule {
    /// Bytes held.
    pub(crate) fn held(&self) -> usize {
        self.held.len()
    }

    /// Whether nothing is waiting, bytes or ending.
    pub(crate) fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// When the next release falls due.
    pub(crate) fn next_at(&self) -> Option<Instant> {
        self.queue.front().map(|r| r.at)
    }

    /// Holds `data`, written at `now`, to go out as `plan` says (`shaped`),
    /// or as soon as what is held before it has gone (not `shaped`).
    pub(crate) fn push_bytes(
        &mut self,
        data: &[u8],
        now: Instant,
        plan: &Plan,
        shaped: bool,
        rng: &mut SplitMix64,
    ) {
        if data.is_empty() {
            return;
        }
        self.held.extend(data);
        if !shaped {
            let at = self.after_last(now);
            self.push(at, data.len());
            return;
        }
        let mut ready = now.checked_add(plan.latency).unwrap_or(now);
        if !plan.jitter.is_zero() {
            let nanos = u64::try_from(plan.jitter.as_nanos()).unwrap_or(u64::MAX);
            ready = ready
                .checked_add(Duration::from_nanos(rng.up_to(nanos)))
                .unwrap_or(ready);
        }
        let piece = plan.piece().unwrap_or(data.len());
        let mut left = data.len();
        while left > 0 {
            let n = left.min(piece);
            left -= n;
            let mut at = self.after_last(ready);
            if plan.slice > 0 {
                if let Some(t) = self.last_at.and_then(|t| t.checked_add(plan.slice_delay)) {
                    at = at.max(t);
                }
            }
            if plan.bandwidth > 0 {
                at = at.max(self.paced_until.unwrap_or(at));
                self.paced_until = at.checked_add(transfer_time(n, plan.bandwidth));
            }
            self.push(at, n);
        }
    }

    /// Queues `what` (an ending) `delay` after what is held goes out.
    pub(crate) fn push_end(&mut self, what: What, now: Instant, delay: Duration) {
        let at = self.after_last(now);
        let at = at.checked_add(delay).unwrap_or(at);
        self.last_at = Some(at);
        self.queue.push_back(Release { at, what });
    }

    /// Takes the next release if it is due at `now`. For `Bytes(n)`, the
    /// bytes go to `out`.
    pub(crate) fn pop_due(&mut self, now: Instant, out: &mut Vec<u8>) -> Option<What> {
        let release = *self.queue.front().filter(|r| r.at <= now)?;
        self.queue.pop_front();
        if let What::Bytes(n) = release.what {
            out.extend(self.held.drain(..n));
        }
        if self.queue.is_empty() {
            // Give the memory back: a quiet connection holds no buffer.
            self.held = VecDeque::new();
            self.queue = VecDeque::new();
        }
        Some(release.what)
    }

    /// Drops everything held.
    pub(crate) fn clear(&mut self) {
        self.held = VecDeque::new();
        self.queue = VecDeque::new();
    }

    /// `t`, or later if a release before it would otherwise come after it.
    fn after_last(&self, t: Instant) -> Instant {
        self.last_at.map_or(t, |last| last.max(t))
    }

    fn push(&mut self, at: Instant, n: usize) {
        self.last_at = Some(at);
        if let Some(Release {
            at: back_at,
            what: What::Bytes(m),
        }) = self.queue.back_mut()
        {
            if *back_at == at {
                *m += n;
                return;
            }
        }
        self.queue.push_back(Release {
            at,
            what: What::Bytes(n),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn releases(schedule: &mut Schedule, start: Instant) -> Vec<(Duration, What, Vec<u8>)> {
        let mut all = Vec::new();
        while let Some(at) = schedule.next_at() {
            let mut out = Vec::new();
            let what = schedule.pop_due(at, &mut out);
            all.extend(what.map(|w| (at - start, w, out)));
        }
        all
    }

    #[test]
    fn latency_delays_and_keeps_order() {
        let now = Instant::now();
        let plan = Plan {
            latency: 100 * MS,
            ..Plan::default()
        };
        let mut rng = SplitMix64::for_connection(0, 0);
        let mut s = Schedule::default();
        s.push_bytes(b"ab", now, &plan, true, &mut rng);
        assert_eq!(s.pop_due(now + 99 * MS, &mut Vec::new()), None);
        // Unshaped output still waits for what was held before it.
        s.push_bytes(b"c", now + MS, &plan, false, &mut rng);
        s.push_end(What::Close, now + 2 * MS, 5 * MS);
        assert_eq!(
            releases(&mut s, now),
            vec![
                (100 * MS, What::Bytes(3), b"abc".to_vec()),
                (105 * MS, What::Close, vec![]),
            ]
        );
        assert_eq!(s.held(), 0);
    }

    #[test]
    fn slices_are_spaced_and_bandwidth_paces() {
        let now = Instant::now();
        let plan = Plan {
            slice: 2,
            slice_delay: 10 * MS,
            ..Plan::default()
        };
        let mut rng = SplitMix64::for_connection(0, 0);
        let mut s = Schedule::default();
        s.push_bytes(b"hello", now, &plan, true, &mut rng);
        let got: Vec<_> = releases(&mut s, now)
            .into_iter()
            .map(|r| (r.0, r.2))
            .collect();
        assert_eq!(
            got,
            vec![
                (Duration::ZERO, b"he".to_vec()),
                (10 * MS, b"ll".to_vec()),
                (20 * MS, b"o".to_vec()),
            ]
        );

        let plan = Plan {
            bandwidth: 1000,
            ..Plan::default()
        };
        let mut s = Schedule::default();
        s.push_bytes(&[0; 100], now, &plan, true, &mut rng);
        let got = releases(&mut s, now);
        assert_eq!(got.len(), 10, "ten 10-byte pieces");
        // The last 10-byte piece starts after 90 bytes at 1000 B/s.
        assert_eq!(got[9].0, 90 * MS);
    }

    #[test]
    fn jitter_stays_within_bounds() {
        let now = Instant::now();
        let plan = Plan {
            latency: 50 * MS,
            jitter: 20 * MS,
            ..Plan::default()
        };
        let mut rng = SplitMix64::for_connection(3, 1);
        let mut s = Schedule::default();
        let mut distinct = std::collections::BTreeSet::new();
        for i in 0..50 {
            let t = now + i * 100 * MS;
            s.push_bytes(b"x", t, &plan, true, &mut rng);
            let at = s.next_at().map(|at| at - t);
            assert!(
                at.is_some_and(|d| (50 * MS..=70 * MS).contains(&d)),
                "{at:?}"
            );
            distinct.insert(at);
            s.pop_due(t + 70 * MS, &mut Vec::new());
        }
        assert!(distinct.len() > 10, "jitter varies: {distinct:?}");
    }
}
