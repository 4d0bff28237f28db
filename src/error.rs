//! The crate's error type.

use crate::addr::Addr;
use std::io;

/// What went wrong while configuring, binding or running a server.
///
/// Errors on a single connection (a reset, a broken pipe) are not reported
/// here: they close that connection and are logged, and the server carries on.
/// This type is for what the user of the crate can act on.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration cannot work, for example zero workers.
    #[error("invalid configuration: {reason}")]
    InvalidConfig {
        /// What is wrong with it.
        reason: String,
    },
    /// The listening socket could not be created or bound to `addr`.
    #[error("failed to bind {addr}")]
    Bind {
        /// The address that failed to bind.
        addr: Addr,
        /// The cause, as the operating system reported it.
        #[source]
        source: io::Error,
    },
    /// A socket option could not be set on the listening socket.
    #[error("failed to set {option} on {addr}")]
    SocketOption {
        /// The option, named as in the builder (`reuse_port`, `backlog`, ...).
        option: &'static str,
        /// The address of the socket.
        addr: Addr,
        /// The cause, as the operating system reported it.
        #[source]
        source: io::Error,
    },
    /// The sockets handed in by systemd (`LISTEN_FDS`) cannot be served.
    #[error("systemd socket activation: {what}")]
    Activation {
        /// What is wrong, naming the descriptor.
        what: String,
        /// The cause, as the operating system reported it.
        #[source]
        source: io::Error,
    },
    /// The event loop of a worker could not be created or failed while polling.
    #[error("event loop of worker {worker} failed")]
    EventLoop {
        /// The worker's index.
        worker: usize,
        /// The cause, as the operating system reported it.
        #[source]
        source: io::Error,
    },
    /// A worker thread could not be started.
    #[error("failed to spawn worker thread {worker}")]
    Spawn {
        /// The worker's index.
        worker: usize,
        /// The cause, as the operating system reported it.
        #[source]
        source: io::Error,
    },
    /// A worker thread panicked outside of a handler (a bug in this crate).
    #[error("worker thread {worker} panicked")]
    WorkerPanicked {
        /// The worker's index.
        worker: usize,
    },
}

/// A `Result` whose error is this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
