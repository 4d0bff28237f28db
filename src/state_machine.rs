//! One connection's state machine: output buffering, backpressure, half-close,
//! graceful close and timeouts, apart from the event loop that drives it.
//!
//! The driver tells a [`Connection`] what happened (readable, writable, a
//! timer, shutdown) and gets back a [`Step`]. The connection does its own reads
//! and writes on any [`Stream`], so a completion-based driver could feed it
//! too, and it calls the handler; it knows nothing of mio.

use std::any::Any;
use std::io::{self, Read, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::context::{Conn, Endpoints, TimerRequest};
use crate::handle::{Command, ConnState};
use crate::handler::{CloseReason, Handler};
use crate::proxy::{self, Parsed, ProxyProtocol};
use crate::stats::{Counters, bump};
use crate::tls_info::TlsInfo;

/// Reads done for one readiness event before the connection yields to others.
const READ_BUDGET: usize = 16;

/// How long a connection the server closes keeps reading (and dropping) what
/// the peer still sends after the server's FIN, so that closing does not make
/// the kernel reset the connection while the peer still reads our output.
pub(crate) const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

/// A deadline [`Connection::on_timer`] handles.
#[derive(Debug, Clone, Copy)]
enum Due {
    /// The end of a graceful close's drain, closing for this reason.
    Drain(CloseReason),
    Write,
    Timer,
    Idle,
}

/// A byte stream the connection reads and writes, non-blocking: the one door
/// between the state machine and a transport.
///
/// The transports implement it (TCP, Unix sockets; the test kit's in-memory
/// peer). A transport with a protocol of its own (TLS) implements it over the
/// stream it wraps, and shows the handler only plaintext.
pub(crate) trait Stream: Read + Write {
    /// Shuts down the write side (sends FIN).
    fn shutdown_write(&mut self) -> io::Result<()>;

    /// Makes the coming close a reset (RST) that drops unsent data.
    fn abort(&mut self) -> io::Result<()>;

    /// Copies what the peer sent into `buf` without consuming it
    /// (`recv(MSG_PEEK)`), from the socket itself, below any protocol of
    /// the stream: for a preamble (the PROXY protocol header) that comes
    /// before everything else, a TLS handshake included.
    fn peek(&mut self, buf: &mut [u8]) -> io::Result<usize>;

    /// Consumes bytes that [`peek`](Stream::peek) showed, into `buf`, from
    /// the socket itself. A stream with a protocol of its own (TLS) reads
    /// its socket here, not through the protocol.
    fn consume_peeked(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read(buf)
    }

    /// Moves a handshake on: `Ok(true)` once the stream carries application
    /// data (at once for a plain socket), `Ok(false)` while it waits.
    fn handshake(&mut self) -> io::Result<bool> {
        Ok(true)
    }

    /// How long the handshake may take, if there is one.
    fn handshake_timeout(&self) -> Option<Duration> {
        None
    }

    /// What the handshake negotiated, for the handler.
    fn tls_info(&self) -> Option<Box<TlsInfo>> {
        None
    }

    /// The stream holds output that `write` counted as taken but the socket
    /// has not (TLS records): flush it (`Write::flush`) when writable, and do
    /// not close before it is out.
    fn wants_write(&self) -> bool {
        false
    }

    /// A short read stopped with input left although the socket may be
    /// empty (decrypted data, the peer's close): read again at once.
    fn has_buffered_input(&self) -> bool {
        false
    }

    /// Closing sends a message of the protocol (TLS close_notify), so even a
    /// connection whose peer is done goes through `shutdown_write`.
    fn closes_with_message(&self) -> bool {
        false
    }
}

/// What the driver does next with a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// Keep it; wait for the next event.
    Open,
    /// Keep it; it has work left (data to read after using its read budget,
    /// or an `on_drain` due), so call [`Connection::resume`] again soon, after
    /// the other connections, even without an event.
    Yield,
    /// Remove it and call [`Connection::finish`] with this reason.
    Close(CloseReason),
    /// A callback panicked: remove it and drop it without `on_close`.
    Panicked,
}

/// What every call needs from the worker: the shared read buffer, the reused
/// handler context, the time of this event batch, configuration and counters.
pub(crate) struct Io<'a> {
    pub(crate) buf: &'a mut [u8],
    pub(crate) conn: &'a mut Conn,
    pub(crate) now: Instant,
    pub(crate) config: &'a Config,
    pub(crate) counters: &'a Counters,
}

/// One connection: its stream, its handler and the output the socket refused.
///
/// Invariants: `pending` holds only bytes the socket refused, in order, and
/// has no allocation while empty; `stalled_since` is `Some` exactly while
/// `pending` is not empty; once `fin_sent`, nothing more is written.
pub(crate) struct Connection<S> {
    stream: S,
    handler: Box<dyn Handler>,
    key: usize,
    id: u64,
    /// Shared with the connection's handles, once a handler asked for one.
    state: Option<Arc<ConnState>>,
    user_timer: Option<Instant>,
    pending: Vec<u8>,
    endpoints: Endpoints,
    last_read: Instant,
    stalled_since: Option<Instant>,
    drain_deadline: Option<Instant>,
    closing: Option<CloseReason>,
    read_closed: bool,
    read_paused: bool,
    /// The handler paused reading ([`Conn::pause_reading`]).
    user_paused: bool,
    fin_wanted: bool,
    fin_sent: bool,
    drain_wanted: bool,
    more_to_read: bool,
    /// The driver saw the peer's EOF (or an error) announced: reads go on
    /// until they return it, whatever their size.
    hup: bool,
    /// The preamble (a PROXY header, if the listener wants one) is over and
    /// the handler was told `on_open`.
    opened: bool,
    /// The listener's PROXY protocol settings while the header is awaited;
    /// `None` once it came (or on a listener without the protocol).
    proxy: Option<Arc<ProxyProtocol>>,
    /// When an awaited PROXY header times out.
    preamble_deadline: Option<Instant>,
    /// When an unfinished handshake (TLS, after any PROXY header) times out;
    /// `Some` while it counts in the worker's handshakes in progress.
    handshake_deadline: Option<Instant>,
}

impl<S: Stream> Connection<S> {
    pub(crate) fn new(
        stream: S,
        endpoints: Endpoints,
        handler: Box<dyn Handler>,
        now: Instant,
        key: usize,
        id: u64,
    ) -> Self {
        Connection {
            stream,
            handler,
            key,
            id,
            state: None,
            user_timer: None,
            pending: Vec::new(),
            endpoints,
            last_read: now,
            stalled_since: None,
            drain_deadline: None,
            closing: None,
            read_closed: false,
            read_paused: false,
            user_paused: false,
            fin_wanted: false,
            fin_sent: false,
            drain_wanted: false,
            more_to_read: false,
            hup: false,
            opened: false,
            proxy: None,
            preamble_deadline: None,
            handshake_deadline: None,
        }
    }

    /// The connection must start with a PROXY protocol header, read before
    /// the handler hears of the connection.
    pub(crate) fn with_proxy(mut self, proxy: Option<Arc<ProxyProtocol>>) -> Self {
        self.proxy = proxy;
        self
    }

    /// The listener the connection came in on (its index).
    pub(crate) fn listener(&self) -> usize {
        self.endpoints.listener
    }

    /// The readiness event announced the peer's EOF or an error: the next
    /// reads must go on until they see it.
    pub(crate) fn hang_up_announced(&mut self) {
        self.hup = true;
    }

    pub(crate) fn stream_mut(&mut self) -> &mut S {
        &mut self.stream
    }

    pub(crate) fn stream_ref(&self) -> &S {
        &self.stream
    }

    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// Tells the connection's handles (if any) how much output it holds and
    /// whether it is closing, after an event that ended in `step`.
    pub(crate) fn publish(&self, step: Step) {
        if let Some(state) = &self.state {
            state.set_pending(self.pending.len());
            if self.closing.is_some() || !matches!(step, Step::Open | Step::Yield) {
                state.set_closed();
            }
        }
    }

    pub(crate) fn peer_addr(&self) -> &crate::addr::Addr {
        &self.endpoints.peer
    }

    /// Bytes waiting for the socket.
    pub(crate) fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// The connection just opened, or its preamble or handshake may have
    /// moved on: once the PROXY header (if any) has come and the handshake
    /// (if any, TLS) is over, tells the handler.
    pub(crate) fn open(&mut self, io: &mut Io<'_>) -> Step {
        if !self.opened {
            match self.preamble(io) {
                Ok(true) => {}
                Ok(false) => return Step::Open,
                Err(reason) => return Step::Close(reason),
            }
            match self.stream.handshake() {
                Ok(true) => {}
                Ok(false) => {
                    if self.handshake_deadline.is_none() {
                        let timeout = self.stream.handshake_timeout().unwrap_or(DRAIN_TIMEOUT);
                        self.handshake_deadline = Some(io.now + timeout);
                        bump(&io.counters.tls_handshaking, 1);
                    }
                    return Step::Open;
                }
                Err(e) => {
                    log::debug!("tls handshake with {} failed: {e}", self.endpoints.peer);
                    bump(&io.counters.tls_handshake_errors, 1);
                    return Step::Close(CloseReason::HandshakeFailed);
                }
            }
            self.opened = true;
            self.endpoints.tls = self.stream.tls_info();
            if self.endpoints.tls.is_some() {
                bump(&io.counters.tls_handshakes, 1);
            }
            if self.handshake_deadline.take().is_some() {
                bump(&io.counters.tls_handshaking, u64::MAX);
            }
            self.last_read = io.now;
        }
        self.callback(io, |h, c| h.on_open(c))
    }

    /// Reads the PROXY protocol header, if the listener wants one:
    /// `Ok(true)` once over (at once without one), `Ok(false)` while it
    /// waits for more bytes, `Err` to close.
    ///
    /// The header is peeked into the worker's read buffer, so the connection
    /// holds no buffer while it waits, and consumed with one read of its
    /// exact length: what follows it stays in the socket for the handler.
    fn preamble(&mut self, io: &mut Io<'_>) -> Result<bool, CloseReason> {
        let Some(settings) = self.proxy.as_deref() else {
            return Ok(true);
        };
        if self.preamble_deadline.is_none() {
            if !settings.trusts(&self.endpoints.peer) {
                bump(&io.counters.proxy_untrusted, 1);
                log::debug!(
                    "closing the connection from {}: not a trusted PROXY protocol peer",
                    self.endpoints.peer
                );
                return Err(CloseReason::ProxyRejected);
            }
            self.preamble_deadline = Some(
                io.now
                    .checked_add(settings.timeout())
                    .unwrap_or(io.now + DRAIN_TIMEOUT),
            );
        }
        let limit = settings.peek_limit().min(io.buf.len());
        let parsed = loop {
            match self.stream.peek(&mut io.buf[..limit]) {
                Ok(0) => return Err(CloseReason::PeerClosed),
                Ok(n) => break proxy::parse(&io.buf[..n], limit, &self.endpoints.peer),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(CloseReason::from_io(&e)),
            }
        };
        let (len, header) = match parsed {
            Parsed::Done { len, header } => (len, header),
            Parsed::Incomplete if !self.hup => return Ok(false),
            Parsed::Incomplete => {
                bump(&io.counters.proxy_malformed, 1);
                log::debug!(
                    "closing the connection from {}: EOF inside its PROXY header",
                    self.endpoints.peer
                );
                return Err(CloseReason::ProxyRejected);
            }
            Parsed::Invalid(why) => {
                bump(&io.counters.proxy_malformed, 1);
                log::debug!("closing the connection from {}: {why}", self.endpoints.peer);
                return Err(CloseReason::ProxyRejected);
            }
        };
        let mut taken = 0;
        while taken < len {
            match self.stream.consume_peeked(&mut io.buf[taken..len]) {
                Ok(0) => return Err(CloseReason::PeerClosed),
                Ok(n) => taken += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(CloseReason::from_io(&e)),
            }
        }
        bump(&io.counters.bytes_read, len as u64);
        bump(&io.counters.proxy_headers, 1);
        if let Some(client) = header.source() {
            log::debug!(
                "connection from {} is for {client} (PROXY v{})",
                self.endpoints.peer,
                header.version()
            );
            self.endpoints.peer = client.clone();
        }
        self.endpoints.proxy = Some(Box::new(header));
        self.proxy = None;
        self.preamble_deadline = None;
        Ok(true)
    }

    /// The socket may have bytes to read.
    pub(crate) fn readable(&mut self, io: &mut Io<'_>) -> Step {
        if !self.opened {
            let step = self.open(io);
            if !self.opened {
                return step;
            }
            if step != Step::Open {
                // Bytes after the header wait in the socket: read them after
                // the other connections.
                self.more_to_read = matches!(step, Step::Yield);
                return step;
            }
        }
        if let Some(reason) = self.closing {
            return if self.fin_sent {
                self.drain(io, reason)
            } else {
                Step::Open
            };
        }
        if self.read_closed || self.read_paused || self.user_paused {
            return Step::Open;
        }
        for _ in 0..READ_BUDGET {
            let n = match self.stream.read(io.buf) {
                Ok(0) => {
                    self.read_closed = true;
                    return self.callback(io, |h, c| h.on_read_closed(c));
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Step::Open,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Step::Close(CloseReason::from_io(&e)),
            };
            bump(&io.counters.bytes_read, n as u64);
            self.last_read = io.now;
            log::trace!("read {n} bytes from {}", self.endpoints.peer);
            let data = &io.buf[..n];
            let step = self.callback_with(io.conn, io.now, io.config, io.counters, data, |h, c| {
                h.on_data(c, data)
            });
            if step == Step::Yield {
                // An `on_drain` is due: serve it (and the rest of the input)
                // after the other connections.
                self.more_to_read = true;
                return step;
            }
            if step != Step::Open || self.closing.is_some() {
                return step;
            }
            if self.user_paused {
                // The handler paused reading in `on_data`: stop here.
                return Step::Open;
            }
            if self.pending.len() > io.config.write_buffer_limit {
                self.read_paused = true;
                return Step::Open;
            }
            // A short read emptied the socket's receive queue: skip the read
            // that would only say `WouldBlock`. New data raises a new event;
            // an EOF the event already announced does not, so read on then.
            if n < io.buf.len() && !self.hup && !self.stream.has_buffered_input() {
                return Step::Open;
            }
        }
        self.more_to_read = true;
        Step::Yield
    }

    /// Does the work left by a [`Step::Yield`]: a due `on_drain`, then the
    /// reads left when the read budget ran out.
    pub(crate) fn resume(&mut self, io: &mut Io<'_>) -> Step {
        let mut step = Step::Open;
        if self.drain_due() {
            self.drain_wanted = false;
            step = self.callback(io, |h, c| h.on_drain(c));
        }
        if matches!(step, Step::Open | Step::Yield) && self.more_to_read {
            self.more_to_read = false;
            match self.readable(io) {
                Step::Open => {}
                other => step = other,
            }
        }
        step
    }

    /// A command from a [`ConnHandle`](crate::ConnHandle).
    pub(crate) fn command(&mut self, command: Command, io: &mut Io<'_>) -> Step {
        match command {
            Command::Write(data) => {
                if let Some(state) = &self.state {
                    state.taken(data.len());
                }
                if self.closing.is_some() || self.fin_wanted {
                    return Step::Open;
                }
                if let Err(e) = self.send(&data, io.now, io.counters) {
                    return Step::Close(CloseReason::from_io(&e));
                }
            }
            Command::ResumeReading => {
                if self.user_paused {
                    self.user_paused = false;
                    self.last_read = io.now;
                    self.more_to_read = true;
                    return Step::Yield;
                }
            }
            Command::Close => {
                if self.closing.is_none() {
                    self.closing = Some(if self.read_closed {
                        CloseReason::PeerClosed
                    } else {
                        CloseReason::Handler
                    });
                }
            }
        }
        let step = self.advance(io);
        self.settle(step)
    }

    /// Reading was resumed and may have input waiting.
    fn resumed_with_input(&self) -> bool {
        self.more_to_read && !self.user_paused && !self.read_paused && self.closing.is_none()
    }

    fn drain_due(&self) -> bool {
        self.drain_wanted && self.pending.is_empty() && !self.fin_sent && self.closing.is_none()
    }

    /// Turns `Open` into `Yield` when an `on_drain` is due, so the driver
    /// calls it after serving the others (a producer never starves them).
    fn settle(&self, step: Step) -> Step {
        if step == Step::Open && (self.drain_due() || self.resumed_with_input()) {
            Step::Yield
        } else {
            step
        }
    }

    /// The socket may take more output.
    pub(crate) fn writable(&mut self, io: &mut Io<'_>) -> Step {
        if !self.opened {
            // A handshake moves on when the peer's flight arrives (a
            // readable event); here only our flight may be waiting.
            if self.stream.wants_write() {
                if let Err(e) = self.stream.flush() {
                    log::debug!("tls handshake with {} failed: {e}", self.endpoints.peer);
                    bump(&io.counters.tls_handshake_errors, 1);
                    return Step::Close(CloseReason::HandshakeFailed);
                }
            }
            return Step::Open;
        }
        if self.stream.wants_write() {
            // Output the stream holds (TLS records) goes first.
            if let Err(e) = self.stream.flush() {
                return Step::Close(CloseReason::from_io(&e));
            }
            if self.pending.is_empty() {
                if !self.stream.wants_write() {
                    self.stalled_since = None;
                }
                let step = self.advance(io);
                return self.settle(step);
            }
        }
        if self.pending.is_empty() {
            return Step::Open;
        }
        if let Err(e) = self.flush(io.now, io.counters) {
            return Step::Close(CloseReason::from_io(&e));
        }
        if self.read_paused && self.pending.len() <= io.config.write_buffer_limit / 2 {
            self.read_paused = false;
            // The peer's silence counts only while the server reads: the
            // idle clock starts again, as after `resume_reading`.
            self.last_read = io.now;
            match self.advance(io) {
                Step::Open => {
                    let step = self.readable(io);
                    return self.settle(step);
                }
                step => return step,
            }
        }
        let step = self.advance(io);
        self.settle(step)
    }

    /// The server is shutting down: finish writing, then close gracefully.
    pub(crate) fn shutdown(&mut self, io: &mut Io<'_>) -> Step {
        if !self.opened {
            // A preamble or handshake in progress is dropped: the handler
            // never saw it.
            return Step::Close(CloseReason::Shutdown);
        }
        if self.closing.is_none() {
            self.closing = Some(CloseReason::Shutdown);
        }
        self.advance(io)
    }

    /// The earliest time [`on_timer`](Self::on_timer) has something to do.
    pub(crate) fn deadline(&self, config: &Config) -> Option<Instant> {
        [
            self.preamble_deadline,
            self.handshake_deadline,
            self.drain_deadline(),
            self.write_deadline(config),
            self.timer_deadline(),
            self.idle_deadline(config),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Handles every deadline that has passed at `io.now`, in deadline order
    /// (on a tie: the end of the drain, the write timeout, the handler's
    /// timer, the idle timeout), each at most once per call.
    ///
    /// So a driver that calls this late sees the same callbacks in the same
    /// order as one that calls it at each deadline (the test kit), and a
    /// handler that sets a zero timer in `on_timer` gets one call per call of
    /// this, not an endless loop. A deadline set by a callback here that is
    /// already due stays due: [`deadline`](Self::deadline) returns it.
    pub(crate) fn on_timer(&mut self, io: &mut Io<'_>) -> Step {
        let now = io.now;
        let due = |at: Option<Instant>| at.filter(|&at| at <= now);
        if due(self.preamble_deadline).is_some() {
            bump(&io.counters.proxy_timeouts, 1);
            log::debug!(
                "closing the connection from {}: no PROXY header in time",
                self.endpoints.peer
            );
            return Step::Close(CloseReason::ProxyTimeout);
        }
        if due(self.handshake_deadline).is_some() {
            log::debug!("tls handshake with {} timed out", self.endpoints.peer);
            bump(&io.counters.tls_handshake_timeouts, 1);
            return Step::Close(CloseReason::HandshakeTimeout);
        }
        let mut timer_done = false;
        let mut idle_done = false;
        loop {
            let candidates = [
                self.closing
                    .zip(due(self.drain_deadline()))
                    .map(|(reason, at)| (at, Due::Drain(reason))),
                due(self.write_deadline(io.config)).map(|at| (at, Due::Write)),
                due(self.timer_deadline())
                    .filter(|_| !timer_done)
                    .map(|at| (at, Due::Timer)),
                due(self.idle_deadline(io.config))
                    .filter(|_| !idle_done)
                    .map(|at| (at, Due::Idle)),
            ];
            // The first of the earliest: ties go in the order above.
            let next = candidates.into_iter().flatten().min_by_key(|&(at, _)| at);
            let Some((_, what)) = next else {
                return Step::Open;
            };
            let step = match what {
                Due::Drain(reason) => return Step::Close(reason),
                Due::Write => {
                    bump(&io.counters.write_timeouts, 1);
                    return Step::Close(CloseReason::WriteTimeout);
                }
                Due::Timer => {
                    timer_done = true;
                    self.user_timer = None;
                    self.callback(io, |h, c| h.on_timer(c))
                }
                Due::Idle => {
                    idle_done = true;
                    bump(&io.counters.idle_timeouts, 1);
                    self.last_read = now;
                    let step = self.callback(io, |h, c| h.on_idle_timeout(c));
                    if self.closing == Some(CloseReason::Handler) {
                        self.closing = Some(CloseReason::IdleTimeout);
                    }
                    match step {
                        Step::Close(CloseReason::Handler) => Step::Close(CloseReason::IdleTimeout),
                        step => step,
                    }
                }
            };
            if step != Step::Open {
                return step;
            }
        }
    }

    /// When a graceful close stops draining the peer's input and closes.
    fn drain_deadline(&self) -> Option<Instant> {
        self.drain_deadline.filter(|_| self.closing.is_some())
    }

    /// When output the socket refused for this long times out.
    fn write_deadline(&self, config: &Config) -> Option<Instant> {
        self.stalled_since?.checked_add(config.write_timeout?)
    }

    /// When the handler's timer expires.
    fn timer_deadline(&self) -> Option<Instant> {
        self.user_timer.filter(|_| self.closing.is_none())
    }

    /// When a peer that sent nothing for this long is idle.
    fn idle_deadline(&self, config: &Config) -> Option<Instant> {
        if self.idle_applies() {
            self.last_read.checked_add(config.idle_timeout?)
        } else {
            None
        }
    }

    /// The connection is removed: tells the handler, then closes the socket.
    pub(crate) fn finish(mut self, reason: CloseReason, counters: &Counters) {
        if self.handshake_deadline.is_some() {
            bump(&counters.tls_handshaking, u64::MAX);
        }
        if !self.opened {
            // The handler never heard of the connection.
            return;
        }
        let handler = &mut self.handler;
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| handler.on_close(reason))) {
            bump(&counters.handler_panics, 1);
            log::warn!(
                "handler for {} panicked in on_close: {}",
                self.endpoints.peer,
                panic_message(&*panic).escape_debug()
            );
        }
    }

    fn idle_applies(&self) -> bool {
        self.opened
            && self.closing.is_none()
            && !self.read_closed
            && !self.read_paused
            && !self.user_paused
    }

    fn callback(&mut self, io: &mut Io<'_>, f: impl FnOnce(&mut dyn Handler, &mut Conn)) -> Step {
        self.callback_with(io.conn, io.now, io.config, io.counters, &[], f)
    }

    /// Runs one handler callback with a fresh context, catching a panic, then
    /// acts on what the handler wrote and asked for. `input` is the input of
    /// an `on_data` call (empty for the others): what the handler writes of it
    /// first is sent from it, not copied.
    #[allow(clippy::too_many_arguments)]
    fn callback_with(
        &mut self,
        conn: &mut Conn,
        now: Instant,
        config: &Config,
        counters: &Counters,
        input: &[u8],
        f: impl FnOnce(&mut dyn Handler, &mut Conn),
    ) -> Step {
        let write_closed = self.fin_wanted || self.closing.is_some();
        conn.reset(
            now,
            &mut self.endpoints,
            self.key,
            self.id,
            self.pending.len(),
            write_closed,
            self.state.take(),
        );
        conn.set_input(input);
        let handler = &mut *self.handler;
        let result = catch_unwind(AssertUnwindSafe(|| f(handler, conn)));
        self.state = conn.finish(&mut self.endpoints);
        if let Err(panic) = result {
            bump(&counters.handler_panics, 1);
            log::warn!(
                "handler for {} panicked, closing its connection: {}",
                self.endpoints.peer,
                panic_message(&*panic).escape_debug()
            );
            return Step::Panicked;
        }
        if conn.wants_abort() {
            return self.abort();
        }
        let sent = match conn.echoed(input) {
            // The usual echo: one slice of the input, sent from where it is.
            Some(echo) if conn.output().is_empty() => self.send(echo, now, counters),
            _ => {
                conn.materialize(input);
                match conn.output() {
                    [] => Ok(()),
                    output => self.send(output, now, counters),
                }
            }
        };
        if let Err(e) = sent {
            return Step::Close(CloseReason::from_io(&e));
        }
        if conn.is_closing() && self.closing.is_none() {
            self.closing = Some(if self.read_closed {
                CloseReason::PeerClosed
            } else {
                CloseReason::Handler
            });
        }
        if conn.wants_shutdown_write() {
            self.fin_wanted = true;
        }
        if conn.wants_drain() {
            self.drain_wanted = true;
        }
        if let Some(paused) = conn.reading_request() {
            if self.user_paused && !paused {
                // Edge-triggered: nothing announces what arrived meanwhile.
                self.more_to_read = true;
                self.last_read = now;
            }
            self.user_paused = paused;
        }
        match conn.timer_request() {
            TimerRequest::Keep => {}
            TimerRequest::Set(after) => self.user_timer = now.checked_add(after),
            TimerRequest::Cancel => self.user_timer = None,
        }
        let step = self.advance_at(now, config, counters, conn);
        self.settle(step)
    }

    fn advance(&mut self, io: &mut Io<'_>) -> Step {
        self.advance_at(io.now, io.config, io.counters, io.conn)
    }

    /// Moves a closing connection along once its output is written: FIN, then
    /// close if the peer is done too, else drain the peer's input for a while.
    fn advance_at(
        &mut self,
        now: Instant,
        config: &Config,
        counters: &Counters,
        conn: &mut Conn,
    ) -> Step {
        if !self.pending.is_empty() || self.stream.wants_write() {
            return Step::Open;
        }
        if let (Some(reason), true, false) = (
            self.closing,
            self.read_closed,
            self.stream.closes_with_message(),
        ) {
            // The peer is done and everything is written: `close` sends the
            // FIN (nothing unread, so no reset); a `shutdown` first would
            // only cost a system call.
            return Step::Close(reason);
        }
        if (self.closing.is_some() || self.fin_wanted) && !self.fin_sent {
            self.fin_sent = true;
            if let Err(e) = self.stream.shutdown_write() {
                return Step::Close(CloseReason::from_io(&e));
            }
            if self.stream.wants_write() {
                // TLS: close_notify waits for the socket; closing now would
                // lose it. Writable events flush it, then come back here.
                self.stalled_since.get_or_insert(now);
                if self.closing.is_some() && !self.read_closed {
                    self.drain_deadline.get_or_insert(now + DRAIN_TIMEOUT);
                }
                return Step::Open;
            }
        }
        match self.closing {
            Some(reason) if self.read_closed => Step::Close(reason),
            Some(reason) => {
                if self.drain_deadline.is_none() {
                    self.drain_deadline = Some(now + DRAIN_TIMEOUT);
                }
                let mut io = Io {
                    buf: &mut [],
                    conn,
                    now,
                    config,
                    counters,
                };
                self.drain(&mut io, reason)
            }
            None if self.fin_sent && self.read_closed => Step::Close(CloseReason::PeerClosed),
            None => Step::Open,
        }
    }

    /// Reads and drops the peer's input until EOF, after the server's FIN.
    fn drain(&mut self, io: &mut Io<'_>, reason: CloseReason) -> Step {
        let mut scratch = [0u8; 4096];
        let buf: &mut [u8] = if io.buf.is_empty() {
            &mut scratch
        } else {
            io.buf
        };
        for _ in 0..READ_BUDGET {
            match self.stream.read(buf) {
                Ok(0) => {
                    self.read_closed = true;
                    return Step::Close(reason);
                }
                Ok(n) => {
                    bump(&io.counters.bytes_read, n as u64);
                    if n < buf.len() && !self.hup {
                        return Step::Open;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Step::Open,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Step::Close(reason),
            }
        }
        self.more_to_read = true;
        Step::Yield
    }

    /// The handler aborted: drop the output, make the close a reset.
    fn abort(&mut self) -> Step {
        self.pending = Vec::new();
        self.stalled_since = None;
        if let Err(e) = self.stream.abort() {
            log::debug!("failed to set SO_LINGER 0 on {}: {e}", self.endpoints.peer);
        }
        Step::Close(CloseReason::Aborted)
    }

    /// Writes `data` after what is pending; keeps what the socket refuses.
    fn send(&mut self, data: &[u8], now: Instant, counters: &Counters) -> io::Result<()> {
        if self.fin_sent {
            return Ok(());
        }
        if !self.pending.is_empty() {
            self.pending.extend_from_slice(data);
            return self.flush(now, counters);
        }
        let mut sent = 0;
        while sent < data.len() {
            match self.stream.write(&data[sent..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    bump(&counters.bytes_written, n as u64);
                    sent += n;
                    // A short write means the send buffer is full.
                    if sent < data.len() {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if sent < data.len() {
            self.pending.extend_from_slice(&data[sent..]);
            self.stalled_since = Some(now);
        } else if self.stream.wants_write() {
            // The stream (TLS) holds records the socket refused.
            self.stalled_since.get_or_insert(now);
        }
        Ok(())
    }

    /// Writes what is pending, as much as the socket takes.
    fn flush(&mut self, now: Instant, counters: &Counters) -> io::Result<()> {
        let mut sent = 0;
        while sent < self.pending.len() {
            match self.stream.write(&self.pending[sent..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    bump(&counters.bytes_written, n as u64);
                    sent += n;
                    self.stalled_since = Some(now);
                    if sent < self.pending.len() {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if sent == self.pending.len() {
            // Give the memory back: an idle connection holds no buffer.
            self.pending = Vec::new();
            self.stalled_since = self.stream.wants_write().then_some(now);
        } else {
            self.pending.drain(..sent);
        }
        Ok(())
    }
}

/// The text of a panic payload, for the log.
pub(crate) fn panic_message(panic: &(dyn Any + Send)) -> &str {
    if let Some(s) = panic.downcast_ref::<&str>() {
        s
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s
    } else {
        "(non-string panic payload)"
    }
}
