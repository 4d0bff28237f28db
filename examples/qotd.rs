//! An RFC 865 quote of the day server: writes one quote on connect, then
//! closes.
//!
//! `cargo run --example qotd`, then `nc 127.0.0.1 7017` (port 17 + 7000, as
//! low ports need root).
//!
//! The quotes rotate: each connection gets the next one of a small built-in
//! list, whichever worker serves it. As RFC 865 asks, each is printable ASCII
//! with CRLF line endings and under 512 bytes.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use clap::Parser;
use common::ServerArgs;
use netecho::{Conn, Handler};

/// An RFC 865 quote of the day server.
#[derive(Debug, Parser)]
#[command(about)]
struct Args {
    #[command(flatten)]
    server: ServerArgs,
}

/// The quotes, in the order they are served.
const QUOTES: &[&str] = &[
    "\"The most effective debugging tool is still careful thought, coupled with\r\n\
     judiciously placed print statements.\"\r\n    -- Brian Kernighan\r\n",
    "\"Simplicity is prerequisite for reliability.\"\r\n    -- Edsger W. Dijkstra\r\n",
    "\"Be conservative in what you do, be liberal in what you accept from\r\n\
     others.\"\r\n    -- Jon Postel, RFC 793\r\n",
    "\"Premature optimization is the root of all evil.\"\r\n    -- Donald Knuth\r\n",
    "\"There are two ways of constructing a software design: one way is to make\r\n\
     it so simple that there are obviously no deficiencies, and the other way is\r\n\
     to make it so complicated that there are no obvious deficiencies.\"\r\n    \
     -- C. A. R. Hoare\r\n",
];

/// Writes the next quote on connect, then closes.
#[derive(Debug, Clone)]
struct Qotd {
    /// Shared by all connections: the index of the next quote.
    next: Arc<AtomicUsize>,
}

impl Handler for Qotd {
    fn on_open(&mut self, conn: &mut Conn) {
        let n = self.next.fetch_add(1, Relaxed);
        if let Some(quote) = QUOTES.get(n % QUOTES.len()) {
            conn.write(quote.as_bytes());
        }
        conn.close();
    }
}

fn main() -> std::process::ExitCode {
    common::exit(run())
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let next = Arc::new(AtomicUsize::new(0));
    common::serve(&args.server, 7017, move || Qotd {
        next: Arc::clone(&next),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use netecho::testing::Harness;
    use netecho::{CloseReason, TcpServer};
    use std::io::Read;
    use std::time::Duration;

    #[test]
    fn quotes_follow_rfc_865() {
        for quote in QUOTES {
            assert!(quote.len() < 512, "{quote}");
            assert!(quote.ends_with("\r\n"));
            assert!(
                quote
                    .bytes()
                    .all(|b| (32..=126).contains(&b) || b == b'\r' || b == b'\n'),
                "{quote}"
            );
            assert_eq!(quote.matches('\n').count(), quote.matches("\r\n").count());
        }
    }

    #[test]
    fn one_quote_per_connection_in_rotation() {
        let next = Arc::new(AtomicUsize::new(0));
        for round in 0..2 * QUOTES.len() {
            let mut peer = Harness::open(Qotd {
                next: Arc::clone(&next),
            });
            assert_eq!(peer.read(), QUOTES[round % QUOTES.len()].as_bytes());
            assert!(peer.saw_eof());
            peer.half_close();
            assert_eq!(peer.close_reason(), Some(CloseReason::Handler));
        }
    }

    #[test]
    fn input_is_ignored() {
        let mut peer = Harness::open(Qotd {
            next: Arc::default(),
        });
        peer.send(b"give me another one\r\n");
        assert_eq!(peer.read(), QUOTES[0].as_bytes());
        peer.advance(Duration::from_secs(10));
        assert_eq!(peer.close_reason(), Some(CloseReason::Handler));
    }

    #[test]
    fn loopback() {
        let next = Arc::new(AtomicUsize::new(0));
        let server = TcpServer::builder()
            .host([127, 0, 0, 1])
            .port(0)
            .workers(2)
            .handler(move || Qotd {
                next: Arc::clone(&next),
            })
            .spawn()
            .unwrap();
        let mut got = Vec::new();
        for _ in 0..QUOTES.len() {
            let mut client = std::net::TcpStream::connect(server.local_addr()).unwrap();
            client
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let mut quote = String::new();
            client.read_to_string(&mut quote).unwrap();
            got.push(quote);
        }
        got.sort();
        let mut want: Vec<String> = QUOTES.iter().map(|q| q.to_string()).collect();
        want.sort();
        assert_eq!(
            got,
            want,
            "each quote once over {} connections",
            QUOTES.len()
        );
        server.shutdown();
        server.join().unwrap();
    }
}
