//! TLS under backpressure: a client that never reads cannot make the server
//! hold more than the write buffer limit (plus rustls' capped buffer), and a
//! client and server that both write a lot at once both get everything (no
//! deadlock of two full pipes: rustls #2556).
//!
//! Alone in its binary: the first test measures a stall with a timeout, and
//! other tests' traffic must not compete with the server it watches.
#![cfg(feature = "tls")]

mod util;

use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token};
use netecho::rustls::{ClientConnection, pki_types::ServerName};
use netecho::{Conn, Echo, Handler};
use util::tls::{Pki, TlsBuilderExt, builder, tls_connect};
use util::{TIMEOUT, TestResult, fill_pattern, join, verify_pattern};

const LIMIT: usize = 64 * 1024;
/// rustls' buffer in the server, capped by the crate (two records).
const TLS_SLACK: usize = 2 * (16 * 1024 + 256);
const SOCKET_BUFFER: usize = 64 * 1024;
const STALL: Duration = Duration::from_millis(500);

#[test]
fn tls_client_that_never_reads_leaves_server_memory_bounded() -> TestResult {
    const TOTAL: u64 = 16 * 1024 * 1024;
    let pki = Pki::new()?;
    let server = builder()
        .workers(1)
        .recv_buffer_size(SOCKET_BUFFER)
        .send_buffer_size(SOCKET_BUFFER)
        .write_buffer_limit(LIMIT)
        .write_timeout(None)
        .shutdown_timeout(Duration::ZERO)
        .tls(pki.server_config())
        .spawn()?;
    let mut client = tls_connect(
        server.local_addr(),
        pki.client_config(&[], None)?,
        "localhost",
    )?;
    util::tls::handshake(&mut client)?;
    client.sock.set_write_timeout(Some(STALL))?;
    // Never reads: only plaintext in and records out, until the socket
    // refuses records for STALL.
    let writer = std::thread::spawn(move || -> io::Result<(u64, util::tls::TlsClient)> {
        let mut chunk = vec![0u8; 16 * 1024];
        let mut written = 0u64;
        while written < TOTAL {
            if client.conn.wants_write() {
                match client.conn.write_tls(&mut client.sock) {
                    Ok(_) => {}
                    Err(e)
                        if matches!(
                            e.kind(),
                            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                        ) =>
                    {
                        break;
                    }
                    Err(e) => return Err(e),
                }
            } else {
                fill_pattern(written, &mut chunk);
                written += client.conn.writer().write(&chunk)? as u64;
            }
        }
        Ok((written, client))
    });
    let (written, _client) = join(writer)??;
    assert!(
        written < TOTAL,
        "the server took all {TOTAL} bytes from a client that never reads"
    );
    let stats = server.stats();
    assert!(
        stats.buffered_bytes > 0,
        "nothing held: the server is not echoing: {stats:?}, written {written}"
    );
    assert!(
        stats.buffered_bytes <= (LIMIT + 64 * 1024) as u64,
        "server holds {} bytes of plaintext for one connection, limit {LIMIT} plus one read \
         (and at most {TLS_SLACK} in rustls)",
        stats.buffered_bytes
    );
    server.shutdown();
    server.join()?;
    Ok(())
}

/// Sends `TOTAL` bytes of the pattern, paced by `on_drain`, and counts what
/// it reads; closes when both are done.
struct Both {
    sent: u64,
    got: u64,
}

const BOTH_TOTAL: u64 = 8 * 1024 * 1024;

impl Both {
    fn produce(&mut self, conn: &mut Conn) {
        let mut chunk = vec![0u8; 64 * 1024];
        let n = chunk.len().min((BOTH_TOTAL - self.sent) as usize);
        if n > 0 {
            fill_pattern(self.sent, &mut chunk[..n]);
            conn.write(&chunk[..n]);
            self.sent += n as u64;
            conn.notify_on_drain();
        } else if self.got == BOTH_TOTAL {
            conn.close();
        }
    }
}

impl Handler for Both {
    fn on_open(&mut self, conn: &mut Conn) {
        self.produce(conn);
    }

    fn on_data(&mut self, conn: &mut Conn, data: &[u8]) {
        self.got += data.len() as u64;
        if self.got == BOTH_TOTAL && self.sent == BOTH_TOTAL {
            conn.close();
        }
    }

    fn on_drain(&mut self, conn: &mut Conn) {
        self.produce(conn);
    }
}

#[test]
fn both_sides_writing_at_once_do_not_deadlock() -> TestResult {
    let pki = Pki::new()?;
    let server = builder()
        .workers(1)
        .recv_buffer_size(SOCKET_BUFFER)
        .send_buffer_size(SOCKET_BUFFER)
        .tls(pki.server_config())
        .handler(|| Both { sent: 0, got: 0 })
        .spawn()?;
    // A non-blocking rustls client on mio that writes and reads at once.
    let std_sock = util::connect(server.local_addr())?;
    std_sock.set_nonblocking(true)?;
    let mut sock = mio::net::TcpStream::from_std(std_sock);
    let mut poll = Poll::new()?;
    poll.registry()
        .register(&mut sock, Token(0), Interest::READABLE | Interest::WRITABLE)?;
    let mut tls = ClientConnection::new(
        pki.client_config(&[], None)?,
        ServerName::try_from("localhost")?,
    )?;
    let mut events = Events::with_capacity(8);
    let (mut sent, mut got) = (0u64, 0u64);
    let mut chunk = vec![0u8; 16 * 1024];
    let mut buf = vec![0u8; 64 * 1024];
    let deadline = Instant::now() + TIMEOUT;
    let mut closed = false;
    while !closed {
        if Instant::now() > deadline {
            return Err(format!("stuck: sent {sent}, got {got} of {BOTH_TOTAL}").into());
        }
        let mut progress = false;
        // Read everything there is.
        loop {
            match tls.read_tls(&mut sock) {
                Ok(0) => {
                    closed = true;
                    break;
                }
                Ok(_) => progress = true,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e.into()),
            }
            tls.process_new_packets()?;
            loop {
                match tls.reader().read(&mut buf) {
                    Ok(0) => {
                        closed = true;
                        break;
                    }
                    Ok(n) => {
                        verify_pattern(got, &buf[..n])?;
                        got += n as u64;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => return Err(e.into()),
                }
            }
        }
        // Write plaintext while rustls takes it, records while the socket does.
        loop {
            while sent < BOTH_TOTAL && !tls.is_handshaking() {
                let n = chunk.len().min((BOTH_TOTAL - sent) as usize);
                fill_pattern(sent, &mut chunk[..n]);
                match tls.writer().write(&chunk[..n])? {
                    0 => break,
                    k => sent += k as u64,
                }
            }
            if !tls.wants_write() {
                break;
            }
            match tls.write_tls(&mut sock) {
                Ok(_) => progress = true,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e.into()),
            }
        }
        if !progress && !closed {
            poll.poll(&mut events, Some(TIMEOUT))?;
        }
    }
    assert_eq!((sent, got), (BOTH_TOTAL, BOTH_TOTAL));
    server.shutdown();
    server.join()?;
    Ok(())
}

#[test]
fn echo_of_a_slow_reader_loses_nothing() -> TestResult {
    // A reader slower than the writer, through small buffers: every byte
    // comes back in order, while rustls and the pending output take turns.
    let pki = Pki::new()?;
    let server = builder()
        .workers(1)
        .send_buffer_size(4096)
        .write_buffer_limit(16 * 1024)
        .tls(pki.server_config())
        .handler(|| Echo)
        .spawn()?;
    let mut client = tls_connect(
        server.local_addr(),
        pki.client_config(&[], None)?,
        "localhost",
    )?;
    let mut chunk = vec![0u8; 3000];
    let mut buf = vec![0u8; 1000];
    let (mut sent, mut got) = (0u64, 0u64);
    const TOTAL: u64 = 1024 * 1024;
    while got < TOTAL {
        if sent < TOTAL && sent - got < 48 * 1024 {
            let n = chunk.len().min((TOTAL - sent) as usize);
            fill_pattern(sent, &mut chunk[..n]);
            client.write_all(&chunk[..n])?;
            sent += n as u64;
        }
        let n = client.read(&mut buf)?;
        verify_pattern(got, &buf[..n])?;
        got += n as u64;
    }
    server.shutdown();
    server.join()?;
    Ok(())
}
