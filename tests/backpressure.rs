//! A client that sends but does not read cannot make the server hold more
//! than the write buffer limit plus one read, and loses nothing.
//!
//! Alone in its binary: the first phase measures a stall with a timeout, and
//! the other tests' traffic must not compete with the server it watches.

mod util;

use std::io::{self, Write};
use std::net::Shutdown;
use std::thread;
use std::time::Duration;

use netecho::{CloseReason, Echo};
use util::{
    TIMEOUT, TestResult, builder, connect_with_buffers, expect_eof, fill_pattern, join, notify,
    read_pattern, seed, write_pattern,
};

const LIMIT: usize = 64 * 1024;
const SOCKET_BUFFER: usize = 64 * 1024;
const TOTAL: u64 = 8 * 1024 * 1024;
/// A write that makes no progress for this long means the pipe is full.
const STALL: Duration = Duration::from_millis(500);

#[test]
fn client_that_never_reads_leaves_server_memory_bounded_and_gets_every_byte() -> TestResult {
    let (factory, events) = notify(|| Echo);
    let server = builder()
        .workers(1)
        .recv_buffer_size(SOCKET_BUFFER)
        .send_buffer_size(SOCKET_BUFFER)
        .write_buffer_limit(LIMIT)
        .write_timeout(None)
        .handler(factory)
        .spawn()?;
    let mut client = connect_with_buffers(server.local_addr(), SOCKET_BUFFER, SOCKET_BUFFER)?;
    let peer = events.expect_open()?;

    // Phase 1: write without reading until a write makes no progress for
    // STALL. Every buffer on the way is full then, so the server has stopped
    // reading.
    let mut writer = client.try_clone()?;
    writer.set_write_timeout(Some(STALL))?;
    let stalling = thread::spawn(move || -> io::Result<(u64, std::net::TcpStream)> {
        let mut chunk = vec![0u8; 16 * 1024];
        let mut written = 0u64;
        while written < TOTAL {
            let n = chunk.len().min((TOTAL - written) as usize);
            fill_pattern(written, &mut chunk[..n]);
            match writer.write(&chunk[..n]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(k) => written += k as u64,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    break;
                }
                Err(e) => return Err(e),
            }
        }
        Ok((written, writer))
    });
    let (written, mut writer) = join(stalling)??;
    assert!(
        written < TOTAL,
        "the server read all {TOTAL} bytes from a client that never reads"
    );
    let stats = server.stats();
    assert!(
        stats.buffered_bytes <= (LIMIT + 64 * 1024) as u64,
        "server holds {} bytes for one connection, limit {LIMIT} plus one read",
        stats.buffered_bytes
    );
    assert!(
        stats.buffered_bytes > 0,
        "the server stopped reading with nothing pending (written {written})"
    );
    assert!(stats.bytes_read < written, "{stats:?}, written {written}");

    // Phase 2: read back everything written so far, in order.
    read_pattern(&mut client, 0, written)?;

    // Phase 3: write the rest while reading concurrently, then half-close.
    writer.set_write_timeout(Some(TIMEOUT))?;
    let mut rng = fastrand::Rng::with_seed(seed());
    let finishing = thread::spawn(move || -> io::Result<()> {
        write_pattern(&mut writer, written, TOTAL, &mut rng)?;
        writer.shutdown(Shutdown::Write)
    });
    read_pattern(&mut client, written, TOTAL - written)?;
    expect_eof(&mut client)?;
    join(finishing)??;

    assert_eq!(events.expect_close()?, (peer, CloseReason::PeerClosed));
    let stats = server.stats();
    assert_eq!(stats.bytes_read, TOTAL);
    assert_eq!(stats.bytes_written, TOTAL);
    assert_eq!(stats.buffered_bytes, 0);
    assert_eq!(stats.write_timeouts, 0);
    Ok(())
}
