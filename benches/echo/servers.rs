//! The servers under test, how each is started, and the child-process side of `--serve`.
//!
//! netecho runs in this bench binary re-executed with `--serve netecho`; the baselines run
//! in the `netecho-bench-servers` binary (`bench/servers/`, built by [`crate::baselines`]).
//! Each server binds `127.0.0.1:0` (or, given `--unix PATH`, a Unix socket file at
//! `PATH`), prints its address (`unix:PATH`) as the first line on stdout, and serves until
//! it is killed. It also exits when its stdin closes, so no server outlives
//! the bench process even if the bench is killed.

#[path = "servers/ours.rs"]
mod ours;

use std::env;
use std::io::{self, Read, Write};
use std::path::Path;
use std::process::{Command, ExitCode};
use std::thread;

use clap::ValueEnum;

use crate::scenarios::Scenario;

/// A server implementation, by its `--servers` name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub enum ServerKind {
    /// This crate.
    #[value(name = "netecho")]
    EchoServer,
    /// Tokio, task per connection, `read` into 4 KiB then `write_all`.
    #[value(name = "tokio")]
    Tokio,
    /// The same with a 64 KiB buffer per connection.
    #[value(name = "tokio-64k")]
    Tokio64k,
    /// Tokio, task per connection, `split` and `tokio::io::copy` (8 KiB).
    #[value(name = "tokio-copy")]
    TokioCopy,
    /// std, thread per connection.
    #[value(name = "threads")]
    Threads,
    /// Bare single-threaded mio loop.
    #[value(name = "mio")]
    Mio,
    /// Tokio + tokio-rustls, as tokio-rustls' example server: `accept`, `split`, `copy`
    /// (TLS scenarios only).
    #[value(name = "tokio-rustls")]
    TokioRustls,
}

impl ServerKind {
    pub const ALL: [ServerKind; 7] = [
        ServerKind::EchoServer,
        ServerKind::Tokio,
        ServerKind::Tokio64k,
        ServerKind::TokioCopy,
        ServerKind::Threads,
        ServerKind::Mio,
        ServerKind::TokioRustls,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ServerKind::EchoServer => "netecho",
            ServerKind::Tokio => "tokio",
            ServerKind::Tokio64k => "tokio-64k",
            ServerKind::TokioCopy => "tokio-copy",
            ServerKind::Threads => "threads",
            ServerKind::Mio => "mio",
            ServerKind::TokioRustls => "tokio-rustls",
        }
    }

    /// Runs `sc`: TLS scenarios need a server that speaks TLS, the others one that
    /// does not have to.
    pub fn serves(self, sc: &Scenario) -> bool {
        match self {
            ServerKind::EchoServer => true,
            ServerKind::TokioRustls => sc.tls,
            _ => !sc.tls,
        }
    }

    /// A tokio variant: the ratios are to the strongest of those measured.
    pub fn is_tokio(self) -> bool {
        matches!(
            self,
            ServerKind::Tokio
                | ServerKind::Tokio64k
                | ServerKind::TokioCopy
                | ServerKind::TokioRustls
        )
    }

    /// Runs in the `netecho-bench-servers` binary rather than in this one.
    pub fn is_baseline(self) -> bool {
        self != ServerKind::EchoServer
    }

    /// The command that starts this server with `workers` workers, on TCP or, given
    /// `unix`, on that socket file; `baselines` is the `netecho-bench-servers` binary.
    pub fn command(
        self,
        workers: usize,
        baselines: Option<&Path>,
        unix: Option<&Path>,
        tls: Option<(&Path, &Path)>,
    ) -> Result<Command, String> {
        let workers = workers.to_string();
        let mut cmd = if self.is_baseline() {
            let exe = baselines.ok_or("the baseline servers were not built")?;
            let mut cmd = Command::new(exe);
            cmd.args([self.name(), &workers]);
            cmd
        } else {
            let exe = env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
            let mut cmd = Command::new(exe);
            cmd.args(["--serve", self.name(), "--workers", &workers]);
            cmd
        };
        if let Some(path) = unix {
            cmd.arg("--unix").arg(path);
        }
        if let Some((cert, key)) = tls {
            cmd.arg("--tls-cert").arg(cert).arg("--tls-key").arg(key);
        }
        Ok(cmd)
    }
}

/// Child-process entry point of `--serve`: run netecho until killed, on TCP or on the
/// Unix socket file `unix`.
pub fn serve(
    kind: ServerKind,
    workers: usize,
    unix: Option<&Path>,
    tls: Option<(&Path, &Path)>,
) -> ExitCode {
    if kind.is_baseline() {
        eprintln!(
            "--serve {}: the baselines run in the netecho-bench-servers binary",
            kind.name()
        );
        return ExitCode::FAILURE;
    }
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
    let mut announce = |addr: &str| {
        let mut out = io::stdout().lock();
        let _ = writeln!(out, "{addr}");
        let _ = out.flush();
    };
    match ours::run(workers, unix, tls, &mut announce) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{}: {e}", kind.name());
            ExitCode::FAILURE
        }
    }
}
