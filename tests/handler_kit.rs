//! The connection state machine and handlers, driven in memory through the
//! public test kit: no sockets, no threads, virtual time.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use netecho::testing::Harness;
use netecho::{CloseReason, Conn, ConnHandle, Echo, Handler, PushError};

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
            panic!("asked to panic");
        }
        conn.write(data);
    }
}

#[test]
fn handler_panic_closes_the_connection_without_on_close() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let mut peer = Harness::open(Panicky);
    peer.send(b"fine");
    peer.send(b"boom");
    std::panic::set_hook(previous);
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

/// Counts what it is given, and pauses reading at the first byte.
struct PauseAtOnce(Arc<Mutex<usize>>);

impl Handler for PauseAtOnce {
    fn on_data(&mut self, conn: &mut Conn, data: &[u8]) {
        if let Ok(mut given) = self.0.lock() {
            *given += data.len();
        }
        conn.pause_reading();
    }
}

#[test]
fn pause_reading_in_on_data_stops_the_read_loop() {
    // The server reads up to 16 buffers per event; a pause asked in
    // `on_data` must end that loop, not only the next event's.
    let given = Arc::new(Mutex::new(0));
    let mut peer = Harness::open(PauseAtOnce(Arc::clone(&given)));
    peer.send(&vec![0u8; 1024 * 1024]);
    let given = *given.lock().map_err(|_| "poisoned").unwrap();
    assert!(
        given > 0 && given <= 64 * 1024,
        "given {given} bytes after pausing"
    );
    assert!(!peer.is_closed());
}
