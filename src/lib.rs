//! A fast, frugal TCP server library whose default handler echoes
//! ([RFC 862](https://www.rfc-editor.org/rfc/rfc862)), and a base for your own
//! protocols.
//!
//! Three ways to use it:
//!
//! - **An echo server in a test**: [`TcpServer::builder`]`.port(0).spawn()`
//!   serves on background threads on any free port, and stops when its
//!   [`ServerHandle`] is dropped (below).
//! - **A base for your own protocol**: implement [`Handler`], a sans-IO set of
//!   callbacks (one value per connection) on a [`Conn`] context; the server
//!   brings the sockets, workers, backpressure, timeouts and shutdown, and
//!   [`testing::Harness`] drives the same handler in memory, in virtual
//!   time. The [guide] walks through it.
//! - **A fast target for a load test**: the [`echo` example][echo] (`cargo
//!   run --release --example echo`, port 7007) with every server option as a
//!   flag, and the [`loadgen` example][loadgen] to drive it.
//!
//! Also in the box: [`framing`] (line and length-prefixed frame decoders
//! for handlers) and [`fault`] (wrappers that make any handler misbehave on
//! purpose, reproducibly, to test clients against latency, slow links,
//! cut-offs and resets).
//!
//! And the datagram half of RFC 862: [`UdpServer`] echoes every datagram
//! whole, with a sans-IO [`DatagramHandler`] for other answers, behind a
//! [`GuardPolicy`] on by default (no answers to sources that cannot be
//! clients, to services that answer back or to our own port; per-source and
//! global rates), so it is safe to expose. A [`Listener::udp`] joins a
//! [`TcpServer`] beside its TCP and Unix listeners, under one
//! [`ServerHandle`].
//!
//! Start with the [guide] (call order, rules, testing, two protocols walked
//! through), the [test kit](testing), and the examples: the classic services
//! [echo], [discard], [daytime], [qotd], [chargen], and [lines], [chat],
//! [offload] for line protocols, broadcast and work on other threads.
//!
//! # Examples
//!
//! An echo server for a test, on any free port:
//!
//! ```
//! use netecho::TcpServer;
//! use std::io::{Read, Write};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let server = TcpServer::builder().port(0).spawn()?;
//! let mut client = std::net::TcpStream::connect(server.local_addr())?;
//! client.write_all(b"hello")?;
//! let mut reply = [0; 5];
//! client.read_exact(&mut reply)?;
//! assert_eq!(&reply, b"hello");
//! drop(client); // the server's graceful close waits for a connected client
//! server.shutdown();
//! server.join()?;
//! # Ok(())
//! # }
//! ```
//!
//! # Errors
//!
//! Everything that can fail before serving fails at
//! [`bind`](TcpServerBuilder::bind), with an [`Error`] that names what failed;
//! its [`report`](Error::report) adds the causes, for a person:
//! `failed to bind 127.0.0.1:7007: Address already in use (os error 98)`.
//! What goes wrong on one connection (a reset, a timeout) closes that
//! connection only, is logged at `debug` and counted in [`Stats`].
//!
//! # Platform support
//!
//! Tested on Linux (x86_64), where every test and benchmark runs. The crate is
//! built on [mio](https://docs.rs/mio) and [socket2](https://docs.rs/socket2)
//! and uses nothing Linux-only in its API, so it should build on the other
//! Unix systems and on Windows, but nobody tests it there yet. Linux-specific
//! behaviour: accepted sockets inherit `TCP_NODELAY` from the listener (one
//! `setsockopt` per connection saved; elsewhere it is set on each), and
//! `EPROTO` from `accept` is treated as one failed connection.
//! [`reuse_port`](TcpServerBuilder::reuse_port) is Unix only.
//!
//! # Behind a load balancer
//!
//! A listener can require the PROXY protocol ([`ProxyProtocol`], v1 and v2,
//! from trusted networks only): handlers then see the client's address, and
//! the balancer's through [`Conn::proxied_by`]. [`ServerHandle::pause`],
//! [`resume`](ServerHandle::resume) and [`drain`](ServerHandle::drain) take
//! an instance out of rotation; with the `systemd` feature,
//! `ServerHandle::upgrade` hands the listening sockets to a successor
//! process without losing a connection.
//!
//! # Feature flags
//!
//! All off by default:
//!
//! - `tls`: TLS listeners on rustls with the *ring* crypto provider (it
//!   builds with the Rust toolchain and a C compiler; aws-lc-rs would add a
//!   much larger C build): `Listener::tls` with a `TlsConfig`; handlers see
//!   plaintext and learn ALPN, SNI and client certificates from
//!   [`Conn::tls`]; adds `rustls` and `rustls-pki-types`.
//! - `systemd` (Unix): `netecho::systemd` socket activation and readiness, and
//!   upgrade in place (`ServerHandle::upgrade`); adds `listenfd` and
//!   `sd-notify`.
//! - `metrics`: `netecho::metrics`, connection, byte, duration, error and
//!   timeout metrics through the `metrics` facade.
//!
//! Without them the crate depends on `mio`, `socket2`, `slab`, `log`,
//! `thiserror`, `rustix` (Unix), and `ppp` and `ipnet` for the PROXY
//! protocol.
//!
//! # Minimum supported Rust version
//!
//! Rust 1.85 (edition 2024), checked in CI with clippy's `incompatible_msrv`
//! lint. Raising it is a minor-version change.
//!
//! # Logging
//!
//! Through the [`log`](https://docs.rs/log) facade; the library never installs
//! a logger. `info`: listening and stopped; `debug`: connections opening and
//! closing, client hang-ups; `warn`: recoverable server trouble (out of file
//! descriptors, a handler panic). Payload bytes appear only at `trace`.
//!
//! # Implementation notes
//!
//! The crate is built in layers; each imports only from the layers below it
//! (a lower one never names a type of a higher one; where it must call up, as
//! a handle waking a worker, it holds a small trait of its own):
//!
//! | layer | modules | what it holds |
//! |---|---|---|
//! | configuration | `config`, `addr`, `error`, `stats`, `tls_config` | plain data: validated options, addresses, errors, counters; TLS certificates checked and turned into a rustls configuration |
//! | sans-IO API | `handler`, `context` ([`Conn`]), `handle` ([`ConnHandle`]), `proxy` ([`ProxyProtocol`]), `tls_info` ([`TlsInfo`]) | what users implement and call; no socket, no event loop; the PROXY header parser |
//! | state machine | `state_machine` | one connection: buffering, backpressure, half-close, timeouts; fed events, returns steps; reads and writes through a `Stream` trait; [`testing`] drives it in memory |
//! | transports | `transport::{tcp, unix, tls}` | how bytes cross a socket: socket creation (socket2), accept, peer address and credentials; TLS as a stream over the others (rustls, sans-IO) |
//! | driver | `metrics`, `driver::{pool, worker, entry, acceptor}` | the event loops: a pool of workers sharing one epoll set (the default, Linux) or a mio loop per worker; the acceptor (pause follows here), timers, wake-ups; what they record |
//! | server | `builder`, `listener`, `server`, `systemd`, `upgrade` | the public [`TcpServer`], its builder, its [`Listener`]s and [`ServerHandle`]; UDP listeners, run as [`UdpServer`]s beside the driver's workers; socket activation; handing the sockets to a successor |
//!
//! `context.rs` holds [`Conn`], the handler's view of a connection;
//! `state_machine.rs` holds the connection itself, which the handler never
//! sees.
//!
//! On Linux the workers share one epoll set ([`Scheduling::Shared`], the
//! default): one worker at a time waits for events, takes a batch and serves
//! it; another watches it and, when it is stuck (a long callback, no CPU),
//! serves what it left, so no connection waits for one busy worker. A
//! connection's callbacks run one at a time: a worker takes a connection
//! with a `try_lock`, never waiting, and one that finds it taken leaves it a
//! note the owner reads when it lets go. Elsewhere, or with
//! [`Scheduling::PerWorker`], each worker thread runs its own
//! [mio](https://docs.rs/mio) event loop with its own connections. A worker
//! reads into one buffer shared by all the connections it serves, hands the
//! bytes to the handler and writes the handler's output straight to the
//! socket: one `read` and one `write` per message in the steady state. Only
//! output the socket refuses is kept, per connection, and freed once sent, so
//! an idle connection holds no buffer. Nothing on the per-message path takes a
//! lock shared between connections or writes an atomic another connection
//! writes. A connection's socket is an enum of the
//! transports (one branch per read or write, no allocation, no `dyn`).
//!
//! Writes never raise `SIGPIPE`: they use `send` with `MSG_NOSIGNAL`.
//!
//! A connection on a PROXY protocol listener goes through a preamble
//! before its handler's `on_open`: the state machine peeks the header
//! (`recv(MSG_PEEK)` into the worker's buffer, so nothing is held per
//! connection), consumes exactly its length, and only then opens. A
//! transport with a handshake of its own (TLS) comes after it: the bytes
//! after the header are still in the socket.
//!
//! [guide]: crate::guide
//! [echo]: https://docs.rs/crate/netecho/latest/source/examples/echo.rs
//! [loadgen]: https://docs.rs/crate/netecho/latest/source/examples/loadgen/main.rs
//! [discard]: https://docs.rs/crate/netecho/latest/source/examples/discard.rs
//! [daytime]: https://docs.rs/crate/netecho/latest/source/examples/daytime.rs
//! [qotd]: https://docs.rs/crate/netecho/latest/source/examples/qotd.rs
//! [chargen]: https://docs.rs/crate/netecho/latest/source/examples/chargen.rs
//! [lines]: https://docs.rs/crate/netecho/latest/source/examples/lines.rs
//! [chat]: https://docs.rs/crate/netecho/latest/source/examples/chat.rs
//! [offload]: https://docs.rs/crate/netecho/latest/source/examples/offload.rs

#![forbid(unsafe_code)]
#![deny(missing_docs, missing_debug_implementations)]

// Layers, bottom to top; each module imports only from those above it in
// this list (see "Implementation notes").
mod addr;
mod config;
mod error;
mod stats;
#[cfg(feature = "tls")]
mod tls_config;

mod context;
pub mod fault;
pub mod framing;
mod handle;
mod handler;
mod proxy;
mod tls_info;

mod state_machine;
pub mod testing;

mod transport;

#[cfg(feature = "metrics")]
pub mod metrics;

mod driver;

mod builder;
mod listener;
mod server;
#[cfg(all(unix, feature = "systemd"))]
pub mod systemd;
// UDP, in layers of its own until it joins the server (see its module docs).
mod udp;
#[cfg(all(unix, feature = "systemd"))]
mod upgrade;

pub mod guide;

pub use addr::{Addr, PeerCred, UnixAddr};
pub use builder::TcpServerBuilder;
pub use config::{
    DEFAULT_BACKLOG, DEFAULT_MAX_CONNECTIONS, DEFAULT_SHUTDOWN_TIMEOUT, DEFAULT_WRITE_BUFFER_LIMIT,
    DEFAULT_WRITE_TIMEOUT, Scheduling,
};
pub use context::Conn;
pub use error::{Error, Report, Result};
pub use handle::{ConnHandle, PushError};
pub use handler::{CloseReason, Echo, Handler};
pub use listener::Listener;
pub use proxy::{
    Cidr, DEFAULT_PROXY_HEADER_TIMEOUT, DEFAULT_PROXY_MAX_HEADER, ProxyHeader, ProxyProtocol,
};
pub use server::{Drained, ServerHandle, TcpServer};
pub use stats::Stats;
#[cfg(feature = "tls")]
pub use tls_config::{DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_MAX_HANDSHAKES, TlsConfig};
pub use tls_info::TlsInfo;

/// rustls, re-exported so that a `ServerConfig` for `TlsConfig::from_rustls`
/// comes from the same version as this crate's.
#[cfg(feature = "tls")]
pub use rustls;
pub use udp::{
    ANSWER_BACK_PORTS, DEFAULT_GLOBAL_RATE, DEFAULT_MAX_SOURCES, DEFAULT_PER_SOURCE_RATE,
    DatagramEcho, DatagramHandler, GuardPolicy, MAX_DATAGRAM_V4, MAX_DATAGRAM_V6, REFLECTOR_PORTS,
    Rate, Reply, UdpServer, UdpServerBuilder, UdpServerHandle, UdpStats,
};
