//! [`Faults`]: the builder of a set of faults, and the factory of the
//! connections it wraps.

use std::sync::Arc;
use std::time::Duration;

use super::control::{FaultControl, Switch};
use super::faulty::Faulty;
use super::plan::{Plan, Setup};
use super::rng::SplitMix64;
use crate::handler::Handler;

/// A set of faults to inject into connections, as a builder; then
/// [`wrap`](Faults::wrap) a handler (or make a [`factory`](Faults::factory))
/// to get a handler that misbehaves as configured.
///
/// Every fault is off until set. Durations count from when the inner handler
/// wrote; byte counts count the inner handler's output from the connection's
/// start. The faults of one set apply together, in this order: the byte
/// counts cut the output, latency and jitter delay it, slices cut it and
/// bandwidth paces it. For other combinations, or a different
/// [toxicity](Faults::toxicity) per fault, wrap a wrapped handler again: a
/// [`Faulty`] is a [`Handler`] like any other.
///
/// Clones share their [`control`](Faults::control) and connection count.
///
/// # Examples
///
/// An echo server that answers 100 ms late, in 4-byte slices:
///
/// ```
/// use netecho::fault::Faults;
/// use netecho::{Echo, TcpServer};
/// use std::io::{Read, Write};
/// use std::time::{Duration, Instant};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let faults = Faults::new()
///     .latency(Duration::from_millis(100))
///     .slice(4)
///     .slice_delay(Duration::from_millis(10));
/// let server = TcpServer::builder()
///     .port(0)
///     .handler(faults.factory(|| Echo))
///     .spawn()?;
/// let mut client = std::net::TcpStream::connect(server.local_addr())?;
/// let start = Instant::now();
/// client.write_all(b"hello, world")?;
/// let mut reply = [0; 12];
/// client.read_exact(&mut reply)?;
/// assert_eq!(&reply, b"hello, world");
/// assert!(start.elapsed() >= Duration::from_millis(120));
/// server.shutdown();
/// server.join()?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct Faults {
    setup: Arc<Setup>,
    switch: Arc<Switch>,
}

impl Default for Faults {
    fn default() -> Self {
        Faults::new()
    }
}

impl Faults {
    /// A set with no fault, toxicity 1 (every connection), seed 0, switched on.
    pub fn new() -> Self {
        Faults {
            setup: Arc::new(Setup {
                plan: Plan::default(),
                toxicity: 1.0,
                seed: 0,
            }),
            switch: Switch::new(),
        }
    }

    fn plan(&mut self) -> &mut Plan {
        &mut Arc::make_mut(&mut self.setup).plan
    }

    /// Latency: each piece of output goes out `delay` after the handler
    /// wrote it (plus [`jitter`](Faults::jitter)). The client sees every
    /// answer at least `delay` late; order is kept.
    pub fn latency(mut self, delay: Duration) -> Self {
        self.plan().latency = delay;
        self
    }

    /// Jitter: adds a random delay between zero and `jitter` to each
    /// piece's latency, drawn from the connection's seeded generator. Order
    /// is kept, so a piece never overtakes an earlier, slower one.
    pub fn jitter(mut self, jitter: Duration) -> Self {
        self.plan().jitter = jitter;
        self
    }

    /// Bandwidth: output paced to `bytes_per_second` (0: no limit), in
    /// pieces of what 10 ms allow. The client reads N bytes in about
    /// N / rate seconds.
    pub fn bandwidth(mut self, bytes_per_second: u64) -> Self {
        self.plan().bandwidth = bytes_per_second;
        self
    }

    /// Slicer: output cut into pieces of at most `bytes` (0: off), each
    /// written on its own, [`slice_delay`](Faults::slice_delay) apart. The
    /// client's reads return short pieces of a message. Without a delay,
    /// slices may reach the client together.
    pub fn slice(mut self, bytes: usize) -> Self {
        self.plan().slice = bytes;
        self
    }

    /// The delay between two slices (see [`slice`](Faults::slice)).
    pub fn slice_delay(mut self, delay: Duration) -> Self {
        self.plan().slice_delay = delay;
        self
    }

    /// Limit data: after `bytes` of output the connection closes
    /// gracefully. The client reads exactly `bytes` bytes, then EOF, even
    /// mid-message.
    pub fn close_after(mut self, bytes: u64) -> Self {
        self.plan().close_after = Some(bytes);
        self
    }

    /// Reset: after `bytes` of output (once the socket took them) the
    /// connection is aborted. The client reads `bytes` bytes, then its read
    /// (or write) fails with `ECONNRESET`.
    pub fn reset_after(mut self, bytes: u64) -> Self {
        self.plan().reset_after = Some(bytes);
        self
    }

    /// Reset after a time: `after` the connection opens it is aborted,
    /// whatever is pending. The client gets `ECONNRESET` then.
    pub fn reset_after_time(mut self, after: Duration) -> Self {
        self.plan().reset_after_time = Some(after);
        self
    }

    /// Blackhole: after `bytes` of output the connection stops reading and
    /// writing, and stays open. The client reads `bytes` bytes, then
    /// nothing: its reads time out, and once the buffers fill its writes
    /// block. Only a client-side timeout gets it out.
    pub fn blackhole_after(mut self, bytes: u64) -> Self {
        self.plan().blackhole_after = Some(bytes);
        self
    }

    /// Closes a blackholed connection ([`blackhole_after`](Faults::blackhole_after))
    /// gracefully `after` it went silent, as toxiproxy's `timeout` toxic
    /// does. The client sees silence, then EOF.
    pub fn blackhole_timeout(mut self, after: Duration) -> Self {
        self.plan().blackhole_timeout = Some(after);
        self
    }

    /// Slow close: the handler's close (or half-close) is delayed by
    /// `delay`. The client reads the whole answer, then waits that long
    /// for EOF.
    pub fn slow_close(mut self, delay: Duration) -> Self {
        self.plan().slow_close = delay;
        self
    }

    /// Refuse: each new connection is aborted at once; the inner handler
    /// never sees it. The client's connect succeeds (the kernel accepted
    /// it), then its first read or write fails with `ECONNRESET`.
    pub fn refuse(mut self) -> Self {
        self.plan().refuse = true;
        self
    }

    /// Input bandwidth: reading from the client is paused so that it can
    /// send about `bytes_per_second` (0: no limit). The client's writes
    /// block once the kernel's buffers fill.
    pub fn input_bandwidth(mut self, bytes_per_second: u64) -> Self {
        self.plan().input_bandwidth = bytes_per_second;
        self
    }

    /// Toxicity: the probability that a connection gets the faults, drawn
    /// per connection from the [`seed`](Faults::seed) and the connection's
    /// index. Clamped to `0..=1` (NaN counts as 0). Default: 1.
    pub fn toxicity(mut self, probability: f64) -> Self {
        let p = if probability.is_nan() {
            0.0
        } else {
            probability.clamp(0.0, 1.0)
        };
        Arc::make_mut(&mut self.setup).toxicity = p;
        self
    }

    /// The seed of the connections' generators (toxicity and jitter).
    /// Connection `i` under seed `s` gets the same draws on every run, so a
    /// failure seen once replays: same seed, same connection indices, same
    /// faults. Default: 0.
    pub fn seed(mut self, seed: u64) -> Self {
        Arc::make_mut(&mut self.setup).seed = seed;
        self
    }

    /// A handle that switches these faults on and off while they run.
    pub fn control(&self) -> FaultControl {
        FaultControl::new(Arc::clone(&self.switch))
    }

    /// Whether the connection with this index gets the faults, as toxicity
    /// and seed decide (the switch aside). Indices count the calls of
    /// [`wrap`](Faults::wrap) from 0.
    ///
    /// # Examples
    ///
    /// ```
    /// use netecho::fault::Faults;
    ///
    /// let faults = Faults::new().toxicity(0.5).seed(7);
    /// let picked: Vec<u64> = (0..20).filter(|&i| faults.affects(i)).collect();
    /// // The same on every run, on every machine.
    /// assert_eq!(picked, (0..20).filter(|&i| faults.affects(i)).collect::<Vec<_>>());
    /// assert!(!picked.is_empty() && picked.len() < 20);
    /// ```
    pub fn affects(&self, index: u64) -> bool {
        let (picked, _) = self.draw(index);
        picked
    }

    fn draw(&self, index: u64) -> (bool, SplitMix64) {
        let mut rng = SplitMix64::for_connection(self.setup.seed, index);
        let picked = rng.next_f64() < self.setup.toxicity;
        (picked, rng)
    }

    /// Wraps one connection's handler: the next connection index is its.
    ///
    /// # Examples
    ///
    /// In the test kit, in virtual time:
    ///
    /// ```
    /// use netecho::fault::Faults;
    /// use netecho::testing::Harness;
    /// use netecho::Echo;
    /// use std::time::Duration;
    ///
    /// let faults = Faults::new().latency(Duration::from_secs(2));
    /// let mut peer = Harness::open(faults.wrap(Echo));
    /// peer.send(b"ping");
    /// assert_eq!(peer.read(), b"");
    /// peer.advance(Duration::from_secs(2));
    /// assert_eq!(peer.read(), b"ping");
    /// ```
    pub fn wrap<H: Handler>(&self, inner: H) -> Faulty<H> {
        let index = self.switch.next_index();
        let (picked, rng) = self.draw(index);
        Faulty::new(
            inner,
            Arc::clone(&self.setup),
            Arc::clone(&self.switch),
            index,
            picked,
            rng,
        )
    }

    /// A handler factory for
    /// [`TcpServerBuilder::handler`](crate::TcpServerBuilder::handler): each
    /// connection gets `make()`'s handler, wrapped. Connection indices follow
    /// the order the server calls the factory: the order of accepting with
    /// one worker (with several, each worker calls it as it takes its
    /// connections).
    pub fn factory<F, H>(self, make: F) -> impl Fn() -> Faulty<H> + Send + Sync + 'static
    where
        F: Fn() -> H + Send + Sync + 'static,
        H: Handler,
    {
        move || self.wrap(make())
    }
}
