//! The server under abuse at scale: a thousand resets, fifty clients over
//! the connection limit, timeouts near their configured time. Each must leave the counts at their baseline and the
//! server serving.

mod util;

use std::io::Write;
use std::time::{Duration, Instant};

use netecho::{CloseReason, Conn, Echo, Handler};
use util::{
    EXPECTED_PANIC, Event, TestResult, assert_echo, builder, capture_warnings, connect,
    expect_closed, expect_eof, notify, quiet_expected_panics,
};

/// Fails on a handler's first byte, with the marker that keeps the panic
/// out of the test output.
struct PanicsOnData;

impl Handler for PanicsOnData {
    fn on_data(&mut self, _: &mut Conn, _: &[u8]) {
        panic!("{EXPECTED_PANIC}: control for the log capture");
    }
}

#[test]
fn a_thousand_resets_mid_echo_log_no_warning_and_leak_nothing() -> TestResult {
    let log = capture_warnings().ok_or("another logger is installed")?;
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

    // The capture works: a handler panic, recoverable server trouble, is
    // logged at warn (and is the only warning this binary causes).
    quiet_expected_panics();
    let control = builder().handler(|| PanicsOnData).spawn()?;
    let mut client = connect(control.local_addr())?;
    client.write_all(b"!")?;
    expect_closed(&mut client)?;
    control.shutdown();
    control.join()?;
    let lines = log.lines();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("WARN") && l.contains(EXPECTED_PANIC)),
        "the control panic was not logged at warn: {lines:?}"
    );
    // Client resets are hang-ups, logged at debug: no warning, no error.
    let others: Vec<_> = lines
        .iter()
        .filter(|l| !l.contains(EXPECTED_PANIC))
        .collect();
    assert!(others.is_empty(), "unexpected warnings: {others:?}");
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
