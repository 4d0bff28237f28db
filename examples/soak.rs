//! Soak test: mixed clients against the echo server for a bounded time,
//! reporting the server's RSS, descriptor count and errors at start and end.
//!
//! ```sh
//! cargo run --release --example soak -- --duration 5m --clients 16
//! ```
//!
//! The server runs in a child process (this binary with `--serve`), so its
//! memory and descriptors are its own. Clients mix: ping-pong of random
//! sizes, send-then-half-close, resets mid-echo (SO_LINGER 0) and idle
//! connects. Every echoed byte is checked. Loopback only.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use clap::Parser;

#[derive(Debug, Parser)]
#[command(about = "Soak the echo server with mixed clients")]
struct Args {
    /// How long to run, e.g. `5m`.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Client threads, each running one connection at a time.
    #[arg(long, default_value_t = 16)]
    clients: usize,
    /// Seconds between samples.
    #[arg(long, default_value_t = 10)]
    every: u64,
    /// Run as the server (used by the soak itself).
    #[arg(long, hide = true)]
    serve: bool,
}

#[derive(Default)]
struct Counts {
    connections: AtomicU64,
    bytes: AtomicU64,
    resets: AtomicU64,
    half_closes: AtomicU64,
    errors: AtomicU64,
}

fn main() -> std::process::ExitCode {
    common::exit(run())
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    env_logger::init();
    let args = Args::parse();
    if args.serve {
        return serve();
    }
    let server = Server::start()?;
    let addr = server.addr;
    println!(
        "soaking {addr} (server pid {}) for {:?} with {} clients",
        server.child.id(),
        args.duration,
        args.clients
    );
    let start = Sample::take(server.child.id())?;
    println!("start: {start}");

    let counts = Arc::new(Counts::default());
    let stop = Arc::new(AtomicBool::new(false));
    let deadline = Instant::now() + args.duration;
    let threads: Vec<_> = (0..args.clients)
        .map(|i| {
            let counts = Arc::clone(&counts);
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || client(addr, i as u64, &counts, &stop))
        })
        .collect();
    let mut samples = vec![start];
    while Instant::now() < deadline {
        // The sampling interval (this is a measurement loop, not a test).
        std::thread::sleep(Duration::from_secs(args.every).min(deadline - Instant::now()));
        let s = Sample::take(server.child.id())?;
        println!(
            "{:>6.0}s: {s}; connections {} bytes {} resets {} half-closes {} errors {}",
            args.duration.as_secs_f64() - (deadline - Instant::now().min(deadline)).as_secs_f64(),
            counts.connections.load(Relaxed),
            counts.bytes.load(Relaxed),
            counts.resets.load(Relaxed),
            counts.half_closes.load(Relaxed),
            counts.errors.load(Relaxed)
        );
        samples.push(s);
    }
    stop.store(true, Relaxed);
    for t in threads {
        let _ = t.join();
    }
    // Idle again: give the server up to 5 s to finish closing (lingering
    // closes last up to 2 s) before the last sample.
    let mut end = Sample::take(server.child.id())?;
    for _ in 0..50 {
        if end.fds <= samples[0].fds {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
        end = Sample::take(server.child.id())?;
    }
    println!("end:   {end}");
    let peak = samples.iter().map(|s| s.rss_kib).max().unwrap_or(0);
    println!(
        "summary: RSS {} KiB -> {} KiB (peak {peak} KiB), descriptors {} -> {}, {} connections, {} bytes echoed, {} data errors",
        samples[0].rss_kib,
        end.rss_kib,
        samples[0].fds,
        end.fds,
        counts.connections.load(Relaxed),
        counts.bytes.load(Relaxed),
        counts.errors.load(Relaxed)
    );
    server.stop()?;
    if counts.errors.load(Relaxed) > 0 {
        return Err("data errors during the soak".into());
    }
    Ok(())
}

/// One client thread: a random kind of connection at a time until stopped.
fn client(addr: SocketAddr, seed: u64, counts: &Counts, stop: &AtomicBool) {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut buf = vec![0u8; 256 * 1024];
    let mut back = vec![0u8; 256 * 1024];
    while !stop.load(Relaxed) {
        let Ok(mut s) = TcpStream::connect(addr) else {
            counts.errors.fetch_add(1, Relaxed);
            continue;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
        let _ = s.set_write_timeout(Some(Duration::from_secs(10)));
        counts.connections.fetch_add(1, Relaxed);
        let ok = match rng.u8(0..10) {
            // Ping-pong of random sizes.
            0..=4 => (0..rng.usize(1..20)).all(|_| {
                let n = rng.usize(1..=buf.len().min(65_536));
                rng.fill(&mut buf[..n]);
                let ok = s.write_all(&buf[..n]).is_ok()
                    && s.read_exact(&mut back[..n]).is_ok()
                    && buf[..n] == back[..n];
                if ok {
                    counts.bytes.fetch_add(n as u64, Relaxed);
                }
                ok
            }),
            // Send, half-close, read everything then EOF.
            5..=6 => {
                let n = rng.usize(1..=buf.len());
                rng.fill(&mut buf[..n]);
                counts.half_closes.fetch_add(1, Relaxed);
                let writer = s.try_clone().map(|mut w| {
                    let data = buf[..n].to_vec();
                    std::thread::spawn(move || {
                        w.write_all(&data).is_ok() && w.shutdown(std::net::Shutdown::Write).is_ok()
                    })
                });
                let mut got = Vec::with_capacity(n);
                let read_ok = s.read_to_end(&mut got).is_ok();
                let wrote_ok = writer.map(|w| w.join().unwrap_or(false)).unwrap_or(false);
                counts.bytes.fetch_add(got.len() as u64, Relaxed);
                read_ok && wrote_ok && got == buf[..n]
            }
            // Reset mid-echo.
            7..=8 => {
                let n = rng.usize(1..=buf.len());
                let _ = s.write_all(&buf[..n]);
                let _ = s.read(&mut back[..1]);
                counts.resets.fetch_add(1, Relaxed);
                socket2::SockRef::from(&s)
                    .set_linger(Some(Duration::ZERO))
                    .is_ok()
            }
            // Connect and leave.
            _ => true,
        };
        if !ok {
            counts.errors.fetch_add(1, Relaxed);
        }
    }
}

/// The server's RSS and descriptors at one moment.
struct Sample {
    rss_kib: u64,
    fds: usize,
}

impl Sample {
    fn take(pid: u32) -> std::io::Result<Self> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        let rss_kib = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0);
        let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))?.count();
        Ok(Sample { rss_kib, fds })
    }
}

impl std::fmt::Display for Sample {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "server RSS {} KiB, {} descriptors",
            self.rss_kib, self.fds
        )
    }
}

/// The server in a child process.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Server {
    fn start() -> Result<Self, Box<dyn std::error::Error>> {
        let mut child = Command::new(std::env::current_exe()?)
            .arg("--serve")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .ok_or("no address from the server")?
            .parse()?;
        Ok(Server { child, addr })
    }

    fn stop(mut self) -> Result<(), Box<dyn std::error::Error>> {
        drop(self.child.stdin.take());
        let status = self.child.wait()?;
        if !status.success() {
            return Err(format!("server exited with {status}").into());
        }
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The server side: the echo server on 127.0.0.1, port 0, until stdin closes.
fn serve() -> Result<(), Box<dyn std::error::Error>> {
    let server = netecho::TcpServer::builder()
        .host(Ipv4Addr::LOCALHOST)
        .port(0)
        .bind()?;
    println!("listening on {}", server.local_addr());
    std::io::stdout().flush()?;
    let handle = server.handle();
    let stats = handle.clone();
    std::thread::spawn(move || {
        let _ = std::io::stdin().read_to_end(&mut Vec::new());
        handle.shutdown();
    });
    server.run()?;
    eprintln!("server stats: {:?}", stats.stats());
    Ok(())
}
