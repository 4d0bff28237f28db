//! The servers under test, and the child-process side of `--serve`.
//!
//! Each server binds `127.0.0.1:0`, prints its address as the first line on stdout, and
//! serves until it is killed. It also exits when its stdin closes, so no server outlives
//! the bench process even if the bench is killed.

#[path = "servers/mio_echo.rs"]
mod mio_echo;
#[path = "servers/ours.rs"]
mod ours;
#[path = "servers/threads.rs"]
mod threads;
#[path = "servers/tokio_echo.rs"]
mod tokio_echo;

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::thread;

use clap::ValueEnum;

/// A server implementation, by its `--servers` name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub enum ServerKind {
    /// This crate.
    #[value(name = "netecho")]
    EchoServer,
    /// Tokio, task per connection (the reference for ratios).
    Tokio,
    /// std, thread per connection.
    Threads,
    /// Bare single-threaded mio loop.
    Mio,
}

impl ServerKind {
    pub const ALL: [ServerKind; 4] = [
        ServerKind::EchoServer,
        ServerKind::Tokio,
        ServerKind::Threads,
        ServerKind::Mio,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ServerKind::EchoServer => "netecho",
            ServerKind::Tokio => "tokio",
            ServerKind::Threads => "threads",
            ServerKind::Mio => "mio",
        }
    }
}

/// Child-process entry point: run server `kind` until killed.
pub fn serve(kind: ServerKind, workers: usize) -> ExitCode {
    if let Err(e) = rlimit::increase_nofile_limit(u64::MAX) {
        eprintln!("{}: cannot raise the open-file limit: {e}", kind.name());
    }
    let watchdog = thread::Builder::new()
        .name("stdin-watchdog".into())
        .spawn(|| {
            let mut sink = [0u8; 64];
            while matches!(io::stdin().read(&mut sink), Ok(n) if n > 0) {}
            std::process::exit(0);
        });
    if let Err(e) = watchdog {
        eprintln!("{}: cannot start the stdin watchdog: {e}", kind.name());
        return ExitCode::FAILURE;
    }
    let mut announce = |addr: SocketAddr| {
        let mut out = io::stdout().lock();
        let _ = writeln!(out, "{addr}");
        let _ = out.flush();
    };
    let result = match kind {
        ServerKind::EchoServer => ours::run(workers, &mut announce),
        ServerKind::Tokio => tokio_echo::run(workers, &mut announce),
        ServerKind::Threads => threads::run(workers, &mut announce),
        ServerKind::Mio => mio_echo::run(workers, &mut announce),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{}: {e}", kind.name());
            ExitCode::FAILURE
        }
    }
}
