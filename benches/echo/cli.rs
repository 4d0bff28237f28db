//! Command line of the bench binary.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use crate::servers::ServerKind;

#[derive(Debug, Parser)]
#[command(
    about = "Echo server benchmark: this crate against tokio, thread-per-connection and bare mio"
)]
pub struct Args {
    /// CI smoke run: short windows, one round, 1,000 idle connections; about a minute.
    #[arg(long)]
    pub quick: bool,
    /// Rounds per server and scenario; figures are the median (default 3, quick 1).
    #[arg(long)]
    pub rounds: Option<usize>,
    /// Measured window per run, e.g. `5s` (default 5s, quick 1s).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub duration: Option<Duration>,
    /// Warm-up before each measured window (default 1s, quick 250ms).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub warmup: Option<Duration>,
    /// Servers to run, comma-separated (if no tokio variant is named, all three are added:
    /// the ratios are to the strongest).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub servers: Vec<ServerKind>,
    /// Scenarios to run, comma-separated names (see the table) or prefixes.
    #[arg(long, value_delimiter = ',')]
    pub scenarios: Vec<String>,
    /// Worker threads for the servers that take a count (default: CPUs); `netecho-1`
    /// keeps its one worker.
    #[arg(long)]
    pub workers: Option<usize>,
    /// Client shapes: event-loop threads of the load generator, comma-separated. Each
    /// ping-pong scenario runs once per shape (named `<scenario>/c<threads>`), the others
    /// with the first (default: 1,2; quick: 1).
    #[arg(long, value_delimiter = ',')]
    pub client_threads: Vec<usize>,
    /// Also write the SVG chart here (e.g. into docs/).
    #[arg(long)]
    pub svg_out: Option<PathBuf>,
    /// Print each server's pid when its measured window starts, for `strace -c -f -p PID`.
    #[arg(long)]
    pub show_pids: bool,
    /// Count the server's syscalls with `strace -c -f` during each measured window
    /// (slows the server down a lot: use for syscall counts, not for speed).
    #[arg(long)]
    pub strace: bool,
    /// Run as a server child (internal).
    #[arg(long, hide = true)]
    pub serve: Option<ServerKind>,
    /// The server child listens on this Unix socket file instead of TCP (internal).
    #[arg(long, hide = true, requires = "serve")]
    pub unix: Option<PathBuf>,
    /// The server child serves UDP on 127.0.0.1 instead of TCP (internal).
    #[arg(long, hide = true, requires = "serve")]
    pub udp: bool,
    /// The server child's TLS certificate file (internal).
    #[arg(long, hide = true, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The server child's TLS key file (internal).
    #[arg(long, hide = true)]
    pub tls_key: Option<PathBuf>,
    /// Passed by `cargo bench`; without it (as under `cargo test`) only a smoke check runs.
    #[arg(long, hide = true)]
    pub bench: bool,
}
