//! What the "classic services" examples share: the command-line flags of the
//! server (as `examples/echo.rs` has them), building and running the server
//! with signal handling, and the line cap and error line of the line-based
//! protocols.
//!
//! Each example uses it with `mod common;`; not every example uses every item.
#![allow(dead_code)]

use std::error::Error;
use std::net::IpAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use netecho::{Handler, TcpServer};

/// The server's flags, flattened into each example's own `Args`.
#[derive(Debug, clap::Args)]
pub struct ServerArgs {
    /// IP address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// Port to listen on [default: 7007 for echo, the service's standard port + 7000 for the others]; 0
    /// picks a free one (the real port is printed).
    #[arg(long)]
    pub port: Option<u16>,
    /// Worker threads [default: the number of CPUs].
    #[arg(long)]
    pub workers: Option<usize>,
    /// Set SO_REUSEPORT, so several servers can share the port.
    #[arg(long)]
    pub reuse_port: bool,
    /// How long a shutdown waits for connections to finish, e.g. `5s`.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    pub shutdown_timeout: Duration,
    /// Connections open at once; more wait in the kernel's backlog.
    #[arg(long, default_value_t = netecho::DEFAULT_MAX_CONNECTIONS)]
    pub max_connections: usize,
    /// Close connections silent for this long, e.g. `5m`; `0s` turns it off.
    #[arg(long, default_value = "5m", value_parser = humantime::parse_duration)]
    pub idle_timeout: Duration,
    /// Close connections that read none of their pending output for this
    /// long, e.g. `30s`; `0s` turns it off.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub write_timeout: Duration,
    #[command(flatten)]
    pub tls: TlsArgs,
}

/// The TLS flags. Without the `tls` feature they exist (so `--help` shows
/// them) but fail, saying how to build with it.
#[derive(Debug, clap::Args)]
pub struct TlsArgs {
    /// Speak TLS with this certificate chain (PEM; needs --tls-key and the
    /// `tls` feature: `cargo run --features tls --example ...`).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<std::path::PathBuf>,
    /// The private key of --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<std::path::PathBuf>,
    /// Require client certificates signed by a CA in this PEM file.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_client_ca: Option<std::path::PathBuf>,
    /// Offer this ALPN protocol (repeatable, in order of preference).
    #[arg(long, value_name = "PROTO", requires = "tls_cert")]
    pub alpn: Vec<String>,
}

impl TlsArgs {
    /// Makes the builder speak TLS if the flags ask for it; `Ok(true)` if so.
    #[cfg(feature = "tls")]
    fn apply(&self, builder: netecho::TcpServerBuilder) -> (netecho::TcpServerBuilder, bool) {
        let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) else {
            return (builder, false);
        };
        let mut tls = netecho::TlsConfig::from_pem_files(cert, key);
        if let Some(ca) = &self.tls_client_ca {
            tls = tls.client_ca_file(ca);
        }
        for proto in &self.alpn {
            tls = tls.alpn(proto.as_bytes());
        }
        (builder.tls(tls), true)
    }

    /// Without the `tls` feature, any TLS flag is an error that says so.
    #[cfg(not(feature = "tls"))]
    fn apply(
        &self,
        builder: netecho::TcpServerBuilder,
    ) -> Result<(netecho::TcpServerBuilder, bool), Box<dyn Error>> {
        if self.tls_cert.is_some() || self.tls_client_ca.is_some() || !self.alpn.is_empty() {
            return Err("TLS needs the `tls` feature: build with `--features tls` \
                        (cargo run --features tls --example ...)"
                .into());
        }
        Ok((builder, false))
    }
}

/// Exit status after a second SIGINT or SIGTERM cut a graceful shutdown
/// short (128 + SIGINT, as shells report an interrupted command).
pub const FORCED_EXIT: i32 = 130;

/// Ends an example's `main`: on error, prints the error and its whole chain
/// of causes on stderr (`error: failed to bind 127.0.0.1:7007: Address
/// already in use (os error 98)`) and exits with status 1.
pub fn exit(result: Result<(), Box<dyn Error>>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let mut line = format!("error: {err}");
            let mut cause = err.source();
            while let Some(c) = cause {
                line.push_str(&format!(": {c}"));
                cause = c.source();
            }
            eprintln!("{line}");
            ExitCode::FAILURE
        }
    }
}

/// Logs to stderr at `info` (the start line, the stop line with the
/// statistics) unless `RUST_LOG` says otherwise.
pub fn init_logging() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
}

/// Binds a server with `args` (on `default_port` unless `--port` is given)
/// and the handler `factory`, prints `listening on ADDR`, and serves until
/// SIGINT or SIGTERM, which shut it down gracefully; a second one exits at
/// once with status [`FORCED_EXIT`].
pub fn serve<F, H>(args: &ServerArgs, default_port: u16, factory: F) -> Result<(), Box<dyn Error>>
where
    F: Fn() -> H + Send + Sync + 'static,
    H: Handler + 'static,
{
    init_logging();
    let off_if_zero = |d: Duration| (!d.is_zero()).then_some(d);
    let mut builder = TcpServer::builder()
        .host(args.host)
        .port(args.port.unwrap_or(default_port))
        .reuse_port(args.reuse_port)
        .shutdown_timeout(args.shutdown_timeout)
        .max_connections(args.max_connections)
        .idle_timeout(off_if_zero(args.idle_timeout))
        .write_timeout(off_if_zero(args.write_timeout))
        .handler(factory);
    if let Some(workers) = args.workers {
        builder = builder.workers(workers);
    }
    #[cfg(feature = "tls")]
    let (builder, tls) = args.tls.apply(builder);
    #[cfg(not(feature = "tls"))]
    let (builder, tls) = args.tls.apply(builder)?;
    let server = builder.bind()?;
    let scheme = if tls { "tls:" } else { "" };
    println!("listening on {scheme}{}", server.local_addr());

    let handle = server.handle();
    let on_signal = handle.clone();
    let grace = args.shutdown_timeout;
    let signals = AtomicUsize::new(0);
    ctrlc::set_handler(move || {
        if signals.fetch_add(1, Ordering::AcqRel) == 0 {
            eprintln!(
                "shutting down: draining connections for up to {}; signal again to exit at once",
                humantime::format_duration(grace)
            );
            on_signal.shutdown();
        } else {
            eprintln!("second signal: exiting without waiting for connections");
            std::process::exit(FORCED_EXIT);
        }
    })?;
    server.run()?;
    log::info!("{:?}", handle.stats());
    Ok(())
}

/// For the examples' loopback tests: a server with `factory`'s handlers on
/// 127.0.0.1, any free port, one worker, and a client connected to it with a
/// 10 s read timeout (an upper bound on failure, never a synchronisation).
#[cfg(test)]
pub fn loopback<F, H>(factory: F) -> (netecho::ServerHandle, std::net::TcpStream)
where
    F: Fn() -> H + Send + Sync + 'static,
    H: Handler + 'static,
{
    let server = TcpServer::builder()
        .host([127, 0, 0, 1])
        .port(0)
        .workers(1)
        .handler(factory)
        .spawn()
        .expect("start the example's server");
    let client = std::net::TcpStream::connect(server.local_addr()).expect("connect");
    client
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("set a read timeout");
    (server, client)
}

/// The default cap on a line's length, in bytes, line ending not counted.
pub const DEFAULT_MAX_LINE: usize = 1024;

/// The error line written before closing a connection that sent a line over
/// the cap.
pub fn too_long_message(max: usize) -> String {
    format!("ERROR line too long (max {max} bytes)\n")
}
