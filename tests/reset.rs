//! Clients that reset their connection (SO_LINGER 0) in the middle of an echo
//! cost only their own connection.

mod util;

use std::collections::HashSet;
use std::io::{Read, Write};
use std::sync::{Mutex, mpsc};
use std::time::{Duration, Instant};

use netecho::{CloseReason, Conn, ConnHandle, Echo, Handler, PushError};
use socket2::SockRef;
use util::{
    TIMEOUT, TestResult, assert_echo, builder, connect, fill_pattern, notify, stats_until,
    verify_pattern,
};

const RESETS: usize = 100;
const MESSAGE: usize = 32 * 1024;

#[test]
fn client_resets_mid_echo_do_not_disturb_another_client() -> TestResult {
    // One worker: the resets and the steady client share one event loop, and
    // the worker's events arrive on the channel in the order it handled them.
    let (factory, events) = notify(|| Echo);
    let server = builder().workers(1).handler(factory).spawn()?;
    let addr = server.local_addr();
    let mut steady = connect(addr)?;
    assert_eq!(events.expect_open()?, steady.local_addr()?);
    assert_echo(&mut steady, b"before the resets")?;

    let mut msg = vec![0u8; MESSAGE];
    let mut reset_peers = HashSet::new();
    for i in 0..RESETS {
        let mut client = connect(addr)?;
        reset_peers.insert(netecho::Addr::from(client.local_addr()?));
        let offset = (i * MESSAGE) as u64;
        fill_pattern(offset, &mut msg);
        client.write_all(&msg)?;
        // Read part of the echo (so the server surely took the connection and
        // is still echoing the rest), then reset: the rest is in flight.
        let mut head = vec![0u8; 1 + (i * 331) % (MESSAGE / 2)];
        client.read_exact(&mut head)?;
        verify_pattern(offset, &head)?;
        SockRef::from(&client).set_linger(Some(Duration::ZERO))?;
        drop(client);

        assert_echo(&mut steady, format!("steady after reset {i}").as_bytes())?;
    }

    // The server saw every reset as one: each connection closed exactly once,
    // as a reset.
    let closes = events.closes(RESETS)?;
    let mut closed_peers = HashSet::new();
    for (peer, reason) in &closes {
        assert_eq!(*reason, CloseReason::Reset, "close of {peer}");
        assert!(closed_peers.insert(peer.clone()), "{peer} closed twice");
    }
    assert_eq!(closed_peers, reset_peers);

    // One more round trip on the same worker: it finished closing them all.
    assert_echo(&mut steady, b"after the resets")?;
    let stats = server.stats();
    assert_eq!(stats.accepted, RESETS as u64 + 1);
    assert_eq!(stats.closed, RESETS as u64);
    assert_eq!(stats.active, 1);
    assert_eq!(stats.handler_panics, 0);
    assert_eq!(stats.buffered_bytes, 0);
    assert!(events.try_next().is_none(), "unexpected event");
    Ok(())
}

/// A reset while the server holds output for the client (it never reads):
/// the server drops that output, the gauge goes back to zero, and the other
/// client on the same worker carries on.
#[test]
fn reset_with_output_pending_frees_it() -> TestResult {
    const SENT: usize = 256 * 1024;
    let (factory, events) = notify(|| Echo);
    let server = builder()
        .workers(1)
        .send_buffer_size(16 * 1024)
        // Room for the whole echo: the server reads all of it and holds
        // what the small socket buffers refuse.
        .write_buffer_limit(2 * SENT)
        .handler(factory)
        .spawn()?;
    let addr = server.local_addr();
    let mut steady = connect(addr)?;
    events.expect_open()?;

    let mut client = util::connect_with_buffers(addr, 16 * 1024, 16 * 1024)?;
    let peer = events.expect_open()?;
    // 256 KiB without reading: more than both socket buffers hold.
    let mut msg = vec![0u8; SENT];
    fill_pattern(0, &mut msg);
    client.write_all(&msg)?;
    // The precondition: the server read it all and holds part of the echo.
    let before = stats_until(&server, "the whole message read, echo pending", |s| {
        s.bytes_read == SENT as u64 && s.buffered_bytes > 0
    })?;
    SockRef::from(&client).set_linger(Some(Duration::ZERO))?;
    drop(client);
    assert_eq!(events.expect_close()?, (peer, CloseReason::Reset));

    assert_echo(&mut steady, b"unaffected")?;
    let stats = server.stats();
    assert_eq!(stats.active, 1);
    assert_eq!(
        stats.buffered_bytes, 0,
        "held {} before",
        before.buffered_bytes
    );
    Ok(())
}

/// Hands out its connection's handle and never reads.
struct PausedWithHandle(mpsc::Sender<ConnHandle>);

impl Handler for PausedWithHandle {
    fn on_open(&mut self, conn: &mut Conn) {
        conn.pause_reading();
        let _ = self.0.send(conn.handle());
    }
}

/// A write to a peer that has reset fails, and closes the connection as a
/// reset, when no read saw the reset first (the handler paused reading).
#[test]
fn write_to_a_peer_that_reset_closes_as_a_reset() -> TestResult {
    let (handle_tx, handles) = mpsc::channel();
    let handle_tx = Mutex::new(handle_tx);
    let (factory, events) = notify(move || {
        PausedWithHandle(handle_tx.lock().unwrap_or_else(|e| e.into_inner()).clone())
    });
    let server = builder().workers(1).handler(factory).spawn()?;
    let client = connect(server.local_addr())?;
    let peer = events.expect_open()?;
    let handle = handles.recv_timeout(TIMEOUT)?;
    SockRef::from(&client).set_linger(Some(Duration::ZERO))?;
    drop(client);

    // Each write reaches the socket; the first after the reset arrived fails.
    // Bounded in count and time; not a synchronisation.
    let deadline = Instant::now() + TIMEOUT;
    let mut writes = 0;
    while !handle.is_closed() {
        assert!(
            writes < 100_000 && Instant::now() < deadline,
            "still open after {writes} writes to a reset peer"
        );
        match handle.write(b"x") {
            Ok(()) | Err(PushError::Full) => writes += 1,
            Err(PushError::Closed) => break,
            Err(e) => return Err(e.into()),
        }
        std::thread::yield_now();
    }
    assert_eq!(events.expect_close()?, (peer, CloseReason::Reset));
    assert_eq!(server.stats().active, 0);
    Ok(())
}
