//! One client connection: writes messages from the tape, reads the echo back and checks it.
//!
//! The socket is edge-triggered (mio), so reads go on until the kernel has nothing more
//! (a short read or `WouldBlock`) and writes until the socket is full or nothing is due.
//! Up to `depth` messages are in flight; `limit` caps how many are sent in total.

use std::collections::VecDeque;
use std::io::{self, IoSlice, Read, Write};
use std::time::{Duration, Instant};

use super::stream::Stream;
use super::tape::Tape;

/// At most this many messages go into one `writev`.
const MAX_IOV: usize = 64;

/// Client side of one echo connection.
#[derive(Debug)]
pub struct Conn {
    pub stream: Stream,
    /// Connection number: selects the payload pattern.
    id: u64,
    depth: u64,
    /// Messages this connection may start in total.
    limit: u64,
    connected: bool,
    write_blocked: bool,
    /// Messages started (timestamped); `started - received` are in flight.
    started: u64,
    /// Messages fully written, and bytes written of the next one.
    written: u64,
    write_off: usize,
    /// Messages fully echoed, and bytes echoed of the next one.
    received: u64,
    read_off: usize,
    /// Start time of each message in flight, oldest first.
    times: VecDeque<Instant>,
    /// Start time to use for the first message (connect mode: when `connect` was called).
    first_start: Option<Instant>,
}

impl Conn {
    /// Wraps a socket whose non-blocking connect is under way.
    pub fn new(stream: Stream, id: u64, depth: u64, limit: u64) -> Conn {
        Conn {
            stream,
            id,
            depth: depth.max(1),
            limit,
            connected: false,
            write_blocked: false,
            started: 0,
            written: 0,
            write_off: 0,
            received: 0,
            read_off: 0,
            times: VecDeque::with_capacity(depth as usize),
            first_start: None,
        }
    }

    /// Counts the first message's latency from `at` rather than from its first write.
    pub fn with_first_start(mut self, at: Instant) -> Conn {
        self.first_start = Some(at);
        self
    }

    pub fn is_connected(&self) -> bool {
        self.connected
    }

    /// True once `limit` messages were sent and all of them came back.
    pub fn is_done(&self) -> bool {
        self.received >= self.limit
    }

    /// Lets the connection send up to `limit` messages in total.
    pub fn set_limit(&mut self, limit: u64) {
        self.limit = limit;
    }

    /// Handles a readiness event; `on_echo` gets the latency of each completed message.
    pub fn on_event(
        &mut self,
        readable: bool,
        writable: bool,
        now: Instant,
        tape: &Tape,
        buf: &mut [u8],
        on_echo: &mut dyn FnMut(Duration),
    ) -> io::Result<()> {
        if !self.connected {
            if !self.check_connected()? {
                return Ok(());
            }
            self.connected = true;
        } else if writable {
            self.write_blocked = false;
            // TLS records held back by a full socket go first.
            self.stream.flush()?;
        }
        if readable {
            self.read_all(now, tape, buf, on_echo)?;
        }
        self.pump(now, tape)
    }

    /// Starts whatever messages are due and writes until the socket is full.
    pub fn pump(&mut self, now: Instant, tape: &Tape) -> io::Result<()> {
        if !self.connected {
            return Ok(());
        }
        while self.started < self.limit && self.started - self.received < self.depth {
            let at = match (self.started, self.first_start) {
                (0, Some(at)) => at,
                _ => now,
            };
            self.times.push_back(at);
            self.started += 1;
        }
        while !self.write_blocked && self.written < self.started {
            let mut iov = [IoSlice::new(&[]); MAX_IOV];
            let mut n_iov = 0;
            let mut want = 0;
            for (i, msg) in (self.written..self.started).take(MAX_IOV).enumerate() {
                let skip = if i == 0 { self.write_off } else { 0 };
                let bytes = &tape.message(self.id, msg)[skip..];
                want += bytes.len();
                iov[i] = IoSlice::new(bytes);
                n_iov = i + 1;
            }
            match self.stream.write_vectored(&iov[..n_iov]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.advance_written(n, tape.size());
                    // A short write means the socket buffer is full: wait for writable.
                    self.write_blocked = n < want;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.write_blocked = true,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn advance_written(&mut self, mut n: usize, size: usize) {
        while n > 0 {
            let step = n.min(size - self.write_off);
            self.write_off += step;
            n -= step;
            if self.write_off == size {
                self.written += 1;
                self.write_off = 0;
            }
        }
    }

    /// Non-blocking connect: done once there is no pending error and a peer address.
    fn check_connected(&mut self) -> io::Result<bool> {
        if let Some(e) = self.stream.take_error()? {
            return Err(e);
        }
        self.stream.is_connected()
    }

    fn read_all(
        &mut self,
        now: Instant,
        tape: &Tape,
        buf: &mut [u8],
        on_echo: &mut dyn FnMut(Duration),
    ) -> io::Result<()> {
        loop {
            match self.stream.read(buf) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "server closed",
                    ));
                }
                Ok(n) => {
                    self.consume(&buf[..n], now, tape, on_echo)?;
                    // A short read means the receive queue is empty: the next data brings a
                    // new edge, so there is no need to pay for the `WouldBlock` read.
                    if n < buf.len() {
                        return Ok(());
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Checks echoed bytes against what was sent, completing messages as they fill up.
    fn consume(
        &mut self,
        mut data: &[u8],
        now: Instant,
        tape: &Tape,
        on_echo: &mut dyn FnMut(Duration),
    ) -> io::Result<()> {
        let size = tape.size();
        let sent = self.written * size as u64 + self.write_off as u64;
        let got = self.received * size as u64 + self.read_off as u64;
        if got + data.len() as u64 > sent {
            return Err(invalid(format!(
                "server sent {} bytes but only {sent} were written",
                got + data.len() as u64
            )));
        }
        while !data.is_empty() {
            let take = data.len().min(size - self.read_off);
            let (chunk, rest) = data.split_at(take);
            if let Err(at) = tape.verify(self.id, self.received, self.read_off, chunk) {
                return Err(invalid(format!(
                    "wrong byte at offset {at} of message {}",
                    self.received
                )));
            }
            self.read_off += take;
            data = rest;
            if self.read_off == size {
                self.read_off = 0;
                self.received += 1;
                if let Some(t) = self.times.pop_front() {
                    on_echo(now.saturating_duration_since(t));
                }
            }
        }
        Ok(())
    }
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}
