//! An RFC 862 echo server: `cargo run --example echo`, then `nc 127.0.0.1 7007`.
//!
//! `--bind` (repeatable) listens elsewhere: `--bind [::1]:7007 --bind
//! unix:/tmp/echo.sock --unix-mode 660`, then `nc -U /tmp/echo.sock`. Under
//! systemd socket activation (built with `--features systemd`) it serves the
//! sockets handed in: `systemd-socket-activate -l 7007 target/debug/examples/echo`.
//!
//! SIGINT (Ctrl-C) or SIGTERM shuts it down gracefully; it exits 0 and logs
//! the server's statistics at info. `RUST_LOG=debug` shows connections
//! opening and closing.
//!
//! The fault flags (`--latency`, `--reset-after`, ...: see `--help`) make it
//! misbehave on purpose, reproducibly, for testing clients, e.g.
//! `cargo run --example echo -- --latency 200ms --slice 4 --slice-delay 50ms`.

mod common;
#[path = "common/faults.rs"]
mod faults;

use clap::Parser;
use netecho::Echo;

/// An RFC 862 echo server.
#[derive(Debug, Parser)]
#[command(version, about = "An RFC 862 echo server")]
struct Args {
    #[command(flatten)]
    server: common::ServerArgs,
    #[command(flatten)]
    faults: faults::FaultArgs,
}

fn main() -> std::process::ExitCode {
    common::exit(run())
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    match args.faults.faults() {
        Some(faults) => common::serve(&args.server, 7007, faults.factory(|| Echo)),
        None => common::serve(&args.server, 7007, || Echo),
    }
}
