//! The connection state machine and handlers, driven in memory through the
//! public test kit: no sockets, no threads, virtual time.

use std::sync::{Arc, Mutex};
use std::time::Duration;

mod util;

use netecho::testing::Harness;
use netecho::{CloseReason, Conn, ConnHandle, Echo, Handler, PushError};
use util::{EXPECTED_PANIC, quiet_expected_panics};

#[test]
fn echo_returns_bytes_in_order_across_chunks() {
    let mut peer = Harness::open(Echo);
    for chunk in [&b"a"[..], b"bc", b"", b"def"] {
        peer.send(chunk);
    }
    assert_eq!(peer.read(), b"abcdef");
    assert!(!peer.is_closed());
}

#[test]
fn half_close_echoes_everything_then_eof() {
    let mut peer = Harness::open(Echo);
    peer.send(b"last words").half_close();
    assert_eq!(peer.read(), b"last words");
    assert!(peer.saw_eof());
    assert_eq!(peer.close_reason(), Some(CloseReason::PeerClosed));
}

#[test]
fn half_close_waits_for_a_slow_reader() {
    // The peer's window holds 10 bytes: the rest stays pending until read.
    let mut peer = Harness::builder().peer_window(10).open(Echo);
    let data: Vec<u8> = (0..100u8).collect();
    peer.send(&data).half_close();
    assert!(!peer.is_closed(), "closed with output pending");
    let mut got = Vec::new();
    for _ in 0..20 {
        got.extend(peer.read_at_most(7));
    }
    assert_eq!(got, data);
    assert!(peer.saw_eof());
    assert_eq!(peer.close_reason(), Some(CloseReason::PeerClosed));
}

#[test]
fn non_reading_peer_stops_the_reads_at_the_limit() {
    let limit = 4096;
    let window = 1024;
    let mut peer = Harness::builder()
        .peer_window(window)
        .write_buffer_limit(limit)
        .open(Echo);
    let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    for chunk in data.chunks(1000) {
        peer.send(chunk);
        // Held output never grows past the window, the limit and one read.
        assert!(
            peer.unread() <= window + limit + 64 * 1024,
            "{}",
            peer.unread()
        );
    }
    let mut got = Vec::new();
    for _ in 0..10_000 {
        if got.len() == data.len() {
            break;
        }
        got.extend(peer.read());
    }
    assert_eq!(got.len(), data.len());
    assert!(got == data, "echo out of order");
}

struct Panicky;

impl Handler for Panicky {
    fn on_data(&mut self, conn: &mut Conn, data: &[u8]) {
        if data == b"boom" {
            panic!("{EXPECTED_PANIC}: asked to panic");
        }
        conn.write(data);
    }
}

#[test]
fn handler_panic_closes_the_connection_without_on_close() {
    quiet_expected_panics();
    let mut peer = Harness::open(Panicky);
    peer.send(b"fine");
    peer.send(b"boom");
    assert!(peer.panicked());
    assert!(peer.is_closed());
    assert_eq!(peer.close_reason(), None);
    assert_eq!(peer.read(), b"fine");
}

#[test]
fn handler_close_flushes_then_closes_after_the_drain() {
    struct Bye;
    impl Handler for Bye {
        fn on_data(&mut self, conn: &mut Conn, _: &[u8]) {
            conn.write(b"bye\n");
            conn.close();
            conn.write(b"ignored after close");
        }
    }
    let mut peer = Harness::open(Bye);
    peer.send(b"hi");
    assert_eq!(peer.read(), b"bye\n");
    assert!(peer.saw_eof());
    // The peer keeps its side open: the server drains it for a bounded time.
    assert!(!peer.is_closed());
    peer.advance(Duration::from_secs(3));
    assert_eq!(peer.close_reason(), Some(CloseReason::Handler));
}

#[test]
fn idle_timeout_closes_a_silent_peer_and_spares_a_chatty_one() {
    let idle = Duration::from_secs(10);
    let mut silent = Harness::builder().idle_timeout(idle).open(Echo);
    silent.advance(Duration::from_secs(9));
    assert!(!silent.is_closed());
    silent.advance(Duration::from_secs(1));
    assert!(silent.saw_eof());
    silent.half_close();
    assert_eq!(silent.close_reason(), Some(CloseReason::IdleTimeout));

    let mut chatty = Harness::builder().idle_timeout(idle).open(Echo);
    for _ in 0..10 {
        chatty.advance(idle / 2);
        chatty.send(b".");
    }
    assert!(!chatty.is_closed());
    assert_eq!(chatty.read(), b"..........");
}

#[test]
fn write_timeout_closes_a_peer_that_reads_nothing() {
    let mut peer = Harness::builder()
        .peer_window(16)
        .write_timeout(Duration::from_secs(30))
        .open(Echo);
    peer.send(&[7; 100]);
    peer.advance(Duration::from_secs(29));
    assert!(!peer.is_closed());
    peer.advance(Duration::from_secs(1));
    assert_eq!(peer.close_reason(), Some(CloseReason::WriteTimeout));
}

#[test]
fn timer_fires_once_and_can_be_rearmed() {
    struct Ticker(u32);
    impl Handler for Ticker {
        fn on_open(&mut self, conn: &mut Conn) {
            conn.set_timer(Duration::from_secs(1));
        }
        fn on_timer(&mut self, conn: &mut Conn) {
            self.0 += 1;
            conn.write(format!("tick {}\n", self.0).as_bytes());
            if self.0 < 3 {
                conn.set_timer(Duration::from_secs(1));
            }
        }
    }
    let mut peer = Harness::open(Ticker(0));
    peer.advance(Duration::from_millis(999));
    assert_eq!(peer.read(), b"");
    for _ in 0..5 {
        peer.advance(Duration::from_secs(1));
    }
    assert_eq!(peer.read(), b"tick 1\ntick 2\ntick 3\n");
}

/// Writes `total` bytes in chunks, each only once the previous one drained.
struct Producer {
    left: usize,
}

impl Producer {
    fn produce(&mut self, conn: &mut Conn) {
        let n = self.left.min(1000);
        self.left -= n;
        conn.write(&vec![b'x'; n]);
        if self.left > 0 {
            conn.notify_on_drain();
        } else {
            conn.close();
        }
    }
}

impl Handler for Producer {
    fn on_open(&mut self, conn: &mut Conn) {
        self.produce(conn);
    }
    fn on_drain(&mut self, conn: &mut Conn) {
        self.produce(conn);
    }
}

#[test]
fn on_drain_paces_a_producer_to_the_reader() {
    let window = 4096;
    let mut peer = Harness::builder()
        .peer_window(window)
        .open(Producer { left: 1_000_000 });
    let mut total = 0;
    for _ in 0..100_000 {
        // At most the window plus one chunk is ever held.
        assert!(peer.unread() <= window + 1000, "{}", peer.unread());
        let got = peer.read_at_most(1500);
        if got.is_empty() && peer.saw_eof() {
            break;
        }
        total += got.len();
    }
    assert_eq!(total, 1_000_000);
    assert!(peer.saw_eof());
}

#[test]
fn conn_handle_writes_closes_and_reports_full_and_closed() {
    let slot: Arc<Mutex<Option<ConnHandle>>> = Arc::default();
    struct Grab(Arc<Mutex<Option<ConnHandle>>>);
    impl Handler for Grab {
        fn on_open(&mut self, conn: &mut Conn) {
            *self.0.lock().unwrap() = Some(conn.handle());
        }
    }
    let mut peer = Harness::builder()
        .peer_window(100)
        .write_buffer_limit(1000)
        .open(Grab(Arc::clone(&slot)));
    let handle = slot
        .lock()
        .unwrap()
        .clone()
        .expect("handle made in on_open");

    handle.write(b"pushed").unwrap();
    peer.run_commands();
    assert_eq!(peer.read(), b"pushed");

    // Fill past the limit while the peer does not read.
    handle.write(&[1; 900]).unwrap();
    peer.run_commands();
    assert_eq!(handle.write(&[2; 900]), Err(PushError::Full));
    assert_eq!(peer.read().len(), 100);

    handle.close().unwrap();
    peer.run_commands();
    let mut rest = 0;
    for _ in 0..100 {
        rest += peer.read().len();
    }
    assert_eq!(rest, 800);
    assert!(peer.saw_eof());
    assert!(handle.is_closed());
    assert_eq!(handle.write(b"late"), Err(PushError::Closed));
}

#[test]
fn shutdown_flushes_then_closes() {
    let mut peer = Harness::builder().peer_window(3).open(Echo);
    peer.send(b"abcdef").shutdown();
    assert_eq!(peer.read(), b"abc");
    assert_eq!(peer.read(), b"def");
    assert!(peer.saw_eof());
    peer.half_close();
    assert_eq!(peer.close_reason(), Some(CloseReason::Shutdown));
}

#[test]
fn reset_reports_reset() {
    let mut peer = Harness::open(Echo);
    peer.send(b"x").reset();
    assert_eq!(peer.close_reason(), Some(CloseReason::Reset));
}

#[test]
fn pause_reading_holds_input_until_resumed_from_a_handle() {
    /// Takes one request at a time: pauses on each, resumes when "done".
    struct OneAtATime(Arc<Mutex<Option<ConnHandle>>>, Arc<Mutex<Vec<u8>>>);
    impl Handler for OneAtATime {
        fn on_open(&mut self, conn: &mut Conn) {
            *self.0.lock().unwrap() = Some(conn.handle());
        }
        fn on_data(&mut self, conn: &mut Conn, data: &[u8]) {
            self.1.lock().unwrap().extend_from_slice(data);
            conn.pause_reading();
        }
    }
    let slot: Arc<Mutex<Option<ConnHandle>>> = Arc::default();
    let seen: Arc<Mutex<Vec<u8>>> = Arc::default();
    let mut peer = Harness::open(OneAtATime(Arc::clone(&slot), Arc::clone(&seen)));
    let handle = slot.lock().unwrap().clone().expect("handle");
    peer.send(b"first");
    peer.send(b"second");
    assert_eq!(*seen.lock().unwrap(), b"first");
    handle.resume_reading().unwrap();
    peer.run_commands();
    assert_eq!(*seen.lock().unwrap(), b"firstsecond");
    assert!(!peer.is_closed());
}

/// The hysteresis of backpressure: reading stops once pending output passes
/// the limit and resumes only once it is back to half the limit.
#[test]
fn reading_resumes_only_when_pending_output_falls_to_half_the_limit() {
    const K: usize = 1024;
    let mut peer = Harness::builder()
        .peer_window(K)
        .write_buffer_limit(8 * K)
        .open(Echo);
    // 1 KiB delivered, 11 KiB pending: over the limit, reading stops.
    peer.send(&[1; 12 * K]);
    assert_eq!(peer.unread(), 12 * K);
    // Not read while stopped.
    peer.send(&[2; 4 * K]);
    assert_eq!(peer.unread(), 12 * K);
    // Each 1 KiB the peer reads lets 1 KiB of pending output into its window.
    for read in 1..=6 {
        assert_eq!(peer.read_at_most(K).len(), K);
        assert_eq!(
            peer.unread(),
            (12 - read) * K,
            "read again with {} KiB pending, limit 8 KiB",
            peer.unread() / K - 1
        );
    }
    // The seventh brings it to 4 KiB, half the limit: the held 4 KiB is read
    // and echoed.
    assert_eq!(peer.read_at_most(K).len(), K);
    assert_eq!(peer.unread(), 9 * K);
    let mut rest = Vec::new();
    for _ in 0..100 {
        rest.extend(peer.read());
    }
    assert_eq!(rest.len(), 9 * K);
    assert!(rest.ends_with(&[2; 4 * K]));
}

/// The write timeout counts only a peer that takes nothing: one that reads a
/// little now and then, with output pending all along, is never closed; once
/// it stops reading, the timeout runs from its last read.
#[test]
fn write_timeout_spares_a_slow_reader_and_counts_from_its_last_read() {
    let timeout = Duration::from_secs(30);
    let mut peer = Harness::builder()
        .peer_window(16)
        .write_timeout(timeout)
        .open(Echo);
    peer.send(&[7; 1000]);
    // 10 reads of 16 bytes, 20 s apart: 200 s, many timeouts, never idle.
    for _ in 0..10 {
        peer.advance(Duration::from_secs(20));
        assert_eq!(peer.read_at_most(16).len(), 16);
        assert!(!peer.is_closed(), "a reader that keeps reading was closed");
    }
    assert!(peer.unread() > 0, "output ran out: the test proves nothing");
    peer.advance(timeout - Duration::from_millis(1));
    assert!(!peer.is_closed());
    peer.advance(Duration::from_millis(1));
    assert_eq!(peer.close_reason(), Some(CloseReason::WriteTimeout));
}

/// A handler's close keeps the output the peer has not taken yet: all of it
/// is delivered before the FIN.
#[test]
fn close_keeps_unsent_output_until_the_peer_takes_it() {
    struct SayThenClose;
    impl Handler for SayThenClose {
        fn on_data(&mut self, conn: &mut Conn, data: &[u8]) {
            conn.write(data);
            conn.close();
        }
    }
    let mut peer = Harness::builder().peer_window(10).open(SayThenClose);
    let data: Vec<u8> = (0..100u8).collect();
    peer.send(&data);
    assert!(!peer.is_closed(), "closed with output pending");
    assert!(!peer.saw_eof(), "FIN before the output");
    let mut got = Vec::new();
    for _ in 0..20 {
        got.extend(peer.read_at_most(7));
    }
    assert_eq!(got, data);
    assert!(peer.saw_eof());
}
