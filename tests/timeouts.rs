//! The idle timeout and the write timeout close the connections they should.

mod util;

use std::io::{self, Write};
use std::thread;
use std::time::Duration;

use netecho::{CloseReason, Echo};
use util::{
    TestResult, assert_echo, builder, connect, connect_with_buffers, expect_eof, fill_pattern,
    join, notify, read_pattern, seed, stats_until, write_pattern,
};

#[test]
fn idle_timeout_closes_a_silent_connection() -> TestResult {
    let (factory, events) = notify(|| Echo);
    let server = builder()
        .workers(1)
        .idle_timeout(Duration::from_millis(100))
        .handler(factory)
        .spawn()?;
    let mut client = connect(server.local_addr())?;
    assert_echo(&mut client, b"then silence")?;
    // The server closes gracefully: EOF, not a reset.
    expect_eof(&mut client)?;
    drop(client);
    let (_, reason) = events.closes(1)?[0];
    assert_eq!(reason, CloseReason::IdleTimeout);
    assert_eq!(server.stats().idle_timeouts, 1);
    Ok(())
}

#[test]
fn write_timeout_closes_a_connection_whose_peer_never_reads() -> TestResult {
    const LIMIT: u64 = 8 * 1024 * 1024;
    let (factory, events) = notify(|| Echo);
    let server = builder()
        .workers(1)
        .recv_buffer_size(32 * 1024)
        .send_buffer_size(32 * 1024)
        .write_buffer_limit(32 * 1024)
        .write_timeout(Duration::from_millis(200))
        .handler(factory)
        .spawn()?;
    let addr = server.local_addr();
    let mut steady = connect(addr)?;
    events.expect_open()?;
    let mut client = connect_with_buffers(addr, 32 * 1024, 32 * 1024)?;
    let peer = events.expect_open()?;

    // Writes until the server gives up on the connection (the write fails)
    // or LIMIT bytes; never reads.
    let writing = thread::spawn(move || -> (u64, Option<io::Error>) {
        let mut chunk = vec![0u8; 16 * 1024];
        let mut written = 0u64;
        while written < LIMIT {
            fill_pattern(written, &mut chunk);
            match client.write(&chunk) {
                Ok(n) => written += n as u64,
                Err(e) => return (written, Some(e)),
            }
        }
        (written, None)
    });
    assert_eq!(events.expect_close()?, (peer, CloseReason::WriteTimeout));
    let (written, error) = join(writing)?;
    let error = error.ok_or(format!(
        "all {written} bytes written to a closed connection"
    ))?;
    assert!(
        matches!(
            error.kind(),
            io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
        ),
        "{error}"
    );

    let stats = server.stats();
    assert_eq!(stats.write_timeouts, 1);
    assert_eq!(stats.buffered_bytes, 0);
    // A client that reads is not affected.
    assert_echo(&mut steady, b"still here")?;
    steady.shutdown(std::net::Shutdown::Write)?;
    expect_eof(&mut steady)?;
    Ok(())
}

/// The write timeout counts only a peer that takes nothing: a reader that is
/// slow but steady, with output pending all along, keeps its connection for
/// many timeouts, and gets every byte.
#[test]
fn write_timeout_spares_a_slow_reader_that_keeps_taking_output() -> TestResult {
    const TOTAL: u64 = 3 * 1024 * 1024;
    /// Each step reads more than the socket buffers hold, so the server must
    /// write during every step.
    const STEP: u64 = 64 * 1024;
    const STEPS: u64 = 30;
    let timeout = Duration::from_millis(600);
    // Paces the reader, the behaviour under test (not a synchronisation):
    // STEPS steps last 2 write timeouts.
    let pace = timeout * 2 / STEPS as u32;
    let (factory, events) = notify(|| Echo);
    let server = builder()
        .workers(1)
        .send_buffer_size(16 * 1024)
        .write_buffer_limit(2 * TOTAL as usize)
        .write_timeout(timeout)
        .handler(factory)
        .spawn()?;
    let mut client = connect_with_buffers(server.local_addr(), 16 * 1024, 16 * 1024)?;
    let peer = events.expect_open()?;

    // The client writes everything from another thread and reads slowly
    // here: the server reads faster than the client takes the echo, so
    // output is pending from the first step on.
    let mut writer = client.try_clone()?;
    let mut rng = fastrand::Rng::with_seed(seed());
    let writing = thread::spawn(move || write_pattern(&mut writer, 0, TOTAL, &mut rng));
    stats_until(&server, "output pending", |s| s.buffered_bytes > 4 * STEP)?;
    for step in 0..STEPS {
        read_pattern(&mut client, step * STEP, STEP).map_err(|e| {
            format!(
                "step {step}: {e}; closed while reading? {:?}",
                server.stats()
            )
        })?;
        let stats = server.stats();
        assert!(stats.buffered_bytes > 0, "output ran out at step {step}");
        assert_eq!(stats.write_timeouts, 0, "closed at step {step}");
        thread::sleep(pace);
    }
    assert!(events.try_next().is_none(), "the slow reader was closed");

    let read = STEPS * STEP;
    read_pattern(&mut client, read, TOTAL - read)?;
    join(writing)??;
    client.shutdown(std::net::Shutdown::Write)?;
    expect_eof(&mut client)?;
    assert_eq!(events.expect_close()?, (peer, CloseReason::PeerClosed));
    assert_eq!(server.stats().write_timeouts, 0);
    Ok(())
}
