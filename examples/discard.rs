//! An RFC 863 discard server: reads everything and drops it.
//!
//! `cargo run --example discard`, then `nc 127.0.0.1 7009` (port 9 + 7000,
//! as low ports need root).
//!
//! Nothing is ever written, so the server holds no output; the read buffer is
//! the worker's, shared by all its connections. A client that closes its side
//! gets the connection closed; the idle timeout closes silent ones.

mod common;

use clap::Parser;
use common::ServerArgs;
use netecho::{Conn, Handler};

/// An RFC 863 discard server.
#[derive(Debug, Parser)]
#[command(about)]
struct Args {
    #[command(flatten)]
    server: ServerArgs,
}

/// Drops whatever the peer sends.
#[derive(Debug, Clone, Copy, Default)]
struct Discard;

impl Handler for Discard {
    fn on_data(&mut self, _conn: &mut Conn, _data: &[u8]) {}
}

fn main() -> std::process::ExitCode {
    common::exit(run())
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    common::serve(&args.server, 7009, || Discard)
}

#[cfg(test)]
mod tests {
    use super::*;
    use netecho::CloseReason;
    use netecho::testing::Harness;
    use std::io::{Read, Write};
    use std::sync::mpsc;
    use std::time::Duration;

    #[test]
    fn drops_everything_and_writes_nothing() {
        let mut peer = Harness::open(Discard);
        for size in [1, 10, 1000, 100_000] {
            peer.send(&vec![b'x'; size]);
            assert_eq!(peer.read(), b"");
        }
        assert!(!peer.is_closed());
        assert_eq!(peer.read_total(), 0);
    }

    #[test]
    fn closes_after_the_peer_closes() {
        let mut peer = Harness::open(Discard);
        peer.send(b"bye").half_close();
        assert!(peer.saw_eof());
        assert_eq!(peer.close_reason(), Some(CloseReason::PeerClosed));
    }

    #[test]
    fn a_silent_peer_meets_the_idle_timeout() {
        let mut peer = Harness::builder()
            .idle_timeout(Duration::from_secs(60))
            .open(Discard);
        peer.advance(Duration::from_secs(59)).send(b"still here");
        peer.advance(Duration::from_secs(59));
        assert!(!peer.is_closed());
        peer.advance(Duration::from_secs(1));
        assert!(peer.saw_eof());
        peer.half_close();
        assert_eq!(peer.close_reason(), Some(CloseReason::IdleTimeout));
    }

    /// Discard, telling the test how many bytes it dropped.
    struct Counted(Discard, mpsc::Sender<usize>);

    impl Handler for Counted {
        fn on_data(&mut self, conn: &mut Conn, data: &[u8]) {
            self.0.on_data(conn, data);
            let _ = self.1.send(data.len());
        }
    }

    #[test]
    fn loopback() {
        let (tx, rx) = mpsc::channel();
        let (server, mut client) = crate::common::loopback(move || Counted(Discard, tx.clone()));
        let total = 1 << 20;
        client.write_all(&vec![b'x'; total]).unwrap();
        // Wait until the server has read it all (not for a while).
        let mut dropped = 0;
        while dropped < total {
            dropped += rx.recv_timeout(Duration::from_secs(10)).unwrap();
        }
        assert_eq!(dropped, total);
        client.shutdown(std::net::Shutdown::Write).unwrap();
        let mut reply = Vec::new();
        client.read_to_end(&mut reply).unwrap();
        assert!(reply.is_empty());
        server.shutdown();
        server.join().unwrap();
        assert_eq!(server.stats().bytes_written, 0);
    }
}
