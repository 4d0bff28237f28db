//! Faults on purpose: handlers that misbehave reproducibly, for testing
//! clients.
//!
//! A client is only as good as its handling of a bad network and a bad
//! server. [`Faults`] wraps any [`Handler`](crate::Handler) (the default
//! [`Echo`](crate::Echo) or your own) so that it answers late, slowly, in
//! dribbles, stops after some bytes, resets, goes silent or refuses, like
//! the "toxics" of Shopify's toxiproxy, in process, with no proxy to run:
//!
//! | fault | builder call | what the client sees |
//! |---|---|---|
//! | latency | [`latency`](Faults::latency), [`jitter`](Faults::jitter) | each answer at least that late |
//! | bandwidth | [`bandwidth`](Faults::bandwidth) | N bytes take about N / rate seconds |
//! | slicer | [`slice`](Faults::slice), [`slice_delay`](Faults::slice_delay) | short reads, apart in time |
//! | limit data | [`close_after`](Faults::close_after) | exactly N bytes, then EOF |
//! | reset | [`reset_after`](Faults::reset_after), [`reset_after_time`](Faults::reset_after_time) | N bytes, then `ECONNRESET` |
//! | blackhole / timeout | [`blackhole_after`](Faults::blackhole_after), [`blackhole_timeout`](Faults::blackhole_timeout) | N bytes, then silence on an open socket (then EOF) |
//! | slow close | [`slow_close`](Faults::slow_close) | the answer, then EOF late |
//! | refuse | [`refuse`](Faults::refuse) | connect succeeds, then `ECONNRESET` |
//! | input bandwidth | [`input_bandwidth`](Faults::input_bandwidth) | its writes block beyond the rate |
//!
//! [Toxicity](Faults::toxicity) picks which connections get the faults, from
//! a [seed](Faults::seed): the same seed gives the same faults to the same
//! connection indices, so a failure replays. A [`FaultControl`] switches the
//! faults on and off while the server runs.
//!
//! The wrappers are sans-IO, like every handler: they run the same under the
//! server and in the [test kit](crate::testing), where virtual time makes
//! "my client gives up after 2 s of silence" a test of microseconds.
//!
//! # Examples
//!
//! ```
//! use netecho::fault::Faults;
//! use netecho::testing::Harness;
//! use netecho::Echo;
//!
//! // The client gets 4 bytes of its echo, then EOF.
//! let faults = Faults::new().close_after(4);
//! let mut peer = Harness::open(faults.wrap(Echo));
//! peer.send(b"hello");
//! assert_eq!(peer.read_to_eof(), b"hell");
//! assert!(peer.saw_eof());
//! ```

mod control;
mod faults;
mod faulty;
mod plan;
mod rng;
mod schedule;

pub use control::FaultControl;
pub use faults::Faults;
pub use faulty::Faulty;
