//! The idle timeout and the write timeout close the connections they should.

mod util;

use std::io::{self, Write};
use std::thread;
use std::time::Duration;

use netecho::{CloseReason, Echo};
use util::{
    TestResult, assert_echo, builder, connect, connect_with_buffers, expect_eof, fill_pattern,
    join, notify,
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
