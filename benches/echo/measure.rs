//! One measurement: start a server child, load it with the shared client, read its CPU
//! time and memory from `/proc`, kill it.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use serde_json::json;

use crate::child::ServerProcess;
use crate::client::{self, Config, Event, Mode};
use crate::procfs;
use crate::scenarios::{Scenario, Transport};
use crate::servers::ServerKind;
use crate::strace::Strace;

/// Time budget of one measurement.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub warmup: Duration,
    pub duration: Duration,
    /// How long idle connections are held after the memory reading.
    pub idle_hold: Duration,
    pub setup_timeout: Duration,
}

/// Options that apply to every measurement.
#[derive(Debug, Clone)]
pub struct Setup {
    pub timing: Timing,
    /// Workers of the servers that take a count (`netecho-1` keeps its one).
    pub workers: usize,
    pub show_pids: bool,
    pub strace: bool,
    /// The `netecho-bench-servers` binary, if any baseline is to run.
    pub baselines: Option<PathBuf>,
    /// The certificate for the TLS scenarios, if any is to run.
    #[cfg(feature = "tls")]
    pub tls: Option<crate::tls::TlsSetup>,
}

/// Figures of one run; `None` where a figure does not apply (idle) or could not be read.
#[derive(Debug, Clone, Default)]
pub struct Sample {
    pub requests_per_s: Option<f64>,
    pub mb_per_s: Option<f64>,
    pub p50_us: Option<f64>,
    pub p99_us: Option<f64>,
    pub max_us: Option<f64>,
    /// Server user + system CPU seconds over the measured window.
    pub server_cpu_s: Option<f64>,
    /// Bench process (client) CPU seconds over the same window.
    pub client_cpu_s: Option<f64>,
    /// CPU seconds used by everything else on the machine over the window (a noise gauge:
    /// other jobs, kernel threads): busy time (wall time on every CPU less the exactly
    /// measured idle time) less steal, server and client.
    pub other_cpu_s: Option<f64>,
    /// Machine-wide steal seconds over the window (a VM's host running something else).
    pub steal_s: Option<f64>,
    /// Machine-wide softirq seconds over the window; already inside the server's, the
    /// client's or the others' figures (see `procfs::SystemCpu::softirq`).
    pub softirq_s: Option<f64>,
    /// Sockets in TIME_WAIT when the window started.
    pub time_wait: Option<f64>,
    /// Requests per server CPU-second.
    pub requests_per_cpu_s: Option<f64>,
    /// Server peak resident memory (VmHWM) in KiB.
    pub peak_rss_kib: Option<f64>,
    /// Idle scenario: server resident memory per connection, in bytes.
    pub rss_per_conn_bytes: Option<f64>,
    /// Busiest over idlest connection (echo counts).
    pub spread: Option<f64>,
    /// UDP: datagrams sent in the window that got no reply within the client's timeout,
    /// as a fraction of those sent.
    pub lost: Option<f64>,
}

impl Sample {
    pub fn to_json(&self) -> serde_json::Value {
        json!({
            "requests_per_s": self.requests_per_s,
            "mb_per_s": self.mb_per_s,
            "p50_us": self.p50_us,
            "p99_us": self.p99_us,
            "max_us": self.max_us,
            "server_cpu_s": self.server_cpu_s,
            "client_cpu_s": self.client_cpu_s,
            "other_cpu_s": self.other_cpu_s,
            "steal_s": self.steal_s,
            "softirq_s": self.softirq_s,
            "time_wait": self.time_wait,
            "requests_per_cpu_s": self.requests_per_cpu_s,
            "peak_rss_kib": self.peak_rss_kib,
            "rss_per_conn_bytes": self.rss_per_conn_bytes,
            "spread": self.spread,
            "lost": self.lost,
        })
    }
}

#[derive(Default)]
struct Readings {
    cpu0: Option<f64>,
    cpu1: Option<f64>,
    me0: Option<f64>,
    me1: Option<f64>,
    all0: Option<procfs::SystemCpu>,
    all1: Option<procfs::SystemCpu>,
    time_wait: Option<u64>,
    rss_loaded: Option<u64>,
}

/// Measures `kind` under `sc`; `Err` if the server failed, died, or echoed wrongly.
pub fn measure(
    kind: ServerKind,
    sc: &Scenario,
    setup: &Setup,
    tag: &str,
) -> Result<Sample, String> {
    #[cfg(feature = "tls")]
    let tls = match (&setup.tls, sc.tls) {
        (Some(t), true) => Some(t),
        (None, true) => return Err("no TLS certificate was made".into()),
        _ => None,
    };
    #[cfg(not(feature = "tls"))]
    if sc.tls {
        return Err("TLS scenarios need the `tls` feature".into());
    }
    #[cfg(feature = "tls")]
    let files = tls.map(|t| (t.cert.as_path(), t.key.as_path()));
    #[cfg(not(feature = "tls"))]
    let files = None;
    let mut server = ServerProcess::spawn(
        kind,
        setup.workers,
        setup.baselines.as_deref(),
        sc.transport,
        files,
    )?;
    if sc.transport == Transport::Udp {
        return measure_udp(kind, sc, setup, tag, server);
    }
    let pid = server.pid;
    let me = std::process::id();
    let rss_before = procfs::status_kib(pid, "VmRSS").map_err(|e| format!("read VmRSS: {e}"))?;
    let t = setup.timing;
    let (warmup, duration) = if sc.is_idle() {
        (Duration::ZERO, t.idle_hold)
    } else {
        (t.warmup, t.duration)
    };
    let cfg = Config {
        addr: server.target.clone(),
        mode: sc.mode,
        connections: sc.connections,
        size: sc.size,
        depth: 1,
        threads: sc.client_threads,
        warmup,
        duration,
        setup_timeout: t.setup_timeout,
        hard_timeout: t.setup_timeout + warmup + duration + Duration::from_secs(5),
        cancel: Arc::new(AtomicBool::new(false)),
        #[cfg(feature = "tls")]
        tls: tls.map(|t| t.client.clone()),
        #[cfg(not(feature = "tls"))]
        tls: None,
    };
    let mut r = Readings::default();
    let mut strace = None;
    let report = client::run(&cfg, &mut |ev| match ev {
        Event::Measuring => {
            if setup.show_pids {
                eprintln!(
                    "    {} server pid {pid}: strace -c -f -p {pid}",
                    kind.name()
                );
            }
            if setup.strace {
                strace = Strace::attach(pid, tag);
            }
            r.cpu0 = procfs::cpu_seconds(pid).ok();
            r.me0 = procfs::cpu_seconds(me).ok();
            r.all0 = procfs::system_cpu().ok();
            r.time_wait = procfs::time_wait_sockets().ok();
            r.rss_loaded = procfs::status_kib(pid, "VmRSS").ok();
        }
        Event::Finished => {
            r.cpu1 = procfs::cpu_seconds(pid).ok();
            r.me1 = procfs::cpu_seconds(me).ok();
            r.all1 = procfs::system_cpu().ok();
            if let Some(s) = strace.take() {
                s.finish();
            }
        }
        _ => {}
    })?;
    server.check_alive()?;
    if report.errors > 0 {
        return Err(format!(
            "{} errors, first: {}",
            report.errors,
            report.error_samples.join("; ")
        ));
    }
    let peak = procfs::status_kib(pid, "VmHWM").ok();
    drop(server);

    let delta = |a: Option<f64>, b: Option<f64>| Some(b? - a?);
    let server_cpu_s = delta(r.cpu0, r.cpu1);
    let client_cpu_s = delta(r.me0, r.me1);
    let system = |f: fn(&procfs::SystemCpu) -> f64| Some(f(&r.all1?) - f(&r.all0?));
    let steal_s = system(|c| c.steal);
    let other = |busy: f64| Some((busy - steal_s? - server_cpu_s? - client_cpu_s?).max(0.0));
    let mut s = Sample {
        server_cpu_s,
        client_cpu_s,
        other_cpu_s: r
            .all0
            .zip(r.all1)
            .map(|(a, b)| a.busy_until(&b))
            .and_then(other),
        steal_s,
        softirq_s: system(|c| c.softirq),
        time_wait: r.time_wait.map(|n| n as f64),
        peak_rss_kib: peak.map(|k| k as f64),
        ..Sample::default()
    };
    if sc.is_idle() {
        let grown = r
            .rss_loaded
            .ok_or("no memory reading")?
            .saturating_sub(rss_before);
        s.rss_per_conn_bytes = Some(grown as f64 * 1024.0 / sc.connections as f64);
        return Ok(s);
    }
    let idle_conns = report.per_conn.iter().filter(|&&n| n == 0).count();
    if idle_conns > 0 {
        let (what, done) = match sc.mode {
            Mode::Connect => ("connect loops", "connection"),
            _ => ("connections", "echo"),
        };
        return Err(format!(
            "{idle_conns} of {} {what} completed no {done} in the measured window",
            report.per_conn.len()
        ));
    }
    let (min, max) = report.min_max_per_conn();
    s.requests_per_s = Some(report.requests_per_sec());
    s.mb_per_s = Some(report.mb_per_sec());
    s.p50_us = Some(report.latency_at(0.50).as_secs_f64() * 1e6);
    s.p99_us = Some(report.latency_at(0.99).as_secs_f64() * 1e6);
    s.max_us = Some(report.latency_max().as_secs_f64() * 1e6);
    s.requests_per_cpu_s = server_cpu_s
        .filter(|&c| c > 0.0)
        .map(|c| report.requests as f64 / c);
    s.spread = Some(max as f64 / min.max(1) as f64);
    Ok(s)
}

/// The UDP scenarios: the loadgen example's UDP mode against `server`, with the server's
/// CPU time (its whole process tree: socat forks) read as the measured window starts and
/// ends, on this thread while the client runs on its own.
fn measure_udp(
    kind: ServerKind,
    sc: &Scenario,
    setup: &Setup,
    tag: &str,
    mut server: ServerProcess,
) -> Result<Sample, String> {
    let crate::client::Target::Tcp(addr) = server.target.clone() else {
        return Err("a UDP server with no address".into());
    };
    let pid = server.pid;
    let me = std::process::id();
    let t = setup.timing;
    let cfg = crate::udp_client::UdpConfig {
        addr,
        senders: sc.connections,
        size: sc.size,
        depth: sc.depth,
        threads: sc.client_threads,
        warmup: t.warmup,
        duration: t.duration,
        timeout: Duration::from_secs(1),
        cancel: Arc::new(AtomicBool::new(false)),
    };
    let started = std::time::Instant::now();
    let client = std::thread::spawn({
        let cfg = cfg.clone();
        move || crate::udp_client::run(&cfg)
    });
    let mut r = Readings::default();
    let mut strace = None;
    std::thread::sleep(t.warmup.saturating_sub(started.elapsed()));
    if setup.show_pids {
        eprintln!(
            "    {} server pid {pid}: strace -c -f -p {pid}",
            kind.name()
        );
    }
    if setup.strace {
        strace = Strace::attach(pid, tag);
    }
    r.cpu0 = procfs::tree_cpu_seconds(pid).ok();
    r.me0 = procfs::cpu_seconds(me).ok();
    r.all0 = procfs::system_cpu().ok();
    std::thread::sleep((t.warmup + t.duration).saturating_sub(started.elapsed()));
    r.cpu1 = procfs::tree_cpu_seconds(pid).ok();
    r.me1 = procfs::cpu_seconds(me).ok();
    r.all1 = procfs::system_cpu().ok();
    if let Some(s) = strace.take() {
        s.finish();
    }
    let report = client
        .join()
        .map_err(|_| "the UDP client panicked".to_string())??;
    server.check_alive()?;
    if report.errors > 0 {
        return Err(format!(
            "{} errors, first: {}",
            report.errors,
            report.error_samples.join("; ")
        ));
    }
    if report.replies == 0 {
        return Err(format!(
            "no reply in the measured window ({} sent)",
            report.sent
        ));
    }
    let peak = procfs::status_kib(pid, "VmHWM").ok();
    drop(server);

    let delta = |a: Option<f64>, b: Option<f64>| Some(b? - a?);
    let server_cpu_s = delta(r.cpu0, r.cpu1);
    let client_cpu_s = delta(r.me0, r.me1);
    let system = |f: fn(&procfs::SystemCpu) -> f64| Some(f(&r.all1?) - f(&r.all0?));
    let steal_s = system(|c| c.steal);
    let other = |busy: f64| Some((busy - steal_s? - server_cpu_s? - client_cpu_s?).max(0.0));
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let per_s = report.per_sec();
    Ok(Sample {
        requests_per_s: Some(per_s),
        mb_per_s: Some(per_s * sc.size as f64 / 1e6),
        p50_us: Some(us(Duration::from_nanos(
            report.latency.value_at_quantile(0.5),
        ))),
        p99_us: Some(us(Duration::from_nanos(
            report.latency.value_at_quantile(0.99),
        ))),
        max_us: Some(us(Duration::from_nanos(report.latency.max()))),
        server_cpu_s,
        client_cpu_s,
        other_cpu_s: r
            .all0
            .zip(r.all1)
            .map(|(a, b)| a.busy_until(&b))
            .and_then(other),
        steal_s,
        softirq_s: system(|c| c.softirq),
        requests_per_cpu_s: server_cpu_s
            .filter(|&c| c > 0.0)
            .map(|c| report.replies as f64 / c),
        peak_rss_kib: peak.map(|k| k as f64),
        lost: Some(report.lost as f64 / report.sent.max(1) as f64),
        ..Sample::default()
    })
}
