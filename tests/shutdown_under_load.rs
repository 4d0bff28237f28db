//! Shutdown under load: 200 clients mid-stream. The listener closes at once,
//! every byte the server accepted is echoed to clients that keep reading,
//! clients that do not read are closed by force at the shutdown timeout, and
//! `join` returns within the timeout plus a small margin.

mod util;

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc::{self, Sender};
use std::time::{Duration, Instant};

use netecho::{CloseReason, Conn, Handler};
use util::{TIMEOUT, TestResult, builder, connect, connect_with_buffers};

const READERS: usize = 190;
const NON_READERS: usize = 10;
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(1);

enum Report {
    /// A connection's output went over half the write buffer limit.
    Backlogged,
    /// A connection closed: bytes its handler was given, and why.
    Closed(SocketAddr, u64, CloseReason),
}

/// Echoes, counting the bytes it was given, and reports.
struct Counting {
    tx: Sender<Report>,
    peer: Option<SocketAddr>,
    given: u64,
    backlogged: bool,
}

impl Handler for Counting {
    fn on_open(&mut self, conn: &mut Conn) {
        self.peer = conn.peer_addr().as_tcp();
    }
    fn on_data(&mut self, conn: &mut Conn, data: &[u8]) {
        self.given += data.len() as u64;
        conn.write(data);
        if !self.backlogged && conn.pending_write() > 32 * 1024 {
            self.backlogged = true;
            let _ = self.tx.send(Report::Backlogged);
        }
    }
    fn on_close(&mut self, reason: CloseReason) {
        if let Some(peer) = self.peer {
            let _ = self.tx.send(Report::Closed(peer, self.given, reason));
        }
    }
}

/// Ping-pong in 1 KiB messages until the server closes; returns the
/// client's address and the bytes it got back (each one checked).
fn reader(mut stream: TcpStream, ready: Sender<()>) -> io::Result<(SocketAddr, u64)> {
    let local = stream.local_addr()?;
    let mut received = 0u64;
    let mut msg = [0u8; 1024];
    let mut back = [0u8; 1024];
    for round in 0..1_000_000u64 {
        msg.fill(round as u8);
        if stream.write_all(&msg).is_err() {
            break;
        }
        let mut got = 0;
        while got < msg.len() {
            match stream.read(&mut back[got..]) {
                Ok(0) | Err(_) => return Ok((local, received + got as u64)),
                Ok(n) => {
                    assert!(back[got..got + n].iter().all(|b| *b == round as u8));
                    got += n;
                }
            }
        }
        received += got as u64;
        if round == 0 {
            let _ = ready.send(());
        }
    }
    Ok((local, received))
}

#[test]
fn shutdown_under_load_loses_nothing_accepted_and_returns_in_time() -> TestResult {
    let (tx, reports) = mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let server = builder()
        .workers(2)
        .shutdown_timeout(SHUTDOWN_TIMEOUT)
        .write_buffer_limit(64 * 1024)
        .send_buffer_size(32 * 1024)
        .handler(move || Counting {
            tx: tx.lock().map(|t| t.clone()).expect("sender"),
            peer: None,
            given: 0,
            backlogged: false,
        })
        .spawn()?;
    let addr = server.local_addr();

    let (ready_tx, ready) = mpsc::channel();
    let mut readers = Vec::new();
    for _ in 0..READERS {
        let stream = connect(addr)?;
        let ready_tx = ready_tx.clone();
        readers.push(std::thread::spawn(move || reader(stream, ready_tx)));
    }
    // Non-readers: send a lot, read nothing.
    let mut non_readers = Vec::new();
    for _ in 0..NON_READERS {
        let mut stream = connect_with_buffers(addr, 16 * 1024, 16 * 1024)?;
        stream.set_write_timeout(Some(TIMEOUT))?;
        let keep = stream.try_clone()?;
        non_readers.push(keep);
        std::thread::spawn(move || {
            let chunk = [b'n'; 16 * 1024];
            for _ in 0..1024 {
                if stream.write_all(&chunk).is_err() {
                    break;
                }
            }
        });
    }
    for _ in 0..READERS {
        ready.recv_timeout(TIMEOUT)?;
    }
    let mut backlogged = 0;
    while backlogged < NON_READERS {
        match reports.recv_timeout(TIMEOUT)? {
            Report::Backlogged => backlogged += 1,
            Report::Closed(peer, ..) => return Err(format!("{peer} closed early").into()),
        }
    }

    let started = Instant::now();
    server.shutdown();
    server.shutdown();
    // The listener closes at once: connects are refused within moments.
    let mut refused = false;
    for _ in 0..1000 {
        match TcpStream::connect_timeout(&addr, TIMEOUT) {
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                refused = true;
                break;
            }
            _ => std::thread::yield_now(),
        }
    }
    assert!(refused, "the listener still accepts after shutdown");
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "listener closed only after {:?}",
        started.elapsed()
    );

    server.join()?;
    let joined = started.elapsed();
    assert!(
        joined < SHUTDOWN_TIMEOUT + Duration::from_millis(1500),
        "join returned after {joined:?}"
    );

    let mut received = HashMap::new();
    for r in readers {
        let (local, got) = util::join(r)??;
        received.insert(local, got);
    }
    let mut closes = HashMap::new();
    while let Ok(report) = reports.try_recv() {
        if let Report::Closed(peer, given, reason) = report {
            closes.insert(peer, (given, reason));
        }
    }
    assert_eq!(
        closes.len(),
        READERS + NON_READERS,
        "every connection closed"
    );
    for (local, got) in &received {
        let (given, reason) = closes[local];
        assert_eq!(
            *got, given,
            "{local}: the server accepted {given} bytes but echoed {got} ({reason:?})"
        );
        assert_eq!(reason, CloseReason::Shutdown, "{local}");
    }
    for stream in &non_readers {
        let local = stream.local_addr()?;
        assert_eq!(closes[&local].1, CloseReason::ShutdownTimeout, "{local}");
    }
    Ok(())
}
