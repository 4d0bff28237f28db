//! systemd integration (cargo feature `systemd`, Unix only): serving the
//! sockets of socket activation, and telling the service manager when the
//! server is ready and when it stops.
//!
//! # Socket activation
//!
//! With a `.socket` unit (or `systemd-socket-activate -l ADDR`), systemd
//! binds the sockets and starts the service with them as descriptors 3, 4,
//! ..., announced in `LISTEN_FDS`, `LISTEN_PID` and `LISTEN_FDNAMES`.
//! [`listeners`] turns them into [`Listener`]s (read through the `listenfd`
//! crate); their socket files belong to systemd and are never removed.
//!
//! # Readiness
//!
//! With [`TcpServerBuilder::systemd_notify`](crate::TcpServerBuilder::systemd_notify),
//! the server sends `READY=1` to `NOTIFY_SOCKET` once it serves and
//! `STOPPING=1` when a shutdown begins (a `Type=notify` service). Without
//! `NOTIFY_SOCKET` nothing is sent.
//!
//! # Examples
//!
//! ```
//! use netecho::{systemd, TcpServer};
//!
//! # fn main() -> Result<(), netecho::Error> {
//! let handed_in = systemd::listeners()?;
//! let mut builder = TcpServer::builder().systemd_notify(true);
//! if handed_in.is_empty() {
//!     builder = builder.port(0); // not socket-activated: bind our own
//! }
//! for (_name, listener) in handed_in {
//!     builder = builder.listener(listener);
//! }
//! let server = builder.spawn()?;
//! # server.shutdown();
//! # server.join()?;
//! # Ok(())
//! # }
//! ```

use crate::error::{Error, Result};
use crate::listener::Listener;

/// The stream sockets systemd handed this process, in order, each with its
/// name from `LISTEN_FDNAMES` (systemd's `FileDescriptorName=`, `"unknown"`
/// when not given); empty when the process was not socket-activated (or the
/// variables are for another process, `LISTEN_PID`).
///
/// Takes the descriptors: a second call returns none. TCP and Unix stream
/// listeners are taken; anything else (a datagram socket, a FIFO) is an
/// error.
///
/// # Errors
///
/// [`Error::Activation`] naming the descriptor that is not a listening
/// stream socket.
pub fn listeners() -> Result<Vec<(String, Listener)>> {
    let names = std::env::var("LISTEN_FDNAMES").unwrap_or_default();
    let mut names = names.split(':');
    let mut fds = listenfd::ListenFd::from_env();
    let mut listeners = Vec::with_capacity(fds.len());
    for i in 0..fds.len() {
        let name = names
            .next()
            .filter(|n| !n.is_empty())
            .unwrap_or("unknown")
            .to_owned();
        let listener = match fds.take_tcp_listener(i) {
            Ok(Some(tcp)) => Listener::from_tcp(tcp),
            Ok(None) => continue,
            Err(tcp_err) => match fds.take_unix_listener(i) {
                Ok(Some(unix)) => Listener::from_unix(unix),
                Ok(None) => continue,
                Err(_) => {
                    return Err(Error::Activation {
                        what: format!(
                            "descriptor {} ({name}) is not a TCP or Unix stream socket",
                            3 + i
                        ),
                        source: tcp_err,
                    });
                }
            },
        };
        listeners.push((name, listener));
    }
    Ok(listeners)
}

/// Sends `READY=1` to the service manager, if `NOTIFY_SOCKET` is set.
pub(crate) fn ready() {
    notify(sd_notify::NotifyState::Ready, "READY=1");
}

/// Sends `STOPPING=1` to the service manager, if `NOTIFY_SOCKET` is set.
pub(crate) fn stopping() {
    notify(sd_notify::NotifyState::Stopping, "STOPPING=1");
}

fn notify(state: sd_notify::NotifyState<'_>, text: &str) {
    match sd_notify::notify(&[state]) {
        Ok(()) => log::debug!("told the service manager {text}"),
        // Nobody listens any more (a predecessor's upgrade socket, gone
        // with it): nothing to report.
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
            ) =>
        {
            log::debug!("no service manager to tell {text}: {e}")
        }
        Err(e) => log::warn!("failed to tell the service manager {text}: {e}"),
    }
}
