//! Starting a server in its own process, and making sure it is killed and reaped on every
//! path. A Unix-socket server gets a fresh temporary directory for its socket file, removed
//! after the server is killed.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use tempfile::TempDir;

use crate::client::Target;
use crate::scenarios::Transport;
use crate::servers::ServerKind;

/// How long a child may take to print its address.
const STARTUP: Duration = Duration::from_secs(10);

/// A running server child; dropping it kills and reaps the process.
#[derive(Debug)]
pub struct ServerProcess {
    child: Child,
    /// Kept open: the child exits when it closes.
    _stdin: Option<ChildStdin>,
    pub pid: u32,
    /// Where the server listens.
    pub target: Target,
    /// The socket file's directory, if any: removed when this is dropped, after the child.
    _dir: Option<TempDir>,
}

impl ServerProcess {
    /// Starts `kind` (a baseline from the `baselines` binary) listening over `transport`
    /// and waits for its address.
    pub fn spawn(
        kind: ServerKind,
        workers: usize,
        baselines: Option<&Path>,
        transport: Transport,
        tls: Option<(&Path, &Path)>,
    ) -> Result<ServerProcess, String> {
        let dir = match transport {
            Transport::Tcp => None,
            Transport::Unix => Some(
                tempfile::Builder::new()
                    .prefix("echo-bench-")
                    .tempdir()
                    .map_err(|e| format!("cannot make a directory for the socket file: {e}"))?,
            ),
        };
        let socket = dir
            .as_ref()
            .map(|d| d.path().join(format!("{}.sock", kind.name())));
        let mut child = kind
            .command(workers, baselines, socket.as_deref(), tls)?
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start {} server: {e}", kind.name()))?;
        let stdout = child.stdout.take();
        let mut proc = ServerProcess {
            pid: child.id(),
            _stdin: child.stdin.take(),
            child,
            target: Target::Tcp(SocketAddr::from(([127, 0, 0, 1], 0))),
            _dir: dir,
        };
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut line = String::new();
            if let Some(out) = stdout {
                let _ = BufReader::new(out).read_line(&mut line);
            }
            let _ = tx.send(line);
        });
        let line = rx
            .recv_timeout(STARTUP)
            .map_err(|_| format!("{} server did not report its address", kind.name()))?;
        let line = line.trim();
        let wrong = || {
            format!(
                "{} server printed {line:?} instead of its address",
                kind.name()
            )
        };
        proc.target = match socket {
            Some(path) => {
                let target = Target::Unix(path);
                if line != target.to_string() {
                    return Err(wrong());
                }
                target
            }
            None => {
                let addr: SocketAddr = line.parse().map_err(|_| wrong())?;
                if !addr.ip().is_loopback() {
                    return Err(format!("{} server bound {addr}, not loopback", kind.name()));
                }
                Target::Tcp(addr)
            }
        };
        Ok(proc)
    }

    /// Error if the child has exited.
    pub fn check_alive(&mut self) -> Result<(), String> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(format!("server exited: {status}")),
            Err(e) => Err(format!("cannot check the server: {e}")),
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
