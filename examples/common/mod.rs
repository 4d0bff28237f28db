//! What the "classic services" examples share: the command-line flags of the
//! server (as `examples/echo.rs` has them), building and running the server
//! with signal handling, and the line cap and error line of the line-based
//! protocols.
//!
//! Each example uses it with `mod common;`; not every example uses every item.
#![allow(dead_code)]

use std::error::Error;
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use netecho::{Cidr, Handler, Listener, ProxyProtocol, ServerHandle, TcpServer};

/// What one `--bind` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bind {
    /// `HOST:PORT` or `[V6]:PORT`.
    Tcp(SocketAddr),
    /// `unix:PATH`.
    Unix(std::path::PathBuf),
    /// `unix:@NAME` (Linux abstract name).
    Abstract(String),
    /// `udp:HOST:PORT` or `udp:[V6]:PORT` (examples with a datagram handler).
    Udp(SocketAddr),
    /// `tls:HOST:PORT` (needs --tls-cert and --tls-key).
    Tls(SocketAddr),
}

/// The TLS flags. Without the `tls` feature they exist (so `--help` shows
/// them) but fail, saying how to build with it.
#[derive(Debug, clap::Args)]
pub struct TlsArgs {
    /// The certificate chain (PEM) of the `tls:` binds, or of --host/--port
    /// when there is no --bind (needs the `tls` feature: `cargo run
    /// --features tls --example ...`).
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
    /// The TLS configuration the flags describe, if any.
    #[cfg(feature = "tls")]
    fn config(&self) -> Result<Option<netecho::TlsConfig>, Box<dyn Error>> {
        let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) else {
            return Ok(None);
        };
        let mut tls = netecho::TlsConfig::from_pem_files(cert, key);
        if let Some(ca) = &self.tls_client_ca {
            tls = tls.client_ca_file(ca);
        }
        for proto in &self.alpn {
            tls = tls.alpn(proto.as_bytes());
        }
        Ok(Some(tls))
    }

    /// Without the `tls` feature, any TLS flag is an error that says so.
    #[cfg(not(feature = "tls"))]
    fn config(&self) -> Result<Option<std::convert::Infallible>, Box<dyn Error>> {
        if self.tls_cert.is_some() {
            return Err(NEEDS_TLS.into());
        }
        Ok(None)
    }
}

/// What a TLS flag or bind says without the `tls` feature.
const NEEDS_TLS: &str = "TLS needs the `tls` feature: build with `--features tls` (cargo run --features tls --example ...)";

/// A TCP listener that speaks TLS with `tls`.
#[cfg(feature = "tls")]
fn tls_listener(addr: SocketAddr, tls: &netecho::TlsConfig) -> Listener {
    Listener::tcp(addr).tls(tls.clone())
}

#[cfg(not(feature = "tls"))]
fn tls_listener(_: SocketAddr, never: &std::convert::Infallible) -> Listener {
    match *never {}
}

/// Parses a `--bind` value.
pub fn parse_bind(text: &str) -> Result<Bind, String> {
    if let Some(rest) = text.strip_prefix("unix:") {
        return match rest.strip_prefix('@') {
            Some("") => Err("unix:@ needs a name".into()),
            Some(name) => Ok(Bind::Abstract(name.to_owned())),
            None if rest.is_empty() => Err("unix: needs a path".into()),
            None => Ok(Bind::Unix(rest.into())),
        };
    }
    if let Some(rest) = text.strip_prefix("udp:") {
        return rest
            .parse::<SocketAddr>()
            .map(Bind::Udp)
            .map_err(|_| format!("`{rest}` is not HOST:PORT or [V6]:PORT"));
    }
    if let Some(rest) = text.strip_prefix("tls:") {
        return rest
            .parse::<SocketAddr>()
            .map(Bind::Tls)
            .map_err(|_| format!("`{text}` is not tls:HOST:PORT or tls:[V6]:PORT"));
    }
    text.parse::<SocketAddr>()
        .map(Bind::Tcp)
        .map_err(|_| format!("`{text}` is not HOST:PORT, [V6]:PORT, unix:PATH or unix:@NAME"))
}

fn parse_mode(text: &str) -> Result<u32, String> {
    u32::from_str_radix(text.trim_start_matches("0o"), 8)
        .ok()
        .filter(|m| *m <= 0o777)
        .ok_or_else(|| format!("`{text}` is not an octal mode such as 660"))
}

/// The server's flags, flattened into each example's own `Args`.
#[derive(Debug, clap::Args)]
pub struct ServerArgs {
    /// Where to listen, repeatable: `HOST:PORT`, `[V6]:PORT`, `unix:PATH`,
    /// `unix:@NAME`, `udp:HOST:PORT` (echo only), `tls:HOST:PORT` (with
    /// --tls-cert and --tls-key); replaces --host and --port. Under systemd socket
    /// activation (LISTEN_FDS) the handed-in sockets are served instead.
    #[arg(long = "bind", value_name = "ADDR", value_parser = parse_bind)]
    pub binds: Vec<Bind>,
    /// Permissions of the socket files of `unix:PATH` binds, in octal (e.g. 660).
    #[arg(long, value_name = "OCTAL", value_parser = parse_mode)]
    pub unix_mode: Option<u32>,
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
    /// Require a PROXY protocol header (v1 or v2, from a load balancer) on
    /// every TCP listener: the handler sees the client's address from it.
    #[arg(long)]
    pub proxy_protocol: bool,
    /// A network whose peers may send PROXY headers, repeatable, e.g.
    /// `10.0.0.0/8`; others are closed [default: every peer may].
    #[arg(long, value_name = "CIDR", requires = "proxy_protocol")]
    pub proxy_trust: Vec<Cidr>,
    /// After an upgrade in place (SIGUSR2), how long the old process lets its
    /// connections finish before it closes them, e.g. `60s`.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    pub drain_timeout: Duration,
    #[command(flatten)]
    pub udp: UdpArgs,
    #[command(flatten)]
    pub tls: TlsArgs,
}

impl ServerArgs {
    /// The PROXY protocol settings the flags ask for, if any.
    pub fn proxy(&self) -> Option<ProxyProtocol> {
        self.proxy_protocol.then(|| {
            self.proxy_trust
                .iter()
                .fold(ProxyProtocol::required(), |p, net| p.trust(*net))
        })
    }

    /// `listener` with the PROXY protocol if asked (TCP listeners only).
    fn with_proxy(&self, listener: Listener) -> Listener {
        match self.proxy() {
            Some(proxy) if !listener.is_unix() => listener.proxy_protocol(proxy),
            _ => listener,
        }
    }
}

/// The flags of `udp:` binds.
#[derive(Debug, clap::Args)]
pub struct UdpArgs {
    /// Which datagrams UDP binds drop instead of answering: `standard` (safe
    /// to expose: bad sources, ports 0-1023 and known reflectors, our own
    /// port, rates), `strict` (rates ten times lower, loopback included) or
    /// `off` (answer everything: a lab or a benchmark only).
    #[arg(long, value_enum, default_value_t = GuardArg::Standard)]
    pub udp_guard: GuardArg,
    /// Per-source rate of UDP binds, `PER_SECOND/BURST` (e.g. `100/200`) or
    /// `off` [default: the guard's].
    #[arg(long, value_name = "RATE", value_parser = parse_rate)]
    pub udp_rate: Option<Option<netecho::Rate>>,
    /// Global rate of each UDP bind, `PER_SECOND/BURST` or `off` [default:
    /// the guard's].
    #[arg(long, value_name = "RATE", value_parser = parse_rate)]
    pub udp_global_rate: Option<Option<netecho::Rate>>,
    /// Apply the UDP rates to loopback sources too (the standard guard
    /// exempts them).
    #[arg(long)]
    pub udp_limit_loopback: bool,
    /// Worker threads per UDP bind (more than one shares the port with
    /// SO_REUSEPORT).
    #[arg(long, default_value_t = 1)]
    pub udp_workers: usize,
}

/// The `--udp-guard` presets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GuardArg {
    Standard,
    Strict,
    Off,
}

impl UdpArgs {
    /// The guard policy these flags ask for.
    pub fn policy(&self) -> netecho::GuardPolicy {
        let mut policy = match self.udp_guard {
            GuardArg::Standard => netecho::GuardPolicy::default(),
            GuardArg::Strict => netecho::GuardPolicy::strict(),
            GuardArg::Off => netecho::GuardPolicy::off(),
        };
        if let Some(rate) = self.udp_rate {
            policy = policy.per_source_rate(rate);
        }
        if let Some(rate) = self.udp_global_rate {
            policy = policy.global_rate(rate);
        }
        if self.udp_limit_loopback {
            policy = policy.limit_loopback(true);
        }
        policy
    }
}

/// Parses `PER_SECOND/BURST` or `off`.
fn parse_rate(text: &str) -> Result<Option<netecho::Rate>, String> {
    if text == "off" {
        return Ok(None);
    }
    let bad = || format!("`{text}` is not PER_SECOND/BURST (e.g. 100/200) or off");
    let (rate, burst) = text.split_once('/').ok_or_else(bad)?;
    let rate = rate.parse().map_err(|_| bad())?;
    let burst = burst.parse().map_err(|_| bad())?;
    Ok(Some(netecho::Rate::new(rate, burst)))
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

/// Binds a server with `args` (on `default_port` unless `--port` or
/// `--bind` is given, or sockets are handed in by systemd) and the handler
/// `factory`, prints `listening on ADDR` for each listener, and serves until
/// SIGINT or SIGTERM, which shut it down gracefully (removing the socket
/// files it created); a second one exits at once with status
/// [`FORCED_EXIT`].
pub fn serve<F, H>(args: &ServerArgs, default_port: u16, factory: F) -> Result<(), Box<dyn Error>>
where
    F: Fn() -> H + Send + Sync + 'static,
    H: Handler + 'static,
{
    serve_with(
        args,
        default_port,
        factory,
        None::<fn() -> netecho::DatagramEcho>,
    )
}

/// [`serve`], with `udp:` binds served by `datagrams`' handlers (an example
/// without one refuses `udp:` binds). All listeners stop on the same signal.
pub fn serve_with<F, H, D, G>(
    args: &ServerArgs,
    default_port: u16,
    factory: F,
    datagrams: Option<D>,
) -> Result<(), Box<dyn Error>>
where
    F: Fn() -> H + Send + Sync + 'static,
    H: Handler + 'static,
    D: Fn() -> G + Send + Sync + Clone + 'static,
    G: netecho::DatagramHandler + 'static,
{
    init_logging();
    let udp_binds: Vec<SocketAddr> = args
        .binds
        .iter()
        .filter_map(|b| match b {
            Bind::Udp(addr) => Some(*addr),
            _ => None,
        })
        .collect();
    let mut udp_servers = Vec::new();
    if !udp_binds.is_empty() {
        let Some(datagrams) = datagrams else {
            return Err("`udp:` binds are not supported by this example".into());
        };
        for addr in &udp_binds {
            udp_servers.push(
                netecho::UdpServer::builder()
                    .addr(*addr)
                    .workers(args.udp.udp_workers)
                    .guard(args.udp.policy())
                    .handler(datagrams.clone())
                    .bind()?,
            );
        }
    }
    let tcp_binds = args
        .binds
        .iter()
        .filter(|b| !matches!(b, Bind::Udp(_)))
        .count();
    if tcp_binds == 0 && !udp_servers.is_empty() {
        return serve_udp_only(args, udp_servers);
    }
    let off_if_zero = |d: Duration| (!d.is_zero()).then_some(d);
    let mut builder = TcpServer::builder();
    let tls = args.tls.config()?;
    // Without --bind, whether --host/--port speak TLS.
    let mut default_tls = false;
    if std::env::var_os("LISTEN_FDS").is_some() {
        builder = add_handed_in(builder, args)?;
    } else if args.binds.is_empty() {
        let addr = SocketAddr::new(args.host, args.port.unwrap_or(default_port));
        match &tls {
            None => builder = builder.listener(args.with_proxy(Listener::tcp(addr))),
            #[allow(unreachable_patterns)]
            Some(tls) => {
                builder = builder.listener(args.with_proxy(tls_listener(addr, tls)));
                default_tls = true;
            }
        }
    } else {
        for bind in args.binds.iter().filter(|b| !matches!(b, Bind::Udp(_))) {
            let listener = match (bind, &tls) {
                (Bind::Tls(addr), Some(tls)) => tls_listener(*addr, tls),
                (Bind::Tls(_), None) if cfg!(feature = "tls") => {
                    return Err("`tls:` binds need --tls-cert and --tls-key".into());
                }
                (Bind::Tls(_), None) => return Err(NEEDS_TLS.into()),
                (bind, _) => listener(bind, args.unix_mode)?,
            };
            builder = builder.listener(args.with_proxy(listener));
        }
        if tls.is_some() && !args.binds.iter().any(|b| matches!(b, Bind::Tls(_))) {
            return Err("--tls-cert is for `tls:` binds, and there is none".into());
        }
    }
    builder = builder
        .reuse_port(args.reuse_port)
        .shutdown_timeout(args.shutdown_timeout)
        .max_connections(args.max_connections)
        .idle_timeout(off_if_zero(args.idle_timeout))
        .write_timeout(off_if_zero(args.write_timeout))
        .handler(factory);
    if let Some(workers) = args.workers {
        builder = builder.workers(workers);
    }
    let server = builder.bind()?;
    let scheme = if default_tls { "tls:" } else { "" };
    print_listening(
        args,
        server
            .local_addrs()
            .iter()
            .map(|addr| format!("{scheme}{addr}")),
        &udp_servers,
    );
    let udp_handles = spawn_udp(udp_servers)?;

    let handle = server.handle();
    let on_signal = handle.clone();
    let udp_on_signal = udp_handles.clone();
    let grace = args.shutdown_timeout;
    let signals = AtomicUsize::new(0);
    ctrlc::set_handler(move || {
        if signals.fetch_add(1, Ordering::AcqRel) == 0 {
            eprintln!(
                "shutting down: draining connections for up to {}; signal again to exit at once",
                humantime::format_duration(grace)
            );
            on_signal.shutdown();
            for udp in &udp_on_signal {
                udp.shutdown();
            }
        } else {
            eprintln!("second signal: exiting without waiting for connections");
            std::process::exit(FORCED_EXIT);
        }
    })?;
    #[cfg(unix)]
    upgrade_on_sigusr2(handle.clone(), args.drain_timeout)?;
    let served = server.run();
    for udp in &udp_handles {
        udp.shutdown();
    }
    for udp in &udp_handles {
        udp.join()?;
        log::info!("udp:{}: {:?}", udp.local_addr(), udp.stats());
    }
    served?;
    log::info!("{:?}", handle.stats());
    Ok(())
}

/// Prints `listening on ADDR` per listener in the order of `--bind` (the
/// TCP and Unix ones from `tcp`, in their order), `udp:ADDR` for UDP.
fn print_listening(
    args: &ServerArgs,
    mut tcp: impl Iterator<Item = String>,
    udp: &[netecho::UdpServer],
) {
    let mut udp = udp.iter();
    for bind in &args.binds {
        match bind {
            Bind::Udp(_) => {
                if let Some(server) = udp.next() {
                    println!("listening on udp:{}", server.local_addr());
                }
            }
            Bind::Tls(_) => {
                if let Some(addr) = tcp.next() {
                    println!("listening on tls:{addr}");
                }
            }
            _ => {
                if let Some(addr) = tcp.next() {
                    println!("listening on {addr}");
                }
            }
        }
    }
    // Without --bind (or under systemd), every TCP listener.
    for addr in tcp {
        println!("listening on {addr}");
    }
}

fn spawn_udp(
    servers: Vec<netecho::UdpServer>,
) -> Result<Vec<netecho::UdpServerHandle>, Box<dyn Error>> {
    let mut handles = Vec::with_capacity(servers.len());
    for server in servers {
        handles.push(server.spawn()?);
    }
    Ok(handles)
}

/// Serves `udp:` binds only, until SIGINT or SIGTERM.
fn serve_udp_only(
    args: &ServerArgs,
    servers: Vec<netecho::UdpServer>,
) -> Result<(), Box<dyn Error>> {
    print_listening(args, std::iter::empty(), &servers);
    let handles = spawn_udp(servers)?;
    let on_signal = handles.clone();
    ctrlc::set_handler(move || {
        eprintln!("shutting down");
        for udp in &on_signal {
            udp.shutdown();
        }
    })?;
    for udp in &handles {
        udp.join()?;
        log::info!("udp:{}: {:?}", udp.local_addr(), udp.stats());
    }
    Ok(())
}

/// On SIGUSR2 (nginx's signal for a binary upgrade): starts this program
/// again (its binary as it is on disk now) with the listening sockets,
/// prints `successor pid N` once the successor serves, lets the open
/// connections finish (up to `drain`), and stops. A failed upgrade is
/// reported on stderr and the server serves on.
#[cfg(unix)]
fn upgrade_on_sigusr2(handle: ServerHandle, drain: Duration) -> Result<(), Box<dyn Error>> {
    let mut signals = signal_hook::iterator::Signals::new([signal_hook::consts::SIGUSR2])?;
    std::thread::Builder::new()
        .name("upgrade".into())
        .spawn(move || {
            for _ in signals.forever() {
                match upgrade(&handle, drain) {
                    Ok(()) => return,
                    Err(e) => {
                        use std::io::Write;
                        let _ = writeln!(std::io::stderr(), "upgrade failed, serving on: {e}");
                    }
                }
            }
        })?;
    Ok(())
}

#[cfg(all(unix, feature = "systemd"))]
fn upgrade(handle: &ServerHandle, drain: Duration) -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| format!("no path to this program: {e}"))?;
    // Linux names a replaced binary `PATH (deleted)`: run the new one.
    let exe = match exe.to_str().and_then(|p| p.strip_suffix(" (deleted)")) {
        Some(path) => std::path::PathBuf::from(path),
        None => exe,
    };
    let mut command = std::process::Command::new(exe);
    command.args(std::env::args_os().skip(1));
    let child = handle
        .upgrade(command, Duration::from_secs(30))
        .map_err(|e| e.report().to_string())?;
    // Not println!/eprintln!: they panic once the pipe is gone, and this
    // thread must go on to drain and stop whoever reads.
    use std::io::Write;
    let _ = writeln!(std::io::stdout(), "successor pid {}", child.id());
    let _ = writeln!(
        std::io::stderr(),
        "upgraded: draining connections for up to {}",
        humantime::format_duration(drain)
    );
    let drained = handle.drain(std::time::Instant::now() + drain);
    log::info!("drained: {drained:?}");
    handle.shutdown();
    Ok(())
}

#[cfg(all(unix, not(feature = "systemd")))]
fn upgrade(_handle: &ServerHandle, _drain: Duration) -> Result<(), String> {
    Err("upgrading in place needs a build with `--features systemd`".into())
}

/// The listener for one `--bind`.
fn listener(bind: &Bind, unix_mode: Option<u32>) -> Result<Listener, Box<dyn Error>> {
    Ok(match bind {
        Bind::Tcp(addr) => Listener::tcp(*addr),
        #[cfg(unix)]
        Bind::Unix(path) => match unix_mode {
            Some(mode) => Listener::unix(path).mode(mode),
            None => Listener::unix(path),
        },
        #[cfg(unix)]
        Bind::Abstract(name) => Listener::unix_abstract(name),
        Bind::Udp(_) => return Err("a udp: bind is not a stream listener".into()),
        Bind::Tls(_) => return Err(NEEDS_TLS.into()),
        #[cfg(not(unix))]
        _ => return Err("Unix sockets need a Unix system".into()),
    })
}

/// Serves the sockets systemd handed in, and tells it when ready.
#[cfg(all(unix, feature = "systemd"))]
fn add_handed_in(
    mut builder: netecho::TcpServerBuilder,
    args: &ServerArgs,
) -> Result<netecho::TcpServerBuilder, Box<dyn Error>> {
    for (_name, listener) in netecho::systemd::listeners()? {
        builder = builder.listener(args.with_proxy(listener));
    }
    Ok(builder.systemd_notify(true))
}

#[cfg(not(all(unix, feature = "systemd")))]
fn add_handed_in(
    _builder: netecho::TcpServerBuilder,
    _args: &ServerArgs,
) -> Result<netecho::TcpServerBuilder, Box<dyn Error>> {
    Err(
        "LISTEN_FDS is set but this build has no systemd support: build with `--features systemd`"
            .into(),
    )
}

/// For the examples' loopback tests: a server with `factory`'s handlers on
/// 127.0.0.1, any free port, one worker, and a client connected to it with
/// 10 s connect, read and write timeouts (an upper bound on failure, never a
/// synchronisation), so that no test blocks forever.
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
    let timeout = Duration::from_secs(10);
    let client =
        std::net::TcpStream::connect_timeout(&server.local_addr(), timeout).expect("connect");
    client
        .set_read_timeout(Some(timeout))
        .expect("set a read timeout");
    client
        .set_write_timeout(Some(timeout))
        .expect("set a write timeout");
    (server, client)
}

/// The default cap on a line's length, in bytes, line ending not counted.
pub const DEFAULT_MAX_LINE: usize = 1024;

/// The error line written before closing a connection that sent a line over
/// the cap.
pub fn too_long_message(max: usize) -> String {
    format!("ERROR line too long (max {max} bytes)\n")
}
