//! The baseline servers of netecho's echo benchmark, one per process.
//!
//! ```text
//! netecho-bench-servers SERVER WORKERS
//! ```
//!
//! `SERVER` is one of `tokio`, `tokio-64k`, `tokio-copy`, `threads`, `mio`; `WORKERS` is
//! the worker-thread count for the servers that take one. The server binds `127.0.0.1:0`
//! on a listener with `TCP_NODELAY` set (see `listener.rs`), prints its address as the
//! first line on stdout, and serves until it is killed. It also exits when its stdin
//! closes, so no server outlives the benchmark even if the benchmark is killed.
//!
//! `cargo bench --bench echo` builds this package with `cargo build --release -p
//! netecho-bench-servers` and starts it once per measured run; it is not meant to be run
//! by hand, though it can be (type Ctrl-D to stop it).

mod listener;
mod mio_echo;
mod threads;
mod tokio_echo;

use std::env;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::thread;

/// A server's entry point: serve with this many workers, announcing the bound address.
type Run = fn(usize, &mut dyn FnMut(SocketAddr)) -> Result<(), String>;

const USAGE: &str =
    "usage: netecho-bench-servers <tokio|tokio-64k|tokio-copy|threads|mio> <workers>";

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let (name, workers) = match args.as_slice() {
        [name, workers] => match workers.parse::<usize>() {
            Ok(n) if n > 0 => (name.as_str(), n),
            _ => {
                eprintln!("{USAGE}\nworkers must be a positive number, not {workers:?}");
                return ExitCode::FAILURE;
            }
        },
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::FAILURE;
        }
    };
    let run: Run = match name {
        "tokio" => |w, a| tokio_echo::run(w, tokio_echo::Style::Read(4096), a),
        "tokio-64k" => |w, a| tokio_echo::run(w, tokio_echo::Style::Read(64 * 1024), a),
        "tokio-copy" => |w, a| tokio_echo::run(w, tokio_echo::Style::Copy, a),
        "threads" => threads::run,
        "mio" => mio_echo::run,
        _ => {
            eprintln!("{USAGE}\nunknown server {name:?}");
            return ExitCode::FAILURE;
        }
    };
    let watchdog = thread::Builder::new()
        .name("stdin-watchdog".into())
        .spawn(|| {
            let mut sink = [0u8; 64];
            while matches!(io::stdin().read(&mut sink), Ok(n) if n > 0) {}
            std::process::exit(0);
        });
    if let Err(e) = watchdog {
        eprintln!("{name}: cannot start the stdin watchdog: {e}");
        return ExitCode::FAILURE;
    }
    let mut announce = |addr: SocketAddr| {
        let mut out = io::stdout().lock();
        let _ = writeln!(out, "{addr}");
        let _ = out.flush();
    };
    match run(workers, &mut announce) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{name}: {e}");
            ExitCode::FAILURE
        }
    }
}
