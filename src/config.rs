//! The server's configuration as plain data: what the builder validated, read
//! by every layer above. Nothing here does I/O or names a type of a higher
//! layer.

use std::time::Duration;

/// Default for [`TcpServerBuilder::backlog`](crate::TcpServerBuilder::backlog).
pub const DEFAULT_BACKLOG: u32 = 1024;
/// Default for [`TcpServerBuilder::write_buffer_limit`](crate::TcpServerBuilder::write_buffer_limit): 64 KiB.
pub const DEFAULT_WRITE_BUFFER_LIMIT: usize = 64 * 1024;
/// Default for [`TcpServerBuilder::max_connections`](crate::TcpServerBuilder::max_connections).
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;
/// Default for [`TcpServerBuilder::shutdown_timeout`](crate::TcpServerBuilder::shutdown_timeout): 5 seconds.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);
/// Default for [`TcpServerBuilder::write_timeout`](crate::TcpServerBuilder::write_timeout): 30 seconds.
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// How a server's workers share its connections
/// ([`TcpServerBuilder::scheduling`](crate::TcpServerBuilder::scheduling)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Scheduling {
    /// Any worker serves any ready connection (the default). The workers wait
    /// on one readiness set (epoll), so a connection is served by whichever
    /// worker is free: when a worker waits for a CPU (more threads than
    /// cores, a container's CPU limit, a handler busy for long), its
    /// connections do not wait with it. A connection's callbacks still run one
    /// at a time, never on two workers at once. Linux only: elsewhere this is
    /// [`PerWorker`](Scheduling::PerWorker).
    #[default]
    Shared,
    /// Each connection belongs to one worker for its whole life, and the
    /// workers share nothing per message: the thread-per-core model, best
    /// with a core for each worker and nothing else on those cores. A
    /// connection waits while its worker does.
    PerWorker,
}

/// What every connection of a server runs with, whatever its listener.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) workers: usize,
    pub(crate) scheduling: Scheduling,
    pub(crate) shutdown_timeout: Duration,
    pub(crate) write_buffer_limit: usize,
    pub(crate) max_connections: usize,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) write_timeout: Option<Duration>,
}

impl Default for Config {
    /// The builder's defaults, with one worker.
    fn default() -> Self {
        Config {
            workers: 1,
            scheduling: Scheduling::Shared,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            write_buffer_limit: DEFAULT_WRITE_BUFFER_LIMIT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            idle_timeout: None,
            write_timeout: Some(DEFAULT_WRITE_TIMEOUT),
        }
    }
}

/// The socket options of a TCP listener the server creates (and, for
/// `nodelay`, of the connections it accepts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TcpOptions {
    pub(crate) reuse_address: bool,
    pub(crate) reuse_port: bool,
    pub(crate) nodelay: bool,
    pub(crate) backlog: i32,
    pub(crate) only_v6: Option<bool>,
    pub(crate) keepalive: Option<Duration>,
    pub(crate) recv_buffer_size: Option<usize>,
    pub(crate) send_buffer_size: Option<usize>,
}

impl Default for TcpOptions {
    fn default() -> Self {
        TcpOptions {
            reuse_address: cfg!(unix),
            reuse_port: false,
            nodelay: true,
            backlog: DEFAULT_BACKLOG as i32,
            only_v6: None,
            keepalive: None,
            recv_buffer_size: None,
            send_buffer_size: None,
        }
    }
}
