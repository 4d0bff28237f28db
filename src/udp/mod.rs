//! UDP: the other half of RFC 862 ("when a datagram is received, the data
//! from it is sent back in an answering datagram"), with the guards that
//! make a datagram echo safe to expose.
//!
//! Layers, bottom to top, as for TCP: [`GuardPolicy`] (plain data) and the
//! guard's token buckets (sans-IO, fed with time) -> the
//! [`DatagramHandler`] API and [`DatagramEcho`] -> the transport
//! (`socket.rs`: socket2 and quinn-udp, batching only) -> the driver
//! (`worker.rs`, a mio loop per worker) -> [`UdpServer`] and its handle.

pub(crate) mod builder;
pub(crate) mod guard;
pub(crate) mod handler;
pub(crate) mod server;
pub(crate) mod socket;
pub(crate) mod stats;
pub(crate) mod worker;

pub use builder::UdpServerBuilder;
pub use guard::{
    ANSWER_BACK_PORTS, DEFAULT_GLOBAL_RATE, DEFAULT_MAX_SOURCES, DEFAULT_PER_SOURCE_RATE,
    GuardPolicy, REFLECTOR_PORTS, Rate,
};
pub use handler::{DatagramEcho, DatagramHandler, MAX_DATAGRAM_V4, MAX_DATAGRAM_V6, Reply};
pub use server::{UdpServer, UdpServerHandle};
pub use stats::UdpStats;
