//! The servers under test, how each is started, and the child-process side of `--serve`.
//!
//! netecho runs in this bench binary re-executed with `--serve netecho`; the baselines run
//! in the `netecho-bench-servers` binary (`bench/servers/`, built by [`crate::baselines`]),
//! but for socat, the Debian package's binary. Each server binds `127.0.0.1:0` (or, given
//! `--unix PATH`, a Unix socket file at `PATH`; given `--udp`, a UDP socket), prints its
//! address (`unix:PATH`, `udp:ADDR`) as the first line on stdout, and serves until it is
//! killed. It also exits when its stdin closes, so no server outlives the bench process
//! even if the bench is killed. socat prints nothing and cannot bind port 0 and tell:
//! [`crate::child`] gives it a free port and asks it for an echo until it answers.

#[path = "servers/ours.rs"]
mod ours;

use std::env;
use std::io::{self, Read, Write};
use std::path::Path;
use std::process::{Command, ExitCode};
use std::thread;

use clap::ValueEnum;

use crate::scenarios::{Scenario, Transport};

/// A server implementation, by its `--servers` name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub enum ServerKind {
    /// This crate, default settings: a worker per CPU (or `--workers`).
    #[value(name = "netecho")]
    EchoServer,
    /// This crate with `workers(1)`: one event loop, as the bare mio loop has (stream
    /// scenarios only: a UDP listener has its own workers, the same in both).
    #[value(name = "netecho-1")]
    EchoServerOne,
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
    /// UDP: tokio's `echo-udp` example, with a 64 KiB buffer.
    #[value(name = "tokio-udp")]
    TokioUdp,
    /// UDP: `socat UDP4-RECVFROM:PORT,fork PIPE`, a process per datagram.
    #[value(name = "socat")]
    Socat,
    /// Tokio + tokio-rustls, as tokio-rustls' example server: `accept`, `split`, `copy`
    /// (TLS scenarios only).
    #[value(name = "tokio-rustls")]
    TokioRustls,
}

impl ServerKind {
    pub const ALL: [ServerKind; 10] = [
        ServerKind::EchoServer,
        ServerKind::EchoServerOne,
        ServerKind::Tokio,
        ServerKind::Tokio64k,
        ServerKind::TokioCopy,
        ServerKind::Threads,
        ServerKind::Mio,
        ServerKind::TokioUdp,
        ServerKind::Socat,
        ServerKind::TokioRustls,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ServerKind::EchoServer => "netecho",
            ServerKind::EchoServerOne => "netecho-1",
            ServerKind::Tokio => "tokio",
            ServerKind::Tokio64k => "tokio-64k",
            ServerKind::TokioCopy => "tokio-copy",
            ServerKind::Threads => "threads",
            ServerKind::Mio => "mio",
            ServerKind::TokioUdp => "tokio-udp",
            ServerKind::Socat => "socat",
            ServerKind::TokioRustls => "tokio-rustls",
        }
    }

    /// Runs `sc`: netecho runs them all, netecho-1 all but UDP (its one worker is a stream
    /// worker); TLS scenarios need a server that speaks TLS, UDP ones a UDP server, the
    /// others a stream server that does not have to speak TLS.
    pub fn serves(self, sc: &Scenario) -> bool {
        match self {
            ServerKind::EchoServer => true,
            ServerKind::EchoServerOne => sc.transport != Transport::Udp,
            ServerKind::TokioUdp | ServerKind::Socat => sc.transport == Transport::Udp,
            ServerKind::TokioRustls => sc.tls,
            _ => !sc.tls && sc.transport != Transport::Udp,
        }
    }

    /// A tokio variant: the ratios are to the strongest of those measured.
    pub fn is_tokio(self) -> bool {
        matches!(
            self,
            ServerKind::Tokio
                | ServerKind::Tokio64k
                | ServerKind::TokioCopy
                | ServerKind::TokioUdp
                | ServerKind::TokioRustls
        )
    }

    /// This crate, run in this bench binary (`--serve netecho`).
    pub fn is_ours(self) -> bool {
        matches!(self, ServerKind::EchoServer | ServerKind::EchoServerOne)
    }

    /// Runs in the `netecho-bench-servers` binary rather than in this one.
    pub fn is_baseline(self) -> bool {
        !self.is_ours() && self != ServerKind::Socat
    }

    /// The command that starts this server with `workers` workers (`netecho-1` with
    /// one), on TCP or, given
    /// `unix`, on that socket file, over TLS given `tls` (certificate and key files), or
    /// over UDP; `baselines` is the `netecho-bench-servers` binary; `udp_port` the free
    /// port socat is to take.
    pub fn command(
        self,
        workers: usize,
        baselines: Option<&Path>,
        unix: Option<&Path>,
        tls: Option<(&Path, &Path)>,
        transport: Transport,
        udp_port: u16,
    ) -> Result<Command, String> {
        if self == ServerKind::Socat {
            // As socat's manual gives a UDP server that answers any peer: UDP4-RECVFROM
            // with `fork`, "each arriving packet ... handled by its own sub process",
            // and PIPE, its echo. The other forms are not echoes: UDP4-LISTEN without
            // `fork` answers its first peer only, and with `fork` (a process per peer) its
            // PIPE, a byte stream, merges datagrams that queue in it into one reply.
            let mut cmd = Command::new("socat");
            cmd.arg(format!("UDP4-RECVFROM:{udp_port},bind=127.0.0.1,fork"));
            cmd.arg("PIPE");
            return Ok(cmd);
        }
        let workers = match self {
            ServerKind::EchoServerOne => 1,
            _ => workers,
        }
        .to_string();
        let mut cmd = if self.is_baseline() {
            let exe = baselines.ok_or("the baseline servers were not built")?;
            let mut cmd = Command::new(exe);
            cmd.args([self.name(), &workers]);
            cmd
        } else {
            let exe = env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
            let mut cmd = Command::new(exe);
            cmd.args(["--serve", "netecho", "--workers", &workers]);
            cmd
        };
        if let Some(path) = unix {
            cmd.arg("--unix").arg(path);
        }
        if let Some((cert, key)) = tls {
            cmd.arg("--tls-cert").arg(cert).arg("--tls-key").arg(key);
        }
        if transport == Transport::Udp && self.is_ours() {
            cmd.arg("--udp");
        }
        Ok(cmd)
    }
}

/// Whether `socat` runs here (`socat -V`).
pub fn socat_available() -> bool {
    Command::new("socat")
        .arg("-V")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Child-process entry point of `--serve`: run netecho until killed, on TCP (over TLS
/// given `tls`), on the Unix socket file `unix`, or over UDP.
pub fn serve(
    kind: ServerKind,
    workers: usize,
    unix: Option<&Path>,
    tls: Option<(&Path, &Path)>,
    udp: bool,
) -> ExitCode {
    if !kind.is_ours() {
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
    let workers = if kind == ServerKind::EchoServerOne {
        1
    } else {
        workers
    };
    match ours::run(workers, unix, tls, udp, &mut announce) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{}: {e}", kind.name());
            ExitCode::FAILURE
        }
    }
}
