//! [`Conn`]: what a handler sees of its connection.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use crate::addr::{Addr, PeerCred};
use crate::handle::{ConnHandle, ConnState, Route};

/// Who and where a connection is: its addresses, its listener, and the
/// peer's credentials (Unix sockets). The state machine owns one per
/// connection and lends it to the context for a callback (a swap, so no
/// reference count is touched per message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Endpoints {
    pub(crate) peer: Addr,
    pub(crate) local: Addr,
    pub(crate) listener: usize,
    pub(crate) peer_cred: Option<PeerCred>,
}

impl Endpoints {
    /// Placeholder endpoints for a context between callbacks.
    pub(crate) fn none() -> Self {
        Endpoints {
            peer: Addr::Tcp(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0))),
            local: Addr::Tcp(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0))),
            listener: 0,
            peer_cred: None,
        }
    }
}

/// What the handler asked of the connection's timer in one callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimerRequest {
    Keep,
    Set(Duration),
    Cancel,
}

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
    endpoints: Endpoints,
    queued: usize,
    close: bool,
    shutdown_write: bool,
    write_closed: bool,
    notify_drain: bool,
    reading: Option<bool>,
    timer: TimerRequest,
    limit: usize,
    key: usize,
    id: u64,
    state: Option<Arc<ConnState>>,
    route: Route,
}

impl Conn {
    /// A context for a worker (or the test kit) that reaches its connections
    /// through `route` and applies `limit` to handles' writes.
    pub(crate) fn new(route: Route, limit: usize) -> Self {
        Conn {
            out: Vec::new(),
            endpoints: Endpoints::none(),
            queued: 0,
            close: false,
            shutdown_write: false,
            write_closed: false,
            notify_drain: false,
            reading: None,
            timer: TimerRequest::Keep,
            limit,
            key: 0,
            id: 0,
            state: None,
            route,
        }
    }

    /// Makes the context ready for a callback of connection `key`/`id`,
    /// keeping the output buffer's allocation. `endpoints` and `state` (the
    /// connection's handle state) are moved in for the callback and given
    /// back by [`finish`](Conn::finish).
    pub(crate) fn reset(
        &mut self,
        endpoints: &mut Endpoints,
        key: usize,
        id: u64,
        queued: usize,
        write_closed: bool,
        state: Option<Arc<ConnState>>,
    ) {
        self.out.clear();
        std::mem::swap(&mut self.endpoints, endpoints);
        self.key = key;
        self.id = id;
        self.queued = queued;
        self.close = false;
        self.shutdown_write = false;
        self.write_closed = write_closed;
        self.notify_drain = false;
        self.reading = None;
        self.timer = TimerRequest::Keep;
        self.state = state;
    }

    /// Ends a callback: gives back the connection's endpoints and handle state.
    pub(crate) fn finish(&mut self, endpoints: &mut Endpoints) -> Option<Arc<ConnState>> {
        std::mem::swap(&mut self.endpoints, endpoints);
        self.state.take()
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

    /// Asks for one [`on_drain`](crate::Handler::on_drain) call once all the
    /// output written so far has been taken by the socket: how a handler that
    /// produces data (rather than answering it) writes the next chunk only as
    /// fast as the peer reads.
    pub fn notify_on_drain(&mut self) {
        self.notify_drain = true;
    }

    /// Stops reading from the peer: no more `on_data` (nor `on_read_closed`,
    /// nor idle timeouts) until [`resume_reading`](Conn::resume_reading) or
    /// [`ConnHandle::resume_reading`]. The peer's bytes wait in the kernel, and
    /// once its buffers fill, TCP slows the peer down: backpressure for a
    /// handler whose work is elsewhere (a thread pool, say).
    pub fn pause_reading(&mut self) {
        self.reading = Some(true);
    }

    /// Resumes reading after [`pause_reading`](Conn::pause_reading).
    pub fn resume_reading(&mut self) {
        self.reading = Some(false);
    }

    /// Sets the connection's timer: [`on_timer`](crate::Handler::on_timer) is
    /// called once `after` this long, unless the timer is set again (which
    /// replaces it) or cancelled first. One timer per connection; for several
    /// deadlines keep them in the handler and set the earliest.
    pub fn set_timer(&mut self, after: Duration) {
        self.timer = TimerRequest::Set(after);
    }

    /// Cancels the connection's timer, if set.
    pub fn cancel_timer(&mut self) {
        self.timer = TimerRequest::Cancel;
    }

    /// A handle to write to this connection, or close it, from any thread
    /// (see [`ConnHandle`]). Handles of one connection share their state;
    /// asking again is cheap.
    pub fn handle(&mut self) -> ConnHandle {
        let limit = self.limit;
        let pending = self.queued + self.out.len();
        let state = self.state.get_or_insert_with(|| {
            let state = ConnState::new(limit);
            state.set_pending(pending);
            Arc::new(state)
        });
        ConnHandle::new(self.route.clone(), Arc::clone(state), self.key, self.id)
    }

    /// The address of the peer: for TCP its IP address and port
    /// ([`Addr::as_tcp`] gives the [`SocketAddr`]); for a Unix socket usually
    /// [`UnixAddr::Unnamed`](crate::UnixAddr::Unnamed), since clients seldom
    /// bind theirs (see [`peer_cred`](Conn::peer_cred) for who it is).
    pub fn peer_addr(&self) -> &Addr {
        &self.endpoints.peer
    }

    /// The local address of the connection (the server's side): the address
    /// the peer connected to.
    pub fn local_addr(&self) -> &Addr {
        &self.endpoints.local
    }

    /// Which listener the connection came in on: its index in the order the
    /// listeners were given to the builder, as in
    /// [`ServerHandle::local_addrs`](crate::ServerHandle::local_addrs).
    pub fn listener(&self) -> usize {
        self.endpoints.listener
    }

    /// The credentials (pid, uid, gid) of the peer process of a Unix-socket
    /// connection, as the kernel recorded them at `connect`; `None` for TCP
    /// and where the platform does not tell (only Linux and Android do).
    pub fn peer_cred(&self) -> Option<PeerCred> {
        self.endpoints.peer_cred
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

    /// Whether the handler asked for `on_drain` in this callback.
    pub(crate) fn wants_drain(&self) -> bool {
        self.notify_drain
    }

    /// `Some(true)` if the handler paused reading in this callback,
    /// `Some(false)` if it resumed it.
    pub(crate) fn reading_request(&self) -> Option<bool> {
        self.reading
    }

    /// What the handler asked of the timer in this callback.
    pub(crate) fn timer_request(&self) -> TimerRequest {
        self.timer
    }
}
