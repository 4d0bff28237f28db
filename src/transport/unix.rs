//! Unix-domain stream sockets: binding a path (stale files removed, live ones
//! and non-sockets never), the socket file's mode, removing the file at stop,
//! peer addresses and credentials, and sends that never raise `SIGPIPE`.

use std::fs;
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

use socket2::{Domain, SockAddr, Socket, Type};

use crate::addr::{Addr, PeerCred, UnixAddr};
use crate::error::{Error, Result};

/// A socket file this server created, removed when dropped, unless the
/// path now holds another file (another server's, say).
#[derive(Debug)]
pub(crate) struct SocketFile {
    path: PathBuf,
    dev: u64,
    ino: u64,
    /// Another process serves the socket now (an upgrade): leave the file.
    pub(crate) keep: bool,
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        if self.keep {
            log::debug!(
                "leaving the socket file {} to the successor",
                self.path.display()
            );
            return;
        }
        match fs::symlink_metadata(&self.path) {
            Ok(meta) if meta.dev() == self.dev && meta.ino() == self.ino => {
                match fs::remove_file(&self.path) {
                    Ok(()) => log::debug!("removed the socket file {}", self.path.display()),
                    Err(e) => log::warn!(
                        "failed to remove the socket file {}: {e}",
                        self.path.display()
                    ),
                }
            }
            Ok(_) => log::debug!(
                "not removing {}: it is no longer this server's socket file",
                self.path.display()
            ),
            Err(_) => {}
        }
    }
}

/// Creates a listening Unix-domain socket at `addr` (a path or an abstract
/// name), with the socket file's `mode` if given, and the `backlog`.
///
/// An existing socket file nobody accepts on (connecting is refused) is
/// removed first; a live one, or a path that is not a socket, is an error.
/// The mode is set on the socket before `bind` (Linux creates the file with
/// it, less the umask) and exactly after: the file never has more
/// permissions than asked.
pub(crate) fn listen(
    addr: &UnixAddr,
    mode: Option<u32>,
    backlog: i32,
) -> Result<(UnixListener, Option<SocketFile>)> {
    let bind_err = |source: io::Error| Error::Bind {
        addr: Addr::Unix(addr.clone()),
        source,
    };
    let sock_addr = match addr {
        UnixAddr::Path(path) => {
            remove_stale(path).map_err(bind_err)?;
            SockAddr::unix(path).map_err(bind_err)?
        }
        UnixAddr::Abstract(name) => abstract_addr(name).map_err(bind_err)?,
        UnixAddr::Unnamed => {
            return Err(bind_err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "an unnamed Unix address cannot be listened on",
            )));
        }
    };
    let mut socket = Socket::new(Domain::UNIX, Type::STREAM, None).map_err(bind_err)?;
    let path = addr.as_path();
    if let (Some(mode), Some(_)) = (mode, path) {
        socket = set_socket_mode(socket, mode).map_err(|source| Error::SocketOption {
            option: "mode",
            addr: Addr::Unix(addr.clone()),
            source,
        })?;
    }
    socket.bind(&sock_addr).map_err(bind_err)?;
    let file = match path {
        Some(path) => {
            // From here on the file is ours: dropping `file` removes it if a
            // later step fails.
            let meta = fs::symlink_metadata(path).map_err(bind_err)?;
            let file = SocketFile {
                path: path.to_path_buf(),
                dev: meta.dev(),
                ino: meta.ino(),
                keep: false,
            };
            if let Some(mode) = mode {
                // Only adds what the umask took away from `mode`.
                fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(|source| {
                    Error::SocketOption {
                        option: "mode",
                        addr: Addr::Unix(addr.clone()),
                        source,
                    }
                })?;
            }
            Some(file)
        }
        None => None,
    };
    socket.listen(backlog).map_err(bind_err)?;
    socket.set_nonblocking(true).map_err(bind_err)?;
    Ok((socket.into(), file))
}

/// Removes a stale socket file at `path`; errors for a live one or a path
/// that is not a socket.
fn remove_stale(path: &Path) -> io::Result<()> {
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if !meta.file_type().is_socket() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "the path exists and is not a socket (left untouched)",
        ));
    }
    match UnixStream::connect(path) {
        Ok(_) => Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            "the socket is in use: a server accepts connections on it (left untouched)",
        )),
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
            log::debug!("removing the stale socket file {}", path.display());
            match fs::remove_file(path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            }
        }
        Err(e) => Err(e),
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn abstract_addr(name: &[u8]) -> io::Result<SockAddr> {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let mut bytes = Vec::with_capacity(name.len() + 1);
    bytes.push(0);
    bytes.extend_from_slice(name);
    SockAddr::unix(OsStr::from_bytes(&bytes))
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn abstract_addr(_name: &[u8]) -> io::Result<SockAddr> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "abstract Unix socket names exist only on Linux",
    ))
}

/// `fchmod` on the unbound socket: Linux gives the socket file that `bind`
/// creates this mode (less the umask).
#[cfg(any(target_os = "linux", target_os = "android"))]
fn set_socket_mode(socket: Socket, mode: u32) -> io::Result<Socket> {
    use std::os::fd::OwnedFd;
    let file = fs::File::from(OwnedFd::from(socket));
    let result = file.set_permissions(fs::Permissions::from_mode(mode));
    let socket = Socket::from(OwnedFd::from(file));
    result.map(|()| socket)
}

/// Elsewhere `fchmod` on a socket does not reach the file `bind` creates, and
/// a mode set after `bind` would leave a window: refuse rather than pretend.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn set_socket_mode(_socket: Socket, _mode: u32) -> io::Result<Socket> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "a socket file mode is only supported on Linux",
    ))
}

/// The address of a std Unix socket address.
pub(crate) fn addr_of(addr: &std::os::unix::net::SocketAddr) -> UnixAddr {
    if let Some(path) = addr.as_pathname() {
        return UnixAddr::Path(path.into());
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        #[cfg(target_os = "android")]
        use std::os::android::net::SocketAddrExt;
        #[cfg(target_os = "linux")]
        use std::os::linux::net::SocketAddrExt;
        if let Some(name) = addr.as_abstract_name() {
            return UnixAddr::Abstract(name.into());
        }
    }
    UnixAddr::Unnamed
}

/// The peer's credentials (`SO_PEERCRED`).
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn peer_cred(stream: &mio::net::UnixStream) -> Option<PeerCred> {
    match rustix::net::sockopt::socket_peercred(stream) {
        Ok(cred) => Some(PeerCred {
            pid: Some(cred.pid.as_raw_nonzero().get()),
            uid: cred.uid.as_raw(),
            gid: cred.gid.as_raw(),
        }),
        Err(e) => {
            log::debug!("SO_PEERCRED failed: {e}");
            None
        }
    }
}

/// No portable way to ask elsewhere yet.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn peer_cred(_stream: &mio::net::UnixStream) -> Option<PeerCred> {
    None
}

/// Writes with `MSG_NOSIGNAL`: a peer that went away is `EPIPE`, never a
/// `SIGPIPE` that would kill a process that did not ignore it.
#[cfg(any(target_os = "linux", target_os = "android"))]
#[inline]
pub(crate) fn send(stream: &mio::net::UnixStream, data: &[u8]) -> io::Result<usize> {
    rustix::net::send(stream, data, rustix::net::SendFlags::NOSIGNAL).map_err(io::Error::from)
}

/// Plain `write` where `MSG_NOSIGNAL` does not exist (Rust programs ignore
/// `SIGPIPE` from the start).
#[cfg(not(any(target_os = "linux", target_os = "android")))]
#[inline]
pub(crate) fn send(stream: &mio::net::UnixStream, data: &[u8]) -> io::Result<usize> {
    use std::io::Write;
    (&*stream).write(data)
}

/// `recv(MSG_PEEK)`: what the peer sent, left in the socket.
pub(crate) fn peek(stream: &mio::net::UnixStream, buf: &mut [u8]) -> io::Result<usize> {
    rustix::net::recv(stream, buf, rustix::net::RecvFlags::PEEK)
        .map(|(n, _)| n)
        .map_err(io::Error::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_path(name: &str) -> io::Result<(tempfile::TempDir, PathBuf)> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join(name);
        Ok((dir, path))
    }

    #[test]
    fn socket_file_removed_on_drop_only_if_still_ours() -> io::Result<()> {
        let (_dir, path) = temp_path("s.sock")?;
        let addr = UnixAddr::Path(path.as_path().into());
        let (listener, file) = listen(&addr, None, 8).map_err(io::Error::other)?;
        // Someone else's file now sits at the path.
        fs::remove_file(&path)?;
        fs::write(&path, b"not ours")?;
        drop(file);
        drop(listener);
        assert_eq!(fs::read(&path)?, b"not ours");
        fs::remove_file(&path)?;

        let (listener, file) = listen(&addr, None, 8).map_err(io::Error::other)?;
        drop(file);
        drop(listener);
        assert!(!path.exists(), "our own socket file is removed");
        Ok(())
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn mode_is_exact_whatever_the_umask() -> io::Result<()> {
        for mode in [0o600, 0o660, 0o666] {
            let (_dir, path) = temp_path("m.sock")?;
            let addr = UnixAddr::Path(path.as_path().into());
            let (_listener, _file) = listen(&addr, Some(mode), 8).map_err(io::Error::other)?;
            assert_eq!(fs::metadata(&path)?.permissions().mode() & 0o777, mode);
        }
        Ok(())
    }
}
