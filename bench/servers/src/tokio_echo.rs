//! Baselines: tokio, one task per connection, in the two ways tokio's own material writes
//! an echo server.
//!
//! Default multi-thread runtime with `workers` worker threads. [`Style::Read`] is tokio's
//! `examples/echo-tcp.rs` (a buffer per connection, `read` then `write_all`; the example's
//! buffer is 1 KiB, this one is 4 KiB or 64 KiB). [`Style::Copy`] is the tutorial's
//! `split` and `tokio::io::copy` (an 8 KiB buffer inside `copy`).

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::listener;

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
    announce: &mut dyn FnMut(SocketAddr),
) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    rt.block_on(async {
        let listener = listener::bind()
            .and_then(|l| {
                l.set_nonblocking(true)?;
                TcpListener::from_std(l)
            })
            .map_err(|e| format!("bind: {e}"))?;
        announce(listener.local_addr().map_err(|e| e.to_string())?);
        loop {
            let mut socket = match listener.accept().await {
                Ok((socket, _)) => socket,
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
                Style::Copy => tokio::spawn(async move {
                    let (mut rd, mut wr) = socket.split();
                    let _ = tokio::io::copy(&mut rd, &mut wr).await;
                }),
            };
        }
    })
}
