//! The test kit's virtual clock behaves like real time: `advance` runs every
//! deadline within the jump, in order, each at its own time, so one long jump
//! and many short ones give the same callbacks at the same times.

mod util;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use netecho::testing::{Harness, HarnessBuilder};
use netecho::{CloseReason, Conn, Echo, Handler};

const MS: Duration = Duration::from_millis(1);

/// What a [`Recorder`] saw, with the virtual time since `on_open`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    Timer(Duration),
    Idle(Duration),
    Close(CloseReason),
}

type Log = Arc<Mutex<Vec<Seen>>>;

/// A handler that records its callbacks, re-arms its timer with the periods
/// of `periods` in turn, writes `write` bytes on each tick, and closes on the
/// `close_on_idle`-th idle timeout (the others keep the connection open).
struct Recorder {
    log: Log,
    opened: Option<Instant>,
    periods: &'static [Duration],
    ticks: usize,
    write: usize,
    idles: usize,
    close_on_idle: usize,
}

impl Recorder {
    fn new(periods: &'static [Duration]) -> (Self, Log) {
        let log = Log::default();
        let recorder = Recorder {
            log: Arc::clone(&log),
            opened: None,
            periods,
            ticks: 0,
            write: 0,
            idles: 0,
            close_on_idle: usize::MAX,
        };
        (recorder, log)
    }

    fn since_open(&self, conn: &Conn) -> Duration {
        conn.now() - self.opened.unwrap_or_else(|| conn.now())
    }

    fn arm(&mut self, conn: &mut Conn) {
        if !self.periods.is_empty() {
            conn.set_timer(self.periods[self.ticks % self.periods.len()]);
        }
    }
}

impl Handler for Recorder {
    fn on_open(&mut self, conn: &mut Conn) {
        self.opened = Some(conn.now());
        self.arm(conn);
    }

    fn on_timer(&mut self, conn: &mut Conn) {
        let at = self.since_open(conn);
        self.log.lock().unwrap().push(Seen::Timer(at));
        self.ticks += 1;
        conn.write(&vec![b'.'; self.write]);
        self.arm(conn);
    }

    fn on_idle_timeout(&mut self, conn: &mut Conn) {
        let at = self.since_open(conn);
        self.log.lock().unwrap().push(Seen::Idle(at));
        self.idles += 1;
        if self.idles == self.close_on_idle {
            conn.close();
        }
    }

    fn on_close(&mut self, reason: CloseReason) {
        self.log.lock().unwrap().push(Seen::Close(reason));
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn ticks(log: &Log) -> Vec<Duration> {
    log.lock()
        .unwrap()
        .iter()
        .filter_map(|s| match s {
            Seen::Timer(at) => Some(*at),
            _ => None,
        })
        .collect()
}

#[test]
fn rearmed_timer_ticks_every_period_within_one_jump() {
    const PERIOD: &[Duration] = &[Duration::from_millis(100)];
    let (handler, log) = Recorder::new(PERIOD);
    let mut peer = Harness::open(handler);
    let start = peer.now();
    peer.advance(ms(350));
    assert_eq!(ticks(&log), [ms(100), ms(200), ms(300)]);
    assert_eq!(peer.now() - start, ms(350));
    // The re-armed timer counts from 300 ms, when it fired: due at 400 ms.
    peer.advance(ms(49));
    assert_eq!(ticks(&log).len(), 3);
    peer.advance(MS);
    assert_eq!(ticks(&log), [ms(100), ms(200), ms(300), ms(400)]);
    peer.advance(Duration::from_secs(10));
    assert_eq!(ticks(&log).len(), 104);
    assert_eq!(ticks(&log).last(), Some(&ms(10_400)));
}

#[test]
fn idle_timeout_repeats_every_period_while_the_handler_keeps_the_connection() {
    let (handler, log) = Recorder::new(&[]);
    let mut peer = Harness::builder()
        .idle_timeout(Duration::from_secs(1))
        .open(handler);
    peer.advance(Duration::from_secs(5));
    let idles: Vec<Seen> = (1..=5).map(|s| Seen::Idle(ms(s * 1000))).collect();
    assert_eq!(*log.lock().unwrap(), idles);
    assert!(!peer.is_closed());
    // Input restarts the count: the next idle timeout is a second after it.
    peer.advance(ms(500)).send(b"hi");
    peer.advance(ms(999));
    assert_eq!(log.lock().unwrap().len(), 5);
    peer.advance(MS);
    assert_eq!(log.lock().unwrap().last(), Some(&Seen::Idle(ms(6500))));
}

#[test]
fn write_timeout_fires_at_its_deadline_counted_from_the_last_progress() {
    let mut peer = Harness::builder()
        .peer_window(16)
        .write_timeout(Duration::from_secs(1))
        .open(Echo);
    peer.send(&[7; 100]);
    peer.advance(ms(300));
    // Reading makes room: the output moves, and the timeout counts again.
    assert_eq!(peer.read_at_most(8).len(), 8);
    peer.advance(ms(999));
    assert!(!peer.is_closed());
    peer.advance(MS);
    assert_eq!(peer.close_reason(), Some(CloseReason::WriteTimeout));
}

#[test]
fn drain_deadline_ends_a_graceful_close_two_seconds_after_the_fin() {
    struct CloseOnData;
    impl Handler for CloseOnData {
        fn on_data(&mut self, conn: &mut Conn, _: &[u8]) {
            conn.close();
        }
    }
    let mut peer = Harness::open(CloseOnData);
    peer.advance(ms(500)).send(b"bye");
    assert!(peer.saw_eof());
    peer.advance(ms(1999));
    assert!(!peer.is_closed());
    peer.advance(MS);
    assert_eq!(peer.close_reason(), Some(CloseReason::Handler));
}

#[test]
#[should_panic(expected = "zero timer")]
fn a_zero_timer_rearmed_for_ever_panics_instead_of_hanging() {
    let (handler, _log) = Recorder::new(&[Duration::ZERO]);
    Harness::open(handler).advance(MS);
}

/// Makes a scenario's connection options, handler and the handler's log.
type Scenario = fn() -> (HarnessBuilder, Recorder, Log);

/// The scenarios of the jump tests: each is a handler under some options;
/// only time passes (the peer neither sends nor reads).
fn scenarios() -> Vec<(&'static str, Scenario)> {
    vec![
        (
            "timers of several periods, some zero, and idle timeouts",
            || {
                const PERIODS: &[Duration] = &[
                    Duration::from_millis(3),
                    Duration::from_millis(250),
                    Duration::ZERO,
                    Duration::from_millis(1000),
                    Duration::from_micros(1500),
                ];
                let (mut handler, log) = Recorder::new(PERIODS);
                // Kept open on three idle timeouts, closed on the fourth, after
                // which the drain deadline ends the connection.
                handler.close_on_idle = 4;
                let builder = Harness::builder().idle_timeout(Duration::from_secs(1));
                (builder, handler, log)
            },
        ),
        ("output that stalls until the write timeout", || {
            const PERIODS: &[Duration] = &[Duration::from_millis(200)];
            let (mut handler, log) = Recorder::new(PERIODS);
            handler.write = 10;
            let builder = Harness::builder()
                .peer_window(16)
                .write_timeout(Duration::from_secs(1));
            (builder, handler, log)
        }),
    ]
}

/// Runs a scenario through `jumps`; returns what the handler saw.
fn run(scenario: Scenario, jumps: &[Duration]) -> Vec<Seen> {
    let (builder, handler, log) = scenario();
    let mut peer = builder.open(handler);
    for &jump in jumps {
        peer.advance(jump);
    }
    log.lock().unwrap().clone()
}

/// `total` cut at random points, with some zero-length jumps.
fn random_split(rng: &mut fastrand::Rng, total: Duration) -> Vec<Duration> {
    let mut left = total.as_micros() as u64;
    let mut jumps = Vec::new();
    while left > 0 {
        let jump = match rng.u8(..10) {
            0 => 0,
            1 => rng.u64(..=3_000).min(left),
            _ => rng.u64(..=700_000).min(left),
        };
        left -= jump;
        jumps.push(Duration::from_micros(jump));
    }
    jumps
}

#[test]
fn one_long_jump_and_many_short_ones_give_the_same_callbacks_at_the_same_times() {
    let total = Duration::from_secs(10);
    let mut rng = fastrand::Rng::with_seed(util::seed());
    for (name, scenario) in scenarios() {
        let one = run(scenario, &[total]);
        let short = run(scenario, &[ms(10); 1000]);
        assert_eq!(one, short, "{name}: 1 x 10 s vs 1000 x 10 ms");
        for _ in 0..20 {
            let jumps = random_split(&mut rng, total);
            assert_eq!(run(scenario, &jumps), one, "{name}: jumps {jumps:?}");
        }
    }
}

#[test]
fn the_jump_scenarios_see_what_real_time_would_give() {
    let scenarios = scenarios();

    let seen = run(scenarios[0].1, &[Duration::from_secs(10)]);
    let idles: Vec<&Seen> = seen.iter().filter(|s| matches!(s, Seen::Idle(_))).collect();
    // The peer is silent: an idle timeout every second until the fourth
    // closes; the drain ends two seconds later.
    assert_eq!(
        idles,
        [1, 2, 3, 4]
            .map(|s| Seen::Idle(ms(s * 1000)))
            .iter()
            .collect::<Vec<_>>()
    );
    assert_eq!(seen.last(), Some(&Seen::Close(CloseReason::IdleTimeout)));
    // The timer runs until the close, at 4 s; ticks come in time order, the
    // zero-length re-arms at the same instant as the tick before them.
    let ticks: Vec<Duration> = seen
        .iter()
        .filter_map(|s| match s {
            Seen::Timer(at) => Some(*at),
            _ => None,
        })
        .collect();
    assert!(ticks.windows(2).all(|w| w[0] <= w[1]), "{ticks:?}");
    assert!(ticks.windows(2).any(|w| w[0] == w[1]), "{ticks:?}");
    assert!(ticks.last().is_some_and(|&t| t <= ms(4000)), "{ticks:?}");
    assert_eq!(ticks[..3], [ms(3), ms(253), ms(253)]);

    // 10 bytes every 200 ms into a 16-byte window: the second tick (400 ms)
    // stalls the output, and at 1400 ms the write timeout closes, before the
    // tick due then (the timeout wins a tie).
    let seen = run(scenarios[1].1, &[Duration::from_secs(10)]);
    let mut expected: Vec<Seen> = (1..=6).map(|n| Seen::Timer(ms(n * 200))).collect();
    expected.push(Seen::Close(CloseReason::WriteTimeout));
    assert_eq!(seen, expected);
}

/// `advance` runs the deadlines that fall within the jump and only those:
/// one a moment later waits for the next jump.
#[test]
fn advance_leaves_a_deadline_past_the_jump_for_later() {
    let mut peer = Harness::builder()
        .idle_timeout(Duration::from_secs(1))
        .open(Echo);
    peer.advance(999 * MS);
    assert!(!peer.saw_eof(), "the idle timeout ran early");
    assert!(!peer.is_closed());
    peer.advance(MS);
    assert!(peer.saw_eof(), "the idle timeout did not run at 1 s");
    peer.half_close();
    assert_eq!(peer.close_reason(), Some(CloseReason::IdleTimeout));
}
