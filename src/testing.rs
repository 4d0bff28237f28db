//! A test kit that drives any [`Handler`] in memory: no sockets, no threads,
//! no clock, deterministic.
//!
//! [`Harness`] puts the handler behind the same connection state machine the
//! server uses (output buffering, backpressure, half-close, graceful close,
//! timers, [`ConnHandle`](crate::ConnHandle) commands), in front of an
//! in-memory peer. The test plays the peer: it sends bytes, reads what the
//! handler wrote, half-closes, lets virtual time pass, and checks whether the
//! connection closed and why.
//!
//! # Examples
//!
//! ```
//! use netecho::testing::Harness;
//! use netecho::{CloseReason, Echo};
//!
//! let mut peer = Harness::open(Echo);
//! peer.send(b"hel").send(b"lo");
//! assert_eq!(peer.read(), b"hello");
//! peer.half_close();
//! assert!(peer.saw_eof());
//! assert_eq!(peer.close_reason(), Some(CloseReason::PeerClosed));
//! ```

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use crate::addr::{Addr, PeerCred};
use crate::config::Config;
use crate::context::{Conn, Endpoints};
use crate::handle::{Push, Route};
use crate::handler::{CloseReason, Handler};
use crate::proxy::ProxyProtocol;
use crate::state_machine::{Connection, Io, Step, Stream};
use crate::stats::Counters;

/// How many `on_drain` rounds one call may run before the kit decides the
/// handler produces without end.
const MAX_ROUNDS: usize = 100_000;

/// The in-memory peer's side of the connection.
#[derive(Debug, Default)]
struct MemStream {
    input: Vec<u8>,
    input_read: usize,
    eof: bool,
    reset: bool,
    output: Vec<u8>,
    window: usize,
    write_shut: bool,
}

impl Read for MemStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.reset {
            return Err(io::ErrorKind::ConnectionReset.into());
        }
        let left = &self.input[self.input_read..];
        if left.is_empty() {
            return if self.eof {
                Ok(0)
            } else {
                Err(io::ErrorKind::WouldBlock.into())
            };
        }
        let n = left.len().min(buf.len());
        buf[..n].copy_from_slice(&left[..n]);
        self.input_read += n;
        if self.input_read == self.input.len() {
            self.input.clear();
            self.input_read = 0;
        }
        Ok(n)
    }
}

impl Write for MemStream {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.reset || self.write_shut {
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        let room = self.window.saturating_sub(self.output.len());
        if room == 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = room.min(data.len());
        self.output.extend_from_slice(&data[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Stream for MemStream {
    fn shutdown_write(&mut self) -> io::Result<()> {
        self.write_shut = true;
        Ok(())
    }

    /// The kit's peer sees the reset through [`Harness::saw_reset`].
    fn abort(&mut self) -> io::Result<()> {
        Ok(())
    }

    fn peek(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.reset {
            return Err(io::ErrorKind::ConnectionReset.into());
        }
        let left = &self.input[self.input_read..];
        if left.is_empty() {
            return if self.eof {
                Ok(0)
            } else {
                Err(io::ErrorKind::WouldBlock.into())
            };
        }
        let n = left.len().min(buf.len());
        buf[..n].copy_from_slice(&left[..n]);
        Ok(n)
    }
}

/// How the connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Closed(CloseReason),
    Panicked,
}

/// Configures a [`Harness`]: addresses, the server options that shape a
/// connection, and how much the in-memory peer buffers.
#[derive(Debug)]
#[must_use]
pub struct HarnessBuilder {
    endpoints: Endpoints,
    proxy: Option<Arc<ProxyProtocol>>,
    window: usize,
    config: Config,
}

impl HarnessBuilder {
    /// The peer's address, as the handler sees it: a [`SocketAddr`] or any
    /// [`Addr`]. Default: `127.0.0.1:40000`.
    pub fn peer_addr(mut self, addr: impl Into<Addr>) -> Self {
        self.endpoints.peer = addr.into();
        self
    }

    /// The local address, as the handler sees it. Default: `127.0.0.1:7`.
    pub fn local_addr(mut self, addr: impl Into<Addr>) -> Self {
        self.endpoints.local = addr.into();
        self
    }

    /// The index of the listener, as [`Conn::listener`] tells it. Default: 0.
    pub fn listener(mut self, index: usize) -> Self {
        self.endpoints.listener = index;
        self
    }

    /// The peer's credentials, as [`Conn::peer_cred`] tells them (a Unix
    /// socket's). Default: none.
    pub fn peer_cred(mut self, cred: Option<PeerCred>) -> Self {
        self.endpoints.peer_cred = cred;
        self
    }

    /// The connection must start with a PROXY protocol header, as on a
    /// listener with [`Listener::proxy_protocol`](crate::Listener::proxy_protocol):
    /// `on_open` waits for it, and [`peer_addr`](HarnessBuilder::peer_addr)
    /// plays the balancer. Default: off.
    pub fn proxy_protocol(mut self, proxy: ProxyProtocol) -> Self {
        self.proxy = Some(Arc::new(proxy));
        self
    }

    /// How many bytes the peer's side holds unread before writes would block,
    /// like a socket buffer. Default: 256 KiB.
    pub fn peer_window(mut self, bytes: usize) -> Self {
        self.window = bytes;
        self
    }

    /// As [`TcpServerBuilder::write_buffer_limit`](crate::TcpServerBuilder::write_buffer_limit).
    pub fn write_buffer_limit(mut self, bytes: usize) -> Self {
        self.config.write_buffer_limit = bytes.max(1);
        self
    }

    /// As [`TcpServerBuilder::idle_timeout`](crate::TcpServerBuilder::idle_timeout).
    pub fn idle_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.config.idle_timeout = timeout.into();
        self
    }

    /// As [`TcpServerBuilder::write_timeout`](crate::TcpServerBuilder::write_timeout).
    pub fn write_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.config.write_timeout = timeout.into();
        self
    }

    /// Opens the connection: the handler's `on_open` runs.
    pub fn open(self, handler: impl Handler + 'static) -> Harness {
        let (tx, rx) = mpsc::channel();
        let now = Instant::now();
        let stream = MemStream {
            window: self.window,
            ..MemStream::default()
        };
        let route = Route { tx, waker: None };
        let mut harness = Harness {
            conn: Some(
                Connection::new(stream, self.endpoints, Box::new(handler), now, 0, 0)
                    .with_proxy(self.proxy),
            ),
            scratch: Conn::new(route, self.config.write_buffer_limit, now),
            buf: vec![0; 64 * 1024],
            counters: Counters::default(),
            config: self.config,
            now,
            rx,
            end: None,
            read_total: 0,
            leftover: Vec::new(),
        };
        harness.step(|conn, io| conn.open(io));
        harness
    }
}

/// One connection of a handler, driven in memory; the test plays the peer.
///
/// Made by [`Harness::open`] or [`Harness::builder`]. Each method that acts
/// as the peer runs the handler callbacks it causes, in the order the server
/// would, before it returns.
///
/// # Panics
///
/// Each of those methods panics if the handler asks for
/// [`on_drain`](crate::Handler::on_drain) 100 000 times in one go, as one
/// that asks again in every `on_drain` while the peer has room does (the
/// server's worker would call it for ever).
pub struct Harness {
    conn: Option<Connection<MemStream>>,
    scratch: Conn,
    buf: Vec<u8>,
    counters: Counters,
    config: Config,
    now: Instant,
    rx: Receiver<Push>,
    end: Option<End>,
    read_total: usize,
    /// Output delivered to the peer before the connection closed, unread.
    leftover: Vec<u8>,
}

impl std::fmt::Debug for Harness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Harness")
            .field("unread", &self.unread())
            .field("read_total", &self.read_total)
            .field("end", &self.end)
            .finish_non_exhaustive()
    }
}

impl Harness {
    /// A builder, with the server's defaults for the options it takes.
    pub fn builder() -> HarnessBuilder {
        let config = Config {
            write_timeout: None,
            ..Config::default()
        };
        HarnessBuilder {
            endpoints: Endpoints {
                peer: Addr::Tcp(SocketAddr::from((Ipv4Addr::LOCALHOST, 40000))),
                local: Addr::Tcp(SocketAddr::from((Ipv4Addr::LOCALHOST, 7))),
                listener: 0,
                peer_cred: None,
                tls: None,
                proxy: None,
            },
            proxy: None,
            window: 256 * 1024,
            config,
        }
    }

    /// Opens a connection to `handler` with the defaults: `on_open` runs.
    pub fn open(handler: impl Handler + 'static) -> Harness {
        Harness::builder().open(handler)
    }

    /// The peer sends `data`: the handler gets it (in one or more `on_data`
    /// calls, as the server's read buffer cuts it), unless the connection
    /// stopped reading.
    pub fn send(&mut self, data: &[u8]) -> &mut Self {
        if let Some(conn) = &mut self.conn {
            conn.stream_mut().input.extend_from_slice(data);
            self.step(|conn, io| conn.readable(io));
        }
        self
    }

    /// The peer shuts down its write side (EOF).
    pub fn half_close(&mut self) -> &mut Self {
        if let Some(conn) = &mut self.conn {
            conn.stream_mut().eof = true;
            conn.hang_up_announced();
            self.step(|conn, io| conn.readable(io));
        }
        self
    }

    /// The peer resets the connection.
    pub fn reset(&mut self) -> &mut Self {
        if let Some(conn) = &mut self.conn {
            conn.stream_mut().reset = true;
            conn.hang_up_announced();
            self.step(|conn, io| conn.readable(io));
        }
        self
    }

    /// The peer reads everything the handler's output has delivered so far;
    /// the room this makes lets pending output flow (and `on_drain` run).
    pub fn read(&mut self) -> Vec<u8> {
        self.read_at_most(usize::MAX)
    }

    /// The peer reads until EOF, or until reading brings nothing more (the
    /// handler waits for something else then: check [`saw_eof`](Self::saw_eof)).
    pub fn read_to_eof(&mut self) -> Vec<u8> {
        let mut all = Vec::new();
        for _ in 0..MAX_ROUNDS {
            let got = self.read();
            if got.is_empty() {
                break;
            }
            all.extend(got);
            if self.saw_eof() {
                break;
            }
        }
        all
    }

    /// The peer reads at most `max` bytes, as a slow reader would.
    pub fn read_at_most(&mut self, max: usize) -> Vec<u8> {
        let delivered = match &mut self.conn {
            Some(conn) => &mut conn.stream_mut().output,
            None => &mut self.leftover,
        };
        let n = max.min(delivered.len());
        let data: Vec<u8> = delivered.drain(..n).collect();
        self.read_total += data.len();
        self.step(|conn, io| conn.writable(io));
        data
    }

    /// Virtual time passes, `by` long, as real time would: every deadline
    /// that falls within it runs, in deadline order, each at its own time
    /// (the handler's timer, the idle and write timeouts, the end of a
    /// graceful close's drain), then the clock stands at `by` later.
    ///
    /// A callback sees its deadline in [`Conn::now`](crate::Conn::now), and
    /// what it sets counts from there: a timer re-armed in `on_timer` for
    /// 100 ms ticks three times in `advance(350 ms)`, and once more after
    /// another 50 ms. So one long jump and many short ones give the same
    /// callbacks at the same times.
    ///
    /// # Panics
    ///
    /// If deadlines keep falling due without time moving on, as when a
    /// handler sets a zero timer in every `on_timer` (the server would run it
    /// once per turn of its event loop for ever), and if `by` is so long that
    /// the clock cannot hold the time it ends at.
    pub fn advance(&mut self, by: Duration) -> &mut Self {
        let Some(until) = self.now.checked_add(by) else {
            panic!("advance({by:?}) takes the virtual clock past what Instant holds");
        };
        let mut rounds = 0;
        while let Some(at) = self.conn.as_ref().and_then(|c| c.deadline(&self.config)) {
            if at > until {
                break;
            }
            if at > self.now {
                self.now = at;
                rounds = 0;
            } else {
                rounds += 1;
                assert!(
                    rounds < MAX_ROUNDS,
                    "a deadline fell due {MAX_ROUNDS} times at the same instant: \
                     does the handler set a zero timer in every on_timer?"
                );
            }
            self.step(|conn, io| conn.on_timer(io));
        }
        self.now = until;
        self
    }

    /// The virtual time: the real time when the connection opened, moved on
    /// only by [`advance`](Self::advance). What handlers see in
    /// [`Conn::now`](crate::Conn::now) outside timer callbacks.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// Applies the writes and closes that [`ConnHandle`](crate::ConnHandle)s
    /// of this connection queued, as the worker would when woken.
    pub fn run_commands(&mut self) -> &mut Self {
        while let Ok(Push { command, .. }) = self.rx.try_recv() {
            self.step(|conn, io| conn.command(command, io));
        }
        self
    }

    /// The server shuts down: the connection finishes its output and closes.
    pub fn shutdown(&mut self) -> &mut Self {
        self.step(|conn, io| conn.shutdown(io));
        self
    }

    /// Bytes the handler wrote that the peer has not read yet, whether
    /// delivered to its window or still pending in the connection.
    pub fn unread(&self) -> usize {
        match &self.conn {
            Some(conn) => conn.pending_len() + conn.stream_ref().output.len(),
            None => self.leftover.len(),
        }
    }

    /// Total bytes the peer has read.
    pub fn read_total(&self) -> usize {
        self.read_total
    }

    /// Whether the peer has read EOF: the handler's write side is shut down
    /// (or the connection closed) and the peer has read everything before it.
    pub fn saw_eof(&self) -> bool {
        match &self.conn {
            Some(conn) => conn.stream_ref().write_shut && self.unread() == 0,
            None => self.leftover.is_empty() && !self.saw_reset_any(),
        }
    }

    /// Whether the peer has read up to a reset: the handler aborted the
    /// connection ([`Conn::abort`](crate::Conn::abort)) and the peer has read
    /// everything delivered before it, so its next read would fail with
    /// `ECONNRESET`.
    pub fn saw_reset(&self) -> bool {
        self.saw_reset_any() && self.leftover.is_empty()
    }

    fn saw_reset_any(&self) -> bool {
        self.end == Some(End::Closed(CloseReason::Aborted))
    }

    /// Whether the connection is closed.
    pub fn is_closed(&self) -> bool {
        self.end.is_some()
    }

    /// Why the connection closed: `None` while open, and also after a panic.
    pub fn close_reason(&self) -> Option<CloseReason> {
        match self.end {
            Some(End::Closed(reason)) => Some(reason),
            _ => None,
        }
    }

    /// Whether a handler callback panicked (which closed the connection).
    pub fn panicked(&self) -> bool {
        self.end == Some(End::Panicked)
    }

    /// Runs one event on the connection, then any `on_drain` rounds it
    /// leaves due, then acts on how it ended.
    fn step(&mut self, f: impl FnOnce(&mut Connection<MemStream>, &mut Io<'_>) -> Step) {
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        let mut io = Io {
            buf: &mut self.buf,
            conn: &mut self.scratch,
            now: self.now,
            config: &self.config,
            counters: &self.counters,
        };
        let mut step = f(conn, &mut io);
        let mut rounds = 0;
        while step == Step::Yield {
            rounds += 1;
            assert!(
                rounds < MAX_ROUNDS,
                "the handler asked for on_drain {MAX_ROUNDS} times in one go"
            );
            step = conn.resume(&mut io);
        }
        conn.publish(step);
        match step {
            Step::Open | Step::Yield => {}
            Step::Close(reason) => {
                if let Some(mut conn) = self.conn.take() {
                    self.leftover = std::mem::take(&mut conn.stream_mut().output);
                    conn.finish(reason, &self.counters);
                    self.end = Some(End::Closed(reason));
                }
            }
            Step::Panicked => {
                if let Some(mut conn) = self.conn.take() {
                    self.leftover = std::mem::take(&mut conn.stream_mut().output);
                }
                self.end = Some(End::Panicked);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use super::Harness;
    use crate::{Conn, Handler};

    /// Records its timer and idle callbacks; re-arms a zero timer.
    struct Log(Arc<Mutex<Vec<&'static str>>>);

    impl Handler for Log {
        fn on_open(&mut self, conn: &mut Conn) {
            conn.set_timer(Duration::from_millis(1500));
        }
        fn on_timer(&mut self, conn: &mut Conn) {
            self.0.lock().unwrap().push("timer");
            conn.set_timer(Duration::ZERO);
        }
        fn on_idle_timeout(&mut self, _: &mut Conn) {
            self.0.lock().unwrap().push("idle");
        }
    }

    /// The server's worker may call `on_timer` late, once for several
    /// deadlines: they run in deadline order, as the kit runs them, and a
    /// timer re-armed due runs on the next call, not in a loop.
    #[test]
    fn late_on_timer_runs_the_due_deadlines_in_order_each_once() {
        let log = Arc::default();
        let mut peer = Harness::builder()
            .idle_timeout(Duration::from_secs(1))
            .open(Log(Arc::clone(&log)));
        // Late: the idle timeout was due at 1 s, the timer at 1.5 s.
        peer.now += Duration::from_secs(3);
        peer.step(|conn, io| conn.on_timer(io));
        assert_eq!(*log.lock().unwrap(), ["idle", "timer"]);
        let deadline = peer.conn.as_ref().and_then(|c| c.deadline(&peer.config));
        assert_eq!(deadline, Some(peer.now));
        peer.step(|conn, io| conn.on_timer(io));
        assert_eq!(*log.lock().unwrap(), ["idle", "timer", "timer"]);
    }
}
