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

/// Reading stops only while *more* than the limit is pending: exactly the
/// limit still reads.
#[test]
fn reading_goes_on_while_pending_output_is_exactly_the_limit() {
    const K: usize = 1024;
    let mut peer = Harness::builder()
        .peer_window(K)
        .write_buffer_limit(8 * K)
        .open(Echo);
    // 1 KiB delivered, 8 KiB pending: the limit, not over it.
    peer.send(&[1; 9 * K]);
    assert_eq!(peer.unread(), 9 * K);
    peer.send(b"x");
    assert_eq!(peer.unread(), 9 * K + 1, "stopped reading at the limit");
    // One byte over: stopped.
    peer.send(b"y");
    assert_eq!(peer.unread(), 9 * K + 1);
}

/// Echo that counts its idle timeouts (and does not close on them), and
/// records what it was given.
#[derive(Default, Clone)]
struct Watch {
    idle: Arc<Mutex<usize>>,
    seen: Arc<Mutex<Vec<u8>>>,
}

impl Watch {
    fn idle(&self) -> usize {
        *self.idle.lock().unwrap()
    }
    fn seen(&self) -> Vec<u8> {
        self.seen.lock().unwrap().clone()
    }
}

impl Handler for Watch {
    fn on_data(&mut self, conn: &mut Conn, data: &[u8]) {
        self.seen.lock().unwrap().extend_from_slice(data);
        conn.write(data);
    }
    fn on_read_closed(&mut self, _: &mut Conn) {}
    fn on_idle_timeout(&mut self, _: &mut Conn) {
        *self.idle.lock().unwrap() += 1;
    }
}

/// The idle timeout measures the peer's silence while the server reads: not
/// while backpressure has stopped the reads (the peer may well be sending).
#[test]
fn idle_timeout_waits_while_backpressure_stops_reading() {
    let watch = Watch::default();
    let mut peer = Harness::builder()
        .peer_window(1024)
        .write_buffer_limit(4096)
        .idle_timeout(Duration::from_secs(10))
        .open(watch.clone());
    peer.send(&[1; 8192]);
    for _ in 0..5 {
        peer.advance(Duration::from_secs(10));
    }
    assert_eq!(watch.idle(), 0, "idle timeout while reads were stopped");
    // Reading again (the peer read it all): the silence counts from then.
    for _ in 0..100 {
        peer.read();
    }
    assert_eq!(peer.unread(), 0);
    peer.advance(Duration::from_secs(10));
    assert_eq!(watch.idle(), 1);
}

/// Nor while the handler paused reading (as `Conn::pause_reading` says).
#[test]
fn idle_timeout_waits_while_the_handler_paused_reading() {
    struct Paused(Watch);
    impl Handler for Paused {
        fn on_open(&mut self, conn: &mut Conn) {
            conn.pause_reading();
        }
        fn on_idle_timeout(&mut self, conn: &mut Conn) {
            self.0.on_idle_timeout(conn);
        }
    }
    let watch = Watch::default();
    let mut peer = Harness::builder()
        .idle_timeout(Duration::from_secs(10))
        .open(Paused(watch.clone()));
    for _ in 0..5 {
        peer.advance(Duration::from_secs(10));
    }
    assert_eq!(watch.idle(), 0, "idle timeout while reading was paused");
}

/// Nor once the peer has half-closed: it can send nothing more, so its
/// silence means nothing (the write timeout still guards a peer that does
/// not read).
#[test]
fn idle_timeout_stops_once_the_peer_half_closed() {
    let watch = Watch::default();
    let mut peer = Harness::builder()
        .idle_timeout(Duration::from_secs(10))
        .open(watch.clone());
    peer.send(b"bye").half_close();
    for _ in 0..5 {
        peer.advance(Duration::from_secs(10));
    }
    assert_eq!(watch.idle(), 0, "idle timeout after the peer's EOF");
    assert_eq!(peer.read(), b"bye");
}

/// A callback that resumes reading gets what arrived while reading was
/// paused at once, without waiting for more input (readiness is
/// edge-triggered: nothing else would announce it).
#[test]
fn resume_reading_from_a_callback_reads_what_waited() {
    struct PauseThenResumeOnTimer(Watch);
    impl Handler for PauseThenResumeOnTimer {
        fn on_data(&mut self, conn: &mut Conn, data: &[u8]) {
            self.0.on_data(conn, data);
            conn.pause_reading();
            conn.set_timer(Duration::from_secs(1));
        }
        fn on_timer(&mut self, conn: &mut Conn) {
            conn.resume_reading();
        }
    }
    let watch = Watch::default();
    let mut peer = Harness::open(PauseThenResumeOnTimer(watch.clone()));
    peer.send(b"first").send(b"second");
    assert_eq!(watch.seen(), b"first");
    peer.advance(Duration::from_secs(1));
    assert_eq!(watch.seen(), b"firstsecond");
    assert_eq!(peer.read(), b"firstsecond");
}

/// After a panic the handler gets no callback at all, even with input left
/// to read when it panicked in `on_drain`.
#[test]
fn no_callback_runs_after_a_panic_in_on_drain() {
    quiet_expected_panics();
    struct PanicOnDrain(Watch);
    impl Handler for PanicOnDrain {
        fn on_data(&mut self, conn: &mut Conn, data: &[u8]) {
            self.0.on_data(conn, data);
            conn.notify_on_drain();
        }
        fn on_drain(&mut self, _: &mut Conn) {
            panic!("{EXPECTED_PANIC}: in on_drain");
        }
    }
    let watch = Watch::default();
    let mut peer = Harness::open(PanicOnDrain(watch.clone()));
    // More than one read: input is left when on_drain runs.
    peer.send(&[5; 100 * 1024]);
    assert!(peer.panicked());
    assert!(
        watch.seen().len() < 100 * 1024,
        "on_data ran after the panic"
    );
}

/// Bytes a handle queued before the handler closed (or shut down its write
/// side) with output still pending are dropped, as a socket would: nothing
/// follows the handler's last write.
#[test]
fn handle_writes_queued_before_a_close_are_dropped() {
    struct EndsOnData(Arc<Mutex<Option<ConnHandle>>>, bool);
    impl Handler for EndsOnData {
        fn on_open(&mut self, conn: &mut Conn) {
            *self.0.lock().unwrap() = Some(conn.handle());
        }
        fn on_data(&mut self, conn: &mut Conn, data: &[u8]) {
            conn.write(data);
            if self.1 {
                conn.close();
            } else {
                conn.shutdown_write();
            }
        }
    }
    for close in [true, false] {
        let slot: Arc<Mutex<Option<ConnHandle>>> = Arc::default();
        let mut peer = Harness::builder()
            .peer_window(4)
            .open(EndsOnData(Arc::clone(&slot), close));
        let handle = slot.lock().unwrap().clone().expect("handle");
        handle.write(b"late").unwrap();
        peer.send(b"last words");
        peer.run_commands();
        let mut got = Vec::new();
        for _ in 0..10 {
            got.extend(peer.read());
        }
        assert_eq!(got, b"last words", "close: {close}");
        assert!(peer.saw_eof());
    }
}

/// After `shutdown_write`, writes in later callbacks are ignored too (and
/// the context says the write side is closed), even while earlier output
/// still waits for the peer.
#[test]
fn writes_after_shutdown_write_are_ignored_in_later_callbacks() {
    struct HalfClose(Arc<Mutex<Vec<bool>>>);
    impl Handler for HalfClose {
        fn on_data(&mut self, conn: &mut Conn, data: &[u8]) {
            self.0.lock().unwrap().push(conn.is_write_closed());
            conn.write(data);
            conn.shutdown_write();
        }
    }
    let closed: Arc<Mutex<Vec<bool>>> = Arc::default();
    let mut peer = Harness::builder()
        .peer_window(2)
        .open(HalfClose(Arc::clone(&closed)));
    peer.send(b"first").send(b"second");
    assert_eq!(*closed.lock().unwrap(), [false, true]);
    let mut got = Vec::new();
    for _ in 0..10 {
        got.extend(peer.read());
    }
    assert_eq!(got, b"first");
    assert!(peer.saw_eof());
}

/// The idle timeout counts the peer's silence: a handler that calls
/// `resume_reading` without having paused does not postpone it.
#[test]
fn a_needless_resume_reading_does_not_postpone_the_idle_timeout() {
    struct Fidget(Watch);
    impl Handler for Fidget {
        fn on_open(&mut self, conn: &mut Conn) {
            conn.set_timer(Duration::from_secs(4));
        }
        fn on_timer(&mut self, conn: &mut Conn) {
            conn.resume_reading();
            conn.set_timer(Duration::from_secs(4));
        }
        fn on_idle_timeout(&mut self, conn: &mut Conn) {
            self.0.on_idle_timeout(conn);
        }
    }
    let watch = Watch::default();
    let mut peer = Harness::builder()
        .idle_timeout(Duration::from_secs(10))
        .open(Fidget(watch.clone()));
    for _ in 0..3 {
        peer.advance(Duration::from_secs(4));
    }
    assert_eq!(watch.idle(), 1, "12 s of silence, idle timeout 10 s");
}

/// Once both sides are shut (the handler's `shutdown_write` sent its FIN,
/// then the peer's EOF came), the connection closes, even if the handler
/// does nothing on the EOF.
#[test]
fn both_sides_shut_closes_the_connection() {
    struct ShutOnData;
    impl Handler for ShutOnData {
        fn on_data(&mut self, conn: &mut Conn, data: &[u8]) {
            conn.write(data);
            conn.shutdown_write();
        }
        fn on_read_closed(&mut self, _: &mut Conn) {}
    }
    let mut peer = Harness::open(ShutOnData);
    peer.send(b"one");
    assert_eq!(peer.read(), b"one");
    assert!(peer.saw_eof());
    assert!(!peer.is_closed());
    peer.half_close();
    assert_eq!(peer.close_reason(), Some(CloseReason::PeerClosed));
}

/// Closes after its first answer, which the small window holds back.
struct AnswerThenClose;

impl Handler for AnswerThenClose {
    fn on_data(&mut self, conn: &mut Conn, _: &[u8]) {
        conn.write(&[b'a'; 100]);
        conn.close();
    }
}

/// In the lingering close, input and the peer's EOF that arrived together
/// are read together: the connection closes at once, not at the end of the
/// lingering period.
#[test]
fn lingering_close_ends_at_once_on_input_then_eof() {
    let mut peer = Harness::builder().peer_window(10).open(AnswerThenClose);
    peer.send(b"question");
    // While the answer waits, the peer sends more and its EOF; the server
    // reads neither before its FIN.
    peer.send(b"more").half_close();
    assert!(!peer.is_closed());
    let mut got = Vec::new();
    for _ in 0..20 {
        got.extend(peer.read());
    }
    assert_eq!(got, [b'a'; 100]);
    assert!(peer.saw_eof());
    assert_eq!(peer.close_reason(), Some(CloseReason::Handler));
}

/// A reset during the lingering close ends it at once.
#[test]
fn reset_during_the_lingering_close_ends_it_at_once() {
    let mut peer = Harness::open(AnswerThenClose);
    peer.send(b"question");
    assert_eq!(peer.read(), [b'a'; 100]);
    assert!(peer.saw_eof());
    assert!(!peer.is_closed(), "lingering");
    peer.reset();
    assert_eq!(peer.close_reason(), Some(CloseReason::Handler));
}

/// The write timeout applies only while output is pending: a connection
/// whose output was all taken is left alone, however long it is quiet.
#[test]
fn write_timeout_leaves_a_connection_with_nothing_pending_alone() {
    let mut peer = Harness::builder()
        .write_timeout(Duration::from_secs(30))
        .open(Echo);
    peer.send(b"all of it fits");
    assert_eq!(peer.read(), b"all of it fits");
    peer.advance(Duration::from_secs(60));
    assert!(!peer.is_closed(), "{:?}", peer.close_reason());
}

/// `cancel_timer` stops a pending timer: `on_timer` never comes.
#[test]
fn cancel_timer_stops_a_pending_timer() {
    struct SetThenCancel(Arc<Mutex<usize>>);
    impl Handler for SetThenCancel {
        fn on_open(&mut self, conn: &mut Conn) {
            conn.set_timer(Duration::from_secs(1));
        }
        fn on_data(&mut self, conn: &mut Conn, _: &[u8]) {
            conn.cancel_timer();
        }
        fn on_timer(&mut self, _: &mut Conn) {
            *self.0.lock().unwrap() += 1;
        }
    }
    let fired = Arc::new(Mutex::new(0));
    let mut peer = Harness::open(SetThenCancel(Arc::clone(&fired)));
    peer.send(b"cancel");
    peer.advance(Duration::from_secs(5));
    assert_eq!(*fired.lock().unwrap(), 0, "on_timer after cancel_timer");
}

/// `Conn::pending_write`, and a handle made in the callback, count the
/// output the socket has not taken plus what this callback wrote.
#[test]
fn pending_write_counts_held_output_and_this_callbacks_writes() {
    struct Measure(Arc<Mutex<Vec<usize>>>);
    impl Handler for Measure {
        fn on_open(&mut self, conn: &mut Conn) {
            conn.write(&[0; 100]);
        }
        fn on_data(&mut self, conn: &mut Conn, data: &[u8]) {
            conn.write(data);
            let handle = conn.handle();
            self.0
                .lock()
                .unwrap()
                .extend([conn.pending_write(), handle.pending_write()]);
        }
    }
    let seen = Arc::new(Mutex::new(Vec::new()));
    // The window takes 10 of the greeting's 100 bytes: 90 are held.
    let mut peer = Harness::builder()
        .peer_window(10)
        .open(Measure(Arc::clone(&seen)));
    peer.send(b"12345");
    assert_eq!(*seen.lock().unwrap(), [95, 95]);
}

/// Keeps the handle it makes in `on_open`, and does nothing else.
struct KeepHandle(Arc<Mutex<Option<ConnHandle>>>);

impl Handler for KeepHandle {
    fn on_open(&mut self, conn: &mut Conn) {
        *self.0.lock().unwrap() = Some(conn.handle());
    }
}

/// Opens a connection with `builder` and returns it with its handle.
fn open_with_handle(builder: netecho::testing::HarnessBuilder) -> (Harness, ConnHandle) {
    let slot: Arc<Mutex<Option<ConnHandle>>> = Arc::default();
    let peer = builder.open(KeepHandle(Arc::clone(&slot)));
    let handle = slot.lock().unwrap().take().expect("handle made in on_open");
    (peer, handle)
}

/// `ConnHandle::write`: "a write into an empty buffer is always taken,
/// whatever its size", even one larger than the limit.
#[test]
fn conn_handle_write_into_an_empty_buffer_is_taken_whatever_its_size() {
    let (mut peer, handle) = open_with_handle(Harness::builder().write_buffer_limit(100));
    assert_eq!(handle.write(&[7; 500]), Ok(()));
    peer.run_commands();
    assert_eq!(peer.read(), [7; 500]);
}

/// `ConnHandle::write` refuses only past the limit: a message that brings
/// what is held (queued by handles or unread) to exactly the limit is taken.
#[test]
fn conn_handle_write_is_taken_up_to_exactly_the_limit() {
    // The peer takes nothing: what the worker applied stays pending.
    let builder = Harness::builder().peer_window(0).write_buffer_limit(100);
    let (mut peer, handle) = open_with_handle(builder);
    handle.write(&[1; 60]).unwrap();
    peer.run_commands();
    // 60 pending, 20 queued and not yet applied: 80 held.
    handle.write(&[2; 20]).unwrap();
    assert_eq!(handle.write(&[3; 21]), Err(PushError::Full));
    assert_eq!(handle.write(&[3; 20]), Ok(()));
    assert_eq!(handle.write(&[4; 1]), Err(PushError::Full));
}

/// `ConnHandle::pending_write`: "bytes queued by handles plus output the
/// peer has not read yet", kept current as the worker applies the queue and
/// the peer reads.
#[test]
fn conn_handle_pending_write_counts_queued_and_unread_bytes() {
    let builder = Harness::builder().peer_window(10).write_buffer_limit(1000);
    let (mut peer, handle) = open_with_handle(builder);
    assert_eq!(handle.pending_write(), 0);
    handle.write(&[1; 50]).unwrap();
    assert_eq!(handle.pending_write(), 50, "queued, not applied yet");
    peer.run_commands();
    // The peer's window took 10: 40 are held by the connection.
    assert_eq!(handle.pending_write(), 40);
    handle.write(&[2; 30]).unwrap();
    assert_eq!(handle.pending_write(), 70, "40 held plus 30 queued");
    peer.run_commands();
    assert_eq!(handle.pending_write(), 70);
    assert_eq!(peer.read().len(), 10);
    assert_eq!(handle.pending_write(), 60);
    let mut rest = 0;
    for _ in 0..10 {
        rest += peer.read().len();
    }
    assert_eq!(rest, 70);
    assert_eq!(handle.pending_write(), 0);
    // Nothing is held any more: a large write is taken again.
    assert_eq!(handle.write(&[3; 2000]), Ok(()));
}

/// `ConnHandle::close` and `resume_reading` refuse with `Closed` once the
/// connection is closed, like `write`.
#[test]
fn conn_handle_close_and_resume_reading_report_a_closed_connection() {
    let (mut peer, handle) = open_with_handle(Harness::builder());
    assert!(!handle.is_closed());
    peer.half_close();
    assert!(peer.is_closed());
    assert!(handle.is_closed());
    assert_eq!(handle.close(), Err(PushError::Closed));
    assert_eq!(handle.resume_reading(), Err(PushError::Closed));
    assert_eq!(handle.write(b"late"), Err(PushError::Closed));
}

/// `ConnHandle`'s `Debug` tells the connection's id and whether it is
/// closed, as a log line about a handle needs.
#[test]
fn conn_handle_debug_shows_whether_the_connection_is_closed() {
    let (mut peer, handle) = open_with_handle(Harness::builder());
    let open = format!("{handle:?}");
    assert!(open.starts_with("ConnHandle"), "{open}");
    assert!(open.contains("closed: false"), "{open}");
    peer.half_close();
    let closed = format!("{handle:?}");
    assert!(closed.contains("closed: true"), "{closed}");
}

/// Writes the parts of its input and of its own bytes in a fixed order, and
/// records what `pending_write` said after each write.
struct Reorder {
    pending: Arc<Mutex<Vec<usize>>>,
}

impl Handler for Reorder {
    fn on_data(&mut self, conn: &mut Conn, data: &[u8]) {
        let mut seen = Vec::new();
        // Two adjacent slices of the input, then an own byte, then an
        // earlier slice of the input, then a later one that is adjacent to
        // the first two but comes after the own byte.
        let (head, tail) = data.split_at(data.len() / 2);
        let (a, b) = head.split_at(head.len() / 2);
        conn.write(a);
        seen.push(conn.pending_write());
        conn.write(b);
        seen.push(conn.pending_write());
        conn.write(b"|");
        seen.push(conn.pending_write());
        conn.write(a);
        seen.push(conn.pending_write());
        conn.write(tail);
        seen.push(conn.pending_write());
        conn.write(&[]);
        seen.push(conn.pending_write());
        self.pending.lock().unwrap().extend(seen);
    }
}

#[test]
fn writes_of_input_slices_and_own_bytes_go_out_in_the_order_written() {
    let pending = Arc::new(Mutex::new(Vec::new()));
    let mut peer = Harness::open(Reorder {
        pending: Arc::clone(&pending),
    });
    peer.send(b"abcdefgh");
    // a = "ab", b = "cd", tail = "efgh".
    assert_eq!(peer.read(), b"abcd|abefgh");
    assert_eq!(*pending.lock().unwrap(), [2, 4, 5, 7, 11, 11]);
}

#[test]
fn an_echo_the_peer_cannot_take_stays_pending_whole() {
    // The echo is sent from the input: what the peer's window refuses must
    // be kept, since the input is read over by the next read.
    let mut peer = Harness::builder().peer_window(3).open(Echo);
    peer.send(b"0123456789");
    peer.send(b"abcdef");
    let mut got = Vec::new();
    for _ in 0..10 {
        got.extend(peer.read_at_most(2));
    }
    assert_eq!(got, b"0123456789abcdef");
}

#[test]
fn an_echo_followed_by_abort_sends_nothing() {
    struct EchoThenAbort;
    impl Handler for EchoThenAbort {
        fn on_data(&mut self, conn: &mut Conn, data: &[u8]) {
            conn.write(data);
            conn.abort();
        }
    }
    let mut peer = Harness::open(EchoThenAbort);
    peer.send(b"never seen");
    assert_eq!(peer.read(), b"");
    assert_eq!(peer.close_reason(), Some(CloseReason::Aborted));
}

#[test]
fn slices_of_the_input_that_are_not_adjacent_are_not_joined() {
    struct Gaps;
    impl Handler for Gaps {
        fn on_data(&mut self, conn: &mut Conn, data: &[u8]) {
            // "a", then "d": what lies between was not written.
            conn.write(&data[..1]);
            conn.write(&data[3..4]);
            conn.write(&data[4..]);
        }
    }
    let mut peer = Harness::open(Gaps);
    peer.send(b"abcdef");
    assert_eq!(peer.read(), b"adef");
}
