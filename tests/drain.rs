//! Pause, resume and drain: the port stays bound while paused, the backlog
//! is served on resume, drain waits for open connections (a long transfer
//! finishes byte-exact) or its deadline, and the live count per listener.

mod util;

use std::io::{Read, Write};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use netecho::{Drained, Listener, TcpServer};
use util::{TIMEOUT, TestResult, assert_echo, connect};

#[test]
fn paused_server_keeps_its_port_and_serves_the_backlog_on_resume() -> TestResult {
    let server = util::builder().workers(1).spawn()?;
    let mut before = connect(server.local_addr())?;
    assert_echo(&mut before, b"a")?;
    server.pause();
    assert!(server.is_paused());
    // The kernel completes the handshake: the port is still bound.
    let mut waiting = connect(server.local_addr())?;
    waiting.write_all(b"queued")?;
    // A round trip on the one worker, after the newcomer's listener event.
    assert_echo(&mut before, b"b")?;
    assert_eq!(server.stats().accepted, 1, "accepted while paused");
    assert_eq!(server.listener_connections(), vec![1]);
    server.resume();
    let mut back = [0u8; 6];
    waiting.read_exact(&mut back)?;
    assert_eq!(&back, b"queued");
    assert_eq!(server.stats().accepted, 2);
    Ok(())
}

#[test]
fn drain_waits_for_a_long_transfer_to_finish() -> TestResult {
    let server = util::builder().workers(2).spawn()?;
    let mut client = connect(server.local_addr())?;
    assert_echo(&mut client, b"x")?;
    let (tx, rx) = mpsc::channel();
    let drainer = {
        let server = server.clone();
        std::thread::spawn(move || {
            let drained = server.drain(Instant::now() + TIMEOUT);
            let _ = tx.send(drained);
        })
    };
    // 4 MiB through the draining server, byte-exact.
    const LEN: u64 = 4 << 20;
    let writer = {
        let mut w = client.try_clone()?;
        std::thread::spawn(move || {
            let mut rng = fastrand::Rng::with_seed(util::seed());
            util::write_pattern(&mut w, 0, LEN, &mut rng)
        })
    };
    util::read_pattern(&mut client, 0, LEN)?;
    util::join(writer)??;
    assert!(
        rx.try_recv().is_err(),
        "drain returned with a connection open"
    );
    drop(client);
    assert_eq!(rx.recv_timeout(TIMEOUT)?, Drained::AllClosed);
    util::join(drainer)?;
    assert!(server.is_paused());
    assert_eq!(server.stats().active, 0);
    Ok(())
}

#[test]
fn drain_deadline_passes_with_connections_open() -> TestResult {
    let server = util::start()?;
    let mut client = connect(server.local_addr())?;
    assert_echo(&mut client, b"x")?;
    let drained = server.drain(Instant::now() + Duration::from_millis(20));
    assert_eq!(drained, Drained::DeadlinePassed { open: 1 });
    // Still served: drain only stopped accepting.
    assert_echo(&mut client, b"still here")?;
    Ok(())
}

#[test]
fn live_count_per_listener() -> TestResult {
    let server = TcpServer::builder()
        .listener(Listener::tcp(([127, 0, 0, 1], 0)))
        .listener(Listener::tcp(([127, 0, 0, 1], 0)))
        .workers(2)
        .spawn()?;
    let addrs: Vec<_> = server
        .local_addrs()
        .iter()
        .filter_map(|a| a.as_tcp())
        .collect();
    let mut clients = Vec::new();
    for addr in [addrs[0], addrs[0], addrs[1]] {
        let mut c = connect(addr)?;
        assert_echo(&mut c, b"hi")?;
        clients.push(c);
    }
    assert_eq!(server.listener_connections(), vec![2, 1]);
    for mut c in clients {
        c.shutdown(std::net::Shutdown::Write)?;
        util::expect_eof(&mut c)?;
    }
    assert_eq!(server.drain(Instant::now() + TIMEOUT), Drained::AllClosed);
    assert_eq!(server.listener_connections(), vec![0, 0]);
    Ok(())
}

#[test]
fn shutdown_after_pause_stops() -> TestResult {
    let server = util::start()?;
    server.pause();
    server.shutdown();
    server.join()?;
    assert!(server.is_finished());
    Ok(())
}
