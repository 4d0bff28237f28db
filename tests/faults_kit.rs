//! Fault injectors in the test kit, in virtual time: the same faults as
//! `tests/faults.rs`, in microseconds.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use netecho::fault::Faults;
use netecho::testing::Harness;
use netecho::{CloseReason, Conn, Echo, Handler};

const MS: Duration = Duration::from_millis(1);

/// Lets `total` of virtual time pass in `step`s, the peer reading after
/// each; returns what it read and when (since the start), in order.
fn watch(peer: &mut Harness, total: Duration, step: Duration) -> Vec<(Duration, Vec<u8>)> {
    let mut seen = Vec::new();
    let mut elapsed = Duration::ZERO;
    while elapsed < total {
        peer.advance(step);
        elapsed += step;
        let got = peer.read();
        if !got.is_empty() {
            seen.push((elapsed, got));
        }
    }
    seen
}

#[test]
fn latency_holds_the_echo_for_its_time() {
    let mut peer = Harness::open(Faults::new().latency(150 * MS).wrap(Echo));
    peer.send(b"ping");
    assert_eq!(peer.read(), b"");
    peer.advance(149 * MS);
    assert_eq!(peer.read(), b"");
    peer.advance(MS);
    assert_eq!(peer.read(), b"ping");
}

#[test]
fn jitter_is_the_same_for_the_same_seed() {
    let arrivals = |seed| {
        let faults = Faults::new().latency(50 * MS).jitter(50 * MS).seed(seed);
        let mut peer = Harness::open(faults.wrap(Echo));
        let mut times = Vec::new();
        for _ in 0..10 {
            peer.send(b"x");
            let seen = watch(&mut peer, 100 * MS, MS);
            assert_eq!(seen.len(), 1);
            let at = seen[0].0;
            assert!((50 * MS..=100 * MS).contains(&at), "{at:?}");
            times.push(at);
        }
        times
    };
    assert_eq!(arrivals(1), arrivals(1));
    assert_ne!(arrivals(1), arrivals(2));
}

#[test]
fn a_mebibyte_at_256_kib_per_second_takes_four_virtual_seconds() {
    const LEN: usize = 1024 * 1024;
    let mut peer = Harness::open(Faults::new().bandwidth(256 * 1024).wrap(Echo));
    peer.send(&vec![7u8; LEN]);
    let seen = watch(&mut peer, 5 * Duration::from_secs(1), 10 * MS);
    let total: usize = seen.iter().map(|(_, data)| data.len()).sum();
    assert_eq!(total, LEN);
    let last = seen.last().map(|(at, _)| *at).unwrap_or_default();
    assert!(
        (3990 * MS..=4010 * MS).contains(&last),
        "the last byte came at {last:?}"
    );
    // Paced, not bursty: no 10 ms step brings more than two pieces.
    assert!(
        seen.iter().all(|(_, data)| data.len() <= 2 * 2622),
        "bursts"
    );
}

/// An echo that counts what it was given, to see backpressure.
struct Counting(Arc<Mutex<usize>>);

impl Handler for Counting {
    fn on_data(&mut self, conn: &mut Conn, data: &[u8]) {
        *self.0.lock().unwrap() += data.len();
        conn.write(data);
    }
}

#[test]
fn held_output_stops_reading_past_the_write_buffer_limit() {
    const LIMIT: usize = 64 * 1024;
    let given = Arc::new(Mutex::new(0));
    let faults = Faults::new().latency(Duration::from_secs(1));
    let mut peer = Harness::builder()
        .write_buffer_limit(LIMIT)
        .open(faults.wrap(Counting(Arc::clone(&given))));
    peer.send(&vec![1u8; 1024 * 1024]);
    // One read past the limit at most: the rest waits in the peer's socket.
    let before = *given.lock().unwrap();
    assert!(before <= 2 * LIMIT + 64 * 1024, "took {before} bytes");
    // As output goes out, reading resumes, and everything comes back.
    let mut back = 0;
    for _ in 0..200 {
        peer.advance(Duration::from_secs(1));
        back += peer.read().len();
        assert!(*given.lock().unwrap() - back <= 3 * LIMIT + 64 * 1024);
    }
    assert_eq!(back, 1024 * 1024);
}

#[test]
fn slices_go_out_one_per_delay() {
    let faults = Faults::new().slice(4).slice_delay(50 * MS);
    let mut peer = Harness::open(faults.wrap(Echo));
    peer.send(b"hello, world");
    assert_eq!(peer.read(), b"hell");
    let seen = watch(&mut peer, 200 * MS, MS);
    assert_eq!(
        seen,
        [(50 * MS, b"o, w".to_vec()), (100 * MS, b"orld".to_vec())]
    );
}

#[test]
fn close_after_n_bytes_then_eof() {
    let mut peer = Harness::open(Faults::new().close_after(10).wrap(Echo));
    peer.send(&[b'a'; 6]).send(&[b'b'; 6]);
    assert_eq!(peer.read_to_eof(), b"aaaaaabbbb");
    assert!(peer.saw_eof());
    assert_eq!(peer.close_reason(), None, "still draining the peer");
    peer.half_close();
    assert_eq!(peer.close_reason(), Some(CloseReason::Handler));
}

#[test]
fn reset_after_n_bytes_then_a_reset() {
    let faults = Faults::new().reset_after(10).latency(20 * MS);
    let mut peer = Harness::open(faults.wrap(Echo));
    peer.send(&[b'a'; 100]);
    assert!(!peer.is_closed());
    let seen = watch(&mut peer, 30 * MS, MS);
    assert_eq!(seen, [(20 * MS, vec![b'a'; 10])]);
    assert!(peer.saw_reset());
    assert!(!peer.saw_eof());
    assert_eq!(peer.close_reason(), Some(CloseReason::Aborted));
}

#[test]
fn reset_after_time_aborts_whatever_is_pending() {
    let faults = Faults::new().reset_after_time(2 * Duration::from_secs(1));
    let mut peer = Harness::open(faults.wrap(Echo));
    peer.send(b"hi");
    assert_eq!(peer.read(), b"hi");
    peer.advance(1999 * MS);
    assert!(!peer.is_closed());
    peer.advance(MS);
    assert!(peer.saw_reset());
}

#[test]
fn blackhole_goes_silent_and_stays_open_until_its_timeout() {
    let faults = Faults::new()
        .blackhole_after(3)
        .blackhole_timeout(Duration::from_secs(30));
    let mut peer = Harness::open(faults.wrap(Echo));
    peer.send(b"hello");
    assert_eq!(peer.read(), b"hel");
    peer.send(b"more").half_close();
    peer.advance(29 * Duration::from_secs(1));
    assert_eq!(peer.read(), b"");
    assert!(!peer.is_closed());
    assert!(!peer.saw_eof());
    peer.advance(Duration::from_secs(1));
    assert!(peer.saw_eof());
}

/// Says whether its `on_open` ran.
struct Opened(Arc<Mutex<bool>>);

impl Handler for Opened {
    fn on_open(&mut self, _conn: &mut Conn) {
        *self.0.lock().unwrap() = true;
    }
    fn on_close(&mut self, _reason: CloseReason) {
        panic!("on_close of a handler that was never opened");
    }
}

#[test]
fn refuse_resets_at_once_and_the_inner_handler_never_knows() {
    let opened = Arc::new(Mutex::new(false));
    let peer = Harness::open(Faults::new().refuse().wrap(Opened(Arc::clone(&opened))));
    assert!(peer.saw_reset());
    assert_eq!(peer.close_reason(), Some(CloseReason::Aborted));
    assert!(!*opened.lock().unwrap());
}

#[test]
fn slow_close_delays_the_fin() {
    let mut peer = Harness::open(Faults::new().slow_close(500 * MS).wrap(Echo));
    peer.send(b"bye").half_close();
    assert_eq!(peer.read(), b"bye");
    assert!(!peer.saw_eof());
    peer.advance(499 * MS);
    assert!(!peer.saw_eof());
    peer.advance(MS);
    assert!(peer.saw_eof());
    assert_eq!(peer.close_reason(), Some(CloseReason::PeerClosed));
}

#[test]
fn input_bandwidth_pauses_reading() {
    let given = Arc::new(Mutex::new(0));
    let faults = Faults::new().input_bandwidth(1000);
    let mut peer = Harness::open(faults.wrap(Counting(Arc::clone(&given))));
    peer.send(&[0; 100]);
    assert_eq!(*given.lock().unwrap(), 100);
    peer.send(&[0; 100]);
    assert_eq!(*given.lock().unwrap(), 100, "paused for 100 ms");
    peer.advance(100 * MS);
    assert_eq!(*given.lock().unwrap(), 200);
}

/// Writes the virtual time of each tick, every 100 ms.
struct Ticks {
    start: Option<Instant>,
}

impl Handler for Ticks {
    fn on_open(&mut self, conn: &mut Conn) {
        self.start = Some(conn.now());
        conn.set_timer(100 * MS);
    }
    fn on_timer(&mut self, conn: &mut Conn) {
        let since = self.start.map(|t| conn.now() - t).unwrap_or_default();
        conn.write(format!("{};", since.as_millis()).as_bytes());
        conn.set_timer(100 * MS);
    }
}

#[test]
fn the_inner_handlers_timer_still_fires_at_its_time() {
    let faults = Faults::new().latency(30 * MS);
    let mut peer = Harness::open(faults.wrap(Ticks { start: None }));
    let seen = watch(&mut peer, 350 * MS, MS);
    assert_eq!(
        seen,
        [
            (130 * MS, b"100;".to_vec()),
            (230 * MS, b"200;".to_vec()),
            (330 * MS, b"300;".to_vec()),
        ]
    );
}

#[test]
fn wrappers_compose() {
    // The outer set cuts what the inner, delayed, set lets out.
    let inner = Faults::new().latency(100 * MS);
    let outer = Faults::new().close_after(3);
    let mut peer = Harness::open(outer.wrap(inner.wrap(Echo)));
    peer.send(b"hello");
    assert_eq!(peer.read(), b"");
    peer.advance(100 * MS);
    assert_eq!(peer.read_to_eof(), b"hel");
    assert!(peer.saw_eof());
}

#[test]
fn toxicity_picks_the_same_connections_for_the_same_seed() {
    let picked = |seed| {
        let faults = Faults::new().toxicity(0.3).seed(seed).close_after(0);
        (0..50)
            .map(|_| Harness::open(faults.wrap(Echo)).saw_eof())
            .collect::<Vec<bool>>()
    };
    let first = picked(9);
    assert_eq!(first, picked(9));
    assert_ne!(first, picked(10));
    let hits = first.iter().filter(|&&hit| hit).count();
    assert!((5..=25).contains(&hits), "{hits} of 50 at toxicity 0.3");
    let faults = Faults::new().toxicity(0.3).seed(9);
    assert_eq!(
        first,
        (0..50).map(|i| faults.affects(i)).collect::<Vec<_>>()
    );
}

#[test]
fn switched_off_faults_pass_output_through() {
    let faults = Faults::new().latency(Duration::from_secs(1));
    let control = faults.control();
    let mut peer = Harness::open(faults.wrap(Echo));
    peer.send(b"slow");
    control.disable();
    // New output waits only for what is held before it.
    peer.send(b"fast");
    assert_eq!(peer.read(), b"");
    peer.advance(Duration::from_secs(1));
    assert_eq!(peer.read(), b"slowfast");
    peer.send(b"now");
    assert_eq!(peer.read(), b"now");
    control.enable();
    peer.send(b"late");
    assert_eq!(peer.read(), b"");
    peer.advance(Duration::from_secs(1));
    assert_eq!(peer.read(), b"late");
}

/// Writes `total` bytes in `chunk`s, the next one on each `on_drain`.
struct Producer {
    chunk: usize,
    left: usize,
    produced: Arc<Mutex<usize>>,
}

impl Producer {
    fn next(&mut self, conn: &mut Conn) {
        let n = self.chunk.min(self.left);
        if n > 0 {
            self.left -= n;
            *self.produced.lock().unwrap() += n;
            conn.write(&vec![b'p'; n]);
            conn.notify_on_drain();
        }
    }
}

impl Handler for Producer {
    fn on_open(&mut self, conn: &mut Conn) {
        self.next(conn);
    }
    fn on_drain(&mut self, conn: &mut Conn) {
        self.next(conn);
    }
}

#[test]
fn a_producer_paced_by_on_drain_waits_for_held_output() {
    const CHUNK: usize = 16 * 1024;
    const TOTAL: usize = 256 * 1024;
    let produced = Arc::new(Mutex::new(0));
    let faults = Faults::new().bandwidth(64 * 1024);
    let mut peer = Harness::open(faults.wrap(Producer {
        chunk: CHUNK,
        left: TOTAL,
        produced: Arc::clone(&produced),
    }));
    let mut read = peer.read().len();
    let mut elapsed = Duration::ZERO;
    while read < TOTAL && elapsed < 10 * Duration::from_secs(1) {
        peer.advance(10 * MS);
        elapsed += 10 * MS;
        read += peer.read().len();
        // `on_drain` waits for the held chunk to go out: one chunk at a time.
        assert!(
            *produced.lock().unwrap() - read <= CHUNK,
            "{} ahead",
            *produced.lock().unwrap() - read
        );
    }
    assert_eq!(read, TOTAL);
    // 256 KiB at 64 KiB/s: about 4 s (the first 10 ms piece goes at once).
    assert!((3900 * MS..=4100 * MS).contains(&elapsed), "{elapsed:?}");
}

/// Writes the first two bytes of its input and a byte of its own, then
/// hands the rest to a fault-injecting echo that holds its output for 10 ms.
struct PrefixThenFaulty(netecho::fault::Faulty<Echo>);

impl Handler for PrefixThenFaulty {
    fn on_data(&mut self, conn: &mut Conn, data: &[u8]) {
        let (head, rest) = data.split_at(data.len().min(2));
        conn.write(head);
        conn.write(b"|");
        self.0.on_data(conn, rest);
    }

    fn on_timer(&mut self, conn: &mut Conn) {
        self.0.on_timer(conn);
    }
}

#[test]
fn a_wrapped_faulty_delays_only_its_own_output() {
    // The outer handler's bytes go out at once, and the inner echo's after
    // the latency: neither is lost nor delayed by the other.
    let faulty = Faults::new().latency(10 * MS).wrap(Echo);
    let mut peer = Harness::open(PrefixThenFaulty(faulty));
    peer.send(b"abcdef");
    assert_eq!(peer.read(), b"ab|");
    peer.advance(10 * MS);
    assert_eq!(peer.read(), b"cdef");
}
