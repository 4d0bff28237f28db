//! Load generator for an echo server: many connections, every echoed byte checked.
//!
//! ```text
//! cargo run --release --example echo &          # listens on 127.0.0.1:7007
//! cargo run --release --example loadgen -- --connections 100 --size 512 --duration 10s
//! cargo run --release --example loadgen -- --mode pipeline --depth 16 --json
//! cargo run --release --example loadgen -- --mode connect --connections 32
//! cargo run --release --example echo -- --bind unix:/tmp/echo.sock &
//! cargo run --release --example loadgen -- --unix /tmp/echo.sock
//! cargo run --release --example loadgen -- --mode udp --addr 127.0.0.1:7 --connections 4 --size 64 --depth 8
//! ```
//!
//! Modes: `pingpong` (one message in flight per connection), `pipeline` (`--depth` in
//! flight), `connect` (connect, echo one message, close, repeat: connection rate) and
//! `idle` (open the connections, echo one byte each, hold them) and `udp` (`--connections`
//! UDP senders, `--depth` datagrams in flight each, every reply checked; a datagram not
//! answered within `--udp-timeout` is counted as lost and replaced).
//!
//! `--unix PATH` loads a server on a Unix socket file instead of `--addr`, in every mode.
//! Only loopback addresses are accepted unless `--allow-remote` is given. The client is
//! one mio event loop per `--threads` (default 1) so it leaves the CPU to the server.
//! A progress line goes to stderr each second; `--json` prints one JSON object on stdout.
//! Exits with status 1 if any connection failed or any byte came back wrong.

mod client;
mod output;
mod udp;

use std::net::ToSocketAddrs;
#[cfg(unix)]
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clap::{Parser, ValueEnum};

use client::{Config, Event, Mode, Target};
use humantime::parse_duration;

#[derive(Debug, Parser)]
#[command(
    version,
    about = "Echo server load generator (every echoed byte verified)"
)]
struct Args {
    /// Server address.
    #[arg(long, default_value = "127.0.0.1:7007")]
    addr: String,
    /// Server's Unix socket file, instead of `--addr`.
    #[cfg(unix)]
    #[arg(long, value_name = "PATH", conflicts_with = "addr")]
    unix: Option<PathBuf>,
    /// What each connection does.
    #[arg(long, value_enum, default_value_t = ModeArg::Pingpong)]
    mode: ModeArg,
    /// Connections (concurrent connect loops in connect mode).
    #[arg(long, default_value_t = 100)]
    connections: usize,
    /// Message size in bytes.
    #[arg(long, default_value_t = 512)]
    size: usize,
    /// Messages in flight per connection (pipeline mode).
    #[arg(long, default_value_t = 16)]
    depth: u64,
    /// Measured time, e.g. `10s`, `500ms`, `2m`.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    duration: Duration,
    /// Traffic before the measured window starts (not counted).
    #[arg(long, default_value = "0s", value_parser = parse_duration)]
    warmup: Duration,
    /// Time allowed to open all connections.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    connect_timeout: Duration,
    /// Client event-loop threads.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Print one JSON object on stdout instead of the text report.
    #[arg(long)]
    json: bool,
    /// UDP mode: how long to wait for a reply before counting the datagram as lost.
    #[arg(long, default_value = "200ms", value_parser = parse_duration)]
    udp_timeout: Duration,
    /// Allow a non-loopback server address.
    #[arg(long)]
    allow_remote: bool,
    /// Speak TLS, trusting the CA (or self-signed) certificates in this PEM file (needs
    /// the `tls` feature: `cargo run --release --features tls --example loadgen`).
    #[arg(long, value_name = "FILE")]
    tls_ca: Option<std::path::PathBuf>,
    /// The server name for TLS (SNI and certificate check).
    #[arg(long, default_value = "localhost", requires = "tls_ca")]
    server_name: String,
    /// TLS: resume sessions (by default every connection makes a full handshake).
    #[arg(long, requires = "tls_ca")]
    tls_resume: bool,
}

/// The TLS client configuration the flags ask for.
#[cfg(feature = "tls")]
fn tls(args: &Args) -> Result<Option<client::Tls>, String> {
    use netecho::rustls;
    use rustls::pki_types::{CertificateDer, ServerName, pem::PemObject};
    let Some(ca) = &args.tls_ca else {
        return Ok(None);
    };
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).map_err(|e| format!("{}: {e}", ca.display()))? {
        let cert = cert.map_err(|e| format!("{}: {e}", ca.display()))?;
        roots
            .add(cert)
            .map_err(|e| format!("{}: {e}", ca.display()))?;
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    if !args.tls_resume {
        config.resumption = rustls::client::Resumption::disabled();
    }
    let server_name = ServerName::try_from(args.server_name.clone())
        .map_err(|e| format!("--server-name {}: {e}", args.server_name))?;
    Ok(Some(client::Tls {
        config: std::sync::Arc::new(config),
        server_name,
    }))
}

#[cfg(not(feature = "tls"))]
fn tls(args: &Args) -> Result<Option<client::Tls>, String> {
    match args.tls_ca {
        Some(_) => Err(
            "--tls-ca needs the `tls` feature: build with `--features tls` \
                        (cargo run --release --features tls --example loadgen)"
                .into(),
        ),
        None => Ok(None),
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ModeArg {
    Pingpong,
    Pipeline,
    Connect,
    Idle,
    Udp,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("loadgen: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Returns whether the run was clean (no errors).
fn run(args: &Args) -> Result<bool, String> {
    let addr = target(args)?;
    if args.connections == 0 || args.size == 0 || args.threads == 0 {
        return Err("--connections, --size and --threads must be at least 1".into());
    }
    if let Err(e) = rlimit::increase_nofile_limit(u64::MAX) {
        eprintln!("loadgen: cannot raise the open-file limit: {e}");
    }
    let cancel = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&cancel);
    if let Err(e) = ctrlc::set_handler(move || flag.store(true, Ordering::Relaxed)) {
        eprintln!("loadgen: no Ctrl-C handler: {e}");
    }
    let mode = match args.mode {
        ModeArg::Pingpong => Mode::PingPong,
        ModeArg::Pipeline => Mode::Pipeline,
        ModeArg::Connect => Mode::Connect,
        ModeArg::Idle => Mode::Idle,
        ModeArg::Udp => return run_udp(args, addr, cancel),
    };
    let cfg = Config {
        addr,
        mode,
        connections: args.connections,
        size: args.size,
        depth: args.depth,
        threads: args.threads,
        warmup: args.warmup,
        duration: args.duration,
        setup_timeout: args.connect_timeout,
        hard_timeout: args.connect_timeout + args.warmup + args.duration + Duration::from_secs(5),
        cancel,
        tls: tls(args)?,
    };
    let mut last = 0;
    let report = client::run(&cfg, &mut |ev| {
        if let Event::Progress {
            elapsed,
            echoes,
            errors,
        } = ev
        {
            eprintln!(
                "[{:>4.1}s] {:>10} echoes/s  {errors} errors",
                elapsed.as_secs_f64(),
                echoes - last
            );
            last = echoes;
        }
    })?;
    if args.json {
        println!("{}", output::json(&cfg, &report));
    } else {
        print!("{}", output::text(&cfg, &report));
    }
    Ok(report.errors == 0)
}

/// The server: `--unix PATH` if given, else `--addr`.
fn target(args: &Args) -> Result<Target, String> {
    #[cfg(unix)]
    if let Some(path) = &args.unix {
        return Ok(Target::Unix(path.clone()));
    }
    resolve(&args.addr, args.allow_remote)
}

/// The UDP mode's run.
fn run_udp(args: &Args, target: Target, cancel: Arc<AtomicBool>) -> Result<bool, String> {
    let Target::Tcp(addr) = target else {
        return Err("--mode udp needs --addr, not --unix".into());
    };
    let cfg = udp::UdpConfig {
        addr,
        senders: args.connections,
        size: args.size,
        depth: usize::try_from(args.depth).map_err(|e| e.to_string())?,
        threads: args.threads,
        warmup: args.warmup,
        duration: args.duration,
        timeout: args.udp_timeout,
        cancel,
    };
    let report = udp::run(&cfg)?;
    if args.json {
        println!("{}", report.json(&cfg));
    } else {
        print!("{}", report.text(&cfg));
    }
    Ok(report.errors == 0)
}

/// Resolves `addr`, refusing non-loopback addresses unless `allow_remote`.
fn resolve(addr: &str, allow_remote: bool) -> Result<Target, String> {
    let resolved = addr
        .to_socket_addrs()
        .map_err(|e| format!("bad --addr {addr}: {e}"))?
        .next()
        .ok_or_else(|| format!("--addr {addr} resolves to nothing"))?;
    if !resolved.ip().is_loopback() && !allow_remote {
        return Err(format!(
            "{resolved} is not a loopback address; pass --allow-remote to load a remote server"
        ));
    }
    Ok(Target::Tcp(resolved))
}
