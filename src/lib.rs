//! A fast, frugal TCP server whose default handler echoes (RFC 862), and a
//! base for your own TCP protocols.
//!
//! - [`TcpServer`]: configure with [`TcpServer::builder`] (address, socket
//!   options, workers, limits), [`bind`](TcpServerBuilder::bind), then
//!   [`run`](TcpServer::run) on this thread or [`spawn`](TcpServer::spawn) in
//!   the background and get a [`ServerHandle`].
//! - [`Handler`]: the protocol, one instance per connection, as sans-IO
//!   callbacks on a [`Conn`] context; the default, [`Echo`], writes back what
//!   it reads.
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
//! server.shutdown();
//! server.join()?;
//! # Ok(())
//! # }
//! ```
//!
//! # Implementation notes
//!
//! The crate is built in layers; each imports only from the layers below it
//! (a lower one never names a type of a higher one; where it must call up, as
//! a handle waking a worker, it holds a small trait of its own):
//!
//! | layer | modules | what it holds |
//! |---|---|---|
//! | configuration | `config`, `addr`, `error`, `stats` | plain data: validated options, addresses, errors, counters |
//! | sans-IO API | `handler`, `context` ([`Conn`]), `handle` ([`ConnHandle`]) | what users implement and call; no socket, no event loop |
//! | state machine | `state_machine` | one connection: buffering, backpressure, half-close, timeouts; fed events, returns steps; reads and writes through a `Stream` trait; [`testing`] drives it in memory |
//! | transports | `transport::{tcp, unix}` | how bytes cross a socket: socket creation (socket2), accept, peer address and credentials |
//! | driver | `driver::{worker, acceptor}` | the mio event loops: one per worker thread, the acceptor on worker 0, timers, wake-ups |
//! | server | `builder`, `listener`, `server`, `systemd` | the public [`TcpServer`], its builder, its [`Listener`]s and [`ServerHandle`]; socket activation |
//!
//! `context.rs` holds [`Conn`], the handler's view of a connection;
//! `state_machine.rs` holds the connection itself, which the handler never
//! sees.
//!
//! Each worker thread runs its own [mio](https://docs.rs/mio) event loop;
//! worker 0 also accepts and hands connections to the workers in turn. A
//! worker reads into one buffer shared by all its connections, hands the
//! bytes to the handler and writes the handler's output straight to the
//! socket: one `read` and one `write` per message in the steady state. Only
//! output the socket refuses is kept, per connection, and freed once sent, so
//! an idle connection holds no buffer. Nothing on the per-message path takes a
//! lock or writes a shared atomic. A connection's socket is an enum of the
//! transports (one branch per read or write, no allocation, no `dyn`).
//!
//! Writes never raise `SIGPIPE`: they use `send` with `MSG_NOSIGNAL`.

#![forbid(unsafe_code)]
#![deny(missing_docs, missing_debug_implementations)]

// Layers, bottom to top; each module imports only from those above it in
// this list (see "Implementation notes").
mod addr;
mod config;
mod error;
mod stats;

mod context;
mod handle;
mod handler;

mod state_machine;
pub mod testing;

mod transport;

mod driver;

mod builder;
mod listener;
mod server;
#[cfg(all(unix, feature = "systemd"))]
pub mod systemd;

pub mod guide;

pub use addr::{Addr, PeerCred, UnixAddr};
pub use builder::TcpServerBuilder;
pub use config::{
    DEFAULT_BACKLOG, DEFAULT_MAX_CONNECTIONS, DEFAULT_SHUTDOWN_TIMEOUT, DEFAULT_WRITE_BUFFER_LIMIT,
    DEFAULT_WRITE_TIMEOUT,
};
pub use context::Conn;
pub use error::{Error, Result};
pub use handle::{ConnHandle, PushError};
pub use handler::{CloseReason, Echo, Handler};
pub use listener::Listener;
pub use server::{ServerHandle, TcpServer};
pub use stats::Stats;
