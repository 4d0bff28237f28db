//! The test kit's in-memory peer keeps the promises `netecho::testing`
//! documents: what it reads and counts, its window, how it reports EOF, a
//! reset, a panic, and its `Debug`.

mod util;

use netecho::testing::Harness;
use netecho::{CloseReason, Conn, Echo, Handler};
use util::{EXPECTED_PANIC, quiet_expected_panics};

/// Writes `len` bytes of `byte` in `on_open`, then acts on its input: "close"
/// closes, "abort" aborts, "panic" panics, anything else is echoed.
struct Greeter {
    len: usize,
    byte: u8,
}

impl Handler for Greeter {
    fn on_open(&mut self, conn: &mut Conn) {
        conn.write(&vec![self.byte; self.len]);
    }

    fn on_data(&mut self, conn: &mut Conn, data: &[u8]) {
        match data {
            b"close" => conn.close(),
            b"abort" => conn.abort(),
            b"panic" => panic!("{EXPECTED_PANIC}"),
            _ => conn.write(data),
        }
    }
}

fn greeter(len: usize) -> Greeter {
    Greeter { len, byte: b'g' }
}

/// `HarnessBuilder::peer_window`: "Default: 256 KiB": one read takes the
/// whole window, and only the window.
#[test]
fn the_default_peer_window_holds_256_kib() {
    let mut peer = Harness::open(greeter(300 * 1024));
    assert_eq!(peer.unread(), 300 * 1024);
    assert_eq!(peer.read().len(), 256 * 1024);
    assert_eq!(peer.read().len(), 44 * 1024);
    assert_eq!(peer.unread(), 0);
}

/// `Harness::unread` counts what the window holds plus what the connection
/// holds back, and `read_total` all the peer has read.
#[test]
fn unread_and_read_total_count_every_byte() {
    let mut peer = Harness::builder().peer_window(10).open(greeter(25));
    assert_eq!(peer.unread(), 25, "10 delivered + 15 pending");
    assert_eq!(peer.read_total(), 0);
    assert_eq!(peer.read_at_most(4), b"gggg");
    assert_eq!(peer.read_total(), 4);
    assert_eq!(peer.unread(), 21);
    assert_eq!(peer.read().len(), 10);
    assert_eq!(peer.read_total(), 14);
    assert_eq!(peer.read().len(), 10);
    assert_eq!(peer.read().len(), 1);
    assert_eq!(peer.read_total(), 25);
    assert_eq!(peer.unread(), 0);
}

/// `Harness::read_at_most` reads up to `max` from what was delivered, in
/// order, and leaves the rest for the next read.
#[test]
fn read_at_most_takes_at_most_max_in_order() {
    let mut peer = Harness::open(Echo);
    peer.send(b"abcdef");
    assert_eq!(peer.read_at_most(0), b"");
    assert_eq!(peer.read_at_most(2), b"ab");
    assert_eq!(peer.read_at_most(3), b"cde");
    assert_eq!(peer.read_at_most(10), b"f");
    assert_eq!(peer.read_total(), 6);
}

/// `Harness::read_to_eof` stops when reading brings nothing more, with the
/// handler still open (check `saw_eof`), and reads all up to EOF otherwise.
#[test]
fn read_to_eof_returns_what_came_and_saw_eof_tells_why_it_stopped() {
    let mut peer = Harness::builder().peer_window(7).open(greeter(20));
    assert_eq!(peer.read_to_eof(), vec![b'g'; 20]);
    assert!(!peer.saw_eof(), "the handler has not shut down");
    peer.send(b"close");
    peer.half_close();
    assert!(peer.is_closed());
    assert!(peer.read_to_eof().is_empty());
    assert!(peer.saw_eof());
}

/// `Harness::saw_eof`: only once the peer has read everything before the
/// EOF, whether the connection is still open (half-closed) or closed.
#[test]
fn saw_eof_waits_until_the_peer_read_everything_before_it() {
    let mut peer = Harness::builder().peer_window(4).open(Echo);
    peer.send(b"12345678");
    peer.half_close();
    assert!(!peer.saw_eof(), "8 bytes unread");
    assert_eq!(peer.read(), b"1234");
    assert!(!peer.saw_eof(), "4 bytes unread");
    assert_eq!(peer.read(), b"5678");
    assert!(peer.saw_eof());
    assert_eq!(peer.close_reason(), Some(CloseReason::PeerClosed));
}

/// After a graceful close the output delivered before it stays readable:
/// `saw_eof` waits for it, and `unread` counts it.
#[test]
fn output_delivered_before_a_close_stays_readable() {
    let mut peer = Harness::builder().peer_window(1024).open(greeter(0));
    peer.send(b"hello");
    peer.send(b"close");
    peer.half_close();
    assert!(peer.is_closed());
    assert_eq!(peer.close_reason(), Some(CloseReason::Handler));
    assert_eq!(peer.unread(), 5);
    assert!(!peer.saw_eof());
    assert!(!peer.saw_reset());
    assert_eq!(peer.read_at_most(2), b"he");
    assert!(!peer.saw_eof());
    assert_eq!(peer.read(), b"llo");
    assert!(peer.saw_eof());
    assert_eq!(peer.unread(), 0);
    assert_eq!(peer.read_total(), 5);
}

/// `Harness::saw_reset`: after `Conn::abort`, once the peer has read what
/// was delivered before the reset; never an EOF.
#[test]
fn saw_reset_waits_for_the_output_delivered_before_the_abort() {
    let mut peer = Harness::open(greeter(0));
    peer.send(b"hi");
    peer.send(b"abort");
    assert_eq!(peer.close_reason(), Some(CloseReason::Aborted));
    assert!(!peer.saw_reset(), "`hi` unread");
    assert!(!peer.saw_eof());
    assert_eq!(peer.read(), b"hi");
    assert!(peer.saw_reset());
    assert!(!peer.saw_eof(), "a reset is not an EOF");
}

/// A graceful close is not a reset, and an open connection reports neither.
#[test]
fn open_and_gracefully_closed_connections_report_no_reset() {
    let mut peer = Harness::open(Echo);
    assert!(!peer.saw_reset());
    assert!(!peer.is_closed());
    assert_eq!(peer.close_reason(), None);
    assert!(!peer.panicked());
    peer.half_close();
    assert!(peer.is_closed());
    assert!(!peer.saw_reset());
    assert!(!peer.panicked());
}

/// `Harness::panicked` and `close_reason`: a panic closes the connection,
/// reports no close reason ("also after a panic"), and is no reset.
#[test]
fn a_panic_closes_with_no_reason_and_no_reset() {
    quiet_expected_panics();
    let mut peer = Harness::open(greeter(0));
    peer.send(b"panic");
    assert!(peer.panicked());
    assert!(peer.is_closed());
    assert_eq!(peer.close_reason(), None);
    assert!(!peer.saw_reset());
}

/// A handler that keeps asking for `on_drain` while the peer has room gets
/// every round in one call: the kit runs the rounds the server would.
#[test]
fn on_drain_rounds_run_until_the_handler_stops_asking() {
    struct Rounds(usize);
    impl Handler for Rounds {
        fn on_open(&mut self, conn: &mut Conn) {
            conn.notify_on_drain();
        }
        fn on_drain(&mut self, conn: &mut Conn) {
            if self.0 > 0 {
                self.0 -= 1;
                conn.write(b"r");
                conn.notify_on_drain();
            }
        }
    }
    let mut peer = Harness::open(Rounds(5));
    assert_eq!(peer.read(), b"rrrrr");
}

/// `Harness`'s `Debug` shows what the peer has not read and how the
/// connection ended.
#[test]
fn harness_debug_shows_unread_bytes_and_the_end() {
    let mut peer = Harness::open(greeter(3));
    let open = format!("{peer:?}");
    assert!(open.starts_with("Harness"), "{open}");
    assert!(open.contains("unread: 3"), "{open}");
    peer.read();
    peer.half_close();
    let closed = format!("{peer:?}");
    assert!(closed.contains("read_total: 3"), "{closed}");
    assert!(closed.contains("PeerClosed"), "{closed}");
}

/// A handler that asks for `on_drain` in every `on_drain` and never writes
/// would spin the server's worker for ever: the kit panics instead of
/// hanging (`Harness`, "# Panics").
#[test]
#[should_panic(expected = "on_drain")]
fn a_handler_that_asks_for_on_drain_without_end_panics_the_kit() {
    struct Spin;
    impl Handler for Spin {
        fn on_open(&mut self, conn: &mut Conn) {
            conn.notify_on_drain();
        }
        fn on_drain(&mut self, conn: &mut Conn) {
            conn.notify_on_drain();
        }
    }
    Harness::open(Spin);
}
