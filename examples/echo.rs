//! An RFC 862 echo server: `cargo run --example echo`, then `nc 127.0.0.1 7007`.
//!
//! SIGINT (Ctrl-C) or SIGTERM shuts it down gracefully; it exits 0.
//! `RUST_LOG=debug` shows connections opening and closing.

use std::net::IpAddr;
use std::time::Duration;

use clap::Parser;
use echo_server::TcpServer;

/// An RFC 862 echo server.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// IP address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// Port to listen on; 0 picks a free one (the real port is printed).
    #[arg(long, default_value_t = 7007)]
    port: u16,
    /// Worker threads [default: the number of CPUs].
    #[arg(long)]
    workers: Option<usize>,
    /// Set SO_REUSEPORT, so several servers can share the port.
    #[arg(long)]
    reuse_port: bool,
    /// How long a shutdown waits for connections to finish, e.g. `5s`.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    shutdown_timeout: Duration,
    /// Connections open at once; more wait in the kernel's backlog.
    #[arg(long, default_value_t = echo_server::DEFAULT_MAX_CONNECTIONS)]
    max_connections: usize,
    /// Close connections silent for this long, e.g. `5m`; `0s` turns it off.
    #[arg(long, default_value = "5m", value_parser = humantime::parse_duration)]
    idle_timeout: Duration,
    /// Close connections that read none of their pending output for this
    /// long, e.g. `30s`; `0s` turns it off.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    write_timeout: Duration,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    env_logger::init();
    let args = Args::parse();
    let off_if_zero = |d: Duration| (!d.is_zero()).then_some(d);

    let mut builder = TcpServer::builder()
        .host(args.host)
        .port(args.port)
        .reuse_port(args.reuse_port)
        .shutdown_timeout(args.shutdown_timeout)
        .max_connections(args.max_connections)
        .idle_timeout(off_if_zero(args.idle_timeout))
        .write_timeout(off_if_zero(args.write_timeout));
    if let Some(workers) = args.workers {
        builder = builder.workers(workers);
    }
    let server = builder.bind()?;
    println!("listening on {}", server.local_addr());

    let handle = server.handle();
    let on_signal = handle.clone();
    ctrlc::set_handler(move || on_signal.shutdown())?;
    server.run()?;
    log::info!("{:?}", handle.stats());
    Ok(())
}
