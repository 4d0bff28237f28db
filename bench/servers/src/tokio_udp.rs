//! Baseline: tokio's `examples/echo-udp.rs`, one task around one `UdpSocket`
//! (`recv_from` into a buffer, then `send_to` of what came in), with a
//! 64 KiB buffer instead of the example's 1 KiB (which truncates larger
//! datagrams) and without its `println!` per datagram. Like the example, it
//! stops at the first error `recv_from` or `send_to` returns.

use std::net::SocketAddr;

use tokio::net::UdpSocket;

use crate::listener::Bind;

pub fn run(workers: usize, bind: &Bind, announce: &mut dyn FnMut(&str)) -> Result<(), String> {
    if let Bind::Unix(_) = bind {
        return Err("tokio-udp serves UDP on 127.0.0.1:0, not a Unix socket file".into());
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    rt.block_on(async {
        let socket = UdpSocket::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("bind: {e}"))?;
        announce(&socket.local_addr().map_err(|e| e.to_string())?.to_string());
        let mut buf = vec![0; 64 * 1024];
        let mut to_send: Option<(usize, SocketAddr)> = None;
        loop {
            if let Some((size, peer)) = to_send {
                socket
                    .send_to(&buf[..size], &peer)
                    .await
                    .map_err(|e| format!("send_to: {e}"))?;
            }
            to_send = Some(
                socket
                    .recv_from(&mut buf)
                    .await
                    .map_err(|e| format!("recv_from: {e}"))?,
            );
        }
    })
}
