//! [`Conn`]: what a handler sees of its connection.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::addr::{Addr, PeerCred};
use crate::handle::{ConnHandle, ConnState, Route};
use crate::proxy::ProxyHeader;
use crate::tls_info::TlsInfo;

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
    /// What a TLS handshake negotiated, once it is done.
    pub(crate) tls: Option<Box<TlsInfo>>,
    /// The PROXY protocol header the connection started with, if any; with
    /// it, `peer` is the client's address it gave.
    pub(crate) proxy: Option<Box<ProxyHeader>>,
}

impl Endpoints {
    /// Placeholder endpoints for a context between callbacks.
    pub(crate) fn none() -> Self {
        Endpoints {
            peer: Addr::Tcp(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0))),
            local: Addr::Tcp(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0))),
            listener: 0,
            peer_cred: None,
            tls: None,
            proxy: None,
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
    /// The input of the `on_data` call in progress, as the address and
    /// length of its bytes (`(0, 0)` in other callbacks), so that
    /// [`write`](Conn::write) can tell a slice of it.
    input: (usize, usize),
    /// What the handler wrote first, when that was a slice of the input:
    /// its address and length. It is sent from the input itself, not copied
    /// (an echo costs no copy); the callback's output is this, then `out`.
    echo: Option<(usize, usize)>,
    endpoints: Endpoints,
    queued: usize,
    close: bool,
    shutdown_write: bool,
    write_closed: bool,
    notify_drain: bool,
    reading: Option<bool>,
    timer: TimerRequest,
    now: Instant,
    abort: bool,
    limit: usize,
    key: usize,
    id: u64,
    state: Option<Arc<ConnState>>,
    route: Route,
}

impl Conn {
    /// A context for a worker (or the test kit) that reaches its connections
    /// through `route` and applies `limit` to handles' writes; `now` is only
    /// a placeholder until [`reset`](Conn::reset) gives each callback its time.
    pub(crate) fn new(route: Route, limit: usize, now: Instant) -> Self {
        Conn {
            out: Vec::new(),
            input: (0, 0),
            echo: None,
            endpoints: Endpoints::none(),
            queued: 0,
            close: false,
            shutdown_write: false,
            write_closed: false,
            notify_drain: false,
            reading: None,
            timer: TimerRequest::Keep,
            now,
            abort: false,
            limit,
            key: 0,
            id: 0,
            state: None,
            route,
        }
    }

    /// Makes the context ready for a callback of connection `key`/`id` at
    /// time `now`, keeping the output buffer's allocation. `endpoints` and
    /// `state` (the connection's handle state) are moved in for the callback
    /// and given back by [`finish`](Conn::finish).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn reset(
        &mut self,
        now: Instant,
        endpoints: &mut Endpoints,
        key: usize,
        id: u64,
        queued: usize,
        write_closed: bool,
        state: Option<Arc<ConnState>>,
    ) {
        self.out.clear();
        self.input = (0, 0);
        self.echo = None;
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
        self.now = now;
        self.abort = false;
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
    ///
    /// In [`on_data`](crate::Handler::on_data), writing the input (or a slice
    /// of it) first costs no copy: the server sends it from its read buffer
    /// and keeps only what the socket refuses.
    pub fn write(&mut self, data: &[u8]) {
        if self.write_closed || data.is_empty() {
            return;
        }
        if self.out.is_empty() {
            // A slice of the input (an echo, or a part of the input written
            // first) is only noted: the server sends it from the input. A
            // live `&[u8]` inside the input's address range is the input's
            // own bytes, which no one can change during the callback.
            let start = data.as_ptr().addr();
            let (base, len) = self.input;
            let inside = start >= base && start - base <= len && len - (start - base) >= data.len();
            if inside {
                match &mut self.echo {
                    None => {
                        self.echo = Some((start, data.len()));
                        return;
                    }
                    Some((at, n)) if *at + *n == start => {
                        *n += data.len();
                        return;
                    }
                    Some(_) => {}
                }
            }
        }
        self.out.extend_from_slice(data);
    }

    /// Closes the connection gracefully: the output already written is sent,
    /// then the server shuts down its write side (the peer reads EOF), reads and
    /// drops what the peer still sends for a bounded time, and closes. No more
    /// `on_data` comes after this call.
    pub fn close(&mut self) {
        self.close = true;
        self.write_closed = true;
    }

    /// Aborts the connection: the server drops the output not yet sent
    /// (this callback's too), sets `SO_LINGER` to zero and closes the socket,
    /// so the peer gets a reset (RST) rather than a FIN: its reads and writes
    /// fail with `ECONNRESET`. No more callbacks come but
    /// [`on_close`](crate::Handler::on_close), with [`CloseReason::Aborted`].
    ///
    /// For testing how a client copes with a server that vanishes (see
    /// [`fault`](crate::fault)); a normal end is [`close`](Conn::close).
    ///
    /// [`CloseReason::Aborted`]: crate::CloseReason::Aborted
    ///
    /// # Examples
    ///
    /// ```
    /// use netecho::testing::Harness;
    /// use netecho::{CloseReason, Conn, Handler};
    ///
    /// /// Resets the connection at the first byte.
    /// struct Rude;
    ///
    /// impl Handler for Rude {
    ///     fn on_data(&mut self, conn: &mut Conn, _data: &[u8]) {
    ///         conn.abort();
    ///     }
    /// }
    ///
    /// let mut peer = Harness::open(Rude);
    /// peer.send(b"hello");
    /// assert_eq!(peer.close_reason(), Some(CloseReason::Aborted));
    /// ```
    pub fn abort(&mut self) {
        self.abort = true;
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
        let pending = self.pending_write();
        let state = self.state.get_or_insert_with(|| {
            let state = ConnState::new(limit);
            state.set_pending(pending);
            Arc::new(state)
        });
        ConnHandle::new(self.route.clone(), Arc::clone(state), self.key, self.id)
    }

    /// The time of this callback, the instant the connection's timer and
    /// timeouts count from: a timer set now expires at `now() + after`.
    ///
    /// Under the server it is when the worker woke up for the events it is
    /// handling (one reading of the clock per batch of events, not one per
    /// callback). Under the [test kit](crate::testing) it is the virtual time:
    /// where [`Harness::advance`](crate::testing::Harness::advance) got to, or
    /// the deadline being handled, in `on_timer` and `on_idle_timeout`. A
    /// handler that needs the time (a rate limit, a timestamp) reads it here
    /// rather than calling [`Instant::now`], so the kit can test it.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use netecho::testing::Harness;
    /// use netecho::{Conn, Handler};
    ///
    /// /// Says how long after opening each tick came.
    /// struct Ticks(Option<Instant>);
    ///
    /// impl Handler for Ticks {
    ///     fn on_open(&mut self, conn: &mut Conn) {
    ///         self.0 = Some(conn.now());
    ///         conn.set_timer(Duration::from_millis(100));
    ///     }
    ///     fn on_timer(&mut self, conn: &mut Conn) {
    ///         let since = self.0.map(|t| conn.now() - t).unwrap_or_default();
    ///         conn.write(format!("{}\n", since.as_millis()).as_bytes());
    ///         conn.set_timer(Duration::from_millis(100));
    ///     }
    /// }
    ///
    /// let mut peer = Harness::open(Ticks(None));
    /// peer.advance(Duration::from_millis(350));
    /// assert_eq!(peer.read(), b"100\n200\n300\n");
    /// ```
    pub fn now(&self) -> Instant {
        self.now
    }

    /// The address of the peer: for TCP its IP address and port
    /// ([`Addr::as_tcp`] gives the [`SocketAddr`]); for a Unix socket usually
    /// [`UnixAddr::Unnamed`](crate::UnixAddr::Unnamed), since clients seldom
    /// bind theirs (see [`peer_cred`](Conn::peer_cred) for who it is).
    ///
    /// On a listener with the [PROXY protocol](crate::ProxyProtocol), the
    /// client's address from the header; the balancer's is
    /// [`proxied_by`](Conn::proxied_by).
    pub fn peer_addr(&self) -> &Addr {
        &self.endpoints.peer
    }

    /// The real peer of a connection whose [PROXY protocol](crate::ProxyProtocol)
    /// header gave another client address: the load balancer. `None` when
    /// [`peer_addr`](Conn::peer_addr) is the real peer (no header, or one
    /// without addresses: a v2 `LOCAL`, a v1 `UNKNOWN`).
    pub fn proxied_by(&self) -> Option<&Addr> {
        self.endpoints
            .proxy
            .as_deref()
            .filter(|h| !h.is_local())
            .map(ProxyHeader::proxied_by)
    }

    /// The connection's [PROXY protocol](crate::ProxyProtocol) header, with
    /// its TLVs (ALPN, authority, unique id); `None` on a listener without
    /// the protocol.
    ///
    /// # Examples
    ///
    /// ```
    /// use netecho::testing::Harness;
    /// use netecho::{Conn, Handler, ProxyProtocol};
    ///
    /// /// Greets the client by the address the balancer gave.
    /// struct Hello;
    ///
    /// impl Handler for Hello {
    ///     fn on_open(&mut self, conn: &mut Conn) {
    ///         let by = conn.proxied_by().map(|a| a.to_string()).unwrap_or_default();
    ///         conn.write(format!("{} via {by}\n", conn.peer_addr()).as_bytes());
    ///         conn.close();
    ///     }
    /// }
    ///
    /// let mut peer = Harness::builder()
    ///     .peer_addr(std::net::SocketAddr::from(([10, 0, 0, 9], 4000)))
    ///     .proxy_protocol(ProxyProtocol::required())
    ///     .open(Hello);
    /// peer.send(b"PROXY TCP4 192.0.2.1 192.0.2.2 5555 7\r\n");
    /// assert_eq!(peer.read(), b"192.0.2.1:5555 via 10.0.0.9:4000\n");
    /// ```
    pub fn proxy_header(&self) -> Option<&ProxyHeader> {
        self.endpoints.proxy.as_deref()
    }

    /// The local address of the connection (the server's side): the address
    /// the peer connected to.
    pub fn local_addr(&self) -> &Addr {
        &self.endpoints.local
    }

    /// Which listener the connection came in on: its index in
    /// [`ServerHandle::local_addrs`](crate::ServerHandle::local_addrs), which
    /// lists the stream listeners in the order they were given to the
    /// builder (UDP listeners, which make no connections, come after them).
    pub fn listener(&self) -> usize {
        self.endpoints.listener
    }

    /// The credentials (pid, uid, gid) of the peer process of a Unix-socket
    /// connection, as the kernel recorded them at `connect`; `None` for TCP
    /// and where the platform does not tell (only Linux and Android do).
    pub fn peer_cred(&self) -> Option<PeerCred> {
        self.endpoints.peer_cred
    }

    /// What the TLS handshake negotiated (ALPN, SNI, the client's
    /// certificates), from `on_open` on; `None` on a connection without TLS.
    ///
    /// # Examples
    ///
    /// ```
    /// use netecho::{Conn, Handler};
    ///
    /// struct WhoAreYou;
    /// impl Handler for WhoAreYou {
    ///     fn on_open(&mut self, conn: &mut Conn) {
    ///         let sni = conn.tls().and_then(|tls| tls.server_name()).unwrap_or("-");
    ///         let reply = format!("you asked for {sni}\n");
    ///         conn.write(reply.as_bytes());
    ///     }
    /// }
    /// ```
    pub fn tls(&self) -> Option<&TlsInfo> {
        self.endpoints.tls.as_deref()
    }

    /// How many bytes of output are waiting to be sent: those the socket has
    /// not taken yet plus those written in this callback.
    ///
    /// A handler that produces data can use it to stay under a budget of its own.
    pub fn pending_write(&self) -> usize {
        self.queued + self.out.len() + self.echo.map_or(0, |(_, n)| n)
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

    /// Marks `input` as the input of the `on_data` call about to be made.
    pub(crate) fn set_input(&mut self, input: &[u8]) {
        self.input = (input.as_ptr().addr(), input.len());
    }

    /// For a wrapping handler, before it calls its inner handler: sets
    /// aside what was written so far and stops noting slices of the input,
    /// so that [`output_mut`](Conn::output_mut) holds exactly what the inner
    /// handler writes, all of it copied. [`leave_inner`](Conn::leave_inner)
    /// undoes this with what it returns.
    pub(crate) fn enter_inner(&mut self) -> Outer {
        Outer {
            // Only a non-empty output is set aside: the empty one keeps its
            // allocation for the inner handler.
            out: if self.out.is_empty() {
                Vec::new()
            } else {
                std::mem::take(&mut self.out)
            },
            input: std::mem::take(&mut self.input),
        }
    }

    /// After [`enter_inner`](Conn::enter_inner): notes slices of the input
    /// again, and puts what was set aside back before what the wrapping
    /// handler lets out of its inner handler's output.
    pub(crate) fn leave_inner(&mut self, outer: Outer) {
        self.input = outer.input;
        if !outer.out.is_empty() {
            let mut out = outer.out;
            out.append(&mut self.out);
            self.out = out;
        }
    }

    /// The slice of `input` (the input given to
    /// [`set_input`](Conn::set_input)) the handler wrote first, if it did;
    /// the callback's output is that, then [`output`](Conn::output).
    pub(crate) fn echoed<'a>(&self, input: &'a [u8]) -> Option<&'a [u8]> {
        let (at, n) = self.echo?;
        let from = at.checked_sub(input.as_ptr().addr())?;
        input.get(from..from.checked_add(n)?)
    }

    /// Copies the slice of `input` the handler wrote first (if any) to the
    /// front of the output, so that [`output`](Conn::output) holds the whole
    /// callback's output. `input` is the input given to
    /// [`set_input`](Conn::set_input), which holds every noted slice.
    pub(crate) fn materialize(&mut self, input: &[u8]) {
        if let Some(echo) = self.echoed(input) {
            self.out.splice(0..0, echo.iter().copied());
            self.echo = None;
        }
        debug_assert!(self.echo.is_none(), "a noted slice outside the input");
    }

    /// The output written in this callback, after the slice of the input
    /// written first (see [`echoed`](Conn::echoed)).
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

    /// Whether the handler asked to abort the connection in this callback.
    pub(crate) fn wants_abort(&self) -> bool {
        self.abort
    }

    /// The write buffer limit the server applies to this connection.
    pub(crate) fn write_buffer_limit(&self) -> usize {
        self.limit
    }

    /// The output written in this callback, for a wrapping handler (the
    /// fault injectors) to take or cut before the server sees it: between
    /// [`enter_inner`](Conn::enter_inner) and
    /// [`leave_inner`](Conn::leave_inner), what its inner handler wrote.
    pub(crate) fn output_mut(&mut self) -> &mut Vec<u8> {
        &mut self.out
    }

    /// For a wrapping handler: marks the write side closed (or not) as its
    /// inner handler should see it, before or after calling it.
    pub(crate) fn set_write_closed(&mut self, closed: bool) {
        self.write_closed = closed;
    }

    /// For a wrapping handler, after calling its inner handler: takes what
    /// the inner handler asked for in the call (all but the output), leaving
    /// the context as if it had asked nothing, with the write side closed as
    /// `write_closed` says.
    pub(crate) fn take_requests(&mut self, write_closed: bool) -> Requests {
        let requests = Requests {
            close: std::mem::take(&mut self.close),
            shutdown_write: std::mem::take(&mut self.shutdown_write),
            abort: std::mem::take(&mut self.abort),
            drain: std::mem::take(&mut self.notify_drain),
            reading: self.reading.take(),
            timer: std::mem::replace(&mut self.timer, TimerRequest::Keep),
        };
        self.write_closed = write_closed;
        requests
    }
}

/// What an outer handler wrote before calling a wrapping one, and the input
/// range, kept by [`Conn::enter_inner`] for [`Conn::leave_inner`].
#[derive(Debug)]
pub(crate) struct Outer {
    out: Vec<u8>,
    input: (usize, usize),
}

/// What a handler asked of its connection in one callback, besides output:
/// taken by a wrapping handler with [`Conn::take_requests`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Requests {
    pub(crate) close: bool,
    pub(crate) shutdown_write: bool,
    pub(crate) abort: bool,
    pub(crate) drain: bool,
    pub(crate) reading: Option<bool>,
    pub(crate) timer: TimerRequest,
}
