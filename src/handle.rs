//! [`ConnHandle`]: writing to a connection from outside its callbacks.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering::{AcqRel, Acquire, Release};
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::mpsc::Sender;

/// What other threads send a worker about one of its connections.
pub(crate) enum Command {
    /// Bytes to write, after what the connection already has pending.
    Write(Vec<u8>),
    /// Close gracefully, as [`Conn::close`](crate::Conn::close) does.
    Close,
    /// Resume reading, as [`Conn::resume_reading`](crate::Conn::resume_reading) does.
    ResumeReading,
}

/// A message for a worker: a command for the connection in slot `key` whose
/// id is `id` (a slot reused by a later connection has another id).
pub(crate) struct Push {
    pub(crate) key: usize,
    pub(crate) id: u64,
    pub(crate) command: Command,
}

/// Wakes the thread that owns a connection, so it reads its [`Push`]es.
///
/// Defined here, implemented by the driver: a handle calls up into the
/// driver through it without naming any type of the driver.
pub(crate) trait Wake: Send + Sync {
    /// Wakes the owner; an error means it is gone.
    fn wake(&self) -> std::io::Result<()>;
}

/// How to reach the worker that owns a connection.
#[derive(Clone)]
pub(crate) struct Route {
    pub(crate) tx: Sender<Push>,
    /// `None` in the test kit, which applies pushes when asked.
    pub(crate) waker: Option<Arc<dyn Wake>>,
}

impl fmt::Debug for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Route").finish_non_exhaustive()
    }
}

/// What a connection shares with its handles. Made only when a handler asks
/// for a handle, so other connections pay nothing for it.
#[derive(Debug)]
pub(crate) struct ConnState {
    closed: AtomicBool,
    /// Bytes sent by handles and not yet taken by the worker.
    in_flight: AtomicUsize,
    /// Bytes the connection holds because the peer has not read them.
    pending: AtomicUsize,
    limit: usize,
}

impl ConnState {
    pub(crate) fn new(limit: usize) -> Self {
        ConnState {
            closed: AtomicBool::new(false),
            in_flight: AtomicUsize::new(0),
            pending: AtomicUsize::new(0),
            limit,
        }
    }

    pub(crate) fn set_closed(&self) {
        self.closed.store(true, Release);
    }

    pub(crate) fn set_pending(&self, bytes: usize) {
        self.pending.store(bytes, Release);
    }

    pub(crate) fn taken(&self, bytes: usize) {
        self.in_flight.fetch_sub(bytes, AcqRel);
    }
}

/// Why [`ConnHandle::write`] or [`ConnHandle::close`] did not queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PushError {
    /// The connection is closed (or closing at shutdown); nothing more can be
    /// written to it.
    #[error("connection closed")]
    Closed,
    /// The connection already holds the write buffer limit of output the peer
    /// has not read: try again later (for example from
    /// [`Handler::on_drain`](crate::Handler::on_drain)), drop the message, or
    /// close the connection.
    #[error("connection write buffer full")]
    Full,
}

/// Writes to one connection, or closes it, from any thread.
///
/// Get one from [`Conn::handle`](crate::Conn::handle) in a callback (typically
/// [`on_open`](crate::Handler::on_open)). It queues the bytes for the worker
/// that owns the connection and wakes it; the worker writes them after what is
/// already pending. This is how a handler hands slow work (a database call, a
/// file read) to another thread without stalling its worker, and how a server
/// pushes or broadcasts.
///
/// It respects the same backpressure as the handler's own writes: while the
/// connection holds [`write_buffer_limit`](crate::TcpServerBuilder::write_buffer_limit)
/// bytes the peer has not read, [`write`](ConnHandle::write) returns
/// [`PushError::Full`]. A message is never split or refused for its size
/// alone: one written while nothing is held is taken whatever its length, so
/// a connection holds at most the limit plus one message per concurrent
/// writer. Keep messages small, or send a large body in pieces (from
/// [`Handler::on_drain`](crate::Handler::on_drain), say).
///
/// `Ok` means queued, not delivered: a connection that closes before the
/// worker gets to the bytes drops them, as a socket would.
///
/// # Examples
///
/// ```
/// use netecho::{Conn, ConnHandle, Handler, TcpServer};
/// use std::io::Read;
///
/// /// Answers from another thread, as slow work would.
/// struct Later;
///
/// impl Handler for Later {
///     fn on_open(&mut self, conn: &mut Conn) {
///         let handle: ConnHandle = conn.handle();
///         std::thread::spawn(move || {
///             let _ = handle.write(b"done\n");
///             let _ = handle.close();
///         });
///     }
/// }
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = TcpServer::builder().port(0).handler(|| Later).spawn()?;
/// let mut client = std::net::TcpStream::connect(server.local_addr())?;
/// let mut reply = String::new();
/// client.read_to_string(&mut reply)?;
/// assert_eq!(reply, "done\n");
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct ConnHandle {
    route: Route,
    state: Arc<ConnState>,
    key: usize,
    id: u64,
}

impl fmt::Debug for ConnHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnHandle")
            .field("id", &self.id)
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

impl ConnHandle {
    pub(crate) fn new(route: Route, state: Arc<ConnState>, key: usize, id: u64) -> Self {
        ConnHandle {
            route,
            state,
            key,
            id,
        }
    }

    /// Queues `data` to be written to the connection, and wakes its worker.
    ///
    /// # Errors
    ///
    /// [`PushError::Closed`] once the connection is closed or closing,
    /// [`PushError::Full`] while it holds its write buffer limit of unread
    /// output (a write into an empty buffer is always taken, whatever its size).
    pub fn write(&self, data: &[u8]) -> Result<(), PushError> {
        if self.is_closed() {
            return Err(PushError::Closed);
        }
        let held = self.state.in_flight.load(Acquire) + self.state.pending.load(Acquire);
        if held > 0 && held + data.len() > self.state.limit {
            return Err(PushError::Full);
        }
        self.state.in_flight.fetch_add(data.len(), AcqRel);
        self.send(Command::Write(data.to_vec())).inspect_err(|_| {
            self.state.taken(data.len());
        })
    }

    /// Closes the connection gracefully once what was queued before is
    /// written, as [`Conn::close`](crate::Conn::close) does.
    ///
    /// # Errors
    ///
    /// [`PushError::Closed`] if the connection is already closed.
    pub fn close(&self) -> Result<(), PushError> {
        if self.is_closed() {
            return Err(PushError::Closed);
        }
        self.send(Command::Close)
    }

    /// Resumes reading from the connection after the handler paused it with
    /// [`Conn::pause_reading`](crate::Conn::pause_reading): how a handler that
    /// hands a request to another thread takes the next one only when the
    /// answer is done.
    ///
    /// # Errors
    ///
    /// [`PushError::Closed`] if the connection is already closed.
    pub fn resume_reading(&self) -> Result<(), PushError> {
        if self.is_closed() {
            return Err(PushError::Closed);
        }
        self.send(Command::ResumeReading)
    }

    /// Whether the connection is closed (or closing at shutdown).
    pub fn is_closed(&self) -> bool {
        self.state.closed.load(Acquire)
    }

    /// Bytes queued by handles plus output the peer has not read yet.
    pub fn pending_write(&self) -> usize {
        self.state.in_flight.load(Acquire) + self.state.pending.load(Acquire)
    }

    fn send(&self, command: Command) -> Result<(), PushError> {
        let push = Push {
            key: self.key,
            id: self.id,
            command,
        };
        self.route.tx.send(push).map_err(|_| PushError::Closed)?;
        if let Some(waker) = &self.route.waker {
            // The worker is gone only after shutdown, and then the connection
            // is closed: the message is dropped with it.
            waker.wake().map_err(|_| PushError::Closed)?;
        }
        Ok(())
    }
}
