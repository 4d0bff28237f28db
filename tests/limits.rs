//! `max_connections`: at the limit, newcomers wait in the backlog and are
//! served once a connection closes.

mod util;

use std::io::Write;

use netecho::{CloseReason, Echo};
use util::{TestResult, assert_echo, builder, check_same, connect, notify};

#[test]
fn connection_over_the_limit_waits_until_one_closes() -> TestResult {
    let (factory, events) = notify(|| Echo);
    let server = builder()
        .workers(1)
        .max_connections(1)
        .handler(factory)
        .spawn()?;
    let addr = server.local_addr();
    let mut first = connect(addr)?;
    let first_peer = events.expect_open()?;
    assert_echo(&mut first, b"first")?;

    // The kernel completes the handshake; the server must not take it yet.
    let mut second = connect(addr)?;
    second.write_all(b"queued")?;
    assert_echo(&mut first, b"first, still alone")?;

    drop(first);
    let mut back = [0u8; 6];
    std::io::Read::read_exact(&mut second, &mut back)?;
    check_same(b"queued", &back)?;

    // One worker: its events come in order. The second opened only after the
    // first closed.
    assert_eq!(
        events.expect_close()?,
        (first_peer, CloseReason::PeerClosed)
    );
    assert_eq!(events.expect_open()?, second.local_addr()?);
    let stats = server.stats();
    assert!(stats.deferred_at_limit >= 1, "{stats:?}");
    assert_eq!(stats.accepted, 2);
    assert_eq!(stats.active, 1);
    Ok(())
}
