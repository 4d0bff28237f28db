//! A panicking handler costs its own connection, nothing more.

mod util;

use std::io::Write;

use netecho::{CloseReason, Conn, Handler};
use util::{
    EXPECTED_PANIC, TestResult, assert_echo, builder, capture_warnings, connect, expect_closed,
    notify, quiet_expected_panics,
};

/// Echoes, but panics when told to.
struct PanicOn;

impl Handler for PanicOn {
    fn on_data(&mut self, conn: &mut Conn, data: &[u8]) {
        if data.windows(5).any(|w| w == b"panic") {
            // The message goes to the captured output of this test.
            panic!("test handler told to panic");
        }
        conn.write(data);
    }
}

#[test]
fn handler_panic_closes_only_its_connection() -> TestResult {
    // One worker: the victim and the bystanders share its event loop.
    let (factory, events) = notify(|| PanicOn);
    let server = builder().workers(1).handler(factory).spawn()?;
    let addr = server.local_addr();
    let mut victim = connect(addr)?;
    let victim_peer = events.expect_open()?;
    let mut other = connect(addr)?;
    let other_peer = events.expect_open()?;
    assert_echo(&mut victim, b"hello")?;
    assert_echo(&mut other, b"before")?;

    victim.write_all(b"panic")?;
    expect_closed(&mut victim)?;

    // The worker carries on: the other client and a new one are served.
    assert_echo(&mut other, b"after the victim closed")?;
    let mut late = connect(addr)?;
    let late_peer = events.expect_open()?;
    assert_echo(&mut late, b"late")?;
    let stats = server.stats();
    assert_eq!(stats.handler_panics, 1);
    assert_eq!(stats.active, 2);
    assert_eq!(stats.closed, 1);

    // No on_close for the panicked handler: the worker handled its panic
    // before these closes, so its event would come first.
    drop(other);
    assert_eq!(
        events.expect_close()?,
        (other_peer.clone(), CloseReason::PeerClosed)
    );
    drop(late);
    assert_eq!(events.expect_close()?, (late_peer, CloseReason::PeerClosed));
    assert_ne!(victim_peer, other_peer);

    server.shutdown();
    server.join()?;
    let stats = server.stats();
    assert_eq!(stats.accepted, 3);
    assert_eq!(stats.closed, 3);
    assert_eq!(stats.active, 0);
    assert_eq!(stats.handler_panics, 1);
    Ok(())
}

/// Panics with a message naming what it was given, in `on_data` or in
/// `on_close`.
struct PanicsWith(&'static str);

impl Handler for PanicsWith {
    fn on_data(&mut self, conn: &mut Conn, data: &[u8]) {
        if self.0 == "on_data" {
            panic!("{EXPECTED_PANIC}: on_data {}", data.len());
        }
        conn.close();
    }
    fn on_close(&mut self, _: CloseReason) {
        if self.0 == "on_close" {
            panic!("{EXPECTED_PANIC}: on_close");
        }
    }
}

/// A handler panic is logged at warn with the peer's address and the panic
/// message, in a callback and in `on_close` alike.
#[test]
fn handler_panic_is_logged_at_warn_with_peer_and_message() -> TestResult {
    let log = capture_warnings().ok_or("another logger is installed")?;
    quiet_expected_panics();
    for callback in ["on_data", "on_close"] {
        let server = builder().handler(move || PanicsWith(callback)).spawn()?;
        let mut client = connect(server.local_addr())?;
        client.write_all(b"12345")?;
        if callback == "on_close" {
            client.shutdown(std::net::Shutdown::Write)?;
        }
        expect_closed(&mut client)?;
        let peer = client.local_addr()?;
        server.shutdown();
        server.join()?;
        let message = format!("{EXPECTED_PANIC}: {callback}");
        let lines = log.matching(&message);
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("WARN") && l.contains(&peer.to_string())),
            "no warning naming {peer} and {message:?}: {:?}",
            log.lines()
        );
    }
    Ok(())
}
