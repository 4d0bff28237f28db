//! Starting a server in its own process, and making sure it is killed and reaped on every
//! path. A Unix-socket server gets a fresh temporary directory for its socket file, removed
//! after the server is killed. socat, which forks a process per UDP peer, runs in a process
//! group of its own, killed whole.

use std::io::{self, BufRead, BufReader};
use std::net::{SocketAddr, UdpSocket};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

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
    /// Where the server listens (a UDP server's address too, as `Target::Tcp`).
    pub target: Target,
    /// The server's children are in its process group, to be killed with it.
    group: bool,
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
        if kind == ServerKind::Socat {
            return ServerProcess::spawn_socat(workers, transport);
        }
        let dir = match transport {
            Transport::Tcp | Transport::Udp => None,
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
            .command(workers, baselines, socket.as_deref(), tls, transport, 0)?
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
            group: false,
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
                // netecho prints a UDP listener as `udp:ADDR`, tokio-udp a bare address.
                let addr = match transport {
                    Transport::Udp => line.strip_prefix("udp:").unwrap_or(line),
                    _ => line,
                };
                let addr: SocketAddr = addr.parse().map_err(|_| wrong())?;
                if !addr.ip().is_loopback() {
                    return Err(format!("{} server bound {addr}, not loopback", kind.name()));
                }
                Target::Tcp(addr)
            }
        };
        Ok(proc)
    }

    /// Starts socat on a free UDP port of 127.0.0.1 (one the kernel just gave out and
    /// took back: socat cannot bind port 0 and tell) in a process group of its own, and
    /// waits until it echoes a probe.
    fn spawn_socat(workers: usize, transport: Transport) -> Result<ServerProcess, String> {
        if transport != Transport::Udp {
            return Err("socat is a UDP baseline here".into());
        }
        let port = UdpSocket::bind("127.0.0.1:0")
            .and_then(|s| s.local_addr())
            .map_err(|e| format!("cannot find a free UDP port: {e}"))?
            .port();
        let mut cmd: Command =
            ServerKind::Socat.command(workers, None, None, None, transport, port)?;
        let mut child = cmd
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start socat (apt-get install socat): {e}"))?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let proc = ServerProcess {
            pid: child.id(),
            _stdin: child.stdin.take(),
            child,
            target: Target::Tcp(addr),
            group: true,
            _dir: None,
        };
        probe_udp(addr).map_err(|e| format!("socat on {addr} did not echo a probe: {e}"))?;
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

/// Sends a datagram to `addr` every 100 ms until it comes back, for up to [`STARTUP`].
fn probe_udp(addr: SocketAddr) -> io::Result<()> {
    let socket = UdpSocket::bind("127.0.0.1:0")?;
    socket.connect(addr)?;
    socket.set_read_timeout(Some(Duration::from_millis(100)))?;
    let deadline = Instant::now() + STARTUP;
    let mut buf = [0; 16];
    loop {
        // Until socat has bound, the kernel answers with ECONNREFUSED: try again.
        let _ = socket.send(b"probe");
        match socket.recv(&mut buf) {
            Ok(n) if &buf[..n] == b"probe" => return Ok(()),
            Ok(_) => return Err(io::Error::other("a wrong reply")),
            Err(e) if Instant::now() >= deadline => return Err(e),
            Err(_) => thread::sleep(Duration::from_millis(20)),
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if self.group {
            // The whole group: socat and the child it forked per peer.
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", self.pid)])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
