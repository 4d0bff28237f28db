//! Backpressure on loopback: a client that sends but does not read cannot
//! make the server hold more than the write buffer limit plus one read, loses
//! nothing, and the server reads again only once that output has fallen to
//! half the limit.
//!
//! The server's own counters say when it stopped reading (its output passed
//! the limit) and when it read again; no stall is timed.

mod util;

use std::io;
use std::net::Shutdown;
use std::thread;

use netecho::{CloseReason, Echo};
use util::{
    TestResult, builder, connect_with_buffers, expect_eof, join, notify, read_pattern, seed,
    stats_until, write_pattern,
};

const SOCKET_BUFFER: usize = 16 * 1024;
/// The most one read adds over the limit (the server's read buffer).
const ONE_READ: u64 = 64 * 1024;

#[test]
fn client_that_never_reads_leaves_server_memory_bounded_and_gets_every_byte() -> TestResult {
    const LIMIT: u64 = 64 * 1024;
    const TOTAL: u64 = 8 * 1024 * 1024;
    let (factory, events) = notify(|| Echo);
    let server = builder()
        .workers(1)
        .recv_buffer_size(SOCKET_BUFFER)
        .send_buffer_size(SOCKET_BUFFER)
        .write_buffer_limit(LIMIT as usize)
        .write_timeout(None)
        .handler(factory)
        .spawn()?;
    let mut client = connect_with_buffers(server.local_addr(), SOCKET_BUFFER, SOCKET_BUFFER)?;
    let peer = events.expect_open()?;

    // Phase 1: write everything from another thread while this one does not
    // read, until the server says it stopped reading: its pending output
    // passed the limit (it stops right after the read that did it).
    let mut writer = client.try_clone()?;
    let mut rng = fastrand::Rng::with_seed(seed());
    let writing = thread::spawn(move || -> io::Result<()> {
        write_pattern(&mut writer, 0, TOTAL, &mut rng)?;
        writer.shutdown(Shutdown::Write)
    });
    let paused = stats_until(&server, "pending output over the limit", |s| {
        s.buffered_bytes > LIMIT
    })?;
    assert!(
        paused.buffered_bytes <= LIMIT + ONE_READ,
        "server holds {} bytes for one connection, limit {LIMIT} plus one read",
        paused.buffered_bytes
    );
    assert!(paused.bytes_read < TOTAL, "{paused:?}");

    // Phase 2: read everything back, in order, while the writer finishes.
    read_pattern(&mut client, 0, TOTAL)?;
    expect_eof(&mut client)?;
    join(writing)??;

    assert_eq!(events.expect_close()?, (peer, CloseReason::PeerClosed));
    let stats = server.stats();
    assert_eq!(stats.bytes_read, TOTAL);
    assert_eq!(stats.bytes_written, TOTAL);
    assert_eq!(stats.buffered_bytes, 0);
    assert_eq!(stats.write_timeouts, 0);
    Ok(())
}

/// The documented hysteresis: after stopping at the limit, the server reads
/// again only once its pending output is at most half the limit, not as
/// soon as it dips under the limit.
#[test]
fn reading_resumes_only_below_half_the_write_buffer_limit() -> TestResult {
    // Large against the socket buffers (tens of KiB on loopback), so that
    // what they hold cannot blur the margins of a quarter of the limit.
    const LIMIT: u64 = 1024 * 1024;
    const TOTAL: u64 = 4 * 1024 * 1024;
    let (factory, events) = notify(|| Echo);
    let server = builder()
        .workers(1)
        .recv_buffer_size(SOCKET_BUFFER)
        .send_buffer_size(SOCKET_BUFFER)
        .write_buffer_limit(LIMIT as usize)
        .write_timeout(None)
        .handler(factory)
        .spawn()?;
    let mut client = connect_with_buffers(server.local_addr(), SOCKET_BUFFER, SOCKET_BUFFER)?;
    let peer = events.expect_open()?;

    let mut writer = client.try_clone()?;
    let mut rng = fastrand::Rng::with_seed(seed());
    let writing = thread::spawn(move || -> io::Result<()> {
        write_pattern(&mut writer, 0, TOTAL, &mut rng)?;
        writer.shutdown(Shutdown::Write)
    });
    stats_until(&server, "pending output over the limit", |s| {
        s.buffered_bytes > LIMIT
    })?;
    // Read the counters again: the first snapshot may pair the new gauge
    // with the byte count from before the last reads.
    let paused = server.stats();
    // The echo of what the server read so far is either read by the client,
    // in the socket buffers, or pending: read all but three quarters of the
    // limit of it. The server's pending output is then under the limit but
    // still over half of it (the socket buffers hold far less than a quarter).
    let stop_at = paused.bytes_read - LIMIT * 3 / 4;
    read_pattern(&mut client, 0, stop_at)?;
    let between = server.stats();
    assert_eq!(
        between.bytes_read, paused.bytes_read,
        "the server read again with {} bytes pending, over half the limit {LIMIT}",
        between.buffered_bytes
    );
    assert!(
        between.buffered_bytes > LIMIT / 2 && between.buffered_bytes < LIMIT,
        "pending output {} should lie between half the limit and the limit",
        between.buffered_bytes
    );

    // Read on: once pending output falls to half the limit it reads again.
    read_pattern(&mut client, stop_at, TOTAL - stop_at)?;
    expect_eof(&mut client)?;
    join(writing)??;
    assert_eq!(events.expect_close()?, (peer, CloseReason::PeerClosed));
    let stats = server.stats();
    assert_eq!((stats.bytes_read, stats.bytes_written), (TOTAL, TOTAL));
    assert_eq!(stats.buffered_bytes, 0);
    Ok(())
}
