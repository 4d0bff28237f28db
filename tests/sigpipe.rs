//! SIGPIPE at its default disposition (as a C host might leave it) does not
//! kill the process when peers vanish while the server writes to them.

mod child;
mod util;

use std::io::{Read, Write};
use std::time::Duration;

use child::ChildServer;
use util::{TestResult, connect};

#[test]
#[ignore = "entry point of the child server process; run by the tests in this file"]
fn child_server() -> TestResult {
    child::serve()
}

#[test]
fn peers_vanishing_mid_write_do_not_kill_a_process_with_default_sigpipe() -> TestResult {
    let mut server = ChildServer::start("sigpipe=default,workers=2")?;
    let addr = server.addr;
    assert_eq!(
        server.stats()?["sigpipe_ignored"],
        0,
        "the child must leave SIGPIPE at its default for this test to mean anything"
    );
    let big = vec![b'x'; 512 * 1024];
    for round in 0..100 {
        let mut client = connect(addr)?;
        // Make sure the server is echoing, then send a lot and vanish
        // without reading: the server's writes meet a closed socket.
        client.write_all(b"ping")?;
        let mut back = [0; 4];
        client.read_exact(&mut back)?;
        let _ = client.write_all(&big[..(round % 8 + 1) * 64 * 1024]);
        if round % 2 == 0 {
            socket2::SockRef::from(&client).set_linger(Some(Duration::ZERO))?;
        }
        drop(client);
    }
    let stats = server.stats_until(10_000, |s| s["closed"] >= 100)?;
    assert_eq!(stats["accepted"], 100);
    // Still alive and serving.
    let mut client = connect(addr)?;
    client.write_all(b"alive?")?;
    let mut back = [0; 6];
    client.read_exact(&mut back)?;
    assert_eq!(&back, b"alive?");
    drop(client);
    server.stop()
}
