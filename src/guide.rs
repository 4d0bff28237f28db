//! # Writing handlers
//!
//! A guide to writing your own protocol on this crate: what the server calls
//! when, the rules a handler follows, how to test one without a network, how
//! to cut its input into lines or frames, and a walk through two of the
//! example servers.
//!
//! The examples in the repository, each runnable with
//! `cargo run --example NAME` and tested with `cargo test --examples`:
//!
//! | Example | What it shows |
//! |---|---|
//! | [`examples/echo.rs`][echo] | RFC 862 echo: the default handler, nothing to write |
//! | [`examples/discard.rs`][discard] | RFC 863: a handler that ignores input |
//! | [`examples/daytime.rs`][daytime] | RFC 867: write on open, then close gracefully |
//! | [`examples/qotd.rs`][qotd] | RFC 865: state shared by all connections (a rotating quote) |
//! | [`examples/chargen.rs`][chargen] | RFC 864: a producer paced by [`on_drain`](crate::Handler::on_drain) |
//! | [`examples/lines.rs`][lines] | a line protocol with [`LineDecoder`]: partial lines, a line cap, CRLF and LF |
//! | [`examples/chat.rs`][chat] | broadcast through [`ConnHandle`]s, a policy for slow clients |
//! | [`examples/offload.rs`][offload] | slow work on a thread pool, answers through the handle, in order |
//!
//! The files are in the published crate, under `examples/`; they share their
//! command line in [`examples/common/mod.rs`][common].
//!
//! [echo]: https://docs.rs/crate/netecho/latest/source/examples/echo.rs
//! [discard]: https://docs.rs/crate/netecho/latest/source/examples/discard.rs
//! [daytime]: https://docs.rs/crate/netecho/latest/source/examples/daytime.rs
//! [qotd]: https://docs.rs/crate/netecho/latest/source/examples/qotd.rs
//! [chargen]: https://docs.rs/crate/netecho/latest/source/examples/chargen.rs
//! [lines]: https://docs.rs/crate/netecho/latest/source/examples/lines.rs
//! [chat]: https://docs.rs/crate/netecho/latest/source/examples/chat.rs
//! [offload]: https://docs.rs/crate/netecho/latest/source/examples/offload.rs
//! [common]: https://docs.rs/crate/netecho/latest/source/examples/common/mod.rs
//!
//! # A handler is a set of callbacks
//!
//! The server makes one [`Handler`] per connection, with the factory given to
//! [`TcpServerBuilder::handler`](crate::TcpServerBuilder::handler), and calls
//! it on a worker thread: one callback at a time, never two at once, though
//! not always on the same thread (any free worker serves a ready connection;
//! see [`Scheduling`](crate::Scheduling)), so a handler is `Send`. Its fields are
//! the connection's state. It never sees the socket: each callback gets a
//! [`Conn`], writes to it and sets requests on it, and the server does the I/O
//! when the callback returns. Every method has a default, and the defaults
//! echo.
//!
//! **Every default echoes, so a protocol that is not echo overrides what it
//! must not inherit.** [`on_data`](crate::Handler::on_data) writes the bytes
//! back unless you override it, and
//! [`on_read_closed`](crate::Handler::on_read_closed) closes the connection
//! as soon as the peer half-closes. A server that pushes to its clients (a
//! feed, a subscription, `chargen`) overrides both: otherwise a client that
//! connects, shuts down its sending side and waits to read (`nc -N`, a
//! subscriber with nothing to say) is closed at once and gets nothing. A
//! server that only answers requests usually keeps the default
//! `on_read_closed`: it closes after the last answer is written.
//!
//! The call order, for one connection:
//!
//! 1. [`on_open`](crate::Handler::on_open), once, first. A greeting written
//!    here is sent before anything is read (`daytime` and `qotd` write their
//!    answer and close right here).
//! 2. [`on_data`](crate::Handler::on_data), each time bytes arrive, in
//!    order, cut wherever the network cut them: a line, a message, even a
//!    UTF-8 character may come in several pieces, and several messages in one.
//!    The slice borrows the worker's read buffer: copy what you keep.
//! 3. [`on_idle_timeout`](crate::Handler::on_idle_timeout), if an idle
//!    timeout is set and the peer sent nothing for that long (the default
//!    closes; it comes again if you keep the connection).
//! 4. [`on_read_closed`](crate::Handler::on_read_closed), at most once,
//!    when the peer shut down its write side. No `on_data` after it. The
//!    default closes gracefully, after the output already written.
//! 5. In between, only when asked for: [`on_drain`](crate::Handler::on_drain)
//!    after [`Conn::notify_on_drain`], [`on_timer`](crate::Handler::on_timer)
//!    after [`Conn::set_timer`].
//! 6. [`on_close`](crate::Handler::on_close), exactly once, with the
//!    [`CloseReason`](crate::CloseReason), unless a callback panicked.
//!
//! After [`Conn::close`] (or a [`ConnHandle::close`]) no `on_data` comes any
//! more, and writes are ignored; the output already written is still sent.
//!
//! # The rules
//!
//! **Never block a callback.** A worker serves many connections from one
//! thread: a callback that sleeps, waits for a lock another thread holds for
//! long, reads a file or calls a database holds a worker for that long. The
//! other workers take over what it leaves (within about a millisecond), but a
//! server has few workers, and with each blocked callback it has one fewer.
//! Hand slow work to another thread and answer through a
//! [`ConnHandle`] ([`Conn::handle`]): it is `Send + Sync + Clone`, its
//! [`write`](crate::ConnHandle::write) queues bytes for the worker and wakes it, and
//! its [`close`](crate::ConnHandle::close) closes the connection after them. The
//! `offload` example does this with a bounded thread pool, and shows what to
//! mind: answer `BUSY` rather than wait when the pool's queue is full, keep
//! answers in request order (pool threads finish in any order), pause
//! reading ([`Conn::pause_reading`](crate::Conn::pause_reading)) while enough requests wait and resume
//! from the pool ([`ConnHandle::resume_reading`](crate::ConnHandle::resume_reading))
//! so that a pipelining client waits in TCP buffers rather than in memory,
//! and do not let the default `on_read_closed` close the connection while
//! answers are still coming.
//!
//! **A panic costs one connection.** A panic in a callback is caught: that
//! connection is closed at once (its pending output dropped, `on_close` not
//! called), the panic is logged and counted in
//! [`Stats::handler_panics`](crate::Stats::handler_panics), and the worker
//! and its other connections carry on. It is still a bug: in code a peer can
//! reach, do not `unwrap` what the peer controls (parse errors, lengths,
//! UTF-8); answer with an error and close instead. State shared between
//! connections must stay consistent if a holder panicked, and `on_close` is
//! not there to clean up after a panic: the `chat` example forgets a member
//! whose handle reports [`PushError::Closed`].
//!
//! **Output is never dropped, so mind how much you write.** [`Conn::write`]
//! keeps what the socket refuses until the peer reads it. While a
//! connection holds more than the
//! [write buffer limit](crate::TcpServerBuilder::write_buffer_limit) of
//! unread output, the server stops reading from it (no `on_data`) until half
//! of it has drained: a peer that sends but never reads cannot grow memory,
//! as long as each `on_data` writes an amount in proportion to what it read.
//! A [`ConnHandle`] respects the same limit by refusing with
//! [`PushError::Full`] instead of growing: decide what that means for your
//! protocol (drop the message, close the connection, retry later). A peer
//! that reads nothing at all is closed by the
//! [write timeout](crate::TcpServerBuilder::write_timeout).
//!
//! **Producers write on drain.** A handler that produces data rather than
//! answering it (a file sender, `chargen`) must not write it all at once:
//! write a chunk, call [`Conn::notify_on_drain`], and write the next chunk in
//! [`on_drain`](crate::Handler::on_drain), which comes once the socket has
//! taken everything written so far. It then goes exactly as fast as the peer
//! reads, with one chunk of memory; [`Conn::pending_write`] says how much is
//! still waiting if you need a budget of your own.
//!
//! **Timers instead of sleeps.** [`Conn::set_timer`] asks for one
//! [`on_timer`](crate::Handler::on_timer) after a delay (setting it again
//! replaces it; [`Conn::cancel_timer`] cancels it). Keep several deadlines in
//! the handler and set the earliest. The idle and write timeouts are the
//! server's, set on the builder. For the time, read [`Conn::now`] rather than
//! the clock: the test kit's virtual time then reaches the handler too.
//!
//! # Testing with the kit
//!
//! [`testing::Harness`](crate::testing::Harness) runs a handler behind the
//! server's own connection state machine, in memory, with virtual time: the
//! test plays the peer. Feed input in every chunking that matters (byte by
//! byte, at random split points), read what came back, half-close, let time
//! pass, and check how the connection ended. Give the peer a small window
//! ([`peer_window`](crate::testing::HarnessBuilder::peer_window)) to play a
//! slow reader, and call
//! [`run_commands`](crate::testing::Harness::run_commands) to apply what
//! [`ConnHandle`]s queued, as the worker would when woken.
//!
//! ```
//! use netecho::testing::Harness;
//! use netecho::{CloseReason, Conn, Handler};
//!
//! /// Answers each byte with its count so far, then `bye` at the peer's EOF.
//! #[derive(Default)]
//! struct Counter(usize);
//!
//! impl Handler for Counter {
//!     fn on_data(&mut self, conn: &mut Conn, data: &[u8]) {
//!         self.0 += data.len();
//!         conn.write(format!("{}\n", self.0).as_bytes());
//!     }
//!     fn on_read_closed(&mut self, conn: &mut Conn) {
//!         conn.write(b"bye\n");
//!         conn.close();
//!     }
//! }
//!
//! let mut peer = Harness::open(Counter::default());
//! peer.send(b"ab").send(b"c");
//! assert_eq!(peer.read(), b"2\n3\n");
//! peer.half_close();
//! assert_eq!(peer.read(), b"bye\n");
//! assert!(peer.saw_eof());
//! assert_eq!(peer.close_reason(), Some(CloseReason::PeerClosed));
//! ```
//!
//! Then one test over loopback, binding port 0, proves the handler against
//! real sockets; give its reads a timeout as an upper bound only, and wait for
//! answers, not for time to pass.
//!
//! # Framing: whole lines and frames
//!
//! TCP has no messages, only bytes: `on_data` may get half a line, or a line
//! and a half, or the first byte of a two-byte `é`. The
//! [`framing`](crate::framing) module cuts the bytes back into messages,
//! sans-IO like the handler: a [`LineDecoder`] for lines ended by LF or CRLF,
//! a [`FrameDecoder`] for frames behind a 1, 2, 4 or 8-byte length (their
//! [`LengthDelimited`] format also writes frames). Feed a decoder the bytes of
//! each `on_data`, take whole messages out until it says `None`, and at the
//! peer's end of stream call `finish` for what was left. Each has a cap: a
//! message over it is an error as soon as it is known, without buffering it,
//! so a peer that never sends a newline cannot grow memory.
//!
//! A small key-value store, one command per line, answering errors without
//! closing:
//!
//! ```
//! use std::collections::HashMap;
//!
//! use netecho::framing::LineDecoder;
//! use netecho::{Conn, Handler};
//!
//! struct Store {
//!     lines: LineDecoder,
//!     map: HashMap<Vec<u8>, Vec<u8>>,
//! }
//!
//! impl Handler for Store {
//!     fn on_data(&mut self, conn: &mut Conn, data: &[u8]) {
//!         let mut lines = self.lines.feed(data);
//!         while let Some(line) = lines.next_line() {
//!             let line = match line {
//!                 Ok(line) => line,
//!                 Err(err) => {
//!                     // The decoder skips the rest of that line and goes on.
//!                     conn.write(format!("ERROR {err}\n").as_bytes());
//!                     continue;
//!                 }
//!             };
//!             let mut words = line.splitn(3, |&b| b == b' ');
//!             match (words.next(), words.next(), words.next()) {
//!                 (Some(b"SET"), Some(key), Some(value)) => {
//!                     self.map.insert(key.to_vec(), value.to_vec());
//!                     conn.write(b"OK\n");
//!                 }
//!                 (Some(b"GET"), Some(key), None) => match self.map.get(key) {
//!                     Some(value) => {
//!                         conn.write(value);
//!                         conn.write(b"\n");
//!                     }
//!                     None => conn.write(b"NOT FOUND\n"),
//!                 },
//!                 _ => conn.write(b"ERROR unknown command\n"),
//!             }
//!         }
//!     }
//! }
//!
//! # use netecho::testing::Harness;
//! let store = Store { lines: LineDecoder::new(32), map: HashMap::new() };
//! let mut peer = Harness::open(store);
//! for byte in b"SET name caf\xc3\xa9\r\nGET name\nGET nobody\n" {
//!     peer.send(&[*byte]); // the worst chunking there is
//! }
//! assert_eq!(peer.read(), "OK\ncafé\nNOT FOUND\n".as_bytes());
//! peer.send(&[b'x'; 100]).send(b"\nGET name\n");
//! assert_eq!(peer.read(), "ERROR line longer than 32 bytes\ncafé\n".as_bytes());
//! ```
//!
//! What the decoder does for you:
//!
//! - A line that sits whole in the bytes of one `on_data` is lent straight
//!   from them, no copy; only the start of an unfinished line is kept, in a
//!   buffer given back once empty, so an idle connection holds none.
//! - The ending is stripped ([`Line::ending`](crate::framing::Line::ending)
//!   says which it was, to answer in kind); a CR elsewhere is data.
//! - A line over the cap is reported once, then skipped up to its LF, as
//!   tokio-util's `LinesCodec` does; to close instead, write the error and
//!   [`Conn::close`] (the `lines` example does).
//!
//! # Walk-through: `lines`
//!
//! `examples/lines.rs` answers every line upper-cased, each with its own
//! ending. It only ever upper-cases whole lines, so a UTF-8 character split
//! across reads is upper-cased whole. A line over the cap gets an error line
//! and the connection is closed. Its handler, less the command line:
//!
//! ```
//! use netecho::framing::LineDecoder;
//! use netecho::{Conn, Handler};
//!
//! struct Lines {
//!     lines: LineDecoder,
//! }
//!
//! fn upper(line: &[u8]) -> Vec<u8> {
//!     match std::str::from_utf8(line) {
//!         Ok(text) => text.to_uppercase().into_bytes(),
//!         Err(_) => line.to_ascii_uppercase(),
//!     }
//! }
//!
//! impl Handler for Lines {
//!     fn on_data(&mut self, conn: &mut Conn, data: &[u8]) {
//!         let max = self.lines.max_length();
//!         let mut lines = self.lines.feed(data);
//!         while let Some(line) = lines.next_line() {
//!             let Ok(line) = line else {
//!                 conn.write(format!("ERROR line too long (max {max} bytes)\n").as_bytes());
//!                 return conn.close();
//!             };
//!             conn.write(&upper(&line));
//!             conn.write(line.ending());
//!         }
//!     }
//!
//!     fn on_read_closed(&mut self, conn: &mut Conn) {
//!         // A last line without a newline is still a line.
//!         if let Some(last) = self.lines.finish() {
//!             conn.write(&upper(&last));
//!             conn.write(b"\n");
//!         }
//!         conn.close();
//!     }
//! }
//!
//! # use netecho::testing::Harness;
//! let mut peer = Harness::open(Lines { lines: LineDecoder::new(16) });
//! for byte in "café\r\nπ\n".as_bytes() {
//!     peer.send(&[*byte]);
//! }
//! assert_eq!(peer.read(), "CAFÉ\r\nΠ\n".as_bytes());
//! peer.send(&[b'x'; 20]);
//! assert_eq!(peer.read(), b"ERROR line too long (max 16 bytes)\n");
//! assert!(peer.saw_eof());
//! ```
//!
//! What to take from it:
//!
//! - State that spans reads (here, the decoder) lives in the handler; it is
//!   per connection.
//! - The answer is written with [`Conn::write`], which never blocks: if the
//!   peer does not read its answers, the write buffer limit stops the reads.
//! - The error is written, then [`Conn::close`]: the peer gets the error line,
//!   then EOF. The close is graceful; nothing written before it is lost.
//! - `on_read_closed` answers a last line that had no newline before
//!   closing: the default would close without it.
//! - Its tests feed the same input byte by byte and at random split points and
//!   expect the same answer, check a split `é` is upper-cased whole, and check
//!   the cap with every chunking.
//!
//! # Walk-through: `chat`
//!
//! `examples/chat.rs` sends each line a client types to every other client. Here
//! a callback must write to *other* connections, which may live on other
//! workers: that is what [`ConnHandle`] is for. The handlers share a registry
//! of handles, `Arc<Mutex<HashMap<id, member>>>`: a connection joins in
//! `on_open` (with [`Conn::handle`]) and leaves in `on_close`.
//!
//! The hard part is a slow client. Writing to its handle never blocks; once
//! it holds its write buffer limit of unread output, the write fails with
//! [`PushError::Full`]. The example's policy: drop the message for that
//! client only, count the drops, and after 100 in a row disconnect it with
//! [`ConnHandle::close`]. The fast clients never wait, and a slow one costs at
//! most its write buffer limit.
//!
//! ```
//! use std::collections::HashMap;
//! use std::sync::{Arc, Mutex, PoisonError};
//!
//! use netecho::{CloseReason, Conn, ConnHandle, Handler, PushError};
//!
//! const MAX_DROPS: u32 = 100;
//!
//! #[derive(Clone, Default)]
//! struct Room(Arc<Mutex<HashMap<u64, (ConnHandle, u32)>>>);
//!
//! impl Room {
//!     fn broadcast(&self, from: u64, message: &[u8]) {
//!         // No I/O under the lock: a handle's write queues and wakes.
//!         let mut members = self.0.lock().unwrap_or_else(PoisonError::into_inner);
//!         members.retain(|&id, (handle, drops)| {
//!             if id == from {
//!                 return true;
//!             }
//!             match handle.write(message) {
//!                 Ok(()) => *drops = 0,
//!                 Err(PushError::Full) => {
//!                     *drops += 1;
//!                     if *drops == MAX_DROPS {
//!                         let _ = handle.close(); // too slow: disconnect
//!                         return false;
//!                     }
//!                 }
//!                 Err(_) => return false, // gone (even without on_close)
//!             }
//!             true
//!         });
//!     }
//! }
//!
//! struct Chat {
//!     room: Room,
//!     id: u64,
//! }
//!
//! impl Handler for Chat {
//!     fn on_open(&mut self, conn: &mut Conn) {
//!         let mut members = self.room.0.lock().unwrap_or_else(PoisonError::into_inner);
//!         members.insert(self.id, (conn.handle(), 0));
//!     }
//!     fn on_data(&mut self, _conn: &mut Conn, data: &[u8]) {
//!         // The real example cuts lines first, as `lines` does.
//!         self.room.broadcast(self.id, data);
//!     }
//!     fn on_close(&mut self, _reason: CloseReason) {
//!         self.room.0.lock().unwrap_or_else(PoisonError::into_inner).remove(&self.id);
//!     }
//! }
//!
//! // Two clients in the kit: what one says, the other reads.
//! # use netecho::testing::Harness;
//! let room = Room::default();
//! let mut a = Harness::open(Chat { room: room.clone(), id: 1 });
//! let mut b = Harness::open(Chat { room: room.clone(), id: 2 });
//! a.send(b"hello\n");
//! b.run_commands(); // b's worker applies what a's handler queued
//! assert_eq!(b.read(), b"hello\n");
//! assert_eq!(a.read(), b"");
//! ```
//!
//! What to take from it:
//!
//! - Cross-connection writes go through handles, and fail fast: choose a
//!   policy for [`PushError::Full`] and document it.
//! - Keep the lock short and free of I/O. Holding it while handing a message
//!   to every handle also gives every client the same order of messages.
//! - `on_close` is the place to clean up shared state, but it does not come
//!   after a panic: treat [`PushError::Closed`] as "gone" too.
//! - Its tests open several harnesses on one room, play a client that never
//!   reads (`peer_window` and `write_buffer_limit` small) next to one that
//!   does, and check the fast one got everything while the slow one got a
//!   prefix of whole messages and was disconnected.
//!
//! # Serving it
//!
//! A handler is served by giving its factory to the builder. Bind port 0 in
//! tests and read the real port from the handle:
//!
//! ```no_run
//! use netecho::{Conn, Handler, TcpServer};
//!
//! struct Upper;
//!
//! impl Handler for Upper {
//!     fn on_data(&mut self, conn: &mut Conn, data: &[u8]) {
//!         conn.write(&data.to_ascii_uppercase());
//!     }
//! }
//!
//! # fn main() -> Result<(), netecho::Error> {
//! let server = TcpServer::builder().port(0).handler(|| Upper).spawn()?;
//! println!("listening on {}", server.local_addr());
//! server.shutdown();
//! server.join()
//! # }
//! ```
//!
//! # Testing your client against faults
//!
//! The same crate tests the other side: a client. [`Faults`] wraps a handler
//! (here the default echo) so the server answers late, slowly, in pieces,
//! cuts off, resets or goes silent, as the client must survive on a real
//! network (the table of faults is in [`fault`](crate::fault)). Say the
//! client under test sends a request, retries once when the connection is
//! reset, and gives up after a timeout:
//!
//! ```
//! use netecho::fault::Faults;
//! use netecho::{Echo, TcpServer};
//! use std::io::{self, Read, Write};
//! use std::net::{SocketAddr, TcpStream};
//! use std::time::{Duration, Instant};
//!
//! /// The client under test: `msg` echoed back, one retry after a reset.
//! fn call(addr: SocketAddr, msg: &[u8], timeout: Duration) -> io::Result<Vec<u8>> {
//!     let once = || -> io::Result<Vec<u8>> {
//!         let mut stream = TcpStream::connect(addr)?;
//!         stream.set_read_timeout(Some(timeout))?;
//!         stream.write_all(msg)?;
//!         let mut reply = vec![0; msg.len()];
//!         stream.read_exact(&mut reply)?;
//!         Ok(reply)
//!     };
//!     match once() {
//!         Err(e) if e.kind() == io::ErrorKind::ConnectionReset => once(),
//!         other => other,
//!     }
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let serve = |faults: Faults| {
//!     TcpServer::builder().port(0).workers(1).handler(faults.factory(|| Echo)).spawn()
//! };
//! let timeout = Duration::from_millis(200);
//!
//! // Slow but correct: the answer comes, late.
//! let server = serve(Faults::new().latency(Duration::from_millis(50)).slice(2))?;
//! let start = Instant::now();
//! assert_eq!(call(server.local_addr(), b"hello", timeout)?, b"hello");
//! assert!(start.elapsed() >= Duration::from_millis(50));
//! server.shutdown();
//! server.join()?;
//!
//! // Cut after 2 bytes: a short reply is an error, not a hang.
//! let server = serve(Faults::new().close_after(2))?;
//! let err = call(server.local_addr(), b"hello", timeout).unwrap_err();
//! assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
//! server.shutdown();
//! server.join()?;
//!
//! // Refused, then refused again: the retry happens, then the error shows.
//! let faults = Faults::new().refuse();
//! let control = faults.control();
//! let server = serve(faults)?;
//! let err = call(server.local_addr(), b"hello", timeout).unwrap_err();
//! assert_eq!(err.kind(), io::ErrorKind::ConnectionReset);
//! assert_eq!(control.connections(), 2, "one retry");
//! // Switched off between phases: the same server answers.
//! control.disable();
//! assert_eq!(call(server.local_addr(), b"hello", timeout)?, b"hello");
//! server.shutdown();
//! server.join()?;
//!
//! // Silent: the client's timeout, not the test's, ends the wait.
//! let server = serve(Faults::new().blackhole_after(0))?;
//! let start = Instant::now();
//! let err = call(server.local_addr(), b"hello", timeout).unwrap_err();
//! assert!(matches!(err.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut));
//! assert!(start.elapsed() >= timeout);
//! server.shutdown();
//! server.join()?;
//! # Ok(())
//! # }
//! ```
//!
//! Toxicity and a seed make the faults hit only some connections, the same
//! ones on every run (`Faults::new().reset_after(100).toxicity(0.1).seed(s)`):
//! a client failure seen once in a soak test replays with the same seed. And
//! the handler a client talks to can be driven in the [test kit](crate::testing)
//! instead, where a `latency(Duration::from_secs(30))` costs no time at all:
//! [`Harness::advance`](crate::testing::Harness::advance) moves virtual time.
//!
//! [`Faults`]: crate::fault::Faults
//!
//! [`Handler`]: crate::Handler
//! [`LineDecoder`]: crate::framing::LineDecoder
//! [`FrameDecoder`]: crate::framing::FrameDecoder
//! [`LengthDelimited`]: crate::framing::LengthDelimited
//! [`Conn`]: crate::Conn
//! [`Conn::write`]: crate::Conn::write
//! [`Conn::close`]: crate::Conn::close
//! [`Conn::handle`]: crate::Conn::handle
//! [`Conn::notify_on_drain`]: crate::Conn::notify_on_drain
//! [`Conn::set_timer`]: crate::Conn::set_timer
//! [`Conn::cancel_timer`]: crate::Conn::cancel_timer
//! [`Conn::now`]: crate::Conn::now
//! [`Conn::pending_write`]: crate::Conn::pending_write
//! [`ConnHandle`]: crate::ConnHandle
//! [`ConnHandle::write`]: crate::ConnHandle::write
//! [`ConnHandle::close`]: crate::ConnHandle::close
//! [`PushError::Full`]: crate::PushError::Full
//! [`PushError::Closed`]: crate::PushError::Closed
