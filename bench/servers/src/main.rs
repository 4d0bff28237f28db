//! The baseline servers of netecho's echo benchmark, one per process.
//!
//! ```text
//! netecho-bench-servers SERVER WORKERS [--unix PATH]
//! ```
//!
//! `SERVER` is one of `tokio`, `tokio-64k`, `tokio-copy`, `threads`, `mio`, `tokio-udp`
//! (a UDP echo on `127.0.0.1:0`); `WORKERS` is
//! the worker-thread count for the servers that take one. The server binds `127.0.0.1:0`
//! on a listener with `TCP_NODELAY` set (see `listener.rs`), or with `--unix PATH` a Unix
//! socket file at `PATH`, prints its address (`unix:PATH` for a socket file) as the first
//! line on stdout, and serves until it is killed. It also exits when its stdin
//! closes, so no server outlives the benchmark even if the benchmark is killed.
//!
//! `cargo bench --bench echo` builds this package with `cargo build --release -p
//! netecho-bench-servers` and starts it once per measured run; it is not meant to be run
//! by hand, though it can be (type Ctrl-D to stop it).

mod listener;
mod mio_echo;
mod threads;
mod tokio_echo;
mod tokio_rustls_echo;
mod tokio_udp;

use std::env;
use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::thread;

use listener::Bind;

/// A server's entry point: serve with this many workers where `bind` says, announcing
/// the bound address (a socket address, or `unix:PATH`).
type Run = fn(usize, &Bind, &mut dyn FnMut(&str)) -> Result<(), String>;

const USAGE: &str = "usage: netecho-bench-servers <tokio|tokio-64k|tokio-copy|threads|mio|tokio-udp> <workers> [--unix PATH]\n       netecho-bench-servers tokio-rustls <workers> --tls-cert CERT --tls-key KEY";

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let mut tls = None;
    let (name, workers, bind) = match args.as_slice() {
        [name, workers, rest @ ..] => {
            let bind = match rest {
                [] => Bind::Tcp,
                [flag, path] if flag == "--unix" => Bind::Unix(PathBuf::from(path)),
                [c, cert, k, key] if c == "--tls-cert" && k == "--tls-key" => {
                    tls = Some((cert.clone(), key.clone()));
                    Bind::Tcp
                }
                _ => {
                    eprintln!("{USAGE}");
                    return ExitCode::FAILURE;
                }
            };
            match workers.parse::<usize>() {
                Ok(n) if n > 0 => (name.as_str(), n, bind),
                _ => {
                    eprintln!("{USAGE}\nworkers must be a positive number, not {workers:?}");
                    return ExitCode::FAILURE;
                }
            }
        }
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::FAILURE;
        }
    };
    if name == "tokio-rustls" {
        let Some((cert, key)) = tls else {
            eprintln!("{USAGE}\ntokio-rustls needs --tls-cert and --tls-key");
            return ExitCode::FAILURE;
        };
        return serve(name, &mut |a| {
            tokio_rustls_echo::run(workers, &cert, &key, a)
        });
    }
    if tls.is_some() {
        eprintln!("{USAGE}\nonly tokio-rustls speaks TLS");
        return ExitCode::FAILURE;
    }
    let run: Run = match name {
        "tokio" => |w, b, a| tokio_echo::run(w, tokio_echo::Style::Read(4096), b, a),
        "tokio-64k" => |w, b, a| tokio_echo::run(w, tokio_echo::Style::Read(64 * 1024), b, a),
        "tokio-copy" => |w, b, a| tokio_echo::run(w, tokio_echo::Style::Copy, b, a),
        "threads" => threads::run,
        "mio" => mio_echo::run,
        "tokio-udp" => tokio_udp::run,
        _ => {
            eprintln!("{USAGE}\nunknown server {name:?}");
            return ExitCode::FAILURE;
        }
    };
    serve(name, &mut |a| run(workers, &bind, a))
}

/// A server's entry point as a closure: serve, announcing the bound address.
type Serve<'a> = &'a mut dyn FnMut(&mut dyn FnMut(&str)) -> Result<(), String>;

/// Runs a server with the stdin watchdog, announcing its address on stdout.
fn serve(name: &str, run: Serve<'_>) -> ExitCode {
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
    let mut announce = |addr: &str| {
        let mut out = io::stdout().lock();
        let _ = writeln!(out, "{addr}");
        let _ = out.flush();
    };
    match run(&mut announce) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{name}: {e}");
            ExitCode::FAILURE
        }
    }
}
