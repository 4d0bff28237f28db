//! Baseline: the floor for an epoll design. One thread, one mio `Poll`, edge-triggered.
//!
//! Reads go into one shared 64 KiB buffer and are written straight back; only the part
//! the socket would not take is copied into the connection's `pending` buffer, and while
//! anything is pending the connection is not read (backpressure). `TCP_NODELAY` is
//! inherited from the listener.

use std::io::{self, Read, Write};
use std::net::SocketAddr;

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};

use crate::listener;

const LISTENER: Token = Token(usize::MAX);

struct Conn {
    stream: TcpStream,
    /// Echo bytes the socket did not accept yet; `pending[sent..]` is still to write.
    pending: Vec<u8>,
    sent: usize,
}

pub fn run(_workers: usize, announce: &mut dyn FnMut(SocketAddr)) -> Result<(), String> {
    serve(announce).map_err(|e| format!("mio echo: {e}"))
}

fn serve(announce: &mut dyn FnMut(SocketAddr)) -> io::Result<()> {
    let mut poll = Poll::new()?;
    let std_listener = listener::bind()?;
    std_listener.set_nonblocking(true)?;
    let mut listener = TcpListener::from_std(std_listener);
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    announce(listener.local_addr()?);
    let mut conns: Vec<Option<Conn>> = Vec::new();
    let mut free: Vec<usize> = Vec::new();
    let mut buf = vec![0; 64 * 1024];
    let mut events = Events::with_capacity(1024);
    loop {
        if let Err(e) = poll.poll(&mut events, None) {
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        for ev in events.iter() {
            if ev.token() == LISTENER {
                accept_all(&poll, &listener, &mut conns, &mut free);
                continue;
            }
            let i = ev.token().0;
            let Some(conn) = conns.get_mut(i).and_then(Option::as_mut) else {
                continue;
            };
            if !matches!(drive(conn, &mut buf), Ok(true)) {
                // Dropping the stream closes it, which also takes it out of the epoll set.
                conns[i] = None;
                free.push(i);
            }
        }
    }
}

fn accept_all(
    poll: &Poll,
    listener: &TcpListener,
    conns: &mut Vec<Option<Conn>>,
    free: &mut Vec<usize>,
) {
    loop {
        let mut stream = match listener.accept() {
            Ok((stream, _)) => stream,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                eprintln!("mio echo: accept: {e}");
                return;
            }
        };
        let i = free.pop().unwrap_or_else(|| {
            conns.push(None);
            conns.len() - 1
        });
        let interest = Interest::READABLE | Interest::WRITABLE;
        match poll.registry().register(&mut stream, Token(i), interest) {
            Ok(()) => {
                conns[i] = Some(Conn {
                    stream,
                    pending: Vec::new(),
                    sent: 0,
                })
            }
            Err(e) => {
                eprintln!("mio echo: register: {e}");
                free.push(i);
            }
        }
    }
}

/// Flushes pending bytes, then echoes until the socket is drained or full.
/// Returns `Ok(false)` when the peer closed.
fn drive(conn: &mut Conn, buf: &mut [u8]) -> io::Result<bool> {
    while conn.sent < conn.pending.len() {
        match conn.stream.write(&conn.pending[conn.sent..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => conn.sent += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(true),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    conn.pending.clear();
    conn.sent = 0;
    loop {
        let n = match conn.stream.read(buf) {
            Ok(0) => return Ok(false),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(true),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let mut off = 0;
        while off < n {
            match conn.stream.write(&buf[off..n]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(k) => off += k,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if off < n {
            // Socket full: keep the rest and stop reading until it is writable again.
            conn.pending.extend_from_slice(&buf[off..n]);
            return Ok(true);
        }
        if n < buf.len() {
            // Short read: the receive queue is empty and new data brings a new edge.
            return Ok(true);
        }
    }
}
