//! The UDP driver: one mio event loop per worker, around one socket. It
//! receives a batch, asks the guard and the handler about each datagram,
//! and sends the replies, merging runs of equal echoes into one GSO send.

use std::any::Any;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Acquire;
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token};

use crate::error::{Error, Result};
use crate::stats::bump;
use crate::udp::guard::{DropReason, Guard};
use crate::udp::handler::{DatagramHandler, Reply, ReplyKind};
use crate::udp::server::UdpShared;
use crate::udp::socket::{SLOT, Transport};
use crate::udp::stats::UdpCounters;

/// The token of each worker's waker.
pub(crate) const WAKER: Token = Token(usize::MAX);
/// The token of the worker's socket.
const SOCKET: Token = Token(0);
/// Receive errors in a row after which the socket is taken to be broken.
const MAX_ERRORS_IN_A_ROW: u32 = 10_000;
/// Bytes of handler replies (not echoes) held for one batch at most; a
/// reply past it is counted as a send error.
const ARENA_LIMIT: usize = 4 << 20;
/// Payload bytes of one GSO send at most: a whole run must fit one IP
/// packet's 16-bit length with its headers.
const GSO_MAX_BYTES: usize = 65_000;
/// At most one warning about handler panics per this long.
const WARN_EVERY: Duration = Duration::from_secs(1);

/// What a worker starts from; `Send`, so it can move to the worker's thread.
pub(crate) struct UdpSeed {
    pub(crate) index: usize,
    pub(crate) poll: Poll,
    pub(crate) transport: Transport,
}

/// Where a reply's bytes are: a receive slot (an echo) or the arena.
#[derive(Debug, Clone, Copy)]
enum Source {
    Slot(usize),
    Arena,
}

/// One reply waiting to be sent: `len` bytes at `start` of `source`, as one
/// datagram or, with `segment`, as datagrams of that size (GSO).
#[derive(Debug, Clone, Copy)]
struct Out {
    source: Source,
    start: usize,
    len: usize,
    segment: Option<usize>,
    count: u64,
    dest: SocketAddr,
    src_ip: Option<IpAddr>,
}

/// Counts kept on the stack for one batch, then added to the shared
/// counters once.
#[derive(Debug, Default)]
struct Tally {
    received: u64,
    bytes_received: u64,
    answered: u64,
    bytes_sent: u64,
    unanswered: u64,
    dropped: [u64; 5],
    send_errors: u64,
    recv_errors: u64,
    truncated: u64,
    panics: u64,
}

impl Tally {
    fn drop(&mut self, reason: DropReason) {
        self.dropped[reason as usize] += 1;
    }

    fn flush(&mut self, c: &UdpCounters) {
        let add = |a: &AtomicU64, n: u64| {
            if n > 0 {
                bump(a, n);
            }
        };
        add(&c.received, self.received);
        add(&c.bytes_received, self.bytes_received);
        add(&c.answered, self.answered);
        add(&c.bytes_sent, self.bytes_sent);
        add(&c.unanswered, self.unanswered);
        for (i, n) in self.dropped.iter().enumerate() {
            add(&c.dropped[i], *n);
        }
        add(&c.send_errors, self.send_errors);
        add(&c.recv_errors, self.recv_errors);
        add(&c.dropped_truncated, self.truncated);
        add(&c.handler_panics, self.panics);
        *self = Tally::default();
    }
}

impl UdpSeed {
    /// Runs the worker's event loop on this thread until the server stops.
    pub(crate) fn run(self, shared: Arc<UdpShared>) -> Result<()> {
        let UdpSeed {
            index,
            poll,
            mut transport,
        } = self;
        let event_loop = |source| Error::EventLoop {
            worker: index,
            source,
        };
        poll.registry()
            .register(
                transport.socket_mut(),
                SOCKET,
                Interest::READABLE | Interest::WRITABLE,
            )
            .map_err(event_loop)?;
        let handler = (shared.factory)();
        let guard = Guard::new(
            shared.config.guard.clone(),
            shared.local_addr.port(),
            shared.config.workers,
            Instant::now(),
        );
        let mut worker = Worker {
            index,
            shared: Arc::clone(&shared),
            transport,
            guard,
            handler,
            outs: Vec::with_capacity(quinn_udp::BATCH_SIZE),
            sent: 0,
            arena: Vec::new(),
            tally: Tally::default(),
            errors_in_a_row: 0,
            last_warn: None,
        };
        let mut poll = poll;
        let mut events = Events::with_capacity(64);
        loop {
            if shared.shutdown.load(Acquire) {
                let _ = worker.flush();
                worker.tally.flush(&shared.counters[index]);
                return Ok(());
            }
            if let Err(source) = poll.poll(&mut events, None) {
                if source.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(event_loop(source));
            }
            for event in events.iter() {
                if event.token() == SOCKET {
                    worker.serve()?;
                }
            }
        }
    }
}

/// One worker's state.
struct Worker {
    index: usize,
    shared: Arc<UdpShared>,
    transport: Transport,
    guard: Guard,
    handler: Box<dyn DatagramHandler>,
    /// Replies of the current batch, sent in order; `outs[..sent]` are done.
    outs: Vec<Out>,
    sent: usize,
    /// The bytes of replies that are not echoes, for the current batch.
    arena: Vec<u8>,
    tally: Tally,
    errors_in_a_row: u32,
    last_warn: Option<Instant>,
}

impl Worker {
    /// Receives and answers until the socket has nothing more or its send
    /// buffer is full (then a writable event brings us back).
    fn serve(&mut self) -> Result<()> {
        let result = self.serve_inner();
        self.tally.flush(&self.shared.counters[self.index]);
        result
    }

    fn serve_inner(&mut self) -> Result<()> {
        loop {
            if !self.flush() {
                return Ok(());
            }
            if self.shared.shutdown.load(Acquire) {
                return Ok(());
            }
            match self.transport.recv() {
                Ok(n) => {
                    self.errors_in_a_row = 0;
                    self.answer(n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // An ICMP error for an earlier reply (ECONNREFUSED on
                    // most systems; Linux reports none on an unconnected
                    // socket), or the like: it belongs to one peer.
                    self.tally.recv_errors += 1;
                    self.errors_in_a_row += 1;
                    log::debug!("udp receive error on {}: {e}", self.shared.local_addr);
                    if self.errors_in_a_row >= MAX_ERRORS_IN_A_ROW {
                        return Err(Error::EventLoop {
                            worker: self.index,
                            source: e,
                        });
                    }
                }
            }
        }
    }

    /// Runs the guard and the handler over the `n` slots just received and
    /// queues the replies.
    fn answer(&mut self, n: usize) {
        let now = Instant::now();
        let max_segments = self.transport.max_segments();
        for i in 0..n {
            let meta = self.transport.meta[i];
            if meta.len >= SLOT {
                self.tally.truncated += 1;
                continue;
            }
            let stride = if meta.stride == 0 || meta.stride > meta.len {
                meta.len
            } else {
                meta.stride
            };
            let src_ip = if self.transport.reply_from_dst {
                meta.dst_ip
            } else {
                None
            };
            let mut start = 0;
            loop {
                let len = stride.min(meta.len - start);
                self.one(i, start, len, meta.addr, src_ip, now, stride, max_segments);
                start += len;
                if start >= meta.len {
                    break;
                }
            }
        }
    }

    /// One datagram: `len` bytes at `start` of slot `slot`, from `peer`.
    #[allow(clippy::too_many_arguments)]
    fn one(
        &mut self,
        slot: usize,
        start: usize,
        len: usize,
        peer: SocketAddr,
        src_ip: Option<IpAddr>,
        now: Instant,
        stride: usize,
        max_segments: usize,
    ) {
        self.tally.received += 1;
        self.tally.bytes_received += len as u64;
        if let Err(reason) = self.guard.check(peer, now) {
            self.tally.drop(reason);
            return;
        }
        let data = &self.transport.slot(slot)[start..start + len];
        let arena_len = self.arena.len();
        let mut reply = Reply::new(&mut self.arena);
        let handler = &mut self.handler;
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            handler.on_datagram(data, peer, &mut reply);
            reply.kind()
        }));
        let kind = match outcome {
            Ok(kind) => kind,
            Err(panic) => {
                self.arena.truncate(arena_len);
                self.tally.panics += 1;
                self.warn_panic(peer, &*panic, now);
                return;
            }
        };
        match kind {
            ReplyKind::Nothing => self.tally.unanswered += 1,
            ReplyKind::Echo => {
                // Extend the previous echo into a GSO run when it is the
                // datagram just before this one in the same slot, to the
                // same peer, every datagram of it `stride` long.
                if let Some(last) = self.outs.last_mut() {
                    if let Source::Slot(s) = last.source {
                        if s == slot
                            && last.dest == peer
                            && last.start + last.len == start
                            && last.len % stride == 0
                            && last.len / stride == last.count as usize
                            && len <= stride
                            && (last.count as usize) < max_segments
                        {
                            last.len += len;
                            last.count += 1;
                            last.segment = Some(stride);
                            return;
                        }
                    }
                }
                // Or gather it with the previous echoes to the same peer of
                // the same size into one GSO send: one `sendmsg` for many
                // datagrams (the kernel cuts them apart again), at the cost
                // of a copy into the arena.
                if self.gather(slot, start, len, peer, src_ip, max_segments) {
                    return;
                }
                self.outs.push(Out {
                    source: Source::Slot(slot),
                    start,
                    len,
                    segment: None,
                    count: 1,
                    dest: peer,
                    src_ip,
                });
            }
            ReplyKind::Bytes => {
                if self.arena.len() > ARENA_LIMIT {
                    self.arena.truncate(arena_len);
                    self.tally.send_errors += 1;
                    return;
                }
                self.outs.push(Out {
                    source: Source::Arena,
                    start: arena_len,
                    len: self.arena.len() - arena_len,
                    segment: None,
                    count: 1,
                    dest: peer,
                    src_ip,
                });
            }
        }
    }

    /// Appends the echo of `len` bytes at `start` of `slot` to the previous
    /// reply when that is an echo (or a run of them) to `peer`, of `len`
    /// bytes each, with room left; returns whether it did.
    fn gather(
        &mut self,
        slot: usize,
        start: usize,
        len: usize,
        peer: SocketAddr,
        src_ip: Option<IpAddr>,
        max_segments: usize,
    ) -> bool {
        let Some(last) = self.outs.last_mut() else {
            return false;
        };
        if len == 0
            || last.dest != peer
            || last.src_ip != src_ip
            || last.len != last.count as usize * len
            || last.segment.is_some_and(|s| s != len)
            || last.count as usize >= max_segments
            || last.len + len > GSO_MAX_BYTES
        {
            return false;
        }
        match last.source {
            Source::Arena if last.start + last.len == self.arena.len() => {}
            Source::Slot(s) if last.count == 1 && self.arena.len() + 2 * len <= ARENA_LIMIT => {
                // Move the previous echo into the arena to start a run.
                let from = &self.transport.slot(s)[last.start..last.start + last.len];
                let at = self.arena.len();
                self.arena.extend_from_slice(from);
                last.source = Source::Arena;
                last.start = at;
            }
            _ => return false,
        }
        if self.arena.len() + len > ARENA_LIMIT {
            return false;
        }
        self.arena
            .extend_from_slice(&self.transport.slot(slot)[start..start + len]);
        last.len += len;
        last.count += 1;
        last.segment = Some(len);
        true
    }

    /// Sends the queued replies; false if the socket's send buffer filled
    /// up first (the rest wait for a writable event).
    fn flush(&mut self) -> bool {
        while self.sent < self.outs.len() {
            let out = self.outs[self.sent];
            let bytes = match out.source {
                Source::Slot(slot) => &self.transport.slot(slot)[out.start..out.start + out.len],
                Source::Arena => &self.arena[out.start..out.start + out.len],
            };
            match self
                .transport
                .send(bytes, out.segment, out.dest, out.src_ip)
            {
                Ok(()) => {
                    self.tally.answered += out.count;
                    self.tally.bytes_sent += out.len as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
                Err(e) => {
                    // EMSGSIZE, an unreachable network, an ICMP error
                    // reported here: one peer's trouble.
                    self.tally.send_errors += out.count;
                    log::debug!("udp reply to {} failed: {e}", out.dest);
                }
            }
            self.sent += 1;
        }
        self.outs.clear();
        self.arena.clear();
        self.sent = 0;
        true
    }

    fn warn_panic(&mut self, peer: SocketAddr, panic: &(dyn Any + Send), now: Instant) {
        let message = panic
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("a non-string payload");
        if self
            .last_warn
            .is_none_or(|at| now.saturating_duration_since(at) >= WARN_EVERY)
        {
            self.last_warn = Some(now);
            log::warn!(
                "datagram handler panicked on a datagram from {peer}: {}",
                message.escape_debug()
            );
        } else {
            log::debug!(
                "datagram handler panicked on a datagram from {peer}: {}",
                message.escape_debug()
            );
        }
    }
}
