//! A client that shuts down its write side still gets every byte back, then
//! a clean EOF (`Ok(0)`), never a reset.

mod util;

use std::io::{Read, Write};
use std::net::Shutdown;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;

use netecho::{CloseReason, Conn, Echo, Handler};
use util::{
    TIMEOUT, TestResult, builder, check_same, connect, connect_with_buffers, expect_eof,
    fill_pattern, join, notify, read_pattern, seed, stats_until, write_pattern,
};

/// Reads to EOF, failing on any error: a reset is not an EOF.
fn read_to_eof(stream: &mut std::net::TcpStream) -> std::io::Result<Vec<u8>> {
    let mut all = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match stream.read(&mut buf)? {
            0 => return Ok(all),
            n => all.extend_from_slice(&buf[..n]),
        }
    }
}

#[test]
fn half_close_gets_every_byte_then_eof() -> TestResult {
    let (factory, events) = notify(|| Echo);
    let server = builder().handler(factory).spawn()?;
    let mut client = connect(server.local_addr())?;
    let msg = b"every byte, then EOF, not a reset";
    client.write_all(msg)?;
    client.shutdown(Shutdown::Write)?;
    let back = read_to_eof(&mut client)?;
    check_same(msg, &back)?;

    let peer = events.expect_open()?;
    assert_eq!(peer, client.local_addr()?);
    assert_eq!(events.expect_close()?, (peer, CloseReason::PeerClosed));
    Ok(())
}

/// 1 MiB in random chunks, read concurrently, then FIN: every byte, then EOF.
#[test]
fn half_close_after_1_mib_gets_every_byte_then_eof() -> TestResult {
    const TOTAL: u64 = 1024 * 1024;
    let (factory, events) = notify(|| Echo);
    let server = builder().handler(factory).spawn()?;
    let mut reader = connect(server.local_addr())?;
    let mut writer = reader.try_clone()?;
    let mut rng = fastrand::Rng::with_seed(seed());
    let writing = thread::spawn(move || -> std::io::Result<()> {
        write_pattern(&mut writer, 0, TOTAL, &mut rng)?;
        writer.shutdown(Shutdown::Write)
    });
    read_pattern(&mut reader, 0, TOTAL)?;
    let rest = read_to_eof(&mut reader)?;
    assert!(rest.is_empty(), "{} bytes past the end", rest.len());
    join(writing)??;

    let peer = events.expect_open()?;
    assert_eq!(events.expect_close()?, (peer, CloseReason::PeerClosed));
    Ok(())
}

/// Echo that reports how much output was pending when the peer's FIN came.
struct ReportsPendingAtFin(mpsc::Sender<usize>);

impl Handler for ReportsPendingAtFin {
    fn on_data(&mut self, conn: &mut Conn, data: &[u8]) {
        conn.write(data);
    }
    fn on_read_closed(&mut self, conn: &mut Conn) {
        let _ = self.0.send(conn.pending_write());
        conn.close();
    }
}

/// The FIN arrives while the server still holds output the client has not
/// read (small socket buffers, a client that reads only after its FIN): the
/// server keeps that output, writes all of it, and only then closes.
#[test]
fn fin_with_output_pending_still_gets_every_byte_then_eof() -> TestResult {
    const TOTAL: u64 = 1024 * 1024;
    let (pending_tx, pending_rx) = mpsc::channel();
    let pending_tx = Mutex::new(pending_tx);
    let (factory, events) = notify(move || {
        let tx = pending_tx.lock().unwrap_or_else(|e| e.into_inner()).clone();
        ReportsPendingAtFin(tx)
    });
    let server = builder()
        .workers(1)
        .send_buffer_size(16 * 1024)
        // Room for the whole echo: the server reads everything, FIN included,
        // without pausing.
        .write_buffer_limit(2 * TOTAL as usize)
        .handler(factory)
        .spawn()?;
    let mut client = connect_with_buffers(server.local_addr(), 16 * 1024, 16 * 1024)?;
    let peer = events.expect_open()?;
    let mut msg = vec![0u8; TOTAL as usize];
    fill_pattern(0, &mut msg);
    client.write_all(&msg)?;
    client.shutdown(Shutdown::Write)?;

    // The precondition, seen by the handler and by the counters.
    let pending_at_fin = pending_rx.recv_timeout(TIMEOUT)?;
    assert!(pending_at_fin > 0, "nothing was pending when the FIN came");
    let stats = stats_until(&server, "everything read", |s| s.bytes_read == TOTAL)?;
    assert!(stats.buffered_bytes > 0, "{stats:?}");

    read_pattern(&mut client, 0, TOTAL)?;
    expect_eof(&mut client)?;
    assert_eq!(events.expect_close()?, (peer, CloseReason::PeerClosed));
    assert_eq!(server.stats().bytes_written, TOTAL);
    Ok(())
}

/// Holds `on_open` until the test says go, so that bytes and FIN are both
/// queued on the server's socket before its first read. Blocking a worker is
/// against the handler rules; here it only sets up the race on purpose.
struct Gate {
    go: Arc<Mutex<mpsc::Receiver<()>>>,
}

impl Handler for Gate {
    fn on_open(&mut self, _conn: &mut Conn) {
        let go = self.go.lock().unwrap_or_else(|e| e.into_inner());
        let _ = go.recv_timeout(TIMEOUT);
    }
}

/// Regression: data and FIN arriving together raise one readiness event. A
/// server that stops reading at a short read (it emptied the queue of bytes)
/// never reads the EOF behind them, and the client waits forever.
#[test]
fn half_close_seen_when_data_and_fin_arrive_together() -> TestResult {
    let (go_tx, go_rx) = mpsc::channel();
    let go = Arc::new(Mutex::new(go_rx));
    let (factory, events) = notify(move || Gate {
        go: Arc::clone(&go),
    });
    let server = builder().workers(1).handler(factory).spawn()?;
    let mut client = connect(server.local_addr())?;
    // The server is inside on_open, registered, not reading yet.
    events.expect_open()?;
    client.write_all(b"together")?;
    client.shutdown(Shutdown::Write)?;
    go_tx.send(())?;

    let back = read_to_eof(&mut client)?;
    check_same(b"together", &back)?;
    let (_, reason) = events.expect_close()?;
    assert_eq!(reason, CloseReason::PeerClosed);
    Ok(())
}
