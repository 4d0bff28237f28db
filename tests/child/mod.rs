//! A server in a child process, for scenarios that change process-wide
//! state (the descriptor limit, SIGPIPE's disposition) or whose memory and
//! CPU must be the server's alone.
//!
//! The test binary runs itself again with [`CHILD_ENV`] set, selecting the
//! ignored `child_server` test of the same file, which calls [`serve`]. The
//! child prints `addr <ADDR>` and then answers one line per command read on
//! its standard input: `stats` (the server's counters, RSS and open
//! descriptors as `key=value` pairs) and `quit`. Every exchange is a read, so
//! the parent never sleeps to synchronise.
#![allow(dead_code)]

use std::collections::HashMap;
use std::error::Error;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use netecho::TcpServer;

use crate::util::TIMEOUT;

/// Names the child's options: `key=value` pairs separated by commas.
pub const CHILD_ENV: &str = "ECHO_SERVER_TEST_CHILD";

/// The server side: run in the child, configured from [`CHILD_ENV`].
pub fn serve() -> Result<(), Box<dyn Error>> {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return Ok(());
    };
    let opts: HashMap<&str, &str> = spec
        .split(',')
        .filter_map(|kv| kv.split_once('='))
        .collect();
    let get = |k: &str| opts.get(k).and_then(|v| v.parse::<u64>().ok());
    if opts.contains_key("log") {
        env_logger::Builder::new()
            .filter_level(log::LevelFilter::Warn)
            .target(env_logger::Target::Stderr)
            .init();
    }
    if opts.get("sigpipe") == Some(&"default") {
        // Leave SIGPIPE as a C host would: at its default, which kills the
        // process. Rust's runtime ignores it before main; undo that.
        // SAFETY: setting a signal disposition to SIG_DFL has no
        // preconditions; no handler runs.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    if let Some(nofile) = get("nofile") {
        let (_, hard) = rlimit::Resource::NOFILE.get()?;
        rlimit::Resource::NOFILE.set(nofile.min(hard), hard)?;
    }
    let mut builder = TcpServer::builder().port(0);
    if let Some(n) = get("workers") {
        builder = builder.workers(n as usize);
    }
    if let Some(n) = get("max_connections") {
        builder = builder.max_connections(n as usize);
    }
    let server = builder.spawn()?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "addr {}", server.local_addr())?;
    out.flush()?;
    for line in std::io::stdin().lock().lines() {
        match line?.trim() {
            "stats" => {
                let s = server.stats();
                writeln!(
                    out,
                    "accepted={} active={} closed={} accept_errors={} handler_panics={} buffered_bytes={} rss_kib={} fds={} sigpipe_ignored={}",
                    s.accepted,
                    s.active,
                    s.closed,
                    s.accept_errors,
                    s.handler_panics,
                    s.buffered_bytes,
                    // Out of descriptors these cannot be read: report 0.
                    rss_kib(std::process::id()).unwrap_or(0),
                    open_fds().unwrap_or(0),
                    u8::from(sigpipe_ignored().unwrap_or(true)),
                )?;
                out.flush()?;
            }
            _ => break,
        }
    }
    server.shutdown();
    server.join()?;
    Ok(())
}

/// The resident set size of process `pid`, in KiB.
pub fn rss_kib(pid: u32) -> std::io::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    Ok(status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0))
}

/// User plus system CPU time of process `pid`, in clock ticks.
pub fn cpu_ticks(pid: u32) -> std::io::Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name, which is in parentheses.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0);
    let stime: u64 = fields.get(12).and_then(|v| v.parse().ok()).unwrap_or(0);
    Ok(utime + stime)
}

/// Whether this process ignores SIGPIPE (bit 13 of `SigIgn`).
fn sigpipe_ignored() -> Option<bool> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let mask = status.lines().find_map(|l| l.strip_prefix("SigIgn:"))?;
    let mask = u64::from_str_radix(mask.trim(), 16).ok()?;
    Some(mask & (1 << (libc::SIGPIPE - 1)) != 0)
}

fn open_fds() -> std::io::Result<usize> {
    Ok(std::fs::read_dir("/proc/self/fd")?.count())
}

/// The parent's view of a server running in a child process.
///
/// Every wait on the child is bounded by [`TIMEOUT`]: its standard output is
/// read by a thread that passes the lines on through a channel, read with a
/// timeout. Writes to its standard input cannot block: each command waits
/// for its answer, so the pipe never holds more than one short line.
pub struct ChildServer {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
    pub addr: SocketAddr,
}

impl ChildServer {
    /// Starts the `child_server` test of this binary with `spec` (see
    /// [`CHILD_ENV`]) and waits for its address.
    pub fn start(spec: &str) -> Result<Self, Box<dyn Error>> {
        let mut child = Command::new(std::env::current_exe()?)
            .args(["--ignored", "--exact", "child_server", "--nocapture", "-q"])
            .env(CHILD_ENV, spec)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(if spec.contains("log=") {
                Stdio::piped()
            } else {
                Stdio::inherit()
            })
            .spawn()?;
        let stdin = child.stdin.take().ok_or("no stdin")?;
        let stdout = BufReader::new(child.stdout.take().ok_or("no stdout")?);
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut server = ChildServer {
            child,
            stdin,
            lines,
            addr: SocketAddr::from(([0, 0, 0, 0], 0)),
        };
        let addr = server.next_line_with("addr ")?;
        server.addr = addr.trim().parse()?;
        Ok(server)
    }

    /// The rest of the child's next output line that starts with `prefix`,
    /// waiting at most [`TIMEOUT`] in all.
    fn next_line_with(&mut self, prefix: &str) -> Result<String, Box<dyn Error>> {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(rest) = line.trim().strip_prefix(prefix) {
                        return Ok(rest.to_owned());
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    return Err(format!("no line {prefix:?} from the child in {TIMEOUT:?}").into());
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(format!("child server exited before a line {prefix:?}").into());
                }
            }
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The child's standard error, when started with `log=1`.
    pub fn take_stderr(&mut self) -> Option<std::process::ChildStderr> {
        self.child.stderr.take()
    }

    /// Asks the child for its counters.
    pub fn stats(&mut self) -> Result<HashMap<String, u64>, Box<dyn Error>> {
        writeln!(self.stdin, "stats")?;
        self.stdin.flush()?;
        let line = self.next_line_with("accepted=")?;
        Ok(format!("accepted={line}")
            .split_whitespace()
            .filter_map(|kv| kv.split_once('='))
            .filter_map(|(k, v)| Some((k.to_owned(), v.parse().ok()?)))
            .collect())
    }

    /// Asks the child for its counters until `done` holds for them, at most
    /// `tries` times (each a round trip to the child, no sleep between).
    pub fn stats_until(
        &mut self,
        tries: usize,
        done: impl Fn(&HashMap<String, u64>) -> bool,
    ) -> Result<HashMap<String, u64>, Box<dyn Error>> {
        let mut last = HashMap::new();
        for _ in 0..tries {
            last = self.stats()?;
            if done(&last) {
                return Ok(last);
            }
            std::thread::yield_now();
        }
        Err(format!("condition not reached; last stats {last:?}").into())
    }

    /// Shuts the child's server down and waits for it to exit successfully.
    pub fn stop(mut self) -> Result<(), Box<dyn Error>> {
        writeln!(self.stdin, "quit")?;
        self.stdin.flush()?;
        // The child's stdout reaches EOF when it exits, which ends the
        // reading thread and so disconnects the channel.
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(_) => {}
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => {
                    return Err("child server did not exit in time".into());
                }
            }
        }
        let status = self.child.wait()?;
        if !status.success() {
            return Err(format!("child server exited with {status}").into());
        }
        Ok(())
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
