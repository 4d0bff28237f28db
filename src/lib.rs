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
//! - [`fault`]: wrappers that make any handler misbehave on purpose (latency,
//!   bandwidth, slices, cut-offs, resets, silence), reproducibly, for testing
//!   clients.
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
//! Each worker thread runs its own [mio](https://docs.rs/mio) event loop;
//! worker 0 also accepts and hands connections to the workers in turn. A
//! worker reads into one buffer shared by all its connections, hands the
//! bytes to the handler and writes the handler's output straight to the
//! socket: one `read` and one `write` per message in the steady state. Only
//! output the socket refuses is kept, per connection, and freed once sent, so
//! an idle connection holds no buffer. Nothing on the per-message path takes a
//! lock or writes a shared atomic.
//!
//! Writes never raise `SIGPIPE`: they use `send` with `MSG_NOSIGNAL`.

#![forbid(unsafe_code)]
#![deny(missing_docs, missing_debug_implementations)]

mod builder;
mod conn;
mod connection;
mod error;
pub mod fault;
pub mod guide;
mod handler;
mod push;
mod server;
mod socket;
mod stats;
pub mod testing;
mod worker;

pub use builder::{
    DEFAULT_BACKLOG, DEFAULT_MAX_CONNECTIONS, DEFAULT_SHUTDOWN_TIMEOUT, DEFAULT_WRITE_BUFFER_LIMIT,
    DEFAULT_WRITE_TIMEOUT, TcpServerBuilder,
};
pub use conn::Conn;
pub use error::{Error, Result};
pub use handler::{CloseReason, Echo, Handler};
pub use push::{ConnHandle, PushError};
pub use server::{ServerHandle, TcpServer};
pub use stats::Stats;
