//! [`Conn`]: what a handler sees of its connection.

use std::net::SocketAddr;

/// The context a [`Handler`](crate::Handler) callback gets: the connection's
/// addresses, an output buffer and the requests the handler makes.
///
/// A `Conn` is not a socket. [`write`](Conn::write) appends to a buffer that
/// the server writes out when the callback returns, and
/// [`close`](Conn::close) and [`shutdown_write`](Conn::shutdown_write) set flags
/// the server acts on. So the same handler runs under the server and in the
/// in-memory [test kit](crate::testing).
///
/// The server keeps one `Conn` per worker and reuses it for every callback, so
/// handing one to a callback costs no allocation.
#[derive(Debug)]
pub struct Conn {
    out: Vec<u8>,
    peer: SocketAddr,
    local: SocketAddr,
    queued: usize,
    close: bool,
    shutdown_write: bool,
    write_closed: bool,
}

impl Conn {
    /// A context for one callback of a connection between `local` and `peer`.
    ///
    /// `queued` is the output already waiting for the socket; `write_closed`
    /// says the write side was shut down by an earlier callback.
    pub(crate) fn new(peer: SocketAddr, local: SocketAddr) -> Self {
        Conn {
            out: Vec::new(),
            peer,
            local,
            queued: 0,
            close: false,
            shutdown_write: false,
            write_closed: false,
        }
    }

    /// Makes the context ready for a callback of another (or the same)
    /// connection, keeping the output buffer's allocation.
    pub(crate) fn reset(
        &mut self,
        peer: SocketAddr,
        local: SocketAddr,
        queued: usize,
        write_closed: bool,
    ) {
        self.out.clear();
        self.peer = peer;
        self.local = local;
        self.queued = queued;
        self.close = false;
        self.shutdown_write = false;
        self.write_closed = write_closed;
    }

    /// Queues `data` to be sent to the peer.
    ///
    /// Nothing is ever dropped for lack of room: what the socket cannot take
    /// now is kept until the peer reads (see the backpressure rule in
    /// [`Handler`](crate::Handler)). After [`close`](Conn::close) or
    /// [`shutdown_write`](Conn::shutdown_write) the write side is closing, and
    /// `write` does nothing.
    pub fn write(&mut self, data: &[u8]) {
        if !self.write_closed {
            self.out.extend_from_slice(data);
        }
    }

    /// Closes the connection gracefully: the output already written is sent,
    /// then the server shuts down its write side (the peer reads EOF), reads and
    /// drops what the peer still sends for a bounded time, and closes. No more
    /// `on_data` comes after this call.
    pub fn close(&mut self) {
        self.close = true;
        self.write_closed = true;
    }

    /// Shuts down the write side once the output written so far is sent: the
    /// peer reads EOF but may go on sending, and the handler goes on getting
    /// [`on_data`](crate::Handler::on_data).
    pub fn shutdown_write(&mut self) {
        self.shutdown_write = true;
        self.write_closed = true;
    }

    /// The address of the peer.
    pub fn peer_addr(&self) -> SocketAddr {
        self.peer
    }

    /// The local address of the connection (the server's side).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// How many bytes of output are waiting to be sent: those the socket has
    /// not taken yet plus those written in this callback.
    ///
    /// A handler that produces data can use it to stay under a budget of its own.
    pub fn pending_write(&self) -> usize {
        self.queued + self.out.len()
    }

    /// Whether [`close`](Conn::close) was called in this callback.
    pub fn is_closing(&self) -> bool {
        self.close
    }

    /// Whether the write side is closed or closing, so that
    /// [`write`](Conn::write) does nothing.
    pub fn is_write_closed(&self) -> bool {
        self.write_closed
    }

    /// The output written in this callback.
    pub(crate) fn output(&self) -> &[u8] {
        &self.out
    }

    /// Whether the handler asked to shut down the write side in this callback.
    pub(crate) fn wants_shutdown_write(&self) -> bool {
        self.shutdown_write
    }
}
