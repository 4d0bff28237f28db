//! Out of file descriptors: the server backs off instead of spinning, logs
//! about once a second, keeps serving what it holds and recovers when
//! descriptors free up. The server runs in a child process with
//! `RLIMIT_NOFILE` at 64, so the limit is real and the test's own sockets
//! are not counted against it.

mod child;
mod util;

use std::error::Error;
use std::io::{BufRead, BufReader};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use child::{ChildServer, cpu_ticks};
use util::{TIMEOUT, TestResult, assert_echo, connect};

#[test]
#[ignore = "entry point of the child server process; run by the tests in this file"]
fn child_server() -> TestResult {
    child::serve()
}

#[test]
fn out_of_descriptors_backs_off_logs_rarely_and_recovers() -> TestResult {
    let mut server = ChildServer::start("nofile=64,workers=1,log=1")?;
    let addr = server.addr;
    let stderr = server.take_stderr().ok_or("no stderr")?;
    let (log_tx, log_rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if log_tx.send((Instant::now(), line)).is_err() {
                break;
            }
        }
    });

    // The descriptors the child has left (its stats command opens one more
    // to count them, hence the +1).
    let room = 64u64.saturating_sub(server.stats()?["fds"] - 1);
    let mut held = Vec::new();
    for _ in 0..room + 20 {
        held.push(connect(addr)?);
    }
    let stats = server.stats_until(10_000, |s| s["accept_errors"] >= 1)?;
    let accepted = stats["accepted"] as usize;
    assert!(accepted > 10 && accepted < held.len(), "{stats:?}");

    // What it holds keeps echoing.
    for stream in held.iter_mut().take(accepted.min(5)) {
        assert_echo(stream, b"still here")?;
    }

    // No spin, few logs: measure over the next three accept-failure warnings.
    // Every line the child logs (at warn and above) is that warning, naming
    // its cause; nothing else is logged, at warn or error.
    let warning = |rx: &mpsc::Receiver<(Instant, String)>| -> Result<Instant, Box<dyn Error>> {
        let (at, line) = rx.recv_timeout(TIMEOUT)?;
        let expected = line.contains(" WARN ")
            && line.contains("accept failed")
            && line.contains(&format!("os error {}", libc::EMFILE));
        if !expected {
            return Err(format!("unexpected log line: {line}").into());
        }
        Ok(at)
    };
    let first = warning(&log_rx)?;
    let ticks_before = cpu_ticks(server.pid())?;
    let mut last = first;
    for _ in 0..3 {
        last = warning(&log_rx)?;
    }
    let ticks = cpu_ticks(server.pid())? - ticks_before;
    let window = last - first;
    // Three warnings at most one a second: at least ~3 s apart.
    assert!(
        window >= Duration::from_millis(2_700),
        "4 warnings in {window:?}: not rate-limited"
    );
    // Clock ticks are 1/100 s: under 5% CPU means under 5 ticks a second.
    let cpu = ticks as f64 / 100.0 / window.as_secs_f64();
    assert!(
        cpu < 0.05,
        "server used {:.1}% CPU while out of descriptors",
        cpu * 100.0
    );

    // Free ten descriptors: a waiting client is served within about a second.
    let freed = Instant::now();
    held.drain(..10);
    // The backlog is first in, first out: the first client not accepted.
    let mut waiting = held.remove(accepted - 10);
    assert_echo(&mut waiting, b"served at last")?;
    let waited = freed.elapsed();
    assert!(
        waited < Duration::from_millis(1_500),
        "waiting client served {waited:?} after descriptors were freed"
    );

    drop(held);
    drop(waiting);
    server.stop()
}
