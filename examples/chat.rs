//! A chat server: every line a client sends goes to all the other clients,
//! prefixed with the sender's address.
//!
//! `cargo run --example chat`, then `nc 127.0.0.1 7200` in a few terminals.
//!
//! The connections share a [`Room`]: a registry of [`ConnHandle`]s, joined in
//! `on_open` and left in `on_close`. A line is sent to the others through
//! their handles, whichever worker serves them. Lines are cut and capped by
//! the library's `LineDecoder`, as in the `lines` example (`--max-line`, default 1024 bytes; an overlong line gets
//! `ERROR line too long (max N bytes)` and the connection is closed).
//!
//! # Slow clients
//!
//! A client that reads slowly must not slow the others, nor grow the server's
//! memory. [`ConnHandle::write`] never waits: it fails with [`PushError::Full`]
//! while the client holds its write buffer limit of unread output. The policy
//! here: a message a client has no room for is dropped for that client only,
//! and a client that missed [`MAX_DROPS`] messages in a row is disconnected
//! (gracefully: what it has pending is still sent, then FIN; if it reads none
//! of it, the write timeout ends it).
//!
//! The room's lock is held while a message is handed to every handle, which
//! takes no I/O (a queue push and a wake-up each), so every client sees the
//! messages in the same order. Clients that only listen are closed by the idle
//! timeout like any silent client (`--idle-timeout 0s` turns it off).

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};

use clap::Parser;
use common::ServerArgs;
use netecho::framing::LineDecoder;
use netecho::{CloseReason, Conn, ConnHandle, Handler, PushError};

/// A chat server: each line goes to every other client.
#[derive(Debug, Parser)]
#[command(about)]
struct Args {
    #[command(flatten)]
    server: ServerArgs,
    /// The longest line accepted, in bytes (line ending not counted).
    #[arg(long, default_value_t = common::DEFAULT_MAX_LINE)]
    max_line: usize,
}

/// How many messages in a row a client may miss for lack of room before it
/// is disconnected.
const MAX_DROPS: u32 = 100;

/// A client in the room.
#[derive(Debug)]
struct Member {
    handle: ConnHandle,
    /// Messages missed in a row.
    drops: u32,
}

/// The clients connected now, shared by all connections of a server.
#[derive(Debug, Clone, Default)]
struct Room {
    members: Arc<Mutex<HashMap<u64, Member>>>,
    next_id: Arc<AtomicU64>,
}

impl Room {
    /// Adds a client; returns its id in the room.
    fn join(&self, handle: ConnHandle) -> u64 {
        let id = self.next_id.fetch_add(1, Relaxed);
        self.lock().insert(id, Member { handle, drops: 0 });
        id
    }

    fn leave(&self, id: u64) {
        self.lock().remove(&id);
    }

    /// Sends `message` to every client but `from`, dropping it for clients
    /// with no room, and disconnecting those that missed too many.
    fn broadcast(&self, from: u64, message: &[u8]) {
        self.lock().retain(|&id, member| {
            if id == from {
                return true;
            }
            match member.handle.write(message) {
                Ok(()) => {
                    member.drops = 0;
                    true
                }
                Err(PushError::Full) => {
                    member.drops += 1;
                    if member.drops < MAX_DROPS {
                        return true;
                    }
                    log::info!("chat: disconnecting client {id}, {MAX_DROPS} messages dropped");
                    let _ = member.handle.close();
                    false
                }
                // Closed: it is leaving (or its handler panicked, and then
                // `on_close` never comes): forget it now.
                Err(_) => false,
            }
        });
    }

    /// A poisoned lock only means a thread panicked while holding it; the
    /// map itself is always consistent, so go on with it.
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Member>> {
        self.members.lock().unwrap_or_else(PoisonError::into_inner)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }
}

/// One client's connection.
#[derive(Debug)]
struct Chat {
    room: Room,
    /// Our id in the room, once joined.
    id: Option<u64>,
    lines: LineDecoder,
    /// `ADDR: `, put before each of our lines.
    prefix: Vec<u8>,
    /// The message being built, reused.
    message: Vec<u8>,
}

impl Chat {
    fn new(room: Room, max_line: usize) -> Self {
        Chat {
            room,
            id: None,
            lines: LineDecoder::new(max_line),
            prefix: Vec::new(),
            message: Vec::new(),
        }
    }

    fn send(&mut self, line: &[u8]) {
        if let Some(id) = self.id {
            build(&mut self.message, &self.prefix, line);
            self.room.broadcast(id, &self.message);
        }
    }
}

/// Makes `message` the line from `prefix`'s client, with a LF.
fn build(message: &mut Vec<u8>, prefix: &[u8], line: &[u8]) {
    message.clear();
    message.extend_from_slice(prefix);
    message.extend_from_slice(line);
    message.push(b'\n');
}

impl Handler for Chat {
    fn on_open(&mut self, conn: &mut Conn) {
        self.prefix = format!("{}: ", conn.peer_addr()).into_bytes();
        self.id = Some(self.room.join(conn.handle()));
    }

    fn on_data(&mut self, conn: &mut Conn, data: &[u8]) {
        let Some(id) = self.id else { return };
        let max = self.lines.max_length();
        let mut lines = self.lines.feed(data);
        while let Some(line) = lines.next_line() {
            let Ok(line) = line else {
                conn.write(common::too_long_message(max).as_bytes());
                return conn.close();
            };
            build(&mut self.message, &self.prefix, &line);
            self.room.broadcast(id, &self.message);
        }
    }

    fn on_read_closed(&mut self, conn: &mut Conn) {
        if let Some(last) = self.lines.finish() {
            self.send(&last);
        }
        conn.close();
    }

    fn on_close(&mut self, _reason: CloseReason) {
        if let Some(id) = self.id.take() {
            self.room.leave(id);
        }
    }
}

fn main() -> std::process::ExitCode {
    common::exit(run())
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let room = Room::default();
    let max_line = args.max_line;
    common::serve(&args.server, 7200, move || {
        Chat::new(room.clone(), max_line)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use netecho::testing::{Harness, HarnessBuilder};
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::{SocketAddr, TcpStream};
    use std::time::Duration;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    fn client(room: &Room, port: u16) -> Harness {
        client_with(room, Harness::builder().peer_addr(addr(port)))
    }

    fn client_with(room: &Room, builder: HarnessBuilder) -> Harness {
        builder.open(Chat::new(room.clone(), 1024))
    }

    /// What `peer` received: applies its handles' writes, then reads.
    fn received(peer: &mut Harness) -> String {
        peer.run_commands();
        String::from_utf8(peer.read()).unwrap()
    }

    /// Everything `peer` has to read, however small its window.
    fn received_all(peer: &mut Harness) -> String {
        let mut got = String::new();
        for _ in 0..1000 {
            got += &received(peer);
            if peer.unread() == 0 {
                break;
            }
        }
        got
    }

    #[test]
    fn a_line_goes_to_everyone_else() {
        let room = Room::default();
        let mut a = client(&room, 40001);
        let mut b = client(&room, 40002);
        let mut c = client(&room, 40003);
        assert_eq!(room.len(), 3);
        a.send(b"hello\r\n");
        b.send(b"hi a\n");
        assert_eq!(received(&mut a), "127.0.0.1:40002: hi a\n");
        assert_eq!(received(&mut b), "127.0.0.1:40001: hello\n");
        assert_eq!(
            received(&mut c),
            "127.0.0.1:40001: hello\n127.0.0.1:40002: hi a\n"
        );
    }

    const TEXT: &str = "héllo wörld\r\n😀 ok\n\nπ\r\nlast line here\n";
    const SEEN: &str = "127.0.0.1:40001: héllo wörld\n127.0.0.1:40001: 😀 ok\n\
                        127.0.0.1:40001: \n127.0.0.1:40001: π\n127.0.0.1:40001: last line here\n";

    #[test]
    fn byte_by_byte_lines_arrive_whole() {
        let room = Room::default();
        let mut a = client(&room, 40001);
        let mut b = client(&room, 40002);
        for byte in TEXT.as_bytes() {
            a.send(&[*byte]);
            b.run_commands();
        }
        assert_eq!(received(&mut b), SEEN);
    }

    #[test]
    fn random_split_points_give_the_same_messages() {
        let mut rng = fastrand::Rng::with_seed(0xc4a7);
        for _ in 0..200 {
            let room = Room::default();
            let mut a = client(&room, 40001);
            let mut b = client(&room, 40002);
            let input = TEXT.repeat(5);
            let mut rest = input.as_bytes();
            let mut got = String::new();
            while !rest.is_empty() {
                let n = rng.usize(1..=rest.len().min(12));
                a.send(&rest[..n]);
                rest = &rest[n..];
                if rng.bool() {
                    got += &received(&mut b);
                }
            }
            got += &received(&mut b);
            assert_eq!(got, SEEN.repeat(5));
        }
    }

    #[test]
    fn an_overlong_line_closes_only_its_sender() {
        let room = Room::default();
        let mut a = client(&room, 40001);
        let mut b = client(&room, 40002);
        a.send(b"fine\n").send(&[b'x'; 600]).send(&[b'x'; 600]);
        assert_eq!(received(&mut a), "ERROR line too long (max 1024 bytes)\n");
        assert!(a.saw_eof());
        a.half_close();
        assert_eq!(a.close_reason(), Some(CloseReason::Handler));
        assert_eq!(received(&mut b), "127.0.0.1:40001: fine\n");
        assert_eq!(room.len(), 1);
    }

    #[test]
    fn leaving_clients_leave_the_room() {
        let room = Room::default();
        let mut a = client(&room, 40001);
        let mut b = client(&room, 40002);
        b.send(b"bye").half_close();
        assert!(b.is_closed());
        assert_eq!(room.len(), 1);
        assert_eq!(received(&mut a), "127.0.0.1:40002: bye\n");
        a.reset();
        assert_eq!(room.len(), 0);
    }

    fn message(i: usize) -> String {
        format!("message {i:03}\n")
    }

    #[test]
    fn a_client_that_stops_reading_misses_messages_then_is_dropped() {
        let room = Room::default();
        let mut a = client(&room, 40001);
        let mut slow = client_with(
            &room,
            Harness::builder()
                .peer_addr(addr(40002))
                .peer_window(100)
                .write_buffer_limit(1000),
        );
        let mut fast = client(&room, 40003);
        let mut fast_got = String::new();
        for i in 0..300 {
            a.send(message(i).as_bytes());
            // The slow client's worker takes the pushes; its peer reads none.
            slow.run_commands();
            fast_got += &received(&mut fast);
        }
        // The others got everything, in order.
        let all: String = (0..300)
            .map(|i| format!("127.0.0.1:40001: {}", message(i)))
            .collect();
        assert_eq!(fast_got, all);
        // The slow client was disconnected after MAX_DROPS misses in a row.
        assert_eq!(room.len(), 2);
        let slow_got = slow.read_to_eof();
        assert!(slow.saw_eof());
        // It got whole messages, the first ones, up to about its limit.
        let slow_got = String::from_utf8(slow_got).unwrap();
        assert!(all.starts_with(&slow_got), "{slow_got}");
        assert!(slow_got.ends_with('\n'));
        assert!((900..=1100).contains(&slow_got.len()), "{}", slow_got.len());
    }

    #[test]
    fn a_client_that_catches_up_is_kept() {
        let room = Room::default();
        let mut a = client(&room, 40001);
        let mut slow = client_with(
            &room,
            Harness::builder()
                .peer_addr(addr(40002))
                .peer_window(100)
                .write_buffer_limit(1000),
        );
        let mut got = String::new();
        for i in 0..1000 {
            a.send(message(i).as_bytes());
            slow.run_commands();
            // Reads now and then: misses some, never MAX_DROPS in a row.
            if i % 80 == 79 {
                got += &received_all(&mut slow);
            }
        }
        assert_eq!(room.len(), 2);
        assert!(!slow.is_closed());
        got += &received_all(&mut slow);
        let missed = 1000 - got.lines().count();
        assert!(missed > 0 && missed < 1000 - 300, "missed {missed}");
        // What it got is whole messages, in order.
        let mut last = None;
        for line in got.lines() {
            let n: usize = line
                .strip_prefix("127.0.0.1:40001: message ")
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("not a message: {line:?} in {got:?}"));
            assert!(last < Some(n), "{line}");
            last = Some(n);
        }
    }

    /// Reads one line, or fails after the read timeout.
    fn line(reader: &mut BufReader<TcpStream>) -> String {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        line
    }

    fn connect(server: &netecho::ServerHandle) -> (TcpStream, BufReader<TcpStream>) {
        let stream = TcpStream::connect(server.local_addr()).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let reader = BufReader::new(stream.try_clone().unwrap());
        (stream, reader)
    }

    #[test]
    fn loopback() {
        let room = Room::default();
        let factory_room = room.clone();
        let server = netecho::TcpServer::builder()
            .host([127, 0, 0, 1])
            .port(0)
            .workers(2)
            .handler(move || Chat::new(factory_room.clone(), 1024))
            .spawn()
            .unwrap();
        let (mut a, mut a_in) = connect(&server);
        let (mut b, mut b_in) = connect(&server);
        // A hearing B proves both joined; then the same for C.
        b.write_all(b"b here\n").unwrap();
        let b_addr = b.local_addr().unwrap();
        assert_eq!(line(&mut a_in), format!("{b_addr}: b here\n"));
        let (mut c, mut c_in) = connect(&server);
        c.write_all("c hère\r\n".as_bytes()).unwrap();
        let c_addr = c.local_addr().unwrap();
        assert_eq!(line(&mut a_in), format!("{c_addr}: c hère\n"));
        assert_eq!(line(&mut b_in), format!("{c_addr}: c hère\n"));
        a.write_all(b"hello ").unwrap();
        a.write_all(b"all\n").unwrap();
        let a_addr = a.local_addr().unwrap();
        assert_eq!(line(&mut b_in), format!("{a_addr}: hello all\n"));
        assert_eq!(line(&mut c_in), format!("{a_addr}: hello all\n"));
        // C leaves: its connection ends, and it leaves the room.
        c.shutdown(std::net::Shutdown::Write).unwrap();
        let mut rest = Vec::new();
        c_in.read_to_end(&mut rest).unwrap();
        assert!(rest.is_empty());
        b.write_all(b"still there?\n").unwrap();
        assert_eq!(line(&mut a_in), format!("{b_addr}: still there?\n"));
        drop((a, a_in, b, b_in, c, c_in));
        server.shutdown();
        server.join().unwrap();
        assert_eq!(room.len(), 0);
    }
}
