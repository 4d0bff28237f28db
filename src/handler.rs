//! The [`Handler`] trait: what a server does with the bytes of one connection.

use std::io;
use std::sync::Arc;

use crate::context::Conn;

/// Makes one handler per connection.
pub(crate) type Factory = Arc<dyn Fn() -> Box<dyn Handler> + Send + Sync>;

/// The protocol logic of one connection, as callbacks.
///
/// A handler is sans-IO: it never sees a socket. It is given bytes and a
/// [`Conn`], a plain context with an output buffer and a few flags, and it
/// answers by writing to the `Conn` and setting its flags. The server does the
/// I/O. So a handler is tested without the network (see the test kit in
/// [`testing`](crate::testing)), and every handler gets the same socket options,
/// workers, backpressure, timeouts and shutdown.
///
/// The server makes one handler per connection with the factory given to
/// [`TcpServerBuilder::handler`](crate::TcpServerBuilder::handler), so a
/// handler's fields are that connection's state. Its callbacks run one at a
/// time, never two at once, but not always on the same worker thread: a ready
/// connection is served by whichever worker is free (see
/// [`Scheduling`](crate::Scheduling)), so a handler must be `Send`.
///
/// Every method has a default, and the defaults echo: an empty
/// `impl Handler for X {}` is an RFC 862 echo server. [`Echo`] is exactly that.
///
/// # Call order
///
/// 1. [`on_open`](Handler::on_open), once, before anything else.
/// 2. [`on_data`](Handler::on_data), each time bytes arrive, in order. The
///    slice borrows the worker's read buffer: copy what must outlive the call.
/// 3. [`on_idle_timeout`](Handler::on_idle_timeout), when an idle timeout is
///    configured and the peer sent nothing for that long; it may come several
///    times if the handler keeps the connection open.
/// 4. [`on_read_closed`](Handler::on_read_closed), at most once, when the peer
///    shut down its write side (EOF). No `on_data` comes after it.
///
///    Between these, when the handler asked for them:
///    [`on_drain`](Handler::on_drain) once the output is all taken by the
///    socket ([`Conn::notify_on_drain`]), [`on_timer`](Handler::on_timer) when
///    its timer expires ([`Conn::set_timer`]).
/// 5. [`on_close`](Handler::on_close), exactly once, when the connection is
///    gone, unless a callback panicked.
///
/// Once the handler (or the server, at shutdown) asked to close, no more
/// `on_data` comes: bytes still arriving are read and dropped while the output
/// is flushed.
///
/// # Rules
///
/// - **Never block.** A callback runs on a worker thread that serves many
///   connections; a blocking call (a sleep, a lock held by another thread, a
///   blocking socket or file read) stalls all of them.
/// - **Output is buffered, not lost.** What [`Conn::write`] takes is written to
///   the socket as soon as the callback returns; what the socket refuses is kept
///   and sent when the peer reads. While more than the
///   [write buffer limit](crate::TcpServerBuilder::write_buffer_limit) is
///   pending, the server stops reading from the connection (so stops calling
///   `on_data`) and resumes once half of it has drained: a peer that sends but
///   never reads cannot grow memory.
/// - **A panic costs one connection.** A panic in a callback is caught; the
///   connection is closed at once (pending output is dropped), `on_close` is not
///   called, the panic is logged at `warn` with the peer address and counted in
///   [`Stats::handler_panics`](crate::Stats::handler_panics). The worker and
///   every other connection carry on.
///
/// # Examples
///
/// A handler that upper-cases what it receives:
///
/// ```
/// use netecho::{Conn, Handler, TcpServer};
/// use std::io::{Read, Write};
///
/// struct Upper;
///
/// impl Handler for Upper {
///     fn on_data(&mut self, conn: &mut Conn, data: &[u8]) {
///         conn.write(&data.to_ascii_uppercase());
///     }
/// }
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let server = TcpServer::builder().port(0).handler(|| Upper).spawn()?;
/// let mut client = std::net::TcpStream::connect(server.local_addr())?;
/// client.write_all(b"hello")?;
/// let mut reply = [0; 5];
/// client.read_exact(&mut reply)?;
/// assert_eq!(&reply, b"HELLO");
/// server.shutdown();
/// server.join()?;
/// # Ok(())
/// # }
/// ```
pub trait Handler: Send {
    /// The connection is open. The default does nothing.
    ///
    /// [`Conn::peer_addr`] and [`Conn::local_addr`] say who and where. A
    /// greeting written here is sent before anything is read.
    fn on_open(&mut self, conn: &mut Conn) {
        let _ = conn;
    }

    /// Bytes arrived from the peer. The default writes them back (echo).
    fn on_data(&mut self, conn: &mut Conn, data: &[u8]) {
        conn.write(data);
    }

    /// The peer shut down its write side: no more data will come.
    ///
    /// The default closes gracefully: output still pending is written first,
    /// so the peer gets every byte, then EOF.
    fn on_read_closed(&mut self, conn: &mut Conn) {
        conn.close();
    }

    /// The peer sent nothing for the configured
    /// [idle timeout](crate::TcpServerBuilder::idle_timeout). The default closes
    /// gracefully. A handler that does not close is asked again after another
    /// idle period.
    fn on_idle_timeout(&mut self, conn: &mut Conn) {
        conn.close();
    }

    /// All output written so far has been taken by the socket, after the
    /// handler asked with [`Conn::notify_on_drain`]; once per request. The
    /// default does nothing.
    ///
    /// A producer (a file sender, RFC 864 chargen) writes a chunk, asks for
    /// this, and writes the next chunk here: it goes as fast as the peer reads,
    /// with one chunk of memory.
    fn on_drain(&mut self, conn: &mut Conn) {
        let _ = conn;
    }

    /// The timer set with [`Conn::set_timer`] expired. The default does nothing.
    fn on_timer(&mut self, conn: &mut Conn) {
        let _ = conn;
    }

    /// The connection is closed, for `reason`. Nothing can be written any more.
    /// The default does nothing.
    fn on_close(&mut self, reason: CloseReason) {
        let _ = reason;
    }
}

impl<H: Handler + ?Sized> Handler for Box<H> {
    fn on_open(&mut self, conn: &mut Conn) {
        (**self).on_open(conn)
    }
    fn on_data(&mut self, conn: &mut Conn, data: &[u8]) {
        (**self).on_data(conn, data)
    }
    fn on_read_closed(&mut self, conn: &mut Conn) {
        (**self).on_read_closed(conn)
    }
    fn on_idle_timeout(&mut self, conn: &mut Conn) {
        (**self).on_idle_timeout(conn)
    }
    fn on_drain(&mut self, conn: &mut Conn) {
        (**self).on_drain(conn)
    }
    fn on_timer(&mut self, conn: &mut Conn) {
        (**self).on_timer(conn)
    }
    fn on_close(&mut self, reason: CloseReason) {
        (**self).on_close(reason)
    }
}

/// The default handler: writes back every byte it receives (RFC 862), and
/// closes after the peer's EOF once everything is echoed.
///
/// # Examples
///
/// ```
/// use netecho::{Echo, TcpServer};
///
/// # fn main() -> Result<(), netecho::Error> {
/// // The same as leaving `.handler(..)` out.
/// let server = TcpServer::builder().port(0).handler(|| Echo).spawn()?;
/// server.shutdown();
/// server.join()
/// # }
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Echo;

impl Handler for Echo {}

/// Why a connection closed, as told to [`Handler::on_close`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseReason {
    /// The peer closed its side and the handler closed in answer (the normal
    /// end of an echo session), after all output was written.
    PeerClosed,
    /// The handler called [`Conn::close`] while the peer was still sending.
    Handler,
    /// The peer reset the connection or vanished (`ECONNRESET`, `EPIPE`).
    Reset,
    /// Another I/O error on the socket.
    Error(io::ErrorKind),
    /// The peer sent nothing for the idle timeout and the handler closed.
    IdleTimeout,
    /// Output was pending and the peer read none of it for the write timeout.
    WriteTimeout,
    /// The handler called [`Conn::abort`]: the connection was reset (RST),
    /// its unsent output dropped.
    Aborted,
    /// The peer closed the TCP connection without TLS's close_notify: its
    /// input may have been cut short (a truncation attack, or a client that
    /// does not bother). A clean TLS close is [`PeerClosed`](Self::PeerClosed).
    Truncated,
    /// The TLS handshake failed (a plaintext client on a TLS port, garbage, a
    /// client certificate missing or not trusted). The handler never sees
    /// it: `on_open` had not run, so neither does `on_close`; it is logged
    /// at debug and counted in [`Stats`](crate::Stats).
    HandshakeFailed,
    /// The TLS handshake did not finish within the handshake timeout. Like
    /// [`HandshakeFailed`](Self::HandshakeFailed), never given to a handler.
    HandshakeTimeout,
    /// The server shut down and the connection closed gracefully.
    Shutdown,
    /// The server shut down and the connection did not finish within the
    /// shutdown timeout, so it was closed by force.
    ShutdownTimeout,
    /// The connection did not start with a PROXY protocol header the
    /// listener takes (malformed, too large, or from an untrusted peer).
    /// Never told to a handler: it had not opened yet.
    ProxyRejected,
    /// No complete PROXY protocol header came within the header timeout.
    /// Never told to a handler: it had not opened yet.
    ProxyTimeout,
}

impl CloseReason {
    /// Classifies an I/O error that ended a connection.
    pub(crate) fn from_io(err: &io::Error) -> Self {
        if is_hang_up(err) {
            CloseReason::Reset
        } else if err.kind() == io::ErrorKind::UnexpectedEof {
            CloseReason::Truncated
        } else {
            CloseReason::Error(err.kind())
        }
    }
}

/// Whether `err` is the peer going away: expected, never a server problem.
pub(crate) fn is_hang_up(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::NotConnected
    )
}
