//! Shutting a server down: explicitly, by dropping its last handle, after a
//! shutdown timeout, and with `run` on the caller's thread.

mod util;

use std::io::{self, Write};
use std::net::Shutdown;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use netecho::{CloseReason, Echo};
use util::{
    TIMEOUT, TestResult, assert_echo, builder, connect, connect_with_buffers, expect_eof,
    fill_pattern, notify, read_pattern, stats_until,
};

fn assert_refused(addr: std::net::SocketAddr) -> TestResult {
    match connect(addr) {
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => Ok(()),
        Err(e) => Err(format!("connect to {addr}: expected ConnectionRefused, got {e}").into()),
        Ok(_) => Err(format!("connect to {addr} succeeded after shutdown").into()),
    }
}

#[test]
fn shutdown_closes_connections_and_join_returns() -> TestResult {
    const CLIENTS: usize = 5;
    let (factory, events) = notify(|| Echo);
    let server = builder().workers(2).handler(factory).spawn()?;
    let addr = server.local_addr();
    let mut clients = (0..CLIENTS)
        .map(|_| connect(addr))
        .collect::<io::Result<Vec<_>>>()?;
    // Served, then idle.
    for client in &mut clients {
        assert_echo(client, b"ready")?;
    }
    assert!(!server.is_finished());

    server.shutdown();
    for client in &mut clients {
        expect_eof(client)?;
    }
    drop(clients);
    server.join()?;
    assert!(server.is_finished());

    let closes = events.closes(CLIENTS)?;
    assert!(
        closes.iter().all(|(_, r)| *r == CloseReason::Shutdown),
        "{closes:?}"
    );
    assert_refused(addr)?;

    // Harmless a second time, and join again returns at once.
    server.shutdown();
    server.join()?;
    let stats = server.stats();
    assert_eq!(stats.accepted, CLIENTS as u64);
    assert_eq!(stats.closed, CLIENTS as u64);
    assert_eq!(stats.active, 0);
    Ok(())
}

#[test]
fn shutdown_of_an_idle_server_returns() -> TestResult {
    let server = builder().spawn()?;
    let addr = server.local_addr();
    server.shutdown();
    server.shutdown();
    server.join()?;
    assert!(server.is_finished());
    assert_refused(addr)?;
    assert_eq!(server.stats().accepted, 0);
    Ok(())
}

/// A shutdown while the server holds output the client has not read yet
/// (small socket buffers, a client that reads only after the shutdown): the
/// server writes all of it before its FIN.
#[test]
fn shutdown_writes_pending_output_before_closing() -> TestResult {
    const TOTAL: u64 = 512 * 1024;
    let (factory, events) = notify(|| Echo);
    let server = builder()
        .workers(1)
        .send_buffer_size(16 * 1024)
        .write_buffer_limit(2 * TOTAL as usize)
        .handler(factory)
        .spawn()?;
    let mut client = connect_with_buffers(server.local_addr(), 16 * 1024, 16 * 1024)?;
    let peer = events.expect_open()?;
    let mut msg = vec![0u8; TOTAL as usize];
    fill_pattern(0, &mut msg);
    client.write_all(&msg)?;
    // The precondition: all read, most of the echo still pending.
    stats_until(&server, "everything read, echo pending", |s| {
        s.bytes_read == TOTAL && s.buffered_bytes > 0
    })?;

    server.shutdown();
    read_pattern(&mut client, 0, TOTAL)?;
    expect_eof(&mut client)?;
    client.shutdown(Shutdown::Write)?;
    server.join()?;
    assert_eq!(events.expect_close()?, (peer, CloseReason::Shutdown));
    let stats = server.stats();
    assert_eq!((stats.bytes_written, stats.buffered_bytes), (TOTAL, 0));
    Ok(())
}

/// A client that ignores the server's EOF and keeps its side open is closed
/// by force once the shutdown timeout has passed.
#[test]
fn shutdown_timeout_closes_connections_that_do_not_finish() -> TestResult {
    let (factory, events) = notify(|| Echo);
    let server = builder()
        .workers(1)
        .shutdown_timeout(Duration::from_millis(200))
        .handler(factory)
        .spawn()?;
    let mut client = connect(server.local_addr())?;
    assert_echo(&mut client, b"ready")?;

    server.shutdown();
    expect_eof(&mut client)?;
    // The client keeps its write side open: the server cannot finish.
    server.join()?;
    let (_, reason) = events.closes(1)?[0];
    assert_eq!(reason, CloseReason::ShutdownTimeout);
    assert_eq!(server.stats().active, 0);
    drop(client);
    Ok(())
}

/// A zero shutdown timeout is no grace at all: a connection that cannot
/// finish at once is closed by force at once, its peer reset rather than
/// sent a FIN, and `join` does not wait for the peer.
#[test]
fn zero_shutdown_timeout_closes_at_once() -> TestResult {
    let (factory, events) = notify(|| Echo);
    let server = builder()
        .workers(1)
        .shutdown_timeout(Duration::ZERO)
        .handler(factory)
        .spawn()?;
    let mut client = connect(server.local_addr())?;
    assert_echo(&mut client, b"ready")?;
    let asked = std::time::Instant::now();
    server.shutdown();
    server.join()?;
    // The lingering close would have waited up to 2 s for this client.
    assert!(
        asked.elapsed() < Duration::from_secs(1),
        "join took {:?}",
        asked.elapsed()
    );
    let (_, reason) = events.closes(1)?[0];
    assert_eq!(reason, CloseReason::ShutdownTimeout);
    drop(client);
    Ok(())
}

/// Sends a message when dropped: put in the handler factory, it tells that
/// the server released everything it held.
struct DropSignal(mpsc::Sender<()>);

impl Drop for DropSignal {
    fn drop(&mut self) {
        let _ = self.0.send(());
    }
}

#[test]
fn dropping_the_last_handle_stops_the_server() -> TestResult {
    let (dropped_tx, dropped) = mpsc::channel();
    let signal = DropSignal(dropped_tx);
    let server = builder()
        .workers(2)
        .handler(move || {
            let _keep = &signal;
            Echo
        })
        .spawn()?;
    let addr = server.local_addr();
    let mut client = connect(addr)?;
    assert_echo(&mut client, b"served")?;

    // A clone keeps it running.
    let clone = server.clone();
    drop(server);
    assert_echo(&mut client, b"still served")?;
    let mut second = connect(addr)?;
    assert_echo(&mut second, b"still accepting")?;
    drop(second);

    // The last handle gone, the server shuts down: the client reads EOF...
    drop(clone);
    expect_eof(&mut client)?;
    drop(client);
    // ...every worker exits and the server drops its handler factory...
    dropped.recv_timeout(TIMEOUT)?;
    // ...and the port is closed.
    assert_refused(addr)?;
    Ok(())
}

#[test]
fn run_serves_on_the_calling_thread_until_shutdown() -> TestResult {
    let server = builder().workers(2).bind()?;
    let addr = server.local_addr();
    let handle = server.handle();
    let serving = thread::spawn(move || server.run());

    let mut client = connect(addr)?;
    assert_echo(&mut client, b"ping")?;
    handle.shutdown();
    expect_eof(&mut client)?;
    drop(client);
    util::join(serving)??;
    assert!(handle.is_finished());
    handle.join()?;
    assert_refused(addr)?;
    Ok(())
}
