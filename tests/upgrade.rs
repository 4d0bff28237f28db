//! Upgrade in place, nothing lost: the `echo` example upgraded by SIGUSR2
//! several times in a row while a client connects, echoes and closes in a
//! tight loop (zero refused, reset or short connections), and while
//! long-lived connections are mid-transfer (they finish on the old process,
//! byte-exact, and the old process exits 0).
//!
//! Needs the example built with `--features systemd` (as `cargo test
//! --all-features` does); skips with a message otherwise.
#![cfg(unix)]

mod util;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use util::{TIMEOUT, TestResult, connect};

/// Upgrades in a row.
const UPGRADES: usize = 5;
/// Long-lived connections across the first upgrade.
const LONG: usize = 4;
/// Bytes each long-lived connection sends in each half.
const HALF: u64 = 1 << 20;
/// Bounds of the connect-echo-close loop.
const LOOP_MAX: u64 = 1_000_000;
const LOOP_TIME: Duration = Duration::from_secs(60);

fn lines<R: Read + Send + 'static>(from: R) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(from).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// The next line starting with `prefix`, within `TIMEOUT`; returns the rest.
fn expect(rx: &Receiver<String>, prefix: &str) -> Result<String, String> {
    let deadline = Instant::now() + TIMEOUT;
    let mut seen = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(line) => match line.strip_prefix(prefix) {
                Some(rest) => return Ok(rest.to_owned()),
                None => seen.push(line),
            },
            Err(_) => break,
        }
    }
    Err(format!("no line starting {prefix:?}; saw {seen:?}"))
}

fn kill(pid: u32, signal: &str) -> TestResult {
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()?;
    assert!(status.success(), "kill -{signal} {pid} failed");
    Ok(())
}

/// Kills the last successor (not our child) when the test ends, however.
struct Last(Option<u32>);

impl Drop for Last {
    fn drop(&mut self) {
        if let Some(pid) = self.0 {
            let _ = kill(pid, "TERM");
        }
    }
}

/// What the tight loop saw.
#[derive(Debug, Default)]
struct Tally {
    ok: AtomicU64,
    failed: AtomicU64,
    /// Connections completed while an upgrade was under way.
    during: AtomicU64,
}

/// Connects, echoes 32 bytes, half-closes, reads EOF; until `stop`.
fn churn(addr: SocketAddr, stop: &AtomicBool, upgrading: &AtomicBool, tally: &Tally) {
    let started = Instant::now();
    let msg = [0x5a_u8; 32];
    for i in 0..LOOP_MAX {
        if stop.load(Ordering::Acquire) || started.elapsed() > LOOP_TIME {
            break;
        }
        let was_upgrading = upgrading.load(Ordering::Acquire);
        let result = (|| -> std::io::Result<()> {
            let mut c = connect(addr)?;
            c.write_all(&msg)?;
            let mut back = [0u8; 32];
            c.read_exact(&mut back)?;
            util::check_same(&msg, &back)?;
            c.shutdown(Shutdown::Write)?;
            util::expect_eof(&mut c)
        })();
        match result {
            Ok(()) => {
                tally.ok.fetch_add(1, Ordering::AcqRel);
                if was_upgrading || upgrading.load(Ordering::Acquire) {
                    tally.during.fetch_add(1, Ordering::AcqRel);
                }
            }
            Err(e) => {
                tally.failed.fetch_add(1, Ordering::AcqRel);
                eprintln!("connection {i} failed: {e}");
            }
        }
    }
}

#[test]
fn upgrades_in_a_row_lose_no_connection() -> TestResult {
    let exe = util::example("echo")?;
    let mut first: Child = Command::new(exe)
        .args([
            "--bind",
            "127.0.0.1:0",
            "--workers",
            "2",
            "--drain-timeout",
            "30s",
        ])
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let out = lines(first.stdout.take().ok_or("no stdout")?);
    let err = lines(first.stderr.take().ok_or("no stderr")?);
    let addr: SocketAddr = expect(&out, "listening on ")?.parse()?;
    let mut last = Last(None);

    // Long-lived connections, first half sent and echoed before the upgrade.
    let mut long = Vec::new();
    for _ in 0..LONG {
        let mut c = connect(addr)?;
        transfer(&mut c, 0, HALF)?;
        long.push(c);
    }

    let stop = Arc::new(AtomicBool::new(false));
    let upgrading = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    let looping = {
        let (stop, upgrading, tally) = (stop.clone(), upgrading.clone(), tally.clone());
        std::thread::spawn(move || churn(addr, &stop, &upgrading, &tally))
    };

    let started = Instant::now();
    let mut pid = first.id();
    let mut first = Some(first);
    for round in 0..UPGRADES {
        upgrading.store(true, Ordering::Release);
        kill(pid, "USR2")?;
        let skip = "upgrading in place needs a build with `--features systemd`";
        // The successor says where it listens (the same socket), then
        // the old process says it serves.
        let successor = match expect(&out, "listening on ").and_then(|listening| {
            if listening == addr.to_string() {
                expect(&out, "successor pid ")
            } else {
                Err(format!("the successor listens on {listening}, not {addr}"))
            }
        }) {
            Ok(successor) => successor,
            Err(e) => {
                if err.try_iter().any(|l| l.contains(skip)) {
                    eprintln!("skipping: the echo example was built without `--features systemd`");
                    stop.store(true, Ordering::Release);
                    let _ = util::join(looping);
                    if let Some(mut first) = first.take() {
                        let _ = first.kill();
                        let _ = first.wait();
                    }
                    return Ok(());
                }
                return Err(e.into());
            }
        };
        pid = successor.parse()?;
        last.0 = Some(pid);
        upgrading.store(false, Ordering::Release);
        if round == 0 {
            // The second half, on the old process, now draining.
            for c in &mut long {
                if let Err(e) = transfer(c, HALF, 2 * HALF) {
                    err.try_iter().for_each(|l| eprintln!("server: {l}"));
                    stop.store(true, Ordering::Release);
                    return Err(e);
                }
                c.shutdown(Shutdown::Write)?;
                util::expect_eof(c)?;
            }
            // The old process drained them and exits 0.
            let mut old = first.take().ok_or("no first process")?;
            let (tx, rx) = mpsc::channel();
            std::thread::spawn(move || {
                let _ = tx.send(old.wait());
            });
            let status = rx.recv_timeout(TIMEOUT)??;
            assert!(status.success(), "the old process exited with {status}");
        }
    }
    let upgrades_took = started.elapsed();
    stop.store(true, Ordering::Release);
    util::join(looping)?;
    let (ok, failed, during) = (
        tally.ok.load(Ordering::Acquire),
        tally.failed.load(Ordering::Acquire),
        tally.during.load(Ordering::Acquire),
    );
    eprintln!(
        "{UPGRADES} upgrades in {upgrades_took:?}: {ok} connections echoed ({during} while an upgrade was under way), {failed} failed; {LONG} long-lived connections of {} MiB each finished on the old process",
        (2 * HALF) >> 20
    );
    assert_eq!(failed, 0, "connections failed across upgrades");
    assert!(during > 0, "no connection was made during an upgrade");
    // The last successor serves.
    util::assert_echo(&mut connect(addr)?, b"still here")?;
    Ok(())
}

/// Sends bytes `from..to` of the pattern (from another thread) and reads
/// them back, byte-exact.
fn transfer(c: &mut std::net::TcpStream, from: u64, to: u64) -> TestResult {
    let mut w = c.try_clone()?;
    let writer = std::thread::spawn(move || {
        let mut rng = fastrand::Rng::with_seed(util::seed());
        util::write_pattern(&mut w, from, to, &mut rng)
    });
    util::read_pattern(c, from, to - from)?;
    util::join(writer)??;
    Ok(())
}
