//! The server under abuse at scale: a thousand resets, fifty clients over
//! the connection limit, timeouts near their configured time. Each must leave the counts at their baseline and the
//! server serving.

mod util;

use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use log::{Level, LevelFilter, Log, Metadata, Record};
use netecho::{CloseReason, Echo};
use util::{Event, TestResult, assert_echo, builder, connect, expect_eof, notify};

/// Error-level lines logged by the crate, across this test binary.
static ERRORS: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct ErrorCapture;

impl Log for ErrorCapture {
    fn enabled(&self, m: &Metadata<'_>) -> bool {
        m.level() <= Level::Error
    }
    fn log(&self, r: &Record<'_>) {
        if r.level() <= Level::Error && r.target().starts_with("netecho") {
            let mut errors = ERRORS.lock().unwrap_or_else(|e| e.into_inner());
            errors.push(r.args().to_string());
        }
    }
    fn flush(&self) {}
}

fn capture_errors() {
    if log::set_boxed_logger(Box::new(ErrorCapture)).is_ok() {
        log::set_max_level(LevelFilter::Error);
    }
}

#[test]
fn a_thousand_resets_mid_echo_leave_no_error_log_and_no_leak() -> TestResult {
    capture_errors();
    let (factory, events) = notify(|| Echo);
    let server = builder().handler(factory).spawn()?;
    let addr = server.local_addr();
    for i in 0..1000u32 {
        let mut client = connect(addr)?;
        assert_echo(&mut client, &i.to_le_bytes())?;
        // More in flight, then a reset (SO_LINGER 0) without reading it.
        client.write_all(&[7; 32 * 1024])?;
        socket2::SockRef::from(&client).set_linger(Some(Duration::ZERO))?;
    }
    let closes = events.closes(1000)?;
    assert!(
        closes.iter().all(|(_, r)| matches!(r, CloseReason::Reset)),
        "{:?}",
        closes
            .iter()
            .find(|(_, r)| !matches!(r, CloseReason::Reset))
    );
    let stats = server.stats();
    assert_eq!(
        (stats.accepted, stats.closed, stats.active),
        (1000, 1000, 0)
    );
    assert_eq!(stats.buffered_bytes, 0);
    let mut next = connect(addr)?;
    assert_echo(&mut next, b"next client")?;
    let errors = ERRORS.lock().unwrap_or_else(|e| e.into_inner());
    assert!(errors.is_empty(), "error-level logs: {errors:?}");
    Ok(())
}

#[test]
fn fifty_over_the_limit_wait_and_are_served_as_others_leave() -> TestResult {
    const LIMIT: usize = 20;
    const EXTRA: usize = 50;
    let (factory, events) = notify(|| Echo);
    let server = builder()
        .workers(2)
        .max_connections(LIMIT)
        .handler(factory)
        .spawn()?;
    let addr = server.local_addr();
    let mut clients = Vec::new();
    for _ in 0..LIMIT + EXTRA {
        clients.push(connect(addr)?);
    }
    // Exactly LIMIT are served at once.
    for _ in 0..LIMIT {
        events.expect_open()?;
    }
    for c in clients.iter_mut().take(LIMIT) {
        assert_echo(c, b"served")?;
    }
    let stats = server.stats();
    assert_eq!(stats.accepted, LIMIT as u64, "{stats:?}");
    assert_eq!(stats.active, LIMIT as u64);
    assert!(stats.deferred_at_limit >= 1);
    assert!(events.try_next().is_none(), "more than {LIMIT} opened");

    // Each one that leaves lets one waiting client in, in arrival order.
    let mut waiting = clients.split_off(LIMIT).into_iter();
    let mut served = clients;
    while let Some(mut leaving) = served.pop() {
        leaving.shutdown(std::net::Shutdown::Write)?;
        expect_eof(&mut leaving)?;
        drop(leaving);
        if let Some(mut next) = waiting.next() {
            loop {
                match events.next()? {
                    Event::Open { .. } => break,
                    Event::Close { .. } => {}
                }
            }
            assert_echo(&mut next, b"my turn")?;
            served.insert(0, next);
        }
        assert!(server.stats().active <= LIMIT as u64);
    }
    server.shutdown();
    server.join()?;
    let stats = server.stats();
    assert_eq!(stats.accepted, (LIMIT + EXTRA) as u64);
    assert_eq!(stats.active, 0);
    Ok(())
}

#[test]
fn idle_timeout_closes_near_the_configured_time() -> TestResult {
    let idle = Duration::from_millis(300);
    let server = builder().idle_timeout(idle).spawn()?;
    let mut client = connect(server.local_addr())?;
    assert_echo(&mut client, b"then silence")?;
    let silent_since = Instant::now();
    expect_eof(&mut client)?;
    let took = silent_since.elapsed();
    assert!(
        took >= idle,
        "closed after {took:?}, before the idle timeout"
    );
    assert!(
        took < idle + Duration::from_millis(700),
        "closed only after {took:?}"
    );
    assert_eq!(server.stats().idle_timeouts, 1);
    Ok(())
}

#[test]
fn write_timeout_closes_near_the_configured_time() -> TestResult {
    let timeout = Duration::from_millis(300);
    let (factory, events) = notify(|| Echo);
    let server = builder()
        .workers(1)
        .send_buffer_size(16 * 1024)
        .write_timeout(timeout)
        .handler(factory)
        .spawn()?;
    let client = util::connect_with_buffers(server.local_addr(), 16 * 1024, 16 * 1024)?;
    events.expect_open()?;
    // Enough to fill both sides' buffers: the server's output stalls.
    let started = Instant::now();
    let mut writer = client.try_clone()?;
    let writing = std::thread::spawn(move || {
        let chunk = [1u8; 16 * 1024];
        for _ in 0..64 {
            if writer.write_all(&chunk).is_err() {
                break;
            }
        }
    });
    let (_, reason) = events.expect_close()?;
    let took = started.elapsed();
    assert_eq!(reason, CloseReason::WriteTimeout);
    assert!(took >= timeout, "closed after {took:?}");
    assert!(
        took < timeout + Duration::from_millis(700),
        "closed only after {took:?}"
    );
    drop(client);
    util::join(writing)?;
    Ok(())
}
