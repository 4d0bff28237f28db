//! Baselines: tokio, one task per connection, in the two ways tokio's own material writes
//! an echo server.
//!
//! Default multi-thread runtime with `workers` worker threads. [`Style::Read`] is tokio's
//! `examples/echo-tcp.rs` (a buffer per connection, `read` then `write_all`; the example's
//! buffer is 1 KiB, this one is 4 KiB or 64 KiB). [`Style::Copy`] is the tutorial's
//! `split` and `tokio::io::copy` (an 8 KiB buffer inside `copy`). Over a Unix socket file
//! the listener is `tokio::net::UnixListener::bind(path)`, as its documentation writes it,
//! and each connection's task is the same.

use std::future::Future;
use std::io;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};

use crate::listener::{self, Bind};

/// How a connection's task echoes.
#[derive(Debug, Clone, Copy)]
pub enum Style {
    /// `read` into a buffer of this many bytes, then `write_all`.
    Read(usize),
    /// `tokio::io::copy` from the read half to the write half.
    Copy,
}

pub fn run(
    workers: usize,
    style: Style,
    bind: &Bind,
    announce: &mut dyn FnMut(&str),
) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    rt.block_on(async {
        match bind {
            Bind::Tcp => {
                let listener = listener::bind()
                    .and_then(|l| {
                        l.set_nonblocking(true)?;
                        TcpListener::from_std(l)
                    })
                    .map_err(|e| format!("bind: {e}"))?;
                announce(
                    &listener
                        .local_addr()
                        .map_err(|e| e.to_string())?
                        .to_string(),
                );
                serve(async || listener.accept().await.map(|(s, _)| s), style).await
            }
            Bind::Unix(path) => {
                let listener = UnixListener::bind(path)
                    .map_err(|e| format!("bind {}: {e}", path.display()))?;
                announce(&listener::unix_line(path));
                serve(async || listener.accept().await.map(|(s, _)| s), style).await
            }
        }
    })
}

/// Accepts forever, one task per connection.
async fn serve<S: Socket>(mut accept: impl AsyncFnMut() -> io::Result<S>, style: Style) -> ! {
    loop {
        let mut socket = match accept().await {
            Ok(socket) => socket,
            Err(e) => {
                // Out of file descriptors, say: back off instead of spinning.
                eprintln!("tokio echo: accept: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        match style {
            Style::Read(size) => tokio::spawn(async move {
                let mut buf = vec![0; size];
                loop {
                    let n = match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    if socket.write_all(&buf[..n]).await.is_err() {
                        return;
                    }
                }
            }),
            Style::Copy => tokio::spawn(socket.copy_back()),
        };
    }
}

/// A tokio stream socket of either kind.
trait Socket: AsyncRead + AsyncWrite + Unpin + Send + 'static {
    /// The tutorial's echo: `split` the socket, then `tokio::io::copy` one half to the
    /// other.
    fn copy_back(self) -> impl Future<Output = ()> + Send + 'static;
}

impl Socket for TcpStream {
    async fn copy_back(mut self) {
        let (mut rd, mut wr) = self.split();
        let _ = tokio::io::copy(&mut rd, &mut wr).await;
    }
}

impl Socket for UnixStream {
    async fn copy_back(mut self) {
        let (mut rd, mut wr) = self.split();
        let _ = tokio::io::copy(&mut rd, &mut wr).await;
    }
}
