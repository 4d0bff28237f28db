//! Upgrade in place (Unix, feature `systemd`): start a successor process
//! with this server's listening sockets and wait until it serves.
//!
//! The sockets cross `exec` as systemd's socket activation hands them over
//! (`LISTEN_FDS`, plus `LISTEN_FDS_FIRST_FD` for where they start, as the
//! `listenfd` crate reads it), so the successor takes them with
//! [`systemd::listeners`](crate::systemd::listeners); it says it serves
//! with `READY=1` on `NOTIFY_SOCKET`, as a `Type=notify` service does, which
//! [`TcpServerBuilder::systemd_notify`](crate::TcpServerBuilder::systemd_notify)
//! sends.
//!
//! # Implementation notes: descriptors without `unsafe`
//!
//! `std::process::Command` closes every descriptor but 0, 1 and 2 in the
//! child (they are all close-on-exec), and moving a descriptor to a chosen
//! number between `fork` and `exec` needs `pre_exec`, which is `unsafe`.
//! Instead, the parent makes the numbers itself before spawning: it
//! duplicates the sockets with `fcntl(F_DUPFD_CLOEXEC, min)` onto free,
//! consecutive numbers (retrying higher if another thread took one of them),
//! clears close-on-exec on those copies only (`fcntl(F_SETFD, 0)`), spawns,
//! and closes the copies. The child inherits exactly those descriptors, at
//! the numbers `LISTEN_FDS_FIRST_FD` names. `LISTEN_PID` (the child's pid,
//! unknown before `fork`) is left unset, which `listenfd` takes as "for this
//! process". Nothing else changes in the parent: its own descriptors keep
//! their numbers and flags.
//!
//! One caveat: a process another thread of the parent spawns while the
//! copies are inheritable inherits them too (it holds a reference to the
//! listening sockets until it exits or closes them).

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::sync::PoisonError;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::{AcqRel, Release};
use std::time::{Duration, Instant};

use crate::driver::Shared;
use crate::error::{Error, Result};

/// How often the wait for readiness checks whether the successor died.
const POLL: Duration = Duration::from_millis(20);
/// Tries at finding free consecutive descriptor numbers.
const ATTEMPTS: usize = 64;

/// Starts `command` with the server's listening sockets and waits (up to
/// `timeout`) for its `READY=1`.
pub(crate) fn start_successor(
    shared: &Shared,
    mut command: Command,
    timeout: Duration,
) -> Result<Child> {
    let fail = |what: &str| {
        let what = what.to_owned();
        move |source: io::Error| Error::Upgrade { what, source }
    };
    let (first, copies) = {
        let handover = shared
            .handover
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if handover.is_empty() {
            return Err(fail("no listening sockets to hand over")(io::Error::new(
                io::ErrorKind::NotConnected,
                "the server stopped listening",
            )));
        }
        consecutive(&handover).map_err(fail("failed to duplicate the listening sockets"))?
    };
    for fd in &copies {
        rustix::io::fcntl_setfd(fd, rustix::io::FdFlags::empty())
            .map_err(io::Error::from)
            .map_err(fail("failed to make the sockets inheritable"))?;
    }
    let notify = NotifySocket::new().map_err(fail("failed to create the readiness socket"))?;
    let names = vec!["netecho"; copies.len()].join(":");
    command
        .env("LISTEN_FDS", copies.len().to_string())
        .env("LISTEN_FDS_FIRST_FD", first.to_string())
        .env("LISTEN_FDNAMES", names)
        .env_remove("LISTEN_PID")
        .env("NOTIFY_SOCKET", &notify.path);
    let spawned = command.spawn();
    // The parent's copies: the child has its own now.
    drop(copies);
    let mut child = spawned.map_err(fail("failed to start the successor"))?;
    match notify.wait_ready(&mut child, timeout) {
        Ok(()) => {
            shared.handed_over.store(true, Release);
            log::info!("successor pid {} serves", child.id());
            Ok(child)
        }
        Err(e) => {
            let _ = child.kill();
            let _ = child.wait();
            Err(fail("the successor did not say it was ready")(e))
        }
    }
}

/// Copies of `fds`, close-on-exec, at consecutive numbers; returns the first.
fn consecutive(fds: &[OwnedFd]) -> io::Result<(i32, Vec<OwnedFd>)> {
    let mut min = 3;
    for _ in 0..ATTEMPTS {
        let mut copies = Vec::with_capacity(fds.len());
        let mut first = None;
        for fd in fds {
            let want = first.map_or(min, |f: i32| f + copies.len() as i32);
            let copy = rustix::io::fcntl_dupfd_cloexec(fd, want)?;
            let got = copy.as_raw_fd();
            copies.push(copy);
            if first.is_none() {
                first = Some(got);
            } else if got != want {
                // `want` was taken: start again above it (the copies made
                // so far close as `copies` drops).
                min = got;
                first = None;
                break;
            }
        }
        if let Some(first) = first {
            return Ok((first, copies));
        }
    }
    Err(io::Error::other("no room for consecutive descriptors"))
}

/// A datagram socket in a private directory, for the successor's `READY=1`.
struct NotifySocket {
    dir: PathBuf,
    path: PathBuf,
    socket: UnixDatagram,
}

impl NotifySocket {
    fn new() -> io::Result<Self> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "netecho-upgrade-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, AcqRel)
        ));
        // Only this user may send to it.
        std::fs::DirBuilder::new().mode(0o700).create(&dir)?;
        let path = dir.join("notify");
        let socket = match UnixDatagram::bind(&path) {
            Ok(socket) => socket,
            Err(e) => {
                let _ = std::fs::remove_dir(&dir);
                return Err(e);
            }
        };
        socket.set_read_timeout(Some(POLL))?;
        Ok(NotifySocket { dir, path, socket })
    }

    /// Waits for a datagram with `READY=1`; fails if the child exits or
    /// `timeout` passes first.
    fn wait_ready(&self, child: &mut Child, timeout: Duration) -> io::Result<()> {
        let deadline = Instant::now() + timeout;
        let mut buf = [0u8; 4096];
        loop {
            match self.socket.recv(&mut buf) {
                Ok(n) => {
                    let text = String::from_utf8_lossy(&buf[..n]);
                    if text.lines().any(|l| l == "READY=1") {
                        return Ok(());
                    }
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) => {}
                Err(e) => return Err(e),
            }
            if let Some(status) = child.try_wait()? {
                return Err(io::Error::other(format!("it exited: {status}")));
            }
            if Instant::now() >= deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("no READY=1 within {timeout:?}"),
                ));
            }
        }
    }
}

impl Drop for NotifySocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        let _ = std::fs::remove_dir(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_are_consecutive_and_close_on_exec() -> io::Result<()> {
        let a = std::net::TcpListener::bind("127.0.0.1:0")?;
        let b = std::net::TcpListener::bind("127.0.0.1:0")?;
        // A hole-riddled table: open and close some descriptors.
        let holes: Vec<_> = (0..6).map(|_| std::fs::File::open("/dev/null")).collect();
        drop(holes.into_iter().step_by(2).collect::<Vec<_>>());
        let fds = vec![OwnedFd::from(a), OwnedFd::from(b)];
        let (first, copies) = consecutive(&fds)?;
        assert_eq!(copies[0].as_raw_fd(), first);
        assert_eq!(copies[1].as_raw_fd(), first + 1);
        for fd in &copies {
            assert!(rustix::io::fcntl_getfd(fd)?.contains(rustix::io::FdFlags::CLOEXEC));
        }
        Ok(())
    }
}
