//! Custom handlers: their output, greetings, closing and half-closing.

mod util;

use std::io::{Read, Write};
use std::net::Shutdown;
use std::sync::mpsc;

use netecho::{CloseReason, Conn, Handler};
use util::{TIMEOUT, TestResult, assert_echo, builder, connect, expect_eof, notify};

struct Upper;

impl Handler for Upper {
    fn on_data(&mut self, conn: &mut Conn, data: &[u8]) {
        conn.write(&data.to_ascii_uppercase());
    }
}

#[test]
fn custom_handler_uppercases() -> TestResult {
    let server = builder().handler(|| Upper).spawn()?;
    let mut client = connect(server.local_addr())?;
    client.write_all(b"Hello, World! 123 \xff")?;
    let mut back = [0u8; 19];
    client.read_exact(&mut back)?;
    assert_eq!(&back, b"HELLO, WORLD! 123 \xff");
    Ok(())
}

struct Greeter;

impl Handler for Greeter {
    fn on_open(&mut self, conn: &mut Conn) {
        conn.write(b"hello ");
        conn.write(conn.peer_addr().to_string().as_bytes());
        conn.write(b"\n");
    }
}

#[test]
fn greeting_from_on_open_arrives_before_any_input() -> TestResult {
    let server = builder().handler(|| Greeter).spawn()?;
    let mut client = connect(server.local_addr())?;
    let expected = format!("hello {}\n", client.local_addr()?);
    let mut greeting = vec![0u8; expected.len()];
    client.read_exact(&mut greeting)?;
    assert_eq!(String::from_utf8(greeting)?, expected);
    // Then it echoes, as the default on_data does.
    assert_echo(&mut client, b"after the greeting")?;
    Ok(())
}

/// Answers once, then closes.
struct OneShot;

impl Handler for OneShot {
    fn on_data(&mut self, conn: &mut Conn, data: &[u8]) {
        conn.write(b"got ");
        conn.write(data);
        conn.close();
        // Ignored: the write side is closing.
        conn.write(b" (never sent)");
    }
}

#[test]
fn handler_close_sends_output_then_eof() -> TestResult {
    let (factory, events) = notify(|| OneShot);
    let server = builder().handler(factory).spawn()?;
    let mut client = connect(server.local_addr())?;
    client.write_all(b"bye")?;
    let mut back = [0u8; 7];
    client.read_exact(&mut back)?;
    assert_eq!(&back, b"got bye");
    expect_eof(&mut client)?;
    drop(client);

    let peer = events.expect_open()?;
    assert_eq!(events.expect_close()?, (peer, CloseReason::Handler));
    Ok(())
}

/// Answers the first message and shuts down its write side; reports every
/// byte it receives afterwards.
struct AckThenListen {
    acked: bool,
    heard: mpsc::Sender<Vec<u8>>,
}

impl Handler for AckThenListen {
    fn on_data(&mut self, conn: &mut Conn, data: &[u8]) {
        if self.acked {
            let _ = self.heard.send(data.to_vec());
        } else {
            self.acked = true;
            conn.write(b"ack");
            conn.shutdown_write();
        }
    }
}

#[test]
fn shutdown_write_sends_eof_and_keeps_reading() -> TestResult {
    let (heard_tx, heard) = mpsc::channel();
    let (factory, events) = notify(move || AckThenListen {
        acked: false,
        heard: heard_tx.clone(),
    });
    let server = builder().handler(factory).spawn()?;
    let mut client = connect(server.local_addr())?;
    client.write_all(b"first")?;
    let mut ack = [0u8; 3];
    client.read_exact(&mut ack)?;
    assert_eq!(&ack, b"ack");
    expect_eof(&mut client)?;

    // The server's side is write-closed, yet it still reads.
    client.write_all(b"still listening")?;
    let mut got = Vec::new();
    while got.len() < 15 {
        got.extend(heard.recv_timeout(TIMEOUT)?);
    }
    assert_eq!(got, b"still listening");

    client.shutdown(Shutdown::Write)?;
    let peer = events.expect_open()?;
    assert_eq!(events.expect_close()?, (peer, CloseReason::PeerClosed));
    Ok(())
}

/// Sets a timer on open; on the timer writes and asks for `on_drain`; on the
/// drain writes again and closes.
struct TimerThenDrain;

impl Handler for TimerThenDrain {
    fn on_open(&mut self, conn: &mut Conn) {
        conn.set_timer(std::time::Duration::from_millis(1));
    }
    fn on_timer(&mut self, conn: &mut Conn) {
        conn.write(b"timer ");
        conn.notify_on_drain();
    }
    fn on_drain(&mut self, conn: &mut Conn) {
        conn.write(b"drain");
        conn.close();
    }
}

/// The tests' `Notify` wrapper passes `on_timer` and `on_drain` on to the
/// handler it wraps (it once dropped them, so wrapped producers stalled).
#[test]
fn notify_wrapper_forwards_timer_and_drain() -> TestResult {
    let (factory, events) = notify(|| TimerThenDrain);
    let server = builder().handler(factory).spawn()?;
    let mut client = connect(server.local_addr())?;
    let peer = events.expect_open()?;
    let mut back = Vec::new();
    client.read_to_end(&mut back)?;
    assert_eq!(back, b"timer drain");
    // The server closed while the peer was still open: its close.
    client.shutdown(Shutdown::Write)?;
    assert_eq!(events.expect_close()?, (peer, CloseReason::Handler));
    Ok(())
}
