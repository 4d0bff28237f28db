//! The crate's error type.

use std::fmt;

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
    /// Starting a successor process with the listening sockets
    /// (`ServerHandle::upgrade`, feature `systemd`) failed; the
    /// server serves on.
    #[error("upgrade failed: {what}")]
    Upgrade {
        /// What failed.
        what: String,
        /// The cause.
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
    /// A TLS listener's configuration cannot be used: a certificate, key or
    /// CA file cannot be read or holds nothing usable, or the key does not
    /// match the certificate. `context` names the file.
    #[cfg(feature = "tls")]
    #[error("tls: {context}")]
    Tls {
        /// What failed, naming the file.
        context: String,
        /// The cause: the file system's error, or what was wrong in the file.
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

impl Error {
    /// The error with its whole chain of causes, for a person to read:
    /// `failed to bind 127.0.0.1:7007: Address already in use (os error 98)`.
    ///
    /// `Display` of an [`Error`] says only what failed, and the cause is its
    /// [`source`](std::error::Error::source), as Rust error types do so that
    /// reporters do not print a cause twice. Where nothing walks the chain
    /// for you (a `main` printing to stderr, a log line), print this instead.
    ///
    /// # Examples
    ///
    /// ```
    /// use netecho::TcpServer;
    ///
    /// let taken = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let addr = taken.local_addr()?;
    /// let err = TcpServer::builder().addr(addr).reuse_address(false).bind().unwrap_err();
    /// assert_eq!(err.to_string(), format!("failed to bind {addr}"));
    /// assert!(err.report().to_string().starts_with(&format!("failed to bind {addr}: ")));
    /// eprintln!("error: {}", err.report());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn report(&self) -> Report<'_> {
        Report(self)
    }
}

/// An [`Error`] and its causes, displayed on one line, each after a `: `.
/// Made by [`Error::report`].
#[derive(Debug, Clone, Copy)]
pub struct Report<'a>(&'a Error);

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut cause = std::error::Error::source(self.0);
        while let Some(err) = cause {
            write!(f, ": {err}")?;
            cause = err.source();
        }
        Ok(())
    }
}

/// A `Result` whose error is this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Worker threads by index, as a server keeps them to join.
pub(crate) type WorkerThreads = std::sync::Mutex<Vec<(usize, std::thread::JoinHandle<Result<()>>)>>;

/// Joins the threads in `threads` not joined yet; the first error wins (a
/// thread that panicked is [`Error::WorkerPanicked`]).
pub(crate) fn join_workers(threads: &WorkerThreads) -> Result<()> {
    let threads = std::mem::take(
        &mut *threads
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    );
    let mut result = Ok(());
    for (worker, thread) in threads {
        let joined = thread
            .join()
            .unwrap_or(Err(Error::WorkerPanicked { worker }));
        if result.is_ok() {
            result = joined;
        }
    }
    result
}
