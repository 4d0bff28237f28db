//! 10,000 idle connections: all held, all still echo, and each costs the
//! server well under 1 KiB of user memory. The server runs in a child process
//! so that its resident memory is its own and the two sides' 20,000 sockets
//! are split between two descriptor limits.

mod child;
mod util;

use std::io::{Read, Write};

use child::ChildServer;
use util::{TestResult, connect};

const CONNECTIONS: u64 = 10_000;

#[test]
#[ignore = "entry point of the child server process; run by the tests in this file"]
fn child_server() -> TestResult {
    child::serve()
}

#[test]
fn ten_thousand_idle_connections_cost_under_1_kib_each_and_all_echo() -> TestResult {
    // This process holds the clients' sockets: raise its soft descriptor
    // limit as far as the hard limit allows.
    let (_, hard) = rlimit::Resource::NOFILE.get()?;
    rlimit::Resource::NOFILE.set(hard, hard)?;
    let (soft, _) = rlimit::Resource::NOFILE.get()?;
    if soft < CONNECTIONS + 200 {
        return util::skip(&format!(
            "the descriptor limit {soft} (hard {hard}) is too low for {CONNECTIONS} connections"
        ));
    }
    let mut server = ChildServer::start(&format!("nofile={hard},workers=2"))?;
    let addr = server.addr;

    // Warm up: one connection through every worker, so buffers that exist
    // once per worker are not counted per connection.
    for _ in 0..4 {
        let mut c = connect(addr)?;
        c.write_all(b"w")?;
        c.read_exact(&mut [0; 1])?;
    }
    server.stats_until(10_000, |s| s["active"] == 0)?;
    let before = server.stats()?["rss_kib"];

    let mut clients = Vec::with_capacity(CONNECTIONS as usize);
    for _ in 0..CONNECTIONS {
        let mut c = connect(addr)?;
        // One byte each way: the server has accepted it and run its handler.
        c.write_all(b"i")?;
        c.read_exact(&mut [0; 1])?;
        clients.push(c);
    }
    let stats = server.stats()?;
    assert_eq!(stats["active"], CONNECTIONS);
    let after = stats["rss_kib"];
    let per_conn = (after.saturating_sub(before)) as f64 * 1024.0 / CONNECTIONS as f64;
    eprintln!("RSS {before} KiB -> {after} KiB: {per_conn:.0} bytes per idle connection");
    assert!(per_conn < 1024.0, "{per_conn:.0} bytes per idle connection");

    // All of them still echo.
    for (i, c) in clients.iter_mut().enumerate() {
        let msg = (i as u32).to_le_bytes();
        c.write_all(&msg)?;
        let mut back = [0; 4];
        c.read_exact(&mut back)?;
        assert_eq!(back, msg);
    }
    drop(clients);
    server.stats_until(100_000, |s| s["active"] == 0)?;
    server.stop()
}
