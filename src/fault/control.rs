//! [`FaultControl`]: switches a set of faults on and off while the server runs.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// What a [`Faults`](super::Faults) set shares with its connections and its
/// controls: the switch, and how many connections it has wrapped.
#[derive(Debug)]
pub(crate) struct Switch {
    enabled: AtomicBool,
    next_index: AtomicU64,
}

impl Switch {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Switch {
            enabled: AtomicBool::new(true),
            next_index: AtomicU64::new(0),
        })
    }

    /// Read at each event of each faulty connection: one relaxed load.
    pub(crate) fn is_enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    /// The index of a new connection: 0, 1, 2... in the order of the calls.
    pub(crate) fn next_index(&self) -> u64 {
        self.next_index.fetch_add(1, Ordering::Relaxed)
    }
}

/// Switches a [`Faults`](super::Faults) set on and off, from any thread,
/// while its connections run: between the phases of a test, say.
///
/// Made by [`Faults::control`](super::Faults::control); clones control the
/// same set. Faults start switched on.
///
/// A connection reads the switch at each of its events. While it is off, new
/// output goes out at once (after what the connection still holds, to keep
/// the byte order), and no fault fires; byte counts go on counting. Whether a
/// connection is one the faults pick ([toxicity](super::Faults::toxicity)) is
/// decided once, when it opens, whatever the switch says, so turning faults
/// back on affects the same connections. [`refuse`](super::Faults::refuse)
/// and [`reset_after_time`](super::Faults::reset_after_time) act when a
/// connection opens, so only on connections opened while the switch is on.
///
/// # Examples
///
/// ```
/// use netecho::fault::Faults;
/// use std::time::Duration;
///
/// let faults = Faults::new().latency(Duration::from_millis(200));
/// let control = faults.control();
/// control.disable();
/// assert!(!control.is_enabled());
/// control.enable();
/// assert!(control.is_enabled());
/// ```
#[derive(Debug, Clone)]
pub struct FaultControl {
    switch: Arc<Switch>,
}

impl FaultControl {
    pub(crate) fn new(switch: Arc<Switch>) -> Self {
        FaultControl { switch }
    }

    /// Switches the faults on.
    pub fn enable(&self) {
        self.switch.enabled.store(true, Ordering::Relaxed);
    }

    /// Switches the faults off.
    pub fn disable(&self) {
        self.switch.enabled.store(false, Ordering::Relaxed);
    }

    /// Whether the faults are on.
    pub fn is_enabled(&self) -> bool {
        self.switch.is_enabled()
    }

    /// How many connections the set has wrapped so far; the next one gets
    /// this index.
    pub fn connections(&self) -> u64 {
        self.switch.next_index.load(Ordering::Relaxed)
    }
}
