//! UDP mode: `--connections` senders (one socket each), datagrams of
//! `--size` bytes, `--depth` in flight per sender, every reply checked
//! byte for byte. A datagram with no reply after `--udp-timeout` is counted
//! as lost and replaced, so a loss never stalls a sender; a reply that
//! comes after that is counted as late.
//!
//! Each datagram starts with its sequence number and its sender's index
//! (12 bytes), then the pattern those two seed, so a reply that is cut
//! short, corrupted, or meant for another sender is caught.

use std::collections::VecDeque;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use mio::{Events, Interest, Poll, Token};
use serde_json::json;

/// What a UDP run is asked to do.
#[derive(Debug, Clone)]
pub struct UdpConfig {
    pub addr: SocketAddr,
    pub senders: usize,
    pub size: usize,
    pub depth: usize,
    pub threads: usize,
    pub warmup: Duration,
    pub duration: Duration,
    pub timeout: Duration,
    pub cancel: Arc<AtomicBool>,
}

/// Header bytes: sequence number (8) and sender index (4).
pub const HEADER: usize = 12;

/// What a UDP run measured.
#[derive(Debug)]
pub struct UdpReport {
    pub elapsed: Duration,
    pub sent: u64,
    pub replies: u64,
    pub lost: u64,
    pub late: u64,
    pub errors: u64,
    pub error_samples: Vec<String>,
    pub latency: Histogram<u64>,
}

impl UdpReport {
    fn new() -> Self {
        UdpReport {
            elapsed: Duration::ZERO,
            sent: 0,
            replies: 0,
            lost: 0,
            late: 0,
            errors: 0,
            error_samples: Vec::new(),
            latency: Histogram::new_with_bounds(1, 100_000_000_000, 3)
                .expect("constant bounds are valid"),
        }
    }

    fn merge(&mut self, other: UdpReport) {
        self.sent += other.sent;
        self.replies += other.replies;
        self.lost += other.lost;
        self.late += other.late;
        self.errors += other.errors;
        for e in other.error_samples {
            if self.error_samples.len() < 5 {
                self.error_samples.push(e);
            }
        }
        let _ = self.latency.add(&other.latency);
    }

    fn error(&mut self, what: String) {
        self.errors += 1;
        if self.error_samples.len() < 5 {
            self.error_samples.push(what);
        }
    }

    pub fn per_sec(&self) -> f64 {
        self.replies as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    fn quantile(&self, q: f64) -> Duration {
        Duration::from_nanos(self.latency.value_at_quantile(q))
    }

    pub fn text(&self, cfg: &UdpConfig) -> String {
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        format!(
            "Udp against {}: {} senders x {} B, depth {}, {:.2} s measured\n\
             replies      {} ({:.0}/s)\n\
             throughput   {:.2} MB/s each way\n\
             latency      p50 {:.0}us  p90 {:.0}us  p99 {:.0}us  max {:.0}us\n\
             sent         {}\nlost         {} (no reply within {:?})\nlate         {}\n\
             errors       {}\n{}",
            cfg.addr,
            cfg.senders,
            cfg.size,
            cfg.depth,
            self.elapsed.as_secs_f64(),
            self.replies,
            self.per_sec(),
            self.per_sec() * cfg.size as f64 / 1e6,
            us(self.quantile(0.5)),
            us(self.quantile(0.9)),
            us(self.quantile(0.99)),
            us(Duration::from_nanos(self.latency.max())),
            self.sent,
            self.lost,
            cfg.timeout,
            self.late,
            self.errors,
            self.error_samples
                .iter()
                .map(|e| format!("  {e}\n"))
                .collect::<String>()
        )
    }

    pub fn json(&self, cfg: &UdpConfig) -> serde_json::Value {
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        json!({
            "addr": cfg.addr.to_string(),
            "mode": "udp",
            "connections": cfg.senders,
            "size": cfg.size,
            "depth": cfg.depth,
            "threads": cfg.threads,
            "elapsed_s": self.elapsed.as_secs_f64(),
            "requests": self.replies,
            "requests_per_s": self.per_sec(),
            "mb_per_s": self.per_sec() * cfg.size as f64 / 1e6,
            "latency_us": {
                "p50": us(self.quantile(0.5)),
                "p90": us(self.quantile(0.9)),
                "p99": us(self.quantile(0.99)),
                "max": us(Duration::from_nanos(self.latency.max())),
            },
            "sent": self.sent,
            "lost": self.lost,
            "late": self.late,
            "errors": self.errors,
            "error_samples": self.error_samples,
        })
    }
}

/// Fills `buf` with the datagram `seq` of sender `id`.
fn fill(buf: &mut [u8], seq: u64, id: u32) {
    buf[..8].copy_from_slice(&seq.to_le_bytes());
    buf[8..12].copy_from_slice(&id.to_le_bytes());
    let mut x = seq.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ u64::from(id);
    for b in &mut buf[HEADER..] {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
}

/// One sender: its socket and the datagrams in flight, oldest first.
struct Sender {
    socket: mio::net::UdpSocket,
    id: u32,
    next_seq: u64,
    in_flight: VecDeque<(u64, Instant)>,
}

/// Runs the UDP load; prints a progress line each second.
pub fn run(cfg: &UdpConfig) -> Result<UdpReport, String> {
    if cfg.size < HEADER {
        return Err(format!("--size must be at least {HEADER} in udp mode"));
    }
    if cfg.depth == 0 {
        return Err("--depth must be at least 1".into());
    }
    let progress = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let measure_from = start + cfg.warmup;
    let end = measure_from + cfg.duration;
    let threads: Vec<_> = (0..cfg.threads)
        .map(|t| {
            let ids: Vec<u32> = (0..cfg.senders as u32)
                .filter(|i| *i as usize % cfg.threads == t)
                .collect();
            let cfg = cfg.clone();
            let progress = Arc::clone(&progress);
            std::thread::spawn(move || worker(&cfg, &ids, measure_from, end, &progress))
        })
        .collect();
    let mut last = 0;
    let mut tick = start + Duration::from_secs(1);
    while Instant::now() < end && !cfg.cancel.load(Ordering::Relaxed) {
        std::thread::sleep(
            Duration::from_millis(50).min(end.saturating_duration_since(Instant::now())),
        );
        if Instant::now() >= tick {
            let now = progress.load(Ordering::Relaxed);
            eprintln!(
                "[{:>4.1}s] {:>10} replies/s",
                start.elapsed().as_secs_f64(),
                now - last
            );
            last = now;
            tick += Duration::from_secs(1);
        }
    }
    let mut report = UdpReport::new();
    for t in threads {
        match t.join() {
            Ok(Ok(r)) => report.merge(r),
            Ok(Err(e)) => return Err(e.to_string()),
            Err(_) => return Err("a sender thread panicked".into()),
        }
    }
    report.elapsed = Instant::now()
        .min(end)
        .saturating_duration_since(measure_from);
    Ok(report)
}

fn worker(
    cfg: &UdpConfig,
    ids: &[u32],
    measure_from: Instant,
    end: Instant,
    progress: &AtomicU64,
) -> io::Result<UdpReport> {
    let mut poll = Poll::new()?;
    let mut senders = Vec::with_capacity(ids.len());
    for (i, id) in ids.iter().enumerate() {
        let local: SocketAddr = if cfg.addr.is_ipv6() {
            "[::1]:0".parse().map_err(io::Error::other)?
        } else {
            "127.0.0.1:0".parse().map_err(io::Error::other)?
        };
        let std = UdpSocket::bind(local)?;
        std.connect(cfg.addr)?;
        std.set_nonblocking(true)?;
        let mut socket = mio::net::UdpSocket::from_std(std);
        poll.registry()
            .register(&mut socket, Token(i), Interest::READABLE)?;
        senders.push(Sender {
            socket,
            id: *id,
            next_seq: 0,
            in_flight: VecDeque::with_capacity(cfg.depth),
        });
    }
    let mut report = UdpReport::new();
    let mut out = vec![0; cfg.size];
    let mut expected = vec![0; cfg.size];
    let mut buf = vec![0; 65_536];
    let mut events = Events::with_capacity(1024);
    for s in &mut senders {
        top_up(s, cfg, &mut out, &mut report, measure_from);
    }
    while Instant::now() < end && !cfg.cancel.load(Ordering::Relaxed) {
        poll.poll(&mut events, Some(Duration::from_millis(5)))?;
        let now = Instant::now();
        let mut done = 0;
        for event in events.iter() {
            let s = &mut senders[event.token().0];
            loop {
                let n = match s.socket.recv(&mut buf) {
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => {
                        // ECONNREFUSED: the server is not there (yet).
                        report.error(format!("sender {}: {e}", s.id));
                        break;
                    }
                };
                let now = Instant::now();
                if n < HEADER {
                    report.error(format!("sender {}: a {n}-byte reply", s.id));
                    continue;
                }
                let mut seq = [0; 8];
                seq.copy_from_slice(&buf[..8]);
                let seq = u64::from_le_bytes(seq);
                fill(&mut expected, seq, s.id);
                if n != cfg.size || buf[..n] != expected[..] {
                    report.error(format!(
                        "sender {}: reply {seq} of {n} bytes is not what was sent ({} bytes)",
                        s.id, cfg.size
                    ));
                    continue;
                }
                match s.in_flight.iter().position(|(q, _)| *q == seq) {
                    Some(i) => {
                        let (_, sent) = s.in_flight.remove(i).unwrap_or((seq, now));
                        if now >= measure_from {
                            report.replies += 1;
                            done += 1;
                            let _ = report
                                .latency
                                .record(now.saturating_duration_since(sent).as_nanos() as u64);
                        }
                    }
                    None if seq < s.next_seq => report.late += 1,
                    None => report.error(format!("sender {}: reply {seq} never sent", s.id)),
                }
            }
        }
        for s in &mut senders {
            while let Some((_, sent)) = s.in_flight.front() {
                if now.saturating_duration_since(*sent) < cfg.timeout {
                    break;
                }
                s.in_flight.pop_front();
                if now >= measure_from {
                    report.lost += 1;
                }
            }
            top_up(s, cfg, &mut out, &mut report, measure_from);
        }
        progress.fetch_add(done, Ordering::Relaxed);
    }
    Ok(report)
}

/// Sends until `depth` datagrams are in flight (or the socket is full).
fn top_up(
    s: &mut Sender,
    cfg: &UdpConfig,
    out: &mut [u8],
    report: &mut UdpReport,
    measure_from: Instant,
) {
    while s.in_flight.len() < cfg.depth {
        fill(out, s.next_seq, s.id);
        match s.socket.send(out) {
            Ok(_) => {
                let now = Instant::now();
                s.in_flight.push_back((s.next_seq, now));
                s.next_seq += 1;
                if now >= measure_from {
                    report.sent += 1;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(e) => {
                report.error(format!("sender {}: {e}", s.id));
                return;
            }
        }
    }
}
